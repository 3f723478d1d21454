package doctor

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// alertmanagerNotifications (alertmanager/notifications): Alertmanager's
// failed-notification counter for Mattermost is not increasing.
type alertmanagerNotifications struct{}

func (alertmanagerNotifications) ID() string { return "alertmanager/notifications" }
func (alertmanagerNotifications) Title() string {
	return "Alertmanager's Mattermost notifications are not failing"
}
func (alertmanagerNotifications) Offline() bool { return false }

// applies: not to a standalone render, which has no Prometheus or Alertmanager.
func (alertmanagerNotifications) applies(_ context.Context, env *Env) (bool, error) {
	return env.checksStack(), nil
}

// failures reads alertmanager_notifications_failed_total for the
// mattermost and slack integrations, by reason.
func failures(ctx context.Context, env *Env) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(env.AlertmanagerURL, "/")+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := env.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: HTTP %d", resp.StatusCode)
	}
	tp := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := tp.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parse Alertmanager metrics: %w", err)
	}
	if _, ok := fams["alertmanager_notifications_total"]; !ok {
		return nil, fmt.Errorf("%s/metrics has no alertmanager_notifications_total: is this an Alertmanager?", env.AlertmanagerURL)
	}
	out := map[string]float64{}
	for _, m := range fams["alertmanager_notifications_failed_total"].GetMetric() {
		var integration, reason string
		for _, l := range m.GetLabel() {
			switch l.GetName() {
			case "integration":
				integration = l.GetValue()
			case "reason":
				reason = l.GetValue()
			}
		}
		if integration == "mattermost" || integration == "slack" {
			out[integration+"/"+reason] += m.GetCounter().GetValue()
		}
	}
	return out, nil
}

func (alertmanagerNotifications) Run(ctx context.Context, env *Env) Result {
	if env.AlertmanagerURL == "" {
		return skip("no Alertmanager URL (use --alertmanager-url)")
	}
	before, err := failures(ctx, env)
	if err != nil {
		return failed("Alertmanager metrics unreachable", "check --alertmanager-url", err.Error())
	}
	wait := env.NotificationsInterval
	if wait == 0 {
		wait = 2 * time.Second
	}
	select {
	case <-ctx.Done():
		return skip("canceled")
	case <-time.After(wait):
	}
	after, err := failures(ctx, env)
	if err != nil {
		return failed("Alertmanager metrics unreachable", "check --alertmanager-url", err.Error())
	}
	var growing, past []string
	for k, v := range after {
		switch {
		case v > before[k]:
			growing = append(growing, fmt.Sprintf("%s: +%.0f in %s", k, v-before[k], wait))
		case v > 0:
			past = append(past, fmt.Sprintf("%s: %.0f since Alertmanager started", k, v))
		}
	}
	sort.Strings(growing)
	sort.Strings(past)
	hint := "Alertmanager's log says why (kubectl logs … | grep -i notify); a refused or timed-out connection points at network/egress and dns/webhook"
	if len(growing) > 0 {
		return failed("Mattermost notifications are failing now", hint, append(growing, past...)...)
	}
	if len(past) > 0 {
		return warn("Mattermost notifications failed earlier, none while watching", hint, past...)
	}
	return pass("no failed Mattermost notifications")
}

package doctor

import (
	"context"
	"fmt"
	"strings"

	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/common/model"

	"github.com/gatewatch/gatewatch/internal/rules"
)

// alertmanagerRoute (alertmanager/route): an alert with the rule's labels
// routes to the Mattermost receiver (as `amtool config routes test` would),
// Watchdog to "null".
type alertmanagerRoute struct{}

func (alertmanagerRoute) ID() string { return "alertmanager/route" }
func (alertmanagerRoute) Title() string {
	return "The 421 alert routes to Mattermost, Watchdog to null"
}
func (alertmanagerRoute) Offline() bool { return true }

func (alertmanagerRoute) Run(ctx context.Context, env *Env) Result {
	conf, _, err := env.alertmanagerConfig(ctx)
	if err != nil {
		return skip("no Alertmanager configuration (see alertmanager/config)")
	}
	mattermost := map[string]bool{}
	for _, r := range conf.Receivers {
		mattermost[r.Name] = len(r.MattermostConfigs)+len(r.SlackConfigs) > 0
	}
	route := dispatch.NewRoute(conf.Route, nil)
	var ev []string
	bad := ""
	g := env.Spec.Gateways[0]
	for _, a := range env.Spec.EnabledAlerts() {
		routed := false
		for _, n := range env.Spec.Routing.Alerts {
			routed = routed || n == a.Name
		}
		if !routed {
			continue
		}
		lbls := model.LabelSet{"alertname": model.LabelValue(a.Name)}
		for k, v := range rules.ForAlert(g, a).Labels {
			lbls[model.LabelName(k)] = model.LabelValue(v)
		}
		got, ok := receivers(route, lbls, mattermost)
		ev = append(ev, fmt.Sprintf("%s → %s", lbls, strings.Join(got, ", ")))
		if !ok {
			bad = fmt.Sprintf("%s does not reach a Mattermost receiver", a.Name)
			if _, has := lbls["namespace"]; has {
				ev = append(ev, "with the prometheus-operator, an AlertmanagerConfig only matches alerts whose namespace label is its own namespace")
			}
		}
	}
	wd := model.LabelSet{"alertname": "Watchdog", "severity": "none"}
	wdr, wdMattermost := receivers(route, wd, mattermost)
	ev = append(ev, fmt.Sprintf("%s → %s", wd, strings.Join(wdr, ", ")))
	if bad != "" {
		return failed(bad, "add a route matching the alertname (gatewatch render writes it); check the routes above it do not catch the alert without continue: true", ev...)
	}
	if wdMattermost {
		return warn("Watchdog reaches Mattermost", "route alertname=\"Watchdog\" to the null receiver: it fires all the time by design", ev...)
	}
	return pass("the alert routes to Mattermost; Watchdog does not", ev...)
}

// receivers are the receivers an alert with lbls is routed to (as `amtool
// config routes test` shows them), and whether one is a Mattermost receiver.
func receivers(route *dispatch.Route, lbls model.LabelSet, mattermost map[string]bool) ([]string, bool) {
	var got []string
	ok := false
	for _, r := range route.Match(lbls) {
		got = append(got, r.RouteOpts.Receiver)
		ok = ok || mattermost[r.RouteOpts.Receiver]
	}
	return got, ok
}

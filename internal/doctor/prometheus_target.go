package doctor

import (
	"context"
	"fmt"
	"strings"

	"github.com/gatewatch/gatewatch/internal/rules"
)

// prometheusTarget (prometheus/target): Prometheus scrapes the gateway and
// the target is UP; else the scrape error.
type prometheusTarget struct{}

func (prometheusTarget) ID() string    { return "prometheus/target" }
func (prometheusTarget) Title() string { return "Prometheus scrapes the gateway (target UP)" }
func (prometheusTarget) Offline() bool { return true }

type targetsResponse struct {
	Data struct {
		ActiveTargets []struct {
			Labels     map[string]string `json:"labels"`
			ScrapePool string            `json:"scrapePool"`
			ScrapeURL  string            `json:"scrapeUrl"`
			Health     string            `json:"health"`
			LastError  string            `json:"lastError"`
		} `json:"activeTargets"`
	} `json:"data"`
}

func (prometheusTarget) Run(ctx context.Context, env *Env) Result {
	if env.offline() {
		return env.Manifests.checkScrape(env.Spec)
	}
	if env.PrometheusURL == "" {
		return skip("no Prometheus URL (use --prometheus-url)")
	}
	var tr targetsResponse
	if err := getJSON(ctx, env, strings.TrimRight(env.PrometheusURL, "/")+"/api/v1/targets?state=active", &tr); err != nil {
		return failed("Prometheus API unreachable", "check --prometheus-url (e.g. kubectl -n monitoring port-forward svc/prometheus-operated 9090)", err.Error())
	}
	var ev []string
	up, down := 0, 0
	otherJobs := map[string]bool{}
	var unscraped []string
	for _, g := range env.Spec.Gateways {
		before := up + down
		for _, t := range tr.Data.ActiveTargets {
			job := t.Labels["job"]
			if job != rules.JobName(g) && job != rules.StaticJobName(g) {
				if t.Labels["namespace"] == g.Namespace && strings.Contains(t.ScrapeURL, g.Stats.Path) {
					otherJobs[job] = true
				}
				continue
			}
			if t.Health == "up" {
				up++
				ev = append(ev, fmt.Sprintf("%s %s: up", job, t.ScrapeURL))
			} else {
				down++
				ev = append(ev, fmt.Sprintf("%s %s: %s: %s", job, t.ScrapeURL, t.Health, t.LastError))
			}
		}
		if up+down == before {
			unscraped = append(unscraped, g.Name)
		}
	}
	switch {
	case up+down == 0:
		hint := "apply the PodMonitor from `gatewatch render --target operator` (its job label is gatewatch/<namespace>/<gateway>) and check the Prometheus podMonitorSelector matches cluster.selector_labels"
		if len(otherJobs) > 0 {
			var jobs []string
			for j := range otherJobs {
				jobs = append(jobs, j)
			}
			ev = append(ev, "other jobs scrape the gateway namespace: "+strings.Join(jobs, ", "))
			hint = "the gateway is scraped, but not by gatewatch's job; the rules count only gatewatch/<namespace>/<gateway>: apply the rendered PodMonitor"
		}
		return failed("no gatewatch scrape target for the gateway", hint, ev...)
	case len(unscraped) > 0:
		return failed(fmt.Sprintf("no gatewatch scrape target for gateway(s) %s", strings.Join(unscraped, ", ")),
			"apply the rendered PodMonitor (or scrape job) for each gateway", ev...)
	case down > 0:
		return failed(fmt.Sprintf("%d of %d gateway targets down", down, up+down), "the scrape error above says why: a NetworkPolicy (see network/scrape), a wrong port or path", ev...)
	}
	return pass(fmt.Sprintf("%d gateway target(s) up", up), ev...)
}

package doctor

import (
	"context"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// prometheusTarget (prometheus/target): Prometheus scrapes the gateway and
// the target is UP; else the scrape error.
type prometheusTarget struct{}

func (prometheusTarget) ID() string    { return "prometheus/target" }
func (prometheusTarget) Title() string { return "Prometheus scrapes the gateway (target UP)" }
func (prometheusTarget) Offline() bool { return true }

// applies: not to a standalone render, which has no Prometheus or Alertmanager.
func (prometheusTarget) applies(_ context.Context, env *Env) (bool, error) {
	return env.checksStack(), nil
}

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
		return scrapedOffline(env.Manifests, env.Spec)
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

// scrapedOffline is prometheus/target offline: a PodMonitor (or scrape job)
// in the manifests that scrapes the gateway's pods with gatewatch's job.
func scrapedOffline(m *Manifests, s *spec.Spec) Result {
	var ev []string
	missing := 0
	for _, g := range s.Gateways {
		found := false
		for _, j := range m.scrapeJobs {
			if j == rules.JobName(g) || j == rules.StaticJobName(g) {
				found = true
				ev = append(ev, fmt.Sprintf("%s: scrape job %s", g.Name, j))
			}
		}
		sel, _ := labels.Parse(g.Selector)
		gwPods := m.podsMatching(g.Namespace, sel)
		podLabels := standInPod(g.Namespace, sel).Labels
		if len(gwPods) > 0 {
			podLabels = gwPods[0].Labels
		}
		for _, pm := range m.podMonitors {
			pmSel, err := metav1.LabelSelectorAsSelector(&pm.Spec.Selector)
			if err != nil || !pmSel.Matches(labels.Set(podLabels)) {
				continue
			}
			nsOK := pm.Namespace == g.Namespace || pm.Spec.NamespaceSelector.Any
			for _, n := range pm.Spec.NamespaceSelector.MatchNames {
				nsOK = nsOK || n == g.Namespace
			}
			if !nsOK {
				continue
			}
			for _, ep := range pm.Spec.PodMetricsEndpoints {
				portOK := (ep.Port != nil && *ep.Port == g.Stats.Port.Name) || (ep.PortNumber != nil && int(*ep.PortNumber) == g.Stats.Port.Number)
				jobOK := false
				for _, rc := range ep.RelabelConfigs {
					if rc.TargetLabel == "job" && rc.Replacement != nil && *rc.Replacement == rules.JobName(g) {
						jobOK = true
					}
				}
				switch {
				case portOK && jobOK && ep.Path == g.Stats.Path:
					found = true
					ev = append(ev, fmt.Sprintf("%s: PodMonitor %s/%s scrapes port %s%s as %s", g.Name, pm.Namespace, pm.Name, g.Stats.Port, ep.Path, rules.JobName(g)))
				case portOK:
					ev = append(ev, fmt.Sprintf("%s: PodMonitor %s/%s scrapes the port but not as job %s (or another path)", g.Name, pm.Namespace, pm.Name, rules.JobName(g)))
				}
			}
		}
		if !found {
			missing++
		}
	}
	if missing > 0 {
		return failed("no PodMonitor or scrape job scrapes the gateway as gatewatch's job",
			"add the PodMonitor from `gatewatch render --target operator`: an annotation-based monitor (prometheus.io/port) misses gateway pods, and the rules count only job gatewatch/<namespace>/<gateway>", ev...)
	}
	return pass("the gateway is scraped as gatewatch's job", ev...)
}

package engine

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	prules "github.com/prometheus/prometheus/rules"

	"github.com/gatewatch/gatewatch/internal/rules"
)

// What gatewatch's own alerts (render.MetaRules, for the Prometheus that
// scrapes gatewatch) read on /metrics: whether each gateway has a healthy
// target, and which of gatewatch's alerts are active. Both are computed
// when /metrics is read, from the scrape manager and the rule manager.
var (
	gatewayTargetsDesc = prometheus.NewDesc("gatewatch_gateway_targets",
		"Scrape targets of each gateway in the spec, by health (up, down, unknown): 0 up means gatewatch cannot see that gateway.",
		[]string{"gateway_namespace", "gateway", "health"}, nil)
	alertsDesc = prometheus.NewDesc("gatewatch_alerts",
		"Active alerts of gatewatch's own rules, by alert name and state (pending, firing).",
		[]string{"alert", "state"}, nil)
)

var targetHealths = []string{"up", "down", "unknown"}

type healthCollector struct{ e *Engine }

func (c healthCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- gatewayTargetsDesc
	ch <- alertsDesc
}

func (c healthCollector) Collect(ch chan<- prometheus.Metric) {
	e := c.e
	e.mu.RLock()
	s, p, rp := e.spec, e.scrape, e.rules
	e.mu.RUnlock()

	// Every gateway of the spec, so a gateway without any target reads 0
	// rather than nothing.
	type key struct{ ns, gw string }
	counts := map[key]map[string]int{}
	jobs := map[string]key{}
	if s != nil {
		for _, g := range s.Gateways {
			k := key{g.Namespace, g.Name}
			counts[k] = map[string]int{}
			jobs[rules.JobName(g)] = k
			jobs[rules.StaticJobName(g)] = k
		}
	}
	if p != nil {
		for job, ts := range p.manager.TargetsActive() {
			k, ok := jobs[job]
			if !ok {
				continue
			}
			for _, t := range ts {
				counts[k][strings.ToLower(string(t.Health()))]++
			}
		}
	}
	for k, byHealth := range counts {
		for _, h := range targetHealths {
			ch <- prometheus.MustNewConstMetric(gatewayTargetsDesc, prometheus.GaugeValue, float64(byHealth[h]), k.ns, k.gw, h)
		}
	}

	if rp == nil {
		return
	}
	active := map[string]map[string]int{}
	for _, g := range rp.manager.RuleGroups() {
		for _, r := range g.Rules() {
			ar, ok := r.(*prules.AlertingRule)
			if !ok {
				continue
			}
			if active[ar.Name()] == nil {
				active[ar.Name()] = map[string]int{}
			}
			for _, a := range ar.ActiveAlerts() {
				active[ar.Name()][a.State.String()]++
			}
		}
	}
	for name, byState := range active {
		for _, st := range []string{"pending", "firing"} {
			ch <- prometheus.MustNewConstMetric(alertsDesc, prometheus.GaugeValue, float64(byState[st]), name, st)
		}
	}
}

// reloaded records a spec reload's result.
func (e *Engine) reloaded(ok bool) {
	if !ok {
		e.metrics.reloads.WithLabelValues("failure").Inc()
		e.metrics.reloadOK.Set(0)
		return
	}
	e.metrics.reloads.WithLabelValues("success").Inc()
	e.metrics.reloadOK.Set(1)
	e.metrics.reloadOKTime.SetToCurrentTime()
}

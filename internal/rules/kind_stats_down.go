package rules

import (
	"fmt"
	"strconv"
	"time"

	"github.com/gatewatch/gatewatch/internal/spec"
)

// KindStatsDown fires when gatewatch (or Prometheus) is blind to a
// gateway: the runbook checklist's first item, "scrape target UP", as an
// alert. Every other alert is silent about a gateway whose stats are gone.
const KindStatsDown = "stats-down"

// The value of a stats-down alert says why the gateway is unwatched.
const (
	StatsDownTarget    = 1 // a target's scrape fails (up == 0)
	StatsDownNotEnvoy  = 2 // the target answers, but not with Envoy's stats (wrong port or path)
	StatsDownNoFamily  = 3 // Envoy's page stopped carrying istio_requests_total (telemetry turned off)
	StatsDownNoTargets = 4 // the gateway has no targets at all (discovery found nothing)
)

func statsDown() Kind {
	return Kind{
		Kind: spec.Kind{
			Name:      KindStatsDown,
			AlertName: "GatewayStatsDown",
			Implicit:  true,
			// Where the 421 alert goes, this one goes: a blind gateway
			// is a gap in that alert.
			RoutedWith: KindMisdirectedRequest,
			// A rollout's failed scrape or two is not an outage; a longer
			// window lets cause 3 look back further.
			DefaultWindow:      spec.Duration(10 * time.Minute),
			DefaultFor:         spec.Duration(2 * time.Minute),
			ForMayExceedWindow: true,
		},
		Doc:  "the gateway's Envoy stats cannot be read: targets down, no targets, not an Envoy page, or istio_requests_total gone",
		Expr: statsDownExpr,
		Annotations: func(g spec.Gateway, a spec.Alert, t Text) map[string]string {
			return map[string]string{
				"summary": fmt.Sprintf("gatewatch cannot read the Envoy stats of gateway %s: its alerts are blind", g.Name),
				"description": fmt.Sprintf(`{{ if eq $value %[1]d.0 }}The stats endpoint of %[5]s%[6]s does not answer (target down).`+
					`{{ else if eq $value %[2]d.0 }}The stats endpoint of %[5]s%[6]s answers, but not with Envoy's stats: check stats.port and stats.path.`+
					`{{ else if eq $value %[3]d.0 }}Envoy's stats page of %[5]s%[6]s no longer carries istio_requests_total: is Istio's telemetry turned off?`+
					`{{ else if eq $value %[4]d.0 }}%[5]s has no stats targets: no running pod matches its selector, or discovery cannot reach the Kubernetes API.{{ end }}`+
					" No 421 (or other alert) can fire for it until this is fixed; `gatewatch doctor` checks each link.",
					StatsDownTarget, StatsDownNotEnvoy, StatsDownNoFamily, StatsDownNoTargets, t.Where, t.Pod),
				"reason": fmt.Sprintf(`{{ if eq $value %d.0 }}target down{{ else if eq $value %d.0 }}not an Envoy stats page{{ else if eq $value %d.0 }}istio_requests_total gone{{ else if eq $value %d.0 }}no targets{{ end }}`,
					StatsDownTarget, StatsDownNotEnvoy, StatsDownNoFamily, StatsDownNoTargets),
			}
		},
		Scenarios: statsDownScenarios,
	}
}

// statsDownExpr is one term per cause, each valued by its cause: the worst
// cause of a target (per: pod) or gateway (per: gateway) wins.
func statsDownExpr(g spec.Gateway, a spec.Alert) string {
	j := "{" + jobMatcher(g) + "}"
	fam := Metric + "{" + join(gatewayMatchers(g)) + "}"
	by := "max by (pod, instance)"
	if a.Per == "gateway" {
		by = "max"
	}
	w := a.Window.String()
	secs := strconv.FormatFloat(a.Window.D().Seconds(), 'f', -1, 64)
	return fmt.Sprintf(`%[1]s (
    (up%[2]s == 0) + %[6]d
  or
    ((up%[2]s == 1) unless on (job, instance) envoy_server_uptime%[2]s) + %[7]d
  or
    (
        (count by (job, instance, pod) (last_over_time(%[3]s[%[4]s])) unless on (job, instance) count by (job, instance) (%[3]s))
      and on (job, instance) (up%[2]s == 1)
      and on (job, instance) (envoy_server_uptime%[2]s > %[5]s)
    ) * 0 + %[8]d
)
or
  absent(up%[2]s) * 0 + %[9]d`, by, j, fam, w, secs, StatsDownTarget, StatsDownNotEnvoy-1, StatsDownNoFamily, StatsDownNoTargets)
}

// statsDownScenarios: a healthy gateway stays quiet; each cause fires with
// its value; a target that comes back clears.
func statsDownScenarios(g spec.Gateway, a spec.Alert) []Scenario {
	f := newFrame(g, a)
	n, total := f.n, f.total
	podA := f.podA
	ivSecs := f.iv.Seconds()
	series := func(t target, up, uptime, reqs steps) []Series {
		return []Series{{f.up(t), up.notation()}, {f.uptime(t), uptime.notation()}, {f.ok200(t), reqs.notation()}}
	}
	healthyUptime := ramp(total, 10*day, ivSecs)
	healthyReqs := ramp(total, 1000, 7)
	out := []Scenario{
		{
			Name:   "healthy",
			Doc:    "a long-running gateway whose page carries istio_requests_total",
			Series: series(podA, fill(total, "1"), healthyUptime, healthyReqs),
			Checks: []Check{{At: f.at(1)}, {At: f.at(2 * n)}, {At: f.at(4*n - 1)}},
		},
		{
			Name: "target-down",
			Doc:  "the gateway pod's stats endpoint stops answering, then comes back",
			Series: series(podA,
				cat(fill(2*n, "1"), fill(n, "0"), fill(total-3*n, "1")),
				cat(ramp(2*n, 10*day, ivSecs), fill(n, ""), ramp(total-3*n, ivSecs, ivSecs)),
				cat(ramp(2*n, 1000, 7), fill(n, "stale"), ramp(total-3*n, 7, 7))),
			Checks: []Check{
				{At: f.at(2*n - 1)},
				{At: f.at(2*n + 1), Firing: []Expect{fire(podA, StatsDownTarget)}},
				{At: f.at(3*n + 2)},
			},
		},
		{
			Name: "no-targets",
			Doc:  "the gateway's only pod is gone and nothing replaces it (discovery finds no target)",
			Series: series(podA,
				cat(fill(2*n, "1"), fill(1, "stale")),
				cat(ramp(2*n, 10*day, ivSecs), fill(1, "stale")),
				cat(ramp(2*n, 1000, 7), fill(1, "stale"))),
			Checks: []Check{
				{At: f.at(2*n - 1)},
				{At: f.at(2*n + 1), Firing: []Expect{{Value: StatsDownNoTargets}}},
			},
		},
		{
			Name:   "not-envoy",
			Doc:    "the target answers with a page that is not Envoy's stats (a wrong stats.port or stats.path)",
			Series: []Series{{f.up(podA), fill(total, "1").notation()}},
			Checks: []Check{{At: f.at(1), Firing: []Expect{fire(podA, StatsDownNotEnvoy)}}, {At: f.at(2 * n), Firing: []Expect{fire(podA, StatsDownNotEnvoy)}}},
		},
		{
			Name: "family-gone",
			Doc:  "Envoy keeps running but its page stops carrying istio_requests_total (telemetry turned off)",
			Series: series(podA, fill(total, "1"), healthyUptime,
				cat(ramp(2*n, 1000, 7), fill(total-2*n, "stale"))),
			Checks: []Check{
				{At: f.at(2*n - 1)},
				{At: f.at(2*n + 1), Firing: []Expect{fire(podA, StatsDownNoFamily)}},
			},
		},
		{
			Name: "fresh-evaluator",
			Doc:  "the evaluator starts on a healthy, long-running gateway",
			Series: series(podA, cat(fill(total, "1")), healthyUptime,
				healthyReqs),
			Checks: []Check{{At: 0}, {At: f.at(1)}},
		},
	}
	return f.finish(out)
}

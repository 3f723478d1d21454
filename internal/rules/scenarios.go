package rules

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gatewatch/gatewatch/internal/spec"
)

// Scenario is a story of scraped series and the alerts that must (or must
// not) be firing at given times. Series use promtool's expanding notation so
// the same scenario runs in the embedded PromQL engine and in
// `promtool test rules`.
type Scenario struct {
	Name string
	// Doc says what the scenario proves.
	Doc      string
	Interval time.Duration
	// Ratio is true when the alert's value is a ratio, not a count.
	Ratio  bool
	Series []Series
	Checks []Check
}

// Series is one input series: labels in PromQL notation and values in
// promtool's expanding notation.
type Series struct {
	Labels string
	Values string
}

// Check is the expected set of firing alerts at one time.
type Check struct {
	At     time.Duration
	Firing []Expect
}

// Expect is one firing alert: the pod it is for and its value (how many
// requests it counts, or the ratio).
type Expect struct {
	Pod      string
	Instance string
	Value    float64
}

// target is one scraped Envoy (a gateway pod or a backend sidecar).
type target struct {
	pod, instance string
	job           string // "" is the gateway's gatewatch job
}

func (t target) base(job, ns string) string {
	if t.job != "" {
		job = t.job
	}
	return fmt.Sprintf(`job=%q, namespace=%q, pod=%q, instance=%q, container="istio-proxy"`, job, ns, t.pod, t.instance)
}

// steps is a per-scrape list of values: "" for no sample, "stale" for a
// staleness marker, otherwise a number.
type steps []string

func fill(n int, v string) steps {
	s := make(steps, n)
	for i := range s {
		s[i] = v
	}
	return s
}

func ramp(n int, start, inc float64) steps {
	s := make(steps, n)
	for i := range s {
		s[i] = strconv.FormatFloat(start+inc*float64(i), 'f', -1, 64)
	}
	return s
}

func cat(parts ...steps) steps {
	var s steps
	for _, p := range parts {
		s = append(s, p...)
	}
	return s
}

// notation compresses steps into promtool's expanding notation: "_x3" is
// three missing samples, "1x3" is four samples of 1, "0+15x3" counts up.
func (s steps) notation() string {
	var out []string
	for i := 0; i < len(s); {
		j := i + 1
		switch s[i] {
		case "", "stale":
			for j < len(s) && s[j] == s[i] {
				j++
			}
			tok := "_"
			if s[i] == "stale" {
				tok = "stale"
			}
			if tok == "_" && j-i > 1 {
				out = append(out, fmt.Sprintf("_x%d", j-i))
			} else {
				for k := i; k < j; k++ {
					out = append(out, tok)
				}
			}
		default:
			a, _ := strconv.ParseFloat(s[i], 64)
			inc := 0.0
			if j < len(s) && s[j] != "" && s[j] != "stale" {
				b, _ := strconv.ParseFloat(s[j], 64)
				inc = b - a
			}
			for j < len(s) && s[j] != "" && s[j] != "stale" {
				c, _ := strconv.ParseFloat(s[j], 64)
				if c != a+inc*float64(j-i) {
					break
				}
				j++
			}
			switch {
			case j-i == 1:
				out = append(out, s[i])
			case inc == 0:
				out = append(out, fmt.Sprintf("%sx%d", s[i], j-i-1))
			default:
				out = append(out, fmt.Sprintf("%s%+gx%d", s[i], inc, j-i-1))
			}
		}
		i = j
	}
	return strings.Join(out, " ")
}

// frame is what every scenario of one alert at one gateway shares: the
// scrape interval, the window in scrapes, the targets and the series
// builders.
type frame struct {
	g        spec.Gateway
	a        spec.Alert
	iv       time.Duration
	n        int // scrapes per window
	forSteps int // scrapes an alert's `for` delays every check by
	total    int // scrapes in a scenario
	job      string
	podA     target
	podB     target
	backend  target
}

// MaxScrapesPerWindow bounds what a scenario simulates: every series has a
// sample per scrape over four windows (and the alert's `for`), held in
// memory. 10 000 is a 41-hour window at 15 s scrapes.
const MaxScrapesPerWindow = 10_000

// maxSimulated bounds the time a scenario spans, well inside what a
// time.Duration holds (292 years).
const maxSimulated = 100 * 365 * 24 * time.Hour

// steps is d in scrapes of iv, rounded up, without overflowing.
func stepsOf(d, iv time.Duration) int64 {
	n := int64(d / iv)
	if d%iv != 0 {
		n++
	}
	return n
}

// ScenarioBounds says why alert a at gateway g has more scrapes than a
// scenario can simulate in bounded memory (nil when it can).
func ScenarioBounds(g spec.Gateway, a spec.Alert) error {
	iv := g.Stats.Interval.D()
	if iv <= 0 {
		return fmt.Errorf("scrape interval %s is not positive", g.Stats.Interval)
	}
	n, fs := stepsOf(a.Window.D(), iv), stepsOf(a.For.D(), iv)
	switch {
	case n > MaxScrapesPerWindow:
		return fmt.Errorf("window %s is %d scrapes of %s: gatewatch test simulates at most %d scrapes per window", a.Window, n, g.Stats.Interval, MaxScrapesPerWindow)
	case fs > 4*MaxScrapesPerWindow:
		return fmt.Errorf("for %s is %d scrapes of %s: gatewatch test simulates at most %d", a.For, fs, g.Stats.Interval, 4*MaxScrapesPerWindow)
	case float64(4*n+fs+8)*iv.Seconds() > maxSimulated.Seconds():
		return fmt.Errorf("window %s (for %s) at %s scrapes spans more than the 100 years gatewatch test simulates", a.Window, a.For, g.Stats.Interval)
	}
	return nil
}

func newFrame(g spec.Gateway, a spec.Alert) frame {
	iv := g.Stats.Interval.D()
	n := int(stepsOf(a.Window.D(), iv))
	// An alert with `for` fires that much later: every check moves by it.
	forSteps := int(stepsOf(a.For.D(), iv))
	return frame{
		g: g, a: a, iv: iv, n: n, forSteps: forSteps, total: 4*n + forSteps,
		job:     JobName(g),
		podA:    target{pod: g.Workload + "-7d9f8b6c4d-x2l9q", instance: "10.0.0.11:15090"},
		podB:    target{pod: g.Workload + "-7d9f8b6c4d-k8m3z", instance: "10.0.0.12:15090"},
		backend: target{pod: "web-5c7b9d8f6-q4w2e", instance: "10.0.1.21:15090"},
	}
}

const day = 86400.0

func (f frame) req(t target, reporter, rc, rf string) string {
	return fmt.Sprintf(`%s{%s, reporter=%q, source_workload=%q, source_workload_namespace=%q, destination_workload="web", destination_workload_namespace="shop", destination_service="web.shop.svc.cluster.local", request_protocol="http", response_code=%q, response_flags=%q, connection_security_policy="unknown"}`,
		Metric, t.base(f.job, f.g.Namespace), reporter, f.g.Workload, f.g.Namespace, rc, rf)
}

func (f frame) ok200(t target) string { return f.req(t, "source", "200", "-") }
func (f frame) up(t target) string    { return fmt.Sprintf("up{%s}", t.base(f.job, f.g.Namespace)) }
func (f frame) uptime(t target) string {
	return fmt.Sprintf("envoy_server_uptime{%s}", t.base(f.job, f.g.Namespace))
}
func (f frame) at(step int) time.Duration { return time.Duration(step) * f.iv }

// healthy is a long-running gateway pod with steady 200 traffic.
func (f frame) healthy(t target) []Series {
	return []Series{
		{f.up(t), fill(f.total, "1").notation()},
		{f.uptime(t), ramp(f.total, 10*day, f.iv.Seconds()).notation()},
		{f.ok200(t), ramp(f.total, 1000, 7).notation()},
	}
}

func fire(t target, v float64) Expect { return Expect{Pod: t.pod, Instance: t.instance, Value: v} }

// finish sets the interval, moves every check by the alert's `for`, and
// drops the pod from expectations of per-gateway alerts.
func (f frame) finish(out []Scenario) []Scenario {
	for i := range out {
		out[i].Interval = f.iv
		for c := range out[i].Checks {
			out[i].Checks[c].At += f.at(f.forSteps)
			if f.a.Per == "gateway" {
				for e := range out[i].Checks[c].Firing {
					out[i].Checks[c].Firing[e].Pod, out[i].Checks[c].Firing[e].Instance = "", ""
				}
			}
		}
	}
	return out
}

// Scenarios returns the scenarios of alert a at gateway g, from its kind,
// sized to the gateway's scrape interval and the alert's window. ok is
// false when the kind has none for this alert (a regex that matches no
// response code, say) or the alert is beyond ScenarioBounds.
func Scenarios(g spec.Gateway, a spec.Alert) (out []Scenario, ok bool) {
	k := mustKind(a)
	if k.Scenarios == nil || ScenarioBounds(g, a) != nil {
		return nil, false
	}
	out = k.Scenarios(g, a)
	return out, len(out) > 0
}

// countScenarios is the suite of the kinds that count requests: the
// counted response carries response_code code and response_flags flags
// ("" code: no sample value, no scenarios).
func countScenarios(g spec.Gateway, a spec.Alert, code, flags string) []Scenario {
	if code == "" {
		return nil
	}
	f := newFrame(g, a)
	n, total := f.n, f.total
	podA, podB, backend := f.podA, f.podB, f.backend
	ivSecs := f.iv.Seconds()
	hit := func(t target) string { return f.req(t, "source", code, flags) }
	at, up, uptime, ok200, healthy := f.at, f.up, f.uptime, f.ok200, f.healthy

	var out []Scenario
	out = append(out, Scenario{
		Name: "first-ever",
		Doc:  "the first matching response a gateway ever serves: the series appears at 1",
		Series: append(healthy(podA),
			Series{hit(podA), cat(fill(2*n, ""), fill(2*n, "1")).notation()}),
		Checks: []Check{
			{At: at(2*n - 1)},
			{At: at(2*n + 1), Firing: []Expect{fire(podA, 1)}},
			{At: at(3*n + 2)},
		},
	})
	out = append(out, Scenario{
		Name: "first-after-start",
		Doc:  "the evaluator starts on a long-running gateway and the first one comes within its first window",
		Series: append(healthy(podA),
			Series{hit(podA), cat(fill(n/2+1, ""), fill(total-n/2-1, "1")).notation()}),
		Checks: []Check{
			{At: at(n / 2)},
			{At: at(n/2 + 2), Firing: []Expect{fire(podA, 1)}},
			{At: at(n + n/2 + 3)},
		},
	})
	out = append(out, Scenario{
		Name: "later",
		Doc:  "a later response on a series that already exists",
		Series: append(healthy(podA),
			Series{hit(podA), cat(fill(2*n, "3"), fill(2*n, "4")).notation()}),
		Checks: []Check{
			{At: at(2*n - 1)},
			{At: at(2*n + 1), Firing: []Expect{fire(podA, 1)}},
			{At: at(3*n + 2)},
		},
	})
	out = append(out, Scenario{
		Name: "counter-reset",
		Doc:  "the gateway restarts (counters reset, series go stale) and serves one within the window",
		Series: []Series{
			{up(podA), cat(fill(2*n+1, "1"), fill(2, "0"), fill(total-2*n-3, "1")).notation()},
			{uptime(podA), cat(ramp(2*n+1, 10*day, ivSecs), fill(2, ""), ramp(total-2*n-3, ivSecs, ivSecs)).notation()},
			{ok200(podA), cat(ramp(2*n+1, 1000, 7), fill(2, "stale"), ramp(total-2*n-3, 7, 7)).notation()},
			{hit(podA), cat(fill(2*n+1, "5"), fill(2, "stale"), fill(2, ""), fill(total-2*n-5, "1")).notation()},
		},
		Checks: []Check{
			{At: at(2*n - 1)},
			{At: at(2*n + 6), Firing: []Expect{fire(podA, 1)}},
			{At: at(3*n + 8)},
		},
	})
	out = append(out, Scenario{
		Name: "new-pod",
		Doc:  "a brand-new gateway pod serves its first one",
		Series: append(healthy(podA),
			Series{up(podB), cat(fill(2*n, ""), fill(2*n, "1")).notation()},
			Series{uptime(podB), cat(fill(2*n, ""), ramp(2*n, 5, ivSecs)).notation()},
			Series{ok200(podB), cat(fill(2*n, ""), ramp(2*n, 3, 3)).notation()},
			Series{hit(podB), cat(fill(2*n+4, ""), fill(2*n-4, "1")).notation()},
		),
		Checks: []Check{
			{At: at(2*n + 3)},
			{At: at(2*n + 5), Firing: []Expect{fire(podB, 1)}},
			{At: at(3*n + 6)},
		},
	})
	out = append(out, Scenario{
		Name: "fresh-evaluator",
		Doc:  "the evaluator starts with no history and finds an old series on a long-running gateway",
		Series: append(healthy(podA),
			Series{hit(podA), fill(total, "7").notation()}),
		Checks: []Check{{At: at(1)}, {At: at(n / 2)}, {At: at(n + 1)}},
	})
	out = append(out, Scenario{
		Name: "steady",
		Doc:  "an old, unchanging counter with full history",
		Series: append(healthy(podA),
			Series{hit(podA), fill(total, "7").notation()}),
		Checks: []Check{{At: at(2 * n)}, {At: at(3 * n)}, {At: at(4*n - 1)}},
	})
	out = append(out, Scenario{
		Name: "destination-copy",
		Doc:  `a backend sidecar reports requests from the gateway (reporter="destination"); the gateway served none`,
		Series: append(healthy(podA),
			Series{up(backend), fill(total, "1").notation()},
			Series{f.req(backend, "destination", code, flags), cat(fill(2*n, ""), fill(2*n, "1")).notation()}),
		Checks: []Check{{At: at(2*n + 1)}, {At: at(2*n + 4)}},
	})
	out = append(out, Scenario{
		Name: "upstream-counted-once",
		Doc:  "an upstream-produced response is reported by the gateway and by the backend; it counts once",
		Series: append(healthy(podA),
			Series{up(backend), fill(total, "1").notation()},
			Series{hit(podA), cat(fill(2*n, "2"), fill(2*n, "3")).notation()},
			Series{f.req(backend, "destination", code, flags), cat(fill(2*n, "2"), fill(2*n, "3")).notation()}),
		Checks: []Check{
			{At: at(2*n + 1), Firing: []Expect{fire(podA, 1)}},
		},
	})
	other := target{pod: podA.pod, instance: podA.instance, job: "istio-system/envoy-stats-monitor"}
	out = append(out, Scenario{
		Name: "scraped-twice",
		Doc:  "another monitor (Istio's envoy-stats-monitor) scrapes the same gateway pod; the request counts once",
		Series: append(healthy(podA),
			Series{up(other), fill(total, "1").notation()},
			Series{hit(podA), cat(fill(2*n, ""), fill(2*n, "1")).notation()},
			Series{hit(other), cat(fill(2*n, ""), fill(2*n, "1")).notation()}),
		Checks: []Check{{At: at(2*n + 1), Firing: []Expect{fire(podA, 1)}}},
	})
	return f.finish(out)
}

// MaxAt is the last check time of the scenario.
func (sc Scenario) MaxAt() time.Duration {
	var m time.Duration
	for _, c := range sc.Checks {
		m = max(m, c.At)
	}
	return m
}

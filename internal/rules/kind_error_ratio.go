package rules

import (
	"fmt"
	"math"
	"strconv"

	"github.com/gatewatch/gatewatch/internal/spec"
)

// KindErrorRatio is the share of responses whose response_code matches a
// regex, e.g. 5xx over all.
const KindErrorRatio = "error-ratio"

// DefaultMinRequestRate is the error-ratio traffic floor, in requests per
// second over the window: 30 requests in a 5m window. Below it one failed
// request out of two would read as a 50 % error ratio.
const DefaultMinRequestRate = 0.1

func errorRatio() Kind {
	return Kind{
		Kind: spec.Kind{
			Name:               KindErrorRatio,
			AlertName:          "GatewayErrorRatio",
			Keys:               []string{"response_code", "threshold", "min_request_rate"},
			ForMayExceedWindow: true,
			Defaults: func(a *spec.Alert) {
				if a.ResponseCode == "" {
					a.ResponseCode = "5.."
				}
				if a.MinRequestRate == nil {
					floor := DefaultMinRequestRate
					a.MinRequestRate = &floor
				}
			},
			Validate: func(a spec.Alert, report spec.Report) {
				requireKey(report, KindErrorRatio, "response_code", a.ResponseCode, "5.. or 404")
				if a.Threshold <= 0 || a.Threshold >= 1 {
					report("threshold", "kind error-ratio needs a threshold between 0 and 1 (e.g. 0.05 for 5%%)")
				}
				if a.MinRequestRate != nil && *a.MinRequestRate < 0 {
					report("min_request_rate", "min_request_rate must not be negative (requests per second; 0 judges every ratio)")
				}
			},
		},
		Doc:  "the share of responses whose response_code matches a regex (5xx by default) above a threshold",
		Expr: ratioExpr,
		Annotations: func(g spec.Gateway, a spec.Alert, t Text) map[string]string {
			return map[string]string{
				"summary": fmt.Sprintf("Gateway %s: more than %s of responses match %s", g.Name, percent(a.Threshold), a.ResponseCode),
				"description": fmt.Sprintf("{{ $value | humanizePercentage }} of responses served by %s%s matched response_code %s over the last %s (threshold %s).",
					t.Where, t.Pod, a.ResponseCode, a.Window, percent(a.Threshold)),
				"ratio": "{{ $value | humanizePercentage }}",
			}
		},
		Scenarios: ratioScenarios,
	}
}

func ratioExpr(g spec.Gateway, a spec.Alert) string {
	base := Metric + "{" + join(gatewayMatchers(g)) + "}"
	errs := Metric + "{" + join(append(gatewayMatchers(g), matcher("response_code", a.ResponseCode))) + "}"
	w := a.Window.String()
	expr := fmt.Sprintf(`%s (rate(%s[%s]))
/
%s (rate(%s[%s]))
> %s`, groupBy(a), errs, w, groupBy(a), base, w, formatFloat(a.Threshold))
	if a.MinRequestRate != nil && *a.MinRequestRate > 0 {
		// The floor keeps the ratio as the alert's value.
		expr = fmt.Sprintf("(\n%s\n)\nand\n%s (rate(%s[%s])) >= %s", expr, groupBy(a), base, w, formatFloat(*a.MinRequestRate))
	}
	return expr
}

func percent(f float64) string {
	return strconv.FormatFloat(math.Round(f*10000)/100, 'f', -1, 64) + "%"
}

// ratioScenarios is the error-ratio suite: a busy gateway just under and
// just over the threshold, and a restart (counters reset) under it. Each
// scrape serves perScrape requests, of which a share matches the alert's
// response_code.
func ratioScenarios(g spec.Gateway, a spec.Alert) []Scenario {
	bad, ok := firstMatch(a.ResponseCode, httpCodes())
	if !ok {
		return nil
	}
	good := ""
	for _, c := range httpCodes() {
		if _, m := firstMatch(a.ResponseCode, []string{c}); !m {
			good = c
			if c >= "200" {
				break
			}
		}
	}
	if good == "" {
		return nil
	}
	const perScrape = 10000
	f := newFrame(g, a)
	n, fs, total := f.n, f.forSteps, f.total
	podA := f.podA
	under := math.Floor(perScrape * a.Threshold * 0.8)
	over := math.Ceil(perScrape * min(a.Threshold*1.2, (a.Threshold+1)/2))
	// traffic is steps scrapes of a counter growing by inc from start.
	goodSeries := func(t target, s steps) Series { return Series{f.req(t, "source", good, "-"), s.notation()} }
	badSeries := func(t target, s steps) Series { return Series{f.req(t, "source", bad, "-"), s.notation()} }
	host := func(t target) []Series {
		return []Series{{f.up(t), fill(total, "1").notation()}, {f.uptime(t), ramp(total, 10*day, f.iv.Seconds()).notation()}}
	}
	errs := 2*n + fs // scrapes with errors in "over"
	out := []Scenario{
		{
			Name: "quiet",
			Doc:  "a quiet gateway: one matching response out of two in a window, under the traffic floor",
			Series: append(host(podA),
				goodSeries(podA, cat(fill(2*n, "40"), fill(total-2*n, "41"))),
				badSeries(podA, cat(fill(2*n, "3"), fill(total-2*n, "4")))),
			Checks: []Check{{At: f.at(2*n + 1)}, {At: f.at(2*n + n/2)}},
		},
		{
			Name: "busy-under",
			Doc:  fmt.Sprintf("a busy gateway whose share of matching responses stays just under the threshold (%s)", percent(under/perScrape)),
			Series: append(host(podA),
				goodSeries(podA, ramp(total, 1e6, perScrape-under)),
				badSeries(podA, ramp(total, 1000, under))),
			Checks: []Check{{At: f.at(n)}, {At: f.at(2 * n)}, {At: f.at(3 * n)}},
		},
		{
			Name: "busy-over",
			Doc:  fmt.Sprintf("a busy gateway whose share of matching responses is just over the threshold (%s), then recovers", percent(over/perScrape)),
			Series: append(host(podA),
				goodSeries(podA, cat(ramp(errs, 1e6, perScrape-over), ramp(total-errs, 1e6+float64(errs)*(perScrape-over), perScrape))),
				badSeries(podA, cat(ramp(errs, 1000, over), fill(total-errs, strconv.FormatFloat(1000+float64(errs-1)*over, 'f', -1, 64))))),
			Checks: []Check{{At: f.at(n), Firing: []Expect{fire(podA, over/perScrape)}}, {At: f.at(3*n + 2)}},
		},
		{
			Name: "restart",
			Doc:  "the gateway restarts (counters reset, series go stale) while its share stays under the threshold",
			Series: []Series{
				{f.up(podA), cat(fill(2*n+1, "1"), fill(2, "0"), fill(total-2*n-3, "1")).notation()},
				{f.uptime(podA), cat(ramp(2*n+1, 10*day, f.iv.Seconds()), fill(2, ""), ramp(total-2*n-3, f.iv.Seconds(), f.iv.Seconds())).notation()},
				goodSeries(podA, cat(ramp(2*n+1, 1e6, perScrape-under), fill(2, "stale"), ramp(total-2*n-3, perScrape-under, perScrape-under))),
				badSeries(podA, cat(ramp(2*n+1, 1000, under), fill(2, "stale"), ramp(total-2*n-3, under, under))),
			},
			Checks: []Check{{At: f.at(2 * n)}, {At: f.at(2*n + 4)}, {At: f.at(3*n + 3)}},
		},
	}
	for i := range out {
		out[i].Ratio = true
	}
	return f.finish(out)
}

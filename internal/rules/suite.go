package rules

import (
	"context"
	"fmt"
	"strconv"

	"github.com/gatewatch/gatewatch/internal/spec"
)

// SuiteResult is one scenario of one alert at one gateway, run against the
// generated rule.
type SuiteResult struct {
	Gateway string
	Alert   spec.Alert
	Result
	// Runbook says what the runbook's original rule did on the same series
	// ("same", "misses it (silent at …)", …); "" for kinds without the
	// comparison.
	Runbook string
}

// RunScenarios runs every scenario of every enabled alert at every gateway
// of s on the real PromQL engine, evaluating each rule at its gateway's
// scrape interval. skipped says which alerts have no scenarios, and why.
// When ctx ends it returns what ran so far.
func RunScenarios(ctx context.Context, s *spec.Spec) (results []SuiteResult, skipped []string) {
	for _, g := range s.Gateways {
		for _, a := range s.EnabledAlerts() {
			if err := ScenarioBounds(g, a); err != nil {
				skipped = append(skipped, fmt.Sprintf("%s/%s: not simulated: %v", g.Name, a.Name, err))
				continue
			}
			scs, ok := Scenarios(g, a)
			if !ok {
				skipped = append(skipped, fmt.Sprintf("%s/%s: no scenarios for kind %s", g.Name, a.Name, a.Kind))
				continue
			}
			rule := ForAlert(g, a)
			for _, sc := range scs {
				if ctx.Err() != nil {
					return results, skipped
				}
				r := SuiteResult{Gateway: g.Name, Alert: a, Result: Run(ctx, sc, rule, g.Stats.Interval.D())}
				if mustKind(a).Runbook {
					r.Runbook = runbookVerdict(ctx, g, a, sc)
				}
				results = append(results, r)
			}
		}
	}
	return results, skipped
}

// runbookVerdict runs the runbook's original rule on the scenario and says
// how it compares with what should happen.
func runbookVerdict(ctx context.Context, g spec.Gateway, a spec.Alert, sc Scenario) string {
	rb := Run(ctx, sc, Rule{Alert: "RunbookRule", Expr: RunbookExpr(g, a.Window)}, g.Stats.Interval.D())
	if rb.Err != nil {
		return "error: " + rb.Err.Error()
	}
	for i, o := range rb.Outcomes {
		want := 0.0
		for _, e := range sc.Checks[i].Firing {
			want += e.Value
		}
		got := 0.0
		for _, v := range o.Got {
			// Got is "pod=count" for per-pod rules; the runbook's sum() has no pod.
			n, _ := strconv.ParseFloat(v, 64)
			got += n
		}
		switch {
		case want > 0 && got == 0:
			return fmt.Sprintf("misses it (silent at %s)", o.At)
		case want == 0 && got > 0:
			return fmt.Sprintf("false alarm at %s", o.At)
		case want != got:
			return fmt.Sprintf("counts %s, not %s (at %s)", formatFloat(got), formatFloat(want), o.At)
		}
	}
	return "same"
}

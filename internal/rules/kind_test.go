package rules

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/spec"
)

// TestEveryKindIsComplete holds each kind to what adding one means: a
// scenario suite that passes on its own rule, a section in docs/rules.md and
// a row in docs/spec.md's kinds table naming its default alertname.
func TestEveryKindIsComplete(t *testing.T) {
	rulesDoc, err := os.ReadFile("../../docs/rules.md")
	require.NoError(t, err)
	specDoc, err := os.ReadFile("../../docs/spec.md")
	require.NoError(t, err)
	s := exampleSpec(t)
	g := s.Gateways[0]
	names := map[string]bool{}
	for _, k := range Kinds() {
		t.Run(k.Name, func(t *testing.T) {
			require.False(t, names[k.Name], "kind names are unique")
			names[k.Name] = true
			require.NotEmpty(t, k.AlertName)
			require.NotEmpty(t, k.Doc)
			require.NotNil(t, k.Expr, "a kind has an expression")
			require.NotNil(t, k.Annotations, "a kind has annotations")
			require.NotNil(t, k.Scenarios, "a kind has a scenario suite")
			require.True(t, strings.Contains(string(rulesDoc), "### `"+k.Name+"`"), "docs/rules.md has no section ### `%s`", k.Name)
			row := ""
			for _, l := range strings.Split(string(specDoc), "\n") {
				if strings.HasPrefix(l, "| `"+k.Name+"` |") {
					row = l
				}
			}
			require.NotEmpty(t, row, "docs/spec.md's kinds table has a row for the kind")
			require.Contains(t, row, "`"+k.AlertName+"`", "the row names the default alertname")
			for _, key := range k.Keys {
				require.Contains(t, row, "`"+key+"`", "the row names the kind's keys")
			}

			// The kind's own alert, as the loader defaults it, has scenarios
			// that pass.
			y := "gateways:\n  - name: gw\n    namespace: ns\n    selector: app=gw\nalerts:\n  - kind: " + k.Name + "\n"
			if k.Name == KindErrorRatio {
				y += "    threshold: 0.05\n"
			}
			if k.Name == KindResponseFlags {
				y += "    response_flags: NR\n"
			}
			if k.Name == KindResponseCode {
				y += "    response_code: \"503\"\n"
			}
			ks, err := spec.Parse([]byte(y), "k.yaml", SpecKinds())
			require.NoError(t, err)
			var a spec.Alert
			for _, al := range ks.Alerts {
				if al.Kind == k.Name {
					a = al
				}
			}
			scs, ok := Scenarios(g, a)
			require.True(t, ok, "kind %s has scenarios", k.Name)
			rule := ForAlert(g, a)
			for _, sc := range scs {
				res := Run(context.Background(), sc, rule, g.Stats.Interval.D())
				require.NoError(t, res.Err, sc.Name)
				require.True(t, res.Passed(), "%s: %+v", sc.Name, res.Failed())
			}
		})
	}
}

// TestRatioScenariosCanFail proves the error-ratio suite tells a working
// rule from a broken one: a rule that ignores the threshold fires in
// busy-under, and one that never fires misses busy-over.
func TestRatioScenariosCanFail(t *testing.T) {
	s := exampleSpec(t)
	g := s.Gateways[0]
	a := spec.Alert{Kind: KindErrorRatio, Name: "GatewayErrorRatio", ResponseCode: "5..", Threshold: 0.05, Window: spec.DefaultWindow, Severity: "warning", Per: "pod"}
	scs, ok := Scenarios(g, a)
	require.True(t, ok)
	byName := map[string]Scenario{}
	for _, sc := range scs {
		byName[sc.Name] = sc
	}
	floor := DefaultMinRequestRate
	a.MinRequestRate = &floor
	rule := ForAlert(g, a)
	noFloor := a
	noFloor.MinRequestRate = nil
	require.False(t, Run(context.Background(), byName["quiet"], ForAlert(g, noFloor), g.Stats.Interval.D()).Passed(),
		"without the floor one failed request out of two pages")
	require.True(t, Run(context.Background(), byName["quiet"], rule, g.Stats.Interval.D()).Passed())
	noThreshold := rule
	noThreshold.Expr = strings.Replace(rule.Expr, "> 0.05", "> 0", 1)
	require.NotEqual(t, rule.Expr, noThreshold.Expr)
	require.False(t, Run(context.Background(), byName["busy-under"], noThreshold, g.Stats.Interval.D()).Passed())
	never := rule
	never.Expr = strings.Replace(rule.Expr, "> 0.05", "> 1", 1)
	require.False(t, Run(context.Background(), byName["busy-over"], never, g.Stats.Interval.D()).Passed())
	over := Run(context.Background(), byName["busy-over"], rule, g.Stats.Interval.D())
	require.True(t, over.Passed(), "%+v", over.Failed())
	require.Equal(t, []string{g.Workload + "-7d9f8b6c4d-x2l9q=0.06"}, over.Outcomes[0].Got, "6% of responses are 5xx")
}

// TestStatsDownScenariosCanFail: a rule that only looks at up == 0 (the
// runbook's "target UP" check) misses a gateway with no targets and a page
// that is not Envoy's.
func TestStatsDownScenariosCanFail(t *testing.T) {
	s := exampleSpec(t)
	g := s.Gateways[0]
	k := statsDown()
	a := spec.Alert{Kind: KindStatsDown, Name: k.AlertName, Window: k.DefaultWindow, For: k.DefaultFor, Severity: "warning", Per: "pod"}
	scs := k.Scenarios(g, a)
	rule := Rule{Alert: a.Name, Expr: k.Expr(g, a), For: a.For}
	upOnly := Rule{Alert: a.Name, Expr: `max by (pod, instance) (up{` + jobMatcher(g) + `} == 0) + 1`, For: a.For}
	for _, sc := range scs {
		res := Run(context.Background(), sc, rule, g.Stats.Interval.D())
		require.True(t, res.Passed(), "%s: %+v", sc.Name, res.Failed())
		naive := Run(context.Background(), sc, upOnly, g.Stats.Interval.D())
		switch sc.Name {
		case "no-targets", "not-envoy", "family-gone":
			require.False(t, naive.Passed(), "%s: an up == 0 rule misses it", sc.Name)
		case "target-down", "healthy":
			require.True(t, naive.Passed(), "%s: %+v", sc.Name, naive.Failed())
		}
	}
}

// TestStatsDownSaysWhy: each cause's value expands to its own reason and
// description.
func TestStatsDownSaysWhy(t *testing.T) {
	s := exampleSpec(t)
	g := s.Gateways[0]
	k := statsDown()
	a := spec.Alert{Kind: KindStatsDown, Name: k.AlertName, Window: k.DefaultWindow, For: k.DefaultFor, Severity: "warning", Per: "pod"}
	rule := ForAlert(g, a)
	for v, want := range map[float64][2]string{
		StatsDownTarget:    {"target down", "does not answer"},
		StatsDownNotEnvoy:  {"not an Envoy stats page", "check stats.port and stats.path"},
		StatsDownNoFamily:  {"istio_requests_total gone", "no longer carries istio_requests_total"},
		StatsDownNoTargets: {"no targets", "has no stats targets"},
	} {
		ann, err := ExpandAnnotations(rule, map[string]string{"pod": "p"}, v)
		require.NoError(t, err)
		require.Equal(t, want[0], ann["reason"], "value %v", v)
		require.Contains(t, ann["description"], want[1], "value %v", v)
	}
}

// TestScenarioBounds: a window or interval beyond what a scenario can hold
// is refused with the limit (no overflow of time.Duration, no huge slices),
// and Scenarios then has none instead of panicking.
func TestScenarioBounds(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		interval, window, forD time.Duration
		want                   string
	}{
		{15 * time.Second, 6 * time.Hour, 0, ""},
		{15 * time.Second, 41 * time.Hour, 0, ""},
		{15 * time.Second, 365 * day, 0, "window 1y is 2102400 scrapes of 15s"},
		{50 * 365 * day, 250 * 365 * day, 0, "spans more than the 100 years"},
		{15 * time.Second, 5 * time.Minute, 365 * day, "for 1y is 2102400 scrapes"},
	} {
		g := spec.Gateway{Name: "gw", Namespace: "ns", Workload: "gw", Stats: spec.Stats{Interval: spec.Duration(tc.interval)}}
		a := spec.Alert{Kind: KindMisdirectedRequest, Name: "A", Window: spec.Duration(tc.window), For: spec.Duration(tc.forD), Severity: "warning", Per: "pod"}
		err := ScenarioBounds(g, a)
		scs, ok := Scenarios(g, a)
		if tc.want == "" {
			require.NoError(t, err)
			require.True(t, ok)
			require.NotEmpty(t, scs)
			continue
		}
		require.ErrorContains(t, err, tc.want)
		require.False(t, ok)
		require.Empty(t, scs)
	}
}

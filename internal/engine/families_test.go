package engine

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
	"github.com/gatewatch/gatewatch/internal/statspage"
)

// allKinds enables every alert kind, on a pod-discovered gateway and one of
// static targets.
const allKinds = `gateways:
  - name: public-ingress
    namespace: istio-ingress
    selector: app=istio-ingressgateway
  - name: partner
    namespace: edge
    static_targets: ["10.0.0.1:15090"]
alerts:
  - kind: misdirected-request
  - kind: stats-down
  - kind: response-code
    response_code: "503"
  - kind: response-flags
    response_flags: NR
  - kind: error-ratio
    threshold: 0.05
  - kind: misdirected-request
    name: Misdirected421PerGateway
    per: gateway
`

// TestFilterKeepsWhatEveryRuleSelects: the stats-page filter and the keep
// relabeling (keptFamilies) keep every metric any rule of any kind selects;
// a kind that starts reading another family fails here, not silently in
// production (its rule would see nothing).
func TestFilterKeepsWhatEveryRuleSelects(t *testing.T) {
	s, err := spec.Parse([]byte(allKinds), "all.yaml", rules.SpecKinds())
	require.NoError(t, err)
	kinds := map[string]bool{}
	for _, a := range s.EnabledAlerts() {
		kinds[a.Kind] = true
	}
	for _, k := range rules.Kinds() {
		require.True(t, kinds[k.Name], "the spec enables kind %s", k.Name)
	}
	fams, err := rules.Families(rules.Generate(s))
	require.NoError(t, err)
	require.Contains(t, fams, rules.Metric)
	t.Logf("the rules select %v", fams)
	for _, f := range fams {
		require.Contains(t, keptFamilies, f, "a rule selects %s, which the stats-page filter drops", f)
	}
}

// TestFilterKeepsEveryScenarioAlert: every scenario of every alert kind
// gives the same alerts at every check when its series come through the
// stats-page filter as when they do not. Each series is written as a line
// of an Envoy page (with a line of a family no rule reads); the filter
// decides which series reach Prometheus; the scenario then runs on the
// real PromQL engine with only those (plus the series Prometheus makes
// itself: up, scrape_*).
func TestFilterKeepsEveryScenarioAlert(t *testing.T) {
	s, err := spec.Parse([]byte(allKinds), "all.yaml", rules.SpecKinds())
	require.NoError(t, err)
	f := statspage.New(statspage.DefaultLimits, keptFamilies...)
	ran := 0
	for _, g := range s.Gateways {
		for _, a := range s.EnabledAlerts() {
			scs, ok := rules.Scenarios(g, a)
			require.True(t, ok, a.Kind)
			rule := rules.ForAlert(g, a)
			for _, sc := range scs {
				var page strings.Builder
				page.WriteString("# TYPE envoy_cluster_upstream_rq_total counter\nenvoy_cluster_upstream_rq_total{cluster_name=\"outbound|80||a\"} 7\n")
				for _, se := range sc.Series {
					page.WriteString(se.Labels + " 1\n")
				}
				var out bytes.Buffer
				_, err := f.Copy(&out, strings.NewReader(page.String()))
				require.NoError(t, err)
				kept := map[string]bool{}
				for _, l := range strings.Split(out.String(), "\n") {
					if i := strings.LastIndexByte(l, ' '); i > 0 {
						kept[l[:i]] = true
					}
				}
				require.NotContains(t, out.String(), "envoy_cluster_upstream_rq_total", "the filter drops what no rule reads")
				filtered := sc
				filtered.Series = nil
				for _, se := range sc.Series {
					name := se.Labels
					if i := strings.IndexByte(name, '{'); i >= 0 {
						name = name[:i]
					}
					if kept[se.Labels] || name == "up" || strings.HasPrefix(name, "scrape_") {
						filtered.Series = append(filtered.Series, se)
					}
				}
				want := rules.Run(context.Background(), sc, rule, g.Stats.Interval.D())
				got := rules.Run(context.Background(), filtered, rule, g.Stats.Interval.D())
				require.NoError(t, want.Err)
				require.NoError(t, got.Err)
				require.Equal(t, len(want.Outcomes), len(got.Outcomes))
				for i := range want.Outcomes {
					require.Equal(t, want.Outcomes[i].Got, got.Outcomes[i].Got, "%s/%s at %s: the filter changed the alerts", a.Name, sc.Name, want.Outcomes[i].At)
				}
				ran++
			}
		}
	}
	require.Greater(t, ran, 20)
	t.Logf("%d scenarios, the same alerts with and without the filter", ran)
}

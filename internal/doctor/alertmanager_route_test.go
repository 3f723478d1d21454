package doctor

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/render"
	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// TestOutputLabels: the labels an expression's result carries, from its
// outermost aggregation down to the selectors.
func TestOutputLabels(t *testing.T) {
	g := spec.Gateway{Name: "gw", Namespace: "istio-ingress", Workload: "istio-ingressgateway", Selector: "app=gw"}
	sel := `istio_requests_total{response_code="421", source_workload="istio-ingressgateway"}`
	target := []string{"instance", "job", "namespace", "pod"}
	for _, tc := range []struct {
		name, expr string
		want       []string
	}{
		{"sum keeps none", "sum(increase(" + sel + "[5m])) > 0", nil},
		{"sum by keeps its labels", "sum by (namespace, pod) (increase(" + sel + "[5m])) > 0", []string{"namespace", "pod"}},
		{"by a label the series may carry", "sum by (destination_service) (" + sel + ")", []string{"destination_service"}},
		{"without keeps the rest", "sum without (pod, instance) (" + sel + ")", []string{"job", "namespace", "response_code", "source_workload"}},
		{"no aggregation keeps the series' labels", "increase(" + sel + "[5m]) > 0", append([]string{"response_code", "source_workload"}, target...)},
		{"the scalar side of a comparison", "0 < max by (pod) (" + sel + ")", []string{"pod"}},
		{"one-to-one on keeps the on labels", sel + " > on (job) up", []string{"job"}},
		{"group_left adds the included", "sum by (pod, job) (" + sel + `) * on (job) group_left (version) build_info`, []string{"job", "pod", "version"}},
		{"or keeps what both sides carry", "max by (pod, instance) (" + sel + `) or absent(up{job="x"}) * 0 + 4`, nil},
		{"absent keeps its equality matchers", `absent(up{job="x", namespace=~"a|b"})`, []string{"job"}},
		{"gatewatch's rule", rules.Expr(g, spec.Alert{Kind: rules.KindMisdirectedRequest, Name: "A", Window: spec.DefaultWindow, Threshold: 0}), []string{"instance", "pod"}},
		{"the runbook's rule", rules.RunbookExpr(g, spec.DefaultWindow), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := parser.NewParser(parser.Options{}).ParseExpr(tc.expr)
			require.NoError(t, err)
			var got []string
			for k := range outputLabels(e, g).known {
				got = append(got, k)
			}
			sort.Strings(got)
			sort.Strings(tc.want)
			require.Equal(t, tc.want, got)
		})
	}
}

// runbookRule is the runbook's own PrometheusRule for the 421 alert, as a
// user keeps it next to gatewatch's render: labels as given.
func runbookRule(t *testing.T, labels string, by string) string {
	t.Helper()
	s, err := spec.Load("../../examples/gatewatch.yaml", rules.SpecKinds())
	require.NoError(t, err)
	expr := rules.RunbookExpr(s.Gateways[0], spec.DefaultWindow)
	if by != "" {
		expr = strings.Replace(expr, "sum(", "sum by ("+by+") (", 1)
	}
	return fmt.Sprintf(`apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: gateway-421, namespace: monitoring, labels: {release: kube-prometheus-stack}}
spec:
  groups:
  - name: runbook
    rules:
    - alert: GatewayMisdirectedRequest421
      expr: '%s'
%s`, expr, labels)
}

// TestOfflineRouteUsesTheLoadedRule: alertmanager/route routes the labels
// each loaded 421 rule can produce. The runbook's sum() drops namespace, so
// the AlertmanagerConfig (which matches on it) never receives its alert:
// FAIL naming namespace. Keeping namespace (by, or as a static label) routes;
// the prometheus target's alertmanager.yml does not match on namespace.
func TestOfflineRouteUsesTheLoadedRule(t *testing.T) {
	for _, tc := range []struct {
		name, target, rule string
		want               Status
		summary            string
		// ruleWarn: prometheus/rule recognises the runbook's expression.
		ruleWarn bool
	}{
		{"runbook sum() beside the operator render", render.TargetOperator, runbookRule(t, "", ""), Fail, "it lacks namespace, which the routes match on", true},
		{"sum by (namespace)", render.TargetOperator, runbookRule(t, "", "namespace"), Pass, "routes to Mattermost", false},
		{"namespace as a static label", render.TargetOperator, runbookRule(t, "      labels: {namespace: istio-ingress}\n", ""), Pass, "routes to Mattermost", true},
		{"static namespace of another AlertmanagerConfig", render.TargetOperator, runbookRule(t, "      labels: {namespace: monitoring}\n", ""), Fail, "does not reach a Mattermost receiver", true},
		{"runbook sum() with alertmanager.yml", render.TargetPrometheus, "groups:\n- name: runbook\n  rules:\n  - alert: GatewayMisdirectedRequest421\n    expr: 'sum(increase(istio_requests_total[5m])) > 0'\n", Pass, "routes to Mattermost", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "runbook-rule.yaml"
			if tc.target == render.TargetPrometheus {
				name = "runbook-rules.yml"
			}
			rs := runOffline(t, renderDir(t, tc.target, func(dir string) {
				require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(tc.rule), 0o644))
			}))
			r := rs["alertmanager/route"]
			require.Equal(t, tc.want, r.Status, "%s %v", r.Summary, r.Evidence)
			require.Contains(t, r.Summary, tc.summary)
			if tc.want == Fail {
				require.Contains(t, r.Summary, name, "names the rule's file")
				require.Contains(t, strings.Join(r.Evidence, "\n"), "→ null")
			}
			if tc.ruleWarn {
				require.Equal(t, Warn, rs["prometheus/rule"].Status, "the runbook's expression is blind to the first 421")
			}
		})
	}
}

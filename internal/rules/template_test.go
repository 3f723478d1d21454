package rules

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/template"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/spec"
)

// braceSpec has braces in every plain value that reaches a rule: issue 12's
// workload and response_code, and the other kinds' keys and runbook_url.
const braceSpec = `gateways:
  - name: gw
    namespace: ns
    selector: app=gw
    workload: "istio{{ broken"
alerts:
  - kind: response-code
    response_code: '4(21|{{ query "up" | first | value }}9)'
    runbook_url: 'https://runbooks.example.com/{{ .Status }}/{'
  - kind: response-flags
    response_flags: 'UH|{{ end }}{'
  - kind: error-ratio
    response_code: '5(..|{{{)'
    threshold: 0.05
    labels:
      pod_template: '{{ $labels.pod }}'
    annotations:
      note: 'value {{ $value }}'
routing:
  alerts: [GatewayResponseCode, GatewayResponseFlags, GatewayErrorRatio]
`

// expandNoQuery expands a Prometheus rule template as the rule manager
// does, with a query function that fails the test when called.
func expandNoQuery(t *testing.T, text string, lbls map[string]string) string {
	t.Helper()
	out, err := ExpandTemplate("test", text, lbls, 3, func(_ context.Context, q string, _ time.Time) (promql.Vector, error) {
		t.Errorf("the template ran the query %q", q)
		return nil, nil
	})
	require.NoError(t, err, text)
	return out
}

// TestSpecValuesAreLiteralInRules: the spec's plain values reach the rule
// labels and annotations as literal text. The rule file parses with
// Prometheus's rule parser, and expanding the templates as Prometheus does
// prints the values as written and runs no query.
func TestSpecValuesAreLiteralInRules(t *testing.T) {
	s, err := spec.Parse([]byte(braceSpec), "b.yaml", SpecKinds())
	require.NoError(t, err)
	f := Generate(s)
	require.NoError(t, f.Validate(), "rulefmt.Parse accepts the rule file")
	g := s.Gateways[0]
	lbls := map[string]string{"pod": "gw-abc", "instance": "10.0.0.1:15090"}
	seen := map[string]bool{}
	for _, a := range s.EnabledAlerts() {
		r := ForAlert(g, a)
		static, err := ExpandLabels(r, lbls, 3)
		require.NoError(t, err)
		require.Equal(t, "istio{{ broken", static["workload"])
		for k, v := range r.Labels {
			require.Equal(t, static[k], expandNoQuery(t, v, lbls), "label %s", k)
		}
		ann := map[string]string{}
		for k, v := range r.Annotations {
			ann[k] = expandNoQuery(t, v, lbls)
		}
		require.Contains(t, ann["description"], "(workload istio{{ broken)", a.Name)
		switch a.Kind {
		case KindResponseCode:
			require.Equal(t, `Gateway gw returned HTTP 4(21|{{ query "up" | first | value }}9)`, ann["summary"])
			require.Contains(t, ann["description"], `with code 4(21|{{ query "up" | first | value }}9) served by`)
			require.Equal(t, "https://runbooks.example.com/{{ .Status }}/{", ann["runbook_url"])
		case KindResponseFlags:
			require.Equal(t, "Gateway gw served responses with Envoy flags UH|{{ end }}{", ann["summary"])
		case KindErrorRatio:
			require.Contains(t, ann["summary"], "match 5(..|{{{)")
			require.Equal(t, "gw-abc", static["pod_template"], "the spec's own labels are templates")
			require.Equal(t, "value 3", ann["note"], "the spec's own annotations are templates")
		}
		seen[a.Kind] = true
	}
	require.Len(t, seen, len(Kinds()), "every kind was checked")

	// Without the escaping the same text is a template that queries: the
	// check above can fail.
	queried := false
	data := template.AlertTemplateData(nil, nil, "", promql.Sample{})
	_, _ = template.NewTemplateExpander(context.Background(), `{{ query "up" | first | value }}`, "x", data, model.Time(0),
		func(context.Context, string, time.Time) (promql.Vector, error) { queried = true; return nil, nil }, &url.URL{}, nil).Expand()
	require.True(t, queried)
}

// TestValidateIsPrometheusRuleParser: Validate refuses what Prometheus's
// rule parser refuses — an expression and a template.
func TestValidateIsPrometheusRuleParser(t *testing.T) {
	s := exampleSpec(t)
	f := Generate(s)
	require.NoError(t, f.Validate())
	bad := Generate(s)
	bad.Groups[0].Rules[0].Labels["workload"] = "istio{{ broken"
	require.ErrorContains(t, bad.Validate(), `label "workload"`)
	bad = Generate(s)
	bad.Groups[0].Rules[0].Expr = "sum(("
	require.ErrorContains(t, bad.Validate(), "could not parse expression")
}

// TestPromtoolExpectsExpandedLabels: the promtool scenarios expect the
// labels an alert carries (the templates expanded), not the template text.
func TestPromtoolExpectsExpandedLabels(t *testing.T) {
	s, err := spec.Parse([]byte(braceSpec), "b.yaml", SpecKinds())
	require.NoError(t, err)
	tests, err := PromtoolTests(s, "rules.yml")
	require.NoError(t, err)
	n := 0
	for _, tc := range tests["gw"].Tests {
		for _, at := range tc.AlertRuleTest {
			for _, e := range at.ExpAlerts {
				require.Equal(t, "istio{{ broken", e.ExpLabels["workload"])
				if strings.HasPrefix(tc.Name, "gw/GatewayErrorRatio/") {
					require.Equal(t, e.ExpLabels["pod"], e.ExpLabels["pod_template"])
				}
				n++
			}
		}
	}
	require.Positive(t, n)
}

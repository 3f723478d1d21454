package rules

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/spec"
)

func exampleSpec(t *testing.T) *spec.Spec {
	t.Helper()
	s, err := spec.Load("../../examples/gatewatch.yaml", SpecKinds())
	require.NoError(t, err)
	return s
}

// TestScenarios runs every scenario against the generated rule with the real
// PromQL engine and alerting-rule state machine.
func TestScenarios(t *testing.T) {
	s := exampleSpec(t)
	for _, per := range []string{"pod", "gateway"} {
		for _, a := range []spec.Alert{
			{Kind: KindMisdirectedRequest, Name: "GatewayMisdirectedRequest421"},
			{Kind: KindResponseFlags, Name: "GatewayNoRoute", ResponseFlags: "NR"},
			{Kind: KindResponseCode, Name: "Gateway5xx", ResponseCode: "5.."},
		} {
			a.Window, a.Severity, a.Per = spec.DefaultWindow, "warning", per
			g := s.Gateways[0]
			scs, ok := Scenarios(g, a)
			require.True(t, ok)
			rule := ForAlert(g, a)
			for _, sc := range scs {
				t.Run(per+"/"+a.Name+"/"+sc.Name, func(t *testing.T) {
					res := Run(context.Background(), sc, rule, g.Stats.Interval.D())
					require.NoError(t, res.Err)
					require.Len(t, res.Outcomes, len(sc.Checks))
					for _, o := range res.Outcomes {
						require.Equal(t, o.Want, o.Got, "at %s: %s", o.At, sc.Doc)
					}
				})
			}
		}
	}
}

// TestScenariosAcrossIntervalsAndWindows runs the 421 scenarios for the
// combinations a spec may use (window at least four scrape intervals), with
// and without `for`.
func TestScenariosAcrossIntervalsAndWindows(t *testing.T) {
	for _, iv := range []time.Duration{5 * time.Second, 15 * time.Second, 30 * time.Second, time.Minute} {
		for _, w := range []time.Duration{time.Minute, 5 * time.Minute, 10 * time.Minute} {
			for _, forD := range []time.Duration{0, w / 4} {
				if w < 4*iv {
					continue
				}
				g := spec.Gateway{Name: "gw", Namespace: "ns", Workload: "gw", Stats: spec.Stats{Interval: spec.Duration(iv)}}
				a := spec.Alert{Kind: KindMisdirectedRequest, Name: "GatewayMisdirectedRequest421", Window: spec.Duration(w), For: spec.Duration(forD), Severity: "warning", Per: "pod"}
				scs, ok := Scenarios(g, a)
				require.True(t, ok)
				for _, sc := range scs {
					t.Run(fmt.Sprintf("interval=%s/window=%s/for=%s/%s", iv, w, forD, sc.Name), func(t *testing.T) {
						res := Run(context.Background(), sc, ForAlert(g, a), iv)
						require.NoError(t, res.Err)
						for _, o := range res.Outcomes {
							require.Equal(t, o.Want, o.Got, "at %s: %s", o.At, sc.Doc)
						}
					})
				}
			}
		}
	}
}

// TestRunbookMissesFirst421 proves the difference: the runbook's
// sum(increase(...[5m])) > 0 stays silent on the first 421 a gateway serves,
// where the generated rule fires.
// alertOf returns the spec's alert of kind.
func alertOf(t *testing.T, s *spec.Spec, kind string) spec.Alert {
	t.Helper()
	for _, a := range s.Alerts {
		if a.Kind == kind {
			return a
		}
	}
	t.Fatalf("no alert of kind %s", kind)
	return spec.Alert{}
}

func TestRunbookMissesFirst421(t *testing.T) {
	s := exampleSpec(t)
	g, a := s.Gateways[0], alertOf(t, s, KindMisdirectedRequest)
	scs, _ := Scenarios(g, a)
	var first Scenario
	for _, sc := range scs {
		if sc.Name == "first-ever" {
			first = sc
		}
	}
	require.NotEmpty(t, first.Series)
	runbook := Rule{Alert: "RunbookRule", Expr: RunbookExpr(g, a.Window)}
	rb := Run(context.Background(), first, runbook, g.Stats.Interval.D())
	require.NoError(t, rb.Err)
	ours := Run(context.Background(), first, ForAlert(g, a), g.Stats.Interval.D())
	require.NoError(t, ours.Err)
	require.True(t, ours.Passed())
	var firingChecks int
	for i, o := range ours.Outcomes {
		if len(o.Want) == 0 {
			continue
		}
		firingChecks++
		require.NotEmpty(t, o.Got, "gatewatch rule must fire at %s", o.At)
		require.Empty(t, rb.Outcomes[i].Got, "runbook rule unexpectedly fired at %s", o.At)
	}
	require.Equal(t, 1, firingChecks)
}

func TestGeneratedExpressionsParse(t *testing.T) {
	s := exampleSpec(t)
	for i := range s.Alerts {
		s.Alerts[i].Enabled = nil
	}
	f := Generate(s)
	require.NoError(t, f.Validate())
	require.Len(t, f.Groups, 1)
	require.Len(t, f.Groups[0].Rules, 4)
	byName := map[string]Rule{}
	for _, r := range f.Groups[0].Rules {
		byName[r.Alert] = r
	}
	require.Contains(t, byName, "GatewayStatsDown", "stats-down is on by default")
	r := byName["GatewayMisdirectedRequest421"]
	for _, want := range []string{`reporter="source"`, `source_workload_namespace="istio-ingress"`, `source_workload="istio-ingressgateway"`, `response_code="421"`, "offset 5m", `envoy_server_uptime{job=~"gatewatch/istio-ingress/public-ingress(/static)?"} < 300`, "count_over_time(", `job=~"gatewatch/istio-ingress/public-ingress(/static)?"`} {
		require.Contains(t, r.Expr, want)
	}
	require.Equal(t, "istio-ingress", r.Labels["namespace"])
	require.Equal(t, "https://runbooks.example.com/gateway-421", r.Annotations["runbook_url"])
	p := parser.NewParser(parser.Options{})
	ratio := byName["GatewayHigh5xxRatio"]
	_, err := p.ParseExpr(ratio.Expr)
	require.NoError(t, err)
	require.True(t, strings.Contains(ratio.Expr, `response_code=~"5.."`))
}

func TestNotation(t *testing.T) {
	for _, tc := range []struct {
		in   steps
		want string
	}{
		{cat(fill(3, ""), fill(4, "1")), "_x3 1x3"},
		{ramp(4, 0, 15), "0+15x3"},
		{steps{"5", "stale", "stale", "", "1"}, "5 stale stale _ 1"},
		{steps{"1"}, "1"},
		{cat(fill(2, "3"), fill(2, "4")), "3x1 4x1"},
	} {
		require.Equal(t, tc.want, tc.in.notation())
	}
	_ = time.Second
}

// TestFamiliesRefusesANamelessSelector: a rule whose selector names no
// metric cannot be honoured by a keep filter; Families says so.
func TestFamiliesRefusesANamelessSelector(t *testing.T) {
	fams, err := Families(File{Groups: []Group{{Rules: []Rule{{Alert: "A", Expr: `increase(istio_requests_total[5m]) > 0 and on() up == 1 unless envoy_server_uptime < 60`}}}}})
	require.NoError(t, err)
	require.Equal(t, []string{"envoy_server_uptime", "istio_requests_total"}, fams)
	_, err = Families(File{Groups: []Group{{Rules: []Rule{{Alert: "B", Expr: `{__name__=~"istio_.*"} > 0`}}}}})
	require.ErrorContains(t, err, "names no metric")
}

// TestEnvoyStatsFilter: the filter names every family the rules read in
// Envoy's own stat names, and only for gateways that ask for it.
func TestEnvoyStatsFilter(t *testing.T) {
	s, err := spec.Parse([]byte("gateways:\n  - name: a\n    namespace: n\n    selector: app=a\n    stats: {envoy_filter: true}\n  - name: b\n    namespace: n\n    selector: app=b\n"), "g.yaml", SpecKinds())
	require.NoError(t, err)
	re, err := EnvoyStatsFilter(s)
	require.NoError(t, err)
	require.Equal(t, `server[._]uptime|istio[._]requests[._]total`, re)
	c := regexp.MustCompile(re)
	require.True(t, c.MatchString("server.uptime"))
	require.True(t, c.MatchString("reporter=.=destination;.;istio_requests_total"))
	require.False(t, c.MatchString("cluster.outbound|80||api.upstream_rq_200"))
	p, err := StatsParams(s, s.Gateways[0])
	require.NoError(t, err)
	require.Equal(t, map[string][]string{"filter": {re}}, p)
	p, err = StatsParams(s, s.Gateways[1])
	require.NoError(t, err)
	require.Nil(t, p)
}

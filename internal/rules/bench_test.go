package rules

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/gatewatch/gatewatch/internal/spec"
)

// benchDB loads a TSDB with a realistic gateway fleet: pods gateway pods,
// each exporting routes × codes istio_requests_total series (both reporters),
// up and envoy_server_uptime, scraped every 15s for 20 minutes, with one 421
// series appearing in the last minute.
func benchDB(b *testing.B, pods, routes int) (*tsdb.DB, time.Time) {
	b.Helper()
	dir := b.TempDir()
	db, err := tsdb.Open(dir, promslog.NewNopLogger(), nil, tsdb.DefaultOptions(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close(); os.RemoveAll(dir) })
	const iv = 15 * time.Second
	steps := int(20 * time.Minute / iv)
	app := db.Appender(context.Background())
	for p := 0; p < pods; p++ {
		base := []string{"job", JobName(spec.Gateway{Name: "public-ingress", Namespace: "istio-ingress"}), "namespace", "istio-ingress", "pod", fmt.Sprintf("istio-ingressgateway-%d", p), "instance", fmt.Sprintf("10.0.0.%d:15090", p)}
		series := []labels.Labels{labels.FromStrings(append(base, "__name__", "up")...), labels.FromStrings(append(base, "__name__", "envoy_server_uptime")...)}
		for r := 0; r < routes; r++ {
			for _, code := range []string{"200", "404", "503"} {
				for _, rep := range []string{"source", "destination"} {
					series = append(series, labels.FromStrings(append(base, "__name__", Metric, "reporter", rep,
						"source_workload", "istio-ingressgateway", "source_workload_namespace", "istio-ingress",
						"destination_service", fmt.Sprintf("svc-%d.shop.svc.cluster.local", r), "response_code", code)...))
				}
			}
		}
		for i := 0; i < steps; i++ {
			ts := timestamp.FromTime(time.Unix(0, 0).Add(time.Duration(i) * iv))
			for j, s := range series {
				v := float64(i * (j + 1))
				if j == 0 {
					v = 1
				} else if j == 1 {
					v = 864000 + float64(i)*15
				}
				if _, err := app.Append(0, s, ts, v); err != nil {
					b.Fatal(err)
				}
			}
			if p == 0 && i >= steps-4 {
				s421 := labels.FromStrings(append(base, "__name__", Metric, "reporter", "source", "source_workload", "istio-ingressgateway",
					"source_workload_namespace", "istio-ingress", "destination_service", "svc-0.shop.svc.cluster.local", "response_code", "421")...)
				if _, err := app.Append(0, s421, ts, 1); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	if err := app.Commit(); err != nil {
		b.Fatal(err)
	}
	return db, time.Unix(0, 0).Add(time.Duration(steps-1) * iv)
}

// BenchmarkRuleEval measures one evaluation of the generated 421 rule and,
// side by side, of the runbook's rule, on the same data: the cost of being
// first-421-safe.
func BenchmarkRuleEval(b *testing.B) {
	g := spec.Gateway{Name: "public-ingress", Namespace: "istio-ingress", Workload: "istio-ingressgateway", Stats: spec.Stats{Interval: spec.DefaultScrapeInterval}}
	a := spec.Alert{Kind: KindMisdirectedRequest, Name: "GatewayMisdirectedRequest421", Window: spec.DefaultWindow, Severity: "warning", Per: "pod"}
	for _, size := range []struct{ pods, routes int }{{3, 20}, {30, 50}, {300, 20}} {
		db, at := benchDB(b, size.pods, size.routes)
		engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 50_000_000, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
		for _, r := range []struct{ name, expr string }{
			{"gatewatch", Expr(g, a)},
			{"runbook", RunbookExpr(g, a.Window)},
		} {
			b.Run(fmt.Sprintf("pods=%d/series=%d/%s", size.pods, size.pods*size.routes*6, r.name), func(b *testing.B) {
				var n int
				for b.Loop() {
					q, err := engine.NewInstantQuery(context.Background(), db, nil, r.expr, at)
					if err != nil {
						b.Fatal(err)
					}
					res := q.Exec(context.Background())
					if res.Err != nil {
						b.Fatal(res.Err)
					}
					v, _ := res.Vector()
					n = len(v)
					q.Close()
				}
				b.ReportMetric(float64(n), "alerts")
				if r.name == "gatewatch" && n != 1 {
					b.Fatalf("the generated rule returned %d alerts, want the new 421 series", n)
				}
			})
		}
	}
}

// BenchmarkRuleParts splits the generated rule's cost at 300 pods into its
// selections: the terms over the 421 series alone, and the per-target
// guards (every target's up history, every target's uptime) that make it
// first-421-safe and cost what the runbook's rule does not pay.
func BenchmarkRuleParts(b *testing.B) {
	g := spec.Gateway{Name: "public-ingress", Namespace: "istio-ingress", Workload: "istio-ingressgateway", Stats: spec.Stats{Interval: spec.DefaultScrapeInterval}}
	a := spec.Alert{Kind: KindMisdirectedRequest, Name: "GatewayMisdirectedRequest421", Window: spec.DefaultWindow, Severity: "warning", Per: "pod"}
	db, at := benchDB(b, 300, 20)
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 50_000_000, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	sel := Metric + "{" + Selector(g, a) + "}"
	job := "{" + jobMatcher(g) + "}"
	w := a.Window.String()
	for _, p := range []struct{ name, expr string }{
		{"421-series/increase", "increase(" + sel + "[" + w + "])"},
		{"421-series/count-over-window", "count_over_time(" + sel + "[" + w + "])"},
		{"421-series/new-since-window", sel + " unless " + sel + " offset " + w},
		{"per-target/up-history", "sum by (job, instance) (sum_over_time(up" + job + "[" + w + "]))"},
		{"per-target/uptime", "envoy_server_uptime" + job + " < 300"},
		// what looking up a recorded per-target scrape count would cost in
		// place of the history scan: an instant selection of one series a
		// target
		{"per-target/instant-lookup", "up" + job},
	} {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				q, err := engine.NewInstantQuery(context.Background(), db, nil, p.expr, at)
				if err != nil {
					b.Fatal(err)
				}
				if res := q.Exec(context.Background()); res.Err != nil {
					b.Fatal(res.Err)
				}
				q.Close()
			}
		})
	}
}

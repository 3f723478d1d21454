package test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/demo"
	"github.com/gatewatch/gatewatch/internal/doctor"
	"github.com/gatewatch/gatewatch/internal/engine"
	"github.com/gatewatch/gatewatch/internal/render"
	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
	"github.com/gatewatch/gatewatch/internal/web"
)

// apiGet GETs a Prometheus API path and returns the status code and the
// decoded body.
func apiGet(t *testing.T, base, path string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(base + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var v map[string]any
	require.NoError(t, json.Unmarshal(b, &v), "%s%s: %s", base, path, b)
	return resp.StatusCode, v
}

// labelMaps are the objects whose keys are data (label names, pools,
// metric names), not fields: their keys are "*" in a shape.
var labelMaps = []string{"labels", "discoveredLabels", "annotations", "metric", "droppedTargetCounts"}

// shape is a JSON document's key paths with the type at each: objects by
// key, array elements merged under "[]", label maps' keys as "*". Two
// answers with the same shape have the same fields of the same types.
func shape(v any) []string {
	set := map[string]bool{}
	var walk func(path string, v any, dataKeys bool)
	walk = func(path string, v any, dataKeys bool) {
		switch x := v.(type) {
		case map[string]any:
			set[path+":object"] = true
			for k, e := range x {
				name := k
				if dataKeys {
					name = "*"
				}
				walk(path+"."+name, e, slices.Contains(labelMaps, k) && !dataKeys)
			}
		case []any:
			set[path+":array"] = true
			for _, e := range x {
				walk(path+"[]", e, false)
			}
		case string:
			set[path+":string"] = true
		case float64:
			set[path+":number"] = true
		case bool:
			set[path+":bool"] = true
		case nil:
			set[path+":null"] = true
		}
	}
	walk("", v, false)
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestPrometheusAPIMatchesPrometheus runs the real Prometheus and
// gatewatch's engine on the same scrape configuration and rules against
// one simulated gateway, and compares their answers: the same fields of
// the same types for targets, rules, alerts, series, labels, metadata and
// errors, the same series and label values; then the pinned promtool's
// query commands and doctor's Prometheus checks run against gatewatch.
func TestPrometheusAPIMatchesPrometheus(t *testing.T) {
	promBin, promtool := tool(t, "prometheus"), tool(t, "promtool")
	gw := demo.NewGateway("istio-ingress", "istio-ingressgateway", "pod-0", nil, nil)
	require.NoError(t, gw.Start("127.0.0.1:0"))
	defer gw.Close()
	gw.Serve(10)
	s, err := spec.Parse([]byte(fmt.Sprintf(`gateways:
  - name: public-ingress
    namespace: istio-ingress
    workload: istio-ingressgateway
    static_targets: ["%s"]
    stats: {interval: 1s, timeout: 900ms}
mattermost:
  webhook_url: http://127.0.0.1:1/hooks/x
`, gw.Addr())), "t.yaml", rules.SpecKinds())
	require.NoError(t, err)
	job := rules.StaticJobName(s.Gateways[0])

	// gatewatch.
	e, err := engine.New(s, engine.Options{DataDir: t.TempDir()})
	require.NoError(t, err)
	require.NoError(t, e.Start(context.Background()))
	defer e.Close()
	srv := httptest.NewServer(web.Handler(e, web.Options{Version: "test"}))
	defer srv.Close()

	// Prometheus: the scrape configuration and rules render writes.
	dir := t.TempDir()
	scrape, err := render.ScrapeConfigYAML(s, "")
	require.NoError(t, err)
	files, err := render.Render(s, render.TargetPrometheus)
	require.NoError(t, err)
	for _, f := range files {
		if f.Name == render.RulesFileName {
			writeFile(t, dir, f.Name, f.Content)
		}
	}
	writeFile(t, dir, "prometheus.yml", []byte(fmt.Sprintf("global: {scrape_interval: 1s, evaluation_interval: 1s}\nrule_files: [%s]\n%s",
		filepath.Join(dir, render.RulesFileName), scrape)))
	promAddr := freeAddr(t)
	startProc(t, promBin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "prom"),
		"--web.listen-address="+promAddr)
	promURL := "http://" + promAddr

	// Both fire the 421 alert: every field of targets, rules and alerts
	// (an alert inside a rule included) then has a value on both sides.
	firing := func(base string) bool {
		code, v := apiGet(t, base, "/api/v1/alerts")
		if code != 200 {
			return false
		}
		alerts, _ := v["data"].(map[string]any)["alerts"].([]any)
		for _, a := range alerts {
			a := a.(map[string]any)
			if a["labels"].(map[string]any)["alertname"] == "GatewayMisdirectedRequest421" && a["state"] == "firing" {
				return true
			}
		}
		return false
	}
	require.Eventually(t, func() bool { return httpOK(promURL + "/-/ready") }, 60*time.Second, 50*time.Millisecond, "Prometheus ready")
	require.Eventually(t, func() bool {
		_, a := apiGet(t, promURL, "/api/v1/query?query=up")
		_, b := apiGet(t, srv.URL, "/api/v1/query?query=up")
		return len(a["data"].(map[string]any)["result"].([]any)) == 1 && len(b["data"].(map[string]any)["result"].([]any)) == 1
	}, 60*time.Second, 50*time.Millisecond, "both scraped the gateway")
	gw.Misdirect(1)
	require.Eventually(t, func() bool { return firing(promURL) && firing(srv.URL) }, 60*time.Second, 100*time.Millisecond, "the 421 alert firing in both")

	limit := url.QueryEscape(`{job="` + job + `"}`)
	for _, path := range []string{
		"/api/v1/targets", "/api/v1/targets?state=active", "/api/v1/targets?state=dropped",
		"/api/v1/rules", "/api/v1/rules?type=alert&exclude_alerts=true", "/api/v1/rules?type=record", "/api/v1/alerts",
		"/api/v1/series?match[]=up", "/api/v1/series?limit=1&match[]=" + limit, "/api/v1/series",
		"/api/v1/labels", "/api/v1/labels?match[]=up", "/api/v1/label/job/values", "/api/v1/label/__name__/values?limit=1",
		"/api/v1/label/job/values?limit=-1",
		"/api/v1/metadata?metric=istio_requests_total",
		"/api/v1/query?query=up",
	} {
		t.Run(path, func(t *testing.T) {
			pc, pv := apiGet(t, promURL, path)
			gc, gv := apiGet(t, srv.URL, path)
			require.Equal(t, pc, gc, "status code")
			require.Equal(t, shape(pv), shape(gv), "Prometheus's fields and types (left) and gatewatch's (right)")
		})
	}

	// The same data, not only the same fields.
	for _, path := range []string{"/api/v1/series?match[]=up", "/api/v1/label/job/values", "/api/v1/labels?match[]=up"} {
		_, pv := apiGet(t, promURL, path)
		_, gv := apiGet(t, srv.URL, path)
		require.Equal(t, pv["data"], gv["data"], path)
	}
	_, gv := apiGet(t, srv.URL, "/api/v1/series?match[]=up")
	require.Equal(t, []any{map[string]any{"__name__": "up", "gateway": "public-ingress", "instance": gw.Addr(), "job": job}}, gv["data"])

	// promtool against gatewatch: the instant query, and the series and
	// label values exactly as against Prometheus.
	out, code := run(t, promtool, "query", "instant", srv.URL, "up")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, fmt.Sprintf(`up{gateway="public-ingress", instance=%q, job=%q} => 1 @[`, gw.Addr(), job))
	for _, args := range [][]string{
		{"query", "series", "--match=up"},
		{"query", "series", "--match=istio_requests_total", "--match=envoy_server_uptime", "--start=" + fmt.Sprint(time.Now().Add(-time.Hour).Unix())},
		{"query", "labels"},
	} {
		name := "job"
		if args[1] != "labels" {
			name = ""
		}
		withServer := func(u string) []string {
			a := append(slices.Clone(args), u)
			if name != "" {
				a = append(a, name)
			}
			return a
		}
		gout, gcode := run(t, promtool, withServer(srv.URL)...)
		require.Equal(t, 0, gcode, gout)
		pout, pcode := run(t, promtool, withServer(promURL)...)
		require.Equal(t, 0, pcode, pout)
		require.Equal(t, pout, gout, strings.Join(args, " "))
		require.NotEmpty(t, strings.TrimSpace(gout))
	}
	out, _ = run(t, promtool, "query", "labels", srv.URL, "job")
	require.Equal(t, job+"\n", out)
	out, _ = run(t, promtool, "query", "series", "--match=up", srv.URL)
	require.Equal(t, fmt.Sprintf("{__name__=\"up\", gateway=\"public-ingress\", instance=%q, job=%q}\n", gw.Addr(), job), out)

	// doctor --prometheus-url pointed at gatewatch.
	var checks []doctor.Check
	for _, c := range doctor.Checks() {
		if strings.HasPrefix(c.ID(), "prometheus/") {
			checks = append(checks, c)
		}
	}
	require.Len(t, checks, 3)
	results := doctor.Run(context.Background(), &doctor.Env{Spec: s, PrometheusURL: srv.URL}, checks, nil)
	require.Len(t, results, 3, "every Prometheus check ran")
	for _, r := range results {
		require.Equal(t, doctor.Pass, r.Status, "%s: %s %v %s", r.ID, r.Summary, r.Evidence, r.Hint)
	}
}

package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/demo"
	"github.com/gatewatch/gatewatch/internal/engine"
	"github.com/gatewatch/gatewatch/internal/mattermost/inbox"
	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
	"github.com/gatewatch/gatewatch/internal/web"
)

const secretHook = "webuisecrethook9x2"

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// startEngine starts an engine for s, closed when the test ends.
func startEngine(t *testing.T, s *spec.Spec) *engine.Engine {
	t.Helper()
	e, err := engine.New(s, engine.Options{})
	require.NoError(t, err)
	require.NoError(t, e.Start(context.Background()))
	t.Cleanup(func() { e.Close() })
	return e
}

func TestStatusPageAndAPI(t *testing.T) {
	inbox, err := inbox.Start("127.0.0.1:0")
	require.NoError(t, err)
	defer inbox.Close()
	hook := inbox.AddHook(secretHook, "gateway-alerts", true)
	gw := demo.NewGateway("istio-ingress", "istio-ingressgateway", "pod-0", nil, nil)
	require.NoError(t, gw.Start("127.0.0.1:0"))
	defer gw.Close()
	s, err := spec.Parse([]byte(fmt.Sprintf(`gateways:
  - name: public-ingress
    namespace: istio-ingress
    workload: istio-ingressgateway
    static_targets: ["%s"]
    stats: {interval: 1s, timeout: 900ms}
mattermost:
  webhook_url: %s
routing: {group_wait: 1s, group_interval: 2s}
`, gw.Addr(), hook)), "t.yaml", rules.SpecKinds())
	require.NoError(t, err)
	e := startEngine(t, s)

	reloadErr := errors.New("t.yaml:3: bad duration")
	var injected atomic.Int32
	srv := httptest.NewServer(web.Handler(e, web.Options{
		Reload: func(context.Context) error { return reloadErr },
		Demo:   fakeDemo{inject: func() { injected.Add(1); gw.Misdirect(1) }},
	}))
	defer srv.Close()

	require.Eventually(t, func() bool { ts := e.Targets(); return len(ts) == 1 && ts[0].Health == "up" }, 20*time.Second, 50*time.Millisecond, "target up")
	gw.Serve(10)

	// Demo injection through the page's endpoint, then the alert fires.
	resp, err := http.Post(srv.URL+"/demo/inject", "", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.EqualValues(t, 1, injected.Load())
	require.Eventually(t, func() bool { return len(inbox.Posts()) == 1 }, 20*time.Second, 50*time.Millisecond, "the firing message")
	// The page shows the sender's record of Mattermost's answer, which the
	// sender writes after the inbox has the post: wait on that record.
	require.Eventually(t, func() bool {
		d := e.Deliveries()
		return len(d) == 1 && d[0].OK
	}, 20*time.Second, 50*time.Millisecond, "the delivery recorded")

	code, page := get(t, srv.URL+"/")
	require.Equal(t, 200, code)
	require.Contains(t, page, `class="up">up</td>`)
	require.Contains(t, page, "1 target(s)")
	require.NotContains(t, page, "no targets")
	require.Contains(t, page, `<svg class="chart"`)
	require.Contains(t, page, `class="firing">firing</td>`)
	require.Contains(t, page, "200 ok", "recent notifications show Mattermost's answer")
	require.Contains(t, page, "Serve a misdirected request (421) now")

	// Prometheus-compatible query API.
	code, body := get(t, srv.URL+"/api/v1/query?query="+url.QueryEscape(`up`))
	require.Equal(t, 200, code)
	var q struct {
		Status string
		Data   struct {
			ResultType string
			Result     []struct {
				Metric map[string]string
				Value  []any
			}
		}
	}
	require.NoError(t, json.Unmarshal([]byte(body), &q))
	require.Equal(t, "success", q.Status)
	require.Equal(t, "vector", q.Data.ResultType)
	require.Len(t, q.Data.Result, 1)
	require.Equal(t, "1", q.Data.Result[0].Value[1])
	require.Equal(t, gw.Addr(), q.Data.Result[0].Metric["instance"])

	now := time.Now().Unix()
	code, body = get(t, fmt.Sprintf("%s/api/v1/query_range?query=up&start=%d&end=%d&step=1", srv.URL, now-5, now))
	require.Equal(t, 200, code, body)
	require.Contains(t, body, `"resultType":"matrix"`)
	code, body = get(t, srv.URL+"/api/v1/query_range?query=up&start=10&end=5&step=1")
	require.Equal(t, 400, code)
	require.Contains(t, body, `"errorType":"bad_data"`)
	code, body = get(t, srv.URL+"/api/v1/query?query="+url.QueryEscape("sum(("))
	require.Equal(t, 422, code)
	require.Contains(t, body, `"status":"error"`)

	// Silences: create, list, expire.
	form := url.Values{"matchers": {"alertname=GatewayMisdirectedRequest421, gateway=public-ingress"}, "duration": {"1h"}, "created_by": {"ops"}, "comment": {"maintenance"}}
	resp, err = http.PostForm(srv.URL+"/silences", form)
	require.NoError(t, err)
	resp.Body.Close()
	sils, err := e.Silences(context.Background())
	require.NoError(t, err)
	require.Len(t, sils, 1)
	require.Equal(t, "active", sils[0].State)
	require.Equal(t, `alertname="GatewayMisdirectedRequest421", gateway="public-ingress"`, sils[0].Matchers)
	resp, err = http.Post(srv.URL+"/silences/"+sils[0].ID+"/expire", "", nil)
	require.NoError(t, err)
	resp.Body.Close()
	sils, _ = e.Silences(context.Background())
	require.Equal(t, "expired", sils[0].State)
	// Alertmanager's matcher syntax: a regex stays a regex (it used to
	// become an equality on the literal "~.*").
	resp, err = http.PostForm(srv.URL+"/silences", url.Values{"matchers": {"alertname=~\"Gateway.*\"\ngateway!=\"other\""}, "duration": {"1h"}, "created_by": {"ops"}, "comment": {"all gateway alerts"}})
	require.NoError(t, err)
	resp.Body.Close()
	sils, _ = e.Silences(context.Background())
	require.Len(t, sils, 2)
	var regexSil string
	for _, sl := range sils {
		if sl.State == "active" {
			regexSil = sl.Matchers
		}
	}
	require.Equal(t, `alertname=~"Gateway.*", gateway!="other"`, regexSil)
	require.NoError(t, e.ExpireSilence(context.Background(), func() string {
		for _, sl := range sils {
			if sl.State == "active" {
				return sl.ID
			}
		}
		return ""
	}()))
	resp, err = http.PostForm(srv.URL+"/silences", url.Values{"matchers": {"nonsense"}, "duration": {"1h"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 400, resp.StatusCode)

	// A page on another site cannot post the silence form (CSRF).
	for _, h := range []map[string]string{{"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}} {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/silences", strings.NewReader(form.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusForbidden, resp.StatusCode, "%v", h)
	}
	sils, _ = e.Silences(context.Background())
	require.Len(t, sils, 2, "no silence was added by the cross-site posts")

	// Operations endpoints.
	code, body = get(t, srv.URL+"/metrics")
	require.Equal(t, 200, code)
	require.Contains(t, body, "gatewatch_mattermost_notifications_sent_total 1")
	require.Contains(t, body, "prometheus_target_scrape_pools_total")
	code, _ = get(t, srv.URL+"/-/ready")
	require.Equal(t, 200, code)
	resp, err = http.Post(srv.URL+"/-/reload", "", nil)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 500, resp.StatusCode)
	require.Contains(t, string(b), "previous spec keeps running")

	code, graph := get(t, srv.URL+"/graph?g0.expr="+url.QueryEscape("up"))
	require.Equal(t, 200, code)
	require.Contains(t, graph, gw.Addr())

	// The alerts' short links expand the running spec's rule server-side.
	code, rule := get(t, srv.URL+"/graph?alert=GatewayMisdirectedRequest421&gateway=public-ingress")
	require.Equal(t, 200, code)
	require.Contains(t, rule, "The rule of <b>GatewayMisdirectedRequest421 at public-ingress</b>")
	require.Contains(t, rule, "envoy_server_uptime", "the 421 rule's expression is in the form")
	code, missing := get(t, srv.URL+"/graph?alert=Nope&gateway=public-ingress")
	require.Equal(t, 404, code)
	require.Contains(t, missing, "no enabled alert &#34;Nope&#34; at gateway &#34;public-ingress&#34;")

	// The webhook URL never appears in the UI or the API.
	_, status := get(t, srv.URL+"/api/gatewatch/status")
	_, page = get(t, srv.URL+"/")
	_, metrics := get(t, srv.URL+"/metrics")
	for _, out := range []string{page, status, metrics, graph} {
		require.NotContains(t, out, secretHook)
	}
	require.True(t, strings.Contains(status, `"notifications"`))
}

// fakeDemo is a web.Demo whose inbox is empty.
type fakeDemo struct{ inject func() }

func (d fakeDemo) Inject()               { d.inject() }
func (fakeDemo) Inbox() []web.InboxPost  { return nil }
func (fakeDemo) Click(_, _ string) error { return nil }

// TestGatewayWithoutTargets: outside a cluster with no kubeconfig, a gateway
// with a selector has no targets; the page and the JSON status say so and
// why, naming what to pass.
func TestGatewayWithoutTargets(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("KUBECONFIG", "")
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	inbox, err := inbox.Start("127.0.0.1:0")
	require.NoError(t, err)
	defer inbox.Close()
	s, err := spec.Parse([]byte(fmt.Sprintf(`gateways:
  - name: public-ingress
    namespace: istio-ingress
    selector: app=istio-ingressgateway
mattermost:
  webhook_url: %s
`, inbox.AddHook(secretHook, "gateway-alerts", true))), "t.yaml", rules.SpecKinds())
	require.NoError(t, err)
	e := startEngine(t, s)
	srv := httptest.NewServer(web.Handler(e, web.Options{}))
	defer srv.Close()

	require.Eventually(t, func() bool { return e.DiscoveryError() != "" }, 20*time.Second, 50*time.Millisecond, "the discovery error")
	_, page := get(t, srv.URL+"/")
	require.Contains(t, page, "0 target(s)")
	require.Contains(t, page, "no targets, so every alert of this gateway is blind: pod discovery cannot start")
	require.Contains(t, page, "pass --kubeconfig")
	_, status := get(t, srv.URL+"/api/gatewatch/status")
	require.Contains(t, status, `"targets":0`)
	require.Contains(t, status, `"no_targets":"pod discovery cannot start`)
}

// TestStateChangesOnlyForOwnHost: a page whose own name was rebound to
// gatewatch's address (DNS rebinding) sends a matching Origin and Host; a
// state-changing request for a Host gatewatch is not reached by is refused.
func TestStateChangesOnlyForOwnHost(t *testing.T) {
	s, err := spec.Parse([]byte("gateways:\n  - name: gw\n    namespace: ns\n    static_targets: [\"127.0.0.1:1\"]\n"), "t.yaml", rules.SpecKinds())
	require.NoError(t, err)
	e, err := engine.New(s, engine.Options{})
	require.NoError(t, err)
	defer e.Close()
	ln, err := web.Listen("127.0.0.1:0")
	require.NoError(t, err)
	hosts := web.HostsFor(ln.Addr(), "https://gatewatch.example.com")
	srv := httptest.NewUnstartedServer(web.Handler(e, web.Options{Hosts: hosts}))
	srv.Listener = ln
	srv.Start()
	defer srv.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	post := func(host string) (int, string) {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/silences", strings.NewReader("matchers=nonsense&duration=1h"))
		require.NoError(t, err)
		req.Host = host
		req.Header.Set("Origin", "http://"+host)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := post(fmt.Sprintf("rebound.example:%d", port))
	require.Equal(t, http.StatusForbidden, code)
	require.Contains(t, body, `request for host "rebound.example:`)
	for _, ok := range []string{ln.Addr().String(), fmt.Sprintf("localhost:%d", port), "gatewatch.example.com"} {
		code, body := post(ok)
		require.Equal(t, http.StatusBadRequest, code, "%s reaches the form's own check: %s", ok, body)
	}
	require.Nil(t, web.HostsFor(&net.TCPAddr{IP: net.IPv4zero, Port: 9421}, ""), "a wildcard listener is reached by names it cannot know")
}

// TestPendingNotificationsShown: while Mattermost is unreachable, the page,
// the JSON status and /metrics show the held group and its error.
func TestPendingNotificationsShown(t *testing.T) {
	gw := demo.NewGateway("istio-ingress", "istio-ingressgateway", "pod-0", nil, nil)
	require.NoError(t, gw.Start("127.0.0.1:0"))
	defer gw.Close()
	s, err := spec.Parse([]byte(fmt.Sprintf(`gateways:
  - name: public-ingress
    namespace: istio-ingress
    workload: istio-ingressgateway
    static_targets: ["%s"]
    stats: {interval: 1s, timeout: 900ms}
mattermost:
  webhook_url: http://127.0.0.1:1/hooks/%s
routing: {group_wait: 0s, group_interval: 2s}
`, gw.Addr(), secretHook)), "t.yaml", rules.SpecKinds())
	require.NoError(t, err)
	e := startEngine(t, s)
	srv := httptest.NewServer(web.Handler(e, web.Options{}))
	defer srv.Close()

	gw.Misdirect(1)
	require.Eventually(t, func() bool { return len(e.Pending()) == 1 }, 30*time.Second, 50*time.Millisecond, "the failed delivery held")
	_, page := get(t, srv.URL+"/")
	require.Contains(t, page, "Pending notifications")
	require.Contains(t, page, "<td>firing</td>")
	require.Contains(t, page, "connection refused")
	_, status := get(t, srv.URL+"/api/gatewatch/status")
	require.Contains(t, status, `"pending_notifications":[{"receiver":"mattermost"`)
	_, metrics := get(t, srv.URL+"/metrics")
	require.Contains(t, metrics, "gatewatch_notifications_pending 1\n")
	require.NotContains(t, page+status+metrics, secretHook)
}

// TestQueryAPIBounds: the query that used to take memory from 77 MB to
// 5.7 GB is refused within the sample limit with little allocated; a
// cross-site POST to the query API is refused like the silence form
// (issue 12 item 5).
func TestQueryAPIBounds(t *testing.T) {
	s, err := spec.Parse([]byte(`gateways:
  - name: public-ingress
    namespace: istio-ingress
    workload: istio-ingressgateway
    static_targets: ["127.0.0.1:1"]
mattermost:
  webhook_url: http://127.0.0.1:1/hooks/x
`), "t.yaml", rules.SpecKinds())
	require.NoError(t, err)
	e := startEngine(t, s)
	srv := httptest.NewServer(web.Handler(e, web.Options{}))
	defer srv.Close()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	resp, err := http.PostForm(srv.URL+"/api/v1/query", url.Values{"query": {"count_over_time(vector(1)[2y:1s])"}})
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	runtime.ReadMemStats(&after)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, string(body))
	require.Contains(t, string(body), "query processing would load too many samples into memory")
	// Everything allocated meanwhile, by any goroutine: an upper bound of
	// the growth the query caused.
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(100<<20), "allocated while refusing the query")

	req, err := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/query", strings.NewReader("query=up"))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://attacker.example")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "cross-site query refused")
}

package engine_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/demo"
	"github.com/gatewatch/gatewatch/internal/engine"
	"github.com/gatewatch/gatewatch/internal/kube"
	"github.com/gatewatch/gatewatch/internal/mattermost/inbox"
	"github.com/gatewatch/gatewatch/internal/render"
	"github.com/gatewatch/gatewatch/internal/syncbuf"
)

// TestBadTargets: targets that refuse connections, time out, serve HTML, a
// truncated page or a page over the size limit are down with the reason,
// and the engine keeps scraping and alerting on the healthy one.
func TestBadTargets(t *testing.T) {
	inbox, err := inbox.Start("127.0.0.1:0")
	require.NoError(t, err)
	defer inbox.Close()
	hook := inbox.AddHook("h", "gateway-alerts", true)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refused := ln.Addr().String()
	require.NoError(t, ln.Close())

	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html><body><h1>502 Bad Gateway</h1></body></html>")
	}))
	defer html.Close()
	truncated := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, "# TYPE istio_requests_total counter\nistio_requests_total{reporter=\"source\",response_code=\"200\"")
	}))
	defer truncated.Close()
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		line := []byte("# HELP envoy_padding a long comment line to make the page large\n")
		for i := 0; i < (4<<20)/len(line); i++ {
			if _, err := w.Write(line); err != nil {
				return
			}
		}
	}))
	defer huge.Close()

	longLabel := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "istio_requests_total{response_code=\"421\",destination_service=\"%s\"} 1\n", strings.Repeat("a", render.LabelValueLengthLimit+1))
	}))
	defer longLabel.Close()
	binary := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte{0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x01})
	}))
	defer binary.Close()

	good := demo.NewGateway("istio-ingress", "istio-ingressgateway", "good", nil, nil)
	require.NoError(t, good.Start("127.0.0.1:0"))
	defer good.Close()

	hostOf := func(u string) string { return strings.TrimPrefix(u, "http://") }
	s := testSpec(t, hook, good.Addr(), refused, hostOf(slow.URL), hostOf(html.URL), hostOf(truncated.URL), hostOf(huge.URL),
		hostOf(binary.URL), hostOf(longLabel.URL))
	var logs syncbuf.Buffer
	e, err := engine.New(s, engine.Options{DataDir: t.TempDir(), BodySizeLimit: 1 << 20, Logger: testLogger(&logs)})
	require.NoError(t, err)
	require.NoError(t, e.Start(context.Background()))
	defer e.Close()

	require.Eventually(t, func() bool {
		ts := e.Targets()
		if len(ts) != 8 {
			return false
		}
		for _, tg := range ts {
			if tg.Health == "unknown" {
				return false
			}
		}
		return true
	}, 20*time.Second, 50*time.Millisecond, "every target scraped once")
	errs := map[string]string{}
	for _, tg := range e.Targets() {
		errs[hostOf(tg.URL)[:strings.Index(hostOf(tg.URL), "/")]] = tg.Health + ": " + tg.Error
	}
	require.Equal(t, "up: ", errs[good.Addr()])
	require.Contains(t, errs[refused], "connection refused")
	require.Contains(t, errs[hostOf(slow.URL)], "context deadline exceeded")
	require.Contains(t, errs[hostOf(html.URL)], "down: ")
	require.Contains(t, errs[hostOf(truncated.URL)], "down: ")
	require.Contains(t, errs[hostOf(huge.URL)], "down: server returned HTTP status 502 stats page refused: page larger than 1 MiB")
	require.Contains(t, errs[hostOf(binary.URL)], "down: server returned HTTP status 502 stats page refused: line 1: binary content at byte 0")
	require.Contains(t, errs[hostOf(html.URL)], `Content-Type "text/html" is not the text exposition format`)
	require.Contains(t, errs[hostOf(longLabel.URL)], "down: label_value_length_limit exceeded (metric: istio_requests_total, label name: destination_service", "render's label limits apply")

	good.Misdirect(1)
	require.Eventually(t, func() bool { return len(inbox.Posts()) == 1 }, 20*time.Second, 50*time.Millisecond, "the alert from the healthy gateway")
}

// TestLabelOf17MiB: one label value of 17 MiB used to end the process from
// Prometheus's label encoding ("String too long to encode as label"), even
// in a family the rules never read (issue 12 item 1). At the default limits
// such a line in a dropped family is skipped and the rest of the page is
// scraped; in a kept family it refuses the page with the line number.
func TestLabelOf17MiB(t *testing.T) {
	page := func(family string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			fmt.Fprintf(w, "envoy_server_uptime 5\n%s{cluster_name=\"", family)
			chunk := []byte(strings.Repeat("A", 1<<20))
			for range 17 {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
			fmt.Fprint(w, "\"} 1\nenvoy_server_uptime 5\n")
		}
	}
	dropped := httptest.NewServer(page("envoy_cluster_upstream_cx_total"))
	defer dropped.Close()
	kept := httptest.NewServer(page("istio_requests_total"))
	defer kept.Close()

	s := testSpec(t, "http://127.0.0.1:1/hooks/unused", strings.TrimPrefix(dropped.URL, "http://"), strings.TrimPrefix(kept.URL, "http://"))
	e, err := engine.New(s, engine.Options{DataDir: t.TempDir(), Logger: testLogger(&syncbuf.Buffer{})})
	require.NoError(t, err)
	require.NoError(t, e.Start(context.Background()))
	defer e.Close()

	health := map[string]string{}
	require.Eventually(t, func() bool {
		for _, tg := range e.Targets() {
			if tg.Health != "unknown" {
				health[strings.Split(strings.TrimPrefix(tg.URL, "http://"), "/")[0]] = tg.Health + ": " + tg.Error
			}
		}
		return len(health) == 2
	}, 30*time.Second, 50*time.Millisecond, "both targets scraped once")
	require.Equal(t, "up: ", health[strings.TrimPrefix(dropped.URL, "http://")])
	require.Equal(t, "down: server returned HTTP status 502 stats page refused: line 2: a istio_requests_total line longer than 64 KiB (a hostile or broken stats page)",
		health[strings.TrimPrefix(kept.URL, "http://")])
}

// TestKubernetesAPIUnreachable: with an unreachable API server, static
// targets are still scraped and the discovery error is logged.
func TestKubernetesAPIUnreachable(t *testing.T) {
	inbox, err := inbox.Start("127.0.0.1:0")
	require.NoError(t, err)
	defer inbox.Close()
	hook := inbox.AddHook("h", "gateway-alerts", true)
	good := demo.NewGateway("istio-ingress", "istio-ingressgateway", "good", nil, nil)
	require.NoError(t, good.Start("127.0.0.1:0"))
	defer good.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	apiAddr := ln.Addr().String()
	require.NoError(t, ln.Close())
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "http://%s"}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
users: [{name: u, user: {}}]
current-context: c
`, apiAddr)), 0o600))

	s := testSpec(t, hook, good.Addr())
	s.Gateways[0].Selector = "app=istio-ingressgateway"
	var logs syncbuf.Buffer
	e, err := engine.New(s, engine.Options{DataDir: t.TempDir(), Kube: kube.Options{Kubeconfig: kubeconfig}, Logger: testLogger(&logs)})
	require.NoError(t, err)
	require.NoError(t, e.Start(context.Background()))
	defer e.Close()
	require.Eventually(t, targetUp(e, good.Addr()), 20*time.Second, 50*time.Millisecond, "the static target up")
	require.Eventually(t, func() bool { return strings.Contains(e.DiscoveryError(), "connection refused") }, 20*time.Second, 50*time.Millisecond, "a discovery error")
	require.Contains(t, e.DiscoveryError(), "kubernetes API unreachable")
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "kubernetes API unreachable") }, 5*time.Second, 50*time.Millisecond, "the logged discovery error")
}

// TestNoKubernetesConfiguration: outside a cluster with no kubeconfig
// anywhere, run keeps scraping static targets and says why the gateways
// with a selector have no targets, and what to pass (not client-go's
// KUBERNETES_SERVICE_HOST message).
func TestNoKubernetesConfiguration(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("KUBECONFIG", "")
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	inbox, err := inbox.Start("127.0.0.1:0")
	require.NoError(t, err)
	defer inbox.Close()
	good := demo.NewGateway("istio-ingress", "istio-ingressgateway", "good", nil, nil)
	require.NoError(t, good.Start("127.0.0.1:0"))
	defer good.Close()
	s := testSpec(t, inbox.AddHook("h", "gateway-alerts", true), good.Addr())
	s.Gateways[0].Selector = "app=istio-ingressgateway"
	var logs syncbuf.Buffer
	e, err := engine.New(s, engine.Options{DataDir: t.TempDir(), Logger: testLogger(&logs)})
	require.NoError(t, err, "the engine runs without a cluster")
	require.NoError(t, e.Start(context.Background()))
	defer e.Close()
	require.Eventually(t, func() bool { return e.DiscoveryError() != "" }, 20*time.Second, 50*time.Millisecond, "the discovery error")
	require.Contains(t, e.DiscoveryError(), "pod discovery cannot start")
	require.Contains(t, e.DiscoveryError(), "pass --kubeconfig (or set KUBECONFIG)")
	require.NotContains(t, e.DiscoveryError(), "KUBERNETES_SERVICE_HOST")
	require.Eventually(t, targetUp(e, good.Addr()), 20*time.Second, 50*time.Millisecond, "the static target up")
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "pod discovery cannot start") }, 5*time.Second, 50*time.Millisecond, "the logged reason")
	require.Contains(t, logs.String(), `kubernetes="none: `, "the start line says which configuration kubectl's rules chose")
}

// targetUp reports whether the engine scrapes the target at addr
// successfully.
func targetUp(e *engine.Engine, addr string) func() bool {
	return func() bool {
		for _, tg := range e.Targets() {
			if strings.Contains(tg.URL, addr) && tg.Health == "up" {
				return true
			}
		}
		return false
	}
}

// TestMattermostOutageLongerThanTheWindow: a 421 that fires and resolves
// while Mattermost is unreachable is held, then delivered once Mattermost
// is back as one message saying so (issue 12 item 3); Alertmanager alone
// never sends it (a group with no logged firing notification is not
// announced as resolved).
func TestMattermostOutageLongerThanTheWindow(t *testing.T) {
	mm, err := inbox.Start("127.0.0.1:0")
	require.NoError(t, err)
	hook := mm.AddHook("outagehook", "gateway-alerts", false)
	u, err := url.Parse(hook)
	require.NoError(t, err)
	require.NoError(t, mm.Close()) // Mattermost is down

	gw := demo.NewGateway("istio-ingress", "istio-ingressgateway", "p", nil, nil)
	require.NoError(t, gw.Start("127.0.0.1:0"))
	defer gw.Close()
	var logs syncbuf.Buffer
	e, err := engine.New(testSpec(t, hook, gw.Addr()), engine.Options{DataDir: t.TempDir(), PendingRetryInterval: 200 * time.Millisecond, Logger: testLogger(&logs)})
	require.NoError(t, err)
	require.NoError(t, e.Start(context.Background()))
	defer e.Close()

	gw.Misdirect(1)
	require.Eventually(t, func() bool { return len(e.Pending()) == 1 }, 30*time.Second, 50*time.Millisecond, "the failed delivery is held:\n%s", &logs)
	// The 10s window passes: the alert resolves with nothing delivered.
	require.Eventually(t, func() bool {
		p := e.Pending()
		return len(p) == 1 && p[0].Resolved(time.Now())
	}, 60*time.Second, 100*time.Millisecond, "the held alert resolved:\n%s", &logs)
	require.Eventually(t, func() bool { return gathered(t, e, "alertmanager_dispatcher_aggregation_groups") == 0 }, 30*time.Second, 100*time.Millisecond,
		"Alertmanager dropped the resolved group, with nothing sent")

	mm, err = inbox.Start(u.Host) // Mattermost is back
	require.NoError(t, err)
	defer mm.Close()
	mm.AddHook("outagehook", "gateway-alerts", false)
	require.Eventually(t, func() bool { return len(mm.Posts()) == 1 }, 30*time.Second, 50*time.Millisecond, "the late message:\n%s", &logs)
	post := mm.Posts()[0]
	require.Contains(t, post.Attachments[0].Title, "[RESOLVED] GatewayMisdirectedRequest421")
	require.Contains(t, post.Attachments[0].Text, "while Mattermost was unreachable; delivered late at")
	require.Eventually(t, func() bool { return len(e.Pending()) == 0 }, 10*time.Second, 50*time.Millisecond)
	require.Equal(t, 1.0, gathered(t, e, "gatewatch_notifications_late_total"))
	require.Len(t, mm.Posts(), 1)
}

// gathered returns the value of an unlabelled metric of the engine.
func gathered(t *testing.T, e *engine.Engine, name string) float64 {
	t.Helper()
	mfs, err := e.Registry().Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		if m.GetCounter() != nil {
			return m.GetCounter().GetValue()
		}
		return m.GetGauge().GetValue()
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

// TestEnvoyFilterAtTheSource: with stats.envoy_filter the engine asks the
// gateway for only the families the rules read; the pages it reads are a
// fraction of the whole page, and the first 421 still fires.
func TestEnvoyFilterAtTheSource(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	mm, err := inbox.Start("127.0.0.1:0")
	require.NoError(t, err)
	defer mm.Close()
	gw := demo.NewGateway("istio-ingress", "istio-ingressgateway", "p", nil, nil)
	require.NoError(t, gw.Start("127.0.0.1:0"))
	defer gw.Close()
	gw.Serve(200)
	s := testSpec(t, mm.AddHook("h", "alerts", false), gw.Addr())
	s.Gateways[0].Stats.EnvoyFilter = true
	var logs syncbuf.Buffer
	e := startEngine(t, s, t.TempDir(), &logs)
	defer e.Close()
	require.Eventually(t, targetUp(e, gw.Addr()), 15*time.Second, 50*time.Millisecond)
	time.Sleep(2 * time.Second)
	gw.Misdirect(1)
	require.Eventually(t, func() bool {
		for _, a := range e.ActiveAlerts() {
			if a.Name == "GatewayMisdirectedRequest421" && a.State == "firing" {
				return true
			}
		}
		return false
	}, 20*time.Second, 50*time.Millisecond, "the first 421 fires through the filtered page")

	resp, err := http.Get("http://" + gw.Addr() + "/stats/prometheus")
	require.NoError(t, err)
	whole, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	pages, bytes := gathered(t, e, "gatewatch_stats_pages_total"), gathered(t, e, "gatewatch_stats_page_bytes_total")
	require.Greater(t, pages, 0.0)
	perPage := bytes / pages
	t.Logf("whole page %d bytes; filtered at the source: %.0f bytes a scrape", len(whole), perPage)
	require.Less(t, perPage, float64(len(whole))/2, "Envoy's filter shrinks the page")
}

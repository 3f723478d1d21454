package engine_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
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

	good := demo.NewGateway("istio-ingress", "istio-ingressgateway", "good", nil, nil)
	require.NoError(t, good.Start("127.0.0.1:0"))
	defer good.Close()

	hostOf := func(u string) string { return strings.TrimPrefix(u, "http://") }
	s := testSpec(t, hook, good.Addr(), refused, hostOf(slow.URL), hostOf(html.URL), hostOf(truncated.URL), hostOf(huge.URL))
	var logs syncbuf.Buffer
	e, err := engine.New(s, engine.Options{DataDir: t.TempDir(), BodySizeLimit: 1 << 20, Logger: testLogger(&logs)})
	require.NoError(t, err)
	require.NoError(t, e.Start(context.Background()))
	defer e.Close()

	require.Eventually(t, func() bool {
		ts := e.Targets()
		if len(ts) != 6 {
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
	require.Contains(t, errs[hostOf(huge.URL)], "body size limit")

	good.Misdirect(1)
	require.Eventually(t, func() bool { return len(inbox.Posts()) == 1 }, 20*time.Second, 50*time.Millisecond, "the alert from the healthy gateway")
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

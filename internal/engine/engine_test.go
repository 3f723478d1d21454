package engine_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/demo"
	"github.com/gatewatch/gatewatch/internal/engine"
	"github.com/gatewatch/gatewatch/internal/mattermost/inbox"
	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
	"github.com/gatewatch/gatewatch/internal/syncbuf"
)

func testSpec(t *testing.T, hookURL string, targets ...string) *spec.Spec {
	t.Helper()
	y := fmt.Sprintf(`gateways:
  - name: public-ingress
    namespace: istio-ingress
    workload: istio-ingressgateway
    static_targets: [%s]
    stats: {interval: 1s, timeout: 900ms}
alerts:
  - kind: misdirected-request
    window: 10s
mattermost:
  webhook_url: %s
routing:
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
`, strings.Join(targets, ", "), hookURL)
	s, err := spec.Parse([]byte(y), "test.yaml", rules.SpecKinds())
	require.NoError(t, err)
	return s
}

func testLogger(logs *syncbuf.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func startEngine(t *testing.T, s *spec.Spec, dataDir string, logs *syncbuf.Buffer) *engine.Engine {
	t.Helper()
	e, err := engine.New(s, engine.Options{DataDir: dataDir, Logger: testLogger(logs)})
	require.NoError(t, err)
	require.NoError(t, e.Start(context.Background()))
	return e
}

// TestEndToEnd: a simulated gateway serves its first-ever 421; exactly one
// firing message reaches the strict inbox; after a quiet window, exactly one
// resolved message; an engine restart on the same data directory sends no
// duplicate.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: runs for about 40 s")
	}
	inbox, err := inbox.Start("127.0.0.1:0")
	require.NoError(t, err)
	defer inbox.Close()
	hook := inbox.AddHook("e2ehooksecret", "gateway-alerts", true)

	gw := demo.NewGateway("istio-ingress", "istio-ingressgateway", "istio-ingressgateway-0", nil, nil)
	require.NoError(t, gw.Start("127.0.0.1:0"))
	defer gw.Close()
	gw.Serve(50)

	dataDir := t.TempDir()
	var logs syncbuf.Buffer
	s := testSpec(t, hook, gw.Addr())
	e := startEngine(t, s, dataDir, &logs)

	require.Eventually(t, func() bool {
		ts := e.Targets()
		return len(ts) == 1 && ts[0].Health == "up"
	}, 15*time.Second, 50*time.Millisecond, "the target to be up")
	// Let the engine see the page without any 421 series first: a second
	// scrape after the one that found the target up.
	first := e.Targets()[0].LastScrape
	require.Eventually(t, func() bool {
		ts := e.Targets()
		return len(ts) == 1 && ts[0].LastScrape.After(first)
	}, 10*time.Second, 50*time.Millisecond, "a second scrape")
	for _, a := range e.ActiveAlerts() {
		// stats-down may be pending from before the first scrape (no
		// target yet); its `for` keeps it from firing.
		require.Equal(t, "GatewayStatsDown", a.Name, "no alert but stats-down's start-up pending: %+v", a)
		require.NotEqual(t, "firing", a.State)
	}

	served := time.Now()
	gw.Misdirect(1)
	require.Eventually(t, func() bool { return len(inbox.Posts()) >= 1 }, 20*time.Second, 50*time.Millisecond, "the firing message")
	latency := time.Since(served)
	t.Logf("first 421 → Mattermost: %s", latency)
	posts := inbox.Posts()
	require.Len(t, posts, 1)
	require.Equal(t, "[FIRING:1] GatewayMisdirectedRequest421 — public-ingress (istio-ingress)", posts[0].Attachments[0].Title)
	require.Contains(t, posts[0].Attachments[0].Text, "1 misdirected request(s)")
	// The graph link is the status page's short form, not the encoded rule.
	require.True(t, strings.HasSuffix(posts[0].Attachments[0].TitleLink, "/graph?alert=GatewayMisdirectedRequest421&gateway=public-ingress"), posts[0].Attachments[0].TitleLink)
	require.Contains(t, posts[0].Attachments[0].Text, "[Graph](http://")
	require.Less(t, len(posts[0].Attachments[0].TitleLink), 120)

	// Restart on the same data directory while the alert still fires: the
	// notification log prevents a duplicate.
	e.Close()
	e = startEngine(t, s, dataDir, &logs)
	defer e.Close()
	require.Eventually(t, func() bool {
		for _, a := range e.ActiveAlerts() {
			if a.State == "firing" {
				return true
			}
		}
		return false
	}, 15*time.Second, 50*time.Millisecond, "the alert to fire again after the restart")
	time.Sleep(3 * time.Second) // group_wait (1s) + a flush: a duplicate would arrive here
	require.Len(t, inbox.Posts(), 1, "no duplicate after restart")

	// Quiet for the window: one resolved message.
	require.Eventually(t, func() bool { return len(inbox.Posts()) >= 2 }, 40*time.Second, 50*time.Millisecond, "the resolved message")
	posts = inbox.Posts()
	require.Len(t, posts, 2)
	require.Equal(t, "[RESOLVED] GatewayMisdirectedRequest421 — public-ingress (istio-ingress)", posts[1].Attachments[0].Title)
	require.Equal(t, "good", posts[1].Attachments[0].Color)
	require.NotContains(t, logs.String(), "e2ehooksecret")
	require.Empty(t, inbox.Rejected())
}

// TestTwoPodsLabelledSeparately: 421s on two gateway pods are two alerts,
// each with its own instance, in one grouped message.
func TestTwoPodsLabelledSeparately(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	inbox, err := inbox.Start("127.0.0.1:0")
	require.NoError(t, err)
	defer inbox.Close()
	hook := inbox.AddHook("h", "gateway-alerts", true)
	a := demo.NewGateway("istio-ingress", "istio-ingressgateway", "a", nil, nil)
	b := demo.NewGateway("istio-ingress", "istio-ingressgateway", "b", nil, nil)
	require.NoError(t, a.Start("127.0.0.1:0"))
	require.NoError(t, b.Start("127.0.0.1:0"))
	defer a.Close()
	defer b.Close()
	var logs syncbuf.Buffer
	e := startEngine(t, testSpec(t, hook, a.Addr(), b.Addr()), t.TempDir(), &logs)
	defer e.Close()
	require.Eventually(t, func() bool {
		up := 0
		for _, tg := range e.Targets() {
			if tg.Health == "up" {
				up++
			}
		}
		return up == 2
	}, 15*time.Second, 50*time.Millisecond, "both targets up")
	a.Misdirect(2)
	b.Misdirect(1)
	require.Eventually(t, func() bool {
		n := 0
		for _, al := range e.ActiveAlerts() {
			if al.State == "firing" {
				n++
			}
		}
		return n == 2
	}, 20*time.Second, 50*time.Millisecond, "two firing alerts")
	counts := map[string]string{}
	for _, al := range e.ActiveAlerts() {
		counts[al.Labels["instance"]] = al.Annotations["count"]
	}
	require.Equal(t, map[string]string{a.Addr(): "2", b.Addr(): "1"}, counts)
	// /metrics carries the head's series count (the TSDB's own metrics):
	// two pods' kept families, a handful of series, not the whole page.
	head := gathered(t, e, "prometheus_tsdb_head_series")
	require.Greater(t, head, 0.0)
	require.Less(t, head, 100.0)
	require.Eventually(t, func() bool {
		for _, p := range inbox.Posts() {
			if strings.Contains(p.Attachments[0].Title, "[FIRING:2]") {
				return true
			}
		}
		return false
	}, 20*time.Second, 50*time.Millisecond, "a message listing both")
}

// TestReloadChecksBeforeApplying: a spec that cannot be applied (no webhook,
// a window longer than the storage keeps) is rejected and the running spec
// stays; a valid one is applied.
func TestReloadChecksBeforeApplying(t *testing.T) {
	inbox, err := inbox.Start("127.0.0.1:0")
	require.NoError(t, err)
	defer inbox.Close()
	hook := inbox.AddHook("h", "alerts", false)
	gw := demo.NewGateway("istio-ingress", "istio-ingressgateway", "p", nil, nil)
	require.NoError(t, gw.Start("127.0.0.1:0"))
	defer gw.Close()
	var logs syncbuf.Buffer
	s := testSpec(t, hook, gw.Addr())
	e := startEngine(t, s, t.TempDir(), &logs)
	defer e.Close()

	noWebhook := testSpec(t, hook, gw.Addr())
	noWebhook.Mattermost.WebhookURL = ""
	require.ErrorContains(t, e.Reload(context.Background(), noWebhook), "webhook_url")
	longer := testSpec(t, hook, gw.Addr())
	longer.Alerts[0].Window = spec.Duration(time.Hour)
	require.ErrorContains(t, e.Reload(context.Background(), longer), "restart gatewatch")
	require.Same(t, s, e.Spec(), "the running spec stays")

	shorter := testSpec(t, hook, gw.Addr())
	shorter.Routing.GroupWait = spec.Duration(2 * time.Second)
	require.NoError(t, e.Reload(context.Background(), shorter))
	require.Same(t, shorter, e.Spec())
}

// TestQueryBeforeStart: the query API answers "not started" at once before
// Start and after Close, instead of waiting for a query slot that does not
// exist.
func TestQueryBeforeStart(t *testing.T) {
	e, err := engine.New(testSpec(t, "http://127.0.0.1:1/hooks/x", "127.0.0.1:1"), engine.Options{})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = e.Query(ctx, "up", time.Now())
	require.ErrorContains(t, err, "engine not started")
	_, err = e.QueryRange(ctx, "up", time.Now().Add(-time.Minute), time.Now(), time.Second)
	require.ErrorContains(t, err, "engine not started")
}

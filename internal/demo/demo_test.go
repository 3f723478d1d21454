package demo

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/explain/accesslog"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestGatewayStats: the page is valid Prometheus text with Istio's labels,
// and has no 421 series until the first misdirected request.
func TestGatewayStats(t *testing.T) {
	var accessLog bytes.Buffer
	g := NewGateway("istio-ingress", "istio-ingressgateway", "pod-0", nil, &accessLog)
	require.NoError(t, g.Start("127.0.0.1:0"))
	defer g.Close()
	g.Serve(100)
	scrape := func() map[string]float64 {
		resp, err := http.Get("http://" + g.Addr() + "/stats/prometheus")
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
		require.NoError(t, err)
		out := map[string]float64{}
		for _, m := range fams["istio_requests_total"].GetMetric() {
			lbls := map[string]string{}
			for _, l := range m.GetLabel() {
				lbls[l.GetName()] = l.GetValue()
			}
			require.Equal(t, "source", lbls["reporter"])
			require.Equal(t, "istio-ingressgateway", lbls["source_workload"])
			out[lbls["response_code"]] += m.GetCounter().GetValue()
		}
		require.Contains(t, fams, "envoy_server_uptime")
		require.Contains(t, fams, "istio_request_duration_milliseconds")
		return out
	}
	before := scrape()
	require.NotContains(t, before, "421", "no 421 series before the first 421")
	require.Equal(t, 100.0, before["200"]+before["404"])
	g.Misdirect(2)
	require.Equal(t, 2.0, scrape()["421"])
	require.Contains(t, accessLog.String(), `" 421 - lua_response - "-" `)
	// Every line is Istio's default format as explain reads it.
	rep, err := accesslog.Analyze(context.Background(), strings.NewReader(accessLog.String()), accesslog.ReaderOptions{}, accesslog.AnalyzerOptions{})
	require.NoError(t, err)
	require.Zero(t, rep.Input.Bad, "%+v", rep.Input.BadSamples)
	require.Equal(t, 2, rep.Misdirected)
	require.Equal(t, "shop.example.com", rep.Pairs[0].SNI)
	require.Equal(t, accesslog.ProducerEnvoyFilter, rep.Pairs[0].Producers[0].Producer)
	require.Contains(t, accessLog.String(), `"api.example.com"`)
	g.Restart()
	g.Serve(1)
	require.NotContains(t, scrape(), "421", "a restart resets the counters")
}

// TestDemoShowsFirstMessage runs the demo with short timings: the firing
// message is printed in the terminal.
func TestDemoShowsFirstMessage(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuf
	var url string
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Listen: "127.0.0.1:0", ScrapeInterval: time.Second, FirstAfter: 2 * time.Second, Window: 10 * time.Second,
			Ready: func(u string) { url = u; close(ready) }}, &out)
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("demo stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not start")
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "[FIRING:1] GatewayMisdirectedRequest421") {
		require.True(t, time.Now().Before(deadline), "no message printed:\n%s", out.String())
		time.Sleep(100 * time.Millisecond)
	}
	// The message carries explain's verdict (the strict inbox took it).
	require.Contains(t, out.String(), "**Why:** `shop.example.com` → `api.example.com` ×1 (Lua filter), 1 Safari/WebKit: HTTP/2 connection coalescing")
	resp, err := http.Get(url + "/")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Contains(t, string(body), "Demo inbox")
	require.Contains(t, string(body), "[FIRING:1] GatewayMisdirectedRequest421")
	cancel()
	require.NoError(t, <-done)
}

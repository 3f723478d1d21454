package explain

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/explain/gwconfig"
)

// ingressService puts the istio=ingressgateway pods behind one load
// balancer address.
const ingressService = `apiVersion: v1
kind: Service
metadata: {name: istio-ingressgateway, namespace: istio-ingress}
spec:
  type: LoadBalancer
  selector: {istio: ingressgateway}
  ports: [{name: https, port: 443, targetPort: 8443}]
status:
  loadBalancer: {ingress: [{ip: 203.0.113.10}]}
---
`

// manyGateways writes n Istio Gateways of the same gateway pods, each
// serving its own host with the one *.example.com certificate, and the Lua
// filter answering 421: the case whose server pairs grow with n².
func manyGateways(t testing.TB, n int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(ingressService + luaFilter)
	for i := range n {
		b.WriteString(istioGateway(fmt.Sprintf("team-%d", i), fmt.Sprintf("team-%d.example.com", i), "wildcard", "ingressgateway"))
	}
	_, dir := scenario{gateways: b.String(), secrets: map[string][]string{"wildcard": {"*.example.com"}}}.write(t)
	return dir
}

// loadedConfig is dir's configuration, read once.
func loadedConfig(t testing.TB, dir string) StaticConfig {
	t.Helper()
	c, err := gwconfig.LoadDir(dir)
	require.NoError(t, err)
	return StaticConfig{C: c, Name: dir}
}

// TestThousandGatewaysShareACertificate: 1,000 Gateways with one wildcard
// certificate are one coalescing finding of 1,000 servers, not 999,000
// pairs; the text report shows --top of them, the JSON report grows with
// the servers, and the whole run allocates a bounded amount.
func TestThousandGatewaysShareACertificate(t *testing.T) {
	const n = 1000
	cfg := loadedConfig(t, manyGateways(t, n))

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r, err := Run(context.Background(), Options{Config: cfg, Now: now})
	require.NoError(t, err)
	var text, js bytes.Buffer
	require.NoError(t, WriteText(&text, r))
	require.NoError(t, WriteJSON(&js, r))
	runtime.ReadMemStats(&after)

	require.Equal(t, n, r.Servers)
	require.Len(t, r.Coalescing, 1)
	g := r.Coalescing[0]
	require.Len(t, g.Servers, n)
	require.Equal(t, [3]int{n, n, n}, [3]int{g.Presenting, g.Covered, g.Gateways})
	require.True(t, g.Coalescing)
	require.True(t, g.SharedCertificate)
	require.Equal(t, "coalescing-possible", r.Verdict.Cause)
	require.Equal(t, []string{"merge-servers", "distinct-certificates", "separate-address", "alpn-http11"}, fixCodes(g.Verdict))
	require.Empty(t, r.Conflicts)

	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("text %d bytes, JSON %d bytes, %d MB allocated", text.Len(), js.Len(), allocated>>20)
	require.Less(t, allocated, uint64(200<<20), "allocated during the analysis and both reports")
	require.Less(t, text.Len(), 8<<10, "the text report shows --top servers")
	require.Contains(t, text.String(), "… and 990 more servers (raise --top, or -o json)")
	require.Less(t, js.Len(), n*1024, "the JSON report grows with the servers")
	require.True(t, json.Valid(js.Bytes()))
}

// TestReportGrowsLinearly: doubling the Gateways at most doubles the JSON
// report (plus a constant) and leaves the text report's size alone.
func TestReportGrowsLinearly(t *testing.T) {
	size := func(n int) (text, js int) {
		r, err := Run(context.Background(), Options{Config: loadedConfig(t, manyGateways(t, n)), Now: now})
		require.NoError(t, err)
		var tb, jb bytes.Buffer
		require.NoError(t, WriteText(&tb, r))
		require.NoError(t, WriteJSON(&jb, r))
		return tb.Len(), jb.Len()
	}
	t250, j250 := size(250)
	t500, j500 := size(500)
	require.Less(t, j500, 2*j250+4096, "JSON: %d bytes for 250 Gateways, %d for 500", j250, j500)
	require.Less(t, t500, t250+256, "text: %d bytes for 250 Gateways, %d for 500", t250, t500)
}

// cancellingConfig is a ConfigSource that cancels the run as it hands the
// configuration over: the analysis starts with ctx already done.
type cancellingConfig struct {
	StaticConfig
	cancel context.CancelFunc
}

func (c cancellingConfig) Config(ctx context.Context, warn func(string)) (*gwconfig.Config, error) {
	defer c.cancel()
	return c.StaticConfig.Config(ctx, warn)
}

// TestRunStopsWhenCancelled: cancelled during a large analysis (as SIGINT
// cancels the command's context), Run returns context.Canceled promptly
// instead of a report.
func TestRunStopsWhenCancelled(t *testing.T) {
	cfg := loadedConfig(t, manyGateways(t, 5000))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		r, err := Run(ctx, Options{Config: cancellingConfig{StaticConfig: cfg, cancel: cancel}, Now: now, Strict: true})
		if r != nil {
			err = errors.New("a report, though cancelled")
		}
		done <- err
	}()
	var err error
	require.Eventually(t, func() bool {
		select {
		case err = <-done:
			return true
		default:
			return false
		}
	}, time.Second, time.Millisecond, "Run did not return within a second of the cancel")
	require.ErrorIs(t, err, context.Canceled)
}

// TestAnalysisStepsStopWhenCancelled: each step of the configuration's
// analysis returns ctx's error.
func TestAnalysisStepsStopWhenCancelled(t *testing.T) {
	c := loadedConfig(t, manyGateways(t, 50)).C
	a := c.Analyze(now)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.AnalyzeContext(ctx, now)
	require.ErrorIs(t, err, context.Canceled)
	_, err = a.CoalescingGroups(ctx)
	require.ErrorIs(t, err, context.Canceled)
	_, err = a.ConflictingServers(ctx)
	require.ErrorIs(t, err, context.Canceled)
}

// BenchmarkThousandGateways: explain --config on 1,000 Gateways sharing a
// wildcard certificate, the analysis and both reports (the configuration
// read once, outside the timing).
func BenchmarkThousandGateways(b *testing.B) {
	cfg := loadedConfig(b, manyGateways(b, 1000))
	b.ReportAllocs()
	for b.Loop() {
		r, err := Run(context.Background(), Options{Config: cfg, Now: now})
		if err != nil || len(r.Coalescing) != 1 {
			b.Fatalf("wrong analysis: %v", err)
		}
		if err := WriteText(&bytes.Buffer{}, r); err != nil {
			b.Fatal(err)
		}
		if err := WriteJSON(&bytes.Buffer{}, r); err != nil {
			b.Fatal(err)
		}
	}
}

package explain

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gatewatch/gatewatch/internal/demo/fixtures"
	"github.com/gatewatch/gatewatch/internal/explain/gwconfig"
)

// BenchmarkExplainRun: the whole analysis of one gateway's access log of
// 50 000 requests (2% of them coalesced 421s) with the demo configuration —
// what an alert's enrichment does within explain.timeout. lines/s is the
// throughput; ns/op the time for the 50 000 lines.
func BenchmarkExplainRun(b *testing.B) {
	for _, format := range []string{"text", "json"} {
		b.Run(format, func(b *testing.B) {
			var sb strings.Builder
			const n = 50000
			for i := range n {
				at := now.Add(-10*time.Minute + time.Duration(i)*10*time.Millisecond)
				switch {
				case i%50 == 0 && format == "json":
					sb.WriteString(jsonLine(at, 421, "lua_response", safari, "api.example.com", "shop.example.com"))
				case i%50 == 0:
					sb.WriteString(textLine(at, 421, "lua_response", safari, "api.example.com", "shop.example.com", true))
				case format == "json":
					sb.WriteString(jsonLine(at, 200, "via_upstream", chrome, "shop.example.com", "shop.example.com"))
				default:
					sb.WriteString(textLine(at, 200, "via_upstream", chrome, "shop.example.com", "shop.example.com", true))
				}
			}
			log := sb.String()
			y, err := fixtures.DemoGatewayConfigYAML(now)
			if err != nil {
				b.Fatal(err)
			}
			cfg := StaticConfig{C: gwconfig.Load(gwconfig.Document{Name: "demo-gateway-config.yaml", Data: y}), Name: "demo"}
			b.SetBytes(int64(len(log)))
			b.ResetTimer()
			for b.Loop() {
				r, err := Run(context.Background(), Options{Logs: ReaderLogs{R: strings.NewReader(log), Name: "bench"}, Config: cfg, Now: now})
				if err != nil || r.Logs.Misdirected != n/50 || r.Verdict == nil || r.Verdict.Cause != "coalescing" {
					b.Fatalf("wrong analysis: %v %+v", err, r)
				}
			}
			b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "lines/s")
		})
	}
}

package demo

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/demo/fixtures"
	"github.com/gatewatch/gatewatch/internal/explain"
	"github.com/gatewatch/gatewatch/internal/explain/enrich"
)

// TestGatewayConfigExplainsTheDemo421: with the demo configuration, the
// demo's 421 (a Safari request for api coalesced onto shop's connection,
// answered by the Lua filter) gets the coalescing verdict and a short line.
func TestGatewayConfigExplainsTheDemo421(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC)
	c, err := GatewayConfig(now)
	require.NoError(t, err)
	mem := explain.NewMemoryLogs(1 << 20)
	_, _ = mem.Write([]byte(fixtures.AccessLog(now, 2, "lua_response", fixtures.Safari, "api.example.com", "shop.example.com", "text")))
	r, err := explain.Run(context.Background(), explain.Options{Logs: mem, Config: explain.StaticConfig{C: c, Name: "demo"}, Now: now})
	require.NoError(t, err)
	require.Empty(t, c.Analyze(now).Warnings)
	require.Equal(t, "coalescing", r.Verdict.Cause)
	e := enrich.Markdown(r, 3)
	require.Contains(t, e.Line, "**Why:** `shop.example.com` → `api.example.com` ×2 (Lua filter), 2 Safari/WebKit")
	require.Contains(t, e.Line, "**Fix:**")
	require.Contains(t, e.Card, "| `shop.example.com` | `api.example.com` | 2 | Lua filter | 2 | coalescing |")
	// The line is short: the gist of the verdict and of the first fix.
	require.Contains(t, e.Line, "HTTP/2 connection coalescing: shop.example.com's certificate wildcard-example-com also covers api.example.com on the same gateway pods")
	require.Less(t, len([]rune(e.Line)), 400)
}

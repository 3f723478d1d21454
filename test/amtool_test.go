package test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/cli"
	"github.com/gatewatch/gatewatch/internal/syncbuf"
)

// TestAmtoolAgainstDemo: the pinned amtool talks to a running `gatewatch
// demo` through Alertmanager's API v2: the demo's 421 alert is listed, a
// silence is added, listed and expired.
func TestAmtoolAgainstDemo(t *testing.T) {
	amtool := tool(t, "amtool")
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out syncbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, []string{"demo", "--listen", addr, "--scrape-interval", "1s", "--first-after", "1s", "--every", "0"}, &out, &out)
	}()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("demo did not stop")
		}
	}()
	url := "--alertmanager.url=http://" + addr
	require.Eventually(t, func() bool {
		o, code := run(t, amtool, url, "alert", "query", "-o", "simple")
		return code == 0 && strings.Contains(o, "GatewayMisdirectedRequest421")
	}, 90*time.Second, 500*time.Millisecond, "the demo's alert through amtool:\n%s", &out)

	o, code := run(t, amtool, url, "silence", "add", "alertname=GatewayMisdirectedRequest421", "--comment=amtool test", "--author=ops", "--duration=1h")
	require.Equal(t, 0, code, o)
	lines := strings.Split(strings.TrimSpace(o), "\n")
	id := strings.TrimSpace(lines[len(lines)-1])
	o, code = run(t, amtool, url, "silence", "query", "-q")
	require.Equal(t, 0, code, o)
	require.Contains(t, o, id)
	o, code = run(t, amtool, url, "silence", "expire", id)
	require.Equal(t, 0, code, o)
	o, code = run(t, amtool, url, "silence", "query", "-q")
	require.Equal(t, 0, code, o)
	require.NotContains(t, o, id, "expired")
}

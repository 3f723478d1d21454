package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/demo"
	"github.com/gatewatch/gatewatch/internal/mattermost/inbox"
	"github.com/gatewatch/gatewatch/internal/syncbuf"
)

// TestRunReload: `gatewatch run` serves its endpoints; POST /-/reload with an
// invalid spec is rejected and the running spec keeps going; a valid change
// is applied.
func TestRunReload(t *testing.T) {
	inbox, err := inbox.Start("127.0.0.1:0")
	require.NoError(t, err)
	defer inbox.Close()
	hook := inbox.AddHook("runhooksecret1", "alerts", false)
	gw := demo.NewGateway("istio-ingress", "istio-ingressgateway", "p", nil, nil)
	require.NoError(t, gw.Start("127.0.0.1:0"))
	defer gw.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	specFile := filepath.Join(t.TempDir(), "gatewatch.yaml")
	write := func(window string) {
		require.NoError(t, os.WriteFile(specFile, []byte(fmt.Sprintf(`gateways:
  - name: public-ingress
    namespace: istio-ingress
    workload: istio-ingressgateway
    static_targets: ["%s"]
    stats: {interval: 1s, timeout: 900ms}
alerts:
  - window: %s
mattermost:
  webhook_url: %s
`, gw.Addr(), window, hook)), 0o600))
	}
	write("10s")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"run", "-c", specFile, "--listen", addr, "--data-dir", t.TempDir()}, &out, &out)
	}()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if code, _ := get("/-/ready"); code == 200 {
			break
		}
		require.True(t, time.Now().Before(deadline), "run did not become ready:\n%s", out.String())
		time.Sleep(50 * time.Millisecond)
	}
	reload := func() (int, string) {
		resp, err := http.Post("http://"+addr+"/-/reload", "", nil)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	write("0s") // invalid
	code, body := reload()
	require.Equal(t, 500, code)
	require.Contains(t, body, "window must be positive")
	code, _ = get("/-/ready")
	require.Equal(t, 200, code, "still running after a rejected reload")

	write("20s")
	code, body = reload()
	require.Equal(t, 200, code, body)
	_, rules := get("/api/v1/query?query=" + "up")
	require.Contains(t, rules, `"status":"success"`)
	_, metrics := get("/metrics")
	require.True(t, strings.Contains(metrics, `gatewatch_config_reloads_total{result="success"} 1`), "success counted")
	require.True(t, strings.Contains(metrics, `gatewatch_config_reloads_total{result="failure"} 1`), "failure counted")

	cancel()
	require.Equal(t, 0, <-done)
	require.Contains(t, out.String(), "reload rejected")
	require.False(t, strings.Contains(out.String(), "runhooksecret1"), "the webhook URL never appears in the logs")
}

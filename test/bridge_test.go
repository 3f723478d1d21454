package test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/cli"
	"github.com/gatewatch/gatewatch/internal/demo"
	"github.com/gatewatch/gatewatch/internal/mattermost/inbox"
	"github.com/gatewatch/gatewatch/internal/syncbuf"
)

// TestBridgeBehindRealAlertmanager: a real Alertmanager with a webhook
// receiver pointing at `gatewatch bridge`; an alert posted to Alertmanager
// reaches the strict Mattermost server as gatewatch's message with explain's
// verdict, after Mattermost failed twice (503s Alertmanager retried).
func TestBridgeBehindRealAlertmanager(t *testing.T) {
	amBin := tool(t, "alertmanager")
	dir := t.TempDir()
	inbox, err := inbox.Start("127.0.0.1:0")
	require.NoError(t, err)
	defer inbox.Close()
	urlFile := filepath.Join(dir, "webhook-url")
	require.NoError(t, os.WriteFile(urlFile, []byte(inbox.AddHook("bridgehook", "gateway-alerts", false)), 0o600))

	// A fresh access log from the simulated gateway, and the worked
	// example's Gateways and certificate.
	logFile, err := os.Create(filepath.Join(dir, "access.log"))
	require.NoError(t, err)
	gw := demo.NewGateway("istio-ingress", "istio-ingressgateway", "gw-bridge", nil, logFile)
	gw.Serve(5)
	gw.Misdirect(3)
	require.NoError(t, logFile.Close())
	configDir, err := filepath.Abs("../examples/explain/config")
	require.NoError(t, err)

	raw, err := os.ReadFile("../examples/gatewatch.yaml")
	require.NoError(t, err)
	specText := strings.Replace(string(raw), "webhook_url_file: mattermost-webhook-url", "webhook_url_file: "+urlFile, 1) +
		fmt.Sprintf("\nexplain:\n  access_logs: %s\n  config: %s\n", logFile.Name(), configDir)
	specFile := filepath.Join(dir, "gatewatch.yaml")
	require.NoError(t, os.WriteFile(specFile, []byte(specText), 0o644))

	bridgeAddr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, []string{"bridge", "-c", specFile, "--listen", bridgeAddr}, &out, &errOut)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			require.Equal(t, 0, code, errOut.String())
		case <-time.After(15 * time.Second):
			t.Error("bridge did not stop")
		}
	})
	require.Eventually(t, func() bool { return httpOK("http://" + bridgeAddr + "/-/ready") }, 20*time.Second, 50*time.Millisecond, "bridge ready")

	amAddr := freeAddr(t)
	amConf := fmt.Sprintf(`route:
  receiver: bridge
  group_by: [alertname, namespace, gateway]
  group_wait: 1s
  group_interval: 2s
receivers:
- name: bridge
  webhook_configs:
  - url: http://%s/alerts
    send_resolved: true
`, bridgeAddr)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "alertmanager.yml"), []byte(amConf), 0o644))
	startProc(t, amBin, "--config.file="+filepath.Join(dir, "alertmanager.yml"), "--storage.path="+filepath.Join(dir, "am"),
		"--web.listen-address="+amAddr, "--cluster.listen-address=")
	amURL := "http://" + amAddr
	require.Eventually(t, func() bool { return httpOK(amURL + "/-/ready") }, 30*time.Second, 50*time.Millisecond, "Alertmanager ready")

	inbox.FailNext(2, http.StatusServiceUnavailable)
	alert := `[{"labels": {"alertname": "GatewayMisdirectedRequest421", "gateway": "public-ingress", "namespace": "istio-ingress", "severity": "warning", "pod": "gw-bridge"},
	  "annotations": {"summary": "Gateway public-ingress returned HTTP 421 Misdirected Request", "window": "5m", "count": "3"}}]`
	resp, err := http.Post(amURL+"/api/v2/alerts", "application/json", bytes.NewBufferString(alert))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	require.Eventually(t, func() bool { return len(inbox.Posts()) > 0 }, 60*time.Second, 50*time.Millisecond, "the message in Mattermost")
	posts := inbox.Posts()
	require.Len(t, posts, 1, "delivered once")
	require.GreaterOrEqual(t, inbox.Requests(), 3, "Alertmanager retried the two 503s")
	a := posts[0].Attachments[0]
	require.Equal(t, "[FIRING:1] GatewayMisdirectedRequest421 — public-ingress (istio-ingress)", a.Title)
	require.Contains(t, a.Text, "**Why:** `shop.example.com` → `api.example.com` ×3 (Lua filter), 3 Safari/WebKit: HTTP/2 connection coalescing")
	require.Equal(t, "Sent by gatewatch bridge", a.Footer)
	require.Contains(t, posts[0].Props["card"], "#### Why: gatewatch explain")
	require.NotContains(t, out.String()+errOut.String(), "bridgehook", "the webhook URL stays out of the logs")
}

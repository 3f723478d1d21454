package cli

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/mattermost/inbox"
	"github.com/gatewatch/gatewatch/internal/syncbuf"
)

const testHook = "hq7zmd9secrethook3k"

func notifySpec(t *testing.T, webhook string) string {
	t.Helper()
	b, err := os.ReadFile("../../examples/gatewatch.yaml")
	require.NoError(t, err)
	s := strings.Replace(string(b), "webhook_url_file: mattermost-webhook-url", "webhook_url: "+webhook, 1)
	s = strings.Replace(s, `mention_critical: "@here"`, `mention_critical: "@oncall"`, 1)
	p := filepath.Join(t.TempDir(), "gatewatch.yaml")
	require.NoError(t, os.WriteFile(p, []byte(s), 0o600))
	return p
}

func runMain(args ...string) (int, string) {
	var out bytes.Buffer
	code := Main(context.Background(), args, &out, &out)
	return code, out.String()
}

func TestNotifyTestDelivers(t *testing.T) {
	srv, err := inbox.Start("127.0.0.1:0")
	require.NoError(t, err)
	defer srv.Close()
	url := srv.AddHook(testHook, "town-square", false)
	path := notifySpec(t, url)

	code, out := runMain("notify", "test", "-c", path)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "delivered: Mattermost answered 200 ok after 1 attempt(s)")
	code, out = runMain("notify", "test", "-c", path, "--severity", "critical")
	require.Equal(t, 0, code, out)
	code, out = runMain("notify", "test", "-c", path, "--resolved")
	require.Equal(t, 0, code, out)

	posts := srv.Posts()
	require.Len(t, posts, 3)
	require.Equal(t, "[FIRING:1] GatewayMisdirectedRequest421 — public-ingress (istio-ingress)", posts[0].Attachments[0].Title)
	require.Equal(t, "warning", posts[0].Attachments[0].Color)
	require.Equal(t, "alertmanager", posts[0].Username)
	require.Equal(t, "@oncall", posts[1].Message)
	require.Equal(t, "important", posts[1].Priority.Priority)
	require.Equal(t, "danger", posts[1].Attachments[0].Color)
	require.Equal(t, "[RESOLVED] GatewayMisdirectedRequest421 — public-ingress (istio-ingress)", posts[2].Attachments[0].Title)
	require.Equal(t, "good", posts[2].Attachments[0].Color)
	require.Contains(t, posts[0].Props["card"], "| pod | istio-ingressgateway-7d9f8b6c4d-x2l9q |")
}

func TestNotifyTestFailures(t *testing.T) {
	srv, err := inbox.Start("127.0.0.1:0")
	require.NoError(t, err)
	defer srv.Close()
	srv.AddHook("other", "town-square", false)

	code, out := runMain("notify", "test", "-c", notifySpec(t, srv.URL+"/hooks/"+testHook))
	require.Equal(t, 1, code)
	require.Contains(t, out, "HTTP 400 (bad payload or unknown hook id): Invalid webhook.")
	require.Equal(t, 1, strings.Count(out, "Invalid webhook."), "the failure is said once: %s", out)
	require.NotContains(t, out, "level=ERROR")
	require.NotContains(t, out, testHook)

	srv.SetWebhooksEnabled(false)
	code, out = runMain("notify", "test", "-c", notifySpec(t, srv.URL+"/hooks/other"))
	require.Equal(t, 1, code)
	require.Contains(t, out, "HTTP 501 (incoming webhooks are disabled on this server)")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + ln.Addr().String() + "/hooks/" + testHook
	require.NoError(t, ln.Close())
	code, out = runMain("notify", "test", "-c", notifySpec(t, closed), "--timeout", "1s")
	require.Equal(t, 1, code)
	require.Contains(t, out, "connection refused")
	require.Contains(t, out, "not delivered: gave up after")
	require.Equal(t, 1, strings.Count(out, "not delivered"), out)
	require.NotContains(t, out, "level=ERROR", "the final failure is the command's error, not a log line too")
	require.Contains(t, out, "next: gatewatch doctor -c ")
	require.NotContains(t, out, testHook)

	code, out = runMain("notify", "test", "-c", "../../examples/gatewatch.yaml", "--severity", "loud")
	require.Equal(t, 2, code)
	require.Contains(t, out, `--severity "loud"`)
}

func TestInboxPrintsPosts(t *testing.T) {
	urlFile := filepath.Join(t.TempDir(), "hook.url")
	ctx, cancel := context.WithCancel(context.Background())
	var inboxOut syncbuf.Buffer
	done := make(chan int)
	go func() {
		done <- Main(ctx, []string{"inbox", "--listen", "127.0.0.1:0", "--write-url", urlFile}, &inboxOut, &inboxOut)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, err := os.ReadFile(urlFile); err == nil && len(b) > 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "inbox did not start")
		time.Sleep(20 * time.Millisecond)
	}
	b, err := os.ReadFile("../../examples/gatewatch.yaml")
	require.NoError(t, err)
	spec := filepath.Join(t.TempDir(), "g.yaml")
	require.NoError(t, os.WriteFile(spec, []byte(strings.Replace(string(b), "webhook_url_file: mattermost-webhook-url", "webhook_url_file: "+urlFile, 1)), 0o600))
	code, out := runMain("notify", "test", "-c", spec)
	require.Equal(t, 0, code, out)
	cancel()
	require.Equal(t, 0, <-done)
	require.Contains(t, inboxOut.String(), "| [FIRING:1] GatewayMisdirectedRequest421 — public-ingress (istio-ingress) [warning]")
	require.Contains(t, inboxOut.String(), "421s in window: 1")
}

// TestTestInterrupted: Ctrl-C (the context ends) stops `gatewatch test`
// with exit 130 and says so, not "0 passed, N failed".
func TestTestInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	code := Main(ctx, []string{"test", "-c", "../../examples/gatewatch.yaml"}, &out, &out)
	require.Equal(t, 130, code, out.String())
	require.Contains(t, out.String(), "interrupted")
	require.NotContains(t, out.String(), "failed")
}

// TestNotifyTestTimeoutBoundsAHangingServer: --timeout bounds the whole
// send, a request that never gets an answer included.
func TestNotifyTestTimeoutBoundsAHangingServer(t *testing.T) {
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)
	start := time.Now()
	code, out := runMain("notify", "test", "-c", notifySpec(t, hang.URL+"/hooks/"+testHook), "--timeout", "1s")
	require.Equal(t, 1, code, out)
	require.Less(t, time.Since(start), 8*time.Second, "bounded by --timeout (a hanging request used to take the client's 10 s): %s", out)
	require.Contains(t, out, "not delivered")
	require.NotContains(t, out, testHook)
}

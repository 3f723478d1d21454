package cli

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/demo"
	"github.com/gatewatch/gatewatch/internal/mattermost/inbox"
	"github.com/gatewatch/gatewatch/internal/syncbuf"
)

// child is `gatewatch run` in its own process (the test binary, dispatched
// by TestMain's testscript.Main on its name), so the test can SIGKILL it.
type child struct {
	cmd  *exec.Cmd
	addr string
	out  syncbuf.Buffer
}

func startChild(t *testing.T, args ...string) *child {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	bin := filepath.Join(t.TempDir(), "gatewatch")
	require.NoError(t, os.Symlink(self, bin))
	c := &child{addr: freeLoopbackAddr(t)}
	c.cmd = exec.Command(bin, append(args, "--listen", c.addr)...)
	c.cmd.Stdout, c.cmd.Stderr = &c.out, &c.out
	require.NoError(t, c.cmd.Start())
	t.Cleanup(func() { c.kill() })
	require.Eventually(t, func() bool { code, _ := c.get("/-/ready"); return code == 200 }, 30*time.Second, 50*time.Millisecond,
		"gatewatch run did not become ready:\n%s", &c.out)
	return c
}

// kill is SIGKILL: no deferred function, no final snapshot.
func (c *child) kill() {
	if c.cmd.ProcessState == nil {
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
	}
}

func (c *child) get(path string) (int, string) {
	resp, err := http.Get("http://" + c.addr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metric returns the value of one series of the child's /metrics, or -1.
func (c *child) metric(series string) float64 {
	_, body := c.get("/metrics")
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return -1
	}
	return v
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// TestRunSurvivesSIGKILL: a notification logged and a silence created are
// on disk when they are done, so `run` killed with SIGKILL and restarted on
// the same data dir neither posts the firing alert again nor forgets the
// silence (issue 12 item 2; Alertmanager itself saves both every 15
// minutes).
func TestRunSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gatewatch run twice")
	}
	mm, err := inbox.Start("127.0.0.1:0")
	require.NoError(t, err)
	defer mm.Close()
	hook := mm.AddHook("killhooksecret1", "alerts", false)
	gw := demo.NewGateway("istio-ingress", "istio-ingressgateway", "p", nil, nil)
	require.NoError(t, gw.Start("127.0.0.1:0"))
	defer gw.Close()

	specFile := filepath.Join(t.TempDir(), "gatewatch.yaml")
	require.NoError(t, os.WriteFile(specFile, []byte(fmt.Sprintf(`gateways:
  - name: public-ingress
    namespace: istio-ingress
    workload: istio-ingressgateway
    static_targets: ["%s"]
    stats: {interval: 1s, timeout: 900ms}
alerts:
  - window: 10m
routing:
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
mattermost:
  webhook_url: %s
`, gw.Addr(), hook)), 0o600))
	dataDir := t.TempDir()
	args := []string{"run", "-c", specFile, "--data-dir", dataDir}

	first := startChild(t, args...)
	gw.Misdirect(1)
	require.Eventually(t, func() bool { return len(mm.Posts()) == 1 }, 30*time.Second, 50*time.Millisecond, "the 421 posted:\n%s", &first.out)
	// The exact condition: the notification's log entry is saved.
	require.Eventually(t, func() bool { return first.metric(`gatewatch_state_saves_total{state="nflog"}`) >= 1 }, 10*time.Second, 20*time.Millisecond)

	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.PostForm("http://"+first.addr+"/silences", url.Values{
		"matchers": {`gateway="other-gateway"`}, "duration": {"2h"}, "created_by": {"ops"}, "comment": {"kept across SIGKILL"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "silence created")
	first.kill()

	second := startChild(t, args...)
	_, status := second.get("/api/gatewatch/status")
	require.Contains(t, status, "kept across SIGKILL", "the silence survived")
	// Two flushes of the alert's group went through the notification log's
	// dedup (one query each): the first would have posted the repeat.
	require.Eventually(t, func() bool { return second.metric("alertmanager_nflog_queries_total") >= 2 }, 30*time.Second, 50*time.Millisecond,
		"the restarted run evaluated the firing alert:\n%s", &second.out)
	require.Len(t, mm.Posts(), 1, "no second post after the restart")
	require.False(t, strings.Contains(first.out.String()+second.out.String(), "killhooksecret1"))
}

package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/demo"
	"github.com/gatewatch/gatewatch/internal/mattermost/inbox"
)

// sum adds the values of the child's series whose text starts with prefix.
func (c *child) sum(prefix string) float64 {
	_, body := c.get("/metrics")
	total := 0.0
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		if v, err := strconv.ParseFloat(line[strings.LastIndex(line, " ")+1:], 64); err == nil {
			total += v
		}
	}
	return total
}

// members is the number of cluster peers a replica's API v2 reports.
func (c *child) members() int {
	code, body := c.get("/api/v2/status")
	if code != 200 {
		return 0
	}
	var st struct {
		Cluster struct{ Peers []any } `json:"cluster"`
	}
	if json.Unmarshal([]byte(body), &st) != nil {
		return 0
	}
	return len(st.Cluster.Peers)
}

// TestClusterFailoverAfterSIGKILL: three `gatewatch run` processes on
// Alertmanager's gossip. The replica that sends first (position 0, "a")
// cannot reach Mattermost and is killed with SIGKILL; the next replica
// sends after the peer timeout (5 s here): the 421 is posted exactly once.
func TestClusterFailoverAfterSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three gatewatch run processes")
	}
	mm, err := inbox.Start("127.0.0.1:0")
	require.NoError(t, err)
	defer mm.Close()
	gw := demo.NewGateway("istio-ingress", "istio-ingressgateway", "p", nil, nil)
	require.NoError(t, gw.Start("127.0.0.1:0"))
	defer gw.Close()
	writeSpec := func(hook string) string {
		p := filepath.Join(t.TempDir(), "gatewatch.yaml")
		require.NoError(t, os.WriteFile(p, []byte(fmt.Sprintf(`gateways:
  - name: public-ingress
    namespace: istio-ingress
    workload: istio-ingressgateway
    static_targets: ["%s"]
    stats: {interval: 1s, timeout: 900ms}
alerts:
  - window: 10m
routing: {group_wait: 0s, group_interval: 1s, repeat_interval: 4h}
mattermost:
  webhook_url: %s
`, gw.Addr(), hook)), 0o600))
		return p
	}
	broken := writeSpec("http://127.0.0.1:1/hooks/unreachable")
	good := writeSpec(mm.AddHook("failoverhook", "alerts", false))
	gossip := map[string]string{"a": freeLoopbackAddr(t), "b": freeLoopbackAddr(t), "c": freeLoopbackAddr(t)}
	args := func(name, specFile string) []string {
		a := []string{"run", "-c", specFile, "--data-dir", t.TempDir(),
			"--cluster.listen-address=" + gossip[name], "--cluster.peer-name=" + name,
			"--cluster.peer-timeout=5s", "--cluster.gossip-interval=50ms", "--cluster.pushpull-interval=1s", "--cluster.settle-timeout=0s"}
		if name != "a" {
			a = append(a, "--cluster.peer="+gossip["a"])
		}
		return a
	}
	a := startChild(t, args("a", broken)...)
	b := startChild(t, args("b", good)...)
	c := startChild(t, args("c", good)...)
	require.Eventually(t, func() bool { return a.members() == 3 && b.members() == 3 && c.members() == 3 }, 20*time.Second, 50*time.Millisecond,
		"three members:\n%s", &a.out)

	gw.Misdirect(1)
	require.Eventually(t, func() bool { return a.sum("gatewatch_mattermost_requests_total{") >= 1 }, 30*time.Second, 20*time.Millisecond,
		"the first replica tried to send:\n%s", &a.out)
	require.Empty(t, mm.Posts(), "the others are still waiting their turn")
	a.kill()
	killed := time.Now()
	require.Eventually(t, func() bool { return len(mm.Posts()) == 1 }, 30*time.Second, 50*time.Millisecond, "another replica sent:\n%s\n%s", &b.out, &c.out)
	t.Logf("failover: posted %s after the SIGKILL", time.Since(killed).Round(10*time.Millisecond))
	qb, qc := b.metric("alertmanager_nflog_queries_total"), c.metric("alertmanager_nflog_queries_total")
	require.Eventually(t, func() bool {
		return b.metric("alertmanager_nflog_queries_total") >= qb+2 && c.metric("alertmanager_nflog_queries_total") >= qc+2
	}, 30*time.Second, 50*time.Millisecond, "both survivors deduplicated the group twice more")
	require.Len(t, mm.Posts(), 1, "sent once")
}

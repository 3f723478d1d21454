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
	broken := clusterSpec(t, gw.Addr(), "10m", "  webhook_url: http://127.0.0.1:1/hooks/unreachable\n")
	good := clusterSpec(t, gw.Addr(), "10m", "  webhook_url: "+mm.AddHook("failoverhook", "alerts", false)+"\n")
	gossip := map[string]string{"a": freeLoopbackAddr(t), "b": freeLoopbackAddr(t), "c": freeLoopbackAddr(t)}
	a := startChild(t, replicaArgs(t, gossip, "a", broken, "5s")...)
	b := startChild(t, replicaArgs(t, gossip, "b", good, "5s")...)
	c := startChild(t, replicaArgs(t, gossip, "c", good, "5s")...)
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

// TestBotFailoverEditsTheSamePost: two `gatewatch run` processes in bot
// mode on Alertmanager's gossip. The first replica posts the 421 and is
// killed with SIGKILL; when the alert resolves, the survivor edits that
// same post (its id came in the gossiped notification log) and replies in
// its thread: one root post for the incident.
func TestBotFailoverEditsTheSamePost(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two gatewatch run processes")
	}
	mm, err := inbox.Start("127.0.0.1:0")
	require.NoError(t, err)
	defer mm.Close()
	token := mm.SetupBot("ops", "alerts", "gatewatch")
	tokenFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(token), 0o600))
	gw := demo.NewGateway("istio-ingress", "istio-ingressgateway", "p", nil, nil)
	require.NoError(t, gw.Start("127.0.0.1:0"))
	defer gw.Close()
	gw.Serve(10)
	specFile := clusterSpec(t, gw.Addr(), "8s", fmt.Sprintf("  url: %s\n  bot_token_file: %s\n  team: ops\n  channel: alerts\n", mm.URL, tokenFile))
	gossip := map[string]string{"a": freeLoopbackAddr(t), "b": freeLoopbackAddr(t)}
	a := startChild(t, replicaArgs(t, gossip, "a", specFile, "3s")...)
	b := startChild(t, replicaArgs(t, gossip, "b", specFile, "3s")...)
	require.Eventually(t, func() bool { return a.members() == 2 && b.members() == 2 }, 20*time.Second, 50*time.Millisecond, "two members:\n%s", &a.out)
	// Both replicas have seen the page without a 421 series (a replica
	// whose first scrape already holds it cannot tell a first 421).
	scraped := func(c *child) bool {
		_, body := c.get("/api/v1/query?query=count_over_time(up%5B1m%5D)%20%3E%3D%202")
		return strings.Contains(body, `"result":[{`)
	}
	require.Eventually(t, func() bool { return scraped(a) && scraped(b) }, 20*time.Second, 100*time.Millisecond, "two scrapes on each replica")

	gw.Misdirect(1)
	var root inbox.APIPost
	require.Eventually(t, func() bool {
		ps := mm.APIPosts()
		if len(ps) == 1 {
			root = ps[0]
			return true
		}
		return false
	}, 30*time.Second, 20*time.Millisecond, "the first replica posted:\n%s", &a.out)
	// The post's notification-log entry reaches b by gossip before a dies
	// (the only gossip update in this test). A sender killed before its
	// entry is gossiped leaves the others nothing to edit: they post anew,
	// as Alertmanager's cluster would send again (docs/ha.md).
	require.Eventually(t, func() bool {
		return b.sum(`alertmanager_cluster_messages_received_total{msg_type="update"}`) >= 1
	}, 10*time.Second, 50*time.Millisecond, "b received the notification-log entry:\n%s", &b.out)
	a.kill()
	require.Eventually(t, func() bool {
		for _, r := range mm.Thread(root.ID) {
			if strings.HasPrefix(r.Message, "Resolved at ") {
				return true
			}
		}
		return false
	}, 60*time.Second, 100*time.Millisecond, "the survivor resolved the same post:\n%s\n%v", &b.out, lazy(func() string { return fmt.Sprintf("A:\n%s\n%+v\n%s", a.out.String(), len(mm.APIPosts()), metricsOf(b)) }))
	final, _ := mm.APIPost(root.ID)
	require.True(t, strings.HasPrefix(final.Attachments[0].Title, "[RESOLVED]"), final.Attachments[0].Title)
	roots := 0
	for _, p := range mm.APIPosts() {
		if p.RootID == "" {
			roots++
		}
	}
	require.Equal(t, 1, roots, "one root post for the incident, across the failover")
	require.NotContains(t, a.out.String()+b.out.String(), token)
}

func metricsOf(c *child) string {
	_, body := c.get("/metrics")
	var keep []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "alertmanager_notif") || strings.HasPrefix(l, "gatewatch_mattermost") || strings.HasPrefix(l, "alertmanager_nflog") || strings.HasPrefix(l, "alertmanager_alerts") || strings.HasPrefix(l, "gatewatch_state") || strings.HasPrefix(l, "alertmanager_cluster_messages") || strings.HasPrefix(l, "alertmanager_oversize") {
			keep = append(keep, l)
		}
	}
	_, alerts := c.get("/api/v2/alerts")
	return strings.Join(keep, "\n") + "\n" + alerts
}

// lazy is a failure message computed when it is printed.
type lazy func() string

func (l lazy) String() string { return l() }

// clusterSpec writes the cluster tests' spec: one static gateway scraped
// every second, the 421 alert with the window given, immediate grouping,
// and the mattermost section given (indented YAML lines).
func clusterSpec(t *testing.T, gwAddr, window, mattermostYAML string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "gatewatch.yaml")
	require.NoError(t, os.WriteFile(p, []byte(fmt.Sprintf(`gateways:
  - name: public-ingress
    namespace: istio-ingress
    workload: istio-ingressgateway
    static_targets: ["%s"]
    stats: {interval: 1s, timeout: 900ms}
alerts:
  - window: %s
routing: {group_wait: 0s, group_interval: 1s, repeat_interval: 4h}
mattermost:
%s`, gwAddr, window, mattermostYAML)), 0o600))
	return p
}

// replicaArgs are `gatewatch run`'s arguments for replica name of a test
// cluster gossiping on the loopback addresses in gossip; replica "a" is
// every other's peer.
func replicaArgs(t *testing.T, gossip map[string]string, name, specFile, peerTimeout string) []string {
	a := []string{"run", "-c", specFile, "--data-dir", t.TempDir(),
		"--cluster.listen-address=" + gossip[name], "--cluster.peer-name=" + name,
		"--cluster.peer-timeout=" + peerTimeout, "--cluster.gossip-interval=50ms", "--cluster.pushpull-interval=1s", "--cluster.settle-timeout=0s"}
	if name != "a" {
		a = append(a, "--cluster.peer="+gossip["a"])
	}
	return a
}

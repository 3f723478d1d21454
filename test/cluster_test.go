package test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/cli"
	"github.com/gatewatch/gatewatch/internal/demo"
	"github.com/gatewatch/gatewatch/internal/doctor"
	"github.com/gatewatch/gatewatch/internal/engine"
	"github.com/gatewatch/gatewatch/internal/mattermost/inbox"
	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
	"github.com/gatewatch/gatewatch/internal/web"
)

// clusterFixture is what the cluster tests share: a Mattermost inbox, one
// simulated gateway and a spec alerting on it at once (extra: more spec
// YAML).
func clusterFixture(t *testing.T, extra string) (*inbox.Server, *demo.Gateway, *spec.Spec, string) {
	t.Helper()
	mm, err := inbox.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { mm.Close() })
	gw := demo.NewGateway("istio-ingress", "istio-ingressgateway", "p", nil, nil)
	require.NoError(t, gw.Start("127.0.0.1:0"))
	t.Cleanup(func() { gw.Close() })
	y := fmt.Sprintf(`gateways:
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
%s`, gw.Addr(), mm.AddHook("clusterhook", "alerts", false), extra)
	s, err := spec.Parse([]byte(y), "gatewatch.yaml", rules.SpecKinds())
	require.NoError(t, err)
	return mm, gw, s, y
}

// replica is one clustered engine with its web handler (status page, API
// v2) on loopback.
type replica struct {
	e   *engine.Engine
	url string
}

func startReplica(t *testing.T, s *spec.Spec, name string, peers []string) *replica {
	t.Helper()
	return startReplicaIn(t, t.TempDir(), s, name, peers)
}

// startReplicaIn starts a replica on the data dir given (a restart keeps it).
func startReplicaIn(t *testing.T, dataDir string, s *spec.Spec, name string, peers []string) *replica {
	t.Helper()
	e, err := engine.New(s, engine.Options{DataDir: dataDir, Registry: prometheus.NewRegistry(), Cluster: engine.ClusterOptions{
		ListenAddress: "127.0.0.1:0", PeerName: name, Peers: peers,
		PeerTimeout: time.Second, GossipInterval: 20 * time.Millisecond, PushPullInterval: time.Second,
		ProbeInterval: 200 * time.Millisecond, ProbeTimeout: 100 * time.Millisecond, TCPTimeout: time.Second,
		// Alertmanager's reconnect task reads a memberlist node that
		// memberlist rewrites when the peer comes back (a data race under
		// -race in alertmanager 0.35's cluster.go:438, upstream issue
		// prometheus/alertmanager#2033): the tests' restarted replicas
		// rejoin by themselves, so the task is kept from running here.
		ReconnectInterval: time.Hour,
	}})
	require.NoError(t, err)
	require.NoError(t, e.Start(context.Background()))
	srv := httptest.NewServer(web.Handler(e, web.Options{}))
	r := &replica{e: e, url: srv.URL}
	t.Cleanup(func() { srv.Close(); e.Close() })
	return r
}

// address is this replica's own gossip address.
func (r *replica) address(t *testing.T) string {
	st := r.e.ClusterStatus()
	for _, m := range st.Members {
		if m.Name == st.Name {
			return m.Address
		}
	}
	t.Fatalf("replica %s does not list itself: %+v", st.Name, st)
	return ""
}

func (r *replica) metric(t *testing.T, name, label string) float64 {
	t.Helper()
	mfs, err := r.e.Registry().Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if label != "" && l.GetValue() != label {
					continue
				}
				if m.GetCounter() != nil {
					return m.GetCounter().GetValue()
				}
				return m.GetGauge().GetValue()
			}
			if label == "" {
				if m.GetCounter() != nil {
					return m.GetCounter().GetValue()
				}
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

// TestClusterSendsOnceAndSharesSilences: three replicas on Alertmanager's
// gossip scrape the same gateway; its first 421 is posted once (the others
// find the sender's notification-log entry); a silence added with the real
// amtool on one replica's API v2 is honoured by the others; a replica
// restarted with an empty data dir receives the state and sends nothing
// again.
func TestClusterSendsOnceAndSharesSilences(t *testing.T) {
	amtool := tool(t, "amtool")
	mm, gw, s, _ := clusterFixture(t, "")

	a := startReplica(t, s, "a", nil)
	b := startReplica(t, s, "b", []string{a.address(t)})
	c := startReplica(t, s, "c", []string{a.address(t)})
	all := []*replica{a, b, c}
	require.Eventually(t, func() bool {
		for _, r := range all {
			if len(r.e.ClusterStatus().Members) != 3 {
				return false
			}
		}
		return true
	}, 20*time.Second, 50*time.Millisecond, "three members everywhere")
	out, code := run(t, amtool, "--alertmanager.url="+a.url, "cluster", "show", "-o", "extended")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "Cluster Status:  ready")
	for _, name := range []string{"a", "b", "c"} {
		require.Regexp(t, `(?m)^127\.0\.0\.1:\d+\s+`+name+`\s*$`, out, "member %s", name)
	}

	gw.Misdirect(1)
	require.Eventually(t, func() bool { return len(mm.Posts()) >= 1 }, 30*time.Second, 50*time.Millisecond, "the 421 posted")
	// The exact condition: every replica holds the entry (the sender
	// logged it, the others merged it from gossip and saved it), and every
	// replica's dedup stage has looked at the group twice since.
	base := map[*replica]float64{}
	require.Eventually(t, func() bool {
		for _, r := range all {
			if r.metric(t, "gatewatch_state_saves_total", "nflog") < 1 {
				return false
			}
			base[r] = r.metric(t, "alertmanager_nflog_queries_total", "")
		}
		return true
	}, 20*time.Second, 50*time.Millisecond, "the notification log entry on every replica")
	require.Eventually(t, func() bool {
		for _, r := range all {
			if r.metric(t, "alertmanager_nflog_queries_total", "") < base[r]+2 {
				return false
			}
		}
		return true
	}, 30*time.Second, 50*time.Millisecond, "every replica deduplicated the group twice")
	require.Len(t, mm.Posts(), 1, "one post for three replicas")

	out, code = run(t, amtool, "--alertmanager.url="+a.url, "alert", "query", "-o", "simple")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "GatewayMisdirectedRequest421")
	out, code = run(t, amtool, "--alertmanager.url="+b.url, "silence", "add", "gateway=other-gateway",
		"--comment=maintenance", "--author=ops", "--duration=2h")
	require.Equal(t, 0, code, out)
	id := strings.TrimSpace(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:])
	require.NotEmpty(t, id)
	for _, r := range all {
		r := r
		require.Eventually(t, func() bool {
			out, code := run(t, amtool, "--alertmanager.url="+r.url, "silence", "query", "-q")
			return code == 0 && strings.Contains(out, id)
		}, 10*time.Second, 100*time.Millisecond, "the silence on every replica")
	}

	// c restarts with an empty data dir: it receives the notification log
	// and the silence by joining, and posts nothing again.
	c.e.Close()
	c2 := startReplica(t, s, "c", []string{a.address(t)})
	require.Eventually(t, func() bool {
		return c2.metric(t, "gatewatch_state_saves_total", "nflog") >= 1 && c2.metric(t, "gatewatch_state_saves_total", "silences") >= 1
	}, 20*time.Second, 50*time.Millisecond, "the restarted replica received and saved the state")
	out, code = run(t, amtool, "--alertmanager.url="+c2.url, "silence", "query", "-q")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, id)
	start := c2.metric(t, "alertmanager_nflog_queries_total", "")
	require.Eventually(t, func() bool { return c2.metric(t, "alertmanager_nflog_queries_total", "") >= start+2 }, 30*time.Second, 50*time.Millisecond,
		"the restarted replica deduplicated the firing group")
	require.Len(t, mm.Posts(), 1, "no duplicate from the restarted replica")
}

// TestDoctorGatewatchCluster: doctor --gatewatch-url checks that the
// replicas form one settled cluster of the spec's replica count.
func TestDoctorGatewatchCluster(t *testing.T) {
	base := `gateways:
  - name: public-ingress
    namespace: istio-ingress
    workload: istio-ingressgateway
    static_targets: ["127.0.0.1:1"]
mattermost:
  webhook_url: http://127.0.0.1:1/hooks/x
cluster:
  standalone: {replicas: %d}
`
	parse := func(replicas int) *spec.Spec {
		s, err := spec.Parse([]byte(fmt.Sprintf(base, replicas)), "gatewatch.yaml", rules.SpecKinds())
		require.NoError(t, err)
		return s
	}
	a := startReplica(t, parse(2), "a", nil)
	b := startReplica(t, parse(2), "b", []string{a.address(t)})
	require.Eventually(t, func() bool { return len(b.e.ClusterStatus().Members) == 2 }, 20*time.Second, 50*time.Millisecond)
	check := func(s *spec.Spec) doctor.Result {
		var only []doctor.Check
		for _, c := range doctor.Checks() {
			if c.ID() == "gatewatch/cluster" {
				only = append(only, c)
			}
		}
		rs := doctor.Run(context.Background(), &doctor.Env{Spec: s, GatewatchURL: a.url}, only, func(doctor.Result) {})
		require.Len(t, rs, 1)
		return rs[0]
	}
	r := check(parse(2))
	require.Equal(t, doctor.Pass, r.Status, "%+v", r)
	require.Equal(t, "2 replicas, settled", r.Summary)
	r = check(parse(3))
	require.Equal(t, doctor.Fail, r.Status, "%+v", r)
	require.Equal(t, "2 of 3 replicas in the cluster", r.Summary)
}

// TestClusterRollingRestartKeepsSilences: a silence added through one
// replica's API v2 survives a rolling restart of all three replicas (each
// on its own data dir).
func TestClusterRollingRestartKeepsSilences(t *testing.T) {
	amtool := tool(t, "amtool")
	s, err := spec.Parse([]byte(`gateways:
  - name: public-ingress
    namespace: istio-ingress
    workload: istio-ingressgateway
    static_targets: ["127.0.0.1:1"]
mattermost:
  webhook_url: http://127.0.0.1:1/hooks/x
`), "gatewatch.yaml", rules.SpecKinds())
	require.NoError(t, err)
	dirs := map[string]string{"a": t.TempDir(), "b": t.TempDir(), "c": t.TempDir()}
	reps := map[string]*replica{}
	reps["a"] = startReplicaIn(t, dirs["a"], s, "a", nil)
	reps["b"] = startReplicaIn(t, dirs["b"], s, "b", []string{reps["a"].address(t)})
	reps["c"] = startReplicaIn(t, dirs["c"], s, "c", []string{reps["a"].address(t)})
	out, code := run(t, amtool, "--alertmanager.url="+reps["a"].url, "silence", "add", "gateway=public-ingress",
		"--comment=rolling restart", "--author=ops", "--duration=2h")
	require.Equal(t, 0, code, out)
	id := strings.TrimSpace(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:])
	hasSilence := func(r *replica) func() bool {
		return func() bool {
			o, code := run(t, amtool, "--alertmanager.url="+r.url, "silence", "query", "-q")
			return code == 0 && strings.Contains(o, id)
		}
	}
	for _, name := range []string{"a", "b", "c"} {
		require.Eventually(t, hasSilence(reps[name]), 10*time.Second, 100*time.Millisecond, "the silence reached %s", name)
	}
	// One at a time, as a StatefulSet rolls: each comes back on its own
	// data dir, joining a replica that is up.
	for _, name := range []string{"c", "b", "a"} {
		reps[name].e.Close()
		peer := "a"
		if name == "a" {
			peer = "b"
		}
		reps[name] = startReplicaIn(t, dirs[name], s, name, []string{reps[peer].address(t)})
		require.Eventually(t, hasSilence(reps[name]), 10*time.Second, 100*time.Millisecond, "%s restarted with the silence", name)
	}
}

// TestClusterSplitIsVisibleAndLosesNothing: a replica given a wrong peer
// list stays alone; its status and /metrics say so, and a 421 is still
// posted (at least once: the lone replica and the pair may both post).
func TestClusterSplitIsVisibleAndLosesNothing(t *testing.T) {
	mm, gw, s, _ := clusterFixture(t, "")
	a := startReplica(t, s, "a", nil)
	b := startReplica(t, s, "b", []string{a.address(t)})
	lone := startReplica(t, s, "c", []string{"127.0.0.1:1"}) // nobody there
	require.Eventually(t, func() bool { return len(b.e.ClusterStatus().Members) == 2 }, 20*time.Second, 50*time.Millisecond)
	require.Len(t, lone.e.ClusterStatus().Members, 1, "the split is visible")
	require.Equal(t, 1.0, lone.metric(t, "alertmanager_cluster_members", ""))
	_, page := getBody(t, lone.url+"/")
	require.Contains(t, page, `<h2 id="cluster">Cluster</h2>`)

	gw.Misdirect(1)
	require.Eventually(t, func() bool { return len(mm.Posts()) >= 1 }, 30*time.Second, 50*time.Millisecond, "the 421 is not lost")
}

func getBody(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// TestDoctorAgainstGatewatch: `doctor --gatewatch-url` checks a running
// gatewatch through its own Prometheus and Alertmanager APIs: the target
// up, the rules loaded, routing and notifications, and the cluster.
func TestDoctorAgainstGatewatch(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	_, _, s, y := clusterFixture(t, "cluster:\n  standalone: {replicas: 1}\n")
	a := startReplica(t, s, "a", nil)
	require.Eventually(t, func() bool {
		ts := a.e.Targets()
		return len(ts) == 1 && ts[0].Health == "up"
	}, 20*time.Second, 50*time.Millisecond)
	specFile := filepath.Join(t.TempDir(), "gatewatch.yaml")
	require.NoError(t, os.WriteFile(specFile, []byte(y), 0o600))
	var out, errOut bytes.Buffer
	code := cli.Main(context.Background(), []string{"doctor", "-c", specFile, "--gatewatch-url", a.url, "--notifications-interval", "1s"}, &out, &errOut)
	require.Equal(t, 0, code, "%s\n%s", out.String(), errOut.String())
	for _, id := range []string{"prometheus/target", "prometheus/rule", "prometheus/query", "alertmanager/config", "alertmanager/route", "alertmanager/notifications", "gatewatch/cluster"} {
		require.Regexp(t, `(?m)^PASS\s+`+regexp.QuoteMeta(id)+`\s`, out.String())
	}
}

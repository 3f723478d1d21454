package doctor

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/gatewatch/gatewatch/internal/render"
	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// gatewatchChecks follow gatewatch's own paths: they apply to a standalone
// render only.
var gatewatchChecks = []string{"network/kube-api", "network/gossip", "network/web"}

// stackChecks look at a Prometheus and Alertmanager: a standalone render
// has none, and they are left out.
var stackChecks = []string{"prometheus/target", "prometheus/rule", "prometheus/query", "alertmanager/config", "alertmanager/route", "alertmanager/notifications"}

// TestOfflineStandaloneHealthy: the standalone render in the runbook's
// default-deny cluster passes every check of gatewatch's own paths, and
// only those run: the Prometheus and Alertmanager checks are left out
// (this target has neither, by design); nothing warns or fails.
func TestOfflineStandaloneHealthy(t *testing.T) {
	rs := runOffline(t, renderDir(t, render.TargetStandalone, nil))
	for _, id := range append([]string{"gateway/pods", "network/scrape", "network/egress", "render/stale"}, gatewatchChecks...) {
		require.Equal(t, Pass, rs[id].Status, "%s: %s %v", id, rs[id].Summary, rs[id].Evidence)
	}
	require.Contains(t, rs["network/scrape"].Summary, "gatewatch may scrape every gateway")
	require.Contains(t, rs["network/egress"].Summary, "gatewatch may reach the webhook path and DNS")
	for _, id := range stackChecks {
		require.NotContains(t, rs, id)
	}
	var ids []string
	for id, r := range rs {
		require.NotContains(t, []Status{Fail, Warn}, r.Status, "%s: %s", id, r.Summary)
		ids = append(ids, id)
	}
	require.Len(t, ids, len(Checks())-len(stackChecks)-len(liveGatewatchChecks)-len(bridgeChecks))
}

// TestOfflineStandaloneWithServiceMonitor: gatewatch's own monitoring
// (a ServiceMonitor and a PrometheusRule of gatewatch's alerts) does not make
// the standalone folder a stack's: the same checks run and pass.
func TestOfflineStandaloneWithServiceMonitor(t *testing.T) {
	s, err := spec.Load("../../examples/gatewatch.yaml", rules.SpecKinds())
	require.NoError(t, err)
	s.Cluster.Standalone.ServiceMonitor = true
	dir := renderSpecDir(t, s, render.TargetStandalone, nil)
	rules, _ := filepath.Glob(filepath.Join(dir, "self-prometheusrule-*.yaml"))
	require.Len(t, rules, 1)
	m, err := LoadManifests(dir)
	require.NoError(t, err)
	require.Equal(t, []string{render.TargetStandalone}, m.Targets())
	require.False(t, m.configuresStack())
	rs := runOfflineSpec(t, s, dir)
	for _, id := range stackChecks {
		require.NotContains(t, rs, id)
	}
	for id, r := range rs {
		require.NotContains(t, []Status{Fail, Warn}, r.Status, "%s: %s", id, r.Summary)
	}
}

// liveGatewatchChecks run only with --gatewatch-url; the bot check only in
// bot mode (the example spec posts to a webhook).
var liveGatewatchChecks = []string{"gatewatch/cluster", "mattermost/bot"}

// bridgeChecks follow the paths of gatewatch bridge: they apply to its
// deployment, or to a stack whose Alertmanager posts through it.
var bridgeChecks = []string{"network/bridge"}

// TestOfflineStackLeavesOutGatewatchChecks: a stack target's render is not
// gatewatch's own deployment; its network checks follow Prometheus and
// Alertmanager only.
func TestOfflineStackLeavesOutGatewatchChecks(t *testing.T) {
	rs := runOffline(t, renderDir(t, render.TargetOperator, nil))
	for _, id := range gatewatchChecks {
		require.NotContains(t, rs, id)
	}
	require.Len(t, rs, len(Checks())-len(gatewatchChecks)-len(liveGatewatchChecks)-len(bridgeChecks))
	require.Equal(t, "Prometheus may scrape every gateway", rs["network/scrape"].Summary)
	require.Equal(t, "Alertmanager may reach the webhook path and DNS", rs["network/egress"].Summary)
}

// TestOfflineStandaloneEachPolicyRemoved: removing any one rendered
// NetworkPolicy fails exactly the check of its path, naming the path and
// the side that lost its allowance. The table covers every policy the
// render writes.
func TestOfflineStandaloneEachPolicyRemoved(t *testing.T) {
	table := map[string]struct{ check, names string }{
		"networkpolicy-monitoring-gatewatch-egress-scrape.yaml":                            {"network/scrape", "gatewatch may not scrape: public-ingress (egress)"},
		"networkpolicy-istio-ingress-gatewatch-public-ingress-allow-gatewatch-scrape.yaml": {"network/scrape", "gatewatch may not scrape: public-ingress (ingress in istio-ingress)"},
		"networkpolicy-monitoring-gatewatch-egress-webhook.yaml":                           {"network/egress", "gatewatch may not reach: webhook path (egress)"},
		"networkpolicy-istio-ingress-gatewatch-allow-gatewatch-webhook.yaml":               {"network/egress", "gatewatch may not reach: webhook path (ingress in istio-ingress)"},
		"networkpolicy-monitoring-gatewatch-egress-dns.yaml":                               {"network/egress", "gatewatch may not reach: DNS UDP (egress), DNS TCP (egress)"},
		"networkpolicy-monitoring-gatewatch-egress-kube-api.yaml":                          {"network/kube-api", "gatewatch may not reach the Kubernetes API server: 198.51.100.1:443, 198.51.100.1:6443"},
		"networkpolicy-monitoring-gatewatch-egress-gossip.yaml":                            {"network/gossip", "gatewatch's replicas may not gossip: TCP 9094 (egress), UDP 9094 (egress)"},
		"networkpolicy-monitoring-gatewatch-allow-gossip.yaml":                             {"network/gossip", "gatewatch's replicas may not gossip: TCP 9094 (ingress in monitoring), UDP 9094 (ingress in monitoring)"},
		"networkpolicy-monitoring-gatewatch-allow-web.yaml":                                {"network/web", `the web port 9421 is denied to: pods "app.kubernetes.io/name=prometheus" in monitoring (ingress in monitoring)`},
		"networkpolicy-monitoring-gatewatch-web-client.yaml":                               {"network/web", `the web port 9421 is denied to: pods "app.kubernetes.io/name=prometheus" in monitoring (egress)`},
	}
	s, err := spec.Load("../../examples/gatewatch.yaml", rules.SpecKinds())
	require.NoError(t, err)
	requireEachPolicyFailsItsPath(t, s, render.TargetStandalone, table)
}

// requireEachPolicyFailsItsPath renders the target for s, checks the
// table names every NetworkPolicy it writes, and that with each one removed
// exactly its check fails, with the table's summary and a hint.
func requireEachPolicyFailsItsPath(t *testing.T, s *spec.Spec, target string, table map[string]struct{ check, names string }) {
	t.Helper()
	policies, _ := filepath.Glob(filepath.Join(renderSpecDir(t, s, target, nil), "networkpolicy-*.yaml"))
	require.Len(t, policies, len(table), "a table entry for every rendered policy")
	for _, p := range policies {
		name := filepath.Base(p)
		tc, ok := table[name]
		require.True(t, ok, "no table entry for %s", name)
		t.Run(name, func(t *testing.T) {
			rs := runOfflineSpec(t, s, renderSpecDir(t, s, target, func(dir string) {
				require.NoError(t, os.Remove(filepath.Join(dir, name)))
			}))
			r := rs[tc.check]
			require.Equal(t, Fail, r.Status, "%s: %s %v", tc.check, r.Summary, r.Evidence)
			require.Equal(t, tc.names, r.Summary)
			require.NotEmpty(t, r.Hint)
			for id, other := range rs {
				require.False(t, id != tc.check && other.Status == Fail, "%s also failed: %s", id, other.Summary)
			}
		})
	}
}

// TestOfflineDefaultDenyIsolates: the namespaces cluster.default_deny
// speaks of are isolated offline even when the folder holds no
// default-deny policy: a missing allowance still fails, and the verdict
// says where the isolation comes from.
func TestOfflineDefaultDenyIsolates(t *testing.T) {
	rs := runOffline(t, renderDir(t, render.TargetStandalone, func(dir string) {
		require.NoError(t, os.Remove(filepath.Join(dir, "default-deny.yaml")))
	}))
	require.Equal(t, Pass, rs["network/gossip"].Status, rs["network/gossip"].Summary)

	rs = runOffline(t, renderDir(t, render.TargetStandalone, func(dir string) {
		require.NoError(t, os.Remove(filepath.Join(dir, "default-deny.yaml")))
		require.NoError(t, os.Remove(filepath.Join(dir, "networkpolicy-monitoring-gatewatch-allow-gossip.yaml")))
	}))
	r := rs["network/gossip"]
	require.Equal(t, Fail, r.Status, r.Summary)
	require.Contains(t, strings.Join(r.Evidence, "\n"), "isolated for ingress by monitoring/cluster.default_deny")
}

// TestManifestsTargets: the targets a folder holds are known by the files
// and kinds only they declare, also from render's stdout saved as one
// file; NetworkPolicies and the Secret example, which every target writes,
// say nothing.
func TestManifestsTargets(t *testing.T) {
	for _, target := range render.TargetNames() {
		t.Run(target, func(t *testing.T) {
			m, err := LoadManifests(renderDir(t, target, nil))
			require.NoError(t, err)
			require.Equal(t, []string{target}, m.Targets())
			require.Equal(t, target == render.TargetStandalone, m.deploysGatewatch())
			require.Equal(t, target == render.TargetBridge, m.deploysBridge())
			require.Equal(t, target != render.TargetStandalone && target != render.TargetBridge, m.configuresStack())
		})
	}
	s, err := spec.Load("../../examples/gatewatch.yaml", rules.SpecKinds())
	require.NoError(t, err)
	files, err := render.Render(s, render.TargetStandalone)
	require.NoError(t, err)
	var stdout bytes.Buffer
	require.NoError(t, render.Write(&stdout, files))
	m, err := LoadManifests(writeFiles(t, map[string]string{"all.yaml": stdout.String()}))
	require.NoError(t, err)
	require.Equal(t, []string{render.TargetStandalone}, m.Targets())

	var policies []render.File
	for _, f := range files {
		if strings.HasPrefix(f.Name, "networkpolicy-") {
			policies = append(policies, f)
		}
	}
	dir := t.TempDir()
	require.NoError(t, render.WriteDir(dir, policies))
	m, err = LoadManifests(dir)
	require.NoError(t, err)
	require.Empty(t, m.Targets())
	require.True(t, m.configuresStack(), "no target known: the user's own manifests, checked as a stack")
}

// TestOfflineReadsEveryStandaloneOutput: of what the standalone target
// writes, doctor reads the kinds on gatewatch's paths (the workload's pod
// template, the NetworkPolicies) and knows why not the others.
func TestOfflineReadsEveryStandaloneOutput(t *testing.T) {
	notRead := map[string]string{
		"ServiceAccount": "RBAC is not a network path", "Role": "RBAC is not a network path", "RoleBinding": "RBAC is not a network path",
		"ClusterRole": "RBAC is not a network path", "ClusterRoleBinding": "RBAC is not a network path",
		"ConfigMap": "the deployed spec is the spec doctor is given", "Service": "policies see pods, after the Service translation",
		"PodDisruptionBudget": "not a network path",
		"ServiceMonitor":      "gatewatch's own monitoring: network/web checks that Prometheus reaches the web port",
	}
	target, err := render.Lookup(render.TargetStandalone)
	require.NoError(t, err)
	for _, o := range target.Writes {
		if o.Format == render.FormatExample {
			continue
		}
		for _, k := range o.Kinds {
			require.True(t, slices.Contains(objectKinds(), k) || notRead[k] != "", "%s: %s %s is not read offline", target.Name, o.Name, k)
		}
	}
}

func TestAllSkipped(t *testing.T) {
	require.True(t, AllSkipped([]Result{{Status: Skip}, {Status: Skip}}))
	require.False(t, AllSkipped([]Result{{Status: Skip}, {Status: Warn}}))
	require.True(t, AllSkipped(nil), "no result is nothing checked")
}

// TestLiveGatewatchChecksFollowItsPods: live, gatewatch's own paths are
// checked when its pods run in the monitoring namespace, and left out
// otherwise; a Kubernetes API error is the checks' SKIP.
func TestLiveGatewatchChecksFollowItsPods(t *testing.T) {
	s, err := spec.Load("../../examples/gatewatch.yaml", rules.SpecKinds())
	require.NoError(t, err)
	run := func(objs ...runtime.Object) map[string]Result {
		out := map[string]Result{}
		for _, r := range Run(context.Background(), &Env{Spec: s, Kube: fake.NewClientset(objs...)}, Checks(), nil) {
			out[r.ID] = r
		}
		return out
	}
	rs := run()
	for _, id := range gatewatchChecks {
		require.NotContains(t, rs, id)
	}
	require.Contains(t, strings.Join(rs["network/scrape"].Evidence, "\n"), "Prometheus → public-ingress")
	require.NotContains(t, strings.Join(rs["network/scrape"].Evidence, "\n"), "gatewatch →")

	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "gatewatch-0", Namespace: "monitoring",
		Labels: map[string]string{"app.kubernetes.io/name": "gatewatch"}}}
	rs = run(pod)
	for _, id := range gatewatchChecks {
		require.Contains(t, rs, id)
		require.NotEqual(t, Fail, rs[id].Status, "%s: %s", id, rs[id].Summary)
	}
	require.Contains(t, strings.Join(rs["network/scrape"].Evidence, "\n"), "gatewatch → public-ingress")

	broken := fake.NewClientset()
	broken.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("forbidden")
	})
	rs = map[string]Result{}
	for _, r := range Run(context.Background(), &Env{Spec: s, Kube: broken}, Checks(), nil) {
		rs[r.ID] = r
	}
	require.Equal(t, Skip, rs["network/gossip"].Status)
	require.Contains(t, rs["network/gossip"].Summary, "list gatewatch pods in monitoring: forbidden")
}

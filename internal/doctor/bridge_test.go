package doctor

import (
	"os"
	"path/filepath"
	"testing"

	amconfig "github.com/prometheus/alertmanager/config"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/render"
	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// bridgeSpec is the example spec with Alertmanager posting through
// gatewatch bridge.
func bridgeSpec(t *testing.T) *spec.Spec {
	t.Helper()
	s, err := spec.Load("../../examples/gatewatch.yaml", rules.SpecKinds())
	require.NoError(t, err)
	s.Cluster.Bridge.Enabled = true
	return s
}

// botBridgeSpec is render's bot-mode golden spec: the bridge as a bot with
// Silence buttons against Alertmanager's API, explain reading the gateway
// logs from the API server, default-deny both ways.
func botBridgeSpec(t *testing.T) *spec.Spec {
	t.Helper()
	s, err := spec.Load("../render/testdata/bridge-bot.yaml", rules.SpecKinds())
	require.NoError(t, err)
	return s
}

// TestOfflineBridgeHealthy: render --target bridge's output in the
// runbook's default-deny cluster passes every check of the bridge's paths
// (bridge → webhook path and DNS, Alertmanager → bridge, web_from → the
// bridge's port), and the Prometheus and Alertmanager checks are left out:
// the folder deploys the bridge, not a stack.
func TestOfflineBridgeHealthy(t *testing.T) {
	for name, s := range map[string]*spec.Spec{"webhook": bridgeSpec(t), "bot": botBridgeSpec(t)} {
		t.Run(name, func(t *testing.T) {
			rs := runOfflineSpec(t, s, renderSpecDir(t, s, render.TargetBridge, nil))
			for _, id := range []string{"gateway/pods", "network/egress", "network/bridge", "network/web", "render/stale"} {
				require.Equal(t, Pass, rs[id].Status, "%s: %s %v", id, rs[id].Summary, rs[id].Evidence)
			}
			require.Equal(t, "gatewatch bridge may reach the webhook path and DNS", rs["network/egress"].Summary)
			require.Equal(t, "Alertmanager may reach gatewatch bridge on 9095 and DNS", rs["network/bridge"].Summary)
			for _, id := range append(stackChecks, "network/gossip") {
				require.NotContains(t, rs, id)
			}
			for id, r := range rs {
				require.NotContains(t, []Status{Fail, Warn}, r.Status, "%s: %s", id, r.Summary)
			}
			if name == "bot" {
				require.Equal(t, Pass, rs["network/kube-api"].Status, rs["network/kube-api"].Summary)
				require.Equal(t, "gatewatch bridge may reach the Kubernetes API server", rs["network/kube-api"].Summary)
				require.Contains(t, rs["network/bridge"].Evidence, "bridge → Alertmanager API :9093 (cluster.bridge.alertmanager_url): egress allowed by monitoring/gatewatch-bridge-egress-alertmanager; ingress allowed by monitoring/gatewatch-alertmanager-allow-bridge")
			} else {
				require.NotContains(t, rs, "network/kube-api", "explain reads files: the bridge needs no API server")
			}
		})
	}
}

// TestOfflineBridgeEachPolicyRemoved: removing any one NetworkPolicy of
// render --target bridge fails exactly the check of its path, naming the
// path and the side that lost its allowance. The table covers every policy
// the bot-mode render writes (a superset of the webhook render's).
func TestOfflineBridgeEachPolicyRemoved(t *testing.T) {
	table := map[string]struct{ check, names string }{
		"networkpolicy-monitoring-gatewatch-alertmanager-egress-bridge.yaml": {"network/bridge", "the bridge path is blocked: Alertmanager → bridge (egress)"},
		"networkpolicy-monitoring-gatewatch-bridge-allow-alertmanager.yaml":  {"network/bridge", "the bridge path is blocked: Alertmanager → bridge (ingress in monitoring)"},
		"networkpolicy-monitoring-gatewatch-alertmanager-egress-dns.yaml":    {"network/bridge", "the bridge path is blocked: Alertmanager → DNS UDP (egress), Alertmanager → DNS TCP (egress)"},
		"networkpolicy-monitoring-gatewatch-bridge-egress-alertmanager.yaml": {"network/bridge", "the bridge path is blocked: bridge → Alertmanager API (egress)"},
		"networkpolicy-monitoring-gatewatch-alertmanager-allow-bridge.yaml":  {"network/bridge", "the bridge path is blocked: bridge → Alertmanager API (ingress in monitoring)"},
		"networkpolicy-monitoring-gatewatch-bridge-egress-webhook.yaml":      {"network/egress", "gatewatch bridge may not reach: webhook path (egress)"},
		"networkpolicy-istio-ingress-gatewatch-allow-bridge-webhook.yaml":    {"network/egress", "gatewatch bridge may not reach: webhook path (ingress in istio-ingress)"},
		"networkpolicy-monitoring-gatewatch-bridge-egress-dns.yaml":          {"network/egress", "gatewatch bridge may not reach: DNS UDP (egress), DNS TCP (egress)"},
		"networkpolicy-monitoring-gatewatch-bridge-egress-kube-api.yaml":     {"network/kube-api", "gatewatch bridge may not reach the Kubernetes API server: 198.51.100.1:443, 198.51.100.1:6443"},
		"networkpolicy-monitoring-gatewatch-bridge-allow-web.yaml":           {"network/web", `the bridge's port 9095 is denied to: pods "app.kubernetes.io/name=prometheus" in monitoring (ingress in monitoring), 198.51.100.20/32 (ingress in monitoring)`},
		"networkpolicy-monitoring-gatewatch-bridge-web-client.yaml":          {"network/web", `the bridge's port 9095 is denied to: pods "app.kubernetes.io/name=prometheus" in monitoring (egress)`},
	}
	requireEachPolicyFailsItsPath(t, botBridgeSpec(t), render.TargetBridge, table)
}

// TestOfflineStackThroughBridge: with cluster.bridge.enabled every stack
// target's output passes doctor on its own: Alertmanager's receiver is a
// webhook to the bridge that the alerts route to, and Alertmanager may
// reach the bridge. The bridge → Mattermost path is the bridge folder's,
// and network/egress says so rather than judging Alertmanager's (which no
// longer posts to Mattermost). Without the Alertmanager → bridge policy,
// network/bridge fails naming the path.
func TestOfflineStackThroughBridge(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    *spec.Spec
	}{{"webhook", bridgeSpec(t)}, {"bot", botBridgeSpec(t)}} {
		for _, target := range stackTargets() {
			t.Run(tc.name+"/"+target, func(t *testing.T) {
				rs := runOfflineSpec(t, tc.s, renderSpecDir(t, tc.s, target, nil))
				for _, id := range []string{"prometheus/target", "prometheus/rule", "alertmanager/config", "alertmanager/route", "network/scrape", "network/bridge", "render/stale"} {
					require.Equal(t, Pass, rs[id].Status, "%s: %s %v", id, rs[id].Summary, rs[id].Evidence)
				}
				require.Equal(t, "1 receiver(s) post to gatewatch bridge", rs["alertmanager/config"].Summary)
				require.Equal(t, Skip, rs["network/egress"].Status)
				require.Contains(t, rs["network/egress"].Summary, "render --target bridge's output")
				for id, r := range rs {
					require.NotContains(t, []Status{Fail, Warn}, r.Status, "%s: %s", id, r.Summary)
				}

				rs = runOfflineSpec(t, tc.s, renderSpecDir(t, tc.s, target, func(dir string) {
					require.NoError(t, os.Remove(filepath.Join(dir, "networkpolicy-monitoring-gatewatch-alertmanager-egress-bridge.yaml")))
				}))
				require.Equal(t, Fail, rs["network/bridge"].Status)
				require.Equal(t, "the bridge path is blocked: Alertmanager → bridge (egress)", rs["network/bridge"].Summary)
			})
		}
	}
}

// TestOfflineBridgeNotConfigured: a stack rendered before
// cluster.bridge.enabled was set still posts to Mattermost itself: doctor,
// given the spec that sends Alertmanager through the bridge, fails
// alertmanager/config and alertmanager/route, naming the bridge.
func TestOfflineBridgeNotConfigured(t *testing.T) {
	old, err := spec.Load("../../examples/gatewatch.yaml", rules.SpecKinds())
	require.NoError(t, err)
	for _, target := range stackTargets() {
		t.Run(target, func(t *testing.T) {
			rs := runOfflineSpec(t, bridgeSpec(t), renderSpecDir(t, old, target, nil))
			r := rs["alertmanager/config"]
			require.Equal(t, Fail, r.Status, r.Summary)
			require.Equal(t, "no receiver posts to gatewatch bridge, and cluster.bridge.enabled says Alertmanager posts through it", r.Summary)
			require.Contains(t, r.Hint, render.BridgeURL(bridgeSpec(t)))
			require.Equal(t, Fail, rs["alertmanager/route"].Status, rs["alertmanager/route"].Summary)
		})
	}
}

// TestToBridge: a webhook receiver is the bridge's when its URL is the
// bridge's Service in the monitoring namespace (any form of the name, any
// port or path). Alertmanager's API shows webhook URLs as <secret>: such a
// receiver counts only when the spec sends Alertmanager through the bridge,
// and says its URL was not seen.
func TestToBridge(t *testing.T) {
	receiver := func(url string) amconfig.Receiver {
		c, err := loadAlertmanagerConfig("route: {receiver: r}\nreceivers:\n- name: r\n  webhook_configs:\n  - url: '" + url + "'\n")
		require.NoError(t, err)
		return c.Receivers[0]
	}
	on, off := &Env{Spec: bridgeSpec(t)}, &Env{Spec: bridgeSpec(t)}
	off.Spec.Cluster.Bridge.Enabled = false
	for url, want := range map[string]bool{
		"http://gatewatch-bridge.monitoring.svc:9095/alerts":                  true,
		"http://gatewatch-bridge.monitoring.svc.cluster.local.:9095/":         true,
		"http://gatewatch-bridge.monitoring:9095/alerts":                      true,
		"http://gatewatch-bridge.other.svc:9095/alerts":                       false,
		"https://chat.example.com/hooks/abc":                                  false,
		"http://gatewatch-bridge.monitoring.svc.evil.example.com:9095/alerts": false,
	} {
		for _, env := range []*Env{on, off} {
			how, ok := toBridge(env, receiver(url))
			require.Equal(t, want, ok, url)
			require.Empty(t, how)
		}
	}
	how, ok := toBridge(on, receiver("<secret>"))
	require.True(t, ok)
	require.Contains(t, how, "hidden by Alertmanager")
	_, ok = toBridge(off, receiver("<secret>"))
	require.False(t, ok)
}

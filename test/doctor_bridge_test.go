package test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gatewatch/gatewatch/internal/doctor"
	"github.com/gatewatch/gatewatch/internal/render"
	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// TestDoctorLiveBridge: on the real kube-apiserver, a default-deny cluster
// where Alertmanager posts through gatewatch bridge. With the bridge's pods
// and the NetworkPolicies render --target bridge writes, doctor passes
// Alertmanager → bridge (network/bridge) and bridge → Mattermost
// (network/egress); without the bridge's pods it says none runs; without
// the bridge's ingress from Alertmanager it fails naming that path.
func TestDoctorLiveBridge(t *testing.T) {
	cfg := kubeAPI(t)
	client, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	ctx := context.Background()
	const mon, gwNS = "br-monitoring", "br-istio-ingress"
	for _, ns := range []string{mon, gwNS, "kube-system"} {
		ensureNamespace(t, client, ns)
	}
	s, err := spec.Parse([]byte(`gateways:
  - name: public-ingress
    namespace: `+gwNS+`
    selector: app=istio-ingressgateway,istio=ingressgateway
mattermost:
  webhook_url_file: /etc/webhook-url
cluster:
  monitoring_namespace: `+mon+`
  default_deny: [ingress, egress]
  bridge:
    enabled: true
`), "bridge.yaml", rules.SpecKinds())
	require.NoError(t, err)

	pod := func(ns, name string, lbls map[string]string) {
		t.Helper()
		_, err := client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: lbls},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}, metav1.CreateOptions{})
		if err != nil && !strings.Contains(err.Error(), "already exists") {
			require.NoError(t, err)
		}
		deleteAtEnd(t, client, ns, name)
	}
	pod(mon, "alertmanager-0", map[string]string{"app.kubernetes.io/name": "alertmanager"})
	pod(mon, "prometheus-0", map[string]string{"app.kubernetes.io/name": "prometheus"})
	pod(gwNS, "istio-ingressgateway-0", map[string]string{"app": "istio-ingressgateway", "istio": "ingressgateway"})
	pod("kube-system", "coredns-br", map[string]string{"k8s-app": "kube-dns"})
	t.Cleanup(func() {
		for _, ns := range []string{mon, gwNS} {
			_ = client.NetworkingV1().NetworkPolicies(ns).DeleteCollection(context.Background(), metav1.DeleteOptions{}, metav1.ListOptions{})
		}
	})
	policies := applyPolicies(t, client, s, render.TargetBridge, mon, gwNS)
	require.Equal(t, 8, policies)

	check := func() map[string]doctor.Result {
		out := map[string]doctor.Result{}
		for _, r := range doctor.Run(ctx, &doctor.Env{Spec: s, Kube: client}, doctor.Checks(), nil) {
			out[r.ID] = r
		}
		return out
	}

	rs := check()
	require.Equal(t, doctor.Fail, rs["network/bridge"].Status, rs["network/bridge"].Summary)
	require.Equal(t, "no gatewatch bridge pod runs in br-monitoring (app.kubernetes.io/name=gatewatch-bridge), and Alertmanager posts through it", rs["network/bridge"].Summary)
	require.Contains(t, rs["network/bridge"].Hint, "render --target bridge")

	pod(mon, "gatewatch-bridge-0", map[string]string{"app.kubernetes.io/name": render.BridgeName})
	rs = check()
	for _, id := range []string{"network/bridge", "network/egress", "network/web"} {
		require.Equal(t, doctor.Pass, rs[id].Status, "%s: %s %v", id, rs[id].Summary, rs[id].Evidence)
	}
	require.Equal(t, "gatewatch bridge may reach the webhook path and DNS", rs["network/egress"].Summary)
	require.Contains(t, rs["network/bridge"].Evidence, "Alertmanager → bridge :9095: egress allowed by br-monitoring/gatewatch-alertmanager-egress-bridge; ingress allowed by br-monitoring/gatewatch-bridge-allow-alertmanager")

	require.NoError(t, client.NetworkingV1().NetworkPolicies(mon).Delete(ctx, "gatewatch-bridge-allow-alertmanager", metav1.DeleteOptions{}))
	rs = check()
	require.Equal(t, doctor.Fail, rs["network/bridge"].Status)
	require.Equal(t, "the bridge path is blocked: Alertmanager → bridge (ingress in br-monitoring)", rs["network/bridge"].Summary)
	require.Equal(t, doctor.Pass, rs["network/egress"].Status, "the bridge → Mattermost path is untouched")
}

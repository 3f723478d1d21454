package netpol

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/gatewatch/gatewatch/internal/render"
	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// TestRenderedPoliciesAllowTheAlertPath: in the example's locked-down
// cluster (default deny in both directions everywhere), the policies render
// writes allow exactly the alert path — Prometheus → gateway stats port,
// Alertmanager → the gateway's pod port and kube-dns 53 UDP and TCP — and
// nothing the path does not need.
func TestRenderedPoliciesAllowTheAlertPath(t *testing.T) {
	s, err := spec.Load("../../examples/gatewatch.yaml", rules.SpecKinds())
	require.NoError(t, err)
	files, err := render.Render(s, render.TargetOperator)
	require.NoError(t, err)
	c := &Cluster{}
	for _, ns := range []string{"monitoring", "istio-ingress", "kube-system"} {
		c.Policies = append(c.Policies, policy(ns, "default-deny", &metav1.LabelSelector{},
			[]networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}, nil, nil))
	}
	for _, f := range files {
		if !strings.HasPrefix(f.Name, "networkpolicy-") {
			continue
		}
		var np networkingv1.NetworkPolicy
		require.NoError(t, yaml.UnmarshalStrict(f.Content, &np), f.Name)
		c.Policies = append(c.Policies, np)
	}
	require.Len(t, c.Policies, 3+5)
	// kube-dns accepts DNS from anywhere in a locked-down cluster too.
	c.Policies = append(c.Policies, policy("kube-system", "dns", sel("k8s-app", "kube-dns"), ingressT,
		[]networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{{Protocol: proto(corev1.ProtocolUDP), Port: num(53)}, {Port: num(53)}}}}, nil))

	gw := gateway
	gw.Labels = map[string]string{"app": "istio-ingressgateway", "istio": "ingressgateway"}
	for _, tc := range []struct {
		name     string
		from     Pod
		to       Pod
		port     int32
		protocol corev1.Protocol
		allowed  bool
	}{
		{"prometheus scrapes the gateway stats port", prom, gw, 15090, "", true},
		{"prometheus may not reach other gateway ports", prom, gw, 15000, "", false},
		{"alertmanager reaches the gateway's https pod port", am, gw, 8443, "", true},
		{"alertmanager reaches the gateway's service port too", am, gw, 443, "", true},
		{"alertmanager resolves DNS over UDP", am, coredns, 53, corev1.ProtocolUDP, true},
		{"alertmanager resolves DNS over TCP", am, coredns, 53, corev1.ProtocolTCP, true},
		{"alertmanager may not scrape the gateway", am, gw, 15090, "", false},
		{"prometheus may not post to the webhook path", prom, gw, 8443, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := c.Allowed(tc.from, Target{Pod: &tc.to}, intstr.FromInt32(tc.port), tc.protocol)
			require.Equal(t, tc.allowed, v.Allowed, v.Reason)
		})
	}
}

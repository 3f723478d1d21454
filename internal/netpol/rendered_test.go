package netpol

import (
	"fmt"
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

// TestRenderedStandalonePoliciesAllowGatewatchsPaths: in the example's
// locked-down cluster, the policies of render --target standalone allow
// exactly the paths gatewatch itself needs — its replicas → the gateway
// stats port, the webhook path (the gateway's 443 and 8443), kube-dns 53
// UDP and TCP, the API server, each other on 9094 TCP and UDP, and
// Prometheus → their web port — and nothing else between these pods,
// addresses, ports and protocols.
func TestRenderedStandalonePoliciesAllowGatewatchsPaths(t *testing.T) {
	s, err := spec.Load("../../examples/gatewatch.yaml", rules.SpecKinds())
	require.NoError(t, err)
	s.Cluster.APIServer.CIDRs = []string{"192.0.2.1/32"}
	c := renderedCluster(t, s)

	gw := gateway
	gw.Labels = map[string]string{"app": "istio-ingressgateway", "istio": "ingressgateway"}
	replica := func(name, ip string) Pod {
		return Pod{Name: name, Namespace: "monitoring", IP: ip,
			Labels: map[string]string{"app.kubernetes.io/name": "gatewatch", "app.kubernetes.io/managed-by": "gatewatch"},
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 9421}, {Name: "mesh-tcp", ContainerPort: 9094},
				{Name: "mesh-udp", ContainerPort: 9094, Protocol: corev1.ProtocolUDP}}}
	}
	gw0, gw1 := replica("gatewatch-0", "10.1.3.20"), replica("gatewatch-1", "10.1.3.21")
	ingressApp := Pod{Name: "web", Namespace: "istio-ingress", Labels: map[string]string{"app": "web"}, IP: "10.1.5.9"}
	pods := []Pod{gw0, gw1, prom, am, gw, coredns, ingressApp}
	const apiServer, internet = "192.0.2.1", "203.0.113.50"

	allowed := map[string]bool{}
	for _, r := range []Pod{gw0, gw1} {
		for _, p := range []string{"gateway TCP 15090", "gateway TCP 8443", "gateway TCP 443", "coredns UDP 53", "coredns TCP 53",
			apiServer + " TCP 443", apiServer + " TCP 6443"} {
			allowed[r.Name+" → "+p] = true
		}
		allowed["prometheus-0 → "+r.Name+" TCP 9421"] = true
	}
	for _, p := range []string{"TCP 9094", "UDP 9094"} {
		allowed["gatewatch-0 → gatewatch-1 "+p] = true
		allowed["gatewatch-1 → gatewatch-0 "+p] = true
	}
	short := map[string]string{gw.Name: "gateway", coredns.Name: "coredns"}
	seen := map[string]bool{}
	for _, from := range pods {
		var targets []Target
		for i := range pods {
			if pods[i].String() != from.String() {
				targets = append(targets, Target{Pod: &pods[i]})
			}
		}
		targets = append(targets, Target{IP: apiServer}, Target{IP: internet})
		for _, to := range targets {
			dest := to.IP
			if to.Pod != nil {
				dest = to.Pod.Name
				if n, ok := short[dest]; ok {
					dest = n
				}
			}
			for _, port := range []int32{53, 80, 443, 6443, 8443, 9094, 9421, 15000, 15090} {
				for _, proto := range []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP} {
					key := fmt.Sprintf("%s → %s %s %d", from.Name, dest, proto, port)
					v := c.Allowed(from, to, intstr.FromInt32(port), proto)
					require.Equal(t, allowed[key], v.Allowed, "%s: %s", key, v.Reason)
					if v.Allowed {
						seen[key] = true
					}
				}
			}
		}
	}
	require.Len(t, seen, len(allowed), "every expected path was tried")
}

// TestStandaloneAPIServerWithoutCIDRs: without cluster.api_server.cidrs the
// API server rule is its ports to any address (the API server is not a pod
// and its address differs per cluster).
func TestStandaloneAPIServerWithoutCIDRs(t *testing.T) {
	s, err := spec.Load("../../examples/gatewatch.yaml", rules.SpecKinds())
	require.NoError(t, err)
	c := renderedCluster(t, s)
	me := Pod{Name: "gatewatch-0", Namespace: "monitoring", Labels: map[string]string{"app.kubernetes.io/name": "gatewatch"}}
	for _, tc := range []struct {
		port    int32
		allowed bool
	}{{443, true}, {6443, true}, {8080, false}} {
		v := c.Allowed(me, Target{IP: "198.51.100.1"}, intstr.FromInt32(tc.port), corev1.ProtocolTCP)
		require.Equal(t, tc.allowed, v.Allowed, "%d: %s", tc.port, v.Reason)
	}
}

// renderedCluster is the example's locked-down cluster (default deny in
// both directions in the monitoring, gateway and DNS namespaces; kube-dns
// accepting DNS from anywhere) with the standalone render's policies.
func renderedCluster(t *testing.T, s *spec.Spec) *Cluster {
	t.Helper()
	files, err := render.Render(s, render.TargetStandalone)
	require.NoError(t, err)
	c := &Cluster{}
	for _, ns := range []string{"monitoring", "istio-ingress", "kube-system"} {
		c.Policies = append(c.Policies, policy(ns, "default-deny", &metav1.LabelSelector{},
			[]networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}, nil, nil))
	}
	rendered := 0
	for _, f := range files {
		if !strings.HasPrefix(f.Name, "networkpolicy-") {
			continue
		}
		var np networkingv1.NetworkPolicy
		require.NoError(t, yaml.UnmarshalStrict(f.Content, &np), f.Name)
		c.Policies = append(c.Policies, np)
		rendered++
	}
	require.Equal(t, 10, rendered)
	c.Policies = append(c.Policies, policy("kube-system", "dns", sel("k8s-app", "kube-dns"), ingressT,
		[]networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{{Protocol: proto(corev1.ProtocolUDP), Port: num(53)}, {Port: num(53)}}}}, nil))
	return c
}

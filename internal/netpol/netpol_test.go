package netpol

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func sel(kv ...string) *metav1.LabelSelector {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return &metav1.LabelSelector{MatchLabels: m}
}

func proto(p corev1.Protocol) *corev1.Protocol { return &p }
func num(n int32) *intstr.IntOrString          { v := intstr.FromInt32(n); return &v }
func name(s string) *intstr.IntOrString        { v := intstr.FromString(s); return &v }

func policy(ns, n string, podSel *metav1.LabelSelector, types []networkingv1.PolicyType, in []networkingv1.NetworkPolicyIngressRule, eg []networkingv1.NetworkPolicyEgressRule) networkingv1.NetworkPolicy {
	return networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: n},
		Spec: networkingv1.NetworkPolicySpec{PodSelector: *podSel, PolicyTypes: types, Ingress: in, Egress: eg}}
}

var (
	ingressT = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	egressT  = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}

	db       = Pod{Name: "db", Namespace: "default", Labels: map[string]string{"role": "db"}, IP: "10.1.0.5", Ports: []corev1.ContainerPort{{Name: "redis", ContainerPort: 6379}}}
	frontend = Pod{Name: "frontend", Namespace: "default", Labels: map[string]string{"role": "frontend"}, IP: "10.1.0.6"}
	myproj   = Pod{Name: "app", Namespace: "myproject", Labels: map[string]string{"role": "app"}, IP: "10.1.1.7"}
	other    = Pod{Name: "app", Namespace: "other", Labels: map[string]string{"role": "frontend"}, IP: "10.1.2.8"}
	am       = Pod{Name: "alertmanager-0", Namespace: "monitoring", Labels: map[string]string{"app.kubernetes.io/name": "alertmanager"}, IP: "10.1.3.9"}
	coredns  = Pod{Name: "coredns", Namespace: "kube-system", Labels: map[string]string{"k8s-app": "kube-dns"}, IP: "10.1.4.2", Ports: []corev1.ContainerPort{{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP}, {Name: "dns-tcp", ContainerPort: 53}}}
	gateway  = Pod{Name: "istio-ingressgateway-0", Namespace: "istio-ingress", Labels: map[string]string{"app": "istio-ingressgateway"}, IP: "10.1.5.3",
		Ports: []corev1.ContainerPort{{Name: "http-envoy-prom", ContainerPort: 15090}, {Name: "https", ContainerPort: 8443}}}
	prom = Pod{Name: "prometheus-0", Namespace: "monitoring", Labels: map[string]string{"app.kubernetes.io/name": "prometheus"}, IP: "10.1.3.10"}
)

// docsExample is the test-network-policy of the Kubernetes documentation.
var docsExample = policy("default", "test-network-policy", sel("role", "db"),
	[]networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
	[]networkingv1.NetworkPolicyIngressRule{{
		From: []networkingv1.NetworkPolicyPeer{
			{IPBlock: &networkingv1.IPBlock{CIDR: "172.17.0.0/16", Except: []string{"172.17.1.0/24"}}},
			{NamespaceSelector: sel("project", "myproject")},
			{PodSelector: sel("role", "frontend")},
		},
		Ports: []networkingv1.NetworkPolicyPort{{Protocol: proto(corev1.ProtocolTCP), Port: num(6379)}},
	}},
	[]networkingv1.NetworkPolicyEgressRule{{
		To:    []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/24"}}},
		Ports: []networkingv1.NetworkPolicyPort{{Protocol: proto(corev1.ProtocolTCP), Port: num(5978)}},
	}})

func TestAllowed(t *testing.T) {
	namespaces := map[string]map[string]string{"myproject": {"project": "myproject"}, "other": {"project": "other"}}
	external := func(ip string) Target { return Target{IP: ip} }
	podT := func(p Pod) Target { return Target{Pod: &p} }
	dnsAllow := policy("monitoring", "allow-dns", sel("app.kubernetes.io/name", "alertmanager"), egressT, nil,
		[]networkingv1.NetworkPolicyEgressRule{{
			To:    []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("kubernetes.io/metadata.name", "kube-system"), PodSelector: sel("k8s-app", "kube-dns")}},
			Ports: []networkingv1.NetworkPolicyPort{{Protocol: proto(corev1.ProtocolUDP), Port: num(53)}, {Protocol: proto(corev1.ProtocolTCP), Port: num(53)}},
		}})
	denyEgress := policy("monitoring", "default-deny-egress", &metav1.LabelSelector{}, egressT, nil, nil)
	webhook := policy("monitoring", "allow-webhook", sel("app.kubernetes.io/name", "alertmanager"), egressT, nil,
		[]networkingv1.NetworkPolicyEgressRule{{
			To:    []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("kubernetes.io/metadata.name", "istio-ingress"), PodSelector: sel("app", "istio-ingressgateway")}},
			Ports: []networkingv1.NetworkPolicyPort{{Port: num(443)}, {Port: num(8443)}},
		}})

	for _, tc := range []struct {
		name     string
		policies []networkingv1.NetworkPolicy
		from     Pod
		to       Target
		port     intstr.IntOrString
		protocol corev1.Protocol
		allowed  bool
		reason   string
	}{
		{"no policies: everything allowed", nil, frontend, podT(db), intstr.FromInt32(6379), "", true, "not isolated"},
		{"docs example: frontend pod to db on 6379", []networkingv1.NetworkPolicy{docsExample}, frontend, podT(db), intstr.FromInt32(6379), "", true, "ingress allowed by default/test-network-policy"},
		{"docs example: wrong port", []networkingv1.NetworkPolicy{docsExample}, frontend, podT(db), intstr.FromInt32(6380), "", false, "isolated for ingress by default/test-network-policy"},
		{"docs example: UDP is not TCP", []networkingv1.NetworkPolicy{docsExample}, frontend, podT(db), intstr.FromInt32(6379), corev1.ProtocolUDP, false, "denied"},
		{"docs example: any pod of namespace myproject", []networkingv1.NetworkPolicy{docsExample}, myproj, podT(db), intstr.FromInt32(6379), "", true, ""},
		{"docs example: frontend of another namespace is not selected", []networkingv1.NetworkPolicy{docsExample}, other, podT(db), intstr.FromInt32(6379), "", false, "denied"},
		{"docs example: named port resolves on the destination", []networkingv1.NetworkPolicy{docsExample}, frontend, podT(db), intstr.FromString("redis"), "", true, ""},
		{"docs example: db egress to 10.0.0.0/24:5978", []networkingv1.NetworkPolicy{docsExample}, db, external("10.0.0.7"), intstr.FromInt32(5978), "", true, "egress allowed by default/test-network-policy"},
		{"docs example: db egress elsewhere denied", []networkingv1.NetworkPolicy{docsExample}, db, external("10.0.1.7"), intstr.FromInt32(5978), "", false, "isolated for egress"},
		{"default deny egress without DNS", []networkingv1.NetworkPolicy{denyEgress, webhook}, am, podT(coredns), intstr.FromInt32(53), corev1.ProtocolUDP, false, "monitoring/allow-webhook, monitoring/default-deny-egress"},
		{"egress DNS over UDP", []networkingv1.NetworkPolicy{denyEgress, dnsAllow}, am, podT(coredns), intstr.FromInt32(53), corev1.ProtocolUDP, true, "monitoring/allow-dns"},
		{"egress DNS over TCP", []networkingv1.NetworkPolicy{denyEgress, dnsAllow}, am, podT(coredns), intstr.FromInt32(53), corev1.ProtocolTCP, true, ""},
		{"webhook via the gateway pod port", []networkingv1.NetworkPolicy{denyEgress, webhook}, am, podT(gateway), intstr.FromInt32(8443), "", true, "monitoring/allow-webhook"},
		{"webhook on another port", []networkingv1.NetworkPolicy{denyEgress, webhook}, am, podT(gateway), intstr.FromInt32(80), "", false, "denied"},
		{"egress policy does not isolate other pods", []networkingv1.NetworkPolicy{webhook}, prom, podT(gateway), intstr.FromInt32(15090), "", true, "not isolated for egress"},
		{"policyTypes default: egress rules only still isolate ingress", []networkingv1.NetworkPolicy{
			policy("istio-ingress", "egress-only", sel("app", "istio-ingressgateway"), nil, nil, []networkingv1.NetworkPolicyEgressRule{{}}),
		}, prom, podT(gateway), intstr.FromInt32(15090), "", false, "isolated for ingress by istio-ingress/egress-only"},
		{"allow same namespace only", []networkingv1.NetworkPolicy{
			policy("default", "same-ns", &metav1.LabelSelector{}, ingressT, []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}}}, nil),
		}, other, podT(db), intstr.FromInt32(6379), "", false, "denied"},
		{"allow same namespace: same namespace", []networkingv1.NetworkPolicy{
			policy("default", "same-ns", &metav1.LabelSelector{}, ingressT, []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}}}, nil),
		}, frontend, podT(db), intstr.FromInt32(6379), "", true, ""},
		{"namespace AND pod selector in one peer", []networkingv1.NetworkPolicy{
			policy("istio-ingress", "scrape", sel("app", "istio-ingressgateway"), ingressT, []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("kubernetes.io/metadata.name", "monitoring"), PodSelector: sel("app.kubernetes.io/name", "prometheus")}},
				Ports: []networkingv1.NetworkPolicyPort{{Port: name("http-envoy-prom")}},
			}}, nil),
		}, am, podT(gateway), intstr.FromInt32(15090), "", false, "denied"},
		{"named port in the rule resolves on the gateway pod", []networkingv1.NetworkPolicy{
			policy("istio-ingress", "scrape", sel("app", "istio-ingressgateway"), ingressT, []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("kubernetes.io/metadata.name", "monitoring"), PodSelector: sel("app.kubernetes.io/name", "prometheus")}},
				Ports: []networkingv1.NetworkPolicyPort{{Port: name("http-envoy-prom")}},
			}}, nil),
		}, prom, podT(gateway), intstr.FromInt32(15090), "", true, "istio-ingress/scrape"},
		{"ipBlock except", []networkingv1.NetworkPolicy{denyEgress,
			policy("monitoring", "to-mattermost", sel("app.kubernetes.io/name", "alertmanager"), egressT, nil, []networkingv1.NetworkPolicyEgressRule{{
				To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "203.0.113.0/24", Except: []string{"203.0.113.128/25"}}}},
			}}),
		}, am, external("203.0.113.200"), intstr.FromInt32(443), "", false, "denied"},
		{"ipBlock inside", []networkingv1.NetworkPolicy{denyEgress,
			policy("monitoring", "to-mattermost", sel("app.kubernetes.io/name", "alertmanager"), egressT, nil, []networkingv1.NetworkPolicyEgressRule{{
				To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "203.0.113.0/24", Except: []string{"203.0.113.128/25"}}}},
			}}),
		}, am, external("203.0.113.10"), intstr.FromInt32(443), "", true, "monitoring/to-mattermost"},
		{"endPort range", []networkingv1.NetworkPolicy{denyEgress,
			policy("monitoring", "range", &metav1.LabelSelector{}, egressT, nil, []networkingv1.NetworkPolicyEgressRule{{
				Ports: []networkingv1.NetworkPolicyPort{{Port: num(32000), EndPort: func() *int32 { v := int32(32768); return &v }()}},
			}}),
		}, am, external("198.51.100.1"), intstr.FromInt32(32500), "", true, ""},
		{"endPort range: outside", []networkingv1.NetworkPolicy{denyEgress,
			policy("monitoring", "range", &metav1.LabelSelector{}, egressT, nil, []networkingv1.NetworkPolicyEgressRule{{
				Ports: []networkingv1.NetworkPolicyPort{{Port: num(32000), EndPort: func() *int32 { v := int32(32768); return &v }()}},
			}}),
		}, am, external("198.51.100.1"), intstr.FromInt32(33000), "", false, ""},
		{"SCTP", []networkingv1.NetworkPolicy{denyEgress,
			policy("monitoring", "sctp", &metav1.LabelSelector{}, egressT, nil, []networkingv1.NetworkPolicyEgressRule{{
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: proto(corev1.ProtocolSCTP), Port: num(9999)}},
			}}),
		}, am, external("198.51.100.1"), intstr.FromInt32(9999), corev1.ProtocolSCTP, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Cluster{Namespaces: namespaces, Policies: tc.policies}
			v := c.Allowed(tc.from, tc.to, tc.port, tc.protocol)
			require.Equal(t, tc.allowed, v.Allowed, v.Reason)
			require.Contains(t, v.Reason, tc.reason)
			switch {
			case v.Allowed:
				require.Empty(t, v.Denied)
			case strings.HasPrefix(v.Reason, "egress"):
				require.Equal(t, networkingv1.PolicyTypeEgress, v.Denied)
			default:
				require.Equal(t, networkingv1.PolicyTypeIngress, v.Denied)
			}
		})
	}
}

package render

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gatewatch/gatewatch/internal/spec"
)

// netpolHeader explains what the policies assume.
const netpolHeader = `# NetworkPolicy for the alert path. Rendered because cluster.default_deny says
# the namespaces involved deny this direction by default: there it only adds
# an allowance. (In a namespace without a default-deny policy, a policy that
# selects pods isolates them; that is why gatewatch renders none by default.)
`

func selector(sel string) (*metav1.LabelSelector, error) {
	if sel == "" {
		return &metav1.LabelSelector{}, nil
	}
	return metav1.ParseToLabelSelector(sel)
}

func nsSelector(ns string) *metav1.LabelSelector {
	// kubernetes.io/metadata.name is set on every namespace by the API server (1.21+).
	return &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}}
}

func protoPtr(p corev1.Protocol) *corev1.Protocol { return &p }

func portNum(n int) *intstr.IntOrString {
	v := intstr.FromInt32(int32(n))
	return &v
}

func statsPort(p spec.Port) *intstr.IntOrString {
	if p.Name != "" {
		v := intstr.FromString(p.Name)
		return &v
	}
	return portNum(p.Number)
}

func netpol(s *spec.Spec, name, ns string, podSel *metav1.LabelSelector, types []networkingv1.PolicyType) networkingv1.NetworkPolicy {
	return networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: managedLabels(s, false)},
		Spec:       networkingv1.NetworkPolicySpec{PodSelector: *podSel, PolicyTypes: types},
	}
}

// networkPolicies returns the policies for the whole alert path:
// Prometheus → gateway stats port (egress on Prometheus, ingress on the
// gateway), Alertmanager → the webhook path (gateway pods on the Service
// port and the pod port behind it, or the Mattermost CIDRs), Alertmanager →
// kube-dns on 53 UDP and TCP (an egress policy that forgets DNS breaks the
// webhook too), and the gateway's ingress from Alertmanager.
func networkPolicies(s *spec.Spec) ([]File, error) {
	c := s.Cluster
	promPods, err := selector(c.Prometheus.PodSelector)
	if err != nil {
		return nil, err
	}
	amPods, err := selector(c.Alertmanager.PodSelector)
	if err != nil {
		return nil, err
	}
	var files []File
	add := func(np networkingv1.NetworkPolicy) error {
		direction := "egress"
		if np.Spec.PolicyTypes[0] == networkingv1.PolicyTypeIngress {
			direction = "ingress"
		}
		if !c.Denies(direction) {
			return nil
		}
		f, err := file(fmt.Sprintf("networkpolicy-%s-%s.yaml", np.Namespace, np.Name), netpolHeader, np)
		files = append(files, f)
		return err
	}
	tcp := protoPtr(corev1.ProtocolTCP)

	// Prometheus → gateway pods' stats port.
	egress := netpol(s, "gatewatch-prometheus-scrape-gateways", c.Prometheus.Namespace, promPods, []networkingv1.PolicyType{networkingv1.PolicyTypeEgress})
	if egress.Spec.Egress, err = scrapeEgressRules(s); err != nil {
		return nil, err
	}
	for _, g := range s.Gateways {
		if g.Selector == "" {
			continue
		}
		gw, err := selector(g.Selector)
		if err != nil {
			return nil, err
		}
		ingress := netpol(s, "gatewatch-allow-prometheus-scrape", g.Namespace, gw, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress})
		ingress.Name = "gatewatch-" + g.Name + "-allow-prometheus-scrape"
		ingress.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{
			From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: nsSelector(c.Prometheus.Namespace), PodSelector: promPods}},
			Ports: []networkingv1.NetworkPolicyPort{{Protocol: tcp, Port: statsPort(g.Stats.Port)}},
		}}
		if err := add(ingress); err != nil {
			return nil, err
		}
	}
	if len(egress.Spec.Egress) > 0 {
		if err := add(egress); err != nil {
			return nil, err
		}
	}

	// Alertmanager → webhook path.
	web := netpol(s, "gatewatch-alertmanager-egress-webhook", c.Alertmanager.Namespace, amPods, []networkingv1.PolicyType{networkingv1.PolicyTypeEgress})
	web.Spec.Egress, err = webhookEgressRules(s)
	if err != nil {
		return nil, err
	}
	if len(web.Spec.Egress) > 0 {
		if err := add(web); err != nil {
			return nil, err
		}
	}
	if w := c.WebhookPath; w.Via == spec.ViaGateway && w.Gateway.PodSelector != "" {
		gw, err := selector(w.Gateway.PodSelector)
		if err != nil {
			return nil, err
		}
		in := netpol(s, "gatewatch-allow-alertmanager-webhook", w.Gateway.Namespace, gw, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress})
		in.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{
			From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: nsSelector(c.Alertmanager.Namespace), PodSelector: amPods}},
			Ports: webhookPorts(w),
		}}
		if err := add(in); err != nil {
			return nil, err
		}
	}

	// Alertmanager → cluster DNS, UDP and TCP (large answers fall back to TCP).
	dns := netpol(s, "gatewatch-alertmanager-egress-dns", c.Alertmanager.Namespace, amPods, []networkingv1.PolicyType{networkingv1.PolicyTypeEgress})
	dns.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{dnsEgressRule(s)}
	if err := add(dns); err != nil {
		return nil, err
	}
	return files, nil
}

// webhookPorts are the gateway ports on the webhook path. NetworkPolicy is
// enforced on pod addresses after the Service translation, so the pod port
// (target_port) is what must be allowed; the Service port is listed too for
// CNIs and gateways that listen on it directly.
func webhookPorts(w spec.WebhookPath) []networkingv1.NetworkPolicyPort {
	tcp := protoPtr(corev1.ProtocolTCP)
	ports := []networkingv1.NetworkPolicyPort{{Protocol: tcp, Port: portNum(w.Gateway.Port)}}
	if w.Gateway.TargetPort != w.Gateway.Port {
		ports = append(ports, networkingv1.NetworkPolicyPort{Protocol: tcp, Port: portNum(w.Gateway.TargetPort)})
	}
	return ports
}

// webhookEgressRules allow the path to Mattermost: the in-cluster gateway's
// pods, or the Mattermost CIDRs. None when there are no gateway pods to
// select (static targets only).
func webhookEgressRules(s *spec.Spec) ([]networkingv1.NetworkPolicyEgressRule, error) {
	w := s.Cluster.WebhookPath
	switch {
	case w.Via == spec.ViaGateway && w.Gateway.PodSelector != "":
		gw, err := selector(w.Gateway.PodSelector)
		if err != nil {
			return nil, err
		}
		return []networkingv1.NetworkPolicyEgressRule{{
			To:    []networkingv1.NetworkPolicyPeer{{NamespaceSelector: nsSelector(w.Gateway.Namespace), PodSelector: gw}},
			Ports: webhookPorts(w),
		}}, nil
	case w.Via == spec.ViaDirect:
		var peers []networkingv1.NetworkPolicyPeer
		for _, cidr := range w.CIDRs {
			peers = append(peers, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: cidr}})
		}
		return []networkingv1.NetworkPolicyEgressRule{{
			To:    peers,
			Ports: []networkingv1.NetworkPolicyPort{{Protocol: protoPtr(corev1.ProtocolTCP), Port: portNum(w.Port)}},
		}}, nil
	}
	return nil, nil
}

// dnsEgressRule allows kube-dns on 53, UDP and TCP: an egress policy that
// forgets DNS breaks the webhook too.
func dnsEgressRule(s *spec.Spec) networkingv1.NetworkPolicyEgressRule {
	dnsPods, _ := selector(s.Cluster.DNS.PodSelector) // validated by spec
	return networkingv1.NetworkPolicyEgressRule{
		To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: nsSelector(s.Cluster.DNS.Namespace), PodSelector: dnsPods}},
		Ports: []networkingv1.NetworkPolicyPort{
			{Protocol: protoPtr(corev1.ProtocolUDP), Port: portNum(53)},
			{Protocol: protoPtr(corev1.ProtocolTCP), Port: portNum(53)},
		},
	}
}

// scrapeEgressRules allow reaching every gateway's stats port.
func scrapeEgressRules(s *spec.Spec) ([]networkingv1.NetworkPolicyEgressRule, error) {
	var out []networkingv1.NetworkPolicyEgressRule
	for _, g := range s.Gateways {
		if g.Selector == "" {
			continue
		}
		gw, err := selector(g.Selector)
		if err != nil {
			return nil, err
		}
		out = append(out, networkingv1.NetworkPolicyEgressRule{
			To:    []networkingv1.NetworkPolicyPeer{{NamespaceSelector: nsSelector(g.Namespace), PodSelector: gw}},
			Ports: []networkingv1.NetworkPolicyPort{{Protocol: protoPtr(corev1.ProtocolTCP), Port: statsPort(g.Stats.Port)}},
		})
	}
	return out, nil
}

package render

import (
	"fmt"
	"net"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gatewatch/gatewatch/internal/spec"
)

// netpolHeader explains what the policies assume.
const netpolHeader = `# NetworkPolicy for the alert path. Rendered because cluster.default_deny says
# the namespaces involved deny this direction by default: there it only adds
# an allowance. (In a namespace without a default-deny policy, a policy that
# selects pods isolates them; that is why gatewatch renders none by default.)
`

// selector is a kubectl-style label selector as a LabelSelector, as
// metav1.ParseToLabelSelector makes it, except that "key!=value" (which
// that function refuses, though kubectl and `gatewatch check` take it)
// becomes NotIn [value]: the same pods.
func selector(sel string) (*metav1.LabelSelector, error) {
	out := &metav1.LabelSelector{}
	if sel == "" {
		return out, nil
	}
	parsed, err := labels.Parse(sel)
	if err != nil {
		return nil, err
	}
	reqs, _ := parsed.Requirements()
	for _, r := range reqs {
		var op metav1.LabelSelectorOperator
		switch r.Operator() {
		case selection.Equals, selection.DoubleEquals:
			if out.MatchLabels == nil {
				out.MatchLabels = map[string]string{}
			}
			v, _ := r.Values().PopAny()
			out.MatchLabels[r.Key()] = v
			continue
		case selection.In:
			op = metav1.LabelSelectorOpIn
		case selection.NotIn, selection.NotEquals:
			op = metav1.LabelSelectorOpNotIn
		case selection.Exists:
			op = metav1.LabelSelectorOpExists
		case selection.DoesNotExist:
			op = metav1.LabelSelectorOpDoesNotExist
		default:
			return nil, fmt.Errorf("label selector %q: %q has no pod-selector form", sel, r.Operator())
		}
		req := metav1.LabelSelectorRequirement{Key: r.Key(), Operator: op}
		if vals := r.Values().List(); len(vals) > 0 {
			req.Values = vals
		}
		out.MatchExpressions = append(out.MatchExpressions, req)
	}
	return out, nil
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
// port and the pod port behind it, or the Mattermost CIDRs) and the
// gateway's ingress from Alertmanager — or, when Alertmanager posts through
// the bridge, Alertmanager → the bridge's port, both sides — and
// Alertmanager → kube-dns on 53 UDP and TCP (an egress policy that forgets
// DNS breaks the webhook too).
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

	// Alertmanager → the bridge, which posts to Mattermost (its own paths
	// are render --target bridge's) ...
	if throughBridge(s) {
		nps, err := alertmanagerBridgePolicies(s)
		if err != nil {
			return nil, err
		}
		for _, np := range nps {
			if err := add(np); err != nil {
				return nil, err
			}
		}
	} else {
		// ... or → the webhook path.
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
	}

	// Alertmanager → cluster DNS, UDP and TCP (large answers fall back to TCP).
	dns, err := alertmanagerDNSPolicy(s)
	if err != nil {
		return nil, err
	}
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

// apiServerEgressRule allows the Kubernetes API server: cluster.api_server's
// CIDRs on its ports, or any address on them when no CIDR is given.
func apiServerEgressRule(s *spec.Spec) networkingv1.NetworkPolicyEgressRule {
	api := networkingv1.NetworkPolicyEgressRule{}
	for _, cidr := range s.Cluster.APIServer.CIDRs {
		api.To = append(api.To, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: cidr}})
	}
	for _, p := range s.Cluster.APIServer.Ports {
		api.Ports = append(api.Ports, networkingv1.NetworkPolicyPort{Protocol: protoPtr(corev1.ProtocolTCP), Port: portNum(p)})
	}
	return api
}

// webFromPolicies let the peers in to port on the pods me selects in ns:
// one ingress policy allowName there, and for each pod peer an egress
// policy clientName (-2, -3, … for more peers of one namespace) in its
// namespace.
func webFromPolicies(s *spec.Spec, ns string, me *metav1.LabelSelector, peers []spec.Peer, port int, clientName, allowName string) (egress, ingress []networkingv1.NetworkPolicy, err error) {
	ports := []networkingv1.NetworkPolicyPort{{Protocol: protoPtr(corev1.ProtocolTCP), Port: portNum(port)}}
	fromMe := []networkingv1.NetworkPolicyPeer{{NamespaceSelector: nsSelector(ns), PodSelector: me}}
	var from []networkingv1.NetworkPolicyPeer
	clients := map[string]int{}
	for _, p := range peers {
		if p.Namespace == "" {
			for _, cidr := range p.CIDRs {
				from = append(from, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: cidr}})
			}
			continue
		}
		pods, err := selector(p.PodSelector)
		if err != nil {
			return nil, nil, err
		}
		from = append(from, networkingv1.NetworkPolicyPeer{NamespaceSelector: nsSelector(p.Namespace), PodSelector: pods})
		name := clientName
		if clients[p.Namespace]++; clients[p.Namespace] > 1 {
			name = fmt.Sprintf("%s-%d", name, clients[p.Namespace])
		}
		np := netpol(s, name, p.Namespace, pods, []networkingv1.PolicyType{networkingv1.PolicyTypeEgress})
		np.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{To: fromMe, Ports: ports}}
		egress = append(egress, np)
	}
	if len(from) > 0 {
		np := netpol(s, allowName, ns, me, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress})
		np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: from, Ports: ports}}
		ingress = append(ingress, np)
	}
	return egress, ingress, nil
}

// scrapeEgressRules allow reaching every gateway's stats port: its pods,
// and its static targets given as addresses (a name cannot be allowed;
// check warns).
func scrapeEgressRules(s *spec.Spec) ([]networkingv1.NetworkPolicyEgressRule, error) {
	var out []networkingv1.NetworkPolicyEgressRule
	for _, g := range s.Gateways {
		for _, t := range g.StaticTargets {
			host, port, err := net.SplitHostPort(t)
			ip := net.ParseIP(host)
			if err != nil || ip == nil {
				continue
			}
			n, _ := strconv.Atoi(port) // validated by spec
			bits := "/32"
			if ip.To4() == nil {
				bits = "/128"
			}
			out = append(out, networkingv1.NetworkPolicyEgressRule{
				To:    []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: ip.String() + bits}}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: protoPtr(corev1.ProtocolTCP), Port: portNum(n)}},
			})
		}
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

// standalonePolicies are the NetworkPolicies of every path gatewatch itself
// needs, for the directions cluster.default_deny denies, one policy per
// path and side so that a missing one names its path:
//
//   - scrape: gatewatch → each gateway's stats port (egress here, ingress
//     in the gateway's namespace);
//   - webhook: gatewatch → the webhook path (egress here; for the
//     in-cluster gateway, its ingress too);
//   - DNS: gatewatch → kube-dns on 53 UDP and TCP;
//   - the Kubernetes API (discovery): cluster.api_server's CIDRs on its
//     ports, or any address on them when no CIDR is given;
//   - gossip: gatewatch ↔ gatewatch on GossipPort, TCP and UDP (egress and
//     ingress);
//   - web: cluster.standalone.web_from → gatewatch's web port (ingress here;
//     egress in each pod peer's namespace).
//
// Kubelet probes need no rule: traffic from a pod's own node is always
// allowed.
func standalonePolicies(s *spec.Spec, ns string) ([]networkingv1.NetworkPolicy, error) {
	c := s.Cluster
	me := &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": standaloneName}}
	tcp, udp := protoPtr(corev1.ProtocolTCP), protoPtr(corev1.ProtocolUDP)
	gossipPorts := []networkingv1.NetworkPolicyPort{{Protocol: tcp, Port: portNum(GossipPort)}, {Protocol: udp, Port: portNum(GossipPort)}}
	fromMe := []networkingv1.NetworkPolicyPeer{{NamespaceSelector: nsSelector(ns), PodSelector: me}}
	egressT := []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
	ingressT := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}

	var egress, ingress []networkingv1.NetworkPolicy
	eg := func(name string, rules ...networkingv1.NetworkPolicyEgressRule) {
		if len(rules) == 0 {
			return
		}
		np := netpol(s, name, ns, me, egressT)
		np.Spec.Egress = rules
		egress = append(egress, np)
	}
	scrape, err := scrapeEgressRules(s)
	if err != nil {
		return nil, err
	}
	eg("gatewatch-egress-scrape", scrape...)
	web, err := webhookEgressRules(s)
	if err != nil {
		return nil, err
	}
	eg("gatewatch-egress-webhook", web...)
	eg("gatewatch-egress-dns", dnsEgressRule(s))
	eg("gatewatch-egress-kube-api", apiServerEgressRule(s))
	eg("gatewatch-egress-gossip", networkingv1.NetworkPolicyEgressRule{
		To: []networkingv1.NetworkPolicyPeer{{PodSelector: me}}, Ports: gossipPorts,
	})

	// The gateways let gatewatch in to their stats ports.
	for _, g := range s.Gateways {
		if g.Selector == "" {
			continue
		}
		gw, err := selector(g.Selector)
		if err != nil {
			return nil, err
		}
		np := netpol(s, "gatewatch-"+g.Name+"-allow-gatewatch-scrape", g.Namespace, gw, ingressT)
		np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: fromMe, Ports: []networkingv1.NetworkPolicyPort{{Protocol: tcp, Port: statsPort(g.Stats.Port)}}}}
		ingress = append(ingress, np)
	}
	// The in-cluster gateway on the webhook path lets gatewatch in.
	if w := c.WebhookPath; w.Via == spec.ViaGateway && w.Gateway.PodSelector != "" {
		gw, err := selector(w.Gateway.PodSelector)
		if err != nil {
			return nil, err
		}
		np := netpol(s, "gatewatch-allow-gatewatch-webhook", w.Gateway.Namespace, gw, ingressT)
		np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: fromMe, Ports: webhookPorts(w)}}
		ingress = append(ingress, np)
	}
	gossipIn := netpol(s, "gatewatch-allow-gossip", ns, me, ingressT)
	gossipIn.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: me}}, Ports: gossipPorts}}
	ingress = append(ingress, gossipIn)

	// The web port, from the configured peers; pod peers' egress to it.
	webEgress, webIngress, err := webFromPolicies(s, ns, me, c.Standalone.WebFrom, StandalonePort, "gatewatch-web-client", "gatewatch-allow-web")
	if err != nil {
		return nil, err
	}
	egress, ingress = append(egress, webEgress...), append(ingress, webIngress...)

	return deniedOnly(c, ingress, egress), nil
}

// deniedOnly keeps the policies of the directions cluster.default_deny
// denies: elsewhere a policy that selects pods would isolate them.
func deniedOnly(c spec.Cluster, ingress, egress []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
	var out []networkingv1.NetworkPolicy
	if c.Denies("ingress") {
		out = append(out, ingress...)
	}
	if c.Denies("egress") {
		out = append(out, egress...)
	}
	return out
}

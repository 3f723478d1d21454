// Package netpol evaluates Kubernetes NetworkPolicy semantics: may a
// connection from one pod reach another pod (or an address outside the
// cluster) on a port? It follows the NetworkPolicy API: a pod is isolated
// for a direction only when a policy selecting it has that policy type; an
// isolated pod's traffic is allowed when any rule of any selecting policy
// allows it; a connection needs the source's egress and the destination's
// ingress. https://kubernetes.io/docs/concepts/services-networking/network-policies/
package netpol

import (
	"fmt"
	"net"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Pod is what policies match on.
type Pod struct {
	Name, Namespace string
	Labels          map[string]string
	IP              string
	// Ports are the container ports, to resolve named ports.
	Ports []corev1.ContainerPort
}

func (p Pod) String() string { return p.Namespace + "/" + p.Name }

// Cluster is the set of namespaces (with labels) and policies.
type Cluster struct {
	// Namespaces maps a name to its labels. A namespace missing here still
	// carries kubernetes.io/metadata.name, as the API server sets it.
	Namespaces map[string]map[string]string
	Policies   []networkingv1.NetworkPolicy
}

// Verdict is the answer for one connection.
type Verdict struct {
	Allowed bool
	// Reason says why, naming the policies involved.
	Reason string
	// EgressBy and IngressBy name the policies that allowed each side
	// (empty when that side is not isolated).
	EgressBy, IngressBy []string
	// Denied is the side that denied a connection that is not allowed:
	// the source's egress or the destination's ingress.
	Denied networkingv1.PolicyType
}

// Target is the destination: a pod, or an address outside the cluster.
type Target struct {
	Pod *Pod
	IP  string
}

// Allowed decides whether from may open a connection to to on port/protocol.
// port is a number or, for a pod destination, a container port name.
func (c *Cluster) Allowed(from Pod, to Target, port intstr.IntOrString, protocol corev1.Protocol) Verdict {
	if protocol == "" {
		protocol = corev1.ProtocolTCP
	}
	desc := fmt.Sprintf("%s %s", protocol, port.String())
	dest := to.IP
	if to.Pod != nil {
		dest = to.Pod.String()
	}
	var v Verdict
	eg, egIsolated := c.allows(from, to, port, protocol, networkingv1.PolicyTypeEgress)
	v.EgressBy = eg
	if egIsolated && len(eg) == 0 {
		v.Denied = networkingv1.PolicyTypeEgress
		v.Reason = fmt.Sprintf("egress from %s to %s on %s is denied: %s is isolated for egress by %s and none of their rules allows it",
			from, dest, desc, from, strings.Join(c.selecting(from, networkingv1.PolicyTypeEgress), ", "))
		return v
	}
	if to.Pod != nil {
		in, inIsolated := c.allows(*to.Pod, Target{Pod: &from}, port, protocol, networkingv1.PolicyTypeIngress)
		v.IngressBy = in
		if inIsolated && len(in) == 0 {
			v.Denied = networkingv1.PolicyTypeIngress
			v.Reason = fmt.Sprintf("ingress to %s from %s on %s is denied: %s is isolated for ingress by %s and none of their rules allows it",
				dest, from, desc, dest, strings.Join(c.selecting(*to.Pod, networkingv1.PolicyTypeIngress), ", "))
			return v
		}
	}
	v.Allowed = true
	var parts []string
	if len(v.EgressBy) > 0 {
		parts = append(parts, "egress allowed by "+strings.Join(v.EgressBy, ", "))
	} else {
		parts = append(parts, from.String()+" is not isolated for egress")
	}
	if to.Pod != nil {
		if len(v.IngressBy) > 0 {
			parts = append(parts, "ingress allowed by "+strings.Join(v.IngressBy, ", "))
		} else {
			parts = append(parts, to.Pod.String()+" is not isolated for ingress")
		}
	}
	v.Reason = strings.Join(parts, "; ")
	return v
}

// policyTypes applies the defaulting rules: Ingress always, Egress when the
// policy has egress rules, unless policyTypes is set.
func policyTypes(p networkingv1.NetworkPolicy) []networkingv1.PolicyType {
	if len(p.Spec.PolicyTypes) > 0 {
		return p.Spec.PolicyTypes
	}
	t := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	if len(p.Spec.Egress) > 0 {
		t = append(t, networkingv1.PolicyTypeEgress)
	}
	return t
}

func hasType(p networkingv1.NetworkPolicy, t networkingv1.PolicyType) bool {
	for _, x := range policyTypes(p) {
		if x == t {
			return true
		}
	}
	return false
}

func selectorMatches(sel *metav1.LabelSelector, lbls map[string]string) bool {
	if sel == nil {
		return true
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false // an invalid selector selects nothing (the API rejects it)
	}
	return s.Matches(labels.Set(lbls))
}

// selecting names the policies of type t that select pod.
func (c *Cluster) selecting(pod Pod, t networkingv1.PolicyType) []string {
	var out []string
	for _, p := range c.Policies {
		if p.Namespace == pod.Namespace && hasType(p, t) && selectorMatches(&p.Spec.PodSelector, pod.Labels) {
			out = append(out, p.Namespace+"/"+p.Name)
		}
	}
	sort.Strings(out)
	return out
}

// allows returns the policies of direction t selecting subject whose rules
// allow the traffic to/from peer, and whether subject is isolated for t.
func (c *Cluster) allows(subject Pod, peer Target, port intstr.IntOrString, protocol corev1.Protocol, t networkingv1.PolicyType) (by []string, isolated bool) {
	// Named ports resolve against the destination pod: for egress the peer,
	// for ingress the subject.
	var dst *Pod
	if t == networkingv1.PolicyTypeEgress {
		dst = peer.Pod
	} else {
		dst = &subject
	}
	for _, p := range c.Policies {
		if p.Namespace != subject.Namespace || !hasType(p, t) || !selectorMatches(&p.Spec.PodSelector, subject.Labels) {
			continue
		}
		isolated = true
		if t == networkingv1.PolicyTypeEgress {
			for _, r := range p.Spec.Egress {
				if c.peersMatch(r.To, p.Namespace, peer) && portsMatch(r.Ports, port, protocol, dst) {
					by = append(by, p.Namespace+"/"+p.Name)
					break
				}
			}
		} else {
			for _, r := range p.Spec.Ingress {
				if c.peersMatch(r.From, p.Namespace, peer) && portsMatch(r.Ports, port, protocol, dst) {
					by = append(by, p.Namespace+"/"+p.Name)
					break
				}
			}
		}
	}
	sort.Strings(by)
	return by, isolated
}

func (c *Cluster) nsLabels(ns string) map[string]string {
	l := map[string]string{}
	for k, v := range c.Namespaces[ns] {
		l[k] = v
	}
	l["kubernetes.io/metadata.name"] = ns
	return l
}

// peersMatch: an empty list matches everything; otherwise any peer.
func (c *Cluster) peersMatch(peers []networkingv1.NetworkPolicyPeer, policyNS string, t Target) bool {
	if len(peers) == 0 {
		return true
	}
	for _, p := range peers {
		if c.peerMatches(p, policyNS, t) {
			return true
		}
	}
	return false
}

func (c *Cluster) peerMatches(p networkingv1.NetworkPolicyPeer, policyNS string, t Target) bool {
	if p.IPBlock != nil {
		ip := t.IP
		if t.Pod != nil {
			ip = t.Pod.IP
		}
		return ipBlockMatches(p.IPBlock, ip)
	}
	if t.Pod == nil {
		return false // pod and namespace selectors only select pods
	}
	pod := t.Pod
	switch {
	case p.NamespaceSelector != nil && p.PodSelector != nil:
		return selectorMatches(p.NamespaceSelector, c.nsLabels(pod.Namespace)) && selectorMatches(p.PodSelector, pod.Labels)
	case p.NamespaceSelector != nil:
		return selectorMatches(p.NamespaceSelector, c.nsLabels(pod.Namespace))
	case p.PodSelector != nil:
		return pod.Namespace == policyNS && selectorMatches(p.PodSelector, pod.Labels)
	}
	return false
}

func ipBlockMatches(b *networkingv1.IPBlock, ip string) bool {
	addr := net.ParseIP(ip)
	if addr == nil {
		return false
	}
	_, cidr, err := net.ParseCIDR(b.CIDR)
	if err != nil || !cidr.Contains(addr) {
		return false
	}
	for _, ex := range b.Except {
		if _, e, err := net.ParseCIDR(ex); err == nil && e.Contains(addr) {
			return false
		}
	}
	return true
}

// portsMatch: an empty list matches every port and protocol.
func portsMatch(ports []networkingv1.NetworkPolicyPort, port intstr.IntOrString, protocol corev1.Protocol, dst *Pod) bool {
	if len(ports) == 0 {
		return true
	}
	want, ok := resolve(port, protocol, dst)
	for _, p := range ports {
		proto := corev1.ProtocolTCP
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		if proto != protocol {
			continue
		}
		if p.Port == nil {
			return true // all ports of that protocol
		}
		rulePort, rok := resolve(*p.Port, proto, dst)
		if !rok || !ok {
			// An unresolvable named port can still match by name.
			if p.Port.Type == intstr.String && port.Type == intstr.String && p.Port.StrVal == port.StrVal {
				return true
			}
			continue
		}
		end := rulePort
		if p.EndPort != nil && p.Port.Type == intstr.Int {
			end = *p.EndPort
		}
		if want >= rulePort && want <= end {
			return true
		}
	}
	return false
}

// resolve turns a port number or name into a number, names against the
// destination pod's container ports.
func resolve(p intstr.IntOrString, protocol corev1.Protocol, dst *Pod) (int32, bool) {
	if p.Type == intstr.Int {
		return p.IntVal, true
	}
	if dst == nil {
		return 0, false
	}
	for _, cp := range dst.Ports {
		proto := cp.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		if cp.Name == p.StrVal && proto == protocol {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

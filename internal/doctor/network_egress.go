package doctor

import (
	"context"
	"fmt"
	"net"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gatewatch/gatewatch/internal/netpol"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// networkEgress (network/egress): NetworkPolicies let the sender's pods —
// Alertmanager's for the stack, gatewatch's for its own deployment, the
// bridge's for its deployment — reach the webhook path (and the in-cluster
// gateway let them in) AND kube-dns on 53 UDP and TCP.
type networkEgress struct{}

func (networkEgress) ID() string { return "network/egress" }
func (networkEgress) Title() string {
	return "NetworkPolicies allow Alertmanager (or gatewatch, or its bridge) → webhook path and DNS"
}
func (networkEgress) Offline() bool { return true }

func (networkEgress) Run(ctx context.Context, env *Env) Result {
	c, err := env.cluster(ctx)
	if err != nil {
		return skip(err.Error())
	}
	who, err := senders(ctx, env)
	if err != nil {
		return skip(err.Error())
	}
	if len(who) == 0 {
		if env.Spec.Cluster.Bridge.Enabled {
			return skip("Alertmanager posts through gatewatch bridge (cluster.bridge.enabled), whose deployment is not here: check render --target bridge's output for the bridge → Mattermost path (network/bridge checks Alertmanager → bridge)")
		}
		return skip("no sender to check: neither an Alertmanager configuration nor gatewatch's own deployment")
	}
	var ev, summary []string
	hypothetical := false
	for _, a := range who {
		var broken []string
		pods, standIn, err := podsFor(ctx, env, a.workload)
		if err != nil {
			return failed(fmt.Sprintf("cannot read the %s pods", a.name), "", err.Error())
		}
		hypothetical = hypothetical || standIn
		for _, p := range pods {
			h, e, b, err := egressFrom(ctx, env, c, p)
			if err != nil {
				return failed("cannot read the pods on the path", "", err.Error())
			}
			hypothetical = hypothetical || h
			for _, line := range e {
				ev = append(ev, a.name+": "+line)
			}
			broken = append(broken, b...)
		}
		if len(broken) > 0 {
			summary = append(summary, fmt.Sprintf("%s may not reach: %s", a.name, strings.Join(unique(broken), ", ")))
		}
	}
	if len(summary) > 0 {
		return failed(strings.Join(summary, "; "),
			fmt.Sprintf("allow %s egress to the webhook path and to kube-dns on 53 UDP and TCP, and the in-cluster gateway's ingress from it (gatewatch render writes them: an egress policy that forgets DNS breaks the webhook too)", actorNames(who)), ev...)
	}
	if hypothetical && !env.offline() {
		return warn("no live pod matched a selector: the verdict is for a pod with exactly the selector's labels", "check cluster.alertmanager, cluster.dns and cluster.webhook_path selectors against the running pods", ev...)
	}
	return pass(actorNames(who)+" may reach the webhook path and DNS", ev...)
}

// egressFrom checks one sender pod's path to the webhook and DNS.
func egressFrom(ctx context.Context, env *Env, c *netpol.Cluster, from netpol.Pod) (hypothetical bool, ev, broken []string, err error) {
	w := env.Spec.Cluster.WebhookPath
	switch w.Via {
	case spec.ViaGateway:
		gws, h, err := podsFor(ctx, env, spec.Workload{Namespace: w.Gateway.Namespace, PodSelector: w.Gateway.PodSelector})
		if err != nil {
			return false, nil, nil, err
		}
		hypothetical = hypothetical || h
		for _, gw := range gws {
			to := netpol.Target{Pod: &gw}
			v := c.Allowed(from, to, intstr.FromInt32(int32(w.Gateway.TargetPort)), corev1.ProtocolTCP)
			ev = append(ev, fmt.Sprintf("webhook via gateway :%d (pod port %d): %s", w.Gateway.Port, w.Gateway.TargetPort, v.Reason))
			if !v.Allowed {
				broken = append(broken, "webhook path"+deniedSide(v, to))
			}
		}
	case spec.ViaDirect:
		for _, cidr := range w.CIDRs {
			ip, _, _ := net.ParseCIDR(cidr)
			v := c.Allowed(from, netpol.Target{IP: ip.String()}, intstr.FromInt32(int32(w.Port)), corev1.ProtocolTCP)
			ev = append(ev, fmt.Sprintf("webhook %s:%d: %s", ip, w.Port, v.Reason))
			if !v.Allowed {
				broken = append(broken, "webhook path")
			}
		}
	}
	dns, h, err := podsFor(ctx, env, env.Spec.Cluster.DNS)
	if err != nil {
		return false, nil, nil, err
	}
	hypothetical = hypothetical || h
	dnsEv, dnsBroken := dnsFrom(c, from, dns)
	return hypothetical, append(ev, dnsEv...), append(broken, dnsBroken...), nil
}

// dnsFrom checks one pod's path to the DNS pods on 53, UDP and TCP (large
// answers fall back to TCP): the evidence, and the denied ones with the
// side that denies them.
func dnsFrom(c *netpol.Cluster, from netpol.Pod, dns []netpol.Pod) (ev, broken []string) {
	for _, d := range dns {
		for _, proto := range []corev1.Protocol{corev1.ProtocolUDP, corev1.ProtocolTCP} {
			to := netpol.Target{Pod: &d}
			v := c.Allowed(from, to, intstr.FromInt32(53), proto)
			ev = append(ev, fmt.Sprintf("DNS %s 53: %s", proto, v.Reason))
			if !v.Allowed {
				broken = append(broken, "DNS "+string(proto)+deniedSide(v, to))
			}
		}
	}
	return ev, broken
}

package doctor

import (
	"context"
	"fmt"
	"net"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gatewatch/gatewatch/internal/netpol"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// networkEgress (network/egress): NetworkPolicies let Alertmanager pods reach
// the webhook path AND kube-dns on 53 UDP and TCP.
type networkEgress struct{}

func (networkEgress) ID() string { return "network/egress" }
func (networkEgress) Title() string {
	return "NetworkPolicies allow Alertmanager → webhook path and DNS"
}
func (networkEgress) Offline() bool { return true }

func (networkEgress) Run(ctx context.Context, env *Env) Result {
	c, err := env.cluster(ctx)
	if err != nil {
		return skip(err.Error())
	}
	ams, hypothetical, err := podsFor(ctx, env, env.Spec.Cluster.Alertmanager.Workload)
	if err != nil {
		return failed("cannot read the Alertmanager pods", "", err.Error())
	}
	var ev []string
	var broken []string
	for _, am := range ams {
		h, e, b, err := egressFrom(ctx, env, c, am)
		if err != nil {
			return failed("cannot read the pods on the path", "", err.Error())
		}
		hypothetical = hypothetical || h
		ev = append(ev, e...)
		broken = append(broken, b...)
	}
	if len(broken) > 0 {
		return failed(fmt.Sprintf("Alertmanager may not reach: %v", broken),
			"allow Alertmanager egress to the webhook path and to kube-dns on 53 UDP and TCP (gatewatch render writes both: an egress policy that forgets DNS breaks the webhook too)", ev...)
	}
	if hypothetical && !env.offline() {
		return warn("no live pod matched a selector: the verdict is for a pod with exactly the selector's labels", "check cluster.alertmanager, cluster.dns and cluster.webhook_path selectors against the running pods", ev...)
	}
	return pass("Alertmanager may reach the webhook path and DNS", ev...)
}

// egressFrom checks one Alertmanager pod's path to the webhook and DNS.
func egressFrom(ctx context.Context, env *Env, c *netpol.Cluster, am netpol.Pod) (hypothetical bool, ev, broken []string, err error) {
	w := env.Spec.Cluster.WebhookPath
	switch w.Via {
	case spec.ViaGateway:
		gws, h, err := podsFor(ctx, env, spec.Workload{Namespace: w.Gateway.Namespace, PodSelector: w.Gateway.PodSelector})
		if err != nil {
			return false, nil, nil, err
		}
		hypothetical = hypothetical || h
		for _, gw := range gws {
			v := c.Allowed(am, netpol.Target{Pod: &gw}, intstr.FromInt32(int32(w.Gateway.TargetPort)), corev1.ProtocolTCP)
			ev = append(ev, fmt.Sprintf("webhook via gateway :%d (pod port %d): %s", w.Gateway.Port, w.Gateway.TargetPort, v.Reason))
			if !v.Allowed {
				broken = append(broken, "webhook path")
			}
		}
	case spec.ViaDirect:
		for _, cidr := range w.CIDRs {
			ip, _, _ := net.ParseCIDR(cidr)
			v := c.Allowed(am, netpol.Target{IP: ip.String()}, intstr.FromInt32(int32(w.Port)), corev1.ProtocolTCP)
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
	for _, d := range dns {
		for _, proto := range []corev1.Protocol{corev1.ProtocolUDP, corev1.ProtocolTCP} {
			v := c.Allowed(am, netpol.Target{Pod: &d}, intstr.FromInt32(53), proto)
			ev = append(ev, fmt.Sprintf("DNS %s 53: %s", proto, v.Reason))
			if !v.Allowed {
				broken = append(broken, "DNS "+string(proto))
			}
		}
	}
	return hypothetical, ev, broken, nil
}

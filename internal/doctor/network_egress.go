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
	c, err := cluster(ctx, env)
	if err != nil {
		return skip(err.Error())
	}
	ams, err := podsFor(ctx, env, env.Spec.Cluster.Alertmanager.Workload)
	if err != nil {
		return failed("cannot read the Alertmanager pods", "", err.Error())
	}
	am := ams[0]
	var ev []string
	var broken []string
	w := env.Spec.Cluster.WebhookPath
	switch w.Via {
	case spec.ViaGateway:
		gws, err := podsFor(ctx, env, spec.Workload{Namespace: w.Gateway.Namespace, PodSelector: w.Gateway.PodSelector})
		if err != nil {
			return failed("cannot read the webhook gateway pods", "", err.Error())
		}
		v := c.Allowed(am, netpol.Target{Pod: &gws[0]}, intstr.FromInt32(int32(w.Gateway.TargetPort)), corev1.ProtocolTCP)
		ev = append(ev, fmt.Sprintf("webhook via gateway :%d (pod port %d): %s", w.Gateway.Port, w.Gateway.TargetPort, v.Reason))
		if !v.Allowed {
			broken = append(broken, "webhook path")
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
	dns, err := podsFor(ctx, env, env.Spec.Cluster.DNS)
	if err != nil {
		return failed("cannot read the DNS pods", "", err.Error())
	}
	for _, proto := range []corev1.Protocol{corev1.ProtocolUDP, corev1.ProtocolTCP} {
		v := c.Allowed(am, netpol.Target{Pod: &dns[0]}, intstr.FromInt32(53), proto)
		ev = append(ev, fmt.Sprintf("DNS %s 53: %s", proto, v.Reason))
		if !v.Allowed {
			broken = append(broken, "DNS "+string(proto))
		}
	}
	if len(broken) > 0 {
		return failed(fmt.Sprintf("Alertmanager may not reach: %v", broken),
			"allow Alertmanager egress to the webhook path and to kube-dns on 53 UDP and TCP (gatewatch render writes both: an egress policy that forgets DNS breaks the webhook too)", ev...)
	}
	return pass("Alertmanager may reach the webhook path and DNS", ev...)
}

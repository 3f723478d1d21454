package doctor

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gatewatch/gatewatch/internal/netpol"
	"github.com/gatewatch/gatewatch/internal/render"
)

// networkGossip (network/gossip): NetworkPolicies let gatewatch's replicas
// reach each other on the cluster port, TCP and UDP (memberlist uses
// both), egress and ingress.
type networkGossip struct{}

func (networkGossip) ID() string { return "network/gossip" }
func (networkGossip) Title() string {
	return "NetworkPolicies allow gatewatch's replicas to gossip (9094 TCP and UDP)"
}
func (networkGossip) Offline() bool { return true }

func (networkGossip) applies(ctx context.Context, env *Env) (bool, error) {
	return env.deploysGatewatch(ctx)
}

func (networkGossip) Run(ctx context.Context, env *Env) Result {
	if n := env.Spec.Cluster.Standalone.Replicas; n < 2 {
		return pass(fmt.Sprintf("%d replica (cluster.standalone.replicas): no peer to gossip with", n))
	}
	c, err := env.cluster(ctx)
	if err != nil {
		return skip(err.Error())
	}
	pods, _, err := podsFor(ctx, env, gatewatchWorkload(env.Spec))
	if err != nil {
		return failed("cannot read the gatewatch pods", "", err.Error())
	}
	var ev, denied []string
	for _, from := range pods {
		// Policies see labels: a pod with the same ones stands for another
		// replica.
		to := from
		to.Name += " (another replica)"
		to.IP = ""
		for _, proto := range []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP} {
			target := netpol.Target{Pod: &to}
			v := c.Allowed(from, target, intstr.FromInt32(render.GossipPort), proto)
			ev = append(ev, fmt.Sprintf("gossip %s %d: %s", proto, render.GossipPort, v.Reason))
			if !v.Allowed {
				denied = append(denied, fmt.Sprintf("%s %d", proto, render.GossipPort)+deniedSide(v, target))
			}
		}
	}
	if len(denied) > 0 {
		return failed("gatewatch's replicas may not gossip: "+strings.Join(unique(denied), ", "),
			fmt.Sprintf("allow gatewatch → gatewatch on %d TCP and UDP, egress and ingress (gatewatch render writes gatewatch-egress-gossip and gatewatch-allow-gossip): without gossip every replica notifies on its own and a silence holds only on the replica it was made on", render.GossipPort), ev...)
	}
	return pass(fmt.Sprintf("gatewatch's replicas may gossip on %d TCP and UDP", render.GossipPort), ev...)
}

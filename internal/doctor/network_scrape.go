package doctor

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gatewatch/gatewatch/internal/netpol"
)

// networkScrape (network/scrape): NetworkPolicies let Prometheus pods reach
// the gateway pods' stats port.
type networkScrape struct{}

func (networkScrape) ID() string    { return "network/scrape" }
func (networkScrape) Title() string { return "NetworkPolicies allow Prometheus → gateway stats port" }
func (networkScrape) Offline() bool { return true }

func (networkScrape) Run(ctx context.Context, env *Env) Result {
	c, err := env.cluster(ctx)
	if err != nil {
		return skip(err.Error())
	}
	proms, promStandIn, err := podsFor(ctx, env, env.Spec.Cluster.Prometheus)
	if err != nil {
		return failed("cannot read the Prometheus pods", "", err.Error())
	}
	var ev []string
	denied := 0
	hypothetical := promStandIn
	for _, g := range env.Spec.Gateways {
		if g.Selector == "" {
			continue
		}
		gws, gwStandIn, err := podsFor(ctx, env, gatewayWorkload(g))
		if err != nil {
			return failed("cannot read the gateway pods", "", err.Error())
		}
		hypothetical = hypothetical || gwStandIn
		port := intstr.FromString(g.Stats.Port.Name)
		if g.Stats.Port.Name == "" {
			port = intstr.FromInt32(int32(g.Stats.Port.Number))
		}
		for _, p := range proms {
			for _, gw := range gws {
				if g.Stats.Port.Name != "" && len(gw.Ports) == 0 {
					gw.Ports = []corev1.ContainerPort{{Name: g.Stats.Port.Name, ContainerPort: 15090}}
				}
				v := c.Allowed(p, netpol.Target{Pod: &gw}, port, corev1.ProtocolTCP)
				ev = append(ev, v.Reason)
				if !v.Allowed {
					denied++
				}
			}
		}
	}
	if denied > 0 {
		return failed("Prometheus may not reach a gateway's stats port", "apply the NetworkPolicies from `gatewatch render` (with cluster.default_deny set), or allow Prometheus → gateway pods on the stats port", ev...)
	}
	if hypothetical && !env.offline() {
		return warn("no live pod matched a selector: the verdict is for a pod with exactly the selector's labels", "check cluster.prometheus.pod_selector and the gateway selectors against the running pods", ev...)
	}
	return pass("Prometheus may scrape every gateway", ev...)
}

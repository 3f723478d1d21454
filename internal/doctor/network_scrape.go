package doctor

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gatewatch/gatewatch/internal/netpol"
)

// networkScrape (network/scrape): NetworkPolicies let the scraper's pods
// reach the gateway pods' stats port — Prometheus's for the stack,
// gatewatch's for its own deployment — on both sides: the scraper's egress
// and the gateway's ingress.
type networkScrape struct{}

func (networkScrape) ID() string { return "network/scrape" }
func (networkScrape) Title() string {
	return "NetworkPolicies allow Prometheus (or gatewatch) → gateway stats port"
}
func (networkScrape) Offline() bool { return true }

func (networkScrape) Run(ctx context.Context, env *Env) Result {
	c, err := env.cluster(ctx)
	if err != nil {
		return skip(err.Error())
	}
	who, err := scrapers(ctx, env)
	if err != nil {
		return skip(err.Error())
	}
	if len(who) == 0 {
		return skip("no scraper to check: neither a Prometheus configuration nor gatewatch's own deployment")
	}
	var ev, summary []string
	hypothetical := false
	for _, a := range who {
		var denied []string
		pods, standIn, err := podsFor(ctx, env, a.workload)
		if err != nil {
			return failed(fmt.Sprintf("cannot read the %s pods", a.name), "", err.Error())
		}
		hypothetical = hypothetical || standIn
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
			for _, p := range pods {
				for _, gw := range gws {
					if g.Stats.Port.Name != "" && len(gw.Ports) == 0 {
						gw.Ports = []corev1.ContainerPort{{Name: g.Stats.Port.Name, ContainerPort: 15090}}
					}
					v := c.Allowed(p, netpol.Target{Pod: &gw}, port, corev1.ProtocolTCP)
					ev = append(ev, fmt.Sprintf("%s → %s stats port %s: %s", a.name, g.Name, port.String(), v.Reason))
					if !v.Allowed {
						denied = append(denied, g.Name+deniedSide(v, netpol.Target{Pod: &gw}))
					}
				}
			}
		}
		if len(denied) > 0 {
			summary = append(summary, fmt.Sprintf("%s may not scrape: %s", a.name, strings.Join(unique(denied), ", ")))
		}
	}
	if len(summary) > 0 {
		return failed(strings.Join(summary, "; "),
			"apply the NetworkPolicies from `gatewatch render` (with cluster.default_deny set): the scraper's egress to the gateway pods' stats port and, in the gateway's namespace, the ingress that lets it in", ev...)
	}
	if hypothetical && !env.offline() {
		return warn("no live pod matched a selector: the verdict is for a pod with exactly the selector's labels", "check cluster.prometheus.pod_selector and the gateway selectors against the running pods", ev...)
	}
	return pass(actorNames(who)+" may scrape every gateway", ev...)
}

// unique keeps the first of each string, in order.
func unique(ss []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

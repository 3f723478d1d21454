package doctor

import (
	"context"
	"fmt"
	"net"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gatewatch/gatewatch/internal/netpol"
	"github.com/gatewatch/gatewatch/internal/render"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// networkWeb (network/web): NetworkPolicies let the peers of
// cluster.standalone.web_from reach gatewatch's web port (status page,
// /metrics, the APIs): the peer's egress and gatewatch's ingress.
type networkWeb struct{}

func (networkWeb) ID() string { return "network/web" }
func (networkWeb) Title() string {
	return "NetworkPolicies allow cluster.standalone.web_from → gatewatch's web port"
}
func (networkWeb) Offline() bool { return true }

func (networkWeb) applies(ctx context.Context, env *Env) (bool, error) {
	return env.deploysGatewatch(ctx)
}

func (networkWeb) Run(ctx context.Context, env *Env) Result {
	peers := env.Spec.Cluster.Standalone.WebFrom
	if len(peers) == 0 {
		return skip("cluster.standalone.web_from names no peer: only the node (probes, kubectl port-forward) reaches the web port")
	}
	c, err := env.cluster(ctx)
	if err != nil {
		return skip(err.Error())
	}
	targets, _, err := podsFor(ctx, env, gatewatchWorkload(env.Spec))
	if err != nil {
		return failed("cannot read the gatewatch pods", "", err.Error())
	}
	var ev, denied []string
	hypothetical := false
	for _, p := range peers {
		from, what, standIn, err := webPeerPods(ctx, env, p)
		if err != nil {
			return failed("cannot read the web_from pods", "", err.Error())
		}
		hypothetical = hypothetical || standIn
		for _, f := range from {
			for _, to := range targets {
				target := netpol.Target{Pod: &to}
				v := c.Allowed(f, target, intstr.FromInt32(render.StandalonePort), corev1.ProtocolTCP)
				ev = append(ev, fmt.Sprintf("%s → gatewatch :%d: %s", what, render.StandalonePort, v.Reason))
				if !v.Allowed {
					denied = append(denied, what+deniedSide(v, target))
				}
			}
		}
	}
	if len(denied) > 0 {
		return failed(fmt.Sprintf("the web port %d is denied to: %s", render.StandalonePort, strings.Join(unique(denied), ", ")),
			"allow the peer's egress to gatewatch's pods on the web port and gatewatch's ingress from it (gatewatch render writes gatewatch-web-client in the peer's namespace and gatewatch-allow-web)", ev...)
	}
	if hypothetical && !env.offline() {
		return warn("no live pod matched a web_from selector: the verdict is for a pod with exactly the selector's labels", "check cluster.standalone.web_from against the running pods", ev...)
	}
	return pass(fmt.Sprintf("every web_from peer may reach gatewatch's web port %d", render.StandalonePort), ev...)
}

// webPeerPods are the sources a web_from peer stands for: its pods, or
// one address of each CIDR.
func webPeerPods(ctx context.Context, env *Env, p spec.Peer) (pods []netpol.Pod, what string, standIn bool, err error) {
	if p.Namespace == "" {
		for _, cidr := range p.CIDRs {
			ip, _, err := net.ParseCIDR(cidr)
			if err == nil {
				pods = append(pods, netpol.Pod{Name: ip.String(), IP: ip.String()})
			}
		}
		return pods, strings.Join(p.CIDRs, ", "), false, nil
	}
	what = fmt.Sprintf("pods %q in %s", p.PodSelector, p.Namespace)
	if p.PodSelector == "" {
		what = "every pod in " + p.Namespace
	}
	pods, standIn, err = podsFor(ctx, env, spec.Workload{Namespace: p.Namespace, PodSelector: p.PodSelector})
	return pods, what, standIn, err
}

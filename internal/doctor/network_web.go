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
// /metrics, the APIs), and those of cluster.bridge.web_from the bridge's
// port: the peer's egress and the server's ingress.
type networkWeb struct{}

func (networkWeb) ID() string { return "network/web" }
func (networkWeb) Title() string {
	return "NetworkPolicies allow web_from → gatewatch's (and its bridge's) web port"
}
func (networkWeb) Offline() bool { return true }

func (networkWeb) applies(ctx context.Context, env *Env) (bool, error) {
	ws, err := webServers(ctx, env)
	return len(ws) > 0, err
}

// webServer is a deployment whose port web_from peers are let in to.
type webServer struct {
	name, key, what string
	port            int32
	workload        spec.Workload
	peers           []spec.Peer
	policies        string
}

// webServers are gatewatch's web port (its own deployment) and the
// bridge's (its deployment).
func webServers(ctx context.Context, env *Env) ([]webServer, error) {
	var out []webServer
	gw, err := env.deploysGatewatch(ctx)
	if err != nil {
		return nil, err
	}
	if gw {
		out = append(out, webServer{name: "gatewatch", key: "cluster.standalone.web_from", what: "the web port", port: render.StandalonePort,
			workload: gatewatchWorkload(env.Spec), peers: env.Spec.Cluster.Standalone.WebFrom,
			policies: "gatewatch-web-client in the peer's namespace and gatewatch-allow-web"})
	}
	br, err := env.deploysBridge(ctx)
	if err != nil {
		return nil, err
	}
	if br {
		out = append(out, webServer{name: "gatewatch bridge", key: "cluster.bridge.web_from", what: "the bridge's port", port: render.BridgePort,
			workload: render.BridgeWorkload(env.Spec), peers: env.Spec.Cluster.Bridge.WebFrom,
			policies: "gatewatch-bridge-web-client in the peer's namespace and gatewatch-bridge-allow-web"})
	}
	return out, nil
}

func (networkWeb) Run(ctx context.Context, env *Env) Result {
	ws, err := webServers(ctx, env)
	if err != nil {
		return skip(err.Error())
	}
	c, err := env.cluster(ctx)
	if err != nil {
		return skip(err.Error())
	}
	var ev, summary, hints, nobody, keys []string
	hypothetical := false
	for _, w := range ws {
		keys = append(keys, w.key)
		if len(w.peers) == 0 {
			nobody = append(nobody, w.key)
			continue
		}
		targets, _, err := podsFor(ctx, env, w.workload)
		if err != nil {
			return failed("cannot read the "+w.name+" pods", "", err.Error())
		}
		var denied []string
		for _, p := range w.peers {
			from, what, standIn, err := webPeerPods(ctx, env, p)
			if err != nil {
				return failed("cannot read the web_from pods", "", err.Error())
			}
			hypothetical = hypothetical || standIn
			for _, f := range from {
				for _, to := range targets {
					target := netpol.Target{Pod: &to}
					v := c.Allowed(f, target, intstr.FromInt32(w.port), corev1.ProtocolTCP)
					ev = append(ev, fmt.Sprintf("%s → %s :%d: %s", what, w.name, w.port, v.Reason))
					if !v.Allowed {
						denied = append(denied, what+deniedSide(v, target))
					}
				}
			}
		}
		if len(denied) > 0 {
			summary = append(summary, fmt.Sprintf("%s %d is denied to: %s", w.what, w.port, strings.Join(unique(denied), ", ")))
			hints = append(hints, fmt.Sprintf("allow the peer's egress to %s's pods on %d and %s's ingress from it (gatewatch render writes %s)", w.name, w.port, w.name, w.policies))
		}
	}
	if len(summary) > 0 {
		return failed(strings.Join(summary, "; "), strings.Join(hints, "; "), ev...)
	}
	if len(nobody) == len(ws) {
		return skip(strings.Join(nobody, " and ") + " names no peer: only the node (probes, kubectl port-forward) reaches the port")
	}
	for _, k := range nobody {
		ev = append(ev, k+" names no peer: only the node reaches the port")
	}
	if hypothetical && !env.offline() {
		return warn("no live pod matched a web_from selector: the verdict is for a pod with exactly the selector's labels", "check "+strings.Join(keys, " and ")+" against the running pods", ev...)
	}
	var ok []string
	for _, w := range ws {
		if len(w.peers) > 0 {
			ok = append(ok, fmt.Sprintf("%s %d", w.what, w.port))
		}
	}
	return pass(fmt.Sprintf("every web_from peer may reach %s", strings.Join(ok, " and ")), ev...)
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

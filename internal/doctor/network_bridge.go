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

// networkBridge (network/bridge): when Alertmanager posts through
// gatewatch bridge (cluster.bridge.enabled), NetworkPolicies let
// Alertmanager's pods reach the bridge's port (its egress, the bridge's
// ingress) and kube-dns, to resolve the bridge's Service name; with
// cluster.bridge.alertmanager_url, the bridge reach Alertmanager's API
// (the silence buttons). Live, the bridge's pods must exist.
type networkBridge struct{}

func (networkBridge) ID() string { return "network/bridge" }
func (networkBridge) Title() string {
	return "NetworkPolicies allow Alertmanager → gatewatch bridge (and DNS)"
}
func (networkBridge) Offline() bool { return true }

// applies: when doctor looks at the bridge's deployment, or at the stack
// and the spec sends Alertmanager through the bridge.
func (networkBridge) applies(ctx context.Context, env *Env) (bool, error) {
	if env.Spec.Cluster.Bridge.Enabled && env.checksStack() {
		return true, nil
	}
	return env.deploysBridge(ctx)
}

func (networkBridge) Run(ctx context.Context, env *Env) Result {
	c, err := env.cluster(ctx)
	if err != nil {
		return skip(err.Error())
	}
	deployed, err := env.deploysBridge(ctx)
	if err != nil {
		return skip(err.Error())
	}
	if !env.offline() && !deployed {
		w := render.BridgeWorkload(env.Spec)
		return failed(fmt.Sprintf("no gatewatch bridge pod runs in %s (%s), and Alertmanager posts through it", w.Namespace, w.PodSelector),
			"deploy it: gatewatch render --target bridge -o DIR, create the Secret its example names, kubectl apply -f DIR")
	}
	ams, amStandIn, err := podsFor(ctx, env, env.Spec.Cluster.Alertmanager.Workload)
	if err != nil {
		return failed("cannot read the Alertmanager pods", "", err.Error())
	}
	bridges, brStandIn, err := podsFor(ctx, env, render.BridgeWorkload(env.Spec))
	if err != nil {
		return failed("cannot read the gatewatch bridge pods", "", err.Error())
	}
	dns, dnsStandIn, err := podsFor(ctx, env, env.Spec.Cluster.DNS)
	if err != nil {
		return failed("cannot read the DNS pods", "", err.Error())
	}
	var ev, broken []string
	for _, am := range ams {
		for _, br := range bridges {
			to := netpol.Target{Pod: &br}
			v := c.Allowed(am, to, intstr.FromInt32(render.BridgePort), corev1.ProtocolTCP)
			ev = append(ev, fmt.Sprintf("Alertmanager → bridge :%d: %s", render.BridgePort, v.Reason))
			if !v.Allowed {
				broken = append(broken, "Alertmanager → bridge"+deniedSide(v, to))
			}
		}
		dnsEv, dnsBroken := dnsFrom(c, am, dns)
		for _, e := range dnsEv {
			ev = append(ev, "Alertmanager → "+e)
		}
		for _, b := range dnsBroken {
			broken = append(broken, "Alertmanager → "+b)
		}
	}
	if port, ok := render.BridgeAlertmanagerPort(env.Spec); ok && deployed {
		for _, br := range bridges {
			for _, am := range ams {
				to := netpol.Target{Pod: &am}
				v := c.Allowed(br, to, intstr.FromInt32(int32(port)), corev1.ProtocolTCP)
				ev = append(ev, fmt.Sprintf("bridge → Alertmanager API :%d (cluster.bridge.alertmanager_url): %s", port, v.Reason))
				if !v.Allowed {
					broken = append(broken, "bridge → Alertmanager API"+deniedSide(v, to))
				}
			}
		}
	}
	if len(broken) > 0 {
		return failed("the bridge path is blocked: "+strings.Join(unique(broken), ", "),
			fmt.Sprintf("allow Alertmanager's egress to the bridge's pods on %d and the bridge's ingress from Alertmanager, and Alertmanager's egress to kube-dns on 53 UDP and TCP (gatewatch render writes gatewatch-alertmanager-egress-bridge, gatewatch-bridge-allow-alertmanager and gatewatch-alertmanager-egress-dns)", render.BridgePort), ev...)
	}
	if (amStandIn || brStandIn || dnsStandIn) && !env.offline() {
		return warn("no live pod matched a selector: the verdict is for a pod with exactly the selector's labels", "check cluster.alertmanager and cluster.dns selectors against the running pods", ev...)
	}
	return pass(fmt.Sprintf("Alertmanager may reach gatewatch bridge on %d and DNS", render.BridgePort), ev...)
}

package doctor

import (
	"context"
	"fmt"
	"net"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gatewatch/gatewatch/internal/netpol"
)

// networkKubeAPI (network/kube-api): NetworkPolicies let gatewatch's pods
// reach the Kubernetes API server, through which they discover the gateway
// pods (and the bridge's, when explain reads the cluster: logs or
// configuration from kube): cluster.api_server's CIDRs on its ports
// (without CIDRs, an address outside the cluster stands for it).
type networkKubeAPI struct{}

func (networkKubeAPI) ID() string { return "network/kube-api" }
func (networkKubeAPI) Title() string {
	return "NetworkPolicies allow gatewatch → the Kubernetes API server"
}
func (networkKubeAPI) Offline() bool { return true }

func (networkKubeAPI) applies(ctx context.Context, env *Env) (bool, error) {
	who, err := apiClients(ctx, env)
	return len(who) > 0, err
}

// apiClients are who talks to the API server here: gatewatch (its own
// deployment) and the bridge (its deployment, for explain's kube sources).
func apiClients(ctx context.Context, env *Env) ([]actor, error) {
	var out []actor
	gw, err := env.deploysGatewatch(ctx)
	if err != nil {
		return nil, err
	}
	if gw {
		out = append(out, actor{"gatewatch", gatewatchWorkload(env.Spec)})
	}
	if x := env.Spec.Explain; x.AccessLogs == "kube" || x.Config == "kube" {
		return withBridge(ctx, env, out)
	}
	return out, nil
}

// apiServerStandIn stands for the API server when cluster.api_server.cidrs
// is not set (TEST-NET-2: never a real endpoint).
const apiServerStandIn = "198.51.100.1"

func (networkKubeAPI) Run(ctx context.Context, env *Env) Result {
	c, err := env.cluster(ctx)
	if err != nil {
		return skip(err.Error())
	}
	who, err := apiClients(ctx, env)
	if err != nil {
		return skip(err.Error())
	}
	a := env.Spec.Cluster.APIServer
	var addrs []string
	for _, cidr := range a.CIDRs {
		ip, _, err := net.ParseCIDR(cidr)
		if err == nil {
			addrs = append(addrs, ip.String())
		}
	}
	var ev []string
	if len(addrs) == 0 {
		addrs = []string{apiServerStandIn}
		ev = append(ev, fmt.Sprintf("cluster.api_server.cidrs is not set: %s stands for the API server (any address)", apiServerStandIn))
	}
	var summary, policies []string
	for _, w := range who {
		pods, _, err := podsFor(ctx, env, w.workload)
		if err != nil {
			return failed("cannot read the "+w.name+" pods", "", err.Error())
		}
		var denied []string
		for _, p := range pods {
			for _, ip := range addrs {
				for _, port := range a.Ports {
					v := c.Allowed(p, netpol.Target{IP: ip}, intstr.FromInt32(int32(port)), corev1.ProtocolTCP)
					ev = append(ev, fmt.Sprintf("%s → API server %s: %s", w.name, net.JoinHostPort(ip, fmt.Sprint(port)), v.Reason))
					if !v.Allowed {
						denied = append(denied, net.JoinHostPort(ip, fmt.Sprint(port)))
					}
				}
			}
		}
		if len(denied) > 0 {
			summary = append(summary, w.name+" may not reach the Kubernetes API server: "+strings.Join(unique(denied), ", "))
			policy := "gatewatch-egress-kube-api"
			if w.name != "gatewatch" {
				policy = "gatewatch-bridge-egress-kube-api"
			}
			policies = append(policies, policy)
		}
	}
	if len(summary) > 0 {
		return failed(strings.Join(summary, "; "),
			fmt.Sprintf("allow the egress to the API server's endpoints on cluster.api_server.ports (gatewatch render writes %s): without it gatewatch discovers no gateway pod and scrapes nothing, and the bridge's explanations lack the gateway's logs and configuration", strings.Join(policies, " and ")), ev...)
	}
	return pass(actorNames(who)+" may reach the Kubernetes API server", ev...)
}

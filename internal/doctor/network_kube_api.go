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
// pods: cluster.api_server's CIDRs on its ports (without CIDRs, an address
// outside the cluster stands for it).
type networkKubeAPI struct{}

func (networkKubeAPI) ID() string { return "network/kube-api" }
func (networkKubeAPI) Title() string {
	return "NetworkPolicies allow gatewatch → the Kubernetes API server"
}
func (networkKubeAPI) Offline() bool { return true }

func (networkKubeAPI) applies(ctx context.Context, env *Env) (bool, error) {
	return env.deploysGatewatch(ctx)
}

// apiServerStandIn stands for the API server when cluster.api_server.cidrs
// is not set (TEST-NET-2: never a real endpoint).
const apiServerStandIn = "198.51.100.1"

func (networkKubeAPI) Run(ctx context.Context, env *Env) Result {
	c, err := env.cluster(ctx)
	if err != nil {
		return skip(err.Error())
	}
	pods, _, err := podsFor(ctx, env, gatewatchWorkload(env.Spec))
	if err != nil {
		return failed("cannot read the gatewatch pods", "", err.Error())
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
	var denied []string
	for _, p := range pods {
		for _, ip := range addrs {
			for _, port := range a.Ports {
				v := c.Allowed(p, netpol.Target{IP: ip}, intstr.FromInt32(int32(port)), corev1.ProtocolTCP)
				ev = append(ev, fmt.Sprintf("API server %s: %s", net.JoinHostPort(ip, fmt.Sprint(port)), v.Reason))
				if !v.Allowed {
					denied = append(denied, net.JoinHostPort(ip, fmt.Sprint(port)))
				}
			}
		}
	}
	if len(denied) > 0 {
		return failed("gatewatch may not reach the Kubernetes API server: "+strings.Join(unique(denied), ", "),
			"allow gatewatch's egress to the API server's endpoints on cluster.api_server.ports (gatewatch render writes gatewatch-egress-kube-api): without it gatewatch discovers no gateway pod and scrapes nothing", ev...)
	}
	return pass("gatewatch may reach the Kubernetes API server", ev...)
}

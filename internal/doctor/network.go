package doctor

import (
	"context"
	"fmt"
	"net"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gatewatch/gatewatch/internal/netpol"
	"github.com/gatewatch/gatewatch/internal/spec"
)

const factCluster = "netpol-cluster"

// cluster builds the policy model once: live from the API, or from manifests.
func cluster(ctx context.Context, env *Env) (*netpol.Cluster, error) {
	if c, ok := env.facts[factCluster].(*netpol.Cluster); ok {
		return c, nil
	}
	c := &netpol.Cluster{Namespaces: map[string]map[string]string{}}
	if env.offline() {
		c.Namespaces, c.Policies = env.Manifests.namespaces, env.Manifests.policies
	} else {
		if env.Kube == nil {
			return nil, fmt.Errorf("no Kubernetes API (use --kubeconfig)")
		}
		nss, err := env.Kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("list namespaces: %w", err)
		}
		for _, ns := range nss.Items {
			c.Namespaces[ns.Name] = ns.Labels
		}
		nps, err := env.Kube.NetworkingV1().NetworkPolicies("").List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("list NetworkPolicies: %w", err)
		}
		c.Policies = nps.Items
	}
	env.facts[factCluster] = c
	return c, nil
}

// podsFor returns the pods a workload selector picks: live, from the
// manifests, or, when neither has any, one pod standing for the selector
// (its labels are what the selector requires).
func podsFor(ctx context.Context, env *Env, w spec.Workload) ([]netpol.Pod, error) {
	sel, err := labels.Parse(w.PodSelector)
	if err != nil {
		return nil, err
	}
	var pods []corev1.Pod
	if env.offline() {
		pods = env.Manifests.podsMatching(w.Namespace, sel)
	} else if env.Kube != nil {
		list, err := env.Kube.CoreV1().Pods(w.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			return nil, fmt.Errorf("list pods in %s: %w", w.Namespace, err)
		}
		pods = list.Items
	}
	var out []netpol.Pod
	for _, p := range pods {
		out = append(out, toNetpolPod(p))
	}
	if len(out) == 0 {
		out = append(out, standIn(w.Namespace, sel))
	}
	return out, nil
}

func toNetpolPod(p corev1.Pod) netpol.Pod {
	np := netpol.Pod{Name: p.Name, Namespace: p.Namespace, Labels: p.Labels, IP: p.Status.PodIP}
	for _, c := range p.Spec.Containers {
		np.Ports = append(np.Ports, c.Ports...)
	}
	return np
}

// standIn is a pod carrying exactly what the selector requires.
func standIn(ns string, sel labels.Selector) netpol.Pod {
	lbls := map[string]string{}
	reqs, _ := sel.Requirements()
	for _, r := range reqs {
		switch r.Operator() {
		case selection.Equals, selection.DoubleEquals, selection.In:
			lbls[r.Key()] = r.Values().List()[0]
		case selection.Exists:
			lbls[r.Key()] = "true"
		}
	}
	return netpol.Pod{Name: "(pods matching " + sel.String() + ")", Namespace: ns, Labels: lbls}
}

func gatewayWorkload(g spec.Gateway) spec.Workload {
	return spec.Workload{Namespace: g.Namespace, PodSelector: g.Selector}
}

// networkScrape (network/scrape): NetworkPolicies let Prometheus pods reach
// the gateway pods' stats port.
type networkScrape struct{}

func (networkScrape) ID() string    { return "network/scrape" }
func (networkScrape) Title() string { return "NetworkPolicies allow Prometheus → gateway stats port" }
func (networkScrape) Offline() bool { return true }

func (networkScrape) Run(ctx context.Context, env *Env) Result {
	c, err := cluster(ctx, env)
	if err != nil {
		return skip(err.Error())
	}
	proms, err := podsFor(ctx, env, env.Spec.Cluster.Prometheus)
	if err != nil {
		return failed("cannot read the Prometheus pods", "", err.Error())
	}
	var ev []string
	denied := 0
	for _, g := range env.Spec.Gateways {
		if g.Selector == "" {
			continue
		}
		gws, err := podsFor(ctx, env, gatewayWorkload(g))
		if err != nil {
			return failed("cannot read the gateway pods", "", err.Error())
		}
		port := intstr.FromString(g.Stats.Port.Name)
		if g.Stats.Port.Name == "" {
			port = intstr.FromInt32(int32(g.Stats.Port.Number))
		}
		for _, p := range proms[:1] {
			for _, gw := range gws[:1] {
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
	return pass("Prometheus may scrape every gateway", ev...)
}

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

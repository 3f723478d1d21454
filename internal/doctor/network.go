package doctor

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/gatewatch/gatewatch/internal/netpol"
	"github.com/gatewatch/gatewatch/internal/render"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// readCluster establishes the NetworkPolicy model (Env.cluster): live from
// the API, or from the manifests.
func readCluster(ctx context.Context, env *Env) (*netpol.Cluster, error) {
	c := &netpol.Cluster{Namespaces: map[string]map[string]string{}}
	if env.offline() {
		c.Namespaces = env.Manifests.namespaces
		c.Policies = append(slices.Clip(env.Manifests.policies), defaultDenyPolicies(env.Spec)...)
		return c, nil
	}
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
	return c, nil
}

// podsFor returns the pods a workload selector picks: live, from the
// manifests, or, when neither has any, one pod standing for the selector
// (its labels are what the selector requires; standIn reports it). Pods
// with the same labels are judged once: policies only see labels.
func podsFor(ctx context.Context, env *Env, w spec.Workload) (pods []netpol.Pod, standIn bool, err error) {
	all, err := podsForAll(ctx, env, w)
	if err != nil {
		return nil, false, err
	}
	seen := map[string]bool{}
	for _, p := range all {
		key := labels.Set(p.Labels).String()
		if !seen[key] {
			seen[key] = true
			pods = append(pods, p)
		}
	}
	return pods, len(pods) == 1 && pods[0].IP == "" && strings.HasPrefix(pods[0].Name, "(pods matching"), nil
}

func podsForAll(ctx context.Context, env *Env, w spec.Workload) ([]netpol.Pod, error) {
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
		out = append(out, standInPod(w.Namespace, sel))
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

// standInPod is a pod carrying exactly what the selector requires.
func standInPod(ns string, sel labels.Selector) netpol.Pod {
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

// defaultDenyName names the policies standing for cluster.default_deny
// offline, so a verdict says where an isolation comes from.
const defaultDenyName = "cluster.default_deny"

// defaultDenyPolicies stand for what cluster.default_deny says of the
// cluster, offline: the namespaces the spec names for its paths (the
// gateways', the webhook gateway's, Prometheus's, Alertmanager's,
// monitoring_namespace and the web_from peers') deny its directions by
// default, whether or not the manifests hold their default-deny policies.
// The DNS namespace is the cluster's own and is not isolated.
func defaultDenyPolicies(s *spec.Spec) []networkingv1.NetworkPolicy {
	var types []networkingv1.PolicyType
	for _, d := range []struct {
		name string
		t    networkingv1.PolicyType
	}{{"ingress", networkingv1.PolicyTypeIngress}, {"egress", networkingv1.PolicyTypeEgress}} {
		if s.Cluster.Denies(d.name) {
			types = append(types, d.t)
		}
	}
	if len(types) == 0 {
		return nil
	}
	c := s.Cluster
	names := []string{c.MonitoringNamespace, c.Prometheus.Namespace, c.Alertmanager.Namespace}
	for _, g := range s.Gateways {
		if g.Selector != "" {
			names = append(names, g.Namespace)
		}
	}
	if c.WebhookPath.Via == spec.ViaGateway {
		names = append(names, c.WebhookPath.Gateway.Namespace)
	}
	for _, p := range c.Standalone.WebFrom {
		names = append(names, p.Namespace)
	}
	var out []networkingv1.NetworkPolicy
	seen := map[string]bool{"": true}
	for _, ns := range names {
		if seen[ns] {
			continue
		}
		seen[ns] = true
		out = append(out, networkingv1.NetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: defaultDenyName, Namespace: ns},
			Spec:       networkingv1.NetworkPolicySpec{PolicyTypes: types},
		})
	}
	return out
}

// gatewatchWorkload is gatewatch's own pods, as render --target standalone
// deploys them.
func gatewatchWorkload(s *spec.Spec) spec.Workload {
	return spec.Workload{Namespace: s.Cluster.MonitoringNamespace, PodSelector: render.StandaloneSelector}
}

// findGatewatch establishes whether gatewatch's own deployment is looked
// at (Env.deploysGatewatch): offline, the manifests hold the standalone
// render; live, gatewatch pods run in the monitoring namespace.
func findGatewatch(ctx context.Context, env *Env) (bool, error) {
	if env.offline() {
		return env.Manifests.deploysGatewatch(), nil
	}
	return podsRun(ctx, env, "gatewatch", gatewatchWorkload(env.Spec))
}

// podsRun reports whether a pod of the workload exists, live (no API: no).
func podsRun(ctx context.Context, env *Env, what string, w spec.Workload) (bool, error) {
	if env.Kube == nil {
		return false, nil
	}
	list, err := env.Kube.CoreV1().Pods(w.Namespace).List(ctx, metav1.ListOptions{LabelSelector: w.PodSelector, Limit: 1})
	if err != nil {
		return false, fmt.Errorf("list %s pods in %s: %w", what, w.Namespace, err)
	}
	return len(list.Items) > 0, nil
}

// findBridge establishes whether gatewatch bridge's deployment is looked at
// (Env.deploysBridge): offline, the manifests hold it (render --target
// bridge, or a workload running `gatewatch bridge`); live, bridge pods run
// in the monitoring namespace.
func findBridge(ctx context.Context, env *Env) (bool, error) {
	if env.offline() {
		return env.Manifests.deploysBridge(), nil
	}
	return podsRun(ctx, env, "gatewatch bridge", render.BridgeWorkload(env.Spec))
}

// actor is a workload whose paths a network check follows: Prometheus or
// Alertmanager of the stack, gatewatch itself, or gatewatch bridge.
type actor struct {
	name     string
	workload spec.Workload
}

// scrapers are who scrapes the gateways here: Prometheus (stack) and
// gatewatch (its own deployment).
func scrapers(ctx context.Context, env *Env) ([]actor, error) {
	return actors(ctx, env, actor{"Prometheus", env.Spec.Cluster.Prometheus})
}

// senders are who posts to the webhook here: Alertmanager (stack; unless
// it posts through the bridge), gatewatch (its own deployment) and
// gatewatch bridge (its deployment).
func senders(ctx context.Context, env *Env) ([]actor, error) {
	stack := actor{"Alertmanager", env.Spec.Cluster.Alertmanager.Workload}
	if env.Spec.Cluster.Bridge.Enabled {
		stack = actor{}
	}
	out, err := actors(ctx, env, stack)
	if err != nil {
		return nil, err
	}
	return withBridge(ctx, env, out)
}

// withBridge adds the bridge to the actors when doctor looks at its
// deployment.
func withBridge(ctx context.Context, env *Env, out []actor) ([]actor, error) {
	br, err := env.deploysBridge(ctx)
	if err != nil {
		return nil, err
	}
	if br {
		out = append(out, actor{"gatewatch bridge", render.BridgeWorkload(env.Spec)})
	}
	return out, nil
}

func actors(ctx context.Context, env *Env, stack actor) ([]actor, error) {
	var out []actor
	if env.checksStack() && stack.name != "" {
		out = append(out, stack)
	}
	gw, err := env.deploysGatewatch(ctx)
	if err != nil {
		return nil, err
	}
	if gw {
		out = append(out, actor{"gatewatch", gatewatchWorkload(env.Spec)})
	}
	return out, nil
}

func actorNames(as []actor) string {
	var out []string
	for _, a := range as {
		out = append(out, a.name)
	}
	return strings.Join(out, " and ")
}

// deniedSide says which side of a denied connection is missing its
// allowance: the source's egress or the destination's ingress (in its
// namespace).
func deniedSide(v netpol.Verdict, to netpol.Target) string {
	if v.Denied == networkingv1.PolicyTypeIngress && to.Pod != nil {
		return " (ingress in " + to.Pod.Namespace + ")"
	}
	return " (egress)"
}

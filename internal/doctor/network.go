package doctor

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/gatewatch/gatewatch/internal/netpol"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// readCluster establishes the NetworkPolicy model (Env.cluster): live from
// the API, or from the manifests.
func readCluster(ctx context.Context, env *Env) (*netpol.Cluster, error) {
	c := &netpol.Cluster{Namespaces: map[string]map[string]string{}}
	if env.offline() {
		c.Namespaces, c.Policies = env.Manifests.namespaces, env.Manifests.policies
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

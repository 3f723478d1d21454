package doctor

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatewatch/gatewatch/internal/render"
)

// gatewatchCluster (gatewatch/cluster): the gatewatch replicas reached at
// --gatewatch-url have formed one cluster of the spec's replica count and
// have settled. A split cluster posts duplicates; a replica alone after a
// rollout has not received the others' silences.
type gatewatchCluster struct{}

func (gatewatchCluster) ID() string    { return "gatewatch/cluster" }
func (gatewatchCluster) Title() string { return "gatewatch's replicas form one settled cluster" }
func (gatewatchCluster) Offline() bool { return false }

// applies: with --gatewatch-url, or live where gatewatch's own pods run
// (render --target standalone), which it then reaches by a port-forward.
func (gatewatchCluster) applies(ctx context.Context, env *Env) (bool, error) {
	if env.GatewatchURL != "" {
		return true, nil
	}
	if env.offline() || env.RestConfig == nil {
		return false, nil
	}
	return env.deploysGatewatch(ctx)
}

// gatewatchBase is --gatewatch-url, or a port-forward to the first running
// gatewatch pod (as `kubectl port-forward pod/gatewatch-0 9421`); stop ends
// the forward.
func gatewatchBase(ctx context.Context, env *Env) (base string, stop func(), err error) {
	if env.GatewatchURL != "" {
		return strings.TrimRight(env.GatewatchURL, "/"), func() {}, nil
	}
	w := gatewatchWorkload(env.Spec)
	list, err := env.Kube.CoreV1().Pods(w.Namespace).List(ctx, metav1.ListOptions{LabelSelector: w.PodSelector})
	if err != nil {
		return "", nil, fmt.Errorf("list gatewatch pods in %s: %w", w.Namespace, err)
	}
	for i := range list.Items {
		pod := &list.Items[i]
		if pod.Status.Phase != corev1.PodRunning {
			continue
		}
		addr, stopForward, err := forwardPort(ctx, env.RestConfig, env.Kube, pod, render.StandalonePort)
		if err != nil {
			return "", nil, err
		}
		return "http://" + addr, func() { stopForward() }, nil
	}
	return "", nil, fmt.Errorf("no running gatewatch pod in %s (%s)", w.Namespace, w.PodSelector)
}

// amStatus is the part of Alertmanager's API v2 /status this check reads.
type amStatus struct {
	Cluster struct {
		Name   string `json:"name"`
		Status string `json:"status"`
		Peers  []struct {
			Name    string `json:"name"`
			Address string `json:"address"`
		} `json:"peers"`
	} `json:"cluster"`
}

func (gatewatchCluster) Run(ctx context.Context, env *Env) Result {
	base, stop, err := gatewatchBase(ctx, env)
	if err != nil {
		return failed("gatewatch cannot be reached", "give --gatewatch-url (e.g. after kubectl port-forward statefulset/gatewatch 9421)", err.Error())
	}
	defer stop()
	var st amStatus
	url := base + "/api/v2/status"
	if err := getJSON(ctx, env, url, &st); err != nil {
		return failed("gatewatch's API does not answer", "check --gatewatch-url (e.g. kubectl port-forward statefulset/gatewatch 9421)", "GET "+url+": "+err.Error())
	}
	want := env.Spec.Cluster.Standalone.Replicas
	var members []string
	for _, p := range st.Cluster.Peers {
		members = append(members, p.Name+" ("+p.Address+")")
	}
	sort.Strings(members)
	ev := []string{fmt.Sprintf("replica %s sees %d member(s): %s", st.Cluster.Name, len(members), strings.Join(members, ", ")),
		"cluster status: " + st.Cluster.Status}
	switch {
	case st.Cluster.Status == "disabled" || st.Cluster.Name == "":
		if want > 1 {
			return failed("clustering is off", fmt.Sprintf("start every replica with --cluster.listen-address and --cluster.peer (render --target standalone does; the spec asks for %d replicas)", want), ev...)
		}
		return pass("one replica, no clustering", ev...)
	case want > 0 && len(members) != want:
		return failed(fmt.Sprintf("%d of %d replicas in the cluster", len(members), want),
			"a replica that cannot gossip sends on its own (duplicates): check --cluster.peer, the headless Service gatewatch-cluster and the gossip NetworkPolicies (9094 TCP and UDP)", ev...)
	case st.Cluster.Status != "ready":
		return warn("the cluster is still settling", "wait for --cluster.settle-timeout, then run doctor again", ev...)
	}
	return pass(fmt.Sprintf("%d replicas, settled", len(members)), ev...)
}

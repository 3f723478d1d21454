package doctor

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// gatewatchCluster (gatewatch/cluster): the gatewatch replicas reached at
// --gatewatch-url have formed one cluster of the spec's replica count and
// have settled. A split cluster posts duplicates; a replica alone after a
// rollout has not received the others' silences.
type gatewatchCluster struct{}

func (gatewatchCluster) ID() string    { return "gatewatch/cluster" }
func (gatewatchCluster) Title() string { return "gatewatch's replicas form one settled cluster" }
func (gatewatchCluster) Offline() bool { return false }

// applies: only with --gatewatch-url.
func (gatewatchCluster) applies(_ context.Context, env *Env) (bool, error) {
	return env.GatewatchURL != "", nil
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
	var st amStatus
	url := strings.TrimRight(env.GatewatchURL, "/") + "/api/v2/status"
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

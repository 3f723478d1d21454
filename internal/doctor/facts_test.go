package doctor

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/gatewatch/gatewatch/internal/render"
	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// TestChecksInAnyOrder: a check gets the facts it needs whichever checks
// ran before it, so the results do not depend on the order.
func TestChecksInAnyOrder(t *testing.T) {
	dir := renderDir(t, render.TargetOperator, nil)
	s, err := spec.Load("../../examples/gatewatch.yaml", rules.SpecKinds())
	require.NoError(t, err)
	m, err := LoadManifests(dir)
	require.NoError(t, err)
	byID := func(rs []Result) map[string]Result {
		out := map[string]Result{}
		for _, r := range rs {
			r.Duration = 0
			out[r.ID] = r
		}
		return out
	}
	forward := byID(Run(context.Background(), &Env{Spec: s, Manifests: m}, Checks(), nil))
	reversed := Checks()
	slices.Reverse(reversed)
	require.Equal(t, forward, byID(Run(context.Background(), &Env{Spec: s, Manifests: m}, reversed, nil)))
	for _, c := range Checks() {
		alone := byID(Run(context.Background(), &Env{Spec: s, Manifests: m}, []Check{c}, nil))
		require.Equal(t, forward[c.ID()], alone[c.ID()], "%s run alone", c.ID())
	}
	require.Equal(t, Pass, forward["alertmanager/route"].Status)
}

// TestFactsEstablishedOnce: the gateway pods and the NetworkPolicy model
// are read from the API once per run, whichever checks need them; a new run
// reads them again.
func TestFactsEstablishedOnce(t *testing.T) {
	s, err := spec.Load("../../examples/gatewatch.yaml", rules.SpecKinds())
	require.NoError(t, err)
	g := s.Gateways[0]
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "gw-1", Namespace: g.Namespace, Labels: map[string]string{"app": "istio-ingressgateway", "istio": "ingressgateway"}},
		Status:     corev1.PodStatus{Phase: corev1.PodPending},
	}
	client := fake.NewClientset(pod)
	lists := map[string]int{}
	client.PrependReactor("list", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		lists[a.GetResource().Resource]++
		return false, nil, nil
	})
	env := &Env{Spec: s, Kube: client}
	byID := map[string]Result{}
	checks := []Check{gatewayPods{}, gatewayStats{}, networkScrape{}, networkEgress{}}
	for _, r := range Run(context.Background(), env, checks, nil) {
		byID[r.ID] = r
	}
	require.Equal(t, Fail, byID["gateway/pods"].Status, byID["gateway/pods"].Summary)
	require.Contains(t, byID["gateway/pods"].Evidence, "public-ingress: pod gw-1 is Pending")
	require.Equal(t, Skip, byID["gateway/stats"].Status)
	require.Equal(t, 1, lists["namespaces"], "the NetworkPolicy model is read once for both network checks")
	require.Equal(t, 1, lists["networkpolicies"])
	podLists := lists["pods"]

	// gateway/stats alone still finds the pods (none Running: skip).
	clear(lists)
	rs := Run(context.Background(), env, []Check{gatewayStats{}}, nil)
	require.Equal(t, Skip, rs[0].Status)
	require.Equal(t, map[string]int{"pods": 1}, lists)

	// network/scrape and network/egress list the workloads on the path
	// themselves; gateway/pods and gateway/stats share one listing.
	clear(lists)
	Run(context.Background(), env, []Check{networkScrape{}, networkEgress{}}, nil)
	require.Equal(t, podLists-1, lists["pods"])
}

package render

import (
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// TestSelectorForms: every kubectl selector form `gatewatch check` takes
// becomes a pod selector that selects the same pods; "!=" (which
// metav1.ParseToLabelSelector refuses) is NotIn.
func TestSelectorForms(t *testing.T) {
	got, err := selector("app = gw, track != canary,tier in(edge,dmz), ! canary,zone")
	require.NoError(t, err)
	require.Equal(t, &metav1.LabelSelector{
		MatchLabels: map[string]string{"app": "gw"},
		MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "canary", Operator: metav1.LabelSelectorOpDoesNotExist},
			{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"dmz", "edge"}},
			{Key: "track", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"canary"}},
			{Key: "zone", Operator: metav1.LabelSelectorOpExists},
		},
	}, got)
	kubectl, err := labels.Parse("app=gw,track!=canary,tier in (edge,dmz),!canary,zone")
	require.NoError(t, err)
	ours, err := metav1.LabelSelectorAsSelector(got)
	require.NoError(t, err)
	for _, pod := range []labels.Set{
		{"app": "gw", "tier": "edge", "zone": "a"},
		{"app": "gw", "tier": "edge", "zone": "a", "track": "canary"},
		{"app": "gw", "tier": "dmz", "zone": "a", "canary": "1"},
		{"app": "gw", "tier": "core", "zone": "a"},
		{"app": "gw", "tier": "edge"},
	} {
		require.Equal(t, kubectl.Matches(pod), ours.Matches(pod), "%v", pod)
	}
	_, err = selector("replicas>1")
	require.ErrorContains(t, err, "no pod-selector form")
}

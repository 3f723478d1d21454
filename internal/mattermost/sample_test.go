package mattermost

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// TestSample: the sample is the spec's first routed alert as a real one
// would look, marked as a test from its sender.
func TestSample(t *testing.T) {
	b, err := os.ReadFile("../../examples/gatewatch.yaml")
	require.NoError(t, err)
	example, err := spec.Parse(b, "gatewatch.yaml", rules.SpecKinds())
	require.NoError(t, err)
	unrouted := *example
	unrouted.Routing.Alerts = nil
	braces, err := spec.Parse([]byte(strings.Replace(string(b), "workload: istio-ingressgateway", "workload: 'istio{{ ingress'", 1)), "gatewatch.yaml", rules.SpecKinds())
	require.NoError(t, err)
	require.Equal(t, "istio{{ ingress", braces.Gateways[0].Workload)
	now := time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		s         *spec.Spec
		o         SampleOptions
		status    string
		severity  string
		err       string
		wantEnded bool
	}{
		{name: "firing", s: example, o: SampleOptions{Sender: "gatewatch notify test", Now: now}, status: "firing", severity: "warning"},
		{name: "severity override", s: example, o: SampleOptions{Sender: "gatewatch doctor --send-test", Severity: "info", Now: now}, status: "firing", severity: "info"},
		{name: "resolved", s: example, o: SampleOptions{Sender: "gatewatch notify test", Resolved: true, Now: now}, status: "resolved", severity: "warning", wantEnded: true},
		{name: "braces in a spec value", s: braces, o: SampleOptions{Sender: "gatewatch notify test", Now: now}, status: "firing", severity: "warning"},
		{name: "nothing routed", s: &unrouted, o: SampleOptions{Sender: "x"}, err: "no enabled alert is routed to Mattermost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Sample(tc.s, tc.o)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.status, d.Status)
			require.Len(t, d.Alerts, 1)
			a := d.Alerts[0]
			require.Equal(t, tc.s.Routing.Alerts[0], a.Labels["alertname"])
			require.Equal(t, tc.severity, d.CommonLabels["severity"])
			require.Equal(t, tc.s.Gateways[0].Name, d.CommonLabels["gateway"])
			require.Equal(t, tc.s.Gateways[0].Workload, d.CommonLabels["workload"], "label values as Prometheus sends them, not their escaped template")
			require.True(t, strings.HasPrefix(a.Annotations["description"], "This is a test message from `"+tc.o.Sender+"`. "), a.Annotations["description"])
			require.Empty(t, a.GeneratorURL, "a test message has no graph")
			require.Equal(t, now.Add(-time.Minute), a.StartsAt)
			require.Equal(t, tc.wantEnded, !a.EndsAt.IsZero())
		})
	}
}

package doctor

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/render"
	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// TestOfflineStaleObjects: the manifests of a spec with a second gateway,
// checked against the spec without it, hold that gateway's objects, which
// no target renders for the spec any more: render/stale warns, naming them.
// The spec's own render passes.
func TestOfflineStaleObjects(t *testing.T) {
	for _, tc := range []struct {
		target string
		want   []string
	}{
		{render.TargetOperator, []string{"PodMonitor edge/gatewatch-partner-edge", "AlertmanagerConfig edge/gatewatch-mattermost", "NetworkPolicy edge/gatewatch-partner-edge-allow-prometheus-scrape"}},
		{render.TargetPrometheus, []string{"scrape job gatewatch/edge/partner-edge", "NetworkPolicy edge/gatewatch-partner-edge-allow-prometheus-scrape"}},
		{render.TargetHelm, []string{"PodMonitor (additionalPodMonitors) gatewatch-partner-edge", "NetworkPolicy edge/gatewatch-partner-edge-allow-prometheus-scrape"}},
	} {
		t.Run(tc.target, func(t *testing.T) {
			require.Equal(t, Pass, runOffline(t, renderDir(t, tc.target, nil))["render/stale"].Status)

			s, err := spec.Load("../../examples/gatewatch.yaml", rules.SpecKinds())
			require.NoError(t, err)
			edge := s.Gateways[0]
			edge.Name, edge.Namespace, edge.Workload, edge.Selector = "partner-edge", "edge", "partner-gateway", "app=partner-gateway"
			s.Gateways = append(s.Gateways, edge)
			files, err := render.Render(s, tc.target)
			require.NoError(t, err)
			dir := renderDir(t, tc.target, func(dir string) {
				require.NoError(t, render.WriteDir(dir, files))
			})
			r := runOffline(t, dir)["render/stale"]
			require.Equal(t, Warn, r.Status, "%s %v", r.Summary, r.Evidence)
			ev := strings.Join(r.Evidence, "\n")
			for _, w := range tc.want {
				require.Contains(t, ev, w+" (")
			}
			require.Len(t, r.Evidence, len(tc.want), ev)
			require.Contains(t, r.Hint, "gatewatch render -o DIR")
		})
	}
}

package render

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	yamlv3 "gopkg.in/yaml.v3"
	"sigs.k8s.io/yaml"

	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// chartPodMonitorMetadata is what kube-prometheus-stack's
// templates/prometheus/podmonitors.yaml makes of one additionalPodMonitors
// entry's labels: its own (app and the kube-prometheus-stack.labels helper)
// and then the entry's additionalLabels, as text.
func chartPodMonitorMetadata(additional map[string]string) string {
	var b strings.Builder
	b.WriteString("labels:\n")
	b.WriteString("  app: kube-prometheus-stack-prometheus\n")
	b.WriteString("  app.kubernetes.io/managed-by: Helm\n")
	b.WriteString("  app.kubernetes.io/instance: kube-prometheus-stack\n")
	b.WriteString("  app.kubernetes.io/version: \"70.0.0\"\n")
	b.WriteString("  app.kubernetes.io/part-of: kube-prometheus-stack\n")
	b.WriteString("  chart: kube-prometheus-stack-70.0.0\n")
	b.WriteString("  release: \"kube-prometheus-stack\"\n")
	b.WriteString("  heritage: \"Helm\"\n")
	keys := make([]string, 0, len(additional))
	for k := range additional {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "  %s: %q\n", k, additional[k])
	}
	return b.String()
}

// TestHelmPodMonitorLabelsParseStrictly: the PodMonitor the chart makes of
// each additionalPodMonitors entry has no duplicate label (a strict YAML
// parser refuses one), and the spec's selector labels the chart does not set
// itself are still there.
func TestHelmPodMonitorLabelsParseStrictly(t *testing.T) {
	for _, tc := range []struct {
		spec      string
		wantExtra map[string]string
	}{
		{spec: "example"},
		{spec: "full", wantExtra: map[string]string{"prometheus": "main"}},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			s, err := spec.Load(goldenSpecs[tc.spec], rules.SpecKinds())
			require.NoError(t, err)
			files, err := Render(s, TargetHelm)
			require.NoError(t, err)
			var values struct {
				Prometheus struct {
					AdditionalPodMonitors []struct {
						Name             string            `json:"name"`
						AdditionalLabels map[string]string `json:"additionalLabels"`
					} `json:"additionalPodMonitors"`
				} `json:"prometheus"`
			}
			require.Equal(t, HelmValuesFileName, files[0].Name)
			require.NoError(t, yaml.Unmarshal(files[0].Content, &values))
			require.NotEmpty(t, values.Prometheus.AdditionalPodMonitors)
			for _, pm := range values.Prometheus.AdditionalPodMonitors {
				var md map[string]map[string]string
				err := yamlv3.Unmarshal([]byte(chartPodMonitorMetadata(pm.AdditionalLabels)), &md)
				require.NoError(t, err, "%s: the chart's PodMonitor must parse strictly", pm.Name)
				for k, v := range tc.wantExtra {
					require.Equal(t, v, md["labels"][k], "%s: label %s", pm.Name, k)
				}
				require.Equal(t, "Helm", md["labels"]["app.kubernetes.io/managed-by"])
			}
		})
	}
}

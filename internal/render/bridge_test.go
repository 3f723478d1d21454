package render

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"

	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// bridgeDeploymentOf renders the bridge target and returns its Deployment
// and the names of the files written.
func bridgeDeploymentOf(t *testing.T, s *spec.Spec) (appsv1.Deployment, map[string]bool) {
	t.Helper()
	files, err := Render(s, TargetBridge)
	require.NoError(t, err)
	var dep appsv1.Deployment
	names := map[string]bool{}
	for _, f := range files {
		names[f.Name] = true
		if f.Name == "deployment-"+s.Cluster.MonitoringNamespace+"-"+BridgeName+".yaml" {
			require.NoError(t, yaml.UnmarshalStrict(f.Content, &dep))
		}
	}
	require.Equal(t, BridgeName, dep.Name)
	return dep, names
}

// TestBridgeDeploymentModes: with a webhook the bridge is stateless, two
// replicas rolled one at a time behind a PodDisruptionBudget; in bot mode
// it is one replica, replaced rather than rolled, with its data directory
// on a claim and the buttons' flags. The spec's checksum on the pod
// template changes with the spec, so applying a changed render rolls the
// pods (the bridge reads its spec once).
func TestBridgeDeploymentModes(t *testing.T) {
	s, err := spec.Load("../../examples/gatewatch.yaml", rules.SpecKinds())
	require.NoError(t, err)
	dep, names := bridgeDeploymentOf(t, s)
	require.EqualValues(t, 2, *dep.Spec.Replicas)
	require.Equal(t, appsv1.RollingUpdateDeploymentStrategyType, dep.Spec.Strategy.Type)
	require.True(t, names["poddisruptionbudget-monitoring-gatewatch-bridge.yaml"])
	require.False(t, names["persistentvolumeclaim-monitoring-gatewatch-bridge.yaml"])
	c := dep.Spec.Template.Spec.Containers[0]
	require.Equal(t, []string{"bridge", "-c", "/etc/gatewatch/gatewatch.yaml", "--listen=0.0.0.0:9095", "--log.format=json"}, c.Args)
	require.False(t, *dep.Spec.Template.Spec.AutomountServiceAccountToken, "explain reads files: no API token")
	sum := dep.Spec.Template.Annotations["checksum/spec"]
	require.Len(t, sum, 64)

	again, _ := bridgeDeploymentOf(t, s)
	require.Equal(t, sum, again.Spec.Template.Annotations["checksum/spec"], "the same spec, the same pods")
	s.Mattermost.Channel = "other-channel"
	changed, _ := bridgeDeploymentOf(t, s)
	require.NotEqual(t, sum, changed.Spec.Template.Annotations["checksum/spec"], "a changed spec rolls the pods")

	bot, err := spec.Load("testdata/bridge-bot.yaml", rules.SpecKinds())
	require.NoError(t, err)
	dep, names = bridgeDeploymentOf(t, bot)
	require.EqualValues(t, 1, *dep.Spec.Replicas, "one bridge per data directory")
	require.Equal(t, appsv1.RecreateDeploymentStrategyType, dep.Spec.Strategy.Type)
	require.False(t, names["poddisruptionbudget-monitoring-gatewatch-bridge.yaml"])
	require.True(t, names["persistentvolumeclaim-monitoring-gatewatch-bridge.yaml"])
	require.Contains(t, dep.Spec.Template.Spec.Containers[0].Args, "--data-dir=/var/lib/gatewatch-bridge")
	require.Contains(t, dep.Spec.Template.Spec.Containers[0].Args, "--alertmanager-url=http://alertmanager-operated.monitoring.svc:9093")
	require.Contains(t, dep.Spec.Template.Spec.Containers[0].Args, "--web.external-url=http://gatewatch-bridge.monitoring.svc:9095")
	require.True(t, *dep.Spec.Template.Spec.AutomountServiceAccountToken, "explain reads the gateway logs from the API")
}

// TestBridgeAlertmanagerExampleIsTheStacks: the bridge target's commented
// AlertmanagerConfig, uncommented, is the object the operator target
// writes with cluster.bridge.enabled, and its alertmanager.yml part is the
// prometheus target's receiver; with the bridge off the example still
// points at the bridge.
func TestBridgeAlertmanagerExampleIsTheStacks(t *testing.T) {
	s, err := spec.Load("testdata/bridge-bot.yaml", rules.SpecKinds())
	require.NoError(t, err)
	byName := func(target string) map[string]File {
		files, err := Render(s, target)
		require.NoError(t, err)
		out := map[string]File{}
		for _, f := range files {
			out[f.Name] = f
		}
		return out
	}
	const name = "alertmanagerconfig-istio-ingress-gatewatch-mattermost.yaml"
	example, ok := byName(TargetBridge)[name+".example"]
	require.True(t, ok)
	operator := byName(TargetOperator)[name]
	require.Equal(t, string(operator.Content), strings.ReplaceAll("\n"+string(example.Content), "\n# ", "\n")[1:])
	am := string(byName(TargetPrometheus)[AlertmanagerConfigFileName].Content)
	receiver := am[strings.Index(am, "- name: mattermost\n"):strings.Index(am, "route:\n")]
	require.Contains(t, example.Header, commentOut([]byte(receiver))[:len(commentOut([]byte(receiver)))-1])

	s.Cluster.Bridge.Enabled = false
	off := byName(TargetBridge)[name+".example"]
	require.Contains(t, off.Header, "cluster.bridge.enabled is not set")
	require.Contains(t, string(off.Content), "#       url: "+BridgeURL(s))
}

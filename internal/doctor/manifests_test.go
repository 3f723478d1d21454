package doctor

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for rel, content := range files {
		p := filepath.Join(dir, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return dir
}

const amYAML = "route: {receiver: mm}\nreceivers:\n- name: mm\n  slack_configs: [{api_url: 'http://x/hooks/y', channel: c}]\n"

// TestLoadManifests: JSON files and List kinds are read, hidden folders are
// not; a config file is read as the render output of its name declares it,
// one of another name as any config file.
func TestLoadManifests(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"policy.json":         `{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "np", "namespace": "a"}, "spec": {"podSelector": {}}}`,
		"list.yaml":           "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Namespace, metadata: {name: a, labels: {team: x}}}\n- {apiVersion: v1, kind: Pod, metadata: {name: p, namespace: a, labels: {app: gw}}}\n",
		".hidden/np.yaml":     "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: hidden, namespace: a}\n",
		"my-alertmanager.yml": amYAML,
		// values.yaml is kube-prometheus-stack values: a top-level route is
		// not an Alertmanager configuration there.
		"values.yaml":         amYAML + "additionalPrometheusRulesMap:\n  r: {groups: [{name: g, rules: [{alert: A, expr: up}]}]}\n",
		"notes.txt":           "kind: Pod\n",
		"secret.yaml.example": "# kind: Secret\n",
	})
	m, err := LoadManifests(dir)
	require.NoError(t, err)
	require.Empty(t, m.Problems)
	require.Len(t, m.policies, 1)
	require.Equal(t, "np", m.policies[0].Name)
	require.Equal(t, map[string]map[string]string{"a": {"team": "x"}}, m.namespaces)
	require.Len(t, m.pods, 1)
	require.Equal(t, []loadedRule{{Name: "A", Query: "up", Source: filepath.Join(dir, "values.yaml") + ":1 additionalPrometheusRulesMap.r"}}, m.rules())
	require.Len(t, m.amConfigs, 1)
	require.Equal(t, filepath.Join(dir, "my-alertmanager.yml"), m.amConfigs[0].file)

	// A file named explicitly is read whatever its name.
	m, err = LoadManifests(filepath.Join(dir, "notes.txt"))
	require.NoError(t, err)
	require.Len(t, m.pods, 1)

	_, err = LoadManifests(t.TempDir())
	require.ErrorContains(t, err, "read manifests: no .yaml, .yml or .json file under")
}

// TestObjectKindsAreRead: every kind objectKinds names is read.
func TestObjectKindsAreRead(t *testing.T) {
	count := func(m *Manifests) int {
		return len(m.namespaces) + len(m.policies) + len(m.pods) + len(m.podMonitors) + len(m.ruleList) + len(m.amcs)
	}
	for _, kind := range objectKinds() {
		t.Run(kind, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"o.yaml": "apiVersion: x/v1\nkind: " + kind + "\nmetadata: {name: a, namespace: ns}\n" +
				"spec:\n  template: {metadata: {labels: {a: b}}}\n  groups: [{name: g, rules: [{alert: A, expr: up}]}]\n"})
			m, err := LoadManifests(dir)
			require.NoError(t, err)
			require.Empty(t, m.Problems)
			require.Equal(t, 1, count(m))
		})
	}
}

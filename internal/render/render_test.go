package render

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var goldenSpecs = map[string]string{
	"example": "../../examples/gatewatch.yaml",
	"full":    "testdata/full.yaml",
	// bot mode behind the stack's Alertmanager: the stack targets post
	// through gatewatch bridge, which keeps its posts on a volume.
	"bridge-bot": "testdata/bridge-bot.yaml",
}

// TestGolden renders every spec for every target and compares with
// testdata/<spec>-<target>.golden.yaml (go test ./internal/render -update).
func TestGolden(t *testing.T) {
	for name, path := range goldenSpecs {
		for _, target := range TargetNames() {
			t.Run(name+"/"+target, func(t *testing.T) {
				s, err := spec.Load(path, rules.SpecKinds())
				require.NoError(t, err)
				files, err := Render(s, target)
				require.NoError(t, err)
				var buf bytes.Buffer
				require.NoError(t, Write(&buf, files))
				golden := filepath.Join("testdata", name+"-"+target+".golden.yaml")
				if *update {
					require.NoError(t, os.WriteFile(golden, buf.Bytes(), 0o644))
				}
				want, err := os.ReadFile(golden)
				require.NoError(t, err, "run make update-golden")
				require.Equal(t, string(want), buf.String())
			})
		}
	}
}

// TestStableOutput renders twice and expects identical bytes (map ordering
// must never leak into the output).
func TestStableOutput(t *testing.T) {
	s, err := spec.Load(goldenSpecs["full"], rules.SpecKinds())
	require.NoError(t, err)
	for _, target := range Targets() {
		var first string
		for i := 0; i < 5; i++ {
			files, err := target.Render(s)
			require.NoError(t, err)
			var buf bytes.Buffer
			require.NoError(t, Write(&buf, files))
			if i == 0 {
				first = buf.String()
			}
			require.Equal(t, first, buf.String())
		}
	}
}

// TestTargetsDeclareTheirOutputs: every file a target renders is one of the
// outputs it declares, with the declared kind, and every declared output is
// rendered for one of the golden specs (doctor reads rendered folders
// through these declarations).
func TestTargetsDeclareTheirOutputs(t *testing.T) {
	require.Equal(t, []string{TargetOperator, TargetPrometheus, TargetHelm, TargetStandalone, TargetBridge}, TargetNames())
	for _, target := range Targets() {
		t.Run(target.Name, func(t *testing.T) {
			seen := map[string]bool{}
			for _, path := range goldenSpecs {
				s, err := spec.Load(path, rules.SpecKinds())
				require.NoError(t, err)
				files, err := target.Render(s)
				require.NoError(t, err)
				for _, f := range files {
					var outs []Output
					for _, o := range target.Writes {
						if o.Matches(f.Name) {
							outs = append(outs, o)
						}
					}
					require.Len(t, outs, 1, "%s: declared by exactly one output", f.Name)
					out := outs[0]
					seen[out.Name] = true
					got, ok := OutputOf(f.Name)
					require.True(t, ok, f.Name)
					require.Equal(t, out, got, "%s: the same output whichever target asks", f.Name)
					content := f.Content
					switch out.Format {
					case FormatExample:
						content = []byte(strings.ReplaceAll("\n"+string(content), "\n# ", "\n"))
						fallthrough
					case FormatObject:
						var head struct {
							Kind string `json:"kind"`
						}
						require.NoError(t, yaml.Unmarshal(content, &head), f.Name)
						require.Contains(t, out.Kinds, head.Kind, f.Name)
					default:
						require.Empty(t, out.Kinds, "%s: a config file has no kind", f.Name)
					}
				}
			}
			for _, o := range target.Writes {
				require.True(t, seen[o.Name], "%s is declared but no golden spec renders it", o.Name)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	for _, name := range TargetNames() {
		got, err := Lookup(name)
		require.NoError(t, err)
		require.Equal(t, name, got.Name)
	}
	_, err := Lookup("kustomize")
	require.EqualError(t, err, `unknown target "kustomize": use one of operator, prometheus, helm, standalone, bridge`)
}

func TestAlertmanagerReceiverByVersion(t *testing.T) {
	for _, tc := range []struct {
		version, want, notWant string
	}{
		{"0.28.1", "slack_configs:", "mattermost_configs:"},
		{"0.29.0", "slack_configs:", "mattermost_configs:"},
		{"0.30.0", "mattermost_configs:", "slack_configs:"},
		{"v0.31.1", "mattermost_configs:", "slack_configs:"},
		{"1.0", "mattermost_configs:", "slack_configs:"},
	} {
		t.Run(tc.version, func(t *testing.T) {
			s, err := spec.Load(goldenSpecs["example"], rules.SpecKinds())
			require.NoError(t, err)
			s.Cluster.Alertmanager.Version = tc.version
			files, err := Render(s, TargetPrometheus)
			require.NoError(t, err)
			var am string
			for _, f := range files {
				if f.Name == "alertmanager.yml" {
					am = string(f.Content)
				}
			}
			require.Contains(t, am, tc.want)
			require.NotContains(t, am, tc.notWant)
			require.Contains(t, am, "/etc/alertmanager/secrets/gatewatch-mattermost/webhook-url")
		})
	}
}

// TestWriteDirAllOrNothing: a failing write leaves the directory untouched.
func TestWriteDirAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	files := []File{{Name: "a.yaml", Content: []byte("a: 1\n")}, {Name: "a.yaml", Content: []byte("b: 2\n")}}
	require.Error(t, WriteDir(dir, files))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries)

	// A file in the way of one output: nothing is written.
	require.NoError(t, os.Mkdir(filepath.Join(dir, "b.yaml"), 0o755))
	files = []File{{Name: "a.yaml", Content: []byte("a: 1\n")}, {Name: "b.yaml", Content: []byte("b: 2\n")}}
	err = WriteDir(dir, files)
	require.Error(t, err)
	_, statErr := os.Stat(filepath.Join(dir, "a.yaml"))
	require.True(t, os.IsNotExist(statErr), "a.yaml must not be written when b.yaml fails")

	ok := t.TempDir()
	require.NoError(t, WriteDir(filepath.Join(ok, "new"), files))
	b, err := os.ReadFile(filepath.Join(ok, "new", "b.yaml"))
	require.NoError(t, err)
	require.Equal(t, "b: 2\n", string(b))
}

func TestUnknownTarget(t *testing.T) {
	s, err := spec.Load(goldenSpecs["example"], rules.SpecKinds())
	require.NoError(t, err)
	_, err = Render(s, "kustomize")
	require.ErrorContains(t, err, `unknown target "kustomize"`)
	require.True(t, strings.Contains(err.Error(), "operator, prometheus, helm, standalone"))
}

// TestStandalone: the deployed spec re-loads, carries no webhook URL, points
// at the mounted Secret; the StatefulSet is hardened; RBAC is pods-only
// unless explain reads the cluster.
func TestStandalone(t *testing.T) {
	s, err := spec.Load(goldenSpecs["full"], rules.SpecKinds())
	require.NoError(t, err)
	b, err := DeploymentSpec(s)
	require.NoError(t, err)
	require.NotContains(t, string(b), "inline-secret")
	again, err := spec.Parse(b, "deployed.yaml", rules.SpecKinds())
	require.NoError(t, err, string(b))
	require.Equal(t, "/etc/gatewatch/secrets/webhook-url", again.Mattermost.WebhookURLFile)
	require.Equal(t, s.EnabledAlerts()[0].Name, again.EnabledAlerts()[0].Name)
	require.Equal(t, len(s.Gateways), len(again.Gateways))

	files, err := Render(s, TargetStandalone)
	require.NoError(t, err)
	var all strings.Builder
	for _, f := range files {
		all.Write(f.Content)
	}
	out := all.String()
	for _, want := range []string{"readOnlyRootFilesystem: true", "runAsNonRoot: true", "allowPrivilegeEscalation: false",
		"path: /-/healthy", "path: /-/ready", "verbs:\n  - get\n  - list\n  - watch", "resources:\n  - pods", "name: gatewatch-egress-scrape", "name: gatewatch-egress-kube-api"} {
		require.Contains(t, out, want)
	}
	// explain's kube sources add exactly their reads: pod logs, Services,
	// Secrets by name (get, never list), Gateway kinds cluster-wide (list).
	require.Contains(t, out, "resources:\n  - pods/log\n  verbs:\n  - get\n")
	require.Contains(t, out, "resources:\n  - secrets\n  verbs:\n  - get\n")
	require.Contains(t, out, "kind: ClusterRole\n")
	require.NotContains(t, out, "  - secrets\n  verbs:\n  - get\n  - list")

	// Without explain's kube sources, RBAC is pods only.
	s, err = spec.Load(goldenSpecs["example"], rules.SpecKinds())
	require.NoError(t, err)
	files, err = Render(s, TargetStandalone)
	require.NoError(t, err)
	all.Reset()
	for _, f := range files {
		all.Write(f.Content)
	}
	require.NotContains(t, all.String(), "  - secrets", "RBAC grants pods only")
	require.NotContains(t, all.String(), "pods/log")
	require.NotContains(t, all.String(), "ClusterRole")
}

// TestDeploymentSpecKeepsEveryValue: values that yaml.v3 writes as block
// scalars it cannot read back (a leading newline, a first line starting
// with a space, inside a list) reach the deployed gatewatch unchanged; the
// spec the deployment was rendered from is not modified.
func TestDeploymentSpecKeepsEveryValue(t *testing.T) {
	s, err := spec.Load(goldenSpecs["full"], rules.SpecKinds())
	require.NoError(t, err)
	plain, err := DeploymentSpec(s)
	require.NoError(t, err)
	require.NotContains(t, string(plain), "gatewatch-hidden", "no placeholder in the ordinary case")

	s.Gateways[0].Workload = " -(\n`'.Status"
	s.Alerts[0].Annotations = map[string]string{"note": "\nfirst line empty", "plain": "x"}
	s.Mattermost.Channel = "\n"
	s.Mattermost.Username = " padded "
	b, err := DeploymentSpec(s)
	require.NoError(t, err)
	again, err := spec.Parse(b, "deployed.yaml", rules.SpecKinds())
	require.NoError(t, err, "%s", b)
	require.Equal(t, " -(\n`'.Status", again.Gateways[0].Workload)
	require.Equal(t, map[string]string{"note": "\nfirst line empty", "plain": "x"}, again.Alerts[0].Annotations)
	require.Equal(t, "\n", again.Mattermost.Channel)
	require.Equal(t, " padded ", again.Mattermost.Username)
	require.Equal(t, " -(\n`'.Status", s.Gateways[0].Workload, "the rendered spec keeps its values")
	require.Equal(t, "\nfirst line empty", s.Alerts[0].Annotations["note"])
	require.NotContains(t, string(b), "gatewatch-hidden")
}

// TestNetworkPoliciesOnlyForDefaultDeny: without cluster.default_deny no
// policy is rendered (one would isolate the pods it selects); with egress
// only, only egress policies.
func TestNetworkPoliciesOnlyForDefaultDeny(t *testing.T) {
	s, err := spec.Load(goldenSpecs["example"], rules.SpecKinds())
	require.NoError(t, err)
	count := func() (ingress, egress int) {
		files, err := Render(s, TargetOperator)
		require.NoError(t, err)
		for _, f := range files {
			c := string(f.Content)
			if strings.Contains(c, "kind: NetworkPolicy") {
				if strings.Contains(c, "- Ingress") {
					ingress++
				} else {
					egress++
				}
			}
			require.False(t, strings.Contains(c, "kind: Secret") && !strings.HasSuffix(f.Name, ".example"), "a Secret must never be applied by accident")
		}
		return ingress, egress
	}
	in, eg := count()
	require.Equal(t, 2, in)
	require.Equal(t, 3, eg)
	s.Cluster.DefaultDeny = []string{"egress"}
	in, eg = count()
	require.Equal(t, 0, in)
	require.Equal(t, 3, eg)
	s.Cluster.DefaultDeny = nil
	in, eg = count()
	require.Zero(t, in+eg)
}

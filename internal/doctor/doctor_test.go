package doctor

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/render"
	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// gatewayDeployment is the Istio gateway's workload, as a user's manifests hold it.
// gatewayDeployment is the gateway's own workload.
var gatewayDeployment = func() string {
	b, err := os.ReadFile("testdata/gateway-deployment.yaml")
	if err != nil {
		panic(err)
	}
	return string(b)
}()

// defaultDeny is the runbook's locked-down cluster.
const defaultDeny = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: %s}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
`

func renderDir(t *testing.T, target string, edit func(dir string)) string {
	t.Helper()
	s, err := spec.Load("../../examples/gatewatch.yaml", rules.SpecKinds())
	require.NoError(t, err)
	return renderSpecDir(t, s, target, edit)
}

// renderSpecDir is renderDir for a given spec.
func renderSpecDir(t *testing.T, s *spec.Spec, target string, edit func(dir string)) string {
	t.Helper()
	files, err := render.Render(s, target)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, render.WriteDir(dir, files))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "gateway.yaml"), []byte(gatewayDeployment), 0o644))
	var dd strings.Builder
	for i, ns := range []string{"monitoring", "istio-ingress"} {
		if i > 0 {
			dd.WriteString("---\n")
		}
		dd.WriteString(strings.Replace(defaultDeny, "%s", ns, 1))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "default-deny.yaml"), []byte(dd.String()), 0o644))
	if edit != nil {
		edit(dir)
	}
	return dir
}

func runOffline(t *testing.T, dir string) map[string]Result {
	t.Helper()
	s, err := spec.Load("../../examples/gatewatch.yaml", rules.SpecKinds())
	require.NoError(t, err)
	return runOfflineSpec(t, s, dir)
}

// runOfflineSpec is runOffline for a given spec.
func runOfflineSpec(t *testing.T, s *spec.Spec, dir string) map[string]Result {
	t.Helper()
	m, err := LoadManifests(dir)
	require.NoError(t, err)
	var text bytes.Buffer
	rs := Run(context.Background(), &Env{Spec: s, Manifests: m}, Checks(), TextReporter(&text))
	out := map[string]Result{}
	for _, r := range rs {
		out[r.ID] = r
	}
	require.Len(t, out, len(rs), "one result per check")
	return out
}

// TestOfflineCorrectSetup: the rendered manifests in a default-deny cluster
// pass every offline check.
func TestOfflineCorrectSetup(t *testing.T) {
	targets := stackTargets()
	require.Equal(t, []string{render.TargetOperator, render.TargetPrometheus, render.TargetHelm}, targets)
	for _, target := range targets {
		t.Run(target, func(t *testing.T) {
			rs := runOffline(t, renderDir(t, target, nil))
			for _, id := range []string{"gateway/pods", "prometheus/target", "prometheus/rule", "alertmanager/config", "alertmanager/route", "network/scrape", "network/egress"} {
				require.Equal(t, Pass, rs[id].Status, "%s: %s %v", id, rs[id].Summary, rs[id].Evidence)
			}
			require.Equal(t, Skip, rs["gateway/stats"].Status)
		})
	}
}

// stackTargets are the render targets whose output configures an existing
// Prometheus and Alertmanager, which doctor --offline checks (standalone
// deploys gatewatch itself): those declaring an Alertmanager configuration.
func stackTargets() []string {
	var out []string
	for _, t := range render.Targets() {
		for _, o := range t.Writes {
			// (an AlertmanagerConfig example, the bridge's, is not one)
			if o.Format == render.FormatAlertmanagerConfig || o.Format == render.FormatHelmValues || (o.Format == render.FormatObject && slices.Contains(o.Kinds, "AlertmanagerConfig")) {
				out = append(out, t.Name)
				break
			}
		}
	}
	return out
}

// TestOfflineReadsEveryRenderedOutput: doctor reads each file a stack
// target declares: its config format, or its kind (or knows why not).
func TestOfflineReadsEveryRenderedOutput(t *testing.T) {
	notRead := map[string]string{
		"ScrapeConfig": "static targets are not checked offline",
		"ConfigMap":    "the Grafana dashboard is not on the alert path",
	}
	for _, name := range stackTargets() {
		target, err := render.Lookup(name)
		require.NoError(t, err)
		for _, o := range target.Writes {
			switch o.Format {
			case render.FormatObject:
				for _, k := range o.Kinds {
					require.True(t, slices.Contains(objectKinds(), k) || notRead[k] != "", "%s: %s %s is not read offline", name, o.Name, k)
				}
			case render.FormatExample:
				require.True(t, strings.HasSuffix(o.Name, ".example"), "%s: an example is not applied, so not read", o.Name)
			default:
				require.Contains(t, configFormats(), o.Format, "%s: %s", name, o.Name)
			}
		}
	}
}

// TestOfflineEachBreakFailsTheRightCheck: removing one piece turns exactly
// the expected check to FAIL (or WARN), with a hint naming the fix.
func TestOfflineEachBreakFailsTheRightCheck(t *testing.T) {
	remove := func(prefix string) func(string) {
		return func(dir string) {
			matches, _ := filepath.Glob(filepath.Join(dir, prefix+"*"))
			require.NotEmpty(t, matches, prefix)
			for _, m := range matches {
				require.NoError(t, os.Remove(m))
			}
		}
	}
	for _, tc := range []struct {
		name, check string
		status      Status
		edit        func(string)
		hint        string
	}{
		{"no DNS egress", "network/egress", Fail, remove("networkpolicy-monitoring-gatewatch-alertmanager-egress-dns"), "53 UDP and TCP"},
		{"no webhook egress", "network/egress", Fail, remove("networkpolicy-monitoring-gatewatch-alertmanager-egress-webhook"), "webhook path"},
		{"no scrape policy", "network/scrape", Fail, remove("networkpolicy-istio-ingress-gatewatch-public-ingress-allow-prometheus-scrape"), "Prometheus"},
		{"no PodMonitor", "prometheus/target", Fail, remove("podmonitor-"), "annotation-based monitor"},
		{"no Alertmanager receiver", "alertmanager/config", Fail, remove("alertmanagerconfig-"), "no alertmanager.yml, helm values or AlertmanagerConfig found"},
		{"route matches another alert", "alertmanager/route", Fail, func(dir string) {
			matches, _ := filepath.Glob(filepath.Join(dir, "alertmanagerconfig-*"))
			require.Len(t, matches, 1)
			b, _ := os.ReadFile(matches[0])
			require.NoError(t, os.WriteFile(matches[0], []byte(strings.Replace(string(b), "value: GatewayMisdirectedRequest421", "value: SomethingElse", 1)), 0o644))
		}, "add a route matching the alertname"},
		{"the runbook's rule", "prometheus/rule", Warn, func(dir string) {
			p := filepath.Join(dir, "prometheusrule-monitoring-gatewatch.yaml")
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			s, err := spec.Load("../../examples/gatewatch.yaml", rules.SpecKinds())
			require.NoError(t, err)
			gw := s.Gateways[0]
			i := strings.Index(string(b), "expr: |-")
			j := strings.Index(string(b), "for: 0s")
			require.True(t, i > 0 && j > i)
			out := string(b[:i]) + "expr: '" + rules.RunbookExpr(gw, spec.DefaultWindow) + "'\n      " + string(b[j:])
			require.NoError(t, os.WriteFile(p, []byte(out), 0o644))
		}, "never fires on the first 421"},
		{"wrong selector in the spec's namespace", "gateway/pods", Fail, func(dir string) {
			p := filepath.Join(dir, "gateway.yaml")
			b, _ := os.ReadFile(p)
			require.NoError(t, os.WriteFile(p, []byte(strings.ReplaceAll(string(b), "istio: ingressgateway", "istio: other")), 0o644))
		}, "--show-labels"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := runOffline(t, renderDir(t, render.TargetOperator, tc.edit))
			require.Equal(t, tc.status, rs[tc.check].Status, "%s: %s %v", tc.check, rs[tc.check].Summary, rs[tc.check].Evidence)
			require.Contains(t, rs[tc.check].Hint+strings.Join(rs[tc.check].Evidence, " "), tc.hint)
			for id, r := range rs {
				require.False(t, id != tc.check && r.Status == Fail, "%s also failed: %s", id, r.Summary)
			}
		})
	}
}

func TestMalformedManifestsReported(t *testing.T) {
	dir := renderDir(t, render.TargetOperator, func(dir string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte("kind: NetworkPolicy\nspec: [unclosed\n"), 0o644))
	})
	m, err := LoadManifests(dir)
	require.NoError(t, err)
	require.Len(t, m.Problems, 1)
	require.Contains(t, m.Problems[0], "broken.yaml:1:")
	rs := runOffline(t, dir)
	require.Equal(t, Pass, rs["network/egress"].Status, "the rest is still checked")
}

// TestMalformedWebhookURLNotEchoed: Alertmanager's loader quotes a malformed
// URL in its error (`parse "…"`); doctor prints the error without it.
func TestMalformedWebhookURLNotEchoed(t *testing.T) {
	dir := renderDir(t, render.TargetPrometheus, func(dir string) {
		yml := "route: {receiver: m}\nreceivers:\n- name: m\n  mattermost_configs:\n  - webhook_url: 'htt ps://mm.example.com/hooks/doctorsecret77'\n"
		require.NoError(t, os.WriteFile(filepath.Join(dir, "alertmanager.yml"), []byte(yml), 0o644))
	})
	s, err := spec.Load("../../examples/gatewatch.yaml", rules.SpecKinds())
	require.NoError(t, err)
	m, err := LoadManifests(dir)
	require.NoError(t, err)
	var text, js bytes.Buffer
	rs := Run(context.Background(), &Env{Spec: s, Manifests: m}, Checks(), TextReporter(&text))
	require.NoError(t, WriteJSON(&js, rs))
	require.Contains(t, text.String(), `parse "<secret>"`, "the error is still reported")
	require.NotContains(t, text.String()+js.String(), "doctorsecret77")
}

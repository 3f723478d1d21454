// Package test holds the integration tests that run the real Prometheus and
// Alertmanager tools (promtool, amtool) built by scripts/tools.sh from the
// pinned versions. `go test -short` skips them; `make test` builds the tools
// first and runs them.
package test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/gatewatch/gatewatch/internal/cli"
	"github.com/gatewatch/gatewatch/internal/doctor"
	"github.com/gatewatch/gatewatch/internal/render"
	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

var specs = map[string]string{
	"example": "../examples/gatewatch.yaml",
	"full":    "../internal/render/testdata/full.yaml",
	// bot mode behind the stack's Alertmanager, through gatewatch bridge
	"bridge-bot": "../internal/render/testdata/bridge-bot.yaml",
}

// tool returns the path of a pinned tool, failing (not skipping) when it is
// missing unless -short was given: a skipped check must not count as passed.
func tool(t *testing.T, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs the real " + name + " (make test builds it)")
	}
	dir := os.Getenv("GATEWATCH_TOOLS_DIR")
	if dir == "" {
		dir = filepath.Join("..", ".cache", "bin")
	}
	p, err := filepath.Abs(filepath.Join(dir, name))
	require.NoError(t, err)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s not found at %s: run `make tools` (scripts/tools.sh) first", name, p)
	}
	return p
}

// run executes a tool with a deadline and returns its combined output and exit code.
func run(t *testing.T, bin string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return out.String(), code
}

func renderSpec(t *testing.T, path, target string) (*spec.Spec, map[string][]byte) {
	t.Helper()
	s, err := spec.Load(path, rules.SpecKinds())
	require.NoError(t, err)
	files, err := render.Render(s, target)
	require.NoError(t, err)
	out := map[string][]byte{}
	for _, f := range files {
		out[f.Name] = f.Content
	}
	return s, out
}

func countRules(s *spec.Spec) int { return len(s.Gateways) * len(s.EnabledAlerts()) }

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return p
}

// TestPromtoolCheckRules runs `promtool check rules` on the rules of every
// target, and `promtool check config` on the rendered prometheus.yml.
func TestPromtoolCheckRules(t *testing.T) {
	promtool := tool(t, "promtool")
	for name, path := range specs {
		t.Run(name+"/prometheus", func(t *testing.T) {
			s, files := renderSpec(t, path, render.TargetPrometheus)
			dir := t.TempDir()
			for n, b := range files {
				writeFile(t, dir, n, b)
			}
			out, code := run(t, promtool, "check", "rules", filepath.Join(dir, render.RulesFileName))
			require.Equal(t, 0, code, out)
			require.Contains(t, out, "SUCCESS: "+itoa(countRules(s))+" rules found")
			out, code = run(t, promtool, "check", "config", filepath.Join(dir, "prometheus.yml"))
			require.Equal(t, 0, code, out)
			require.Contains(t, out, "SUCCESS")
		})
		t.Run(name+"/operator", func(t *testing.T) {
			s, files := renderSpec(t, path, render.TargetOperator)
			var pr monitoringv1.PrometheusRule
			for n, b := range files {
				if strings.HasPrefix(n, "prometheusrule-") {
					require.NoError(t, yaml.UnmarshalStrict(b, &pr))
				}
			}
			require.NotEmpty(t, pr.Spec.Groups)
			b, err := yaml.Marshal(pr.Spec)
			require.NoError(t, err)
			p := writeFile(t, t.TempDir(), "rules.yml", b)
			out, code := run(t, promtool, "check", "rules", p)
			require.Equal(t, 0, code, out)
			require.Contains(t, out, "SUCCESS: "+itoa(countRules(s))+" rules found")
		})
		t.Run(name+"/helm", func(t *testing.T) {
			s, files := renderSpec(t, path, render.TargetHelm)
			var values struct {
				AdditionalPrometheusRulesMap map[string]any `json:"additionalPrometheusRulesMap"`
			}
			require.NoError(t, yaml.Unmarshal(files["values.yaml"], &values))
			b, err := yaml.Marshal(values.AdditionalPrometheusRulesMap["gatewatch"])
			require.NoError(t, err)
			p := writeFile(t, t.TempDir(), "rules.yml", b)
			out, code := run(t, promtool, "check", "rules", p)
			require.Equal(t, 0, code, out)
			require.Contains(t, out, "SUCCESS: "+itoa(countRules(s))+" rules found")
		})
	}
}

// TestPromtoolTestRules runs the scenario table as `promtool test rules`
// files, written by `gatewatch test --write-promtool`.
func TestPromtoolTestRules(t *testing.T) {
	promtool := tool(t, "promtool")
	for name, path := range specs {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			var stdout, stderr bytes.Buffer
			code := cli.Main(context.Background(), []string{"test", "-c", path, "--write-promtool", dir}, &stdout, &stderr)
			require.Equal(t, 0, code, stderr.String())
			tests, err := filepath.Glob(filepath.Join(dir, "*.test.yml"))
			require.NoError(t, err)
			s, err := spec.Load(path, rules.SpecKinds())
			require.NoError(t, err)
			require.Len(t, tests, len(s.Gateways))
			out, code := run(t, promtool, append([]string{"test", "rules"}, tests...)...)
			require.Equal(t, 0, code, out)
			require.Equal(t, len(tests), strings.Count(out, "SUCCESS"), out)
		})
	}
}

// TestPromtoolTestRulesCatchesRunbookRule proves the promtool scenarios can
// fail: with the runbook's expression in place of the generated one, the
// first-421 case fails.
func TestPromtoolTestRulesCatchesRunbookRule(t *testing.T) {
	promtool := tool(t, "promtool")
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, cli.Main(context.Background(), []string{"test", "-c", specs["example"], "--write-promtool", dir}, &stdout, &stderr), stderr.String())
	rf := filepath.Join(dir, render.RulesFileName)
	var f struct {
		Groups []struct {
			Name     string           `json:"name"`
			Interval string           `json:"interval"`
			Rules    []map[string]any `json:"rules"`
		} `json:"groups"`
	}
	b, err := os.ReadFile(rf)
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, &f))
	f.Groups[0].Rules[0]["expr"] = `sum(increase(istio_requests_total{source_workload_namespace="istio-ingress", source_workload="istio-ingressgateway", response_code="421"}[5m])) > 0`
	b, err = yaml.Marshal(f)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(rf, b, 0o644))
	out, code := run(t, promtool, "test", "rules", filepath.Join(dir, "public-ingress.test.yml"))
	require.NotEqual(t, 0, code, out)
	require.Contains(t, out, "first-ever")
}

func itoa(n int) string { return strconv.Itoa(n) }

// alertmanagerConfigs returns every Alertmanager configuration a target
// renders, as alertmanager.yml documents.
func alertmanagerConfigs(t *testing.T, path string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	_, files := renderSpec(t, path, render.TargetPrometheus)
	out["prometheus"] = files["alertmanager.yml"]
	_, files = renderSpec(t, path, render.TargetHelm)
	var values struct {
		Alertmanager struct {
			Config map[string]any `json:"config"`
		} `json:"alertmanager"`
	}
	require.NoError(t, yaml.Unmarshal(files["values.yaml"], &values))
	b, err := yaml.Marshal(values.Alertmanager.Config)
	require.NoError(t, err)
	out["helm"] = b
	out["operator"] = operatorEquivalent(t, path)
	return out
}

// operatorEquivalent translates the rendered AlertmanagerConfig objects as
// the prometheus-operator does (doctor's translation), so amtool can check
// their templates and routing.
func operatorEquivalent(t *testing.T, path string) []byte {
	t.Helper()
	_, files := renderSpec(t, path, render.TargetOperator)
	var amcs []monitoringv1alpha1.AlertmanagerConfig
	for n, b := range files {
		if strings.HasPrefix(n, "alertmanagerconfig-") {
			var amc monitoringv1alpha1.AlertmanagerConfig
			require.NoError(t, yaml.UnmarshalStrict(b, &amc))
			if s, err := spec.Load(path, rules.SpecKinds()); err == nil && s.Cluster.Bridge.Enabled {
				require.Empty(t, amc.Spec.Receivers[0].SlackConfigs)
				require.Equal(t, render.BridgeURL(s), *amc.Spec.Receivers[0].WebhookConfigs[0].URL, "through the bridge: a webhook to its Service")
			} else {
				require.NotNil(t, amc.Spec.Receivers[0].SlackConfigs[0].APIURL, "the webhook URL must come from a Secret key reference")
			}
			amcs = append(amcs, amc)
		}
	}
	require.NotEmpty(t, amcs)
	b, err := doctor.OperatorAlertmanagerYAML(amcs)
	require.NoError(t, err)
	return b
}

// TestAmtoolCheckConfig runs `amtool check-config` on every rendered
// Alertmanager configuration, with amtool v0.35.0 and with the config loader
// of Alertmanager v0.31.1 (the server version DESIGN.md pins), so the
// mattermost_configs gatewatch renders for Alertmanager >= 0.30 are known to
// load in a real 0.31 server.
func TestAmtoolCheckConfig(t *testing.T) {
	for _, amtoolName := range []string{"amtool", "amtool-0.31"} {
		amtool := tool(t, amtoolName)
		for name, path := range specs {
			for target, cfg := range alertmanagerConfigs(t, path) {
				t.Run(amtoolName+"/"+name+"/"+target, func(t *testing.T) {
					p := writeFile(t, t.TempDir(), "alertmanager.yml", cfg)
					out, code := run(t, amtool, "check-config", p)
					require.Equal(t, 0, code, out)
					require.Contains(t, out, "SUCCESS")
					// "null" plus one Mattermost receiver (the operator: one per
					// AlertmanagerConfig, i.e. per gateway namespace).
					s, err := spec.Load(path, rules.SpecKinds())
					require.NoError(t, err)
					want := 2
					if s.Cluster.MattermostNative() && !s.Cluster.Bridge.Enabled && target != "operator" {
						want = 3 // plus mattermost-critical, which posts with priority "important"
					}
					if target == "operator" {
						ns := map[string]bool{}
						for _, g := range s.Gateways {
							ns[g.Namespace] = true
						}
						want = 1 + len(ns)
					}
					require.Contains(t, out, " "+itoa(want)+" receivers")
				})
			}
		}
	}
}

// TestAmtoolRoutes checks, as `amtool config routes test` does, that a 421
// alert with the labels the rule sets reaches the Mattermost receiver and
// Watchdog reaches "null".
func TestAmtoolRoutes(t *testing.T) {
	amtool := tool(t, "amtool")
	alert := []string{"alertname=GatewayMisdirectedRequest421", "namespace=istio-ingress", "gateway=public-ingress", "workload=istio-ingressgateway", "severity=warning", "pod=istio-ingressgateway-7d9f8b6c4d-x2l9q"}
	for name, path := range specs {
		for target, cfg := range alertmanagerConfigs(t, path) {
			t.Run(name+"/"+target, func(t *testing.T) {
				p := writeFile(t, t.TempDir(), "alertmanager.yml", cfg)
				want := render.ReceiverName
				if target == "operator" {
					want = "istio-ingress/gatewatch-mattermost/" + render.ReceiverName
				}
				out, code := run(t, amtool, append([]string{"config", "routes", "test", "--config.file=" + p, "--verify.receivers=" + want}, alert...)...)
				require.Equal(t, 0, code, out)
				require.Equal(t, want, strings.TrimSpace(out))

				// Critical alerts: with mattermost_configs they go to the receiver
				// that sets priority "important".
				s, err := spec.Load(path, rules.SpecKinds())
				require.NoError(t, err)
				wantCritical := want
				if s.Cluster.MattermostNative() && !s.Cluster.Bridge.Enabled && target != "operator" {
					wantCritical = render.ReceiverCritical
				}
				critical := append([]string{}, alert...)
				critical[4] = "severity=critical"
				out, code = run(t, amtool, append([]string{"config", "routes", "test", "--config.file=" + p, "--verify.receivers=" + wantCritical}, critical...)...)
				require.Equal(t, 0, code, out)
				require.Equal(t, wantCritical, strings.TrimSpace(out))

				out, code = run(t, amtool, "config", "routes", "test", "--config.file="+p, "--verify.receivers=null", "alertname=Watchdog", "severity=none")
				require.Equal(t, 0, code, out)
				require.Equal(t, "null", strings.TrimSpace(out))

				if target == "operator" {
					// Without the namespace label the operator's matcher drops the alert:
					// this is why the rules set namespace.
					noNS := []string{"alertname=GatewayMisdirectedRequest421", "severity=warning"}
					out, _ = run(t, amtool, append([]string{"config", "routes", "test", "--config.file=" + p}, noNS...)...)
					require.Equal(t, "null", strings.TrimSpace(out))
				}
			})
		}
	}
}

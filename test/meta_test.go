package test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/gatewatch/gatewatch/internal/render"
	"github.com/gatewatch/gatewatch/internal/rules"
)

// metaCase is one scenario of gatewatch's own alerts: input series (one
// sample a minute), an evaluation time when the alert must still be quiet
// and one when it must fire with these labels and value.
type metaCase struct {
	alert  string
	series map[string]string // selector (job and namespace added) → promtool values
	quiet  string
	fire   string
	labels []map[string]string // extra labels of each expected alert (severity added)
	value  float64
}

// TestMetaRulesScenarios runs gatewatch's own alerts (the PrometheusRule
// render --target standalone writes with service_monitor) through the real
// promtool: each fires on its failure, after its `for`, with the labels and
// annotations its message needs, and stays quiet before.
func TestMetaRulesScenarios(t *testing.T) {
	promtool := tool(t, "promtool")
	s, files := renderSpec(t, "../internal/render/testdata/full.yaml", render.TargetStandalone)
	ns := s.Cluster.MonitoringNamespace
	var pr monitoringv1.PrometheusRule
	for n, b := range files {
		if strings.HasPrefix(n, "self-prometheusrule-") {
			require.NoError(t, yaml.UnmarshalStrict(b, &pr))
		}
	}
	require.Len(t, pr.Spec.Groups, 1, "the standalone render with service_monitor writes gatewatch's own rules")
	dir := t.TempDir()
	b, err := yaml.Marshal(pr.Spec)
	require.NoError(t, err)
	writeFile(t, dir, "meta.yml", b)
	out, code := run(t, promtool, "check", "rules", filepath.Join(dir, "meta.yml"))
	require.Equal(t, 0, code, out)

	byName := map[string]rules.Rule{}
	for _, r := range render.MetaRules(s).Groups[0].Rules {
		byName[r.Alert] = r
	}
	p0 := map[string]string{"namespace": ns, "pod": "gatewatch-0"}
	cases := []metaCase{
		{alert: "GatewatchDown", series: map[string]string{`up{pod="gatewatch-0"}`: "1x4 0x20", `up{pod="gatewatch-1"}`: "1x4 _x20"},
			quiet: "12m", fire: "16m", labels: []map[string]string{{}}, value: 1},
		{alert: "GatewatchNotificationsFailing", series: map[string]string{
			`alertmanager_notifications_total{pod="gatewatch-0", integration="mattermost"}`:                        "0+1x30",
			`alertmanager_notifications_failed_total{pod="gatewatch-0", integration="mattermost", reason="other"}`: "0x10 1+1x20",
			`alertmanager_notifications_total{pod="gatewatch-1", integration="mattermost"}`:                        "0+1x30",
			`alertmanager_notifications_failed_total{pod="gatewatch-1", integration="mattermost", reason="other"}`: "0+1x10 11x20",
			// a replica that failed once and then delivered: quiet
			`alertmanager_notifications_total{pod="gatewatch-2", integration="mattermost"}`:                        "0+1x30",
			`alertmanager_notifications_failed_total{pod="gatewatch-2", integration="mattermost", reason="other"}`: "0x20 1x10",
		}, quiet: "12m", fire: "25m", labels: []map[string]string{p0}, value: 10},
		{alert: "GatewatchNotificationsPending", series: map[string]string{`gatewatch_notifications_pending_oldest_age_seconds{pod="gatewatch-0"}`: "0x5 600 1200x10"},
			quiet: "6m", fire: "8m", labels: []map[string]string{p0}, value: 1200},
		{alert: "GatewatchNotificationsDropped", series: map[string]string{`gatewatch_notifications_dropped_total{pod="gatewatch-0"}`: "0x5 1x10"},
			quiet: "5m", fire: "8m", labels: []map[string]string{p0}, value: 1},
		{alert: "GatewatchGatewayBlind", series: map[string]string{
			`gatewatch_gateway_targets{pod="gatewatch-0", gateway_namespace="istio-ingress", gateway="public", health="up"}`:   "1x3 0x20",
			`gatewatch_gateway_targets{pod="gatewatch-1", gateway_namespace="istio-ingress", gateway="public", health="up"}`:   "1x3 0x20",
			`gatewatch_gateway_targets{pod="gatewatch-0", gateway_namespace="istio-ingress", gateway="internal", health="up"}`: "0x23",
			`gatewatch_gateway_targets{pod="gatewatch-1", gateway_namespace="istio-ingress", gateway="internal", health="up"}`: "1x23",
		}, quiet: "12m", fire: "15m", labels: []map[string]string{{"gateway_namespace": "istio-ingress", "gateway": "public"}}, value: 0},
		{alert: "GatewatchGatewayStatsMissing", series: map[string]string{`gatewatch_alerts{pod="gatewatch-0", alert="GatewayStatsDown", state="firing"}`: "0x5 1x25",
			`gatewatch_alerts{pod="gatewatch-0", alert="GatewayMisdirectedRequest421", state="firing"}`: "1x30"},
			quiet: "15m", fire: "22m", labels: []map[string]string{{"alert": "GatewayStatsDown"}}, value: 1},
		{alert: "GatewatchConfigReloadFailed", series: map[string]string{`gatewatch_config_last_reload_successful{pod="gatewatch-0"}`: "1x3 0x20",
			`gatewatch_config_last_reload_successful{pod="gatewatch-1"}`: "1x23"},
			quiet: "10m", fire: "15m", labels: []map[string]string{p0}, value: 0},
		{alert: "GatewatchRuleEvaluationFailing", series: map[string]string{`prometheus_rule_evaluation_failures_total{pod="gatewatch-0", rule_group="x"}`: "0x5 1+1x20"},
			quiet: "10m", fire: "20m", labels: []map[string]string{p0}, value: 10},
		{alert: "GatewatchWatchdog", series: map[string]string{`up{pod="gatewatch-0"}`: "1x10 0x10"},
			quiet: "15m", fire: "5m", labels: []map[string]string{{"namespace": ns}}, value: 1},
		{alert: "GatewatchClusterMembersMissing", series: map[string]string{`alertmanager_cluster_members{pod="gatewatch-0"}`: "2x5 1x20",
			`alertmanager_cluster_members{pod="gatewatch-1"}`: "2x25"},
			quiet: "12m", fire: "20m", labels: []map[string]string{{"namespace": ns}}, value: 1},
	}
	var tests []string
	for _, c := range cases {
		r, ok := byName[c.alert]
		require.True(t, ok, "no rule %s", c.alert)
		delete(byName, c.alert)
		var in []string
		for sel, values := range c.series {
			sel = strings.Replace(sel, "{", fmt.Sprintf(`{job="gatewatch", namespace=%q, `, ns), 1)
			in = append(in, fmt.Sprintf("  - series: '%s'\n    values: '%s'", sel, values))
		}
		var exp []string
		for _, l := range c.labels {
			lbls := map[string]string{"severity": r.Labels["severity"], "namespace": ns}
			for k, v := range l {
				lbls[k] = v
			}
			ann, err := rules.ExpandAnnotations(r, lbls, c.value)
			require.NoError(t, err)
			lb, _ := yaml.Marshal(lbls)
			ab, _ := yaml.Marshal(ann)
			exp = append(exp, fmt.Sprintf("      - exp_labels:\n%s        exp_annotations:\n%s", indent(string(lb), 10), indent(string(ab), 10)))
		}
		tests = append(tests, fmt.Sprintf("- name: %s\n  interval: 1m\n  input_series:\n%s\n  alert_rule_test:\n  - eval_time: %s\n    alertname: %s\n    exp_alerts: []\n  - eval_time: %s\n    alertname: %s\n    exp_alerts:\n%s",
			c.alert, strings.Join(in, "\n"), c.quiet, c.alert, c.fire, c.alert, strings.Join(exp, "")))
	}
	require.Empty(t, byName, "every one of gatewatch's own alerts has a scenario")
	test := "rule_files: [meta.yml]\nevaluation_interval: 1m\ntests:\n" + strings.Join(tests, "\n") + "\n"
	p := writeFile(t, dir, "meta_test.yml", []byte(test))
	out, code = run(t, promtool, "test", "rules", p)
	require.Equal(t, 0, code, "%s\n--- test file:\n%s", out, test)
	require.Contains(t, out, "SUCCESS")
}

func indent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString(pad + l + "\n")
	}
	return b.String()
}

// TestMetaRulesNeedServiceMonitor: without service_monitor the standalone
// render writes neither (a cluster without prometheus-operator's CRDs
// would refuse them).
func TestMetaRulesNeedServiceMonitor(t *testing.T) {
	_, files := renderSpec(t, "../examples/gatewatch.yaml", render.TargetStandalone)
	for n := range files {
		require.False(t, strings.HasPrefix(n, "servicemonitor-") || strings.HasPrefix(n, "self-prometheusrule-"), n)
	}
}

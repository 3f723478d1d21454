package render

import (
	"slices"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// helmValues is the subset of kube-prometheus-stack's values.yaml gatewatch
// sets. Chart values are the durable path: editing the Secret the operator
// generates from them is overwritten on the next reconcile.
type helmValues struct {
	Prometheus                   helmPrometheus        `json:"prometheus"`
	AdditionalPrometheusRulesMap map[string]rules.File `json:"additionalPrometheusRulesMap"`
	Alertmanager                 helmAlertmanager      `json:"alertmanager"`
}

type helmPrometheus struct {
	AdditionalPodMonitors []helmPodMonitor `json:"additionalPodMonitors,omitempty"`
	PrometheusSpec        *helmPromSpec    `json:"prometheusSpec,omitempty"`
}

type helmPromSpec struct {
	AdditionalScrapeConfigs []scrapeConfig `json:"additionalScrapeConfigs,omitempty"`
}

type helmPodMonitor struct {
	Name                string                            `json:"name"`
	AdditionalLabels    map[string]string                 `json:"additionalLabels,omitempty"`
	Selector            metav1.LabelSelector              `json:"selector"`
	NamespaceSelector   monitoringv1.NamespaceSelector    `json:"namespaceSelector"`
	PodMetricsEndpoints []monitoringv1.PodMetricsEndpoint `json:"podMetricsEndpoints"`
	// The PodMonitor spec's label limits (limits.go), as the operator target
	// writes them; a chart version whose additionalPodMonitors template
	// does not copy them leaves them out.
	LabelLimit            *int64 `json:"labelLimit,omitempty"`
	LabelNameLengthLimit  *int64 `json:"labelNameLengthLimit,omitempty"`
	LabelValueLengthLimit *int64 `json:"labelValueLengthLimit,omitempty"`
}

type helmAlertmanager struct {
	Config           amConfig `json:"config"`
	AlertmanagerSpec struct {
		// Secrets are mounted at /etc/alertmanager/secrets/NAME/.
		Secrets []string `json:"secrets,omitempty"`
	} `json:"alertmanagerSpec"`
}

const helmHeader = `# kube-prometheus-stack values: pass with -f (helm upgrade ... -f values.yaml).
# Helm merges maps but replaces lists: alertmanager.config.route.routes and
# .receivers here replace the chart's (and any -f file's before this one).
# They keep the "null" default receiver and the Watchdog route; merge in any
# receivers of your own.
`

// helmChartPodMonitorLabels are the labels kube-prometheus-stack's
// templates/prometheus/podmonitors.yaml already sets on every
// additionalPodMonitors entry: `app: <chart name>-prometheus` and the
// "kube-prometheus-stack.labels" helper of templates/_helpers.tpl
// (app.kubernetes.io/managed-by, app.kubernetes.io/instance,
// app.kubernetes.io/version, app.kubernetes.io/part-of, chart, release,
// heritage), before the entry's additionalLabels. The same key in
// additionalLabels makes a duplicate mapping key, which strict YAML parsers
// (kubectl's, yaml v3) refuse. The chart's release label is the one its
// podMonitorSelector matches, so selector_labels' release is not needed.
// See prometheus-community/helm-charts, charts/kube-prometheus-stack.
func helmChartPodMonitorLabels() []string {
	return []string{
		"app",
		"app.kubernetes.io/managed-by",
		"app.kubernetes.io/instance",
		"app.kubernetes.io/version",
		"app.kubernetes.io/part-of",
		"chart",
		"release",
		"heritage",
	}
}

// helmAdditionalLabels are the PodMonitor's labels the chart does not set
// itself (nil when none is left).
func helmAdditionalLabels(labels map[string]string) map[string]string {
	var out map[string]string
	for k, v := range labels {
		if slices.Contains(helmChartPodMonitorLabels(), k) {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k] = v
	}
	return out
}

// helm renders kube-prometheus-stack values, the placeholder Secret the
// values mount, and the NetworkPolicies.
func helm(s *spec.Spec) ([]File, error) {
	var v helmValues
	for _, g := range s.Gateways {
		if g.Selector != "" {
			pm, err := podMonitor(s, g)
			if err != nil {
				return nil, err
			}
			v.Prometheus.AdditionalPodMonitors = append(v.Prometheus.AdditionalPodMonitors, helmPodMonitor{
				Name: pm.Name, AdditionalLabels: helmAdditionalLabels(pm.Labels), Selector: pm.Spec.Selector,
				NamespaceSelector: pm.Spec.NamespaceSelector, PodMetricsEndpoints: pm.Spec.PodMetricsEndpoints,
				LabelLimit: pm.Spec.LabelLimit, LabelNameLengthLimit: pm.Spec.LabelNameLengthLimit, LabelValueLengthLimit: pm.Spec.LabelValueLengthLimit,
			})
		}
	}
	jobs, err := scrapeJobs(s)
	if err != nil {
		return nil, err
	}
	var static []scrapeConfig
	for _, j := range jobs {
		if len(j.StaticConfigs) > 0 {
			static = append(static, j)
		}
	}
	if len(static) > 0 {
		v.Prometheus.PrometheusSpec = &helmPromSpec{AdditionalScrapeConfigs: static}
	}
	v.AdditionalPrometheusRulesMap = map[string]rules.File{"gatewatch": rules.Generate(s)}
	v.Alertmanager.Config = alertmanagerConfig(s)
	files := make([]File, 1, 3)
	if !throughBridge(s) {
		// Through the bridge, the bridge holds the Secret (render --target
		// bridge), not Alertmanager.
		v.Alertmanager.AlertmanagerSpec.Secrets = []string{s.Cluster.Alertmanager.SecretName}
		secret, err := secretExample(s, s.Cluster.Alertmanager.Namespace)
		if err != nil {
			return nil, err
		}
		files = append(files, secret)
	}
	values, err := file(HelmValuesFileName, helmHeader, v)
	if err != nil {
		return nil, err
	}
	files[0] = values
	dash, err := dashboardFile(s)
	if err != nil {
		return nil, err
	}
	np, err := networkPolicies(s)
	if err != nil {
		return nil, err
	}
	return append(append(files, dash), np...), nil
}

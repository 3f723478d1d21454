package render

import (
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// RulesFileName is the rule file the rendered prometheus.yml loads.
const RulesFileName = "gatewatch-rules.yml"

type promConfig struct {
	RuleFiles     []string       `json:"rule_files,omitempty"`
	ScrapeConfigs []scrapeConfig `json:"scrape_configs"`
}

type scrapeConfig struct {
	JobName        string              `json:"job_name"`
	ScrapeInterval string              `json:"scrape_interval"`
	ScrapeTimeout  string              `json:"scrape_timeout"`
	MetricsPath    string              `json:"metrics_path"`
	Params         map[string][]string `json:"params,omitempty"`
	Scheme         string              `json:"scheme"`
	KubernetesSD   []kubernetesSD      `json:"kubernetes_sd_configs,omitempty"`
	StaticConfigs  []staticConfig      `json:"static_configs,omitempty"`
	RelabelConfigs []relabel           `json:"relabel_configs,omitempty"`
	// Label limits (limits.go).
	LabelLimit            int `json:"label_limit,omitempty"`
	LabelNameLengthLimit  int `json:"label_name_length_limit,omitempty"`
	LabelValueLengthLimit int `json:"label_value_length_limit,omitempty"`
}

type kubernetesSD struct {
	Role           string `json:"role"`
	KubeconfigFile string `json:"kubeconfig_file,omitempty"`
	Namespaces     struct {
		Names []string `json:"names"`
	} `json:"namespaces"`
}

type staticConfig struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels,omitempty"`
}

type relabel struct {
	SourceLabels []string `json:"source_labels,omitempty"`
	Regex        string   `json:"regex,omitempty"`
	TargetLabel  string   `json:"target_label,omitempty"`
	Replacement  string   `json:"replacement,omitempty"`
	Action       string   `json:"action,omitempty"`
}

// prometheus renders plain Prometheus and Alertmanager files: prometheus.yml
// (scrape jobs and the rule file), the rule file, alertmanager.yml, and the
// NetworkPolicies.
func prometheus(s *spec.Spec) ([]File, error) {
	jobs, err := scrapeJobs(s)
	if err != nil {
		return nil, err
	}
	pc, err := file(PrometheusConfigFileName, "# Merge these scrape_configs and rule_files into your prometheus.yml.\n",
		promConfig{RuleFiles: []string{RulesFileName}, ScrapeConfigs: jobs})
	if err != nil {
		return nil, err
	}
	rf, err := file(RulesFileName, "", rules.Generate(s))
	if err != nil {
		return nil, err
	}
	am, err := file(AlertmanagerConfigFileName, amHeader(s), alertmanagerConfig(s))
	if err != nil {
		return nil, err
	}
	np, err := networkPolicies(s)
	if err != nil {
		return nil, err
	}
	return append([]File{pc, rf, am}, np...), nil
}

func amHeader(s *spec.Spec) string {
	if throughBridge(s) {
		return fmt.Sprintf(`# Alertmanager %s: webhook_configs to gatewatch bridge (cluster.bridge.enabled),
# which posts to Mattermost; render --target bridge deploys it, with the Secret.
`, s.Cluster.Alertmanager.Version)
	}
	kind := "slack_configs (Alertmanager < 0.30 has no mattermost_configs)"
	if s.Cluster.MattermostNative() {
		kind = "mattermost_configs (Alertmanager >= 0.30)"
	}
	return fmt.Sprintf(`# Alertmanager %s: %s.
# The webhook URL is read from %s; put the URL
# there (e.g. mount the Secret %s), never inline.
`, s.Cluster.Alertmanager.Version, kind, SecretMountPath(s), s.Cluster.Alertmanager.SecretName)
}

// ScrapeConfigYAML returns the scrape_configs the prometheus target renders,
// as a Prometheus configuration document: the embedded engine loads exactly
// this, so it discovers and relabels as a rendered Prometheus would.
// kubeconfig, when set, is used by kubernetes_sd instead of in-cluster config.
func ScrapeConfigYAML(s *spec.Spec, kubeconfig string) ([]byte, error) {
	jobs, err := scrapeJobs(s)
	if err != nil {
		return nil, err
	}
	for i := range jobs {
		for j := range jobs[i].KubernetesSD {
			jobs[i].KubernetesSD[j].KubeconfigFile = kubeconfig
		}
	}
	return marshal(promConfig{ScrapeConfigs: jobs})
}

// AlertmanagerConfigYAML returns the Alertmanager configuration render writes
// for Alertmanager >= 0.30 (mattermost_configs): the embedded engine routes
// and groups with exactly this route tree.
func AlertmanagerConfigYAML(s *spec.Spec) ([]byte, error) {
	native := *s
	native.Cluster.Alertmanager.Version = "0.31.0"
	return marshal(alertmanagerConfig(&native))
}

// scrapeJobs returns one kubernetes_sd job per gateway with a selector, with
// relabeling equivalent to the rendered PodMonitor, and one static job per
// gateway with static targets.
func scrapeJobs(s *spec.Spec) ([]scrapeConfig, error) {
	var jobs []scrapeConfig
	for _, g := range s.Gateways {
		params, err := rules.StatsParams(s, g)
		if err != nil {
			return nil, err
		}
		base := scrapeConfig{
			ScrapeInterval: g.Stats.Interval.String(),
			ScrapeTimeout:  g.Stats.Timeout.String(),
			MetricsPath:    g.Stats.Path,
			Params:         params,
			Scheme:         "http",

			LabelLimit:            LabelLimit,
			LabelNameLengthLimit:  LabelNameLengthLimit,
			LabelValueLengthLimit: LabelValueLengthLimit,
		}
		if g.Selector != "" {
			rl, err := podRelabeling(g)
			if err != nil {
				return nil, err
			}
			j := base
			j.JobName = rules.JobName(g)
			sd := kubernetesSD{Role: "pod"}
			sd.Namespaces.Names = []string{g.Namespace}
			j.KubernetesSD = []kubernetesSD{sd}
			j.RelabelConfigs = rl
			jobs = append(jobs, j)
		}
		if len(g.StaticTargets) > 0 {
			j := base
			j.JobName = rules.StaticJobName(g)
			j.StaticConfigs = []staticConfig{{Targets: g.StaticTargets, Labels: map[string]string{"gateway": g.Name}}}
			jobs = append(jobs, j)
		}
	}
	return jobs, nil
}

var unsafeLabelChars = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// podRelabeling selects the gateway's pods and stats port the way the
// prometheus-operator does for a PodMonitor, and sets the same target
// labels (namespace, pod, container), so the rules work the same on both.
func podRelabeling(g spec.Gateway) ([]relabel, error) {
	sel, err := labels.Parse(g.Selector)
	if err != nil {
		return nil, fmt.Errorf("gateway %s: selector: %w", g.Name, err)
	}
	reqs, _ := sel.Requirements()
	var out []relabel
	for _, r := range reqs {
		name := unsafeLabelChars.ReplaceAllString(r.Key(), "_")
		value := "__meta_kubernetes_pod_label_" + name
		present := "__meta_kubernetes_pod_labelpresent_" + name
		vals := make([]string, 0, len(r.Values()))
		for _, v := range r.Values().List() {
			vals = append(vals, regexp.QuoteMeta(v))
		}
		alt := strings.Join(vals, "|")
		switch r.Operator() {
		case selection.Equals, selection.DoubleEquals, selection.In:
			out = append(out, relabel{Action: "keep", SourceLabels: []string{present, value}, Regex: "true;(" + alt + ")"})
		case selection.NotEquals, selection.NotIn:
			out = append(out, relabel{Action: "drop", SourceLabels: []string{present, value}, Regex: "true;(" + alt + ")"})
		case selection.Exists:
			out = append(out, relabel{Action: "keep", SourceLabels: []string{present}, Regex: "true"})
		case selection.DoesNotExist:
			out = append(out, relabel{Action: "drop", SourceLabels: []string{present}, Regex: "true"})
		default:
			return nil, fmt.Errorf("gateway %s: selector operator %q is not supported", g.Name, r.Operator())
		}
	}
	if g.Stats.Port.Name != "" {
		out = append(out, relabel{Action: "keep", SourceLabels: []string{"__meta_kubernetes_pod_container_port_name"}, Regex: regexp.QuoteMeta(g.Stats.Port.Name)})
	} else {
		out = append(out, relabel{Action: "keep", SourceLabels: []string{"__meta_kubernetes_pod_container_port_number"}, Regex: fmt.Sprint(g.Stats.Port.Number)})
	}
	out = append(out,
		relabel{Action: "drop", SourceLabels: []string{"__meta_kubernetes_pod_phase"}, Regex: "(Failed|Succeeded)"},
		relabel{SourceLabels: []string{"__meta_kubernetes_namespace"}, TargetLabel: "namespace"},
		relabel{SourceLabels: []string{"__meta_kubernetes_pod_name"}, TargetLabel: "pod"},
		relabel{SourceLabels: []string{"__meta_kubernetes_pod_container_name"}, TargetLabel: "container"},
	)
	return out, nil
}

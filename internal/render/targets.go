package render

import (
	"fmt"
	"path"
	"strings"

	"github.com/gatewatch/gatewatch/internal/spec"
)

// Targets that Render accepts.
const (
	TargetOperator   = "operator"
	TargetPrometheus = "prometheus"
	TargetHelm       = "helm"
	TargetStandalone = "standalone"
	TargetBridge     = "bridge"
)

// Names of the config files the prometheus and helm targets write.
const (
	PrometheusConfigFileName   = "prometheus.yml"
	AlertmanagerConfigFileName = "alertmanager.yml"
	HelmValuesFileName         = "values.yaml"
)

// Format says what a rendered file is, and so how to read it back.
type Format string

// Formats of rendered files.
const (
	// FormatObject is one Kubernetes object to apply; Output.Kinds says
	// which.
	FormatObject Format = "object"
	// FormatExample is a Kubernetes object written as comments, for the
	// user to fill in and apply by hand (the webhook Secret): its .example
	// suffix keeps `kubectl apply -f DIR` from reading it.
	FormatExample Format = "example"
	// FormatPrometheusConfig is a prometheus.yml fragment (scrape_configs
	// and rule_files) to merge into the user's.
	FormatPrometheusConfig Format = "prometheus-config"
	// FormatRuleFile is a Prometheus rule file (groups).
	FormatRuleFile Format = "prometheus-rules"
	// FormatAlertmanagerConfig is an alertmanager.yml.
	FormatAlertmanagerConfig Format = "alertmanager-config"
	// FormatHelmValues is kube-prometheus-stack values (additionalPodMonitors,
	// additionalPrometheusRulesMap, alertmanager.config).
	FormatHelmValues Format = "kube-prometheus-stack-values"
)

// Output is one kind of file a target writes.
type Output struct {
	// Name is the file name, or a path.Match pattern when the target writes
	// one file per object ("podmonitor-*.yaml").
	Name string
	// Format says how to read the file.
	Format Format
	// Kinds are the Kubernetes kinds of a FormatObject or FormatExample
	// file.
	Kinds []string
}

// Matches reports whether the file name is this output's.
func (o Output) Matches(name string) bool {
	ok, err := path.Match(o.Name, name)
	return err == nil && ok
}

// Target is one thing Render compiles the spec for: its name, the files it
// writes and the function that writes them.
type Target struct {
	Name string
	// Writes are the files the target can write (which of them it does
	// depends on the spec: static targets, cluster.default_deny, explain's
	// kube sources).
	Writes []Output
	render func(*spec.Spec) ([]File, error)
}

// Render compiles the spec for this target.
func (t Target) Render(s *spec.Spec) ([]File, error) {
	if s.Mattermost.BotMode() && t.Name != TargetStandalone && t.Name != TargetBridge && !throughBridge(s) {
		// Alertmanager cannot post as a bot (its mattermost_configs is a
		// webhook, and it keeps no post to edit).
		return nil, fmt.Errorf("mattermost bot mode (bot_token_file) needs gatewatch itself to post: render --target standalone, or set cluster.bridge.enabled: true so Alertmanager posts through gatewatch bridge in bot mode (render --target bridge deploys it; see docs/bridge.md), or keep a webhook for --target %s", t.Name)
	}
	return t.render(s)
}

// Output returns the declared output the file name is, if any.
func (t Target) Output(name string) (Output, bool) {
	for _, o := range t.Writes {
		if o.Matches(name) {
			return o, true
		}
	}
	return Output{}, false
}

// networkPolicyOutput is written by every target (with cluster.default_deny).
func networkPolicyOutput() Output {
	return Output{Name: "networkpolicy-*.yaml", Format: FormatObject, Kinds: []string{"NetworkPolicy"}}
}

// secretExampleOutput is the webhook Secret, for the user to create.
func secretExampleOutput() Output {
	return Output{Name: "secret-*.yaml.example", Format: FormatExample, Kinds: []string{"Secret"}}
}

// Targets returns every target, in help order.
func Targets() []Target {
	return []Target{
		{
			Name: TargetOperator,
			Writes: []Output{
				{Name: "podmonitor-*.yaml", Format: FormatObject, Kinds: []string{"PodMonitor"}},
				{Name: "scrapeconfig-*.yaml", Format: FormatObject, Kinds: []string{"ScrapeConfig"}},
				{Name: "prometheusrule-*.yaml", Format: FormatObject, Kinds: []string{"PrometheusRule"}},
				secretExampleOutput(),
				{Name: "alertmanagerconfig-*.yaml", Format: FormatObject, Kinds: []string{"AlertmanagerConfig"}},
				dashboardOutput(),
				networkPolicyOutput(),
			},
			render: operator,
		},
		{
			Name: TargetPrometheus,
			Writes: []Output{
				{Name: PrometheusConfigFileName, Format: FormatPrometheusConfig},
				{Name: RulesFileName, Format: FormatRuleFile},
				{Name: AlertmanagerConfigFileName, Format: FormatAlertmanagerConfig},
				networkPolicyOutput(),
			},
			render: prometheus,
		},
		{
			Name: TargetHelm,
			Writes: []Output{
				{Name: HelmValuesFileName, Format: FormatHelmValues},
				secretExampleOutput(),
				dashboardOutput(),
				networkPolicyOutput(),
			},
			render: helm,
		},
		{
			Name: TargetStandalone,
			Writes: []Output{
				// Names end in the object's name: the bridge target writes
				// the same kinds, named gatewatch-bridge.
				{Name: "serviceaccount-*-" + standaloneName + ".yaml", Format: FormatObject, Kinds: []string{"ServiceAccount"}},
				{Name: "role-*-" + standaloneName + "-pod-discovery.yaml", Format: FormatObject, Kinds: []string{"Role"}},
				{Name: "rolebinding-*-" + standaloneName + "-pod-discovery.yaml", Format: FormatObject, Kinds: []string{"RoleBinding"}},
				{Name: "clusterrole-" + standaloneName + "-explain.yaml", Format: FormatObject, Kinds: []string{"ClusterRole"}},
				{Name: "clusterrolebinding-" + standaloneName + "-explain.yaml", Format: FormatObject, Kinds: []string{"ClusterRoleBinding"}},
				{Name: "configmap-*-" + standaloneName + ".yaml", Format: FormatObject, Kinds: []string{"ConfigMap"}},
				{Name: "statefulset-*.yaml", Format: FormatObject, Kinds: []string{"StatefulSet"}},
				{Name: "service-*-" + standaloneName + ".yaml", Format: FormatObject, Kinds: []string{"Service"}},
				{Name: "service-*-" + ClusterServiceName + ".yaml", Format: FormatObject, Kinds: []string{"Service"}},
				{Name: "poddisruptionbudget-*-" + standaloneName + ".yaml", Format: FormatObject, Kinds: []string{"PodDisruptionBudget"}},
				// gatewatch's own monitoring (cluster.standalone.service_monitor)
				{Name: "self-servicemonitor-*.yaml", Format: FormatObject, Kinds: []string{"ServiceMonitor"}},
				{Name: "self-prometheusrule-*.yaml", Format: FormatObject, Kinds: []string{"PrometheusRule"}},
				dashboardOutput(),
				secretExampleOutput(),
				networkPolicyOutput(),
			},
			render: standalone,
		},
		{
			Name: TargetBridge,
			Writes: []Output{
				{Name: "serviceaccount-*-" + BridgeName + ".yaml", Format: FormatObject, Kinds: []string{"ServiceAccount"}},
				{Name: "role-*-" + BridgeName + "-explain.yaml", Format: FormatObject, Kinds: []string{"Role"}},
				{Name: "rolebinding-*-" + BridgeName + "-explain.yaml", Format: FormatObject, Kinds: []string{"RoleBinding"}},
				{Name: "clusterrole-" + BridgeName + "-explain.yaml", Format: FormatObject, Kinds: []string{"ClusterRole"}},
				{Name: "clusterrolebinding-" + BridgeName + "-explain.yaml", Format: FormatObject, Kinds: []string{"ClusterRoleBinding"}},
				{Name: "configmap-*-" + BridgeName + ".yaml", Format: FormatObject, Kinds: []string{"ConfigMap"}},
				{Name: "persistentvolumeclaim-*-" + BridgeName + ".yaml", Format: FormatObject, Kinds: []string{"PersistentVolumeClaim"}},
				{Name: "deployment-*-" + BridgeName + ".yaml", Format: FormatObject, Kinds: []string{"Deployment"}},
				{Name: "service-*-" + BridgeName + ".yaml", Format: FormatObject, Kinds: []string{"Service"}},
				{Name: "poddisruptionbudget-*-" + BridgeName + ".yaml", Format: FormatObject, Kinds: []string{"PodDisruptionBudget"}},
				secretExampleOutput(),
				// Alertmanager's half, to wire by hand (the stack targets
				// write it with cluster.bridge.enabled).
				{Name: "alertmanagerconfig-*.yaml.example", Format: FormatExample, Kinds: []string{"AlertmanagerConfig"}},
				networkPolicyOutput(),
			},
			render: bridge,
		},
	}
}

// TargetNames returns the targets' names, in help order.
func TargetNames() []string {
	var out []string
	for _, t := range Targets() {
		out = append(out, t.Name)
	}
	return out
}

// Lookup returns the target called name.
func Lookup(name string) (Target, error) {
	for _, t := range Targets() {
		if t.Name == name {
			return t, nil
		}
	}
	return Target{}, fmt.Errorf("unknown target %q: use one of %s", name, strings.Join(TargetNames(), ", "))
}

// OutputOf returns the output of any target the file name is (rendered
// file names are unique across targets in what they hold), if any.
func OutputOf(name string) (Output, bool) {
	for _, t := range Targets() {
		if o, ok := t.Output(name); ok {
			return o, true
		}
	}
	return Output{}, false
}

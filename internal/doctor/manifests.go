package doctor

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/gatewatch/gatewatch/internal/manifest"
	"github.com/gatewatch/gatewatch/internal/render"
)

// Manifests are the objects and config files read from disk for offline
// mode. The checks read them in their own files; this file only reads.
type Manifests struct {
	namespaces  map[string]map[string]string
	policies    []networkingv1.NetworkPolicy
	pods        []corev1.Pod
	podMonitors []monitoringv1.PodMonitor
	ruleList    []loadedRule
	scrapeJobs  []string
	amConfigs   []amSource
	amcs        []monitoringv1alpha1.AlertmanagerConfig
	// owned are the objects gatewatch renders that the manifests hold
	// (render/stale compares them with what the spec renders).
	owned []ownedObject
	// targets are the render targets whose output the manifests hold
	// (a file or kind only that target declares).
	targets map[string]bool
	// Problems are documents that could not be read, with file:line.
	Problems []string
}

type amSource struct {
	file string
	yaml string
}

// LoadManifests reads the manifests at path through internal/manifest (a
// file, or the .yaml, .yml and .json files under a folder, hidden folders
// skipped; Lists expanded). A config file without a kind is read as the
// render target that writes a file of that name declares it
// (render.OutputOf); a file of another name as any config file doctor knows.
// A malformed document is reported with its file and line and the rest is
// still read.
func LoadManifests(path string) (*Manifests, error) {
	objs, err := manifest.Load(path)
	if err != nil {
		return nil, fmt.Errorf("read manifests: %w", err)
	}
	m := &Manifests{namespaces: map[string]map[string]string{}, targets: map[string]bool{}}
	for _, o := range objs {
		if o.Err == nil {
			err = m.read(o)
		} else {
			err = o.Err
		}
		if err != nil {
			m.Problems = append(m.Problems, problem(o.Source, err))
		}
	}
	return m, nil
}

// problem is "file:line: error" (the line when known).
func problem(src manifest.Source, err error) string {
	if src.Line == 0 {
		return fmt.Sprintf("%s: %v", src.File, err)
	}
	return fmt.Sprintf("%s:%d: %v", src.File, src.Line, err)
}

// ownedObject is a rendered object, scrape job or chart PodMonitor in the
// manifests, by what identifies it.
type ownedObject struct {
	// key is kind/namespace/name ("scrape job//NAME" for a scrape job).
	key    string
	source string
}

// managedBy is the label every object render writes carries.
const managedBy = "app.kubernetes.io/managed-by"

func (m *Manifests) read(o manifest.Object) error {
	if o.Kind != "" {
		var md struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
		}
		if json.Unmarshal(o.JSON, &md) == nil && md.Metadata.Labels[managedBy] == "gatewatch" {
			m.own(o.Kind, md.Metadata.Namespace, md.Metadata.Name, o.Source)
			m.declaredBy(filepath.Base(o.File), func(out render.Output) bool { return slices.Contains(out.Kinds, o.Kind) })
		}
		return m.readObject(o)
	}
	if out, ok := render.OutputOf(filepath.Base(o.File)); ok {
		m.declaredBy(filepath.Base(o.File), func(o render.Output) bool { return o.Format == out.Format })
		return m.readConfig(o, out.Format)
	}
	return m.readConfig(o, configFormats()...)
}

// declaredBy records the target that writes a file of this name and kind
// or format (is), when exactly one does: by the file's name, else (a
// folder of other names, `render` to stdout saved as one file) by what it
// holds alone.
func (m *Manifests) declaredBy(name string, is func(render.Output) bool) {
	if m.targets == nil {
		m.targets = map[string]bool{}
	}
	for _, byName := range []bool{true, false} {
		var found []string
		for _, t := range render.Targets() {
			for _, out := range t.Writes {
				if is(out) && (!byName || out.Matches(name)) {
					found = append(found, t.Name)
					break
				}
			}
		}
		if len(found) == 1 {
			m.targets[found[0]] = true
		}
		if len(found) > 0 {
			return
		}
	}
}

// Targets are the render targets whose output the manifests hold, in
// render's order: those of which they hold a file or kind only that
// target writes.
func (m *Manifests) Targets() []string {
	var out []string
	for _, t := range render.TargetNames() {
		if m.targets[t] {
			out = append(out, t)
		}
	}
	return out
}

// deploysGatewatch reports whether the manifests hold gatewatch's own
// deployment (render --target standalone).
func (m *Manifests) deploysGatewatch() bool { return m.targets[render.TargetStandalone] }

// deploysBridge reports whether the manifests hold gatewatch bridge's
// deployment (render --target bridge).
func (m *Manifests) deploysBridge() bool { return m.targets[render.TargetBridge] }

// configuresStack reports whether the manifests configure a Prometheus or
// Alertmanager, which the stack checks look at: they hold a rule, scrape
// job, PodMonitor or Alertmanager configuration, or the output of a stack
// target (not standalone's or the bridge's, which deploy gatewatch), or no
// target's output at all (the user's own manifests).
func (m *Manifests) configuresStack() bool {
	if len(m.ruleList)+len(m.scrapeJobs)+len(m.podMonitors)+len(m.amConfigs)+len(m.amcs) > 0 {
		return true
	}
	for t := range m.targets {
		if t != render.TargetStandalone && t != render.TargetBridge {
			return true
		}
	}
	return len(m.targets) == 0
}

// configFormats are the rendered config files doctor reads.
func configFormats() []render.Format {
	return []render.Format{render.FormatRuleFile, render.FormatPrometheusConfig, render.FormatHelmValues, render.FormatAlertmanagerConfig}
}

// objectKinds are the Kubernetes kinds the offline checks look at
// (readObject); others are skipped.
func objectKinds() []string {
	return []string{"Namespace", "NetworkPolicy", "Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "PodMonitor", "PrometheusRule", "AlertmanagerConfig"}
}

// readObject reads the kinds of objectKinds.
func (m *Manifests) readObject(o manifest.Object) error {
	switch o.Kind {
	case "Namespace":
		var ns corev1.Namespace
		if err := json.Unmarshal(o.JSON, &ns); err != nil {
			return err
		}
		m.namespaces[ns.Name] = ns.Labels
	case "NetworkPolicy":
		var np networkingv1.NetworkPolicy
		if err := json.Unmarshal(o.JSON, &np); err != nil {
			return err
		}
		m.policies = append(m.policies, np)
	case "Pod":
		var p corev1.Pod
		if err := json.Unmarshal(o.JSON, &p); err != nil {
			return err
		}
		m.pods = append(m.pods, p)
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet":
		var w struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
			Spec     struct {
				Template corev1.PodTemplateSpec `json:"template"`
			} `json:"spec"`
		}
		if err := json.Unmarshal(o.JSON, &w); err != nil {
			return err
		}
		p := corev1.Pod{ObjectMeta: w.Spec.Template.ObjectMeta, Spec: w.Spec.Template.Spec}
		p.Name, p.Namespace = w.Metadata.Name, w.Metadata.Namespace
		m.pods = append(m.pods, p)
		// gatewatch's own deployment however it was made (the Helm chart,
		// render's output under other names): its pods run `gatewatch run`;
		// the bridge's run `gatewatch bridge`.
		for _, d := range []struct{ name, cmd, target string }{
			{"gatewatch", "run", render.TargetStandalone},
			{render.BridgeName, "bridge", render.TargetBridge},
		} {
			if p.Labels["app.kubernetes.io/name"] != d.name {
				continue
			}
			for _, c := range p.Spec.Containers {
				if len(c.Args) > 0 && c.Args[0] == d.cmd {
					m.targets[d.target] = true
				}
			}
		}
	case "PodMonitor":
		var pm monitoringv1.PodMonitor
		if err := json.Unmarshal(o.JSON, &pm); err != nil {
			return err
		}
		m.podMonitors = append(m.podMonitors, pm)
	case "PrometheusRule":
		var pr monitoringv1.PrometheusRule
		if err := json.Unmarshal(o.JSON, &pr); err != nil {
			return err
		}
		for _, g := range pr.Spec.Groups {
			if g.Name == render.MetaRuleGroup {
				continue // gatewatch's own alerts (standalone's service_monitor), not a gateway's
			}
			for _, r := range g.Rules {
				if r.Alert != "" {
					m.ruleList = append(m.ruleList, loadedRule{Name: r.Alert, Query: r.Expr.String(), Labels: r.Labels, Source: sourceLine(o.Source)})
				}
			}
		}
	case "AlertmanagerConfig":
		var amc monitoringv1alpha1.AlertmanagerConfig
		if err := json.Unmarshal(o.JSON, &amc); err != nil {
			return err
		}
		m.amcs = append(m.amcs, amc)
	}
	return nil
}

// configFile holds the keys of every config file doctor reads; readConfig
// takes those of the formats asked for.
type configFile struct {
	// render.FormatRuleFile
	ruleFile
	// render.FormatPrometheusConfig
	ScrapeConfigs []struct {
		JobName string `json:"job_name"`
	} `json:"scrape_configs"`
	// render.FormatHelmValues
	AdditionalPrometheusRulesMap map[string]ruleFile `json:"additionalPrometheusRulesMap"`
	Alertmanager                 struct {
		Config map[string]any `json:"config"`
	} `json:"alertmanager"`
	Prometheus struct {
		AdditionalPodMonitors []json.RawMessage `json:"additionalPodMonitors"`
	} `json:"prometheus"`
	// render.FormatAlertmanagerConfig: both keys present
	Route     json.RawMessage `json:"route"`
	Receivers json.RawMessage `json:"receivers"`
}

// ruleFile is a Prometheus rule file (or a chart's rules map entry).
type ruleFile struct {
	Groups []struct {
		Rules []struct {
			Alert  string            `json:"alert"`
			Expr   string            `json:"expr"`
			Labels map[string]string `json:"labels"`
		} `json:"rules"`
	} `json:"groups"`
}

// readConfig reads a config file as the given formats: Prometheus rule
// files, prometheus.yml scrape jobs, kube-prometheus-stack values and
// alertmanager.yml.
func (m *Manifests) readConfig(o manifest.Object, formats ...render.Format) error {
	var f configFile
	if err := json.Unmarshal(o.JSON, &f); err != nil {
		return err
	}
	if slices.Contains(formats, render.FormatRuleFile) {
		m.addRules(f.ruleFile, sourceLine(o.Source))
	}
	if slices.Contains(formats, render.FormatPrometheusConfig) {
		for _, sc := range f.ScrapeConfigs {
			m.scrapeJobs = append(m.scrapeJobs, sc.JobName)
			if strings.HasPrefix(sc.JobName, "gatewatch/") {
				m.own("scrape job", "", sc.JobName, o.Source)
			}
		}
	}
	if slices.Contains(formats, render.FormatHelmValues) {
		if err := m.readHelmValues(f, sourceLine(o.Source)); err != nil {
			return err
		}
		for _, pm := range m.podMonitors {
			// The chart's PodMonitors carry its labels, not gatewatch's.
			if pm.Namespace == "" && strings.HasPrefix(pm.Name, "gatewatch-") {
				m.own("PodMonitor (additionalPodMonitors)", "", pm.Name, o.Source)
			}
		}
	}
	if slices.Contains(formats, render.FormatAlertmanagerConfig) && f.Route != nil && f.Receivers != nil {
		m.amConfigs = append(m.amConfigs, amSource{file: o.File, yaml: string(o.Text)})
	}
	return nil
}

// readHelmValues reads kube-prometheus-stack values: the rules map, the
// Alertmanager configuration and the additional PodMonitors.
func (m *Manifests) readHelmValues(f configFile, src string) error {
	for name, rf := range f.AdditionalPrometheusRulesMap {
		m.addRules(rf, src+" additionalPrometheusRulesMap."+name)
	}
	if f.Alertmanager.Config != nil {
		b, err := yaml.Marshal(f.Alertmanager.Config)
		if err != nil {
			return err
		}
		m.amConfigs = append(m.amConfigs, amSource{file: "helm values alertmanager.config", yaml: string(b)})
	}
	for _, pm := range f.Prometheus.AdditionalPodMonitors {
		var spec monitoringv1.PodMonitorSpec
		if err := json.Unmarshal(pm, &spec); err != nil {
			return err
		}
		var name struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(pm, &name)
		m.podMonitors = append(m.podMonitors, monitoringv1.PodMonitor{ObjectMeta: metav1.ObjectMeta{Name: name.Name}, Spec: spec})
	}
	return nil
}

func (m *Manifests) addRules(f ruleFile, src string) {
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				m.ruleList = append(m.ruleList, loadedRule{Name: r.Alert, Query: r.Expr, Labels: r.Labels, Source: src})
			}
		}
	}
}

// own records a gatewatch object of the manifests.
func (m *Manifests) own(kind, namespace, name string, src manifest.Source) {
	key := kind + "/" + namespace + "/" + name
	for _, o := range m.owned {
		if o.key == key {
			return
		}
	}
	m.owned = append(m.owned, ownedObject{key: key, source: sourceLine(src)})
}

// sourceLine is "file:line" (the file when the line is unknown).
func sourceLine(src manifest.Source) string {
	if src.Line == 0 {
		return src.File
	}
	return fmt.Sprintf("%s:%d", src.File, src.Line)
}

func (m *Manifests) podsMatching(ns string, sel labels.Selector) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range m.pods {
		if p.Namespace == ns && sel.Matches(labels.Set(p.Labels)) {
			out = append(out, p)
		}
	}
	return out
}

func (m *Manifests) rules() []loadedRule { return m.ruleList }

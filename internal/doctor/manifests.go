package doctor

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	amconfig "github.com/prometheus/alertmanager/config"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// Manifests are the objects and config files read from disk for offline mode.
type Manifests struct {
	namespaces  map[string]map[string]string
	policies    []networkingv1.NetworkPolicy
	pods        []corev1.Pod
	podMonitors []monitoringv1.PodMonitor
	ruleList    []loadedRule
	scrapeJobs  []string
	amConfigs   []amSource
	amcs        []monitoringv1alpha1.AlertmanagerConfig
	// Problems are documents that could not be read, with file:line.
	Problems []string
}

type amSource struct {
	file string
	yaml string
}

// LoadManifests reads every .yaml/.yml file under dir. A malformed document
// is reported with its file and line and the rest is still read.
func LoadManifests(dir string) (*Manifests, error) {
	m := &Manifests{namespaces: map[string]map[string]string{}}
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read manifests: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no .yaml or .yml files under %s", dir)
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		m.readFile(f, b)
	}
	return m, nil
}

func (m *Manifests) readFile(file string, b []byte) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	line := 1
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			m.Problems = append(m.Problems, fmt.Sprintf("%s:%d: %v", file, line, err))
			return
		}
		start := line
		line += bytes.Count(doc, []byte("\n"))
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		if err := m.readDoc(doc); err != nil {
			m.Problems = append(m.Problems, fmt.Sprintf("%s:%d: %v", file, start, err))
		} else if isAlertmanagerYAML(doc) {
			m.amConfigs = append(m.amConfigs, amSource{file: file, yaml: string(doc)})
		}
	}
}

func isAlertmanagerYAML(doc []byte) bool {
	var probe map[string]any
	if yaml.Unmarshal(doc, &probe) != nil {
		return false
	}
	_, route := probe["route"]
	_, recv := probe["receivers"]
	return route && recv
}

func (m *Manifests) readDoc(doc []byte) error {
	var meta struct {
		Kind string `json:"kind"`
	}
	if err := yaml.Unmarshal(doc, &meta); err != nil {
		return fmt.Errorf("not YAML: %w", err)
	}
	switch meta.Kind {
	case "Namespace":
		var ns corev1.Namespace
		if err := yaml.Unmarshal(doc, &ns); err != nil {
			return err
		}
		m.namespaces[ns.Name] = ns.Labels
	case "NetworkPolicy":
		var np networkingv1.NetworkPolicy
		if err := yaml.Unmarshal(doc, &np); err != nil {
			return err
		}
		m.policies = append(m.policies, np)
	case "Pod":
		var p corev1.Pod
		if err := yaml.Unmarshal(doc, &p); err != nil {
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
		if err := yaml.Unmarshal(doc, &w); err != nil {
			return err
		}
		p := corev1.Pod{ObjectMeta: w.Spec.Template.ObjectMeta, Spec: w.Spec.Template.Spec}
		p.Name, p.Namespace = w.Metadata.Name, w.Metadata.Namespace
		m.pods = append(m.pods, p)
	case "PodMonitor":
		var pm monitoringv1.PodMonitor
		if err := yaml.Unmarshal(doc, &pm); err != nil {
			return err
		}
		m.podMonitors = append(m.podMonitors, pm)
	case "PrometheusRule":
		var pr monitoringv1.PrometheusRule
		if err := yaml.Unmarshal(doc, &pr); err != nil {
			return err
		}
		for _, g := range pr.Spec.Groups {
			for _, r := range g.Rules {
				if r.Alert != "" {
					m.ruleList = append(m.ruleList, loadedRule{Name: r.Alert, Query: r.Expr.String()})
				}
			}
		}
	case "AlertmanagerConfig":
		var amc monitoringv1alpha1.AlertmanagerConfig
		if err := yaml.Unmarshal(doc, &amc); err != nil {
			return err
		}
		m.amcs = append(m.amcs, amc)
	case "":
		return m.readConfigFile(doc)
	}
	return nil
}

// readConfigFile reads Prometheus rule files, prometheus.yml scrape jobs and
// kube-prometheus-stack values.
func (m *Manifests) readConfigFile(doc []byte) error {
	var f struct {
		ruleFile
		ScrapeConfigs []struct {
			JobName string `json:"job_name"`
		} `json:"scrape_configs"`
		AdditionalPrometheusRulesMap map[string]ruleFile `json:"additionalPrometheusRulesMap"`
		Alertmanager                 struct {
			Config map[string]any `json:"config"`
		} `json:"alertmanager"`
		Prometheus struct {
			AdditionalPodMonitors []json0 `json:"additionalPodMonitors"`
		} `json:"prometheus"`
	}
	if err := yaml.Unmarshal(doc, &f); err != nil {
		return err
	}
	m.addRules(f.ruleFile)
	for _, rf := range f.AdditionalPrometheusRulesMap {
		m.addRules(rf)
	}
	for _, sc := range f.ScrapeConfigs {
		m.scrapeJobs = append(m.scrapeJobs, sc.JobName)
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
		if err := yaml.Unmarshal(pm, &spec); err != nil {
			return err
		}
		var name struct {
			Name string `json:"name"`
		}
		_ = yaml.Unmarshal(pm, &name)
		m.podMonitors = append(m.podMonitors, monitoringv1.PodMonitor{ObjectMeta: metav1.ObjectMeta{Name: name.Name}, Spec: spec})
	}
	return nil
}

// ruleFile is a Prometheus rule file (or a chart's rules map entry).
type ruleFile struct {
	Groups []struct {
		Rules []struct {
			Alert string `json:"alert"`
			Expr  string `json:"expr"`
		} `json:"rules"`
	} `json:"groups"`
}

func (m *Manifests) addRules(f ruleFile) {
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				m.ruleList = append(m.ruleList, loadedRule{Name: r.Alert, Query: r.Expr})
			}
		}
	}
}

// json0 keeps a raw YAML/JSON value.
type json0 []byte

// UnmarshalJSON keeps the bytes.
func (j *json0) UnmarshalJSON(b []byte) error { *j = append((*j)[:0], b...); return nil }

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

// checkScrape is prometheus/target offline: a PodMonitor (or scrape job)
// that scrapes the gateway's pods with gatewatch's job.
func (m *Manifests) checkScrape(s *spec.Spec) Result {
	var ev []string
	missing := 0
	for _, g := range s.Gateways {
		found := false
		for _, j := range m.scrapeJobs {
			if j == rules.JobName(g) || j == rules.StaticJobName(g) {
				found = true
				ev = append(ev, fmt.Sprintf("%s: scrape job %s", g.Name, j))
			}
		}
		sel, _ := labels.Parse(g.Selector)
		gwPods := m.podsMatching(g.Namespace, sel)
		podLabels := standInPod(g.Namespace, sel).Labels
		if len(gwPods) > 0 {
			podLabels = gwPods[0].Labels
		}
		for _, pm := range m.podMonitors {
			pmSel, err := metav1.LabelSelectorAsSelector(&pm.Spec.Selector)
			if err != nil || !pmSel.Matches(labels.Set(podLabels)) {
				continue
			}
			nsOK := pm.Namespace == g.Namespace || pm.Spec.NamespaceSelector.Any
			for _, n := range pm.Spec.NamespaceSelector.MatchNames {
				nsOK = nsOK || n == g.Namespace
			}
			if !nsOK {
				continue
			}
			for _, ep := range pm.Spec.PodMetricsEndpoints {
				portOK := (ep.Port != nil && *ep.Port == g.Stats.Port.Name) || (ep.PortNumber != nil && int(*ep.PortNumber) == g.Stats.Port.Number)
				jobOK := false
				for _, rc := range ep.RelabelConfigs {
					if rc.TargetLabel == "job" && rc.Replacement != nil && *rc.Replacement == rules.JobName(g) {
						jobOK = true
					}
				}
				switch {
				case portOK && jobOK && ep.Path == g.Stats.Path:
					found = true
					ev = append(ev, fmt.Sprintf("%s: PodMonitor %s/%s scrapes port %s%s as %s", g.Name, pm.Namespace, pm.Name, g.Stats.Port, ep.Path, rules.JobName(g)))
				case portOK:
					ev = append(ev, fmt.Sprintf("%s: PodMonitor %s/%s scrapes the port but not as job %s (or another path)", g.Name, pm.Namespace, pm.Name, rules.JobName(g)))
				}
			}
		}
		if !found {
			missing++
		}
	}
	if missing > 0 {
		return failed("no PodMonitor or scrape job scrapes the gateway as gatewatch's job",
			"add the PodMonitor from `gatewatch render --target operator`: an annotation-based monitor (prometheus.io/port) misses gateway pods, and the rules count only job gatewatch/<namespace>/<gateway>", ev...)
	}
	return pass("the gateway is scraped as gatewatch's job", ev...)
}

// alertmanagerConfig returns the Alertmanager configuration in the manifests:
// an alertmanager.yml, helm values, or AlertmanagerConfig objects translated
// as the prometheus-operator does.
func (m *Manifests) alertmanagerConfig() (*amconfig.Config, string, error) {
	var errs []error
	for _, src := range m.amConfigs {
		c, err := amconfig.Load(src.yaml)
		if err == nil {
			return c, src.file, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", src.file, err))
	}
	if len(m.amcs) > 0 {
		y, err := OperatorAlertmanagerYAML(m.amcs)
		if err != nil {
			return nil, "", err
		}
		c, err := amconfig.Load(string(y))
		if err != nil {
			return nil, "", fmt.Errorf("AlertmanagerConfig objects: %w", err)
		}
		return c, fmt.Sprintf("%d AlertmanagerConfig object(s), under a null default with a Watchdog route as kube-prometheus-stack's base configuration has", len(m.amcs)), nil
	}
	if len(errs) == 0 {
		errs = append(errs, errors.New("no alertmanager.yml, helm values or AlertmanagerConfig found"))
	}
	return nil, "", errors.Join(errs...)
}

// OperatorAlertmanagerYAML translates AlertmanagerConfig objects the way the
// prometheus-operator does (receivers named <ns>/<name>/<receiver>, a
// namespace matcher on each route) under a "null" default receiver with the
// Watchdog route kube-prometheus-stack's base configuration has. Secret
// references become the files the operator mounts.
func OperatorAlertmanagerYAML(amcs []monitoringv1alpha1.AlertmanagerConfig) ([]byte, error) {
	type route = map[string]any
	var routes []any
	receivers := []any{map[string]any{"name": "null"}}
	for _, amc := range amcs {
		prefix := amc.Namespace + "/" + amc.Name + "/"
		r := amc.Spec.Route
		if r == nil {
			continue
		}
		matchers := []string{`namespace="` + amc.Namespace + `"`}
		for _, mt := range r.Matchers {
			op := string(mt.MatchType)
			if op == "" {
				op = "="
			}
			matchers = append(matchers, mt.Name+op+`"`+mt.Value+`"`)
		}
		rt := route{"receiver": prefix + r.Receiver, "matchers": matchers, "group_by": r.GroupBy}
		if r.GroupWait != nil {
			rt["group_wait"] = string(*r.GroupWait)
		}
		if r.GroupInterval != nil {
			rt["group_interval"] = string(*r.GroupInterval)
		}
		if r.RepeatInterval != nil {
			rt["repeat_interval"] = string(*r.RepeatInterval)
		}
		routes = append(routes, rt)
		for _, rc := range amc.Spec.Receivers {
			var slack []any
			for _, sc := range rc.SlackConfigs {
				if sc.APIURL == nil {
					return nil, fmt.Errorf("%s: slack config without apiURL", prefix+rc.Name)
				}
				cfg := map[string]any{"api_url_file": "/etc/alertmanager/secrets/" + sc.APIURL.Name + "/" + sc.APIURL.Key}
				if sc.SendResolved != nil {
					cfg["send_resolved"] = *sc.SendResolved
				}
				for k, v := range map[string]*string{"title": sc.Title, "text": sc.Text, "color": sc.Color, "username": sc.Username, "channel": sc.Channel, "pretext": sc.Pretext, "footer": sc.Footer} {
					if v != nil {
						cfg[k] = *v
					}
				}
				slack = append(slack, cfg)
			}
			receivers = append(receivers, map[string]any{"name": prefix + rc.Name, "slack_configs": slack})
		}
	}
	routes = append(routes, route{"receiver": "null", "matchers": []string{`alertname="Watchdog"`}})
	return yaml.Marshal(map[string]any{"route": route{"receiver": "null", "routes": routes}, "receivers": receivers})
}

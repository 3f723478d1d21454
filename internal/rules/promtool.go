package rules

import (
	"context"
	"fmt"
	"maps"
	"net/url"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/template"

	"github.com/gatewatch/gatewatch/internal/spec"
)

// PromtoolTest is a `promtool test rules` file.
type PromtoolTest struct {
	RuleFiles          []string       `json:"rule_files"`
	EvaluationInterval string         `json:"evaluation_interval"`
	Tests              []promtoolCase `json:"tests"`
}

type promtoolCase struct {
	Name          string              `json:"name"`
	Interval      string              `json:"interval"`
	InputSeries   []promtoolSeries    `json:"input_series"`
	AlertRuleTest []promtoolAlertTest `json:"alert_rule_test"`
}

type promtoolSeries struct {
	Series string `json:"series"`
	Values string `json:"values"`
}

type promtoolAlertTest struct {
	EvalTime  string             `json:"eval_time"`
	Alertname string             `json:"alertname"`
	ExpAlerts []promtoolExpAlert `json:"exp_alerts"`
}

type promtoolExpAlert struct {
	ExpLabels      map[string]string `json:"exp_labels"`
	ExpAnnotations map[string]string `json:"exp_annotations,omitempty"`
}

// PromtoolTests returns one `promtool test rules` file per gateway holding
// every scenario of every count alert, against the rule file ruleFile. The
// expected labels and annotations are derived from the scenario (pod and
// count) and the rule's templates, expanded with Prometheus's own template
// engine, so promtool checks exactly what the embedded runner checks.
func PromtoolTests(s *spec.Spec, ruleFile string) (map[string]PromtoolTest, error) {
	out := map[string]PromtoolTest{}
	for _, g := range s.Gateways {
		f := PromtoolTest{RuleFiles: []string{ruleFile}, EvaluationInterval: g.Stats.Interval.String()}
		for _, a := range s.EnabledAlerts() {
			scs, ok := Scenarios(g, a)
			if !ok {
				continue
			}
			rule := ForAlert(g, a)
			for _, sc := range scs {
				tc := promtoolCase{Name: g.Name + "/" + a.Name + "/" + sc.Name, Interval: spec.Duration(sc.Interval).String()}
				for _, se := range append(sc.Series, bystanders(s, g, sc)...) {
					tc.InputSeries = append(tc.InputSeries, promtoolSeries{Series: se.Labels, Values: se.Values})
				}
				for _, c := range sc.Checks {
					at := promtoolAlertTest{EvalTime: spec.Duration(c.At).String(), Alertname: a.Name, ExpAlerts: []promtoolExpAlert{}}
					for _, e := range c.Firing {
						lbls := map[string]string{}
						if e.Pod != "" {
							lbls["pod"], lbls["instance"] = e.Pod, e.Instance
						}
						ann, err := ExpandAnnotations(rule, lbls, e.Value)
						if err != nil {
							return nil, err
						}
						static, err := ExpandLabels(rule, lbls, e.Value)
						if err != nil {
							return nil, err
						}
						exp := maps.Clone(lbls)
						maps.Copy(exp, static)
						at.ExpAlerts = append(at.ExpAlerts, promtoolExpAlert{ExpLabels: exp, ExpAnnotations: ann})
					}
					tc.AlertRuleTest = append(tc.AlertRuleTest, at)
				}
				f.Tests = append(f.Tests, tc)
			}
		}
		if len(f.Tests) > 0 {
			out[g.Name] = f
		}
	}
	return out, nil
}

// ExpandAnnotations expands the rule's annotation templates as Prometheus
// does for an alert with the given expression labels and value.
func ExpandAnnotations(r Rule, lbls map[string]string, value float64) (map[string]string, error) {
	return expand(r, "annotation", r.Annotations, lbls, value)
}

// ExpandLabels expands the rule's label templates as Prometheus does: the
// static labels an alert with the given expression labels and value
// carries (the spec's plain values come back as written).
func ExpandLabels(r Rule, lbls map[string]string, value float64) (map[string]string, error) {
	return expand(r, "label", r.Labels, lbls, value)
}

// expand runs templates with Prometheus's template expander, its variables
// and data as the rule manager sets them, and no query function: a
// template that queries fails here instead of reaching a Prometheus.
func expand(r Rule, what string, templates, lbls map[string]string, value float64) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range templates {
		res, err := ExpandTemplate(r.Alert, v, lbls, value, nil)
		if err != nil {
			return nil, fmt.Errorf("expand %s %s of %s: %w", what, k, r.Alert, err)
		}
		out[k] = res
	}
	return out, nil
}

// ExpandTemplate expands one rule template as Prometheus's rule manager
// does for alert name (the variables $labels, $externalLabels,
// $externalURL and $value), with query answering its query calls (nil:
// none may run).
func ExpandTemplate(name, text string, lbls map[string]string, value float64, query template.QueryFunc) (string, error) {
	defs := "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"
	data := template.AlertTemplateData(lbls, nil, "", promql.Sample{F: value})
	return template.NewTemplateExpander(context.Background(), defs+text, "__alert_"+name, data, model.Time(0), query, &url.URL{}, nil).Expand()
}

// bystanders are healthy targets of the spec's other gateways. promtool
// evaluates the whole rule file, every gateway's group, at once: without
// them the other gateways' stats-down alerts would find no targets and fire
// in this gateway's scenarios.
func bystanders(s *spec.Spec, g spec.Gateway, sc Scenario) []Series {
	steps := int(sc.MaxAt()/sc.Interval) + 1
	var out []Series
	for _, o := range s.Gateways {
		if o.Name == g.Name {
			continue
		}
		t := target{pod: o.Workload + "-bystander", instance: "10.9.9.9:15090"}
		base := t.base(JobName(o), o.Namespace)
		out = append(out,
			Series{"up{" + base + "}", fill(steps, "1").notation()},
			Series{"envoy_server_uptime{" + base + "}", ramp(steps, 10*day, sc.Interval.Seconds()).notation()})
	}
	return out
}

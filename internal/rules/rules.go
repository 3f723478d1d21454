// Package rules turns a gatewatch spec into Prometheus alerting rule groups:
// the exact rule text that both the embedded engine and a rendered
// Prometheus/PrometheusRule evaluate. It also holds the scenarios that prove
// the rules fire when they should and stay quiet when they should.
package rules

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"

	"github.com/gatewatch/gatewatch/internal/spec"
)

// Group is a Prometheus rule group (rulefmt shape).
type Group struct {
	Name     string        `yaml:"name" json:"name"`
	Interval spec.Duration `yaml:"interval,omitempty" json:"interval,omitempty"`
	Rules    []Rule        `yaml:"rules" json:"rules"`
}

// Rule is one alerting rule (rulefmt shape). Its label and annotation
// values are Prometheus templates: the spec's plain values in them are
// escaped as literal text (spec.Literal), the spec's own labels and
// annotations are templates by intent. ExpandLabels and ExpandAnnotations
// give what an alert of the rule carries.
type Rule struct {
	Alert       string            `yaml:"alert" json:"alert"`
	Expr        string            `yaml:"expr" json:"expr"`
	For         spec.Duration     `yaml:"for,omitempty" json:"for,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty" json:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty" json:"annotations,omitempty"`
}

// File is a Prometheus rule file.
type File struct {
	Groups []Group `yaml:"groups" json:"groups"`
}

// Metric is the Istio standard request counter.
const Metric = "istio_requests_total"

// Generate returns one rule group per gateway, each holding every enabled
// alert for it. The group interval is the gateway's scrape interval, so
// detection latency is dominated by the scrape, not by evaluation.
func Generate(s *spec.Spec) File {
	var f File
	for _, g := range s.Gateways {
		grp := Group{Name: "gatewatch-" + g.Name, Interval: g.Stats.Interval}
		for _, a := range s.EnabledAlerts() {
			grp.Rules = append(grp.Rules, ForAlert(g, a))
		}
		f.Groups = append(f.Groups, grp)
	}
	return f
}

// ForAlert builds the rule for one gateway and one alert.
func ForAlert(g spec.Gateway, a spec.Alert) Rule {
	r := Rule{
		Alert: a.Name,
		Expr:  Expr(g, a),
		For:   a.For,
		// Prometheus expands rule labels as templates too: the spec's
		// values go in as literal text.
		Labels: map[string]string{
			"severity": spec.Literal(a.Severity),
			"gateway":  spec.Literal(g.Name),
			// namespace is what the prometheus-operator's AlertmanagerConfig
			// matcher keys on (it adds namespace="<its namespace>" to every
			// route), and static targets have no namespace target label.
			"namespace": spec.Literal(g.Namespace),
			"workload":  spec.Literal(g.Workload),
		},
		Annotations: annotations(g, a),
	}
	for k, v := range a.Labels {
		r.Labels[k] = v
	}
	return r
}

// Selector returns the label matchers (inside braces) for the requests an
// alert counts at gateway g: the gateway's, then the kind's.
func Selector(g spec.Gateway, a spec.Alert) string {
	m := gatewayMatchers(g)
	if k := mustKind(a); k.Matchers != nil {
		m = append(m, k.Matchers(a)...)
	}
	return join(m)
}

// gatewayMatchers select the requests gateway g itself reports.
// reporter="source" keeps only what the gateway reports: backend sidecars
// report the same requests again with reporter="destination" and
// source_workload=<gateway>, so without it an upstream 421 is counted twice.
func gatewayMatchers(g spec.Gateway) []string {
	return []string{
		jobMatcher(g),
		`reporter="source"`,
		fmt.Sprintf("source_workload_namespace=%q", g.Namespace),
		fmt.Sprintf("source_workload=%q", g.Workload),
	}
}

// groupBy returns the aggregation labels for the alert's granularity.
func groupBy(a spec.Alert) string {
	if a.Per == "gateway" {
		return "sum"
	}
	// pod for Kubernetes targets, instance for static ones (and to tell pods
	// that reuse a name apart).
	return "sum by (pod, instance)"
}

// Expr returns the PromQL expression of an alert at a gateway, from its kind.
func Expr(g spec.Gateway, a spec.Alert) string { return mustKind(a).Expr(g, a) }

// JobName is the scrape job gatewatch's own scrape of a gateway carries (the
// rendered PodMonitor, scrape config and ScrapeConfig all set it, and so
// does the embedded engine). The rules count only this job, so a second
// monitor scraping the same pods (Istio's envoy-stats-monitor, say) never
// makes one request count twice.
func JobName(g spec.Gateway) string { return "gatewatch/" + g.Namespace + "/" + g.Name }

// StaticJobName is the job of the gateway's static targets.
func StaticJobName(g spec.Gateway) string { return JobName(g) + "/static" }

func jobMatcher(g spec.Gateway) string {
	return fmt.Sprintf("job=~%q", regexp.QuoteMeta(JobName(g))+"(/static)?")
}

// countExpr counts matching responses in the window, first-421-safe.
//
// Why not the runbook's `sum(increase(X[5m])) > 0`: Envoy creates the
// response_code="421" series lazily, at value 1, when the first 421 is
// served. increase() needs two samples and measures change between them, so a
// series whose first sample is already 1 has an increase of 0: the first 421
// a gateway (or a new gateway pod, or a restarted one after the window) ever
// serves never fires (prometheus/prometheus#1673).
//
// The expression therefore adds a "new series" term that counts a series at
// its full value when every request it counts happened within the window:
//   - the series has fewer samples in the window than its target has
//     successful scrapes (`count_over_time(X[W]) < sum_over_time(up[W])`):
//     some successful scrape of this Envoy within the window did not have
//     it, so it appeared (at 0 + its value) since. An evaluator that starts
//     with no history and finds an old series sees it in every scrape it
//     has, and stays quiet; one that starts and then sees a first 421 fires.
//   - or the series had no sample one window ago and this Envoy started less
//     than a window ago (`envoy_server_uptime < W`): a brand-new or restarted
//     pod whose first scrape already showed the series.
//
// Series that existed through the window are counted by increase(), which
// also handles counter resets. The +0 drops __name__ so `or` pairs both
// terms on identical label sets and a series is never counted twice.
//
// Known limit: if the scrape configuration changes a target label other
// than job and instance (a new relabeling), every existing series looks new
// for one window and fires at its lifetime count.
func countExpr(g spec.Gateway, a spec.Alert) string {
	return CountQuery(g, a) + " > " + formatFloat(a.Threshold)
}

// CountQuery is the first-421-safe count of the alert's responses in its
// window, without the threshold: the alert expression is CountQuery > threshold.
func CountQuery(g spec.Gateway, a spec.Alert) string {
	sel := Metric + "{" + Selector(g, a) + "}"
	job := "{" + jobMatcher(g) + "}"
	w := a.Window.String()
	secs := strconv.FormatFloat(a.Window.D().Seconds(), 'f', -1, 64)
	return fmt.Sprintf(`%s (
    (
        (%[2]s and (count_over_time(%[2]s[%[3]s]) < on (job, instance) group_left () sum by (job, instance) (sum_over_time(up%[4]s[%[3]s]))))
      or
        ((%[2]s unless %[2]s offset %[3]s) and on (job, instance) (envoy_server_uptime%[4]s < %[5]s))
    ) + 0
  or
    increase(%[2]s[%[3]s])
)`, groupBy(a), sel, w, job, secs)
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// RunbookExpr is the original runbook's expression, kept to prove what it misses.
func RunbookExpr(g spec.Gateway, window spec.Duration) string {
	return fmt.Sprintf(`sum(increase(%s{source_workload_namespace=%q, source_workload=%q, response_code="421"}[%s])) > 0`,
		Metric, g.Namespace, g.Workload, window)
}

// annotations are the kind's annotations, then the shared ones, then the
// spec's own (templates by intent, checked by the spec's validation).
func annotations(g spec.Gateway, a spec.Alert) map[string]string {
	lg, la := literalGateway(g), literalAlert(a)
	ann := mustKind(a).Annotations(lg, la, Text{
		Where: fmt.Sprintf("gateway %s (workload %s) in namespace %s", lg.Name, lg.Workload, lg.Namespace),
		Pod:   "{{ with $labels.pod }}, pod {{ . }}{{ end }}",
		Count: `{{ $value | printf "%.0f" }}`,
	})
	ann["window"] = spec.Literal(a.Window.String())
	if a.RunbookURL != "" {
		ann["runbook_url"] = la.RunbookURL
	}
	for k, v := range a.Annotations {
		ann[k] = v
	}
	return ann
}

// literalGateway is g with every string the spec gave escaped as literal
// template text (spec.Literal), for a kind's Annotations to paste.
func literalGateway(g spec.Gateway) spec.Gateway {
	g.Name = spec.Literal(g.Name)
	g.Namespace = spec.Literal(g.Namespace)
	g.Workload = spec.Literal(g.Workload)
	g.Selector = spec.Literal(g.Selector)
	g.Stats.Port.Name = spec.Literal(g.Stats.Port.Name)
	g.Stats.Path = spec.Literal(g.Stats.Path)
	g.StaticTargets = slices.Clone(g.StaticTargets)
	for i, t := range g.StaticTargets {
		g.StaticTargets[i] = spec.Literal(t)
	}
	return g
}

// literalAlert is a with every plain string the spec gave escaped as
// literal template text (spec.Literal). Its labels and annotations are
// templates by intent and stay as written.
func literalAlert(a spec.Alert) spec.Alert {
	a.Name = spec.Literal(a.Name)
	a.Kind = spec.Literal(a.Kind)
	a.ResponseCode = spec.Literal(a.ResponseCode)
	a.ResponseFlags = spec.Literal(a.ResponseFlags)
	a.Severity = spec.Literal(a.Severity)
	a.Per = spec.Literal(a.Per)
	a.RunbookURL = spec.Literal(a.RunbookURL)
	return a
}

// Validate reads the file as Prometheus reads a rule file: rulefmt.Parse,
// which parses every expression with the PromQL parser and every label
// and annotation template with Prometheus's template package.
func (f File) Validate() error {
	b, err := yaml.Marshal(f)
	if err != nil {
		return fmt.Errorf("marshal rules: %w", err)
	}
	_, errs := rulefmt.Parse(b, false, model.UTF8Validation, parser.NewParser(parser.Options{}), promslog.NewNopLogger())
	return errors.Join(errs...)
}

// Families are the metric names the file's rules select from scraped data
// (every vector selector's __name__, sorted): what a scrape filter must
// keep for these rules to see what they need. Series Prometheus makes
// itself (up, scrape_*) and ALERTS are left out. A selector that names no
// metric (a regex on __name__) is an error: no filter could honour it.
func Families(f File) ([]string, error) {
	seen := map[string]bool{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			expr, err := parser.NewParser(parser.Options{}).ParseExpr(r.Expr)
			if err != nil {
				return nil, fmt.Errorf("rule %s: %w", r.Alert, err)
			}
			var bad error
			parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
				vs, ok := n.(*parser.VectorSelector)
				if !ok {
					return nil
				}
				name := vs.Name
				if name == "" {
					for _, m := range vs.LabelMatchers {
						if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
							name = m.Value
						}
					}
				}
				switch {
				case name == "":
					bad = fmt.Errorf("rule %s selects %s, which names no metric", r.Alert, vs.String())
				case name == "up" || name == "ALERTS" || name == "ALERTS_FOR_STATE" || strings.HasPrefix(name, "scrape_"):
				default:
					seen[name] = true
				}
				return nil
			})
			if bad != nil {
				return nil, bad
			}
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

// EnvoyStatsFilter is the regex for Envoy's /stats/prometheus?filter=: it
// keeps the families the spec's rules select (Families). Envoy matches it
// against its own stat names, partially (regex search): Istio's metrics
// keep their name there ("…;.;istio_requests_total"), Envoy's own lose the
// "envoy_" prefix and use dots ("server.uptime" for envoy_server_uptime),
// so each family is written with "[._]" for its underscores and without
// the prefix.
func EnvoyStatsFilter(s *spec.Spec) (string, error) {
	fams, err := Families(Generate(s))
	if err != nil {
		return "", err
	}
	alts := make([]string, 0, len(fams))
	for _, f := range fams {
		alts = append(alts, strings.ReplaceAll(regexp.QuoteMeta(strings.TrimPrefix(f, "envoy_")), "_", "[._]"))
	}
	return strings.Join(alts, "|"), nil
}

// StatsParams are the query parameters of the gateway's stats page: Envoy's
// filter when stats.envoy_filter is set, else none.
func StatsParams(s *spec.Spec, g spec.Gateway) (map[string][]string, error) {
	if !g.Stats.EnvoyFilter {
		return nil, nil
	}
	re, err := EnvoyStatsFilter(s)
	if err != nil {
		return nil, err
	}
	return map[string][]string{"filter": {re}}, nil
}

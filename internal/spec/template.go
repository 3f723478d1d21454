package spec

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/template"
)

// Two kinds of spec value reach Go templates (text/template, which both
// Prometheus's rule templates and Alertmanager's notification templates
// are):
//   - plain values — names, the workload, regexes, runbook_url, the
//     Mattermost channel, username, icons and mention — are literal text:
//     rules and render paste them through Literal, so braces in them are
//     printed, never run;
//   - an alert's labels and annotations are templates by intent
//     ({{ $labels.pod }}, {{ $value }}): validation parses them as
//     Prometheus does (PromTemplateError), so a broken one is a spec error
//     with file:line instead of a rule file Prometheus refuses.

// braceRun is a run of opening braces.
var braceRun = regexp.MustCompile(`\{+`)

// Literal returns s as Go template text that expands to s itself: every
// "{{" of s (and a "{" at either end, which the template text around it
// could complete into a "{{") becomes an action printing it, e.g.
// `a{{ b` → `a{{ "{{" }} b`. Values without such braces come back
// unchanged. The result is meant for the text part of a template (between
// actions), which is where rules and render put spec values.
func Literal(s string) string {
	if !strings.Contains(s, "{") {
		return s
	}
	idx := braceRun.FindAllStringIndex(s, -1)
	var b strings.Builder
	last := 0
	for _, m := range idx {
		start, end := m[0], m[1]
		if end-start < 2 && start != 0 && end != len(s) {
			continue // a lone brace inside the value cannot start an action
		}
		b.WriteString(s[last:start])
		b.WriteString(`{{ "` + s[start:end] + `" }}`)
		last = end
	}
	b.WriteString(s[last:])
	return b.String()
}

// promTemplateDefs are the variables Prometheus defines before an alerting
// rule's label and annotation templates (rules/alerting.go, rulefmt).
const promTemplateDefs = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"

// promTemplateErrPrefix is text/template's "template: NAME:LINE:" (and
// ":COL") prefix.
var promTemplateErrPrefix = regexp.MustCompile(`^template: [^:]*:(\d+)(?::\d+)?: `)

// PromTemplateError parses text as Prometheus parses an alerting rule's
// label or annotation template (the check of rulefmt.Parse, on the same
// template package and functions), and returns nil or the problem in words,
// without the template's internal name.
func PromTemplateError(text string) error {
	data := template.AlertTemplateData(map[string]string{}, map[string]string{}, "", promql.Sample{})
	exp := template.NewTemplateExpander(context.Background(), promTemplateDefs+text, "__alert", data, model.Time(0), nil, nil, nil)
	err := exp.ParseTest()
	if err == nil {
		return nil
	}
	msg := err.Error()
	if m := promTemplateErrPrefix.FindStringSubmatch(msg); m != nil {
		msg = msg[len(m[0]):]
		if n, _ := strconv.Atoi(m[1]); n > 1 {
			msg = fmt.Sprintf("line %d of the value: %s", n, msg)
		}
	}
	return fmt.Errorf("%s", msg)
}

// validateTemplates checks an alert's labels and annotations: names that
// Prometheus and Alertmanager templates can address, values that parse as
// Prometheus templates.
func (a Alert) validateTemplates(v *validator) {
	const hint = `Prometheus expands labels and annotations as Go templates; write {{ "{{" }} for literal braces`
	for _, k := range slices.Sorted(maps.Keys(a.Labels)) {
		if err := PromTemplateError(a.Labels[k]); err != nil {
			v.errorf(a.path+".labels."+k, "label %s is not a valid template: %v (%s)", k, err, hint)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(a.Annotations)) {
		if !model.LabelName(k).IsValidLegacy() {
			v.errorf(a.path+".annotations."+k, "%q is not a valid annotation name: use letters, digits and _, not starting with a digit", k)
		}
		if err := PromTemplateError(a.Annotations[k]); err != nil {
			v.errorf(a.path+".annotations."+k, "annotation %s is not a valid template: %v (%s)", k, err, hint)
		}
	}
}

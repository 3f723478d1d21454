package spec_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"text/template"
	"time"

	amtemplate "github.com/prometheus/alertmanager/template"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql"
	promtemplate "github.com/prometheus/prometheus/template"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// TestLiteralExpandsToItself: a value pasted through spec.Literal into the
// text of a template — alone, beside actions, inside an if — expands to
// the value itself with Go's text/template, Prometheus's template expander
// (whose query function must not run) and Alertmanager's template package.
func TestLiteralExpandsToItself(t *testing.T) {
	am, err := amtemplate.FromGlobs(nil)
	require.NoError(t, err)
	noQuery := func(context.Context, string, time.Time) (promql.Vector, error) {
		t.Fatal("a literal value ran a query")
		return nil, nil
	}
	for _, v := range []string{
		"", "plain", "{", "}", "{{", "}}", "{{{", "x{", "{x", "5[0-9]{2}", "a{b}c",
		"istio{{ broken", `4(21|{{ query "up" | first | value }}9)`, "@here{{ end }}", "town{{ .Status",
		"{{- end -}}", "{{/* c */}}", "{{`raw`}}", `"{{\`, "line\n{{ x }}\nline", "ünï{{cødé}}", "}}{{",
	} {
		lit := spec.Literal(v)
		tmpl := "<" + lit + ">{{ if true }}" + lit + "{{ end }}" + lit
		want := "<" + v + ">" + v + v

		var b strings.Builder
		require.NoError(t, template.Must(template.New("").Parse(tmpl)).Execute(&b, nil), v)
		require.Equal(t, want, b.String(), "text/template, %q", v)

		data := promtemplate.AlertTemplateData(map[string]string{}, nil, "", promql.Sample{})
		got, err := promtemplate.NewTemplateExpander(context.Background(), "{{$labels := .Labels}}{{$value := .Value}}"+tmpl,
			"__alert_x", data, model.Time(0), noQuery, &url.URL{}, nil).Expand()
		require.NoError(t, err, v)
		require.Equal(t, want, got, "Prometheus, %q", v)

		got, err = am.ExecuteTextString(tmpl, &amtemplate.Data{})
		require.NoError(t, err, v)
		require.Equal(t, want, got, "Alertmanager, %q", v)
	}
}

// TestLiteralKeepsPlainValues: values without braces that could start an
// action come back unchanged, so rendered output only changes where a
// value has them.
func TestLiteralKeepsPlainValues(t *testing.T) {
	for _, v := range []string{"istio-ingressgateway", "5..", "5[0-9]{2}", "UH|UF", "@here", "https://x/y?a=b", "}}"} {
		require.Equal(t, v, spec.Literal(v))
	}
	require.Equal(t, `istio{{ "{{" }} broken`, spec.Literal("istio{{ broken"))
}

// TestTemplateErrors: an alert's labels and annotations are Prometheus
// templates; one that Prometheus's parser refuses is a spec error at its
// key's line, and so is an annotation name templates cannot address.
func TestTemplateErrors(t *testing.T) {
	y := minimal + `alerts:
  - kind: misdirected-request
    labels:
      team: "{{ $labels.pod"
      owner: '{{ $labels.pod }}'
    annotations:
      summary: "fine {{ $value }} {{ with $labels.pod }}{{ . }}{{ end }}"
      note: "{{ end }}"
      wiki: "{{ nofunc }}"
      long: |
        line one
        {{ if }}
      bad-name: x
`
	_, err := spec.Parse([]byte(y), "g.yaml", rules.SpecKinds())
	require.Error(t, err)
	var se *spec.Error
	require.True(t, errors.As(err, &se))
	msg := err.Error()
	for _, want := range []string{
		`g.yaml:8: alerts[0].labels.team: label team is not a valid template: unclosed action`,
		`g.yaml:12: alerts[0].annotations.note: annotation note is not a valid template: unexpected {{end}}`,
		`g.yaml:13: alerts[0].annotations.wiki: annotation wiki is not a valid template: function "nofunc" not defined`,
		`g.yaml:14: alerts[0].annotations.long: annotation long is not a valid template: line 2 of the value: missing value for if`,
		`g.yaml:17: alerts[0].annotations.bad-name: "bad-name" is not a valid annotation name`,
		`write {{ "{{" }} for literal braces`,
	} {
		require.Contains(t, msg, want)
	}
	require.NotContains(t, msg, "owner")
	require.NotContains(t, msg, "summary")
	require.Equal(t, 5, strings.Count(msg, "g.yaml:"), msg)
}

// TestPromTemplateError agrees with Prometheus's own rule parser on what
// parses.
func TestPromTemplateError(t *testing.T) {
	require.NoError(t, spec.PromTemplateError(`{{ $value | humanizePercentage }} {{ $labels.pod }} {{ $externalURL }} {{ query "up" | first | value }}`))
	require.NoError(t, spec.PromTemplateError(spec.Literal("{{ broken")))
	require.EqualError(t, spec.PromTemplateError("{{ broken"), `function "broken" not defined`)
	require.EqualError(t, spec.PromTemplateError("{{ .X"), "unclosed action")
}

package render

import (
	"strings"

	"github.com/gatewatch/gatewatch/internal/spec"
)

// Message templates for Alertmanager's slack_configs / mattermost_configs.
// They give the layout gatewatch's own notifier (internal/mattermost) builds,
// and a test renders both for the same alerts and compares them. They are
// the runbook's templates, corrected for Mattermost:
//   - Mattermost Markdown (**bold**), not Slack mrkdwn (*bold* is not bold
//     in Mattermost and mrkdwn_in is ignored);
//   - the labels come from the alerts, which keep namespace, gateway and pod
//     (the runbook's sum() dropped them, so *Namespace:* was always empty).

// titleTemplate is the attachment title.
const titleTemplate = `[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }} — {{ .CommonLabels.gateway }} ({{ .CommonLabels.namespace }})`

// titleLinkTemplate links the title to the first alert's graph.
const titleLinkTemplate = `{{ (index .Alerts 0).GeneratorURL }}`

// colorTemplate picks the attachment color from state and severity.
const colorTemplate = `{{ if eq .Status "resolved" }}good{{ else if eq .CommonLabels.severity "critical" }}danger{{ else }}warning{{ end }}`

// bodyTemplate is the attachment text: one entry per alert with its links,
// then a silence link for the group.
const bodyTemplate = `{{ range .Alerts -}}
- {{ if eq .Status "resolved" }}~~{{ .Annotations.summary }}~~ (resolved){{ else }}**{{ .Annotations.summary }}**{{ end }}{{ with .Labels.pod }} · pod ` + "`{{ . }}`" + `{{ end }}
  {{ .Annotations.description }}
  {{ with .GeneratorURL }}[Graph]({{ . }}){{ end }}{{ if and .GeneratorURL .Annotations.runbook_url }} · {{ end }}{{ with .Annotations.runbook_url }}[Runbook]({{ . }}){{ end }}
{{ end }}{{ if .ExternalURL }}[Silence](` + silenceURLTemplate + `){{ end }}`

// silenceURLTemplate opens Alertmanager's new-silence form for the group's
// common labels (alertname last), as Alertmanager's UI links do.
const silenceURLTemplate = `{{ .ExternalURL }}/#/silences/new?filter=%7B{{ range .CommonLabels.SortedPairs }}{{ if ne .Name "alertname" }}{{ .Name }}%3D%22{{ .Value | urlquery }}%22%2C%20{{ end }}{{ end }}alertname%3D%22{{ .CommonLabels.alertname | urlquery }}%22%7D`

// mentionTemplate is the mention for critical firing groups; %s is the
// spec's mention_critical.
const mentionTemplate = `{{ if and (eq .Status "firing") (eq .CommonLabels.severity "critical") }}%s{{ end }}`

// mentionFor returns the mention template, or "" without a mention. The
// mention is literal text (spec.Literal): a "{{ end }}" in it is printed
// inside the guard, never closes it.
func mentionFor(m spec.Mattermost) string {
	if m.MentionCritical == "" {
		return ""
	}
	return strings.Replace(mentionTemplate, "%s", spec.Literal(m.MentionCritical), 1)
}

// poster is how the messages are posted: the spec's channel, username and
// icons and the mention template, as the Alertmanager template text
// mattermost_configs and slack_configs take (each field is a template
// there). The spec's values are literal text (spec.Literal).
type poster struct {
	Channel, Username, IconURL, IconEmoji string
	// Mention is mentionFor's template ("" without mention_critical).
	Mention string
}

func posterOf(m spec.Mattermost) poster {
	return poster{
		Channel:   spec.Literal(m.Channel),
		Username:  spec.Literal(m.Username),
		IconURL:   spec.Literal(m.IconURL),
		IconEmoji: spec.Literal(m.IconEmoji),
		Mention:   mentionFor(m),
	}
}

// FieldTemplate is one attachment field.
type FieldTemplate struct{ Title, Value string }

// fieldTemplates are the attachment fields (all short).
func fieldTemplates() []FieldTemplate {
	return []FieldTemplate{
		{"Severity", `{{ .CommonLabels.severity }}`},
		{"Gateway", `{{ .CommonLabels.gateway }}`},
		{"Namespace", `{{ .CommonLabels.namespace }}`},
		{"Pods", `{{ range $i, $a := .Alerts }}{{ if $i }}, {{ end }}{{ or $a.Labels.pod $a.Labels.instance $a.Labels.gateway }}{{ end }}`},
		{`{{ or .CommonAnnotations.count_name "Count" }} in window`, `{{ if .CommonAnnotations.count }}{{ .CommonAnnotations.count }}{{ else }}{{ range $i, $a := .Alerts }}{{ if $i }} + {{ end }}{{ or $a.Annotations.count "?" }}{{ end }}{{ end }}`},
		{"Window", `{{ or .CommonAnnotations.window "?" }}`},
	}
}

// cardTemplate is props.card: every alert with every label, shown when the
// post is opened, so the channel line stays short.
const cardTemplate = `{{ range .Alerts -}}
#### {{ .Annotations.summary }} ({{ .Status }})
{{ .Annotations.description }}

Started {{ .StartsAt.UTC.Format "2006-01-02 15:04:05 UTC" }}{{ if eq .Status "resolved" }}, resolved {{ .EndsAt.UTC.Format "2006-01-02 15:04:05 UTC" }}{{ end }}

| Label | Value |
|---|---|
{{ range .Labels.SortedPairs }}| {{ .Name }} | {{ .Value }} |
{{ end }}
{{ end }}`

// MessageTemplates are the Alertmanager templates of the message, as render
// writes them into slack_configs and mattermost_configs.
type MessageTemplates struct {
	Title, TitleLink, Color, Body, Card, Footer string
	// Mention is the message text: the mention for critical firing groups
	// ("" without mention_critical).
	Mention string
	Fields  []FieldTemplate
}

// Templates returns the message templates for m, so that a test can render
// them with Alertmanager's template package beside gatewatch's own message
// builder (internal/mattermost) and compare.
func Templates(m spec.Mattermost) MessageTemplates {
	return MessageTemplates{
		Title: titleTemplate, TitleLink: titleLinkTemplate, Color: colorTemplate, Body: bodyTemplate,
		Card: cardTemplate, Footer: footerTemplate, Mention: mentionFor(m), Fields: fieldTemplates(),
	}
}

package render

import (
	"strings"

	"github.com/gatewatch/gatewatch/internal/spec"
)

// Message templates for Alertmanager's slack_configs / mattermost_configs.
// They are the runbook's templates, corrected for Mattermost:
//   - Mattermost Markdown (**bold**), not Slack mrkdwn (*bold* is not bold
//     in Mattermost and mrkdwn_in is ignored);
//   - the labels come from the alerts, which keep namespace, gateway and pod
//     (the runbook's sum() dropped them, so *Namespace:* was always empty).

// TitleTemplate is the message title.
const TitleTemplate = `[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }} — {{ .CommonLabels.gateway }} ({{ .CommonLabels.namespace }})`

// ColorTemplate picks the attachment color from state and severity.
const ColorTemplate = `{{ if eq .Status "resolved" }}good{{ else if eq .CommonLabels.severity "critical" }}danger{{ else }}warning{{ end }}`

// textTemplate is the message body; %s is the mention for critical alerts.
const textTemplate = `{{ if and (eq .Status "firing") (eq .CommonLabels.severity "critical") }}%s {{ end }}**Severity:** {{ .CommonLabels.severity }} · **Gateway:** {{ .CommonLabels.gateway }} · **Namespace:** {{ .CommonLabels.namespace }}
{{ range .Alerts -}}
- {{ if eq .Status "resolved" }}~~{{ .Annotations.summary }}~~ (resolved){{ else }}**{{ .Annotations.summary }}**{{ end }}{{ with .Labels.pod }} · pod ` + "`{{ . }}`" + `{{ end }}
  {{ .Annotations.description }}
  {{ with .Annotations.runbook_url }}[Runbook]({{ . }}) · {{ end }}[Graph]({{ .GeneratorURL }})
{{ end }}`

// mentionPrefix is the part of textTemplate that mentions on critical alerts.
const mentionPrefix = `{{ if and (eq .Status "firing") (eq .CommonLabels.severity "critical") }}%s {{ end }}`

// TextTemplate returns the body template with the spec's critical mention.
func TextTemplate(m spec.Mattermost) string {
	if m.MentionCritical == "" {
		return strings.TrimPrefix(textTemplate, mentionPrefix)
	}
	return strings.Replace(textTemplate, "%s", m.MentionCritical, 1)
}

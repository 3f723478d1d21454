package render

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/gatewatch/gatewatch/internal/spec"
)

// amConfig is the part of alertmanager.yml gatewatch writes. Field order is
// the order Alertmanager documents.
type amConfig struct {
	Route     amRoute      `json:"route"`
	Receivers []amReceiver `json:"receivers"`
}

type amRoute struct {
	Receiver       string    `json:"receiver"`
	GroupBy        []string  `json:"group_by,omitempty"`
	Continue       bool      `json:"continue,omitempty"`
	Matchers       []string  `json:"matchers,omitempty"`
	GroupWait      string    `json:"group_wait,omitempty"`
	GroupInterval  string    `json:"group_interval,omitempty"`
	RepeatInterval string    `json:"repeat_interval,omitempty"`
	Routes         []amRoute `json:"routes,omitempty"`
}

type amReceiver struct {
	Name              string         `json:"name"`
	SlackConfigs      []amSlack      `json:"slack_configs,omitempty"`
	MattermostConfigs []amMattermost `json:"mattermost_configs,omitempty"`
	WebhookConfigs    []amWebhook    `json:"webhook_configs,omitempty"`
}

// amWebhook is a webhook_configs entry: Alertmanager's payload version 4,
// which gatewatch bridge reads. max_alerts 0 sends every alert of the
// group (the bridge counts what Alertmanager cut when it is set).
type amWebhook struct {
	SendResolved bool   `json:"send_resolved"`
	URL          string `json:"url"`
	MaxAlerts    int    `json:"max_alerts"`
}

type amField struct {
	Title string `json:"title"`
	Value string `json:"value"`
	Short bool   `json:"short"`
}

// amSlack is a slack_configs entry: Mattermost's Slack-compatible webhook.
// Slack configs have no top-level message text, so the critical mention goes
// into the attachment pretext.
type amSlack struct {
	SendResolved bool      `json:"send_resolved"`
	APIURLFile   string    `json:"api_url_file"`
	Channel      string    `json:"channel,omitempty"`
	Username     string    `json:"username,omitempty"`
	IconURL      string    `json:"icon_url,omitempty"`
	IconEmoji    string    `json:"icon_emoji,omitempty"`
	Color        string    `json:"color"`
	Pretext      string    `json:"pretext,omitempty"`
	Title        string    `json:"title"`
	TitleLink    string    `json:"title_link"`
	Text         string    `json:"text"`
	Fields       []amField `json:"fields"`
	Footer       string    `json:"footer"`
}

type amAttachment struct {
	Fallback  string    `json:"fallback"`
	Color     string    `json:"color"`
	Title     string    `json:"title"`
	TitleLink string    `json:"title_link"`
	Text      string    `json:"text"`
	Fields    []amField `json:"fields"`
	Footer    string    `json:"footer"`
}

// amMattermost is a mattermost_configs entry (Alertmanager >= 0.30).
type amMattermost struct {
	SendResolved   bool           `json:"send_resolved"`
	WebhookURLFile string         `json:"webhook_url_file"`
	Channel        string         `json:"channel,omitempty"`
	Username       string         `json:"username,omitempty"`
	IconURL        string         `json:"icon_url,omitempty"`
	IconEmoji      string         `json:"icon_emoji,omitempty"`
	Text           string         `json:"text,omitempty"`
	Attachments    []amAttachment `json:"attachments"`
	Props          struct {
		Card string `json:"card"`
	} `json:"props"`
	Priority *amPriority `json:"priority,omitempty"`
}

type amPriority struct {
	Priority string `json:"priority"`
}

// ReceiverName is the Alertmanager receiver that posts to Mattermost.
const ReceiverName = "mattermost"

// SecretMountPath is where Alertmanager finds the webhook URL: the path the
// prometheus-operator mounts spec.secrets at (/etc/alertmanager/secrets/NAME/KEY).
func SecretMountPath(s *spec.Spec) string {
	return path.Join("/etc/alertmanager/secrets", s.Cluster.Alertmanager.SecretName, spec.SecretKey)
}

// alertnameMatcher matches the alerts routed to Mattermost.
func alertnameMatcher(names []string) string {
	if len(names) == 1 {
		return fmt.Sprintf("alertname=%q", names[0])
	}
	return fmt.Sprintf("alertname=~%q", joinAlternatives(names))
}

// joinAlternatives makes a regex matching exactly the given names.
func joinAlternatives(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = regexp.QuoteMeta(n)
	}
	return strings.Join(quoted, "|")
}

// ReceiverCritical is the receiver for critical alerts when Alertmanager
// has mattermost_configs: it posts with priority "important". It is a
// separate receiver because the priority key cannot be templated away (an
// empty priority.priority is a 400 from Mattermost).
const ReceiverCritical = "mattermost-critical"

// footerTemplate names the sender of Alertmanager-delivered messages.
const footerTemplate = `Sent by Alertmanager{{ with .ExternalURL }} · {{ . }}{{ end }}`

func fieldsFor() []amField {
	var out []amField
	for _, f := range fieldTemplates() {
		out = append(out, amField{Title: f.Title, Value: f.Value, Short: true})
	}
	return out
}

// alertmanagerConfig builds alertmanager.yml: a "null" default receiver, the
// spec's alerts to Mattermost (a webhook to gatewatch bridge when it posts;
// else mattermost_configs on Alertmanager >= 0.30, slack_configs below), and
// Watchdog to "null".
func alertmanagerConfig(s *spec.Spec) amConfig {
	r := s.Routing
	mm := amRoute{
		Receiver:       ReceiverName,
		Matchers:       []string{alertnameMatcher(r.Alerts)},
		GroupBy:        r.GroupBy,
		GroupWait:      r.GroupWait.String(),
		GroupInterval:  r.GroupInterval.String(),
		RepeatInterval: r.RepeatInterval.String(),
	}
	m, p := s.Mattermost, posterOf(s.Mattermost)
	receivers := []amReceiver{{Name: "null"}}
	var routes []amRoute
	switch {
	case throughBridge(s):
		// The bridge posts gatewatch's own message (and, in bot mode, keeps
		// one post per group, which the resolve closes).
		routes = append(routes, mm)
		receivers = append(receivers, amReceiver{Name: ReceiverName, WebhookConfigs: []amWebhook{{
			SendResolved: m.ShouldSendResolved() || m.BotMode(), URL: BridgeURL(s),
		}}})
	case s.Cluster.MattermostNative():
		cfg := func(critical bool) amMattermost {
			c := amMattermost{
				SendResolved: m.ShouldSendResolved(), WebhookURLFile: SecretMountPath(s),
				Channel: p.Channel, Username: p.Username, IconURL: p.IconURL, IconEmoji: p.IconEmoji,
				Text: p.Mention,
				Attachments: []amAttachment{{
					Fallback: titleTemplate, Color: colorTemplate, Title: titleTemplate, TitleLink: titleLinkTemplate,
					Text: bodyTemplate, Fields: fieldsFor(), Footer: footerTemplate,
				}},
			}
			c.Props.Card = cardTemplate
			if critical {
				c.Priority = &amPriority{Priority: "important"}
			}
			return c
		}
		critical := mm
		critical.Receiver = ReceiverCritical
		critical.Matchers = []string{`severity="critical"`, alertnameMatcher(r.Alerts)}
		routes = append(routes, critical, mm)
		receivers = append(receivers,
			amReceiver{Name: ReceiverName, MattermostConfigs: []amMattermost{cfg(false)}},
			amReceiver{Name: ReceiverCritical, MattermostConfigs: []amMattermost{cfg(true)}})
	default:
		routes = append(routes, mm)
		receivers = append(receivers, amReceiver{Name: ReceiverName, SlackConfigs: []amSlack{{
			SendResolved: m.ShouldSendResolved(), APIURLFile: SecretMountPath(s),
			Channel: p.Channel, Username: p.Username, IconURL: p.IconURL, IconEmoji: p.IconEmoji,
			Color: colorTemplate, Pretext: p.Mention, Title: titleTemplate, TitleLink: titleLinkTemplate,
			Text: bodyTemplate, Fields: fieldsFor(), Footer: footerTemplate,
		}}})
	}
	if r.RoutesWatchdog() {
		routes = append(routes, amRoute{Receiver: "null", Matchers: []string{`alertname="Watchdog"`}})
	}
	return amConfig{
		Route:     amRoute{Receiver: r.DefaultReceiver, GroupBy: r.GroupBy, Routes: routes},
		Receivers: receivers,
	}
}

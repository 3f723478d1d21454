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
	SlackConfigs      []amChatConfig `json:"slack_configs,omitempty"`
	MattermostConfigs []amChatConfig `json:"mattermost_configs,omitempty"`
}

// amChatConfig is a slack_configs or mattermost_configs entry: the same
// fields, except the name of the URL file key.
type amChatConfig struct {
	SendResolved   bool   `json:"send_resolved"`
	APIURLFile     string `json:"api_url_file,omitempty"`     // slack_configs
	WebhookURLFile string `json:"webhook_url_file,omitempty"` // mattermost_configs
	Channel        string `json:"channel,omitempty"`
	Username       string `json:"username,omitempty"`
	IconURL        string `json:"icon_url,omitempty"`
	IconEmoji      string `json:"icon_emoji,omitempty"`
	Color          string `json:"color"`
	Title          string `json:"title"`
	Text           string `json:"text"`
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

// alertmanagerConfig builds alertmanager.yml: a "null" default receiver, the
// spec's alerts to Mattermost (mattermost_configs on Alertmanager >= 0.30,
// slack_configs below), and Watchdog to "null".
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
	routes := []amRoute{mm}
	if r.RoutesWatchdog() {
		routes = append(routes, amRoute{Receiver: "null", Matchers: []string{`alertname="Watchdog"`}})
	}
	m := s.Mattermost
	chat := amChatConfig{
		SendResolved: m.ShouldSendResolved(),
		Channel:      m.Channel, Username: m.Username, IconURL: m.IconURL, IconEmoji: m.IconEmoji,
		Color: ColorTemplate, Title: TitleTemplate, Text: TextTemplate(m),
	}
	recv := amReceiver{Name: ReceiverName}
	if s.Cluster.MattermostNative() {
		chat.WebhookURLFile = SecretMountPath(s)
		recv.MattermostConfigs = []amChatConfig{chat}
	} else {
		chat.APIURLFile = SecretMountPath(s)
		recv.SlackConfigs = []amChatConfig{chat}
	}
	return amConfig{
		Route:     amRoute{Receiver: r.DefaultReceiver, GroupBy: r.GroupBy, Routes: routes},
		Receivers: []amReceiver{{Name: "null"}, recv},
	}
}

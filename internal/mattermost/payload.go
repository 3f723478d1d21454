// Package mattermost builds Mattermost messages from Alertmanager alert
// groups and delivers them to an incoming webhook: Mattermost Markdown, size
// limits, retries with backoff, and a webhook URL that never appears in logs
// or errors. The Notifier plugs into Alertmanager's notification pipeline.
package mattermost

// Payload is an incoming-webhook request body
// (https://developers.mattermost.com/integrate/webhooks/incoming/).
type Payload struct {
	Text        string       `json:"text,omitempty"`
	Channel     string       `json:"channel,omitempty"`
	Username    string       `json:"username,omitempty"`
	IconURL     string       `json:"icon_url,omitempty"`
	IconEmoji   string       `json:"icon_emoji,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"`
	Type        string       `json:"type,omitempty"`
	Props       *Props       `json:"props,omitempty"`
	Priority    *Priority    `json:"priority,omitempty"`
}

// Attachment is a Slack-compatible message attachment.
type Attachment struct {
	Fallback   string  `json:"fallback,omitempty"`
	Color      string  `json:"color,omitempty"`
	Pretext    string  `json:"pretext,omitempty"`
	AuthorName string  `json:"author_name,omitempty"`
	AuthorLink string  `json:"author_link,omitempty"`
	AuthorIcon string  `json:"author_icon,omitempty"`
	Title      string  `json:"title,omitempty"`
	TitleLink  string  `json:"title_link,omitempty"`
	Text       string  `json:"text,omitempty"`
	Fields     []Field `json:"fields,omitempty"`
	ImageURL   string  `json:"image_url,omitempty"`
	ThumbURL   string  `json:"thumb_url,omitempty"`
	Footer     string  `json:"footer,omitempty"`
	FooterIcon string  `json:"footer_icon,omitempty"`
	// Actions are buttons (bot mode only: a webhook's buttons would have
	// no signed context).
	Actions []Action `json:"actions,omitempty"`
}

// Field is one attachment field.
type Field struct {
	Title string `json:"title"`
	Value string `json:"value"`
	Short bool   `json:"short"`
}

// Props are post properties; card is shown in the post's detail view.
type Props struct {
	Card string `json:"card,omitempty"`
}

// Priority marks a post important or urgent (Mattermost message priority).
type Priority struct {
	Priority     string `json:"priority"`
	RequestedAck bool   `json:"requested_ack,omitempty"`
}

// Limits Mattermost enforces.
const (
	// MaxRunes is the longest message text Mattermost keeps in one post;
	// longer text is split into several posts.
	MaxRunes = 16383
	// MaxBody is the largest request body gatewatch sends.
	MaxBody = 128 << 10
)

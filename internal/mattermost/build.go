package mattermost

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/alertmanager/template"

	"github.com/gatewatch/gatewatch/internal/spec"
)

// Options are the message settings from the spec.
type Options struct {
	Channel, Username, IconURL, IconEmoji string
	// MentionCritical (e.g. "@here") is the message text of critical firing groups.
	MentionCritical string
	// Footer names the sender, e.g. "Sent by gatewatch".
	Footer string
}

// OptionsFor are the spec's message settings, signed with footer.
func OptionsFor(m spec.Mattermost, footer string) Options {
	return Options{Channel: m.Channel, Username: m.Username, IconURL: m.IconURL, IconEmoji: m.IconEmoji, MentionCritical: m.MentionCritical, Footer: footer}
}

// Build turns an alert group into a Mattermost post. The layout is the one
// render's Alertmanager templates produce (a test renders both and compares):
// a title with state and count, colour by state and severity, fields for
// gateway, namespace, pods, count and window, one entry per alert with its
// links, and props.card holding every alert with every label. A group too
// large for Mattermost's limits lists fewer alerts and says "and N more".
func Build(d *template.Data, o Options) Payload { return BuildWith(d, o, Extras{}) }

// Enrichment is the port through which an analysis (gatewatch explain,
// through internal/explain/enrich) adds to a 421 message: one short line
// under the alerts and a section at the end of the card.
type Enrichment struct {
	// Line is the one-line verdict, e.g. "Why: shop.example.com → api.example.com
	// (12×, Lua filter): the *.example.com certificate lets browsers reuse …".
	Line string
	// Card is markdown (top pairs, verdict, fix) for props.card.
	Card string
}

// Extras are what a message carries besides its alert group.
type Extras struct {
	// Note is a line under the alerts, before the enrichment's line, e.g.
	// the bridge's "… and 3 more alerts Alertmanager did not send".
	Note string
	// Enrichment is the explanation; nil for none.
	Enrichment *Enrichment
}

// Limits of the note and enrichment inside a message, well within
// Mattermost's.
const (
	maxEnrichLine = 400
	maxEnrichCard = 6000
)

// BuildWith is Build with extras. The note and the enrichment's line share
// one line limit, the card section has its own; if the message is still too
// large with every alert shown, alerts are listed fewer as in Build, and as
// a last resort the enrichment's card section is dropped (the line stays).
func BuildWith(d *template.Data, o Options, x Extras) Payload {
	e := x.Enrichment
	if x.Note != "" {
		if e == nil {
			e = &Enrichment{Line: x.Note}
		} else {
			e = &Enrichment{Line: x.Note + "\n" + e.Line, Card: e.Card}
		}
	}
	if e != nil {
		e = &Enrichment{Line: truncateRunes(strings.TrimSpace(e.Line), maxEnrichLine), Card: truncateRunes(strings.TrimSpace(e.Card), maxEnrichCard)}
	}
	n := len(d.Alerts)
	p := build(d, o, n, e)
	for n > 0 && !fits(p) {
		n = min(n-1, n*3/4)
		p = build(d, o, n, e)
	}
	if !fits(p) && e != nil && e.Card != "" {
		e = &Enrichment{Line: e.Line}
		n = len(d.Alerts)
		for p = build(d, o, n, e); n > 0 && !fits(p); p = build(d, o, n, e) {
			n = min(n-1, n*3/4)
		}
	}
	if !fits(p) {
		// Even one alert is too large (giant annotations): cut the texts.
		p.Attachments[0].Text = truncateRunes(p.Attachments[0].Text, MaxRunes/2)
		p.Props.Card = truncateRunes(p.Props.Card, MaxRunes/2)
	}
	return p
}

func fits(p Payload) bool {
	if utf8.RuneCountInString(p.Text) > MaxRunes || utf8.RuneCountInString(p.Attachments[0].Text) > MaxRunes ||
		(p.Props != nil && utf8.RuneCountInString(p.Props.Card) > MaxRunes) {
		return false
	}
	b, err := json.Marshal(p)
	return err == nil && len(b) < MaxBody
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// build lays out the post listing the first shown alerts.
func build(d *template.Data, o Options, shown int, e *Enrichment) Payload {
	title := Title(d)
	text, crd := body(d, shown), card(d, shown)
	if e != nil && e.Line != "" {
		text = strings.TrimRight(text, "\n") + "\n" + e.Line
	}
	if e != nil && e.Card != "" {
		crd += "\n---\n" + e.Card + "\n"
	}
	a := Attachment{
		Fallback: title,
		Color:    Color(d),
		Title:    title,
		Text:     text,
		Fields:   fields(d, shown),
		Footer:   o.Footer,
	}
	if len(d.Alerts) > 0 && d.Alerts[0].GeneratorURL != "" {
		a.TitleLink = d.Alerts[0].GeneratorURL
	}
	p := Payload{
		Channel: o.Channel, Username: o.Username, IconURL: o.IconURL, IconEmoji: o.IconEmoji,
		Attachments: []Attachment{a},
		Props:       &Props{Card: crd},
	}
	if critical(d) {
		p.Text = o.MentionCritical
		p.Priority = &Priority{Priority: "important"}
	}
	return p
}

func critical(d *template.Data) bool {
	return d.Status == "firing" && d.CommonLabels["severity"] == "critical"
}

// Title is "[FIRING:2] GatewayMisdirectedRequest421 — public-ingress (istio-ingress)".
func Title(d *template.Data) string {
	state := strings.ToUpper(d.Status)
	if d.Status == "firing" {
		state += fmt.Sprintf(":%d", len(d.Alerts.Firing()))
	}
	return fmt.Sprintf("[%s] %s — %s (%s)", state, d.CommonLabels["alertname"], d.CommonLabels["gateway"], d.CommonLabels["namespace"])
}

// Color is good when resolved, danger when critical, warning otherwise.
func Color(d *template.Data) string {
	switch {
	case d.Status == "resolved":
		return "good"
	case d.CommonLabels["severity"] == "critical":
		return "danger"
	default:
		return "warning"
	}
}

func body(d *template.Data, shown int) string {
	var b strings.Builder
	for _, a := range d.Alerts[:shown] {
		if a.Status == "resolved" {
			fmt.Fprintf(&b, "- ~~%s~~ (resolved)", a.Annotations["summary"])
		} else {
			fmt.Fprintf(&b, "- **%s**", a.Annotations["summary"])
		}
		if pod := a.Labels["pod"]; pod != "" {
			fmt.Fprintf(&b, " · pod `%s`", pod)
		}
		fmt.Fprintf(&b, "\n  %s\n  ", a.Annotations["description"])
		if a.GeneratorURL != "" {
			fmt.Fprintf(&b, "[Graph](%s)", a.GeneratorURL)
		}
		if rb := a.Annotations["runbook_url"]; rb != "" {
			if a.GeneratorURL != "" {
				b.WriteString(" · ")
			}
			fmt.Fprintf(&b, "[Runbook](%s)", rb)
		}
		b.WriteString("\n")
	}
	if more := len(d.Alerts) - shown; more > 0 {
		fmt.Fprintf(&b, "- … and %d more, not listed: the message would be over Mattermost's size limit\n", more)
	}
	if d.ExternalURL != "" {
		fmt.Fprintf(&b, "[Silence](%s)", silenceURL(d))
	}
	return b.String()
}

// silenceURL opens Alertmanager's new-silence form for the group.
func silenceURL(d *template.Data) string {
	var b strings.Builder
	b.WriteString(d.ExternalURL + "/#/silences/new?filter=%7B")
	for _, p := range d.CommonLabels.SortedPairs() {
		if p.Name != "alertname" {
			fmt.Fprintf(&b, "%s%%3D%%22%s%%22%%2C%%20", p.Name, url.QueryEscape(p.Value))
		}
	}
	fmt.Fprintf(&b, "alertname%%3D%%22%s%%22%%7D", url.QueryEscape(d.CommonLabels["alertname"]))
	return b.String()
}

func fields(d *template.Data, shown int) []Field {
	var pods, counts []string
	for _, a := range d.Alerts[:shown] {
		pods = append(pods, firstNonEmpty(a.Labels["pod"], a.Labels["instance"], a.Labels["gateway"]))
		counts = append(counts, firstNonEmpty(a.Annotations["count"], "?"))
	}
	if more := len(d.Alerts) - shown; more > 0 {
		pods = append(pods, fmt.Sprintf("… and %d more", more))
		counts = append(counts, "…")
	}
	count := d.CommonAnnotations["count"]
	if count == "" {
		count = strings.Join(counts, " + ")
	}
	return []Field{
		{Title: "Severity", Value: d.CommonLabels["severity"], Short: true},
		{Title: "Gateway", Value: d.CommonLabels["gateway"], Short: true},
		{Title: "Namespace", Value: d.CommonLabels["namespace"], Short: true},
		{Title: "Pods", Value: strings.Join(pods, ", "), Short: true},
		{Title: firstNonEmpty(d.CommonAnnotations["count_name"], "Count") + " in window", Value: count, Short: true},
		{Title: "Window", Value: firstNonEmpty(d.CommonAnnotations["window"], "?"), Short: true},
	}
}

func card(d *template.Data, shown int) string {
	var b strings.Builder
	for _, a := range d.Alerts[:shown] {
		fmt.Fprintf(&b, "#### %s (%s)\n%s\n\nStarted %s", a.Annotations["summary"], a.Status, a.Annotations["description"], a.StartsAt.UTC().Format("2006-01-02 15:04:05 UTC"))
		if a.Status == "resolved" {
			fmt.Fprintf(&b, ", resolved %s", a.EndsAt.UTC().Format("2006-01-02 15:04:05 UTC"))
		}
		b.WriteString("\n\n| Label | Value |\n|---|---|\n")
		for _, p := range a.Labels.SortedPairs() {
			fmt.Fprintf(&b, "| %s | %s |\n", p.Name, p.Value)
		}
		b.WriteString("\n")
	}
	if more := len(d.Alerts) - shown; more > 0 {
		fmt.Fprintf(&b, "… and %d more alerts not shown (message size limit).\n", more)
	}
	return b.String()
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

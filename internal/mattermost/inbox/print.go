package inbox

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// PrintPost prints an accepted post as text.
func PrintPost(w io.Writer, p Post) {
	fmt.Fprintf(w, "--- Mattermost post to ~%s by %s at %s", p.Channel, p.Username, p.Received.Format("15:04:05"))
	if p.Parts > 1 {
		fmt.Fprintf(w, " (part %d of %d)", p.Part, p.Parts)
	}
	if p.Priority != nil {
		fmt.Fprintf(w, " [priority %s]", p.Priority.Priority)
	}
	fmt.Fprintln(w)
	if p.Message != "" {
		fmt.Fprintln(w, p.Message)
	}
	printAttachments(w, "", p.Attachments, 0)
	fmt.Fprintln(w)
}

// printAttachments prints each attachment's title and colour, text (at most
// maxLines lines when maxLines > 0), fields and footer, each line after indent.
func printAttachments(w io.Writer, indent string, atts []Attachment, maxLines int) {
	for _, a := range atts {
		if a.Pretext != "" {
			fmt.Fprintf(w, "%s%s\n", indent, a.Pretext)
		}
		fmt.Fprintf(w, "%s| %s [%s]\n", indent, a.Title, a.Color)
		lines := strings.Split(strings.TrimRight(a.Text, "\n"), "\n")
		if maxLines > 0 && len(lines) > maxLines {
			lines = append(lines[:maxLines:maxLines], "…")
		}
		for _, l := range lines {
			fmt.Fprintf(w, "%s| %s\n", indent, l)
		}
		var fs []string
		for _, f := range a.Fields {
			fs = append(fs, f.Title+": "+f.Value)
		}
		if len(fs) > 0 {
			fmt.Fprintf(w, "%s| %s\n", indent, strings.Join(fs, " · "))
		}
		if a.Footer != "" {
			fmt.Fprintf(w, "%s| %s\n", indent, a.Footer)
		}
	}
}

// printButtons prints the post's buttons, if any.
func printButtons(w io.Writer, indent string, actions []Action) {
	if len(actions) == 0 {
		return
	}
	names := make([]string, len(actions))
	for i, a := range actions {
		names[i] = a.Name
	}
	fmt.Fprintf(w, "%s[buttons: %s]\n", indent, strings.Join(names, " · "))
}

// shorten cuts s to n runes.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

func clock(ms int64) string { return time.UnixMilli(ms).Format("15:04:05") }

// PrintEvent prints a REST API event (see Server.OnEvent) as text: a root
// post like PrintPost plus its id and buttons, a reply indented under its
// thread, an edit with the new content shortened, a deletion, an ephemeral
// post, a click with the integration's answer.
func PrintEvent(w io.Writer, e Event) {
	p := e.Post
	switch e.Kind {
	case "post":
		fmt.Fprintf(w, "--- Mattermost post %s to ~%s by %s at %s", p.ID, p.ChannelName, p.UserName, clock(p.CreateAt))
		if p.Priority != nil {
			fmt.Fprintf(w, " [priority %s]", p.Priority.Priority)
		}
		fmt.Fprintln(w)
		if p.Message != "" {
			fmt.Fprintln(w, p.Message)
		}
		printAttachments(w, "", p.Attachments, 0)
		printButtons(w, "", p.Actions)
		fmt.Fprintln(w)
	case "reply":
		fmt.Fprintf(w, "  ↳ reply in thread %s: %s by %s at %s\n", p.RootID, p.ID, p.UserName, clock(p.CreateAt))
		for _, l := range strings.Split(strings.TrimRight(p.Message, "\n"), "\n") {
			if l != "" {
				fmt.Fprintf(w, "    %s\n", l)
			}
		}
		printAttachments(w, "    ", p.Attachments, 0)
		printButtons(w, "    ", p.Actions)
		fmt.Fprintln(w)
	case "edit":
		fmt.Fprintf(w, "--- post %s edited by %s at %s\n", p.ID, e.UserName, clock(p.UpdateAt))
		if p.Message != "" {
			fmt.Fprintln(w, shorten(p.Message, 200))
		}
		printAttachments(w, "", p.Attachments, 3)
		printButtons(w, "", p.Actions)
		if len(p.Actions) == 0 && e.Before != nil && len(e.Before.Actions) > 0 {
			fmt.Fprintln(w, "[buttons removed]")
		}
		fmt.Fprintln(w)
	case "delete":
		by := "someone"
		if e.UserName != "" {
			by = "@" + e.UserName
		}
		fmt.Fprintf(w, "--- post %s deleted by %s\n\n", p.ID, by)
	case "ephemeral":
		fmt.Fprintf(w, "(only visible to @%s) %s\n\n", e.UserName, e.Text)
	case "click":
		answer := "unreachable"
		if e.Status != 0 {
			answer = fmt.Sprint(e.Status)
		}
		fmt.Fprintf(w, "@%s clicked %s on %s → %s\n", e.UserName, e.Text, p.ID, answer)
	default:
		fmt.Fprintf(w, "--- %s on post %s\n", e.Kind, p.ID)
	}
}

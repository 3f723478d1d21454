package inbox

import (
	"fmt"
	"io"
	"strings"
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
	for _, a := range p.Attachments {
		fmt.Fprintf(w, "| %s [%s]\n", a.Title, a.Color)
		for _, l := range strings.Split(strings.TrimRight(a.Text, "\n"), "\n") {
			fmt.Fprintf(w, "| %s\n", l)
		}
		var fs []string
		for _, f := range a.Fields {
			fs = append(fs, f.Title+": "+f.Value)
		}
		if len(fs) > 0 {
			fmt.Fprintf(w, "| %s\n", strings.Join(fs, " · "))
		}
		if a.Footer != "" {
			fmt.Fprintf(w, "| %s\n", a.Footer)
		}
	}
	fmt.Fprintln(w)
}

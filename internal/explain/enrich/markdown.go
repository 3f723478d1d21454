package enrich

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/gatewatch/gatewatch/internal/explain"
	"github.com/gatewatch/gatewatch/internal/explain/accesslog"
	"github.com/gatewatch/gatewatch/internal/mattermost"
)

// Markdown condenses a report into a message line and a card section;
// nil when the report has no verdict.
func Markdown(r *explain.Report, top int) *mattermost.Enrichment {
	if r.Verdict == nil {
		return nil
	}
	clean := cleaner(r)
	var line string
	if len(r.Findings) > 0 {
		f := r.Findings[0]
		line = fmt.Sprintf("**Why:** `%s` → `%s` ×%d (%s)", safeHost(f.SNI), safeHost(f.Authority), f.Count, clean(shortProducer(f.Pair)))
		if f.WebKit > 0 {
			line += fmt.Sprintf(", %d Safari/WebKit", f.WebKit)
		}
		line += ": "
	} else {
		line = "**Why (from the configuration):** "
	}
	line += clean(r.Verdict.Short) + "."
	if len(r.Verdict.Fixes) > 0 {
		line += " **Fix:** " + clean(gist(r.Verdict.Fixes[0].Text)) + "."
	}

	var b strings.Builder
	b.WriteString("#### Why: gatewatch explain\n")
	if len(r.Findings) > 0 {
		b.WriteString("| SNI | :authority | 421s | answered by | Safari/WebKit | verdict |\n|---|---|---|---|---|---|\n")
		for i, f := range r.Findings {
			if i == top {
				break
			}
			fmt.Fprintf(&b, "| `%s` | `%s` | %d | %s | %d | %s |\n", safeHost(f.SNI), safeHost(f.Authority), f.Count, clean(shortProducer(f.Pair)), f.WebKit, f.Verdict.Cause)
		}
		if n := len(r.Logs.Pairs) - min(top, len(r.Findings)); n > 0 {
			fmt.Fprintf(&b, "\n… and %d more pairs.\n", n)
		}
	}
	fmt.Fprintf(&b, "\n%s\n\n**Fixes, best first:**\n", clean(r.Verdict.Summary))
	for i, f := range r.Verdict.Fixes {
		fmt.Fprintf(&b, "%d. %s\n", i+1, clean(f.Text))
	}
	b.WriteString("\nRun `gatewatch explain` for the full analysis.")
	return &mattermost.Enrichment{Line: line, Card: b.String()}
}

func shortProducer(p accesslog.Pair) string {
	switch pc := explain.DominantProducer(p); pc.Producer {
	case accesslog.ProducerEnvoyFilter:
		return "Lua filter"
	case accesslog.ProducerApplication:
		return "application"
	case accesslog.ProducerOther:
		return "Envoy: " + pc.Detail
	}
	return "unknown"
}

// gist is a fix without its explanation (the card has it whole).
func gist(s string) string {
	for _, cut := range []string{" (", ", so ", ": "} {
		if i := strings.Index(s, cut); i > 0 {
			s = s[:i]
		}
	}
	return s
}

// hostRE is what a host name (or IP literal) in a log may look like; the
// SNI and :authority are the client's to choose, so anything else is not
// put into a message as it is.
var hostRE = regexp.MustCompile(`^[A-Za-z0-9*._:\[\]-]{1,253}$`)

// safeHost is a host fit for a Mattermost message.
func safeHost(h string) string {
	switch {
	case h == "":
		return "-"
	case hostRE.MatchString(h):
		return h
	}
	return "(invalid host)"
}

// cleaner returns what makes verdict texts fit for a message: the hosts
// that are not host names are replaced (verdicts quote them), then
// sanitize.
func cleaner(r *explain.Report) func(string) string {
	var bad []string
	for _, f := range r.Findings {
		for _, h := range []string{f.SNI, f.Authority} {
			if h != "" && safeHost(h) != h {
				bad = append(bad, h)
			}
		}
	}
	// Longest first: a bad host inside another is replaced after it.
	slices.SortFunc(bad, func(a, b string) int { return len(b) - len(a) })
	return func(s string) string {
		for _, h := range bad {
			s = strings.ReplaceAll(s, h, "(invalid host)")
		}
		return sanitize(s)
	}
}

// sanitize keeps text from acting as markdown in a message: no links (nor
// bare URLs Mattermost would link), mentions, code spans, table cells or
// line breaks. Square brackets stay as they are — the terminal's wording
// ("servers[0]") is the message's — but never touch a following "(" or
// "[", so they open no link, image or reference.
func sanitize(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	return strings.NewReplacer("`", "'", "|", "/", "@", "(at)", "://", ":\u2044\u2044", "www.", "www\u200b.",
		"](", "] (", "][", "] [").Replace(s)
}

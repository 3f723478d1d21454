package explain

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/common/model"

	"github.com/gatewatch/gatewatch/internal/explain/accesslog"
	"github.com/gatewatch/gatewatch/internal/explain/gwconfig"
	"github.com/gatewatch/gatewatch/internal/mattermost"
)

// Enricher attaches the analysis to 421 alert messages (the embedded
// engine's notifier and `gatewatch bridge`).
type Enricher struct {
	// Alerts are the names of the 421 alerts; other groups are left alone.
	Alerts map[string]bool
	// Logs and Config are the sources; Logs may be scoped per gateway.
	Logs   func(gateway string) LogSource
	Config ConfigSource
	Format *accesslog.Format
	// Since is used when the alert has no window annotation (default 15m).
	Since time.Duration
	// Now is the clock (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
	// Top is how many pairs the card lists (default 3).
	Top int
	// ConfigTTL is how long a configuration read is reused (default 1m):
	// a burst of notifications reads the cluster once.
	ConfigTTL time.Duration

	busy   chan struct{} // one enrichment at a time
	once   sync.Once
	mu     sync.Mutex
	cached *cachedConfig
}

type cachedConfig struct {
	c        *gwconfig.Config
	warnings []string
	at       time.Time
}

// Config serves the wrapped source's configuration from the cache.
func (c *cachedSource) Config(ctx context.Context, warn func(string)) (*gwconfig.Config, error) {
	e := c.e
	ttl := e.ConfigTTL
	if ttl <= 0 {
		ttl = time.Minute
	}
	e.mu.Lock()
	hit := e.cached
	e.mu.Unlock()
	if hit != nil && c.now.Sub(hit.at) < ttl {
		for _, w := range hit.warnings {
			warn(w)
		}
		return hit.c, nil
	}
	var ws []string
	cfg, err := e.Config.Config(ctx, func(w string) { ws = append(ws, w); warn(w) })
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.cached = &cachedConfig{c: cfg, warnings: ws, at: c.now}
	e.mu.Unlock()
	return cfg, nil
}

type cachedSource struct {
	e   *Enricher
	now time.Time
}

func (c *cachedSource) String() string { return c.e.Config.String() }

// Enrich is a mattermost.EnrichFunc: for a firing 421 group, the top
// pairs and the verdict; nil for anything else or when there is nothing to
// say. It honours ctx (the notifier's timeout).
func (e *Enricher) Enrich(ctx context.Context, d *template.Data) *mattermost.Enrichment {
	if d.Status != "firing" || !e.Alerts[d.CommonLabels["alertname"]] {
		return nil
	}
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	since := e.Since
	if since == 0 {
		since = 15 * time.Minute
	}
	if w, err := model.ParseDuration(d.CommonAnnotations["window"]); err == nil && w > 0 {
		since = time.Duration(w) + time.Minute // the window, plus scrape and evaluation delay
	}
	top := e.Top
	if top <= 0 {
		top = 3
	}
	// One at a time: while one still runs (a slow API server), the next
	// message goes out without enrichment rather than piling up readers.
	e.once.Do(func() { e.busy = make(chan struct{}, 1) })
	select {
	case e.busy <- struct{}{}:
		defer func() { <-e.busy }()
	default:
		if e.Logger != nil {
			e.Logger.Warn("explain still busy with an earlier message; this one is sent without it")
		}
		return nil
	}
	// Reading stops at three quarters of the budget, leaving the rest to
	// analyse what was read.
	if dl, ok := ctx.Deadline(); ok {
		readCtx, cancel := context.WithTimeout(ctx, time.Until(dl)*3/4)
		defer cancel()
		ctx = readCtx
	}
	t := now()
	o := Options{Format: e.Format, Since: since, Now: t, Top: top}
	if e.Config != nil {
		o.Config = &cachedSource{e: e, now: t}
	}
	if e.Logs != nil {
		o.Logs = e.Logs(d.CommonLabels["gateway"])
	}
	r, err := Run(ctx, o)
	if err != nil {
		if e.Logger != nil {
			e.Logger.Warn("explain failed; message sent without it", "err", err)
		}
		return nil
	}
	return Enrichment(r, top)
}

// Enrichment condenses a report into a message line and a card section;
// nil when the report has no verdict.
func Enrichment(r *Report, top int) *mattermost.Enrichment {
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
	} else {
		line = "**Why (from the configuration):**"
	}
	line += ": " + clean(r.Verdict.Short) + "."
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
	switch pc := dominantProducer(p); pc.Producer {
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
func cleaner(r *Report) func(string) string {
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
// line breaks.
func sanitize(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	return strings.NewReplacer("`", "'", "[", "(", "]", ")", "|", "/", "@", "(at)", "://", ":\u2044\u2044", "www.", "www\u200b.").Replace(s)
}

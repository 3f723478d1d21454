package enrich

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/demo/fixtures"
	"github.com/gatewatch/gatewatch/internal/explain"
	"github.com/gatewatch/gatewatch/internal/explain/gwconfig"
	"github.com/gatewatch/gatewatch/internal/mattermost"
)

var now = time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC)

// A client chooses its SNI and :authority: they reach the message only as
// host names, never as markdown.
func TestEnrichmentNeutralisesClientText(t *testing.T) {
	evil := "api.example.com`](https://evil.example/x) @channel |\r\r# big"
	mem := explain.NewMemoryLogs(1 << 20)
	_, _ = mem.Write([]byte(fixtures.AccessLog(now, 2, "lua_response", fixtures.Safari, evil, "shop.example.com", "json")))
	e := &Enricher{Alerts: map[string]bool{"A": true}, Logs: func(string) explain.LogSource { return mem }, Now: func() time.Time { return now }}
	got := e.Enrich(context.Background(), &template.Data{Status: "firing", CommonLabels: template.KV{"alertname": "A"}})
	require.NotNil(t, got)
	for _, bad := range []string{"evil.example/x)", "@channel", "](https", "https://", "\r", "\n# big"} {
		require.NotContains(t, got.Line, bad)
		require.NotContains(t, got.Card, bad)
	}
	require.Contains(t, got.Line, "`shop.example.com` → `(invalid host)`")

	// A host-shaped SNI that is a URL (the regexp does not let it pass) and
	// one Mattermost would link.
	for _, sni := range []string{"https://evil.example/login:1", "www.evil.example"} {
		mem := explain.NewMemoryLogs(1 << 20)
		_, _ = mem.Write([]byte(fixtures.AccessLog(now, 2, "lua_response", fixtures.Safari, "api.example.com", sni, "json")))
		e := &Enricher{Alerts: map[string]bool{"A": true}, Logs: func(string) explain.LogSource { return mem }, Now: func() time.Time { return now }}
		got := e.Enrich(context.Background(), &template.Data{Status: "firing", CommonLabels: template.KV{"alertname": "A"}})
		require.NotNil(t, got)
		for _, text := range []string{got.Line, got.Card} {
			require.NotContains(t, text, "https://")
			require.NotRegexp(t, `(^|[^\x60])www\.evil`, text, "outside code spans, www. is broken")
		}
	}
}

// Out of time, the enrichment analyses what it read; a second message while
// one still runs goes out without enrichment instead of queueing.
func TestEnrichmentBudget(t *testing.T) {
	var sb strings.Builder
	for i := range 200000 {
		sb.WriteString(fixtures.TextLine(now.Add(-time.Minute+time.Duration(i)*time.Microsecond), 421, "lua_response", fixtures.Safari, "api.example.com", "shop.example.com", true))
	}
	slow := &slowLogs{text: sb.String(), started: make(chan struct{}, 1)}
	e := &Enricher{Alerts: map[string]bool{"A": true}, Logs: func(string) explain.LogSource { return slow }, Now: func() time.Time { return now }}
	d := &template.Data{Status: "firing", CommonLabels: template.KV{"alertname": "A"}}
	// Reading stops at 3 s (3/4 of the budget), with a few thousand lines
	// read, leaving 1 s to analyse them: it failed once with 0.5 s while
	// `make test` ran every package at once on 2 cores.
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	done := make(chan *mattermost.Enrichment, 1)
	go func() { done <- e.Enrich(ctx, d) }()
	<-slow.started
	require.Nil(t, e.Enrich(context.Background(), d), "busy: the second message is not held")
	got := <-done
	require.NotNil(t, got, "a partial analysis, not nothing")
	require.Contains(t, got.Line, "`shop.example.com` → `api.example.com`")
}

// slowLogs serves a log slowly (a far API server).
type slowLogs struct {
	text    string
	started chan struct{}
}

func (s *slowLogs) String() string { return "slow" }

func (s *slowLogs) Logs(context.Context, time.Duration, func(string)) (io.ReadCloser, error) {
	s.started <- struct{}{}
	return io.NopCloser(&slowReader{r: strings.NewReader(s.text)}), nil
}

type slowReader struct{ r io.Reader }

func (s *slowReader) Read(b []byte) (int, error) {
	time.Sleep(time.Millisecond)
	return s.r.Read(b[:min(len(b), 512)])
}

// sanitize keeps the terminal's wording (servers[0]) and breaks only what
// would make a link, a mention or a code span.
func TestSanitize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Gateway istio-ingress/shop servers[0] port 443", "Gateway istio-ingress/shop servers[0] port 443"},
		{"[click](https://evil.example/x)", "[click] (https:\u2044\u2044evil.example/x)"},
		{"![img](x) [ref][1] [a]]( b", "![img] (x) [ref] [1] [a]] ( b"},
		{"@channel `code` a|b\nnext", "(at)channel 'code' a/b next"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			require.Equal(t, tc.want, sanitize(tc.in))
		})
	}
}

// The line reads the same with and without logs: "**Why…:**" then the
// verdict, never "**:" twice nor brackets turned into parentheses.
func TestMarkdownLine(t *testing.T) {
	ref := gwconfig.ServerRef{Kind: "Gateway (networking.istio.io)", Gateway: "istio-ingress/shop", Index: 0, Port: 443}
	short := "browsers can coalesce: " + ref.String() + "'s certificate covers api.example.com"
	r := &explain.Report{Verdict: &explain.Verdict{Cause: "coalescing-possible", Short: short,
		Summary: "The certificate of " + ref.String() + " covers api.example.com.",
		Fixes:   []explain.Fix{{Code: "distinct-certificates", Text: "give " + ref.String() + " a certificate that does not cover api.example.com"}}}}
	got := Markdown(r, 3)
	require.NotNil(t, got)
	require.Equal(t, "**Why (from the configuration):** browsers can coalesce: Gateway istio-ingress/shop servers[0] port 443's certificate covers api.example.com. "+
		"**Fix:** give Gateway istio-ingress/shop servers[0] port 443 a certificate that does not cover api.example.com.", got.Line)
	require.Contains(t, got.Card, "The certificate of Gateway istio-ingress/shop servers[0] port 443 covers api.example.com.")
}

package mattermost

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

var sampleEnrichment = &Enrichment{
	Line: "**Why:** shop.example.com → api.example.com (12×, Lua filter): browsers reuse the *.example.com connection. Fix: distinct certificates per server.",
	Card: "#### Why: gatewatch explain\n| SNI | :authority | 421s |\n|---|---|---|\n| shop.example.com | api.example.com | 12 |\n",
}

func TestEnrichedMessageAcceptedByStrictServer(t *testing.T) {
	srv, url := startServer(t)
	c, _, _ := newClient(t, url)
	p := BuildWith(sampleData(2, "warning"), Options{Footer: "Sent by gatewatch"}, Extras{Enrichment: sampleEnrichment})
	require.True(t, strings.HasSuffix(p.Attachments[0].Text, sampleEnrichment.Line), p.Attachments[0].Text)
	require.Contains(t, p.Props.Card, "| shop.example.com | api.example.com | 12 |")
	_, err := c.Send(context.Background(), p)
	require.NoError(t, err)
	posts := srv.Posts()
	require.Len(t, posts, 1)
	require.Contains(t, posts[0].Attachments[0].Text, "**Why:** shop.example.com → api.example.com")
	require.Contains(t, posts[0].Props["card"], "Why: gatewatch explain")
}

func TestEnrichmentWithinLimits(t *testing.T) {
	srv, url := startServer(t)
	c, _, _ := newClient(t, url)
	huge := &Enrichment{Line: strings.Repeat("ミ", 5000), Card: strings.Repeat("| a | b |\n", 5000)}
	for _, n := range []int{1, 4000} {
		p := BuildWith(sampleData(n, "warning"), Options{}, Extras{Enrichment: huge})
		body, err := json.Marshal(p)
		require.NoError(t, err)
		require.Less(t, len(body), MaxBody)
		require.LessOrEqual(t, utf8.RuneCountInString(p.Attachments[0].Text), MaxRunes)
		require.LessOrEqual(t, utf8.RuneCountInString(p.Props.Card), MaxRunes)
		require.Contains(t, p.Attachments[0].Text, strings.Repeat("ミ", maxEnrichLine)+"…", "the line is cut to its own limit, not dropped")
		_, err = c.Send(context.Background(), p)
		require.NoError(t, err)
	}
	require.Len(t, srv.Posts(), 2)
}

// TestEnrichmentNeverBlocksTheAlert: a stuck enricher costs at most
// EnrichTimeout, a panicking one nothing; the message goes out either way.
func TestEnrichmentNeverBlocksTheAlert(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	for _, tc := range []struct {
		name   string
		enrich func(ctx context.Context, d *template.Data) *Enrichment
		want   string
	}{
		{"stuck", func(ctx context.Context, _ *template.Data) *Enrichment { <-ctx.Done(); <-release; return nil }, ""},
		{"panics", func(context.Context, *template.Data) *Enrichment { panic("boom") }, ""},
		{"answers", func(context.Context, *template.Data) *Enrichment { return sampleEnrichment }, "**Why:**"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, url := startServer(t)
			c, _, _ := newClient(t, url)
			n, err := NewNotifier(c, Options{}, nil, slog.New(slog.DiscardHandler))
			require.NoError(t, err)
			n.Enrich, n.EnrichTimeout = tc.enrich, 200*time.Millisecond
			ctx := notify.WithGroupKey(context.Background(), "{}:{}")
			ctx = notify.WithGroupLabels(ctx, model.LabelSet{"alertname": "GatewayMisdirectedRequest421"})
			a := alert.New(model.Alert{Labels: model.LabelSet{"alertname": "GatewayMisdirectedRequest421", "gateway": "g"}, StartsAt: time.Now()}, time.Now(), false)
			start := time.Now()
			v := n.Notify(ctx, a)
			require.NoError(t, v.Err())
			require.Less(t, time.Since(start), 5*time.Second)
			posts := srv.Posts()
			require.Len(t, posts, 1)
			if tc.want != "" {
				require.Contains(t, posts[0].Attachments[0].Text, tc.want)
			} else {
				require.NotContains(t, posts[0].Attachments[0].Text, "Why:")
			}
		})
	}
}

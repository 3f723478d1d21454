// Package enrich is the adapter between explain's analysis and the
// Mattermost message: it turns the spec's explain section into evidence
// sources, runs the analysis for a firing 421 alert group within its time
// budget, and condenses the report into the message's line and card
// section (mattermost.Enrichment). Nothing else joins the two: explain
// knows nothing of messages, mattermost nothing of the analysis.
package enrich

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/common/model"

	"github.com/gatewatch/gatewatch/internal/explain"
	"github.com/gatewatch/gatewatch/internal/explain/accesslog"
	"github.com/gatewatch/gatewatch/internal/explain/gwconfig"
	"github.com/gatewatch/gatewatch/internal/kube"
	"github.com/gatewatch/gatewatch/internal/mattermost"
	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// Enricher attaches the analysis to 421 alert messages (the embedded
// engine's notifier and `gatewatch bridge`).
type Enricher struct {
	// Alerts are the names of the 421 alerts; other groups are left alone.
	Alerts map[string]bool
	// Logs and Config are the sources; Logs may be scoped per gateway.
	Logs   func(gateway string) explain.LogSource
	Config explain.ConfigSource
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
	// Timeout is the budget of one message's analysis (the spec's
	// explain.timeout), which the message's sender enforces
	// (mattermost.EnrichWithin); 0 is the sender's default.
	Timeout time.Duration

	busy   chan struct{} // one enrichment at a time
	once   sync.Once
	mu     sync.Mutex
	cached *cachedConfig
}

// FromSpec builds the enrichment the spec's explain section asks for; nil
// when it names no source. The Kubernetes clients (kubectl's rules from ko)
// are built only when a source is "kube".
func FromSpec(s *spec.Spec, ko kube.Options, logger *slog.Logger) (*Enricher, error) {
	x := s.Explain
	if !x.Enabled() {
		return nil, nil
	}
	e := &Enricher{Alerts: map[string]bool{}, Logger: logger.With("component", "explain"), Timeout: time.Duration(x.Timeout)}
	for _, a := range s.Alerts {
		if a.Kind == rules.KindMisdirectedRequest && a.IsEnabled() {
			e.Alerts[a.Name] = true
		}
	}
	if x.LogFormat != "" {
		f, err := accesslog.ParseFormat(x.LogFormat)
		if err != nil {
			return nil, fmt.Errorf("explain.log_format: %w", err)
		}
		e.Format = f
	}
	var clients *kube.Clients
	if x.AccessLogs == "kube" || x.Config == "kube" {
		var err error
		if clients, err = kube.NewClients(ko); err != nil {
			return nil, fmt.Errorf("explain needs the Kubernetes API: %w", err)
		}
	}
	switch x.AccessLogs {
	case "":
	case "kube":
		e.Logs = func(gateway string) explain.LogSource {
			gws := s.Gateways
			for _, g := range s.Gateways {
				if g.Name == gateway {
					gws = []spec.Gateway{g}
				}
			}
			return explain.KubeLogs{Client: clients.Typed, Gateways: gws}
		}
	default:
		path := x.AccessLogs
		e.Logs = func(string) explain.LogSource { return explain.FileLogs{Path: path} }
	}
	switch x.Config {
	case "":
	case "kube":
		var nss []string
		for _, g := range s.Gateways {
			nss = append(nss, g.Namespace)
		}
		e.Config = explain.KubeConfig{Client: clients.Dynamic, GatewayNamespaces: nss}
	default:
		e.Config = explain.DirConfig{Path: x.Config}
	}
	return e, nil
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
// say. It honours ctx (the sender's timeout).
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
	t := now()
	o := explain.Options{Format: e.Format, Since: since, Now: t, Top: top}
	// Reading stops at three quarters of the budget, leaving the rest to
	// analyse what was read.
	if dl, ok := ctx.Deadline(); ok {
		o.ReadFor = max(time.Until(dl)*3/4, time.Nanosecond)
	}
	if e.Config != nil {
		o.Config = &cachedSource{e: e, now: t}
	}
	if e.Logs != nil {
		o.Logs = e.Logs(d.CommonLabels["gateway"])
	}
	r, err := explain.Run(ctx, o)
	if err != nil {
		if e.Logger != nil {
			e.Logger.Warn("explain failed; message sent without it", "err", err)
		}
		return nil
	}
	return Markdown(r, top)
}

// Swappable is a mattermost.EnrichFunc whose Enricher a reload replaces
// (nil: messages go without enrichment).
type Swappable struct {
	p atomic.Pointer[Enricher]
}

// Set makes e the enricher of the messages from now on.
func (s *Swappable) Set(e *Enricher) { s.p.Store(e) }

// Enrich is the mattermost.EnrichFunc.
func (s *Swappable) Enrich(ctx context.Context, d *template.Data) *mattermost.Enrichment {
	if e := s.p.Load(); e != nil {
		return e.Enrich(ctx, d)
	}
	return nil
}

// Package engine is the embedded pipeline behind `gatewatch run` and
// `gatewatch demo`, built from the real Prometheus and Alertmanager
// libraries: discovery (static and Kubernetes pods) → scrape manager →
// a short-lived TSDB → the rules manager running the rule text render emits
// → Alertmanager's alert store, dispatcher (routing and grouping), inhibitor,
// silences and notification log → the Mattermost notifier.
//
// The engine runs on the wall clock, as the libraries it embeds do (the
// scrape and rules managers, Alertmanager's dispatcher and silences); it
// takes no clock of its own.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/tsdb"

	amconfig "github.com/prometheus/alertmanager/config"

	"github.com/gatewatch/gatewatch/internal/kube"
	"github.com/gatewatch/gatewatch/internal/mattermost"
	"github.com/gatewatch/gatewatch/internal/render"
	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// Options configure an Engine.
type Options struct {
	// DataDir keeps the TSDB, silences and notification log across
	// restarts. Empty: a temporary directory removed on Close.
	DataDir string
	// Kube chooses the cluster of the pod discovery with kubectl's rules:
	// --kubeconfig, $KUBECONFIG, ~/.kube/config, then in-cluster.
	Kube kube.Options
	// ExternalURL is gatewatch's own URL, used in alert links.
	ExternalURL *url.URL
	Logger      *slog.Logger
	// Registry receives the engine's metrics (and the libraries').
	Registry *prometheus.Registry
	// BodySizeLimit is the largest stats page accepted (default 128 MiB);
	// a larger one marks the target down.
	BodySizeLimit int64
	// QueryTimeout, QueryMaxSamples and QueryMaxConcurrency bound the query
	// API as Prometheus's --query.* flags do (defaults 30s, 1 000 000 and
	// 2): at most QueryMaxConcurrency × QueryMaxSamples samples (16 bytes
	// each) are in memory for API queries at once.
	QueryTimeout        time.Duration
	QueryMaxSamples     int
	QueryMaxConcurrency int
	// MaxPendingAge bounds how long a group that fired and resolved while
	// Mattermost was unreachable is kept for a late message (default 24h).
	MaxPendingAge time.Duration
	// PendingRetryInterval is how often such groups are tried (default
	// 30s).
	PendingRetryInterval time.Duration
	// Cluster joins this replica to the others (Alertmanager's gossip);
	// empty ListenAddress: no clustering.
	Cluster ClusterOptions
	// Enrich, if set, adds gatewatch explain's analysis to messages (see
	// mattermost.Notifier.Enrich); it never delays a message by more than
	// the spec's explain.timeout.
	Enrich mattermost.EnrichFunc
}

// Engine runs the whole pipeline for one spec.
type Engine struct {
	opts    Options
	logger  *slog.Logger
	dataDir string
	tempDir bool

	db          *tsdb.DB
	queryEngine *promql.Engine
	// apiEngine answers the query API within the query limits; the rules
	// keep queryEngine, so a heavy API query cannot starve an alert.
	apiEngine *promql.Engine
	apiSlots  chan struct{}

	mu      sync.RWMutex
	spec    *spec.Spec
	scrape  *scrapePart
	rules   *rulesPart
	alerts  *alertingPart
	started bool

	deliveries *ring[mattermost.Delivery]
	metrics    *engineMetrics
	kube       kubeStatus
	// kubeconfig is the file the pod discovery reads ("" in-cluster);
	// kubeErr why there is none, when there is none.
	kubeconfig string
	kubeErr    error
	stopKube   context.CancelFunc
}

type engineMetrics struct {
	reloads       *prometheus.CounterVec
	reloadOK      prometheus.Gauge
	reloadOKTime  prometheus.Gauge
	notifications *mattermost.Metrics
}

// New prepares an engine; Start starts it.
func New(s *spec.Spec, o Options) (*Engine, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registry == nil {
		// The process's own figures (go_memstats_*, process_*), as every
		// Prometheus component exposes them: what meta-monitoring and the
		// memory sizing in docs/run.md read.
		o.Registry = prometheus.NewRegistry()
		o.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if o.ExternalURL == nil {
		o.ExternalURL = &url.URL{Scheme: "http", Host: "127.0.0.1:9421"}
	}
	if o.QueryTimeout == 0 {
		o.QueryTimeout = DefaultQueryTimeout
	}
	if o.QueryMaxSamples == 0 {
		o.QueryMaxSamples = DefaultQueryMaxSamples
	}
	if o.QueryMaxConcurrency == 0 {
		o.QueryMaxConcurrency = DefaultQueryMaxConcurrency
	}
	if o.MaxPendingAge == 0 {
		o.MaxPendingAge = DefaultMaxPendingAge
	}
	if o.PendingRetryInterval == 0 {
		o.PendingRetryInterval = 30 * time.Second
	}
	if o.BodySizeLimit == 0 {
		o.BodySizeLimit = DefaultBodySizeLimit
	}
	e := &Engine{opts: o, logger: o.Logger, spec: s, deliveries: newRing[mattermost.Delivery](50)}
	e.metrics = &engineMetrics{
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatewatch_config_reloads_total", Help: "Spec reloads, by result.",
		}, []string{"result"}),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gatewatch_config_last_reload_successful", Help: "Whether the last spec reload succeeded (1) or failed (0), as prometheus_config_last_reload_successful.",
		}),
		reloadOKTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gatewatch_config_last_reload_success_timestamp_seconds", Help: "When the spec last loaded successfully.",
		}),
		notifications: mattermost.NewMetrics(o.Registry),
	}
	e.metrics.reloadOK.Set(1)
	e.metrics.reloadOKTime.SetToCurrentTime()
	o.Registry.MustRegister(e.metrics.reloads, e.metrics.reloadOK, e.metrics.reloadOKTime, healthCollector{e})

	e.dataDir = o.DataDir
	if e.dataDir == "" {
		d, err := os.MkdirTemp("", "gatewatch-data-")
		if err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
		e.dataDir, e.tempDir = d, true
	}
	if err := os.MkdirAll(e.dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	// Prometheus's Kubernetes discovery reads one kubeconfig file and its
	// current context. Without any configuration the engine still runs
	// (static targets); the status page and the stats-down alert say that
	// the gateways with selectors have no targets, and why.
	e.kubeconfig, e.kubeErr = kube.DiscoveryFile(o.Kube, filepath.Join(e.dataDir, "kubeconfig"))
	if e.kubeErr != nil && !errors.Is(e.kubeErr, kube.ErrNoConfig) {
		return nil, e.kubeErr
	}
	return e, nil
}

// retention keeps a little more than the longest rule window plus the
// lookback the rules use (offset window + 5m lookback).
func retention(s *spec.Spec) time.Duration {
	longest := 5 * time.Minute
	for _, a := range s.EnabledAlerts() {
		longest = max(longest, a.Window.D())
	}
	return 2*longest + 10*time.Minute
}

// Start starts the engine without blocking (Close stops it).
func (e *Engine) Start(ctx context.Context) error {
	if err := e.start(ctx); err != nil {
		e.Close()
		return err
	}
	return nil
}

func (e *Engine) start(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.spec
	opts := tsdb.DefaultOptions()
	opts.RetentionDuration = retention(s).Milliseconds()
	// The registry gets the TSDB's metrics, prometheus_tsdb_head_series among them.
	db, err := tsdb.Open(filepath.Join(e.dataDir, "tsdb"), e.logger.With("component", "tsdb"), e.opts.Registry, opts, nil)
	if err != nil {
		return fmt.Errorf("open TSDB in %s: %w", e.dataDir, err)
	}
	e.db = db
	e.queryEngine = promql.NewEngine(promql.EngineOpts{
		Logger:               e.logger.With("component", "query engine"),
		MaxSamples:           50_000_000,
		Timeout:              2 * time.Minute,
		LookbackDelta:        5 * time.Minute,
		EnableAtModifier:     true,
		EnableNegativeOffset: true,
	})

	e.apiEngine = promql.NewEngine(promql.EngineOpts{
		Logger:                   e.logger.With("component", "query API"),
		MaxSamples:               e.opts.QueryMaxSamples,
		Timeout:                  e.opts.QueryTimeout,
		LookbackDelta:            5 * time.Minute,
		NoStepSubqueryIntervalFn: func(int64) int64 { return defaultSubqueryStep.Milliseconds() },
		EnableAtModifier:         true,
		EnableNegativeOffset:     true,
	})
	e.apiSlots = make(chan struct{}, e.opts.QueryMaxConcurrency)

	if e.alerts, err = e.newAlerting(s); err != nil {
		return err
	}
	if e.rules, err = e.newRules(ctx, s); err != nil {
		return err
	}
	if e.scrape, err = e.newScrape(ctx, s); err != nil {
		return err
	}
	if usesKubernetes(s) {
		kctx, cancel := context.WithCancel(ctx)
		e.stopKube = cancel
		go e.watchKubernetes(kctx)
	}
	e.started = true
	e.logger.Info("engine started", "gateways", len(s.Gateways), "alerts", len(s.EnabledAlerts()), "data_dir", e.dataDir,
		"kubernetes", kube.Describe(e.opts.Kube))
	return nil
}

// Reload applies a new spec. An invalid spec is rejected and the running
// one keeps going.
func (e *Engine) Reload(ctx context.Context, s *spec.Spec) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.started {
		e.spec = s
		return nil
	}
	// Check everything that can fail before changing anything, so a bad
	// spec leaves the running one untouched.
	if err := e.prepare(s); err != nil {
		e.reloaded(false)
		return err
	}
	if usesKubernetes(s) && e.stopKube == nil {
		kctx, cancel := context.WithCancel(context.Background())
		e.stopKube = cancel
		go e.watchKubernetes(kctx)
	}
	if err := e.scrape.apply(s); err != nil {
		e.reloaded(false)
		return fmt.Errorf("reload scrape configuration: %w", err)
	}
	if err := e.rules.apply(s); err != nil {
		e.reloaded(false)
		return fmt.Errorf("reload rules: %w", err)
	}
	if err := e.alerts.apply(s); err != nil {
		e.reloaded(false)
		return fmt.Errorf("reload routing: %w", err)
	}
	e.spec = s
	e.reloaded(true)
	e.logger.Info("spec reloaded")
	return nil
}

// prepare checks that s can be applied: scrape configuration, rules,
// routing, the Mattermost client, and a retention long enough for its
// windows (the TSDB's retention is set at start).
func (e *Engine) prepare(s *spec.Spec) error {
	if _, err := e.scrapeConfig(s); err != nil {
		return fmt.Errorf("reload scrape configuration: %w", err)
	}
	if err := rules.Generate(s).Validate(); err != nil {
		return fmt.Errorf("reload rules: %w", err)
	}
	y, err := render.AlertmanagerConfigYAML(s)
	if err != nil {
		return fmt.Errorf("reload routing: %w", err)
	}
	if _, err := amconfig.Load(string(y)); err != nil {
		return fmt.Errorf("reload routing: %w", err)
	}
	if _, err := mattermost.NewClient(s.Mattermost); err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	if need, have := retention(s), retention(e.spec); need > have {
		return fmt.Errorf("reload: the new alert windows need %s of history, the running storage keeps %s: restart gatewatch to apply", need, have)
	}
	return nil
}

// RejectReload counts a reload that never reached the engine (the new
// spec did not load), so /metrics shows every failed reload.
func (e *Engine) RejectReload() { e.reloaded(false) }

// Close stops everything and releases the data directory if temporary.
func (e *Engine) Close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopKube != nil {
		e.stopKube()
		e.stopKube = nil
	}
	if e.scrape != nil {
		e.scrape.stop()
		e.scrape = nil
	}
	if e.rules != nil {
		e.rules.stop()
		e.rules = nil
	}
	if e.alerts != nil {
		e.alerts.stop()
		e.alerts = nil
	}
	if e.db != nil {
		if err := e.db.Close(); err != nil {
			e.logger.Warn("close TSDB", "err", err)
		}
		e.db = nil
	}
	if e.tempDir {
		_ = os.RemoveAll(e.dataDir)
	}
	e.started = false
}

// Spec returns the running spec.
func (e *Engine) Spec() *spec.Spec {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.spec
}

// Ready reports whether the engine runs.
func (e *Engine) Ready() bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	// A clustered replica is ready once it has settled: it has the
	// others' notification log and silences.
	return e.started && (e.alerts == nil || e.alerts.cluster.ready())
}

// Pending returns the alert groups whose notification could not be
// delivered yet, oldest first (see outbox.go).
func (e *Engine) Pending() []PendingNotification {
	e.mu.RLock()
	p := e.alerts
	e.mu.RUnlock()
	if p == nil {
		return nil
	}
	return p.outbox.list()
}

// Deliveries returns recent Mattermost attempts, newest first.
func (e *Engine) Deliveries() []mattermost.Delivery { return e.deliveries.list() }

// Registry returns the metrics registry.
func (e *Engine) Registry() *prometheus.Registry { return e.opts.Registry }

var errNotStarted = errors.New("engine not started")

// ring is a small fixed-size list of the latest items.
type ring[T any] struct {
	mu    sync.Mutex
	items []T
	max   int
}

func newRing[T any](n int) *ring[T] { return &ring[T]{max: n} }

func (r *ring[T]) add(v T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.items = append(r.items, v)
	if len(r.items) > r.max {
		r.items = r.items[len(r.items)-r.max:]
	}
}

func (r *ring[T]) list() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]T, len(r.items))
	for i, v := range r.items {
		out[len(r.items)-1-i] = v
	}
	return out
}

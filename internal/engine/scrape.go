package engine

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/alecthomas/units"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	config_util "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery"
	_ "github.com/prometheus/prometheus/discovery/kubernetes" // registers kubernetes_sd_configs
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/scrape"

	"github.com/gatewatch/gatewatch/internal/render"
	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
	"github.com/gatewatch/gatewatch/internal/statspage"
)

// Scrape limits: a target over them is marked down with the reason, and
// memory stays bounded whatever a target serves.
const (
	// DefaultBodySizeLimit is the largest stats page accepted (Envoy pages of
	// tens of MB are normal on busy gateways).
	DefaultBodySizeLimit = 128 << 20
	// SampleLimit bounds the series kept per scrape after filtering.
	SampleLimit = 100_000
)

// keptFamilies are the only series stored: what the rules read. Envoy
// pages carry tens of thousands of other series; the stats-page filter
// drops them before Prometheus parses the page, and the keep relabeling
// below states the same set to Prometheus.
var keptFamilies = []string{rules.Metric, "envoy_server_uptime"}

type scrapePart struct {
	e         *Engine
	discovery *discovery.Manager
	manager   *scrape.Manager
	cancel    context.CancelFunc
	done      chan struct{}
}

// scrapeConfig loads the scrape_configs render emits for the prometheus
// target (same discovery and relabeling as the rendered PodMonitor), then
// adds the engine's limits and series filter.
func (e *Engine) scrapeConfig(s *spec.Spec) (*promconfig.Config, error) {
	y, err := render.ScrapeConfigYAML(s, e.kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg, err := promconfig.Load(string(y), e.logger)
	if err != nil {
		return nil, fmt.Errorf("scrape configuration: %w", err)
	}
	for _, sc := range cfg.ScrapeConfigs {
		// The filter reads the whole page within BodySizeLimit; Prometheus
		// reads only the kept lines.
		sc.BodySizeLimit = units.Base2Bytes(statspage.DefaultLimits.MaxKeptBytes)
		sc.SampleLimit = SampleLimit
		sc.MetricRelabelConfigs = append(sc.MetricRelabelConfigs, &relabel.Config{
			SourceLabels:         model.LabelNames{model.MetricNameLabel},
			Regex:                relabel.MustNewRegexp(strings.Join(keptFamilies, "|")),
			Action:               relabel.Keep,
			Separator:            relabel.DefaultRelabelConfig.Separator,
			Replacement:          relabel.DefaultRelabelConfig.Replacement,
			NameValidationScheme: model.UTF8Validation,
		})
		for _, rc := range sc.MetricRelabelConfigs {
			if err := rc.Validate(model.UTF8Validation); err != nil {
				return nil, fmt.Errorf("metric relabeling of %s: %w", sc.JobName, err)
			}
		}
	}
	return cfg, nil
}

func (e *Engine) newScrape(ctx context.Context, s *spec.Spec) (*scrapePart, error) {
	reg := e.opts.Registry
	// The client-go metrics are the discovery package's own collectors;
	// registering them in this engine's registry is what exposes them.
	if err := discovery.RegisterK8sClientMetricsWithPrometheus(reg); err != nil {
		e.logger.Debug("kubernetes client metrics not registered", "err", err)
	}
	sdMetrics, err := discovery.CreateAndRegisterSDMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("discovery metrics: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &scrapePart{e: e, cancel: cancel, done: make(chan struct{})}
	p.discovery = discovery.NewManager(ctx, e.logger.With("component", "discovery"), reg, sdMetrics,
		discovery.Name("scrape"), discovery.Updatert(time.Second))
	if p.discovery == nil {
		cancel()
		return nil, fmt.Errorf("create discovery manager")
	}
	p.manager, err = scrape.NewManager(&scrape.Options{
		DiscoveryReloadInterval: model.Duration(time.Second),
		HTTPClientOptions:       []config_util.HTTPClientOption{config_util.WithDialContextFunc(e.statsProxy(reg).DialContext)},
	}, e.logger.With("component", "scrape"), nil, e.db, nil, reg)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("create scrape manager: %w", err)
	}
	if err := p.apply(s); err != nil {
		cancel()
		return nil, err
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := p.discovery.Run(); err != nil && ctx.Err() == nil {
			e.logger.Error("discovery stopped", "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := p.manager.Run(p.discovery.SyncCh()); err != nil {
			e.logger.Error("scrape manager stopped", "err", err)
		}
	}()
	go func() { wg.Wait(); close(p.done) }()
	return p, nil
}

// statsProxy puts statspage's filter between every target and the scrape
// loop: a page over the body limit, a kept line over the line limit or a
// binary page fails the scrape with the reason, before Prometheus's parser
// (whose label encoding panics on a 16 MiB value) sees it.
func (e *Engine) statsProxy(reg prometheus.Registerer) *statspage.Proxy {
	limits := statspage.DefaultLimits
	limits.MaxPageBytes = e.opts.BodySizeLimit
	pages := promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
		Name: "gatewatch_stats_pages_total",
		Help: "Stats pages read, by result (kept or refused by the filter).",
	}, []string{"result"})
	read := promauto.With(reg).NewCounter(prometheus.CounterOpts{
		Name: "gatewatch_stats_page_bytes_total",
		Help: "Bytes of stats pages read (after decompression).",
	})
	return &statspage.Proxy{
		Filter: statspage.New(limits, keptFamilies...),
		Logger: e.logger.With("component", "statspage"),
		Observe: func(s statspage.Stats, err error) {
			read.Add(float64(s.PageBytes))
			if err != nil {
				pages.WithLabelValues("refused").Inc()
				return
			}
			pages.WithLabelValues("kept").Inc()
		},
	}
}

func (p *scrapePart) apply(s *spec.Spec) error {
	cfg, err := p.e.scrapeConfig(s)
	if err != nil {
		return err
	}
	if err := p.manager.ApplyConfig(cfg); err != nil {
		return fmt.Errorf("apply scrape configuration: %w", err)
	}
	sd := map[string]discovery.Configs{}
	for _, sc := range cfg.ScrapeConfigs {
		sd[sc.JobName] = sc.ServiceDiscoveryConfigs
	}
	return p.discovery.ApplyConfig(sd)
}

func (p *scrapePart) stop() {
	p.manager.Stop()
	p.cancel()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.e.logger.Warn("scrape shutdown timed out")
	}
}

// Target is one scrape target's state for the status page.
type Target struct {
	Job        string
	URL        string
	Labels     map[string]string
	Health     string
	LastScrape time.Time
	Duration   time.Duration
	Error      string
}

// Targets returns the active targets.
func (e *Engine) Targets() []Target {
	e.mu.RLock()
	p := e.scrape
	e.mu.RUnlock()
	if p == nil {
		return nil
	}
	var out []Target
	for job, ts := range p.manager.TargetsActive() {
		for _, t := range ts {
			tg := Target{Job: job, URL: t.URL().String(), Labels: t.Labels(labels.NewBuilder(labels.EmptyLabels())).Map(), Health: string(t.Health()),
				LastScrape: t.LastScrape(), Duration: t.LastScrapeDuration()}
			if err := t.LastError(); err != nil {
				tg.Error = err.Error()
			}
			out = append(out, tg)
		}
	}
	return out
}

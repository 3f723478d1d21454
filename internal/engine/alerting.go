package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/alertmanager/api"
	amconfig "github.com/prometheus/alertmanager/config"
	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/alertmanager/eventrecorder"
	"github.com/prometheus/alertmanager/featurecontrol"
	"github.com/prometheus/alertmanager/inhibit"
	"github.com/prometheus/alertmanager/labelset"
	"github.com/prometheus/alertmanager/nflog"
	"github.com/prometheus/alertmanager/nflog/nflogpb"
	"github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/alertmanager/provider/mem"
	"github.com/prometheus/alertmanager/silence"
	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/alertmanager/timeinterval"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	prules "github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/util/strutil"

	"github.com/gatewatch/gatewatch/internal/mattermost"
	"github.com/gatewatch/gatewatch/internal/render"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// retentionAM keeps silences and the notification log (Alertmanager's default).
const retentionAM = 120 * time.Hour

type alertingPart struct {
	e        *Engine
	logger   *slog.Logger
	alerts   *mem.Alerts
	silences *silence.Silences
	silencer *silence.Silencer
	nflog    durableLog
	silFile  *stateFile
	builder  *notify.PipelineBuilder
	dmetrics *dispatch.DispatcherMetrics
	recorder eventrecorder.Recorder

	outbox     *outbox
	retryEvery time.Duration
	// Bot mode (chat.go): acknowledgements and signing keys, the buttons'
	// signer, and the bot's counters (registered once, kept on reload).
	chat          *chatState
	signer        *mattermost.Signer
	botMetrics    *mattermost.BotMetrics
	actionMetrics *mattermost.ActionMetrics
	cluster       *clusterPart // nil without clustering
	api           *api.API     // Alertmanager's API v2
	apiHandler    http.Handler

	mu         sync.Mutex
	notifier   *mattermost.Notifier
	dispatcher *dispatch.Dispatcher
	inhibitor  *inhibit.Inhibitor

	stopc chan struct{}
	wg    sync.WaitGroup
}

type sendResolved bool

func (s sendResolved) SendResolved() bool { return bool(s) }

// newAlerting builds Alertmanager's alert store, silences, notification log
// (both saved to the data directory on every change, see durable.go, so a
// restart, even after SIGKILL, neither loses silences nor repeats
// notifications) and the dispatcher.
func (e *Engine) newAlerting(s *spec.Spec) (*alertingPart, error) {
	reg := e.opts.Registry
	logger := e.logger.With("component", "alertmanager")
	p := &alertingPart{e: e, logger: logger, recorder: eventrecorder.NopRecorder(), stopc: make(chan struct{})}
	ff := featurecontrol.NoopFlags{}
	var err error
	if p.cluster, err = newCluster(e.opts.Cluster, reg, logger); err != nil {
		return nil, err
	}
	// From here on a failure also leaves the cluster and stops what started.
	fail := func(err error) (*alertingPart, error) {
		p.stop()
		return nil, err
	}
	nflogFile := filepath.Join(e.dataDir, "nflog")
	log, err := nflog.New(nflog.Options{SnapshotFile: nflogFile, Retention: retentionAM, Logger: logger.With("part", "nflog"), Metrics: reg})
	if err != nil {
		return fail(fmt.Errorf("notification log: %w", err))
	}
	silFile := filepath.Join(e.dataDir, "silences")
	p.silences, err = silence.New(silence.Options{SnapshotFile: silFile, Retention: retentionAM, Logger: logger.With("part", "silences"), Metrics: reg, EventRecorder: p.recorder})
	if err != nil {
		return fail(fmt.Errorf("silences: %w", err))
	}
	sm := newStateMetrics(reg)
	p.nflog = durableLog{log: log, file: newStateFile(nflogFile, "nflog", log, sm)}
	p.silFile = newStateFile(silFile, "silences", p.silences, sm)
	if p.chat, err = newChatState(filepath.Join(e.dataDir, "chat.json"), sm); err != nil {
		return fail(err)
	}
	p.signer = mattermost.NewSigner(p.chat.keys)
	p.botMetrics, p.actionMetrics = mattermost.NewBotMetrics(reg), mattermost.NewActionMetrics(reg)
	if p.cluster != nil {
		// Added before joining: the first push-pull merges only the
		// states the peer knows.
		log.SetBroadcast(p.gossip("nfl", log, p.nflog.file).Broadcast)
		p.silences.SetBroadcast(p.gossip("sil", p.silences, p.silFile).Broadcast)
		p.chat.broadcast = p.gossip("chat", p.chat, p.chat.file).Broadcast
		p.cluster.join(e.opts.Cluster, logger)
	}
	if p.outbox, err = newOutbox(filepath.Join(e.dataDir, "outbox.json"), e.opts.MaxPendingAge, sm, reg, logger.With("part", "outbox")); err != nil {
		return fail(err)
	}
	p.retryEvery = e.opts.PendingRetryInterval
	// Maintenance still garbage-collects both every 15 minutes (and
	// snapshots them, as on exit); every change is saved at once as well.
	p.wg.Add(3)
	go func() { defer p.wg.Done(); p.deliverPending() }()
	go func() { defer p.wg.Done(); log.Maintenance(15*time.Minute, nflogFile, p.stopc, nil) }()
	go func() { defer p.wg.Done(); p.silences.Maintenance(15*time.Minute, silFile, p.stopc, nil) }()
	p.silencer = silence.NewSilencer(p.silences, logger, p.recorder)
	p.alerts, err = mem.NewAlerts(context.Background(), 30*time.Minute, 0, p.silencer, logger, p.recorder, reg, ff)
	if err != nil {
		return fail(fmt.Errorf("alert store: %w", err))
	}
	if p.api, err = p.newAPI(reg, logger); err != nil {
		return fail(err)
	}
	p.builder = notify.NewPipelineBuilder(reg, ff, p.recorder)
	p.dmetrics = dispatch.NewDispatcherMetrics(false, reg, ff)
	if err := p.apply(s); err != nil {
		return fail(err)
	}
	return p, nil
}

// apply builds the route tree from the same Alertmanager configuration
// render writes, and swaps in a new dispatcher and inhibitor.
func (p *alertingPart) apply(s *spec.Spec) error {
	y, err := render.AlertmanagerConfigYAML(s)
	if err != nil {
		return err
	}
	conf, err := amconfig.Load(string(y))
	if err != nil {
		return fmt.Errorf("routing configuration: %w", err)
	}
	tmpl, err := template.FromGlobs(nil)
	if err != nil {
		return err
	}
	tmpl.ExternalURL = p.e.opts.ExternalURL

	n, err := p.newNotifier(s, tmpl)
	if err != nil {
		return err
	}
	n.Observe = p.e.deliveries.add
	n.Enrich, n.EnrichTimeout = p.e.opts.Enrich, time.Duration(s.Explain.Timeout)

	routes := dispatch.NewRoute(conf.Route, nil)
	receivers := map[string][]notify.Integration{}
	for _, rcv := range conf.Receivers {
		var ints []notify.Integration
		for i := range rcv.MattermostConfigs {
			// Every Mattermost receiver posts through gatewatch's notifier,
			// which sets the priority of critical alerts itself.
			held := holdingNotifier{n: n, box: p.outbox, rcv: &nflogpb.Receiver{GroupName: rcv.Name, Integration: "mattermost", Idx: uint32(i)}}
			ints = append(ints, notify.NewIntegration(held, sendResolved(s.Mattermost.ShouldSendResolved()), "mattermost", i, rcv.Name))
		}
		receivers[rcv.Name] = ints
	}
	intervener := timeinterval.NewIntervener(nil)
	inhibitor := inhibit.NewInhibitor(p.alerts, conf.InhibitRules, p.logger, p.recorder)
	// With a cluster, the replica at position i waits i × peer timeout
	// before its dedup stage, and the flush's deadline includes that wait
	// (Alertmanager's app.go).
	pipeline := p.builder.New(receivers, p.cluster.wait, inhibitor, p.silencer, intervener, p.nflog, p.cluster.notifyPeer())
	if s.Mattermost.BotMode() && s.Mattermost.ShouldSendResolved() {
		for _, rcv := range conf.Receivers {
			if len(rcv.MattermostConfigs) > 0 {
				pipeline[rcv.Name] = resolveMuted{inner: pipeline[rcv.Name], p: p, receiver: rcv.Name,
					integrations: len(rcv.MattermostConfigs), expiry: 2 * time.Duration(s.Routing.RepeatInterval)}
			}
		}
	}
	timeout := func(d time.Duration) time.Duration { return max(d, notify.MinTimeout) + p.cluster.wait() }
	d := dispatch.NewDispatcher(p.alerts, routes, pipeline, intervener, timeout, 30*time.Second, nil, p.logger, p.recorder, p.dmetrics, tmpl)

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.inhibitor != nil {
		p.inhibitor.Stop()
	}
	if p.dispatcher != nil {
		p.dispatcher.Stop()
	}
	go inhibitor.Run()
	inhibitor.WaitForLoading()
	go d.Run(time.Now())
	d.WaitForLoading()
	p.inhibitor, p.dispatcher, p.notifier = inhibitor, d, n
	p.api.Update(conf, func(ctx context.Context, ls labelset.LabelSet) {
		inhibitor.Mutes(ctx, ls)
		p.silencer.Mutes(ctx, ls)
	})
	return nil
}

// newNotifier is the Mattermost notifier the spec asks for: a webhook, or a
// bot (whose token is checked now: a refused token is an error; an
// unreachable server only a warning, the outbox holds what cannot go out).
func (p *alertingPart) newNotifier(s *spec.Spec, tmpl *template.Template) (*mattermost.Notifier, error) {
	logger := p.e.logger.With("component", "mattermost")
	opts := mattermost.OptionsFor(s.Mattermost, "Sent by gatewatch")
	if !s.Mattermost.BotMode() {
		client, err := mattermost.NewClient(s.Mattermost, mattermost.WithLogger(logger), mattermost.WithMetrics(p.e.metrics.notifications))
		if err != nil {
			return nil, err
		}
		return mattermost.NewNotifier(client, opts, tmpl, logger)
	}
	api, err := mattermost.NewAPI(s.Mattermost, nil)
	if err != nil {
		return nil, err
	}
	bot := mattermost.NewBot(api, s.Mattermost.Team, s.Mattermost.Channel, s.Mattermost.ChannelID, logger, p.botMetrics)
	if s.Mattermost.ActionsSecretFile != "" {
		if _, err := readKeyFile(s.Mattermost.ActionsSecretFile); err != nil {
			return nil, err
		}
	}
	bot.Signer, bot.ActionURL, bot.Backend = p.signer, p.e.actionURL(), chatActions{e: p.e, p: p}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u, err := bot.Check(ctx)
	var se *mattermost.SendError
	switch {
	case errors.As(err, &se) && se.Cause == mattermost.CauseAuth:
		return nil, err
	case err != nil:
		logger.Warn("Mattermost not reachable to check the bot token; alerts are held until it is", "err", err)
	case !u.IsBot:
		logger.Warn("the token is not a bot account's: posts appear as that person", "user", u.Username)
	default:
		if _, err := bot.Channel(ctx); err != nil {
			logger.Warn("bot channel not found yet", "err", err)
		}
		logger.Info("posting to Mattermost as a bot", "bot", u.Username, "channel", s.Mattermost.Channel, "team", s.Mattermost.Team, "actions", bot.ActionURL)
	}
	n, err := mattermost.NewBotNotifier(bot, opts, tmpl, logger)
	if err != nil {
		return nil, err
	}
	// The signing key changes only with a spec that is applied.
	if err := p.chat.setKeyFile(s.Mattermost.ActionsSecretFile); err != nil {
		return nil, err
	}
	return n, nil
}

// deliverPending runs the outbox (outbox.go) until stop: every retryEvery
// it updates the held alerts from the store and posts the groups that
// fired and resolved while Mattermost was unreachable.
func (p *alertingPart) deliverPending() {
	t := time.NewTicker(p.retryEvery)
	defer t.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-p.stopc; cancel() }()
	for {
		select {
		case <-p.stopc:
			return
		case <-t.C:
		}
		now := time.Now()
		p.outbox.refresh(p.alerts, now)
		p.mu.Lock()
		n := p.notifier
		p.mu.Unlock()
		p.outbox.deliverResolved(ctx, p.nflog, n, now, p.cluster.wait())
	}
}

// notifyFunc hands the rules' alerts to Alertmanager's store, as
// Prometheus's rules.SendAlerts does for a remote Alertmanager.
func (p *alertingPart) notifyFunc(externalURL string) prules.NotifyFunc {
	return func(ctx context.Context, expr string, alerts ...*prules.Alert) {
		now := time.Now()
		var out []*alert.Alert
		for _, a := range alerts {
			ma := model.Alert{
				Labels:       model.LabelSet{},
				Annotations:  model.LabelSet{},
				StartsAt:     a.FiredAt,
				GeneratorURL: generatorURL(externalURL, expr, a.Labels),
			}
			a.Labels.Range(func(l labels.Label) { ma.Labels[model.LabelName(l.Name)] = model.LabelValue(l.Value) })
			a.Annotations.Range(func(l labels.Label) { ma.Annotations[model.LabelName(l.Name)] = model.LabelValue(l.Value) })
			if !a.ResolvedAt.IsZero() {
				ma.EndsAt = a.ResolvedAt
			} else {
				ma.EndsAt = a.ValidUntil
			}
			out = append(out, alert.New(ma, now, false))
		}
		if len(out) == 0 {
			return
		}
		if err := p.alerts.Put(ctx, out...); err != nil {
			p.logger.Error("store alerts", "err", err, "count", len(out))
		}
	}
}

func (p *alertingPart) stop() {
	p.mu.Lock()
	if p.dispatcher != nil {
		p.dispatcher.Stop()
	}
	if p.inhibitor != nil {
		p.inhibitor.Stop()
	}
	p.mu.Unlock()
	if p.alerts != nil {
		p.alerts.Close()
	}
	if p.api != nil {
		p.api.Shutdown()
	}
	p.cluster.leave()
	close(p.stopc)
	p.wg.Wait() // final snapshots of silences and the notification log
}

// generatorURL is the alert's link to its graph: the status page's short
// /graph?alert=NAME&gateway=G, which expands the rule server-side, instead
// of the whole URL-encoded expression (about 2 KB for the 421 rule) in
// every message and terminal line. Alerts without a gateway label (not
// gatewatch's rules) get Prometheus's expression link.
func generatorURL(externalURL, expr string, l labels.Labels) string {
	name, gw := l.Get(model.AlertNameLabel), l.Get("gateway")
	if name == "" || gw == "" {
		return externalURL + strutil.TableLinkForExpression(expr)
	}
	return externalURL + "/graph?" + url.Values{"alert": {name}, "gateway": {gw}}.Encode()
}

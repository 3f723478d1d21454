package mattermost

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"time"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/alertmanager/template"
)

// Notifier is an Alertmanager notify.Notifier: one delivery attempt per call,
// with the verdict (retry or not, and after how long) left to Alertmanager's
// retry stage, so dedup, retries and the notification log work as they do
// in Alertmanager.
type Notifier struct {
	client *Client
	bot    *Bot // bot mode: posts through the REST API instead
	opts   Options
	tmpl   *template.Template
	logger *slog.Logger
	// Observe, if set, is told about every attempt (for the status page).
	Observe func(Delivery)
	// Enrich, if set, explains the group (gatewatch explain); nil or a nil
	// result sends the message as it is. It gets EnrichTimeout (default 2s):
	// a slow or stuck enricher never delays the alert longer than that.
	Enrich        EnrichFunc
	EnrichTimeout time.Duration
}

// Delivery is one attempt to post a group.
type Delivery struct {
	At     time.Time
	Title  string
	Alerts int
	// Answer is "200 ok" or the error.
	Answer string
	OK     bool
}

// EnrichFunc explains an alert group; nil means nothing to add. It is the
// Enrichment port's function: internal/explain/enrich provides one.
type EnrichFunc func(ctx context.Context, d *template.Data) *Enrichment

// EnrichWithin runs f bounded by timeout (default 2s): it returns nil when f
// is nil, slow, or panics, so enrichment never holds an alert back.
func EnrichWithin(ctx context.Context, f EnrichFunc, d *template.Data, timeout time.Duration, logger *slog.Logger) *Enrichment {
	if f == nil {
		return nil
	}
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan *Enrichment, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				logger.Error("explain enrichment panicked; message sent without it", "panic", r)
				done <- nil
			}
		}()
		done <- f(ctx, d)
	}()
	select {
	case e := <-done:
		return e
	case <-ctx.Done():
		logger.Warn("explain enrichment timed out; message sent without it", "timeout", timeout)
		return nil
	}
}

var _ notify.Notifier = (*Notifier)(nil)

// NewNotifier wraps a client. tmpl supplies ExternalURL for links; nil uses
// Alertmanager's default template with no external URL.
func NewNotifier(c *Client, o Options, tmpl *template.Template, logger *slog.Logger) (*Notifier, error) {
	if tmpl == nil {
		t, err := template.FromGlobs(nil)
		if err != nil {
			return nil, err
		}
		tmpl = t
	}
	if tmpl.ExternalURL == nil {
		tmpl.ExternalURL = &url.URL{}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Notifier{client: c, opts: o, tmpl: tmpl, logger: logger}, nil
}

// NewBotNotifier is NewNotifier in bot mode: the group's post lives (see
// Bot) instead of a new webhook message each time.
func NewBotNotifier(b *Bot, o Options, tmpl *template.Template, logger *slog.Logger) (*Notifier, error) {
	n, err := NewNotifier(nil, o, tmpl, logger)
	if err != nil {
		return nil, err
	}
	n.bot = b
	return n, nil
}

// Bot is the notifier's bot (nil for a webhook).
func (n *Notifier) Bot() *Bot { return n.bot }

// Notify posts the group once and tells Alertmanager whether to retry.
func (n *Notifier) Notify(ctx context.Context, alerts ...*alert.Alert) notify.NotifyVerdict {
	err := n.post(ctx, Extras{}, alerts)
	if err == nil {
		return notify.Success()
	}
	var se *SendError
	if !errors.As(err, &se) {
		return notify.Unrecoverable(err, notify.DefaultReason)
	}
	reason := notify.DefaultReason
	switch {
	case se.Cause == CauseCanceled:
		reason = notify.ContextCanceledReason
		if errors.Is(se.Err, context.DeadlineExceeded) {
			reason = notify.ContextDeadlineExceededReason
		}
	case se.Status != 0:
		reason = notify.GetFailureReasonFromStatusCode(se.Status)
	}
	if se.Retryable {
		return notify.Retry(se.RetryAfter, err, reason)
	}
	n.logger.Error("mattermost notification failed, not retrying", "cause", se.Cause, "status", se.Status, "err", err)
	return notify.Unrecoverable(err, reason)
}

// ResolveQuietly edits a bot post to resolved without a reply (its resolve
// was muted); a webhook has no post to edit, so it does nothing.
func (n *Notifier) ResolveQuietly(ctx context.Context, alerts ...*alert.Alert) error {
	if n.bot == nil {
		return nil
	}
	data := notify.GetTemplateData(ctx, n.tmpl, alerts, n.logger)
	return n.bot.ResolveQuietly(ctx, data, BuildWith(data, n.opts, Extras{}))
}

// NotifyLate posts a group Alertmanager will not send any more (it fired
// and resolved while Mattermost was unreachable), with note saying so. ctx
// carries the group's key, labels and receiver as Alertmanager's pipeline
// sets them (notify.WithGroupKey, …).
func (n *Notifier) NotifyLate(ctx context.Context, note string, alerts ...*alert.Alert) error {
	return n.post(ctx, Extras{Note: note}, alerts)
}

// post builds the message (enriched, within Mattermost's limits) and
// posts it once.
func (n *Notifier) post(ctx context.Context, extras Extras, alerts []*alert.Alert) error {
	data := notify.GetTemplateData(ctx, n.tmpl, alerts, n.logger)
	extras.Enrichment = EnrichWithin(ctx, n.Enrich, data, n.EnrichTimeout, n.logger)
	p := BuildWith(data, n.opts, extras)
	var err error
	if n.bot != nil {
		err = n.bot.Deliver(ctx, data, p)
	} else {
		err = n.client.PostOnce(ctx, p)
	}
	if n.Observe != nil {
		d := Delivery{At: time.Now(), Title: p.Attachments[0].Title, Alerts: len(alerts), Answer: "200 ok", OK: err == nil}
		if err != nil {
			d.Answer = err.Error()
		}
		n.Observe(d)
	}
	return err
}

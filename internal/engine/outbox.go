package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/alertmanager/nflog"
	"github.com/prometheus/alertmanager/nflog/nflogpb"
	"github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/gatewatch/gatewatch/internal/mattermost"
)

// Alertmanager retries a group while it has firing alerts, at every
// group_interval, but it never sends a group whose alerts all resolved
// before any notification of it got through (its dedup stage needs a
// logged firing notification to announce a resolve). A 421 that fires and
// resolves while Mattermost is down is therefore lost in Alertmanager. The
// outbox closes that gap: every group whose delivery failed is held here
// (saved with the rest of the state), and once all its alerts resolved
// with nothing delivered, gatewatch posts it itself as one message saying
// it fired and resolved while Mattermost was unreachable.

// DefaultMaxPendingAge bounds how long an undelivered, resolved group is
// kept for a late message.
const DefaultMaxPendingAge = 24 * time.Hour

// PendingNotification is a group whose delivery failed and that no
// message has covered yet.
type PendingNotification struct {
	Receiver    string            `json:"receiver"`
	Integration string            `json:"integration"`
	Index       uint32            `json:"index"`
	GroupKey    string            `json:"group_key"`
	GroupLabels map[string]string `json:"group_labels"`
	Alerts      []PendingAlert    `json:"alerts"`
	FirstFailed time.Time         `json:"first_failed"`
	LastAttempt time.Time         `json:"last_attempt"`
	LastError   string            `json:"last_error"`
	Attempts    int               `json:"attempts"`
}

// PendingAlert is one alert of a pending group as last seen.
type PendingAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"starts_at"`
	EndsAt       time.Time         `json:"ends_at"`
	GeneratorURL string            `json:"generator_url"`
}

// Resolved says whether every alert of the group had resolved at now.
func (p PendingNotification) Resolved(now time.Time) bool {
	for _, a := range p.Alerts {
		if a.EndsAt.IsZero() || a.EndsAt.After(now) {
			return false
		}
	}
	return len(p.Alerts) > 0
}

func (p *PendingNotification) key() string {
	return fmt.Sprintf("%s/%s/%d/%s", p.Receiver, p.Integration, p.Index, p.GroupKey)
}

func (p *PendingNotification) receiver() *nflogpb.Receiver {
	return &nflogpb.Receiver{GroupName: p.Receiver, Integration: p.Integration, Idx: p.Index}
}

// outbox holds the pending notifications.
type outbox struct {
	mu      sync.Mutex
	pending map[string]*PendingNotification
	file    *stateFile
	logger  *slog.Logger
	maxAge  time.Duration
	started time.Time

	late, dropped prometheus.Counter
}

func newOutbox(path string, maxAge time.Duration, m *stateMetrics, reg prometheus.Registerer, logger *slog.Logger) (*outbox, error) {
	o := &outbox{pending: map[string]*PendingNotification{}, logger: logger, maxAge: maxAge, started: time.Now()}
	if err := o.load(path); err != nil {
		return nil, err
	}
	o.file = newStateFile(path, "outbox", o, m)
	o.late = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gatewatch_notifications_late_total",
		Help: "Groups that fired and resolved while Mattermost was unreachable, delivered late as one message.",
	})
	o.dropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gatewatch_notifications_dropped_total",
		Help: "Undelivered resolved groups given up after the maximum pending age.",
	})
	pending := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gatewatch_notifications_pending",
		Help: "Alert groups whose notification could not be delivered yet.",
	}, func() float64 { return float64(len(o.list())) })
	oldest := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gatewatch_notifications_pending_oldest_age_seconds",
		Help: "Age of the oldest undelivered notification (0 when none).",
	}, func() float64 { return o.oldestAge(time.Now()).Seconds() })
	reg.MustRegister(o.late, o.dropped, pending, oldest)
	return o, nil
}

// load reads the outbox saved by the previous run; a missing file is an
// empty outbox.
func (o *outbox) load(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read pending notifications: %w", err)
	}
	var list []*PendingNotification
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("read pending notifications from %s: %w", path, err)
	}
	for _, p := range list {
		o.pending[p.key()] = p
	}
	return nil
}

// Snapshot writes the outbox as JSON (the stateFile's format).
func (o *outbox) Snapshot(w io.Writer) (int64, error) {
	b, err := json.Marshal(o.list())
	if err != nil {
		return 0, err
	}
	n, err := w.Write(b)
	return int64(n), err
}

// list returns copies of the pending notifications, oldest first.
func (o *outbox) list() []PendingNotification {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]PendingNotification, 0, len(o.pending))
	for _, p := range o.pending {
		c := *p
		c.Alerts = append([]PendingAlert(nil), p.Alerts...)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].FirstFailed.Before(out[j].FirstFailed) })
	return out
}

func (o *outbox) oldestAge(now time.Time) time.Duration {
	list := o.list()
	if len(list) == 0 {
		return 0
	}
	return now.Sub(list[0].FirstFailed)
}

// hold records a failed delivery of the group in ctx.
func (o *outbox) hold(ctx context.Context, rcv *nflogpb.Receiver, alerts []*alert.Alert, err error, now time.Time) {
	gkey, _ := notify.GroupKey(ctx)
	glabels, _ := notify.GroupLabels(ctx)
	p := &PendingNotification{Receiver: rcv.GroupName, Integration: rcv.Integration, Index: rcv.Idx, GroupKey: gkey, GroupLabels: labelMap(glabels)}
	o.mu.Lock()
	if old, ok := o.pending[p.key()]; ok {
		p = old
	} else {
		p.FirstFailed = now
		o.pending[p.key()] = p
	}
	p.Alerts = mergeAlerts(p.Alerts, alerts)
	p.LastAttempt, p.LastError = now, err.Error()
	p.Attempts++
	o.mu.Unlock()
	o.save()
}

// release forgets the group in ctx: a message covering it got through.
func (o *outbox) release(ctx context.Context, rcv *nflogpb.Receiver) {
	gkey, _ := notify.GroupKey(ctx)
	key := (&PendingNotification{Receiver: rcv.GroupName, Integration: rcv.Integration, Index: rcv.Idx, GroupKey: gkey}).key()
	o.mu.Lock()
	_, ok := o.pending[key]
	delete(o.pending, key)
	o.mu.Unlock()
	if ok {
		o.save()
	}
}

func (o *outbox) save() {
	if err := o.file.save(); err != nil {
		o.logger.Error("pending notifications not saved: they are lost if gatewatch is killed before the next save", "err", err)
	}
}

// mergeAlerts updates the held alerts with the ones of a new attempt (by
// label set), keeping alerts the attempt no longer carries.
func mergeAlerts(held []PendingAlert, alerts []*alert.Alert) []PendingAlert {
	byFP := map[model.Fingerprint]int{}
	for i, a := range held {
		byFP[labelSet(a.Labels).Fingerprint()] = i
	}
	for _, a := range alerts {
		pa := PendingAlert{Labels: labelMap(a.Labels), Annotations: labelMap(a.Annotations), StartsAt: a.StartsAt, EndsAt: a.EndsAt, GeneratorURL: a.GeneratorURL}
		if i, ok := byFP[a.Fingerprint()]; ok {
			held[i] = pa
			continue
		}
		byFP[a.Fingerprint()] = len(held)
		held = append(held, pa)
	}
	return held
}

func labelMap(ls model.LabelSet) map[string]string {
	m := make(map[string]string, len(ls))
	for k, v := range ls {
		m[string(k)] = string(v)
	}
	return m
}

func labelSet(m map[string]string) model.LabelSet {
	ls := make(model.LabelSet, len(m))
	for k, v := range m {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls
}

// holdingNotifier puts the outbox around gatewatch's Mattermost notifier:
// a failed attempt is held, a delivered one releases the group.
type holdingNotifier struct {
	n   *mattermost.Notifier
	box *outbox
	rcv *nflogpb.Receiver
}

func (h holdingNotifier) Notify(ctx context.Context, alerts ...*alert.Alert) notify.NotifyVerdict {
	v := h.n.Notify(ctx, alerts...)
	if v.Err() != nil {
		h.box.hold(ctx, h.rcv, alerts, v.Err(), time.Now())
	} else {
		h.box.release(ctx, h.rcv)
	}
	return v
}

// alertSource is where the outbox looks up the current state of a held
// alert: Alertmanager's store.
type alertSource interface {
	Get(model.Fingerprint) (*alert.Alert, error)
}

// settle is how long after a start the outbox waits before it takes an
// alert missing from the store as resolved: the rules need a few
// evaluations to send the alerts still firing again.
const settle = 2 * time.Minute

// refresh updates the held alerts from the store: an alert that resolved
// gets its end; one missing from the store (garbage-collected, or the
// store is new after a restart) is taken as resolved by now, once the
// rules had time to send it again.
func (o *outbox) refresh(store alertSource, now time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, p := range o.pending {
		for i, a := range p.Alerts {
			cur, err := store.Get(labelSet(a.Labels).Fingerprint())
			switch {
			case err == nil:
				p.Alerts[i].EndsAt = cur.EndsAt
				p.Alerts[i].Annotations = labelMap(cur.Annotations)
			case now.Sub(o.started) >= settle && (a.EndsAt.IsZero() || a.EndsAt.After(now)):
				p.Alerts[i].EndsAt = now
			}
		}
	}
}

// lateSender posts a late message for a group.
type lateSender interface {
	NotifyLate(ctx context.Context, note string, alerts ...*alert.Alert) error
}

// deliverResolved posts every held group whose alerts all resolved and
// that Alertmanager will not send (no notification of it is logged), and
// gives up on those older than maxAge.
//
// With replicas, each one holds the group (each tried in its turn); the
// replica at position i posts only wait (= i × peer timeout) after the
// group resolved, and logs the late message in the notification log, which
// gossip brings to the others before their turn: they forget the group.
func (o *outbox) deliverResolved(ctx context.Context, log notify.NotificationLog, send lateSender, now time.Time, wait time.Duration) {
	for _, p := range o.list() {
		if !p.Resolved(now) || now.Sub(p.resolvedAt()) < wait {
			continue
		}
		if coveredSince(log, &p) {
			o.forget(p.key())
			continue
		}
		if now.Sub(p.FirstFailed) > o.maxAge {
			o.dropped.Inc()
			o.logger.Error("undelivered alert group given up after the maximum pending age", "group", p.GroupKey, "first_failed", p.FirstFailed, "max_age", o.maxAge, "last_error", p.LastError)
			o.forget(p.key())
			continue
		}
		if err := o.sendLate(ctx, send, &p, now); err != nil {
			o.mu.Lock()
			if held, ok := o.pending[p.key()]; ok {
				held.LastAttempt, held.LastError = now, err.Error()
				held.Attempts++
			}
			o.mu.Unlock()
			continue
		}
		o.late.Inc()
		o.logger.Info("alert group that fired and resolved while Mattermost was unreachable delivered late", "group", p.GroupKey, "first_failed", p.FirstFailed)
		if err := log.Log(p.receiver(), p.GroupKey, nil, nil, nil, nil, o.maxAge); err != nil {
			o.logger.Warn("late message not logged: another replica may post it too", "group", p.GroupKey, "err", err)
		}
		o.forget(p.key())
	}
}

// coveredSince says whether Alertmanager's pipeline (or another replica)
// covers the group: the notification log's entry for it either announced
// firing alerts (the pipeline then sends the resolve itself) or was
// written after this replica's first failure (a message got through since).
// An older entry with nothing firing is a previous incident's.
func coveredSince(log notify.NotificationLog, p *PendingNotification) bool {
	entries, err := log.Query(nflog.QGroupKey(p.GroupKey), nflog.QReceiver(p.receiver()))
	if err != nil || len(entries) == 0 {
		return false
	}
	e := entries[0]
	return len(e.FiringAlerts) > 0 || !e.Timestamp.AsTime().Before(p.FirstFailed)
}

// resolvedAt is when the group's last alert resolved.
func (p PendingNotification) resolvedAt() time.Time {
	var last time.Time
	for _, a := range p.Alerts {
		last = maxTime(last, a.EndsAt)
	}
	return last
}

func (o *outbox) sendLate(ctx context.Context, send lateSender, p *PendingNotification, now time.Time) error {
	ctx = notify.WithGroupKey(ctx, p.GroupKey)
	ctx = notify.WithGroupLabels(ctx, labelSet(p.GroupLabels))
	ctx = notify.WithReceiverName(ctx, p.Receiver)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var alerts []*alert.Alert
	first, last := p.Alerts[0].StartsAt, p.Alerts[0].EndsAt
	for _, a := range p.Alerts {
		alerts = append(alerts, &alert.Alert{Alert: model.Alert{Labels: labelSet(a.Labels), Annotations: labelSet(a.Annotations),
			StartsAt: a.StartsAt, EndsAt: a.EndsAt, GeneratorURL: a.GeneratorURL}, UpdatedAt: now})
		first, last = minTime(first, a.StartsAt), maxTime(last, a.EndsAt)
	}
	note := fmt.Sprintf("Fired at %s and resolved at %s while Mattermost was unreachable; delivered late at %s.",
		first.UTC().Format("15:04:05"), last.UTC().Format("15:04:05 MST"), now.UTC().Format("15:04:05 MST"))
	if first.UTC().YearDay() != now.UTC().YearDay() {
		note = fmt.Sprintf("Fired at %s and resolved at %s while Mattermost was unreachable; delivered late at %s.",
			first.UTC().Format(time.DateTime), last.UTC().Format(time.DateTime+" MST"), now.UTC().Format(time.DateTime+" MST"))
	}
	return send.NotifyLate(ctx, note, alerts...)
}

func (o *outbox) forget(key string) {
	o.mu.Lock()
	delete(o.pending, key)
	o.mu.Unlock()
	o.save()
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

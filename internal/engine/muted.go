package engine

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/alertmanager/nflog"
	"github.com/prometheus/alertmanager/nflog/nflogpb"
	"github.com/prometheus/alertmanager/notify"
)

// A group that resolves while a silence mutes it is never notified:
// Alertmanager's pipeline stops at the silence stage, and its notification
// log keeps the firing entry. In bot mode that would leave the group's post
// red, "silenced until 14:05", for an incident long over. resolveMuted runs
// after each receiver's pipeline: when every alert of the flushed group has
// resolved and the log still holds the firing notification (the resolve was
// not delivered), it edits the post to resolved without a thread reply (the
// silence asked for no notification) and logs the group as resolved, so the
// next firing is a new post. A muted pipeline stops before its position
// wait, so resolveMuted waits its replica's turn itself (position × peer
// timeout); the first replica's log entry reaches the others by gossip
// before theirs. Alertmanager drops the group after this flush, so a failed
// edit is tried a few times here; the group is logged resolved either way.
type resolveMuted struct {
	inner        notify.Stage
	p            *alertingPart
	receiver     string
	integrations int
	expiry       time.Duration
}

func (s resolveMuted) Exec(ctx context.Context, l *slog.Logger, alerts ...*alert.Alert) (context.Context, []*alert.Alert, error) {
	ctx, out, err := s.inner.Exec(ctx, l, alerts...)
	if err != nil || len(alerts) == 0 {
		return ctx, out, err
	}
	for _, a := range alerts {
		if !a.Resolved() {
			return ctx, out, err
		}
	}
	gkey, ok := notify.GroupKey(ctx)
	if !ok {
		return ctx, out, err
	}
	s.p.mu.Lock()
	n := s.p.notifier
	s.p.mu.Unlock()
	if n == nil || n.Bot() == nil {
		return ctx, out, err
	}
	if !sleepCtx(ctx, s.p.cluster.wait()) {
		return ctx, out, err
	}
	for i := 0; i < s.integrations; i++ {
		rcv := &nflogpb.Receiver{GroupName: s.receiver, Integration: "mattermost", Idx: uint32(i)}
		entries, qerr := s.p.nflog.Query(nflog.QGroupKey(gkey), nflog.QReceiver(rcv))
		if qerr != nil || len(entries) == 0 || len(entries[0].FiringAlerts) == 0 {
			continue // delivered as usual, by another replica, or never posted
		}
		store := nflog.NewStore(entries[0])
		var rerr error
		for try := 0; try < 3; try++ {
			if rerr = n.ResolveQuietly(notify.WithNflogStore(ctx, store), alerts...); rerr == nil || !sleepCtx(ctx, 2*time.Second) {
				break
			}
		}
		if rerr != nil {
			s.p.logger.Error("the post of a group that resolved while silenced was not edited: it still shows firing", "group", gkey, "err", rerr)
		} else {
			s.p.logger.Info("group resolved while silenced: its post edited to resolved, no notification", "group", gkey)
		}
		// Resolved either way: the next firing is a new incident.
		if lerr := s.p.nflog.Log(rcv, gkey, nil, nil, nil, store, s.expiry); lerr != nil {
			s.p.logger.Warn("resolved-while-silenced group not logged", "group", gkey, "err", lerr)
		}
	}
	return ctx, out, err
}

// sleepCtx waits d, or less if ctx ends (then it returns false).
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

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
// next firing is a new post. With replicas, it runs after the pipeline's
// position wait, and the first replica's log entry reaches the others by
// gossip before their turn.
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
	for i := 0; i < s.integrations; i++ {
		rcv := &nflogpb.Receiver{GroupName: s.receiver, Integration: "mattermost", Idx: uint32(i)}
		entries, qerr := s.p.nflog.Query(nflog.QGroupKey(gkey), nflog.QReceiver(rcv))
		if qerr != nil || len(entries) == 0 || len(entries[0].FiringAlerts) == 0 {
			continue // delivered as usual, or never posted
		}
		store := nflog.NewStore(entries[0])
		if rerr := n.ResolveQuietly(notify.WithNflogStore(ctx, store), alerts...); rerr != nil {
			s.p.logger.Warn("post of a group that resolved while silenced not edited", "group", gkey, "err", rerr)
			continue
		}
		if lerr := s.p.nflog.Log(rcv, gkey, nil, nil, nil, store, s.expiry); lerr != nil {
			s.p.logger.Warn("resolved-while-silenced post edited but not logged", "group", gkey, "err", lerr)
		}
		s.p.logger.Info("group resolved while silenced: its post edited to resolved, no notification", "group", gkey)
	}
	return ctx, out, err
}

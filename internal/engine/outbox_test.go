package engine

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/alertmanager/nflog"
	"github.com/prometheus/alertmanager/nflog/nflogpb"
	"github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"
)

type lateRecorder struct {
	notes []string
	err   error
}

func (l *lateRecorder) NotifyLate(_ context.Context, note string, _ ...*alert.Alert) error {
	l.notes = append(l.notes, note)
	return l.err
}

type noAlerts struct{}

func (noAlerts) Get(model.Fingerprint) (*alert.Alert, error) { return nil, errors.New("not found") }

func testOutbox(t *testing.T, path string, maxAge time.Duration) *outbox {
	t.Helper()
	reg := prometheus.NewRegistry()
	o, err := newOutbox(path, maxAge, newStateMetrics(reg), reg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	return o
}

// TestOutboxKeepsPendingAcrossRestartsAndGivesUpAfterMaxAge: a held group
// is on disk at once (a new outbox on the same file has it), it is posted
// late once resolved, and given up (not posted) after the maximum age.
func TestOutboxKeepsPendingAcrossRestartsAndGivesUpAfterMaxAge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.json")
	rcv := &nflogpb.Receiver{GroupName: "mattermost", Integration: "mattermost"}
	start := time.Date(2026, 12, 1, 10, 2, 0, 0, time.UTC)
	ctx := notify.WithGroupKey(context.Background(), `{}:{gateway="g"}`)
	a := &alert.Alert{Alert: model.Alert{Labels: model.LabelSet{"alertname": "GatewayMisdirectedRequest421", "gateway": "g"}, StartsAt: start, EndsAt: start.Add(4 * time.Minute)}}
	testOutbox(t, path, time.Hour).hold(ctx, rcv, []*alert.Alert{a}, errors.New("connection refused"), start)

	o := testOutbox(t, path, time.Hour) // "restarted"
	require.Len(t, o.list(), 1)
	require.Equal(t, "connection refused", o.list()[0].LastError)
	log, err := nflog.New(nflog.Options{Retention: time.Hour, Metrics: prometheus.NewRegistry()})
	require.NoError(t, err)

	send := &lateRecorder{err: errors.New("still down")}
	o.deliverResolved(context.Background(), log, send, start.Add(5*time.Minute), 0)
	require.Len(t, o.list(), 1, "kept while the late post fails")
	send.err = nil
	o.deliverResolved(context.Background(), log, send, start.Add(6*time.Minute), 0)
	require.Len(t, send.notes, 2)
	require.Equal(t, "Fired at 10:02:00 and resolved at 10:06:00 UTC while Mattermost was unreachable; delivered late at 10:08:00 UTC.", send.notes[1])
	require.Empty(t, o.list())

	old := testOutbox(t, filepath.Join(t.TempDir(), "outbox.json"), time.Hour)
	old.hold(ctx, rcv, []*alert.Alert{a}, errors.New("connection refused"), start)
	send = &lateRecorder{}
	old.deliverResolved(context.Background(), log, send, start.Add(2*time.Hour), 0)
	require.Empty(t, send.notes, "given up after the maximum age")
	require.Empty(t, old.list())
}

// fakeLog is a notification log shared by "replicas" (as gossip makes it)
// with a clock the test sets.
type fakeLog struct {
	now     time.Time
	entries map[string]*nflogpb.Entry
}

func (f *fakeLog) Log(r *nflogpb.Receiver, gkey string, firing, resolved, _ []uint64, _ *nflog.Store, _ time.Duration) error {
	f.entries[gkey] = &nflogpb.Entry{GroupKey: []byte(gkey), Receiver: r, FiringAlerts: firing, ResolvedAlerts: resolved, Timestamp: timestamppb.New(f.now)}
	return nil
}

func (f *fakeLog) Query(params ...nflog.QueryParam) ([]*nflogpb.Entry, error) {
	for _, e := range f.entries {
		return []*nflogpb.Entry{e}, nil
	}
	return nil, nflog.ErrNotFound
}

// TestOutboxLateMessageOnceAcrossReplicas: two replicas hold the same
// group; a previous incident's entry in the log (nothing firing, older than
// the failure) does not stop the late message; the replica at position 1
// waits its turn, position 0 posts and logs it, and position 1 then forgets
// the group without posting.
func TestOutboxLateMessageOnceAcrossReplicas(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	log := &fakeLog{now: t0, entries: map[string]*nflogpb.Entry{}}
	gkey := `{}:{gateway="g"}`
	rcv := &nflogpb.Receiver{GroupName: "mattermost", Integration: "mattermost"}
	require.NoError(t, log.Log(rcv, gkey, nil, []uint64{1}, nil, nil, time.Hour), "yesterday's incident, resolved and announced")

	ctx := notify.WithGroupKey(context.Background(), gkey)
	a := &alert.Alert{Alert: model.Alert{Labels: model.LabelSet{"alertname": "GatewayMisdirectedRequest421", "gateway": "g"},
		StartsAt: t0.Add(2 * time.Minute), EndsAt: t0.Add(6 * time.Minute)}}
	first := testOutbox(t, filepath.Join(t.TempDir(), "outbox.json"), 24*time.Hour)
	second := testOutbox(t, filepath.Join(t.TempDir(), "outbox.json"), 24*time.Hour)
	first.hold(ctx, rcv, []*alert.Alert{a}, errors.New("connection refused"), t0.Add(2*time.Minute))
	second.hold(ctx, rcv, []*alert.Alert{a}, errors.New("connection refused"), t0.Add(2*time.Minute))

	sendSecond := &lateRecorder{}
	resolved := t0.Add(6 * time.Minute)
	second.deliverResolved(context.Background(), log, sendSecond, resolved.Add(5*time.Second), 15*time.Second)
	require.Empty(t, sendSecond.notes, "position 1 waits its turn after the resolve")
	sendFirst := &lateRecorder{}
	log.now = resolved.Add(5 * time.Second)
	first.deliverResolved(context.Background(), log, sendFirst, resolved.Add(5*time.Second), 0)
	require.Len(t, sendFirst.notes, 1, "position 0 posts, despite the previous incident's entry")
	second.deliverResolved(context.Background(), log, sendSecond, t0.Add(8*time.Minute), 15*time.Second)
	require.Empty(t, sendSecond.notes, "the logged late message covers the group")
	require.Empty(t, second.list())
}

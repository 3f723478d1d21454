package engine

import (
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/alertmanager/nflog"
	"github.com/prometheus/alertmanager/nflog/nflogpb"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatewatch/gatewatch/internal/atomicfile"
)

// Alertmanager writes its notification log and silences to disk every 15
// minutes and on a clean exit; a SIGKILL or an OOM kill in between forgets
// silences and repeats notifications. gatewatch writes each of them on
// every change instead: a notification is logged on disk before the
// pipeline counts it as sent, and a silence is on disk before the API
// answers. The files are Alertmanager's own snapshot format, so the
// periodic maintenance (garbage collection) and the loading at start stay
// Alertmanager's.

// snapshotter is Alertmanager's state type that can write its snapshot.
type snapshotter interface {
	Snapshot(io.Writer) (int64, error)
}

// stateFile replaces one snapshot file atomically: write a temporary file
// in the same folder, fsync it, rename it over the old one, fsync the
// folder. A crash at any point leaves the old or the new snapshot whole.
type stateFile struct {
	mu    sync.Mutex
	path  string
	state snapshotter
	saves prometheus.Counter
	fails prometheus.Counter
	took  prometheus.Observer
}

func newStateFile(path, name string, state snapshotter, m *stateMetrics) *stateFile {
	return &stateFile{path: path, state: state,
		saves: m.saves.WithLabelValues(name), fails: m.fails.WithLabelValues(name), took: m.duration.WithLabelValues(name)}
}

// save writes the current state.
func (f *stateFile) save() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	start := time.Now()
	if err := f.write(); err != nil {
		f.fails.Inc()
		return fmt.Errorf("save %s: %w", filepath.Base(f.path), err)
	}
	f.took.Observe(time.Since(start).Seconds())
	f.saves.Inc()
	return nil
}

func (f *stateFile) write() error {
	return atomicfile.Write(f.path, 0o600, func(w io.Writer) error {
		_, err := f.state.Snapshot(w)
		return err
	})
}

// stateMetrics count the saves of each state file.
type stateMetrics struct {
	saves, fails *prometheus.CounterVec
	duration     *prometheus.HistogramVec
}

func newStateMetrics(reg prometheus.Registerer) *stateMetrics {
	m := &stateMetrics{
		saves: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatewatch_state_saves_total",
			Help: "Saves of the notification log and silences to the data directory (one per change).",
		}, []string{"state"}),
		fails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatewatch_state_save_failures_total",
			Help: "Failed saves of the notification log and silences.",
		}, []string{"state"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatewatch_state_save_duration_seconds",
			Help:    "Time to write and fsync one state snapshot.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 8),
		}, []string{"state"}),
	}
	reg.MustRegister(m.saves, m.fails, m.duration)
	return m
}

// durableLog is the notification log the pipeline writes through: the
// entry is on disk before SetNotifiesStage returns, so a notification
// counted as sent is never sent again after a kill.
type durableLog struct {
	log  *nflog.Log
	file *stateFile
}

// Log records the notification and saves the log. A failed save fails the
// stage, as a failed log write does in Alertmanager: the notification
// may then be repeated, never lost.
func (d durableLog) Log(r *nflogpb.Receiver, gkey string, firing, resolved, muted []uint64, store *nflog.Store, expiry time.Duration) error {
	if err := d.log.Log(r, gkey, firing, resolved, muted, store, expiry); err != nil {
		return err
	}
	return d.file.save()
}

// Query reads the log.
func (d durableLog) Query(params ...nflog.QueryParam) ([]*nflogpb.Entry, error) {
	return d.log.Query(params...)
}

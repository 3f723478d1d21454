package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/nflog"
	"github.com/prometheus/alertmanager/nflog/nflogpb"
	"github.com/prometheus/alertmanager/silence"
	"github.com/prometheus/alertmanager/silence/silencepb"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// BenchmarkStateSave: the cost durable.go adds to each notification (a log
// entry written, then the whole log saved and fsynced) and to each silence
// change, with 100 groups already in the log and 100 silences, on the
// data dir's file system (the test's temporary folder).
func BenchmarkStateSave(b *testing.B) {
	m := newStateMetrics(prometheus.NewRegistry())
	b.Run("notification", func(b *testing.B) {
		log, err := nflog.New(nflog.Options{Retention: time.Hour, Metrics: prometheus.NewRegistry()})
		if err != nil {
			b.Fatal(err)
		}
		d := durableLog{log: log, file: newStateFile(filepath.Join(b.TempDir(), "nflog"), "nflog", log, m)}
		rcv := &nflogpb.Receiver{GroupName: "mattermost", Integration: "mattermost"}
		for i := range 100 {
			if err := d.Log(rcv, fmt.Sprintf("{}:{gateway=\"g%d\"}", i), []uint64{uint64(i)}, nil, nil, nil, time.Hour); err != nil {
				b.Fatal(err)
			}
		}
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			if err := d.Log(rcv, "{}:{gateway=\"g0\"}", []uint64{uint64(i)}, nil, nil, nil, time.Hour); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("silence", func(b *testing.B) {
		sil, err := silence.New(silence.Options{Retention: time.Hour, Metrics: prometheus.NewRegistry()})
		if err != nil {
			b.Fatal(err)
		}
		f := newStateFile(filepath.Join(b.TempDir(), "silences"), "silences", sil, m)
		add := func(i int) {
			now := time.Now()
			s := &silencepb.Silence{StartsAt: timestamppb.New(now), EndsAt: timestamppb.New(now.Add(time.Hour)), CreatedBy: "b", Comment: "c",
				MatcherSets: []*silencepb.MatcherSet{{Matchers: []*silencepb.Matcher{{Name: "gateway", Pattern: fmt.Sprintf("g%d", i)}}}}}
			if err := sil.Set(context.Background(), s); err != nil {
				b.Fatal(err)
			}
			if err := f.save(); err != nil {
				b.Fatal(err)
			}
		}
		for i := range 100 {
			add(i)
		}
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			add(100 + i)
		}
	})
}

package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	amlabels "github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/alertmanager/silence"
	pb "github.com/prometheus/alertmanager/silence/silencepb"
	"github.com/prometheus/prometheus/promql/parser"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Query evaluates an instant PromQL query against the engine's TSDB.
func (e *Engine) Query(ctx context.Context, q string, ts time.Time) (parser.Value, error) {
	e.mu.RLock()
	db, qe := e.db, e.queryEngine
	e.mu.RUnlock()
	if db == nil {
		return nil, errNotStarted
	}
	qry, err := qe.NewInstantQuery(ctx, db, nil, q, ts)
	if err != nil {
		return nil, err
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	return res.Value, res.Err
}

// QueryRange evaluates a range PromQL query.
func (e *Engine) QueryRange(ctx context.Context, q string, start, end time.Time, step time.Duration) (parser.Value, error) {
	e.mu.RLock()
	db, qe := e.db, e.queryEngine
	e.mu.RUnlock()
	if db == nil {
		return nil, errNotStarted
	}
	qry, err := qe.NewRangeQuery(ctx, db, nil, q, start, end, step)
	if err != nil {
		return nil, err
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	return res.Value, res.Err
}

// Silence is a silence for the status page.
type Silence struct {
	ID        string
	Matchers  string
	StartsAt  time.Time
	EndsAt    time.Time
	CreatedBy string
	Comment   string
	State     string
}

func (e *Engine) silences() (*silence.Silences, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.alerts == nil {
		return nil, errNotStarted
	}
	return e.alerts.silences, nil
}

// saveSilences puts a silence change on disk before the API answers.
func (e *Engine) saveSilences() error {
	e.mu.RLock()
	p := e.alerts
	e.mu.RUnlock()
	if err := p.silFile.save(); err != nil {
		e.logger.Error("silence changed but not saved: it is lost if gatewatch is killed before the next save", "err", err)
		return err
	}
	return nil
}

// Silences lists active and pending silences, and expired ones of the last day.
func (e *Engine) Silences(ctx context.Context) ([]Silence, error) {
	s, err := e.silences()
	if err != nil {
		return nil, err
	}
	list, _, err := s.Query(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	var out []Silence
	for _, sil := range list {
		st := silence.StateAt(sil.StartsAt.AsTime(), sil.EndsAt.AsTime(), now)
		if st == silence.SilenceStateExpired && now.Sub(sil.EndsAt.AsTime()) > 24*time.Hour {
			continue
		}
		var sets []string
		for _, set := range sil.MatcherSets {
			sets = append(sets, matchersString(set.Matchers))
		}
		if len(sets) == 0 {
			sets = append(sets, matchersString(sil.Matchers))
		}
		out = append(out, Silence{ID: sil.Id, Matchers: strings.Join(sets, " or "), StartsAt: sil.StartsAt.AsTime(), EndsAt: sil.EndsAt.AsTime(),
			CreatedBy: sil.CreatedBy, Comment: sil.Comment, State: string(st)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].EndsAt.After(out[j].EndsAt) })
	return out, nil
}

func matchersString(matchers []*pb.Matcher) string {
	var ms []string
	for _, m := range matchers {
		op := "="
		switch m.Type {
		case pb.Matcher_REGEXP:
			op = "=~"
		case pb.Matcher_NOT_EQUAL:
			op = "!="
		case pb.Matcher_NOT_REGEXP:
			op = "!~"
		}
		ms = append(ms, fmt.Sprintf("%s%s%q", m.Name, op, m.Pattern))
	}
	return strings.Join(ms, ", ")
}

// AddSilence creates a silence with Alertmanager's matchers (equal, not
// equal, regex, negated regex) for d, and returns its id.
func (e *Engine) AddSilence(ctx context.Context, matchers []*amlabels.Matcher, d time.Duration, createdBy, comment string) (string, error) {
	s, err := e.silences()
	if err != nil {
		return "", err
	}
	if len(matchers) == 0 {
		return "", errors.New("a silence needs at least one matcher")
	}
	if d <= 0 {
		return "", errors.New("a silence needs a positive duration")
	}
	if createdBy == "" || comment == "" {
		return "", errors.New("a silence needs who created it and a comment")
	}
	now := time.Now()
	sil := &pb.Silence{StartsAt: timestamppb.New(now), EndsAt: timestamppb.New(now.Add(d)), CreatedBy: createdBy, Comment: comment}
	set := &pb.MatcherSet{}
	for _, m := range matchers {
		typ := pb.Matcher_EQUAL
		switch m.Type {
		case amlabels.MatchNotEqual:
			typ = pb.Matcher_NOT_EQUAL
		case amlabels.MatchRegexp:
			typ = pb.Matcher_REGEXP
		case amlabels.MatchNotRegexp:
			typ = pb.Matcher_NOT_REGEXP
		}
		set.Matchers = append(set.Matchers, &pb.Matcher{Type: typ, Name: m.Name, Pattern: m.Value})
	}
	sort.Slice(set.Matchers, func(i, j int) bool { return set.Matchers[i].Name < set.Matchers[j].Name })
	sil.MatcherSets = []*pb.MatcherSet{set}
	if err := s.Set(ctx, sil); err != nil {
		return "", err
	}
	if err := e.saveSilences(); err != nil {
		return sil.Id, fmt.Errorf("silence %s is active but not saved: %w", sil.Id, err)
	}
	return sil.Id, nil
}

// ExpireSilence ends a silence now.
func (e *Engine) ExpireSilence(ctx context.Context, id string) error {
	s, err := e.silences()
	if err != nil {
		return err
	}
	if err := s.Expire(ctx, id); err != nil {
		return err
	}
	return e.saveSilences()
}

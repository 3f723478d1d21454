package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	amlabels "github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/alertmanager/silence"
	pb "github.com/prometheus/alertmanager/silence/silencepb"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Query API limits (Options.Query*): Prometheus's defaults are 2m, 50 000 000
// samples and 20 queries, sized for a server with gigabytes to spare; a
// single `count_over_time(vector(1)[2y:1s])` then holds gigabytes.
const (
	DefaultQueryTimeout        = 30 * time.Second
	DefaultQueryMaxSamples     = 1_000_000
	DefaultQueryMaxConcurrency = 2
)

// apiQuerier returns the TSDB and the query API's engine once a query slot
// is free (or ctx ends); release frees the slot.
func (e *Engine) apiQuerier(ctx context.Context) (db storage.Queryable, qe *promql.Engine, release func(), err error) {
	e.mu.RLock()
	tdb, qe, slots := e.db, e.apiEngine, e.apiSlots
	e.mu.RUnlock()
	if tdb == nil { // before the interface conversion: a nil *tsdb.DB in a Queryable is not nil
		return nil, nil, nil, errNotStarted
	}
	db = tdb
	select {
	case slots <- struct{}{}:
		return db, qe, func() { <-slots }, nil
	case <-ctx.Done():
		return nil, nil, nil, fmt.Errorf("waiting for a query slot (%d run at once): %w", cap(slots), ctx.Err())
	}
}

// defaultSubqueryStep is the step of a subquery that names none (the
// query API engine's NoStepSubqueryIntervalFn).
const defaultSubqueryStep = time.Minute

// checkSubqueries refuses a query whose subqueries would produce more
// points for one series than the sample limit. Prometheus counts a range
// evaluation's output only when it is complete, so without this check
// `count_over_time(vector(1)[2y:1s])` builds 63 million points (about a
// gigabyte) before the limit can refuse it. steps is the number of outer
// evaluation steps (1 for an instant query).
func (e *Engine) checkSubqueries(q string, steps int64) error {
	expr, err := parser.NewParser(parser.Options{}).ParseExpr(q)
	if err != nil {
		return nil // the engine reports the syntax error itself
	}
	limit := int64(e.opts.QueryMaxSamples)
	var worst int64
	parser.Inspect(expr, func(n parser.Node, path []parser.Node) error {
		if _, ok := n.(*parser.SubqueryExpr); !ok {
			return nil
		}
		points := steps
		for _, a := range append(path, n) {
			if sq, ok := a.(*parser.SubqueryExpr); ok {
				points = saturatingMul(points, subquerySteps(sq))
			}
		}
		worst = max(worst, points)
		return nil
	})
	if worst > limit {
		return promql.ErrTooManySamples(fmt.Sprintf("subqueries of %d steps per series, over the limit of %d samples (--query.max-samples)", worst, limit))
	}
	return nil
}

func subquerySteps(sq *parser.SubqueryExpr) int64 {
	step := sq.Step
	if step <= 0 {
		step = defaultSubqueryStep
	}
	return int64(sq.Range/step) + 1
}

func saturatingMul(a, b int64) int64 {
	if a != 0 && b > math.MaxInt64/a {
		return math.MaxInt64
	}
	return a * b
}

// Query evaluates an instant PromQL query against the engine's TSDB,
// within the query limits.
func (e *Engine) Query(ctx context.Context, q string, ts time.Time) (parser.Value, error) {
	if err := e.checkSubqueries(q, 1); err != nil {
		return nil, err
	}
	db, qe, release, err := e.apiQuerier(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	qry, err := qe.NewInstantQuery(ctx, db, nil, q, ts)
	if err != nil {
		return nil, err
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	return res.Value, res.Err
}

// QueryRange evaluates a range PromQL query within the query limits.
func (e *Engine) QueryRange(ctx context.Context, q string, start, end time.Time, step time.Duration) (parser.Value, error) {
	if step > 0 {
		if err := e.checkSubqueries(q, int64(end.Sub(start)/step)+1); err != nil {
			return nil, err
		}
	}
	db, qe, release, err := e.apiQuerier(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
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

package engine

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/timestamp"
	prules "github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/scrape"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"
)

// What the Prometheus HTTP API's metadata endpoints read (series, labels,
// label values, targets, rules, alerts; internal/web/promapi.go serves
// them): the TSDB through the query API's slots, the scrape manager's
// targets and the rule manager's groups, as Prometheus's own API reads them
// through its TargetRetriever and RulesRetriever.

// MaxCatalogResults bounds what one series, labels or label values request
// returns, and so holds in memory: a request for more, or for no limit,
// gets this many and Prometheus's "results truncated due to limit" warning.
const MaxCatalogResults = 10_000

// errTruncated is Prometheus's warning for a result cut at the limit.
var errTruncated = errors.New("results truncated due to limit")

// checkEvery is how many series Series reads between checks of ctx.
const checkEvery = 1000

// catalogLimit is limit bounded by MaxCatalogResults (0: no limit asked).
func catalogLimit(limit int) int {
	if limit <= 0 || limit > MaxCatalogResults {
		return MaxCatalogResults
	}
	return limit
}

// catalogQuerier opens a storage querier over [start, end] once a query
// slot is free; release closes it and frees the slot.
func (e *Engine) catalogQuerier(ctx context.Context, start, end time.Time) (storage.Querier, func(), error) {
	// apiQuerier's nil check sees a nil *tsdb.DB in a non-nil
	// storage.Queryable, and would then wait on a nil slot channel until
	// ctx ends: check here before asking it.
	e.mu.RLock()
	started := e.db != nil
	e.mu.RUnlock()
	if !started {
		return nil, nil, errNotStarted
	}
	db, _, release, err := e.apiQuerier(ctx)
	if err != nil {
		return nil, nil, err
	}
	q, err := db.Querier(timestamp.FromTime(start), timestamp.FromTime(end))
	if err != nil {
		release()
		return nil, nil, err
	}
	return q, func() { _ = q.Close(); release() }, nil
}

// Series returns the label sets of the series matching any of matcherSets
// with samples between start and end, sorted, at most limit of them
// (bounded by MaxCatalogResults; 0: that bound).
func (e *Engine) Series(ctx context.Context, matcherSets [][]*labels.Matcher, start, end time.Time, limit int) ([]labels.Labels, annotations.Annotations, error) {
	if len(matcherSets) == 0 {
		return nil, nil, errors.New("no match[] parameter provided")
	}
	limit = catalogLimit(limit)
	q, closeQ, err := e.catalogQuerier(ctx, start, end)
	if err != nil {
		return nil, nil, err
	}
	defer closeQ()
	// One more than the limit, so a cut result is told from a full one.
	hints := &storage.SelectHints{Start: timestamp.FromTime(start), End: timestamp.FromTime(end), Func: "series", Limit: limit + 1}
	var set storage.SeriesSet
	if len(matcherSets) == 1 {
		set = q.Select(ctx, true, hints, matcherSets[0]...)
	} else {
		sets := make([]storage.SeriesSet, 0, len(matcherSets))
		for _, ms := range matcherSets {
			sets = append(sets, q.Select(ctx, true, hints, ms...))
		}
		set = storage.NewMergeSeriesSet(sets, 0, storage.ChainedSeriesMerge)
	}
	var warnings annotations.Annotations
	out := []labels.Labels{}
	for set.Next() {
		if len(out)%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, warnings, err
			}
		}
		if len(out) == limit {
			warnings.Add(errTruncated)
			break
		}
		out = append(out, set.At().Labels())
	}
	if err := set.Err(); err != nil {
		return nil, warnings, err
	}
	warnings.Merge(set.Warnings())
	return out, warnings, nil
}

// LabelNames returns the sorted label names of the series matching any of
// matcherSets (every series when there is none) between start and end, at
// most limit of them (bounded by MaxCatalogResults).
func (e *Engine) LabelNames(ctx context.Context, matcherSets [][]*labels.Matcher, start, end time.Time, limit int) ([]string, annotations.Annotations, error) {
	limit = catalogLimit(limit)
	q, closeQ, err := e.catalogQuerier(ctx, start, end)
	if err != nil {
		return nil, nil, err
	}
	defer closeQ()
	return union(matcherSets, limit, func(ms []*labels.Matcher) ([]string, annotations.Annotations, error) {
		return q.LabelNames(ctx, &storage.LabelHints{Limit: limit + 1}, ms...)
	})
}

// LabelValues returns the sorted values of label name in the series
// matching any of matcherSets (every series when there is none) between
// start and end, at most limit of them (bounded by MaxCatalogResults).
func (e *Engine) LabelValues(ctx context.Context, name string, matcherSets [][]*labels.Matcher, start, end time.Time, limit int) ([]string, annotations.Annotations, error) {
	limit = catalogLimit(limit)
	q, closeQ, err := e.catalogQuerier(ctx, start, end)
	if err != nil {
		return nil, nil, err
	}
	defer closeQ()
	return union(matcherSets, limit, func(ms []*labels.Matcher) ([]string, annotations.Annotations, error) {
		return q.LabelValues(ctx, name, &storage.LabelHints{Limit: limit + 1}, ms...)
	})
}

// union joins what read returns for each matcher set (one call without
// matchers when there is none), sorted and cut at limit with the warning.
func union(matcherSets [][]*labels.Matcher, limit int, read func([]*labels.Matcher) ([]string, annotations.Annotations, error)) ([]string, annotations.Annotations, error) {
	if len(matcherSets) == 0 {
		matcherSets = [][]*labels.Matcher{nil}
	}
	var warnings annotations.Annotations
	seen := map[string]struct{}{}
	out := []string{}
	for _, ms := range matcherSets {
		vals, w, err := read(ms)
		warnings.Merge(w)
		if err != nil {
			return nil, warnings, err
		}
		for _, v := range vals {
			if _, ok := seen[v]; !ok {
				seen[v] = struct{}{}
				out = append(out, v)
			}
		}
	}
	slices.Sort(out)
	if len(out) > limit {
		out = out[:limit]
		warnings.Add(errTruncated)
	}
	return out, warnings, nil
}

// scrapeManager is the running scrape manager, nil before Start.
func (e *Engine) scrapeManager() *scrape.Manager {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.scrape == nil {
		return nil
	}
	return e.scrape.manager
}

// TargetsActive returns the scrape manager's active targets by scrape
// pool (job), as Prometheus's TargetRetriever does; nil before Start.
func (e *Engine) TargetsActive() map[string][]*scrape.Target {
	m := e.scrapeManager()
	if m == nil {
		return nil
	}
	return m.TargetsActive()
}

// TargetsDropped returns the targets the relabeling dropped (pods of the
// gateway namespace that are not the gateway, other ports) by scrape pool.
func (e *Engine) TargetsDropped() map[string][]*scrape.Target {
	m := e.scrapeManager()
	if m == nil {
		return nil
	}
	return m.TargetsDropped()
}

// TargetsDroppedCounts returns how many targets each pool dropped.
func (e *Engine) TargetsDroppedCounts() map[string]int {
	m := e.scrapeManager()
	if m == nil {
		return nil
	}
	return m.TargetsDroppedCounts()
}

// RuleGroups returns the rule manager's groups (one per gateway), as
// Prometheus's RulesRetriever does; nil before Start.
func (e *Engine) RuleGroups() []*prules.Group {
	e.mu.RLock()
	p := e.rules
	e.mu.RUnlock()
	if p == nil {
		return nil
	}
	return p.manager.RuleGroups()
}

package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/promql/parser"
	prules "github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/scrape"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/gatewatch/gatewatch/internal/engine"
)

// The rest of the Prometheus HTTP API that Grafana's Prometheus data
// source, `promtool query` and `gatewatch doctor --prometheus-url` read:
// /api/v1/series, /labels, /label/<name>/values, /targets, /rules, /alerts
// and /metadata, with Prometheus's JSON shapes
// (https://prometheus.io/docs/prometheus/latest/querying/api/). The types
// and handlers below follow github.com/prometheus/prometheus/web/api/v1
// (api.go) field for field; test/promapi_test.go compares their keys with
// the real Prometheus binary's answers for the same data.
//
// Prometheus's own handler (v1.NewAPI + Register) is not embedded: its
// package needs a module gatewatch does not build (the OpenAPI generator
// github.com/pb33f/libopenapi); its constructor takes some forty dependencies (remote
// read and write, OTLP, the TSDB admin API, notifications, flags, config)
// that gatewatch would fake; Register mounts all of its routes at once
// (remote write, OTLP and the TSDB admin API among them, each off by a
// flag); and it reads the TSDB without the query API's slots and without a
// bound on what series and label requests return.

// Catalog is what the metadata endpoints read: the TSDB's series and
// labels within the query API's slots and engine.MaxCatalogResults, and
// the scrape and rule managers' state (Prometheus's TargetRetriever and
// RulesRetriever). *engine.Engine is one.
type Catalog interface {
	Series(ctx context.Context, matcherSets [][]*labels.Matcher, start, end time.Time, limit int) ([]labels.Labels, annotations.Annotations, error)
	LabelNames(ctx context.Context, matcherSets [][]*labels.Matcher, start, end time.Time, limit int) ([]string, annotations.Annotations, error)
	LabelValues(ctx context.Context, name string, matcherSets [][]*labels.Matcher, start, end time.Time, limit int) ([]string, annotations.Annotations, error)
	TargetsActive() map[string][]*scrape.Target
	TargetsDropped() map[string][]*scrape.Target
	TargetsDroppedCounts() map[string]int
	RuleGroups() []*prules.Group
}

// registerPromAPI adds the metadata endpoints to mux.
func registerPromAPI(mux *http.ServeMux, c Catalog) {
	p := promAPI{c: c}
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		mux.HandleFunc(m+" /api/v1/series", p.series)
		mux.HandleFunc(m+" /api/v1/labels", p.labelNames)
	}
	mux.HandleFunc("GET /api/v1/label/{name}/values", p.labelValues)
	mux.HandleFunc("GET /api/v1/targets", p.targets)
	mux.HandleFunc("GET /api/v1/rules", p.rules)
	mux.HandleFunc("GET /api/v1/alerts", p.alerts)
	mux.HandleFunc("GET /api/v1/metadata", p.metadata)
}

type promAPI struct{ c Catalog }

// promResponse is Prometheus's success envelope (web/api/v1 Response),
// with the warnings a truncated result carries.
type promResponse struct {
	Status   string   `json:"status"`
	Data     any      `json:"data"`
	Warnings []string `json:"warnings,omitempty"`
	Infos    []string `json:"infos,omitempty"`
}

func respond(w http.ResponseWriter, data any, warnings annotations.Annotations) {
	warn, info := warnings.AsStrings("", 10, 10)
	writeJSON(w, http.StatusOK, promResponse{Status: "success", Data: data, Warnings: warn, Infos: info})
}

func badParam(w http.ResponseWriter, name string, err error) {
	apiError(w, http.StatusBadRequest, "bad_data", fmt.Errorf("invalid parameter %q: %w", name, err))
}

// Prometheus's defaults for an optional start and end (web/api/v1 MinTime
// and MaxTime).
var (
	minTime = time.Unix(math.MinInt64/1000+62135596801, 0).UTC()
	maxTime = time.Unix(math.MaxInt64/1000-62135596801, 999999999).UTC()
)

// rangeParams reads match[], start, end and limit as Prometheus's series
// and labels endpoints do; ok is false when it answered an error.
func rangeParams(w http.ResponseWriter, r *http.Request) (sets [][]*labels.Matcher, start, end time.Time, limit int, ok bool) {
	if err := r.ParseForm(); err != nil {
		apiError(w, http.StatusBadRequest, "bad_data", fmt.Errorf("error parsing form values: %w", err))
		return nil, start, end, 0, false
	}
	var err error
	if limit, err = parseLimit(r.Form.Get("limit")); err != nil {
		badParam(w, "limit", err)
		return nil, start, end, 0, false
	}
	for _, p := range []struct {
		name string
		def  time.Time
		dst  *time.Time
	}{{"start", minTime, &start}, {"end", maxTime, &end}} {
		if *p.dst, err = parseTime(r.Form.Get(p.name), p.def); err != nil {
			badParam(w, p.name, fmt.Errorf("invalid time value for '%s': %w", p.name, err))
			return nil, start, end, 0, false
		}
	}
	if sets, err = parseMatchers(r.Form["match[]"]); err != nil {
		badParam(w, "match[]", err)
		return nil, start, end, 0, false
	}
	return sets, start, end, limit, true
}

// parseLimit is Prometheus's: empty or 0 is no limit (here:
// engine.MaxCatalogResults), negative is an error.
func parseLimit(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, errors.New("limit must be non-negative")
	}
	return n, nil
}

// parseMatchers parses series selectors with Prometheus's parser; each
// needs a matcher that does not match the empty string, as in Prometheus
// (`{job=~".*"}` would select every series).
func parseMatchers(in []string) ([][]*labels.Matcher, error) {
	p := parser.NewParser(parser.Options{})
	sets := make([][]*labels.Matcher, 0, len(in))
	for _, s := range in {
		ms, err := p.ParseMetricSelector(s)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(ms, func(m *labels.Matcher) bool { return !m.Matches("") }) {
			return nil, errors.New("match[] must contain at least one non-empty matcher")
		}
		sets = append(sets, ms)
	}
	return sets, nil
}

func (p promAPI) series(w http.ResponseWriter, r *http.Request) {
	sets, start, end, limit, ok := rangeParams(w, r)
	if !ok {
		return
	}
	if len(sets) == 0 {
		apiError(w, http.StatusBadRequest, "bad_data", errors.New("no match[] parameter provided"))
		return
	}
	series, warnings, err := p.c.Series(r.Context(), sets, start, end, limit)
	if err != nil {
		queryError(w, err)
		return
	}
	respond(w, series, warnings)
}

func (p promAPI) labelNames(w http.ResponseWriter, r *http.Request) {
	sets, start, end, limit, ok := rangeParams(w, r)
	if !ok {
		return
	}
	names, warnings, err := p.c.LabelNames(r.Context(), sets, start, end, limit)
	if err != nil {
		queryError(w, err)
		return
	}
	respond(w, names, warnings)
}

func (p promAPI) labelValues(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if strings.HasPrefix(name, "U__") {
		name = model.UnescapeName(name, model.ValueEncodingEscaping)
	}
	if !model.UTF8Validation.IsValidLabelName(name) {
		apiError(w, http.StatusBadRequest, "bad_data", fmt.Errorf("invalid label name: %q", name))
		return
	}
	sets, start, end, limit, ok := rangeParams(w, r)
	if !ok {
		return
	}
	vals, warnings, err := p.c.LabelValues(r.Context(), name, sets, start, end, limit)
	if err != nil {
		queryError(w, err)
		return
	}
	respond(w, vals, warnings)
}

// promTarget is web/api/v1 Target.
type promTarget struct {
	DiscoveredLabels   labels.Labels       `json:"discoveredLabels"`
	Labels             labels.Labels       `json:"labels"`
	ScrapePool         string              `json:"scrapePool"`
	ScrapeURL          string              `json:"scrapeUrl"`
	GlobalURL          string              `json:"globalUrl"`
	LastError          string              `json:"lastError"`
	LastScrape         time.Time           `json:"lastScrape"`
	LastScrapeDuration float64             `json:"lastScrapeDuration"`
	Health             scrape.TargetHealth `json:"health"`
	ScrapeInterval     string              `json:"scrapeInterval"`
	ScrapeTimeout      string              `json:"scrapeTimeout"`
}

// promDroppedTarget is web/api/v1 DroppedTarget.
type promDroppedTarget struct {
	DiscoveredLabels labels.Labels `json:"discoveredLabels"`
	ScrapePool       string        `json:"scrapePool"`
}

// promTargets is web/api/v1 TargetDiscovery.
type promTargets struct {
	ActiveTargets       []promTarget        `json:"activeTargets"`
	DroppedTargets      []promDroppedTarget `json:"droppedTargets"`
	DroppedTargetCounts map[string]int      `json:"droppedTargetCounts"`
}

func sortedPools(m map[string][]*scrape.Target) []string {
	pools := make([]string, 0, len(m))
	for p := range m {
		pools = append(pools, p)
	}
	slices.Sort(pools)
	return pools
}

// targets answers ?state=active|dropped|any and ?scrapePool= as
// Prometheus does. globalUrl is the scrape URL: Prometheus rewrites only a
// target on its own host to its external URL, and gatewatch scrapes
// gateways, not itself.
func (p promAPI) targets(w http.ResponseWriter, r *http.Request) {
	pool := r.URL.Query().Get("scrapePool")
	state := strings.ToLower(r.URL.Query().Get("state"))
	showActive := state == "" || state == "any" || state == "active"
	showDropped := state == "" || state == "any" || state == "dropped"
	res := promTargets{ActiveTargets: []promTarget{}, DroppedTargets: []promDroppedTarget{}}
	var warnings annotations.Annotations
	b := labels.NewBuilder(labels.EmptyLabels())
	if showActive {
		active := p.c.TargetsActive()
		for _, name := range sortedPools(active) {
			if pool != "" && name != pool {
				continue
			}
			for _, t := range active[name] {
				lastErr := ""
				if err := t.LastError(); err != nil {
					lastErr = err.Error()
				}
				res.ActiveTargets = append(res.ActiveTargets, promTarget{
					DiscoveredLabels:   t.DiscoveredLabels(b),
					Labels:             t.Labels(b),
					ScrapePool:         name,
					ScrapeURL:          t.URL().String(),
					GlobalURL:          t.URL().String(),
					LastError:          lastErr,
					LastScrape:         t.LastScrape(),
					LastScrapeDuration: t.LastScrapeDuration().Seconds(),
					Health:             t.Health(),
					ScrapeInterval:     t.GetValue(model.ScrapeIntervalLabel),
					ScrapeTimeout:      t.GetValue(model.ScrapeTimeoutLabel),
				})
			}
		}
	}
	if showDropped {
		res.DroppedTargetCounts = p.c.TargetsDroppedCounts()
		dropped := p.c.TargetsDropped()
	pools:
		for _, name := range sortedPools(dropped) {
			if pool != "" && name != pool {
				continue
			}
			for _, t := range dropped[name] {
				// Every pod and port of a gateway's namespace that is not
				// the gateway's stats port is a dropped target: the list
				// is bounded like the series endpoints' (the counts are
				// complete).
				if len(res.DroppedTargets) == engine.MaxCatalogResults {
					warnings.Add(errors.New("dropped targets truncated due to limit"))
					break pools
				}
				res.DroppedTargets = append(res.DroppedTargets, promDroppedTarget{DiscoveredLabels: t.DiscoveredLabels(b), ScrapePool: name})
			}
		}
	}
	respond(w, res, warnings)
}

// promAlert is web/api/v1 Alert.
type promAlert struct {
	Labels          labels.Labels `json:"labels"`
	Annotations     labels.Labels `json:"annotations"`
	State           string        `json:"state"`
	ActiveAt        *time.Time    `json:"activeAt,omitempty"`
	KeepFiringSince *time.Time    `json:"keepFiringSince,omitempty"`
	Value           string        `json:"value"`
}

func promAlerts(as []*prules.Alert) []promAlert {
	out := make([]promAlert, 0, len(as))
	for _, a := range as {
		pa := promAlert{Labels: a.Labels, Annotations: a.Annotations, State: a.State.String(), ActiveAt: &a.ActiveAt,
			Value: strconv.FormatFloat(a.Value, 'e', -1, 64)}
		if !a.KeepFiringSince.IsZero() {
			pa.KeepFiringSince = &a.KeepFiringSince
		}
		out = append(out, pa)
	}
	return out
}

// alerts answers the alerting rules' pending and firing alerts
// (web/api/v1 AlertDiscovery).
func (p promAPI) alerts(w http.ResponseWriter, _ *http.Request) {
	out := []promAlert{}
	for _, g := range p.c.RuleGroups() {
		for _, r := range g.Rules() {
			if ar, ok := r.(*prules.AlertingRule); ok {
				out = append(out, promAlerts(ar.ActiveAlerts())...)
			}
		}
	}
	respond(w, map[string]any{"alerts": out}, nil)
}

// promRuleGroup is web/api/v1 RuleGroup; Rules holds promAlertingRule and
// promRecordingRule values.
type promRuleGroup struct {
	Name           string    `json:"name"`
	File           string    `json:"file"`
	Rules          []any     `json:"rules"`
	Interval       float64   `json:"interval"`
	Limit          int       `json:"limit"`
	EvaluationTime float64   `json:"evaluationTime"`
	LastEvaluation time.Time `json:"lastEvaluation"`
}

// promAlertingRule is web/api/v1 AlertingRule.
type promAlertingRule struct {
	State          string            `json:"state"`
	Name           string            `json:"name"`
	Query          string            `json:"query"`
	Duration       float64           `json:"duration"`
	KeepFiringFor  float64           `json:"keepFiringFor"`
	Labels         labels.Labels     `json:"labels"`
	Annotations    labels.Labels     `json:"annotations"`
	Alerts         []promAlert       `json:"alerts"`
	Health         prules.RuleHealth `json:"health"`
	LastError      string            `json:"lastError,omitempty"`
	EvaluationTime float64           `json:"evaluationTime"`
	LastEvaluation time.Time         `json:"lastEvaluation"`
	Type           string            `json:"type"`
}

// promRecordingRule is web/api/v1 RecordingRule (gatewatch's rules are
// all alerting rules; kept so the shape is Prometheus's whatever a group holds).
type promRecordingRule struct {
	Name           string            `json:"name"`
	Query          string            `json:"query"`
	Labels         labels.Labels     `json:"labels"`
	Health         prules.RuleHealth `json:"health"`
	LastError      string            `json:"lastError,omitempty"`
	EvaluationTime float64           `json:"evaluationTime"`
	LastEvaluation time.Time         `json:"lastEvaluation"`
	Type           string            `json:"type"`
}

// ruleGroupToken is Prometheus's group_next_token for a group.
func ruleGroupToken(file, group string) string {
	h := sha256.Sum256([]byte(file + ";" + group))
	return hex.EncodeToString(h[:])
}

func formSet(vals []string) map[string]bool {
	set := make(map[string]bool, len(vals))
	for _, v := range vals {
		set[v] = true
	}
	return set
}

// rules answers the rule groups with Prometheus's filters (type,
// rule_name[], rule_group[], file[], match[], exclude_alerts) and
// pagination (group_limit, group_next_token).
func (p promAPI) rules(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		apiError(w, http.StatusBadRequest, "bad_data", fmt.Errorf("error parsing form values: %w", err))
		return
	}
	names, groups, files := formSet(r.Form["rule_name[]"]), formSet(r.Form["rule_group[]"]), formSet(r.Form["file[]"])
	sets, err := parseMatchers(r.Form["match[]"])
	if err != nil {
		apiError(w, http.StatusBadRequest, "bad_data", err)
		return
	}
	typ := strings.ToLower(r.Form.Get("type"))
	if typ != "" && typ != "alert" && typ != "record" {
		badParam(w, "type", fmt.Errorf("not supported value %q", typ))
		return
	}
	excludeAlerts := false
	if s := r.Form.Get("exclude_alerts"); s != "" {
		if excludeAlerts, err = strconv.ParseBool(strings.ToLower(s)); err != nil {
			badParam(w, "exclude_alerts", fmt.Errorf("error converting exclude_alerts: %w", err))
			return
		}
	}
	maxGroups, token := 0, r.Form.Get("group_next_token")
	switch s := r.Form.Get("group_limit"); {
	case s == "" && token != "":
		badParam(w, "group_next_token", errors.New("group_limit needs to be present in order to paginate over the groups"))
		return
	case s != "":
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil || n <= 0 {
			badParam(w, "group_limit", errors.New("group_limit needs to be a valid number greater than 0"))
			return
		}
		maxGroups = int(n)
	}

	res := struct {
		Groups         []promRuleGroup `json:"groups"`
		GroupNextToken string          `json:"groupNextToken,omitempty"`
	}{Groups: []promRuleGroup{}}
	foundToken := token == ""
	for _, g := range p.c.RuleGroups() {
		if !foundToken {
			if ruleGroupToken(g.File(), g.Name()) != token {
				continue
			}
			foundToken = true
		}
		if (len(groups) > 0 && !groups[g.Name()]) || (len(files) > 0 && !files[g.File()]) {
			continue
		}
		pg := promRuleGroup{Name: g.Name(), File: g.File(), Rules: []any{}, Interval: g.Interval().Seconds(), Limit: g.Limit(),
			EvaluationTime: g.GetEvaluationTime().Seconds(), LastEvaluation: g.GetLastEvaluation()}
		for _, rule := range g.Rules(sets...) {
			if len(names) > 0 && !names[rule.Name()] {
				continue
			}
			lastErr := ""
			if err := rule.LastError(); err != nil {
				lastErr = err.Error()
			}
			switch rule := rule.(type) {
			case *prules.AlertingRule:
				if typ == "record" {
					continue
				}
				var alerts []promAlert
				if !excludeAlerts {
					alerts = promAlerts(rule.ActiveAlerts())
				}
				pg.Rules = append(pg.Rules, promAlertingRule{
					State: rule.State().String(), Name: rule.Name(), Query: rule.Query().String(),
					Duration: rule.HoldDuration().Seconds(), KeepFiringFor: rule.KeepFiringFor().Seconds(),
					Labels: rule.Labels(), Annotations: rule.Annotations(), Alerts: alerts,
					Health: rule.Health(), LastError: lastErr,
					EvaluationTime: rule.GetEvaluationDuration().Seconds(), LastEvaluation: rule.GetEvaluationTimestamp(),
					Type: "alerting",
				})
			case *prules.RecordingRule:
				if typ == "alert" {
					continue
				}
				pg.Rules = append(pg.Rules, promRecordingRule{
					Name: rule.Name(), Query: rule.Query().String(), Labels: rule.Labels(),
					Health: rule.Health(), LastError: lastErr,
					EvaluationTime: rule.GetEvaluationDuration().Seconds(), LastEvaluation: rule.GetEvaluationTimestamp(),
					Type: "recording",
				})
			}
		}
		if len(pg.Rules) == 0 {
			continue // every rule filtered out
		}
		if maxGroups > 0 && len(res.Groups) == maxGroups {
			res.GroupNextToken = ruleGroupToken(g.File(), g.Name())
			break
		}
		res.Groups = append(res.Groups, pg)
	}
	if !foundToken {
		badParam(w, "group_next_token", fmt.Errorf("invalid group_next_token '%v'. were rule groups changed?", token))
		return
	}
	respond(w, res, nil)
}

// metadata answers the scrape targets' metric metadata (TYPE, HELP, UNIT)
// by metric name, with Prometheus's limit, limit_per_metric and metric
// parameters: Grafana's query editor shows it.
func (p promAPI) metadata(w http.ResponseWriter, r *http.Request) {
	limit, perMetric := -1, -1
	for _, q := range []struct {
		name string
		dst  *int
	}{{"limit", &limit}, {"limit_per_metric", &perMetric}} {
		if s := r.FormValue(q.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				apiError(w, http.StatusBadRequest, "bad_data", fmt.Errorf("%s must be a number", q.name))
				return
			}
			*q.dst = n
		}
	}
	metric := r.FormValue("metric")
	sets := map[string]map[metadata.Metadata]struct{}{}
	add := func(md scrape.MetricMetadata) {
		m := metadata.Metadata{Type: md.Type, Help: md.Help, Unit: md.Unit}
		ms, ok := sets[md.MetricFamily]
		if perMetric > 0 && len(ms) >= perMetric {
			return
		}
		if !ok {
			ms = map[metadata.Metadata]struct{}{}
			sets[md.MetricFamily] = ms
		}
		ms[m] = struct{}{}
	}
	for _, ts := range p.c.TargetsActive() {
		for _, t := range ts {
			if metric == "" {
				for _, md := range t.ListMetadata() {
					add(md)
				}
			} else if md, ok := t.GetMetadata(metric); ok {
				add(md)
			}
		}
	}
	names := make([]string, 0, len(sets))
	for n := range sets {
		names = append(names, n)
	}
	slices.Sort(names)
	res := map[string][]metadata.Metadata{}
	for _, n := range names {
		if limit >= 0 && len(res) >= limit {
			break
		}
		list := make([]metadata.Metadata, 0, len(sets[n]))
		for m := range sets[n] {
			list = append(list, m)
		}
		slices.SortFunc(list, func(a, b metadata.Metadata) int {
			return strings.Compare(string(a.Type)+a.Help+a.Unit, string(b.Type)+b.Help+b.Unit)
		})
		res[n] = list
	}
	respond(w, res, nil)
}

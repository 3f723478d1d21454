package rules

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
)

// Outcome is what one rule did at one check.
type Outcome struct {
	At time.Duration
	// Want and Got are the expected and observed firing alerts, rendered as
	// "pod=count" (or "count" for per-gateway alerts), sorted.
	Want, Got []string
}

// OK reports whether the rule did what the scenario expects.
func (o Outcome) OK() bool { return strings.Join(o.Want, ",") == strings.Join(o.Got, ",") }

// Result is one scenario run against one rule.
type Result struct {
	Scenario Scenario
	Outcomes []Outcome
	// Err is set when the scenario could not be run at all.
	Err error
}

// Passed reports whether every check held.
func (r Result) Passed() bool {
	if r.Err != nil {
		return false
	}
	for _, o := range r.Outcomes {
		if !o.OK() {
			return false
		}
	}
	return true
}

// Failed returns the checks that did not hold.
func (r Result) Failed() []Outcome {
	var out []Outcome
	for _, o := range r.Outcomes {
		if !o.OK() {
			out = append(out, o)
		}
	}
	return out
}

// Run evaluates rule over the scenario with the real Prometheus TSDB, PromQL
// engine and alerting-rule state machine, stepping the rule every
// evalInterval from time 0 as Prometheus (and promtool test rules) does.
func Run(ctx context.Context, sc Scenario, rule Rule, evalInterval time.Duration) Result {
	res := Result{Scenario: sc}
	dir, err := os.MkdirTemp("", "gatewatch-scenario-")
	if err != nil {
		res.Err = err
		return res
	}
	defer os.RemoveAll(dir)
	db, err := tsdb.Open(dir, promslog.NewNopLogger(), nil, tsdb.DefaultOptions(), nil)
	if err != nil {
		res.Err = fmt.Errorf("open tsdb: %w", err)
		return res
	}
	defer db.Close()
	if err := load(ctx, db, sc); err != nil {
		res.Err = err
		return res
	}

	p := parser.NewParser(parser.Options{})
	expr, err := p.ParseExpr(rule.Expr)
	if err != nil {
		res.Err = fmt.Errorf("parse %s: %w", rule.Alert, err)
		return res
	}
	engine := promql.NewEngine(promql.EngineOpts{
		MaxSamples:    50_000_000,
		Timeout:       time.Minute,
		LookbackDelta: 5 * time.Minute,
	})
	ar := rules.NewAlertingRule(rule.Alert, expr, rule.For.D(), 0,
		labels.FromMap(rule.Labels), labels.FromMap(rule.Annotations), labels.EmptyLabels(), "", true, slog.New(slog.DiscardHandler))
	query := rules.EngineQueryFunc(engine, db)

	checks := map[time.Duration][]Expect{}
	for _, c := range sc.Checks {
		checks[c.At] = c.Firing
	}
	start := time.Unix(0, 0).UTC()
	for t := time.Duration(0); t <= sc.MaxAt(); t += evalInterval {
		if err := ctx.Err(); err != nil {
			res.Err = err
			return res
		}
		if _, err := ar.Eval(ctx, 0, start.Add(t), query, nil, 0); err != nil {
			res.Err = fmt.Errorf("evaluate %s at %s: %w", rule.Alert, t, err)
			return res
		}
		want, isCheck := checks[t]
		if !isCheck {
			continue
		}
		o := Outcome{At: t}
		for _, e := range want {
			o.Want = append(o.Want, e.String())
		}
		for _, a := range ar.ActiveAlerts() {
			if a.State != rules.StateFiring {
				continue
			}
			o.Got = append(o.Got, Expect{Pod: a.Labels.Get("pod"), Instance: a.Labels.Get("instance"), Value: sc.value(a.Value)}.String())
		}
		sort.Strings(o.Want)
		sort.Strings(o.Got)
		res.Outcomes = append(res.Outcomes, o)
	}
	for _, c := range sc.Checks {
		if c.At%evalInterval != 0 {
			res.Err = fmt.Errorf("check at %s is not on the evaluation interval %s", c.At, evalInterval)
		}
	}
	return res
}

// value is what an alert's value is compared as: a count is a whole number
// of requests (increase() extrapolates to the window's edges).
func (sc Scenario) value(v float64) float64 {
	if sc.Ratio {
		return v
	}
	return math.Round(v)
}

// String renders an expected alert as "pod=value" or "value", the value
// rounded to four decimals so that a ratio computed by PromQL compares
// equal to the one the scenario states.
func (e Expect) String() string {
	v := strconv.FormatFloat(math.Round(e.Value*1e4)/1e4, 'f', -1, 64)
	if e.Pod == "" {
		return v
	}
	return e.Pod + "=" + v
}

// load appends the scenario's series, parsed with the PromQL test notation.
func load(ctx context.Context, db storage.Appendable, sc Scenario) error {
	p := parser.NewParser(parser.Options{})
	app := db.Appender(ctx)
	for _, s := range sc.Series {
		lbls, vals, err := p.ParseSeriesDesc(s.Labels + " " + s.Values)
		if err != nil {
			_ = app.Rollback()
			return fmt.Errorf("scenario %s: series %s: %w", sc.Name, s.Labels, err)
		}
		for i, v := range vals {
			if v.Omitted {
				continue
			}
			ts := timestamp.FromTime(time.Unix(0, 0).Add(time.Duration(i) * sc.Interval))
			if _, err := app.Append(0, lbls, ts, v.Value); err != nil {
				_ = app.Rollback()
				return fmt.Errorf("scenario %s: append %s: %w", sc.Name, s.Labels, err)
			}
		}
	}
	return app.Commit()
}

package doctor

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// alertmanagerRoute (alertmanager/route): an alert with the labels the
// loaded rule can actually produce routes to the Mattermost receiver (as
// `amtool config routes test` would), Watchdog to "null". The labels are
// read from the loaded rule, not assumed from gatewatch's: the runbook's
// `sum(increase(...)) > 0` keeps no label, so an AlertmanagerConfig (which
// matches on namespace) never receives it.
type alertmanagerRoute struct{}

func (alertmanagerRoute) ID() string { return "alertmanager/route" }
func (alertmanagerRoute) Title() string {
	return "The 421 alert routes to Mattermost, Watchdog to null"
}
func (alertmanagerRoute) Offline() bool { return true }

// applies: not to a standalone render, which has no Prometheus or Alertmanager.
func (alertmanagerRoute) applies(_ context.Context, env *Env) (bool, error) {
	return env.checksStack(), nil
}

// routedAlert is one label set an alert can fire with, and where it comes
// from.
type routedAlert struct {
	from string
	lbls model.LabelSet
	// missing are the labels gatewatch's rule sets that this one cannot
	// produce.
	missing []string
}

func (alertmanagerRoute) Run(ctx context.Context, env *Env) Result {
	conf, _, err := env.alertmanagerConfig(ctx)
	if err != nil {
		return skip("no Alertmanager configuration (see alertmanager/config)")
	}
	mattermost := map[string]bool{}
	for _, r := range conf.Receivers {
		_, bridged := toBridge(env, r)
		// Through the bridge, the bridge's receiver is the one that reaches Mattermost.
		mattermost[r.Name] = bridged || (!env.Spec.Cluster.Bridge.Enabled && len(r.MattermostConfigs)+len(r.SlackConfigs) > 0)
	}
	route := dispatch.NewRoute(conf.Route, nil)
	matched := routeLabelNames(route)
	loaded, loadErr := env.loadedRules(ctx)
	var ev []string
	if loadErr != nil {
		ev = append(ev, fmt.Sprintf("the loaded rules are unknown (%s): routing the labels gatewatch's rules set", loadErr))
	}
	bad, hint := "", ""
	for _, a := range env.Spec.EnabledAlerts() {
		if !slices.Contains(env.Spec.Routing.Alerts, a.Name) {
			continue
		}
		for _, ra := range alertLabelSets(env.Spec, a, loaded) {
			got, ok := receivers(route, ra.lbls, mattermost)
			ev = append(ev, fmt.Sprintf("%s: %s → %s", ra.from, ra.lbls, strings.Join(got, ", ")))
			if ok || bad != "" {
				continue
			}
			bad = fmt.Sprintf("%s (%s) does not reach a Mattermost receiver", a.Name, ra.from)
			hint = "add a route matching the alertname (gatewatch render writes it); check the routes above it do not catch the alert without continue: true"
			if miss := routedMissing(ra.missing, matched); len(miss) > 0 {
				bad = fmt.Sprintf("%s (%s) does not reach a Mattermost receiver: it lacks %s, which the routes match on", a.Name, ra.from, strings.Join(miss, ", "))
				hint = fmt.Sprintf("keep %[1]s in the rule: aggregate with `sum by (%[1]s)`, or set %[1]s in the rule's labels (or apply the rule from `gatewatch render`, which does both)", strings.Join(miss, ", "))
			}
			if _, has := ra.lbls["namespace"]; !has || slices.Contains(ra.missing, "namespace") {
				ev = append(ev, "with the prometheus-operator, an AlertmanagerConfig only matches alerts whose namespace label is its own namespace")
			}
		}
	}
	wd := model.LabelSet{"alertname": "Watchdog", "severity": "none"}
	wdr, wdMattermost := receivers(route, wd, mattermost)
	ev = append(ev, fmt.Sprintf("%s → %s", wd, strings.Join(wdr, ", ")))
	if bad != "" {
		return failed(bad, hint, ev...)
	}
	if wdMattermost {
		return warn("Watchdog reaches Mattermost", "route alertname=\"Watchdog\" to the null receiver: it fires all the time by design", ev...)
	}
	return pass("the alert routes to Mattermost; Watchdog does not", ev...)
}

// alertLabelSets are the label sets alert a can fire with: for each loaded
// rule of that name, the labels its expression keeps plus its static labels;
// without one (or when the loaded rules are unknown), the labels gatewatch's
// rule sets at each gateway.
func alertLabelSets(s *spec.Spec, a spec.Alert, loaded []loadedRule) []routedAlert {
	var out []routedAlert
	for _, r := range loaded {
		if r.Name != a.Name {
			continue
		}
		g := ruleGateway(s, r)
		lbls, err := ruleLabels(r, g)
		if err != nil {
			// prometheus/rule reports the rule; route what gatewatch's sets.
			continue
		}
		want := rules.ForAlert(g, a).Labels
		var missing []string
		for k := range want {
			if _, ok := lbls[model.LabelName(k)]; !ok {
				missing = append(missing, k)
			}
		}
		sort.Strings(missing)
		from := "the loaded rule"
		if r.Source != "" {
			from += " in " + r.Source
		}
		out = append(out, routedAlert{from: from, lbls: lbls, missing: missing})
	}
	if len(out) > 0 {
		return out
	}
	for _, g := range s.Gateways {
		lbls := model.LabelSet{"alertname": model.LabelValue(a.Name)}
		// The label values as Prometheus sends them (spec values reach the
		// rule escaped as templates, see spec.Literal).
		expanded, err := rules.ExpandLabels(rules.ForAlert(g, a), map[string]string{}, 1)
		if err != nil {
			continue
		}
		for k, v := range expanded {
			lbls[model.LabelName(k)] = model.LabelValue(v)
		}
		out = append(out, routedAlert{from: "gatewatch's rule for " + g.Name, lbls: lbls})
	}
	return out
}

// ruleGateway is the spec gateway a loaded rule watches: the one its static
// gateway label names, else the one its selectors' source workload and
// namespace match, else the first.
func ruleGateway(s *spec.Spec, r loadedRule) spec.Gateway {
	for _, g := range s.Gateways {
		if r.Labels["gateway"] == g.Name {
			return g
		}
	}
	if e, err := parser.NewParser(parser.Options{}).ParseExpr(r.Query); err == nil {
		eq := equalityMatchers(e)
		for _, g := range s.Gateways {
			if eq["source_workload"] == g.Workload && eq["source_workload_namespace"] == g.Namespace {
				return g
			}
		}
	}
	return s.Gateways[0]
}

// equalityMatchers are the label=value matchers of every selector in e.
func equalityMatchers(e parser.Expr) map[string]string {
	out := map[string]string{}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			for _, m := range vs.LabelMatchers {
				if m.Type == labels.MatchEqual && m.Name != labels.MetricName {
					out[m.Name] = m.Value
				}
			}
		}
		return nil
	})
	return out
}

// ruleLabels is the label set an alert of the loaded rule r fires with at
// gateway g: the labels its expression keeps (outputLabels), then its
// static labels, then alertname.
func ruleLabels(r loadedRule, g spec.Gateway) (model.LabelSet, error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(r.Query)
	if err != nil {
		return nil, fmt.Errorf("parse the expression of %s: %w", r.Name, err)
	}
	kept := outputLabels(e, g)
	lbls := model.LabelSet{}
	for k, v := range kept.known {
		if v == "" {
			v = "<" + k + ">"
		}
		lbls[model.LabelName(k)] = model.LabelValue(v)
	}
	for k, v := range r.Labels {
		lbls[model.LabelName(k)] = model.LabelValue(v)
	}
	lbls["alertname"] = model.LabelValue(r.Name)
	return lbls, nil
}

// exprLabels are the labels every series of an expression carries: known
// holds each with its value ("" when it varies), open says the series may
// carry further labels (a selector's series do: Istio's many labels).
type exprLabels struct {
	known map[string]string
	open  bool
}

// without returns l without the names.
func (l exprLabels) without(names ...string) exprLabels {
	out := exprLabels{known: maps.Clone(l.known), open: l.open}
	for _, n := range names {
		delete(out.known, n)
	}
	return out
}

// keep returns only the named labels of l (those it carries).
func (l exprLabels) keep(names ...string) exprLabels {
	out := exprLabels{known: map[string]string{}}
	for _, n := range names {
		if v, ok := l.known[n]; ok {
			out.known[n] = v
		} else if l.open {
			out.known[n] = ""
		}
	}
	return out
}

// targetLabels are the labels a series scraped from gateway g carries
// whatever its selector: the target labels gatewatch's pod scrape (and the
// prometheus-operator's) sets, or its static scrape's. The pod and instance
// vary.
func targetLabels(g spec.Gateway) map[string]string {
	if g.Selector == "" {
		return map[string]string{"gateway": g.Name, "instance": "", "job": rules.StaticJobName(g)}
	}
	return map[string]string{"namespace": g.Namespace, "pod": "", "instance": "", "job": rules.JobName(g)}
}

// outputLabels walks the expression as Prometheus evaluates it and returns
// the labels its result carries: an aggregation keeps its by labels (sum
// keeps none, without drops the listed ones), a selector keeps the series'
// labels, a binary operation those of its vector side (one-to-one with on
// keeps only the on labels, group_left/right add the included ones), or the
// labels both sides of `or` carry, absent() its selector's equality
// matchers.
func outputLabels(e parser.Expr, g spec.Gateway) exprLabels {
	none := exprLabels{known: map[string]string{}}
	switch n := e.(type) {
	case *parser.ParenExpr:
		return outputLabels(n.Expr, g)
	case *parser.StepInvariantExpr:
		return outputLabels(n.Expr, g)
	case *parser.UnaryExpr:
		return outputLabels(n.Expr, g)
	case *parser.SubqueryExpr:
		return outputLabels(n.Expr, g)
	case *parser.MatrixSelector:
		return outputLabels(n.VectorSelector, g)
	case *parser.VectorSelector:
		l := exprLabels{known: targetLabels(g), open: true}
		for _, m := range n.LabelMatchers {
			if m.Type == labels.MatchEqual && m.Name != labels.MetricName {
				l.known[m.Name] = m.Value
			}
		}
		return l
	case *parser.AggregateExpr:
		in := outputLabels(n.Expr, g)
		switch {
		case n.Op == parser.TOPK || n.Op == parser.BOTTOMK || n.Op == parser.LIMITK || n.Op == parser.LIMIT_RATIO:
			return in
		case n.Without:
			return in.without(n.Grouping...)
		}
		out := in.keep(n.Grouping...)
		if n.Op == parser.COUNT_VALUES {
			if s, ok := n.Param.(*parser.StringLiteral); ok {
				out.known[s.Val] = ""
			}
		}
		return out
	case *parser.BinaryExpr:
		lhs, rhs := outputLabels(n.LHS, g), outputLabels(n.RHS, g)
		switch {
		case n.LHS.Type() == parser.ValueTypeScalar && n.RHS.Type() == parser.ValueTypeScalar:
			return none
		case n.LHS.Type() == parser.ValueTypeScalar:
			return rhs
		case n.RHS.Type() == parser.ValueTypeScalar:
			return lhs
		}
		vm := n.VectorMatching
		if vm == nil {
			return lhs
		}
		switch {
		case n.Op == parser.LOR:
			out := exprLabels{known: map[string]string{}, open: lhs.open && rhs.open}
			for k, v := range lhs.known {
				if w, ok := rhs.known[k]; ok {
					if v != w {
						v = ""
					}
					out.known[k] = v
				}
			}
			return out
		case n.Op == parser.LAND || n.Op == parser.LUNLESS:
			return lhs
		case vm.Card == parser.CardOneToOne && vm.On:
			return lhs.keep(vm.MatchingLabels...)
		case vm.Card == parser.CardOneToOne:
			return lhs.without(vm.MatchingLabels...)
		case vm.Card == parser.CardManyToOne:
			return include(lhs, rhs, vm.Include)
		case vm.Card == parser.CardOneToMany:
			return include(rhs, lhs, vm.Include)
		}
		return lhs
	case *parser.Call:
		switch n.Func.Name {
		case "absent", "absent_over_time":
			l := none
			var sel parser.Expr = n.Args[0]
			if ms, ok := sel.(*parser.MatrixSelector); ok {
				sel = ms.VectorSelector
			}
			if vs, ok := sel.(*parser.VectorSelector); ok {
				seen := map[string]bool{}
				for _, m := range vs.LabelMatchers {
					if m.Name == labels.MetricName {
						continue
					}
					if m.Type == labels.MatchEqual && !seen[m.Name] {
						l.known[m.Name] = m.Value
					} else {
						delete(l.known, m.Name)
					}
					seen[m.Name] = true
				}
			}
			return l
		case "label_replace", "label_join":
			out := outputLabels(n.Args[0], g)
			out = out.without()
			if dst, ok := n.Args[1].(*parser.StringLiteral); ok {
				out.known[dst.Val] = ""
			}
			return out
		case "histogram_quantile":
			return outputLabels(n.Args[1], g).without("le")
		}
		for _, a := range n.Args {
			if t := a.Type(); t == parser.ValueTypeVector || t == parser.ValueTypeMatrix {
				return outputLabels(a, g)
			}
		}
		return none
	}
	return none
}

// include is the many side's labels with the included ones from the one
// side (group_left/group_right).
func include(many, one exprLabels, names []string) exprLabels {
	out := many.without()
	for _, n := range names {
		if v, ok := one.known[n]; ok {
			out.known[n] = v
		} else if one.open {
			out.known[n] = ""
		} else {
			delete(out.known, n)
		}
	}
	return out
}

// routeLabelNames are the label names the route tree's matchers test.
func routeLabelNames(r *dispatch.Route) map[string]bool {
	out := map[string]bool{}
	r.Walk(func(r *dispatch.Route) {
		for _, m := range r.Matchers {
			out[m.Name] = true
		}
	})
	return out
}

// routedMissing are the missing labels the routes match on.
func routedMissing(missing []string, matched map[string]bool) []string {
	var out []string
	for _, m := range missing {
		if matched[m] {
			out = append(out, m)
		}
	}
	return out
}

// receivers are the receivers an alert with lbls is routed to (as `amtool
// config routes test` shows them), and whether one is a Mattermost receiver.
func receivers(route *dispatch.Route, lbls model.LabelSet, mattermost map[string]bool) ([]string, bool) {
	var got []string
	ok := false
	for _, r := range route.Match(lbls) {
		got = append(got, r.RouteOpts.Receiver)
		ok = ok || mattermost[r.RouteOpts.Receiver]
	}
	return got, ok
}

package doctor

import (
	"context"
	"fmt"
	"strings"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/gatewatch/gatewatch/internal/rules"
)

// prometheusRule (prometheus/rule): the alert is loaded and healthy, and its
// expression is the one gatewatch generates.
type prometheusRule struct{}

func (prometheusRule) ID() string    { return "prometheus/rule" }
func (prometheusRule) Title() string { return "The alert rule is loaded, healthy and first-421-safe" }
func (prometheusRule) Offline() bool { return true }

// applies: not to a standalone render, which has no Prometheus or Alertmanager.
func (prometheusRule) applies(_ context.Context, env *Env) (bool, error) {
	return env.checksStack(), nil
}

// loadedRule is an alerting rule as Prometheus loads it (live) or as the
// manifests hold it (offline).
type loadedRule struct {
	Name  string
	Query string
	// Labels are the rule's static labels.
	Labels    map[string]string
	Health    string
	LastError string
	// Source is where the rule was read: a file, or the group live.
	Source string
}

type rulesResponse struct {
	Data struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Name      string            `json:"name"`
				Query     string            `json:"query"`
				Labels    map[string]string `json:"labels"`
				Health    string            `json:"health"`
				LastError string            `json:"lastError"`
				Type      string            `json:"type"`
			} `json:"rules"`
		} `json:"groups"`
	} `json:"data"`
}

// normalize formats an expression canonically so equal rules compare equal.
func normalize(q string) string {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(q)
	if err != nil {
		return strings.Join(strings.Fields(q), " ")
	}
	return e.String()
}

func (prometheusRule) Run(ctx context.Context, env *Env) Result {
	loaded, err := env.loadedRules(ctx)
	if err != nil {
		return verdict(err)
	}
	var ev []string
	status := Pass
	hint := ""
	// raise records a finding; the hint shown is the most severe one's.
	rank := map[Status]int{Pass: 0, Warn: 1, Fail: 2}
	raise := func(st Status, h string) {
		if rank[st] >= rank[status] {
			status, hint = st, h
		}
	}
	for _, g := range env.Spec.Gateways {
		for _, a := range env.Spec.EnabledAlerts() {
			want := normalize(rules.Expr(g, a))
			runbook := normalize(rules.RunbookExpr(g, a.Window))
			found := false
			for _, r := range loaded {
				if r.Name != a.Name {
					continue
				}
				got := normalize(r.Query)
				switch {
				case got == want:
					found = true
					if r.Health != "" && r.Health != "ok" && r.Health != "unknown" {
						raise(Fail, "the rule fails to evaluate: see its last error")
						ev = append(ev, fmt.Sprintf("%s (%s): health %s: %s", a.Name, g.Name, r.Health, r.LastError))
					} else {
						ev = append(ev, fmt.Sprintf("%s (%s): loaded, expression matches", a.Name, g.Name))
					}
				case got == runbook && a.Kind == rules.KindMisdirectedRequest:
					found = true
					raise(Warn, "replace it with the rule from `gatewatch render`: sum(increase(...)) never fires on the first 421 a gateway serves (the series starts at 1)")
					ev = append(ev, fmt.Sprintf("%s (%s): the runbook's expression: blind to the first 421", a.Name, g.Name))
				}
			}
			if !found {
				if !hasName(loaded, a.Name) {
					raise(Fail, "apply the PrometheusRule from `gatewatch render --target operator` and check the Prometheus ruleSelector matches cluster.selector_labels")
					ev = append(ev, fmt.Sprintf("%s (%s): not loaded", a.Name, g.Name))
				} else {
					raise(Warn, "re-render and apply the rules: the loaded expression differs from the spec's")
					ev = append(ev, fmt.Sprintf("%s (%s): loaded with a different expression", a.Name, g.Name))
				}
			}
		}
	}
	r := Result{Status: status, Evidence: ev, Hint: hint}
	switch status {
	case Pass:
		r.Summary = "every alert rule is loaded with the generated expression"
	case Warn:
		r.Summary = "an alert rule differs from what gatewatch generates"
	default:
		r.Summary = "an alert rule is missing or failing"
	}
	return r
}

// readLoadedRules establishes the loaded-rules fact (Env.loadedRules):
// offline from the manifests, live from Prometheus's rules API. A failure
// carries prometheus/rule's verdict.
func readLoadedRules(ctx context.Context, env *Env) ([]loadedRule, error) {
	if env.offline() {
		return env.Manifests.rules(), nil
	}
	if env.PrometheusURL == "" {
		return nil, &verdictError{skip("no Prometheus URL (use --prometheus-url)")}
	}
	var rr rulesResponse
	if err := getJSON(ctx, env, strings.TrimRight(env.PrometheusURL, "/")+"/api/v1/rules?type=alert", &rr); err != nil {
		return nil, &verdictError{failed("Prometheus API unreachable", "check --prometheus-url", err.Error())}
	}
	var loaded []loadedRule
	for _, g := range rr.Data.Groups {
		for _, r := range g.Rules {
			loaded = append(loaded, loadedRule{Name: r.Name, Query: r.Query, Labels: r.Labels, Health: r.Health, LastError: r.LastError, Source: "group " + g.Name})
		}
	}
	return loaded, nil
}

func hasName(rs []loadedRule, name string) bool {
	for _, r := range rs {
		if r.Name == name {
			return true
		}
	}
	return false
}

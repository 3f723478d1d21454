package doctor

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// prometheusQuery (prometheus/query): the 421 count query runs; shows its value.
type prometheusQuery struct{}

func (prometheusQuery) ID() string    { return "prometheus/query" }
func (prometheusQuery) Title() string { return "The 421 query runs in Prometheus" }
func (prometheusQuery) Offline() bool { return false }

// applies: not to a standalone render, which has no Prometheus or Alertmanager.
func (prometheusQuery) applies(_ context.Context, env *Env) (bool, error) {
	return env.checksStack(), nil
}

func (prometheusQuery) Run(ctx context.Context, env *Env) Result {
	if env.PrometheusURL == "" {
		return skip("no Prometheus URL (use --prometheus-url)")
	}
	var ev []string
	for _, g := range env.Spec.Gateways {
		a := spec.Alert{Kind: rules.KindMisdirectedRequest, Window: spec.DefaultWindow, Per: "gateway"}
		for _, al := range env.Spec.EnabledAlerts() {
			if al.Kind == rules.KindMisdirectedRequest {
				a.Window = al.Window
			}
		}
		q := rules.CountQuery(g, a)
		var res struct {
			Data struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if err := getJSON(ctx, env, strings.TrimRight(env.PrometheusURL, "/")+"/api/v1/query?query="+url.QueryEscape(q), &res); err != nil {
			return failed("the 421 query failed", "check --prometheus-url and that Prometheus accepts the query", err.Error())
		}
		v := "0 (no 421 in the window)"
		if len(res.Data.Result) > 0 {
			v = fmt.Sprint(res.Data.Result[0].Value[1])
		}
		ev = append(ev, fmt.Sprintf("%s: 421s in the last %s: %s", g.Name, a.Window, v))
	}
	return pass("the 421 query runs", ev...)
}

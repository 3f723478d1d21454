// Package dashboard builds gatewatch's Grafana dashboard with the Grafana
// Foundation SDK (github.com/grafana/grafana-foundation-sdk/go): 421s per
// gateway and pod, their share of requests, response flags, scrape health,
// notifications and alert state. render ships it as a ConfigMap that
// kube-prometheus-stack's Grafana sidecar loads (label grafana_dashboard).
//
// The queries work on either data source a user has: the Prometheus that
// runs the rendered rules (operator, prometheus, helm targets) or gatewatch
// itself, whose /api/v1 is Prometheus's API (standalone). Both keep the
// same series: the scrape jobs are gatewatch/<namespace>/<gateway>[/static]
// and carry a gateway label.
package dashboard

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/gatewatch/gatewatch/internal/rules"
)

// UID is the dashboard's stable uid (links and provisioning keep it).
const UID = "gatewatch-gateways"

// requests selects the gateways' Istio request metric on gatewatch's scrape
// jobs (gatewatch/<namespace>/<gateway>[/static], what every target scrapes
// with; a PodMonitor's series carry no gateway label) chosen in $job.
const requests = rules.Metric + `{job=~"gatewatch/.+", job=~"$job", reporter="source"}`

// Panel is one panel's title and its PromQL queries (with Grafana's
// $__rate_interval, $__range and $job variables), for checking them.
type Panel struct {
	Title   string
	Queries []string
}

type panelDef struct {
	title, unit, description string
	queries                  []query
	stat                     bool
}

type query struct{ expr, legend string }

// counted is the 421s of sel over the range r, first 421s included:
// increase() for the series that existed at the range's start, and the
// whole value of those that appeared within it. increase() alone sees a
// series' first sample as no increase, and Envoy creates the 421 series at
// 1 — the runbook's trap, which a dashboard must not repeat.
func counted(sel, r string) string {
	return fmt.Sprintf("(increase(%[1]s[%[2]s]) and %[1]s offset %[2]s) or (%[1]s unless %[1]s offset %[2]s)", sel, r)
}

func panels() []panelDef {
	with := func(matchers string) string {
		return strings.Replace(requests, "}", ", "+matchers+"}", 1)
	}
	s421 := with(`response_code="421"`)
	return []panelDef{
		{title: "421s in the time range", unit: "short", stat: true,
			description: "HTTP 421 Misdirected Request responses the selected gateways served.",
			queries:     []query{{`sum(` + counted(s421, "$__range") + `)`, "421s"}}},
		{title: "421s per gateway and pod", unit: "short",
			description: "421s per interval, by gateway pod. A pod's first 421 creates its series at 1: it shows in the interval it appeared in.",
			queries:     []query{{`sum by (job, pod, instance) (` + counted(s421, "$__rate_interval") + `)`, "{{job}} {{pod}}{{instance}}"}}},
		{title: "421 share of requests", unit: "percentunit",
			description: "The share of the gateway's responses that were 421 (a rate: a pod's very first 421 shows in the panels above).",
			queries: []query{{`sum by (job) (rate(` + s421 + `[$__rate_interval]))
  /
sum by (job) (rate(` + requests + `[$__rate_interval]))`, "{{job}}"}}},
		{title: "Responses by Envoy response flags", unit: "reqps",
			description: "Requests Envoy marked with response flags (NR: no route, UH: no healthy upstream, UF: upstream connection failure, …).",
			queries:     []query{{`sum by (job, response_flags) (rate(` + with(`response_flags!="-"`) + `[$__rate_interval]))`, "{{job}} {{response_flags}}"}}},
		{title: "Stats scrape health", unit: "short",
			description: "1 when the gateway pod's stats page was scraped successfully (up); a 0 or a gap is a gap in 421 detection.",
			queries:     []query{{`up{job=~"gatewatch/.+", job=~"$job"}`, "{{job}} {{instance}}"}}},
		{title: "Mattermost notifications", unit: "short",
			description: "Notifications sent and failed, by the Alertmanager that posts them (gatewatch's own, or yours).",
			queries: []query{
				{`sum by (pod, integration) (increase(alertmanager_notifications_total{integration=~"mattermost|slack|webhook"}[$__rate_interval]))`, "sent {{pod}} {{integration}}"},
				{`sum by (pod, integration) (increase(alertmanager_notifications_failed_total{integration=~"mattermost|slack|webhook"}[$__rate_interval]))`, "failed {{pod}} {{integration}}"},
			}},
		{title: "Alert state", unit: "short",
			description: "gatewatch's alerts (every rule it generates labels its alerts with the gateway), pending and firing.",
			queries:     []query{{`sum by (alertname, alertstate, gateway) (ALERTS{gateway!=""})`, "{{alertname}} {{gateway}} {{alertstate}}"}}},
	}
}

// Build returns the dashboard.
func Build() (dashboard.Dashboard, error) {
	ds := common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}
	b := dashboard.NewDashboardBuilder("gatewatch: gateway 421s").
		Uid(UID).
		Tags([]string{"gatewatch", "istio", "envoy"}).
		Description("HTTP 421s and other bad responses at Istio/Envoy gateways, and gatewatch's delivery to Mattermost.").
		Refresh("30s").
		Time("now-6h", "now").
		Timezone(common.TimeZoneBrowser).
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").Label("Data source").Type("prometheus")).
		WithVariable(dashboard.NewQueryVariableBuilder("job").Label("Gateway").
			Description("gatewatch's scrape job of each gateway: gatewatch/<namespace>/<gateway>").
			Datasource(ds).
			Query(dashboard.StringOrMap{String: cog.ToPtr(`label_values(up{job=~"gatewatch/.+"}, job)`)}).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
			Multi(true).IncludeAll(true).AllValue("gatewatch/.+"))
	for _, p := range panels() {
		var targets []cog.Builder[variants.Dataquery]
		for j, q := range p.queries {
			targets = append(targets, prometheus.NewDataqueryBuilder().Expr(q.expr).LegendFormat(q.legend).RefId(string(rune('A'+j))).Datasource(ds))
		}
		if p.stat {
			sb := stat.NewPanelBuilder().Title(p.title).Description(p.description).Unit(p.unit).Datasource(ds).Height(4).Span(24)
			for _, t := range targets {
				sb.WithTarget(t)
			}
			b.WithPanel(sb)
			continue
		}
		tb := timeseries.NewPanelBuilder().Title(p.title).Description(p.description).Unit(p.unit).Datasource(ds).Height(8).Span(12).Min(0)
		for _, t := range targets {
			tb.WithTarget(t)
		}
		b.WithPanel(tb)
	}
	return b.Build()
}

// JSON is the dashboard as Grafana imports it.
func JSON() ([]byte, error) {
	d, err := Build()
	if err != nil {
		return nil, fmt.Errorf("build the dashboard: %w", err)
	}
	return json.MarshalIndent(d, "", "  ")
}

// Panels lists every panel's queries.
func Panels() []Panel {
	var out []Panel
	for _, p := range panels() {
		pp := Panel{Title: p.title}
		for _, q := range p.queries {
			pp.Queries = append(pp.Queries, q.expr)
		}
		out = append(out, pp)
	}
	return out
}

// Substitute puts values in for Grafana's variables as Grafana does before
// it sends a query (a 5 m rate interval, a 1 h range, every gateway's job),
// so Prometheus's tools can check the query.
func Substitute(q string) string {
	return strings.NewReplacer("$__rate_interval", "5m", "$__range", "1h", `"$job"`, `"gatewatch/.+"`).Replace(q)
}

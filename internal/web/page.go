package web

import (
	"context"
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"

	"github.com/prometheus/prometheus/promql"

	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

const (
	chartSpan  = 30 * time.Minute
	chartW     = 640
	chartH     = 120
	chartPad   = 28
	chartSteps = 120
)

// chart draws the gateway's 421s per minute over the last 30 minutes as an
// inline SVG, with the same first-421-safe count the alert uses.
func (s *server) chart(ctx context.Context, g spec.Gateway) (template.HTML, float64) {
	now := s.o.Now()
	perMinute := rules.CountQuery(g, spec.Alert{Kind: rules.KindMisdirectedRequest, Window: spec.Duration(time.Minute), Per: "gateway"})
	step := max(chartSpan/chartSteps, g.Stats.Interval.D())
	values := make([]float64, 0, chartSteps+1)
	times := make([]time.Time, 0, chartSteps+1)
	byTime := map[int64]float64{}
	if v, err := s.query.QueryRange(ctx, perMinute, now.Add(-chartSpan), now, step); err == nil {
		if m, ok := v.(promql.Matrix); ok {
			for _, series := range m {
				for _, p := range series.Floats {
					byTime[p.T] += p.F
				}
			}
		}
	}
	for t := now.Add(-chartSpan); !t.After(now); t = t.Add(step) {
		times = append(times, t)
		values = append(values, byTime[t.UnixMilli()])
	}
	var total float64
	window := spec.Alert{Kind: rules.KindMisdirectedRequest, Window: spec.Duration(chartSpan), Per: "gateway"}
	if v, err := s.query.Query(ctx, rules.CountQuery(g, window), now); err == nil {
		if vec, ok := v.(promql.Vector); ok {
			for _, smp := range vec {
				total += smp.F
			}
		}
	}
	return svgChart(times, values), math.Round(total)
}

func svgChart(times []time.Time, values []float64) template.HTML {
	peak := 1.0
	for _, v := range values {
		peak = max(peak, v)
	}
	peak = math.Ceil(peak)
	var pts []string
	n := len(values)
	for i, v := range values {
		x := chartPad + float64(i)*float64(chartW-2*chartPad)/float64(max(n-1, 1))
		y := float64(chartH-chartPad) - v/peak*float64(chartH-2*chartPad)
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="misdirected requests per minute, last 30 minutes">`, chartW, chartH)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" class="axis"/>`, chartPad, chartH-chartPad, chartW-chartPad, chartH-chartPad)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" class="axis"/>`, chartPad, chartPad, chartPad, chartH-chartPad)
	fmt.Fprintf(&b, `<text x="%d" y="%d" class="lbl">%g</text>`, 2, chartPad+4, peak)
	fmt.Fprintf(&b, `<text x="%d" y="%d" class="lbl">0</text>`, 12, chartH-chartPad+4)
	if len(times) > 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="lbl">%s</text>`, chartPad, chartH-8, times[0].Format("15:04"))
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="lbl" text-anchor="end">%s</text>`, chartW-chartPad, chartH-8, times[len(times)-1].Format("15:04"))
	}
	fmt.Fprintf(&b, `<polyline points="%s" class="line"/>`, strings.Join(pts, " "))
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // only numbers and times: nothing user-controlled
}

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"ago": func(now, t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return now.Sub(t).Round(time.Second).String() + " ago"
	},
	"fmtTime": func(t time.Time) string { return t.Local().Format("15:04:05") },
	"get":     func(m map[string]string, k string) string { return m[k] },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<noscript><meta http-equiv="refresh" content="5"></noscript>
<title>gatewatch</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#222;max-width:1100px}
h1{font-size:1.4rem;margin:0 0 .2rem} h2{font-size:1.1rem;margin:1.4rem 0 .4rem}
table{border-collapse:collapse;width:100%} td,th{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
.up{color:#1a7f37;font-weight:600}.down{color:#cf222e;font-weight:600}.unknown{color:#777}
.firing{color:#cf222e;font-weight:600}.pending{color:#9a6700}
.chart{width:100%;max-width:640px;height:auto;background:#fafafa;border:1px solid #eee}
.axis{stroke:#999;stroke-width:1}.line{fill:none;stroke:#cf222e;stroke-width:2}.lbl{font-size:10px;fill:#666}
.msg{border-left:4px solid #999;padding:.3rem .6rem;margin:.4rem 0;background:#fafafa;white-space:pre-wrap}
.good{border-color:#1a7f37}.warning{border-color:#d4a72c}.danger{border-color:#cf222e}
button{font:inherit;padding:.3rem .8rem} .muted{color:#777}
</style></head><body>
<h1>gatewatch</h1>
<div class="muted">misdirected requests (HTTP 421) at Istio/Envoy gateways → Mattermost{{ with .Channel }} (~{{ . }}){{ end }} · {{ fmtTime .Now }} · <span id="refresh">refreshes every 5 s</span></div>
{{ if .Demo }}<form method="post" action="/demo/inject"><p><button>Serve a misdirected request (421) now</button></p></form>{{ end }}

<h2>Gateways</h2>
{{ range .Gateways }}<h3>{{ .Name }} <span class="muted">({{ .Namespace }}) · {{ .Targets }} target(s) · {{ .Total }} misdirected in the last 30 min · 421s per minute:</span></h3>{{ with .NoTargets }}<p class="firing">no targets, so every alert of this gateway is blind: {{ . }}</p>{{ end }}{{ .Chart }}
{{ end }}

<h2>Targets</h2>
<table><tr><th>Endpoint</th><th>State</th><th>Last scrape</th><th>Error</th></tr>
{{ range .Targets }}<tr><td>{{ .URL }}<br><span class="muted">{{ with get .Labels "pod" }}pod {{ . }}{{ else }}{{ .Job }}{{ end }}</span></td><td class="{{ .Health }}">{{ .Health }}</td><td>{{ ago $.Now .LastScrape }}</td><td>{{ .Error }}</td></tr>
{{ else }}<tr><td colspan="4" class="muted">no targets discovered yet</td></tr>{{ end }}</table>

<h2>Alerts</h2>
<table><tr><th>Alert</th><th>State</th><th>Where</th><th>Since</th><th>Summary</th></tr>
{{ range .Alerts }}<tr><td>{{ .Name }}</td><td class="{{ .State }}">{{ .State }}</td><td>{{ get .Labels "gateway" }}{{ with get .Labels "pod" }} · {{ . }}{{ else }}{{ with get .Labels "instance" }} · {{ . }}{{ end }}{{ end }}</td><td>{{ ago $.Now .ActiveAt }}</td><td>{{ get .Annotations "description" }}</td></tr>
{{ else }}<tr><td colspan="5" class="muted">no active alerts</td></tr>{{ end }}</table>

<h2 id="silences">Silences</h2>
<table><tr><th>Matchers</th><th>State</th><th>Ends</th><th>By</th><th>Comment</th><th></th></tr>
{{ range .Silences }}<tr><td><code>{{ .Matchers }}</code></td><td>{{ .State }}</td><td>{{ fmtTime .EndsAt }}</td><td>{{ .CreatedBy }}</td><td>{{ .Comment }}</td><td>{{ if ne .State "expired" }}<form method="post" action="/silences/{{ .ID }}/expire"><button>Expire</button></form>{{ end }}</td></tr>
{{ else }}<tr><td colspan="6" class="muted">no silences</td></tr>{{ end }}</table>
<form id="silence-form" method="post" action="/silences"><p>
<input name="matchers" size="40" placeholder="alertname=GatewayMisdirectedRequest421, gateway=public-ingress" required>
<input name="duration" size="5" value="2h" required>
<input name="created_by" size="10" placeholder="you" required>
<input name="comment" size="30" placeholder="why" required>
<button>Silence</button></p></form>

{{ with .Cluster }}{{ if .Enabled }}<h2 id="cluster">Cluster</h2>
<p>This replica: <code>{{ .Name }}</code>, position {{ .Position }} ({{ if eq .Position 0 }}sends first{{ else }}waits {{ .Position }} × peer timeout before sending{{ end }}), {{ .Status }}.</p>
<table><tr><th>Member</th><th>Address</th></tr>
{{ range .Members }}<tr><td><code>{{ .Name }}</code></td><td>{{ .Address }}</td></tr>
{{ end }}</table>{{ end }}{{ end }}

{{ if .Pending }}<h2 id="pending">Pending notifications</h2>
<p class="muted">Not delivered yet: Alertmanager retries a firing group at every group_interval; a group that resolved meanwhile is posted once, late, saying so.</p>
<table><tr><th>Group</th><th>Alerts</th><th>Failing since</th><th>Attempts</th><th>State</th><th>Last error</th></tr>
{{ range .Pending }}<tr><td><code>{{ .GroupKey }}</code></td><td>{{ len .Alerts }}</td><td>{{ fmtTime .FirstFailed }}</td><td>{{ .Attempts }}</td><td>{{ if .Resolved $.Now }}resolved, to post late{{ else }}firing{{ end }}</td><td class="down">{{ .LastError }}</td></tr>
{{ end }}</table>{{ end }}

<h2>Recent notifications</h2>
<table><tr><th>When</th><th>Message</th><th>Alerts</th><th>Mattermost answered</th></tr>
{{ range .Deliveries }}<tr><td>{{ fmtTime .At }}</td><td>{{ .Title }}</td><td>{{ .Alerts }}</td><td class="{{ if .OK }}up{{ else }}down{{ end }}">{{ .Answer }}</td></tr>
{{ else }}<tr><td colspan="4" class="muted">nothing sent yet</td></tr>{{ end }}</table>

{{ if .Acks }}<h2 id="acknowledged">Acknowledged in Mattermost</h2>
<table><tr><th>Group</th><th>Post</th><th>By</th><th>At</th></tr>
{{ range .Acks }}<tr><td><code>{{ .GroupKey }}</code></td><td><code>{{ .PostID }}</code></td><td>@{{ .By }}</td><td>{{ fmtTime .At }}</td></tr>
{{ end }}</table>{{ end }}

{{ if .Demo }}<h2 id="inbox">Demo inbox</h2>
{{ range .Inbox }}<div class="msg {{ .Color }}">{{ if .Status }}<span class="muted">{{ .Status }}</span><br>{{ end }}<b>{{ .Title }}</b> <span class="muted">{{ fmtTime .At }}{{ if .Edited }} (edited){{ end }}</span>
{{ .Text }}{{ if .Buttons }}<form method="post" action="/demo/click"><input type="hidden" name="post" value="{{ .ID }}">{{ range .Buttons }}<button name="action" value="{{ .ID }}">{{ .Name }}</button> {{ end }}</form>{{ end }}
{{ range .Thread }}<div class="muted">↳ {{ . }}</div>{{ end }}</div>
{{ else }}<p class="muted">no messages received yet</p>{{ end }}{{ end }}
<p class="muted"><a href="/metrics">/metrics</a> · <a href="/api/gatewatch/status">status JSON</a> · <a href="/api/v1/query?query=up">/api/v1/query</a></p>
<script>` + pageScript + `</script>
</body></html>`))

// pageScript is the page's only script (the page works without it, with
// the <noscript> meta refresh and an empty silence form):
//   - a message's Silence link, <external URL>/#/silences/new?filter=…
//     (the route of Alertmanager's UI, which the Mattermost templates
//     link to), fills the silence form with the group's matchers, keeps the
//     default duration, and focuses "created by";
//   - the page reloads every 5 s, except while the silence form is being
//     filled in (a reload would drop what was typed).
//
// silenceFilter returns the matchers of such a fragment without their
// braces ("#/silences/new?filter=%7Ba%3D%22b%22%7D" gives `a="b"`), or null
// for any other fragment. The script is plain text of the template (no
// actions) and has no comments (html/template would strip them), so it is
// served exactly as written here.
const pageScript = `
(function () {
  "use strict";
  function silenceFilter(hash) {
    var route = "#/silences/new?";
    if (typeof hash !== "string" || hash.indexOf(route) !== 0) {
      return null;
    }
    var f = new URLSearchParams(hash.slice(route.length)).get("filter");
    if (f === null) {
      return null;
    }
    f = f.trim();
    if (f.charAt(0) === "{" && f.charAt(f.length - 1) === "}") {
      f = f.slice(1, -1).trim();
    }
    return f;
  }
  var form = document.getElementById("silence-form");
  var fields = form.elements;
  function prefill() {
    var f = silenceFilter(location.hash);
    if (f === null) {
      return;
    }
    fields.matchers.value = f;
    if (!fields.duration.value) {
      fields.duration.value = "2h";
    }
    fields.comment.placeholder = "why (e.g. a known cause, the fix is rolling out)";
    form.scrollIntoView({block: "center"});
    (f ? fields.created_by : fields.matchers).focus();
  }
  prefill();
  window.addEventListener("hashchange", prefill);
  function inUse() {
    return form.contains(document.activeElement) ||
      fields.matchers.value !== "" || fields.created_by.value !== "" || fields.comment.value !== "";
  }
  function tick() {
    if (!inUse()) {
      location.reload();
      return;
    }
    document.getElementById("refresh").textContent = "refresh paused while the silence form is filled in";
    setTimeout(tick, 5000);
  }
  setTimeout(tick, 5000);
})();
`

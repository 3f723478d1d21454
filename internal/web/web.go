// Package web serves gatewatch's status page (server-rendered HTML with
// inline SVG charts, no JavaScript build), its JSON status, a read-only
// Prometheus-compatible query API, /metrics, health and reload endpoints.
package web

import (
	"context"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	amlabels "github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/gatewatch/gatewatch/internal/engine"
	"github.com/gatewatch/gatewatch/internal/mattermost"
	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// Status is the engine's state the page and the JSON status show.
type Status interface {
	Spec() *spec.Spec
	Targets() []engine.Target
	// DiscoveryError is why pod discovery does not work ("" when it does).
	DiscoveryError() string
	ActiveAlerts() []engine.ActiveAlert
	Deliveries() []mattermost.Delivery
	// Pending is the groups not delivered yet (Mattermost unreachable).
	Pending() []engine.PendingNotification
	// ClusterStatus is this replica's view of the gossip cluster.
	ClusterStatus() engine.ClusterStatus
	// Acks are the acknowledgements clicked in Mattermost (bot mode).
	Acks() []engine.Ack
}

// Health is what /-/ready and /metrics serve.
type Health interface {
	Ready() bool
	Registry() *prometheus.Registry
}

// Querier evaluates PromQL against the engine's storage (the query API,
// the charts and /graph).
type Querier interface {
	Query(ctx context.Context, q string, ts time.Time) (parser.Value, error)
	QueryRange(ctx context.Context, q string, start, end time.Time, step time.Duration) (parser.Value, error)
}

// Silencer lists, adds and expires Alertmanager silences.
type Silencer interface {
	Silences(ctx context.Context) ([]engine.Silence, error)
	AddSilence(ctx context.Context, matchers []*amlabels.Matcher, d time.Duration, createdBy, comment string) (string, error)
	ExpireSilence(ctx context.Context, id string) error
}

// Alertmanager serves Alertmanager's API v2 (amtool, Grafana's
// Alertmanager data source) from Alertmanager's own api package.
type Alertmanager interface {
	AlertmanagerAPI() http.Handler
}

// Chat serves the Mattermost buttons' clicks (bot mode): authenticated by
// the HMAC each button's context carries, not by the origin.
type Chat interface {
	MattermostActions() http.Handler
}

// Backend is everything the handler serves, each part used by the handlers
// that need it; *engine.Engine is one.
type Backend interface {
	Status
	Health
	Querier
	Silencer
	Alertmanager
	Chat
	Catalog
}

// Options configure the handler.
type Options struct {
	// Reload re-reads the spec file (POST /-/reload); nil disables it.
	Reload  func(context.Context) error
	Version string
	Logger  *slog.Logger
	// Now is the clock for charts (tests); default time.Now.
	Now func() time.Time
	// Demo, set by gatewatch demo, adds its inject button and inbox.
	Demo Demo
	// Hosts are the host:port names gatewatch is reached by (HostsFor);
	// a state-changing request naming another Host is refused, so a page
	// whose own name was rebound to this address cannot post. Empty: any.
	Hosts []string
}

// HostsFor lists the names a server listening on addr (and reached at
// externalURL, if any) answers to: the address itself, localhost for a
// loopback address, and the external URL's host.
func HostsFor(addr net.Addr, externalURL string) []string {
	hosts := []string{addr.String()}
	if ta, ok := addr.(*net.TCPAddr); ok {
		if ta.IP.IsUnspecified() {
			return nil // reached by names this process cannot know
		}
		if ta.IP.IsLoopback() {
			port := strconv.Itoa(ta.Port)
			hosts = append(hosts, "localhost:"+port, net.JoinHostPort("127.0.0.1", port), net.JoinHostPort("::1", port))
		}
	}
	if u, err := url.Parse(externalURL); err == nil && u.Host != "" {
		hosts = append(hosts, u.Host)
		if u.Port() == "" {
			hosts = append(hosts, u.Hostname())
		}
	}
	return hosts
}

// Demo is what gatewatch demo adds to the page; internal/demo provides it.
type Demo interface {
	// Inject serves one misdirected request (POST /demo/inject).
	Inject()
	// Inbox lists the messages the local inbox received, newest first.
	Inbox() []InboxPost
	// Click clicks a button of a bot post as the demo's user (POST
	// /demo/click), as Mattermost's client would.
	Click(postID, actionID string) error
}

// InboxPost is a message the demo inbox accepted.
type InboxPost struct {
	At    time.Time
	Title string
	Color string
	Text  string
	// Bot mode: the post's id, its status line, buttons and thread.
	ID      string
	Status  string
	Edited  bool
	Buttons []InboxButton
	Thread  []string
}

// InboxButton is a button on a demo inbox post.
type InboxButton struct{ ID, Name string }

type server struct {
	state   Status
	query   Querier
	silence Silencer
	o       Options
	clients oneQueryPerClient
}

// Handler returns the HTTP handler.
func Handler(b Backend, o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &server{state: b, query: b, silence: b, o: o}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.page)
	mux.HandleFunc("GET /api/gatewatch/status", s.status)
	mux.HandleFunc("GET /api/v1/query", s.limited(s.apiQuery))
	mux.HandleFunc("POST /api/v1/query", s.limited(s.apiQuery))
	mux.HandleFunc("GET /api/v1/query_range", s.limited(s.apiQueryRange))
	mux.HandleFunc("POST /api/v1/query_range", s.limited(s.apiQueryRange))
	mux.HandleFunc("GET /api/v1/status/buildinfo", s.apiBuildInfo)
	registerPromAPI(mux, b)
	mux.HandleFunc("GET /graph", s.graph)
	mux.HandleFunc("POST /silences", s.addSilence)
	mux.HandleFunc("POST /silences/{id}/expire", s.expireSilence)
	mux.HandleFunc("POST /demo/inject", s.inject)
	mux.HandleFunc("POST /demo/click", s.demoClick)
	mux.Handle("POST "+mattermost.ActionPath, b.MattermostActions())
	mux.Handle("GET /metrics", promhttp.HandlerFor(b.Registry(), promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "Healthy") })
	mux.HandleFunc("GET /-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !b.Ready() {
			http.Error(w, "Not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "Ready")
	})
	mux.HandleFunc("POST /-/reload", s.reload)
	mux.Handle("/api/v2/", b.AlertmanagerAPI())
	return sameOrigin(mux, o.Hosts)
}

// sameOrigin refuses state-changing requests a browser sends on behalf of
// another site (cross-site request forgery: a page elsewhere posting to the
// silence form). Requests without browser headers (curl, scripts) pass.
func sameOrigin(next http.Handler, hosts []string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Every POST, the query API's too (a query costs memory and CPU,
		// and a page elsewhere must not make a browser spend them), and
		// Alertmanager API v2's DELETE of a silence.
		if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions {
			if len(hosts) > 0 && !slices.ContainsFunc(hosts, func(h string) bool { return strings.EqualFold(h, r.Host) }) {
				http.Error(w, fmt.Sprintf("request for host %q refused: gatewatch answers state-changing requests for %s only (set --web.external-url to the name you use)", r.Host, strings.Join(hosts, ", ")), http.StatusForbidden)
				return
			}
			site := r.Header.Get("Sec-Fetch-Site")
			origin := r.Header.Get("Origin")
			crossSite := site != "" && site != "same-origin" && site != "none"
			if origin != "" && origin != "null" {
				if u, err := url.Parse(origin); err != nil || u.Host != r.Host {
					crossSite = true
				}
			} else if origin == "null" {
				crossSite = true
			}
			if crossSite {
				http.Error(w, "cross-site request refused", http.StatusForbidden)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (s *server) reload(w http.ResponseWriter, r *http.Request) {
	if s.o.Reload == nil {
		http.Error(w, "reload is not available", http.StatusNotImplemented)
		return
	}
	if err := s.o.Reload(r.Context()); err != nil {
		http.Error(w, "reload failed, the previous spec keeps running: "+err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, "reloaded")
}

func (s *server) inject(w http.ResponseWriter, r *http.Request) {
	if s.o.Demo == nil {
		http.Error(w, "injection is only available in gatewatch demo", http.StatusNotFound)
		return
	}
	s.o.Demo.Inject()
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	fmt.Fprintln(w, "served one misdirected request (421)")
}

// demoClick clicks a demo inbox post's button as the demo's user.
func (s *server) demoClick(w http.ResponseWriter, r *http.Request) {
	if s.o.Demo == nil {
		http.Error(w, "the demo inbox is only available in gatewatch demo", http.StatusNotFound)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := s.o.Demo.Click(r.Form.Get("post"), r.Form.Get("action")); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		http.Redirect(w, r, "/#inbox", http.StatusSeeOther)
		return
	}
	fmt.Fprintln(w, "clicked")
}

func (s *server) addSilence(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	// Alertmanager's own matcher syntax (=, !=, =~, !~), one per line or
	// comma-separated, as amtool and its UI take them.
	matchers, err := amlabels.ParseMatchers(strings.ReplaceAll(r.Form.Get("matchers"), "\n", ","))
	if err != nil {
		http.Error(w, fmt.Sprintf("matchers: %v (write name=value, name!=value, name=~regex or name!~regex)", err), http.StatusBadRequest)
		return
	}
	d, err := time.ParseDuration(r.Form.Get("duration"))
	if err != nil {
		http.Error(w, fmt.Sprintf("duration %q: use e.g. 2h or 30m", r.Form.Get("duration")), http.StatusBadRequest)
		return
	}
	if _, err := s.silence.AddSilence(r.Context(), matchers, d, r.Form.Get("created_by"), r.Form.Get("comment")); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	http.Redirect(w, r, "/#silences", http.StatusSeeOther)
}

func (s *server) expireSilence(w http.ResponseWriter, r *http.Request) {
	if err := s.silence.ExpireSilence(r.Context(), r.PathValue("id")); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	http.Redirect(w, r, "/#silences", http.StatusSeeOther)
}

// statusData is everything the page and the JSON status show.
type statusData struct {
	Gateways   []gatewayView                `json:"gateways"`
	Targets    []engine.Target              `json:"targets"`
	Alerts     []engine.ActiveAlert         `json:"alerts"`
	Silences   []engine.Silence             `json:"silences"`
	Deliveries []mattermost.Delivery        `json:"notifications"`
	Pending    []engine.PendingNotification `json:"pending_notifications"`
	Cluster    engine.ClusterStatus         `json:"cluster"`
	Inbox      []InboxPost                  `json:"inbox,omitempty"`
	Acks       []engine.Ack                 `json:"acknowledged,omitempty"`
	Demo       bool                         `json:"demo"`
	Channel    string                       `json:"channel,omitempty"`
	Now        time.Time                    `json:"now"`
}

type gatewayView struct {
	Name      string        `json:"name"`
	Namespace string        `json:"namespace"`
	Chart     template.HTML `json:"-"`
	Total     float64       `json:"misdirected_last_30m"`
	// Targets counts the gateway's scrape targets; NoTargets says why it
	// has none (every alert of the gateway is blind then).
	Targets   int    `json:"targets"`
	NoTargets string `json:"no_targets,omitempty"`
}

// targetsOf counts g's targets and, when there are none, says why.
func targetsOf(g spec.Gateway, ts []engine.Target, discoveryErr string) (int, string) {
	n := 0
	for _, t := range ts {
		if t.Job == rules.JobName(g) || t.Job == rules.StaticJobName(g) {
			n++
		}
	}
	switch {
	case n > 0:
		return n, ""
	case g.Selector == "":
		return 0, "static targets not scraped yet"
	case discoveryErr != "":
		return 0, discoveryErr
	default:
		return 0, fmt.Sprintf("no running pod in namespace %s matches the selector %s", g.Namespace, g.Selector)
	}
}

func (s *server) collect(ctx context.Context) statusData {
	d := statusData{
		Targets: s.state.Targets(), Alerts: s.state.ActiveAlerts(), Deliveries: s.state.Deliveries(),
		Pending: s.state.Pending(), Acks: s.state.Acks(),
		Cluster: s.state.ClusterStatus(),
		Demo:    s.o.Demo != nil, Now: s.o.Now(),
	}
	sort.Slice(d.Targets, func(i, j int) bool { return d.Targets[i].URL < d.Targets[j].URL })
	sort.Slice(d.Alerts, func(i, j int) bool { return d.Alerts[i].ActiveAt.After(d.Alerts[j].ActiveAt) })
	if sil, err := s.silence.Silences(ctx); err == nil {
		d.Silences = sil
	}
	if s.o.Demo != nil {
		d.Inbox = s.o.Demo.Inbox()
	}
	sp := s.state.Spec()
	if sp != nil {
		d.Channel = sp.Mattermost.Channel
		for _, g := range sp.Gateways {
			gv := gatewayView{Name: g.Name, Namespace: g.Namespace}
			gv.Chart, gv.Total = s.chart(ctx, g)
			gv.Targets, gv.NoTargets = targetsOf(g, d.Targets, s.state.DiscoveryError())
			d.Gateways = append(d.Gateways, gv)
		}
	}
	return d
}

func (s *server) status(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.collect(r.Context()))
}

func (s *server) page(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pageTmpl.Execute(w, s.collect(r.Context())); err != nil {
		s.o.Logger.Error("render status page", "err", err)
	}
}

// graph answers the alerts' generator links with the expression's current
// result: /graph?alert=NAME&gateway=G names the running spec's rule (the
// short link messages carry), /graph?g0.expr=… any expression.
func (s *server) graph(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	expr := q.Get("g0.expr")
	if expr == "" {
		expr = q.Get("query")
	}
	d := graphData{Expr: expr, Now: s.o.Now()}
	if name := q.Get("alert"); name != "" && expr == "" {
		if d.Expr = s.ruleExpr(name, q.Get("gateway")); d.Expr == "" {
			d.Error = fmt.Sprintf("the running spec has no enabled alert %q at gateway %q", name, q.Get("gateway"))
			w.WriteHeader(http.StatusNotFound)
		}
		d.Rule = name + " at " + q.Get("gateway")
		expr = d.Expr
	}
	if expr != "" {
		v, err := s.query.Query(r.Context(), expr, d.Now)
		if err != nil {
			d.Error = err.Error()
		} else if vec, ok := v.(promql.Vector); ok {
			for _, smp := range vec {
				d.Rows = append(d.Rows, graphRow{Labels: smp.Metric.String(), Value: formatFloat(smp.F)})
			}
		} else {
			d.Rows = append(d.Rows, graphRow{Labels: string(v.Type()), Value: v.String()})
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := graphTmpl.Execute(w, d); err != nil {
		s.o.Logger.Error("render graph page", "err", err)
	}
}

// ruleExpr is the expression of the running spec's alert name at gateway
// g, "" when there is none.
func (s *server) ruleExpr(name, g string) string {
	sp := s.state.Spec()
	if sp == nil {
		return ""
	}
	for _, gw := range sp.Gateways {
		if gw.Name != g {
			continue
		}
		for _, a := range sp.EnabledAlerts() {
			if a.Name == name {
				return rules.Expr(gw, a)
			}
		}
	}
	return ""
}

type graphData struct {
	Rule        string // "ALERT at GATEWAY" for a rule's link
	Expr, Error string
	Now         time.Time
	Rows        []graphRow
}

type graphRow struct{ Labels, Value string }

var graphTmpl = template.Must(template.New("graph").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gatewatch query</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;max-width:1100px}pre{white-space:pre-wrap;background:#fafafa;padding:.5rem}
td,th{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left}</style></head><body>
<p><a href="/">← status</a></p>
{{ with .Rule }}<p>The rule of <b>{{ . }}</b>:</p>{{ end }}
<form><textarea name="g0.expr" rows="6" cols="100">{{ .Expr }}</textarea><br><button>Run</button></form>
{{ with .Error }}<p style="color:#cf222e">{{ . }}</p>{{ end }}
<table><tr><th>Series</th><th>Value at {{ .Now.Format "15:04:05" }}</th></tr>
{{ range .Rows }}<tr><td><code>{{ .Labels }}</code></td><td>{{ .Value }}</td></tr>{{ else }}<tr><td colspan="2">empty result</td></tr>{{ end }}</table>
</body></html>`))

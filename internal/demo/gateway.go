// Package demo runs gatewatch end to end on one machine: a simulated Istio
// ingress gateway (real-format Envoy stats and access log, misdirected
// requests on a schedule and on demand), the embedded engine, and a local
// Mattermost-compatible inbox.
package demo

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// Gateway is a simulated Istio ingress gateway pod: it serves Envoy's
// /stats/prometheus in the format istio-proxy uses (Istio standard metrics
// with their label sets, a request-duration histogram, envoy_server_uptime)
// and writes Istio's default text access log. Like Envoy, it has no
// response_code="421" series until the first 421 is served.
type Gateway struct {
	Namespace, Workload, Pod string

	mu       sync.Mutex
	started  time.Time
	now      func() time.Time
	counters map[requestKey]float64
	duration map[string]*histogram
	log      io.Writer
	padding  string

	srv *http.Server
	ln  net.Listener
}

type requestKey struct {
	code, flags, host, dest string
}

type histogram struct {
	buckets []float64
	counts  []float64
	sum     float64
	count   float64
}

var durationBuckets = []float64{0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000}

// Hosts the simulated gateway serves; shop and api share a wildcard
// certificate, which is what lets browsers coalesce connections.
var demoHosts = []struct{ host, dest string }{
	{"shop.example.com", "shop.shop.svc.cluster.local"},
	{"api.example.com", "api.api.svc.cluster.local"},
}

// NewGateway returns a gateway pod; now is its clock (nil: time.Now).
func NewGateway(namespace, workload, pod string, now func() time.Time, accessLog io.Writer) *Gateway {
	if now == nil {
		now = time.Now
	}
	if accessLog == nil {
		accessLog = io.Discard
	}
	return &Gateway{Namespace: namespace, Workload: workload, Pod: pod, now: now, started: now(),
		counters: map[requestKey]float64{}, duration: map[string]*histogram{}, log: accessLog}
}

// Start serves the stats endpoint on addr ("127.0.0.1:0" picks a port).
func (g *Gateway) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("simulated gateway: listen %s: %w", addr, err)
	}
	g.ln = ln
	mux := http.NewServeMux()
	mux.HandleFunc("/stats/prometheus", g.serveStats)
	g.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = g.srv.Serve(ln) }()
	return nil
}

// Addr is host:port of the stats endpoint.
func (g *Gateway) Addr() string { return g.ln.Addr().String() }

// Close stops serving.
func (g *Gateway) Close() error {
	if g.srv == nil {
		return nil
	}
	return g.srv.Close()
}

// SetUptime makes the pod look started d ago (envoy_server_uptime), as a
// pod that has been running for a while before anything watched it.
func (g *Gateway) SetUptime(d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.started = g.now().Add(-d)
}

// PadStats adds the per-upstream-cluster stats a real Envoy page is mostly
// made of: stats counters and gauges for each of clusters outbound
// clusters (18 of Envoy's cluster manager stats, about 1.9 KB a cluster):
// 1500 clusters make a page of about 2.8 MB, the size of a gateway in
// front of a mid-sized mesh.
func (g *Gateway) PadStats(clusters int) {
	var b strings.Builder
	for _, stat := range paddingStats {
		fmt.Fprintf(&b, "# TYPE envoy_cluster_%s counter\n", stat)
		for i := 0; i < clusters; i++ {
			fmt.Fprintf(&b, "envoy_cluster_%s{cluster_name=\"outbound|8080||svc-%d.shop.svc.cluster.local\"} %d\n", stat, i, (i*31+len(stat))%9973)
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.padding = b.String()
}

var paddingStats = []string{"upstream_rq_total", "upstream_rq_completed", "upstream_rq_active", "upstream_rq_pending_total",
	"upstream_rq_pending_active", "upstream_rq_timeout", "upstream_rq_retry", "upstream_rq_2xx", "upstream_rq_4xx",
	"upstream_rq_5xx", "upstream_cx_total", "upstream_cx_active", "upstream_cx_destroy", "upstream_cx_connect_fail",
	"upstream_cx_rx_bytes_total", "upstream_cx_tx_bytes_total", "membership_healthy", "membership_total"}

// Restart simulates an Envoy restart: every counter resets, uptime restarts.
func (g *Gateway) Restart() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.started = g.now()
	g.counters = map[requestKey]float64{}
	g.duration = map[string]*histogram{}
}

// Serve records n ordinary requests (200s, a few 404s).
func (g *Gateway) Serve(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i := 0; i < n; i++ {
		h := demoHosts[rand.IntN(len(demoHosts))]
		code, flags := "200", "-"
		if rand.IntN(50) == 0 {
			code, flags = "404", "NR"
		}
		g.record(requestKey{code: code, flags: flags, host: h.host, dest: h.dest}, 3+rand.Float64()*40,
			accessLine{sni: h.host, authority: h.host, code: code, flags: flags, details: "via_upstream", ua: "curl/8.5.0", dest: h.dest})
	}
}

// Misdirect serves n misdirected requests: a browser reuses an HTTP/2
// connection opened for shop.example.com (SNI) to ask for api.example.com
// (:authority), and the gateway's Lua filter answers 421.
func (g *Gateway) Misdirect(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i := 0; i < n; i++ {
		g.record(requestKey{code: "421", flags: "-", host: "api.example.com", dest: "api.api.svc.cluster.local"}, 0.4,
			accessLine{sni: "shop.example.com", authority: "api.example.com", code: "421", flags: "-", details: "lua_response",
				ua: "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", dest: "api.api.svc.cluster.local"})
	}
}

type accessLine struct {
	sni, authority, code, flags, details, ua, dest string
}

func (g *Gateway) record(k requestKey, ms float64, l accessLine) {
	g.counters[k]++
	h := g.duration[k.code]
	if h == nil {
		h = &histogram{buckets: durationBuckets, counts: make([]float64, len(durationBuckets))}
		g.duration[k.code] = h
	}
	for i, b := range h.buckets {
		if ms <= b {
			h.counts[i]++
		}
	}
	h.sum += ms
	h.count++
	// Istio's default text access log format (1.23+, %UPSTREAM_CLUSTER_RAW%;
	// istio/istio pilot/pkg/model/telemetry_logging.go), field for field:
	// %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS%
	// %CONNECTION_TERMINATION_DETAILS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%" …
	now := g.now().UTC().Format("2006-01-02T15:04:05.000Z")
	upstream := "outbound|80||" + l.dest
	if l.details == "lua_response" {
		upstream = "-"
	}
	fmt.Fprintf(g.log, "[%s] \"GET /v1/items HTTP/2\" %s %s %s - \"-\" 0 %d %d %d \"198.51.100.23\" \"%s\" \"%08x-demo\" \"%s\" \"%s\" %s - 10.0.0.11:8443 198.51.100.23:51234 %s -\n",
		now, l.code, l.flags, l.details, 120, int(ms), int(ms), l.ua, rand.Uint32(), l.authority, upstreamHost(l), upstream, l.sni)
}

func upstreamHost(l accessLine) string {
	if l.details == "lua_response" {
		return "-"
	}
	return "10.0.1.21:8080"
}

// serveStats writes the Prometheus text page.
func (g *Gateway) serveStats(w http.ResponseWriter, r *http.Request) {
	// Envoy's ?filter=<regex>: only the stats whose Envoy name the regex
	// matches (partially), as the admin endpoint does.
	var filter *regexp.Regexp
	if f := r.URL.Query().Get("filter"); f != "" {
		re, err := regexp.Compile(f)
		if err != nil {
			http.Error(w, "Invalid re2 regex", http.StatusBadRequest)
			return
		}
		filter = re
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	var page strings.Builder
	g.writeStats(&page)
	if filter == nil {
		_, _ = io.WriteString(w, page.String())
		return
	}
	// Each "# TYPE" line starts a family; its Envoy name decides.
	keep := true
	for _, line := range strings.SplitAfter(page.String(), "\n") {
		if strings.HasPrefix(line, "# TYPE ") {
			keep = filter.MatchString(envoyName(strings.Fields(line)[2]))
		}
		if keep {
			_, _ = io.WriteString(w, line)
		}
	}
}

// envoyName is the name Envoy's stats store gives a family the page shows:
// Istio's metrics keep theirs after the tags ("reporter=.=source;.;istio_…"),
// Envoy's own have dots and no "envoy_" prefix ("server.uptime").
func envoyName(family string) string {
	if strings.HasPrefix(family, "istio_") {
		return "reporter=.=source;.;" + family
	}
	return strings.ReplaceAll(strings.TrimPrefix(family, "envoy_"), "_", ".")
}

// writeStats writes the whole page.
func (g *Gateway) writeStats(b *strings.Builder) {
	b.WriteString("# TYPE envoy_server_uptime gauge\n")
	fmt.Fprintf(b, "envoy_server_uptime{} %d\n", int(g.now().Sub(g.started).Seconds()))
	b.WriteString("# TYPE envoy_server_live gauge\nenvoy_server_live{} 1\n")
	b.WriteString("# TYPE envoy_cluster_upstream_cx_active gauge\n")
	for _, h := range demoHosts {
		fmt.Fprintf(b, "envoy_cluster_upstream_cx_active{cluster_name=\"outbound|80||%s\"} %d\n", h.dest, 2)
	}
	b.WriteString(g.padding)
	keys := make([]requestKey, 0, len(g.counters))
	for k := range g.counters {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
	b.WriteString("# TYPE istio_requests_total counter\n")
	for _, k := range keys {
		fmt.Fprintf(b, "istio_requests_total{%s} %g\n", g.istioLabels(k), g.counters[k])
	}
	b.WriteString("# TYPE istio_request_duration_milliseconds histogram\n")
	codes := make([]string, 0, len(g.duration))
	for c := range g.duration {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, c := range codes {
		h := g.duration[c]
		lbl := g.istioLabels(requestKey{code: c, flags: "-", host: demoHosts[0].host, dest: demoHosts[0].dest})
		for i, bk := range h.buckets {
			fmt.Fprintf(b, "istio_request_duration_milliseconds_bucket{%s,le=\"%g\"} %g\n", lbl, bk, h.counts[i])
		}
		fmt.Fprintf(b, "istio_request_duration_milliseconds_bucket{%s,le=\"+Inf\"} %g\n", lbl, h.count)
		fmt.Fprintf(b, "istio_request_duration_milliseconds_sum{%s} %g\n", lbl, h.sum)
		fmt.Fprintf(b, "istio_request_duration_milliseconds_count{%s} %g\n", lbl, h.count)
	}
}

// istioLabels is the standard label set a gateway (reporter=source) reports.
func (g *Gateway) istioLabels(k requestKey) string {
	app := strings.Split(k.dest, ".")[0]
	return fmt.Sprintf(`reporter="source",source_workload="%s",source_canonical_service="%s",source_canonical_revision="latest",source_workload_namespace="%s",source_principal="unknown",source_app="%s",source_version="unknown",source_cluster="Kubernetes",destination_workload="%s",destination_workload_namespace="%s",destination_principal="spiffe://cluster.local/ns/%s/sa/%s",destination_app="%s",destination_version="v1",destination_service="%s",destination_canonical_service="%s",destination_canonical_revision="v1",destination_service_name="%s",destination_service_namespace="%s",destination_cluster="Kubernetes",request_protocol="http",response_code="%s",grpc_response_status="",response_flags="%s",connection_security_policy="unknown"`,
		g.Workload, g.Workload, g.Namespace, g.Workload, app, app, app, app, app, k.dest, app, app, app, k.code, k.flags)
}

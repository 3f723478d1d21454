package explain

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/explain/gwconfig"
	"github.com/gatewatch/gatewatch/internal/mattermost"
)

var now = time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC)

const (
	safari = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15"
	chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)

// textLine is a line in Istio's default text format (%UPSTREAM_CLUSTER_RAW%
// variant when raw, else %UPSTREAM_CLUSTER%, as Istio ≤ 1.22 wrote it).
func textLine(at time.Time, code int, details, ua, authority, sni string, raw bool) string {
	cluster, host := "outbound|80||api.api.svc.cluster.local", "10.0.1.21:8080"
	if details == "lua_response" {
		cluster, host = "-", "-"
	} else if !raw {
		cluster += ";"
	}
	return fmt.Sprintf(`[%s] "GET /v1/items HTTP/2" %d - %s - "-" 0 120 3 2 "198.51.100.23" "%s" "5b4e1c2a-9f7d-4c1e-8a33-0d6f2b7c9e11" "%s" "%s" %s - 10.0.0.11:8443 198.51.100.23:51234 %s -`+"\n",
		at.Format("2006-01-02T15:04:05.000Z"), code, details, ua, authority, host, cluster, sni)
}

// jsonLine is the same request in Istio's default JSON format.
func jsonLine(at time.Time, code int, details, ua, authority, sni string) string {
	b, _ := json.Marshal(map[string]any{
		"start_time": at.Format("2006-01-02T15:04:05.000Z"), "method": "GET", "path": "/v1/items", "protocol": "HTTP/2",
		"response_code": code, "response_flags": "-", "response_code_details": details, "connection_termination_details": nil,
		"upstream_transport_failure_reason": nil, "bytes_received": 0, "bytes_sent": 120, "duration": 3, "upstream_service_time": nil,
		"x_forwarded_for": "198.51.100.23", "user_agent": ua, "request_id": "5b4e1c2a", "authority": authority,
		"upstream_host": nil, "upstream_cluster": nil, "upstream_local_address": nil, "downstream_local_address": "10.0.0.11:8443",
		"downstream_remote_address": "198.51.100.23:51234", "requested_server_name": sni, "route_name": nil,
	})
	return string(b) + "\n"
}

type scenario struct {
	gateways string // Gateways and EnvoyFilters
	secrets  map[string][]string
	logs     string
}

func (s scenario) write(t *testing.T) (logFile, configDir string) {
	t.Helper()
	dir := t.TempDir()
	configDir = filepath.Join(dir, "config")
	require.NoError(t, os.MkdirAll(configDir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(configDir, "gateways.yaml"), []byte(s.gateways), 0o644))
	for name, sans := range s.secrets {
		cert, err := SelfSignedPEM(sans, now.Add(-time.Hour), now.Add(24*time.Hour))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(configDir, "secret-"+name+".yaml"), []byte(TLSSecretYAML("istio-ingress", name, cert)), 0o644))
	}
	logFile = filepath.Join(dir, "access.log")
	require.NoError(t, os.WriteFile(logFile, []byte(s.logs), 0o644))
	return logFile, configDir
}

func istioGateway(name, host, cred, selector string) string {
	return fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: %s, namespace: istio-ingress}
spec:
  selector: {istio: %s}
  servers:
  - port: {number: 443, name: https-%s, protocol: HTTPS}
    hosts: [%s]
    tls: {mode: SIMPLE, credentialName: %s}
---
`, name, selector, name, host, cred)
}

var luaFilter = LuaSNICheckFilterYAML + "---\n"

// logs builds n 421 lines of one pair plus ordinary traffic and noise.
func logs(n int, details, ua, authority, sni string, format string) string {
	var b strings.Builder
	b.WriteString("2026-11-25T10:00:00.000000Z\tinfo\tEnvoy proxy is ready\n")
	for i := range n {
		at := now.Add(-10*time.Minute + time.Duration(i)*time.Second)
		switch format {
		case "json":
			b.WriteString(jsonLine(at, 421, details, ua, authority, sni))
		case "text-cluster":
			b.WriteString(textLine(at, 421, details, ua, authority, sni, false))
		default:
			b.WriteString(textLine(at, 421, details, ua, authority, sni, true))
		}
		b.WriteString(textLine(at, 200, "via_upstream", chrome, sni, sni, true))
	}
	b.WriteString("garbage that is no access log at all\n")
	b.WriteString(`[2026-11-25T10:29:00.000Z] "GET /trunc` + "\n")
	return b.String()
}

func run(t *testing.T, s scenario) *Report {
	t.Helper()
	logFile, configDir := s.write(t)
	r, err := Run(context.Background(), Options{Logs: FileLogs{Path: logFile}, Config: DirConfig{Path: configDir}, Now: now})
	require.NoError(t, err)
	var text, js bytes.Buffer
	require.NoError(t, WriteText(&text, r))
	require.NoError(t, WriteJSON(&js, r))
	require.True(t, json.Valid(js.Bytes()))
	t.Log("\n" + text.String())
	return r
}

func fixCodes(v Verdict) []string {
	var out []string
	for _, f := range v.Fixes {
		out = append(out, f.Code)
	}
	return out
}

// Wildcard certificate on two Gateways of the same gateway pods, Lua filter
// answering: coalescing, fix the certificates first; Safari counted.
func TestWildcardCertificateAcrossTwoGatewaysLua(t *testing.T) {
	for _, format := range []string{"text", "text-cluster", "json"} {
		t.Run(format, func(t *testing.T) {
			r := run(t, scenario{
				gateways: istioGateway("shop", "shop.example.com", "shop-cert", "ingressgateway") + istioGateway("api", "api.example.com", "api-cert", "ingressgateway") + luaFilter,
				secrets:  map[string][]string{"shop-cert": {"*.example.com"}, "api-cert": {"*.example.com"}},
				logs:     logs(12, "lua_response", safari, "api.example.com", "shop.example.com", format),
			})
			require.Equal(t, 12, r.Logs.Misdirected)
			require.Equal(t, 2, r.Logs.Input.Bad, "the garbage and the truncated line")
			require.Equal(t, 1, r.Logs.Input.NotAccessLog)
			require.Len(t, r.Findings, 1)
			f := r.Findings[0]
			require.Equal(t, "shop.example.com", f.SNI)
			require.Equal(t, "api.example.com", f.Authority)
			require.Equal(t, 12, f.WebKit)
			require.True(t, f.Config.CoalescingPossible, "%+v", f.Config)
			require.True(t, f.Config.CertCoversAuthority)
			require.True(t, f.Config.SharesAddress)
			require.Equal(t, "coalescing", f.Verdict.Cause)
			require.Equal(t, []string{"distinct-certificates", "merge-servers", "separate-address", "alpn-http11"}, fixCodes(f.Verdict))
			require.Contains(t, f.Verdict.Summary, "Lua code answered")
			require.Contains(t, f.Verdict.Summary, "12 of the 12 went to Safari/WebKit")
			require.NotEmpty(t, r.Coalescing)
			require.Equal(t, "coalescing", r.Verdict.Cause)
		})
	}
}

// SAN overlap: shop's certificate also names api.example.com; the
// application answered the 421.
func TestSANOverlapUpstream421(t *testing.T) {
	r := run(t, scenario{
		gateways: istioGateway("shop", "shop.example.com", "shop-cert", "ingressgateway") + istioGateway("api", "api.example.com", "api-cert", "ingressgateway"),
		secrets:  map[string][]string{"shop-cert": {"shop.example.com", "api.example.com"}, "api-cert": {"api.example.com"}},
		logs:     logs(5, "via_upstream", chrome, "api.example.com", "shop.example.com", "text"),
	})
	f := r.Findings[0]
	require.Equal(t, "application", string(f.Producers[0].Producer))
	require.True(t, f.Config.CoalescingPossible)
	require.Equal(t, "coalescing", f.Verdict.Cause)
	require.Contains(t, f.Verdict.Summary, "the application answered (via_upstream)")
	require.Zero(t, f.WebKit)
	var pairs []string
	for _, c := range r.Coalescing {
		if c.Coalescing {
			pairs = append(pairs, c.From.Gateway+"→"+c.To.Gateway)
		}
	}
	require.Equal(t, []string{"istio-ingress/shop→istio-ingress/api"}, pairs, "only shop's certificate covers the other's host")
}

// No overlap: distinct certificates. Without logs nothing is reported; a
// 421 in the logs is the client's doing.
func TestNoOverlap(t *testing.T) {
	s := scenario{
		gateways: istioGateway("shop", "shop.example.com", "shop-cert", "ingressgateway") + istioGateway("api", "api.example.com", "api-cert", "ingressgateway") + luaFilter,
		secrets:  map[string][]string{"shop-cert": {"shop.example.com"}, "api-cert": {"api.example.com"}},
		logs:     logs(3, "lua_response", "python-requests/2.32.3", "api.example.com", "shop.example.com", "text"),
	}
	_, configDir := s.write(t)
	r, err := Run(context.Background(), Options{Config: DirConfig{Path: configDir}, Now: now})
	require.NoError(t, err)
	for _, c := range r.Coalescing {
		require.False(t, c.Coalescing, "%+v", c)
	}
	require.Nil(t, r.Verdict)
	var text bytes.Buffer
	require.NoError(t, WriteText(&text, r))
	require.Contains(t, text.String(), "no pair of servers lets browsers coalesce connections")

	r = run(t, s)
	require.Equal(t, "client", r.Findings[0].Verdict.Cause)
	require.Contains(t, r.Findings[0].Verdict.Summary, "does not cover api.example.com")
}

// Same certificate, but different gateway pods (selectors): different
// addresses, so browsers do not coalesce.
func TestSeparateAddressesNoCoalescing(t *testing.T) {
	r := run(t, scenario{
		gateways: istioGateway("shop", "shop.example.com", "shop-cert", "ingressgateway") + istioGateway("api", "api.example.com", "api-cert", "api-ingressgateway"),
		secrets:  map[string][]string{"shop-cert": {"*.example.com"}, "api-cert": {"*.example.com"}},
		logs:     logs(2, "via_upstream", chrome, "api.example.com", "shop.example.com", "text"),
	})
	f := r.Findings[0]
	require.False(t, f.Config.CoalescingPossible)
	require.Equal(t, "client", f.Verdict.Cause)
	require.Equal(t, "separate-address", f.Verdict.Fixes[0].Code)
}

// Lua filter answering 421 when SNI and :authority are the same host (the
// authority carries a port the filter compares): the filter's fault.
func TestLuaSameHost(t *testing.T) {
	r := run(t, scenario{
		gateways: istioGateway("shop", "shop.example.com", "shop-cert", "ingressgateway") + luaFilter,
		secrets:  map[string][]string{"shop-cert": {"shop.example.com"}},
		logs:     logs(4, "lua_response", chrome, "shop.example.com:443", "shop.example.com", "text"),
	})
	f := r.Findings[0]
	require.Equal(t, "same_host", string(f.Kind))
	require.Equal(t, "lua-filter", f.Verdict.Cause)
	require.Equal(t, "scope-lua-filter", f.Verdict.Fixes[0].Code)
}

// Without configuration the verdict still names coalescing and asks for it.
func TestLogsOnly(t *testing.T) {
	s := scenario{logs: logs(3, "lua_response", safari, "api.example.com", "shop.example.com", "json")}
	logFile, _ := s.write(t)
	r, err := Run(context.Background(), Options{Logs: FileLogs{Path: logFile}, Now: now, Since: 15 * time.Minute})
	require.NoError(t, err)
	require.Equal(t, "coalescing", r.Verdict.Cause)
	require.Equal(t, "give-config", r.Verdict.Fixes[len(r.Verdict.Fixes)-1].Code)
	// --since drops what is older.
	r, err = Run(context.Background(), Options{Logs: FileLogs{Path: logFile}, Now: now.Add(time.Hour), Since: 15 * time.Minute})
	require.NoError(t, err)
	require.Zero(t, r.Logs.Misdirected)
	require.Equal(t, 6, r.Skipped)
}

// Bad input: garbage config and logs give warnings, not failures; a
// missing file is an error only when nothing else could be read.
func TestBadInputWarnsAndGoesOn(t *testing.T) {
	s := scenario{
		gateways: "kind: Gateway\napiVersion: networking.istio.io/v1\nmetadata: {name: [broken\n---\n" + istioGateway("shop", "shop.example.com", "shop-cert", "ingressgateway"),
		logs:     strings.Repeat("\x00\x01garbage\n", 100) + logs(1, "lua_response", safari, "api.example.com", "shop.example.com", "text"),
	}
	logFile, configDir := s.write(t)
	require.NoError(t, os.WriteFile(filepath.Join(configDir, "secret-bad.yaml"), []byte("apiVersion: v1\nkind: Secret\nmetadata: {name: shop-cert, namespace: istio-ingress}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: bm90IGEgY2VydA==\n"), 0o644))
	r, err := Run(context.Background(), Options{Logs: FileLogs{Path: logFile}, Config: DirConfig{Path: configDir}, Now: now})
	require.NoError(t, err)
	require.Equal(t, 1, r.Logs.Misdirected)
	joined := strings.Join(r.Warnings, "\n")
	require.Contains(t, joined, "gateways.yaml")
	require.Contains(t, joined, "secret-bad.yaml")
	require.Contains(t, joined, "access log line")
	require.Equal(t, 1, r.Servers)

	_, err = Run(context.Background(), Options{Logs: FileLogs{Path: filepath.Join(t.TempDir(), "missing.log")}, Now: now})
	require.ErrorContains(t, err, "open access log")
	r, err = Run(context.Background(), Options{Logs: FileLogs{Path: filepath.Join(t.TempDir(), "missing.log")}, Config: DirConfig{Path: configDir}, Now: now})
	require.NoError(t, err)
	require.Contains(t, strings.Join(r.Warnings, "\n"), "open access log")
}

func TestDemoConfigExplainsTheDemo421(t *testing.T) {
	c, err := DemoConfig(now)
	require.NoError(t, err)
	mem := NewMemoryLogs(1 << 20)
	_, _ = mem.Write([]byte(logs(2, "lua_response", safari, "api.example.com", "shop.example.com", "text")))
	r, err := Run(context.Background(), Options{Logs: mem, Config: StaticConfig{C: c, Name: "demo"}, Now: now})
	require.NoError(t, err)
	require.Empty(t, configWarnings(c))
	require.Equal(t, "coalescing", r.Verdict.Cause)
	e := Enrichment(r, 3)
	require.Contains(t, e.Line, "**Why:** `shop.example.com` → `api.example.com` ×2 (Lua filter), 2 Safari/WebKit")
	require.Contains(t, e.Line, "**Fix:**")
	require.Contains(t, e.Card, "| `shop.example.com` | `api.example.com` | 2 | Lua filter | 2 | coalescing |")
	// The line is short: the gist of the verdict and of the first fix.
	require.Contains(t, e.Line, "HTTP/2 connection coalescing: shop.example.com's certificate wildcard-example-com also covers api.example.com on the same gateway pods")
	require.Less(t, len([]rune(e.Line)), 400)
}

func configWarnings(c *gwconfig.Config) []gwconfig.Warning { return c.Analyze(now).Warnings }

// A client chooses its SNI and :authority: they reach the message only as
// host names, never as markdown.
func TestEnrichmentNeutralisesClientText(t *testing.T) {
	evil := "api.example.com`](https://evil.example/x) @channel |\r\r# big"
	mem := NewMemoryLogs(1 << 20)
	_, _ = mem.Write([]byte(logs(2, "lua_response", safari, evil, "shop.example.com", "json")))
	e := &Enricher{Alerts: map[string]bool{"A": true}, Logs: func(string) LogSource { return mem }, Now: func() time.Time { return now }}
	got := e.Enrich(context.Background(), &template.Data{Status: "firing", CommonLabels: template.KV{"alertname": "A"}})
	require.NotNil(t, got)
	for _, bad := range []string{"evil.example/x)", "@channel", "](https", "https://", "\r", "\n# big"} {
		require.NotContains(t, got.Line, bad)
		require.NotContains(t, got.Card, bad)
	}
	require.Contains(t, got.Line, "`shop.example.com` → `(invalid host)`")

	// A host-shaped SNI that is a URL (the regexp does not let it pass) and
	// one Mattermost would link.
	for _, sni := range []string{"https://evil.example/login:1", "www.evil.example"} {
		mem := NewMemoryLogs(1 << 20)
		_, _ = mem.Write([]byte(logs(2, "lua_response", safari, "api.example.com", sni, "json")))
		e := &Enricher{Alerts: map[string]bool{"A": true}, Logs: func(string) LogSource { return mem }, Now: func() time.Time { return now }}
		got := e.Enrich(context.Background(), &template.Data{Status: "firing", CommonLabels: template.KV{"alertname": "A"}})
		require.NotNil(t, got)
		for _, text := range []string{got.Line, got.Card} {
			require.NotContains(t, text, "https://")
			require.NotRegexp(t, `(^|[^\x60])www\.evil`, text, "outside code spans, www. is broken")
		}
	}
}

// Out of time, the enrichment analyses what it read; a second message while
// one still runs goes out without enrichment instead of queueing.
func TestEnrichmentBudget(t *testing.T) {
	var sb strings.Builder
	for i := range 200000 {
		sb.WriteString(textLine(now.Add(-time.Minute+time.Duration(i)*time.Microsecond), 421, "lua_response", safari, "api.example.com", "shop.example.com", true))
	}
	slow := &slowLogs{text: sb.String(), started: make(chan struct{}, 1)}
	e := &Enricher{Alerts: map[string]bool{"A": true}, Logs: func(string) LogSource { return slow }, Now: func() time.Time { return now }}
	d := &template.Data{Status: "firing", CommonLabels: template.KV{"alertname": "A"}}
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	done := make(chan *mattermost.Enrichment, 1)
	go func() { done <- e.Enrich(ctx, d) }()
	<-slow.started
	require.Nil(t, e.Enrich(context.Background(), d), "busy: the second message is not held")
	got := <-done
	require.NotNil(t, got, "a partial analysis, not nothing")
	require.Contains(t, got.Line, "`shop.example.com` → `api.example.com`")
}

// slowLogs serves a log slowly (a far API server).
type slowLogs struct {
	text    string
	started chan struct{}
}

func (s *slowLogs) String() string { return "slow" }

func (s *slowLogs) Logs(context.Context, time.Duration, func(string)) (io.ReadCloser, error) {
	s.started <- struct{}{}
	return io.NopCloser(&slowReader{r: strings.NewReader(s.text)}), nil
}

type slowReader struct{ r io.Reader }

func (s *slowReader) Read(b []byte) (int, error) {
	time.Sleep(time.Millisecond)
	return s.r.Read(b[:min(len(b), 4096)])
}

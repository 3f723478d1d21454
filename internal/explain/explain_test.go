package explain

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/demo/fixtures"
	"github.com/gatewatch/gatewatch/internal/explain/gwconfig"
)

var now = time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC)

const (
	safari = fixtures.Safari
	chrome = fixtures.Chrome
)

// textLine and jsonLine are access-log lines of a request.
var (
	textLine = fixtures.TextLine
	jsonLine = fixtures.JSONLine
)

type scenario struct {
	gateways string // Gateways and EnvoyFilters
	secrets  map[string][]string
	logs     string
}

func (s scenario) write(t testing.TB) (logFile, configDir string) {
	t.Helper()
	dir := t.TempDir()
	configDir = filepath.Join(dir, "config")
	require.NoError(t, os.MkdirAll(configDir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(configDir, "gateways.yaml"), []byte(s.gateways), 0o644))
	for name, sans := range s.secrets {
		cert, err := fixtures.SelfSignedPEM(sans, now.Add(-time.Hour), now.Add(24*time.Hour))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(configDir, "secret-"+name+".yaml"), []byte(fixtures.TLSSecretYAML("istio-ingress", name, cert, nil)), 0o644))
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

var luaFilter = fixtures.LuaSNICheckFilterYAML("sni-authority-check") + "---\n"

// logs builds n 421 lines of one pair plus ordinary traffic and noise.
func logs(n int, details, ua, authority, sni string, format string) string {
	return fixtures.AccessLog(now, n, details, ua, authority, sni, format)
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
		for _, d := range c.Directions {
			if d.Coalescing {
				pairs = append(pairs, d.From.Gateway+"→"+d.To.Gateway)
			}
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
	require.Contains(t, text.String(), "no certificate lets browsers coalesce connections")

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

// textOf is the report as the terminal shows it.
func textOf(t *testing.T, r *Report) string {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, WriteText(&b, r))
	return b.String()
}

// Two Gateways serving the same host on the same pods (IST0145): a
// conflict with its fixes, never a coalescing pair from the host to itself
// — also when the same certificate sits in two Secrets, which IST0138
// (comparing credentialName) does not see.
func TestConflictingGateways(t *testing.T) {
	s := scenario{
		gateways: istioGateway("shop", "shop.example.com", "shop-cert", "ingressgateway") +
			istioGateway("shop-v2", "shop.example.com", "shop-cert-2", "ingressgateway") +
			istioGateway("api", "api.example.com", "api-cert", "ingressgateway") + luaFilter,
		secrets: map[string][]string{"shop-cert": {"shop.example.com"}, "shop-cert-2": {"shop.example.com"}, "api-cert": {"api.example.com"}},
	}
	_, dir := s.write(t)
	r, err := Run(context.Background(), Options{Config: DirConfig{Path: dir}, Now: now})
	require.NoError(t, err)
	require.Len(t, r.Conflicts, 1)
	c := r.Conflicts[0]
	require.Len(t, c.Servers, 2)
	require.Equal(t, "istio-ingress/shop", c.Servers[0].Gateway)
	require.Equal(t, "istio-ingress/shop-v2", c.Servers[1].Gateway)
	require.Equal(t, []string{"shop.example.com"}, c.Hosts)
	require.True(t, c.Identical)
	require.Equal(t, "conflicting-servers", c.Verdict.Cause)
	require.Equal(t, []string{"distinct-hosts", "merge-servers", "separate-address"}, fixCodes(c.Verdict))
	require.Empty(t, r.Coalescing, "no certificate covers another's host")
	require.Equal(t, "conflicting-servers", r.Verdict.Cause, "the headline without logs")
	text := textOf(t, r)
	t.Log(text)
	require.Contains(t, text, "servers claiming the same hosts on one port of the same gateway pods (IST0145): 1")
	require.Contains(t, text, "1. serve shop.example.com from one of the two servers only: remove it from the hosts of Gateway istio-ingress/shop servers[0] port 443 or of Gateway istio-ingress/shop-v2 servers[0] port 443")
	require.NotContains(t, text, "opened for shop.example.com, which EnvoyFilter")

	// With a wildcard certificate the servers also coalesce with api —
	// but shop.example.com is no host their connections carry for the
	// other.
	s.secrets = map[string][]string{"shop-cert": {"*.example.com"}, "shop-cert-2": {"*.example.com"}, "api-cert": {"api.example.com"}}
	_, dir = s.write(t)
	r, err = Run(context.Background(), Options{Config: DirConfig{Path: dir}, Now: now})
	require.NoError(t, err)
	require.Len(t, r.Conflicts, 1)
	require.Len(t, r.Coalescing, 1)
	var hosts []string
	for _, s := range r.Coalescing[0].Servers {
		hosts = append(hosts, s.Gateway+": "+strings.Join(s.Hosts, ","))
	}
	require.Equal(t, []string{"istio-ingress/api: api.example.com", "istio-ingress/shop: ", "istio-ingress/shop-v2: "}, hosts)
	require.NotContains(t, textOf(t, r), "requests for shop.example.com on a connection opened for shop.example.com")
}

// One finding per pair of servers: the shared wildcard certificate lets
// browsers coalesce both ways, said once with four fixes.
func TestCoalescingPairOnce(t *testing.T) {
	s := scenario{
		gateways: istioGateway("shop", "shop.example.com", "shop-cert", "ingressgateway") + istioGateway("api", "api.example.com", "api-cert", "ingressgateway") + luaFilter,
		secrets:  map[string][]string{"shop-cert": {"*.example.com"}, "api-cert": {"*.example.com"}},
	}
	_, dir := s.write(t)
	r, err := Run(context.Background(), Options{Config: DirConfig{Path: dir}, Now: now})
	require.NoError(t, err)
	require.Len(t, r.Coalescing, 1)
	c := r.Coalescing[0]
	require.True(t, c.Both())
	require.Len(t, c.Directions, 2)
	require.False(t, c.SharedCertificate, "two certificates, both *.example.com")
	require.Equal(t, "coalescing-possible", c.Verdict.Cause)
	require.Equal(t, []string{"distinct-certificates", "merge-servers", "separate-address", "alpn-http11"}, fixCodes(c.Verdict))
	text := textOf(t, r)
	t.Log(text)
	require.Contains(t, text, "certificates that let browsers coalesce connections: 1 (2 servers)\n")
	require.Contains(t, text, "- certificate for *.example.com (Secrets istio-ingress/api-cert, istio-ingress/shop-cert): 2 servers across 2 Gateways\n")
	require.Contains(t, text, "hosts:         shop.example.com on connections for istio-ingress/api; api.example.com on connections for istio-ingress/shop\n")
	require.Equal(t, 1, strings.Count(text, "[merge-servers]"))
}

// A cross-host 421 the application answered, on a connection whose
// certificate does not cover the :authority: not "the gateway is right to
// refuse" (it did not refuse), but what to change — the client, the
// routing, the application.
func TestApplicationAnsweredClient421(t *testing.T) {
	catchAll := `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: shop, namespace: istio-ingress}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https-shop, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: SIMPLE, credentialName: shop-cert}
---
`
	for _, tc := range []struct {
		name     string
		gateways string
		details  string
		codes    []string
		first    string
	}{
		{"application behind a server without the host", istioGateway("shop", "shop.example.com", "shop-cert", "ingressgateway") + istioGateway("api", "api.example.com", "api-cert", "ingressgateway"), "via_upstream",
			[]string{"client", "route-authority", "fix-application"}, "fix the client: it sends requests for api.example.com on connections it opened for shop.example.com, which no browser does"},
		{"application behind a catch-all server", catchAll + istioGateway("api", "api.example.com", "api-cert", "ingressgateway"), "via_upstream",
			[]string{"client", "fix-application"}, "fix the client"},
		{"Lua filter: the gateway refuses, rightly", istioGateway("shop", "shop.example.com", "shop-cert", "ingressgateway") + istioGateway("api", "api.example.com", "api-cert", "ingressgateway") + luaFilter, "lua_response",
			[]string{"client"}, "the gateway's Lua filter is right to refuse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, scenario{
				gateways: tc.gateways,
				secrets:  map[string][]string{"shop-cert": {"shop.example.com"}, "api-cert": {"api.example.com"}},
				logs:     logs(3, tc.details, "python-requests/2.32.3", "api.example.com", "shop.example.com", "text"),
			})
			v := r.Findings[0].Verdict
			require.Equal(t, "client", v.Cause)
			require.Equal(t, tc.codes, fixCodes(v))
			require.True(t, strings.HasPrefix(v.Fixes[0].Text, tc.first), v.Fixes[0].Text)
			if tc.details == "via_upstream" {
				for _, f := range v.Fixes {
					require.NotContains(t, f.Text, "right to refuse")
				}
			}
		})
	}
}

// The same certificate in two Secrets: gatewatch compares the certificates,
// where IST0138 compares credentialName, and merging comes first.
func TestSameCertificateInTwoSecrets(t *testing.T) {
	cert, err := fixtures.SelfSignedPEM([]string{"*.example.com"}, now.Add(-time.Hour), now.Add(24*time.Hour))
	require.NoError(t, err)
	s := scenario{gateways: istioGateway("shop", "shop.example.com", "shop-cert", "ingressgateway") + istioGateway("api", "api.example.com", "api-cert", "ingressgateway") +
		fixtures.TLSSecretYAML("istio-ingress", "shop-cert", cert, nil) + "---\n" + fixtures.TLSSecretYAML("istio-ingress", "api-cert", cert, nil)}
	_, dir := s.write(t)
	r, err := Run(context.Background(), Options{Config: DirConfig{Path: dir}, Now: now})
	require.NoError(t, err)
	require.Len(t, r.Coalescing, 1)
	c := r.Coalescing[0]
	require.True(t, c.SharedCertificate)
	require.Equal(t, []string{"merge-servers", "distinct-certificates", "separate-address", "alpn-http11"}, fixCodes(c.Verdict))
	require.Contains(t, c.Verdict.Summary, "Both servers present the same certificate, from two Secrets: istioctl analyze's IST0138 compares Secret names and does not see it.")
}

// TestConflictNotesOnlyForTheirHosts: a 421 pair gets the IST0145 note only
// when its SNI or :authority is among the hosts the two servers both claim,
// not for every pair whose SNI lands on one of them.
func TestConflictNotesOnlyForTheirHosts(t *testing.T) {
	a := gwconfig.ServerRef{Kind: "Gateway (networking.istio.io)", Gateway: "istio-ingress/shop", Port: 443}
	b := gwconfig.ServerRef{Kind: "Gateway (networking.istio.io)", Gateway: "istio-ingress/shop-v2", Port: 443}
	conflicts := []ConflictFinding{{ServerConflict: gwconfig.ServerConflict{Servers: []gwconfig.ServerRef{a, b}, Hosts: []string{"shop.example.com"}, Identical: true}}}
	for _, tc := range []struct {
		sni, authority string
		want           int
	}{
		{"shop.example.com", "api.example.com", 1},
		{"api.example.com", "shop.example.com", 1},
		{"www.example.com", "api.example.com", 0},
	} {
		notes := conflictNotes(gwconfig.Pair{SNI: tc.sni, Authority: tc.authority, SNIServer: &a}, conflicts)
		require.Len(t, notes, tc.want, "%s → %s", tc.sni, tc.authority)
	}
}

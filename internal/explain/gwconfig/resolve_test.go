package gwconfig

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/demo/fixtures"
)

// luaSNICheck is the EnvoyFilter people add to answer 421 when a coalesced
// request's :authority differs from the SNI.
var luaSNICheck = fixtures.LuaSNICheckFilterYAML("misdirected")

// unrelatedLua adds a header: Lua, but no 421.
const unrelatedLua = `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: add-header, namespace: istio-system}
spec:
  configPatches:
  - applyTo: HTTP_FILTER
    match: {context: GATEWAY}
    patch:
      operation: INSERT_FIRST
      value:
        name: envoy.lua
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua
          inline_code: |
            function envoy_on_response(h) h:headers():add("x-served-by", "gw") end
`

func wildcardPair(t *testing.T, extra ...string) *Analysis {
	t.Helper()
	return analyze(t, append([]string{
		ingressService,
		tlsSecret(t, "istio-system", "wildcard", "*.example.com"),
		istioGW("v1", "shop", "shop-gw", "istio=ingressgateway", "wildcard", "shop.example.com"),
		istioGW("v1", "api", "api-gw", "istio=ingressgateway", "wildcard", "api.example.com"),
	}, extra...)...)
}

func TestResolve(t *testing.T) {
	a := wildcardPair(t)
	p := a.Resolve("shop.example.com", "API.example.com:443")
	require.Equal(t, "shop.example.com", p.SNI)
	require.Equal(t, "api.example.com", p.Authority)
	require.Equal(t, "shop/shop-gw", p.SNIServer.Gateway)
	require.Equal(t, []string{"wildcard"}, p.SNIServer.Credentials)
	require.Equal(t, "api/api-gw", p.AuthorityServer.Gateway)
	require.False(t, p.SameServer)
	require.False(t, p.AuthorityOnSNIServer)
	require.True(t, p.CertCoversAuthority)
	require.True(t, p.SharesAddress)
	require.True(t, p.SharesPort)
	require.True(t, p.H2)
	require.True(t, p.Terminates)
	require.Equal(t, "SIMPLE", p.TLSMode)
	require.True(t, p.CoalescingPossible)
	require.Empty(t, p.Filters)
	require.Equal(t, "404 (no route): the request for api.example.com runs through Gateway shop/shop-gw servers[0] port 443, chosen by the SNI, whose route table has no virtual host for it", p.Outcome)

	// The JSON form uses snake_case.
	b, err := json.Marshal(p)
	require.NoError(t, err)
	require.Contains(t, string(b), `"cert_covers_authority":true`)
	require.Contains(t, string(b), `"sni_server":{"kind":"Gateway (networking.istio.io)","gateway":"shop/shop-gw"`)
}

func TestResolveCases(t *testing.T) {
	for _, tc := range []struct {
		name      string
		docs      []string
		sni, auth string
		// want are the fields compared, as "field=value".
		coalescing, covers, shares bool
		outcome                    string
	}{
		{
			name: "distinct certificates: no coalescing",
			docs: []string{ingressService,
				tlsSecret(t, "istio-system", "shop-cert", "shop.example.com"),
				tlsSecret(t, "istio-system", "api-cert", "api.example.com"),
				istioGW("v1", "shop", "shop-gw", "istio=ingressgateway", "shop-cert", "shop.example.com"),
				istioGW("v1", "api", "api-gw", "istio=ingressgateway", "api-cert", "api.example.com")},
			sni: "shop.example.com", auth: "api.example.com",
			covers: false, shares: true, coalescing: false, outcome: "404 (no route)",
		},
		{
			name: "different selectors: browsers do not coalesce even with a covering certificate",
			docs: []string{ingressService,
				tlsSecret(t, "istio-system", "wildcard", "*.example.com"),
				istioGW("v1", "istio-system", "public", "istio=ingressgateway", "wildcard", "shop.example.com"),
				istioGW("v1", "istio-system", "internal", "istio=internal-gateway", "wildcard", "api.example.com")},
			sni: "shop.example.com", auth: "api.example.com",
			covers: true, shares: false, coalescing: false, outcome: "404 (no route)",
		},
		{
			name: "one wildcard server serves both hosts",
			docs: []string{ingressService,
				tlsSecret(t, "istio-system", "wildcard", "*.example.com"),
				istioGW("v1", "istio-system", "wild", "istio=ingressgateway", "wildcard", "*.example.com")},
			sni: "shop.example.com", auth: "api.example.com",
			covers: true, shares: true, coalescing: true, outcome: "routed by Gateway istio-system/wild servers[0] port 443",
		},
		{
			name: "same host",
			docs: []string{ingressService,
				tlsSecret(t, "istio-system", "shop-cert", "shop.example.com"),
				istioGW("v1", "shop", "shop-gw", "istio=ingressgateway", "shop-cert", "shop.example.com")},
			sni: "shop.example.com", auth: "shop.example.com",
			covers: true, shares: true, coalescing: false, outcome: "the SNI and :authority are the same host",
		},
		{
			name: "passthrough",
			docs: []string{`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: pt, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: tls, protocol: TLS}
    hosts: ["*.example.com"]
    tls: {mode: PASSTHROUGH}
`},
			sni: "shop.example.com", auth: "api.example.com",
			covers: true, shares: true, coalescing: true, outcome: "Gateway istio-system/pt servers[0] port 443 passes TLS through",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := analyze(t, tc.docs...).Resolve(tc.sni, tc.auth)
			require.NotNil(t, p.SNIServer)
			require.Equal(t, tc.covers, p.CertCoversAuthority, "cert_covers_authority")
			require.Equal(t, tc.shares, p.SharesAddress, "shares_address")
			require.Equal(t, tc.coalescing, p.CoalescingPossible, "coalescing_possible")
			require.True(t, strings.HasPrefix(p.Outcome, tc.outcome), p.Outcome)
		})
	}
}

func TestResolveNoServer(t *testing.T) {
	p := wildcardPair(t).Resolve("other.org", "api.example.com")
	require.Nil(t, p.SNIServer)
	require.False(t, p.CoalescingPossible)
	require.Contains(t, p.Outcome, `no TLS server matches the SNI "other.org"`)
}

func TestResolvePicksTheMostSpecificServer(t *testing.T) {
	a := analyze(t,
		ingressService,
		tlsSecret(t, "istio-system", "wildcard", "*.example.com"),
		tlsSecret(t, "istio-system", "api-cert", "api.example.com"),
		istioGW("v1", "istio-system", "wild", "istio=ingressgateway", "wildcard", "*.example.com"),
		istioGW("v1", "istio-system", "api", "istio=ingressgateway", "api-cert", "api.example.com"),
		istioGW("v1", "istio-system", "catchall", "istio=ingressgateway", "wildcard", "*"),
		istioGW("v1", "istio-system", "internal", "istio=internal", "wildcard", "*.example.com"),
	)
	for sni, want := range map[string]string{
		"api.example.com":   "istio-system/api",
		"shop.example.com":  "istio-system/wild",
		"a.b.example.com":   "istio-system/wild", // Envoy's wildcard spans labels
		"unrelated.test":    "istio-system/catchall",
		"Shop.Example.Com.": "istio-system/wild",
	} {
		t.Run(sni, func(t *testing.T) {
			p := a.Resolve(sni, "x.example.com")
			require.Equal(t, want, p.SNIServer.Gateway)
		})
	}
	p := a.Resolve("shop.example.com", "api.example.com")
	require.Len(t, p.OtherSNIServers, 1, "the internal gateway also has a server for the SNI")
	require.Equal(t, "istio-system/internal", p.OtherSNIServers[0].Gateway)
	require.Equal(t, "istio-system/api", p.AuthorityServer.Gateway)
}

func TestLuaEnvoyFilter(t *testing.T) {
	otherNamespace := strings.Replace(strings.Replace(luaSNICheck, "namespace: istio-system", "namespace: apps", 1), "name: misdirected", "name: apps-421", 1)
	otherWorkload := strings.Replace(strings.Replace(luaSNICheck, "istio: ingressgateway", "istio: eastwest", 1), "name: misdirected", "name: eastwest-421", 1)
	sidecar := strings.Replace(strings.Replace(luaSNICheck, "context: GATEWAY", "context: SIDECAR_INBOUND", 1), "name: misdirected", "name: sidecar-421", 1)
	a := wildcardPair(t, luaSNICheck, unrelatedLua, otherNamespace, otherWorkload, sidecar)
	require.Equal(t, []string(nil), messages(a.Warnings))

	var efs []string
	for _, f := range a.Servers[0].Filters {
		efs = append(efs, f.EnvoyFilter)
	}
	require.Equal(t, []string{"istio-system/misdirected"}, efs, "only the 421 filter that reaches the gateway")

	p := a.Resolve("shop.example.com", "api.example.com")
	require.Len(t, p.Filters, 1)
	f := p.Filters[0]
	require.Equal(t, Applies, f.Applies)
	require.True(t, f.SNIAuthority421)
	require.Equal(t, "in the root namespace istio-system, workloadSelector matches the gateway's labels", f.Reason)
	require.Equal(t, "421 from EnvoyFilter istio-system/misdirected: its Lua code compares the SNI with :authority; the client should retry on a new connection (RFC 9113 §9.1.2)", p.Outcome)
	require.Equal(t, []string{"istio-system/misdirected"}, pairsOf(t, a)[0].Lua421)

	// A Lua filter also answers 421 for one wildcard server's two hosts.
	b := analyze(t, ingressService, tlsSecret(t, "istio-system", "wildcard", "*.example.com"),
		istioGW("v1", "istio-system", "wild", "istio=ingressgateway", "wildcard", "*.example.com"), luaSNICheck)
	require.True(t, strings.HasPrefix(b.Resolve("shop.example.com", "api.example.com").Outcome, "421 from EnvoyFilter"))
}

func TestLuaPatchDetection(t *testing.T) {
	for _, tc := range []struct {
		name  string
		patch string
		want  FilterPatch
	}{
		{
			name: "typed_config with default_source_code",
			patch: `{"applyTo": "HTTP_FILTER", "match": {"context": "GATEWAY", "listener": {"portNumber": 8443, "filterChain": {"sni": "shop.example.com"}}},
			  "patch": {"operation": "INSERT_BEFORE", "value": {"name": "envoy.filters.http.lua", "typed_config": {
			    "@type": "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua",
			    "default_source_code": {"inline_string": "local s = h:streamInfo():requestedServerName()\nif h:headers():get('host') ~= s then h:respond({[':status'] = '421'}, '') end"}}}}}`,
			want: FilterPatch{ApplyTo: "HTTP_FILTER", Context: "GATEWAY", PortNumber: 8443, SNI: "shop.example.com", Lua: true, ReadsSNI: true, ReadsAuthority: true, Responds421: true},
		},
		{
			name: "source_codes",
			patch: `{"applyTo": "HTTP_FILTER", "patch": {"value": {"name": "lua", "typedConfig": {"@type": "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua",
			    "source_codes": {"check": {"inline_string": "if h:streamInfo():requested_server_name() ~= h:headers():get(\":authority\") then h:respond({[\":status\"]=421}, \"\") end"}}}}}}`,
			want: FilterPatch{ApplyTo: "HTTP_FILTER", Lua: true, ReadsSNI: true, ReadsAuthority: true, Responds421: true},
		},
		{
			name:  "Lua answering 421 without comparing",
			patch: `{"patch": {"value": {"name": "envoy.filters.http.lua", "typed_config": {"inlineCode": "h:respond({[':status'] = '421'}, 'go away')"}}}}`,
			want:  FilterPatch{Lua: true, Responds421: true},
		},
		{
			name:  "not Lua",
			patch: `{"applyTo": "HTTP_FILTER", "patch": {"value": {"name": "envoy.filters.http.ext_authz", "typed_config": {"inline_code": "421 respond( requestedServerName :authority"}}}}`,
			want:  FilterPatch{ApplyTo: "HTTP_FILTER"},
		},
		{
			name: "ALPN without h2",
			patch: `{"applyTo": "FILTER_CHAIN", "match": {"context": "GATEWAY"}, "patch": {"operation": "MERGE", "value": {"transport_socket": {"name": "envoy.transport_sockets.tls",
			    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext", "common_tls_context": {"alpn_protocols": ["http/1.1"]}}}}}}`,
			want: FilterPatch{ApplyTo: "FILTER_CHAIN", Context: "GATEWAY", ALPN: []string{"http/1.1"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m map[string]any
			require.NoError(t, json.Unmarshal([]byte(tc.patch), &m))
			require.Equal(t, tc.want, readPatch(0, m))
		})
	}
}

func TestALPNEnvoyFilterTurnsOffH2(t *testing.T) {
	alpn := `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: http11-only, namespace: istio-system}
spec:
  workloadSelector: {labels: {istio: ingressgateway}}
  configPatches:
  - applyTo: FILTER_CHAIN
    match: {context: GATEWAY, listener: {portNumber: 8443}}
    patch:
      operation: MERGE
      value:
        transport_socket:
          name: envoy.transport_sockets.tls
          typed_config:
            "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
            common_tls_context:
              alpn_protocols: [http/1.1]
`
	a := wildcardPair(t, alpn)
	require.False(t, a.Servers[0].H2)
	require.Equal(t, "EnvoyFilter istio-system/http11-only sets ALPN http/1.1, without h2", a.Servers[0].H2Note)
	ps := pairsOf(t, a)
	require.Len(t, ps, 2)
	require.True(t, ps[0].SharesAddress)
	require.False(t, ps[0].Coalescing)
	require.False(t, a.Resolve("shop.example.com", "api.example.com").CoalescingPossible)
}

// TestNamespacePrefixedHosts: a "ns/" prefix on a server host does not
// change the names served, only which VirtualServices bind.
func TestNamespacePrefixedHosts(t *testing.T) {
	a := analyze(t,
		ingressService,
		tlsSecret(t, "istio-system", "wildcard", "*.example.com"),
		istioGW("v1", "istio-system", "gw", "istio=ingressgateway", "wildcard", "shop/*.example.com", "*/api.example.com", "./admin.example.com"),
		`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: shop}
spec:
  hosts: [shop.example.com]
  gateways: [istio-system/gw]
`,
		`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: intruder, namespace: other}
spec:
  hosts: [shop.example.com]
  gateways: [istio-system/gw]
`,
		`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: admin, namespace: istio-system}
spec:
  hosts: [admin.example.com]
  gateways: [gw]
`)
	s := a.Servers[0]
	require.Equal(t, []string{"*.example.com", "api.example.com", "admin.example.com"}, s.DNSNames)
	require.Equal(t, "istio-system/gw", a.Resolve("admin.example.com", "x").SNIServer.Gateway)

	p := a.Resolve("api.example.com", "shop.example.com")
	require.True(t, p.SameServer)
	require.Equal(t, []string{"shop/shop"}, p.VirtualServices, "only the VirtualService from the namespace the host admits")
	require.True(t, strings.HasPrefix(p.Outcome, "routed by"), p.Outcome)

	p = a.Resolve("api.example.com", "admin.example.com")
	require.Equal(t, []string{"istio-system/admin"}, p.VirtualServices, "./ is the Gateway's namespace; a bare gateway name is the VirtualService's")

	p = a.Resolve("shop.example.com", "blog.example.com")
	require.Empty(t, p.VirtualServices)
	require.Equal(t, "404 (no route): Gateway istio-system/gw servers[0] port 443 lists blog.example.com, but no VirtualService bound to Gateway istio-system/gw routes it", p.Outcome)
}

func TestResolveTLSTerminatedTCP(t *testing.T) {
	p := analyze(t, ingressService,
		tlsSecret(t, "istio-system", "wildcard", "*.example.com"),
		`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: tcp, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: tls, protocol: TLS}
    hosts: ["shop.example.com"]
    tls: {mode: SIMPLE, credentialName: wildcard}
`).Resolve("shop.example.com", "api.example.com")
	require.True(t, p.Terminates)
	require.True(t, p.CoalescingPossible)
	require.Equal(t, "Gateway istio-system/tcp servers[0] port 443 terminates TLS and forwards the stream over TCP: the backend for shop.example.com receives the request for api.example.com and answers it — a 421 comes from that application (or it serves the wrong site)", p.Outcome)
}

// TestLuaEnvoyFilterMayApply: a workloadSelector on labels the Gateway's
// selector does not mention may or may not select the gateway pods.
func TestLuaEnvoyFilterMayApply(t *testing.T) {
	maybe := strings.Replace(luaSNICheck, "istio: ingressgateway", "app: istio-ingressgateway", 1)
	p := wildcardPair(t, maybe).Resolve("shop.example.com", "api.example.com")
	require.Len(t, p.Filters, 1)
	require.Equal(t, MayApply, p.Filters[0].Applies)
	require.True(t, strings.HasPrefix(p.Outcome, "404 (no route)"), p.Outcome)
	require.Contains(t, p.Notes, "EnvoyFilter istio-system/misdirected answers 421 from Lua and may apply here: in the root namespace istio-system, workloadSelector needs app=istio-ingressgateway, which the gateway's selector does not say")
}

// TestGatewayAPIOnExistingService: a Gateway API Gateway whose
// spec.addresses names the Service of the Istio ingress gateway runs on
// those pods, at that address.
func TestGatewayAPIOnExistingService(t *testing.T) {
	a := analyze(t, ingressService,
		tlsSecret(t, "istio-system", "wildcard", "*.example.com"),
		istioGW("v1", "istio-system", "classic", "istio=ingressgateway", "wildcard", "shop.example.com"),
		`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: modern, namespace: istio-system}
spec:
  gatewayClassName: istio
  addresses:
  - type: Hostname
    value: istio-ingressgateway.istio-system.svc.cluster.local
  listeners:
  - name: api
    hostname: api.example.com
    port: 443
    protocol: HTTPS
    tls: {certificateRefs: [{name: wildcard}]}
`, luaSNICheck)
	p := a.Resolve("shop.example.com", "api.example.com")
	require.Equal(t, "istio-system/modern", p.AuthorityServer.Gateway)
	require.True(t, p.SharesAddress)
	require.Equal(t, "the same address 203.0.113.10", p.AddressNote)
	require.True(t, p.CoalescingPossible)
	modern := a.Servers[0]
	require.Equal(t, "istio-system/modern", modern.Gateway)
	require.Equal(t, []string{"istio-system/istio-ingressgateway"}, modern.Address.Services)
	require.Len(t, modern.Filters, 1, "the pods are the Service's, whose labels the EnvoyFilter selects")
	require.Equal(t, Applies, modern.Filters[0].Applies)
}

// luaFilter is a 421 Lua EnvoyFilter with the given scope: spec lines
// (workloadSelector, targetRefs) and match lines, both indented for their
// place.
var luaFilter = fixtures.LuaFilterYAML

// TestEnvoyFilterScope: which gateway servers an EnvoyFilter reaches, by
// namespace, selector, targetRefs and the patch's match.
func TestEnvoyFilterScope(t *testing.T) {
	sel := "  workloadSelector: {labels: {istio: ingressgateway}}\n"
	for _, tc := range []struct {
		name, filter string
		root         string // the root namespace, when not istio-system
		// want maps the gateways reached to the applicability.
		want map[string]Applicability
	}{
		{"listener target port", luaFilter("istio-system", "f", sel, "      listener: {portNumber: 8443}\n"), "",
			map[string]Applicability{"api/api-gw": Applies, "shop/shop-gw": Applies}},
		{"service port", luaFilter("istio-system", "f", sel, "      listener: {portNumber: 443}\n"), "",
			map[string]Applicability{"api/api-gw": Applies, "shop/shop-gw": Applies}},
		{"other port", luaFilter("istio-system", "f", sel, "      listener: {portNumber: 9443}\n"), "",
			map[string]Applicability{}},
		{"filter chain SNI", luaFilter("istio-system", "f", sel, "      listener: {filterChain: {sni: shop.example.com}}\n"), "",
			map[string]Applicability{"shop/shop-gw": Applies}},
		{"route configuration gateway", luaFilter("istio-system", "f", sel, "      routeConfiguration: {gateway: api/api-gw}\n"), "",
			map[string]Applicability{"api/api-gw": Applies}},
		{"root namespace without selector", luaFilter("istio-system", "f", "", ""), "",
			map[string]Applicability{"api/api-gw": Applies, "shop/shop-gw": Applies}},
		{"the pods' namespace (the Service's)", luaFilter("istio-system", "f", "", ""), "istio-config",
			map[string]Applicability{"api/api-gw": Applies, "shop/shop-gw": Applies}},
		{"neither root nor the pods' namespace", luaFilter("apps", "f", "", ""), "istio-config",
			map[string]Applicability{}},
		{"a Gateway's namespace is not the pods'", luaFilter("shop", "f", "", ""), "",
			map[string]Applicability{}},
		{"other workload", luaFilter("istio-system", "f", "  workloadSelector: {labels: {istio: eastwestgateway}}\n", ""), "",
			map[string]Applicability{}},
		{"targetRefs a Gateway API Gateway", luaFilter("shop", "f", "  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: shop-gw}]\n", ""), "",
			map[string]Applicability{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Load(Document{Name: "t.yaml", Data: yamlDocs(
				ingressService,
				tlsSecret(t, "istio-system", "wildcard", "*.example.com"),
				istioGW("v1", "shop", "shop-gw", "istio=ingressgateway", "wildcard", "shop.example.com"),
				istioGW("v1", "api", "api-gw", "istio=ingressgateway", "wildcard", "api.example.com"),
				tc.filter)})
			if tc.root != "" {
				c.RootNamespace = tc.root
			}
			got := map[string]Applicability{}
			for _, s := range c.Analyze(now).Servers {
				for _, f := range s.Filters {
					require.True(t, f.SNIAuthority421)
					got[s.Gateway] = f.Applies
				}
			}
			require.Equal(t, tc.want, got)
		})
	}
}

// TestEnvoyFilterTargetRefs: targetRefs reach a Gateway API Gateway of the
// filter's namespace.
func TestEnvoyFilterTargetRefs(t *testing.T) {
	a := analyze(t,
		tlsSecret(t, "web", "wildcard", "*.example.com"),
		`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web, namespace: web}
spec:
  gatewayClassName: istio
  listeners:
  - {name: shop, hostname: shop.example.com, port: 443, protocol: HTTPS, tls: {certificateRefs: [{name: wildcard}]}}
  - {name: api, hostname: api.example.com, port: 443, protocol: HTTPS, tls: {certificateRefs: [{name: wildcard}]}}
`,
		luaFilter("web", "misdirected", "  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: web}]\n", ""),
		luaFilter("other", "elsewhere", "  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: web}]\n", ""),
	)
	p := a.Resolve("shop.example.com", "api.example.com")
	require.Len(t, p.Filters, 1)
	require.Equal(t, "web/misdirected", p.Filters[0].EnvoyFilter)
	require.Equal(t, "targetRefs names this Gateway", p.Filters[0].Reason)
	require.True(t, strings.HasPrefix(p.Outcome, "421 from EnvoyFilter web/misdirected"), p.Outcome)
}

// TestCredentialLookup: Istio reads credentialName from the gateway pods'
// namespace; a Secret elsewhere is used with a warning, a Secret without
// namespace (a file meant for kubectl -n) as is.
func TestCredentialLookup(t *testing.T) {
	for _, tc := range []struct {
		name, secretNS string
		warnings       []string
	}{
		{"pods' namespace", "istio-system", nil},
		{"no namespace", "", nil},
		{"elsewhere", "certs", []string{"Gateway shop/shop-gw: Gateway shop/shop-gw servers[0]: Secret wildcard found only in namespace certs; the gateway reads it from its pods' namespace (istio-system)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			secret := tlsSecret(t, tc.secretNS, "wildcard", "*.example.com")
			if tc.secretNS == "" {
				secret = strings.Replace(secret, "  namespace: \n", "", 1)
			}
			a := analyze(t, ingressService, secret, istioGW("v1", "shop", "shop-gw", "istio=ingressgateway", "wildcard", "shop.example.com"))
			require.Equal(t, tc.warnings, messages(a.Warnings))
			require.False(t, a.Servers[0].CertInferred)
			require.Equal(t, []string{"*.example.com"}, a.Servers[0].CertNames)
		})
	}
}

func TestWarningString(t *testing.T) {
	w := Warning{Item: "Secret ns/s", Source: Source{File: "a.yaml", Doc: 2, Line: 14}, Message: "no usable certificate"}
	require.Equal(t, "a.yaml:14 (document 2): Secret ns/s: no usable certificate", w.String())
	require.Equal(t, "<input>: bad", Warning{Message: "bad"}.String())
}

package gwconfig

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// conflictSummary is the part of a ServerConflict the tests compare.
type conflictSummary struct {
	A, B      string
	Hosts     []string
	Identical bool
	SNIServer string
}

func summarizeConflicts(cs []ServerConflict) []conflictSummary {
	out := []conflictSummary{}
	for _, c := range cs {
		s := conflictSummary{A: short(c.A), B: short(c.B), Hosts: c.Hosts, Identical: c.Identical}
		if c.SNIServer != nil {
			s.SNIServer = short(*c.SNIServer)
		}
		out = append(out, s)
	}
	return out
}

// TestConflictingServers: two servers claiming one host on the same port of
// the same pods are IST0145's ConflictingGateways, never a coalescing pair
// from a host to itself.
func TestConflictingServers(t *testing.T) {
	wildcard := certPEM(t, certOpts{cn: "*.example.com", dns: []string{"*.example.com"}})
	gatewayAPI := func(listeners string) string {
		return `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web, namespace: web}
spec:
  gatewayClassName: istio
  listeners:
` + listeners
	}
	for _, tc := range []struct {
		name      string
		docs      []string
		conflicts []conflictSummary
		pairs     []pairSummary
	}{
		{
			name: "two Gateways serving the same host, the same certificate in two Secrets",
			docs: []string{
				ingressService,
				tlsSecretPEM("istio-system", "shop-cert", wildcard),
				tlsSecretPEM("istio-system", "shop-cert-2", wildcard),
				istioGW("v1", "shop", "shop", "istio=ingressgateway", "shop-cert", "shop.example.com"),
				istioGW("v1", "shop", "shop-v2", "istio=ingressgateway", "shop-cert-2", "shop.example.com"),
			},
			conflicts: []conflictSummary{{A: "shop/shop", B: "shop/shop-v2", Hosts: []string{"shop.example.com"}, Identical: true}},
			pairs:     []pairSummary{},
		},
		{
			name: "same host with a namespace prefix, selectors one within the other",
			docs: []string{
				istioGW("v1", "istio-system", "a", "istio=ingressgateway", "a-cert", "team-a/shop.example.com", "api.example.com"),
				`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: b, namespace: istio-system}
spec:
  selector: {istio: ingressgateway, app: istio-ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["team-b/shop.example.com"]
    tls: {mode: SIMPLE, credentialName: b-cert}
`,
			},
			conflicts: []conflictSummary{{A: "istio-system/a", B: "istio-system/b", Hosts: []string{"shop.example.com"}, Identical: true}},
			pairs:     []pairSummary{},
		},
		{
			name: "a wildcard and a name within it (IST0145's example): a conflict, and a coalescing pair",
			docs: []string{
				ingressService,
				tlsSecretPEM("istio-system", "wildcard", wildcard),
				tlsSecret(t, "istio-system", "api-cert", "api.example.com"),
				istioGW("v1", "istio-system", "wild", "istio=ingressgateway", "wildcard", "*.example.com"),
				istioGW("v1", "istio-system", "api", "istio=ingressgateway", "api-cert", "api.example.com"),
			},
			conflicts: []conflictSummary{{A: "istio-system/api", B: "istio-system/wild", Hosts: []string{"api.example.com"}, SNIServer: "istio-system/api"}},
			pairs: []pairSummary{
				{From: "istio-system/wild", To: "istio-system/api", Hosts: []string{"api.example.com"}, SharesAddress: true, Coalescing: true},
			},
		},
		{
			name: "different gateway pods: no conflict",
			docs: []string{
				istioGW("v1", "istio-system", "public", "istio=ingressgateway", "c", "shop.example.com"),
				istioGW("v1", "istio-system", "internal", "istio=internal-gateway", "c", "shop.example.com"),
			},
			conflicts: []conflictSummary{},
			pairs:     []pairSummary{},
		},
		{
			name: "Gateway API listeners of one Gateway with equal hostnames conflict",
			docs: []string{
				tlsSecretPEM("web", "wildcard", wildcard),
				gatewayAPI(`  - {name: shop, hostname: shop.example.com, port: 443, protocol: HTTPS, tls: {certificateRefs: [{name: wildcard}]}}
  - {name: shop-again, hostname: shop.example.com, port: 443, protocol: HTTPS, tls: {certificateRefs: [{name: wildcard}]}}
`),
			},
			conflicts: []conflictSummary{{A: "web/web:shop", B: "web/web:shop-again", Hosts: []string{"shop.example.com"}, Identical: true}},
			pairs:     []pairSummary{},
		},
		{
			name: "Gateway API listeners of one Gateway, a wildcard and a name within it: distinct listeners",
			docs: []string{
				tlsSecretPEM("web", "wildcard", wildcard),
				gatewayAPI(`  - {name: shop, hostname: shop.example.com, port: 443, protocol: HTTPS, tls: {certificateRefs: [{name: wildcard}]}}
  - {name: any, hostname: "*.example.com", port: 443, protocol: HTTPS, tls: {certificateRefs: [{name: wildcard}]}}
`),
			},
			conflicts: []conflictSummary{},
			pairs: []pairSummary{
				{From: "web/web:shop", To: "web/web:any", Hosts: []string{"*.example.com"}, SharesAddress: true, Coalescing: true},
				{From: "web/web:any", To: "web/web:shop", Hosts: []string{"shop.example.com"}, SharesAddress: true, Coalescing: true},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := analyze(t, tc.docs...)
			require.Equal(t, tc.conflicts, summarizeConflicts(a.ConflictingServers()))
			require.Equal(t, tc.pairs, summarize(a.CoalescingPairs()))
			for _, p := range a.CoalescingPairs() {
				require.NotContains(t, p.Reason, "for "+p.Hosts[0]+" on a connection opened for "+p.Hosts[0])
			}
		})
	}
}

func TestConflictReason(t *testing.T) {
	a := analyze(t,
		ingressService,
		istioGW("v1", "shop", "shop", "istio=ingressgateway", "shop-cert", "shop.example.com"),
		istioGW("v1", "shop", "shop-v2", "istio=ingressgateway", "shop-cert", "shop.example.com"),
	)
	cs := a.ConflictingServers()
	require.Len(t, cs, 1)
	require.Equal(t, "Gateway shop/shop servers[0] port 443 and Gateway shop/shop-v2 servers[0] port 443 both serve shop.example.com on port 443 of the same gateway pods (selector istio=ingressgateway): "+
		"only one of these servers can be used (IST0145) — Envoy has one filter chain per host name and port, so clients get one server's certificate and route table for these names, and the other's (its VirtualServices included) is not used for them. "+
		"Requests for these hosts arrive on connections opened for the same hosts: this is not connection coalescing", cs[0].Reason)
}

// TestSameCertificateInTwoSecrets: IST0138 compares credentialName; gatewatch
// compares the certificates, so the same certificate in two Secrets counts
// as shared, and the pairs of servers come once, with both directions.
func TestSameCertificateInTwoSecrets(t *testing.T) {
	wildcard := certPEM(t, certOpts{cn: "*.example.com", dns: []string{"*.example.com"}})
	a := analyze(t,
		ingressService,
		tlsSecretPEM("istio-system", "shop-cert", wildcard),
		tlsSecretPEM("istio-system", "api-cert", wildcard),
		tlsSecret(t, "istio-system", "docs-cert", "docs.example.com", "shop.example.com"),
		istioGW("v1", "shop", "shop-gw", "istio=ingressgateway", "shop-cert", "shop.example.com"),
		istioGW("v1", "api", "api-gw", "istio=ingressgateway", "api-cert", "api.example.com"),
		istioGW("v1", "docs", "docs-gw", "istio=ingressgateway", "docs-cert", "docs.example.com"),
	)
	ps := a.CoalescingPairs()
	require.Len(t, ps, 5)
	shopToAPI := ps[3]
	require.Equal(t, []string{"shop/shop-gw", "api/api-gw"}, []string{shopToAPI.From.Gateway, shopToAPI.To.Gateway})
	require.True(t, shopToAPI.SharedCertificate)
	require.True(t, shopToAPI.SameCertificateContents)
	require.Contains(t, shopToAPI.Reason, "(Secret shop-cert), the same certificate as Gateway api/api-gw servers[0] port 443's (Secret api-cert)")

	type dir struct{ From, To string }
	var got [][]dir
	var shared []bool
	for _, p := range a.CoalescingServerPairs() {
		var ds []dir
		for _, d := range p.Directions {
			ds = append(ds, dir{short(d.From), short(d.To)})
		}
		got = append(got, ds)
		shared = append(shared, p.SharedCertificate)
	}
	require.Equal(t, [][]dir{
		{{"api/api-gw", "docs/docs-gw"}},
		{{"api/api-gw", "shop/shop-gw"}, {"shop/shop-gw", "api/api-gw"}},
		{{"docs/docs-gw", "shop/shop-gw"}, {"shop/shop-gw", "docs/docs-gw"}},
	}, got)
	require.Equal(t, []bool{false, true, false}, shared)
}

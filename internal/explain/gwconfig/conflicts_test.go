package gwconfig

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// conflictSummary is the part of a ServerConflict the tests compare.
type conflictSummary struct {
	Hosts     []string
	Servers   []string
	Within    []string // server: hosts
	Identical bool
}

func summarizeConflicts(cs []ServerConflict) []conflictSummary {
	out := []conflictSummary{}
	for _, c := range cs {
		s := conflictSummary{Hosts: c.Hosts, Identical: c.Identical}
		for _, r := range c.Servers {
			s.Servers = append(s.Servers, short(r))
		}
		for _, w := range c.Within {
			s.Within = append(s.Within, short(w.ServerRef)+": "+strings.Join(w.Hosts, ", "))
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
			conflicts: []conflictSummary{{Hosts: []string{"shop.example.com"}, Servers: []string{"shop/shop", "shop/shop-v2"}, Identical: true}},
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
			conflicts: []conflictSummary{{Hosts: []string{"shop.example.com"}, Servers: []string{"istio-system/a", "istio-system/b"}, Identical: true}},
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
			conflicts: []conflictSummary{{Hosts: []string{"*.example.com"}, Servers: []string{"istio-system/wild"}, Within: []string{"istio-system/api: api.example.com"}}},
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
			conflicts: []conflictSummary{{Hosts: []string{"shop.example.com"}, Servers: []string{"web/web:shop", "web/web:shop-again"}, Identical: true}},
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
			require.Equal(t, tc.conflicts, summarizeConflicts(conflicts(t, a)))
			require.Equal(t, tc.pairs, summarize(pairsOf(t, a)))
			for _, p := range pairsOf(t, a) {
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
	cs := conflicts(t, a)
	require.Len(t, cs, 1)
	require.Equal(t, "Gateway shop/shop servers[0] port 443 and Gateway shop/shop-v2 servers[0] port 443 both serve shop.example.com on port 443 of the same gateway pods (selector istio=ingressgateway): "+
		"only one of these servers can be used (IST0145) — Envoy has one filter chain per host name and port, so clients get one server's certificate and route table for these names, and the other's (its VirtualServices included) is not used for them. "+
		"Requests for these hosts arrive on connections opened for the same hosts: this is not connection coalescing", cs[0].Reason)
}

// TestSameCertificateInTwoSecrets: IST0138 compares credentialName; gatewatch
// compares the certificates, so the same certificate in two Secrets counts
// as shared. One group per certificate: the wildcard's covers the three
// servers; docs' own certificate also covers shop's host.
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
	gs := coalescingGroups(t, a)
	require.Len(t, gs, 2)

	wild := gs[0]
	require.Equal(t, []string{"*.example.com"}, wild.Names)
	require.Equal(t, []string{"istio-system/api-cert", "istio-system/shop-cert"}, wild.Secrets)
	require.Equal(t, 1, wild.Certificates)
	require.True(t, wild.SharedCertificate)
	require.True(t, wild.SameCertificateContents)
	require.True(t, wild.Coalescing)
	require.Equal(t, []groupServerSummary{
		{"api/api-gw", true, []string{"api.example.com"}},
		{"docs/docs-gw", false, []string{"docs.example.com"}},
		{"shop/shop-gw", true, []string{"shop.example.com"}},
	}, summarizeGroup(wild))
	require.Equal(t, [3]int{2, 3, 3}, [3]int{wild.Presenting, wild.Covered, wild.Gateways})
	require.Empty(t, wild.Directions, "three servers: an example, not every pair")
	require.Equal(t, []string{"shop/shop-gw", "api/api-gw"}, []string{wild.Example.From.Gateway, wild.Example.To.Gateway})
	require.True(t, wild.Example.SameCertificateContents)
	require.Contains(t, wild.Example.Reason, "(Secret shop-cert), the same certificate as Gateway api/api-gw servers[0] port 443's (Secret api-cert)")
	require.True(t, strings.HasPrefix(wild.Reason, "the certificate for *.example.com (Secrets istio-system/api-cert, istio-system/shop-cert) is presented by 2 servers across 2 Gateways and covers hosts of 3 servers; for example, the certificate of Gateway shop/shop-gw"), wild.Reason)

	docs := gs[1]
	require.Equal(t, []string{"docs.example.com", "shop.example.com"}, docs.Names)
	require.False(t, docs.SharedCertificate)
	require.Equal(t, []pairSummary{{From: "docs/docs-gw", To: "shop/shop-gw", Hosts: []string{"shop.example.com"}, SharesAddress: true, Coalescing: true}}, summarize(docs.Directions))
}

// groupServerSummary is the part of a GroupServer the tests compare.
type groupServerSummary struct {
	Server   string
	Presents bool
	Hosts    []string
}

func summarizeGroup(g CoalescingGroup) []groupServerSummary {
	var out []groupServerSummary
	for _, s := range g.Servers {
		out = append(out, groupServerSummary{short(s.ServerRef), s.Presents, s.Hosts})
	}
	return out
}

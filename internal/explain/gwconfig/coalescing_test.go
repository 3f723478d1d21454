package gwconfig

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCoalescingPairs(t *testing.T) {
	shopGW := istioGW("v1", "shop", "shop-gw", "istio=ingressgateway", "shop-cert", "shop.example.com")
	apiGW := istioGW("v1", "api", "api-gw", "istio=ingressgateway", "api-cert", "api.example.com")
	for _, tc := range []struct {
		name     string
		docs     []string
		want     []pairSummary
		warnings []string
	}{
		{
			name: "wildcard certificate on two Istio Gateways with the same selector",
			docs: []string{
				ingressService,
				tlsSecret(t, "istio-system", "wildcard", "*.example.com"),
				istioGW("v1", "shop", "shop-gw", "istio=ingressgateway", "wildcard", "shop.example.com"),
				istioGW("v1beta1", "api", "api-gw", "istio=ingressgateway", "wildcard", "api.example.com"),
			},
			want: []pairSummary{
				{From: "api/api-gw", To: "shop/shop-gw", Hosts: []string{"shop.example.com"}, SharesAddress: true, Coalescing: true},
				{From: "shop/shop-gw", To: "api/api-gw", Hosts: []string{"api.example.com"}, SharesAddress: true, Coalescing: true},
			},
		},
		{
			name: "SAN overlap",
			docs: []string{
				ingressService,
				tlsSecret(t, "istio-system", "shop-cert", "shop.example.com", "api.example.com"),
				tlsSecret(t, "istio-system", "api-cert", "api.example.com"),
				shopGW, apiGW,
			},
			want: []pairSummary{
				{From: "shop/shop-gw", To: "api/api-gw", Hosts: []string{"api.example.com"}, SharesAddress: true, Coalescing: true},
			},
		},
		{
			name: "no overlap",
			docs: []string{
				ingressService,
				tlsSecret(t, "istio-system", "shop-cert", "shop.example.com"),
				tlsSecret(t, "istio-system", "api-cert", "api.example.com"),
				shopGW, apiGW,
			},
			want: []pairSummary{},
		},
		{
			name: "different selectors are different addresses",
			docs: []string{
				ingressService,
				tlsSecret(t, "istio-system", "wildcard", "*.example.com"),
				istioGW("v1", "istio-system", "public", "istio=ingressgateway", "wildcard", "shop.example.com"),
				istioGW("v1", "istio-system", "internal", "istio=internal-gateway", "wildcard", "api.example.com"),
			},
			want: []pairSummary{
				{From: "istio-system/internal", To: "istio-system/public", Hosts: []string{"shop.example.com"}},
				{From: "istio-system/public", To: "istio-system/internal", Hosts: []string{"api.example.com"}},
			},
		},
		{
			name: "certificate not provided: judged from hosts",
			docs: []string{
				istioGW("v1", "istio-system", "wild", "istio=ingressgateway", "wildcard", "*.example.com"),
				istioGW("v1", "istio-system", "api", "istio=ingressgateway", "api-cert", "api.example.com"),
			},
			want: []pairSummary{
				{From: "istio-system/wild", To: "istio-system/api", Hosts: []string{"api.example.com"}, SharesAddress: true, Coalescing: true},
			},
			warnings: []string{
				"Gateway istio-system/api: Gateway istio-system/api servers[0]: certificate not provided (Secret api-cert is not in the input); coverage judged from hosts only",
				"Gateway istio-system/wild: Gateway istio-system/wild servers[0]: certificate not provided (Secret wildcard is not in the input); coverage judged from hosts only",
			},
		},
		{
			name: "a more specific server owns the host: a wildcard server does not steal it",
			docs: []string{
				ingressService,
				tlsSecret(t, "istio-system", "wildcard", "*.example.com"),
				tlsSecret(t, "istio-system", "api-cert", "api.example.com"),
				istioGW("v1", "istio-system", "wild", "istio=ingressgateway", "wildcard", "*.example.com"),
				istioGW("v1", "istio-system", "api", "istio=ingressgateway", "api-cert", "api.example.com"),
			},
			// The wildcard server's certificate covers api.example.com,
			// which the SNI gives to the exact server; api's certificate
			// covers nothing of the wildcard server's but api itself.
			want: []pairSummary{
				{From: "istio-system/wild", To: "istio-system/api", Hosts: []string{"api.example.com"}, SharesAddress: true, Coalescing: true},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := analyze(t, tc.docs...)
			require.Equal(t, tc.want, summarize(pairsOf(t, a)))
			require.Equal(t, tc.warnings, messages(a.Warnings))
		})
	}
}

func TestCoalescingPairDetails(t *testing.T) {
	a := analyze(t,
		ingressService,
		tlsSecret(t, "istio-system", "wildcard", "*.example.com"),
		istioGW("v1", "shop", "shop-gw", "istio=ingressgateway", "wildcard", "shop.example.com"),
		istioGW("v1", "api", "api-gw", "istio=ingressgateway", "wildcard", "api.example.com"),
	)
	ps := pairsOf(t, a)
	require.Len(t, ps, 2)
	p := ps[1]
	require.Equal(t, "shop/shop-gw", p.From.Gateway)
	require.True(t, p.SharedCertificate, "the same Secret on two Gateways is Istio's IST0138")
	require.False(t, p.CertInferred)
	require.True(t, p.SharesPort)
	require.True(t, p.H2)
	require.Equal(t, "the certificate of Gateway shop/shop-gw servers[0] port 443 (Secret wildcard) covers api.example.com, served by Gateway api/api-gw servers[0] port 443; "+
		"they share the same address 203.0.113.10 and port 443 over h2: a browser can send requests for api.example.com on a connection opened for shop.example.com, "+
		"and they get a 404 from the route table of the first", p.Reason)

	s := a.Servers[1]
	require.Equal(t, "shop/shop-gw", s.Gateway)
	require.Equal(t, GatewayAddress{Key: "istio-selector:istio=ingressgateway", Services: []string{"istio-system/istio-ingressgateway"}, Addresses: []string{"203.0.113.10"}}, s.Address)
	require.Equal(t, 8443, s.TargetPort, "from the Service")
	require.Equal(t, "https.443.https.shop-gw.shop", s.RouteConfig)
	require.True(t, s.H2)
}

func TestGatewayAPISharedWildcardCertificate(t *testing.T) {
	for _, version := range []string{"v1", "v1beta1"} {
		t.Run(version, func(t *testing.T) {
			a := analyze(t,
				tlsSecret(t, "web", "wildcard", "*.example.com"),
				`apiVersion: gateway.networking.k8s.io/`+version+`
kind: Gateway
metadata:
  name: web
  namespace: web
spec:
  gatewayClassName: istio
  listeners:
  - name: shop
    hostname: shop.example.com
    port: 443
    protocol: HTTPS
    tls:
      mode: Terminate
      certificateRefs:
      - kind: Secret
        name: wildcard
  - name: api
    hostname: api.example.com
    port: 443
    protocol: HTTPS
    tls:
      certificateRefs:
      - name: wildcard
  - name: http
    port: 80
    protocol: HTTP
status:
  addresses:
  - type: IPAddress
    value: 198.51.100.4
`)
			require.Empty(t, a.Warnings)
			require.Equal(t, []pairSummary{
				{From: "web/web:shop", To: "web/web:api", Hosts: []string{"api.example.com"}, SharesAddress: true, Coalescing: true},
				{From: "web/web:api", To: "web/web:shop", Hosts: []string{"shop.example.com"}, SharesAddress: true, Coalescing: true},
			}, summarize(pairsOf(t, a)))
			p := pairsOf(t, a)[0]
			require.True(t, p.SharedCertificate)
			require.Equal(t, []string{"198.51.100.4"}, a.Servers[0].Address.Addresses)

			pair := a.Resolve("shop.example.com", "api.example.com:443")
			require.True(t, pair.CoalescingPossible)
			require.Equal(t, "api", pair.AuthorityServer.Name)
			require.Contains(t, pair.Outcome, "404 (no route)")
			require.Contains(t, pair.Notes, "the Gateway API says a gateway SHOULD answer 421 here (Listener.hostname); Istio answers 404")
		})
	}
}

// TestGatewayAPIGatewaysGetTheirOwnAddress: two Gateway API Gateways get
// their own deployments, unless they share an address.
func TestGatewayAPIGatewaysGetTheirOwnAddress(t *testing.T) {
	gw := func(name, host, addresses string) string {
		return `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ` + name + `, namespace: web}
spec:
  gatewayClassName: istio
` + addresses + `  listeners:
  - name: https
    hostname: ` + host + `
    port: 443
    protocol: HTTPS
    tls: {certificateRefs: [{name: wildcard}]}
`
	}
	shared := "  addresses: [{type: IPAddress, value: 198.51.100.9}]\n"
	for _, tc := range []struct {
		name   string
		shares bool
		a, b   string
	}{
		{"separate deployments", false, gw("shop", "shop.example.com", ""), gw("api", "api.example.com", "")},
		{"same spec.addresses", true, gw("shop", "shop.example.com", shared), gw("api", "api.example.com", shared)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := analyze(t, tlsSecret(t, "web", "wildcard", "*.example.com"), tc.a, tc.b)
			ps := pairsOf(t, a)
			require.Len(t, ps, 2)
			require.Equal(t, tc.shares, ps[0].SharesAddress)
			require.Equal(t, tc.shares, ps[0].Coalescing)
		})
	}
}

func TestExpiredCertificate(t *testing.T) {
	crt := certPEM(t, certOpts{cn: "shop.example.com", dns: []string{"shop.example.com"}, notBefore: now.Add(-400 * 24 * time.Hour), notAfter: now.Add(-time.Hour)})
	a := analyze(t,
		ingressService,
		tlsSecretPEM("istio-system", "old", crt),
		istioGW("v1", "istio-system", "gw", "istio=ingressgateway", "old", "shop.example.com"),
	)
	require.True(t, a.Servers[0].CertExpired)
	require.Equal(t, []string{"Gateway istio-system/gw: Gateway istio-system/gw servers[0]: the certificate in Secret istio-system/old expired on 2026-03-01T11:00:00Z"}, messages(a.Warnings))

	// The same Config at an earlier time: not expired.
	c := Load(Document{Name: "x.yaml", Data: yamlDocs(ingressService, tlsSecretPEM("istio-system", "old", crt), istioGW("v1", "istio-system", "gw", "istio=ingressgateway", "old", "shop.example.com"))})
	require.False(t, c.Analyze(now.Add(-2 * time.Hour)).Servers[0].CertExpired)
}

func TestServerWarnings(t *testing.T) {
	a := analyze(t,
		tlsSecret(t, "istio-system", "shop-cert", "shop.example.com"),
		ingressService,
		istioGW("v1", "istio-system", "gw", "istio=ingressgateway", "shop-cert", "shop.example.com", "api.example.com"),
		`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: plain, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
    tls: {httpsRedirect: true}
  - port: {number: 443, name: https-file, protocol: HTTPS}
    hosts: ["files.example.com"]
    tls: {mode: SIMPLE, serverCertificate: /etc/certs/cert.pem, privateKey: /etc/certs/key.pem}
`,
		`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: http-only, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
`)
	require.Equal(t, []string{
		"Gateway istio-system/gw: Gateway istio-system/gw servers[0]: the certificate (shop-cert) does not cover host api.example.com of this server: clients reject the connection",
		"Gateway istio-system/http-only: no TLS server (HTTPS or TLS): nothing for a client to coalesce",
		"Gateway istio-system/plain: Gateway istio-system/plain servers[1]: serverCertificate /etc/certs/cert.pem is a file in the gateway pod and can't be read; coverage judged from hosts only",
	}, messages(a.Warnings))
}

package explain

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	"github.com/gatewatch/gatewatch/internal/explain/gwconfig"
)

// SelfSignedPEM makes a throwaway certificate for names (for the demo and
// tests; the key is discarded).
func SelfSignedPEM(names []string, notBefore, notAfter time.Time) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: notBefore, NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// TLSSecretYAML is a kubernetes.io/tls Secret holding certPEM (no key:
// explain reads certificates only).
func TLSSecretYAML(namespace, name string, certPEM []byte) string {
	return fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: %s\ntype: kubernetes.io/tls\ndata:\n  tls.crt: %s\n", name, namespace, base64.StdEncoding.EncodeToString(certPEM))
}

// DemoConfig is the demo gateway's configuration: two Istio Gateways on the
// same gateway pods, shop.example.com and api.example.com, each with its own
// server but the same *.example.com certificate, and an EnvoyFilter whose
// Lua code answers 421 when the SNI and :authority differ — the usual
// setting for the 421s the demo injects.
func DemoConfig(now time.Time) (*gwconfig.Config, error) {
	cert, err := SelfSignedPEM([]string{"*.example.com"}, now.Add(-24*time.Hour), now.Add(90*24*time.Hour))
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	for _, h := range []string{"shop", "api"} {
		fmt.Fprintf(&b, `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: %[1]s, namespace: istio-ingress}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https-%[1]s, protocol: HTTPS}
    hosts: [%[1]s.example.com]
    tls: {mode: SIMPLE, credentialName: wildcard-example-com}
---
`, h)
	}
	b.WriteString(TLSSecretYAML("istio-ingress", "wildcard-example-com", cert))
	b.WriteString("---\n" + LuaSNICheckFilterYAML)
	return gwconfig.Load(gwconfig.Document{Name: "demo-gateway-config.yaml", Data: b.Bytes()}), nil
}

// LuaSNICheckFilterYAML is the common EnvoyFilter that answers 421 from Lua
// when a request's :authority differs from the connection's SNI, applied to
// the ingress gateway pods (istio=ingressgateway) from the root namespace.
const LuaSNICheckFilterYAML = `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: sni-authority-check, namespace: istio-system}
spec:
  workloadSelector:
    labels: {istio: ingressgateway}
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: GATEWAY
      listener:
        filterChain:
          filter:
            name: envoy.filters.network.http_connection_manager
            subFilter: {name: envoy.filters.http.router}
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.lua
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua
          inlineCode: |
            function envoy_on_request(request_handle)
              local sni = request_handle:streamInfo():requestedServerName()
              local authority = request_handle:headers():get(":authority")
              if sni ~= nil and sni ~= "" and authority ~= sni then
                request_handle:respond({[":status"] = "421"}, "Misdirected Request")
              end
            end
`

// StaticConfig is a ConfigSource of an already loaded configuration.
type StaticConfig struct {
	C    *gwconfig.Config
	Name string
}

func (s StaticConfig) String() string { return s.Name }

// Config returns the configuration.
func (s StaticConfig) Config(ctx context.Context, _ func(string)) (*gwconfig.Config, error) {
	return s.C, nil
}

package gwconfig

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/demo/fixtures"
)

// now is the time every analysis in the tests runs at.
var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// certOpts describe a generated certificate.
type certOpts struct {
	cn        string
	dns       []string
	notBefore time.Time
	notAfter  time.Time
}

// certPEM makes a self-signed ECDSA certificate with the given names, valid
// from a day before now for 90 days unless told otherwise.
func certPEM(t *testing.T, o certOpts) []byte {
	t.Helper()
	if o.notBefore.IsZero() {
		o.notBefore = now.Add(-24 * time.Hour)
	}
	if o.notAfter.IsZero() {
		o.notAfter = now.Add(90 * 24 * time.Hour)
	}
	crt, err := fixtures.Certificate{CommonName: o.cn, DNSNames: o.dns, NotBefore: o.notBefore, NotAfter: o.notAfter}.PEM()
	require.NoError(t, err)
	return crt
}

// tlsSecret is a kubernetes.io/tls Secret holding a certificate for names.
func tlsSecret(t *testing.T, ns, name string, names ...string) string {
	t.Helper()
	return tlsSecretPEM(ns, name, certPEM(t, certOpts{cn: names[0], dns: names}))
}

func tlsSecretPEM(ns, name string, crt []byte) string {
	return fixtures.TLSSecretYAML(ns, name, crt, []byte("not a key"))
}

// istioGW is an Istio Gateway with one HTTPS server on 443.
func istioGW(apiVersion, ns, name, selector, credential string, hosts ...string) string {
	sel := strings.SplitN(selector, "=", 2)
	var hs strings.Builder
	for _, h := range hosts {
		fmt.Fprintf(&hs, "    - %q\n", h)
	}
	return fmt.Sprintf(`apiVersion: networking.istio.io/%s
kind: Gateway
metadata:
  name: %s
  namespace: %s
spec:
  selector:
    %s: %s
  servers:
  - port:
      number: 443
      name: https
      protocol: HTTPS
    hosts:
%s    tls:
      mode: SIMPLE
      credentialName: %s
`, apiVersion, name, ns, sel[0], sel[1], hs.String(), credential)
}

// ingressService is the LoadBalancer Service of the default ingress gateway.
const ingressService = `apiVersion: v1
kind: Service
metadata:
  name: istio-ingressgateway
  namespace: istio-system
spec:
  type: LoadBalancer
  selector:
    istio: ingressgateway
  ports:
  - name: https
    port: 443
    targetPort: 8443
status:
  loadBalancer:
    ingress:
    - ip: 203.0.113.10
`

// yamlDocs joins documents into one multi-document file.
func yamlDocs(docs ...string) []byte {
	return []byte(strings.Join(docs, "---\n"))
}

func analyze(t *testing.T, docs ...string) *Analysis {
	t.Helper()
	return Load(Document{Name: "test.yaml", Data: yamlDocs(docs...)}).Analyze(now)
}

// messages are the warnings' texts, each prefixed with its item.
func messages(ws []Warning) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Item+": "+w.Message)
	}
	return out
}

// pairSummary is the part of a CoalescingPair the tests compare.
type pairSummary struct {
	From, To      string
	Hosts         []string
	SharesAddress bool
	Coalescing    bool
}

func summarize(ps []CoalescingPair) []pairSummary {
	out := []pairSummary{}
	for _, p := range ps {
		out = append(out, pairSummary{
			From: short(p.From), To: short(p.To),
			Hosts: p.Hosts, SharesAddress: p.SharesAddress, Coalescing: p.Coalescing,
		})
	}
	return out
}

// short names a server by its gateway, and its name when it has one.
func short(r ServerRef) string {
	if r.Name == "" {
		return r.Gateway
	}
	return r.Gateway + ":" + r.Name
}

// coalescingGroups are the analysis' coalescing groups.
func coalescingGroups(t *testing.T, a *Analysis) []CoalescingGroup {
	t.Helper()
	gs, err := a.CoalescingGroups(context.Background())
	require.NoError(t, err)
	return gs
}

// pairsOf are the directions of the coalescing groups, which must all be
// of two servers, ordered by From, then To.
func pairsOf(t *testing.T, a *Analysis) []CoalescingPair {
	t.Helper()
	var out []CoalescingPair
	for _, g := range coalescingGroups(t, a) {
		require.Len(t, g.Servers, 2, "a group of two servers: %+v", g)
		require.NotEmpty(t, g.Directions)
		out = append(out, g.Directions...)
	}
	slices.SortStableFunc(out, func(p, q CoalescingPair) int {
		return cmp.Or(byGatewayOrder(p.From, q.From), byGatewayOrder(p.To, q.To))
	})
	return out
}

// conflicts are the analysis' conflicting servers.
func conflicts(t *testing.T, a *Analysis) []ServerConflict {
	t.Helper()
	cs, err := a.ConflictingServers(context.Background())
	require.NoError(t, err)
	return cs
}

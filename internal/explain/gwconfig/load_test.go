package gwconfig

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLoadAPIVersions(t *testing.T) {
	listener := `
  gatewayClassName: istio
  listeners:
  - name: https
    hostname: "*.example.com"
    port: 443
    protocol: HTTPS
    tls:
      certificateRefs:
      - name: wildcard
`
	for _, tc := range []struct {
		name, doc string
		group     string
		warnings  int
	}{
		{"istio v1", istioGW("v1", "ns", "gw", "istio=ingressgateway", "cert", "a.example.com"), IstioGroup, 0},
		{"istio v1beta1", istioGW("v1beta1", "ns", "gw", "istio=ingressgateway", "cert", "a.example.com"), IstioGroup, 0},
		{"istio v1alpha3", istioGW("v1alpha3", "ns", "gw", "istio=ingressgateway", "cert", "a.example.com"), IstioGroup, 0},
		{"istio unknown version", istioGW("v2", "ns", "gw", "istio=ingressgateway", "cert", "a.example.com"), IstioGroup, 1},
		{"gateway api v1", "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: ns}\nspec:" + listener, GatewayAPIGroup, 0},
		{"gateway api v1beta1", "apiVersion: gateway.networking.k8s.io/v1beta1\nkind: Gateway\nmetadata: {name: gw, namespace: ns}\nspec:" + listener, GatewayAPIGroup, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Load(Document{Name: "gw.yaml", Data: []byte(tc.doc)})
			require.Len(t, c.Warnings(), tc.warnings, messages(c.Warnings()))
			gws := c.Gateways()
			require.Len(t, gws, 1)
			g := gws[0]
			require.Equal(t, tc.group, g.Group)
			require.Equal(t, "ns/gw", g.Key())
			require.Len(t, g.Servers, 1)
			s := g.Servers[0]
			require.Equal(t, 443, s.Port)
			require.Equal(t, "HTTPS", s.Protocol)
			if tc.group == IstioGroup {
				require.Equal(t, map[string]string{"istio": "ingressgateway"}, g.Selector)
				require.Equal(t, "SIMPLE", s.TLSMode)
				require.Equal(t, []string{"cert"}, s.Credentials)
				require.Equal(t, []string{"a.example.com"}, s.Hosts)
			} else {
				require.Equal(t, "istio", g.ClassName)
				require.Equal(t, "Terminate", s.TLSMode, "Terminate is the default mode")
				require.Equal(t, []string{"ns/wildcard"}, s.Credentials, "certificateRefs default to the Gateway's namespace")
				require.Equal(t, []string{"*.example.com"}, s.Hosts)
			}
		})
	}
}

// TestLoadToleratesUnknownFields: users' resources carry annotations,
// status and fields of newer versions; none of that is a problem.
func TestLoadToleratesUnknownFields(t *testing.T) {
	doc := `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: gw
  namespace: ns
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: "{}"
  uid: 0c2a
spec:
  futureField: {a: 1}
  selector:
    istio: ingressgateway
  servers:
  - port: {number: 443, name: https, protocol: HTTPS, newPortField: true}
    bind: 0.0.0.0
    hosts: ["a.example.com"]
    tls:
      mode: SIMPLE
      credentialName: cert
      minProtocolVersion: TLSV1_2
      cipherSuites: [ECDHE-ECDSA-AES256-GCM-SHA384]
status:
  conditions: []
`
	c := Load(Document{Name: "gw.yaml", Data: []byte(doc)})
	require.Empty(t, c.Warnings())
	require.Len(t, c.Gateways(), 1)
	require.Equal(t, []string{"cert"}, c.Gateways()[0].Servers[0].Credentials)
}

// TestLoadGoesOnAfterBadDocuments: a malformed document, an object whose
// fields have the wrong type and a Secret with garbage in tls.crt each give
// a warning with file, document and line; the other objects load.
func TestLoadGoesOnAfterBadDocuments(t *testing.T) {
	good := istioGW("v1", "ns", "good", "istio=ingressgateway", "cert", "a.example.com")
	malformed := "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: bad\n   namespace: ns\n"
	wrongType := "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: typed, namespace: ns}\nspec:\n  servers:\n  - port: {number: \"https\"}\n"
	garbage := "apiVersion: v1\nkind: Secret\nmetadata: {name: cert, namespace: ns}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: " +
		base64.StdEncoding.EncodeToString([]byte("-----BEGIN GARBAGE-----\nnope\n")) + "\n"
	notBase64 := "apiVersion: v1\nkind: Secret\nmetadata: {name: cert2, namespace: ns}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: '%%%'\n"
	vs := "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs, namespace: ns}\nspec:\n  hosts: [a.example.com]\n  gateways: [good]\n"
	data := yamlDocs(good, malformed, wrongType, garbage, notBase64, vs)

	c := Load(Document{Name: "all.yaml", Data: data})
	ws := c.Warnings()
	require.Len(t, ws, 4, messages(ws))

	require.Equal(t, "", ws[0].Item)
	require.Equal(t, Source{File: "all.yaml", Doc: 2, Line: 24}, ws[0].Source, "the line of the YAML error, counted in the file")
	require.Contains(t, ws[0].Message, "not valid YAML: yaml: line 24:")

	require.Equal(t, "Gateway ns/typed", ws[1].Item)
	require.Equal(t, Source{File: "all.yaml", Doc: 3, Line: 26}, ws[1].Source)
	require.Contains(t, ws[1].Message, "skipped: json: cannot unmarshal string")

	require.Equal(t, "Secret ns/cert", ws[2].Item)
	require.Equal(t, 4, ws[2].Source.Doc)
	require.Equal(t, "no usable certificate: tls.crt: no PEM CERTIFICATE block", ws[2].Message)

	require.Equal(t, "Secret ns/cert2", ws[3].Item)
	require.Contains(t, ws[3].Message, "data[tls.crt] is not base64")

	require.Len(t, c.Gateways(), 1)
	require.Equal(t, "good", c.Gateways()[0].Name)
	require.Len(t, c.VirtualServices(), 1)
	require.Equal(t, []string{"ns/good"}, c.VirtualServices()[0].Gateways)
	require.Len(t, c.Secrets(), 2, "bad Secrets are kept so that references to them say why")

	// The server referring to the garbage Secret says so, and falls back
	// to its hosts.
	a := c.Analyze(now)
	require.Contains(t, messages(a.Warnings), "Gateway ns/good: Gateway ns/good servers[0]: Secret ns/cert has no usable certificate (tls.crt: no PEM CERTIFICATE block); coverage judged from hosts only")
	require.True(t, a.Servers[0].CertInferred)
	require.Equal(t, []string{"a.example.com"}, a.Servers[0].CertNames)
}

func TestLoadSecretFormats(t *testing.T) {
	crt := certPEM(t, certOpts{cn: "a.example.com", dns: []string{"a.example.com", "b.example.com"}})
	b64 := base64.StdEncoding.EncodeToString(crt)
	indent := func(s string) string {
		out := ""
		for _, l := range splitLines(s) {
			out += "    " + l + "\n"
		}
		return out
	}
	for _, tc := range []struct {
		name, doc string
		key       string
		loaded    bool
	}{
		{"kubernetes.io/tls data", "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: ns}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: " + b64 + "\n", "tls.crt", true},
		{"stringData", "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: ns}\ntype: kubernetes.io/tls\nstringData:\n  tls.crt: |\n" + indent(string(crt)), "tls.crt", true},
		{"istio generic cert", "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: ns}\ntype: Opaque\ndata:\n  cert: " + b64 + "\n  key: a2V5\n  cacert: " + b64 + "\n", "cert", true},
		{"opaque tls.crt", "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: ns}\ntype: Opaque\ndata:\n  tls.crt: " + b64 + "\n", "tls.crt", true},
		{"unrelated opaque secret", "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: ns}\ntype: Opaque\ndata:\n  password: aHVudGVyMg==\n", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Load(Document{Name: "s.yaml", Data: []byte(tc.doc)})
			require.Empty(t, c.Warnings())
			if !tc.loaded {
				require.Empty(t, c.Secrets())
				return
			}
			require.Len(t, c.Secrets(), 1)
			cert := c.Secrets()[0].Certificate
			require.NotNil(t, cert)
			require.Equal(t, tc.key, cert.Key)
			require.Equal(t, "ns/s", cert.Secret)
			require.Equal(t, []string{"a.example.com", "b.example.com"}, cert.DNSNames)
			require.False(t, cert.CNOnly)
			require.Equal(t, now.Add(90*24*time.Hour), cert.NotAfter)
		})
	}
}

func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		out = append(out, s[:i])
		if i < len(s) {
			i++
		}
		s = s[i:]
	}
	return out
}

func TestLoadCNOnlyCertificate(t *testing.T) {
	crt := certPEM(t, certOpts{cn: "legacy.example.com"})
	a := analyze(t,
		tlsSecretPEM("istio-system", "legacy", crt),
		ingressService,
		istioGW("v1", "istio-system", "gw", "istio=ingressgateway", "legacy", "legacy.example.com"),
	)
	require.True(t, a.Servers[0].Certificates[0].CNOnly)
	require.Equal(t, []string{"legacy.example.com"}, a.Servers[0].CertNames)
	require.Equal(t, []string{`Gateway istio-system/gw: Gateway istio-system/gw servers[0]: the certificate in Secret istio-system/legacy has no SANs; only its CN "legacy.example.com" names a host, and browsers ignore the CN`}, messages(a.Warnings))
}

// TestAddUnstructured: live mode adds objects fetched from the API as
// unstructured JSON, Lists included.
func TestAddUnstructured(t *testing.T) {
	var list map[string]any
	require.NoError(t, json.Unmarshal([]byte(`{
	  "apiVersion": "v1", "kind": "List",
	  "items": [
	    {"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
	     "metadata": {"name": "a", "namespace": "ns"},
	     "spec": {"selector": {"istio": "ingressgateway"},
	              "servers": [{"port": {"number": 443, "name": "https", "protocol": "HTTPS"},
	                           "hosts": ["a.example.com"], "tls": {"mode": "SIMPLE", "credentialName": "c"}}]}},
	    {"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
	     "metadata": {"name": "b", "namespace": "ns"},
	     "spec": {"servers": [{"port": {"number": "x"}}]}},
	    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ignored"}}
	  ]}`), &list))
	c := New()
	c.Add("cluster prod", list)
	require.Len(t, c.Gateways(), 1)
	require.Equal(t, "ns/a", c.Gateways()[0].Key())
	ws := c.Warnings()
	require.Len(t, ws, 1)
	require.Equal(t, Source{File: "cluster prod", Item: 2}, ws[0].Source)
	require.Equal(t, "cluster prod (item 2)", ws[0].Source.String())

	// Adding an object again replaces it.
	c.Add("cluster prod", list["items"].([]any)[0].(map[string]any))
	require.Len(t, c.Gateways(), 1)
	require.Contains(t, c.Warnings()[1].Message, "defined again")
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(dir, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	write("gateways/a.yaml", istioGW("v1", "ns", "a", "istio=ingressgateway", "c", "a.example.com"))
	write("gateways/nested/b.yml", "# leading comment\n---\n"+istioGW("v1beta1", "ns", "b", "istio=ingressgateway", "c", "b.example.com"))
	write("c.json", `{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "c", "namespace": "ns"}, "spec": {"listeners": [{"name": "h", "port": 443, "protocol": "HTTPS", "tls": {"certificateRefs": [{"name": "c"}]}}]}}`)
	write("README.md", "not yaml: [")
	write(".git/config.yaml", "broken: [")

	c, err := LoadDir(dir)
	require.NoError(t, err)
	require.Empty(t, c.Warnings())
	var keys []string
	for _, g := range c.Gateways() {
		keys = append(keys, g.Group+" "+g.Key())
	}
	require.Equal(t, []string{GatewayAPIGroup + " ns/c", IstioGroup + " ns/a", IstioGroup + " ns/b"}, keys)
	require.Equal(t, Source{File: filepath.Join(dir, "gateways/nested/b.yml"), Doc: 1, Line: 3}, c.Gateways()[2].Source)

	_, err = LoadDir(t.TempDir())
	require.ErrorContains(t, err, "no .yaml, .yml or .json file")

	// A file named explicitly is read whatever its name; a List in it is
	// expanded, its items named in warnings.
	write("list.txt", "apiVersion: v1\nkind: List\nitems:\n- "+strings.ReplaceAll(strings.TrimSpace(istioGW("v1", "ns", "d", "istio=ingressgateway", "c", "d.example.com")), "\n", "\n  ")+"\n- {apiVersion: networking.istio.io/v1, kind: Gateway, metadata: {namespace: ns}}\n")
	c, err = LoadDir(filepath.Join(dir, "list.txt"))
	require.NoError(t, err)
	require.Len(t, c.Gateways(), 1)
	require.Equal(t, Source{File: filepath.Join(dir, "list.txt"), Doc: 1, Line: 1, Item: 1}, c.Gateways()[0].Source)
	require.Len(t, c.Warnings(), 1)
	require.Equal(t, filepath.Join(dir, "list.txt")+":1 (document 1, item 2): Gateway ns/: no metadata.name; skipped", c.Warnings()[0].String())
}

func TestLoadIstioGatewayProblems(t *testing.T) {
	doc := `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: ns}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [a.example.com]
    tls: {credentialName: a}
  - port: {number: 8443, name: https, protocol: HTTPS}
    hosts: [b.example.com]
  - hosts: [c.example.com]
  - port: {number: 9443, name: https-c, protocol: HTTPS}
    tls: {mode: simple, credential_name: kubernetes://c}
`
	c := Load(Document{Name: "gw.yaml", Data: []byte(doc)})
	require.Equal(t, []string{
		"Gateway ns/gw: servers[0] has tls without mode: Istio's default is PASSTHROUGH, so its certificate is not used",
		`Gateway ns/gw: servers[0] and servers[1] have the same port name "https"; Istio rejects the Gateway`,
		"Gateway ns/gw: servers[1] is HTTPS without tls settings; Istio rejects it",
		"Gateway ns/gw: servers[2] has no port; skipped",
		"Gateway ns/gw: servers[3] has no hosts",
	}, messages(c.Warnings()))
	s := c.Gateways()[0].Servers
	require.Len(t, s, 3)
	require.Equal(t, "PASSTHROUGH", s[0].TLSMode)
	require.Equal(t, 3, s[2].Index)
	require.Equal(t, "SIMPLE", s[2].TLSMode)
	require.Equal(t, []string{"c"}, s[2].Credentials, "snake_case and the kubernetes:// prefix are read")
}

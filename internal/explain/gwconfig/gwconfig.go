// Package gwconfig reads the configuration of Istio ingress gateways — Istio
// Gateways, Kubernetes Gateway API Gateways, VirtualServices, EnvoyFilters,
// Services and the TLS certificates in Secrets — and finds where HTTP/2
// connection coalescing can send a request through a gateway server other
// than the one its host belongs to: the usual cause of a 421 (Misdirected
// Request), or of a 404, from an ingress gateway.
//
// Coalescing (RFC 9113 §9.1.1): a client holding an HTTP/2 connection opened
// with SNI = A reuses it for host B when the certificate presented for A also
// covers B and B resolves to the same address (and port). Envoy chooses the
// filter chain — and with it the gateway server, its certificate and its
// route table — from the SNI alone, at the handshake; a request for B then
// runs through A's server. Istio builds one route table per TLS-terminating
// HTTPS server (https.<port>.<port name>.<gateway>.<namespace>), so B gets a
// 404 unless A's server also lists B; an EnvoyFilter whose Lua script
// compares the SNI with :authority answers 421, and the client retries on a
// new connection (RFC 9113 §9.1.2). Istio's analyzer reports the simplest
// case as IST0138 GatewayDuplicateCertificate.
//
// Unlike the rest of gatewatch's configuration, decoding here is lenient:
// these are users' own resources, so unknown fields are ignored. An object
// that cannot be read becomes a Warning with its file, document and line,
// and the rest is still read.
package gwconfig

import (
	"slices"

	"github.com/gatewatch/gatewatch/internal/manifest"
)

// API groups of the resources read.
const (
	IstioGroup      = "networking.istio.io"
	GatewayAPIGroup = "gateway.networking.k8s.io"
)

// DefaultRootNamespace is Istio's default root namespace: an EnvoyFilter
// there applies to workloads in every namespace.
const DefaultRootNamespace = "istio-system"

// Source says where an object came from: the manifest reader's file,
// document, line and List item.
type Source = manifest.Source

// Warning is a problem with one object, or with a document that could not be
// read as one.
type Warning struct {
	// Item names the object, e.g. "Gateway istio-system/public"; empty when
	// the document could not be read far enough to know.
	Item    string `json:"item,omitempty"`
	Source  Source `json:"source"`
	Message string `json:"message"`
}

// String is "source: item: message".
func (w Warning) String() string {
	if w.Item == "" {
		return w.Source.String() + ": " + w.Message
	}
	return w.Source.String() + ": " + w.Item + ": " + w.Message
}

// Gateway is an Istio Gateway or a Gateway API Gateway.
type Gateway struct {
	// Group is IstioGroup or GatewayAPIGroup.
	Group      string `json:"group"`
	APIVersion string `json:"api_version"`
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
	Source     Source `json:"source"`

	// Selector is an Istio Gateway's spec.selector: the labels of the
	// gateway pods it configures.
	Selector map[string]string `json:"selector,omitempty"`

	// ClassName is a Gateway API Gateway's spec.gatewayClassName.
	ClassName string `json:"class_name,omitempty"`
	// Addresses are a Gateway API Gateway's spec.addresses values.
	Addresses []Address `json:"addresses,omitempty"`
	// StatusAddresses are a Gateway API Gateway's status.addresses values.
	StatusAddresses []Address `json:"status_addresses,omitempty"`

	// Servers are an Istio Gateway's servers, or a Gateway API Gateway's
	// listeners, in order.
	Servers []Server `json:"servers"`
}

// Address is a Gateway API address (type IPAddress, Hostname or
// NamedAddress).
type Address struct {
	Type  string `json:"type,omitempty"`
	Value string `json:"value"`
}

// Kind names the resource kind with its group, e.g. "Gateway
// (networking.istio.io)".
func (g *Gateway) Kind() string { return "Gateway (" + g.Group + ")" }

// IsIstio reports whether g is an Istio Gateway (not a Gateway API one).
func (g *Gateway) IsIstio() bool { return g.Group == IstioGroup }

// Key is the gateway's namespace/name.
func (g *Gateway) Key() string { return nsName(g.Namespace, g.Name) }

func (g *Gateway) item() string { return "Gateway " + g.Key() }

// Server is one server of an Istio Gateway, or one listener of a Gateway API
// Gateway, as written.
type Server struct {
	// Index is the position in spec.servers or spec.listeners.
	Index int `json:"index"`
	// Name is the Istio server name or the Gateway API listener name.
	Name string `json:"name,omitempty"`
	// PortName is the Istio port name (part of the route table's name).
	PortName string `json:"port_name,omitempty"`
	Port     int    `json:"port"`
	// TargetPort is the Istio port.targetPort, when set.
	TargetPort int `json:"target_port,omitempty"`
	// Protocol is upper-cased: HTTP, HTTPS, TLS, HTTP2, GRPC, TCP …
	Protocol string `json:"protocol"`
	// Hosts are an Istio server's hosts as written (with their optional
	// namespace/ prefix), or a Gateway API listener's hostname (none: all).
	Hosts []string `json:"hosts"`
	// TLSMode is the Istio mode (SIMPLE, MUTUAL, PASSTHROUGH, ISTIO_MUTUAL,
	// AUTO_PASSTHROUGH, OPTIONAL_MUTUAL) or the Gateway API mode (Terminate,
	// Passthrough); empty without TLS.
	TLSMode string `json:"tls_mode,omitempty"`
	// Credentials are the Secrets holding the certificate, as namespace/name
	// (Istio credentialName: name only, the namespace is the gateway pods').
	Credentials []string `json:"credentials,omitempty"`
	// ServerCertificate is an Istio file path inside the gateway pod.
	ServerCertificate string `json:"server_certificate,omitempty"`
	HTTPSRedirect     bool   `json:"https_redirect,omitempty"`
}

// VirtualService is the part of an Istio VirtualService that binds hosts to
// gateways.
type VirtualService struct {
	Namespace string   `json:"namespace"`
	Name      string   `json:"name"`
	Source    Source   `json:"source"`
	Hosts     []string `json:"hosts"`
	// Gateways are namespace/name, or "mesh"; a VirtualService without
	// gateways is bound to "mesh" only.
	Gateways []string `json:"gateways"`
}

// EnvoyFilter is the part of an Istio EnvoyFilter that matters here: which
// workloads it selects and whether it installs Lua code answering 421 when
// the SNI and :authority differ, or changes the ALPN protocols offered.
type EnvoyFilter struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Source    Source `json:"source"`
	// WorkloadSelector is spec.workloadSelector.labels; empty selects every
	// workload in the namespace (every namespace in the root namespace).
	WorkloadSelector map[string]string `json:"workload_selector,omitempty"`
	TargetRefs       []TargetRef       `json:"target_refs,omitempty"`
	Patches          []FilterPatch     `json:"patches"`
}

// TargetRef is an EnvoyFilter spec.targetRefs entry.
type TargetRef struct {
	Group string `json:"group,omitempty"`
	Kind  string `json:"kind"`
	Name  string `json:"name"`
}

// FilterPatch summarises one EnvoyFilter configPatch.
type FilterPatch struct {
	Index   int    `json:"index"`
	ApplyTo string `json:"apply_to,omitempty"`
	// Context is match.context: GATEWAY, SIDECAR_INBOUND, SIDECAR_OUTBOUND or
	// ANY (empty means ANY).
	Context string `json:"context,omitempty"`
	// PortNumber is match.listener.portNumber or
	// match.routeConfiguration.portNumber (0: any).
	PortNumber int `json:"port_number,omitempty"`
	// SNI is match.listener.filterChain.sni (empty: any).
	SNI string `json:"sni,omitempty"`
	// RouteGateway is match.routeConfiguration.gateway (namespace/name).
	RouteGateway string `json:"route_gateway,omitempty"`

	// Lua: the patch installs or changes an envoy.filters.http.lua filter.
	Lua bool `json:"lua,omitempty"`
	// ReadsSNI, ReadsAuthority and Responds421 describe its inline code:
	// it reads the requested server name, reads the :authority (or host)
	// header, and calls respond() with a 421.
	ReadsSNI       bool `json:"reads_sni,omitempty"`
	ReadsAuthority bool `json:"reads_authority,omitempty"`
	Responds421    bool `json:"responds_421,omitempty"`
	// ALPN is the alpn_protocols list the patch sets, if any.
	ALPN []string `json:"alpn,omitempty"`
}

// SNIAuthority421 reports whether the patch is Lua code that compares the
// SNI with the :authority and answers 421.
func (p FilterPatch) SNIAuthority421() bool {
	return p.Lua && p.ReadsSNI && p.ReadsAuthority && p.Responds421
}

// SNIAuthority421 reports whether any patch of f is Lua code comparing the
// SNI with the :authority and answering 421.
func (f *EnvoyFilter) SNIAuthority421() bool {
	return slices.ContainsFunc(f.Patches, FilterPatch.SNIAuthority421)
}

// Key is the filter's namespace/name.
func (f *EnvoyFilter) Key() string { return nsName(f.Namespace, f.Name) }

// Service is the part of a Kubernetes Service that tells which address
// serves a gateway.
type Service struct {
	Namespace string            `json:"namespace"`
	Name      string            `json:"name"`
	Source    Source            `json:"source"`
	Type      string            `json:"type,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	Selector  map[string]string `json:"selector,omitempty"`
	Ports     []ServicePort     `json:"ports,omitempty"`
	// Addresses are the load balancer ingress IPs and hostnames, and the
	// external IPs.
	Addresses []string `json:"addresses,omitempty"`
}

// ServicePort maps a Service port to the pods' port.
type ServicePort struct {
	Name       string `json:"name,omitempty"`
	Port       int    `json:"port"`
	TargetPort int    `json:"target_port,omitempty"`
}

// Key is the service's namespace/name.
func (s *Service) Key() string { return nsName(s.Namespace, s.Name) }

func nsName(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

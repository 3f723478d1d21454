package gwconfig

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Analysis is the configuration resolved at one time: every server with its
// certificate, its address and the EnvoyFilters that touch it. Build it with
// Config.Analyze; it does not change afterwards.
type Analysis struct {
	Now time.Time `json:"now"`
	// Servers are all servers and listeners, by gateway (group, namespace,
	// name) then position.
	Servers []ResolvedServer `json:"servers"`
	// Warnings are the Config's reading warnings, then the problems found
	// while resolving.
	Warnings []Warning `json:"warnings"`

	virtualServices []*VirtualService
	hosts           *hostIndex
}

// ServerRef identifies a server of an Istio Gateway or a listener of a
// Gateway API Gateway.
type ServerRef struct {
	// Kind is "Gateway (networking.istio.io)" or "Gateway
	// (gateway.networking.k8s.io)".
	Kind string `json:"kind"`
	// Gateway is the gateway's namespace/name.
	Gateway string `json:"gateway"`
	// Index is the position in spec.servers or spec.listeners.
	Index       int      `json:"index"`
	Name        string   `json:"name,omitempty"`
	Port        int      `json:"port"`
	Protocol    string   `json:"protocol"`
	TLSMode     string   `json:"tls_mode,omitempty"`
	Hosts       []string `json:"hosts"`
	Credentials []string `json:"credentials,omitempty"`
}

// String names the server, e.g. "Gateway istio-system/public servers[0]
// (web) port 443" or "Gateway web/web listener \"api\" port 443".
func (r ServerRef) String() string {
	var b strings.Builder
	b.WriteString("Gateway ")
	b.WriteString(r.Gateway)
	if r.Kind == "Gateway ("+GatewayAPIGroup+")" {
		fmt.Fprintf(&b, " listener %q", r.Name)
	} else {
		fmt.Fprintf(&b, " servers[%d]", r.Index)
		if r.Name != "" {
			fmt.Fprintf(&b, " (%s)", r.Name)
		}
	}
	fmt.Fprintf(&b, " port %d", r.Port)
	return b.String()
}

// ResolvedServer is a server with what the rest of the configuration says
// about it.
type ResolvedServer struct {
	ServerRef
	// TargetPort is the pods' port for Port, from the server or its Service.
	TargetPort int `json:"target_port,omitempty"`
	// DNSNames are the hosts without namespace prefix, normalised; "*" for
	// a listener without hostname.
	DNSNames []string `json:"dns_names"`
	// TLS: an HTTPS or TLS server with TLS settings.
	TLS bool `json:"tls"`
	// Terminates: the gateway terminates TLS (otherwise it passes the
	// connection through to the backend, whose certificate is unknown).
	Terminates bool `json:"terminates"`
	// RouteConfig is the name of the Envoy route table Istio builds for an
	// Istio Gateway server (https.<port>.<port name>.<gateway>.<namespace>
	// for HTTPS, http.<port> for HTTP).
	RouteConfig string `json:"route_config,omitempty"`
	// Certificates are the leaf certificates of the server's Secrets.
	Certificates []*Certificate `json:"certificates,omitempty"`
	// CertNames are the names the presented certificate covers: from
	// Certificates, or — CertInferred — the server's own hosts when the
	// certificate is not in the input (or the gateway passes TLS through).
	CertNames    []string `json:"cert_names,omitempty"`
	CertIPs      []string `json:"cert_ips,omitempty"`
	CertInferred bool     `json:"cert_inferred,omitempty"`
	CertExpired  bool     `json:"cert_expired,omitempty"`
	// Address is where clients reach the server.
	Address GatewayAddress `json:"address"`
	// H2 says whether clients can negotiate HTTP/2 (ALPN h2) — without it
	// there is no coalescing — and H2Note why.
	H2     bool   `json:"h2"`
	H2Note string `json:"h2_note,omitempty"`
	// Filters are the EnvoyFilters that apply (or may apply) to the server
	// and answer 421 from Lua or change the ALPN protocols.
	Filters []FilterMatch `json:"filters,omitempty"`

	gw *Gateway
	// addrGroup numbers the address (see addressGroups).
	addrGroup int
}

// browserFacing: a TLS server whose clients may be browsers. ISTIO_MUTUAL
// and AUTO_PASSTHROUGH carry mesh traffic with Istio certificates.
func (s *ResolvedServer) browserFacing() bool {
	return s.TLS && s.TLSMode != "ISTIO_MUTUAL" && s.TLSMode != "AUTO_PASSTHROUGH"
}

// GatewayAddress says where a gateway is reached, as far as the
// configuration tells. Browsers coalesce only onto a connection to an
// address the new host also resolves to.
type GatewayAddress struct {
	// Key identifies the address when nothing better is known. Istio
	// Gateways with the same selector configure the same pods, behind the
	// same Service ("istio-selector:istio=ingressgateway"). A Gateway API
	// Gateway gets its own Deployment and Service ("gateway:ns/name"),
	// unless spec.addresses names the address ("addresses:…").
	Key string `json:"key"`
	// Services are the Services (namespace/name) in front of the pods.
	Services []string `json:"services,omitempty"`
	// Addresses are the IPs and hostnames known for it: load balancer
	// ingress and external IPs of the Services, a Gateway API Gateway's
	// spec and status addresses.
	Addresses []string `json:"addresses,omitempty"`
}

// Shares reports whether a and b are the same address: same key, a Service
// in common, or an address in common.
func (a GatewayAddress) Shares(b GatewayAddress) bool {
	return a.Key == b.Key || intersects(a.Services, b.Services) || intersects(a.Addresses, b.Addresses)
}

// why says in words how a and b relate.
func (a GatewayAddress) why(b GatewayAddress) string {
	switch {
	case intersects(a.Addresses, b.Addresses):
		return "the same address " + firstCommon(a.Addresses, b.Addresses)
	case intersects(a.Services, b.Services):
		return "the same Service " + firstCommon(a.Services, b.Services)
	case a.Key == b.Key && strings.HasPrefix(a.Key, "istio-selector:"):
		return "the same gateway pods (selector " + strings.TrimPrefix(a.Key, "istio-selector:") + ")"
	case a.Key == b.Key:
		return "the same gateway (" + a.Key + ")"
	}
	return "different addresses (" + a.Key + " and " + b.Key + ")"
}

// Applicability says whether an EnvoyFilter applies to a server.
type Applicability string

// Applicability values.
const (
	Applies    Applicability = "yes"
	MayApply   Applicability = "maybe"
	NotApplies Applicability = "no"
)

func minApplicability(a, b Applicability) Applicability {
	rank := map[Applicability]int{NotApplies: 0, MayApply: 1, Applies: 2}
	if rank[a] <= rank[b] {
		return a
	}
	return b
}

// FilterMatch is an EnvoyFilter that applies, or may apply, to a server.
type FilterMatch struct {
	EnvoyFilter string        `json:"envoy_filter"`
	Source      Source        `json:"source"`
	Applies     Applicability `json:"applies"`
	// Reason says why it (may) apply.
	Reason string `json:"reason"`
	// SNIAuthority421: Lua code comparing the SNI with the :authority and
	// answering 421.
	SNIAuthority421 bool `json:"sni_authority_421,omitempty"`
	// Lua421: Lua code answering 421 (whatever it compares).
	Lua421 bool `json:"lua_421,omitempty"`
	// ALPN is the alpn_protocols list it sets.
	ALPN []string `json:"alpn,omitempty"`
}

// workload is what is known of the pods a gateway configures.
type workload struct {
	labels     map[string]string
	namespaces []string
	// assumed: the namespace is the Gateway's, for want of a Service.
	assumed bool
}

type analyzer struct {
	c        *Config
	now      time.Time
	services []*Service
	secrets  map[string][]*Secret // by name, in namespace order
	filters  []*EnvoyFilter
	warnings []Warning
}

func (an *analyzer) warn(item string, src Source, format string, args ...any) {
	an.warnings = append(an.warnings, Warning{Item: item, Source: src, Message: fmt.Sprintf(format, args...)})
}

// Analyze resolves every server: its certificate (flagging those expired at
// now), its address and the EnvoyFilters that apply to it.
func (c *Config) Analyze(now time.Time) *Analysis {
	a, _ := c.AnalyzeContext(context.Background(), now)
	return a
}

// AnalyzeContext is Analyze, stopped with ctx's error when ctx ends.
func (c *Config) AnalyzeContext(ctx context.Context, now time.Time) (*Analysis, error) {
	an := &analyzer{c: c, now: now, services: c.Services(), secrets: secretsByName(c.Secrets()), filters: c.EnvoyFilters()}
	a := &Analysis{Now: now, virtualServices: c.VirtualServices()}
	for _, g := range c.Gateways() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		addr, wl := an.address(g)
		tls := 0
		for _, s := range g.Servers {
			rs := an.server(g, s, addr, wl)
			if rs.TLS {
				tls++
			}
			a.Servers = append(a.Servers, rs)
		}
		if tls == 0 {
			an.warn(g.item(), g.Source, "no TLS server (HTTPS or TLS): nothing for a client to coalesce")
		}
	}
	addressGroups(a.Servers)
	a.hosts = newHostIndex(a.Servers)
	a.Warnings = append(c.Warnings(), an.warnings...)
	return a, nil
}

func secretsByName(secrets []*Secret) map[string][]*Secret {
	out := map[string][]*Secret{}
	for _, s := range secrets {
		out[s.Name] = append(out[s.Name], s)
	}
	return out
}

// address works out where g is reached and which pods it configures.
func (an *analyzer) address(g *Gateway) (GatewayAddress, workload) {
	var addr GatewayAddress
	var wl workload
	var svcs []*Service
	if g.IsIstio() {
		addr.Key = "istio-selector:" + canonLabels(g.Selector)
		wl.labels = g.Selector
		// A Service fronts the gateway pods when one selector contains the
		// other: the pods carry both label sets.
		for _, s := range an.services {
			if len(s.Selector) > 0 && len(g.Selector) > 0 && (subset(s.Selector, g.Selector) || subset(g.Selector, s.Selector)) {
				svcs = append(svcs, s)
			}
		}
	} else {
		addr.Key = "gateway:" + g.Key()
		if len(g.Addresses) > 0 {
			var vals []string
			for _, a := range g.Addresses {
				vals = append(vals, a.Value)
			}
			slices.Sort(vals)
			addr.Key = "addresses:" + strings.Join(vals, ",")
		}
		// Istio deploys a Gateway API Gateway in its namespace, labelled
		// with its name, behind a Service labelled the same — unless
		// spec.addresses names an existing Service (manual deployment).
		wl.labels = map[string]string{"gateway.networking.k8s.io/gateway-name": g.Name}
		manual := false
		for _, a := range append(slices.Clone(g.Addresses), g.StatusAddresses...) {
			if a.Type == "" || a.Type == "IPAddress" || a.Type == "Hostname" {
				addr.Addresses = append(addr.Addresses, a.Value)
			}
			ns, name, ok := serviceHost(a.Value)
			if !ok || (a.Type != "" && a.Type != "Hostname") {
				continue
			}
			key := nsName(ns, name)
			addr.Services = append(addr.Services, key)
			if i := slices.IndexFunc(an.services, func(s *Service) bool { return s.Key() == key }); i >= 0 {
				svcs = append(svcs, an.services[i])
				if slices.Contains(g.Addresses, a) {
					manual = true
					wl.labels = an.services[i].Selector
				}
			}
		}
		if !manual {
			for _, s := range an.services {
				if s.Namespace == g.Namespace && (s.Labels["gateway.networking.k8s.io/gateway-name"] == g.Name || s.Labels["istio.io/gateway-name"] == g.Name) {
					svcs = append(svcs, s)
				}
			}
		}
	}
	for _, s := range svcs {
		addr.Services = append(addr.Services, s.Key())
		addr.Addresses = append(addr.Addresses, s.Addresses...)
		wl.namespaces = append(wl.namespaces, s.Namespace)
	}
	addr.Services = sortedUnique(addr.Services)
	addr.Addresses = sortedUnique(addr.Addresses)
	wl.namespaces = sortedUnique(wl.namespaces)
	if len(wl.namespaces) == 0 {
		wl.namespaces = []string{g.Namespace}
		wl.assumed = g.IsIstio()
	}
	return addr, wl
}

// serviceHost parses a cluster DNS name of a Service: name.ns.svc or
// name.ns.svc.<cluster domain>.
func serviceHost(h string) (ns, name string, ok bool) {
	parts := strings.Split(normHost(h), ".")
	if len(parts) >= 3 && parts[2] == "svc" {
		return parts[1], parts[0], true
	}
	return "", "", false
}

func (an *analyzer) server(g *Gateway, s Server, addr GatewayAddress, wl workload) ResolvedServer {
	rs := ResolvedServer{
		ServerRef: ServerRef{
			Kind: g.Kind(), Gateway: g.Key(), Index: s.Index, Name: s.Name,
			Port: s.Port, Protocol: s.Protocol, TLSMode: s.TLSMode,
			Hosts: slices.Clone(s.Hosts), Credentials: slices.Clone(s.Credentials),
		},
		TargetPort: s.TargetPort,
		Address:    addr,
		gw:         g,
	}
	if rs.Hosts == nil {
		rs.Hosts = []string{}
	}
	if rs.TargetPort == 0 {
		rs.TargetPort = an.targetPort(addr, s.Port)
	}
	for _, h := range s.Hosts {
		rs.DNSNames = append(rs.DNSNames, dnsName(h))
	}
	if len(rs.DNSNames) == 0 {
		rs.DNSNames = []string{"*"}
	}
	rs.TLS = (s.Protocol == "HTTPS" || s.Protocol == "TLS") && s.TLSMode != ""
	switch s.TLSMode {
	case "SIMPLE", "MUTUAL", "OPTIONAL_MUTUAL", "ISTIO_MUTUAL", "Terminate":
		rs.Terminates = rs.TLS
	}
	// Istio's route table names (gatewayRDSRouteName). Port names are
	// unique within a Gateway, so every TLS-terminating HTTPS server has a
	// route table of its own; so has every Gateway API listener, as Istio
	// translates each into a server of its own generated Gateway.
	switch {
	case g.IsIstio() && s.Protocol == "HTTPS" && rs.Terminates:
		rs.RouteConfig = fmt.Sprintf("https.%d.%s.%s.%s", s.Port, s.PortName, g.Name, g.Namespace)
	case g.IsIstio() && (s.Protocol == "HTTP" || s.Protocol == "HTTP2" || s.Protocol == "GRPC"):
		rs.RouteConfig = fmt.Sprintf("http.%d", s.Port)
	}
	if rs.TLS {
		an.certificates(&rs, g, s, wl)
	}
	an.envoyFilters(&rs, g, wl)
	an.h2(&rs, g)
	return rs
}

// targetPort finds the pods' port behind port in the gateway's Services.
func (an *analyzer) targetPort(addr GatewayAddress, port int) int {
	for _, s := range an.services {
		if !slices.Contains(addr.Services, s.Key()) {
			continue
		}
		for _, p := range s.Ports {
			if p.Port == port && p.TargetPort != 0 {
				return p.TargetPort
			}
		}
	}
	return 0
}

// certificates finds the server's certificates, or infers its names.
func (an *analyzer) certificates(rs *ResolvedServer, g *Gateway, s Server, wl workload) {
	item := g.item()
	where := fmt.Sprintf("%s servers[%d]", item, s.Index)
	if !g.IsIstio() {
		where = fmt.Sprintf("%s listener %q", item, s.Name)
	}
	infer := func() {
		rs.CertInferred = true
		for _, n := range rs.DNSNames {
			if n != "*" {
				rs.CertNames = append(rs.CertNames, n)
			}
		}
	}
	if !rs.Terminates {
		infer() // the backend presents its own certificate
		return
	}
	if s.TLSMode == "ISTIO_MUTUAL" {
		return // Istio's workload certificate: mesh clients only
	}
	for _, cred := range s.Credentials {
		var sec *Secret
		var note string
		if g.IsIstio() {
			sec, note = an.findSecret(cred, wl.namespaces)
		} else {
			ns, name, ok := strings.Cut(cred, "/")
			if !ok {
				ns, name = "", cred
			}
			sec, note = an.findSecret(name, []string{ns})
		}
		switch {
		case sec == nil:
			an.warn(item, g.Source, "%s: certificate not provided (Secret %s is not in the input); coverage judged from hosts only", where, cred)
		case sec.Certificate == nil:
			an.warn(item, g.Source, "%s: Secret %s has no usable certificate (%s); coverage judged from hosts only", where, sec.Key(), sec.Problem)
		default:
			if note != "" {
				an.warn(item, g.Source, "%s: %s", where, note)
			}
			rs.Certificates = append(rs.Certificates, sec.Certificate)
		}
	}
	if s.ServerCertificate != "" && len(rs.Certificates) == 0 {
		an.warn(item, g.Source, "%s: serverCertificate %s is a file in the gateway pod and can't be read; coverage judged from hosts only", where, s.ServerCertificate)
	}
	if len(rs.Certificates) == 0 {
		infer()
		return
	}
	for _, c := range rs.Certificates {
		rs.CertNames = append(rs.CertNames, c.Names()...)
		rs.CertIPs = append(rs.CertIPs, c.IPAddresses...)
		switch {
		case c.Expired(an.now):
			rs.CertExpired = true
			an.warn(item, g.Source, "%s: the certificate in Secret %s expired on %s", where, c.Secret, c.NotAfter.Format(time.RFC3339))
		case c.NotYetValid(an.now):
			an.warn(item, g.Source, "%s: the certificate in Secret %s is not valid before %s", where, c.Secret, c.NotBefore.Format(time.RFC3339))
		}
		if c.CNOnly {
			an.warn(item, g.Source, "%s: the certificate in Secret %s has no SANs; only its CN %q names a host, and browsers ignore the CN", where, c.Secret, c.CommonName)
		}
	}
	rs.CertNames = sortedUnique(rs.CertNames)
	rs.CertIPs = sortedUnique(rs.CertIPs)
	for _, n := range rs.DNSNames {
		if n != "*" && !namesCover(rs.CertNames, rs.CertIPs, sampleHost(n)) {
			an.warn(item, g.Source, "%s: the certificate (%s) does not cover host %s of this server: clients reject the connection", where, strings.Join(rs.Credentials, ", "), n)
		}
	}
}

// findSecret looks name up in the namespaces given, then among Secrets
// without namespace (files meant for kubectl -n), then anywhere when only
// one namespace has it.
func (an *analyzer) findSecret(name string, namespaces []string) (*Secret, string) {
	named := an.secrets[name]
	for _, ns := range namespaces {
		for _, s := range named {
			if s.Namespace == ns {
				return s, ""
			}
		}
	}
	for _, s := range named {
		if s.Namespace == "" {
			return s, ""
		}
	}
	if len(named) == 1 {
		return named[0], fmt.Sprintf("Secret %s found only in namespace %s; the gateway reads it from its pods' namespace (%s)", name, named[0].Namespace, strings.Join(namespaces, ", "))
	}
	return nil, ""
}

// envoyFilters lists the EnvoyFilters that answer 421 from Lua or set ALPN
// and apply, or may apply, to rs.
func (an *analyzer) envoyFilters(rs *ResolvedServer, g *Gateway, wl workload) {
	if !rs.Terminates {
		return // no HTTP filters, no ALPN of the gateway's
	}
	for _, f := range an.filters {
		base, reason := an.filterScope(f, g, wl)
		if base == NotApplies {
			continue
		}
		fm := FilterMatch{EnvoyFilter: f.Key(), Source: f.Source, Applies: NotApplies, Reason: reason}
		for _, p := range f.Patches {
			relevant := (p.Lua && p.Responds421) || len(p.ALPN) > 0
			if !relevant {
				continue
			}
			ap, why := patchScope(p, rs, g)
			ap = minApplicability(base, ap)
			if ap == NotApplies {
				continue
			}
			if why != "" && !strings.Contains(fm.Reason, why) {
				fm.Reason += "; " + why
			}
			if fm.Applies != Applies {
				fm.Applies = ap
			}
			fm.SNIAuthority421 = fm.SNIAuthority421 || p.SNIAuthority421()
			fm.Lua421 = fm.Lua421 || (p.Lua && p.Responds421)
			if len(p.ALPN) > 0 {
				fm.ALPN = p.ALPN
			}
		}
		if fm.Applies != NotApplies {
			rs.Filters = append(rs.Filters, fm)
		}
	}
}

// filterScope decides whether f reaches g's pods: by targetRefs, else by
// namespace (the root namespace reaches all) and workloadSelector.
func (an *analyzer) filterScope(f *EnvoyFilter, g *Gateway, wl workload) (Applicability, string) {
	if len(f.TargetRefs) > 0 {
		for _, r := range f.TargetRefs {
			if r.Kind == "Gateway" && (r.Group == "" || r.Group == GatewayAPIGroup) && !g.IsIstio() && r.Name == g.Name && f.Namespace == g.Namespace {
				return Applies, "targetRefs names this Gateway"
			}
		}
		return NotApplies, ""
	}
	var reason string
	switch {
	case f.Namespace == an.c.RootNamespace:
		reason = "in the root namespace " + f.Namespace
	case slices.Contains(wl.namespaces, f.Namespace):
		reason = "in the gateway pods' namespace " + f.Namespace
		if wl.assumed {
			reason += " (assumed to be the Gateway's: no Service in the input)"
		}
	default:
		return NotApplies, ""
	}
	if len(f.WorkloadSelector) == 0 {
		return Applies, reason + ", without workloadSelector"
	}
	var unknown []string
	for _, k := range slices.Sorted(maps.Keys(f.WorkloadSelector)) {
		v, ok := wl.labels[k]
		switch {
		case !ok:
			unknown = append(unknown, k+"="+f.WorkloadSelector[k])
		case v != f.WorkloadSelector[k]:
			return NotApplies, ""
		}
	}
	if len(unknown) > 0 {
		return MayApply, reason + fmt.Sprintf(", workloadSelector needs %s, which the gateway's selector does not say", strings.Join(unknown, ","))
	}
	return Applies, reason + ", workloadSelector matches the gateway's labels"
}

// patchScope decides whether one patch reaches rs: its context, listener
// port, filter chain SNI and route configuration gateway.
func patchScope(p FilterPatch, rs *ResolvedServer, g *Gateway) (Applicability, string) {
	if strings.HasPrefix(p.Context, "SIDECAR") {
		return NotApplies, ""
	}
	if p.SNI != "" && !slices.Contains(rs.DNSNames, normHost(p.SNI)) {
		return NotApplies, ""
	}
	if p.RouteGateway != "" && (!g.IsIstio() || p.RouteGateway != g.Key()) {
		return NotApplies, ""
	}
	if p.PortNumber != 0 && p.PortNumber != rs.Port && p.PortNumber != rs.TargetPort {
		if rs.TargetPort == 0 {
			return MayApply, fmt.Sprintf("matches port %d; the listener port of servers on %d is not known (no Service)", p.PortNumber, rs.Port)
		}
		return NotApplies, ""
	}
	return Applies, ""
}

// h2 decides whether clients can negotiate HTTP/2 with rs.
func (an *analyzer) h2(rs *ResolvedServer, g *Gateway) {
	switch {
	case !rs.TLS:
		rs.H2, rs.H2Note = false, "no TLS: browsers use HTTP/2 only over TLS"
		return
	case !rs.Terminates:
		rs.H2, rs.H2Note = true, "TLS passes through to the backend, which negotiates ALPN; h2 assumed"
	case g.IsIstio() || strings.HasPrefix(g.ClassName, "istio"):
		rs.H2, rs.H2Note = true, "Istio offers ALPN h2 and http/1.1 on every TLS-terminating gateway server; no Gateway field turns h2 off, only an EnvoyFilter setting the DownstreamTlsContext alpn_protocols"
	default:
		rs.H2, rs.H2Note = true, fmt.Sprintf("h2 assumed: gatewayClassName %q is not Istio's", g.ClassName)
	}
	for _, f := range rs.Filters {
		if len(f.ALPN) == 0 || slices.Contains(f.ALPN, "h2") {
			continue
		}
		if f.Applies == Applies {
			rs.H2 = false
			rs.H2Note = fmt.Sprintf("EnvoyFilter %s sets ALPN %s, without h2", f.EnvoyFilter, strings.Join(f.ALPN, ","))
			return
		}
		rs.H2Note += fmt.Sprintf("; EnvoyFilter %s may set ALPN %s, without h2", f.EnvoyFilter, strings.Join(f.ALPN, ","))
	}
}

func canonLabels(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}

// subset reports whether every label of a is in b.
func subset(a, b map[string]string) bool {
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func intersects(a, b []string) bool {
	return slices.ContainsFunc(a, func(x string) bool { return slices.Contains(b, x) })
}

func firstCommon(a, b []string) string {
	for _, x := range a {
		if slices.Contains(b, x) {
			return x
		}
	}
	return ""
}

func sortedUnique(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// byGatewayOrder orders servers as Analysis.Servers does.
func byGatewayOrder(a, b ServerRef) int {
	return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Gateway, b.Gateway), cmp.Compare(a.Index, b.Index))
}

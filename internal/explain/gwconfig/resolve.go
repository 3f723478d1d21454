package gwconfig

import (
	"fmt"
	"slices"
	"strings"
)

// Pair explains one request: the TLS connection was opened with SNI, the
// request carried :authority.
type Pair struct {
	SNI       string `json:"sni"`
	Authority string `json:"authority"`
	// SNIServer is the server Envoy picks by SNI at the handshake: the most
	// specific name wins (exact, then the longest wildcard suffix, then a
	// catch-all). When several addresses or ports have one, port 443 comes
	// first, then an address the input tells. Nil when no TLS server
	// matches.
	SNIServer *ServerRef `json:"sni_server,omitempty"`
	// OtherSNIServers are the servers the SNI picks on other addresses or
	// ports, in case the connection went there.
	OtherSNIServers []ServerRef `json:"other_sni_servers,omitempty"`
	// AuthorityServer is the server a connection opened for the authority
	// would get: on the SNI server's address and port when one matches
	// there, else anywhere. Nil when no TLS server serves the authority.
	AuthorityServer *ServerRef `json:"authority_server,omitempty"`
	SameServer      bool       `json:"same_server"`
	// AuthorityOnSNIServer: the SNI server's hosts include the authority, so
	// its route table may route it (given a VirtualService bound to it).
	AuthorityOnSNIServer bool `json:"authority_on_sni_server"`
	// VirtualServices are those bound to the SNI server's Gateway for the
	// authority (Istio Gateways only).
	VirtualServices []string `json:"virtual_services,omitempty"`
	// CertCoversAuthority: the certificate presented for the SNI is valid
	// for the authority too, so a client may reuse the connection for it.
	CertCoversAuthority bool `json:"cert_covers_authority"`
	// CertInferred: CertCoversAuthority was judged from the SNI server's
	// hosts, its certificate not being in the input.
	CertInferred  bool `json:"cert_inferred,omitempty"`
	SharesAddress bool `json:"shares_address"`
	SharesPort    bool `json:"shares_port"`
	// AddressNote says how the two servers' addresses relate.
	AddressNote string `json:"address_note,omitempty"`
	H2          bool   `json:"h2"`
	H2Note      string `json:"h2_note,omitempty"`
	TLSMode     string `json:"tls_mode,omitempty"`
	Terminates  bool   `json:"terminates"`
	// Filters are the EnvoyFilters on the SNI server that answer 421 from
	// Lua (or change ALPN).
	Filters []FilterMatch `json:"filters,omitempty"`
	// CoalescingPossible: a client can send the authority on a connection
	// opened for the SNI (different hosts, certificate valid for both, h2,
	// same address and port).
	CoalescingPossible bool `json:"coalescing_possible"`
	// Outcome is what the gateway does with such a request, in words.
	Outcome string   `json:"outcome"`
	Notes   []string `json:"notes,omitempty"`
}

// Resolve explains a request for authority (a host, with or without port)
// on a TLS connection opened with sni.
func (a *Analysis) Resolve(sni, authority string) Pair {
	p := Pair{SNI: normHost(sni), Authority: authorityHost(authority)}
	if p.SNI == "" {
		p.Notes = append(p.Notes, "no SNI: Envoy picks the filter chain without server names (a server with hosts \"*\"), if any")
	}
	picks := a.pick(p.SNI, nil)
	if len(picks) == 0 {
		p.Outcome = fmt.Sprintf("no TLS server matches the SNI %q: the handshake fails, so the request is not from this configuration", p.SNI)
		return p
	}
	s := picks[0]
	ref := s.ServerRef
	p.SNIServer = &ref
	for _, o := range picks[1:] {
		p.OtherSNIServers = append(p.OtherSNIServers, o.ServerRef)
	}
	p.TLSMode, p.Terminates = s.TLSMode, s.Terminates
	p.H2, p.H2Note = s.H2, s.H2Note
	p.CertInferred = s.CertInferred
	p.CertCoversAuthority = namesCover(s.CertNames, s.CertIPs, p.Authority)
	p.AuthorityOnSNIServer = slices.ContainsFunc(s.DNSNames, func(n string) bool { return hostSpecificity(n, p.Authority) >= 0 })
	for _, f := range s.Filters {
		if f.Lua421 || len(f.ALPN) > 0 {
			p.Filters = append(p.Filters, f)
		}
	}
	if s.gw.IsIstio() {
		p.VirtualServices = a.boundVirtualServices(s, p.Authority)
	}

	var auth *ResolvedServer
	if near := a.pick(p.Authority, s); len(near) > 0 {
		auth = near[0]
	} else if far := a.pick(p.Authority, nil); len(far) > 0 {
		auth = far[0]
	}
	if auth != nil {
		ref := auth.ServerRef
		p.AuthorityServer = &ref
		p.SameServer = auth == s
		p.SharesAddress = s.addrGroup == auth.addrGroup
		p.SharesPort = s.Port == auth.Port
		p.AddressNote = s.Address.why(auth.Address)
	}
	differ := p.SNI != p.Authority
	p.CoalescingPossible = differ && s.TLS && p.H2 && p.CertCoversAuthority &&
		(auth == nil || (p.SharesAddress && p.SharesPort))
	a.outcome(&p, s, auth)
	return p
}

// pick ranks the TLS servers matching host by specificity and returns the
// best one per address and port: those on near's address and port only when
// near is set, else the best overall first. On a tie, port 443 comes first,
// then a server whose address the input tells (a Service with a load
// balancer address: where outside traffic arrives), then gateway order.
func (a *Analysis) pick(host string, near *ResolvedServer) []*ResolvedServer {
	var cands []candidate
	for _, c := range a.hosts.candidates(host) {
		if near == nil || sameListener(&a.Servers[c.server], near) {
			cands = append(cands, c)
		}
	}
	slices.SortFunc(cands, a.better)
	var out []*ResolvedServer
	seen := map[listenerKey]bool{}
	for _, c := range cands {
		s := &a.Servers[c.server]
		if !seen[s.listener()] {
			seen[s.listener()] = true
			out = append(out, s)
		}
	}
	return out
}

// boundVirtualServices lists the VirtualServices that give s's Gateway a
// route for host: bound to the Gateway, with a matching host, from a
// namespace the server's hosts admit.
func (a *Analysis) boundVirtualServices(s *ResolvedServer, host string) []string {
	var out []string
	for _, vs := range a.virtualServices {
		if !slices.Contains(vs.Gateways, s.Gateway) {
			continue
		}
		if !slices.ContainsFunc(vs.Hosts, func(h string) bool { return HostMatches(h, host) }) {
			continue
		}
		admitted := slices.ContainsFunc(s.Hosts, func(h string) bool {
			ns, name := splitHost(h)
			nsOK := ns == "" || ns == "*" || ns == vs.Namespace || (ns == "." && vs.Namespace == s.gw.Namespace)
			return nsOK && hostSpecificity(name, host) >= 0
		})
		if admitted {
			out = append(out, nsName(vs.Namespace, vs.Name))
		}
	}
	return out
}

// outcome says what the gateway does with the request.
func (a *Analysis) outcome(p *Pair, s, auth *ResolvedServer) {
	var lua, maybeLua []string
	for _, f := range p.Filters {
		switch {
		case f.SNIAuthority421 && f.Applies == Applies:
			lua = append(lua, f.EnvoyFilter)
		case f.Lua421:
			maybeLua = append(maybeLua, f.EnvoyFilter)
		}
	}
	if p.CertInferred && s.Terminates {
		p.Notes = append(p.Notes, "the SNI server's certificate is not in the input: coverage judged from its hosts")
	}
	if !p.CertCoversAuthority && p.SNI != p.Authority {
		p.Notes = append(p.Notes, fmt.Sprintf("the certificate for %s does not cover %s: a browser would not reuse the connection; the client sent this authority on its own", p.SNI, p.Authority))
	}
	switch {
	case auth != nil && !p.SharesAddress:
		p.Notes = append(p.Notes, fmt.Sprintf("%s is served by %s; the two have %s: browsers coalesce only onto a connection to an address the new host also resolves to", p.Authority, auth.ServerRef, p.AddressNote))
	case auth != nil && !p.SharesPort:
		p.Notes = append(p.Notes, fmt.Sprintf("%s is served by %s, on port %d, not %d: browsers coalesce only onto a connection to the same port", p.Authority, auth.ServerRef, auth.Port, s.Port))
	}
	if auth == nil && p.SNI != p.Authority {
		p.Notes = append(p.Notes, fmt.Sprintf("no TLS server serves %s: whether a client coalesces depends on its DNS", p.Authority))
	}
	for _, f := range p.Filters {
		if f.Lua421 && f.Applies == MayApply {
			p.Notes = append(p.Notes, fmt.Sprintf("EnvoyFilter %s answers 421 from Lua and may apply here: %s", f.EnvoyFilter, f.Reason))
		} else if f.Lua421 && !f.SNIAuthority421 {
			p.Notes = append(p.Notes, fmt.Sprintf("EnvoyFilter %s answers 421 from Lua, but its code does not visibly compare the SNI with :authority", f.EnvoyFilter))
		}
	}
	switch {
	case p.SNI == p.Authority:
		p.Outcome = "the SNI and :authority are the same host: no coalescing; a 421 comes from a filter or the application"
		if len(lua)+len(maybeLua) > 0 {
			p.Outcome += fmt.Sprintf(" (Lua EnvoyFilters answering 421: %s)", strings.Join(append(lua, maybeLua...), ", "))
		}
	case !s.Terminates:
		p.Outcome = fmt.Sprintf("%s passes TLS through: the backend for %s receives the request for %s and answers it — a 421 comes from that application (or it serves the wrong site)", s.ServerRef, p.SNI, p.Authority)
	case s.Protocol != "HTTPS":
		p.Outcome = fmt.Sprintf("%s terminates TLS and forwards the stream over TCP: the backend for %s receives the request for %s and answers it — a 421 comes from that application (or it serves the wrong site)", s.ServerRef, p.SNI, p.Authority)
	case len(lua) > 0:
		p.Outcome = fmt.Sprintf("421 from EnvoyFilter %s: its Lua code compares the SNI with :authority; the client should retry on a new connection (RFC 9113 §9.1.2)", strings.Join(lua, ", "))
	case p.SameServer || p.AuthorityOnSNIServer:
		p.Outcome = fmt.Sprintf("routed by %s, whose route table also serves %s: no misdirection in the gateway configuration; a 421 comes from the application", s.ServerRef, p.Authority)
		if s.gw.IsIstio() && len(a.virtualServices) > 0 && len(p.VirtualServices) == 0 {
			p.Outcome = fmt.Sprintf("404 (no route): %s lists %s, but no VirtualService bound to Gateway %s routes it", s.ServerRef, p.Authority, s.Gateway)
		}
	default:
		p.Outcome = fmt.Sprintf("404 (no route): the request for %s runs through %s, chosen by the SNI, whose route table has no virtual host for it", p.Authority, s.ServerRef)
		switch {
		case s.gw.IsIstio():
		case strings.HasPrefix(s.gw.ClassName, "istio"):
			p.Notes = append(p.Notes, "the Gateway API says a gateway SHOULD answer 421 here (Listener.hostname); Istio answers 404")
		default:
			p.Notes = append(p.Notes, fmt.Sprintf("the Gateway API says a gateway SHOULD answer 421 here (Listener.hostname); whether gatewayClassName %q does is up to its implementation", s.gw.ClassName))
		}
	}
}

// preferTrue orders a before b when only a holds.
func preferTrue(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

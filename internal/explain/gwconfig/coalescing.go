package gwconfig

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// CoalescingPair is a pair of servers where a client holding a connection
// opened for a host of From can send requests for Hosts, which belong to
// To, on it: From's certificate covers them.
type CoalescingPair struct {
	From ServerRef `json:"from"`
	To   ServerRef `json:"to"`
	// Hosts are To's hosts (or, for a wildcard host, the names within it)
	// that From's certificate covers.
	Hosts []string `json:"hosts"`
	// SharedCertificate: both servers use the same Secret (Istio's IST0138).
	SharedCertificate bool `json:"shared_certificate"`
	// CertInferred: From's certificate is not in the input; its hosts stand
	// in for its SANs.
	CertInferred  bool `json:"cert_inferred,omitempty"`
	SharesAddress bool `json:"shares_address"`
	SharesPort    bool `json:"shares_port"`
	// H2: From offers HTTP/2.
	H2 bool `json:"h2"`
	// Coalescing: all conditions hold — a browser can reuse From's
	// connections for Hosts.
	Coalescing bool `json:"coalescing"`
	// Lua421 are EnvoyFilters on From answering 421 when SNI and :authority
	// differ.
	Lua421 []string `json:"lua_421,omitempty"`
	// Reason says it in words.
	Reason string `json:"reason"`
}

// CoalescingPairs finds, without logs, every pair of distinct
// browser-facing TLS servers where one's certificate covers a host the
// other serves — a wildcard certificate across Gateways, or overlapping
// SANs — with whether they share address and port, which coalescing needs.
// A host counts for To only when the SNI would pick To for it, and not when
// From serves it itself. Pairs are ordered by From, then To.
func (a *Analysis) CoalescingPairs() []CoalescingPair {
	var out []CoalescingPair
	for i := range a.Servers {
		x := &a.Servers[i]
		if !x.browserFacing() || (len(x.CertNames) == 0 && len(x.CertIPs) == 0) {
			continue
		}
		for j := range a.Servers {
			y := &a.Servers[j]
			if i == j || !y.browserFacing() {
				continue
			}
			var hosts []string
			for _, h := range y.DNSNames {
				for _, n := range coveredNames(x.CertNames, x.CertIPs, h) {
					s := sampleHost(n)
					if a.owner(s, y) != y || a.owner(s, x) == x {
						continue
					}
					hosts = append(hosts, n)
				}
			}
			if len(hosts) == 0 {
				continue
			}
			out = append(out, a.pair(x, y, sortedUnique(hosts)))
		}
	}
	slices.SortStableFunc(out, func(p, q CoalescingPair) int {
		return cmp.Or(byGatewayOrder(p.From, q.From), byGatewayOrder(p.To, q.To))
	})
	return out
}

// coveredNames are the names in the set host stands for (a name or an
// Istio/Gateway API wildcard) that a certificate with names and ips covers.
func coveredNames(names, ips []string, host string) []string {
	if !isWildcard(host) {
		if namesCover(names, ips, host) {
			return []string{host}
		}
		return nil
	}
	var out []string
	for _, n := range names {
		if !CertNameMatches(n, sampleHost(n)) {
			continue // not a usable certificate name
		}
		if hostSpecificity(host, sampleHost(n)) >= 0 {
			out = append(out, n)
		}
	}
	return out
}

// owner is the server the SNI host picks on ref's address and port.
func (a *Analysis) owner(host string, ref *ResolvedServer) *ResolvedServer {
	if picks := a.pick(host, ref); len(picks) > 0 {
		return picks[0]
	}
	return nil
}

func (a *Analysis) pair(x, y *ResolvedServer, hosts []string) CoalescingPair {
	p := CoalescingPair{
		From: x.ServerRef, To: y.ServerRef, Hosts: hosts,
		CertInferred:  x.CertInferred,
		SharesAddress: x.Address.Shares(y.Address),
		SharesPort:    x.Port == y.Port,
		H2:            x.H2,
	}
	p.SharedCertificate = x.Terminates && y.Terminates && intersects(certSecrets(x), certSecrets(y))
	p.Coalescing = p.SharesAddress && p.SharesPort && p.H2
	for _, f := range x.Filters {
		if f.SNIAuthority421 && f.Applies == Applies {
			p.Lua421 = append(p.Lua421, f.EnvoyFilter)
		}
	}

	cert := "the certificate of " + x.ServerRef.String()
	switch {
	case x.CertInferred && x.Terminates:
		cert += " (not in the input; judged from its hosts)"
	case x.CertInferred:
		cert += " (TLS passthrough: the backend's certificate, judged from the hosts)"
	case len(x.Credentials) > 0:
		cert += " (Secret " + strings.Join(x.Credentials, ", ") + ")"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s covers %s, served by %s", cert, strings.Join(hosts, ", "), y.ServerRef)
	switch {
	case !p.SharesAddress:
		fmt.Fprintf(&b, "; they have %s, so browsers do not coalesce", x.Address.why(y.Address))
	case !p.SharesPort:
		fmt.Fprintf(&b, "; same address but ports %d and %d, so browsers do not coalesce", x.Port, y.Port)
	case !p.H2:
		fmt.Fprintf(&b, "; same address and port, but %s", x.H2Note)
	default:
		fmt.Fprintf(&b, "; they share %s and port %d over h2: a browser can send requests for %s on a connection opened for %s",
			x.Address.why(y.Address), x.Port, hosts[0], exampleHost(x))
		switch {
		case len(p.Lua421) > 0:
			fmt.Fprintf(&b, ", which EnvoyFilter %s answers with 421", strings.Join(p.Lua421, ", "))
		case !x.Terminates || x.Protocol != "HTTPS":
			b.WriteString(", and the backend of the first receives them")
		default:
			b.WriteString(", and they get a 404 from the route table of the first")
		}
	}
	p.Reason = b.String()
	return p
}

// exampleHost is a host clients open connections to x for.
func exampleHost(x *ResolvedServer) string {
	for _, n := range x.DNSNames {
		if !isWildcard(n) {
			return n
		}
	}
	return x.DNSNames[0]
}

// certSecrets names the Secrets of a server's certificates: namespace/name
// when found, else the credentials as written, qualified by the address for
// Istio (whose credentialName is read from the gateway pods' namespace).
func certSecrets(s *ResolvedServer) []string {
	var out []string
	for _, c := range s.Certificates {
		out = append(out, c.Secret)
	}
	if len(out) > 0 {
		return out
	}
	for _, c := range s.Credentials {
		if s.gw.IsIstio() {
			c = s.Address.Key + "/" + c
		}
		out = append(out, c)
	}
	return out
}

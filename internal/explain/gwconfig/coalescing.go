package gwconfig

import (
	"fmt"
	"slices"
	"strings"
)

// CoalescingPair is one direction between two servers: a client holding a
// connection opened for a host of From can send requests for Hosts, which
// belong to To, on it, as From's certificate covers them. A
// CoalescingGroup gives one as its example, and both for a group of two.
type CoalescingPair struct {
	From ServerRef `json:"from"`
	To   ServerRef `json:"to"`
	// Hosts are To's hosts (or, for a wildcard host, the names within it)
	// that From's certificate covers.
	Hosts []string `json:"hosts"`
	// SharedCertificate: both servers present the same certificate — the
	// same Secret (what Istio's IST0138 GatewayDuplicateCertificate finds:
	// the same credentialName, or the same serverCertificate and
	// privateKey, istio.io/latest/docs/reference/config/analysis/ist0138/)
	// or the same certificate in different Secrets (SameCertificateContents,
	// which IST0138 does not see).
	SharedCertificate bool `json:"shared_certificate"`
	// SameCertificateContents: different Secrets holding the same leaf
	// certificate (equal SHA-256 fingerprints).
	SameCertificateContents bool `json:"same_certificate_contents,omitempty"`
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

func (a *Analysis) pair(x, y *ResolvedServer, hosts []string) CoalescingPair {
	p := CoalescingPair{
		From: x.ServerRef, To: y.ServerRef, Hosts: hosts,
		CertInferred:  x.CertInferred,
		SharesAddress: x.addrGroup == y.addrGroup,
		SharesPort:    x.Port == y.Port,
		H2:            x.H2,
	}
	p.SharedCertificate = x.Terminates && y.Terminates && intersects(certSecrets(x), certSecrets(y))
	p.SameCertificateContents = x.Terminates && y.Terminates && !intersects(certSecrets(x), certSecrets(y)) &&
		intersects(certFingerprints(x), certFingerprints(y))
	p.SharedCertificate = p.SharedCertificate || p.SameCertificateContents
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
	if p.SameCertificateContents {
		cert += fmt.Sprintf(", the same certificate as %s's (Secret %s)", y.ServerRef, strings.Join(y.Credentials, ", "))
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
			x.Address.why(y.Address), x.Port, hosts[0], exampleHost(x, hosts))
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

// exampleHost is a host clients open connections to x for, other than
// the hosts the connection is reused for.
func exampleHost(x *ResolvedServer, reused []string) string {
	for _, n := range x.DNSNames {
		if !isWildcard(n) && !slices.Contains(reused, n) {
			return n
		}
	}
	for _, n := range x.DNSNames {
		if !slices.Contains(reused, n) {
			return "a name of " + n
		}
	}
	return "another of its hosts"
}

// specificity is how specifically x's hosts select host (-1: not at all).
func specificity(x *ResolvedServer, host string) int {
	best := -1
	for _, n := range x.DNSNames {
		best = max(best, hostSpecificity(n, host))
	}
	return best
}

// certFingerprints are the SHA-256 fingerprints of a server's certificates.
func certFingerprints(s *ResolvedServer) []string {
	var out []string
	for _, c := range s.Certificates {
		out = append(out, c.SHA256)
	}
	return out
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

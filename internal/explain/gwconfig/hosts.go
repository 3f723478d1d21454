package gwconfig

import (
	"net"
	"net/netip"
	"slices"
	"strings"
)

// HostMatches reports whether host is selected by pattern, a host of an Istio
// Gateway server or the hostname of a Gateway API listener. A "namespace/"
// prefix on pattern (Istio's "prod/*.example.com", "*/foo.com") is ignored:
// it restricts which VirtualServices may bind, not which names are served.
//
// "*" — and an empty pattern, a Gateway API listener without hostname —
// matches every host. "*.example.com" is a suffix match: it matches
// a.example.com and a.b.example.com, not example.com. This is the same in
// the three places that decide it:
//   - Istio, pkg/config/host Name.Matches: strings.HasSuffix(host, ".example.com");
//   - Gateway API, Listener.hostname: "Hostnames that are prefixed with a
//     wildcard label (*.) are interpreted as a suffix match. That means that
//     a match for *.example.com would match both test.example.com, and
//     foo.test.example.com, but not example.com";
//   - Envoy, filter chain server_names: the wildcard "matches one or more
//     non-empty domain parts", and the most specific name wins (exact, then
//     the longest wildcard suffix, then a chain without server_names).
//
// Certificates are stricter: see CertNameMatches. Both compare names
// case-insensitively and ignore a trailing dot.
func HostMatches(pattern, host string) bool {
	return hostSpecificity(dnsName(pattern), normHost(host)) >= 0
}

// hostSpecificity says how specifically a normalised pattern selects a
// normalised host, as Envoy ranks filter chains: -1 no match, 0 the
// catch-all, the suffix length for a wildcard, more than any suffix for an
// exact name.
func hostSpecificity(pattern, host string) int {
	switch {
	case pattern == "*" || pattern == "":
		return 0
	case strings.HasPrefix(pattern, "*."):
		suffix := pattern[1:] // ".example.com"
		if len(host) > len(suffix) && strings.HasSuffix(host, suffix) {
			return len(suffix)
		}
		return -1
	case pattern == host:
		return 1 << 16
	}
	return -1
}

// CertNameMatches reports whether a certificate name — a DNS SAN, or the
// subject CN of a certificate without SANs — is valid for host, by RFC 6125
// §6.4: names compare case-insensitively, ignoring a trailing dot; a wildcard
// is only recognised as the whole left-most label and matches exactly one
// label ("*.example.com" matches a.example.com, not a.b.example.com nor
// example.com); partial wildcards ("f*.example.com", "*a.example.com",
// "a.*.example.com") match nothing. As browsers do (and the CA/Browser
// Forum requires), a wildcard needs at least two labels after it: "*.com"
// and "*" match nothing. Wildcards never match an IP address.
func CertNameMatches(name, host string) bool {
	name, host = normHost(name), normHost(host)
	if name == "" || host == "" {
		return false
	}
	if !strings.Contains(name, "*") {
		return name == host
	}
	rest, ok := strings.CutPrefix(name, "*.")
	if !ok || strings.Contains(rest, "*") || strings.Count(rest, ".") < 1 || hasEmptyLabel(rest) {
		return false
	}
	if isIP(host) {
		return false
	}
	label, hostRest, ok := strings.Cut(host, ".")
	return ok && label != "" && hostRest == rest
}

// CertCovers reports whether cert is valid for host: an IP address against
// the IP SANs, a name against the DNS SANs (or the CN when there are none,
// see Certificate.CNOnly) by CertNameMatches.
func CertCovers(cert *Certificate, host string) bool {
	if cert == nil {
		return false
	}
	return namesCover(cert.Names(), cert.IPAddresses, host)
}

func namesCover(names, ips []string, host string) bool {
	host = normHost(host)
	if isIP(host) {
		a, _ := netip.ParseAddr(host)
		for _, ip := range ips {
			if b, err := netip.ParseAddr(ip); err == nil && a.Unmap() == b.Unmap() {
				return true
			}
		}
		return false
	}
	for _, n := range names {
		if CertNameMatches(n, host) {
			return true
		}
	}
	return false
}

// normHost lower-cases a host name and drops a trailing dot.
func normHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
}

// dnsName drops an Istio "namespace/" prefix and normalises the rest; an
// empty name (a Gateway API listener without hostname) becomes "*".
func dnsName(h string) string {
	if i := strings.IndexByte(h, '/'); i >= 0 {
		h = h[i+1:]
	}
	h = normHost(h)
	if h == "" {
		return "*"
	}
	return h
}

// splitHost splits an Istio server host into its namespace part ("" when
// there is none, "*" for any, "." for the Gateway's own) and its dnsName.
func splitHost(h string) (ns, name string) {
	if i := strings.IndexByte(h, '/'); i >= 0 {
		return h[:i], dnsName(h[i+1:])
	}
	return "", dnsName(h)
}

// authorityHost strips a port from an :authority value ("a.example.com:443",
// "[::1]:8443") and normalises it.
func authorityHost(a string) string {
	a = strings.TrimSpace(a)
	if h, _, err := net.SplitHostPort(a); err == nil {
		return normHost(h)
	}
	return normHost(strings.TrimSuffix(strings.TrimPrefix(a, "["), "]"))
}

// sampleHost turns a wildcard name into one concrete host it stands for, so
// that a set of names can be ranked like a single host.
func sampleHost(name string) string {
	if rest, ok := strings.CutPrefix(name, "*."); ok {
		return "gwconfig-any-host." + rest
	}
	if name == "*" {
		return "gwconfig-any-host"
	}
	return name
}

func isWildcard(name string) bool { return strings.HasPrefix(name, "*") }

func isIP(h string) bool {
	_, err := netip.ParseAddr(h)
	return err == nil
}

func hasEmptyLabel(name string) bool {
	return slices.Contains(strings.Split(name, "."), "")
}

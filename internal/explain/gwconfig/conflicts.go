package gwconfig

import (
	"fmt"
	"slices"
	"strings"
)

// ServerConflict is two servers that claim the same host names on the same
// port of the same gateway pods: what `istioctl analyze` reports as IST0145
// ConflictingGateways. From istio.io/latest/docs/reference/config/analysis/ist0145/:
// "two or more Gateway resources select the same gateway workload, use the
// same port, and have hosts that are the same or that overlap. Only one of
// these servers can be used." Its fixes: put the hosts in one Gateway
// resource, make sure the hosts do not overlap, or use a different port or
// gateway workload for one of them.
//
// Such a pair is not a coalescing pair: a connection opened for a host both
// claim carries requests for that same host, so its SNI and :authority are
// equal and a Lua SNI check has nothing to refuse.
type ServerConflict struct {
	// A comes before B in gateway order.
	A ServerRef `json:"a"`
	B ServerRef `json:"b"`
	// Hosts are the names both claim: a name both list, or, where one
	// lists a wildcard the other's name falls in, the more specific name.
	Hosts []string `json:"hosts"`
	// Identical: the two list the same host names (not only overlapping
	// wildcards), so Envoy has one filter chain for them and istiod uses one
	// server's TLS settings and route table for both.
	Identical bool `json:"identical"`
	// SNIServer is the server the SNI of the first host picks when the
	// hosts only overlap (a wildcard and a name within it): the more
	// specific one, whose certificate and route table clients get. Nil for
	// identical names, where the configuration does not say which is used.
	SNIServer *ServerRef `json:"sni_server,omitempty"`
	// Pods says in words how the two share the gateway pods.
	Pods string `json:"pods"`
	// Reason says it in words.
	Reason string `json:"reason"`
}

// ConflictingServers lists every pair of servers that claim the same or
// overlapping hosts on the same port of the same gateway pods (IST0145).
// Istio Gateways share pods when their selectors are equal or one contains
// the other (the pods carry both label sets); the listeners of one Gateway
// API Gateway share its deployment, and there only equal hostnames conflict
// (the Gateway API's "Conflicted" listeners: distinct hostnames, a wildcard
// and a name within it, are distinct listeners). Pairs are in gateway order.
func (a *Analysis) ConflictingServers() []ServerConflict {
	var out []ServerConflict
	for i := range a.Servers {
		x := &a.Servers[i]
		for j := i + 1; j < len(a.Servers); j++ {
			y := &a.Servers[j]
			pods, ok := samePods(x, y)
			if !ok || x.Port != y.Port {
				continue
			}
			hosts, identical := overlappingHosts(x, y)
			if len(hosts) == 0 {
				continue
			}
			c := ServerConflict{A: x.ServerRef, B: y.ServerRef, Hosts: hosts, Identical: identical, Pods: pods}
			// Between equal names nothing in the configuration says which
			// server istiod keeps; between a wildcard and a name within it,
			// the SNI picks the more specific.
			if picks := a.pick(sampleHost(hosts[0]), x); !identical && len(picks) > 0 && (picks[0] == x || picks[0] == y) {
				ref := picks[0].ServerRef
				c.SNIServer = &ref
			}
			c.Reason = conflictReason(c)
			out = append(out, c)
		}
	}
	slices.SortStableFunc(out, func(p, q ServerConflict) int {
		if c := byGatewayOrder(p.A, q.A); c != 0 {
			return c
		}
		return byGatewayOrder(p.B, q.B)
	})
	return out
}

// samePods reports whether x and y configure the same gateway pods, and says
// how.
func samePods(x, y *ResolvedServer) (string, bool) {
	switch {
	case x.gw == y.gw && x.gw.IsIstio():
		return "the same Gateway", true
	case x.gw == y.gw:
		return "the same Gateway (one deployment)", true
	case !x.gw.IsIstio() || !y.gw.IsIstio() || len(x.gw.Selector) == 0 || len(y.gw.Selector) == 0:
		return "", false
	case canonLabels(x.gw.Selector) == canonLabels(y.gw.Selector):
		return "the same gateway pods (selector " + canonLabels(x.gw.Selector) + ")", true
	case subset(x.gw.Selector, y.gw.Selector) || subset(y.gw.Selector, x.gw.Selector):
		return fmt.Sprintf("the same gateway pods (selectors %s and %s: pods with both labels get both)", canonLabels(x.gw.Selector), canonLabels(y.gw.Selector)), true
	}
	return "", false
}

// overlappingHosts are the names x and y both claim, and whether some are
// listed by both as they are.
func overlappingHosts(x, y *ResolvedServer) ([]string, bool) {
	wildcards := x.gw.IsIstio() // Gateway API: only equal hostnames conflict
	var hosts []string
	identical := false
	for _, hx := range x.DNSNames {
		for _, hy := range y.DNSNames {
			switch {
			case hx == hy:
				hosts = append(hosts, hx)
				identical = true
			case !wildcards:
			case hostSpecificity(hx, sampleHost(hy)) >= 0:
				hosts = append(hosts, hy)
			case hostSpecificity(hy, sampleHost(hx)) >= 0:
				hosts = append(hosts, hx)
			}
		}
	}
	return sortedUnique(hosts), identical
}

func conflictReason(c ServerConflict) string {
	hosts := strings.Join(c.Hosts, ", ")
	var b strings.Builder
	fmt.Fprintf(&b, "%s and %s both serve %s on port %d of %s", c.A, c.B, hosts, c.A.Port, c.Pods)
	if c.Identical {
		b.WriteString(": only one of these servers can be used (IST0145) — Envoy has one filter chain per host name and port, so clients get one server's certificate and route table for these names, and the other's (its VirtualServices included) is not used for them")
	} else {
		b.WriteString(": a wildcard of one covers the other's names; the SNI picks the more specific server for them, and istioctl analyze reports the overlap as a conflict (IST0145)")
	}
	if c.SNIServer != nil {
		fmt.Fprintf(&b, "; the SNI %s picks %s", c.Hosts[0], c.SNIServer)
	}
	b.WriteString(". Requests for these hosts arrive on connections opened for the same hosts: this is not connection coalescing")
	return b.String()
}

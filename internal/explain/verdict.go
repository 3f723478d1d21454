package explain

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/gatewatch/gatewatch/internal/explain/accesslog"
	"github.com/gatewatch/gatewatch/internal/explain/gwconfig"
)

// Verdict is the cause of a finding and the fixes, best first, each chosen
// by the evidence.
type Verdict struct {
	// Cause is a stable word: coalescing, lua-filter, application, client,
	// no-sni, sni-not-logged, unknown-sni-server, and for the configuration
	// alone coalescing-possible, overlap-harmless, conflicting-servers.
	Cause string `json:"cause"`
	// Short is the gist in a few words, for the alert message's line.
	Short string `json:"short"`
	// Summary says what happened and why, from the evidence.
	Summary string `json:"summary"`
	Fixes   []Fix  `json:"fixes"`
}

// Fix is one change, in the user's terms.
type Fix struct {
	// Code is a stable word: merge-servers, distinct-certificates,
	// distinct-hosts, separate-address, alpn-http11, scope-lua-filter,
	// route-authority, fix-application, client, log-sni, give-config.
	Code string `json:"code"`
	Text string `json:"text"`
}

// DominantProducer is the producer with the most 421s of a pair.
func DominantProducer(p accesslog.Pair) accesslog.ProducerCount {
	if len(p.Producers) == 0 {
		return accesslog.ProducerCount{Producer: accesslog.ProducerUnknown}
	}
	return p.Producers[0] // sorted by count, most first
}

func producerWords(pc accesslog.ProducerCount) string {
	switch pc.Producer {
	case accesslog.ProducerEnvoyFilter:
		return "an EnvoyFilter's Lua code answered (lua_response)"
	case accesslog.ProducerApplication:
		return "the application answered (via_upstream)"
	case accesslog.ProducerOther:
		return fmt.Sprintf("Envoy answered (%s)", pc.Detail)
	}
	return "the log does not say who answered (no %RESPONSE_CODE_DETAILS%)"
}

func producerSentence(pc accesslog.ProducerCount) string {
	w := producerWords(pc)
	return "In the log, " + w + "."
}

func webkitWords(p accesslog.Pair) string {
	if p.WebKit == 0 {
		return ""
	}
	return fmt.Sprintf(" %d of the %d went to Safari/WebKit, some versions of which do not retry a 421 and show the user an error.", p.WebKit, p.Count)
}

// judgePair decides the verdict of one pair of 421s from the log.
func judgePair(f Finding, haveConfig bool) Verdict {
	v := judge(f, haveConfig)
	v.Short = short(v.Cause, f)
	return v
}

// short is the gist of a verdict.
func short(cause string, f Finding) string {
	switch cause {
	case "coalescing":
		if cp := f.Config; cp != nil && cp.SNIServer != nil {
			cert := "certificate"
			if len(cp.SNIServer.Credentials) > 0 {
				cert += " " + strings.Join(cp.SNIServer.Credentials, ", ")
			}
			where := ""
			if cp.AuthorityServer != nil && !cp.SameServer {
				where = " on " + cp.AddressNote
			}
			return fmt.Sprintf("HTTP/2 connection coalescing: %s's %s also covers %s%s", cp.SNI, cert, cp.Authority, where)
		}
		return "HTTP/2 connection coalescing (a reused connection)"
	case "client":
		return "the client sent a :authority a browser would not send on that connection"
	case "lua-filter":
		return "the Lua filter refuses requests whose SNI and :authority name the same host"
	case "application":
		return "the application refuses its own host"
	case "no-sni":
		return "connections without SNI"
	case "sni-not-logged":
		return "the log format has no SNI to compare"
	case "unknown-sni-server":
		return "the SNI matches no server in the configuration given"
	}
	return cause
}

func judge(f Finding, haveConfig bool) Verdict {
	p, pc := f.Pair, DominantProducer(f.Pair)
	lua := pc.Producer == accesslog.ProducerEnvoyFilter
	switch p.Kind {
	case accesslog.PairSNINotLogged:
		return Verdict{Cause: "sni-not-logged",
			Summary: fmt.Sprintf("%d 421s for %s, but the access-log format has no %%REQUESTED_SERVER_NAME%%: the SNI cannot be compared with :authority.", p.Count, p.Authority),
			Fixes:   []Fix{{"log-sni", "add %REQUESTED_SERVER_NAME% to the access-log format (Istio's default text and JSON formats have it)"}}}
	case accesslog.PairNoSNI:
		v := Verdict{Cause: "no-sni",
			Summary: fmt.Sprintf("%d 421s for %s on connections without SNI (clients connecting by IP address or without TLS); %s.", p.Count, p.Authority, producerWords(pc)),
			Fixes:   []Fix{{"client", "clients must connect by host name so they send SNI; nothing to change on the gateway"}}}
		if lua {
			v.Fixes = append([]Fix{{"scope-lua-filter", "make the Lua filter skip the check when the SNI is empty (requestedServerName() == \"\")"}}, v.Fixes...)
		}
		return v
	case accesslog.PairSameHost:
		if lua {
			return Verdict{Cause: "lua-filter",
				Summary: fmt.Sprintf("%d 421s where SNI and :authority are the same host (%s): the Lua filter's comparison is wrong, not the client.", p.Count, p.SNI),
				Fixes:   []Fix{{"scope-lua-filter", "compare the SNI with the :authority host without its port, case-insensitively and without a trailing dot, or remove the filter"}}}
		}
		return Verdict{Cause: "application",
			Summary: fmt.Sprintf("%d 421s where SNI and :authority are the same host (%s): no coalescing; %s.", p.Count, p.SNI, producerWords(pc)),
			Fixes:   []Fix{{"fix-application", "look at the application's own host or TLS-name check (a framework's allowed-hosts list, a proxy in front of it)"}}}
	}

	// Coalesced: the SNI names another host than :authority.
	what := fmt.Sprintf("Clients reused a connection opened for %s (SNI) to request %s (:authority); %s.", p.SNI, p.Authority, producerWords(pc))
	if !haveConfig || f.Config == nil {
		return Verdict{Cause: "coalescing", Summary: what + webkitWords(p) + " This is the mark of HTTP/2 connection coalescing.",
			Fixes: append(coalescingFixes(&gwconfig.Pair{SNI: p.SNI, Authority: p.Authority}, lua), Fix{"give-config", "run explain with --config DIR or --kube to choose the fix from the Gateways and certificates"})}
	}
	cp := f.Config
	switch {
	case cp.SNIServer == nil:
		return Verdict{Cause: "unknown-sni-server", Summary: what + " No TLS server in the configuration matches the SNI " + p.SNI + ": the configuration given is not this gateway's, or is incomplete.",
			Fixes: []Fix{{"give-config", "give the Gateways (and their Secrets) of the gateway that wrote this log"}}}
	case cp.CoalescingPossible:
		return Verdict{Cause: "coalescing", Summary: coalescingWhy(cp) + " " + producerSentence(pc) + webkitWords(p), Fixes: coalescingFixes(cp, lua)}
	case !cp.CertCoversAuthority:
		return Verdict{Cause: "client",
			Summary: what + fmt.Sprintf(" The certificate for %s does not cover %s, so no browser would reuse that connection: the client sent this :authority on its own (a bot, an SDK or a proxy that pools connections by IP).", p.SNI, p.Authority),
			Fixes:   clientFixes(cp, pc)}
	case cp.AuthorityServer != nil && (!cp.SharesAddress || !cp.SharesPort):
		return Verdict{Cause: "client",
			Summary: what + fmt.Sprintf(" %s and %s are on %s: browsers coalesce only when both names resolve to the connection's address and port. Either DNS puts them on one address (a CDN or load balancer in front of both), or the client pools connections by IP.", p.SNI, p.Authority, addressWords(cp)),
			Fixes: []Fix{
				{"separate-address", fmt.Sprintf("check that %s and %s resolve to different addresses; if one load balancer or CDN fronts both, treat them as one address (the coalescing fixes apply)", p.SNI, p.Authority)},
				{"client", "otherwise the client is at fault: find it by user agent"}}}
	case !cp.H2:
		return Verdict{Cause: "client",
			Summary: what + " The SNI's server does not offer HTTP/2 (" + cp.H2Note + "), and HTTP/1.1 connections are never coalesced: the client sent this :authority on its own.",
			Fixes:   []Fix{{"client", "find the client by user agent and X-Forwarded-For"}}}
	}
	return Verdict{Cause: "coalescing", Summary: what + " " + cp.Outcome + webkitWords(p), Fixes: coalescingFixes(cp, lua)}
}

// clientFixes are the fixes for a request a browser would not send (the
// SNI's certificate does not cover the :authority), by who answered: a Lua
// filter refuses it rightly; when the application answered, the gateway
// routed the request to it, so the user changes the client, the routing
// or the application.
func clientFixes(cp *gwconfig.Pair, pc accesslog.ProducerCount) []Fix {
	sni, auth := cp.SNI, cp.Authority
	find := "find the client by its user agent and X-Forwarded-For"
	switch pc.Producer {
	case accesslog.ProducerEnvoyFilter:
		return []Fix{{"client", "the gateway's Lua filter is right to refuse: " + find + " and make it open a connection per host name"}}
	case accesslog.ProducerApplication:
	default:
		return []Fix{{"client", fmt.Sprintf("fix the client that sends requests for %s on connections opened for %s: %s and make it open a connection per host name", auth, sni, find)}}
	}
	fixes := []Fix{{"client", fmt.Sprintf("fix the client: it sends requests for %s on connections it opened for %s, which no browser does; %s and make it open a connection per host name", auth, sni, find)}}
	server := "the server " + sni + " selects"
	if cp.SNIServer != nil {
		server = cp.SNIServer.String()
	}
	if cp.AuthorityOnSNIServer {
		// The SNI's server routes the authority: its application refused.
		return append(fixes, Fix{"fix-application", fmt.Sprintf("or, if such clients must be served, make %s's application accept the requests %s routes to it: the application answered 421 (its allowed-hosts list or its own TLS-name check), not the gateway", auth, server)})
	}
	return append(fixes,
		Fix{"route-authority", fmt.Sprintf("or, if such clients must be served, route %s on that connection: %s sent it to an application that refuses it (a catch-all route); list %s in that server's hosts with a certificate covering it and bind %s's VirtualService to its Gateway, or route %s to its own application", auth, server, auth, auth, auth)},
		Fix{"fix-application", fmt.Sprintf("or make the application that answered accept %s, or answer 421 only for hosts it cannot serve", auth)})
}

func addressWords(cp *gwconfig.Pair) string {
	if !cp.SharesAddress {
		return cp.AddressNote
	}
	return fmt.Sprintf("different ports (%d and %d)", cp.SNIServer.Port, cp.AuthorityServer.Port)
}

// coalescingWhy says why a browser may coalesce, from the configuration,
// and what the gateway then does.
func coalescingWhy(cp *gwconfig.Pair) string {
	cert := "its certificate"
	if len(cp.SNIServer.Credentials) > 0 {
		cert = fmt.Sprintf("its certificate (%s)", strings.Join(cp.SNIServer.Credentials, ", "))
	}
	if cp.CertInferred {
		cert = fmt.Sprintf("its hosts %v (its certificate was not given)", cp.SNIServer.Hosts)
	}
	s := fmt.Sprintf("HTTP/2 connection coalescing: the SNI %s selects %s, %s also covers %s", cp.SNI, cp.SNIServer, cert, cp.Authority)
	if cp.AuthorityServer != nil && !cp.SameServer {
		s += fmt.Sprintf(", and %s is served by %s on %s, port %d", cp.Authority, cp.AuthorityServer, cp.AddressNote, cp.AuthorityServer.Port)
	}
	s += ", with h2 offered — so browsers reuse the connection for it (RFC 9113 §9.1.1)."
	if cp.Outcome != "" {
		s += " Then: " + cp.Outcome + "."
	}
	return s
}

// coalescingFixes orders the fixes for coalescing by the evidence: a Lua
// filter in front of a server that can route the authority is needless;
// otherwise the certificate is what lets browsers coalesce.
func coalescingFixes(cp *gwconfig.Pair, lua bool) []Fix {
	sni, auth := cp.SNI, cp.Authority
	merge := Fix{"merge-servers", fmt.Sprintf("serve %s and %s from one Gateway server (one hosts list, one certificate covering both), so Envoy routes both on one connection and no 421 is needed", sni, auth)}
	certs := Fix{"distinct-certificates", fmt.Sprintf("give %s's server a certificate that does not cover %s (no shared wildcard or SAN), so browsers cannot reuse the connection", sni, auth)}
	addr := Fix{"separate-address", fmt.Sprintf("serve %s from its own gateway address (a separate Service / load balancer IP), so its name never resolves to the connection's address", auth)}
	alpn := Fix{"alpn-http11", "offer only http/1.1 on the overlapping listener (an EnvoyFilter setting alpn_protocols): no HTTP/2, no coalescing — at HTTP/2's cost"}
	scope := Fix{"scope-lua-filter", "scope the Lua filter (workloadSelector, SNI/port match) to the servers that cannot route each other's hosts, or remove it: this server routes " + auth + " itself"}
	switch {
	case cp.SNIServer == nil: // no configuration to choose by
	case lua && (cp.SameServer || cp.AuthorityOnSNIServer):
		return []Fix{scope, merge, certs}
	case cp.CertInferred:
		return []Fix{merge, certs, addr, alpn}
	case cp.AuthorityServer != nil && (cp.AuthorityServer.Gateway == cp.SNIServer.Gateway || sameCredentials(cp.SNIServer.Credentials, cp.AuthorityServer.Credentials)):
		// One gateway, or one certificate already: merging costs nothing.
		return []Fix{merge, certs, addr, alpn}
	}
	return []Fix{certs, merge, addr, alpn}
}

// judgeGroup decides the verdict of a config-only coalescing group: for
// two servers, from both directions; for more, from the group.
func judgeGroup(g gwconfig.CoalescingGroup) Verdict {
	if len(g.Directions) > 0 {
		return judgeServers(g)
	}
	if !g.Coalescing {
		return Verdict{Cause: "overlap-harmless", Short: "a certificate overlap browsers do not act on",
			Summary: sentence(g.Reason) + " Browsers will not coalesce."}
	}
	s := sentence(g.Reason) + luaWords(g.Lua421) + sharedWords(g)
	servers := gwconfig.Count(len(g.Servers), "server", "servers")
	names := gwconfig.Few(g.Names, 3)
	certs := Fix{"distinct-certificates", fmt.Sprintf("give each of the %s a certificate of its own hosts only (none covering %s), so browsers cannot reuse a connection across them", servers, names)}
	if g.Presenting == 1 {
		certs.Text = fmt.Sprintf("give %s a certificate that does not cover the hosts of the other %s", presenter(g), gwconfig.Count(len(g.Servers)-1, "server", "servers"))
	}
	merge := Fix{"merge-servers", fmt.Sprintf("serve the hosts of the %s from one Gateway server per address and port (one hosts list, one certificate), so Envoy routes them all on one connection", servers)}
	addr := Fix{"separate-address", "give the servers whose hosts must not share connections their own gateway addresses"}
	alpn := Fix{"alpn-http11", "offer only http/1.1 on the overlapping listener"}
	fixes := orFixes(certs, merge, addr, alpn)
	if g.SharedCertificate {
		fixes = orFixes(merge, certs, addr, alpn)
	}
	short := fmt.Sprintf("browsers can coalesce among %s across %s: the certificate for %s covers their hosts", servers, gwconfig.Count(g.Gateways, "Gateway", "Gateways"), names)
	return Verdict{Cause: "coalescing-possible", Short: short, Summary: s, Fixes: fixes}
}

// presenter is the one server of g presenting its certificate.
func presenter(g gwconfig.CoalescingGroup) string {
	for _, s := range g.Servers {
		if s.Presents {
			return s.String()
		}
	}
	return "the server"
}

func luaWords(lua []string) string {
	if len(lua) == 0 {
		return ""
	}
	return " Safari/WebKit versions that do not retry a 421 show an error."
}

// sharedWords say that the servers present one certificate, and whether
// istioctl analyze sees it.
func sharedWords(g gwconfig.CoalescingGroup) string {
	switch {
	case g.SameCertificateContents:
		return fmt.Sprintf(" The servers present the same certificate, from %d Secrets: istioctl analyze's IST0138 compares Secret names and does not see it.", len(g.Secrets))
	case g.SharedCertificate:
		return " The servers present the same certificate, from one Secret (istioctl analyze reports IST0138)."
	}
	return ""
}

// orFixes numbers alternatives: every fix after the first starts with "or".
func orFixes(fixes ...Fix) []Fix {
	for i := range fixes[1:] {
		fixes[i+1].Text = "or " + fixes[i+1].Text
	}
	return fixes
}

// judgeServers decides the verdict of a group of two servers: one verdict
// for both directions.
func judgeServers(g gwconfig.CoalescingGroup) Verdict {
	var reasons []string
	var coalescing []gwconfig.CoalescingPair
	lua, shared := false, false
	for _, d := range g.Directions {
		reasons = append(reasons, sentence(d.Reason))
		shared = shared || d.SharedCertificate
		if d.Coalescing {
			coalescing = append(coalescing, d)
			lua = lua || len(d.Lua421) > 0
		}
	}
	s := strings.Join(reasons, " ")
	if len(coalescing) == 0 {
		return Verdict{Cause: "overlap-harmless", Short: "a certificate overlap browsers do not act on",
			Summary: s + " Browsers will not coalesce."}
	}
	a, b := g.Servers[0].ServerRef, g.Servers[1].ServerRef
	if lua {
		s += " Safari/WebKit versions that do not retry a 421 show an error."
	}
	switch {
	case slices.ContainsFunc(g.Directions, func(d gwconfig.CoalescingPair) bool { return d.SameCertificateContents }):
		s += " Both servers present the same certificate, from two Secrets: istioctl analyze's IST0138 compares Secret names and does not see it."
	case shared:
		s += " Both servers present the same certificate, from one Secret (istioctl analyze reports IST0138)."
	}
	var hosts []string
	for _, d := range coalescing {
		hosts = append(hosts, d.Hosts...)
	}
	var certs, addr Fix
	if len(coalescing) == 2 {
		x, y := coalescing[0], coalescing[1]
		certs = Fix{"distinct-certificates", fmt.Sprintf("give each server a certificate of its own hosts only: %s one without %s, %s one without %s", x.From, strings.Join(x.Hosts, ", "), y.From, strings.Join(y.Hosts, ", "))}
		addr = Fix{"separate-address", fmt.Sprintf("give one of %s and %s its own gateway address", x.From, y.From)}
	} else {
		d := coalescing[0]
		certs = Fix{"distinct-certificates", fmt.Sprintf("give %s a certificate that does not cover %s", d.From, strings.Join(d.Hosts, ", "))}
		addr = Fix{"separate-address", fmt.Sprintf("give %s its own gateway address", d.To)}
	}
	merge := Fix{"merge-servers", fmt.Sprintf("serve %s from one Gateway server with %s's hosts (one hosts list, one certificate)", strings.Join(sortedUnique(hosts), ", "), coalescing[0].From)}
	if len(coalescing) == 2 {
		merge.Text = fmt.Sprintf("serve the hosts of %s and %s from one Gateway server (one hosts list, one certificate)", a, b)
	}
	alpn := Fix{"alpn-http11", "offer only http/1.1 on the overlapping listener"}
	fixes := orFixes(certs, merge, addr, alpn)
	if shared {
		fixes = orFixes(merge, certs, addr, alpn)
	}
	short := fmt.Sprintf("browsers can coalesce: %s's certificate covers %s", coalescing[0].From.Gateway, strings.Join(coalescing[0].Hosts, ", "))
	if len(coalescing) == 2 {
		short = fmt.Sprintf("browsers can coalesce both ways between %s and %s: each certificate covers the other's hosts", serverName(a, b), serverName(b, a))
	}
	return Verdict{Cause: "coalescing-possible", Short: short, Summary: s, Fixes: fixes}
}

// judgeConflict decides the verdict of servers claiming the same hosts
// (IST0145). The fixes are those istio.io gives for IST0145, in that order
// of preference: one owner per host, one Gateway, or apart.
func judgeConflict(c gwconfig.ServerConflict) Verdict {
	members := c.Members()
	hosts := gwconfig.Few(contested(c), 3)
	var own Fix
	switch {
	case len(members) == 2 && c.Identical:
		own = Fix{"distinct-hosts", fmt.Sprintf("serve %s from one of the two servers only: remove it from the hosts of %s or of %s, and bind its VirtualServices to the Gateway that keeps it", hosts, members[0], members[1])}
	case len(members) == 2:
		a, b := ordered(members[0], members[1])
		own = Fix{"distinct-hosts", fmt.Sprintf("make the hosts of %s and %s not overlap: list %s in one of them only (narrow the wildcard of the other)", a, b, hosts)}
	case len(c.Within) == 0:
		own = Fix{"distinct-hosts", fmt.Sprintf("serve %s from one of the %d servers only: remove it from the hosts of the others, and bind its VirtualServices to the Gateway that keeps it", hosts, len(members))}
	default:
		own = Fix{"distinct-hosts", fmt.Sprintf("make the hosts not overlap: narrow the wildcard %s so that it does not cover the names %s list, or serve those names from the wildcard's server only", c.Hosts[0], gwconfig.Count(len(c.Within), "other server", "other servers"))}
	}
	merge := Fix{"merge-servers", "or put the hosts of both in one Gateway server (one hosts list, one certificate)"}
	apart := Fix{"separate-address", "or move one of them to another port or another gateway workload (selector)"}
	if len(members) > 2 {
		merge.Text = "or put the hosts of these servers in one Gateway server (one hosts list, one certificate)"
		apart.Text = "or move all but one of them to other ports or other gateway workloads (selectors)"
	}
	return Verdict{
		Cause:   "conflicting-servers",
		Short:   conflictShort(c, members, hosts),
		Summary: sentence(c.Reason),
		Fixes:   []Fix{own, merge, apart},
	}
}

func conflictShort(c gwconfig.ServerConflict, members []gwconfig.ServerRef, hosts string) string {
	if len(members) == 2 {
		a, b := ordered(members[0], members[1])
		return fmt.Sprintf("%s and %s both serve %s on port %d of the same gateway pods (IST0145)", serverName(a, b), serverName(b, a), hosts, c.Port)
	}
	return fmt.Sprintf("%d servers serve %s on port %d of the same gateway pods (IST0145)", len(members), hosts, c.Port)
}

// contested are the names servers of c claim together: the names they
// all list, or the names within the wildcard.
func contested(c gwconfig.ServerConflict) []string {
	if c.Identical {
		return c.Names()
	}
	var out []string
	for _, w := range c.Within {
		out = append(out, w.Hosts...)
	}
	return sortedUnique(out)
}

// ordered is a and b in gateway order.
func ordered(a, b gwconfig.ServerRef) (gwconfig.ServerRef, gwconfig.ServerRef) {
	if cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Gateway, b.Gateway), cmp.Compare(a.Index, b.Index)) > 0 {
		return b, a
	}
	return a, b
}

// serverName is a's Gateway, or the whole server when b is on the same
// Gateway.
func serverName(a, b gwconfig.ServerRef) string {
	if a.Gateway == b.Gateway {
		return a.String()
	}
	return a.Gateway
}

// sentence capitalises s and ends it with a full stop.
func sentence(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:] + "."
}

func sortedUnique(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

func sameCredentials(a, b []string) bool {
	if len(a) == 0 || len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

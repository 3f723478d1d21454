package gwconfig

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ServerConflict is servers that claim the same host names on the same
// port of the same gateway pods: what `istioctl analyze` reports as IST0145
// ConflictingGateways. From istio.io/latest/docs/reference/config/analysis/ist0145/:
// "two or more Gateway resources select the same gateway workload, use the
// same port, and have hosts that are the same or that overlap. Only one of
// these servers can be used." Its fixes: put the hosts in one Gateway
// resource, make sure the hosts do not overlap, or use a different port or
// gateway workload for one of them. One finding per name claimed, however
// many servers claim it.
//
// Such servers do not coalesce: a connection opened for a host they both
// claim carries requests for that same host, so its SNI and :authority are
// equal and a Lua SNI check has nothing to refuse.
type ServerConflict struct {
	// Hosts are the names every one of Servers lists (several when the
	// same servers share several); with Within, the wildcard.
	Hosts []string `json:"hosts"`
	Port  int      `json:"port"`
	// Servers list Hosts as they are, in gateway order.
	Servers []ServerRef `json:"servers"`
	// Within are the servers (Istio Gateways) listing names inside the
	// wildcard of Hosts, with those names: the SNI picks them, the more
	// specific, for their names.
	Within []ServerHosts `json:"within,omitempty"`
	// Identical: two or more Servers list the same names (not only
	// overlapping wildcards), so Envoy has one filter chain for them and
	// istiod uses one server's TLS settings and route table for all.
	Identical bool `json:"identical"`
	// Pods says in words how the servers share the gateway pods.
	Pods string `json:"pods"`
	// Reason says it in words.
	Reason string `json:"reason"`
}

// ServerHosts is a server with some of its hosts.
type ServerHosts struct {
	ServerRef
	Hosts []string `json:"hosts"`
}

// Members are Servers, then the servers of Within.
func (c ServerConflict) Members() []ServerRef {
	out := slices.Clone(c.Servers)
	for _, w := range c.Within {
		out = append(out, w.ServerRef)
	}
	return out
}

// Names are Hosts and the names of Within.
func (c ServerConflict) Names() []string {
	out := slices.Clone(c.Hosts)
	for _, w := range c.Within {
		out = append(out, w.Hosts...)
	}
	return sortedUnique(out)
}

// ConflictingServers lists the names that servers claim together on the
// same port of the same gateway pods (IST0145): a name several servers list,
// or an Istio wildcard and the names other servers list within it. Istio
// Gateways share pods when their selectors are equal or one contains the
// other (the pods carry both label sets); the listeners of one Gateway API
// Gateway share its deployment, and there only equal hostnames conflict
// (the Gateway API's "Conflicted" listeners: distinct hostnames, a wildcard
// and a name within it, are distinct listeners). Conflicts come in the
// gateway order of their first server; the work grows with the servers and
// their hosts, not with their pairs, and stops with ctx's error when ctx
// ends.
func (a *Analysis) ConflictingServers(ctx context.Context) ([]ServerConflict, error) {
	cf := a.newConflictFinder()
	var out []conflictGroup
	for i, k := range cf.keys {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		out = append(out, cf.groups(k)...)
	}
	out = mergeIdentical(out)
	slices.SortStableFunc(out, func(x, y conflictGroup) int {
		if c := x.first() - y.first(); c != 0 {
			return c
		}
		return strings.Compare(x.hosts[0], y.hosts[0])
	})
	res := make([]ServerConflict, 0, len(out))
	for _, g := range out {
		res = append(res, a.conflict(g, cf))
	}
	return res, nil
}

// hostKey is a name on a port.
type hostKey struct {
	port int
	host string
}

// conflictFinder indexes the servers' names by port.
type conflictFinder struct {
	a *Analysis
	// class names the pods of each server: the Gateway API Gateway, an
	// Istio Gateway without selector, or an Istio selector.
	class     []string
	selectors map[string]map[string]string
	holders   map[hostKey][]int
	keys      []hostKey // in the order first listed
	within    map[hostKey][]hostOf
	// istioHeld are the names Istio Gateways' servers list.
	istioHeld map[hostKey]bool
}

// hostOf is a server (by position in Analysis.Servers) listing a name
// within a wildcard.
type hostOf struct {
	server int
	host   string
}

func (a *Analysis) newConflictFinder() *conflictFinder {
	cf := &conflictFinder{a: a, selectors: map[string]map[string]string{}, holders: map[hostKey][]int{}, within: map[hostKey][]hostOf{}, istioHeld: map[hostKey]bool{}}
	classOf := map[*Gateway]string{}
	for i := range a.Servers {
		s := &a.Servers[i]
		c, ok := classOf[s.gw]
		if !ok {
			c = podsClass(s.gw)
			classOf[s.gw] = c
			if strings.HasPrefix(c, "selector\x00") {
				cf.selectors[c] = s.gw.Selector
			}
		}
		cf.class = append(cf.class, c)
		for _, n := range sortedUnique(s.DNSNames) {
			k := hostKey{s.Port, n}
			if len(cf.holders[k]) == 0 {
				cf.keys = append(cf.keys, k)
			}
			cf.holders[k] = append(cf.holders[k], i)
			cf.istioHeld[k] = cf.istioHeld[k] || s.gw.IsIstio()
		}
	}
	for i := range a.Servers {
		s := &a.Servers[i]
		if !s.gw.IsIstio() {
			continue
		}
		for _, n := range sortedUnique(s.DNSNames) {
			for _, w := range cf.wildcardsOver(s.Port, n) {
				cf.within[w] = append(cf.within[w], hostOf{i, n})
			}
		}
	}
	return cf
}

// podsClass names the gateway pods g configures, as far as conflicts go.
func podsClass(g *Gateway) string {
	switch {
	case !g.IsIstio():
		return "gateway\x00" + g.Key()
	case len(g.Selector) == 0:
		return "istio-gateway\x00" + g.Key()
	}
	return "selector\x00" + canonLabels(g.Selector)
}

// wildcardsOver are the Istio wildcards other than n on port whose names
// include n.
func (cf *conflictFinder) wildcardsOver(port int, n string) []hostKey {
	var out []hostKey
	s := sampleHost(n)
	try := func(w string) {
		if k := (hostKey{port, w}); w != n && cf.istioHeld[k] {
			out = append(out, k)
		}
	}
	for i := 1; i < len(s); i++ {
		if s[i] == '.' {
			try("*" + s[i:])
		}
	}
	try("*")
	return out
}

// related: servers of the two classes share pods.
func (cf *conflictFinder) related(x, y string) bool {
	if x == y {
		return true
	}
	sx, okx := cf.selectors[x]
	sy, oky := cf.selectors[y]
	return okx && oky && (subset(sx, sy) || subset(sy, sx))
}

// conflictGroup is a conflict by server positions.
type conflictGroup struct {
	port    int
	hosts   []string
	servers []int
	within  []hostOf
}

func (g conflictGroup) first() int {
	f := g.servers[0]
	for _, w := range g.within {
		f = min(f, w.server)
	}
	return f
}

// groups are the conflicts of one name: its holders split by pods, each
// part with the servers listing names within it (a wildcard) on the same
// pods.
func (cf *conflictFinder) groups(k hostKey) []conflictGroup {
	var out []conflictGroup
	for _, part := range cf.byPods(cf.holders[k]) {
		g := conflictGroup{port: k.port, hosts: []string{k.host}, servers: part}
		classes := cf.classes(part)
		holds := make(map[int]bool, len(part))
		for _, s := range part {
			holds[s] = true
		}
		for _, w := range cf.within[k] {
			if !holds[w.server] && slices.ContainsFunc(classes, func(c string) bool { return cf.related(c, cf.class[w.server]) }) {
				g.within = append(g.within, w)
			}
		}
		if len(part) > 1 || len(g.within) > 0 {
			out = append(out, g)
		}
	}
	return out
}

// byPods splits servers into parts sharing gateway pods: those of one class,
// joined with those of related classes.
func (cf *conflictFinder) byPods(servers []int) [][]int {
	classes := cf.classes(servers)
	uf := unionFind{}
	for range classes {
		uf.add()
	}
	for i := range classes {
		for j := i + 1; j < len(classes); j++ {
			if cf.related(classes[i], classes[j]) {
				uf.union(i, j)
			}
		}
	}
	parts := map[int][]int{}
	var roots []int
	for _, s := range servers {
		r := uf.find(slices.Index(classes, cf.class[s]))
		if len(parts[r]) == 0 {
			roots = append(roots, r)
		}
		parts[r] = append(parts[r], s)
	}
	var out [][]int
	for _, r := range roots {
		out = append(out, parts[r])
	}
	return out
}

// classes are the distinct classes of servers, in order.
func (cf *conflictFinder) classes(servers []int) []string {
	var out []string
	for _, s := range servers {
		if !slices.Contains(out, cf.class[s]) {
			out = append(out, cf.class[s])
		}
	}
	return out
}

// mergeIdentical joins the conflicts of the same servers on several names.
func mergeIdentical(gs []conflictGroup) []conflictGroup {
	var out []conflictGroup
	at := map[string]int{}
	for _, g := range gs {
		if len(g.within) > 0 {
			out = append(out, g)
			continue
		}
		var key strings.Builder
		key.WriteString(strconv.Itoa(g.port))
		for _, s := range g.servers {
			key.WriteString("," + strconv.Itoa(s))
		}
		if i, ok := at[key.String()]; ok {
			out[i].hosts = append(out[i].hosts, g.hosts...)
			continue
		}
		at[key.String()] = len(out)
		out = append(out, g)
	}
	for i := range out {
		slices.Sort(out[i].hosts)
	}
	return out
}

// conflict turns a group into the finding.
func (a *Analysis) conflict(g conflictGroup, cf *conflictFinder) ServerConflict {
	c := ServerConflict{Hosts: g.hosts, Port: g.port, Identical: len(g.servers) > 1}
	var members []int
	for _, i := range g.servers {
		c.Servers = append(c.Servers, a.Servers[i].ServerRef)
		members = append(members, i)
	}
	byServer := map[int]int{}
	for _, w := range g.within {
		i, ok := byServer[w.server]
		if !ok {
			i = len(c.Within)
			byServer[w.server] = i
			c.Within = append(c.Within, ServerHosts{ServerRef: a.Servers[w.server].ServerRef})
			members = append(members, w.server)
		}
		c.Within[i].Hosts = append(c.Within[i].Hosts, w.host)
	}
	slices.SortFunc(c.Within, func(x, y ServerHosts) int { return byGatewayOrder(x.ServerRef, y.ServerRef) })
	c.Pods = cf.pods(members)
	c.Reason = a.conflictReason(c, members)
	return c
}

// pods says how servers share the gateway pods.
func (cf *conflictFinder) pods(servers []int) string {
	a := cf.a
	first := a.Servers[servers[0]].gw
	if !slices.ContainsFunc(servers, func(i int) bool { return a.Servers[i].gw != first }) {
		if first.IsIstio() {
			return "the same Gateway"
		}
		return "the same Gateway (one deployment)"
	}
	var sels []string
	for _, c := range cf.classes(servers) {
		sels = append(sels, canonLabels(cf.selectors[c]))
	}
	if len(sels) == 1 {
		return "the same gateway pods (selector " + sels[0] + ")"
	}
	if len(sels) == 2 {
		return fmt.Sprintf("the same gateway pods (selectors %s and %s: pods with both labels get both)", sels[0], sels[1])
	}
	return fmt.Sprintf("the same gateway pods (selectors %s: pods with the labels of several get each one's servers)", Few(sels, 3))
}

// conflictReason says what the conflict means: for two servers as a pair,
// for more with their number and a few names.
func (a *Analysis) conflictReason(c ServerConflict, members []int) string {
	var b strings.Builder
	if len(members) == 2 {
		a.pairConflictReason(&b, c, members)
	} else {
		groupConflictReason(&b, c)
	}
	b.WriteString(". Requests for these hosts arrive on connections opened for the same hosts: this is not connection coalescing")
	return b.String()
}

func (a *Analysis) pairConflictReason(b *strings.Builder, c ServerConflict, members []int) {
	x, y := &a.Servers[members[0]], &a.Servers[members[1]]
	if byGatewayOrder(x.ServerRef, y.ServerRef) > 0 {
		x, y = y, x
	}
	hosts := c.Hosts
	if !c.Identical {
		hosts = c.Within[0].Hosts
	}
	fmt.Fprintf(b, "%s and %s both serve %s on port %d of %s", x.ServerRef, y.ServerRef, strings.Join(hosts, ", "), c.Port, c.Pods)
	if c.Identical {
		b.WriteString(": only one of these servers can be used (IST0145) — Envoy has one filter chain per host name and port, so clients get one server's certificate and route table for these names, and the other's (its VirtualServices included) is not used for them")
		return
	}
	b.WriteString(": a wildcard of one covers the other's names; the SNI picks the more specific server for them, and istioctl analyze reports the overlap as a conflict (IST0145)")
	// The SNI picks the more specific of two TLS servers.
	if picks := a.pick(sampleHost(hosts[0]), x); len(picks) > 0 && (picks[0] == x || picks[0] == y) {
		fmt.Fprintf(b, "; the SNI %s picks %s", hosts[0], picks[0].ServerRef)
	}
}

func groupConflictReason(b *strings.Builder, c ServerConflict) {
	var gws []string
	for _, s := range c.Servers {
		gws = append(gws, s.Gateway)
	}
	gateways := len(sortedUnique(gws))
	if c.Identical {
		fmt.Fprintf(b, "%s across %s (%s) all serve %s on port %d of %s: only one of these servers can be used (IST0145) — Envoy has one filter chain per host name and port, so clients get one server's certificate and route table for these names, and the others' (their VirtualServices included) are not used for them",
			Count(len(c.Servers), "server", "servers"), Count(gateways, "Gateway", "Gateways"), Few(refNames(c.Servers), 3), strings.Join(c.Hosts, ", "), c.Port, c.Pods)
	}
	if len(c.Within) == 0 {
		return
	}
	if c.Identical {
		b.WriteString("; and ")
	}
	holder := c.Servers[0].String()
	if len(c.Servers) > 1 {
		holder += fmt.Sprintf(" and %d more", len(c.Servers)-1)
	}
	w := c.Within[0]
	fmt.Fprintf(b, "the wildcard %s of %s covers names that %s list on port %d of %s (%s of %s, …): the SNI picks the more specific server for them, and istioctl analyze reports the overlap as a conflict (IST0145)",
		c.Hosts[0], holder, Count(len(c.Within), "other server", "other servers"), c.Port, c.Pods, w.Hosts[0], w.ServerRef)
}

func refNames(rs []ServerRef) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.String())
	}
	return out
}

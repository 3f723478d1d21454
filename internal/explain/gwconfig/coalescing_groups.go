package gwconfig

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// CoalescingGroup is a certificate — or several certificates that share a
// name — with the servers presenting it and the servers whose hosts its
// names cover. Among them, a browser holding a connection opened for one
// host can send requests for another. One finding per certificate however
// many servers share it: 1,000 Gateways with one wildcard certificate are
// one group of 1,000 servers, not 999,000 pairs of them.
type CoalescingGroup struct {
	// Names are the certificates' names: DNS SANs and IP SANs, or for a
	// certificate not in the input, the hosts of the servers presenting it.
	Names []string `json:"names"`
	// Secrets are where the certificates come from (namespace/name when
	// found, else the credentials as written).
	Secrets []string `json:"secrets,omitempty"`
	// Certificates counts the distinct certificates in the input (by
	// SHA-256 fingerprint).
	Certificates int `json:"certificates"`
	// SharedCertificate: the servers presenting one present the same
	// certificate — the same Secret (Istio's IST0138), or the same
	// certificate in several Secrets (SameCertificateContents).
	SharedCertificate       bool `json:"shared_certificate"`
	SameCertificateContents bool `json:"same_certificate_contents,omitempty"`
	// CertInferred: a certificate is not in the input; its servers' hosts
	// stand in for its names.
	CertInferred bool `json:"cert_inferred,omitempty"`
	// Servers are the servers presenting a certificate of the group and
	// those whose hosts one covers, in gateway order.
	Servers []GroupServer `json:"servers"`
	// Presenting counts the Servers presenting a certificate of the group,
	// Covered those with Hosts, Gateways their Gateways.
	Presenting int `json:"presenting"`
	Covered    int `json:"covered"`
	Gateways   int `json:"gateways"`
	// Listeners are the Servers' addresses and ports.
	Listeners []GroupListener `json:"listeners"`
	// Coalescing: on one of the Listeners, a server presenting a
	// certificate of the group offers h2 and the certificate covers a host
	// the SNI picks another server there for.
	Coalescing bool `json:"coalescing"`
	// Lua421 are the EnvoyFilters on servers presenting the certificate
	// that answer 421 when SNI and :authority differ, where browsers
	// coalesce.
	Lua421 []string `json:"lua_421,omitempty"`
	// Example is one server whose connections carry requests for a host of
	// another (one where browsers coalesce, when they do anywhere).
	Example *CoalescingPair `json:"example,omitempty"`
	// Directions are, for a group of two servers, A→B and B→A as they
	// exist; larger groups have Example only.
	Directions []CoalescingPair `json:"directions,omitempty"`
	// Reason says it in words.
	Reason string `json:"reason"`
}

// GroupServer is a server of a CoalescingGroup.
type GroupServer struct {
	ServerRef
	// Presents: the server presents a certificate of the group.
	Presents bool `json:"presents"`
	// Hosts are its hosts (or the names within its wildcard hosts) that a
	// certificate of another server of the group covers, and that the SNI
	// picks this server for.
	Hosts []string `json:"hosts,omitempty"`
	// Listener is the position of its address and port in Listeners.
	Listener int `json:"listener"`
}

// GroupListener is an address and port of a CoalescingGroup's servers.
type GroupListener struct {
	Address GatewayAddress `json:"address"`
	Port    int            `json:"port"`
	Servers int            `json:"servers"`
	// Coalescing: browsers coalesce between servers of the group here.
	Coalescing bool `json:"coalescing"`
}

// Both reports whether a group of two servers coalesces both ways.
func (g CoalescingGroup) Both() bool { return len(g.Directions) == 2 }

// CoalescingGroups finds, without logs, the certificates that cover hosts
// of servers other than those presenting them — a wildcard certificate
// across Gateways, overlapping SANs — with where browsers can coalesce
// (same address and port, h2). A host counts for a server only when the SNI
// picks that server for it, and not when the presenting server claims it
// as much itself (two servers for one host: ConflictingServers). Groups
// where browsers coalesce come first, larger first, then in gateway order.
// The work grows with the servers and their names, not with their pairs;
// it stops with ctx's error when ctx ends.
func (a *Analysis) CoalescingGroups(ctx context.Context) ([]CoalescingGroup, error) {
	presenters := a.presentersByName()
	var out []CoalescingGroup
	for _, names := range a.nameGroups(presenters) {
		b := &groupBuilder{a: a, ctx: ctx, presenters: presenters, members: map[int]*groupMember{}}
		if err := b.build(names); err != nil {
			return nil, err
		}
		if g, ok := b.group(names); ok {
			out = append(out, g)
		}
	}
	slices.SortStableFunc(out, func(x, y CoalescingGroup) int {
		switch {
		case x.Coalescing != y.Coalescing:
			return preferTrue(x.Coalescing, y.Coalescing)
		case len(x.Servers) != len(y.Servers):
			return len(y.Servers) - len(x.Servers)
		}
		return byGatewayOrder(x.Servers[0].ServerRef, y.Servers[0].ServerRef)
	})
	return out, nil
}

// certNames are the names a server's certificate is valid for, normalised.
func certNames(s *ResolvedServer) []string {
	var out []string
	for _, n := range s.CertNames {
		out = append(out, normHost(n))
	}
	return sortedUnique(append(out, s.CertIPs...))
}

// presentersByName lists, for each certificate name, the browser-facing
// servers presenting a certificate with it, in gateway order.
func (a *Analysis) presentersByName() map[string][]int {
	out := map[string][]int{}
	for i := range a.Servers {
		if !a.Servers[i].browserFacing() {
			continue
		}
		for _, n := range certNames(&a.Servers[i]) {
			out[n] = append(out[n], i)
		}
	}
	return out
}

// nameGroups joins the names of each certificate: two certificates with a
// name in common are one group. Groups come in the order of their first
// presenting server, their names sorted.
func (a *Analysis) nameGroups(presenters map[string][]int) [][]string {
	uf := unionFind{}
	id := map[string]int{}
	var names []string
	idOf := func(n string) int {
		if i, ok := id[n]; ok {
			return i
		}
		id[n] = uf.add()
		names = append(names, n)
		return id[n]
	}
	var firsts []string // a name of each server, in server order
	for i := range a.Servers {
		ns := certNames(&a.Servers[i])
		if !a.Servers[i].browserFacing() || len(ns) == 0 {
			continue
		}
		first := idOf(ns[0])
		for _, n := range ns[1:] {
			uf.union(first, idOf(n))
		}
		firsts = append(firsts, ns[0])
	}
	byRoot := map[int][]string{}
	for _, n := range names {
		r := uf.find(id[n])
		byRoot[r] = append(byRoot[r], n)
	}
	var out [][]string
	for _, n := range firsts {
		r := uf.find(id[n])
		if g, ok := byRoot[r]; ok {
			slices.Sort(g)
			out = append(out, g)
			delete(byRoot, r)
		}
	}
	return out
}

// groupBuilder finds the servers of one group of names.
type groupBuilder struct {
	a          *Analysis
	ctx        context.Context
	presenters map[string][]int
	// onListener are presenters by name, then by address and port.
	onListener map[string]map[listenerKey][]int
	members    map[int]*groupMember
	coalescing map[listenerKey]bool
	lua        []string
	example    *direction
	steps      int
}

type groupMember struct {
	presents bool
	hosts    []string
	// state of each host: how it is covered (covered, coalesced).
	state map[string]coverage
}

type coverage int

const (
	uncovered coverage = iota
	covered            // by a certificate presented on another address or port, or without h2
	coalesced          // by a certificate presented on the same address and port, with h2
)

// direction is a server x whose certificate covers host of server y.
type direction struct {
	x, y int
	host string
	c    coverage
}

func (b *groupBuilder) member(i int) *groupMember {
	m := b.members[i]
	if m == nil {
		m = &groupMember{state: map[string]coverage{}}
		b.members[i] = m
	}
	return m
}

// step checks ctx every so many steps.
func (b *groupBuilder) step() error {
	b.steps++
	if b.steps%1024 == 0 {
		return b.ctx.Err()
	}
	return nil
}

func (b *groupBuilder) build(names []string) error {
	if err := b.ctx.Err(); err != nil {
		return err
	}
	b.coalescing = map[listenerKey]bool{}
	for _, n := range names {
		for _, x := range b.presenters[n] {
			b.member(x).presents = true
		}
	}
	for _, n := range names {
		if err := b.cover(n); err != nil {
			return err
		}
	}
	return nil
}

// cover finds the servers the SNI picks for what name covers: an exact
// name or IP, the names one label below a wildcard, and the wildcard hosts
// within it.
func (b *groupBuilder) cover(n string) error {
	a := b.a
	switch {
	case isIP(n):
		return b.consider(n, n, n, true)
	case !CertNameMatches(n, sampleHost(n)):
		return nil // not a name a browser accepts
	case !isWildcard(n):
		return b.consider(n, n, n, false)
	}
	rest := strings.TrimPrefix(n, "*.")
	for _, h := range a.hosts.byParent[rest] {
		if CertNameMatches(n, h) {
			if err := b.consider(n, h, h, true); err != nil {
				return err
			}
		}
	}
	return b.consider(n, sampleHost(n), n, false)
}

// consider records, for each address and port, the server the SNI picks
// for host — as label — when a server presenting name can carry its
// requests; exactOnly keeps the servers listing host itself.
func (b *groupBuilder) consider(name, host, label string, exactOnly bool) error {
	a := b.a
	for _, c := range a.bestPerListener(a.hosts.candidates(host)) {
		if err := b.step(); err != nil {
			return err
		}
		if exactOnly && c.score != exactScore || !a.Servers[c.server].browserFacing() {
			continue
		}
		b.coverHost(name, c.server, host, label)
	}
	return nil
}

// coverHost finds a server presenting name that can carry requests for
// host, which the SNI gives to server y: on y's address and port with h2
// (coalesced), else anywhere (covered). A server claiming host as
// specifically as y does not count: that is a conflict, not coalescing.
func (b *groupBuilder) coverHost(name string, y int, host, label string) {
	a, m := b.a, b.member(y)
	if m.state[label] == coalesced {
		return
	}
	ys := &a.Servers[y]
	ySpec := specificity(ys, host)
	can := func(x int) bool { return x != y && specificity(&a.Servers[x], host) < ySpec }
	for _, x := range b.presentersOn(name, ys.listener()) {
		if can(x) && a.Servers[x].H2 {
			b.record(direction{x, y, label, coalesced})
			return
		}
	}
	if m.state[label] == covered {
		return
	}
	for _, x := range b.presenters[name] {
		if can(x) {
			b.record(direction{x, y, label, covered})
			return
		}
	}
}

// presentersOn are the servers presenting name on listener k.
func (b *groupBuilder) presentersOn(name string, k listenerKey) []int {
	if b.onListener == nil {
		b.onListener = map[string]map[listenerKey][]int{}
	}
	byListener, ok := b.onListener[name]
	if !ok {
		byListener = map[listenerKey][]int{}
		for _, x := range b.presenters[name] {
			lk := b.a.Servers[x].listener()
			byListener[lk] = append(byListener[lk], x)
		}
		b.onListener[name] = byListener
	}
	return byListener[k]
}

func (b *groupBuilder) record(d direction) {
	a, m := b.a, b.member(d.y)
	if m.state[d.host] == uncovered {
		m.hosts = append(m.hosts, d.host)
	}
	m.state[d.host] = d.c
	if d.c == coalesced {
		b.coalescing[a.Servers[d.y].listener()] = true
		for _, f := range a.Servers[d.x].Filters {
			if f.SNIAuthority421 && f.Applies == Applies && !slices.Contains(b.lua, f.EnvoyFilter) {
				b.lua = append(b.lua, f.EnvoyFilter)
			}
		}
	}
	if b.example == nil || d.c > b.example.c {
		b.example = &d
	}
}

// group assembles the finding; false when no certificate of the group
// covers another server's host.
func (b *groupBuilder) group(names []string) (CoalescingGroup, bool) {
	a := b.a
	if b.example == nil {
		return CoalescingGroup{}, false
	}
	g := CoalescingGroup{Names: names, Lua421: b.lua}
	servers := make([]int, 0, len(b.members))
	for i := range b.members {
		servers = append(servers, i)
	}
	slices.Sort(servers) // gateway order
	listeners := map[listenerKey]int{}
	gateways, presentingGateways := map[string]bool{}, map[string]bool{}
	var secrets, fingerprints []string
	allTerminate, allCertified := true, true
	for _, i := range servers {
		s, m := &a.Servers[i], b.members[i]
		k := s.listener()
		li, ok := listeners[k]
		if !ok {
			li = len(g.Listeners)
			listeners[k] = li
			g.Listeners = append(g.Listeners, GroupListener{Address: s.Address, Port: s.Port, Coalescing: b.coalescing[k]})
		}
		g.Listeners[li].Servers++
		gateways[s.Gateway] = true
		slices.Sort(m.hosts)
		g.Servers = append(g.Servers, GroupServer{ServerRef: s.ServerRef, Presents: m.presents, Hosts: m.hosts, Listener: li})
		if len(m.hosts) > 0 {
			g.Covered++
		}
		if !m.presents {
			continue
		}
		g.Presenting++
		presentingGateways[s.Gateway] = true
		secrets = append(secrets, certSecrets(s)...)
		fingerprints = append(fingerprints, certFingerprints(s)...)
		allTerminate = allTerminate && s.Terminates
		allCertified = allCertified && len(s.Certificates) > 0
		g.CertInferred = g.CertInferred || s.CertInferred
	}
	g.Gateways = len(gateways)
	g.Secrets = sortedUnique(secrets)
	g.Certificates = len(sortedUnique(fingerprints))
	g.SharedCertificate = g.Presenting > 1 && allTerminate &&
		(len(g.Secrets) == 1 || (allCertified && g.Certificates == 1))
	g.SameCertificateContents = g.SharedCertificate && len(g.Secrets) > 1
	g.Coalescing = b.example.c == coalesced
	ex := a.pair(&a.Servers[b.example.x], &a.Servers[b.example.y], []string{b.example.host})
	g.Example = &ex
	if len(servers) == 2 {
		g.Directions = b.directions(servers)
	}
	g.Reason = groupReason(g, len(presentingGateways))
	return g, true
}

// directions are the two servers' directions, each with all the hosts it
// carries.
func (b *groupBuilder) directions(servers []int) []CoalescingPair {
	a := b.a
	var out []CoalescingPair
	for k, y := range servers {
		x := servers[1-k]
		if hosts := b.members[y].hosts; len(hosts) > 0 && b.members[x].presents {
			out = append(out, a.pair(&a.Servers[x], &a.Servers[y], hosts))
		}
	}
	slices.SortStableFunc(out, func(p, q CoalescingPair) int { return byGatewayOrder(p.From, q.From) })
	return out
}

// groupReason says what the group is: for two servers, the directions;
// for more, the certificate, how many servers share it, and an example.
func groupReason(g CoalescingGroup, presentingGateways int) string {
	if len(g.Directions) > 0 {
		var rs []string
		for _, d := range g.Directions {
			rs = append(rs, d.Reason)
		}
		return strings.Join(rs, "; and ")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "the certificate for %s", Few(g.Names, 3))
	switch {
	case len(g.Secrets) == 1:
		fmt.Fprintf(&b, " (Secret %s)", g.Secrets[0])
	case len(g.Secrets) > 1:
		fmt.Fprintf(&b, " (Secrets %s)", Few(g.Secrets, 3))
	}
	fmt.Fprintf(&b, " is presented by %s across %s and covers hosts of %s",
		Count(g.Presenting, "server", "servers"), Count(presentingGateways, "Gateway", "Gateways"), Count(g.Covered, "server", "servers"))
	if n := len(g.Listeners); n > 1 {
		on := 0
		for _, l := range g.Listeners {
			if l.Coalescing {
				on++
			}
		}
		fmt.Fprintf(&b, " on %d addresses and ports (browsers coalesce on %d of them)", n, on)
	}
	fmt.Fprintf(&b, "; for example, %s", g.Example.Reason)
	return b.String()
}

// Few lists up to n of ss, saying how many more there are.
func Few(ss []string, n int) string {
	if len(ss) <= n {
		return strings.Join(ss, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(ss[:n], ", "), len(ss)-n)
}

// Count is "1 server", "3 servers".
func Count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

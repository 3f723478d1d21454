package gwconfig

// listenerKey is where clients reach a server: its address (as far as the
// configuration tells, see addressGroups) and port. Envoy picks between the
// servers of one listenerKey by SNI; browsers coalesce only within one.
type listenerKey struct {
	addr, port int
}

func (s *ResolvedServer) listener() listenerKey {
	return listenerKey{s.addrGroup, s.Port}
}

// sameListener: the two servers are reached at the same address and port,
// so Envoy picks between them by SNI on one listener.
func sameListener(a, b *ResolvedServer) bool {
	return a.Port == b.Port && a.addrGroup == b.addrGroup
}

// addressGroups numbers the servers' addresses so that servers whose
// addresses share something (GatewayAddress.Shares: the key, a Service or
// an address) — directly or through a third — get the same number. One
// pass over the servers with a union-find, instead of comparing every pair.
func addressGroups(servers []ResolvedServer) {
	uf := unionFind{}
	tokens := map[string]int{}
	join := func(i int, token string) {
		if j, ok := tokens[token]; ok {
			uf.union(i, j)
			return
		}
		tokens[token] = i
	}
	for i := range servers {
		uf.add()
		a := servers[i].Address
		join(i, "key\x00"+a.Key)
		for _, s := range a.Services {
			join(i, "service\x00"+s)
		}
		for _, ad := range a.Addresses {
			join(i, "address\x00"+ad)
		}
	}
	for i := range servers {
		servers[i].addrGroup = uf.find(i)
	}
}

// unionFind is a disjoint-set forest over 0…n-1.
type unionFind struct{ parent []int }

func (u *unionFind) add() int {
	u.parent = append(u.parent, len(u.parent))
	return len(u.parent) - 1
}

func (u *unionFind) find(i int) int {
	for u.parent[i] != i {
		u.parent[i] = u.parent[u.parent[i]]
		i = u.parent[i]
	}
	return i
}

func (u *unionFind) union(i, j int) {
	ri, rj := u.find(i), u.find(j)
	if ri == rj {
		return
	}
	if ri > rj {
		ri, rj = rj, ri
	}
	u.parent[rj] = ri
}

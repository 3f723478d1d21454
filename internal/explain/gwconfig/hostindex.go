package gwconfig

import (
	"cmp"
	"strings"
)

// exactScore is hostSpecificity's score of an exact name.
const exactScore = 1 << 16

// hostIndex finds the TLS servers whose hosts select a host without looking
// at every server: by exact name, by wildcard suffix, and the catch-alls —
// what hostSpecificity compares. With it, resolving a host costs the servers
// that match it, not all of them, so the analysis stays linear in the
// number of servers.
type hostIndex struct {
	exact    map[string][]int // "a.example.com" → servers listing it
	wildcard map[string][]int // ".example.com" → servers listing "*.example.com"
	catchAll []int            // servers listing "*"
	// byParent lists the exact names one label below a domain:
	// "example.com" → a.example.com, b.example.com (what a certificate's
	// *.example.com covers), each with the servers listing it.
	byParent map[string][]string
}

// candidate is a server matching a host, with how specifically.
type candidate struct {
	server int
	score  int
}

func newHostIndex(servers []ResolvedServer) *hostIndex {
	ix := &hostIndex{exact: map[string][]int{}, wildcard: map[string][]int{}, byParent: map[string][]string{}}
	for i := range servers {
		s := &servers[i]
		if !s.TLS {
			continue
		}
		for _, n := range sortedUnique(s.DNSNames) {
			switch {
			case n == "*" || n == "":
				ix.catchAll = append(ix.catchAll, i)
			case strings.HasPrefix(n, "*."):
				ix.wildcard[n[1:]] = append(ix.wildcard[n[1:]], i)
			default:
				if len(ix.exact[n]) == 0 {
					if _, parent, ok := strings.Cut(n, "."); ok {
						ix.byParent[parent] = append(ix.byParent[parent], n)
					}
				}
				ix.exact[n] = append(ix.exact[n], i)
			}
		}
	}
	return ix
}

// candidates are the TLS servers whose hosts select host, each once with
// its best score, as hostSpecificity ranks them.
func (ix *hostIndex) candidates(host string) []candidate {
	var out []candidate
	add := func(servers []int, score int) {
		for _, i := range servers {
			out = append(out, candidate{i, score})
		}
	}
	add(ix.exact[host], exactScore)
	// Longest suffix first: a wildcard matches a host longer than its
	// suffix.
	for i := 1; i < len(host); i++ {
		if host[i] == '.' {
			add(ix.wildcard[host[i:]], len(host)-i)
		}
	}
	add(ix.catchAll, 0)
	return firstPerServer(out)
}

// firstPerServer keeps the first candidate of each server: candidates come
// best score first.
func firstPerServer(cs []candidate) []candidate {
	if len(cs) < 2 {
		return cs
	}
	seen := make(map[int]bool, len(cs))
	out := cs[:0]
	for _, c := range cs {
		if !seen[c.server] {
			seen[c.server] = true
			out = append(out, c)
		}
	}
	return out
}

// better orders candidates as Envoy and the tie-break of pick do: the most
// specific first; on a tie port 443, then a server whose address the input
// tells, then gateway order.
func (a *Analysis) better(x, y candidate) int {
	if x.score != y.score {
		return y.score - x.score
	}
	sx, sy := &a.Servers[x.server], &a.Servers[y.server]
	return cmp.Or(preferTrue(sx.Port == 443, sy.Port == 443),
		preferTrue(len(sx.Address.Addresses) > 0, len(sy.Address.Addresses) > 0),
		cmp.Compare(x.server, y.server))
}

// bestPerListener is, for each address and port among cs, the candidate
// the SNI picks there.
func (a *Analysis) bestPerListener(cs []candidate) map[listenerKey]candidate {
	out := make(map[listenerKey]candidate, 1)
	for _, c := range cs {
		k := a.Servers[c.server].listener()
		if b, ok := out[k]; !ok || a.better(c, b) < 0 {
			out[k] = c
		}
	}
	return out
}

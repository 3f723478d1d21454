package accesslog

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// MisdirectedRequest is the status code this package explains.
const MisdirectedRequest = 421

// DefaultMaxPairs is how many distinct host pairs an Analyzer keeps by
// default.
const DefaultMaxPairs = 10000

// Bounds on the distinct values kept per pair, so memory stays bounded
// whatever the input.
const (
	maxProtocolsPerPair = 8
	maxDetailsPerPair   = 16
	overflowName        = "(other)"
)

// Producer says who answered 421, from %RESPONSE_CODE_DETAILS%.
type Producer string

// Producers.
const (
	// ProducerEnvoyFilter: "lua_response", a Lua script (in an
	// EnvoyFilter) answered.
	ProducerEnvoyFilter Producer = "envoyfilter"
	// ProducerApplication: "via_upstream", the upstream application
	// answered and Envoy passed it on.
	ProducerApplication Producer = "application"
	// ProducerOther: any other detail, kept in ProducerCount.Detail.
	ProducerOther Producer = "other"
	// ProducerUnknown: no detail logged (e.g. Istio before 1.9).
	ProducerUnknown Producer = "unknown"
)

// ClassifyProducer tells who answered from a %RESPONSE_CODE_DETAILS%
// value.
func ClassifyProducer(details string) Producer {
	switch details {
	case "lua_response":
		return ProducerEnvoyFilter
	case "via_upstream":
		return ProducerApplication
	case "", "-":
		return ProducerUnknown
	}
	return ProducerOther
}

// PairKind says what a host pair shows.
type PairKind string

// Pair kinds.
const (
	// PairCoalesced: the SNI names another host than :authority, the mark
	// of a reused (coalesced) connection.
	PairCoalesced PairKind = "coalesced"
	// PairSameHost: SNI and :authority name the same host; not coalescing.
	PairSameHost PairKind = "same_host"
	// PairNoSNI: the client sent no SNI (plain HTTP, or TLS without SNI).
	PairNoSNI PairKind = "no_sni"
	// PairSNINotLogged: the log format has no %REQUESTED_SERVER_NAME%.
	PairSNINotLogged PairKind = "sni_not_logged"
	// PairOther: Report.Other, the 421s past AnalyzerOptions.MaxPairs
	// distinct pairs.
	PairOther PairKind = "other"
)

// Report is what an Analyzer found.
type Report struct {
	// Input counts the lines read.
	Input Stats `json:"input"`
	// Misdirected is the number of 421 entries.
	Misdirected int `json:"misdirected"`
	// Coalesced, SameHost, NoSNI and SNINotLogged split Misdirected by
	// PairKind.
	Coalesced    int `json:"coalesced"`
	SameHost     int `json:"same_host"`
	NoSNI        int `json:"no_sni"`
	SNINotLogged int `json:"sni_not_logged"`
	// WebKit is the 421s sent to Safari or an iOS browser.
	WebKit    int       `json:"webkit"`
	FirstSeen time.Time `json:"first_seen,omitzero"`
	LastSeen  time.Time `json:"last_seen,omitzero"`
	// Producers splits Misdirected by who answered.
	Producers []ProducerCount `json:"producers"`
	// Pairs are the 421s by host pair, most first.
	Pairs []Pair `json:"pairs"`
	// MaxPairs is the cap on len(Pairs).
	MaxPairs int `json:"max_pairs"`
	// Other gathers the 421s of the pairs past MaxPairs; nil if none.
	Other *Pair `json:"other,omitempty"`
	// Truncated: the reading stopped early (out of time); the report is of
	// the lines read.
	Truncated bool `json:"truncated,omitempty"`
}

// Pair is the 421s of one (SNI, :authority) host pair.
type Pair struct {
	// SNI and Authority are normalised host names (NormalizeHost).
	SNI       string    `json:"sni"`
	Authority string    `json:"authority"`
	Kind      PairKind  `json:"kind"`
	Count     int       `json:"count"`
	FirstSeen time.Time `json:"first_seen,omitzero"`
	LastSeen  time.Time `json:"last_seen,omitzero"`
	// Protocols counts the HTTP versions ("HTTP/2", "HTTP/1.1", "HTTP/3").
	Protocols []NameCount `json:"protocols"`
	// Clients counts the client families (ClassifyUserAgent).
	Clients []ClientCount `json:"clients"`
	// WebKit is the 421s of this pair sent to Safari or an iOS browser.
	WebKit    int             `json:"webkit"`
	Producers []ProducerCount `json:"producers"`
}

// NameCount is a count of one value.
type NameCount struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// ClientCount is a count of one client family.
type ClientCount struct {
	Client
	Count int `json:"count"`
}

// ProducerCount is a count of one producer; for ProducerOther, of one
// %RESPONSE_CODE_DETAILS% value.
type ProducerCount struct {
	Producer Producer `json:"producer"`
	Detail   string   `json:"detail,omitempty"`
	Count    int      `json:"count"`
}

// AnalyzerOptions configures an Analyzer.
type AnalyzerOptions struct {
	// MaxPairs caps the distinct host pairs kept (DefaultMaxPairs if 0);
	// 421s of further pairs are counted in Report.Other.
	MaxPairs int
}

// Analyzer gathers the 421 entries it is given into a Report. Its memory is
// bounded by AnalyzerOptions.MaxPairs, whatever the input.
type Analyzer struct {
	maxPairs int
	pairs    map[pairKey]*tally
	other    *tally
	all      tally
	kinds    map[PairKind]int
}

type pairKey struct {
	sni, authority string
	kind           PairKind
}

type producerKey struct {
	producer Producer
	detail   string
}

// tally accumulates the 421s of one pair.
type tally struct {
	count       int
	first, last time.Time
	protocols   map[string]int
	clients     map[Client]int
	webkit      int
	producers   map[producerKey]int
}

// NewAnalyzer returns an empty Analyzer.
func NewAnalyzer(opts AnalyzerOptions) *Analyzer {
	if opts.MaxPairs <= 0 {
		opts.MaxPairs = DefaultMaxPairs
	}
	return &Analyzer{
		maxPairs: opts.MaxPairs,
		pairs:    make(map[pairKey]*tally),
		kinds:    make(map[PairKind]int),
	}
}

// Add counts e if it is a 421 and ignores it otherwise.
func (a *Analyzer) Add(e *Entry) {
	if e.Code != MisdirectedRequest {
		return
	}
	k := pairKey{sni: NormalizeHost(e.SNI), authority: NormalizeHost(e.Authority)}
	switch {
	case !e.SNILogged:
		k.kind = PairSNINotLogged
	case k.sni == "":
		k.kind = PairNoSNI
	case k.sni == k.authority:
		k.kind = PairSameHost
	default:
		k.kind = PairCoalesced
	}
	a.kinds[k.kind]++
	a.all.add(e)
	t, ok := a.pairs[k]
	if !ok {
		if len(a.pairs) >= a.maxPairs {
			if a.other == nil {
				a.other = &tally{}
			}
			a.other.add(e)
			return
		}
		t = &tally{}
		a.pairs[k] = t
	}
	t.add(e)
}

func (t *tally) add(e *Entry) {
	t.count++
	if !e.Time.IsZero() {
		if t.first.IsZero() || e.Time.Before(t.first) {
			t.first = e.Time
		}
		if e.Time.After(t.last) {
			t.last = e.Time
		}
	}
	proto := e.Protocol
	if proto == "" {
		proto = "unknown"
	}
	if t.protocols == nil {
		t.protocols = make(map[string]int)
		t.clients = make(map[Client]int)
		t.producers = make(map[producerKey]int)
	}
	if _, ok := t.protocols[proto]; !ok && len(t.protocols) >= maxProtocolsPerPair {
		proto = overflowName
	}
	t.protocols[proto]++
	c := ClassifyUserAgent(e.UserAgent)
	t.clients[c]++
	if c.WebKit {
		t.webkit++
	}
	pk := producerKey{producer: ClassifyProducer(e.Details)}
	if pk.producer == ProducerOther {
		pk.detail = e.Details
		if _, ok := t.producers[pk]; !ok && len(t.producers) >= maxDetailsPerPair {
			pk.detail = overflowName
		}
	}
	t.producers[pk]++
}

// Report returns what a has gathered so far, with in as its input counts.
// Its slices are sorted by count, most first, then by name: the same input
// gives the same Report.
func (a *Analyzer) Report(in Stats) *Report {
	r := &Report{
		Input:        in,
		Misdirected:  a.all.count,
		Coalesced:    a.kinds[PairCoalesced],
		SameHost:     a.kinds[PairSameHost],
		NoSNI:        a.kinds[PairNoSNI],
		SNINotLogged: a.kinds[PairSNINotLogged],
		WebKit:       a.all.webkit,
		FirstSeen:    a.all.first,
		LastSeen:     a.all.last,
		Producers:    a.all.producerCounts(),
		Pairs:        make([]Pair, 0, len(a.pairs)),
		MaxPairs:     a.maxPairs,
	}
	for k, t := range a.pairs {
		r.Pairs = append(r.Pairs, t.pair(k))
	}
	slices.SortFunc(r.Pairs, func(x, y Pair) int {
		return cmp.Or(
			cmp.Compare(y.Count, x.Count),
			strings.Compare(x.SNI, y.SNI),
			strings.Compare(x.Authority, y.Authority),
			strings.Compare(string(x.Kind), string(y.Kind)),
		)
	})
	if a.other != nil {
		p := a.other.pair(pairKey{kind: PairOther})
		r.Other = &p
	}
	return r
}

func (t *tally) pair(k pairKey) Pair {
	p := Pair{
		SNI:       k.sni,
		Authority: k.authority,
		Kind:      k.kind,
		Count:     t.count,
		FirstSeen: t.first,
		LastSeen:  t.last,
		WebKit:    t.webkit,
		Producers: t.producerCounts(),
	}
	for name, n := range t.protocols {
		p.Protocols = append(p.Protocols, NameCount{Name: name, Count: n})
	}
	slices.SortFunc(p.Protocols, func(x, y NameCount) int {
		return cmp.Or(cmp.Compare(y.Count, x.Count), strings.Compare(x.Name, y.Name))
	})
	for c, n := range t.clients {
		p.Clients = append(p.Clients, ClientCount{Client: c, Count: n})
	}
	slices.SortFunc(p.Clients, func(x, y ClientCount) int {
		return cmp.Or(cmp.Compare(y.Count, x.Count), strings.Compare(x.Family, y.Family))
	})
	return p
}

func (t *tally) producerCounts() []ProducerCount {
	out := []ProducerCount{}
	for k, n := range t.producers {
		out = append(out, ProducerCount{Producer: k.producer, Detail: k.detail, Count: n})
	}
	slices.SortFunc(out, func(x, y ProducerCount) int {
		return cmp.Or(
			cmp.Compare(y.Count, x.Count),
			strings.Compare(string(x.Producer), string(y.Producer)),
			strings.Compare(x.Detail, y.Detail),
		)
	})
	return out
}

// Analyze reads all of r and reports on its 421s. It stops early, with
// ctx's error, when ctx is done; a line that cannot be read is counted,
// never an error.
func Analyze(ctx context.Context, r io.Reader, ropts ReaderOptions, aopts AnalyzerOptions) (*Report, error) {
	rd := NewReader(r, ropts)
	a := NewAnalyzer(aopts)
	for n := 0; rd.Next(); n++ {
		if n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("analyze access log: %w", err)
			}
		}
		e := rd.Entry()
		a.Add(&e)
	}
	if err := rd.Err(); err != nil {
		return nil, err
	}
	return a.Report(rd.Stats()), nil
}

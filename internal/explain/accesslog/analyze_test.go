package accesslog

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	uaSafari    = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15"
	uaSafariIOS = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
	uaChrome    = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	uaFirefox   = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:125.0) Gecko/20100101 Firefox/125.0"
)

// istioLine writes an access-log line in IstioTextFormat.
func istioLine(second int, proto string, code int, details, ua, authority, sni string) string {
	return fmt.Sprintf(`[2026-11-25T10:00:%02d.000Z] "GET /v1/items %s" %d - %s - "-" 0 120 0 - "198.51.100.23" "%s" "req-%d" "%s" "-" - - 10.0.0.11:8443 198.51.100.23:51234 %s -`,
		second, proto, code, details, ua, second, authority, sni)
}

func at(second int) time.Time { return time.Date(2026, 11, 25, 10, 0, second, 0, time.UTC) }

func TestClassifyProducer(t *testing.T) {
	for _, tc := range []struct {
		details string
		want    Producer
	}{
		{"lua_response", ProducerEnvoyFilter},
		{"via_upstream", ProducerApplication},
		{"direct_response", ProducerOther},
		{"ext_authz_denied", ProducerOther},
		{"-", ProducerUnknown},
		{"", ProducerUnknown},
	} {
		t.Run(tc.details, func(t *testing.T) {
			require.Equal(t, tc.want, ClassifyProducer(tc.details))
		})
	}
}

func TestAnalyze(t *testing.T) {
	in := strings.Join([]string{
		istioLine(5, "HTTP/2", 421, "lua_response", uaSafari, "api.example.com", "shop.example.com"),
		istioLine(1, "HTTP/2", 421, "lua_response", uaChrome, "API.example.com:443", "shop.example.com"),
		istioLine(9, "HTTP/2", 421, "via_upstream", uaSafariIOS, "api.example.com.", "Shop.Example.com"),
		istioLine(3, "HTTP/1.1", 421, "via_upstream", "curl/8.5.0", "shop.example.com", "shop.example.com"),
		istioLine(4, "HTTP/1.1", 421, "direct_response", "curl/8.5.0", "api.example.com", "-"),
		istioLine(2, "HTTP/2", 200, "via_upstream", uaSafari, "api.example.com", "shop.example.com"),
		envoyLine,
		istioLine(7, "HTTP/3", 421, "lua_response", uaFirefox, "[2001:db8::1]:443", "shop.example.com"),
		agentInfoLine,
		"garbage",
	}, "\n")
	got, err := Analyze(context.Background(), strings.NewReader(in), ReaderOptions{}, AnalyzerOptions{})
	require.NoError(t, err)

	require.Equal(t, &Report{
		Input: Stats{
			Lines: 10, AccessLog: 8, NotAccessLog: 1, Bad: 1,
			BadByReason: map[Reason]int{ReasonMismatch: 1},
			BadSamples:  []BadLine{{Line: 10, Reason: ReasonMismatch, Detail: `column 1: expected "["`, Text: "garbage"}},
			Formats:     map[string]int{FormatIstio: 7, FormatEnvoy: 1},
		},
		Misdirected:  7,
		Coalesced:    4,
		SameHost:     1,
		NoSNI:        1,
		SNINotLogged: 1,
		WebKit:       2,
		FirstSeen:    at(1),
		LastSeen:     at(9),
		Producers: []ProducerCount{
			{Producer: ProducerEnvoyFilter, Count: 3},
			{Producer: ProducerApplication, Count: 2},
			{Producer: ProducerOther, Detail: "direct_response", Count: 1},
			{Producer: ProducerUnknown, Count: 1},
		},
		Pairs: []Pair{
			{
				SNI: "shop.example.com", Authority: "api.example.com", Kind: PairCoalesced, Count: 3,
				FirstSeen: at(1), LastSeen: at(9),
				Protocols: []NameCount{{"HTTP/2", 3}},
				Clients: []ClientCount{
					{Client{Family: "chrome"}, 1},
					{Client{Family: "safari", WebKit: true}, 1},
					{Client{Family: "safari-ios", WebKit: true}, 1},
				},
				WebKit: 2,
				Producers: []ProducerCount{
					{Producer: ProducerEnvoyFilter, Count: 2},
					{Producer: ProducerApplication, Count: 1},
				},
			},
			{
				SNI: "", Authority: "api.example.com", Kind: PairNoSNI, Count: 1, FirstSeen: at(4), LastSeen: at(4),
				Protocols: []NameCount{{"HTTP/1.1", 1}},
				Clients:   []ClientCount{{Client{Family: "curl"}, 1}},
				Producers: []ProducerCount{{Producer: ProducerOther, Detail: "direct_response", Count: 1}},
			},
			{
				SNI: "", Authority: "api.example.com", Kind: PairSNINotLogged, Count: 1, FirstSeen: at(2), LastSeen: at(2),
				Protocols: []NameCount{{"HTTP/2", 1}},
				Clients:   []ClientCount{{Client{Family: "curl"}, 1}},
				Producers: []ProducerCount{{Producer: ProducerUnknown, Count: 1}},
			},
			{
				SNI: "shop.example.com", Authority: "2001:db8::1", Kind: PairCoalesced, Count: 1, FirstSeen: at(7), LastSeen: at(7),
				Protocols: []NameCount{{"HTTP/3", 1}},
				Clients:   []ClientCount{{Client{Family: "firefox"}, 1}},
				Producers: []ProducerCount{{Producer: ProducerEnvoyFilter, Count: 1}},
			},
			{
				SNI: "shop.example.com", Authority: "shop.example.com", Kind: PairSameHost, Count: 1, FirstSeen: at(3), LastSeen: at(3),
				Protocols: []NameCount{{"HTTP/1.1", 1}},
				Clients:   []ClientCount{{Client{Family: "curl"}, 1}},
				Producers: []ProducerCount{{Producer: ProducerApplication, Count: 1}},
			},
		},
		MaxPairs: DefaultMaxPairs,
	}, got)
}

func TestAnalyzerCapsPairs(t *testing.T) {
	a := NewAnalyzer(AnalyzerOptions{MaxPairs: 2})
	add := func(sni, authority string, n int) {
		for range n {
			a.Add(&Entry{Code: 421, SNI: sni, SNILogged: true, Authority: authority, Protocol: "HTTP/2", Details: "lua_response", Time: at(n)})
		}
	}
	add("a.example", "b.example", 1)
	add("c.example", "d.example", 3)
	add("e.example", "f.example", 2) // past the cap
	add("a.example", "b.example", 1) // a kept pair still counts
	add("g.example", "h.example", 1) // past the cap
	r := a.Report(Stats{})

	require.Equal(t, 8, r.Misdirected)
	require.Equal(t, 8, r.Coalesced)
	require.Equal(t, 2, r.MaxPairs)
	require.Equal(t, []string{"c.example>d.example:3", "a.example>b.example:2"}, pairNames(r.Pairs))
	require.NotNil(t, r.Other)
	require.Equal(t, Pair{
		Kind: PairOther, Count: 3, FirstSeen: at(1), LastSeen: at(2),
		Protocols: []NameCount{{"HTTP/2", 3}},
		Clients:   []ClientCount{{Client{Family: "none"}, 3}},
		Producers: []ProducerCount{{Producer: ProducerEnvoyFilter, Count: 3}},
	}, *r.Other)

	// No cap reached: no Other.
	require.Nil(t, NewAnalyzer(AnalyzerOptions{}).Report(Stats{}).Other)
}

func TestAnalyzerBoundsValuesPerPair(t *testing.T) {
	a := NewAnalyzer(AnalyzerOptions{})
	for i := range 40 {
		a.Add(&Entry{Code: 421, SNI: "a.example", SNILogged: true, Authority: "b.example",
			Protocol: fmt.Sprintf("P/%d", i), Details: fmt.Sprintf("detail_%02d", i)})
	}
	p := a.Report(Stats{}).Pairs[0]
	require.Len(t, p.Protocols, maxProtocolsPerPair+1)
	require.Equal(t, NameCount{overflowName, 40 - maxProtocolsPerPair}, p.Protocols[0])
	require.Len(t, p.Producers, maxDetailsPerPair+1)
	require.Equal(t, ProducerCount{Producer: ProducerOther, Detail: overflowName, Count: 40 - maxDetailsPerPair}, p.Producers[0])
}

func pairNames(ps []Pair) []string {
	var out []string
	for _, p := range ps {
		out = append(out, fmt.Sprintf("%s>%s:%d", p.SNI, p.Authority, p.Count))
	}
	return out
}

func TestReportJSON(t *testing.T) {
	var lines []string
	for i := range 50 {
		lines = append(lines, istioLine(i%60, "HTTP/2", 421, []string{"lua_response", "via_upstream", "x"}[i%3],
			[]string{uaSafari, uaChrome, uaSafariIOS, uaFirefox}[i%4],
			fmt.Sprintf("h%d.example.com", i%7), fmt.Sprintf("s%d.example.com", i%5)))
	}
	in := strings.Join(lines, "\n") + "\ngarbage\n"
	var outs []string
	for range 3 {
		r, err := Analyze(context.Background(), strings.NewReader(in), ReaderOptions{}, AnalyzerOptions{})
		require.NoError(t, err)
		b, err := json.Marshal(r)
		require.NoError(t, err)
		outs = append(outs, string(b))
	}
	require.Equal(t, outs[0], outs[1], "same input, same output")
	require.Equal(t, outs[0], outs[2], "same input, same output")

	keys := regexp.MustCompile(`"([^"]+)":`).FindAllStringSubmatch(outs[0], -1)
	seen := map[string]bool{}
	for _, k := range keys {
		require.Regexp(t, `^[a-z][a-z_]*$`, k[1])
		seen[k[1]] = true
	}
	for _, k := range []string{"input", "misdirected", "coalesced", "same_host", "no_sni", "sni_not_logged", "webkit",
		"first_seen", "last_seen", "producers", "pairs", "max_pairs", "sni", "authority", "kind", "count", "protocols",
		"clients", "family", "producer", "detail", "lines", "access_log", "not_access_log", "bad", "bad_by_reason",
		"bad_samples", "formats", "line", "reason", "text"} {
		require.True(t, seen[k], "key %q", k)
	}

	// An empty report has empty lists, not nulls.
	b, err := json.Marshal(NewAnalyzer(AnalyzerOptions{}).Report(Stats{}))
	require.NoError(t, err)
	require.Equal(t, `{"input":{"lines":0,"blank":0,"access_log":0,"not_access_log":0,"bad":0},"misdirected":0,"coalesced":0,`+
		`"same_host":0,"no_sni":0,"sni_not_logged":0,"webkit":0,"producers":[],"pairs":[],"max_pairs":10000}`, string(b))
}

func TestAnalyzeCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Analyze(ctx, strings.NewReader(demoLine+"\n"), ReaderOptions{}, AnalyzerOptions{})
	require.ErrorIs(t, err, context.Canceled)
}

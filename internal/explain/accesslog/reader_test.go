package accesslog

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/require"
)

// readAll reads every entry of in and returns them with the Stats.
func readAll(t *testing.T, in string, opts ReaderOptions) ([]Entry, Stats) {
	t.Helper()
	r := NewReader(strings.NewReader(in), opts)
	var got []Entry
	for e := range r.All() {
		got = append(got, e)
	}
	require.NoError(t, r.Err())
	return got, r.Stats()
}

// brief is the part of an entry the reader tests look at.
type brief struct {
	Line      int
	Format    string
	Code      int
	Authority string
	SNI       string
	Source    string
}

func briefs(es []Entry) []brief {
	out := make([]brief, len(es))
	for i, e := range es {
		out[i] = brief{e.Line, e.Format, e.Code, e.Authority, e.SNI, e.Source}
	}
	return out
}

func TestReaderMixedInput(t *testing.T) {
	in := strings.Join([]string{
		agentInfoLine,                   // 1
		envoyWarnLine,                   // 2
		demoLine,                        // 3
		"",                              // 4
		jsonLineText,                    // 5
		agentJSONLine,                   // 6
		mixerLine,                       // 7
		"garbage that is no log at all", // 8
		demoLine[:100],                  // 9: truncated
		`{"authority":"api.example.com","response_code":421`, // 10: truncated JSON
		`{"authority": oops}`,                                // 11
		envoyAloneLine,                                       // 12
		klogLine,                                             // 13
		upstreamClusterLine + "\r",                           // 14: CRLF
		envoyLine,                                            // 15
		strings.Replace(demoLine, " 421 ", " 4x1 ", 1), // 16
		rawClusterLine, // 17, no final newline
	}, "\n")
	got, stats := readAll(t, in, ReaderOptions{})
	require.Equal(t, []brief{
		{3, FormatIstio, 421, "api.example.com", "shop.example.com", ""},
		{5, FormatJSON, 421, "api.example.com", "shop.example.com", ""},
		{7, FormatIstio13, 418, "httpbin.org", "", ""},
		{14, FormatIstio, 200, "shop.example.com", "shop.example.com", ""},
		{15, FormatEnvoy, 421, "api.example.com", "", ""},
		{17, FormatIstio, 421, "api.example.com:443", "shop.example.com", ""},
	}, briefs(got))
	require.Equal(t, Stats{
		Lines:        17,
		Blank:        1,
		AccessLog:    6,
		NotAccessLog: 5,
		Bad:          5,
		BadByReason: map[Reason]int{
			ReasonMismatch: 1, ReasonTruncated: 2, ReasonBadJSON: 1, ReasonBadValue: 1,
		},
		BadSamples: []BadLine{
			{Line: 8, Reason: ReasonMismatch, Detail: `column 1: expected "["`, Text: "garbage that is no log at all"},
			{Line: 9, Reason: ReasonTruncated, Detail: `column 101: no "\" \"" after %REQ(X-FORWARDED-FOR)%`, Text: demoLine[:100]},
			{Line: 10, Reason: ReasonTruncated, Detail: "column 50: unexpected end of JSON input", Text: `{"authority":"api.example.com","response_code":421`},
			{Line: 11, Reason: ReasonBadJSON, Detail: "column 15: invalid character 'o' looking for beginning of value", Text: `{"authority": oops}`},
			{Line: 16, Reason: ReasonBadValue, Detail: `column 51: response code "4x1" is not a number: strconv.ParseInt: parsing "4x1": invalid syntax`, Text: clip(strings.Replace(demoLine, " 421 ", " 4x1 ", 1), sampleBytes)},
		},
		Formats: map[string]int{FormatIstio: 3, FormatJSON: 1, FormatIstio13: 1, FormatEnvoy: 1},
	}, stats)

	// The Envoy format logs no SNI: an empty SNI there is "not logged".
	require.False(t, got[4].SNILogged)
	require.True(t, got[2].SNILogged)
}

func TestReaderJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		line string
		want Entry
	}{
		{
			name: "numbers and nulls",
			line: jsonLineText,
			want: Entry{
				Line: 1, Format: FormatJSON, Time: time.Date(2026, 11, 25, 10, 0, 3, 0, time.UTC), Method: "GET",
				Path: "/v1/items", Protocol: "HTTP/2", Code: 421, Details: "lua_response", BytesSent: 120,
				XFF:       "198.51.100.23",
				UserAgent: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/123.0.6312.52 Mobile/15E148 Safari/604.1",
				RequestID: "3f1a-json", Authority: "api.example.com", DownstreamLocal: "10.0.0.11:8443",
				DownstreamRemote: "198.51.100.23:51234", SNI: "shop.example.com", SNILogged: true,
			},
		},
		{
			name: "strings, dashes and unknown keys",
			line: `{"start_time":"2020-10-29T03:22:16.126Z","method":"GET","path":"/headers","protocol":"HTTP/1.1",` +
				`"response_code":"421","response_flags":"-","response_code_details":"via_upstream","bytes_received":"0",` +
				`"bytes_sent":"547","duration":"5","upstream_service_time":"4","authority":"httpbin:8000",` +
				`"requested_server_name":"-","pod_name":"istio-ingressgateway-abc","nested":{"a":[1,2]}}`,
			want: Entry{
				Line: 1, Format: FormatJSON, Time: time.Date(2020, 10, 29, 3, 22, 16, 126e6, time.UTC), Method: "GET",
				Path: "/headers", Protocol: "HTTP/1.1", Code: 421, Details: "via_upstream", BytesSent: 547,
				Duration: 5 * time.Millisecond, UpstreamServiceTime: 4 * time.Millisecond, Authority: "httpbin:8000",
				SNILogged: true,
			},
		},
		{
			name: "no requested_server_name key",
			line: `{"response_code":421,"authority":"api.example.com","start_time":"25/Nov/2026:10:00:00"}`,
			want: Entry{
				Line: 1, Format: FormatJSON, Code: 421, Authority: "api.example.com",
				Fields: map[string]string{"start_time": "25/Nov/2026:10:00:00"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, stats := readAll(t, tc.line+"\n", ReaderOptions{})
			require.Equal(t, 1, stats.AccessLog, "%+v", stats)
			require.Equal(t, []Entry{tc.want}, got)
		})
	}
}

func TestReaderKubectlPrefixes(t *testing.T) {
	const pod = "pod/istio-ingressgateway-7c9d8f6b5-x2k4q/istio-proxy"
	const ts = "2026-11-25T10:00:00.000123456Z"
	customTS, err := ParseFormat("%START_TIME% %RESPONSE_CODE% %REQ(:AUTHORITY)% %REQUESTED_SERVER_NAME%")
	require.NoError(t, err)
	noTime, err := ParseFormat("%RESPONSE_CODE% %REQ(:AUTHORITY)% %REQUESTED_SERVER_NAME%")
	require.NoError(t, err)
	for _, tc := range []struct {
		name     string
		line     string
		format   *Format
		want     brief
		wantTime time.Time
	}{
		{"--prefix", "[" + pod + "] " + demoLine, nil,
			brief{1, FormatIstio, 421, "api.example.com", "shop.example.com", pod}, time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)},
		{"--timestamps", ts + " " + demoLine, nil,
			brief{1, FormatIstio, 421, "api.example.com", "shop.example.com", ""}, time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)},
		{"--prefix --timestamps", "[" + pod + "] " + ts + " " + jsonLineText, nil,
			brief{1, FormatJSON, 421, "api.example.com", "shop.example.com", pod}, time.Date(2026, 11, 25, 10, 0, 3, 0, time.UTC)},
		{"timestamps first", ts + " [" + pod + "] " + demoLine, nil,
			brief{1, FormatIstio, 421, "api.example.com", "shop.example.com", pod}, time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)},
		{"a format that starts with the time, no --timestamps", "2026-11-25T10:00:05.000Z 421 api.example.com shop.example.com", customTS,
			brief{1, FormatCustom, 421, "api.example.com", "shop.example.com", ""}, time.Date(2026, 11, 25, 10, 0, 5, 0, time.UTC)},
		{"a format that starts with the time, --timestamps", ts + " 2026-11-25T10:00:05.000Z 421 api.example.com shop.example.com", customTS,
			brief{1, FormatCustom, 421, "api.example.com", "shop.example.com", ""}, time.Date(2026, 11, 25, 10, 0, 5, 0, time.UTC)},
		{"no START_TIME: kubectl's time", "[" + pod + "] " + ts + " 421 api.example.com shop.example.com", noTime,
			brief{1, FormatCustom, 421, "api.example.com", "shop.example.com", pod}, time.Date(2026, 11, 25, 10, 0, 0, 123456, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, stats := readAll(t, tc.line+"\n", ReaderOptions{Format: tc.format})
			require.Equal(t, 1, stats.AccessLog, "%+v", stats)
			require.Equal(t, []brief{tc.want}, briefs(got))
			require.Equal(t, tc.wantTime, got[0].Time)
		})
	}

	t.Run("istio-agent lines behind the prefixes", func(t *testing.T) {
		in := "[" + pod + "] " + ts + " " + agentInfoLine + "\n" + "[" + pod + "] " + ts + " " + agentJSONLine + "\n"
		got, stats := readAll(t, in, ReaderOptions{})
		require.Empty(t, got)
		require.Equal(t, 2, stats.NotAccessLog)
		require.Zero(t, stats.Bad)
	})
}

func TestReaderLongLines(t *testing.T) {
	t.Run("a line over 1 MiB in the middle", func(t *testing.T) {
		long := "[" + strings.Repeat("a", DefaultMaxLineBytes+512<<10)
		got, stats := readAll(t, demoLine+"\n"+long+"\n"+rawClusterLine+"\n", ReaderOptions{})
		require.Equal(t, []int{1, 3}, []int{got[0].Line, got[1].Line})
		require.Equal(t, 3, stats.Lines)
		require.Equal(t, map[Reason]int{ReasonTooLong: 1}, stats.BadByReason)
		require.Len(t, stats.BadSamples, 1)
		s := stats.BadSamples[0]
		require.Equal(t, 2, s.Line)
		require.Equal(t, "longer than 1048576 bytes", s.Detail)
		require.LessOrEqual(t, len(s.Text), sampleBytes+len("…"))
		require.True(t, strings.HasPrefix(s.Text, "[aaaa"))
	})

	t.Run("a long last line with no newline", func(t *testing.T) {
		_, stats := readAll(t, demoLine+"\n"+strings.Repeat("b", 3<<20), ReaderOptions{})
		require.Equal(t, Stats{
			Lines: 2, AccessLog: 1, Bad: 1,
			BadByReason: map[Reason]int{ReasonTooLong: 1},
			BadSamples:  []BadLine{{Line: 2, Reason: ReasonTooLong, Detail: "longer than 1048576 bytes", Text: strings.Repeat("b", 200) + "…"}},
			Formats:     map[string]int{FormatIstio: 1},
		}, stats)
	})

	t.Run("the limit itself", func(t *testing.T) {
		limit := len(demoLine)
		got, stats := readAll(t, demoLine+"\r\n"+demoLine+" x\n"+demoLine, ReaderOptions{MaxLineBytes: limit})
		require.Len(t, got, 2)
		require.Equal(t, map[Reason]int{ReasonTooLong: 1}, stats.BadByReason)
		require.Equal(t, 2, stats.BadSamples[0].Line)
	})
}

func TestReaderSamples(t *testing.T) {
	in := strings.Repeat("garbage\n", 10) + strings.Repeat(`{"x":`+"\n", 2)
	_, stats := readAll(t, in, ReaderOptions{MaxSamples: 2})
	require.Equal(t, map[Reason]int{ReasonMismatch: 10, ReasonTruncated: 2}, stats.BadByReason)
	var lines []int
	for _, s := range stats.BadSamples {
		lines = append(lines, s.Line)
	}
	require.Equal(t, []int{1, 2, 11, 12}, lines)

	_, stats = readAll(t, in, ReaderOptions{MaxSamples: -1})
	require.Equal(t, 12, stats.Bad)
	require.Empty(t, stats.BadSamples)

	// A sample is valid UTF-8 and clipped.
	_, stats = readAll(t, "\xff\xfe"+strings.Repeat("é", 300)+"\n", ReaderOptions{})
	require.Len(t, stats.BadSamples, 1)
	require.True(t, strings.HasPrefix(stats.BadSamples[0].Text, "\uFFFD"))
	require.True(t, strings.HasSuffix(stats.BadSamples[0].Text, "é…"))
}

func TestReaderUserFormat(t *testing.T) {
	f, err := ParseFormat(`%REQ(:AUTHORITY)% %RESPONSE_CODE% sni=%REQUESTED_SERVER_NAME%`)
	require.NoError(t, err)
	in := "api.example.com 421 sni=shop.example.com\n" + demoLine + "\n" + jsonLineText + "\nnot it\n"
	got, stats := readAll(t, in, ReaderOptions{Format: f})
	require.Equal(t, []brief{
		{1, FormatCustom, 421, "api.example.com", "shop.example.com", ""},
		{2, FormatIstio, 421, "api.example.com", "shop.example.com", ""},
		{3, FormatJSON, 421, "api.example.com", "shop.example.com", ""},
	}, briefs(got))
	// The line none matches is reported against the user's format.
	require.Equal(t, []BadLine{{
		Line: 4, Reason: ReasonBadValue, Text: "not it",
		Detail: `column 5: response code "it" is not a number: strconv.ParseInt: parsing "it": invalid syntax`,
	}}, stats.BadSamples)
}

func TestReaderReadError(t *testing.T) {
	boom := errors.New("boom")
	r := NewReader(io.MultiReader(strings.NewReader(demoLine+"\n"), iotest.ErrReader(boom)), ReaderOptions{})
	require.True(t, r.Next())
	require.Equal(t, 421, r.Entry().Code)
	require.False(t, r.Next())
	require.ErrorIs(t, r.Err(), boom)
	require.EqualError(t, r.Err(), "read access log: boom")
	require.False(t, r.Next())
}

func TestIstioJSONKeys(t *testing.T) {
	require.Equal(t, []string{
		"start_time", "method", "path", "protocol", "response_code", "response_flags", "response_code_details",
		"connection_termination_details", "upstream_transport_failure_reason", "bytes_received", "bytes_sent",
		"duration", "upstream_service_time", "x_forwarded_for", "user_agent", "request_id", "authority",
		"upstream_host", "upstream_cluster", "upstream_local_address", "downstream_local_address",
		"downstream_remote_address", "requested_server_name", "route_name",
	}, IstioJSONKeys())
}

// A bad line behind kubectl's prefixes: the column counts in the line as
// quoted, prefixes included.
func TestReaderBadLineColumnWithPrefix(t *testing.T) {
	const prefix = "[pod/gw-0/istio-proxy] "
	bare := `[2026-11-25T10:00:21.000Z] "GET /v1/it`
	var cols []int
	for _, line := range []string{bare, prefix + bare} {
		r := NewReader(strings.NewReader(line+"\n"), ReaderOptions{})
		for r.Next() {
		}
		st := r.Stats()
		require.Len(t, st.BadSamples, 1)
		var col int
		_, err := fmt.Sscanf(st.BadSamples[0].Detail, "column %d", &col)
		require.NoError(t, err, st.BadSamples[0].Detail)
		cols = append(cols, col)
	}
	require.Equal(t, cols[0]+len(prefix), cols[1])
}

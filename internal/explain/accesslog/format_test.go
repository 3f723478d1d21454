package accesslog

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Lines as Istio writes them. demoLine is the one `gatewatch demo` writes.
const (
	demoLine = `[2026-11-25T10:00:00.000Z] "GET /v1/items HTTP/2" 421 - lua_response - "-" 0 120 0 - "198.51.100.23" ` +
		`"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15" ` +
		`"3f1a-demo" "api.example.com" "-" - - 10.0.0.11:8443 198.51.100.23:51234 shop.example.com -`

	// Istio ≥ 1.23 (%UPSTREAM_CLUSTER_RAW%): an answer from the application.
	rawClusterLine = `[2026-11-25T10:00:01.250Z] "GET /static/app.js?v=3 HTTP/2" 421 - via_upstream - "-" 0 64 3 2 ` +
		`"203.0.113.7, 10.0.0.2" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36" ` +
		`"9b2c7e4a-1f0d-4c55-8a8e-2f6f1c3d9e10" "api.example.com:443" "10.244.1.17:8080" outbound|8080||api.default.svc.cluster.local ` +
		`10.244.0.5:48712 10.244.0.5:8443 203.0.113.7:50123 shop.example.com api-route.default`

	// Istio 1.9–1.22 (%UPSTREAM_CLUSTER%, which 1.22 ends with ";").
	upstreamClusterLine = `[2024-03-02T08:15:30.042Z] "POST /cart HTTP/1.1" 200 - via_upstream - "-" 512 87 12 11 "-" ` +
		`"curl/8.5.0" "c0ffee00-0000-4000-8000-000000000001" "shop.example.com" "10.244.2.9:8080" ` +
		`outbound|8080||shop.default.svc.cluster.local; 10.244.0.5:51000 10.244.0.5:8443 192.0.2.10:40000 shop.example.com shop-route`

	// Istio 1.3–1.8, with the Mixer status.
	mixerLine = `[2020-05-13T22:03:44.187Z] "GET /status/418 HTTP/1.1" 418 - "-" "-" 0 135 26 25 "-" "curl/7.64.0" ` +
		`"f097c809-302a-48fd-984f-445fe529d68a" "httpbin.org" "10.0.4.13:80" outbound|80||httpbin.default.svc.cluster.local ` +
		`10.0.0.93:37018 10.0.4.13:80 10.0.0.93:39849 - default`

	// Envoy's own default format: no SNI.
	envoyLine = `[2026-11-25T10:00:02.000Z] "GET /v1/items HTTP/2" 421 - 0 0 1 - "-" "curl/8.5.0" "e1" "api.example.com" "-"`

	// Istio's JSON format as Envoy writes it: numbers as numbers, unset as null.
	jsonLineText = `{"authority":"api.example.com","bytes_received":0,"bytes_sent":120,"connection_termination_details":null,` +
		`"downstream_local_address":"10.0.0.11:8443","downstream_remote_address":"198.51.100.23:51234","duration":0,` +
		`"method":"GET","path":"/v1/items","protocol":"HTTP/2","request_id":"3f1a-json","requested_server_name":"shop.example.com",` +
		`"response_code":421,"response_code_details":"lua_response","response_flags":"-","route_name":null,` +
		`"start_time":"2026-11-25T10:00:03.000Z","upstream_cluster":null,"upstream_host":null,"upstream_local_address":null,` +
		`"upstream_service_time":null,"upstream_transport_failure_reason":null,` +
		`"user_agent":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/123.0.6312.52 Mobile/15E148 Safari/604.1",` +
		`"x_forwarded_for":"198.51.100.23"}`

	// Lines of the istio-proxy container that are not access-log lines.
	agentInfoLine  = "2026-11-25T09:59:58.123456Z\tinfo\tEnvoy proxy is ready"
	envoyWarnLine  = "2026-11-25T09:59:57.000000Z\twarning\tenvoy config external/envoy/source/extensions/config_subscription/grpc/grpc_stream.h:193\tStreamAggregatedResources gRPC config stream to xds-grpc closed since 1800s ago: 13, \tthread=15"
	agentJSONLine  = `{"level":"info","time":"2026-11-25T09:59:58.123456Z","scope":"envoy","msg":"Envoy proxy is ready"}`
	envoyAloneLine = "[2026-11-25 09:59:58.123][15][info][main] [source/server/server.cc:932] starting main dispatch loop"
	klogLine       = "I1125 09:59:58.123456       1 leaderelection.go:250] attempting to acquire leader lease"
)

func mustFormat(t *testing.T, name, src string) *Format {
	t.Helper()
	f, err := compileFormat(name, src)
	require.NoError(t, err)
	return f
}

func TestIstioFormats(t *testing.T) {
	for _, tc := range []struct {
		name   string
		format string
		line   string
		want   Entry
	}{
		{
			name:   "demo line, UPSTREAM_CLUSTER_RAW",
			format: IstioTextFormat,
			line:   demoLine,
			want: Entry{
				Time: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), Method: "GET", Path: "/v1/items", Protocol: "HTTP/2",
				Code: 421, Details: "lua_response", BytesSent: 120, XFF: "198.51.100.23",
				UserAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
				RequestID: "3f1a-demo", Authority: "api.example.com", DownstreamLocal: "10.0.0.11:8443",
				DownstreamRemote: "198.51.100.23:51234", SNI: "shop.example.com", SNILogged: true,
			},
		},
		{
			name:   "application answer, UPSTREAM_CLUSTER_RAW",
			format: IstioTextFormat,
			line:   rawClusterLine,
			want: Entry{
				Time: time.Date(2026, 11, 25, 10, 0, 1, 250e6, time.UTC), Method: "GET", Path: "/static/app.js?v=3", Protocol: "HTTP/2",
				Code: 421, Details: "via_upstream", BytesSent: 64, Duration: 3 * time.Millisecond, UpstreamServiceTime: 2 * time.Millisecond,
				XFF:       "203.0.113.7, 10.0.0.2",
				UserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
				RequestID: "9b2c7e4a-1f0d-4c55-8a8e-2f6f1c3d9e10", Authority: "api.example.com:443",
				UpstreamHost: "10.244.1.17:8080", UpstreamCluster: "outbound|8080||api.default.svc.cluster.local",
				UpstreamLocal: "10.244.0.5:48712", DownstreamLocal: "10.244.0.5:8443", DownstreamRemote: "203.0.113.7:50123",
				SNI: "shop.example.com", SNILogged: true, Route: "api-route.default",
			},
		},
		{
			name:   "UPSTREAM_CLUSTER, Istio 1.9 to 1.22",
			format: IstioTextFormatUpstreamCluster,
			line:   upstreamClusterLine,
			want: Entry{
				Time: time.Date(2024, 3, 2, 8, 15, 30, 42e6, time.UTC), Method: "POST", Path: "/cart", Protocol: "HTTP/1.1",
				Code: 200, Details: "via_upstream", BytesReceived: 512, BytesSent: 87, Duration: 12 * time.Millisecond,
				UpstreamServiceTime: 11 * time.Millisecond, UserAgent: "curl/8.5.0", RequestID: "c0ffee00-0000-4000-8000-000000000001",
				Authority: "shop.example.com", UpstreamHost: "10.244.2.9:8080",
				UpstreamCluster: "outbound|8080||shop.default.svc.cluster.local;", UpstreamLocal: "10.244.0.5:51000",
				DownstreamLocal: "10.244.0.5:8443", DownstreamRemote: "192.0.2.10:40000", SNI: "shop.example.com", SNILogged: true,
				Route: "shop-route",
			},
		},
		{
			name:   "Mixer status, Istio 1.3 to 1.8",
			format: IstioTextFormatMixer,
			line:   mixerLine,
			want: Entry{
				Time: time.Date(2020, 5, 13, 22, 3, 44, 187e6, time.UTC), Method: "GET", Path: "/status/418", Protocol: "HTTP/1.1",
				Code: 418, BytesSent: 135, Duration: 26 * time.Millisecond, UpstreamServiceTime: 25 * time.Millisecond,
				UserAgent: "curl/7.64.0", RequestID: "f097c809-302a-48fd-984f-445fe529d68a", Authority: "httpbin.org",
				UpstreamHost: "10.0.4.13:80", UpstreamCluster: "outbound|80||httpbin.default.svc.cluster.local",
				UpstreamLocal: "10.0.0.93:37018", DownstreamLocal: "10.0.4.13:80", DownstreamRemote: "10.0.0.93:39849",
				SNILogged: true, Route: "default",
				Fields: map[string]string{"DYNAMIC_METADATA(istio.mixer:status)": ""},
			},
		},
		{
			name:   "Envoy default",
			format: EnvoyTextFormat,
			line:   envoyLine,
			want: Entry{
				Time: time.Date(2026, 11, 25, 10, 0, 2, 0, time.UTC), Method: "GET", Path: "/v1/items", Protocol: "HTTP/2",
				Code: 421, Duration: time.Millisecond, UserAgent: "curl/8.5.0", RequestID: "e1", Authority: "api.example.com",
			},
		},
		{
			name:   "TCP connection: dashes everywhere",
			format: IstioTextFormat,
			line:   `[2020-10-29T03:23:33.415Z] "- - -" 0 NR filter_chain_not_found - "-" 0 0 0 - "-" "-" "-" "-" "-" - - 172.17.0.7:80 172.17.0.6:59800 - -`,
			want: Entry{
				Time: time.Date(2020, 10, 29, 3, 23, 33, 415e6, time.UTC), Flags: "NR", Details: "filter_chain_not_found",
				DownstreamLocal: "172.17.0.7:80", DownstreamRemote: "172.17.0.6:59800", SNILogged: true,
			},
		},
		{
			name:   "IPv6 authority and addresses",
			format: IstioTextFormat,
			line: `[2026-11-25T10:00:04.000Z] "GET / HTTP/2" 421 - lua_response - "-" 0 0 0 - "-" "curl/8.5.0" "v6" ` +
				`"[2001:db8::1]:8443" "-" - - [2001:db8::a]:8443 [2001:db8::2]:50000 shop.example.com -`,
			want: Entry{
				Time: time.Date(2026, 11, 25, 10, 0, 4, 0, time.UTC), Method: "GET", Path: "/", Protocol: "HTTP/2", Code: 421,
				Details: "lua_response", UserAgent: "curl/8.5.0", RequestID: "v6", Authority: "[2001:db8::1]:8443",
				DownstreamLocal: "[2001:db8::a]:8443", DownstreamRemote: "[2001:db8::2]:50000", SNI: "shop.example.com", SNILogged: true,
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParseFormat(tc.format)
			require.NoError(t, err)
			var got Entry
			require.NoError(t, f.ParseLine(tc.line, &got))
			tc.want.Format = FormatCustom
			require.Equal(t, tc.want, got)
		})
	}
}

func TestCustomFormat(t *testing.T) {
	const format = `%START_TIME(%Y/%m/%d %H:%M:%S)% %REQ(:AUTHORITY)% sni=%REQUESTED_SERVER_NAME% %RESPONSE_CODE% ` +
		`%RESPONSE_CODE_DETAILS% "%REQ(USER-AGENT):32%" 100%% %PROTOCOL% %DYNAMIC_METADATA(envoy.lua:reason)%\n`
	f, err := ParseFormat(format)
	require.NoError(t, err)
	require.Equal(t, format, f.String())
	require.Equal(t, FormatCustom, f.Name())
	require.Equal(t, []string{
		"START_TIME(%Y/%m/%d %H:%M:%S)", "REQ(:AUTHORITY)", "REQUESTED_SERVER_NAME", "RESPONSE_CODE",
		"RESPONSE_CODE_DETAILS", "REQ(USER-AGENT):32", "PROTOCOL", "DYNAMIC_METADATA(envoy.lua:reason)",
	}, f.Operators())

	var e Entry
	require.NoError(t, f.ParseLine(`2026/11/25 10:00:00 api.example.com sni=shop.example.com 421 lua_response "Mozilla/5.0 (iPhone; CPU iPhone " 100% HTTP/2 sni and authority differ`, &e))
	require.Equal(t, Entry{
		Format: FormatCustom, Time: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), Authority: "api.example.com",
		SNI: "shop.example.com", SNILogged: true, Code: 421, Details: "lua_response", UserAgent: "Mozilla/5.0 (iPhone; CPU iPhone ",
		Protocol: "HTTP/2", Fields: map[string]string{"DYNAMIC_METADATA(envoy.lua:reason)": "sni and authority differ"},
	}, e)

	t.Run("time layouts", func(t *testing.T) {
		want := time.Date(2026, 11, 25, 10, 0, 0, 123e6, time.UTC)
		for _, tc := range []struct{ format, value string }{
			{"%START_TIME%", "2026-11-25T10:00:00.123Z"},
			{"%START_TIME(%Y-%m-%dT%H:%M:%E3SZ)%", "2026-11-25T10:00:00.123Z"},
			{"%START_TIME(%Y-%m-%dT%H:%M:%S.%3f%z)%", "2026-11-25T11:00:00.123+0100"},
			{"%START_TIME(%s.%3f)%", "1795600800.123"},
			{"%START_TIME(%d/%b/%Y:%H:%M:%E3S %z)%", "25/Nov/2026:10:00:00.123 +0000"},
		} {
			f, err := ParseFormat("[" + tc.format + "] %RESPONSE_CODE%")
			require.NoError(t, err, tc.format)
			var e Entry
			require.NoError(t, f.ParseLine("["+tc.value+"] 421", &e), tc.format)
			require.WithinDuration(t, want, e.Time, time.Millisecond, tc.format)
			require.Equal(t, 421, e.Code)
		}
	})

	t.Run("a time layout it cannot read is kept as text", func(t *testing.T) {
		f, err := ParseFormat("%START_TIME(%c)% %RESPONSE_CODE%")
		require.NoError(t, err)
		var e Entry
		require.NoError(t, f.ParseLine("Wed 421", &e))
		require.True(t, e.Time.IsZero())
		require.Equal(t, map[string]string{"START_TIME(%c)": "Wed"}, e.Fields)
		require.Equal(t, 421, e.Code)
	})
}

func TestParseFormatErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		format  string
		wantErr error
		column  int
		message string
	}{
		{"unterminated operator", `[%START_TIME%] %REQ(:AUTHORITY)`, ErrUnterminatedOperator, 16,
			`access log format: column 16: unterminated command operator "%REQ(:AUTHORITY)"`},
		{"unterminated argument", `%START_TIME(%Y-%m-%d`, ErrUnterminatedOperator, 1,
			`access log format: column 1: unterminated command operator "%START_TIME(%Y-%m-%d"`},
		{"percent at the end", `"%REQ(:AUTHORITY)%" 100%`, ErrUnterminatedOperator, 24,
			`access log format: column 24: unterminated command operator "%"`},
		{"lone percent", `100% done`, ErrInvalidOperator, 4,
			`access log format: column 4: invalid command operator "% "`},
		{"lower-case operator", `"%req(:authority)%"`, ErrInvalidOperator, 2,
			`access log format: column 2: invalid command operator "%r"`},
		{"column counts characters", `« %PROTOCOL`, ErrUnterminatedOperator, 3,
			`access log format: column 3: unterminated command operator "%PROTOCOL"`},
		{"adjacent operators", `%PROTOCOL%%RESPONSE_CODE%`, ErrAdjacentOperators, 11,
			`access log format: column 11: command operators with no text between them "%RESPONSE_CODE%"`},
		{"empty", "\n", ErrEmptyFormat, 1, `access log format: column 1: empty format`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFormat(tc.format)
			require.ErrorIs(t, err, tc.wantErr)
			var fe *FormatError
			require.True(t, errors.As(err, &fe))
			require.Equal(t, tc.column, fe.Column)
			require.Equal(t, tc.message, err.Error())
		})
	}
}

func TestParseLineErrors(t *testing.T) {
	f := mustFormat(t, FormatIstio, IstioTextFormat)
	for _, tc := range []struct {
		name   string
		line   string
		reason Reason
		column int
	}{
		{"garbage", "hello world", ReasonMismatch, 1},
		{"bracket, then garbage", "[foo] bar", ReasonMismatch, 10},
		{"cut inside the user agent", demoLine[:140], ReasonTruncated, 141},
		{"cut at a space", strings.TrimSuffix(demoLine, " shop.example.com -"), ReasonTruncated, len(demoLine) - 18},
		{"cut before a literal", demoLine[:len(`[2026-11-25T10:00:00.000Z] "GET /v1/items HTTP/2`)], ReasonTruncated, 49},
		{"code not a number", strings.Replace(demoLine, " 421 ", " abc ", 1), ReasonBadValue, 51},
		{"bad time", strings.Replace(demoLine, "2026-11-25T10", "2026-13-25T10", 1), ReasonBadValue, 2},
		// The space ends %RESPONSE_CODE_DETAILS%; the next field shows it.
		{"space in an unquoted field", strings.Replace(demoLine, "lua_response", "lua response", 1), ReasonMismatch, 61},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e Entry
			err := f.ParseLine(tc.line, &e)
			var le *LineError
			require.True(t, errors.As(err, &le), "error %v", err)
			require.Equal(t, tc.reason, le.Reason, le.Error())
			if tc.column > 0 {
				require.Equal(t, tc.column, le.Column, le.Error())
			}
		})
	}
}

func TestParseLineTextAfterTheEnd(t *testing.T) {
	f := mustFormat(t, FormatEnvoy, EnvoyTextFormat)
	var e Entry
	require.NoError(t, f.ParseLine(envoyLine, &e))
	err := f.ParseLine(envoyLine+` "extra"`, &e)
	var le *LineError
	require.True(t, errors.As(err, &le), "error %v", err)
	require.Equal(t, ReasonMismatch, le.Reason)
	require.Equal(t, len(envoyLine)+1, le.Column)
	require.Contains(t, le.Error(), `unexpected text after the last field: " \"extra\""`)

	// The last field of a format takes the rest of the line, spaces and all.
	f = mustFormat(t, FormatIstio, IstioTextFormat)
	require.NoError(t, f.ParseLine(demoLine+" two words", &e))
	require.Equal(t, "- two words", e.Route)
}

func TestNormalizeHost(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"api.example.com", "api.example.com"},
		{"API.Example.COM", "api.example.com"},
		{"api.example.com:443", "api.example.com"},
		{"api.example.com.", "api.example.com"},
		{"api.example.com.:8443", "api.example.com"},
		{"[2001:db8::1]:8443", "2001:db8::1"},
		{"[2001:DB8:0::1]", "2001:db8::1"},
		{"2001:db8::1", "2001:db8::1"},
		{"192.0.2.1:80", "192.0.2.1"},
		{" shop.example.com ", "shop.example.com"},
		{"-", ""},
		{"", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			require.Equal(t, tc.want, NormalizeHost(tc.in))
		})
	}
}

// Package accesslog reads Istio/Envoy gateway access logs and explains the
// HTTP 421 (Misdirected Request) answers in them.
//
// A Reader turns a stream of log lines into Entry values. It understands
// Istio's default text format (every version since 1.3), Istio's default JSON
// format (meshConfig.accessLogEncoding: JSON), Envoy's own default format and a
// user-given Envoy format string (ParseFormat). It detects the format line by
// line, strips the prefixes `kubectl logs --prefix --timestamps` adds, skips the
// istio-proxy/istio-agent lines that are not access-log lines, and counts bad
// lines by reason without ever stopping on one.
//
// An Analyzer groups the 421 entries by (TLS SNI, :authority) host pair: a 421
// whose SNI names another host than :authority is the mark of HTTP/2
// connection coalescing, where a browser reuses a connection opened for host A
// to ask for host B because A's certificate also covers B. For each pair it
// reports when it was seen, over which protocols, by which browsers (Safari and
// every iOS browser, which are WebKit and do not retry a 421, are flagged) and
// who answered 421: an EnvoyFilter Lua script or the application.
package accesslog

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Entry is one access-log line. Text fields hold "" where the log has "-" or
// null.
type Entry struct {
	// Line is the line number in the input, from 1.
	Line int `json:"line"`
	// Source is the kubectl --prefix of the line ("pod/NAME/CONTAINER"), if any.
	Source string `json:"source,omitempty"`
	// Format names the format the line matched: FormatIstio, FormatIstio13,
	// FormatEnvoy, FormatJSON or FormatCustom.
	Format string `json:"format"`

	// Time is %START_TIME%; where the format has none (or one whose layout
	// is not understood) it is the kubectl --timestamps time, if any.
	Time     time.Time `json:"time,omitzero"`
	Method   string    `json:"method,omitempty"`
	Path     string    `json:"path,omitempty"`
	Protocol string    `json:"protocol,omitempty"`
	// Code is %RESPONSE_CODE%; 0 where Envoy sent no response.
	Code  int    `json:"code"`
	Flags string `json:"response_flags,omitempty"`
	// Details is %RESPONSE_CODE_DETAILS%: "via_upstream" when the upstream
	// answered, "lua_response" when a Lua filter did.
	Details             string        `json:"response_code_details,omitempty"`
	TerminationDetails  string        `json:"connection_termination_details,omitempty"`
	UpstreamFailure     string        `json:"upstream_transport_failure_reason,omitempty"`
	BytesReceived       int64         `json:"bytes_received"`
	BytesSent           int64         `json:"bytes_sent"`
	Duration            time.Duration `json:"duration_ns"`
	UpstreamServiceTime time.Duration `json:"upstream_service_time_ns,omitempty"`
	XFF                 string        `json:"x_forwarded_for,omitempty"`
	UserAgent           string        `json:"user_agent,omitempty"`
	RequestID           string        `json:"request_id,omitempty"`
	// Authority is the :authority (Host) header as logged, port included.
	Authority        string `json:"authority,omitempty"`
	UpstreamHost     string `json:"upstream_host,omitempty"`
	UpstreamCluster  string `json:"upstream_cluster,omitempty"`
	UpstreamLocal    string `json:"upstream_local_address,omitempty"`
	DownstreamLocal  string `json:"downstream_local_address,omitempty"`
	DownstreamRemote string `json:"downstream_remote_address,omitempty"`
	// SNI is %REQUESTED_SERVER_NAME%, the TLS server name the client sent.
	SNI string `json:"requested_server_name,omitempty"`
	// SNILogged tells whether the format logs the SNI at all, so that an
	// empty SNI means "the client sent none" rather than "not logged".
	SNILogged bool   `json:"sni_logged"`
	Route     string `json:"route_name,omitempty"`
	// Fields holds the operators of a custom or older format that have no
	// field above, keyed by the operator without its % signs, e.g.
	// "DYNAMIC_METADATA(istio.mixer:status)".
	Fields map[string]string `json:"fields,omitempty"`
}

// fieldKind says which Entry field a format operator or JSON key fills.
type fieldKind uint8

const (
	kindOther fieldKind = iota
	kindStartTime
	kindMethod
	kindPath
	kindProtocol
	kindCode
	kindFlags
	kindDetails
	kindTermination
	kindUpstreamFailure
	kindBytesReceived
	kindBytesSent
	kindDuration
	kindUpstreamServiceTime
	kindXFF
	kindUserAgent
	kindRequestID
	kindAuthority
	kindUpstreamHost
	kindUpstreamCluster
	kindUpstreamLocal
	kindDownstreamLocal
	kindDownstreamRemote
	kindSNI
	kindRoute
)

// setField stores v, a value as logged, in the field of e that k names.
// Numbers must be numbers; the time is parsed with layout. It returns a
// *LineError of ReasonBadValue for a value that does not fit.
func setField(e *Entry, k fieldKind, v string, layout timeLayout) error {
	if v == "-" {
		v = ""
	}
	switch k {
	case kindStartTime:
		if v == "" {
			return nil
		}
		t, ok, err := layout.parse(v)
		if err != nil {
			return &LineError{Reason: ReasonBadValue, Detail: fmt.Sprintf("start time %q", v), Err: err}
		}
		if ok {
			e.Time = t
		}
	case kindMethod:
		e.Method = v
	case kindPath:
		e.Path = v
	case kindProtocol:
		e.Protocol = v
	case kindCode:
		n, err := parseCount(v)
		if err != nil {
			return &LineError{Reason: ReasonBadValue, Detail: fmt.Sprintf("response code %q is not a number", v), Err: err}
		}
		e.Code = int(n)
	case kindFlags:
		e.Flags = v
	case kindDetails:
		e.Details = v
	case kindTermination:
		e.TerminationDetails = v
	case kindUpstreamFailure:
		e.UpstreamFailure = v
	case kindBytesReceived, kindBytesSent, kindDuration:
		n, err := parseCount(v)
		if err != nil {
			return &LineError{Reason: ReasonBadValue, Detail: fmt.Sprintf("%s %q is not a number", kindNoun(k), v), Err: err}
		}
		switch k {
		case kindBytesReceived:
			e.BytesReceived = n
		case kindBytesSent:
			e.BytesSent = n
		default:
			e.Duration = time.Duration(n) * time.Millisecond
		}
	case kindUpstreamServiceTime:
		// A response header: whatever the upstream sent. Keep a number, drop
		// anything else rather than call the line bad.
		if n, err := parseCount(v); err == nil {
			e.UpstreamServiceTime = time.Duration(n) * time.Millisecond
		}
	case kindXFF:
		e.XFF = v
	case kindUserAgent:
		e.UserAgent = v
	case kindRequestID:
		e.RequestID = v
	case kindAuthority:
		e.Authority = v
	case kindUpstreamHost:
		e.UpstreamHost = v
	case kindUpstreamCluster:
		e.UpstreamCluster = v
	case kindUpstreamLocal:
		e.UpstreamLocal = v
	case kindDownstreamLocal:
		e.DownstreamLocal = v
	case kindDownstreamRemote:
		e.DownstreamRemote = v
	case kindSNI:
		e.SNI = v
	case kindRoute:
		e.Route = v
	}
	return nil
}

func kindNoun(k fieldKind) string {
	switch k {
	case kindBytesReceived:
		return "bytes received"
	case kindBytesSent:
		return "bytes sent"
	default:
		return "duration"
	}
}

// parseCount parses a non-negative count as Envoy logs it: digits, or in
// JSON a number that may carry a fraction or an exponent. "" is 0.
func parseCount(v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err == nil {
		if n < 0 {
			return 0, fmt.Errorf("negative: %d", n)
		}
		return n, nil
	}
	if strings.ContainsAny(v, ".eE") {
		f, ferr := strconv.ParseFloat(v, 64)
		if ferr == nil && f >= 0 && f < 1<<62 {
			return int64(f), nil
		}
	}
	return 0, err
}

// NormalizeHost returns the host name in an :authority, Host or SNI value,
// in the form used to compare them: lowercased, without port, without the
// trailing dot of a fully qualified name, and an IPv6 literal without its
// brackets ("[2001:DB8::1]:8443" → "2001:db8::1"). "-" and "" give "".
func NormalizeHost(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || s == "-" {
		return ""
	}
	if s[0] == '[' {
		if end := strings.IndexByte(s, ']'); end > 0 {
			s = s[1:end]
		} else {
			s = s[1:]
		}
	} else if i := strings.LastIndexByte(s, ':'); i >= 0 && strings.IndexByte(s, ':') == i {
		// One colon: host:port. More than one without brackets is a bare
		// IPv6 address, kept whole.
		s = s[:i]
	}
	s = strings.TrimSuffix(s, ".")
	s = strings.ToLower(s)
	if strings.IndexByte(s, ':') >= 0 {
		// Write an IPv6 address one way only, so that "2001:DB8:0::1" and
		// "2001:db8::1" are the same host.
		if a, err := netip.ParseAddr(s); err == nil {
			return a.String()
		}
	}
	return s
}

package accesslog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// IstioJSONKeys returns the keys of Istio's default JSON access-log format
// (meshConfig.accessLogEncoding: JSON; EnvoyJSONLogFormatIstio in
// istio/istio), which the Reader reads. Other keys are ignored.
func IstioJSONKeys() []string {
	var j jsonLine
	fields := j.fields()
	keys := make([]string, len(fields))
	for i, f := range fields {
		keys[i] = f.key
	}
	return keys
}

// jsonValue is a JSON value of any kind as text: a string unquoted, a number
// or a boolean as written, null as "". set tells whether the key was there.
type jsonValue struct {
	s   string
	set bool
}

func (v *jsonValue) UnmarshalJSON(b []byte) error {
	v.set = true
	switch {
	case string(b) == "null":
		v.s = ""
	case len(b) >= 2 && b[0] == '"' && bytes.IndexByte(b, '\\') < 0:
		// No escapes: the text between the quotes, which the decoder has
		// already checked.
		v.s = string(b[1 : len(b)-1])
	case len(b) > 0 && b[0] == '"':
		return json.Unmarshal(b, &v.s)
	default:
		v.s = string(b)
	}
	return nil
}

// jsonLine holds the keys of Istio's default JSON format. Envoy writes
// numbers (response_code, bytes_*, duration) as JSON numbers, unset values
// as null; older Envoys wrote strings. Both are read.
type jsonLine struct {
	StartTime                      jsonValue `json:"start_time"`
	Method                         jsonValue `json:"method"`
	Path                           jsonValue `json:"path"`
	Protocol                       jsonValue `json:"protocol"`
	ResponseCode                   jsonValue `json:"response_code"`
	ResponseFlags                  jsonValue `json:"response_flags"`
	ResponseCodeDetails            jsonValue `json:"response_code_details"`
	ConnectionTerminationDetails   jsonValue `json:"connection_termination_details"`
	UpstreamTransportFailureReason jsonValue `json:"upstream_transport_failure_reason"`
	BytesReceived                  jsonValue `json:"bytes_received"`
	BytesSent                      jsonValue `json:"bytes_sent"`
	Duration                       jsonValue `json:"duration"`
	UpstreamServiceTime            jsonValue `json:"upstream_service_time"`
	XForwardedFor                  jsonValue `json:"x_forwarded_for"`
	UserAgent                      jsonValue `json:"user_agent"`
	RequestID                      jsonValue `json:"request_id"`
	Authority                      jsonValue `json:"authority"`
	UpstreamHost                   jsonValue `json:"upstream_host"`
	UpstreamCluster                jsonValue `json:"upstream_cluster"`
	UpstreamLocalAddress           jsonValue `json:"upstream_local_address"`
	DownstreamLocalAddress         jsonValue `json:"downstream_local_address"`
	DownstreamRemoteAddress        jsonValue `json:"downstream_remote_address"`
	RequestedServerName            jsonValue `json:"requested_server_name"`
	RouteName                      jsonValue `json:"route_name"`
}

type jsonField struct {
	key  string
	v    *jsonValue
	kind fieldKind
}

func (j *jsonLine) fields() []jsonField {
	return []jsonField{
		{"start_time", &j.StartTime, kindStartTime},
		{"method", &j.Method, kindMethod},
		{"path", &j.Path, kindPath},
		{"protocol", &j.Protocol, kindProtocol},
		{"response_code", &j.ResponseCode, kindCode},
		{"response_flags", &j.ResponseFlags, kindFlags},
		{"response_code_details", &j.ResponseCodeDetails, kindDetails},
		{"connection_termination_details", &j.ConnectionTerminationDetails, kindTermination},
		{"upstream_transport_failure_reason", &j.UpstreamTransportFailureReason, kindUpstreamFailure},
		{"bytes_received", &j.BytesReceived, kindBytesReceived},
		{"bytes_sent", &j.BytesSent, kindBytesSent},
		{"duration", &j.Duration, kindDuration},
		{"upstream_service_time", &j.UpstreamServiceTime, kindUpstreamServiceTime},
		{"x_forwarded_for", &j.XForwardedFor, kindXFF},
		{"user_agent", &j.UserAgent, kindUserAgent},
		{"request_id", &j.RequestID, kindRequestID},
		{"authority", &j.Authority, kindAuthority},
		{"upstream_host", &j.UpstreamHost, kindUpstreamHost},
		{"upstream_cluster", &j.UpstreamCluster, kindUpstreamCluster},
		{"upstream_local_address", &j.UpstreamLocalAddress, kindUpstreamLocal},
		{"downstream_local_address", &j.DownstreamLocalAddress, kindDownstreamLocal},
		{"downstream_remote_address", &j.DownstreamRemoteAddress, kindDownstreamRemote},
		{"requested_server_name", &j.RequestedServerName, kindSNI},
		{"route_name", &j.RouteName, kindRoute},
	}
}

// parseJSONLine reads a line that starts with "{". accessLog is false for a
// JSON object with none of the access-log keys, such as istio-agent's own
// JSON log lines.
func parseJSONLine(line string, e *Entry) (accessLog bool, err error) {
	return parseJSON(line, e, true)
}

// parseJSON is parseJSONLine; fast tries fastJSON before encoding/json
// (tests compare both).
func parseJSON(line string, e *Entry, fast bool) (accessLog bool, err error) {
	*e = Entry{Format: FormatJSON}
	var j jsonLine
	fields := j.fields()
	if fast && fastJSON(line, fields) {
		// j is filled.
	} else if err := json.Unmarshal([]byte(line), &j); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			reason := ReasonBadJSON
			if int(syn.Offset) >= len(line) {
				reason = ReasonTruncated
			}
			return true, &LineError{Reason: reason, Column: int(syn.Offset), Err: err}
		}
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) && typ.Field == "" {
			// Valid JSON, but not an object.
			return false, nil
		}
		return true, &LineError{Reason: ReasonBadJSON, Err: err}
	}
	found := false
	for _, f := range fields {
		if !f.v.set {
			continue
		}
		found = true
		if f.kind == kindSNI {
			e.SNILogged = true
		}
		if err := setField(e, f.kind, f.v.s, timeLayout{mode: timeRFC3339}); err != nil {
			if f.kind == kindStartTime {
				// Keys name their values: a start_time in another layout
				// does not make the line bad.
				if e.Fields == nil {
					e.Fields = make(map[string]string)
				}
				e.Fields[f.key] = f.v.s
				continue
			}
			var le *LineError
			if errors.As(err, &le) {
				le.Detail = fmt.Sprintf("%s: %s", f.key, le.Detail)
			}
			return true, err
		}
	}
	return found, nil
}

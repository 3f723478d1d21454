package accesslog

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Istio's and Envoy's default text formats, verbatim. The three Istio ones
// come from istio/istio (EnvoyTextLogFormat, today in
// pilot/pkg/model/telemetry_logging.go), Envoy's from its access-log docs
// ("Default format string").
const (
	// IstioTextFormat is Istio's default since 1.23 (istio/istio#52384),
	// which logs %UPSTREAM_CLUSTER_RAW%.
	IstioTextFormat = `[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" ` +
		`%RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% ` +
		`"%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% ` +
		`%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" ` +
		`"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW% ` +
		`%UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% ` +
		`%REQUESTED_SERVER_NAME% %ROUTE_NAME%` + "\n"

	// IstioTextFormatUpstreamCluster is Istio's default from 1.9 to 1.22
	// (istio/istio#27903): IstioTextFormat with %UPSTREAM_CLUSTER%. Its
	// lines have the same shape as IstioTextFormat's.
	IstioTextFormatUpstreamCluster = `[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" ` +
		`%RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% ` +
		`"%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% ` +
		`%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" ` +
		`"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER% ` +
		`%UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% ` +
		`%REQUESTED_SERVER_NAME% %ROUTE_NAME%` + "\n"

	// IstioTextFormatMixer is Istio's default from 1.3 to 1.8: no
	// %RESPONSE_CODE_DETAILS% nor %CONNECTION_TERMINATION_DETAILS%, and
	// the Mixer status in their place.
	IstioTextFormatMixer = `[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" ` +
		`%RESPONSE_CODE% %RESPONSE_FLAGS% "%DYNAMIC_METADATA(istio.mixer:status)%" ` +
		`"%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% ` +
		`%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" ` +
		`"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER% ` +
		`%UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% ` +
		`%REQUESTED_SERVER_NAME% %ROUTE_NAME%` + "\n"

	// EnvoyTextFormat is Envoy's own default. It logs no SNI.
	EnvoyTextFormat = `[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" ` +
		`%RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% ` +
		`%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" ` +
		`"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"` + "\n"
)

// Names of the formats an Entry can come from (Entry.Format, Stats.Formats).
const (
	// FormatIstio is IstioTextFormat or IstioTextFormatUpstreamCluster.
	FormatIstio = "istio"
	// FormatIstio13 is IstioTextFormatMixer.
	FormatIstio13 = "istio-1.3"
	// FormatEnvoy is EnvoyTextFormat.
	FormatEnvoy = "envoy"
	// FormatJSON is Istio's default JSON format.
	FormatJSON = "json"
	// FormatCustom is a format given to ParseFormat.
	FormatCustom = "custom"
)

// Errors a FormatError wraps.
var (
	ErrUnterminatedOperator = errors.New("unterminated command operator")
	ErrInvalidOperator      = errors.New("invalid command operator")
	ErrAdjacentOperators    = errors.New("command operators with no text between them")
	ErrEmptyFormat          = errors.New("empty format")
)

// FormatError is a malformed format string given to ParseFormat.
type FormatError struct {
	// Column is where the problem starts, in characters from 1.
	Column int
	// Operator is the operator text in question, if any.
	Operator string
	// Err is one of the Err* values of this package.
	Err error
}

func (e *FormatError) Error() string {
	if e.Operator == "" {
		return fmt.Sprintf("access log format: column %d: %v", e.Column, e.Err)
	}
	return fmt.Sprintf("access log format: column %d: %v %q", e.Column, e.Err, e.Operator)
}

func (e *FormatError) Unwrap() error { return e.Err }

// Reason says why a line is bad.
type Reason string

// Reasons for a bad line.
const (
	// ReasonTooLong is a line longer than ReaderOptions.MaxLineBytes.
	ReasonTooLong Reason = "too_long"
	// ReasonTruncated is a line that ends before its format does.
	ReasonTruncated Reason = "truncated"
	// ReasonMismatch is a line whose text does not follow any format.
	ReasonMismatch Reason = "format_mismatch"
	// ReasonBadValue is a line with a value that is not what its operator
	// gives, e.g. a response code that is not a number.
	ReasonBadValue Reason = "bad_value"
	// ReasonBadJSON is a line that starts like a JSON object but is not one.
	ReasonBadJSON Reason = "bad_json"
)

// LineError says why a line could not be parsed.
type LineError struct {
	Reason Reason
	// Column is the byte in the line where parsing stopped, from 1; 0 if
	// not known.
	Column int
	// Detail says what was wrong, for people.
	Detail string
	// Err is the underlying error, if any.
	Err error

	// progress counts the format elements matched before the failure, to
	// pick the most telling error among the formats tried.
	progress int
}

func (e *LineError) Error() string {
	s := string(e.Reason)
	if e.Column > 0 {
		s += fmt.Sprintf(" at column %d", e.Column)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *LineError) Unwrap() error { return e.Err }

// Format is a compiled Envoy text access-log format: literal text and
// command operators, matched against a line to split it into fields.
//
// A field runs up to the next occurrence of the literal text after it, so a
// quoted field ("%REQ(USER-AGENT)%") may hold spaces; a field followed by a
// space holds none, except the last field of the line, which takes the rest.
// A Format is immutable and safe for concurrent use.
type Format struct {
	name   string
	src    string
	elems  []element
	hasSNI bool
}

type element struct {
	literal string // when !field

	field  bool
	op     string // the operator without its % signs, e.g. "REQ(:AUTHORITY):64"
	kind   fieldKind
	layout timeLayout
	// spaceFree: the field is followed by a space and not quoted, so its
	// value holds no space.
	spaceFree bool
}

// ParseFormat compiles an Envoy format string, as in Istio's
// meshConfig.accessLogFormat or an Envoy text_format. Operators are
// %COMMAND%, %COMMAND(ARG)% or %COMMAND(ARG):MAXLEN%, with COMMAND in A-Z,
// 0-9 and _; "%%" is a literal "%". Operators it does not know are kept as
// opaque fields (Entry.Fields). A trailing newline, real or written "\n", is
// dropped. A malformed format gives a *FormatError.
func ParseFormat(s string) (*Format, error) {
	return compileFormat(FormatCustom, s)
}

// String returns the format string f was compiled from.
func (f *Format) String() string { return f.src }

// Name returns the name of f: FormatCustom for a format from ParseFormat.
func (f *Format) Name() string { return f.name }

// Operators returns the command operators of f in order, without their %
// signs.
func (f *Format) Operators() []string {
	var ops []string
	for _, el := range f.elems {
		if el.field {
			ops = append(ops, el.op)
		}
	}
	return ops
}

func compileFormat(name, src string) (*Format, error) {
	s := src
	for _, nl := range []string{"\r\n", "\n", `\n`} {
		if strings.HasSuffix(s, nl) {
			s = strings.TrimSuffix(s, nl)
			break
		}
	}
	if s == "" {
		return nil, &FormatError{Column: 1, Err: ErrEmptyFormat}
	}
	f := &Format{name: name, src: src}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			f.elems = append(f.elems, element{literal: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		if s[i] != '%' {
			lit.WriteByte(s[i])
			i++
			continue
		}
		if i+1 < len(s) && s[i+1] == '%' {
			lit.WriteByte('%')
			i += 2
			continue
		}
		op, next, err := scanOperator(s, i)
		if err != nil {
			return nil, err
		}
		flush()
		if n := len(f.elems); n > 0 && f.elems[n-1].field {
			return nil, &FormatError{Column: column(s, i), Operator: "%" + op + "%", Err: ErrAdjacentOperators}
		}
		el := compileOperator(op)
		if el.kind == kindSNI {
			f.hasSNI = true
		}
		f.elems = append(f.elems, el)
		i = next
	}
	flush()
	for i := range f.elems {
		el := &f.elems[i]
		if !el.field || i+1 == len(f.elems) {
			continue
		}
		quoted := i > 0 && strings.HasSuffix(f.elems[i-1].literal, `"`) && strings.HasPrefix(f.elems[i+1].literal, `"`)
		el.spaceFree = !quoted && strings.HasPrefix(f.elems[i+1].literal, " ")
	}
	return f, nil
}

// scanOperator reads the operator that starts with the % at s[at]. It
// returns the operator without its % signs and the index after it. The
// argument is the shortest text up to a ")" that is followed by an optional
// ":MAXLEN" and a "%", as in Envoy's own parser, so that
// %START_TIME(%Y-%m-%d)% works.
func scanOperator(s string, at int) (op string, next int, err error) {
	i := at + 1
	for i < len(s) && isCommandByte(s[i]) {
		i++
	}
	bad := func(e error, end int) (string, int, error) {
		end = min(end, len(s))
		return "", 0, &FormatError{Column: column(s, at), Operator: s[at:end], Err: e}
	}
	if i == at+1 {
		if i == len(s) {
			return bad(ErrUnterminatedOperator, i)
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		return bad(ErrInvalidOperator, i+size)
	}
	if i < len(s) && s[i] == '(' {
		end := -1
		for j := i + 1; j < len(s); j++ {
			if s[j] != ')' {
				continue
			}
			if k := afterMaxLen(s, j+1); k < len(s) && s[k] == '%' {
				end = j
				break
			}
		}
		if end < 0 {
			return bad(ErrUnterminatedOperator, len(s))
		}
		i = end + 1
	}
	i = afterMaxLen(s, i)
	if i >= len(s) {
		return bad(ErrUnterminatedOperator, len(s))
	}
	if s[i] != '%' {
		_, size := utf8.DecodeRuneInString(s[i:])
		return bad(ErrInvalidOperator, i+size)
	}
	return s[at+1 : i], i + 1, nil
}

// afterMaxLen skips a ":MAXLEN" at s[i], if there is one.
func afterMaxLen(s string, i int) int {
	if i < len(s) && s[i] == ':' {
		j := i + 1
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j > i+1 {
			return j
		}
	}
	return i
}

func isCommandByte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// column is the 1-based character column of byte i of s.
func column(s string, i int) int {
	return utf8.RuneCountInString(s[:i]) + 1
}

// compileOperator maps an operator (without % signs) to the Entry field it
// fills.
func compileOperator(op string) element {
	el := element{field: true, op: op}
	name, arg := op, ""
	if p := strings.IndexByte(op, '('); p >= 0 {
		name = op[:p]
		if q := strings.LastIndexByte(op, ')'); q > p {
			arg = op[p+1 : q]
		}
	} else if p := strings.IndexByte(op, ':'); p >= 0 {
		name = op[:p]
	}
	switch name {
	case "START_TIME":
		el.kind = kindStartTime
		el.layout = strftimeLayout(arg)
	case "REQ", "REQ_WITHOUT_QUERY":
		el.kind = requestHeaderKind(arg)
	case "RESP":
		if headerIs(arg, "X-ENVOY-UPSTREAM-SERVICE-TIME") {
			el.kind = kindUpstreamServiceTime
		}
	case "PROTOCOL":
		el.kind = kindProtocol
	case "RESPONSE_CODE":
		el.kind = kindCode
	case "RESPONSE_FLAGS":
		el.kind = kindFlags
	case "RESPONSE_CODE_DETAILS":
		el.kind = kindDetails
	case "CONNECTION_TERMINATION_DETAILS":
		el.kind = kindTermination
	case "UPSTREAM_TRANSPORT_FAILURE_REASON":
		el.kind = kindUpstreamFailure
	case "BYTES_RECEIVED":
		el.kind = kindBytesReceived
	case "BYTES_SENT":
		el.kind = kindBytesSent
	case "DURATION":
		el.kind = kindDuration
	case "UPSTREAM_HOST":
		el.kind = kindUpstreamHost
	case "UPSTREAM_CLUSTER", "UPSTREAM_CLUSTER_RAW":
		el.kind = kindUpstreamCluster
	case "UPSTREAM_LOCAL_ADDRESS":
		el.kind = kindUpstreamLocal
	case "DOWNSTREAM_LOCAL_ADDRESS":
		el.kind = kindDownstreamLocal
	case "DOWNSTREAM_REMOTE_ADDRESS":
		el.kind = kindDownstreamRemote
	case "REQUESTED_SERVER_NAME":
		el.kind = kindSNI
	case "ROUTE_NAME":
		el.kind = kindRoute
	}
	return el
}

// requestHeaderKind maps the argument of %REQ(X?Y)% to a field.
func requestHeaderKind(arg string) fieldKind {
	switch {
	case headerIs(arg, ":AUTHORITY"), headerIs(arg, "HOST"):
		return kindAuthority
	case headerIs(arg, ":PATH"), headerIs(arg, "X-ENVOY-ORIGINAL-PATH"):
		return kindPath
	case headerIs(arg, ":METHOD"):
		return kindMethod
	case headerIs(arg, "USER-AGENT"):
		return kindUserAgent
	case headerIs(arg, "X-FORWARDED-FOR"):
		return kindXFF
	case headerIs(arg, "X-REQUEST-ID"):
		return kindRequestID
	}
	return kindOther
}

// headerIs tells whether the REQ/RESP argument "X?Y" names header h (in
// upper case) as its main or alternative header.
func headerIs(arg, h string) bool {
	main, alt, _ := strings.Cut(arg, "?")
	return strings.EqualFold(strings.TrimSpace(main), h) || strings.EqualFold(strings.TrimSpace(alt), h)
}

// ParseLine parses one line, without its line ending, into e, which it
// overwrites. A line that does not match gives a *LineError.
func (f *Format) ParseLine(line string, e *Entry) error {
	*e = Entry{Format: f.name, SNILogged: f.hasSNI}
	pos := 0
	fields := 0
	fail := func(i int, reason Reason, at int, detail string, err error) error {
		if reason == ReasonMismatch && at >= len(line) && fields > 0 {
			reason = ReasonTruncated
		}
		return &LineError{Reason: reason, Column: at + 1, Detail: detail, Err: err, progress: i}
	}
	for i := range f.elems {
		el := &f.elems[i]
		if !el.field {
			if strings.HasPrefix(line[pos:], el.literal) {
				pos += len(el.literal)
				continue
			}
			if len(line)-pos < len(el.literal) && strings.HasPrefix(el.literal, line[pos:]) {
				return fail(i, ReasonMismatch, len(line), fmt.Sprintf("line ends where %q should follow", el.literal), nil)
			}
			return fail(i, ReasonMismatch, pos, fmt.Sprintf("expected %q", el.literal), nil)
		}
		var val string
		if i+1 == len(f.elems) {
			val, pos = line[pos:], len(line)
		} else {
			next := f.elems[i+1].literal
			from := pos
			for range el.layout.spaces {
				sp := strings.IndexByte(line[from:], ' ')
				if sp < 0 {
					break
				}
				from += sp + 1
			}
			j := strings.Index(line[from:], next)
			if j < 0 {
				// The line ends in this field. If what there is cannot
				// start a value of it, the line is no truncated one.
				if isNumeric(el.kind) {
					if err := setField(e, el.kind, line[pos:], el.layout); err != nil {
						var le *LineError
						if errors.As(err, &le) {
							le.Column, le.progress = pos+1, i
						}
						return err
					}
				}
				return fail(i, ReasonMismatch, len(line), fmt.Sprintf("no %q after %%%s%%", next, el.op), nil)
			}
			val = line[pos : from+j]
			if el.spaceFree && strings.Count(val, " ") > el.layout.spaces {
				return fail(i, ReasonMismatch, pos, fmt.Sprintf("%%%s%% holds a space: %q", el.op, clip(val, 40)), nil)
			}
			pos = from + j
		}
		if el.kind == kindOther {
			if e.Fields == nil {
				e.Fields = make(map[string]string)
			}
			if val == "-" {
				val = ""
			}
			e.Fields[el.op] = val
		} else if err := setField(e, el.kind, val, el.layout); err != nil {
			var le *LineError
			if errors.As(err, &le) {
				le.Column, le.progress = pos-len(val)+1, i
			}
			return err
		}
		if el.kind == kindStartTime && e.Time.IsZero() && val != "" && val != "-" {
			// A START_TIME layout we cannot read: keep the text.
			if e.Fields == nil {
				e.Fields = make(map[string]string)
			}
			e.Fields[el.op] = val
		}
		fields++
	}
	if pos != len(line) {
		return fail(len(f.elems), ReasonMismatch, pos, fmt.Sprintf("unexpected text after the last field: %q", clip(line[pos:], 40)), nil)
	}
	return nil
}

func isNumeric(k fieldKind) bool {
	return k == kindCode || k == kindBytesReceived || k == kindBytesSent || k == kindDuration
}

// clip shortens s to at most n bytes, on a character boundary, marking the
// cut with "…".
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// builtinFormats returns the text formats tried on every line, most recent
// first. IstioTextFormatUpstreamCluster is left out: its lines are
// IstioTextFormat's.
func builtinFormats() []*Format {
	mk := func(name, src string) *Format {
		f, err := compileFormat(name, src)
		if err != nil {
			panic(fmt.Sprintf("accesslog: built-in format %s: %v", name, err))
		}
		return f
	}
	return []*Format{
		mk(FormatIstio, IstioTextFormat),
		mk(FormatIstio13, IstioTextFormatMixer),
		mk(FormatEnvoy, EnvoyTextFormat),
	}
}

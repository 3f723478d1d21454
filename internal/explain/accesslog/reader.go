package accesslog

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Defaults of ReaderOptions.
const (
	// DefaultMaxLineBytes is the longest line read; longer ones are bad
	// lines (ReasonTooLong), skipped.
	DefaultMaxLineBytes = 1 << 20
	// DefaultMaxSamples is how many bad lines of each reason are kept as
	// samples.
	DefaultMaxSamples = 3
	// sampleBytes is how much of a bad line a sample keeps.
	sampleBytes = 200
)

// ReaderOptions configures a Reader. The zero value reads every built-in
// format with the defaults.
type ReaderOptions struct {
	// Format, if set, is tried first on every line; lines it does not
	// match are then tried as JSON and as the built-in formats.
	Format *Format
	// MaxLineBytes is the longest line read (DefaultMaxLineBytes if 0).
	MaxLineBytes int
	// MaxSamples is how many bad lines of each reason Stats keeps
	// (DefaultMaxSamples if 0; none if negative).
	MaxSamples int
}

// Stats counts the lines a Reader has read.
type Stats struct {
	// Lines is every line read, blank ones included.
	Lines int `json:"lines"`
	// Blank is the lines with nothing but spaces.
	Blank int `json:"blank"`
	// AccessLog is the access-log lines, returned as entries.
	AccessLog int `json:"access_log"`
	// NotAccessLog is the lines recognised as other logs (istio-agent,
	// Envoy's own, klog), skipped.
	NotAccessLog int `json:"not_access_log"`
	// Bad is the lines that could not be read, skipped.
	Bad int `json:"bad"`
	// BadByReason splits Bad by reason.
	BadByReason map[Reason]int `json:"bad_by_reason,omitempty"`
	// BadSamples holds the first bad lines of each reason, by line number.
	BadSamples []BadLine `json:"bad_samples,omitempty"`
	// Formats counts the access-log lines by the format they matched.
	Formats map[string]int `json:"formats,omitempty"`
}

// BadLine is a sample of a bad line.
type BadLine struct {
	Line   int    `json:"line"`
	Reason Reason `json:"reason"`
	// Detail says what was wrong, for people.
	Detail string `json:"detail,omitempty"`
	// Text is the start of the line.
	Text string `json:"text"`
}

// Reader reads access-log entries from a stream of log lines. Use Next to
// advance, Entry to get the entry, and Err and Stats at the end:
//
//	r := accesslog.NewReader(f, accesslog.ReaderOptions{})
//	for r.Next() {
//		e := r.Entry()
//		...
//	}
//	if err := r.Err(); err != nil { ... }
//
// Lines that are not access-log lines are counted in Stats, never returned
// and never an error: Err reports only a failure to read the stream.
type Reader struct {
	br       *bufio.Reader
	user     *Format
	builtins []*Format
	last     int // index in builtins of the last format that matched
	maxLine  int
	samples  int
	buf      []byte
	entry    Entry
	stats    Stats
	err      error
	done     bool
}

// NewReader returns a Reader of r.
func NewReader(r io.Reader, opts ReaderOptions) *Reader {
	rd := &Reader{
		br:       bufio.NewReaderSize(r, 64<<10),
		user:     opts.Format,
		builtins: builtinFormats(),
		maxLine:  opts.MaxLineBytes,
		samples:  opts.MaxSamples,
	}
	if rd.maxLine <= 0 {
		rd.maxLine = DefaultMaxLineBytes
	}
	if rd.samples == 0 {
		rd.samples = DefaultMaxSamples
	}
	return rd
}

// Next reads up to the next access-log entry. It returns false at the end
// of the stream or on a read error (see Err).
func (r *Reader) Next() bool {
	for !r.done {
		raw, tooLong, err := r.readLine()
		if err != nil {
			r.done = true
			if !errors.Is(err, io.EOF) {
				r.err = fmt.Errorf("read access log: %w", err)
			}
			return false
		}
		r.stats.Lines++
		n := r.stats.Lines
		if tooLong {
			r.bad(n, &LineError{Reason: ReasonTooLong, Detail: fmt.Sprintf("longer than %d bytes", r.maxLine)}, string(raw[:min(len(raw), sampleBytes+utf8.UTFMax)]))
			continue
		}
		line := strings.TrimSpace(string(raw))
		if line == "" {
			r.stats.Blank++
			continue
		}
		accessLog, err := r.parse(line, &r.entry)
		switch {
		case err != nil:
			r.bad(n, err, line)
		case !accessLog:
			r.stats.NotAccessLog++
		default:
			r.entry.Line = n
			r.stats.AccessLog++
			if r.stats.Formats == nil {
				r.stats.Formats = make(map[string]int)
			}
			r.stats.Formats[r.entry.Format]++
			return true
		}
	}
	return false
}

// Entry returns the entry Next read.
func (r *Reader) Entry() Entry { return r.entry }

// Err returns the error that stopped the Reader, if it was not the end of
// the stream.
func (r *Reader) Err() error { return r.err }

// Stats returns the counts so far.
func (r *Reader) Stats() Stats {
	s := r.stats
	s.BadByReason = maps.Clone(s.BadByReason)
	s.BadSamples = slices.Clone(s.BadSamples)
	s.Formats = maps.Clone(s.Formats)
	return s
}

// All returns the remaining entries as a sequence; check Err after it.
func (r *Reader) All() iter.Seq[Entry] {
	return func(yield func(Entry) bool) {
		for r.Next() {
			if !yield(r.entry) {
				return
			}
		}
	}
}

// readLine returns the next line without its line ending. A line longer
// than maxLine is read to its end but only its start is kept, with tooLong
// set. It returns io.EOF only when there is no line left.
func (r *Reader) readLine() (line []byte, tooLong bool, err error) {
	r.buf = r.buf[:0]
	read := false
	for {
		chunk, err := r.br.ReadSlice('\n')
		read = read || len(chunk) > 0
		if !tooLong {
			if len(r.buf)+len(chunk) > r.maxLine+2 { // room for "\r\n"
				tooLong = true
				keep := max(0, min(len(chunk), sampleBytes-len(r.buf)))
				r.buf = append(r.buf, chunk[:keep]...)
			} else {
				r.buf = append(r.buf, chunk...)
			}
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if !read {
				return nil, false, io.EOF
			}
		case err != nil:
			return nil, false, err
		}
		break
	}
	line = r.buf
	if !tooLong {
		line = trimEOL(line)
		tooLong = len(line) > r.maxLine
	}
	return line, tooLong, nil
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

// bad counts a bad line and keeps it as a sample if there is room.
func (r *Reader) bad(n int, err error, text string) {
	var le *LineError
	if !errors.As(err, &le) {
		le = &LineError{Reason: ReasonMismatch, Err: err}
	}
	r.stats.Bad++
	if r.stats.BadByReason == nil {
		r.stats.BadByReason = make(map[Reason]int)
	}
	r.stats.BadByReason[le.Reason]++
	if r.stats.BadByReason[le.Reason] > r.samples {
		return
	}
	var parts []string
	if le.Column > 0 {
		parts = append(parts, fmt.Sprintf("column %d", le.Column))
	}
	if le.Detail != "" {
		parts = append(parts, le.Detail)
	}
	if le.Err != nil {
		parts = append(parts, le.Err.Error())
	}
	detail := strings.Join(parts, ": ")
	r.stats.BadSamples = append(r.stats.BadSamples, BadLine{
		Line:   n,
		Reason: le.Reason,
		Detail: detail,
		Text:   clip(strings.ToValidUTF8(text, "\uFFFD"), sampleBytes),
	})
}

// parse reads one non-blank line into e. It returns accessLog false for a
// line of another log, and a *LineError for a bad line.
func (r *Reader) parse(line string, e *Entry) (accessLog bool, err error) {
	p := stripKubePrefix(line)
	accessLog, err = r.parseBody(p.body, e)
	if err != nil && p.ts != "" {
		// What looked like kubectl's --timestamps may be the line's own
		// first field.
		if ok, err2 := r.parseBody(p.bodyWithTS, e); err2 == nil {
			accessLog, err, p.ts = ok, nil, ""
		}
	}
	if err != nil {
		// Columns count in the whole line, as the sample quotes it.
		var le *LineError
		if errors.As(err, &le) && le.Column > 0 {
			le.Column += len(line) - len(p.body)
		}
		return accessLog, err
	}
	if !accessLog {
		return false, nil
	}
	e.Source = p.source
	if e.Time.IsZero() && p.ts != "" {
		if t, perr := time.Parse(time.RFC3339Nano, p.ts); perr == nil {
			e.Time = t.UTC()
		}
	}
	return true, nil
}

func (r *Reader) parseBody(line string, e *Entry) (accessLog bool, err error) {
	if line == "" {
		return false, nil
	}
	var userErr error
	if r.user != nil {
		if userErr = r.user.ParseLine(line, e); userErr == nil {
			return true, nil
		}
	}
	if line[0] == '{' {
		accessLog, err = parseJSONLine(line, e)
		if err != nil && userErr != nil {
			return true, userErr
		}
		return accessLog, err
	}
	if isOtherLogLine(line) {
		return false, nil
	}
	var best *LineError
	for k := range r.builtins {
		i := (r.last + k) % len(r.builtins)
		err := r.builtins[i].ParseLine(line, e)
		if err == nil {
			r.last = i
			return true, nil
		}
		var le *LineError
		if errors.As(err, &le) && (best == nil || le.progress > best.progress) {
			best = le
		}
	}
	if userErr != nil {
		return true, userErr
	}
	return true, best
}

// kubePrefix is a line split from what `kubectl logs --prefix --timestamps`
// put before it.
type kubePrefix struct {
	body       string // the line without the prefixes
	bodyWithTS string // the line without the --prefix part only
	source     string // "pod/NAME/CONTAINER"
	ts         string // the --timestamps time
}

// stripKubePrefix removes "[pod/NAME/CONTAINER] " and an RFC 3339 time and
// a space from the start of line, in that order (kubectl's) or the other.
func stripKubePrefix(line string) kubePrefix {
	p := kubePrefix{body: line, bodyWithTS: line}
	if src, rest, ok := cutKubeSource(line); ok {
		p.source, p.body, p.bodyWithTS = src, rest, rest
	}
	if ts, rest, ok := cutTimestamp(p.body, ' '); ok {
		p.ts, p.body = ts, rest
		if p.source == "" {
			if src, rest2, ok := cutKubeSource(rest); ok {
				p.source, p.body, p.bodyWithTS = src, rest2, ts+" "+rest2
			}
		}
	}
	return p
}

// cutKubeSource cuts a "[KIND/NAME/CONTAINER] " prefix, KIND in lower-case
// letters, as kubectl --prefix writes it.
func cutKubeSource(s string) (source, rest string, ok bool) {
	if !strings.HasPrefix(s, "[") {
		return "", s, false
	}
	end := strings.Index(s, "] ")
	if end < 0 {
		return "", s, false
	}
	inner := s[1:end]
	parts := strings.Split(inner, "/")
	if len(parts) != 3 || parts[1] == "" || parts[2] == "" || strings.ContainsAny(inner, " \t") {
		return "", s, false
	}
	for _, c := range []byte(parts[0]) {
		if c < 'a' || c > 'z' {
			return "", s, false
		}
	}
	if parts[0] == "" {
		return "", s, false
	}
	return inner, s[end+2:], true
}

// cutTimestamp cuts an RFC 3339 time followed by sep.
func cutTimestamp(s string, sep byte) (ts, rest string, ok bool) {
	if len(s) < 21 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[0] < '0' || s[0] > '9' {
		return "", s, false
	}
	end := strings.IndexByte(s[:min(len(s), 40)], sep)
	if end < 0 {
		return "", s, false
	}
	if _, err := time.Parse(time.RFC3339Nano, s[:end]); err != nil {
		return "", s, false
	}
	return s[:end], s[end+1:], true
}

// isOtherLogLine tells lines of the other logs an istio-proxy container
// writes: istio-agent and Envoy through it ("2024-01-01T00:00:00.000000Z\tinfo\t..."),
// Envoy run alone ("[2024-01-01 00:00:00.000][15][info][main] ..."), and
// klog ("I0101 00:00:00.000000       1 file.go:12] ...").
func isOtherLogLine(s string) bool {
	if _, _, ok := cutTimestamp(s, '\t'); ok {
		return true
	}
	if len(s) > 26 && s[0] == '[' && s[5] == '-' && s[8] == '-' && s[11] == ' ' && strings.Contains(s[:40], "][") {
		return true
	}
	if len(s) > 22 && strings.IndexByte("IWEF", s[0]) >= 0 && s[5] == ' ' && s[8] == ':' && s[11] == ':' && s[14] == '.' &&
		allDigits(s[1:5]) && allDigits(s[6:8]) {
		return true
	}
	return false
}

func allDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// Package statspage reads an Envoy stats page (Prometheus text exposition
// format) as a stream and keeps only the metric families gatewatch's rules
// read, so a page of any size costs a fixed buffer, and a hostile page (a
// line of megabytes, binary bytes, an endless body) is refused with a reason
// before any of it reaches Prometheus's parser.
//
// The filter never parses samples: it decides per line from the metric
// name at its start (or the name after "# HELP " / "# TYPE "), the way
// Prometheus's own text parser finds the name, and copies kept lines
// verbatim. Everything else (parsing, label limits, staleness) stays with
// Prometheus's scrape loop.
package statspage

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Limits bound what one page may cost.
type Limits struct {
	// MaxPageBytes is the largest page read (after decompression); a longer
	// one is refused as soon as it passes the limit, without buffering it.
	MaxPageBytes int64
	// MaxLineBytes is the longest line of a kept family; a longer one
	// refuses the page. Lines of other families are skipped whatever their
	// length, in a buffer of this size.
	MaxLineBytes int
	// MaxKeptBytes bounds the kept lines of one page.
	MaxKeptBytes int64
}

// DefaultLimits: Envoy pages of tens of MB are normal on busy gateways; an
// istio_requests_total line is one to two KiB.
var DefaultLimits = Limits{MaxPageBytes: 128 << 20, MaxLineBytes: 64 << 10, MaxKeptBytes: 32 << 20}

// sniffBytes of the page start must be text: a binary page is refused
// rather than scraped as an empty success.
const sniffBytes = 4 << 10

// Filter keeps the named metric families of a page.
type Filter struct {
	keep   map[string]bool
	limits Limits
}

// New returns a filter keeping the families named (the sample names, as
// the rules read them, e.g. "istio_requests_total").
func New(limits Limits, families ...string) *Filter {
	keep := make(map[string]bool, len(families))
	for _, f := range families {
		keep[f] = true
	}
	return &Filter{keep: keep, limits: limits}
}

// Stats say what one page held.
type Stats struct {
	PageBytes int64
	Lines     int
	KeptLines int
	KeptBytes int64
}

// Error is a refused page: what was wrong and where.
type Error struct {
	Line   int // 1-based; 0 when the page as a whole is refused
	Reason string
	Err    error // the underlying read error, if any
}

func (e *Error) Error() string {
	msg := e.Reason
	if e.Line > 0 {
		msg = fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Copy reads the page from src and writes the kept lines to dst. On a
// refused page it returns an *Error; dst then holds a prefix of the kept
// lines, which the caller discards.
func (f *Filter) Copy(dst io.Writer, src io.Reader) (Stats, error) {
	lr := &limitedReader{r: src, n: f.limits.MaxPageBytes}
	c := copier{f: f, r: bufio.NewReaderSize(lr, f.limits.MaxLineBytes), dst: dst}
	err := c.run()
	c.stats.PageBytes = lr.read
	return c.stats, err
}

type copier struct {
	f     *Filter
	r     *bufio.Reader
	dst   io.Writer
	stats Stats
}

func (c *copier) run() error {
	if err := c.sniff(); err != nil {
		return err
	}
	for {
		line, err := c.r.ReadSlice('\n')
		if len(line) > 0 {
			c.stats.Lines++
			if lerr := c.line(line, err == bufio.ErrBufferFull); lerr != nil {
				return lerr
			}
		}
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			return nil
		default:
			return c.readError(err)
		}
	}
}

// readError is a failed read: the page over the limit, or the
// connection's error.
func (c *copier) readError(err error) error {
	if errors.Is(err, errPageTooLarge) {
		return &Error{Reason: fmt.Sprintf("page larger than %s", bytesString(c.f.limits.MaxPageBytes))}
	}
	return &Error{Line: c.stats.Lines, Reason: "read", Err: err}
}

// sniff refuses a page whose start is not text.
func (c *copier) sniff() error {
	head, err := c.r.Peek(min(sniffBytes, c.f.limits.MaxLineBytes))
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) && !errors.Is(err, errPageTooLarge) {
		return &Error{Reason: "read", Err: err}
	}
	if i := binaryAt(head); i >= 0 {
		return &Error{Line: 1 + bytes.Count(head[:i], []byte{'\n'}),
			Reason: fmt.Sprintf("binary content at byte %d: not a text exposition page (Envoy serves text at /stats/prometheus)", i)}
	}
	return nil
}

// binaryAt returns the offset of the first byte that cannot start a text
// page (a control character other than tab, CR and LF, or invalid UTF-8),
// or -1. A multi-byte rune cut by the end of head is not counted.
func binaryAt(head []byte) int {
	for i := 0; i < len(head); {
		b := head[i]
		if b < utf8.RuneSelf {
			if b < 0x20 && b != '\t' && b != '\n' && b != '\r' || b == 0x7f {
				return i
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(head[i:])
		if r == utf8.RuneError && size <= 1 {
			if !utf8.FullRune(head[i:]) {
				return -1
			}
			return i
		}
		i += size
	}
	return -1
}

// line handles one line (or, when partial, the first buffer of a longer
// one).
func (c *copier) line(line []byte, partial bool) error {
	name := familyOf(line)
	if !c.f.keep[string(name)] { // no allocation for a map-key conversion
		if partial {
			return c.skipRest()
		}
		return nil
	}
	if partial {
		return &Error{Line: c.stats.Lines, Reason: fmt.Sprintf("a %s line longer than %s (a hostile or broken stats page)", name, bytesString(int64(c.f.limits.MaxLineBytes)))}
	}
	c.stats.KeptLines++
	c.stats.KeptBytes += int64(len(line))
	if c.stats.KeptBytes > c.f.limits.MaxKeptBytes {
		return &Error{Line: c.stats.Lines, Reason: fmt.Sprintf("more than %s of kept series", bytesString(c.f.limits.MaxKeptBytes))}
	}
	if _, err := c.dst.Write(line); err != nil {
		return &Error{Line: c.stats.Lines, Reason: "write", Err: err}
	}
	if line[len(line)-1] != '\n' {
		_, _ = c.dst.Write([]byte{'\n'})
	}
	return nil
}

// skipRest discards the rest of a long line of a family not kept.
func (c *copier) skipRest() error {
	for {
		_, err := c.r.ReadSlice('\n')
		switch {
		case err == nil:
			return nil
		case errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			return nil
		default:
			return c.readError(err)
		}
	}
}

var (
	helpPrefix = []byte("# HELP ")
	typePrefix = []byte("# TYPE ")
)

// familyOf returns the metric name a line belongs to: the name of a sample
// line, or the name a HELP/TYPE comment describes; "" for other comments,
// blank lines and quoted (UTF-8) names, which no kept family uses.
func familyOf(line []byte) []byte {
	switch {
	case bytes.HasPrefix(line, helpPrefix):
		line = line[len(helpPrefix):]
	case bytes.HasPrefix(line, typePrefix):
		line = line[len(typePrefix):]
	case len(line) > 0 && line[0] == '#':
		return nil
	}
	end := 0
	for end < len(line) && isNameByte(line[end], end == 0) {
		end++
	}
	return line[:end]
}

func isNameByte(b byte, first bool) bool {
	return b == '_' || b == ':' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || !first && b >= '0' && b <= '9'
}

var errPageTooLarge = errors.New("page too large")

// limitedReader fails once more than n bytes were read, so an endless page
// ends at the limit instead of being read (or buffered) to the end.
type limitedReader struct {
	r    io.Reader
	n    int64
	read int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.read > l.n {
		return 0, errPageTooLarge
	}
	if rest := l.n + 1 - l.read; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := l.r.Read(p)
	l.read += int64(n)
	if l.read > l.n {
		return n, errPageTooLarge
	}
	return n, err
}

func bytesString(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

package accesslog

import (
	"strconv"
	"strings"
	"time"
)

// timeMode says how to read a %START_TIME% value.
type timeMode uint8

const (
	// timeRFC3339: %START_TIME% with no argument, which Envoy writes as
	// "%Y-%m-%dT%H:%M:%E3SZ" in UTC, e.g. 2026-11-25T10:00:00.000Z.
	timeRFC3339 timeMode = iota
	// timeLayoutGo: a strftime argument turned into a Go layout.
	timeLayoutGo
	// timeEpoch: "%s", "%s.%3f" and the like: seconds since 1970.
	timeEpoch
	// timeUnknown: an argument this package cannot read; the value is kept
	// as text in Entry.Fields.
	timeUnknown
)

// timeLayout reads the values of one %START_TIME(...)% operator.
type timeLayout struct {
	mode   timeMode
	layout string
	// spaces is how many spaces a value holds (e.g. 1 for "%Y-%m-%d %H:%M").
	spaces int
}

// parse reads v. ok is false, with no error, where the layout is unknown.
func (l timeLayout) parse(v string) (t time.Time, ok bool, err error) {
	switch l.mode {
	case timeRFC3339:
		t, err = time.Parse(time.RFC3339Nano, v)
	case timeLayoutGo:
		t, err = time.Parse(l.layout, v)
	case timeEpoch:
		var f float64
		f, err = strconv.ParseFloat(v, 64)
		if err == nil {
			sec := int64(f)
			t = time.Unix(sec, int64((f-float64(sec))*1e9)).UTC()
		}
	default:
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, err
	}
	return t.UTC(), true, nil
}

// strftimeLayout turns the argument of %START_TIME(...)% into a timeLayout.
// Envoy takes strftime (absl) specifiers plus %s for epoch seconds and %Nf
// for N digits of fraction; the common ones are understood here.
func strftimeLayout(arg string) timeLayout {
	if arg == "" {
		return timeLayout{mode: timeRFC3339}
	}
	if rest, ok := strings.CutPrefix(arg, "%s"); ok {
		if rest == "" || rest == ".%f" || len(rest) == 4 && rest[:2] == ".%" && rest[2] >= '1' && rest[2] <= '9' && rest[3] == 'f' {
			return timeLayout{mode: timeEpoch}
		}
		return timeLayout{mode: timeUnknown}
	}
	var b strings.Builder
	spaces := 0
	for i := 0; i < len(arg); i++ {
		c := arg[i]
		if c != '%' {
			switch {
			case c == ' ':
				spaces++
			case c >= '0' && c <= '9', (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') && c != 'T' && c != 'Z':
				// Go would read digits and words ("Jan", "PM") in a layout
				// as elements.
				return timeLayout{mode: timeUnknown}
			}
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(arg) {
			return timeLayout{mode: timeUnknown}
		}
		spec := arg[i]
		switch {
		case spec == 'E' && i+2 < len(arg) && arg[i+2] == 'S':
			// %E3S: seconds with 3 digits of fraction; %E*S: all of them.
			n := arg[i+1]
			i += 2
			switch {
			case n == '*':
				b.WriteString("05.999999999")
			case n == '0':
				b.WriteString("05")
			case n >= '1' && n <= '9':
				b.WriteString("05." + strings.Repeat("0", int(n-'0')))
			default:
				return timeLayout{mode: timeUnknown}
			}
		case spec == 'E' && i+2 < len(arg) && arg[i+1] == '4' && arg[i+2] == 'Y':
			i += 2
			b.WriteString("2006")
		case spec >= '1' && spec <= '9' && i+1 < len(arg) && arg[i+1] == 'f', spec == 'f':
			// Fraction digits: Go needs them right after a "." or ",".
			n := 9
			if spec != 'f' {
				n = int(spec - '0')
				i++
			}
			if s := b.String(); s == "" || s[len(s)-1] != '.' && s[len(s)-1] != ',' {
				return timeLayout{mode: timeUnknown}
			}
			b.WriteString(strings.Repeat("0", n))
		default:
			g, ok := strftimeGo(spec)
			if !ok {
				return timeLayout{mode: timeUnknown}
			}
			spaces += strings.Count(g, " ")
			b.WriteString(g)
		}
	}
	return timeLayout{mode: timeLayoutGo, layout: b.String(), spaces: spaces}
}

// strftimeGo maps a strftime conversion character to a Go layout element.
// Only those of a fixed width are known, so that a value's spaces are known.
func strftimeGo(c byte) (string, bool) {
	switch c {
	case 'Y':
		return "2006", true
	case 'y':
		return "06", true
	case 'm':
		return "01", true
	case 'd':
		return "02", true
	case 'H':
		return "15", true
	case 'I':
		return "03", true
	case 'M':
		return "04", true
	case 'S':
		return "05", true
	case 'p':
		return "PM", true
	case 'b', 'h':
		return "Jan", true
	case 'a':
		return "Mon", true
	case 'z':
		return "-0700", true
	case 'Z':
		return "MST", true
	case 'T':
		return "15:04:05", true
	case 'R':
		return "15:04", true
	case 'F':
		return "2006-01-02", true
	case 'D':
		return "01/02/06", true
	case 'j':
		return "002", true
	case '%':
		return "%", true
	}
	return "", false
}

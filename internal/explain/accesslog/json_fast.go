package accesslog

import (
	"encoding/json"
	"strings"
)

// jsonKeyIndex maps the Istio JSON keys to their place in jsonLine.fields.
var jsonKeyIndex = func() map[string]int {
	var j jsonLine
	m := map[string]int{}
	for i, f := range j.fields() {
		m[f.key] = i
	}
	return m
}()

// fastJSON fills j from a flat JSON object — string, number, true, false
// and null values, as Envoy writes its JSON access log — about five times
// faster than encoding/json. It returns false on anything else (nested
// values, escaped keys, control characters, trailing text, a malformed
// number), and the caller then uses encoding/json, which gives the exact
// error; so it never accepts what encoding/json would reject.
func fastJSON(line string, fields []jsonField) bool {
	i, n := 0, len(line)
	ws := func() {
		for i < n && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' || line[i] == '\n') {
			i++
		}
	}
	// str reads a string at i (at its opening quote); escaped reports
	// whether it has escapes (its raw text then needs decoding).
	str := func() (raw string, escaped, ok bool) {
		if i >= n || line[i] != '"' {
			return "", false, false
		}
		start := i
		i++
		for i < n {
			c := line[i]
			switch {
			case c == '"':
				i++
				return line[start:i], escaped, true
			case c == '\\':
				escaped = true
				i += 2
			case c < 0x20:
				return "", false, false
			default:
				i++
			}
		}
		return "", false, false
	}
	ws()
	if i >= n || line[i] != '{' {
		return false
	}
	i++
	ws()
	if i < n && line[i] == '}' {
		i++
		ws()
		return i == n
	}
	for {
		ws()
		key, escaped, ok := str()
		if !ok || escaped {
			return false
		}
		ws()
		if i >= n || line[i] != ':' {
			return false
		}
		i++
		ws()
		if i >= n {
			return false
		}
		var val jsonValue
		switch c := line[i]; {
		case c == '"':
			raw, esc, ok := str()
			if !ok {
				return false
			}
			if esc {
				if err := json.Unmarshal([]byte(raw), &val.s); err != nil {
					return false
				}
			} else {
				val.s = raw[1 : len(raw)-1]
			}
		case c == '-' || (c >= '0' && c <= '9'):
			start := i
			if !number(line, &i) {
				return false
			}
			val.s = line[start:i]
		case c == 't' && len(line) >= i+4 && line[i:i+4] == "true":
			val.s, i = "true", i+4
		case c == 'f' && len(line) >= i+5 && line[i:i+5] == "false":
			val.s, i = "false", i+5
		case c == 'n' && len(line) >= i+4 && line[i:i+4] == "null":
			val.s, i = "", i+4
		default:
			return false // an object, an array, or not JSON
		}
		val.set = true
		name := key[1 : len(key)-1]
		for k := 0; k < len(name); k++ {
			if name[k] >= 0x80 {
				return false // Unicode case folding (ſ → s): encoding/json's call
			}
		}
		if idx, known := jsonKeyIndex[name]; known {
			*fields[idx].v = val
		} else if _, folded := jsonKeyIndex[strings.ToLower(name)]; folded {
			return false // encoding/json matches keys case-insensitively
		}
		ws()
		if i >= n {
			return false
		}
		switch line[i] {
		case ',':
			i++
		case '}':
			i++
			ws()
			return i == n
		default:
			return false
		}
	}
}

// number reads a JSON number at *i (RFC 8259 §6).
func number(s string, i *int) bool {
	j, n := *i, len(s)
	digits := func() int {
		start := j
		for j < n && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		return j - start
	}
	if j < n && s[j] == '-' {
		j++
	}
	switch {
	case j < n && s[j] == '0':
		j++
	case digits() == 0:
		return false
	}
	if j < n && s[j] == '.' {
		j++
		if digits() == 0 {
			return false
		}
	}
	if j < n && (s[j] == 'e' || s[j] == 'E') {
		j++
		if j < n && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if digits() == 0 {
			return false
		}
	}
	*i = j
	return true
}

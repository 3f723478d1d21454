package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is one problem in a spec file, with its position.
type Error struct {
	File string
	Line int
	// Path is the field, e.g. gateways[0].stats.interval; empty for syntax errors.
	Path string
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
	} else {
		b.WriteString("<spec>")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Load reads, decodes, defaults and validates the spec at path, with the
// alert kinds in kinds (rules.SpecKinds()). The returned error joins every
// problem found (errors.Join of *Error).
func Load(path string, kinds Kinds) (*Spec, error) {
	data, err := readCapped(path, MaxSpecBytes)
	if err != nil {
		return nil, err
	}
	s, err := Parse(data, path, kinds)
	if err != nil {
		return nil, err
	}
	s.resolvePaths(filepath.Dir(path))
	return s, nil
}

// MaxSpecBytes bounds the spec file: a real one is a few kilobytes, and
// YAML decoding costs memory and time out of proportion to the size.
const MaxSpecBytes = 1 << 20

// readCapped reads at most max bytes of path; a larger file (or an endless
// one such as /dev/zero) is an error, read no further.
func readCapped(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("read spec %s: larger than %d KiB; a gatewatch spec is a few kilobytes", path, max>>10)
	}
	return data, nil
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// Parse decodes and validates spec bytes with the alert kinds in kinds;
// file is used in error positions.
func Parse(data []byte, file string, kinds Kinds) (*Spec, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlErrors(file, err)
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, &Error{File: file, Line: 1, Msg: "the spec is empty: it needs at least a gateways list"}
	}
	var s Spec
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var errs []error
	if err := dec.Decode(&s); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, yamlErrors(file, err)
		}
		// Type errors leave the rest decoded: keep going so that every
		// problem in the file is reported at once.
		errs = append(errs, yamlErrors(file, err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, &Error{File: file, Line: extra.Line, Msg: "the spec must be a single YAML document (found a second one here)"}
	}
	s.File = file
	idx := indexLines(root.Content[0])
	v := &validator{file: file, lines: idx, skipLines: errorLines(errs)}
	s.applyDefaults(idx, kinds)
	s.validate(v, kinds)
	errs = append(errs, v.errs...)
	if len(errs) > 0 {
		return nil, sortByLine(errs)
	}
	s.warnings = v.warnings
	return &s, nil
}

// sortByLine flattens joined errors and orders them as they appear in the file.
func sortByLine(errs []error) error {
	var flat []error
	for _, err := range errs {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			flat = append(flat, j.Unwrap()...)
		} else {
			flat = append(flat, err)
		}
	}
	line := func(err error) int {
		var se *Error
		if errors.As(err, &se) {
			return se.Line
		}
		return 0
	}
	slices.SortStableFunc(flat, func(a, b error) int { return line(a) - line(b) })
	return errors.Join(flat...)
}

// errorLines returns the lines that already have a decoding error, so that
// validation does not report the same field again (a bad duration decodes as
// zero and would also be "must be positive").
func errorLines(errs []error) map[int]bool {
	lines := map[int]bool{}
	for _, err := range errs {
		var joined interface{ Unwrap() []error }
		if errors.As(err, &joined) {
			for _, e := range joined.Unwrap() {
				var se *Error
				if errors.As(e, &se) {
					lines[se.Line] = true
				}
			}
		}
	}
	return lines
}

// yamlErrors turns yaml.v3 errors ("line 3: field x not found in type
// spec.Stats") into positioned *Error values, one per problem.
func yamlErrors(file string, err error) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var errs []error
	for _, m := range msgs {
		e := &Error{File: file, Msg: m}
		if sm := yamlLine.FindStringSubmatch(m); sm != nil {
			e.Line, _ = strconv.Atoi(sm[1])
			e.Msg = friendlyYAML(sm[2])
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

var (
	unknownField = regexp.MustCompile(`^field (\S+) not found in type spec\.(\w+)$`)
	cannotDecode = regexp.MustCompile("^cannot unmarshal !!(\\w+) (?:`(.*)` )?into (.*)$")
)

func friendlyYAML(m string) string {
	if sm := unknownField.FindStringSubmatch(m); sm != nil {
		return fmt.Sprintf("unknown key %q in %s (see docs/spec.md for the keys it takes)", sm[1], strings.ToLower(sm[2]))
	}
	if sm := cannotDecode.FindStringSubmatch(m); sm != nil {
		want := sm[3]
		switch {
		case strings.HasPrefix(want, "[]"):
			want = "a list"
		case strings.HasPrefix(want, "map["):
			want = "a mapping of keys to values"
		case strings.HasPrefix(want, "spec."):
			want = "a mapping"
		case strings.HasPrefix(want, "*"):
			want = strings.TrimPrefix(want, "*")
		}
		if sm[2] == "" {
			return fmt.Sprintf("wrong type: got a %s, want %s", yamlKind(sm[1]), want)
		}
		return fmt.Sprintf("wrong type: got %s %q, want %s", sm[1], sm[2], want)
	}
	return m
}

func yamlKind(tag string) string {
	switch tag {
	case "map":
		return "mapping"
	case "seq":
		return "list"
	}
	return tag
}

// lineIndex maps a field path (gateways[0].stats.interval) to its line.
type lineIndex map[string]int

func indexLines(n *yaml.Node) lineIndex {
	idx := lineIndex{"": n.Line}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, val := n.Content[i], n.Content[i+1]
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				idx[p] = k.Line
				walk(val, p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				idx[p] = c.Line
				walk(c, p)
			}
		}
	}
	walk(n, "")
	return idx
}

// has reports whether the key at path was written in the file.
func (l lineIndex) has(path string) bool { _, ok := l[path]; return ok }

// line returns the line of path, or of its nearest written parent.
func (l lineIndex) line(path string) int {
	for {
		if n, ok := l[path]; ok {
			return n
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return l[""]
		}
		path = path[:i]
	}
}

func (s *Spec) resolvePaths(dir string) {
	for _, f := range []*string{&s.Explain.AccessLogs, &s.Explain.Config} {
		if *f != "" && *f != "kube" && *f != "-" && !filepath.IsAbs(*f) {
			*f = filepath.Join(dir, *f)
		}
	}
	for _, f := range []*string{&s.Mattermost.WebhookURLFile, &s.Mattermost.BotTokenFile, &s.Mattermost.ActionsSecretFile} {
		if *f != "" && !filepath.IsAbs(*f) {
			*f = filepath.Join(dir, *f)
		}
	}
}

// Package manifest reads Kubernetes manifests and config files from disk the
// way `kubectl apply -f` does. A file named explicitly is always read; a
// folder is walked recursively, in lexical order, for .yaml, .yml and .json
// files, skipping hidden (dot) folders. Each file is split into its YAML
// documents, keeping the file and line of each, and a List (kind: List, or
// any kind ending in "List" that has items) is expanded into its items. A
// document that cannot be read is reported with its file:line (an Object
// with Err set), and the rest is still read.
//
// doctor's offline mode and explain's gateway configuration both read
// through it.
package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// Extensions are the file name extensions read when walking a folder
// (compared without case).
func Extensions() []string { return []string{".yaml", ".yml", ".json"} }

// Source says where an object was read.
type Source struct {
	// File is the file name, or what the caller named the source.
	File string `json:"file,omitempty"`
	// Doc is the 1-based position of the document among the file's
	// non-empty documents (0 when unknown).
	Doc int `json:"doc,omitempty"`
	// Line is the file line of the document's first line that is neither
	// blank nor a comment (0 when unknown).
	Line int `json:"line,omitempty"`
	// Item is the 1-based position in a List's items (0 when not in a List).
	Item int `json:"item,omitempty"`
}

// String is file:line followed by the document and List item, e.g.
// "gw.yaml:12 (document 2, item 1)".
func (s Source) String() string {
	var b strings.Builder
	b.WriteString(s.File)
	if s.File == "" {
		b.WriteString("<input>")
	}
	if s.Line > 0 {
		fmt.Fprintf(&b, ":%d", s.Line)
	}
	var extra []string
	if s.Doc > 0 {
		extra = append(extra, fmt.Sprintf("document %d", s.Doc))
	}
	if s.Item > 0 {
		extra = append(extra, fmt.Sprintf("item %d", s.Item))
	}
	if len(extra) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(extra, ", "))
	}
	return b.String()
}

// Object is one document of a file, or one item of a List, in the order
// read. When it could not be read, Err says why and the rest is empty.
type Object struct {
	Source
	// Err is why the document could not be read: a *SyntaxError, a value
	// that is not a mapping, a file that cannot be read.
	Err error
	// APIVersion and Kind are the object's own. Kind is empty for a config
	// file that is not a Kubernetes object (alertmanager.yml, Helm values,
	// a Prometheus rule file).
	APIVersion, Kind string
	// JSON is the object as JSON.
	JSON []byte
	// Text is the document as written (for a List item: its JSON).
	Text []byte
}

// SyntaxError is a document that is not valid YAML.
type SyntaxError struct {
	// Line is the file line of the error (0 when the parser did not say).
	Line int
	// Msg is the parser's message, its line counted in the file.
	Msg string
	// Err is the parser's error.
	Err error
}

func (e *SyntaxError) Error() string { return "not valid YAML: " + e.Msg }

// Unwrap returns the parser's error.
func (e *SyntaxError) Unwrap() error { return e.Err }

// ErrNoFiles is returned by Files and Load for a folder that holds no file
// to read.
var ErrNoFiles = errors.New("no .yaml, .yml or .json file")

// Files returns the files path stands for: path itself when it is a file
// (whatever its name), else every .yaml, .yml and .json file under it,
// recursively, in lexical order, skipping hidden folders (path itself is
// walked even when its name starts with a dot).
func Files(path string) ([]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return []string{path}, nil
	}
	root := path
	if li, err := os.Lstat(path); err == nil && li.Mode()&fs.ModeSymlink != 0 {
		root = path + string(filepath.Separator) // walk the folder a link names
	}
	var files []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if hasExtension(p) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%w under %s", ErrNoFiles, path)
	}
	return files, nil
}

func hasExtension(p string) bool {
	ext := strings.ToLower(filepath.Ext(p))
	for _, e := range Extensions() {
		if ext == e {
			return true
		}
	}
	return false
}

// Load reads every file path stands for (see Files). The error is for a
// path that cannot be walked or holds no file to read; a file that cannot be
// read and a document that cannot be parsed are Objects with Err set.
func Load(path string) ([]Object, error) {
	files, err := Files(path)
	if err != nil {
		return nil, err
	}
	var objs []Object
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			objs = append(objs, Object{Source: Source{File: f}, Err: fmt.Errorf("read file: %w", err)})
			continue
		}
		objs = append(objs, Read(f, b)...)
	}
	return objs, nil
}

// Read splits data, the content of the file name, into its YAML (or JSON)
// documents and returns their objects, Lists expanded. Empty documents
// (blank, comments only, null) are skipped.
func Read(name string, data []byte) []Object {
	var objs []Object
	n := 0
	for _, d := range split(data) {
		if d.empty {
			continue
		}
		n++
		src := Source{File: name, Doc: n, Line: d.line}
		js, err := yaml.YAMLToJSON(d.data)
		if err != nil {
			objs = append(objs, Object{Source: src, Err: syntaxError(err, d.start)})
			continue
		}
		objs = append(objs, expand(src, js, d.data)...)
	}
	return objs
}

// FromJSON reads one JSON value, such as an object fetched from the
// Kubernetes API, expanding a List into its items.
func FromJSON(src Source, js []byte) []Object {
	return expand(src, js, js)
}

// head is what every object carries.
type head struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Items      []json.RawMessage `json:"items"`
}

func expand(src Source, js, text []byte) []Object {
	t := bytes.TrimSpace(js)
	if len(t) == 0 || string(t) == "null" {
		return nil
	}
	if t[0] != '{' {
		return []Object{{Source: src, Err: fmt.Errorf("not a Kubernetes object: %s", describe(t))}}
	}
	var h head
	if err := json.Unmarshal(js, &h); err != nil {
		return []Object{{Source: src, Err: fmt.Errorf("not a Kubernetes object: %w", err)}}
	}
	if IsList(h.Kind, h.Items != nil) {
		var objs []Object
		for i, it := range h.Items {
			s := src
			s.Item = i + 1
			objs = append(objs, expand(s, it, it)...)
		}
		return objs
	}
	return []Object{{Source: src, APIVersion: h.APIVersion, Kind: h.Kind, JSON: js, Text: text}}
}

// IsList reports whether an object of kind is a list of objects, as
// kubectl reads it: kind List, or a kind ending in "List" with items.
func IsList(kind string, hasItems bool) bool {
	return kind == "List" || (strings.HasSuffix(kind, "List") && hasItems)
}

// describe names what a JSON value that is not an object is.
func describe(v []byte) string {
	switch v[0] {
	case '[':
		return "a list, not a mapping"
	case '"':
		return "a string, not a mapping"
	default:
		return "a scalar, not a mapping"
	}
}

// document is one YAML document of a file.
type document struct {
	data []byte
	// start is the file line of the document's first line, line the file
	// line of its first line that is neither blank nor a comment.
	start, line int
	empty       bool
}

// split splits a YAML stream on "---" lines (a "---" optionally followed by
// a comment), keeping line numbers.
func split(data []byte) []document {
	var docs []document
	cur := document{start: 1, empty: true}
	lineNo := 0
	for _, l := range bytes.SplitAfter(data, []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		lineNo++
		if isSeparator(l) {
			docs = append(docs, cur)
			cur = document{start: lineNo + 1, empty: true}
			continue
		}
		cur.data = append(cur.data, l...)
		t := bytes.TrimSpace(l)
		if cur.empty && len(t) > 0 && t[0] != '#' {
			cur.empty = false
			cur.line = lineNo
		}
	}
	return append(docs, cur)
}

func isSeparator(l []byte) bool {
	rest, ok := bytes.CutPrefix(l, []byte("---"))
	if !ok {
		return false
	}
	t := bytes.TrimSpace(rest)
	if len(t) == 0 {
		return true
	}
	return t[0] == '#' && (rest[0] == ' ' || rest[0] == '\t')
}

var yamlLineRe = regexp.MustCompile(`line (\d+)`)

// syntaxError finds "line N" in a YAML error about a document starting on
// file line start, and rewrites it to the file's line.
func syntaxError(err error, start int) *SyntaxError {
	msg := strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")
	m := yamlLineRe.FindStringSubmatchIndex(msg)
	if m == nil {
		return &SyntaxError{Msg: msg, Err: err}
	}
	n, _ := strconv.Atoi(msg[m[2]:m[3]])
	line := start + n - 1
	return &SyntaxError{Line: line, Msg: msg[:m[2]] + strconv.Itoa(line) + msg[m[3]:], Err: err}
}

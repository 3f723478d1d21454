package gwconfig

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// Config holds the objects read so far. Build it with New, Load or LoadDir,
// add to it with AddFile and Add, and analyse it with Analyze. Adding an
// object that is already there (same group, kind, namespace and name)
// replaces it, with a warning.
type Config struct {
	// RootNamespace is Istio's root namespace, where an EnvoyFilter applies
	// to workloads of every namespace; New sets DefaultRootNamespace.
	RootNamespace string

	gateways        store[*Gateway]
	virtualServices store[*VirtualService]
	envoyFilters    store[*EnvoyFilter]
	services        store[*Service]
	secrets         store[*Secret]
	warnings        []Warning
}

// store keeps objects in the order they were added, replacing by key.
type store[T any] struct {
	items []T
	pos   map[string]int
}

// put adds or replaces v; it returns the replaced value.
func (s *store[T]) put(key string, v T) (prev T, replaced bool) {
	if s.pos == nil {
		s.pos = map[string]int{}
	}
	if i, ok := s.pos[key]; ok {
		prev = s.items[i]
		s.items[i] = v
		return prev, true
	}
	s.pos[key] = len(s.items)
	s.items = append(s.items, v)
	return prev, false
}

// Document is the content of one file (or stream) of YAML or JSON objects,
// with the name warnings give it.
type Document struct {
	Name string
	Data []byte
}

// New returns an empty Config.
func New() *Config {
	return &Config{RootNamespace: DefaultRootNamespace}
}

// Load reads docs into a new Config. Nothing stops the reading: problems are
// in Warnings.
func Load(docs ...Document) *Config {
	c := New()
	for _, d := range docs {
		c.AddFile(d.Name, d.Data)
	}
	return c
}

// LoadDir reads every .yaml, .yml and .json file under dir, recursively, in
// lexical order, skipping hidden directories. The error is for a directory
// that cannot be walked or holds no such file; problems with files and
// objects are in Warnings.
func LoadDir(dir string) (*Config, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != dir && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".yaml", ".yml", ".json":
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read gateway configuration: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("read gateway configuration: no .yaml, .yml or .json file under %s", dir)
	}
	c := New()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			c.warn("", Source{File: f}, fmt.Sprintf("read file: %v", err))
			continue
		}
		c.AddFile(f, b)
	}
	return c, nil
}

// Warnings returns the problems met while reading, in input order.
func (c *Config) Warnings() []Warning { return slices.Clone(c.warnings) }

// Gateways returns the Istio and Gateway API Gateways, ordered by group,
// namespace and name.
func (c *Config) Gateways() []*Gateway {
	return sortedBy(c.gateways.items, func(g *Gateway) string { return g.Group + "\x00" + g.Namespace + "\x00" + g.Name })
}

// VirtualServices returns the VirtualServices, ordered by namespace and name.
func (c *Config) VirtualServices() []*VirtualService {
	return sortedBy(c.virtualServices.items, func(v *VirtualService) string { return v.Namespace + "\x00" + v.Name })
}

// EnvoyFilters returns the EnvoyFilters, ordered by namespace and name.
func (c *Config) EnvoyFilters() []*EnvoyFilter {
	return sortedBy(c.envoyFilters.items, func(f *EnvoyFilter) string { return f.Namespace + "\x00" + f.Name })
}

// Services returns the Services, ordered by namespace and name.
func (c *Config) Services() []*Service {
	return sortedBy(c.services.items, func(s *Service) string { return s.Namespace + "\x00" + s.Name })
}

// Secrets returns the Secrets that hold (or should hold) a TLS certificate,
// ordered by namespace and name.
func (c *Config) Secrets() []*Secret {
	return sortedBy(c.secrets.items, func(s *Secret) string { return s.Namespace + "\x00" + s.Name })
}

func sortedBy[T any](items []T, key func(T) string) []T {
	out := slices.Clone(items)
	slices.SortStableFunc(out, func(a, b T) int { return cmp.Compare(key(a), key(b)) })
	return out
}

func (c *Config) warn(item string, src Source, msg string) {
	c.warnings = append(c.warnings, Warning{Item: item, Source: src, Message: msg})
}

// AddFile reads the YAML (or JSON) documents in data, separated by "---"
// lines; name is the file name warnings give.
func (c *Config) AddFile(name string, data []byte) {
	n := 0
	for _, d := range splitDocuments(data) {
		if d.empty {
			continue
		}
		n++
		src := Source{File: name, Doc: n, Line: d.line}
		js, err := yaml.YAMLToJSON(d.data)
		if err != nil {
			line, msg := yamlErrorLine(err, d.start)
			if line > 0 {
				src.Line = line
			}
			c.warn("", src, "not valid YAML: "+msg)
			continue
		}
		c.addJSON(src, js)
	}
}

// Add adds one object, such as the Object of an unstructured.Unstructured
// fetched from the Kubernetes API; source names it in warnings. A List (or
// any kind ending in "List" with items) adds its items.
func (c *Config) Add(source string, obj map[string]any) {
	src := Source{File: source}
	js, err := json.Marshal(obj)
	if err != nil {
		c.warn("", src, fmt.Sprintf("not a JSON object: %v", err))
		return
	}
	c.addJSON(src, js)
}

type objectMeta struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Labels    map[string]string `json:"labels"`
}

func (c *Config) addJSON(src Source, js []byte) {
	if len(bytes.TrimSpace(js)) == 0 || string(bytes.TrimSpace(js)) == "null" {
		return
	}
	var head struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Metadata   objectMeta        `json:"metadata"`
		Items      []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(js, &head); err != nil {
		c.warn("", src, fmt.Sprintf("not a Kubernetes object: %v", err))
		return
	}
	if head.Kind == "" {
		c.warn("", src, "not a Kubernetes object (no kind); skipped")
		return
	}
	if head.Kind == "List" || (strings.HasSuffix(head.Kind, "List") && head.Items != nil) {
		for i, it := range head.Items {
			s := src
			s.Item = i + 1
			c.addJSON(s, it)
		}
		return
	}
	group, version := splitAPIVersion(head.APIVersion)
	item := head.Kind + " " + nsName(head.Metadata.Namespace, head.Metadata.Name)
	known := true
	switch {
	case head.Kind == "Gateway" && group == IstioGroup,
		head.Kind == "VirtualService" && group == IstioGroup,
		head.Kind == "EnvoyFilter" && group == IstioGroup:
		if !slices.Contains([]string{"v1", "v1beta1", "v1alpha3"}, version) {
			c.warn(item, src, fmt.Sprintf("unknown apiVersion %s; read as %s/v1", head.APIVersion, IstioGroup))
		}
	case head.Kind == "Gateway" && group == GatewayAPIGroup:
		if !slices.Contains([]string{"v1", "v1beta1", "v1alpha2"}, version) {
			c.warn(item, src, fmt.Sprintf("unknown apiVersion %s; read as %s/v1", head.APIVersion, GatewayAPIGroup))
		}
	case (head.Kind == "Secret" || head.Kind == "Service") && head.APIVersion == "v1":
	default:
		known = false
	}
	if !known {
		return // other kinds are none of our business
	}
	if head.Metadata.Name == "" {
		c.warn(item, src, "no metadata.name; skipped")
		return
	}
	var err error
	switch {
	case head.Kind == "Gateway" && group == IstioGroup:
		err = c.addIstioGateway(src, head.APIVersion, js)
	case head.Kind == "Gateway":
		err = c.addGatewayAPIGateway(src, head.APIVersion, js)
	case head.Kind == "VirtualService":
		err = c.addVirtualService(src, js)
	case head.Kind == "EnvoyFilter":
		err = c.addEnvoyFilter(src, js)
	case head.Kind == "Secret":
		err = c.addSecret(src, js)
	case head.Kind == "Service":
		err = c.addService(src, js)
	}
	if err != nil {
		c.warn(item, src, "skipped: "+err.Error())
	}
}

// replaced warns that an object was defined twice.
func (c *Config) replaced(item string, src, prev Source) {
	c.warn(item, src, fmt.Sprintf("defined again (first at %s); the later one is used", prev))
}

func splitAPIVersion(av string) (group, version string) {
	if g, v, ok := strings.Cut(av, "/"); ok {
		return g, v
	}
	return "", av
}

// document is one YAML document of a file.
type document struct {
	data []byte
	// start is the file line of the document's first line, line the file
	// line of its first line that is neither blank nor a comment.
	start, line int
	empty       bool
}

// splitDocuments splits a YAML stream on "---" lines (a "---" optionally
// followed by a comment), keeping line numbers.
func splitDocuments(data []byte) []document {
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

// yamlErrorLine finds "line N" in a YAML error about a document starting on
// file line start, and rewrites it to the file's line.
func yamlErrorLine(err error, start int) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")
	m := yamlLineRe.FindStringSubmatchIndex(msg)
	if m == nil {
		return 0, msg
	}
	n, _ := strconv.Atoi(msg[m[2]:m[3]])
	line := start + n - 1
	return line, msg[:m[2]] + strconv.Itoa(line) + msg[m[3]:]
}

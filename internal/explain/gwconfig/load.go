package gwconfig

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/gatewatch/gatewatch/internal/manifest"
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

// LoadDir reads the manifests at path through internal/manifest: a file
// (whatever its name), or every .yaml, .yml and .json file under a folder,
// recursively, in lexical order, skipping hidden folders. The error is for a
// path that cannot be walked or holds no such file; problems with files and
// objects are in Warnings.
func LoadDir(path string) (*Config, error) {
	return LoadDirContext(context.Background(), path)
}

// LoadDirContext is LoadDir, stopped with ctx's error as soon as ctx ends
// (Ctrl-C on a folder of thousands of Gateways).
func LoadDirContext(ctx context.Context, path string) (*Config, error) {
	files, err := manifest.Files(path)
	if err != nil {
		return nil, fmt.Errorf("read gateway configuration: %w", err)
	}
	c := New()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			c.warn("", Source{File: f}, fmt.Sprintf("read file: %v", err))
			continue
		}
		objs, err := parseFile(ctx, f, b)
		if err != nil {
			return nil, err
		}
		if err := c.addManifestsContext(ctx, objs); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// parseFile reads the documents of one file. When ctx ends first it
// returns ctx's error at once; the parse, which cannot be stopped, ends in
// the background and is dropped.
func parseFile(ctx context.Context, name string, data []byte) ([]manifest.Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	done := make(chan []manifest.Object, 1)
	go func() { done <- manifest.Read(name, data) }()
	select {
	case objs := <-done:
		return objs, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
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
	c.addManifests(manifest.Read(name, data))
}

// Add adds one object, such as the Object of an unstructured.Unstructured
// fetched from the Kubernetes API; source names it in warnings. A List (or
// any kind ending in "List" with items) adds its items.
func (c *Config) Add(source string, obj map[string]any) {
	js, err := json.Marshal(obj)
	if err != nil {
		c.warn("", Source{File: source}, fmt.Sprintf("not a JSON object: %v", err))
		return
	}
	c.addManifests(manifest.FromJSON(manifest.Source{File: source}, js))
}

// addManifests adds the objects read, in order, with a warning for each
// document that could not be read (a YAML syntax error at its own line).
func (c *Config) addManifests(objs []manifest.Object) {
	_ = c.addManifestsContext(context.Background(), objs)
}

// addManifestsContext is addManifests, stopped with ctx's error when ctx
// ends.
func (c *Config) addManifestsContext(ctx context.Context, objs []manifest.Object) error {
	for i, o := range objs {
		if i%256 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		src := Source(o.Source)
		if o.Err != nil {
			var se *manifest.SyntaxError
			if errors.As(o.Err, &se) && se.Line > 0 {
				src.Line = se.Line
			}
			c.warn("", src, o.Err.Error())
			continue
		}
		c.addObject(src, o)
	}
	return nil
}

type objectMeta struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Labels    map[string]string `json:"labels"`
}

// addObject adds one object read by internal/manifest; kinds other than
// the ones explain analyses are skipped quietly.
func (c *Config) addObject(src Source, o manifest.Object) {
	js := o.JSON
	var head struct {
		APIVersion string     `json:"apiVersion"`
		Kind       string     `json:"kind"`
		Metadata   objectMeta `json:"metadata"`
	}
	if err := json.Unmarshal(js, &head); err != nil {
		c.warn("", src, fmt.Sprintf("not a Kubernetes object: %v", err))
		return
	}
	if head.Kind == "" {
		c.warn("", src, "not a Kubernetes object (no kind); skipped")
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

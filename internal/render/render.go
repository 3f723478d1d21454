// Package render compiles a gatewatch spec into the manifests and config
// files of an existing monitoring stack: prometheus-operator custom
// resources (operator), plain Prometheus and Alertmanager files
// (prometheus), kube-prometheus-stack Helm values (helm), or the manifests
// that deploy gatewatch itself (standalone). Targets is the registry: each
// target declares the files and kinds it writes, which tests and doctor's
// offline reader go by. Every object is built from typed structs and emitted
// in a stable order. The Mattermost webhook URL is never written: outputs
// reference a Secret or a file.
package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"sigs.k8s.io/yaml"

	"github.com/gatewatch/gatewatch/internal/spec"
)

// File is one rendered output: a Kubernetes object or a config file.
type File struct {
	// Name is the file name used with -o DIR.
	Name string
	// Header is a comment block written before the content (may be empty).
	Header string
	// Content is the YAML document.
	Content []byte
}

// Render compiles the spec for the target called name (see Targets).
func Render(s *spec.Spec, name string) ([]File, error) {
	t, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	return t.Render(s)
}

// marshal renders v as YAML through its JSON tags (Kubernetes conventions)
// and drops what Kubernetes types always emit but a manifest should not
// carry: status and metadata.creationTimestamp.
func marshal(v any) ([]byte, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var obj map[string]any
	if json.Unmarshal(j, &obj) == nil && obj["kind"] != nil {
		delete(obj, "status")
		if md, ok := obj["metadata"].(map[string]any); ok {
			delete(md, "creationTimestamp")
		}
		return yaml.Marshal(obj)
	}
	return yaml.JSONToYAML(j)
}

func file(name, header string, v any) (File, error) {
	b, err := marshal(v)
	if err != nil {
		return File{}, fmt.Errorf("render %s: %w", name, err)
	}
	return File{Name: name, Header: header, Content: b}, nil
}

// Write emits the files as one multi-document YAML stream, each preceded by
// a "# Source: NAME" line (as helm template does).
func Write(w io.Writer, files []File) error {
	var buf bytes.Buffer
	for i, f := range files {
		if i > 0 {
			buf.WriteString("---\n")
		}
		fmt.Fprintf(&buf, "# Source: %s\n", f.Name)
		buf.WriteString(f.Header)
		buf.Write(f.Content)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// WriteDir writes one file per output into dir, all or nothing: every file
// is first written to a temporary name, and only when all succeeded are they
// renamed into place. Existing files with other names are left alone.
func WriteDir(dir string, files []File) (err error) {
	names := map[string]bool{}
	for _, f := range files {
		if names[f.Name] || f.Name != filepath.Base(f.Name) {
			return fmt.Errorf("render: bad or duplicate output name %q", f.Name)
		}
		names[f.Name] = true
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create output directory: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, ".gatewatch-render-")
	if err != nil {
		return fmt.Errorf("write to output directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	for _, f := range files {
		var buf bytes.Buffer
		buf.WriteString(f.Header)
		buf.Write(f.Content)
		if err := os.WriteFile(filepath.Join(tmp, f.Name), buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", f.Name, err)
		}
	}
	// Move the files into place, keeping what they replace so a failure
	// part-way restores the directory as it was.
	type moved struct{ dst, backup string }
	var done []moved
	rollback := func() {
		for i := len(done) - 1; i >= 0; i-- {
			_ = os.Remove(done[i].dst)
			if done[i].backup != "" {
				_ = os.Rename(done[i].backup, done[i].dst)
			}
		}
	}
	for _, f := range files {
		dst := filepath.Join(dir, f.Name)
		m := moved{dst: dst}
		if fi, err := os.Lstat(dst); err == nil {
			if !fi.Mode().IsRegular() {
				rollback()
				return fmt.Errorf("write %s: %s exists and is not a regular file", f.Name, dst)
			}
			m.backup = filepath.Join(tmp, ".old-"+f.Name)
			if err := os.Rename(dst, m.backup); err != nil {
				rollback()
				return fmt.Errorf("replace %s: %w", f.Name, err)
			}
		}
		if err := os.Rename(filepath.Join(tmp, f.Name), dst); err != nil {
			if m.backup != "" {
				_ = os.Rename(m.backup, dst)
			}
			rollback()
			return fmt.Errorf("move %s into place: %w", f.Name, err)
		}
		done = append(done, m)
	}
	return nil
}

// Names returns the output file names, for messages.
func Names(files []File) []string {
	var out []string
	for _, f := range files {
		out = append(out, f.Name)
	}
	return out
}

// managedLabels are put on every rendered Kubernetes object.
func managedLabels(s *spec.Spec, withSelector bool) map[string]string {
	l := map[string]string{"app.kubernetes.io/managed-by": "gatewatch"}
	if withSelector {
		for k, v := range s.Cluster.SelectorLabels {
			l[k] = v
		}
	}
	return l
}

// alertmanagerConfigNamespaces are the namespaces that need an
// AlertmanagerConfig: the operator only routes alerts whose namespace label
// equals the AlertmanagerConfig's namespace, and the rules set namespace to
// the gateway's namespace.
func alertmanagerConfigNamespaces(s *spec.Spec) []string {
	var out []string
	for _, g := range s.Gateways {
		if !slices.Contains(out, g.Namespace) {
			out = append(out, g.Namespace)
		}
	}
	return out
}

package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// writeTree writes files (relative name → content) under a new folder.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for rel, content := range files {
		p := filepath.Join(dir, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return dir
}

func TestFiles(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"b.yaml":               "kind: B\n",
		"a.yml":                "kind: A\n",
		"c.json":               `{"kind": "C"}`,
		"UPPER.YAML":           "kind: U\n",
		"README.md":            "not yaml: [",
		"secret.yaml.example":  "kind: Secret\n",
		"nested/d.yaml":        "kind: D\n",
		".git/config.yaml":     "broken: [",
		"nested/.hidden/e.yml": "kind: E\n",
		".dotfile.yaml":        "kind: Dot\n",
	})
	rel := func(files []string) []string {
		var out []string
		for _, f := range files {
			r, err := filepath.Rel(dir, f)
			require.NoError(t, err)
			out = append(out, filepath.ToSlash(r))
		}
		return out
	}
	for _, tc := range []struct {
		name, path string
		want       []string
		err        string
	}{
		{name: "folder: yaml, yml and json, recursive, lexical, hidden folders skipped, hidden files read",
			path: dir, want: []string{".dotfile.yaml", "UPPER.YAML", "a.yml", "b.yaml", "c.json", "nested/d.yaml"}},
		{name: "a hidden folder named explicitly is walked", path: filepath.Join(dir, ".git"), want: []string{".git/config.yaml"}},
		{name: "a file named explicitly is read whatever its name", path: filepath.Join(dir, "secret.yaml.example"), want: []string{"secret.yaml.example"}},
		{name: "a file in a hidden folder named explicitly", path: filepath.Join(dir, "nested/.hidden/e.yml"), want: []string{"nested/.hidden/e.yml"}},
		{name: "a sub-folder: its hidden folders are skipped", path: filepath.Join(dir, "nested"), want: []string{"nested/d.yaml"}},
		{name: "missing", path: filepath.Join(dir, "missing"), err: "no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Files(tc.path)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, rel(got))
		})
	}

	_, err := Files(t.TempDir())
	require.ErrorIs(t, err, ErrNoFiles)
	require.ErrorContains(t, err, "no .yaml, .yml or .json file under")
}

func TestReadDocumentsAndLines(t *testing.T) {
	data := "# Source: a.yaml\n" + // 1
		"apiVersion: v1\n" + // 2
		"kind: Namespace\n" + // 3
		"metadata: {name: a}\n" + // 4
		"---\n" + // 5
		"# comments only\n" + // 6
		"---   # a separator with a comment\n" + // 7
		"\n" + // 8
		"kind: Service\n" + // 9
		"metadata:\n" + // 10
		"  name: b\n" + // 11
		"---\n" + // 12
		"null\n" + // 13
		"---\n" + // 14
		"route: {receiver: x}\n" + // 15
		"receivers: [{name: x}]\n" // 16
	objs := Read("all.yaml", []byte(data))
	type got struct {
		Source
		Kind string
	}
	var gots []got
	for _, o := range objs {
		require.NoError(t, o.Err)
		gots = append(gots, got{o.Source, o.Kind})
	}
	require.Equal(t, []got{
		{Source{File: "all.yaml", Doc: 1, Line: 2}, "Namespace"},
		{Source{File: "all.yaml", Doc: 2, Line: 9}, "Service"},
		// null is a document (it is not blank) but no object.
		{Source{File: "all.yaml", Doc: 4, Line: 15}, ""},
	}, gots)
	require.Equal(t, "\nkind: Service\nmetadata:\n  name: b\n", string(objs[1].Text))
	require.JSONEq(t, `{"kind": "Service", "metadata": {"name": "b"}}`, string(objs[1].JSON))
	require.Equal(t, "all.yaml:9 (document 2)", objs[1].Source.String())
}

func TestReadProblems(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       Source
		msg        string
		syntaxLine int
	}{
		{"syntax error, its line counted in the file", "kind: A\n---\n# c\nkind: NetworkPolicy\nspec: [unclosed\n",
			Source{File: "f.yaml", Doc: 2, Line: 4}, "not valid YAML: yaml: line 5:", 5},
		{"a list", "- a\n- b\n", Source{File: "f.yaml", Doc: 1, Line: 1}, "not a Kubernetes object: a list, not a mapping", 0},
		{"a string", "hello\n", Source{File: "f.yaml", Doc: 1, Line: 1}, "not a Kubernetes object: a string, not a mapping", 0},
		{"kind of the wrong type", "kind: [A]\n", Source{File: "f.yaml", Doc: 1, Line: 1}, "not a Kubernetes object: json: cannot unmarshal array", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := Read("f.yaml", []byte(tc.data))
			var probs []Object
			for _, o := range objs {
				if o.Err != nil {
					probs = append(probs, o)
				}
			}
			require.Len(t, probs, 1)
			require.Equal(t, tc.want, probs[0].Source)
			require.Contains(t, probs[0].Err.Error(), tc.msg)
			require.Empty(t, probs[0].JSON)
			var se *SyntaxError
			require.Equal(t, tc.syntaxLine != 0, errors.As(probs[0].Err, &se))
			if se != nil {
				require.Equal(t, tc.syntaxLine, se.Line)
			}
		})
	}
}

func TestReadJSONAndLists(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       []Source
		kinds      []string
		problems   int
	}{
		{"json object", `{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}}`,
			[]Source{{File: "f", Doc: 1, Line: 1}}, []string{"Service"}, 0},
		{"kind: List", "apiVersion: v1\nkind: List\nitems:\n- {kind: Service, metadata: {name: a}}\n- {kind: Pod, metadata: {name: b}}\n",
			[]Source{{File: "f", Doc: 1, Line: 1, Item: 1}, {File: "f", Doc: 1, Line: 1, Item: 2}}, []string{"Service", "Pod"}, 0},
		{"a typed list (ServiceList)", `{"apiVersion": "v1", "kind": "ServiceList", "items": [{"kind": "Service"}]}`,
			[]Source{{File: "f", Doc: 1, Line: 1, Item: 1}}, []string{"Service"}, 0},
		{"a kind ending in List without items is an object", "kind: AllowList\nspec: {}\n",
			[]Source{{File: "f", Doc: 1, Line: 1}}, []string{"AllowList"}, 0},
		{"an empty List", "kind: List\nitems: []\n", nil, nil, 0},
		{"a bad item", "kind: List\nitems:\n- kind: Service\n- 3\n",
			[]Source{{File: "f", Doc: 1, Line: 1, Item: 1}}, []string{"Service"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			problems := 0
			var srcs []Source
			var kinds []string
			for _, o := range Read("f", []byte(tc.data)) {
				if o.Err != nil {
					problems++
					continue
				}
				srcs = append(srcs, o.Source)
				kinds = append(kinds, o.Kind)
			}
			require.Equal(t, tc.problems, problems)
			require.Equal(t, tc.want, srcs)
			require.Equal(t, tc.kinds, kinds)
		})
	}

	// Objects fetched from an API: the same expansion.
	objs := FromJSON(Source{File: "cluster"}, []byte(`{"kind": "List", "items": [{"kind": "Gateway"}, {"kind": "List", "items": [{"kind": "Secret"}]}]}`))
	require.Len(t, objs, 2)
	require.Equal(t, Source{File: "cluster", Item: 1}, objs[1].Source, "a nested List's items are numbered in their own List")
	require.Equal(t, "Secret", objs[1].Kind)
}

func TestLoad(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"a.yaml":         "kind: A\n---\nkind: B\n",
		"b.json":         `{"kind": "List", "items": [{"kind": "C"}]}`,
		"c.yml":          "kind: [\n",
		".cache/x.yaml":  "kind: Hidden\n",
		"notes.txt":      "kind: Text\n",
		"sub/d.yaml":     "# only a comment\n",
		"sub/e.yaml.bak": "kind: Backup\n",
	})
	objs, err := Load(dir)
	require.NoError(t, err)
	var got []string
	for _, o := range objs {
		if o.Err != nil {
			rel, _ := filepath.Rel(dir, o.File)
			got = append(got, "problem in "+rel)
			continue
		}
		got = append(got, o.Kind)
	}
	require.Equal(t, []string{"A", "B", "C", "problem in c.yml"}, got, "problems stay in file order")

	objs, err = Load(filepath.Join(dir, "notes.txt"))
	require.NoError(t, err)
	require.Len(t, objs, 1, "a file named explicitly is read")
	require.Equal(t, "Text", objs[0].Kind)

	_, err = Load(filepath.Join(dir, "missing"))
	require.Error(t, err)
}

func TestSplit(t *testing.T) {
	data := "---\n# comment only\n---   # separator with comment\na: 1\n\nb: 2\n---\n\n---\nc: 3\n--- not a separator\n---# no space: not a separator either\n"
	var got []document
	for _, d := range split([]byte(data)) {
		if !d.empty {
			got = append(got, document{start: d.start, line: d.line, data: d.data})
		}
	}
	require.Equal(t, []document{
		{start: 4, line: 4, data: []byte("a: 1\n\nb: 2\n")},
		{start: 10, line: 10, data: []byte("c: 3\n--- not a separator\n---# no space: not a separator either\n")},
	}, got)
}

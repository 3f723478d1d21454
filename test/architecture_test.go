package test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestArchitectureNamesExist holds docs/ARCHITECTURE.md to the code: every
// `pkg.Name` it names is declared in that package, and every `Type.Member`
// is a method or field of a type of that name.
func TestArchitectureNamesExist(t *testing.T) {
	doc, err := os.ReadFile("../docs/ARCHITECTURE.md")
	require.NoError(t, err)

	decls := map[string]map[string]bool{}   // package name → top-level names
	members := map[string]map[string]bool{} // type name → methods and fields
	add := func(m map[string]map[string]bool, k, v string) {
		if m[k] == nil {
			m[k] = map[string]bool{}
		}
		m[k][v] = true
	}
	fset := token.NewFileSet()
	err = filepath.WalkDir("../internal", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		pkg := f.Name.Name
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					add(decls, pkg, d.Name.Name)
					continue
				}
				rt := d.Recv.List[0].Type
				if s, ok := rt.(*ast.StarExpr); ok {
					rt = s.X
				}
				if id, ok := rt.(*ast.Ident); ok {
					add(members, id.Name, d.Name.Name)
				}
			case *ast.GenDecl:
				for _, sp := range d.Specs {
					switch sp := sp.(type) {
					case *ast.TypeSpec:
						add(decls, pkg, sp.Name.Name)
						if st, ok := sp.Type.(*ast.StructType); ok {
							for _, fl := range st.Fields.List {
								for _, n := range fl.Names {
									add(members, sp.Name.Name, n.Name)
								}
								if len(fl.Names) == 0 { // embedded: its members count too
									if sel, ok := fl.Type.(*ast.SelectorExpr); ok {
										add(members, sp.Name.Name, "embeds:"+sel.Sel.Name)
									}
								}
							}
						}
					case *ast.ValueSpec:
						for _, n := range sp.Names {
							add(decls, pkg, n.Name)
						}
					}
				}
			}
		}
		return nil
	})
	require.NoError(t, err)

	has := func(typ, member string) bool {
		if members[typ][member] {
			return true
		}
		for m := range members[typ] {
			if e, ok := strings.CutPrefix(m, "embeds:"); ok && members[e][member] {
				return true
			}
		}
		return false
	}
	code := regexp.MustCompile("`([^`]+)`")
	name := regexp.MustCompile(`\b([A-Za-z][A-Za-z0-9]*)\.([A-Za-z][A-Za-z0-9]*)\b`)
	checked := 0
	for _, span := range code.FindAllStringSubmatch(string(doc), -1) {
		if strings.ContainsAny(span[1], "/:= ") && !strings.Contains(span[1], "(") {
			continue // a path, a flag, YAML
		}
		for _, m := range name.FindAllStringSubmatch(span[1], -1) {
			left, right := m[1], m[2]
			switch {
			case decls[left] != nil:
				require.True(t, decls[left][right], "docs/ARCHITECTURE.md names %s.%s, which package %s does not declare", left, right, left)
			case members[left] != nil:
				require.True(t, has(left, right), "docs/ARCHITECTURE.md names %s.%s, which type %s does not have", left, right, left)
			default:
				continue // not Go (a file name such as gatewatch.yaml)
			}
			checked++
		}
	}
	require.Greater(t, checked, 30, "the page names code")
}

// TestDependenciesPointDown holds the package table of docs/ARCHITECTURE.md
// to the imports: a package imports only packages listed below it (or its
// own subpackages). A package not in the table ranks with its nearest listed
// parent folder.
func TestDependenciesPointDown(t *testing.T) {
	doc, err := os.ReadFile("../docs/ARCHITECTURE.md")
	require.NoError(t, err)
	const module = "github.com/gatewatch/gatewatch/"
	var order []string
	for _, m := range regexp.MustCompile("(?m)^\\| `((?:cmd|internal)/[a-z/]+)` \\|").FindAllStringSubmatch(string(doc), -1) {
		order = append(order, m[1])
	}
	require.Greater(t, len(order), 10)
	rank := func(pkg string) (int, string) {
		best, at := "", -1
		for i, p := range order {
			if (pkg == p || strings.HasPrefix(pkg, p+"/")) && len(p) > len(best) {
				best, at = p, i
			}
		}
		return at, best
	}
	fset := token.NewFileSet()
	checked := 0
	for _, root := range []string{"../cmd", "../internal"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			from := strings.TrimPrefix(filepath.ToSlash(filepath.Dir(path)), "../")
			fr, fl := rank(from)
			require.GreaterOrEqual(t, fr, 0, "%s is not in docs/ARCHITECTURE.md's package table", from)
			for _, im := range f.Imports {
				to, ok := strings.CutPrefix(strings.Trim(im.Path.Value, `"`), module)
				if !ok {
					continue
				}
				tr, tl := rank(to)
				checked++
				if tl == fl || strings.HasPrefix(to, from+"/") {
					continue // within one listed package, or into a subpackage
				}
				require.Greater(t, tr, fr, "%s imports %s, which docs/ARCHITECTURE.md lists above it", from, to)
			}
			return nil
		})
		require.NoError(t, err)
	}
	require.Greater(t, checked, 50)
}

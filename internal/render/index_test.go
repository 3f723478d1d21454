package render

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// dirNames are the names of the files in dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// TestSyncDirRemovesWhatTheSpecNoLongerProduces: re-rendering the full spec
// without its second gateway into the same folder removes (prune) or lists
// (no prune) that gateway's PodMonitor, ScrapeConfig, AlertmanagerConfig and
// Secret example; files render did not write, and a stale file the user
// changed, stay.
func TestSyncDirRemovesWhatTheSpecNoLongerProduces(t *testing.T) {
	for _, target := range TargetNames() {
		for _, prune := range []bool{true, false} {
			name := target + "/prune"
			if !prune {
				name = target + "/no-prune"
			}
			t.Run(name, func(t *testing.T) {
				s, err := spec.Load(goldenSpecs["full"], rules.SpecKinds())
				require.NoError(t, err)
				dir := t.TempDir()
				before, err := Render(s, target)
				require.NoError(t, err)
				res, err := SyncDir(dir, Owner{Target: target, Spec: "gatewatch.yaml"}, before, prune)
				require.NoError(t, err)
				require.Equal(t, Names(before), res.Written)
				require.Empty(t, res.Removed)

				// The user's own files, one named like a rendered one.
				mine := []string{"gateway.yaml", "podmonitor-edge-mine.yaml"}
				for _, n := range mine {
					require.NoError(t, os.WriteFile(filepath.Join(dir, n), []byte("kind: PodMonitor\n"), 0o644))
				}

				s.Gateways = s.Gateways[:1]
				after, err := Render(s, target)
				require.NoError(t, err)
				var gone []string
				for _, f := range before {
					if !slices.Contains(Names(after), f.Name) {
						gone = append(gone, f.Name)
					}
				}
				sort.Strings(gone)
				if target == TargetOperator {
					require.Contains(t, gone, "podmonitor-edge-gatewatch-partner-edge.yaml")
					require.Contains(t, gone, "alertmanagerconfig-edge-gatewatch-mattermost.yaml")
					require.Contains(t, gone, "secret-edge-gatewatch-mattermost.yaml.example")
				}

				res, err = SyncDir(dir, Owner{Target: target, Spec: "gatewatch.yaml"}, after, prune)
				require.NoError(t, err)
				files := dirNames(t, dir)
				for _, n := range append(mine, Names(after)...) {
					require.Contains(t, files, n)
				}
				if prune {
					require.Equal(t, gone, res.Removed)
					require.Empty(t, res.Stale)
					for _, n := range gone {
						require.NotContains(t, files, n)
					}
				} else {
					require.Empty(t, res.Removed)
					require.Equal(t, gone, res.Stale)
					for _, n := range gone {
						require.Contains(t, files, n)
					}
					// Still owned: the next render with prune removes them.
					res, err = SyncDir(dir, Owner{Target: target, Spec: "gatewatch.yaml"}, after, true)
					require.NoError(t, err)
					require.Equal(t, gone, res.Removed)
				}
				require.Empty(t, res.Changed)
				require.ElementsMatch(t, append(append([]string{IndexFileName}, mine...), Names(after)...), dirNames(t, dir))
			})
		}
	}
}

// TestSyncDirKeepsChangedFiles: a stale file the user edited since render
// wrote it is kept, reported, and no longer claimed.
func TestSyncDirKeepsChangedFiles(t *testing.T) {
	dir := t.TempDir()
	_, err := SyncDir(dir, Owner{Target: "t", Spec: "s.yaml"}, []File{{Name: "a.yaml", Content: []byte("a: 1\n")}, {Name: "b.yaml", Content: []byte("b: 1\n")}}, true)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b.yaml"), []byte("b: 2\n"), 0o644))
	res, err := SyncDir(dir, Owner{Target: "t", Spec: "s.yaml"}, []File{{Name: "a.yaml", Content: []byte("a: 1\n")}}, true)
	require.NoError(t, err)
	require.Equal(t, []string{"b.yaml"}, res.Changed)
	require.Empty(t, res.Removed)
	b, err := os.ReadFile(filepath.Join(dir, "b.yaml"))
	require.NoError(t, err)
	require.Equal(t, "b: 2\n", string(b))
	ix, err := ReadIndex(dir)
	require.NoError(t, err)
	require.Equal(t, []IndexEntry{{Name: "a.yaml", SHA256: digest([]byte("a: 1\n")), Owner: Owner{Target: "t", Spec: "s.yaml"}}}, ix.Files)

	// A folder rendered before the index existed: nothing is removed.
	old := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(old, "podmonitor-x.yaml"), []byte("kind: PodMonitor\n"), 0o644))
	res, err = SyncDir(old, Owner{Target: "t", Spec: "s.yaml"}, []File{{Name: "a.yaml", Content: []byte("a: 1\n")}}, true)
	require.NoError(t, err)
	require.Empty(t, res.Removed)
	require.FileExists(t, filepath.Join(old, "podmonitor-x.yaml"))

	// A broken index is an error, naming the way out; nothing is written.
	require.NoError(t, os.WriteFile(filepath.Join(dir, IndexFileName), []byte("{"), 0o644))
	_, err = SyncDir(dir, Owner{Target: "t", Spec: "s.yaml"}, []File{{Name: "c.yaml", Content: []byte("c: 1\n")}}, true)
	require.ErrorContains(t, err, "delete it to start over")
	require.NoFileExists(t, filepath.Join(dir, "c.yaml"))
}

// TestSyncDirPrunesOnlyItsOwnRender: another target, or another spec,
// rendered into the same folder keeps its files; each render prunes only
// what it wrote itself.
func TestSyncDirPrunesOnlyItsOwnRender(t *testing.T) {
	s, err := spec.Load(goldenSpecs["full"], rules.SpecKinds())
	require.NoError(t, err)
	dir := t.TempDir()
	standalone := Owner{Target: TargetStandalone, Spec: "gatewatch.yaml"}
	operator := Owner{Target: TargetOperator, Spec: "gatewatch.yaml"}
	sa, err := Render(s, TargetStandalone)
	require.NoError(t, err)
	_, err = SyncDir(dir, standalone, sa, true)
	require.NoError(t, err)
	op, err := Render(s, TargetOperator)
	require.NoError(t, err)
	res, err := SyncDir(dir, operator, op, true)
	require.NoError(t, err)
	require.Empty(t, res.Removed, "the operator render removes none of the standalone render's files")
	for _, f := range sa {
		require.FileExists(t, filepath.Join(dir, f.Name))
	}
	// Another team's spec into the same folder: nothing of the first removed.
	res, err = SyncDir(dir, Owner{Target: TargetOperator, Spec: "other/gatewatch.yaml"}, []File{{Name: "other.yaml", Content: []byte("a: 1\n")}}, true)
	require.NoError(t, err)
	require.Empty(t, res.Removed)
	for _, f := range op {
		require.FileExists(t, filepath.Join(dir, f.Name))
	}

	// The standalone render again with one gateway fewer prunes only its own.
	s.Gateways = s.Gateways[:1]
	sa2, err := Render(s, TargetStandalone)
	require.NoError(t, err)
	res, err = SyncDir(dir, standalone, sa2, true)
	require.NoError(t, err)
	require.NotEmpty(t, res.Removed, "the standalone render with one gateway fewer prunes its own stale files")
	for _, n := range res.Removed {
		require.True(t, slices.ContainsFunc(sa, func(f File) bool { return f.Name == n }), "%s was the standalone render's", n)
	}
	for _, f := range op {
		if !slices.ContainsFunc(sa2, func(g File) bool { return g.Name == f.Name }) {
			require.FileExists(t, filepath.Join(dir, f.Name), "the operator render's file stays")
		}
	}
	require.FileExists(t, filepath.Join(dir, "other.yaml"))
}

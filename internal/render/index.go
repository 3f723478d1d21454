package render

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
)

// IndexFileName is the index render -o DIR keeps in DIR of the files it
// wrote there, so a later render can remove those the spec no longer
// produces (a removed gateway's PodMonitor, AlertmanagerConfig,
// NetworkPolicy and Secret example) and never touches a file it did not
// write.
//
// Why an index file and not (only) a label on every object: what goes
// stale is files in a folder that `kubectl apply -f DIR` reads, and not all
// of them are objects (prometheus.yml, values.yaml, the commented-out
// Secret example carry no label). Cluster-side, the objects of the
// operator, prometheus and standalone targets carry
// app.kubernetes.io/managed-by=gatewatch (the helm target's, the chart's
// managed-by=Helm), which is what
// `kubectl apply --prune -l app.kubernetes.io/managed-by=gatewatch` and
// `kubectl delete -l …` select on. The name starts with a dot and has no
// .yaml/.yml/.json extension: `kubectl apply -f DIR` reads only those
// extensions, so it never tries to apply the index (as it would a
// .gatewatch-render.json), `ls` hides it as it does .helmignore, and
// gatewatch's own manifest reader skips it.
const IndexFileName = ".gatewatch-render"

// indexVersion is the format of the index file.
const indexVersion = 1

// Index is what render wrote into a folder, file by file, each with the
// render that owns it.
type Index struct {
	Version int          `json:"version"`
	Files   []IndexEntry `json:"files"`
}

// Owner is one render into a folder: a target and the spec it rendered
// (its path relative to the folder). A render prunes only the files its own
// owner wrote, so rendering another target, or another team's spec, into
// the same folder never removes the first one's files.
type Owner struct {
	Target string `json:"target"`
	Spec   string `json:"spec"`
}

// IndexEntry is one file render wrote, with the SHA-256 of what it wrote
// (a file changed since is the user's and is never removed) and the render
// that wrote it.
type IndexEntry struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Owner
}

// SyncResult says what SyncDir did with the files an earlier render wrote
// into the folder that this render does not produce.
type SyncResult struct {
	// Written are the files written.
	Written []string
	// Removed are stale files removed (prune).
	Removed []string
	// Stale are stale files kept because prune was off; they stay in the
	// index, so a later render with prune removes them.
	Stale []string
	// Changed are stale files kept because they changed since render wrote
	// them; they leave the index (they are the user's now).
	Changed []string
}

// ReadIndex reads the index in dir; a folder without one has an empty
// index.
func ReadIndex(dir string) (Index, error) {
	b, err := os.ReadFile(filepath.Join(dir, IndexFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return Index{Version: indexVersion}, nil
	}
	if err != nil {
		return Index{}, fmt.Errorf("read render index: %w", err)
	}
	var ix Index
	if err := json.Unmarshal(b, &ix); err != nil {
		return Index{}, fmt.Errorf("read render index %s: %w (delete it to start over: render then prunes nothing once)", filepath.Join(dir, IndexFileName), err)
	}
	if ix.Version != indexVersion {
		return Index{}, fmt.Errorf("read render index %s: version %d, this gatewatch reads %d", filepath.Join(dir, IndexFileName), ix.Version, indexVersion)
	}
	for _, e := range ix.Files {
		if e.Name != filepath.Base(e.Name) || e.Name == IndexFileName || e.Name == "." || e.Name == ".." {
			return Index{}, fmt.Errorf("read render index %s: bad file name %q", filepath.Join(dir, IndexFileName), e.Name)
		}
	}
	return ix, nil
}

// SyncDir writes the files of owner's render into dir as WriteDir does
// (all or nothing), records them in the folder's index, and deals with the
// files the previous render of the same owner (target and spec) wrote that
// this one does not produce: removed when prune is set, else listed (and
// kept in the index). A file that changed since render wrote it, that no
// render recorded, or that another owner's render wrote, is never removed.
func SyncDir(dir string, owner Owner, files []File, prune bool) (SyncResult, error) {
	old, err := ReadIndex(dir)
	if err != nil {
		return SyncResult{}, err
	}
	res := SyncResult{Written: Names(files)}
	ix := Index{Version: indexVersion}
	for _, f := range files {
		if f.Name == IndexFileName {
			return SyncResult{}, fmt.Errorf("render: bad output name %q", f.Name)
		}
		ix.Files = append(ix.Files, IndexEntry{Name: f.Name, SHA256: digest(fileBytes(f)), Owner: owner})
	}
	var remove []string
	for _, e := range old.Files {
		if slices.Contains(res.Written, e.Name) {
			continue
		}
		if e.Owner != owner {
			ix.Files = append(ix.Files, e) // another render's file
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue // gone already
		case err != nil:
			return SyncResult{}, fmt.Errorf("read %s: %w", e.Name, err)
		case digest(b) != e.SHA256:
			res.Changed = append(res.Changed, e.Name)
		case prune:
			// Still listed: if the removal fails, the next render retries.
			remove = append(remove, e.Name)
			ix.Files = append(ix.Files, e)
		default:
			res.Stale = append(res.Stale, e.Name)
			ix.Files = append(ix.Files, e)
		}
	}
	sort.Slice(ix.Files, func(i, j int) bool { return ix.Files[i].Name < ix.Files[j].Name })
	b, err := json.MarshalIndent(ix, "", "  ")
	if err != nil {
		return SyncResult{}, fmt.Errorf("render index: %w", err)
	}
	if err := WriteDir(dir, append(slices.Clone(files), File{Name: IndexFileName, Content: append(b, '\n')})); err != nil {
		return SyncResult{}, err
	}
	var errs []error
	for _, name := range remove {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove stale %s: %w", name, err))
			continue
		}
		res.Removed = append(res.Removed, name)
	}
	return res, errors.Join(errs...)
}

// fileBytes are the bytes WriteDir writes for f.
func fileBytes(f File) []byte {
	return append([]byte(f.Header), f.Content...)
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

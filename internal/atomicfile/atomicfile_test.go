package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWrite: the new content replaces the old with the mode asked; a
// failed write leaves the old content and no temporary file.
func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	require.NoError(t, Write(p, 0o600, func(w io.Writer) error { _, err := io.WriteString(w, "old"); return err }))
	require.NoError(t, Write(p, 0o600, func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err }))
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, "new", string(b))
	fi, err := os.Stat(p)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	err = Write(p, 0o600, func(w io.Writer) error {
		_, _ = io.WriteString(w, "half")
		return errors.New("disk full")
	})
	require.EqualError(t, err, "disk full")
	b, _ = os.ReadFile(p)
	require.Equal(t, "new", string(b), "the old content stays")
	entries, _ := os.ReadDir(dir)
	require.Len(t, entries, 1, "no temporary file left")
}

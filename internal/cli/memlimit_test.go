package cli

import (
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/render"
)

// TestMemoryLimitFromTheDownwardAPI: the container's limit in
// GATEWATCH_MEMORY_LIMIT sets the Go soft limit to the ratio of it; an
// explicit GOMEMLIMIT wins; a malformed value is a usage error.
func TestMemoryLimitFromTheDownwardAPI(t *testing.T) {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		t.Skip("GOMEMLIMIT is set for the test process")
	}
	defer debug.SetMemoryLimit(math.MaxInt64)
	t.Setenv(render.MemoryLimitEnv, "536870912") // 512Mi
	require.NoError(t, setMemoryLimit(0.8, slog.New(slog.DiscardHandler)))
	require.InDelta(t, 536870912*0.8, float64(debug.SetMemoryLimit(-1)), 1)

	debug.SetMemoryLimit(math.MaxInt64)
	require.NoError(t, setMemoryLimit(0, slog.New(slog.DiscardHandler)), "0 turns it off")
	require.Equal(t, int64(math.MaxInt64), debug.SetMemoryLimit(-1))

	t.Setenv(render.MemoryLimitEnv, "512Mi")
	require.ErrorContains(t, setMemoryLimit(0.8, slog.New(slog.DiscardHandler)), "want the memory limit in bytes")
	require.ErrorContains(t, setMemoryLimit(1.5, slog.New(slog.DiscardHandler)), "fraction")
}

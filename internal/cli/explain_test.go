package cli

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestExplainInterrupted: Ctrl-C (cmd/gatewatch cancels the context) stops
// `gatewatch explain` with the shell's exit code for SIGINT, 130, and says
// so instead of printing a partial report.
func TestExplainInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errOut bytes.Buffer
	code := Main(ctx, []string{"explain", "--config", "../../examples/explain/config", "--logs", "../../examples/explain/access.log"}, &out, &errOut)
	require.Equal(t, exitInterrupted, code, errOut.String())
	require.Contains(t, errOut.String(), "interrupted")
	require.Empty(t, out.String(), "no report")
}

// Package cli wires gatewatch's subcommands: flags → options → the domain
// packages. One file per subcommand; shared setup (spec loading, output
// format) lives here.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// Exit codes, as kubectl/promtool use them.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and found a problem (invalid spec, failed scenario)
	exitUsage   = 2 // the command could not run as asked
	// exitInterrupted is a shell's code for a command ended by SIGINT.
	exitInterrupted = 130
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func fail(code int, err error) error { return &exitError{code: code, err: err} }

// Main runs gatewatch with args and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return MainAs(ctx, "gatewatch", args, stdout, stderr)
}

// MainAs is Main for a binary started as argv0: as kubectl-gatewatch it is
// a kubectl plugin, and its help says `kubectl gatewatch …`.
func MainAs(ctx context.Context, argv0 string, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	if IsPlugin(argv0) {
		asPlugin(root)
	}
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(stderr, "Error:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "Error:", err)
	return exitUsage
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "gatewatch",
		Short: "Catch misdirected requests (HTTP 421) at Istio/Envoy gateways and tell Mattermost",
		Long: `gatewatch watches Istio/Envoy gateways for misdirected requests (HTTP 421)
and other bad responses, delivers the alert to Mattermost, and explains why
it happened. One spec file (gatewatch.yaml) drives everything:

  gatewatch check  -c gatewatch.yaml                    validate the spec
  gatewatch test   -c gatewatch.yaml                    prove the alert rules
  gatewatch render -c gatewatch.yaml --target operator  manifests for your stack`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newVersionCmd(), newCheckCmd(), newTestCmd(), newRenderCmd(), newNotifyCmd(), newInboxCmd(), newRunCmd(), newDemoCmd(), newDoctorCmd(), newExplainCmd(), newBridgeCmd())
	return root
}

// specFlag adds the -c/--config flag every spec-driven command takes.
func specFlag(cmd *cobra.Command, path *string) {
	cmd.Flags().StringVarP(path, "config", "c", "gatewatch.yaml", "path to the gatewatch spec")
}

// deliverer is what the commands that deliver alerts (run, bridge) start
// with: their logger, and a spec that delivers to Mattermost.
func deliverer(logs logFlags, path string, stderr io.Writer) (*slog.Logger, *spec.Spec, error) {
	logger, err := logs.logger(stderr)
	if err != nil {
		return nil, nil, err
	}
	s, err := loadSpec(path)
	if err != nil {
		return nil, nil, err
	}
	if !s.Mattermost.Delivers() {
		return nil, nil, fail(exitFailure, fmt.Errorf("%s: mattermost.webhook_url or webhook_url_file (or bot mode's bot_token_file) is required to deliver alerts", path))
	}
	return logger, s, nil
}

// loadSpec loads the spec; problems in it are exit code 1.
func loadSpec(path string) (*spec.Spec, error) {
	s, err := spec.Load(path, rules.SpecKinds())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fail(exitFailure, fmt.Errorf("%w\nno spec at %s: pass -c FILE; examples/gatewatch.yaml in gatewatch's repository is a commented starting point", err, path))
	}
	if err != nil {
		return nil, fail(exitFailure, err)
	}
	return s, nil
}

// outputFlag adds -o text|json.
func outputFlag(cmd *cobra.Command, format *string) {
	cmd.Flags().StringVarP(format, "output", "o", "text", "output format: text or json")
}

func checkFormat(format string) error {
	if format != "text" && format != "json" {
		return fail(exitUsage, fmt.Errorf("unknown output format %q: use text or json", format))
	}
	return nil
}

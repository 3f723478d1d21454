// Command gatewatch catches misdirected requests (HTTP 421) and other bad
// responses at Istio/Envoy gateways and delivers them to Mattermost.
// Installed as kubectl-gatewatch it is also `kubectl gatewatch`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/gatewatch/gatewatch/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal cancels ctx for a clean stop; after it, signals get
	// their default action again, so a second Ctrl-C ends a command that
	// waits on something that cannot be cancelled (e.g. standard input).
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := cli.MainAs(ctx, os.Args[0], os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

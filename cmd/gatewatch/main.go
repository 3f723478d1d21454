// Command gatewatch catches misdirected requests (HTTP 421) and other bad
// responses at Istio/Envoy gateways and delivers them to Mattermost.
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
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

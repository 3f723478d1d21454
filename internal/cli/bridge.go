package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/gatewatch/gatewatch/internal/bridge"
	"github.com/gatewatch/gatewatch/internal/explain/enrich"
	"github.com/gatewatch/gatewatch/internal/kube"
	"github.com/gatewatch/gatewatch/internal/mattermost"
	"github.com/gatewatch/gatewatch/internal/web"
)

// bridgeOptions are `gatewatch bridge`'s flags.
type bridgeOptions struct {
	path, listen string
	kube         kube.Options
	logs         logFlags
}

func newBridgeCmd() *cobra.Command {
	var o bridgeOptions
	cmd := &cobra.Command{
		Use:   "bridge",
		Short: "Receive your Alertmanager's webhook notifications, add the 421 explanation, post to Mattermost",
		Long: `For users of their own Alertmanager: point a webhook receiver at the bridge
and it posts gatewatch's Mattermost message (the same layout as the embedded
engine's), with the explain analysis of the spec's explain section attached
to 421 alerts. It reads Alertmanager's webhook payload version 4.

  receivers:
  - name: mattermost
    webhook_configs:
    - url: http://gatewatch-bridge.monitoring.svc:9095/alerts
      send_resolved: true

Answers follow Alertmanager's webhook retrier: 200 when Mattermost took the
message, 503 when a retry may help (Alertmanager retries), 4xx when it cannot
(a bad payload, or Mattermost rejected the message). /metrics, /-/healthy and
/-/ready are served too.`,
		Example: `  gatewatch bridge -c gatewatch.yaml --listen :9095`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	specFlag(cmd, &o.path)
	cmd.Flags().StringVar(&o.listen, "listen", "127.0.0.1:9095", "address to receive Alertmanager's webhook notifications on")
	kubeFlags(cmd, &o.kube, "explain's kube sources")
	o.logs.add(cmd, "info")
	return cmd
}

// run serves the bridge until ctx ends.
func (o bridgeOptions) run(ctx context.Context, stdout, stderr io.Writer) error {
	logger, s, err := deliverer(o.logs, o.path, stderr)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	client, err := mattermost.NewClient(s.Mattermost, mattermost.WithLogger(logger.With("component", "mattermost")), mattermost.WithMetrics(mattermost.NewMetrics(reg)))
	if err != nil {
		return fail(exitFailure, err)
	}
	enr, err := enrich.FromSpec(s, o.kube, logger)
	if err != nil {
		return fail(exitFailure, err)
	}
	bo := bridge.Options{
		Message: mattermost.OptionsFor(s.Mattermost, "Sent by gatewatch bridge"),
		Logger:  logger.With("component", "bridge"), Registry: reg,
	}
	if enr != nil {
		bo.Enrich, bo.EnrichTimeout = enr.Enrich, enr.Timeout
	}
	ln, err := web.Listen(o.listen)
	if err != nil {
		return fail(exitFailure, err)
	}
	logger.Info("gatewatch bridge listening", "listen", ln.Addr().String(), "explain", enr != nil)
	fmt.Fprintf(stdout, "gatewatch bridge: POST Alertmanager webhook notifications to http://%s/alerts\n", ln.Addr())
	if err := web.Serve(ctx, ln, bridge.Handler(bridge.New(client, bo), reg)); err != nil {
		return fail(exitFailure, err)
	}
	return nil
}

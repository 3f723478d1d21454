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
	path, listen                          string
	dataDir, externalURL, alertmanagerURL string
	kube                                  kube.Options
	logs                                  logFlags
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

With a webhook (mattermost.webhook_url or webhook_url_file) every
notification is a new message. With a bot token (mattermost.url,
bot_token_file, team and channel or channel_id) the bridge keeps one post per
alert group: the first notification creates it, later ones edit it and reply
in its thread, the resolve edits it green. Each group's post is kept in
--data-dir, so a restart edits the same post. Buttons need
--web.external-url, the URL Mattermost reaches the bridge at (clicks come to
` + mattermost.ActionPath + ` on --listen); Silence 1h/24h and
Unsilence need --alertmanager-url, your Alertmanager, where the silences are
made. Without it only Acknowledge is shown. A refused bot token (401) stops
the start.

Answers follow Alertmanager's webhook retrier: 200 when Mattermost took the
message, 503 when a retry may help (Alertmanager retries), 4xx when it cannot
(a bad payload, or Mattermost rejected the message). /metrics, /-/healthy and
/-/ready are served too.`,
		Example: `  gatewatch bridge -c gatewatch.yaml --listen :9095
  gatewatch bridge -c gatewatch.yaml --listen :9095 --data-dir /var/lib/gatewatch-bridge \
    --web.external-url http://gatewatch-bridge.monitoring.svc:9095 \
    --alertmanager-url http://alertmanager-operated.monitoring.svc:9093`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	specFlag(cmd, &o.path)
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "127.0.0.1:9095", "address to receive Alertmanager's webhook notifications (and, in bot mode, Mattermost's button clicks) on")
	f.StringVar(&o.dataDir, "data-dir", "data/bridge", "bot mode: keep each alert group's post, the acknowledgements and the buttons' signing key here across restarts")
	f.StringVar(&o.externalURL, "web.external-url", "", "bot mode: URL Mattermost reaches the bridge at, for the posts' buttons (default: no buttons)")
	f.StringVar(&o.alertmanagerURL, "alertmanager-url", "", "bot mode: your Alertmanager's URL (API v2), for the Silence and Unsilence buttons (default: Acknowledge only)")
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
	actionURL, err := bridge.ActionURL(o.externalURL)
	if err != nil {
		return fail(exitUsage, err)
	}
	if o.alertmanagerURL != "" {
		if err := bridge.CheckAlertmanagerURL(o.alertmanagerURL); err != nil {
			return fail(exitUsage, err)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
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
	var client *mattermost.Client
	if s.Mattermost.BotMode() {
		bo.Bot, err = bridge.NewBot(s.Mattermost, bridge.BotOptions{DataDir: o.dataDir, ExternalURL: o.externalURL,
			AlertmanagerURL: o.alertmanagerURL, Logger: logger.With("component", "mattermost"), Registry: reg})
		if err != nil {
			return fail(exitFailure, err)
		}
		if err := bo.Bot.Start(ctx); err != nil {
			return fail(exitFailure, err)
		}
	} else {
		if o.externalURL != "" || o.alertmanagerURL != "" {
			logger.Warn("--web.external-url and --alertmanager-url are for bot mode (mattermost.bot_token_file in the spec); a webhook posts messages without buttons")
		}
		client, err = mattermost.NewClient(s.Mattermost, mattermost.WithLogger(logger.With("component", "mattermost")), mattermost.WithMetrics(mattermost.NewMetrics(reg)))
		if err != nil {
			return fail(exitFailure, err)
		}
	}
	ln, err := web.Listen(o.listen)
	if err != nil {
		return fail(exitFailure, err)
	}
	logger.Info("gatewatch bridge listening", "listen", ln.Addr().String(), "explain", enr != nil, "bot", bo.Bot != nil)
	fmt.Fprintf(stdout, "gatewatch bridge: POST Alertmanager webhook notifications to http://%s/alerts\n", ln.Addr())
	if bo.Bot != nil && actionURL != "" {
		fmt.Fprintf(stdout, "gatewatch bridge: Mattermost sends button clicks to %s\n", actionURL)
	}
	if err := web.Serve(ctx, ln, bridge.Handler(bridge.New(client, bo), reg)); err != nil {
		return fail(exitFailure, err)
	}
	return nil
}

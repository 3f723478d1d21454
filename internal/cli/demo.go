package cli

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatewatch/gatewatch/internal/demo"
	"github.com/gatewatch/gatewatch/internal/version"
)

func newDemoCmd() *cobra.Command {
	var (
		o         demo.Options
		logs      logFlags
		accessLog string
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Everything on one machine: a simulated gateway serving 421s, the engine, a local Mattermost inbox, a status page",
		Long: `Runs the whole pipeline locally: a simulated Istio ingress gateway
(real-format Envoy /stats/prometheus, Istio labels, no 421 series until the
first 421), the embedded engine (Prometheus scraping, TSDB and rules;
Alertmanager routing, grouping and silences), and a strict Mattermost-
compatible inbox. The first misdirected request is served after --first-after;
everything the inbox receives is printed here, and the status page shows
traffic, alerts, silences and messages. Ctrl-C stops everything.

gatewatch posts as a bot (Mattermost's REST API): one post per incident,
edited when pods join and when it resolves, with follow-ups in its thread and
buttons (Silence 1h, Silence 24h, Acknowledge) that work from the status
page's inbox, clicked as the demo user @alice. --webhook posts through an
incoming webhook instead: a new message each time.`,
		Example: `  go run ./cmd/gatewatch demo
  gatewatch demo --listen 127.0.0.1:9421 --scrape-interval 5s --first-after 10s --every 3m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := logs.logger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			o.Logger, o.Version = logger, version.Version
			if accessLog != "" {
				f, err := os.Create(accessLog)
				if err != nil {
					return fail(exitFailure, fmt.Errorf("--access-log: %w", err))
				}
				defer f.Close()
				o.AccessLog = f
			}
			if err := demo.Run(cmd.Context(), o, cmd.OutOrStdout()); err != nil {
				return fail(exitFailure, err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&o.Listen, "listen", "127.0.0.1:9421", "status page address")
	cmd.Flags().DurationVar(&o.ScrapeInterval, "scrape-interval", 5*time.Second, "how often the simulated gateway is scraped")
	cmd.Flags().DurationVar(&o.FirstAfter, "first-after", 15*time.Second, "when the first misdirected request is served")
	cmd.Flags().DurationVar(&o.Every, "every", 3*time.Minute, "serve another misdirected request this often (0: only on demand)")
	cmd.Flags().DurationVar(&o.Window, "window", 2*time.Minute, "the alert window: a 421 keeps the alert firing this long, then it resolves")
	cmd.Flags().IntVar(&o.Pods, "pods", 1, "simulated gateway pods")
	cmd.Flags().BoolVar(&o.Webhook, "webhook", false, "post through an incoming webhook instead of as a bot")
	cmd.Flags().StringVar(&accessLog, "access-log", "", "write the simulated gateway's Istio access log (default text format) to this file")
	cmd.Flags().StringVar(&o.Scenario, "scenario", "first-421", "what each injection does: first-421, burst (five at once) or restart (the gateway restarts, then serves one)")
	logs.add(cmd, "warn")
	return cmd
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/gatewatch/gatewatch/internal/bridge"
	"github.com/gatewatch/gatewatch/internal/mattermost"
)

func newBridgeCmd() *cobra.Command {
	var (
		path, listen, kubeconfig, kubeContext string
		logs                                  logFlags
	)
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
			logger, err := logs.logger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			s, err := loadDeliveringSpec(path)
			if err != nil {
				return err
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			client, err := mattermost.NewClient(s.Mattermost, mattermost.WithLogger(logger.With("component", "mattermost")), mattermost.WithMetrics(mattermost.NewMetrics(reg)))
			if err != nil {
				return fail(exitFailure, err)
			}
			enr, err := newEnricher(s, kubeconfig, kubeContext, logger)
			if err != nil {
				return fail(exitFailure, err)
			}
			o := bridge.Options{
				Message: mattermost.OptionsFor(s.Mattermost, "Sent by gatewatch bridge"),
				Logger:  logger.With("component", "bridge"), Registry: reg,
			}
			if enr != nil {
				o.Enrich, o.EnrichTimeout = enr.Enrich, enr.Timeout
			}
			mux := http.NewServeMux()
			b := bridge.New(client, o)
			mux.Handle("/alerts", b)
			mux.Handle("/{$}", b)
			mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
			ok := func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) }
			mux.HandleFunc("GET /-/healthy", ok)
			mux.HandleFunc("GET /-/ready", ok)

			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fail(exitFailure, fmt.Errorf("listen %s: %w", listen, err))
			}
			srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()
			logger.Info("gatewatch bridge listening", "listen", ln.Addr().String(), "explain", enr != nil)
			fmt.Fprintf(cmd.OutOrStdout(), "gatewatch bridge: POST Alertmanager webhook notifications to http://%s/alerts\n", ln.Addr())
			select {
			case <-cmd.Context().Done():
				sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				return srv.Shutdown(sctx)
			case err := <-errc:
				if errors.Is(err, http.ErrServerClosed) {
					return nil
				}
				return fail(exitFailure, err)
			}
		},
	}
	specFlag(cmd, &path)
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:9095", "address to receive Alertmanager's webhook notifications on")
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig for explain's kube sources (default: kubectl's rules)")
	cmd.Flags().StringVar(&kubeContext, "context", "", "kubeconfig context")
	logs.add(cmd, "info")
	return cmd
}

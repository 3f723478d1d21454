package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatewatch/gatewatch/internal/engine"
	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
	"github.com/gatewatch/gatewatch/internal/web"
)

func newRunCmd() *cobra.Command {
	var (
		path, listen, dataDir, kubeconfig, kubeContext, externalURL string
		logs                                                        logFlags
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the embedded engine against real gateways (no Prometheus or Alertmanager to install)",
		Long: `Discovers the spec's gateway pods (Kubernetes, in-cluster or --kubeconfig) and
static targets, scrapes their Envoy stats, keeps a short-lived TSDB, evaluates
the generated rules, and routes, groups, silences and delivers alerts to
Mattermost, all with the Prometheus and Alertmanager libraries.

The status page, /metrics, /-/healthy, /-/ready, POST /-/reload and a
read-only Prometheus query API (/api/v1/query, /api/v1/query_range) are served
on --listen. SIGHUP or POST /-/reload re-reads the spec; an invalid spec is
rejected and the running one keeps going.`,
		Example: `  gatewatch run -c gatewatch.yaml
  gatewatch run -c gatewatch.yaml --kubeconfig ~/.kube/config --data-dir /var/lib/gatewatch`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := logs.logger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			s, err := loadDeliveringSpec(path)
			if err != nil {
				return err
			}
			// Take SIGHUP before the (possibly long) start, so a reloader
			// sidecar's signal never kills the process.
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fail(exitFailure, fmt.Errorf("listen %s: %w", listen, err))
			}
			ext := externalURL
			if ext == "" {
				ext = "http://" + ln.Addr().String()
			}
			extURL, err := url.Parse(ext)
			if err != nil {
				ln.Close()
				return fail(exitUsage, fmt.Errorf("--web.external-url: %w", err))
			}
			enr, err := newEnricher(s, kubeconfig, kubeContext, logger)
			if err != nil {
				ln.Close()
				return fail(exitFailure, err)
			}
			var enrich swappableEnrich
			enrich.set(enr)
			e, err := engine.New(s, engine.Options{DataDir: dataDir, Kubeconfig: kubeconfig, KubeContext: kubeContext, ExternalURL: extURL, Logger: logger,
				Enrich: enrich.enrich})
			if err != nil {
				ln.Close()
				return fail(exitFailure, err)
			}
			ctx := cmd.Context()
			if err := e.Start(ctx); err != nil {
				ln.Close()
				return fail(exitFailure, err)
			}
			defer e.Close()

			reload := func(ctx context.Context) error {
				ns, err := spec.Load(path, rules.SpecKinds())
				if err != nil {
					e.RejectReload()
					logger.Error("reload rejected: the spec is invalid, the running one keeps going", "file", path, "err", err)
					return err
				}
				nenr, err := newEnricher(ns, kubeconfig, kubeContext, logger)
				if err != nil {
					e.RejectReload()
					logger.Error("reload rejected: the explain settings do not work, the running spec keeps going", "err", err)
					return err
				}
				if err := e.Reload(ctx, ns); err != nil {
					logger.Error("reload failed, the running spec keeps going", "err", err)
					return err
				}
				enrich.set(nenr)
				return nil
			}
			srv := &http.Server{Handler: web.Handler(e, web.Options{Reload: reload, Version: version, Logger: logger}), ReadHeaderTimeout: 10 * time.Second}
			go func() {
				if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					logger.Error("web server stopped", "err", err)
				}
			}()
			logger.Info("gatewatch running", "listen", ln.Addr().String(), "spec", path)
			fmt.Fprintf(cmd.OutOrStdout(), "gatewatch running: status page %s\n", ext)

			for {
				select {
				case <-ctx.Done():
					sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					_ = srv.Shutdown(sctx)
					cancel()
					return nil
				case <-hup:
					_ = reload(ctx)
				}
			}
		},
	}
	specFlag(cmd, &path)
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:9421", "address of the status page, metrics and API")
	cmd.Flags().StringVar(&externalURL, "web.external-url", "", "URL gatewatch is reached at, for links in messages (default: http://<listen>)")
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "keep the TSDB, silences and notification log here across restarts (default: a temporary directory)")
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig for pod discovery (default: in-cluster configuration)")
	cmd.Flags().StringVar(&kubeContext, "context", "", "kubeconfig context to use (default: the current one)")
	logs.add(cmd, "info")
	return cmd
}

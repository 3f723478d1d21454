package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatewatch/gatewatch/internal/engine"
	"github.com/gatewatch/gatewatch/internal/explain/enrich"
	"github.com/gatewatch/gatewatch/internal/kube"
	"github.com/gatewatch/gatewatch/internal/render"
	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
	"github.com/gatewatch/gatewatch/internal/version"
	"github.com/gatewatch/gatewatch/internal/web"
)

// runOptions are `gatewatch run`'s flags.
type runOptions struct {
	path, listen, dataDir, externalURL string
	kube                               kube.Options
	logs                               logFlags
	queryTimeout, maxPendingAge        time.Duration
	queryMaxSamples, queryConcurrency  int
	cluster                            engine.ClusterOptions
	memRatio                           float64
}

func newRunCmd() *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the embedded engine against real gateways (no Prometheus or Alertmanager to install)",
		Long: `Discovers the spec's gateway pods (Kubernetes, with kubectl's rules) and
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
			return o.run(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	specFlag(cmd, &o.path)
	cmd.Flags().StringVar(&o.listen, "listen", "127.0.0.1:9421", "address of the status page, metrics and API")
	cmd.Flags().StringVar(&o.externalURL, "web.external-url", "", "URL gatewatch is reached at, for links in messages (default: http://<listen>)")
	cmd.Flags().StringVar(&o.dataDir, "data-dir", "", "keep the TSDB, silences and notification log here across restarts (default: a temporary directory)")
	cmd.Flags().DurationVar(&o.queryTimeout, "query.timeout", engine.DefaultQueryTimeout, "longest a query API request may run")
	cmd.Flags().IntVar(&o.queryMaxSamples, "query.max-samples", engine.DefaultQueryMaxSamples, "most samples one query API request may hold in memory (16 bytes each)")
	cmd.Flags().IntVar(&o.queryConcurrency, "query.max-concurrency", engine.DefaultQueryMaxConcurrency, "query API requests evaluated at once (each client: one at a time)")
	cmd.Flags().DurationVar(&o.maxPendingAge, "notification.max-pending-age", engine.DefaultMaxPendingAge, "how long a group that fired and resolved while Mattermost was unreachable is kept to post late")
	cmd.Flags().Float64Var(&o.memRatio, "auto-gomemlimit.ratio", 0.8, "set the Go runtime's soft memory limit to this fraction of the container's memory limit ($"+render.MemoryLimitEnv+" from the downward API, else the cgroup's); 0: off; an explicit GOMEMLIMIT wins")
	clusterFlags(cmd, &o.cluster)
	kubeFlags(cmd, &o.kube, "pod discovery")
	o.logs.add(cmd, "info")
	return cmd
}

// clusterFlags are Alertmanager's --cluster.* flags, with its defaults.
func clusterFlags(cmd *cobra.Command, c *engine.ClusterOptions) {
	f := cmd.Flags()
	f.StringVar(&c.ListenAddress, "cluster.listen-address", "", fmt.Sprintf("gossip with other replicas on this address (e.g. 0.0.0.0:%d); empty: no clustering", engine.DefaultClusterPort))
	f.StringVar(&c.AdvertiseAddress, "cluster.advertise-address", "", "address the other replicas reach this one at (default: from the listen address)")
	f.StringArrayVar(&c.Peers, "cluster.peer", nil, "another replica's cluster address (repeatable; a DNS name with several addresses, e.g. a headless Service, joins them all)")
	f.StringVar(&c.PeerName, "cluster.peer-name", "", "this replica's name in the cluster (default: random; the pod name in a StatefulSet)")
	f.DurationVar(&c.PeerTimeout, "cluster.peer-timeout", engine.DefaultPeerTimeout, "how long each replica waits per position before sending")
	f.DurationVar(&c.GossipInterval, "cluster.gossip-interval", engine.DefaultGossipInterval, "interval between gossip messages")
	f.DurationVar(&c.PushPullInterval, "cluster.pushpull-interval", engine.DefaultPushPull, "interval between full state syncs")
	f.DurationVar(&c.SettleTimeout, "cluster.settle-timeout", engine.DefaultSettleTimeout, "longest wait for the cluster to settle before sending (0: at once)")
}

// run starts the engine and the status page, reloads on SIGHUP and
// POST /-/reload, and stops when ctx ends.
func (o runOptions) run(ctx context.Context, stdout, stderr io.Writer) error {
	logger, s, err := deliverer(o.logs, o.path, stderr)
	if err != nil {
		return err
	}
	if err := setMemoryLimit(o.memRatio, logger); err != nil {
		return fail(exitUsage, err)
	}
	// Take SIGHUP before the (possibly long) start, so a reloader
	// sidecar's signal never kills the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	ln, err := web.Listen(o.listen)
	if err != nil {
		return fail(exitFailure, err)
	}
	ext := o.externalURL
	if ext == "" {
		ext = "http://" + ln.Addr().String()
	}
	extURL, err := url.Parse(ext)
	if err != nil {
		ln.Close()
		return fail(exitUsage, fmt.Errorf("--web.external-url: %w", err))
	}
	r := &runner{opts: o, logger: logger}
	if err := r.start(ctx, s, extURL); err != nil {
		ln.Close()
		return fail(exitFailure, err)
	}
	defer r.engine.Close()

	served := make(chan error, 1)
	go func() {
		served <- web.Serve(ctx, ln, web.Handler(r.engine, web.Options{Reload: r.reload, Version: version.Version, Logger: logger, Hosts: web.HostsFor(ln.Addr(), o.externalURL)}))
	}()
	logger.Info("gatewatch running", "listen", ln.Addr().String(), "spec", o.path)
	fmt.Fprintf(stdout, "gatewatch running: status page %s\n", ext)
	for {
		select {
		case err := <-served:
			return err
		case <-hup:
			_ = r.reload(ctx)
		}
	}
}

// runner is the running engine with the enrichment of its messages, both
// replaced together on a reload.
type runner struct {
	opts   runOptions
	logger *slog.Logger
	engine *engine.Engine
	enrich enrich.Swappable
}

func (r *runner) start(ctx context.Context, s *spec.Spec, extURL *url.URL) error {
	enr, err := enrich.FromSpec(s, r.opts.kube, r.logger)
	if err != nil {
		return err
	}
	r.enrich.Set(enr)
	r.engine, err = engine.New(s, engine.Options{DataDir: r.opts.dataDir, Kube: r.opts.kube,
		ExternalURL: extURL, Logger: r.logger, Enrich: r.enrich.Enrich,
		QueryTimeout: r.opts.queryTimeout, QueryMaxSamples: r.opts.queryMaxSamples, QueryMaxConcurrency: r.opts.queryConcurrency,
		MaxPendingAge: r.opts.maxPendingAge, Cluster: r.opts.cluster})
	if err != nil {
		return err
	}
	return r.engine.Start(ctx)
}

// reload re-reads the spec; anything invalid leaves the running one as it is.
func (r *runner) reload(ctx context.Context) error {
	ns, err := spec.Load(r.opts.path, rules.SpecKinds())
	if err != nil {
		r.engine.RejectReload()
		r.logger.Error("reload rejected: the spec is invalid, the running one keeps going", "file", r.opts.path, "err", err)
		return err
	}
	nenr, err := enrich.FromSpec(ns, r.opts.kube, r.logger)
	if err != nil {
		r.engine.RejectReload()
		r.logger.Error("reload rejected: the explain settings do not work, the running spec keeps going", "err", err)
		return err
	}
	if err := r.engine.Reload(ctx, ns); err != nil {
		r.logger.Error("reload failed, the running spec keeps going", "err", err)
		return err
	}
	r.enrich.Set(nenr)
	return nil
}

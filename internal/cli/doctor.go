package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatewatch/gatewatch/internal/doctor"
	"github.com/gatewatch/gatewatch/internal/kube"
)

// doctorOptions are `gatewatch doctor`'s flags; env holds the peers' URLs
// and the check settings the flags fill directly.
type doctorOptions struct {
	path, format, dir string
	offline           bool
	kube              kube.Options
	env               doctor.Env

	// allowAllSkipped exits 0 when every check was skipped.
	allowAllSkipped bool
}

func newDoctorCmd() *cobra.Command {
	var o doctorOptions
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check the whole alert path, live or offline, and say which link is broken",
		Long: `Walks the chain the spec implies — gateway pods, Envoy stats, Prometheus
target, rule and query, Alertmanager configuration, route and notifications,
NetworkPolicies, DNS, the webhook — and prints one line per check as it
finishes: PASS, WARN, FAIL or SKIP, with the evidence and a hint for each
failure. Checks whose peer is not given (no --prometheus-url, …) are skipped.

Offline (--offline -f DIR) it checks the manifests you are about to apply:
selectors, the rule expression, the route, NetworkPolicy reachability.`,
		Example: `  gatewatch doctor -c gatewatch.yaml --kubeconfig ~/.kube/config \
    --prometheus-url http://127.0.0.1:9090 --alertmanager-url http://127.0.0.1:9093
  gatewatch doctor -c gatewatch.yaml --offline -f out/
  gatewatch doctor -c gatewatch.yaml --send-test -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	specFlag(cmd, &o.path)
	outputFlag(cmd, &o.format)
	kubeFlags(cmd, &o.kube, "the live checks")
	cmd.Flags().StringVar(&o.env.PrometheusURL, "prometheus-url", "", "Prometheus base URL (e.g. a port-forward: http://127.0.0.1:9090)")
	cmd.Flags().StringVar(&o.env.AlertmanagerURL, "alertmanager-url", "", "Alertmanager base URL (e.g. http://127.0.0.1:9093)")
	cmd.Flags().StringVar(&o.env.GatewatchURL, "gatewatch-url", "", "a gatewatch run's base URL (e.g. a port-forward: http://127.0.0.1:9421): checks its targets, rules, routing and notifications through its Prometheus and Alertmanager APIs (the default for --prometheus-url and --alertmanager-url) and its replicas' cluster (gatewatch/cluster)")
	cmd.Flags().StringVar(&o.env.StatsURL, "stats-url", "", "Envoy stats URL, e.g. http://127.0.0.1:15090/stats/prometheus instead of a port-forward to the first running gateway pod (falls back to the pod IP)")
	cmd.Flags().BoolVar(&o.env.SendTest, "send-test", false, "also post a test message to the webhook (mattermost/webhook), or as the bot (mattermost/bot)")
	cmd.Flags().StringVar(&o.env.ExternalURL, "web.external-url", "", "gatewatch's --web.external-url, where Mattermost sends the bot's button clicks (mattermost/bot; default --gatewatch-url)")
	cmd.Flags().DurationVar(&o.env.NotificationsInterval, "notifications-interval", 2*time.Second, "how long alertmanager/notifications watches the failure counter")
	cmd.Flags().BoolVar(&o.offline, "offline", false, "check manifests on disk (-f DIR) instead of a live cluster")
	cmd.Flags().StringVarP(&o.dir, "filename", "f", "", "manifests directory for --offline (e.g. the output of gatewatch render -o DIR)")
	cmd.Flags().BoolVar(&o.allowAllSkipped, "allow-all-skipped", false, "exit 0 when every check was skipped (by default nothing checked is not a pass: exit 1)")
	return cmd
}

// run runs every check and reports as it goes; exit 1 on a failed check,
// or when every check was skipped (unless --allow-all-skipped).
func (o doctorOptions) run(ctx context.Context, stdout, stderr io.Writer) error {
	if err := checkFormat(o.format); err != nil {
		return err
	}
	s, err := loadSpec(o.path)
	if err != nil {
		return fail(exitUsage, err)
	}
	env := o.env
	env.Spec = s
	// gatewatch serves the Prometheus and Alertmanager APIs itself: its
	// targets, rules, routing and notification failures are checked there.
	if env.GatewatchURL != "" {
		env.PrometheusURL = cmp.Or(env.PrometheusURL, env.GatewatchURL)
		env.AlertmanagerURL = cmp.Or(env.AlertmanagerURL, env.GatewatchURL)
	}
	if o.offline {
		err = o.readManifests(&env, stderr)
	} else {
		err = o.connect(&env, stderr)
	}
	if err != nil {
		return fail(exitUsage, err)
	}
	var report func(doctor.Result)
	if o.format == "text" {
		report = doctor.TextReporter(stdout)
	}
	results := doctor.Run(ctx, &env, doctor.Checks(), report)
	if o.format == "json" {
		if err := doctor.WriteJSON(stdout, results); err != nil {
			return err
		}
	} else {
		doctor.WriteSummary(stdout, results)
	}
	if doctor.Failed(results) {
		return fail(exitFailure, fmt.Errorf("doctor found a broken link"))
	}
	if doctor.AllSkipped(results) && !o.allowAllSkipped {
		return fail(exitFailure, fmt.Errorf("doctor checked nothing: every check was skipped (give --kubeconfig, --prometheus-url, --alertmanager-url, or --offline -f DIR; --allow-all-skipped accepts it)"))
	}
	return nil
}

// readManifests reads -f DIR for the offline checks; documents it cannot
// read are warnings.
func (o doctorOptions) readManifests(env *doctor.Env, stderr io.Writer) error {
	if o.dir == "" {
		return fmt.Errorf("--offline needs -f DIR with the manifests")
	}
	m, err := doctor.LoadManifests(o.dir)
	if err != nil {
		return err
	}
	env.Manifests = m
	for _, p := range m.Problems {
		fmt.Fprintf(stderr, "warning: %s (skipped; the rest is checked)\n", p)
	}
	return nil
}

// connect builds the Kubernetes client with kubectl's rules. When no
// configuration loads the Kubernetes checks are skipped, unless a
// kubeconfig or context was named: then it is an error.
func (o doctorOptions) connect(env *doctor.Env, stderr io.Writer) error {
	cfg, err := kube.Config(o.kube)
	if err != nil && !o.kube.Given() {
		fmt.Fprintf(stderr, "note: %v; the Kubernetes checks are skipped\n", err)
		return nil
	}
	if err != nil {
		return err
	}
	c, err := kube.ClientsFor(cfg)
	if err != nil {
		return err
	}
	env.RestConfig, env.Kube = cfg, c.Typed
	return nil
}

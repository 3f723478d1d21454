package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"

	"github.com/gatewatch/gatewatch/internal/doctor"
)

func newDoctorCmd() *cobra.Command {
	var (
		path, format, kubeconfig, kubeContext, dir string
		offline                                    bool
		env                                        doctor.Env
	)
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
			if err := checkFormat(format); err != nil {
				return err
			}
			s, err := loadSpec(path)
			if err != nil {
				return fail(exitUsage, err)
			}
			env.Spec = s
			if offline {
				if dir == "" {
					return fail(exitUsage, fmt.Errorf("--offline needs -f DIR with the manifests"))
				}
				m, err := doctor.LoadManifests(dir)
				if err != nil {
					return fail(exitUsage, err)
				}
				env.Manifests = m
				for _, p := range m.Problems {
					fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s (skipped; the rest is checked)\n", p)
				}
			} else {
				// kubectl's rules: --kubeconfig, $KUBECONFIG, ~/.kube/config, in-cluster.
				cfg, err := kubeRESTConfig(kubeconfig, kubeContext)
				if err != nil && (kubeconfig != "" || kubeContext != "") {
					return fail(exitUsage, fmt.Errorf("kubeconfig: %w", err))
				}
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "note: no Kubernetes configuration found (%v); the Kubernetes checks are skipped\n", err)
				} else {
					cfg.Timeout = 10 * time.Second
					env.RestConfig = cfg
					if env.Kube, err = kubernetes.NewForConfig(cfg); err != nil {
						return fail(exitUsage, fmt.Errorf("kubernetes client: %w", err))
					}
				}
			}
			var report func(doctor.Result)
			if format == "text" {
				report = doctor.TextReporter(cmd.OutOrStdout())
			}
			results := doctor.Run(cmd.Context(), &env, doctor.Checks(), report)
			if format == "json" {
				if err := doctor.WriteJSON(cmd.OutOrStdout(), results); err != nil {
					return err
				}
			} else {
				counts := map[doctor.Status]int{}
				for _, r := range results {
					counts[r.Status]++
				}
				warnings := fmt.Sprintf("%d warnings", counts[doctor.Warn])
				if counts[doctor.Warn] == 1 {
					warnings = "1 warning"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "\n%d passed, %d failed, %s, %d skipped\n", counts[doctor.Pass], counts[doctor.Fail], warnings, counts[doctor.Skip])
			}
			if doctor.Failed(results) {
				return fail(exitFailure, fmt.Errorf("doctor found a broken link"))
			}
			return nil
		},
	}
	specFlag(cmd, &path)
	outputFlag(cmd, &format)
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig for the live checks")
	cmd.Flags().StringVar(&kubeContext, "context", "", "kubeconfig context")
	cmd.Flags().StringVar(&env.PrometheusURL, "prometheus-url", "", "Prometheus base URL (e.g. a port-forward: http://127.0.0.1:9090)")
	cmd.Flags().StringVar(&env.AlertmanagerURL, "alertmanager-url", "", "Alertmanager base URL (e.g. http://127.0.0.1:9093)")
	cmd.Flags().StringVar(&env.StatsURL, "stats-url", "", "Envoy stats URL, e.g. http://127.0.0.1:15090/stats/prometheus instead of a port-forward to the first running gateway pod (falls back to the pod IP)")
	cmd.Flags().BoolVar(&env.SendTest, "send-test", false, "also post a test message to the webhook (mattermost/webhook)")
	cmd.Flags().DurationVar(&env.NotificationsInterval, "notifications-interval", 2*time.Second, "how long alertmanager/notifications watches the failure counter")
	cmd.Flags().BoolVar(&offline, "offline", false, "check manifests on disk (-f DIR) instead of a live cluster")
	cmd.Flags().StringVarP(&dir, "filename", "f", "", "manifests directory for --offline (e.g. the output of gatewatch render -o DIR)")
	return cmd
}

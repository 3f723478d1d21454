package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatewatch/gatewatch/internal/render"
)

func newRenderCmd() *cobra.Command {
	var path, target, outDir string
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Compile the spec into manifests for an existing Prometheus/Alertmanager stack",
		Long: `Compiles the spec for an existing stack:

  operator    prometheus-operator resources: PodMonitor (ScrapeConfig for static
              targets), PrometheusRule, AlertmanagerConfig + placeholder Secret,
              NetworkPolicies
  prometheus  prometheus.yml scrape jobs, the rule file, alertmanager.yml
              (mattermost_configs for Alertmanager >= 0.30, slack_configs below),
              NetworkPolicies
  helm        kube-prometheus-stack values.yaml, Secret example, NetworkPolicies
  standalone  what deploys gatewatch itself: ServiceAccount, pods-only RBAC per
              gateway namespace, spec ConfigMap, hardened Deployment, Service,
              Secret example, NetworkPolicy

Without -o the output is one multi-document YAML stream on stdout; with -o DIR
one file per object, written all or nothing. The webhook URL is never written:
the output references a Secret or a file.`,
		Example: `  gatewatch render -c gatewatch.yaml --target operator | kubectl apply --dry-run=server -f -
  gatewatch render -c gatewatch.yaml --target operator -o out/
  gatewatch render -c gatewatch.yaml --target helm -o values/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := loadSpec(path)
			if err != nil {
				return err
			}
			files, err := render.Render(s, target)
			if err != nil {
				return fail(exitUsage, err)
			}
			if outDir == "" {
				return render.Write(cmd.OutOrStdout(), files)
			}
			if err := render.WriteDir(outDir, files); err != nil {
				return fail(exitFailure, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %d files to %s: %s\n", len(files), outDir, strings.Join(render.Names(files), ", "))
			return nil
		},
	}
	specFlag(cmd, &path)
	cmd.Flags().StringVarP(&target, "target", "t", render.TargetOperator, "what to render for: "+strings.Join(render.TargetNames(), "|"))
	cmd.Flags().StringVarP(&outDir, "output-dir", "o", "", "write one file per object into this directory (all or nothing) instead of stdout")
	return cmd
}

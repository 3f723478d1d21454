package cli

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatewatch/gatewatch/internal/render"
)

func newRenderCmd() *cobra.Command {
	var path, target, outDir string
	prune := true
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
              gateway namespace, spec ConfigMap, hardened StatefulSet, Services,
              PodDisruptionBudget, Secret example, NetworkPolicies
  bridge      gatewatch bridge between your Alertmanager and Mattermost:
              ServiceAccount, spec ConfigMap, hardened Deployment, Service,
              Secret example, NetworkPolicies (Alertmanager → bridge, bridge →
              Mattermost, DNS). With cluster.bridge.enabled the stack targets
              above point Alertmanager's receiver at it (webhook_configs /
              webhookConfigs) instead of posting to Mattermost themselves.

Without -o the output is one multi-document YAML stream on stdout; with -o DIR
one file per object, written all or nothing. DIR keeps an index of what render
wrote there (` + render.IndexFileName + `): files an earlier render wrote that the spec no
longer produces (a removed gateway's PodMonitor, say) are removed, or with
--prune=false listed; files render did not write, or that changed since, are
never touched. The webhook URL is never written: the output references a
Secret or a file.`,
		Example: `  gatewatch render -c gatewatch.yaml --target operator | kubectl apply --dry-run=server -f -
  gatewatch render -c gatewatch.yaml --target operator -o out/
  gatewatch render -c gatewatch.yaml --target helm -o values/
  gatewatch render -c gatewatch.yaml --target bridge -o bridge/`,
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
			if target == render.TargetBridge && !s.Cluster.Bridge.Enabled {
				fmt.Fprintf(cmd.ErrOrStderr(), "note: cluster.bridge.enabled is not set, so the stack targets still have Alertmanager post to Mattermost itself: set it and render your stack target again to point Alertmanager's receiver at %s (or wire it by hand: the alertmanagerconfig-*.yaml.example files hold the receiver and its route)\n", render.BridgeURL(s))
			}
			if outDir == "" {
				return render.Write(cmd.OutOrStdout(), files)
			}
			res, err := render.SyncDir(outDir, render.Owner{Target: target, Spec: specFromDir(path, outDir)}, files, prune)
			if err != nil {
				return fail(exitFailure, err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "wrote %d files to %s: %s\n", len(res.Written), outDir, strings.Join(res.Written, ", "))
			if len(res.Removed) > 0 {
				fmt.Fprintf(out, "removed %d files an earlier render wrote that the spec no longer produces: %s\n", len(res.Removed), strings.Join(res.Removed, ", "))
			}
			if len(res.Stale) > 0 {
				fmt.Fprintf(out, "kept %d stale files an earlier render wrote that the spec no longer produces (--prune=false): %s\n", len(res.Stale), strings.Join(res.Stale, ", "))
			}
			if len(res.Changed) > 0 {
				fmt.Fprintf(out, "kept %d files the spec no longer produces because they changed since render wrote them (remove them yourself if they are stale): %s\n", len(res.Changed), strings.Join(res.Changed, ", "))
			}
			return nil
		},
	}
	specFlag(cmd, &path)
	cmd.Flags().StringVarP(&target, "target", "t", render.TargetOperator, "what to render for: "+strings.Join(render.TargetNames(), "|"))
	cmd.Flags().StringVarP(&outDir, "output-dir", "o", "", "write one file per object into this directory (all or nothing) instead of stdout")
	cmd.Flags().BoolVar(&prune, "prune", prune, "with -o: remove the files an earlier render wrote into the directory that the spec no longer produces (false: list them)")
	return cmd
}

// specFromDir names the spec as the render index records it: its path
// relative to the output folder, so the index reads the same on every
// machine that checks the folder out.
func specFromDir(spec, dir string) string {
	as, err1 := filepath.Abs(spec)
	ad, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return spec
	}
	if rel, err := filepath.Rel(ad, as); err == nil {
		return filepath.ToSlash(rel)
	}
	return as
}

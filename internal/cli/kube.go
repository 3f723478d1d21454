package cli

import (
	"github.com/spf13/cobra"

	"github.com/gatewatch/gatewatch/internal/kube"
)

// kubeFlags adds kubectl's --kubeconfig and --context, for what.
func kubeFlags(cmd *cobra.Command, o *kube.Options, what string) {
	cmd.Flags().StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig for "+what+" (default: $KUBECONFIG, ~/.kube/config, then the in-cluster configuration)")
	cmd.Flags().StringVar(&o.Context, "context", "", "kubeconfig context to use (default: the current one)")
}

package cli

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/gatewatch/gatewatch/internal/version"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the gatewatch version and the Prometheus/Alertmanager libraries it embeds",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			deps := map[string]string{}
			goVersion := ""
			if bi, ok := debug.ReadBuildInfo(); ok {
				goVersion = bi.GoVersion
				for _, d := range bi.Deps {
					deps[d.Path] = d.Version
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "gatewatch %s\n", version.Version)
			fmt.Fprintf(cmd.OutOrStdout(), "  image:        %s\n", version.Image())
			fmt.Fprintf(cmd.OutOrStdout(), "  go:           %s\n", goVersion)
			for _, d := range []struct{ name, path string }{
				{"prometheus", "github.com/prometheus/prometheus"},
				{"alertmanager", "github.com/prometheus/alertmanager"},
			} {
				if v := deps[d.path]; v != "" {
					fmt.Fprintf(cmd.OutOrStdout(), "  %-13s %s\n", d.name+":", v)
				}
			}
			return nil
		},
	}
}

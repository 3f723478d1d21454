package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gatewatch/gatewatch/internal/rules"
)

func newCheckCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:     "check",
		Short:   "Validate the spec: every problem with file:line, exit 1 if any",
		Example: `  gatewatch check -c gatewatch.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := loadSpec(path)
			if err != nil {
				return err
			}
			f := rules.Generate(s)
			if err := f.Validate(); err != nil {
				return fail(exitFailure, fmt.Errorf("%s: generated rule does not parse: %w", path, err))
			}
			nrules := 0
			for _, g := range f.Groups {
				nrules += len(g.Rules)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: OK: %d gateway(s), %d enabled alert(s), %d rule(s)\n",
				path, len(s.Gateways), len(s.EnabledAlerts()), nrules)
			return nil
		},
	}
	specFlag(cmd, &path)
	return cmd
}

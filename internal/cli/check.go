package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gatewatch/gatewatch/internal/rules"
)

func newCheckCmd() *cobra.Command {
	var (
		path   string
		strict bool
	)
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Validate the spec: every problem with file:line, exit 1 if any",
		Long: `Validates the spec: every problem at once, each with file:line, exit 1 if
any. Alert labels and annotations are parsed as the Prometheus templates they
are; the generated rules are read with Prometheus's rule parser. Warnings (an
enabled alert that no route delivers) are printed too; with --strict they
fail the check.`,
		Example: `  gatewatch check -c gatewatch.yaml
  gatewatch check -c gatewatch.yaml --strict`,
		Args: cobra.NoArgs,
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
			for _, w := range s.Warnings() {
				fmt.Fprintf(cmd.ErrOrStderr(), "Warning: %v\n", w)
			}
			if strict && len(s.Warnings()) > 0 {
				return fail(exitFailure, fmt.Errorf("%s: %d warning(s) with --strict", path, len(s.Warnings())))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: OK: %d gateway(s), %d enabled alert(s), %d rule(s)\n",
				path, len(s.Gateways), len(s.EnabledAlerts()), nrules)
			return nil
		},
	}
	specFlag(cmd, &path)
	cmd.Flags().BoolVar(&strict, "strict", false, "fail on warnings too")
	return cmd
}

package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/gatewatch/gatewatch/internal/render"
	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// scenarioRow is one line of the `gatewatch test` table.
type scenarioRow struct {
	Gateway  string   `json:"gateway"`
	Alert    string   `json:"alert"`
	Scenario string   `json:"scenario"`
	Doc      string   `json:"description"`
	Checks   int      `json:"checks"`
	Passed   bool     `json:"passed"`
	Failures []string `json:"failures,omitempty"`
	// Runbook is what the runbook's original rule did on the same series
	// (421 alerts only).
	Runbook string `json:"runbook_rule,omitempty"`
}

func newTestCmd() *cobra.Command {
	var path, format, promtoolDir string
	cmd := &cobra.Command{
		Use:   "test",
		Short: "Run the rule scenarios (first 421, restart, new pod, …) against the generated rules",
		Long: `Runs every scenario (first 421 ever, later 421, counter reset, new pod,
evaluator start without history, steady counter, reporter=destination copies)
against the rules generated from the spec, on the real Prometheus TSDB, PromQL
engine and alerting-rule state machine. For the 421 alert it also shows what
the runbook's original rule, sum(increase(...[5m])) > 0, did on the same series.`,
		Example: `  gatewatch test -c gatewatch.yaml
  gatewatch test -c gatewatch.yaml -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			s, err := loadSpec(path)
			if err != nil {
				return err
			}
			if err := simulable(s); err != nil {
				return fail(exitFailure, err)
			}
			if promtoolDir != "" {
				return writePromtool(cmd, s, promtoolDir)
			}
			rows, skipped := runScenarios(cmd, s)
			if cmd.Context().Err() != nil {
				// Ctrl-C: what ran is not a verdict.
				return fail(exitInterrupted, errors.New("interrupted"))
			}
			if err := writeScenarios(cmd.OutOrStdout(), format, rows, skipped); err != nil {
				return err
			}
			if failed := countFailed(rows); failed > 0 {
				return fail(exitFailure, fmt.Errorf("%d scenario(s) failed", failed))
			}
			return nil
		},
	}
	specFlag(cmd, &path)
	outputFlag(cmd, &format)
	cmd.Flags().StringVar(&promtoolDir, "write-promtool", "", "instead of running, write the rule file and the scenarios as `promtool test rules` files into this directory")
	return cmd
}

// writePromtool writes the rules and the scenarios for promtool, so the same
// cases run in `promtool test rules DIR/*.test.yml`.
func writePromtool(cmd *cobra.Command, s *spec.Spec, dir string) error {
	tests, err := rules.PromtoolTests(s, render.RulesFileName)
	if err != nil {
		return fail(exitFailure, err)
	}
	rf, err := render.Render(s, render.TargetPrometheus)
	if err != nil {
		return fail(exitFailure, err)
	}
	var files []render.File
	for _, f := range rf {
		if f.Name == render.RulesFileName {
			files = append(files, f)
		}
	}
	for _, g := range s.Gateways {
		t, ok := tests[g.Name]
		if !ok {
			continue
		}
		b, err := yaml.Marshal(t)
		if err != nil {
			return err
		}
		files = append(files, render.File{Name: g.Name + ".test.yml", Header: "# promtool test rules " + g.Name + ".test.yml\n", Content: b})
	}
	if err := render.WriteDir(dir, files); err != nil {
		return fail(exitFailure, err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "wrote %s to %s; run: promtool test rules %s/*.test.yml\n", strings.Join(render.Names(files), ", "), dir, dir)
	return nil
}

func runScenarios(cmd *cobra.Command, s *spec.Spec) (rows []scenarioRow, skipped []string) {
	results, skipped := rules.RunScenarios(cmd.Context(), s)
	for _, r := range results {
		row := scenarioRow{Gateway: r.Gateway, Alert: r.Alert.Name, Scenario: r.Scenario.Name, Doc: r.Scenario.Doc,
			Checks: len(r.Scenario.Checks), Passed: r.Passed(), Runbook: r.Runbook}
		if r.Err != nil {
			row.Failures = append(row.Failures, r.Err.Error())
		}
		for _, o := range r.Failed() {
			row.Failures = append(row.Failures, fmt.Sprintf("at %s want firing [%s], got [%s]", o.At, strings.Join(o.Want, " "), strings.Join(o.Got, " ")))
		}
		rows = append(rows, row)
	}
	return rows, skipped
}

func countFailed(rows []scenarioRow) int {
	failed := 0
	for _, r := range rows {
		if !r.Passed {
			failed++
		}
	}
	return failed
}

// writeScenarios prints the scenario table (text: with the failures, the
// skipped alerts and a closing count line) or the rows as JSON.
func writeScenarios(out io.Writer, format string, rows []scenarioRow, skipped []string) error {
	if format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GATEWAY\tALERT\tSCENARIO\tCHECKS\tRESULT\tRUNBOOK RULE")
	for _, r := range rows {
		res := "PASS"
		if !r.Passed {
			res = "FAIL"
		}
		rb := r.Runbook
		if rb == "" {
			rb = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", r.Gateway, r.Alert, r.Scenario, r.Checks, res, rb)
	}
	tw.Flush()
	for _, r := range rows {
		for _, f := range r.Failures {
			fmt.Fprintf(out, "FAIL %s/%s/%s: %s\n", r.Gateway, r.Alert, r.Scenario, f)
		}
	}
	for _, sk := range skipped {
		fmt.Fprintf(out, "note: %s\n", sk)
	}
	failed := countFailed(rows)
	fmt.Fprintf(out, "%d passed, %d failed\n", len(rows)-failed, failed)
	return nil
}

// simulable refuses, before running anything, the alerts whose scenarios
// would not fit in bounded memory (rules.ScenarioBounds).
func simulable(s *spec.Spec) error {
	var errs []error
	for _, g := range s.Gateways {
		for _, a := range s.EnabledAlerts() {
			if err := rules.ScenarioBounds(g, a); err != nil {
				errs = append(errs, fmt.Errorf("%s/%s: %w", g.Name, a.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatewatch/gatewatch/internal/mattermost"
)

func newNotifyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "notify",
		Short: "Mattermost delivery",
	}
	cmd.AddCommand(newNotifyTestCmd())
	return cmd
}

func newNotifyTestCmd() *cobra.Command {
	var (
		path, severity string
		resolved       bool
		timeout        time.Duration
	)
	cmd := &cobra.Command{
		Use:   "test",
		Short: "Send a realistic sample alert through the configured Mattermost webhook",
		Long: `Builds a sample alert for the spec's first gateway and first alert routed
to Mattermost, exactly as a real one would look, sends it to the configured
webhook (retrying network errors, 5xx and 429 within --timeout), and prints
Mattermost's answer. The webhook URL is never printed.`,
		Example: `  gatewatch notify test -c gatewatch.yaml
  gatewatch notify test -c gatewatch.yaml --severity critical
  gatewatch notify test -c gatewatch.yaml --resolved`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if severity != "" && severity != "info" && severity != "warning" && severity != "critical" {
				return fail(exitUsage, fmt.Errorf("--severity %q: use info, warning or critical", severity))
			}
			s, err := loadSpec(path)
			if err != nil {
				return err
			}
			data, err := mattermost.Sample(s, mattermost.SampleOptions{Sender: "gatewatch notify test", Severity: severity, Resolved: resolved})
			if err != nil {
				return fail(exitFailure, err)
			}
			client, err := mattermost.NewClient(s.Mattermost,
				mattermost.WithRetry(mattermost.RetryPolicy{Initial: 500 * time.Millisecond, Max: 5 * time.Second, MaxElapsed: timeout}),
				mattermost.WithLogger(slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))))
			if err != nil {
				return fail(exitFailure, err)
			}
			p := mattermost.Build(data, mattermost.OptionsFor(s.Mattermost, "Sent by gatewatch notify test"))
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "sending %q to Mattermost", p.Attachments[0].Title)
			if s.Mattermost.Channel != "" {
				fmt.Fprintf(out, " (channel %s)", s.Mattermost.Channel)
			}
			fmt.Fprintln(out)
			res, err := client.Send(cmd.Context(), p)
			if err != nil {
				var se *mattermost.SendError
				if errors.As(err, &se) && se.Status != 0 {
					fmt.Fprintf(out, "Mattermost answered HTTP %d: %s\n", se.Status, se.Message)
				}
				return fail(exitFailure, fmt.Errorf("not delivered after %d attempt(s): %w", res.Attempts, err))
			}
			fmt.Fprintf(out, "delivered: Mattermost answered %d %s after %d attempt(s) in %s\n", res.Answer.Status, res.Answer.Body, res.Attempts, res.Elapsed.Round(time.Millisecond))
			return nil
		},
	}
	specFlag(cmd, &path)
	cmd.Flags().StringVar(&severity, "severity", "", "severity of the sample alert (default: the alert's own)")
	cmd.Flags().BoolVar(&resolved, "resolved", false, "send the resolved form of the message")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "give up retrying after this long")
	return cmd
}

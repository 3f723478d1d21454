package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
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
			return notifyTest(cmd.Context(), path, mattermost.SampleOptions{Sender: "gatewatch notify test", Severity: severity, Resolved: resolved}, timeout, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	specFlag(cmd, &path)
	cmd.Flags().StringVar(&severity, "severity", "", "severity of the sample alert (default: the alert's own)")
	cmd.Flags().BoolVar(&resolved, "resolved", false, "send the resolved form of the message")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "give up retrying after this long")
	return cmd
}

// notifyTest sends the spec's sample alert and prints the outcome once: the
// retries as they happen on stderr, then either the answer or one error that
// says what to do next.
func notifyTest(ctx context.Context, path string, o mattermost.SampleOptions, timeout time.Duration, stdout, stderr io.Writer) error {
	s, err := loadSpec(path)
	if err != nil {
		return err
	}
	data, err := mattermost.Sample(s, o)
	if err != nil {
		return fail(exitFailure, err)
	}
	// The client logs each retry (a Warn) and its final failure (an
	// Error); the final failure is this command's error, printed once.
	retries := slog.New(levelOnly{slog.NewTextHandler(stderr, nil), slog.LevelWarn})
	client, err := mattermost.NewClient(s.Mattermost,
		mattermost.WithRetry(mattermost.RetryPolicy{Initial: 500 * time.Millisecond, Max: 5 * time.Second, MaxElapsed: timeout}),
		mattermost.WithLogger(retries))
	if err != nil {
		return fail(exitFailure, err)
	}
	p := mattermost.Build(data, mattermost.OptionsFor(s.Mattermost, "Sent by gatewatch notify test"))
	fmt.Fprintf(stdout, "sending %q to Mattermost", p.Attachments[0].Title)
	if s.Mattermost.Channel != "" {
		fmt.Fprintf(stdout, " (channel %s)", s.Mattermost.Channel)
	}
	fmt.Fprintln(stdout)
	// --timeout bounds the whole send, a hanging request included, not
	// only the retries between attempts.
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := client.Send(ctx, p)
	if err != nil {
		err = fmt.Errorf("not delivered: %w", err)
		var se *mattermost.SendError
		if errors.As(err, &se) {
			switch se.Cause {
			case mattermost.CauseRefused, mattermost.CauseDNS, mattermost.CauseTLS, mattermost.CauseTimeout:
				err = fmt.Errorf("%w\nnext: gatewatch doctor -c %s checks the webhook's DNS, network path and TLS (dns/webhook, network/egress, mattermost/webhook)", err, path)
			}
		}
		return fail(exitFailure, err)
	}
	fmt.Fprintf(stdout, "delivered: Mattermost answered %d %s after %d attempt(s) in %s\n", res.Answer.Status, res.Answer.Body, res.Attempts, res.Elapsed.Round(time.Millisecond))
	return nil
}

// levelOnly passes the records of one level to h.
type levelOnly struct {
	h     slog.Handler
	level slog.Level
}

func (l levelOnly) Enabled(_ context.Context, lv slog.Level) bool { return lv == l.level }
func (l levelOnly) Handle(ctx context.Context, r slog.Record) error {
	return l.h.Handle(ctx, r)
}
func (l levelOnly) WithAttrs(as []slog.Attr) slog.Handler {
	return levelOnly{l.h.WithAttrs(as), l.level}
}
func (l levelOnly) WithGroup(n string) slog.Handler { return levelOnly{l.h.WithGroup(n), l.level} }

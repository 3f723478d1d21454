package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/nflog"
	"github.com/prometheus/alertmanager/notify"
	"github.com/spf13/cobra"

	"github.com/gatewatch/gatewatch/internal/mattermost"
	"github.com/gatewatch/gatewatch/internal/spec"
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
		path, severity, externalURL string
		resolved                    bool
		timeout                     time.Duration
	)
	cmd := &cobra.Command{
		Use:   "test",
		Short: "Send a realistic sample alert through the configured Mattermost webhook or bot",
		Long: `Builds a sample alert for the spec's first gateway and first alert routed
to Mattermost, exactly as a real one would look, sends it to the configured
webhook (retrying network errors, 5xx and 429 within --timeout), and prints
Mattermost's answer. The webhook URL is never printed.

In bot mode (mattermost.bot_token_file) it checks the token and the channel,
posts the sample, edits it to its resolved form and replies in its thread, as
gatewatch does for a real incident, and prints the action URL Mattermost must
reach for the buttons (from --web.external-url), saying whether Mattermost
needs it in AllowedUntrustedInternalConnections. The token is never printed.`,
		Example: `  gatewatch notify test -c gatewatch.yaml
  gatewatch notify test -c gatewatch.yaml --severity critical
  gatewatch notify test -c gatewatch.yaml --resolved
  gatewatch notify test -c gatewatch.yaml --web.external-url https://gatewatch.example.com`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if severity != "" && severity != "info" && severity != "warning" && severity != "critical" {
				return fail(exitUsage, fmt.Errorf("--severity %q: use info, warning or critical", severity))
			}
			o := mattermost.SampleOptions{Sender: "gatewatch notify test", Severity: severity, Resolved: resolved}
			return notifyTest(cmd.Context(), path, o, externalURL, timeout, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	specFlag(cmd, &path)
	cmd.Flags().StringVar(&severity, "severity", "", "severity of the sample alert (default: the alert's own)")
	cmd.Flags().BoolVar(&resolved, "resolved", false, "send the resolved form of the message")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "give up retrying after this long")
	cmd.Flags().StringVar(&externalURL, "web.external-url", "", "bot mode: the URL Mattermost reaches gatewatch at (as gatewatch run's flag), to check the buttons' action URL")
	return cmd
}

// notifyTest sends the spec's sample alert and prints the outcome once: the
// retries as they happen on stderr, then either the answer or one error that
// says what to do next.
func notifyTest(ctx context.Context, path string, o mattermost.SampleOptions, externalURL string, timeout time.Duration, stdout, stderr io.Writer) error {
	s, err := loadSpec(path)
	if err != nil {
		return err
	}
	data, err := mattermost.Sample(s, o)
	if err != nil {
		return fail(exitFailure, err)
	}
	if s.Mattermost.BotMode() {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return notifyTestBot(ctx, s, o, externalURL, stdout)
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

// notifyTestBot is notify test in bot mode: check the token and channel,
// post the sample, edit it resolved with a thread reply, and check the
// action URL.
func notifyTestBot(ctx context.Context, s *spec.Spec, o mattermost.SampleOptions, externalURL string, stdout io.Writer) error {
	api, err := mattermost.NewAPI(s.Mattermost, nil)
	if err != nil {
		return fail(exitFailure, err)
	}
	bot := mattermost.NewBot(api, s.Mattermost.Team, s.Mattermost.Channel, s.Mattermost.ChannelID, nil, nil)
	u, err := bot.Check(ctx)
	if err != nil {
		return fail(exitFailure, fmt.Errorf("not delivered: %w", err))
	}
	kind := "a bot account"
	if !u.IsBot {
		kind = "NOT a bot account: posts appear as that person; create a bot (System Console → Integrations → Bot Accounts)"
	}
	fmt.Fprintf(stdout, "token: @%s on %s, %s\n", u.Username, api.BaseURL(), kind)
	ch, err := retryBot(ctx, func() (mattermost.Channel, error) { return bot.Channel(ctx) })
	if err != nil {
		return fail(exitFailure, fmt.Errorf("not delivered: %w", err))
	}
	fmt.Fprintf(stdout, "channel: ~%s (%s)\n", ch.Name, ch.ID)
	opts := mattermost.OptionsFor(s.Mattermost, "Sent by gatewatch notify test")
	store := nflog.NewStore(nil)
	dctx := notify.WithNflogStore(notify.WithGroupKey(ctx, "gatewatch-notify-test"), store)
	firing := o
	firing.Resolved = false
	fd, err := mattermost.Sample(s, firing)
	if err != nil {
		return fail(exitFailure, err)
	}
	if _, err := retryBot(ctx, func() (struct{}, error) { return struct{}{}, bot.Deliver(dctx, fd, mattermost.Build(fd, opts)) }); err != nil {
		return fail(exitFailure, fmt.Errorf("not delivered: %w", err))
	}
	ref := mattermost.ReadPostRef(store)
	team := s.Mattermost.Team
	if team == "" {
		team = "_redirect" // Mattermost finds the team of a permalink itself
	}
	fmt.Fprintf(stdout, "posted %q: %s/%s/pl/%s\n", mattermost.Title(fd), api.BaseURL(), team, ref.PostID)
	if !o.Resolved {
		fmt.Fprintln(stdout, "(pass --resolved to also edit it to its resolved form and reply in its thread)")
	} else {
		rd, err := mattermost.Sample(s, o)
		if err != nil {
			return fail(exitFailure, err)
		}
		if _, err := retryBot(ctx, func() (struct{}, error) { return struct{}{}, bot.Deliver(dctx, rd, mattermost.Build(rd, opts)) }); err != nil {
			return fail(exitFailure, fmt.Errorf("the post was made but not edited: %w", err))
		}
		fmt.Fprintln(stdout, "edited it to its resolved form and replied in its thread")
	}
	if externalURL == "" {
		fmt.Fprintf(stdout, "buttons: Mattermost must reach <gatewatch's --web.external-url>%s; pass --web.external-url to check it\n", mattermost.ActionPath)
		return nil
	}
	action := strings.TrimRight(externalURL, "/") + mattermost.ActionPath
	fmt.Fprintf(stdout, "buttons: Mattermost sends clicks to %s\n", action)
	if reason := mattermost.PrivateActionURL(ctx, action); reason != "" {
		host := action
		if pu, err := url.Parse(action); err == nil {
			host = pu.Hostname()
		}
		fmt.Fprintln(stdout, "  note: "+mattermost.UntrustedHint(reason, host))
	}
	return nil
}

// retryBot retries f while its error is retryable, until ctx ends.
func retryBot[T any](ctx context.Context, f func() (T, error)) (T, error) {
	wait := 500 * time.Millisecond
	for {
		v, err := f()
		var se *mattermost.SendError
		if err == nil || !errors.As(err, &se) || !se.Retryable {
			return v, err
		}
		d := max(wait, se.RetryAfter)
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(d):
		}
		wait = min(wait*2, 5*time.Second)
	}
}

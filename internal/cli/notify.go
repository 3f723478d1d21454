package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/alertmanager/template"
	"github.com/spf13/cobra"

	"github.com/gatewatch/gatewatch/internal/mattermost"
	"github.com/gatewatch/gatewatch/internal/rules"
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
			data, err := sampleGroup(s, severity, resolved)
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

// sampleGroup builds the alert group a real 421 (or the first routed alert)
// at the first gateway would produce, with the generated rule's labels and
// annotations.
func sampleGroup(s *spec.Spec, severity string, resolved bool) (*template.Data, error) {
	g := s.Gateways[0]
	var a spec.Alert
	for _, al := range s.EnabledAlerts() {
		if len(s.Routing.Alerts) > 0 && al.Name == s.Routing.Alerts[0] {
			a = al
		}
	}
	if a.Name == "" {
		return nil, errors.New("no enabled alert is routed to Mattermost")
	}
	rule := rules.ForAlert(g, a)
	pod := g.Workload + "-7d9f8b6c4d-x2l9q"
	exprLabels := map[string]string{"pod": pod, "instance": "10.0.0.11:15090"}
	if a.Per == "gateway" {
		exprLabels = map[string]string{}
	}
	ann, err := rules.ExpandAnnotations(rule, exprLabels, 1)
	if err != nil {
		return nil, err
	}
	ann["description"] = "This is a test message from `gatewatch notify test`. " + ann["description"]
	lbls := template.KV{"alertname": a.Name}
	for k, v := range rule.Labels {
		lbls[k] = v
	}
	for k, v := range exprLabels {
		lbls[k] = v
	}
	if severity != "" {
		lbls["severity"] = severity
	}
	start := time.Now().Add(-time.Minute).UTC()
	// No generator URL: a test message has no graph to link to.
	alert := template.Alert{Status: "firing", Labels: lbls, Annotations: template.KV(ann), StartsAt: start}
	status := "firing"
	if resolved {
		status = "resolved"
		alert.Status, alert.EndsAt = status, time.Now().UTC()
	}
	common := template.KV{}
	for k, v := range ann {
		common[k] = v
	}
	return &template.Data{
		Receiver: "mattermost", Status: status, Alerts: template.Alerts{alert},
		GroupLabels: template.KV{"alertname": a.Name}, CommonLabels: lbls, CommonAnnotations: common,
	}, nil
}

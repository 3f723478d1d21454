package doctor

import (
	"context"
	"fmt"
	"time"

	"github.com/gatewatch/gatewatch/internal/mattermost"
)

// mattermostWebhook (mattermost/webhook, only with --send-test): a test
// message is accepted — the sample of the spec's first routed alert that
// `gatewatch notify test` sends too (mattermost.Sample).
type mattermostWebhook struct{}

func (mattermostWebhook) ID() string    { return "mattermost/webhook" }
func (mattermostWebhook) Title() string { return "Mattermost accepts a test message" }
func (mattermostWebhook) Offline() bool { return false }

// applies: webhook mode only (bot mode has mattermost/bot).
func (mattermostWebhook) applies(_ context.Context, env *Env) (bool, error) {
	return !env.Spec.Mattermost.BotMode(), nil
}

func (mattermostWebhook) Run(ctx context.Context, env *Env) Result {
	m := env.Spec.Mattermost
	if !env.SendTest {
		return skip("not sending a test message (use --send-test)")
	}
	c, err := mattermost.NewClient(m, mattermost.WithRetry(mattermost.RetryPolicy{Initial: 500 * time.Millisecond, Max: 2 * time.Second, MaxElapsed: 10 * time.Second}))
	if err != nil {
		return failed("no webhook configured", "set mattermost.webhook_url_file", err.Error())
	}
	// Severity info: a test never mentions the channel (mention_critical).
	d, err := mattermost.Sample(env.Spec, mattermost.SampleOptions{Sender: "gatewatch doctor --send-test", Severity: "info"})
	if err != nil {
		return failed("no test message to send", "route an enabled alert to Mattermost (routing.alerts)", err.Error())
	}
	res, err := c.Send(ctx, mattermost.Build(d, mattermost.OptionsFor(m, "Sent by gatewatch doctor")))
	if err != nil {
		return failed("Mattermost did not accept the test message", "the error names the cause; see docs/mattermost.md", err.Error())
	}
	return pass(fmt.Sprintf("accepted: %d %s", res.Answer.Status, res.Answer.Body))
}

package doctor

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/gatewatch/gatewatch/internal/mattermost"
)

// mattermostWebhook (mattermost/webhook, only with --send-test): a test
// message is accepted.
type mattermostWebhook struct{}

func (mattermostWebhook) ID() string    { return "mattermost/webhook" }
func (mattermostWebhook) Title() string { return "Mattermost accepts a test message" }
func (mattermostWebhook) Offline() bool { return false }

func (mattermostWebhook) Run(ctx context.Context, env *Env) Result {
	if !env.SendTest {
		return skip("not sending a test message (use --send-test)")
	}
	m := env.Spec.Mattermost
	c, err := mattermost.NewClient(m, mattermost.WithRetry(mattermost.RetryPolicy{Initial: 500 * time.Millisecond, Max: 2 * time.Second, MaxElapsed: 10 * time.Second}))
	if err != nil {
		return failed("no webhook configured", "set mattermost.webhook_url_file", err.Error())
	}
	d := &template.Data{Status: "firing", CommonLabels: template.KV{"alertname": "GatewatchDoctorTest", "gateway": env.Spec.Gateways[0].Name, "namespace": env.Spec.Gateways[0].Namespace, "severity": "info"},
		Alerts: template.Alerts{{Status: "firing", Labels: template.KV{"alertname": "GatewatchDoctorTest"}, Annotations: template.KV{"summary": "gatewatch doctor test message", "description": "Sent by `gatewatch doctor --send-test` to check the webhook."}, StartsAt: time.Now()}}}
	res, err := c.Send(ctx, mattermost.Build(d, mattermost.OptionsFor(m, "Sent by gatewatch doctor")))
	if err != nil {
		return failed("Mattermost did not accept the test message", "the error names the cause; see docs/mattermost.md", err.Error())
	}
	return pass(fmt.Sprintf("accepted: %d %s", res.Answer.Status, res.Answer.Body))
}

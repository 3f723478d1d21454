package doctor

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/gatewatch/gatewatch/internal/spec"
)

// dnsWebhook (dns/webhook): the webhook host resolves; with the webhook
// routed through the gateway, says which in-cluster path is expected.
type dnsWebhook struct{}

func (dnsWebhook) ID() string    { return "dns/webhook" }
func (dnsWebhook) Title() string { return "The Mattermost host resolves" }
func (dnsWebhook) Offline() bool { return false }

// webhookHost reads the host of the webhook URL (never printing the URL),
// or in bot mode of the server URL.
func webhookHost(m spec.Mattermost) (string, error) {
	if m.BotMode() {
		u, err := spec.ParseServerURL(m.URL)
		if err != nil {
			return "", err
		}
		return u.Hostname(), nil
	}
	raw, err := spec.ResolveWebhookURL(m.WebhookURL.Reveal(), m.WebhookURLFile)
	if err != nil {
		return "", err
	}
	u, err := spec.ParseWebhookURL(raw)
	if err != nil {
		return "", err
	}
	return u.Hostname(), nil
}

func (dnsWebhook) Run(ctx context.Context, env *Env) Result {
	host, err := webhookHost(env.Spec.Mattermost)
	if err != nil {
		return skip(err.Error())
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, host)
	var ev []string
	w := env.Spec.Cluster.WebhookPath
	if w.Via == spec.ViaGateway && w.Gateway.Namespace != "" {
		ev = append(ev, fmt.Sprintf("expected path: %s resolves (in-cluster, e.g. through a ServiceEntry or the gateway's Service) to the gateway in %s, pods %q, port %d → pod port %d",
			host, w.Gateway.Namespace, w.Gateway.PodSelector, w.Gateway.Port, w.Gateway.TargetPort))
	}
	ev = append(ev, "resolved from the machine running doctor; in-cluster DNS may differ")
	if err != nil {
		if w.Via == spec.ViaGateway {
			// The name may only exist inside the cluster (a ServiceEntry).
			return warn(fmt.Sprintf("%s does not resolve on this machine", host), "check from inside: kubectl exec into the Alertmanager pod and nslookup the host; and network/egress for kube-dns", append(ev, err.Error())...)
		}
		return failed(fmt.Sprintf("%s does not resolve", host), "check the host name in the webhook URL and DNS (from the Alertmanager pod: nslookup), and network/egress for kube-dns", append(ev, err.Error())...)
	}
	return pass(fmt.Sprintf("%s resolves to %s", host, strings.Join(addrs, ", ")), ev...)
}

package doctor

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/prometheus/alertmanager/nflog"
	"github.com/prometheus/alertmanager/notify"

	"github.com/gatewatch/gatewatch/internal/mattermost"
)

// mattermostBot (mattermost/bot, bot mode only): the token is a bot's, the
// channel exists and the bot is in it; the action URL the buttons carry is
// one Mattermost may call (a private address needs the server's
// AllowedUntrustedInternalConnections). With --send-test it also posts the
// sample, edits it resolved and replies in its thread.
type mattermostBot struct{}

func (mattermostBot) ID() string    { return "mattermost/bot" }
func (mattermostBot) Title() string { return "The Mattermost bot can post, edit and take clicks" }
func (mattermostBot) Offline() bool { return false }

// applies: bot mode only (left out of a webhook setup's report).
func (mattermostBot) applies(_ context.Context, env *Env) (bool, error) {
	return env.Spec.Mattermost.BotMode(), nil
}

func (mattermostBot) Run(ctx context.Context, env *Env) Result {
	m := env.Spec.Mattermost
	api, err := mattermost.NewAPI(m, env.HTTP)
	if err != nil {
		return failed("no bot configured", "set mattermost.url and mattermost.bot_token_file", err.Error())
	}
	bot := mattermost.NewBot(api, m.Team, m.Channel, m.ChannelID, nil, nil)
	u, err := bot.Check(ctx)
	if err != nil {
		return failed("the bot token does not work", "the error says what to do; see docs/mattermost.md (Bot mode)", err.Error())
	}
	ev := []string{fmt.Sprintf("token: @%s on %s", u.Username, api.BaseURL())}
	var warnings []string
	if !u.IsBot {
		warnings = append(warnings, fmt.Sprintf("@%s is not a bot account: posts appear as that person (create a bot: System Console → Integrations → Bot Accounts)", u.Username))
	}
	ch, err := bot.Channel(ctx)
	if err != nil {
		return failed("the bot's channel is not found", "check mattermost.team and mattermost.channel (names from the channel's URL), or mattermost.channel_id", append(ev, err.Error())...)
	}
	ev = append(ev, fmt.Sprintf("channel: ~%s (%s)", ch.Name, ch.ID))
	member, err := api.IsMember(ctx, ch.ID, u.ID)
	switch {
	case err != nil:
		return failed("the bot's channel membership could not be read", "see the error", append(ev, err.Error())...)
	case !member:
		return failed(fmt.Sprintf("@%s is not a member of ~%s: Mattermost refuses its posts (403)", u.Username, ch.Name),
			fmt.Sprintf("in ~%s type /invite @%s (or add it in the System Console)", ch.Name, u.Username), ev...)
	}
	ev = append(ev, fmt.Sprintf("@%s is a member of ~%s", u.Username, ch.Name))
	if env.SendTest {
		d, err := mattermost.Sample(env.Spec, mattermost.SampleOptions{Sender: "gatewatch doctor --send-test", Severity: "info"})
		if err != nil {
			return failed("no test message to send", "route an enabled alert to Mattermost (routing.alerts)", err.Error())
		}
		store := nflog.NewStore(nil)
		dctx := notify.WithNflogStore(notify.WithGroupKey(ctx, "gatewatch-doctor"), store)
		if err := bot.Deliver(dctx, d, mattermost.Build(d, mattermost.OptionsFor(m, "Sent by gatewatch doctor"))); err != nil {
			return failed("Mattermost did not accept the test post", "the error names the cause; see docs/mattermost.md", append(ev, err.Error())...)
		}
		ev = append(ev, "test post "+mattermost.ReadPostRef(store).PostID+" created")
	}
	action := actionURL(env)
	if action == "" {
		warnings = append(warnings, "the buttons' action URL is unknown: pass --gatewatch-url (or --web.external-url) to check that Mattermost may call it")
	} else {
		ev = append(ev, "buttons send clicks to "+action)
		if reason := mattermost.PrivateActionURL(ctx, action); reason != "" {
			host := action
			if u, err := url.Parse(action); err == nil {
				host = u.Hostname()
			}
			warnings = append(warnings, mattermost.UntrustedHint(reason, host))
		}
		if env.Spec.Cluster.Denies("ingress") {
			ev = append(ev, "default-deny ingress: cluster.standalone.web_from must let the Mattermost server's requests reach gatewatch's web port")
		}
	}
	if len(warnings) > 0 {
		return warn(strings.Join(warnings, "; "), "see docs/mattermost.md (Bot mode)", ev...)
	}
	return pass(fmt.Sprintf("@%s can post in ~%s", u.Username, ch.Name), ev...)
}

// actionURL is where the buttons send clicks: gatewatch's external URL.
func actionURL(env *Env) string {
	base := env.ExternalURL
	if base == "" {
		base = env.GatewatchURL
	}
	if base == "" {
		return ""
	}
	return strings.TrimRight(base, "/") + mattermost.ActionPath
}

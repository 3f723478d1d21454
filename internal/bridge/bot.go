package bridge

// Bot mode: with a bot token in the spec, the bridge posts as the
// embedded engine's bot does (mattermost.Bot) — one post per alert group,
// alive for the incident: created by the first notification, edited by
// the next ones with what changed said in its thread, edited green on the
// resolve. Alertmanager's webhook carries no notification-log entry, so
// the bridge keeps each group's post in its data directory (state.go) and
// hands it to mattermost.Bot in an nflog store, as Alertmanager's pipeline
// would. Its buttons come back to the bridge's listener at
// mattermost.ActionPath and act on the user's Alertmanager
// (alertmanager.go).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/alertmanager/nflog"
	"github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/alertmanager/notify/webhook"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/gatewatch/gatewatch/internal/mattermost"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// BotOptions configure the bridge's bot mode.
type BotOptions struct {
	// DataDir keeps each group's post, the acknowledgements and the
	// buttons' signing key across restarts.
	DataDir string
	// ExternalURL is the URL Mattermost reaches the bridge at; the
	// buttons' action URL is it + mattermost.ActionPath. Empty: posts
	// have no buttons.
	ExternalURL string
	// AlertmanagerURL is the user's Alertmanager, whose API v2 the
	// silence buttons use. Empty: only the Acknowledge button.
	AlertmanagerURL string
	// HTTPTimeout bounds each call to Mattermost and Alertmanager
	// (default 10s).
	HTTPTimeout time.Duration
	Logger      *slog.Logger
	Registry    prometheus.Registerer
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Bot is the bridge's bot mode: the bot, its state, and the action
// endpoint.
type Bot struct {
	bot       *mattermost.Bot
	state     *State
	actions   http.Handler
	actionURL string
	amURL     string
	target    string
	logger    *slog.Logger
	locks     groupLocks
}

// NewBot sets up bot mode for the spec's mattermost section, which must
// have a bot token (m.BotMode()).
func NewBot(m spec.Mattermost, o BotOptions) (*Bot, error) {
	if !m.BotMode() {
		return nil, spec.ErrNoBotToken
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.HTTPTimeout <= 0 {
		o.HTTPTimeout = 10 * time.Second
	}
	if o.DataDir == "" {
		return nil, errors.New("bot mode needs a data directory (--data-dir) for the groups' posts")
	}
	actionURL, err := ActionURL(o.ExternalURL)
	if err != nil {
		return nil, err
	}
	b := &Bot{actionURL: actionURL, amURL: o.AlertmanagerURL, logger: o.Logger}
	if b.state, err = OpenState(o.DataDir, o.Now); err != nil {
		return nil, err
	}
	keys, err := signingKeys(o.DataDir, m.ActionsSecretFile)
	if err != nil {
		return nil, err
	}
	signer := mattermost.NewSigner(keys)
	backend := &actions{state: b.state, http: &http.Client{Timeout: o.HTTPTimeout}, now: o.Now, logger: o.Logger.With("part", "alertmanager")}
	mmHTTP := &http.Client{Timeout: o.HTTPTimeout}
	if o.AlertmanagerURL != "" {
		if backend.am, err = alertmanagerClient(o.AlertmanagerURL); err != nil {
			return nil, err
		}
	} else {
		// Nothing to silence in: Acknowledge only.
		signer = signer.AckOnly()
	}
	api, err := mattermost.NewAPI(m, mmHTTP)
	if err != nil {
		return nil, err
	}
	b.bot = mattermost.NewBot(api, m.Team, m.Channel, m.ChannelID, o.Logger, mattermost.NewBotMetrics(o.Registry))
	b.bot.Backend = backend
	if actionURL != "" {
		b.bot.Signer, b.bot.ActionURL = signer, actionURL
	}
	b.actions = &mattermost.ActionHandler{Signer: signer, Backend: backend, API: api, ActionURL: actionURL,
		Logger: o.Logger.With("part", "actions"), Metrics: mattermost.NewActionMetrics(o.Registry)}
	b.target = "channel id " + m.ChannelID
	if m.ChannelID == "" {
		b.target = fmt.Sprintf("~%s in team %s", m.Channel, m.Team)
	}
	return b, nil
}

// ActionURL is where Mattermost sends the buttons' clicks for a bridge
// reached at externalURL ("" when externalURL is empty).
func ActionURL(externalURL string) (string, error) {
	if externalURL == "" {
		return "", nil
	}
	const want = "want the http(s) URL Mattermost reaches the bridge at, e.g. http://gatewatch-bridge.monitoring.svc:9095"
	u, err := url.Parse(externalURL)
	switch {
	case err != nil:
		return "", errors.New("--web.external-url is not a URL: " + want)
	case u.User != nil:
		return "", errors.New("--web.external-url: credentials in the URL are not supported")
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return "", fmt.Errorf("--web.external-url %q: %s", externalURL, want)
	}
	u.RawQuery, u.Fragment = "", ""
	return strings.TrimRight(u.String(), "/") + mattermost.ActionPath, nil
}

// State is the bot's saved state.
func (b *Bot) State() *State { return b.state }

// Actions serves the buttons' clicks (mount it at mattermost.ActionPath).
func (b *Bot) Actions() http.Handler { return b.actions }

// Start checks the token: a refused one (401) is an error that says how
// to fix it; anything else (Mattermost down, the channel not found yet) is
// a warning, as Mattermost may come up later. It logs, once, what the
// posts' buttons will be.
func (b *Bot) Start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	u, err := b.bot.Check(ctx)
	var se *mattermost.SendError
	switch {
	case errors.As(err, &se) && se.Cause == mattermost.CauseAuth:
		return err
	case err != nil:
		b.logger.Warn("Mattermost not reachable to check the bot token; notifications are answered 503 (Alertmanager retries) until it is", "err", err)
	case !u.IsBot:
		b.logger.Warn("the token is not a bot account's: posts appear as that person", "user", u.Username)
	default:
		if _, err := b.bot.Channel(ctx); err != nil {
			b.logger.Warn("bot channel not found yet", "err", err)
		}
		b.logger.Info("posting to Mattermost as a bot", "bot", u.Username, "channel", b.target, "state", b.state.Path())
	}
	switch {
	case b.actionURL == "":
		b.logger.Info("posts have no buttons: --web.external-url (the URL Mattermost reaches the bridge at) is not set")
	case b.amURL == "":
		b.logger.Info("posts have only the Acknowledge button: --alertmanager-url (your Alertmanager, for the silence buttons) is not set", "actions", b.actionURL)
	default:
		b.logger.Info("posts have buttons", "actions", b.actionURL, "alertmanager", b.amURL)
	}
	return nil
}

// Deliver posts the notification's group as its living post: the group's
// saved post goes into an nflog store for mattermost.Bot, which creates,
// edits and replies, and what it leaves there is saved. Once a group's
// resolve is delivered its post is dropped: the next firing is a new
// incident and a new post, as with Alertmanager's notification log, and
// another resolve before that (Alertmanager retrying an answer it did not
// get, or a second replica sending too) is a duplicate, not posted again.
// Notifications of one group are delivered one at a time.
func (b *Bot) Deliver(ctx context.Context, msg *webhook.Message, p mattermost.Payload) error {
	key := groupKey(msg)
	unlock := b.locks.lock(key)
	defer unlock()
	store := nflog.NewStore(nil)
	if gp, ok := b.state.Post(key); ok {
		switch {
		case gp.Resolved.IsZero():
			gp.PostRef.Write(store)
		case msg.Status == "resolved":
			b.logger.Info("resolve already delivered; not posted again", "group", key, "post", gp.PostID)
			return nil
		}
	}
	ls := model.LabelSet{}
	for k, v := range msg.GroupLabels {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	ctx = notify.WithNflogStore(ctx, store)
	ctx = notify.WithGroupKey(ctx, key)
	ctx = notify.WithGroupLabels(ctx, ls)
	ctx = notify.WithReceiverName(ctx, msg.Receiver)
	if err := b.bot.Deliver(ctx, msg.Data, p); err != nil {
		return err
	}
	var err error
	if msg.Status == "resolved" {
		err = b.state.ResolvePost(key, mattermost.ReadPostRef(store))
	} else {
		err = b.state.SetPost(key, mattermost.ReadPostRef(store))
	}
	if err != nil {
		// The post is right; only a restart would forget it.
		b.logger.Error("group's post delivered but not saved: after a restart its next notification starts a new post", "group", key, "err", err)
	}
	return nil
}

// groupKey is the notification's group key; a payload without one (not
// from Alertmanager) is keyed by receiver and group labels.
func groupKey(msg *webhook.Message) string {
	if msg.GroupKey != "" {
		return msg.GroupKey
	}
	return msg.Receiver + ":" + msg.GroupLabels.SortedPairs().String()
}

// groupLocks serialises the notifications of each group.
type groupLocks struct {
	mu sync.Mutex
	m  map[string]*groupLock
}

type groupLock struct {
	sync.Mutex
	users int
}

func (g *groupLocks) lock(key string) (unlock func()) {
	g.mu.Lock()
	if g.m == nil {
		g.m = map[string]*groupLock{}
	}
	l := g.m[key]
	if l == nil {
		l = &groupLock{}
		g.m[key] = l
	}
	l.users++
	g.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		g.mu.Lock()
		if l.users--; l.users == 0 {
			delete(g.m, key)
		}
		g.mu.Unlock()
	}
}

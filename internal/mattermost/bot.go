package mattermost

// Bot mode keeps one post per alert group, alive for the incident: the
// first notification creates it, a change edits it and says what changed in
// its thread, a repeat is a thread reply, the resolve edits it green and
// says so in the thread. The post's id lives in Alertmanager's notification
// log as the receiver's data (the store Alertmanager's Slack integration
// keeps its thread in), so a restart on the same data dir, and another
// replica after a failover, edit the same post.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/alertmanager/nflog"
	"github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/client_golang/prometheus"
)

// Receiver-data keys in the notification log.
const (
	dataPostID    = "mattermost_post_id"
	dataChannelID = "mattermost_channel_id"
	dataFiring    = "mattermost_firing"
	dataSince     = "mattermost_since"
)

// BotMetrics count what the bot did.
type BotMetrics struct {
	Posts     prometheus.Counter
	Edits     prometheus.Counter
	Replies   prometheus.Counter
	Fallbacks *prometheus.CounterVec
	Failures  *prometheus.CounterVec
}

// NewBotMetrics registers the bot's counters with reg (may be nil).
func NewBotMetrics(reg prometheus.Registerer) *BotMetrics {
	m := &BotMetrics{
		Posts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatewatch_mattermost_bot_posts_total", Help: "Root posts the bot created (one per alert group incident, plus fallbacks).",
		}),
		Edits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatewatch_mattermost_bot_edits_total", Help: "Root posts the bot edited (alerts changed, resolved).",
		}),
		Replies: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatewatch_mattermost_bot_replies_total", Help: "Thread replies the bot posted (changes, repeats, resolves).",
		}),
		Fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatewatch_mattermost_bot_fallbacks_total", Help: "Edits that failed and were replaced by a new root post, by reason.",
		}, []string{"reason"}),
		Failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatewatch_mattermost_bot_failures_total", Help: "REST calls that failed, by call and cause.",
		}, []string{"call", "cause"}),
	}
	if reg != nil {
		reg.MustRegister(m.Posts, m.Edits, m.Replies, m.Fallbacks, m.Failures)
	}
	return m
}

// Bot posts alert groups through the REST API.
type Bot struct {
	api     *API
	team    string
	channel string
	chanID  string
	logger  *slog.Logger
	metrics *BotMetrics
	// Signer and ActionURL give firing posts their buttons (nil or "": none).
	Signer    *Signer
	ActionURL string
	// Backend, if set, tells the post's state (silenced, acknowledged).
	Backend ActionBackend

	mu       sync.Mutex
	resolved *Channel
}

// NewBot returns a bot posting to the spec's channel.
func NewBot(api *API, team, channel, channelID string, logger *slog.Logger, m *BotMetrics) *Bot {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if m == nil {
		m = NewBotMetrics(nil)
	}
	return &Bot{api: api, team: team, channel: channel, chanID: channelID, logger: logger, metrics: m}
}

// API is the bot's REST client.
func (b *Bot) API() *API { return b.api }

// Channel finds the channel (once; a failure is tried again next time).
func (b *Bot) Channel(ctx context.Context) (Channel, error) {
	b.mu.Lock()
	if b.resolved != nil {
		c := *b.resolved
		b.mu.Unlock()
		return c, nil
	}
	b.mu.Unlock()
	var c Channel
	var err error
	if b.chanID != "" {
		c, err = b.api.ChannelByID(ctx, b.chanID)
	} else {
		c, err = b.api.ChannelByName(ctx, b.team, b.channel)
	}
	if err != nil {
		return Channel{}, err
	}
	b.mu.Lock()
	b.resolved = &c
	b.mu.Unlock()
	return c, nil
}

// Check verifies the token at start: a 401 is a bad or revoked token.
func (b *Bot) Check(ctx context.Context) (User, error) {
	u, err := b.api.Me(ctx)
	if err != nil {
		var se *SendError
		if errors.As(err, &se) && se.Status == http.StatusUnauthorized {
			return u, fmt.Errorf("%w\nthe bot token was refused: create a new one (System Console → Integrations → Bot Accounts → the bot → Create New Token) and put it in mattermost.bot_token_file", err)
		}
		return u, err
	}
	return u, nil
}

// channelName is how errors name the channel.
func (b *Bot) channelName() string {
	if b.chanID != "" {
		return "channel id " + b.chanID
	}
	return fmt.Sprintf("~%s in team %s", b.channel, b.team)
}

// PostRef is a group's post as the notification log keeps it (the bridge,
// which has no notification log, keeps it in its own file).
type PostRef struct {
	PostID    string    `json:"post_id"`
	ChannelID string    `json:"channel_id"`
	Firing    []string  `json:"firing"`
	Since     time.Time `json:"since"`
}

// ReadPostRef reads the group's post from a notification-log store.
func ReadPostRef(store *nflog.Store) PostRef {
	if store == nil {
		return PostRef{}
	}
	var r PostRef
	r.PostID, _ = store.GetStr(dataPostID)
	r.ChannelID, _ = store.GetStr(dataChannelID)
	if f, ok := store.GetStr(dataFiring); ok && f != "" {
		r.Firing = strings.Split(f, ",")
	}
	if s, ok := store.GetInt(dataSince); ok {
		r.Since = time.Unix(s, 0)
	}
	return r
}

// Write puts the ref into a notification-log store.
func (r PostRef) Write(store *nflog.Store) {
	if store == nil || r.PostID == "" {
		return
	}
	store.SetStr(dataPostID, r.PostID)
	store.SetStr(dataChannelID, r.ChannelID)
	store.SetStr(dataFiring, strings.Join(r.Firing, ","))
	store.SetInt(dataSince, r.Since.Unix())
}

// firingKeys names the group's firing alerts (by fingerprint), sorted.
func firingKeys(d *template.Data) []string {
	var out []string
	for _, a := range d.Alerts.Firing() {
		out = append(out, a.Fingerprint)
	}
	sort.Strings(out)
	return out
}

// Deliver posts the group: create, edit and reply as the file's comment
// says; the group's post is read from and written to the notification-log
// store in ctx (notify.NflogStore), the group key from notify.GroupKey. p is the message Build made. A failure of the root post is the
// notification's failure (Alertmanager retries it); a failed thread reply
// after a successful edit is logged and counted, not retried (the post
// itself is right).
func (b *Bot) Deliver(ctx context.Context, d *template.Data, p Payload) error {
	store, _ := notify.NflogStore(ctx)
	ch, err := b.Channel(ctx)
	if err != nil {
		return b.failed("channel", err)
	}
	gkey, _ := notify.GroupKey(ctx)
	matchers := map[string]string{}
	for k, v := range d.GroupLabels {
		matchers[k] = v
	}
	prev := ReadPostRef(store)
	cur := PostRef{PostID: prev.PostID, ChannelID: ch.ID, Firing: firingKeys(d), Since: prev.Since}
	if prev.PostID == "" || prev.ChannelID != ch.ID {
		return b.create(ctx, store, ch, d, p, gkey, matchers, cur)
	}
	if d.Status == "firing" && slicesEqual(prev.Firing, cur.Firing) {
		// A repeat: nothing on the post changed; the reply is the
		// notification (a failed one is retried). A root post a person
		// deleted refuses replies: the repeat starts a new post.
		err := b.reply(ctx, ch.ID, prev.PostID, repeatReply(d, prev.Since))
		var se *SendError
		if err == nil || !errors.As(err, &se) || se.Retryable || (se.Status != http.StatusBadRequest && se.Status != http.StatusNotFound) {
			return err
		}
		b.metrics.Fallbacks.WithLabelValues("post deleted").Inc()
		b.logger.Warn("bot post refuses thread replies (deleted?); posting a new one", "post", prev.PostID, "err", err)
		cur.Since = time.Time{}
		return b.create(ctx, store, ch, d, p, gkey, matchers, cur)
	}
	reply := changeReply(d, prev.Firing)
	if d.Status == "resolved" {
		reply = resolvedReply(d, prev.Since)
	}
	root := b.rootPost(ch.ID, d, p, gkey, matchers, b.state(ctx, prev.PostID, matchers), prev.Since)
	msg := root.Message
	if _, err := b.api.PatchPost(ctx, prev.PostID, PostPatch{Message: &msg, Props: root.Props}); err != nil {
		var se *SendError
		if errors.As(err, &se) && (se.Retryable || se.Status == http.StatusUnauthorized) {
			return b.failed("edit", err)
		}
		// Deleted by a person (404), or the bot may no longer edit it:
		// the alert still goes out, as a new post.
		reason := "edit refused"
		if errors.As(err, &se) && se.Status == http.StatusNotFound {
			reason = "post deleted"
		}
		b.metrics.Fallbacks.WithLabelValues(reason).Inc()
		b.logger.Warn("bot post could not be edited; posting a new one", "post", prev.PostID, "reason", reason, "err", err)
		cur.Since = time.Time{}
		return b.create(ctx, store, ch, d, p, gkey, matchers, cur)
	}
	b.metrics.Edits.Inc()
	cur.Write(store)
	_ = b.reply(ctx, ch.ID, prev.PostID, reply)
	return nil
}

// ResolveQuietly edits the group's post to resolved without a thread
// reply: Alertmanager did not notify the resolve because a silence (or an
// inhibition) muted it, but the post must not stay red. No post in the
// store: nothing to do.
func (b *Bot) ResolveQuietly(ctx context.Context, d *template.Data, p Payload) error {
	store, _ := notify.NflogStore(ctx)
	prev := ReadPostRef(store)
	if prev.PostID == "" {
		return nil
	}
	gkey, _ := notify.GroupKey(ctx)
	matchers := map[string]string{}
	for k, v := range d.GroupLabels {
		matchers[k] = v
	}
	root := b.rootPost(prev.ChannelID, d, p, gkey, matchers, b.state(ctx, prev.PostID, matchers), prev.Since)
	root.Props.Attachments[0].Pretext += " (while muted by a silence: no notification)"
	msg := root.Message
	if _, err := b.api.PatchPost(ctx, prev.PostID, PostPatch{Message: &msg, Props: root.Props}); err != nil {
		return b.failed("edit", err)
	}
	b.metrics.Edits.Inc()
	prev.Firing = nil
	prev.Write(store)
	return nil
}

// create makes a new root post and records it.
func (b *Bot) create(ctx context.Context, store *nflog.Store, ch Channel, d *template.Data, p Payload, gkey string, matchers map[string]string, cur PostRef) error {
	root := b.rootPost(ch.ID, d, p, gkey, matchers, PostState{}, cur.Since)
	created, err := b.api.CreatePost(ctx, root)
	if err != nil {
		return b.failed("post", err)
	}
	b.metrics.Posts.Inc()
	cur.PostID = created.ID
	if cur.Since.IsZero() {
		cur.Since = time.Now()
		if len(d.Alerts) > 0 && !d.Alerts[0].StartsAt.IsZero() {
			cur.Since = earliestStart(d)
		}
	}
	cur.Write(store)
	return nil
}

func (b *Bot) reply(ctx context.Context, channelID, rootID, text string) error {
	if text == "" {
		return nil
	}
	if _, err := b.api.CreatePost(ctx, Post{ChannelID: channelID, RootID: rootID, Message: text}); err != nil {
		b.logger.Warn("thread reply not posted (the root post is up to date)", "post", rootID, "err", err)
		return b.failed("reply", err)
	}
	b.metrics.Replies.Inc()
	return nil
}

// failed counts a failed call and adds what to do for 403 and 404.
func (b *Bot) failed(call string, err error) error {
	var se *SendError
	cause := CauseNetwork
	if errors.As(err, &se) {
		cause = se.Cause
		switch {
		case se.Status == http.StatusForbidden && call != "edit" && se.Hint == "":
			se.Hint = fmt.Sprintf("the bot is not a member of %s (or may not post there): add it with /invite @<bot> in that channel, or in the System Console", b.channelName())
		case se.Status == http.StatusNotFound && call == "channel" && se.Hint == "":
			se.Hint = "no " + b.channelName()
		}
	}
	b.metrics.Failures.WithLabelValues(call, cause).Inc()
	return err
}

func (b *Bot) state(ctx context.Context, postID string, matchers map[string]string) PostState {
	if b.Backend == nil || postID == "" {
		return PostState{}
	}
	return b.Backend.State(ctx, postID, matchers)
}

// rootPost is the group's card as a bot post: the webhook message's
// attachment (with buttons while firing) and card, and the priority of
// critical groups.
func (b *Bot) rootPost(channelID string, d *template.Data, p Payload, gkey string, matchers map[string]string, st PostState, since time.Time) Post {
	att := p.Attachments[0]
	if d.Status == "firing" {
		att.Pretext = st.Line()
		att.Actions = b.Signer.Buttons(b.ActionURL, gkey, matchers, st)
	} else {
		att.Pretext = ":white_check_mark: RESOLVED" + lasted(d, since)
		if st.AckBy != "" {
			att.Pretext += fmt.Sprintf(" · acknowledged by @%s", st.AckBy)
		}
	}
	post := Post{ChannelID: channelID, Message: p.Text, Props: &PostProps{Attachments: []Attachment{att}}}
	if p.Props != nil {
		post.Props.Card = p.Props.Card
	}
	if p.Priority != nil {
		post.Metadata = &PostMetadata{Priority: p.Priority}
	}
	return post
}

func earliestStart(d *template.Data) time.Time {
	var t time.Time
	for _, a := range d.Alerts {
		if t.IsZero() || (!a.StartsAt.IsZero() && a.StartsAt.Before(t)) {
			t = a.StartsAt
		}
	}
	return t
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// alertName is how a reply names one alert: its pod, else instance.
func alertName(a template.Alert) string {
	return firstNonEmpty(a.Labels["pod"], a.Labels["instance"], a.Labels["gateway"], a.Fingerprint)
}

// countLine is "421s in the last 5m: 3", from the group's annotations.
func countLine(d *template.Data) string {
	count := d.CommonAnnotations["count"]
	if count == "" {
		var cs []string
		for _, a := range d.Alerts.Firing() {
			if c := a.Annotations["count"]; c != "" {
				cs = append(cs, c)
			}
		}
		count = strings.Join(cs, " + ")
	}
	if count == "" {
		return ""
	}
	return fmt.Sprintf("%s in the last %s: %s", firstNonEmpty(d.CommonAnnotations["count_name"], "count"), firstNonEmpty(d.CommonAnnotations["window"], "window"), count)
}

func sinceText(since, now time.Time) string {
	if since.IsZero() {
		return ""
	}
	return fmt.Sprintf(" since %s (%s)", since.UTC().Format("15:04 MST"), now.Sub(since).Round(time.Second))
}

func repeatReply(d *template.Data, since time.Time) string {
	s := fmt.Sprintf("Still firing%s: %d alert%s", sinceText(since, time.Now()), len(d.Alerts.Firing()), plural(len(d.Alerts.Firing())))
	if c := countLine(d); c != "" {
		s += "; " + c
	}
	return s + "."
}

func changeReply(d *template.Data, before []string) string {
	was := map[string]bool{}
	for _, fp := range before {
		was[fp] = true
	}
	var added, gone []string
	for _, a := range d.Alerts {
		switch {
		case a.Status == "firing" && !was[a.Fingerprint]:
			added = append(added, "`"+alertName(a)+"`")
		case a.Status == "resolved" && was[a.Fingerprint]:
			gone = append(gone, "`"+alertName(a)+"`")
		}
	}
	n := len(d.Alerts.Firing())
	var parts []string
	if len(added) > 0 {
		parts = append(parts, "new: "+strings.Join(added, ", "))
	}
	if len(gone) > 0 {
		parts = append(parts, "resolved: "+strings.Join(gone, ", "))
	}
	s := fmt.Sprintf("%d → %d alert%s firing", len(before), n, plural(n))
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, "; ") + ")"
	}
	if c := countLine(d); c != "" {
		s += "; " + c
	}
	return s + "."
}

// resolvedAt is when the group's last alert resolved.
func resolvedAt(d *template.Data) time.Time {
	var last time.Time
	for _, a := range d.Alerts {
		if a.EndsAt.After(last) {
			last = a.EndsAt
		}
	}
	if last.IsZero() {
		return time.Now()
	}
	return last
}

// lasted is " after 4m12s" (empty when the start is unknown).
func lasted(d *template.Data, since time.Time) string {
	end := resolvedAt(d)
	if since.IsZero() || !end.After(since) {
		return ""
	}
	return " after " + end.Sub(since).Round(time.Second).String()
}

func resolvedReply(d *template.Data, since time.Time) string {
	return fmt.Sprintf("Resolved at %s%s.", resolvedAt(d).UTC().Format("15:04:05 MST"), lasted(d, since))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

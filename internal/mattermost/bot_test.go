package mattermost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/alertmanager/nflog"
	"github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/mattermost/inbox"
	"github.com/gatewatch/gatewatch/internal/spec"
	"github.com/gatewatch/gatewatch/internal/syncbuf"
)

const botToken = "bottokenq8w3hq1x7fzpbnsecretx"

var groupLabels = model.LabelSet{"alertname": "GatewayMisdirectedRequest421", "namespace": "istio-ingress", "gateway": "public-ingress"}

// botFixture is a stand-in with team ops, channel gateway-alerts, a bot
// that is a member, and a notifier posting as that bot.
type botFixture struct {
	srv     *inbox.Server
	n       *Notifier
	bot     *Bot
	metrics *BotMetrics
	logs    *syncbuf.Buffer
}

func newBotFixture(t *testing.T, member bool) *botFixture {
	t.Helper()
	srv, err := inbox.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	var token string
	if member {
		token = srv.SetupBot("ops", "gateway-alerts", "gatewatch")
	} else {
		srv.AddTeam("ops")
		srv.AddTeamChannel("ops", "gateway-alerts")
		_, token = srv.AddUser("gatewatch", true)
	}
	return newBotNotifierFor(t, srv, spec.Mattermost{URL: srv.URL, BotToken: spec.Secret(token), Team: "ops", Channel: "gateway-alerts"})
}

func newBotNotifierFor(t *testing.T, srv *inbox.Server, m spec.Mattermost) *botFixture {
	t.Helper()
	api, err := NewAPI(m, nil)
	require.NoError(t, err)
	f := &botFixture{srv: srv, logs: &syncbuf.Buffer{}, metrics: NewBotMetrics(prometheus.NewRegistry())}
	logger := slog.New(slog.NewTextHandler(f.logs, nil))
	f.bot = NewBot(api, m.Team, m.Channel, m.ChannelID, logger, f.metrics)
	f.n, err = NewBotNotifier(f.bot, Options{Footer: "Sent by gatewatch"}, nil, logger)
	require.NoError(t, err)
	return f
}

func pod421(pod string, start time.Time, resolvedAt time.Time) *alert.Alert {
	ls := groupLabels.Clone()
	ls["pod"], ls["severity"] = model.LabelValue(pod), "warning"
	a := &alert.Alert{Alert: model.Alert{Labels: ls, StartsAt: start,
		Annotations: model.LabelSet{"summary": "Gateway public-ingress returned HTTP 421", "count": "2", "count_name": "421s", "window": "5m"}}}
	if !resolvedAt.IsZero() {
		a.EndsAt = resolvedAt
	}
	return a
}

// notifyCtx is what Alertmanager's pipeline gives a notifier: the group,
// the receiver, and the notification log's store for the group.
func notifyCtx(store *nflog.Store) context.Context {
	ctx := notify.WithGroupKey(context.Background(), "{}:{alertname=\"GatewayMisdirectedRequest421\"}")
	ctx = notify.WithGroupLabels(ctx, groupLabels)
	ctx = notify.WithReceiverName(ctx, "mattermost")
	return notify.WithNflogStore(ctx, store)
}

func (f *botFixture) notify(t *testing.T, store *nflog.Store, alerts ...*alert.Alert) {
	t.Helper()
	v := f.n.Notify(notifyCtx(store), alerts...)
	require.NoError(t, v.Err())
}

func roots(srv *inbox.Server) []inbox.APIPost {
	var out []inbox.APIPost
	for _, p := range srv.APIPosts() {
		if p.RootID == "" {
			out = append(out, p)
		}
	}
	return out
}

// TestBotPostLives: one root post per incident; a new alert edits it and
// says so in the thread; a repeat is a reply; the resolve edits it green,
// without buttons, and replies. A second incident is a new post.
func TestBotPostLives(t *testing.T) {
	f := newBotFixture(t, true)
	start := time.Now().Add(-2 * time.Minute).Truncate(time.Second)
	store := nflog.NewStore(nil)

	f.notify(t, store, pod421("pod-a", start, time.Time{}))
	rs := roots(f.srv)
	require.Len(t, rs, 1)
	root := rs[0]
	require.Equal(t, "[FIRING:1] GatewayMisdirectedRequest421 — public-ingress (istio-ingress)", root.Attachments[0].Title)
	id, ok := store.GetStr(dataPostID)
	require.True(t, ok, "the post id is kept in the notification log's store")
	require.Equal(t, root.ID, id)

	// A second pod joins the group: an edit and a reply naming it.
	f.notify(t, store, pod421("pod-a", start, time.Time{}), pod421("pod-b", start, time.Time{}))
	require.Len(t, roots(f.srv), 1, "no second root post")
	edited, _ := f.srv.APIPost(root.ID)
	require.Equal(t, "[FIRING:2] GatewayMisdirectedRequest421 — public-ingress (istio-ingress)", edited.Attachments[0].Title)
	require.NotZero(t, edited.EditAt)
	thread := f.srv.Thread(root.ID)
	require.Len(t, thread, 1)
	require.Contains(t, thread[0].Message, "1 → 2 alerts firing (new: `pod-b`)")

	// The same alerts again (repeat_interval): a reply only.
	edits := len(f.srv.Edits())
	f.notify(t, store, pod421("pod-a", start, time.Time{}), pod421("pod-b", start, time.Time{}))
	require.Len(t, roots(f.srv), 1)
	require.Len(t, f.srv.Edits(), edits, "a repeat does not edit the post")
	thread = f.srv.Thread(root.ID)
	require.Len(t, thread, 2)
	require.True(t, strings.HasPrefix(thread[1].Message, "Still firing since "), thread[1].Message)
	require.Contains(t, thread[1].Message, "421s in the last 5m")

	// Resolved: green, RESOLVED, how long, no buttons, and a reply.
	end := start.Add(90 * time.Second)
	f.notify(t, store, pod421("pod-a", start, end), pod421("pod-b", start, end))
	require.Len(t, roots(f.srv), 1)
	done, _ := f.srv.APIPost(root.ID)
	require.Equal(t, "good", done.Attachments[0].Color)
	require.True(t, strings.HasPrefix(done.Attachments[0].Title, "[RESOLVED]"), done.Attachments[0].Title)
	require.Contains(t, done.Attachments[0].Pretext, "RESOLVED after 1m30s")
	require.Empty(t, done.Actions)
	thread = f.srv.Thread(root.ID)
	require.Len(t, thread, 3)
	require.Contains(t, thread[2].Message, "Resolved at ")

	// Counters.
	require.Equal(t, 1.0, testutil.ToFloat64(f.metrics.Posts))
	require.Equal(t, 2.0, testutil.ToFloat64(f.metrics.Edits))
	require.Equal(t, 3.0, testutil.ToFloat64(f.metrics.Replies))

	// The next incident starts with an empty store (Alertmanager's first
	// notification after a resolve): a new root post.
	f.notify(t, nflog.NewStore(nil), pod421("pod-a", time.Now(), time.Time{}))
	require.Len(t, roots(f.srv), 2)
}

// TestBotDeletedRootStartsANewPost: a person deleted the root post; the
// next notification posts a new one and says why in the log and metrics.
func TestBotDeletedRootStartsANewPost(t *testing.T) {
	f := newBotFixture(t, true)
	start := time.Now().Add(-time.Minute)
	store := nflog.NewStore(nil)
	f.notify(t, store, pod421("pod-a", start, time.Time{}))
	first := roots(f.srv)[0]
	f.srv.DeletePost(first.ID)

	f.notify(t, store, pod421("pod-a", start, time.Time{}), pod421("pod-b", start, time.Time{}))
	var live []inbox.APIPost
	for _, p := range roots(f.srv) {
		if p.DeleteAt == 0 {
			live = append(live, p)
		}
	}
	require.Len(t, live, 1)
	require.NotEqual(t, first.ID, live[0].ID)
	id, _ := store.GetStr(dataPostID)
	require.Equal(t, live[0].ID, id, "the new post is the one edited from now on")
	require.Equal(t, 1.0, testutil.ToFloat64(f.metrics.Fallbacks.WithLabelValues("post deleted")))
	require.Contains(t, f.logs.String(), "posting a new one")

	// Deleted again, then a repeat (the same alerts): the reply is
	// refused (400, no root), and the repeat starts a new post too.
	f.srv.DeletePost(live[0].ID)
	f.notify(t, store, pod421("pod-a", start, time.Time{}), pod421("pod-b", start, time.Time{}))
	id2, _ := store.GetStr(dataPostID)
	require.NotEqual(t, live[0].ID, id2)
	p, ok := f.srv.APIPost(id2)
	require.True(t, ok)
	require.Zero(t, p.DeleteAt)
	require.Equal(t, "", p.RootID, "a new root post")
	require.Equal(t, 2.0, testutil.ToFloat64(f.metrics.Fallbacks.WithLabelValues("post deleted")))
}

// TestBotErrorsSayWhatToDo: the answers of Build 4 of the bot-mode issue.
func TestBotErrorsSayWhatToDo(t *testing.T) {
	start := time.Now().Add(-time.Minute)

	t.Run("403 not a member", func(t *testing.T) {
		f := newBotFixture(t, false)
		v := f.n.Notify(notifyCtx(nflog.NewStore(nil)), pod421("pod-a", start, time.Time{}))
		require.Error(t, v.Err())
		require.False(t, v.ShouldRetry())
		require.Contains(t, v.Err().Error(), "HTTP 403")
		require.Contains(t, v.Err().Error(), "~gateway-alerts in team ops")
		require.Contains(t, v.Err().Error(), "/invite @")
		require.Empty(t, f.srv.APIPosts())
	})
	t.Run("404 channel", func(t *testing.T) {
		srv, err := inbox.Start("127.0.0.1:0")
		require.NoError(t, err)
		defer srv.Close()
		token := srv.SetupBot("ops", "gateway-alerts", "gatewatch")
		f := newBotNotifierFor(t, srv, spec.Mattermost{URL: srv.URL, BotToken: spec.Secret(token), Team: "ops", Channel: "gateway-alert"})
		v := f.n.Notify(notifyCtx(nflog.NewStore(nil)), pod421("pod-a", start, time.Time{}))
		require.Error(t, v.Err())
		require.Contains(t, v.Err().Error(), "HTTP 404")
		require.Contains(t, v.Err().Error(), `no channel "gateway-alert" in team "ops"`)
	})
	t.Run("429 honours Retry-After", func(t *testing.T) {
		f := newBotFixture(t, true)
		_, err := f.bot.Channel(context.Background())
		require.NoError(t, err)
		f.srv.RateLimitNext(1, "7")
		v := f.n.Notify(notifyCtx(nflog.NewStore(nil)), pod421("pod-a", start, time.Time{}))
		require.Error(t, v.Err())
		require.True(t, v.ShouldRetry())
		require.Equal(t, 7*time.Second, v.Delay())
	})
	t.Run("500 is retried", func(t *testing.T) {
		f := newBotFixture(t, true)
		_, err := f.bot.Channel(context.Background())
		require.NoError(t, err)
		f.srv.FailNext(1, 500)
		store := nflog.NewStore(nil)
		v := f.n.Notify(notifyCtx(store), pod421("pod-a", start, time.Time{}))
		require.True(t, v.ShouldRetry())
		f.notify(t, store, pod421("pod-a", start, time.Time{}))
		require.Len(t, roots(f.srv), 1, "posted once after the retry")
	})
	t.Run("failed edit falls back to a new post", func(t *testing.T) {
		f := newBotFixture(t, true)
		store := nflog.NewStore(nil)
		f.notify(t, store, pod421("pod-a", start, time.Time{}))
		// Another account's post id in the log (e.g. a restored backup):
		// the bot may not edit it, 403.
		other, tok := f.srv.AddUser("alice", false)
		_ = other
		alice := newBotNotifierFor(t, f.srv, spec.Mattermost{URL: f.srv.URL, BotToken: spec.Secret(tok), Team: "ops", Channel: "gateway-alerts"})
		f.srv.AddMember(channelID(t, f.bot), other)
		aliceStore := nflog.NewStore(nil)
		alice.notify(t, aliceStore, pod421("pod-x", start, time.Time{}))
		id, _ := aliceStore.GetStr(dataPostID)
		store.SetStr(dataPostID, id)
		f.notify(t, store, pod421("pod-a", start, time.Time{}), pod421("pod-b", start, time.Time{}))
		require.Equal(t, 1.0, testutil.ToFloat64(f.metrics.Fallbacks.WithLabelValues("edit refused")))
		newID, _ := store.GetStr(dataPostID)
		require.NotEqual(t, id, newID)
	})
	t.Run("401 at start says how to fix it, without the token", func(t *testing.T) {
		f := newBotFixture(t, true)
		f.srv.RevokeToken(botToken) // not the fixture's token: still valid
		_, err := f.bot.Check(context.Background())
		require.NoError(t, err)
		srv, err := inbox.Start("127.0.0.1:0")
		require.NoError(t, err)
		defer srv.Close()
		token := srv.SetupBot("ops", "gateway-alerts", "gatewatch")
		srv.RevokeToken(token)
		g := newBotNotifierFor(t, srv, spec.Mattermost{URL: srv.URL, BotToken: spec.Secret(token), Team: "ops", Channel: "gateway-alerts"})
		_, err = g.bot.Check(context.Background())
		require.Error(t, err)
		require.Contains(t, err.Error(), "HTTP 401")
		require.Contains(t, err.Error(), "Create New Token")
		require.NotContains(t, err.Error(), token)
		v := g.n.Notify(notifyCtx(nflog.NewStore(nil)), pod421("pod-a", start, time.Time{}))
		require.NotContains(t, v.Err().Error(), token)
		require.NotContains(t, g.logs.String(), token)
	})
}

func channelID(t *testing.T, b *Bot) string {
	t.Helper()
	c, err := b.Channel(context.Background())
	require.NoError(t, err)
	return c.ID
}

// TestTokenFileReread: the token is read from its file on every call, so
// a rotated token works without a restart.
func TestTokenFileReread(t *testing.T) {
	srv, err := inbox.Start("127.0.0.1:0")
	require.NoError(t, err)
	defer srv.Close()
	old := srv.SetupBot("ops", "gateway-alerts", "gatewatch")
	file := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(file, []byte(old+"\n"), 0o600))
	api, err := NewAPI(spec.Mattermost{URL: srv.URL, BotTokenFile: file}, nil)
	require.NoError(t, err)
	_, err = api.Me(context.Background())
	require.NoError(t, err)
	srv.RevokeToken(old)
	_, err = api.Me(context.Background())
	require.Error(t, err)
	_, fresh := srv.AddUser("gatewatch2", true)
	require.NoError(t, os.WriteFile(file, []byte(fresh), 0o600))
	u, err := api.Me(context.Background())
	require.NoError(t, err)
	require.Equal(t, "gatewatch2", u.Username)
}

// fakeBackend records what clicks asked for.
type fakeBackend struct {
	mu       sync.Mutex
	silences map[string]map[string]string
	by       map[string]string
	acks     map[string]string
}

func (b *fakeBackend) Silence(_ context.Context, m map[string]string, d time.Duration, by, comment string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	id := fmt.Sprintf("sil%d", len(b.silences)+1)
	b.silences[id], b.by[id] = m, by+"/"+comment+"/"+d.String()
	return id, nil
}

func (b *fakeBackend) Unsilence(_ context.Context, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.silences[id]; !ok {
		return errors.New("no such silence")
	}
	delete(b.silences, id)
	return nil
}

func (b *fakeBackend) Acknowledge(_ context.Context, postID, _, by string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.acks[postID] = by
	return nil
}

func (b *fakeBackend) State(_ context.Context, postID string, _ map[string]string) PostState {
	b.mu.Lock()
	defer b.mu.Unlock()
	var st PostState
	for id, by := range b.by {
		if _, ok := b.silences[id]; ok {
			st.SilenceID, st.SilencedBy, st.SilencedUntil = id, strings.Split(by, "/")[0], time.Now().Add(time.Hour)
		}
	}
	if by, ok := b.acks[postID]; ok {
		st.AckBy, st.AckAt = by, time.Now()
	}
	return st
}

// TestButtons: the firing post carries Silence 1h, Silence 24h and
// Acknowledge; a click through the stand-in silences exactly the group's
// labels as the clicker, rewrites the post and confirms to the clicker
// only; a forged or altered click is refused with 401 and silences nothing.
func TestButtons(t *testing.T) {
	f := newBotFixture(t, true)
	backend := &fakeBackend{silences: map[string]map[string]string{}, by: map[string]string{}, acks: map[string]string{}}
	keys := func() [][]byte { return [][]byte{[]byte("0123456789abcdef0123456789abcdef")} }
	signer := NewSigner(keys)
	h := &ActionHandler{Signer: signer, Backend: backend, API: f.bot.API(), Logger: slog.New(slog.DiscardHandler), Metrics: NewActionMetrics(prometheus.NewRegistry())}
	ts := httptest.NewServer(h)
	defer ts.Close()
	h.ActionURL = ts.URL + ActionPath
	f.bot.Signer, f.bot.ActionURL, f.bot.Backend = signer, h.ActionURL, backend

	aliceID, _ := f.srv.AddUser("alice", false)
	f.srv.AddMember(channelID(t, f.bot), aliceID)
	store := nflog.NewStore(nil)
	f.notify(t, store, pod421("pod-a", time.Now().Add(-time.Minute), time.Time{}))
	root := roots(f.srv)[0]
	var names []string
	for _, a := range root.Actions {
		names = append(names, a.Name)
		require.Regexp(t, `^[A-Za-z0-9]+$`, a.ID)
	}
	require.Equal(t, []string{"Silence 1h", "Silence 24h", "Acknowledge"}, names)

	res, err := f.srv.Click("alice", root.ID, ActSilence1h)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.Status)
	require.Contains(t, res.EphemeralText, "Silenced {alertname=\"GatewayMisdirectedRequest421\", gateway=\"public-ingress\", namespace=\"istio-ingress\"} for 1h0m0s")
	require.Len(t, backend.silences, 1)
	for id, m := range backend.silences {
		require.Equal(t, map[string]string{"alertname": "GatewayMisdirectedRequest421", "namespace": "istio-ingress", "gateway": "public-ingress"}, m)
		require.Equal(t, "alice/from Mattermost/1h0m0s", backend.by[id])
	}
	post, _ := f.srv.APIPost(root.ID)
	require.Contains(t, post.Attachments[0].Pretext, "Silenced by @alice until ")
	names = nil
	for _, a := range post.Actions {
		names = append(names, a.Name)
	}
	require.Equal(t, []string{"Unsilence", "Acknowledge"}, names)

	// Acknowledge: recorded, shown, nothing silenced.
	res, err = f.srv.Click("alice", root.ID, ActAck)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.Status)
	require.Equal(t, "alice", backend.acks[root.ID])
	post, _ = f.srv.APIPost(root.ID)
	require.Contains(t, post.Attachments[0].Pretext, "Acknowledged by @alice")
	require.Len(t, backend.silences, 1)

	// Unsilence ends the silence the post shows.
	res, err = f.srv.Click("alice", root.ID, ActUnsilence)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.Status)
	require.Empty(t, backend.silences)

	// Forged: a context with altered matchers, and one with a bad
	// signature, posted straight to the endpoint.
	var silence1h map[string]any
	for _, a := range root.Actions {
		if a.ID == ActSilence1h {
			silence1h = a.Context
		}
	}
	require.NotNil(t, silence1h)
	altered := map[string]any{}
	for k, v := range silence1h {
		altered[k] = v
	}
	altered["matchers"] = map[string]any{"namespace": "istio-ingress"} // the whole namespace
	badSig := map[string]any{}
	for k, v := range silence1h {
		badSig[k] = v
	}
	badSig["sig"] = strings.Repeat("0", 64)
	for name, c := range map[string]map[string]any{"altered matchers": altered, "bad signature": badSig, "no signature": {"action": "silence1h", "group_key": "x"}} {
		body, _ := json.Marshal(ClickRequest{UserName: "mallory", PostID: root.ID, Context: c})
		resp, err := http.Post(h.ActionURL, "application/json", strings.NewReader(string(body)))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, name)
	}
	require.Empty(t, backend.silences, "a forged click silences nothing")
	require.Equal(t, 3.0, testutil.ToFloat64(h.Metrics.Clicks.WithLabelValues("unknown", "refused")))
	require.Equal(t, 1.0, testutil.ToFloat64(h.Metrics.Clicks.WithLabelValues(ActSilence1h, "accepted")))
}

// TestSignerAcceptsAnyKnownKey: replicas converge on one signing key; a
// button signed with another known key still verifies, an unknown key not.
func TestSignerAcceptsAnyKnownKey(t *testing.T) {
	a, b := []byte("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), []byte("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")
	c := ActionContext{Action: ActAck, GroupKey: "g", Matchers: map[string]string{"x": "1"}}
	byB, err := NewSigner(func() [][]byte { return [][]byte{b} }).Context(c)
	require.NoError(t, err)
	_, err = NewSigner(func() [][]byte { return [][]byte{a, b} }).Verify(roundTrip(t, byB))
	require.NoError(t, err)
	_, err = NewSigner(func() [][]byte { return [][]byte{a} }).Verify(roundTrip(t, byB))
	require.Error(t, err)
}

// roundTrip is the context as Mattermost sends it back (JSON).
func roundTrip(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(m)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}

// TestAckOnlySigner: a signer that cannot silence offers Acknowledge only,
// and its handler refuses a (validly signed) silence click.
func TestAckOnlySigner(t *testing.T) {
	keys := func() [][]byte { return [][]byte{[]byte("0123456789abcdef0123456789abcdef")} }
	full, ackOnly := NewSigner(keys), NewSigner(keys).AckOnly()
	m := map[string]string{"alertname": "A"}
	require.Len(t, full.Buttons("http://x", "g", m, PostState{}), 3)
	bs := ackOnly.Buttons("http://x", "g", m, PostState{})
	require.Len(t, bs, 1)
	require.Equal(t, ActAck, bs[0].ID)

	backend := &fakeBackend{silences: map[string]map[string]string{}, by: map[string]string{}, acks: map[string]string{}}
	h := &ActionHandler{Signer: ackOnly, Backend: backend, Logger: slog.New(slog.DiscardHandler)}
	ctx, err := full.Context(ActionContext{Action: ActSilence1h, GroupKey: "g", Matchers: m})
	require.NoError(t, err)
	body, _ := json.Marshal(ClickRequest{UserName: "alice", PostID: "p", Context: roundTrip(t, ctx)})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, ActionPath, strings.NewReader(string(body))))
	require.Equal(t, http.StatusBadRequest, rec.Code)
	require.Empty(t, backend.silences)
}

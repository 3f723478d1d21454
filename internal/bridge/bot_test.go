package bridge

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/mattermost"
	"github.com/gatewatch/gatewatch/internal/mattermost/inbox"
	"github.com/gatewatch/gatewatch/internal/spec"
	"github.com/gatewatch/gatewatch/internal/syncbuf"
)

// testGroupKey is the group key fixture.send gives Alertmanager's webhook
// notifier.
const testGroupKey = `{}/{alertname="GatewayMisdirectedRequest421"}:{alertname="GatewayMisdirectedRequest421", gateway="public-ingress", namespace="istio-ingress"}`

// botFixture is a bridge in bot mode, on a real listener, posting to the
// stand-in's channel ~gateway-alerts in team ops.
type botFixture struct {
	fixture
	bot   *Bot
	dir   string
	token string
	logs  *syncbuf.Buffer
}

type botSetup struct {
	member   bool // the bot is a member of the channel
	buttons  bool // --web.external-url is the bridge's address
	amURL    string
	dataDir  string
	addr     string // listen here (a restart on the same address)
	keepMM   *inbox.Server
	keepTok  string
	keepLogs *syncbuf.Buffer
}

func startBot(t *testing.T, c botSetup) *botFixture {
	t.Helper()
	mm, token := c.keepMM, c.keepTok
	if mm == nil {
		var err error
		mm, err = inbox.Start("127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { mm.Close() })
		if c.member {
			token = mm.SetupBot("ops", "gateway-alerts", "gatewatch")
		} else {
			mm.AddTeamChannel("ops", "gateway-alerts")
			_, token = mm.AddUser("gatewatch", true)
		}
	}
	if c.dataDir == "" {
		c.dataDir = t.TempDir()
	}
	logs := c.keepLogs
	if logs == nil {
		logs = &syncbuf.Buffer{}
	}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ts := httptest.NewUnstartedServer(nil)
	if c.addr != "" {
		ts.Listener.Close()
		ln, err := net.Listen("tcp", c.addr)
		require.NoError(t, err)
		ts.Listener = ln
	}
	var ext string
	if c.buttons {
		ext = "http://" + ts.Listener.Addr().String()
	}
	reg := prometheus.NewRegistry()
	m := spec.Mattermost{URL: mm.URL, BotToken: spec.Secret(token), Team: "ops", Channel: "gateway-alerts"}
	b, err := NewBot(m, BotOptions{DataDir: c.dataDir, ExternalURL: ext, AlertmanagerURL: c.amURL, Logger: logger, Registry: reg})
	require.NoError(t, err)
	require.NoError(t, b.Start(context.Background()))
	s := New(nil, Options{Message: mattermost.Options{Footer: "Sent by gatewatch bridge"}, Bot: b, Logger: logger, Registry: reg})
	ts.Config.Handler = Handler(s, reg)
	ts.Start()
	t.Cleanup(ts.Close)
	return &botFixture{fixture: fixture{mm: mm, bridge: ts, srv: s, externalURL: "http://alertmanager.example.com:9093"},
		bot: b, dir: c.dataDir, token: token, logs: logs}
}

func resolved(a *alert.Alert) *alert.Alert {
	a.EndsAt = time.Now().Add(-time.Second)
	return a
}

func rootsOf(mm *inbox.Server) []inbox.APIPost {
	var out []inbox.APIPost
	for _, p := range mm.APIPosts() {
		if p.RootID == "" {
			out = append(out, p)
		}
	}
	return out
}

func threadMessages(mm *inbox.Server, root string) []string {
	var out []string
	for _, p := range mm.Thread(root) {
		out = append(out, p.Message)
	}
	return out
}

func actionIDs(p inbox.APIPost) []string {
	var ids []string
	for _, a := range p.Actions {
		ids = append(ids, a.ID)
	}
	return ids
}

// savedPosts reads the state file as a restart would.
func savedPosts(t *testing.T, dir string) map[string]GroupPost {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, stateFileName))
	require.NoError(t, err)
	var d stateData
	require.NoError(t, json.Unmarshal(b, &d))
	return d.Posts
}

// TestBridgeBotPostLives: in bot mode the group's notifications make one
// living post: the first creates it, one more alert edits it and says so
// in its thread, the resolve edits it green and replies, and the group's
// post is then forgotten, so the next firing is a new post. The state file
// holds the post between notifications.
func TestBridgeBotPostLives(t *testing.T) {
	f := startBot(t, botSetup{member: true})

	require.NoError(t, f.send(t, 0, alert421("gw-1")).Err())
	roots := rootsOf(f.mm)
	require.Len(t, roots, 1)
	root := roots[0]
	require.Equal(t, "[FIRING:1] GatewayMisdirectedRequest421 — public-ingress (istio-ingress)", root.Attachments[0].Title)
	require.Equal(t, "Sent by gatewatch bridge", root.Attachments[0].Footer)
	require.Empty(t, root.Actions, "no --web.external-url: no buttons")
	saved := savedPosts(t, f.dir)
	require.Equal(t, root.ID, saved[testGroupKey].PostID, "the group's post is saved")
	require.Len(t, saved[testGroupKey].Firing, 1)

	require.NoError(t, f.send(t, 0, alert421("gw-1"), alert421("gw-2")).Err())
	require.Len(t, rootsOf(f.mm), 1, "a change edits, it does not post")
	edited, _ := f.mm.APIPost(root.ID)
	require.Equal(t, "[FIRING:2] GatewayMisdirectedRequest421 — public-ingress (istio-ingress)", edited.Attachments[0].Title)
	require.NotZero(t, edited.EditAt)
	thread := threadMessages(f.mm, root.ID)
	require.Len(t, thread, 1)
	require.True(t, strings.HasPrefix(thread[0], "1 → 2 alerts firing (new: `gw-2`)"), thread[0])
	require.Len(t, savedPosts(t, f.dir)[testGroupKey].Firing, 2)

	require.NoError(t, f.send(t, 0, resolved(alert421("gw-1")), resolved(alert421("gw-2"))).Err())
	require.Len(t, rootsOf(f.mm), 1)
	final, _ := f.mm.APIPost(root.ID)
	require.Equal(t, "good", final.Attachments[0].Color)
	require.True(t, strings.HasPrefix(final.Attachments[0].Title, "[RESOLVED]"), final.Attachments[0].Title)
	require.True(t, strings.HasPrefix(final.Attachments[0].Pretext, ":white_check_mark: RESOLVED"), final.Attachments[0].Pretext)
	thread = threadMessages(f.mm, root.ID)
	require.Len(t, thread, 2)
	require.True(t, strings.HasPrefix(thread[1], "Resolved at "), thread[1])
	gp := savedPosts(t, f.dir)[testGroupKey]
	require.False(t, gp.Resolved.IsZero(), "a resolved group's post is dropped")

	// Alertmanager sends the resolve again (a retry, another replica).
	require.NoError(t, f.send(t, 0, resolved(alert421("gw-1")), resolved(alert421("gw-2"))).Err())
	require.Len(t, f.mm.APIPosts(), 3, "a duplicate resolve posts nothing")

	require.NoError(t, f.send(t, 0, alert421("gw-1")).Err())
	roots = rootsOf(f.mm)
	require.Len(t, roots, 2, "the next firing is a new incident, a new post")
	require.Equal(t, "[FIRING:1] GatewayMisdirectedRequest421 — public-ingress (istio-ingress)", roots[1].Attachments[0].Title)
	require.Empty(t, threadMessages(f.mm, roots[1].ID))
	gp = savedPosts(t, f.dir)[testGroupKey]
	require.Equal(t, roots[1].ID, gp.PostID)
	require.True(t, gp.Resolved.IsZero())
	require.NotContains(t, f.logs.String(), f.token)
}

// TestBridgeBotRestartEditsSamePost: a bridge restarted on the same data
// directory between the firing and the resolve edits the same post, and
// the buttons it posted before the restart still work (the signing key is
// kept there too).
func TestBridgeBotRestartEditsSamePost(t *testing.T) {
	dir := t.TempDir()
	first := startBot(t, botSetup{member: true, buttons: true, dataDir: dir})
	require.NoError(t, first.send(t, 0, alert421("gw-1")).Err())
	roots := rootsOf(first.mm)
	require.Len(t, roots, 1)
	root := roots[0]
	require.Equal(t, []string{mattermost.ActAck}, actionIDs(root), "no --alertmanager-url: Acknowledge only")
	first.bridge.Close()

	second := startBot(t, botSetup{buttons: true, dataDir: dir, addr: first.bridge.Listener.Addr().String(), keepMM: first.mm, keepTok: first.token})
	aliceID, _ := second.mm.AddUser("alice", false)
	second.mm.AddMember(root.ChannelID, aliceID)
	res, err := second.mm.Click("alice", root.ID, mattermost.ActAck)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.Status, res.Err)
	require.True(t, res.Updated)

	require.NoError(t, second.send(t, 0, resolved(alert421("gw-1"))).Err())
	require.Len(t, rootsOf(second.mm), 1, "one post for the incident, across the restart")
	final, _ := second.mm.APIPost(root.ID)
	require.True(t, strings.HasPrefix(final.Attachments[0].Title, "[RESOLVED]"), final.Attachments[0].Title)
	require.Contains(t, final.Attachments[0].Pretext, "acknowledged by @alice")
	require.Empty(t, final.Actions)
	thread := threadMessages(second.mm, root.ID)
	require.Len(t, thread, 1)
	require.True(t, strings.HasPrefix(thread[0], "Resolved at "), thread[0])
}

// TestBridgeBotAcknowledge: without --alertmanager-url the posts carry
// only Acknowledge; a click records who and when in the data directory and
// the post says so (with no silence button put back); a click whose
// context was altered is refused with 401 and records nothing.
func TestBridgeBotAcknowledge(t *testing.T) {
	f := startBot(t, botSetup{member: true, buttons: true})
	require.Contains(t, f.logs.String(), "posts have only the Acknowledge button")
	require.NoError(t, f.send(t, 0, alert421("gw-1")).Err())
	root := rootsOf(f.mm)[0]
	require.Equal(t, []string{mattermost.ActAck}, actionIDs(root))
	act := root.Actions[0]
	require.Equal(t, f.bridge.URL+mattermost.ActionPath, act.URL)

	// Forged: the same signature over another group.
	forged := map[string]any{}
	for k, v := range act.Context {
		forged[k] = v
	}
	forged["group_key"] = "{}:{alertname=\"Other\"}"
	body, err := json.Marshal(mattermost.ClickRequest{UserName: "mallory", PostID: root.ID, Context: forged})
	require.NoError(t, err)
	resp, err := http.Post(f.bridge.URL+mattermost.ActionPath, "application/json", strings.NewReader(string(body)))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	_, acked := f.bot.State().AckOf(root.ID)
	require.False(t, acked, "a forged click records nothing")

	aliceID, _ := f.mm.AddUser("alice", false)
	f.mm.AddMember(root.ChannelID, aliceID)
	before := time.Now()
	res, err := f.mm.Click("alice", root.ID, mattermost.ActAck)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.Status, res.Err)
	require.Contains(t, res.EphemeralText, "Acknowledged")
	ack, ok := f.bot.State().AckOf(root.ID)
	require.True(t, ok)
	require.Equal(t, "alice", ack.By)
	require.Equal(t, testGroupKey, ack.GroupKey)
	require.False(t, ack.At.Before(before.Truncate(time.Second)))
	b, err := os.ReadFile(filepath.Join(f.dir, stateFileName))
	require.NoError(t, err)
	require.Contains(t, string(b), `"by": "alice"`, "saved at once")
	post, _ := f.mm.APIPost(root.ID)
	require.Contains(t, post.Attachments[0].Pretext, "Acknowledged by @alice")
	require.Empty(t, post.Actions, "acknowledged, and no silence buttons without an Alertmanager")

	// The next edit keeps the acknowledgement and puts no silence button back.
	require.NoError(t, f.send(t, 0, alert421("gw-1"), alert421("gw-2")).Err())
	post, _ = f.mm.APIPost(root.ID)
	require.Contains(t, post.Attachments[0].Pretext, "Acknowledged by @alice")
	require.Empty(t, post.Actions)

	key, err := os.ReadFile(filepath.Join(f.dir, keyFileName))
	require.NoError(t, err)
	st, err := os.Stat(filepath.Join(f.dir, keyFileName))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	require.NotContains(t, f.logs.String(), strings.TrimSpace(string(key)), "the signing key is in no log")
	require.NotContains(t, f.logs.String(), f.token)
}

// TestBridgeBotAnswersForAlertmanagersRetrier: in bot mode too, a
// Mattermost error that a retry may fix is a 503 (Alertmanager retries),
// and a bot that is not in the channel is a 422 that says how to fix it.
func TestBridgeBotAnswersForAlertmanagersRetrier(t *testing.T) {
	t.Run("403 not a member", func(t *testing.T) {
		f := startBot(t, botSetup{member: false})
		v := f.send(t, 0, alert421("gw-1"))
		require.Error(t, v.Err())
		require.False(t, v.ShouldRetry(), "%v", v.Err())
		require.Contains(t, v.Err().Error(), "unexpected status code 422")
		require.Contains(t, v.Err().Error(), "HTTP 403")
		require.Contains(t, v.Err().Error(), "/invite @")
		require.NotContains(t, v.Err().Error(), f.token)
		require.Empty(t, f.mm.APIPosts())
		require.NotContains(t, savedPosts(t, f.dir), testGroupKey, "nothing saved for a post not made")
	})
	t.Run("500 is retried", func(t *testing.T) {
		f := startBot(t, botSetup{member: true})
		f.mm.FailNext(1, http.StatusInternalServerError)
		v := f.send(t, 0, alert421("gw-1"))
		require.Error(t, v.Err())
		require.True(t, v.ShouldRetry(), "%v", v.Err())
		require.Contains(t, v.Err().Error(), "unexpected status code 503")
		require.Empty(t, f.mm.APIPosts())
		require.NoError(t, f.send(t, 0, alert421("gw-1")).Err(), "the retry is delivered")
		require.Len(t, rootsOf(f.mm), 1)
	})
}

// TestBridgeBotRefusedToken: a revoked token stops the start with what to
// do, and without the token.
func TestBridgeBotRefusedToken(t *testing.T) {
	mm, err := inbox.Start("127.0.0.1:0")
	require.NoError(t, err)
	defer mm.Close()
	token := mm.SetupBot("ops", "gateway-alerts", "gatewatch")
	mm.RevokeToken(token)
	b, err := NewBot(spec.Mattermost{URL: mm.URL, BotToken: spec.Secret(token), Team: "ops", Channel: "gateway-alerts"}, BotOptions{DataDir: t.TempDir()})
	require.NoError(t, err)
	err = b.Start(context.Background())
	require.Error(t, err)
	require.Contains(t, err.Error(), "HTTP 401")
	require.Contains(t, err.Error(), "Create New Token")
	require.NotContains(t, err.Error(), token)
}

func TestActionURL(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"", "", ""},
		{"http://bridge.monitoring.svc:9095", "http://bridge.monitoring.svc:9095" + mattermost.ActionPath, ""},
		{"https://ops.example.com/bridge/", "https://ops.example.com/bridge" + mattermost.ActionPath, ""},
		{"bridge:9095", "", "want the http(s) URL"},
		{"http://user:pw@bridge", "", "credentials"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ActionURL(tc.in)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				require.NotContains(t, err.Error(), "pw")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/demo"
	"github.com/gatewatch/gatewatch/internal/engine"
	"github.com/gatewatch/gatewatch/internal/mattermost"
	"github.com/gatewatch/gatewatch/internal/mattermost/inbox"
	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
	"github.com/gatewatch/gatewatch/internal/syncbuf"
	"github.com/gatewatch/gatewatch/internal/web"
)

// botSpec posts as a bot whose token is in a file.
func botSpec(t *testing.T, mmURL, tokenFile string, targets ...string) *spec.Spec {
	t.Helper()
	y := fmt.Sprintf(`gateways:
  - name: public-ingress
    namespace: istio-ingress
    workload: istio-ingressgateway
    static_targets: [%s]
    stats: {interval: 1s, timeout: 900ms}
alerts:
  - kind: misdirected-request
    window: 10s
mattermost:
  url: %s
  bot_token_file: %s
  team: ops
  channel: gateway-alerts
routing:
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 4s
`, strings.Join(targets, ", "), mmURL, tokenFile)
	s, err := spec.Parse([]byte(y), "test.yaml", rules.SpecKinds())
	require.NoError(t, err)
	return s
}

// actionServer serves the action endpoint of whichever engine runs, at a
// fixed address (the external URL the buttons carry survives a restart).
type actionServer struct {
	url    *url.URL
	engine atomic.Pointer[engine.Engine]
}

func startActionServer(t *testing.T) *actionServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	a := &actionServer{url: &url.URL{Scheme: "http", Host: ln.Addr().String()}}
	hosts := web.HostsFor(ln.Addr(), "")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := a.engine.Load()
		if e == nil {
			http.Error(w, "no engine", http.StatusServiceUnavailable)
			return
		}
		// gatewatch's whole web handler, as run serves it.
		web.Handler(e, web.Options{Hosts: hosts}).ServeHTTP(w, r)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return a
}

func (a *actionServer) start(t *testing.T, s *spec.Spec, dataDir string, logs *syncbuf.Buffer) *engine.Engine {
	t.Helper()
	e, err := engine.New(s, engine.Options{DataDir: dataDir, Logger: testLogger(logs), ExternalURL: a.url})
	require.NoError(t, err)
	require.NoError(t, e.Start(context.Background()))
	a.engine.Store(e)
	return e
}

func rootPosts(srv *inbox.Server) []inbox.APIPost {
	var out []inbox.APIPost
	for _, p := range srv.APIPosts() {
		if p.RootID == "" {
			out = append(out, p)
		}
	}
	return out
}

func threadHas(srv *inbox.Server, root, prefix string) bool {
	for _, r := range srv.Thread(root) {
		if strings.HasPrefix(r.Message, prefix) {
			return true
		}
	}
	return false
}

// botStandIn is the strict stand-in with team ops, channel
// gateway-alerts, a member bot whose token is in tokenFile, and a user
// alice (not yet a member) to click.
func botStandIn(t *testing.T) (mm *inbox.Server, token, tokenFile, aliceID string) {
	t.Helper()
	mm, err := inbox.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { mm.Close() })
	token = mm.SetupBot("ops", "gateway-alerts", "gatewatch")
	aliceID, _ = mm.AddUser("alice", false)
	tokenFile = filepath.Join(t.TempDir(), "bot-token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(token+"\n"), 0o600))
	return mm, token, tokenFile, aliceID
}

// TestBotModeEndToEnd: the embedded engine as a bot against the strict
// stand-in. The first 421 is one root post; a second pod's 421 edits it and
// replies in its thread; a repeat is a reply; "Silence 1h" silences the
// group's labels as the clicker and the post says so; a forged click is
// refused; "Acknowledge" shows on the status data; after a restart on the
// same data directory the resolve edits the original post: one root post
// for the whole incident. The token is in no log.
func TestBotModeEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: runs for about a minute")
	}
	mm, token, tokenFile, aliceID := botStandIn(t)

	a := demo.NewGateway("istio-ingress", "istio-ingressgateway", "a", nil, nil)
	b := demo.NewGateway("istio-ingress", "istio-ingressgateway", "b", nil, nil)
	require.NoError(t, a.Start("127.0.0.1:0"))
	require.NoError(t, b.Start("127.0.0.1:0"))
	defer a.Close()
	defer b.Close()
	a.Serve(50)
	b.Serve(50)

	actions := startActionServer(t)
	dataDir := t.TempDir()
	var logs syncbuf.Buffer
	s := botSpec(t, mm.URL, tokenFile, a.Addr(), b.Addr())
	e := actions.start(t, s, dataDir, &logs)
	closed := false
	defer func() {
		if !closed {
			e.Close()
		}
	}()
	require.Eventually(t, func() bool { return targetUp(e, a.Addr())() && targetUp(e, b.Addr())() }, 15*time.Second, 50*time.Millisecond)
	time.Sleep(2 * time.Second) // a scrape with no 421 series yet

	a.Misdirect(1)
	require.Eventually(t, func() bool { return len(rootPosts(mm)) == 1 }, 20*time.Second, 50*time.Millisecond, "the root post")
	root := rootPosts(mm)[0]
	require.True(t, strings.HasPrefix(root.Attachments[0].Title, "[FIRING:1]"), root.Attachments[0].Title)
	ch, _ := mm.APIPost(root.ID)
	mm.AddMember(ch.ChannelID, aliceID)

	// Keep pod a firing; pod b joins.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				a.Misdirect(1)
			}
		}
	}()
	b.Misdirect(1)
	require.Eventually(t, func() bool { return threadHas(mm, root.ID, "1 → 2 alerts firing (new: ") }, 20*time.Second, 50*time.Millisecond, "the change in the thread")
	edited, _ := mm.APIPost(root.ID)
	require.True(t, strings.HasPrefix(edited.Attachments[0].Title, "[FIRING:2]"), edited.Attachments[0].Title)
	require.Eventually(t, func() bool { return threadHas(mm, root.ID, "Still firing since ") }, 20*time.Second, 50*time.Millisecond, "the repeat in the thread")
	require.Len(t, rootPosts(mm), 1, "changes and repeats are never new root posts")

	// Silence 1h, clicked by alice.
	res, err := mm.Click("alice", root.ID, mattermost.ActSilence1h)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.Status, res.Err)
	sils, err := e.Silences(context.Background())
	require.NoError(t, err)
	require.Len(t, sils, 1)
	require.Equal(t, `alertname="GatewayMisdirectedRequest421", gateway="public-ingress", namespace="istio-ingress"`, sils[0].Matchers)
	require.Equal(t, "alice", sils[0].CreatedBy)
	require.Equal(t, "from Mattermost", sils[0].Comment)
	require.InDelta(t, time.Hour.Seconds(), time.Until(sils[0].EndsAt).Seconds(), 60)
	post, _ := mm.APIPost(root.ID)
	require.Contains(t, post.Attachments[0].Pretext, "Silenced by @alice until ")
	require.Contains(t, res.EphemeralText, "Silenced ")

	// A forged click: the Silence 24h context with the matchers widened.
	var c24 map[string]any
	for _, act := range root.Actions {
		if act.ID == mattermost.ActSilence24h {
			c24 = act.Context
		}
	}
	require.NotNil(t, c24)
	c24["matchers"] = map[string]any{"namespace": "istio-ingress"}
	body, _ := json.Marshal(mattermost.ClickRequest{UserName: "mallory", PostID: root.ID, Context: c24})
	resp, err := http.Post(actions.url.String()+mattermost.ActionPath, "application/json", strings.NewReader(string(body)))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	sils, _ = e.Silences(context.Background())
	require.Len(t, sils, 1, "the forged click silenced nothing")

	// Acknowledge, then Unsilence (so the resolve is not muted).
	res, err = mm.Click("alice", root.ID, mattermost.ActAck)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.Status, res.Err)
	acks := e.Acks()
	require.Len(t, acks, 1)
	require.Equal(t, "alice", acks[0].By)
	require.Equal(t, root.ID, acks[0].PostID)
	res, err = mm.Click("alice", root.ID, mattermost.ActUnsilence)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.Status, res.Err)
	sils, _ = e.Silences(context.Background())
	require.Equal(t, "expired", sils[0].State)

	// Restart on the same data directory while firing, then let it resolve.
	close(stop)
	<-done
	e.Close()
	closed = true
	e = actions.start(t, s, dataDir, &logs)
	defer e.Close()
	require.Len(t, e.Acks(), 1, "the acknowledgement survives the restart")
	require.Eventually(t, func() bool { return threadHas(mm, root.ID, "Resolved at ") }, 60*time.Second, 100*time.Millisecond, "the resolve in the original post's thread")
	final, _ := mm.APIPost(root.ID)
	require.Equal(t, "good", final.Attachments[0].Color)
	require.True(t, strings.HasPrefix(final.Attachments[0].Title, "[RESOLVED]"), final.Attachments[0].Title)
	require.Empty(t, final.Actions, "no buttons on a resolved post")
	require.Len(t, rootPosts(mm), 1, "one root post for the whole incident, across the restart")
	require.NotContains(t, logs.String(), token)
	for _, path := range []string{"/", "/api/gatewatch/status", "/metrics"} {
		resp, err := http.Get(actions.url.String() + path)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		require.NotContains(t, string(b), token, path)
		if path == "/" {
			require.Contains(t, string(b), "Acknowledged in Mattermost")
		}
	}
	for _, r := range mm.Rejected() {
		t.Errorf("the stand-in refused a request: %+v", r)
	}
}

// TestBotResolvedWhileSilenced: a group silenced from its post resolves
// while the silence still runs. Alertmanager notifies nothing (the silence
// mutes the resolve), but the post is edited to resolved, quietly (no
// thread reply); the next 421 is a new post.
func TestBotResolvedWhileSilenced(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: runs for about 20 s")
	}
	mm, _, tokenFile, aliceID := botStandIn(t)
	gw := demo.NewGateway("istio-ingress", "istio-ingressgateway", "a", nil, nil)
	require.NoError(t, gw.Start("127.0.0.1:0"))
	defer gw.Close()
	gw.Serve(20)
	actions := startActionServer(t)
	var logs syncbuf.Buffer
	e := actions.start(t, botSpec(t, mm.URL, tokenFile, gw.Addr()), t.TempDir(), &logs)
	defer e.Close()
	require.Eventually(t, targetUp(e, gw.Addr()), 15*time.Second, 50*time.Millisecond)
	time.Sleep(2 * time.Second)

	gw.Misdirect(1)
	require.Eventually(t, func() bool { return len(rootPosts(mm)) == 1 }, 20*time.Second, 50*time.Millisecond, "the root post")
	root := rootPosts(mm)[0]
	mm.AddMember(root.ChannelID, aliceID)
	res, err := mm.Click("alice", root.ID, mattermost.ActSilence1h)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.Status, res.Err)

	require.Eventually(t, func() bool {
		p, _ := mm.APIPost(root.ID)
		return len(p.Attachments) > 0 && p.Attachments[0].Color == "good"
	}, 40*time.Second, 100*time.Millisecond, "the post edited to resolved while the silence runs:\n%s", &logs)
	done, _ := mm.APIPost(root.ID)
	require.True(t, strings.HasPrefix(done.Attachments[0].Title, "[RESOLVED]"), done.Attachments[0].Title)
	require.Contains(t, done.Attachments[0].Pretext, "while muted by a silence")
	require.Empty(t, done.Actions)
	require.False(t, threadHas(mm, root.ID, "Resolved at "), "the silence asked for no notification: no thread reply")

	// The silence still runs (it would mute the next 421 too): end it; the
	// next incident is a new post.
	sils, err := e.Silences(context.Background())
	require.NoError(t, err)
	require.Len(t, sils, 1)
	require.NoError(t, e.ExpireSilence(context.Background(), sils[0].ID))
	gw.Misdirect(1)
	require.Eventually(t, func() bool { return len(rootPosts(mm)) == 2 }, 20*time.Second, 50*time.Millisecond, "a new root post for the next incident")
}

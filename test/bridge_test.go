package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/api/v2/models"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/cli"
	"github.com/gatewatch/gatewatch/internal/demo"
	"github.com/gatewatch/gatewatch/internal/mattermost"
	"github.com/gatewatch/gatewatch/internal/mattermost/inbox"
	"github.com/gatewatch/gatewatch/internal/render"
	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
	"github.com/gatewatch/gatewatch/internal/syncbuf"
)

// TestBridgeBehindRealAlertmanager: a real Alertmanager with the
// configuration render writes for cluster.bridge.enabled (a webhook
// receiver pointing at `gatewatch bridge`); an alert posted to Alertmanager
// reaches the strict Mattermost server as gatewatch's message with explain's
// verdict, after Mattermost failed twice (503s Alertmanager retried).
func TestBridgeBehindRealAlertmanager(t *testing.T) {
	amBin := tool(t, "alertmanager")
	dir := t.TempDir()
	inbox, err := inbox.Start("127.0.0.1:0")
	require.NoError(t, err)
	defer inbox.Close()
	urlFile := filepath.Join(dir, "webhook-url")
	require.NoError(t, os.WriteFile(urlFile, []byte(inbox.AddHook("bridgehook", "gateway-alerts", false)), 0o600))

	// A fresh access log from the simulated gateway, and the worked
	// example's Gateways and certificate.
	logFile, err := os.Create(filepath.Join(dir, "access.log"))
	require.NoError(t, err)
	gw := demo.NewGateway("istio-ingress", "istio-ingressgateway", "gw-bridge", nil, logFile)
	gw.Serve(5)
	gw.Misdirect(3)
	require.NoError(t, logFile.Close())
	configDir, err := filepath.Abs("../examples/explain/config")
	require.NoError(t, err)

	raw, err := os.ReadFile("../examples/gatewatch.yaml")
	require.NoError(t, err)
	specText := strings.Replace(string(raw), "webhook_url_file: mattermost-webhook-url", "webhook_url_file: "+urlFile, 1) +
		fmt.Sprintf("\nexplain:\n  access_logs: %s\n  config: %s\n", logFile.Name(), configDir)
	specFile := filepath.Join(dir, "gatewatch.yaml")
	require.NoError(t, os.WriteFile(specFile, []byte(specText), 0o644))

	bridgeAddr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, []string{"bridge", "-c", specFile, "--listen", bridgeAddr}, &out, &errOut)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			require.Equal(t, 0, code, errOut.String())
		case <-time.After(15 * time.Second):
			t.Error("bridge did not stop")
		}
	})
	require.Eventually(t, func() bool { return httpOK("http://" + bridgeAddr + "/-/ready") }, 20*time.Second, 50*time.Millisecond, "bridge ready")

	amAddr := freeAddr(t)
	// Alertmanager's configuration is the one render writes with
	// cluster.bridge.enabled, the bridge's in-cluster URL made this test's.
	amConf := renderedBridgeAlertmanagerConfig(t, specText, specFile, "http://"+bridgeAddr+"/alerts", nil)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "alertmanager.yml"), []byte(amConf), 0o644))
	startProc(t, amBin, "--config.file="+filepath.Join(dir, "alertmanager.yml"), "--storage.path="+filepath.Join(dir, "am"),
		"--web.listen-address="+amAddr, "--cluster.listen-address=")
	amURL := "http://" + amAddr
	require.Eventually(t, func() bool { return httpOK(amURL + "/-/ready") }, 30*time.Second, 50*time.Millisecond, "Alertmanager ready")

	inbox.FailNext(2, http.StatusServiceUnavailable)
	alert := `[{"labels": {"alertname": "GatewayMisdirectedRequest421", "gateway": "public-ingress", "namespace": "istio-ingress", "severity": "warning", "pod": "gw-bridge"},
	  "annotations": {"summary": "Gateway public-ingress returned HTTP 421 Misdirected Request", "window": "5m", "count": "3"}}]`
	resp, err := http.Post(amURL+"/api/v2/alerts", "application/json", bytes.NewBufferString(alert))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	require.Eventually(t, func() bool { return len(inbox.Posts()) > 0 }, 60*time.Second, 50*time.Millisecond, "the message in Mattermost")
	posts := inbox.Posts()
	require.Len(t, posts, 1, "delivered once")
	require.GreaterOrEqual(t, inbox.Requests(), 3, "Alertmanager retried the two 503s")
	a := posts[0].Attachments[0]
	require.Equal(t, "[FIRING:1] GatewayMisdirectedRequest421 — public-ingress (istio-ingress)", a.Title)
	require.Contains(t, a.Text, "**Why:** `shop.example.com` → `api.example.com` ×3 (Lua filter), 3 Safari/WebKit: HTTP/2 connection coalescing")
	require.Equal(t, "Sent by gatewatch bridge", a.Footer)
	require.Contains(t, posts[0].Props["card"], "#### Why: gatewatch explain")
	require.NotContains(t, out.String()+errOut.String(), "bridgehook", "the webhook URL stays out of the logs")
}

// renderedBridgeAlertmanagerConfig is the alertmanager.yml render
// --target prometheus writes for the spec with cluster.bridge.enabled
// (after edit, if any), the bridge's in-cluster URL replaced by url.
func renderedBridgeAlertmanagerConfig(t *testing.T, specText, specFile, url string, edit func(*spec.Spec)) string {
	t.Helper()
	s, err := spec.Parse([]byte(specText), specFile, rules.SpecKinds())
	require.NoError(t, err)
	s.Cluster.Bridge.Enabled = true
	if edit != nil {
		edit(s)
	}
	files, err := render.Render(s, render.TargetPrometheus)
	require.NoError(t, err)
	for _, f := range files {
		if f.Name == render.AlertmanagerConfigFileName {
			require.Contains(t, string(f.Content), render.BridgeURL(s))
			return strings.ReplaceAll(string(f.Content), render.BridgeURL(s), url)
		}
	}
	t.Fatal("render --target prometheus wrote no " + render.AlertmanagerConfigFileName)
	return ""
}

// bridgeBotRootPosts are the stand-in's root posts made through the REST API.
func bridgeBotRootPosts(mm *inbox.Server) []inbox.APIPost {
	var out []inbox.APIPost
	for _, p := range mm.APIPosts() {
		if p.RootID == "" {
			out = append(out, p)
		}
	}
	return out
}

// amSilences lists the real Alertmanager's silences through its API v2.
func amSilences(t *testing.T, amURL string) models.GettableSilences {
	t.Helper()
	resp, err := http.Get(amURL + "/api/v2/silences")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var sils models.GettableSilences
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&sils))
	return sils
}

// TestBridgeBotModeBehindRealAlertmanager: a real Alertmanager notifies
// `gatewatch bridge` in Mattermost bot mode. The group's first
// notification is one root post with buttons; "Silence 1h", clicked in the
// stand-in by alice, creates a silence in that Alertmanager of exactly the
// group's labels, by alice, and the post says so; a click with the
// matchers widened is refused (401) and silences nothing. The bridge is
// restarted on the same data directory; "Unsilence" (a button signed
// before the restart) expires the silence; the resolve edits the same post
// green. The bot token appears in no output.
func TestBridgeBotModeBehindRealAlertmanager(t *testing.T) {
	amBin := tool(t, "alertmanager")
	dir := t.TempDir()
	mm, err := inbox.Start("127.0.0.1:0")
	require.NoError(t, err)
	defer mm.Close()
	token := mm.SetupBot("ops", "gateway-alerts", "gatewatch")
	aliceID, _ := mm.AddUser("alice", false)
	tokenFile := filepath.Join(dir, "bot-token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(token+"\n"), 0o600))

	raw, err := os.ReadFile("../examples/gatewatch.yaml")
	require.NoError(t, err)
	bot := fmt.Sprintf("url: %s\n  bot_token_file: %s\n  team: ops\n  channel: gateway-alerts", mm.URL, tokenFile)
	specText := strings.Replace(string(raw), "webhook_url_file: mattermost-webhook-url", bot, 1)
	require.NotEqual(t, string(raw), specText)
	specFile := filepath.Join(dir, "gatewatch.yaml")
	require.NoError(t, os.WriteFile(specFile, []byte(specText), 0o644))

	bridgeAddr, amAddr := freeAddr(t), freeAddr(t)
	amURL := "http://" + amAddr
	dataDir := filepath.Join(dir, "bridge-data")
	var out syncbuf.Buffer
	startBridge := func() func() {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan int, 1)
		go func() {
			done <- cli.Main(ctx, []string{"bridge", "-c", specFile, "--listen", bridgeAddr, "--data-dir", dataDir,
				"--web.external-url", "http://" + bridgeAddr, "--alertmanager-url", amURL}, &out, &out)
		}()
		require.Eventually(t, func() bool { return httpOK("http://" + bridgeAddr + "/-/ready") }, 20*time.Second, 50*time.Millisecond, "bridge ready:\n%s", &out)
		stopped := false
		return func() {
			if stopped {
				return
			}
			stopped = true
			cancel()
			select {
			case code := <-done:
				require.Equal(t, 0, code, out.String())
			case <-time.After(15 * time.Second):
				t.Error("bridge did not stop")
			}
		}
	}
	stop := startBridge()
	t.Cleanup(func() { stop() })

	// Alertmanager's configuration is the one render writes for bot mode
	// with cluster.bridge.enabled (routing timings shortened for the test),
	// the bridge's in-cluster URL made this test's.
	amConf := renderedBridgeAlertmanagerConfig(t, specText, specFile, "http://"+bridgeAddr+"/alerts", func(s *spec.Spec) {
		s.Routing.GroupWait, s.Routing.GroupInterval, s.Routing.RepeatInterval = spec.Duration(time.Second), spec.Duration(2*time.Second), spec.Duration(time.Hour)
	})
	require.Contains(t, amConf, "send_resolved: true", "bot mode: the resolve closes the post")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "alertmanager.yml"), []byte(amConf), 0o644))
	startProc(t, amBin, "--config.file="+filepath.Join(dir, "alertmanager.yml"), "--storage.path="+filepath.Join(dir, "am"),
		"--web.listen-address="+amAddr, "--cluster.listen-address=")
	require.Eventually(t, func() bool { return httpOK(amURL + "/-/ready") }, 30*time.Second, 50*time.Millisecond, "Alertmanager ready")

	postAlert := func(endsAt string) {
		t.Helper()
		alert := `[{"labels": {"alertname": "GatewayMisdirectedRequest421", "gateway": "public-ingress", "namespace": "istio-ingress", "severity": "warning", "pod": "gw-bridge"},
		  "annotations": {"summary": "Gateway public-ingress returned HTTP 421 Misdirected Request", "window": "5m", "count": "3"}` + endsAt + `}]`
		resp, err := http.Post(amURL+"/api/v2/alerts", "application/json", bytes.NewBufferString(alert))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	postAlert("")
	require.Eventually(t, func() bool { return len(bridgeBotRootPosts(mm)) > 0 }, 60*time.Second, 50*time.Millisecond, "the root post:\n%s", &out)
	root := bridgeBotRootPosts(mm)[0]
	require.Equal(t, "[FIRING:1] GatewayMisdirectedRequest421 — public-ingress (istio-ingress)", root.Attachments[0].Title)
	var ids []string
	for _, a := range root.Actions {
		ids = append(ids, a.ID)
		require.Equal(t, "http://"+bridgeAddr+mattermost.ActionPath, a.URL)
	}
	require.Equal(t, []string{mattermost.ActSilence1h, mattermost.ActSilence24h, mattermost.ActAck}, ids)
	mm.AddMember(root.ChannelID, aliceID)

	// Silence 1h, clicked by alice: a silence in the real Alertmanager.
	res, err := mm.Click("alice", root.ID, mattermost.ActSilence1h)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.Status, res.Err)
	require.Contains(t, res.EphemeralText, "Silenced ")
	sils := amSilences(t, amURL)
	require.Len(t, sils, 1)
	sil := sils[0]
	require.Equal(t, "alice", *sil.CreatedBy)
	require.Equal(t, "from Mattermost", *sil.Comment)
	require.Equal(t, models.SilenceStatusStateActive, *sil.Status.State)
	require.InDelta(t, time.Hour.Seconds(), time.Until(time.Time(*sil.EndsAt)).Seconds(), 60)
	got := map[string]string{}
	for _, m := range sil.Matchers {
		require.True(t, *m.IsEqual, "equality matchers")
		require.False(t, *m.IsRegex, "no regex")
		got[*m.Name] = *m.Value
	}
	require.Equal(t, map[string]string{"alertname": "GatewayMisdirectedRequest421", "gateway": "public-ingress", "namespace": "istio-ingress"}, got,
		"exactly the group's labels")
	post, _ := mm.APIPost(root.ID)
	require.Contains(t, post.Attachments[0].Pretext, "Silenced by @alice until ")
	require.Len(t, post.Actions, 2)
	require.Equal(t, mattermost.ActUnsilence, post.Actions[0].ID)

	// Forged: the Silence 24h context with the matchers widened.
	var c24 map[string]any
	for _, a := range root.Actions {
		if a.ID == mattermost.ActSilence24h {
			c24 = a.Context
		}
	}
	require.NotNil(t, c24)
	c24["matchers"] = map[string]any{"namespace": "istio-ingress"}
	body, err := json.Marshal(mattermost.ClickRequest{UserName: "mallory", PostID: root.ID, Context: c24})
	require.NoError(t, err)
	resp, err := http.Post("http://"+bridgeAddr+mattermost.ActionPath, "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Len(t, amSilences(t, amURL), 1, "the forged click silenced nothing")

	// Restart on the same data directory, then Unsilence and resolve.
	stop()
	stop = startBridge()
	res, err = mm.Click("alice", root.ID, mattermost.ActUnsilence)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.Status, res.Err)
	sils = amSilences(t, amURL)
	require.Len(t, sils, 1)
	require.Equal(t, models.SilenceStatusStateExpired, *sils[0].Status.State)
	post, _ = mm.APIPost(root.ID)
	require.NotContains(t, post.Attachments[0].Pretext, "Silenced")

	postAlert(`, "endsAt": "` + time.Now().UTC().Format(time.RFC3339Nano) + `"`)
	require.Eventually(t, func() bool {
		p, _ := mm.APIPost(root.ID)
		return strings.HasPrefix(p.Attachments[0].Title, "[RESOLVED]")
	}, 60*time.Second, 50*time.Millisecond, "the resolve edits the post:\n%s", &out)
	final, _ := mm.APIPost(root.ID)
	require.Equal(t, "good", final.Attachments[0].Color)
	require.Empty(t, final.Actions)
	require.Len(t, bridgeBotRootPosts(mm), 1, "one post for the incident, across the restart")
	require.NotContains(t, out.String(), token, "the bot token stays out of the output")
	key, err := os.ReadFile(filepath.Join(dataDir, "actions.key"))
	require.NoError(t, err)
	require.NotContains(t, out.String(), strings.TrimSpace(string(key)), "the signing key stays out of the output")
}

// TestBridgeBotModeStartErrors: `gatewatch bridge` in bot mode stops at
// start (exit 1) on a token Mattermost refuses, saying how to make a new
// one and without the token; a --web.external-url or --alertmanager-url
// that is not an http(s) URL is a usage error (exit 2).
func TestBridgeBotModeStartErrors(t *testing.T) {
	dir := t.TempDir()
	mm, err := inbox.Start("127.0.0.1:0")
	require.NoError(t, err)
	defer mm.Close()
	token := mm.SetupBot("ops", "gateway-alerts", "gatewatch")
	tokenFile := filepath.Join(dir, "bot-token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(token+"\n"), 0o600))
	raw, err := os.ReadFile("../examples/gatewatch.yaml")
	require.NoError(t, err)
	bot := fmt.Sprintf("url: %s\n  bot_token_file: %s\n  team: ops\n  channel: gateway-alerts", mm.URL, tokenFile)
	specFile := filepath.Join(dir, "gatewatch.yaml")
	require.NoError(t, os.WriteFile(specFile, []byte(strings.Replace(string(raw), "webhook_url_file: mattermost-webhook-url", bot, 1)), 0o644))

	for _, tc := range []struct {
		name   string
		args   []string
		revoke bool
		code   int
		want   string
	}{
		{"bad external URL", []string{"--web.external-url", "bridge:9095"}, false, 2, "--web.external-url \"bridge:9095\": want the http(s) URL Mattermost reaches the bridge at"},
		{"bad Alertmanager URL", []string{"--alertmanager-url", "alertmanager:9093"}, false, 2, "--alertmanager-url \"alertmanager:9093\": want your Alertmanager's http(s) URL"},
		{"refused token", nil, true, 1, "Create New Token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.revoke {
				mm.RevokeToken(token)
			}
			var out syncbuf.Buffer
			args := append([]string{"bridge", "-c", specFile, "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data")}, tc.args...)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			code := cli.Main(ctx, args, &out, &out)
			require.Equal(t, tc.code, code, out.String())
			require.Contains(t, out.String(), tc.want)
			require.NotContains(t, out.String(), token)
		})
	}
}

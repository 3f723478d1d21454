package doctor

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/mattermost/inbox"
	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// TestMattermostBot: against the strict stand-in, the bot check passes
// for a member bot, fails naming /invite for a non-member and the fix for
// a revoked token, warns about a private action URL; the token is never in
// its output.
func TestMattermostBot(t *testing.T) {
	srv, err := inbox.Start("127.0.0.1:0")
	require.NoError(t, err)
	defer srv.Close()
	token := srv.SetupBot("ops", "gateway-alerts", "gatewatch")
	chID := srv.AddTeamChannel("ops", "other")
	_ = chID
	tokenFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(token), 0o600))
	run := func(channel, externalURL string) Result {
		y := "gateways:\n  - name: public-ingress\n    namespace: istio-ingress\n    selector: app=istio-ingressgateway\n" +
			"mattermost:\n  url: " + srv.URL + "\n  bot_token_file: " + tokenFile + "\n  team: ops\n  channel: " + channel + "\n"
		s, err := spec.Parse([]byte(y), "g.yaml", rules.SpecKinds())
		require.NoError(t, err)
		var text bytes.Buffer
		rs := Run(context.Background(), &Env{Spec: s, ExternalURL: externalURL}, []Check{mattermostBot{}}, TextReporter(&text))
		require.Len(t, rs, 1)
		require.NotContains(t, text.String(), token)
		return rs[0]
	}

	r := run("gateway-alerts", "https://203.0.113.7")
	require.Equal(t, Pass, r.Status, "%+v", r)
	require.Contains(t, r.Summary, "@gatewatch can post in ~gateway-alerts")

	r = run("gateway-alerts", "http://gatewatch.monitoring.svc:9421")
	require.Equal(t, Warn, r.Status, "%+v", r)
	require.Contains(t, r.Summary, "AllowedUntrustedInternalConnections")
	require.Contains(t, r.Summary, "gatewatch.monitoring.svc")

	r = run("other", "https://203.0.113.7")
	require.Equal(t, Fail, r.Status, "%+v", r)
	require.Contains(t, r.Summary, "not a member of ~other")
	require.Contains(t, r.Hint, "/invite @gatewatch")

	r = run("nope", "")
	require.Equal(t, Fail, r.Status, "%+v", r)
	require.Contains(t, r.Summary, "channel is not found")

	srv.RevokeToken(token)
	r = run("gateway-alerts", "")
	require.Equal(t, Fail, r.Status, "%+v", r)
	require.Contains(t, r.Evidence[0], "Create New Token")
}

package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	amlabels "github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/alertmanager/template"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/engine"
	"github.com/gatewatch/gatewatch/internal/mattermost"
	"github.com/gatewatch/gatewatch/internal/mattermost/inbox"
	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// scriptHarness runs the page's script (the file argv[2]) under node with
// a stand-in for the page's DOM, once per fragment read from stdin, lets
// one refresh period pass, and prints what the script did as JSON.
const scriptHarness = `
const fs = require("fs");
const script = fs.readFileSync(process.argv[2], "utf8");
const hashes = JSON.parse(fs.readFileSync(0, "utf8"));
const out = hashes.map(function (hash) {
  const r = {focused: "", scrolled: false, reloaded: false, listeners: []};
  const doc = {activeElement: null};
  function field(name, value, placeholder) {
    const f = {value: value, placeholder: placeholder};
    f.focus = function () { r.focused = name; doc.activeElement = f; };
    return f;
  }
  const fields = {
    matchers: field("matchers", "", "alertname=GatewayMisdirectedRequest421, gateway=public-ingress"),
    duration: field("duration", "2h", ""),
    created_by: field("created_by", "", "you"),
    comment: field("comment", "", "why"),
  };
  const form = {
    elements: fields,
    scrollIntoView: function () { r.scrolled = true; },
    contains: function (el) { return Object.values(fields).includes(el); },
  };
  const refresh = {textContent: "refreshes every 5 s"};
  doc.getElementById = function (id) { return {"silence-form": form, "refresh": refresh}[id] || null; };
  const timers = [];
  const win = {addEventListener: function (ev) { r.listeners.push(ev); }};
  const loc = {hash: hash, reload: function () { r.reloaded = true; }};
  new Function("document", "location", "window", "setTimeout", script)(doc, loc, win, function (fn, ms) { timers.push([fn, ms]); });
  const first = timers.shift();
  r.period = first[1];
  first[0]();
  r.refresh = refresh.textContent;
  r.matchers = fields.matchers.value;
  r.duration = fields.duration.value;
  r.comment_placeholder = fields.comment.placeholder;
  return r;
});
process.stdout.write(JSON.stringify(out));
`

// scriptRun is what the page's script did for one fragment.
type scriptRun struct {
	Matchers           string   `json:"matchers"`
	Duration           string   `json:"duration"`
	CommentPlaceholder string   `json:"comment_placeholder"`
	Focused            string   `json:"focused"`
	Scrolled           bool     `json:"scrolled"`
	Reloaded           bool     `json:"reloaded"`
	Refresh            string   `json:"refresh"`
	Period             int      `json:"period"`
	Listeners          []string `json:"listeners"`
}

// runScript runs script under node for each fragment (skipping the test
// without node on PATH).
func runScript(t *testing.T, script string, hashes ...string) []scriptRun {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH: the page's script is not run")
	}
	dir := t.TempDir()
	harness, file := filepath.Join(dir, "harness.js"), filepath.Join(dir, "page.js")
	require.NoError(t, os.WriteFile(harness, []byte(scriptHarness), 0o600))
	require.NoError(t, os.WriteFile(file, []byte(script), 0o600))
	in, err := json.Marshal(hashes)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, harness, file)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "node: %s", stderr.String())
	var runs []scriptRun
	require.NoError(t, json.Unmarshal(out, &runs), "%s", out)
	require.Len(t, runs, len(hashes))
	return runs
}

// TestSilenceLinkFillsTheForm: a message's Silence link (gatewatch's own
// page, at Alertmanager UI's route #/silences/new?filter=…) opens the page
// with the silence form filled with the group's matchers — which the form
// takes and turns into a silence of exactly the group.
func TestSilenceLinkFillsTheForm(t *testing.T) {
	mm, err := inbox.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { mm.Close() })
	hook := mm.AddHook("pagetesthook0000000000001", "gateway-alerts", false)
	s, err := spec.Parse([]byte("gateways:\n  - name: public-ingress\n    namespace: istio-ingress\n    static_targets: [\"127.0.0.1:1\"]\nmattermost:\n  webhook_url: "+hook+"\n"), "t.yaml", rules.SpecKinds())
	require.NoError(t, err)
	e, err := engine.New(s, engine.Options{})
	require.NoError(t, err)
	require.NoError(t, e.Start(context.Background()))
	t.Cleanup(func() { e.Close() })
	srv := httptest.NewServer(Handler(e, Options{}))
	t.Cleanup(srv.Close)

	// The message as the embedded engine builds it: its external URL is
	// gatewatch's. A label value with what a URL or a matcher list could
	// break on: spaces, a comma, braces, +, &, # and non-ASCII.
	group := template.KV{
		"alertname": "GatewayMisdirectedRequest421", "gateway": "public-ingress", "namespace": "istio-ingress",
		"route": "/api/v1, {beta} + café & #1",
	}
	msg := mattermost.BuildWith(&template.Data{
		Status: "firing", ExternalURL: srv.URL, CommonLabels: group, GroupLabels: group,
		Alerts: template.Alerts{{Status: "firing", Labels: group, Annotations: template.KV{"summary": "421s"}}},
	}, mattermost.Options{}, mattermost.Extras{})
	m := regexp.MustCompile(`\[Silence\]\(([^)\s]+)\)`).FindStringSubmatch(msg.Attachments[0].Text)
	require.NotNil(t, m, "the message has a Silence link: %s", msg.Attachments[0].Text)
	link, err := url.Parse(m[1])
	require.NoError(t, err)
	require.Equal(t, srv.URL+"/", link.Scheme+"://"+link.Host+link.Path, "the link opens gatewatch's page")
	hash := "#" + link.EscapedFragment() // location.hash, as the browser gives it
	require.True(t, strings.HasPrefix(hash, "#/silences/new?filter="), hash)

	// The page the link opens (a browser does not send the fragment).
	resp, err := http.Get(link.String())
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var body bytes.Buffer
	_, err = body.ReadFrom(resp.Body)
	require.NoError(t, err)
	page := body.String()
	require.Contains(t, page, `<form id="silence-form" method="post" action="/silences">`)
	require.Contains(t, page, `<noscript><meta http-equiv="refresh" content="5"></noscript>`, "without JavaScript the page still refreshes")
	require.Equal(t, 1, strings.Count(page, "<script"), "one inline script, nothing loaded from elsewhere")
	served := page[strings.Index(page, "<script>")+len("<script>") : strings.Index(page, "</script>")]
	require.Equal(t, pageScript, served, "the script is served as written")

	hashes := []string{
		hash,
		"#silences", // where the form redirects after a post
		"",
		"#/silences/new?filter=%7B%7D",
		"#/silences/new?filter=" + url.QueryEscape(`alertname=~"Gateway.*", gateway!="other"`),
		"#/silences/new?silenced=false",
	}
	runs := runScript(t, served, hashes...)

	// The message's link: the group's matchers, ready to post.
	link1 := runs[0]
	require.Equal(t, `gateway="public-ingress", namespace="istio-ingress", route="/api/v1, {beta} + café & #1", alertname="GatewayMisdirectedRequest421"`, link1.Matchers)
	require.Equal(t, "2h", link1.Duration)
	require.Equal(t, "created_by", link1.Focused, "the one field left to the user first")
	require.True(t, link1.Scrolled)
	require.Contains(t, link1.CommentPlaceholder, "why")
	require.NotEqual(t, "why", link1.CommentPlaceholder, "a placeholder that says what to write")
	require.False(t, link1.Reloaded, "no reload drops the filled-in form")
	require.Equal(t, "refresh paused while the silence form is filled in", link1.Refresh)
	require.Equal(t, 5000, link1.Period)
	require.Contains(t, link1.Listeners, "hashchange", "a second link opened in the same tab fills the form again")

	parsed, err := amlabels.ParseMatchers(link1.Matchers)
	require.NoError(t, err, "the form's own parser takes it")
	got := map[string]string{}
	for _, pm := range parsed {
		require.Equal(t, amlabels.MatchEqual, pm.Type)
		got[pm.Name] = pm.Value
	}
	require.Equal(t, map[string]string(group), got, "exactly the group's labels")

	// Other fragments leave the form alone, and the page refreshes.
	for _, i := range []int{1, 2, 5} {
		r, h := runs[i], hashes[i]
		require.Empty(t, r.Matchers, "%q", h)
		require.Empty(t, r.Focused, "%q", h)
		require.False(t, r.Scrolled, "%q", h)
		require.True(t, r.Reloaded, "%q: an untouched page refreshes", h)
		require.Equal(t, "why", r.CommentPlaceholder)
	}
	// An empty filter: the form, focused on the matchers.
	require.Equal(t, "", runs[3].Matchers)
	require.Equal(t, "matchers", runs[3].Focused)
	require.True(t, runs[3].Scrolled)
	require.False(t, runs[3].Reloaded, "the focus is in the form")
	// A filter without braces, with other operators, as Alertmanager's UI
	// takes it.
	require.Equal(t, `alertname=~"Gateway.*", gateway!="other"`, runs[4].Matchers)

	// Posted as the browser would: the silence of exactly the group.
	resp, err = http.PostForm(srv.URL+"/silences", url.Values{
		"matchers": {link1.Matchers}, "duration": {link1.Duration}, "created_by": {"ops"}, "comment": {"fix rolling out"},
	})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "followed the redirect to the page")
	sils, err := e.Silences(context.Background())
	require.NoError(t, err)
	require.Len(t, sils, 1)
	require.Equal(t, "active", sils[0].State)
	require.Equal(t, `alertname="GatewayMisdirectedRequest421", gateway="public-ingress", namespace="istio-ingress", route="/api/v1, {beta} + café & #1"`, sils[0].Matchers)
	require.InDelta(t, 2*time.Hour.Seconds(), sils[0].EndsAt.Sub(sils[0].StartsAt).Seconds(), 1)
}

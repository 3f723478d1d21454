package inbox

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// answer is a REST answer, its JSON body decoded.
type answer struct {
	status int
	body   map[string]any
	header http.Header
}

func (a answer) str(key string) string { s, _ := a.body[key].(string); return s }

func (a answer) num(key string) int64 { f, _ := a.body[key].(float64); return int64(f) }

func api(t *testing.T, method, url, token, body string) answer {
	t.Helper()
	return apiCT(t, method, url, token, body, "application/json")
}

func apiCT(t *testing.T, method, url, token, body, contentType string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := answer{status: resp.StatusCode, header: resp.Header}
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"), string(raw))
	require.NoError(t, json.Unmarshal(raw, &a.body), string(raw))
	return a
}

// requireError checks a Mattermost error answer.
func requireError(t *testing.T, a answer, status int, id string) {
	t.Helper()
	require.Equal(t, status, a.status, a.body)
	require.Equal(t, id, a.str("id"), a.body)
	require.Equal(t, float64(status), a.body["status_code"])
	require.NotEmpty(t, a.str("message"))
	require.NotEmpty(t, a.str("request_id"))
}

var mmID = regexp.MustCompile(`^[a-z0-9]{26}$`)

// fixture is a server with team "ops", channels "alerts" (the bot gatewatch
// and alice are members) and "other" (the bot only), and carol who is in no
// channel.
type fixture struct {
	s                       *Server
	bot, alice, carol       string // tokens
	botID, aliceID, carolID string
	alerts, other, team     string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	s, err := Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	f := fixture{s: s}
	f.bot = s.SetupBot("ops", "alerts", "gatewatch")
	f.aliceID, f.alice = s.AddUser("alice", false)
	f.carolID, f.carol = s.AddUser("carol", false)
	f.alerts = s.AddTeamChannel("ops", "alerts")
	f.other = s.AddTeamChannel("ops", "other")
	f.team = s.AddTeam("ops")
	s.AddMember(f.alerts, f.aliceID)
	me := api(t, "GET", s.URL+"/api/v4/users/me", f.bot, "")
	require.Equal(t, 200, me.status)
	f.botID = me.str("id")
	s.AddMember(f.other, f.botID)
	return f
}

// post creates a post as the bot and returns its id.
func (f fixture) post(t *testing.T, body string) string {
	t.Helper()
	a := api(t, "POST", f.s.URL+"/api/v4/posts", f.bot, body)
	require.Equal(t, 201, a.status, a.body)
	return a.str("id")
}

func TestRESTAuthAndUsers(t *testing.T) {
	f := newFixture(t)
	u := f.s.URL + "/api/v4/users/me"

	requireError(t, api(t, "GET", u, "", ""), 401, "api.context.session_expired.app_error")
	bad := api(t, "GET", u, "nosuchtoken", "")
	requireError(t, bad, 401, "api.context.session_expired.app_error")
	require.Equal(t, "Invalid or expired session, please login again.", bad.str("message"))

	_, token := f.s.AddUser("alice", false) // a second token for alice
	require.Equal(t, 200, api(t, "GET", u, token, "").status)
	f.s.RevokeToken(token)
	requireError(t, api(t, "GET", u, token, ""), 401, "api.context.session_expired.app_error")
	require.Equal(t, 200, api(t, "GET", u, f.alice, "").status, "the other token still works")

	me := api(t, "GET", u, f.bot, "")
	require.Equal(t, "gatewatch", me.str("username"))
	require.Equal(t, true, me.body["is_bot"])
	require.Regexp(t, mmID, me.str("id"))
	alice := api(t, "GET", u, f.alice, "")
	require.Equal(t, false, alice.body["is_bot"])
	require.Equal(t, f.aliceID, alice.str("id"))

	got := api(t, "GET", f.s.URL+"/api/v4/users/"+f.aliceID, f.bot, "")
	require.Equal(t, 200, got.status)
	require.Equal(t, "alice", got.str("username"))
	requireError(t, api(t, "GET", f.s.URL+"/api/v4/users/"+newID(), f.bot, ""), 404, "app.user.missing_account.const")
	requireError(t, api(t, "GET", f.s.URL+"/api/v4/users/short", f.bot, ""), 400, "api.context.invalid_url_param.app_error")

	requireError(t, api(t, "GET", f.s.URL+"/api/v4/nothing/here", "", ""), 404, "api.context.404.app_error")
	require.Equal(t, "/api/v4/nothing/here", f.s.Rejected()[len(f.s.Rejected())-1].Path)
}

func TestRESTChannels(t *testing.T) {
	f := newFixture(t)
	base := f.s.URL + "/api/v4/"

	ch := api(t, "GET", base+"teams/name/ops/channels/name/alerts", f.bot, "")
	require.Equal(t, 200, ch.status)
	require.Equal(t, f.alerts, ch.str("id"))
	require.Equal(t, f.team, ch.str("team_id"))
	require.Equal(t, "alerts", ch.str("name"))
	require.Equal(t, "alerts", ch.str("display_name"))
	require.Equal(t, "O", ch.str("type"))

	requireError(t, api(t, "GET", base+"teams/name/nope/channels/name/alerts", f.bot, ""), 404, "app.team.get_by_name.missing.app_error")
	missing := api(t, "GET", base+"teams/name/ops/channels/name/nope", f.bot, "")
	requireError(t, missing, 404, "app.channel.get_by_name.missing.app_error")
	require.Equal(t, "Unable to find the existing channel.", missing.str("message"))

	require.Equal(t, f.alerts, api(t, "GET", base+"channels/"+f.alerts, f.bot, "").str("id"))
	requireError(t, api(t, "GET", base+"channels/"+newID(), f.bot, ""), 404, "app.channel.get.existing.app_error")

	m := api(t, "GET", base+"channels/"+f.alerts+"/members/"+f.botID, f.bot, "")
	require.Equal(t, 200, m.status)
	require.Equal(t, "channel_user", m.str("roles"))
	require.Equal(t, f.botID, m.str("user_id"))
	require.Equal(t, f.alerts, m.str("channel_id"))
	requireError(t, api(t, "GET", base+"channels/"+f.alerts+"/members/"+f.carolID, f.bot, ""), 404, "app.channel.get_member.missing.app_error")
}

const button = `{"id":"%s","name":"Silence 1h","integration":{"url":"http://127.0.0.1:1/act","context":{"a":1}}}`

func withActions(actions ...string) string {
	return `{"attachments":[{"title":"t","color":"danger","text":"x","actions":[` + strings.Join(actions, ",") + `]}]}`
}

func TestRESTCreatePost(t *testing.T) {
	f := newFixture(t)
	root := f.post(t, `{"channel_id":"`+f.alerts+`","message":"root"}`)
	reply := f.post(t, `{"channel_id":"`+f.alerts+`","message":"reply","root_id":"`+root+`"}`)
	otherRoot := f.post(t, `{"channel_id":"`+f.other+`","message":"elsewhere"}`)
	deleted := f.post(t, `{"channel_id":"`+f.alerts+`","message":"gone"}`)
	require.True(t, f.s.DeletePost(deleted))

	msg := func(extra string) string { return `{"channel_id":"` + f.alerts + `","message":"m"` + extra + `}` }
	act := func(id string) string { return strings.Replace(button, "%s", id, 1) }
	for _, tc := range []struct {
		name, token, body string
		status            int
		id                string
	}{
		{"ok", f.bot, msg(""), 201, ""},
		{"longest message", f.bot, `{"channel_id":"` + f.alerts + `","message":"` + strings.Repeat("é", MaxRunes) + `"}`, 201, ""},
		{"message one rune too long", f.bot, `{"channel_id":"` + f.alerts + `","message":"` + strings.Repeat("é", MaxRunes+1) + `"}`, 400, "model.post.is_valid.message_length.app_error"},
		{"no channel_id", f.bot, `{"message":"m"}`, 400, "model.post.is_valid.channel_id.app_error"},
		{"unknown channel", f.bot, `{"channel_id":"` + newID() + `","message":"m"}`, 403, "api.context.permissions.app_error"},
		{"not a member", f.carol, msg(""), 403, "api.context.permissions.app_error"},
		{"neither message nor attachments", f.bot, `{"channel_id":"` + f.alerts + `"}`, 400, "api.post.create_post.message_or_attachments.app_error"},
		{"attachments only", f.bot, `{"channel_id":"` + f.alerts + `","props":{"attachments":[{"text":"x"}]}}`, 201, ""},
		{"not json", f.bot, `channel_id=x`, 400, "api.context.invalid_body_param.app_error"},
		{"reply", f.bot, msg(`,"root_id":"` + root + `"`), 201, ""},
		{"root_id unknown", f.bot, msg(`,"root_id":"` + newID() + `"`), 400, "api.post.create_post.root_id.app_error"},
		{"root_id a reply", f.bot, msg(`,"root_id":"` + reply + `"`), 400, "api.post.create_post.root_id.app_error"},
		{"root_id in another channel", f.bot, msg(`,"root_id":"` + otherRoot + `"`), 400, "api.post.create_post.root_id.app_error"},
		{"root_id deleted", f.bot, msg(`,"root_id":"` + deleted + `"`), 400, "api.post.create_post.root_id.app_error"},
		{"priority", f.bot, msg(`,"metadata":{"priority":{"priority":"urgent","requested_ack":true}}`), 201, ""},
		{"priority on a reply", f.bot, msg(`,"root_id":"` + root + `","metadata":{"priority":{"priority":"urgent"}}`), 400, "api.post.post_priority.priority_post_only_allowed_for_root_post.request_error"},
		{"priority unknown", f.bot, msg(`,"metadata":{"priority":{"priority":"high"}}`), 400, "model.post.is_valid.priority.app_error"},
		{"priority missing", f.bot, msg(`,"metadata":{"priority":{"requested_ack":true}}`), 400, "model.post.is_valid.priority.app_error"},
		{"custom type", f.bot, msg(`,"type":"custom_gatewatch"`), 201, ""},
		{"system type", f.bot, msg(`,"type":"system_join"`), 400, "api.context.invalid_param.app_error"},
		{"card", f.bot, msg(`,"props":{"card":"**detail**"}`), 201, ""},
		{"card not a string", f.bot, msg(`,"props":{"card":{"a":1}}`), 400, "model.post.is_valid.props.app_error"},
		{"bad color", f.bot, msg(`,"props":{"attachments":[{"text":"x","color":"red"}]}`), 400, "model.post.is_valid.props.app_error"},
		{"title_link without title", f.bot, msg(`,"props":{"attachments":[{"text":"x","title_link":"http://x"}]}`), 400, "model.post.is_valid.props.app_error"},
		{"fields as object", f.bot, msg(`,"props":{"attachments":[{"text":"x","fields":{"title":"a"}}]}`), 400, "model.post.is_valid.props.app_error"},
		{"attachments not an array", f.bot, msg(`,"props":{"attachments":{"text":"x"}}`), 400, "model.post.is_valid.props.app_error"},
		{"buttons", f.bot, msg(`,"props":` + withActions(act("silence1h"), act("ack"))), 201, ""},
		{"button id generated", f.bot, msg(`,"props":` + withActions(act(""))), 201, ""},
		{"button id with -", f.bot, msg(`,"props":` + withActions(act("silence-1h"))), 400, "api.post.create_post.attachment_action.app_error"},
		{"button id with _", f.bot, msg(`,"props":` + withActions(act("silence_1h"))), 400, "api.post.create_post.attachment_action.app_error"},
		{"button id twice", f.bot, msg(`,"props":` + withActions(act("ack"), act("ack"))), 400, "api.post.create_post.attachment_action.app_error"},
		{"button without name", f.bot, msg(`,"props":` + withActions(`{"id":"a","integration":{"url":"http://x/y"}}`)), 400, "api.post.create_post.attachment_action.app_error"},
		{"button without integration", f.bot, msg(`,"props":` + withActions(`{"id":"a","name":"A"}`)), 400, "api.post.create_post.attachment_action.app_error"},
		{"button with a relative url", f.bot, msg(`,"props":` + withActions(`{"id":"a","name":"A","integration":{"url":"/hooks/act"}}`)), 400, "api.post.create_post.attachment_action.app_error"},
		{"button with an ftp url", f.bot, msg(`,"props":` + withActions(`{"id":"a","name":"A","integration":{"url":"ftp://x/y"}}`)), 400, "api.post.create_post.attachment_action.app_error"},
		{"button with a bad style", f.bot, msg(`,"props":` + withActions(`{"id":"a","name":"A","style":"loud","integration":{"url":"http://x/y"}}`)), 400, "api.post.create_post.attachment_action.app_error"},
		{"button with a context not an object", f.bot, msg(`,"props":` + withActions(`{"id":"a","name":"A","integration":{"url":"http://x/y","context":"s"}}`)), 400, "api.post.create_post.attachment_action.app_error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct := "application/json"
			if tc.name == "not json" {
				ct = "application/x-www-form-urlencoded"
			}
			a := apiCT(t, "POST", f.s.URL+"/api/v4/posts", tc.token, tc.body, ct)
			if tc.status == 201 {
				require.Equal(t, 201, a.status, a.body)
				require.Regexp(t, mmID, a.str("id"))
				return
			}
			requireError(t, a, tc.status, tc.id)
		})
	}
}

func TestRESTPostFields(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	var events []Event
	f.s.OnEvent(func(e Event) { mu.Lock(); events = append(events, e); mu.Unlock() })
	body := `{"channel_id":"` + f.alerts + `","message":"**firing**","props":{"card":"c","attachments":[{"title":"T","color":"#FF0000","text":"x",` +
		`"fields":[{"title":"route","value":"a","short":true}],"actions":[` +
		`{"id":"silence1h","name":"Silence 1h","style":"primary","integration":{"url":"http://127.0.0.1:1/act","context":{"fp":"abc","n":2}}}]}]},` +
		`"metadata":{"priority":{"priority":"important"}}}`
	a := api(t, "POST", f.s.URL+"/api/v4/posts", f.bot, body)
	require.Equal(t, 201, a.status, a.body)
	id := a.str("id")
	require.Regexp(t, mmID, id)
	require.Positive(t, a.num("create_at"))
	require.Equal(t, a.num("create_at"), a.num("update_at"))
	require.Zero(t, a.num("edit_at"))
	require.Zero(t, a.num("delete_at"))
	require.Equal(t, f.botID, a.str("user_id"))
	require.Equal(t, f.alerts, a.str("channel_id"))
	require.Equal(t, "", a.str("root_id"))
	require.Equal(t, "**firing**", a.str("message"))
	require.Equal(t, "", a.str("type"))
	props := a.body["props"].(map[string]any)
	require.Equal(t, "c", props["card"])
	action := props["attachments"].([]any)[0].(map[string]any)["actions"].([]any)[0].(map[string]any)
	require.Equal(t, "silence1h", action["id"])
	require.NotContains(t, action, "integration", "clients never see the integration")
	require.Equal(t, map[string]any{"priority": map[string]any{"priority": "important", "requested_ack": false}}, a.body["metadata"])

	got := api(t, "GET", f.s.URL+"/api/v4/posts/"+id, f.alice, "")
	require.Equal(t, 200, got.status)
	require.Equal(t, a.body, got.body)
	requireError(t, api(t, "GET", f.s.URL+"/api/v4/posts/"+newID(), f.bot, ""), 404, "app.post.get.app_error")

	p, ok := f.s.APIPost(id)
	require.True(t, ok)
	require.Equal(t, "gatewatch", p.UserName)
	require.Equal(t, "alerts", p.ChannelName)
	require.Equal(t, &Priority{Priority: "important"}, p.Priority)
	require.Equal(t, []Attachment{{Title: "T", Color: "#FF0000", Text: "x", Fields: []Field{{Title: "route", Value: "a", Short: true}}}}, p.Attachments)
	require.Equal(t, []Action{{ID: "silence1h", Name: "Silence 1h", Style: "primary", URL: "http://127.0.0.1:1/act", Context: map[string]any{"fp": "abc", "n": float64(2)}}}, p.Actions)
	p.Actions[0].Context["fp"] = "changed"
	again, _ := f.s.APIPost(id)
	require.Equal(t, "abc", again.Actions[0].Context["fp"], "APIPost hands out a copy")

	r := api(t, "POST", f.s.URL+"/api/v4/posts", f.bot, `{"channel_id":"`+f.alerts+`","message":"update","root_id":"`+id+`"}`)
	require.Equal(t, 201, r.status)
	require.Equal(t, id, r.str("root_id"))
	thread := f.s.Thread(id)
	require.Len(t, thread, 1)
	require.Equal(t, "update", thread[0].Message)
	require.Equal(t, float64(1), api(t, "GET", f.s.URL+"/api/v4/posts/"+id, f.bot, "").body["reply_count"])
	require.Len(t, f.s.APIPosts(), 2)

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, events, 2, "each event is delivered before the answer")
	require.Equal(t, "post", events[0].Kind)
	require.Equal(t, "reply", events[1].Kind)
}

func TestRESTPatchAndDelete(t *testing.T) {
	f := newFixture(t)
	id := f.post(t, `{"channel_id":"`+f.alerts+`","message":"firing","props":{"card":"old","attachments":[{"title":"t","color":"danger","text":"x"}]}}`)
	patch := f.s.URL + "/api/v4/posts/" + id + "/patch"

	a := api(t, "PUT", patch, f.bot, `{"message":"resolved","props":{"attachments":[{"title":"t","color":"good","text":"ok"}]}}`)
	require.Equal(t, 200, a.status, a.body)
	require.Equal(t, "resolved", a.str("message"))
	require.Equal(t, map[string]any{"attachments": []any{map[string]any{"title": "t", "color": "good", "text": "ok"}}}, a.body["props"], "props replaced entirely: card is gone")
	require.Positive(t, a.num("edit_at"))
	require.GreaterOrEqual(t, a.num("edit_at"), a.num("create_at"))
	require.Equal(t, a.num("edit_at"), a.num("update_at"))

	// Only the message: the props stay.
	b := api(t, "PUT", patch, f.bot, `{"message":"resolved again"}`)
	require.Equal(t, 200, b.status)
	require.Equal(t, a.body["props"], b.body["props"])

	edits := f.s.Edits()
	require.Len(t, edits, 2)
	require.Equal(t, "gatewatch", edits[0].By)
	require.Equal(t, "firing", edits[0].Before.Message)
	require.Equal(t, "old", edits[0].Before.Props["card"])
	require.Equal(t, "resolved", edits[0].After.Message)
	require.Equal(t, "good", edits[0].After.Attachments[0].Color)

	requireError(t, api(t, "PUT", patch, f.alice, `{"message":"mine now"}`), 403, "api.post.update_post.permissions_details.app_error")
	requireError(t, api(t, "PUT", patch, f.bot, `{"message":"`+strings.Repeat("x", MaxRunes+1)+`"}`), 400, "model.post.is_valid.message_length.app_error")
	requireError(t, api(t, "PUT", patch, f.bot, `{"props":`+withActions(strings.Replace(button, "%s", "a-b", 1))+`}`), 400, "api.post.create_post.attachment_action.app_error")
	p, _ := f.s.APIPost(id)
	require.Equal(t, "resolved again", p.Message, "refused patches change nothing")

	reply := f.post(t, `{"channel_id":"`+f.alerts+`","message":"r","root_id":"`+id+`"}`)
	requireError(t, api(t, "DELETE", f.s.URL+"/api/v4/posts/"+id, f.carol, ""), 403, "api.context.permissions.app_error")
	del := api(t, "DELETE", f.s.URL+"/api/v4/posts/"+id, f.alice, "")
	require.Equal(t, 200, del.status)
	require.Equal(t, "OK", del.str("status"))

	requireError(t, api(t, "GET", f.s.URL+"/api/v4/posts/"+id, f.bot, ""), 404, "app.post.get.app_error")
	requireError(t, api(t, "PUT", patch, f.bot, `{"message":"x"}`), 404, "app.post.get.app_error")
	requireError(t, api(t, "DELETE", f.s.URL+"/api/v4/posts/"+id, f.alice, ""), 404, "app.post.get.app_error")
	requireError(t, api(t, "GET", f.s.URL+"/api/v4/posts/"+reply, f.bot, ""), 404, "app.post.get.app_error")
	p, _ = f.s.APIPost(id)
	require.Positive(t, p.DeleteAt)
	require.Positive(t, f.s.Thread(id)[0].DeleteAt, "the replies go with the root")
	requireError(t, api(t, "POST", f.s.URL+"/api/v4/posts", f.bot, `{"channel_id":"`+f.alerts+`","message":"m","root_id":"`+id+`"}`), 400, "api.post.create_post.root_id.app_error")

	other := f.post(t, `{"channel_id":"`+f.alerts+`","message":"m"}`)
	require.True(t, f.s.DeletePost(other))
	require.False(t, f.s.DeletePost(other))
}

// integration is an httptest server standing for gatewatch's action endpoint.
type integration struct {
	*httptest.Server
	mu       sync.Mutex
	requests []map[string]any
	headers  []http.Header
	status   int
	answer   string
}

func newIntegration(t *testing.T) *integration {
	in := &integration{status: 200}
	in.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		in.mu.Lock()
		in.requests = append(in.requests, body)
		in.headers = append(in.headers, r.Header.Clone())
		status, ans := in.status, in.answer
		in.mu.Unlock()
		w.WriteHeader(status)
		_, _ = io.WriteString(w, ans)
	}))
	t.Cleanup(in.Close)
	return in
}

func (in *integration) reply(status int, answer string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.status, in.answer = status, answer
}

func (in *integration) got() []map[string]any {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]map[string]any(nil), in.requests...)
}

func buttonsPost(f fixture, url string) string {
	return `{"channel_id":"` + f.alerts + `","message":"firing","props":{"attachments":[{"title":"t","color":"danger","text":"x","actions":[` +
		`{"id":"silence1h","name":"Silence 1h","integration":{"url":"` + url + `","context":{"fp":"abc","n":2,"sig":"s1"}}},` +
		`{"id":"ack","name":"Acknowledge","style":"good","integration":{"url":"` + url + `","context":{"fp":"abc"}}}]}]}}`
}

func TestRESTClick(t *testing.T) {
	f := newFixture(t)
	in := newIntegration(t)
	var mu sync.Mutex
	var kinds []string
	f.s.OnEvent(func(e Event) { mu.Lock(); kinds = append(kinds, e.Kind); mu.Unlock() })
	id := f.post(t, buttonsPost(f, in.URL+"/act"))

	in.reply(200, `{"update":{"message":"silenced by alice","props":{"attachments":[{"title":"t","color":"good","text":"silenced"}]}},"ephemeral_text":"Silenced for 1h"}`)
	a := api(t, "POST", f.s.URL+"/api/v4/posts/"+id+"/actions/silence1h", f.alice, "{}")
	require.Equal(t, 200, a.status, a.body)
	require.Equal(t, "OK", a.str("status"))

	reqs := in.got()
	require.Len(t, reqs, 1)
	r := reqs[0]
	require.Equal(t, "application/json", in.headers[0].Get("Content-Type"))
	require.Equal(t, f.aliceID, r["user_id"])
	require.Equal(t, "alice", r["user_name"])
	require.Equal(t, f.alerts, r["channel_id"])
	require.Equal(t, "alerts", r["channel_name"])
	require.Equal(t, f.team, r["team_id"])
	require.Equal(t, "ops", r["team_domain"])
	require.Equal(t, id, r["post_id"])
	require.Regexp(t, mmID, r["trigger_id"])
	require.Equal(t, a.str("trigger_id"), r["trigger_id"])
	require.Equal(t, "", r["type"])
	require.Equal(t, "", r["data_source"])
	require.Equal(t, map[string]any{"fp": "abc", "n": float64(2), "sig": "s1"}, r["context"], "the context round-trips")

	p, _ := f.s.APIPost(id)
	require.Equal(t, "silenced by alice", p.Message)
	require.Empty(t, p.Actions, "the update's props replaced the buttons")
	require.Positive(t, p.EditAt)
	edits := f.s.Edits()
	require.Len(t, edits, 1)
	require.Equal(t, "gatewatch", edits[0].By, "an update is an edit by the post's author")
	require.Len(t, edits[0].Before.Actions, 2)
	require.Equal(t, []Ephemeral{{UserName: "alice", ChannelID: f.alerts, RootID: id, Message: "Silenced for 1h", At: f.s.Ephemerals()[0].At}}, f.s.Ephemerals())
	d := f.s.Dispatches()
	require.Len(t, d, 1)
	require.Equal(t, in.URL+"/act", d[0].URL)
	require.Equal(t, 200, d[0].Status)
	require.Equal(t, "silence1h", d[0].ActionID)
	var sent map[string]any
	require.NoError(t, json.Unmarshal(d[0].Body, &sent))
	require.Equal(t, r, sent)
	mu.Lock()
	require.Equal(t, []string{"post", "click", "edit", "ephemeral"}, kinds)
	mu.Unlock()

	t.Run("integration refuses", func(t *testing.T) {
		id := f.post(t, buttonsPost(f, in.URL+"/act"))
		before, _ := f.s.APIPost(id)
		in.reply(401, `{"error":"bad signature"}`)
		a := api(t, "POST", f.s.URL+"/api/v4/posts/"+id+"/actions/ack", f.alice, "")
		requireError(t, a, 400, "api.post.do_action.action_integration.app_error")
		require.Contains(t, a.str("detailed_error"), "status=401")
		after, _ := f.s.APIPost(id)
		require.Equal(t, before, after, "the post is unchanged")
		d := f.s.Dispatches()
		require.Equal(t, 401, d[len(d)-1].Status)
	})

	t.Run("only 200 is success", func(t *testing.T) {
		id := f.post(t, buttonsPost(f, in.URL+"/act"))
		in.reply(204, "")
		a := api(t, "POST", f.s.URL+"/api/v4/posts/"+id+"/actions/ack", f.alice, "{}")
		requireError(t, a, 400, "api.post.do_action.action_integration.app_error")
		require.Contains(t, a.str("detailed_error"), "status=204")
	})

	t.Run("unknown action", func(t *testing.T) {
		id := f.post(t, buttonsPost(f, in.URL+"/act"))
		n := len(in.got())
		requireError(t, api(t, "POST", f.s.URL+"/api/v4/posts/"+id+"/actions/nosuch", f.alice, "{}"), 404, "api.post.do_action.action_id.app_error")
		requireError(t, api(t, "POST", f.s.URL+"/api/v4/posts/"+id+"/actions/silence-1h", f.alice, "{}"), 404, "api.context.404.app_error")
		requireError(t, api(t, "POST", f.s.URL+"/api/v4/posts/"+newID()+"/actions/ack", f.alice, "{}"), 404, "app.post.get.app_error")
		requireError(t, api(t, "POST", f.s.URL+"/api/v4/posts/"+id+"/actions/ack", f.carol, "{}"), 403, "api.context.permissions.app_error")
		require.Len(t, in.got(), n, "nothing was dispatched")
	})

	t.Run("Click helper", func(t *testing.T) {
		id := f.post(t, buttonsPost(f, in.URL+"/act"))
		in.reply(200, "")
		res, err := f.s.Click("alice", id, "ack")
		require.NoError(t, err)
		require.Equal(t, ClickResult{Status: 200}, res, "an empty answer does nothing")

		in.reply(200, `{"update":{"message":"acked"}}`)
		res, err = f.s.Click("alice", id, "ack")
		require.NoError(t, err)
		require.Equal(t, ClickResult{Status: 200, Updated: true}, res)
		p, _ := f.s.APIPost(id)
		require.Equal(t, "acked", p.Message)
		require.Len(t, p.Actions, 2, "an update without props keeps them")

		in.reply(200, `{"update":{"props":{}}}`)
		res, err = f.s.Click("alice", id, "ack")
		require.NoError(t, err)
		require.True(t, res.Updated)
		p, _ = f.s.APIPost(id)
		require.Equal(t, "", p.Message, "an update without message empties it, as in Mattermost")
		require.Empty(t, p.Actions)

		_, err = f.s.Click("alice", id, "ack")
		require.ErrorContains(t, err, "api.post.do_action.action_id.app_error")
		_, err = f.s.Click("nobody", id, "ack")
		require.ErrorContains(t, err, "unknown user")
	})

	t.Run("integration unreachable", func(t *testing.T) {
		gone := httptest.NewServer(http.NotFoundHandler())
		gone.Close()
		id := f.post(t, buttonsPost(f, gone.URL+"/act"))
		res, err := f.s.Click("alice", id, "ack")
		require.NoError(t, err)
		require.Zero(t, res.Status)
		require.Contains(t, res.Err, "api.post.do_action.action_integration.app_error")
		d := f.s.Dispatches()
		require.NotEmpty(t, d[len(d)-1].Err)
	})

	t.Run("invalid update", func(t *testing.T) {
		id := f.post(t, buttonsPost(f, in.URL+"/act"))
		in.reply(200, `{"update":{"message":"m","props":`+withActions(strings.Replace(button, "%s", "a_b", 1))+`}}`)
		a := api(t, "POST", f.s.URL+"/api/v4/posts/"+id+"/actions/ack", f.alice, "{}")
		requireError(t, a, 400, "api.post.create_post.attachment_action.app_error")
		p, _ := f.s.APIPost(id)
		require.Equal(t, "firing", p.Message)
	})
}

func TestRESTFaults(t *testing.T) {
	f := newFixture(t)
	body := `{"channel_id":"` + f.alerts + `","message":"m"}`

	f.s.FailNext(1, 500)
	requireError(t, api(t, "POST", f.s.URL+"/api/v4/posts", f.bot, body), 500, "app.post.save.app_error")
	require.Empty(t, f.s.APIPosts())
	rej := f.s.Rejected()
	require.Equal(t, Rejection{Path: "/api/v4/posts", Status: 500, ID: "app.post.save.app_error", Message: "Unable to save the post."}, rej[len(rej)-1])

	f.s.RateLimitNext(1, "3")
	a := api(t, "GET", f.s.URL+"/api/v4/users/me", f.bot, "")
	requireError(t, a, 429, "api.context.rate_limit.app_error")
	require.Equal(t, "3", a.header.Get("Retry-After"))

	f.s.ResetNext(1)
	req, err := http.NewRequest("POST", f.s.URL+"/api/v4/posts", bytes.NewReader([]byte(body)))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+f.bot)
	req.Header.Set("Content-Type", "application/json")
	_, err = http.DefaultClient.Do(req)
	require.Error(t, err)

	f.s.SetWebhooksEnabled(false) // webhooks only
	require.Equal(t, 201, api(t, "POST", f.s.URL+"/api/v4/posts", f.bot, body).status)
	require.Len(t, f.s.APIPosts(), 1)

	big := `{"channel_id":"` + f.alerts + `","message":"` + strings.Repeat("a", DefaultMaxBody) + `"}`
	requireError(t, api(t, "POST", f.s.URL+"/api/v4/posts", f.bot, big), 413, "api.context.request_body_too_large.app_error")
}

func TestPrintEvent(t *testing.T) {
	root := APIPost{ID: "p1", ChannelName: "alerts", UserName: "gatewatch", Message: "**firing**",
		Attachments: []Attachment{{Title: "421s", Color: "danger", Text: "a\nb", Fields: []Field{{Title: "route", Value: "x"}}, Footer: "gatewatch"}},
		Actions:     []Action{{Name: "Silence 1h"}, {Name: "Silence 24h"}, {Name: "Acknowledge"}}}
	edited := root
	edited.Message, edited.Actions = "silenced", nil
	for _, tc := range []struct {
		name string
		e    Event
		want []string
	}{
		{"post", Event{Kind: "post", Post: root}, []string{"--- Mattermost post p1 to ~alerts by gatewatch", "**firing**", "| 421s [danger]", "| route: x", "| gatewatch", "[buttons: Silence 1h · Silence 24h · Acknowledge]"}},
		{"reply", Event{Kind: "reply", Post: APIPost{ID: "p2", RootID: "p1", Message: "still firing"}}, []string{"  ↳ reply in thread p1:", "    still firing"}},
		{"edit", Event{Kind: "edit", Post: edited, Before: &root, UserName: "gatewatch"}, []string{"--- post p1 edited", "silenced", "| 421s [danger]", "[buttons removed]"}},
		{"delete", Event{Kind: "delete", Post: root, UserName: "alice"}, []string{"--- post p1 deleted by @alice"}},
		{"ephemeral", Event{Kind: "ephemeral", Post: root, UserName: "alice", Text: "Silenced for 1h"}, []string{"(only visible to @alice) Silenced for 1h"}},
		{"click", Event{Kind: "click", Post: root, UserName: "alice", Text: "Silence 1h", Status: 200}, []string{"@alice clicked Silence 1h on p1 → 200"}},
		{"click unreachable", Event{Kind: "click", Post: root, UserName: "alice", Text: "Acknowledge"}, []string{"@alice clicked Acknowledge on p1 → unreachable"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			PrintEvent(&b, tc.e)
			for _, w := range tc.want {
				require.Contains(t, b.String(), w)
			}
		})
	}
}

package inbox

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func post(t *testing.T, url, contentType, body string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Post(url, contentType, strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b), resp.Header
}

// TestWireRules checks each rule of DESIGN.md's Mattermost section.
func TestWireRules(t *testing.T) {
	s, err := Start("127.0.0.1:0")
	require.NoError(t, err)
	defer s.Close()
	hook := s.AddHook("hook1", "alerts", true)
	open := s.AddHook("hook2", "alerts", false)
	s.AddChannel("ops")

	for _, tc := range []struct {
		name, url, body string
		status          int
		message         string
	}{
		{"text only", hook, `{"text":"hello"}`, 200, ""},
		{"attachments only", hook, `{"attachments":[{"title":"t","text":"x","color":"danger"}]}`, 200, ""},
		{"neither text nor attachments", hook, `{"username":"x"}`, 400, "text or attachments is required"},
		{"not json", hook, `text=hello`, 400, "Unable to parse incoming data"},
		{"hex color", hook, `{"attachments":[{"text":"x","color":"#FF00aa"}]}`, 200, ""},
		{"bad color", hook, `{"attachments":[{"text":"x","color":"red"}]}`, 400, "color \"red\""},
		{"title_link without title", hook, `{"attachments":[{"text":"x","title_link":"http://x"}]}`, 400, "title_link needs a title"},
		{"fields as object", hook, `{"attachments":[{"text":"x","fields":{"title":"a","value":"b"}}]}`, 400, "fields must be an array"},
		{"fields as array", hook, `{"attachments":[{"text":"x","fields":[{"title":"a","value":"b","short":true}]}]}`, 200, ""},
		{"custom type", hook, `{"text":"x","type":"custom_gatewatch"}`, 200, ""},
		{"invalid type", hook, `{"text":"x","type":"system_join"}`, 500, "invalid type"},
		{"priority without priority", hook, `{"text":"x","priority":{"requested_ack":true}}`, 400, "priority.priority is required"},
		{"priority important", hook, `{"text":"x","priority":{"priority":"important"}}`, 200, ""},
		{"priority unknown", hook, `{"text":"x","priority":{"priority":"high"}}`, 400, "must be important or urgent"},
		{"slack keys ignored", hook, `{"text":"*bold*","mrkdwn_in":["text"],"link_names":1}`, 200, ""},
		{"locked hook, other channel", hook, `{"text":"x","channel":"ops"}`, 403, "not permitted"},
		{"open hook, other channel", open, `{"text":"x","channel":"ops"}`, 200, ""},
		{"open hook, unknown channel", open, `{"text":"x","channel":"nope"}`, 404, "Couldn't find the channel"},
		{"unknown hook", s.URL + "/hooks/nope", `{"text":"x"}`, 400, "Invalid webhook"},
		{"props card", hook, `{"text":"x","props":{"card":"**detail**"}}`, 200, ""},
		{"props card not a string", hook, `{"text":"x","props":{"card":{"a":1}}}`, 400, "props.card must be a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct := "application/json"
			if tc.name == "not json" {
				ct = "application/x-www-form-urlencoded"
			}
			status, body, hdr := post(t, tc.url, ct, tc.body)
			require.Equal(t, tc.status, status, body)
			if status == 200 {
				require.Equal(t, "ok", body)
				require.Equal(t, "text/plain", hdr.Get("Content-Type"))
				return
			}
			var e struct {
				ID, Message, RequestID string
				StatusCode             int `json:"status_code"`
			}
			require.NoError(t, json.Unmarshal([]byte(body), &e))
			require.Contains(t, e.Message, tc.message)
			require.Equal(t, tc.status, e.StatusCode)
			require.NotEmpty(t, e.ID)
		})
	}
	var ignored []string
	for _, p := range s.Posts() {
		ignored = append(ignored, p.IgnoredKeys...)
	}
	require.ElementsMatch(t, []string{"mrkdwn_in", "link_names"}, ignored)
}

func TestLimitsAndFaults(t *testing.T) {
	s, err := Start("127.0.0.1:0")
	require.NoError(t, err)
	defer s.Close()
	hook := s.AddHook("h", "alerts", false)

	// A text over 16383 runes becomes several posts.
	long := strings.Repeat("é", MaxRunes+10)
	status, _, _ := post(t, hook, "application/json", `{"text":"`+long+`"}`)
	require.Equal(t, 200, status)
	posts := s.Posts()
	require.Len(t, posts, 2)
	require.Equal(t, 2, posts[0].Parts)

	// Over the body limit: 413.
	big := strings.Repeat("a", DefaultMaxBody)
	status, _, _ = post(t, hook, "application/json", `{"text":"`+big+`"}`)
	require.Equal(t, 413, status)

	s.FailNext(1, 503)
	status, _, _ = post(t, hook, "application/json", `{"text":"x"}`)
	require.Equal(t, 503, status)

	s.RateLimitNext(1, "2")
	status, body, hdr := post(t, hook, "application/json", `{"text":"x"}`)
	require.Equal(t, 429, status)
	require.Equal(t, "2", hdr.Get("Retry-After"))
	require.Contains(t, body, "limit exceeded")

	s.ResetNext(1)
	_, err = http.Post(hook, "application/json", strings.NewReader(`{"text":"x"}`))
	require.Error(t, err)

	s.SetWebhooksEnabled(false)
	status, _, _ = post(t, hook, "application/json", `{"text":"x"}`)
	require.Equal(t, 501, status)
	s.SetWebhooksEnabled(true)

	status, _, _ = post(t, hook, "application/json", `{"text":"after"}`)
	require.Equal(t, 200, status)
	require.Equal(t, "after", s.Posts()[len(s.Posts())-1].Message)
}

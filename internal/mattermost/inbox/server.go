// Package inbox is a strict Mattermost stand-in: `gatewatch inbox`, the
// demo's inbox, and the Mattermost of the tests. It serves incoming webhooks
// and the REST API v4 subset a bot uses (rest.go), and answers as Mattermost
// does.
//
// Webhooks (POST /hooks/<id>) follow the wire rules in DESIGN.md (text or
// attachments, colours, title_link needs title, fields as an array, type
// empty or custom_*, the priority shape, the 16383-rune split, the body
// limit, locked channels, unknown hooks): 200 text/plain "ok".
//
// The REST API (/api/v4/, a bearer token of a user or bot) covers users/me,
// channels by name, channel members, creating, reading, patching and deleting
// posts with threads, priority and interactive buttons, and the click on a
// button, which the server dispatches to the button's integration URL and
// whose answer (update, ephemeral_text) it applies. See "Bot mode" in
// DESIGN.md.
//
// Every refusal is a JSON error {id, message, detailed_error, request_id,
// status_code}. Faults can be switched on for every request: 5xx, 429 with
// Retry-After, slow answers, connection resets; and webhooks disabled.
package inbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// MaxRunes is the longest text Mattermost keeps in one post.
const MaxRunes = 16383

// DefaultMaxBody is the request body limit (413 above it).
const DefaultMaxBody = 128 << 10

// Post is one post the server created. A long text makes several posts.
type Post struct {
	HookID   string
	Channel  string
	Username string
	IconURL  string
	Message  string
	// Part and Parts number the posts a long text was split into (1 of 1 usually).
	Part, Parts int
	Attachments []Attachment
	Props       map[string]any
	Priority    *Priority
	Type        string
	// IgnoredKeys are Slack-only keys Mattermost ignores (mrkdwn_in, link_names, blocks).
	IgnoredKeys []string
	Received    time.Time
}

// Attachment is an accepted attachment.
type Attachment struct {
	Fallback, Color, Pretext, AuthorName, AuthorLink, AuthorIcon   string
	Title, TitleLink, Text, ImageURL, ThumbURL, Footer, FooterIcon string
	Fields                                                         []Field
}

// Field is an accepted attachment field.
type Field struct {
	Title string
	Value string
	Short bool
}

// Priority is an accepted post priority.
type Priority struct {
	Priority     string
	RequestedAck bool
}

// Rejection is a request the server refused, with its answer.
type Rejection struct {
	// HookID is the webhook's id, for requests outside /api/v4/.
	HookID string
	// Path is the request path, for REST requests (/api/v4/...).
	Path    string
	Status  int
	ID      string
	Message string
}

// Hook is an incoming webhook: its default channel, and whether it may
// only post there.
type Hook struct {
	ID      string
	Channel string
	Locked  bool
}

type fault struct {
	status     int
	retryAfter string
	reset      bool
}

// Server is the strict Mattermost stand-in (webhooks and REST API v4).
type Server struct {
	// URL is the base URL, e.g. http://127.0.0.1:41234.
	URL string

	srv *http.Server
	ln  net.Listener

	mu       sync.Mutex
	hooks    map[string]Hook
	channels map[string]bool
	posts    []Post
	rejected []Rejection
	requests int
	faults   []fault
	delay    time.Duration
	disabled bool
	maxBody  int
	onPost   func(Post)
	reqSeq   int
	api      restState
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves until Close.
func Start(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("mmtest: listen %s: %w", addr, err)
	}
	s := &Server{
		URL:      "http://" + ln.Addr().String(),
		ln:       ln,
		hooks:    map[string]Hook{},
		channels: map[string]bool{"town-square": true, "off-topic": true},
		maxBody:  DefaultMaxBody,
	}
	s.initREST()
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// AddHook creates a webhook posting to channel (created if new) and returns its URL.
func (s *Server) AddHook(id, channel string, locked bool) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks[id] = Hook{ID: id, Channel: channel, Locked: locked}
	s.channels[channel] = true
	return s.URL + "/hooks/" + id
}

// AddChannel makes a channel exist (posting to others is 404).
func (s *Server) AddChannel(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.channels[name] = true
}

// OnPost calls f for every accepted post (e.g. to print it).
func (s *Server) OnPost(f func(Post)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onPost = f
}

// FailNext answers the next n requests with status (a 5xx, usually).
func (s *Server) FailNext(n, status int) { s.addFaults(n, fault{status: status}) }

// RateLimitNext answers the next n requests 429 with Retry-After.
func (s *Server) RateLimitNext(n int, retryAfter string) {
	s.addFaults(n, fault{status: http.StatusTooManyRequests, retryAfter: retryAfter})
}

// ResetNext closes the connection of the next n requests without an answer.
func (s *Server) ResetNext(n int) { s.addFaults(n, fault{reset: true}) }

func (s *Server) addFaults(n int, f fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < n; i++ {
		s.faults = append(s.faults, f)
	}
}

// SetDelay makes every answer wait d.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SetWebhooksEnabled switches incoming webhooks off (501) or on.
func (s *Server) SetWebhooksEnabled(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.disabled = !on
}

// Posts returns the accepted posts, oldest first.
func (s *Server) Posts() []Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Post(nil), s.posts...)
}

// Rejected returns the refused requests.
func (s *Server) Rejected() []Rejection {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Rejection(nil), s.rejected...)
}

// Requests returns how many requests arrived.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// ServeHTTP handles /hooks/<id> and, in rest.go, /api/v4/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	s.reqSeq++
	reqID := fmt.Sprintf("req%06d", s.reqSeq)
	var f *fault
	if len(s.faults) > 0 {
		f = &s.faults[0]
		s.faults = s.faults[1:]
	}
	delay, disabled, maxBody := s.delay, s.disabled, s.maxBody
	s.mu.Unlock()

	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	hookID := strings.TrimPrefix(r.URL.Path, "/hooks/")
	isAPI := strings.HasPrefix(r.URL.Path, "/api/v4/")
	base := Rejection{HookID: hookID}
	if isAPI {
		base = Rejection{Path: r.URL.Path}
	}
	if f != nil {
		switch {
		case f.reset:
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					if tc, ok := conn.(*net.TCPConn); ok {
						_ = tc.SetLinger(0) // RST, not FIN
					}
					conn.Close()
					return
				}
			}
		case f.status == http.StatusTooManyRequests:
			if f.retryAfter != "" {
				w.Header().Set("Retry-After", f.retryAfter)
			}
			s.reject(w, base, reqID, f.status, "api.context.rate_limit.app_error", "limit exceeded", "")
			return
		default:
			s.reject(w, base, reqID, f.status, "app.post.save.app_error", "Unable to save the post.", "injected fault")
			return
		}
	}
	if isAPI {
		s.serveAPI(w, r, reqID, maxBody)
		return
	}

	if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/hooks/") || hookID == "" || strings.Contains(hookID, "/") {
		s.fail(w, hookID, reqID, http.StatusNotFound, "api.context.404.app_error", "Sorry, we could not find the page.", "")
		return
	}
	if disabled {
		s.fail(w, hookID, reqID, http.StatusNotImplemented, "web.incoming_webhook.disabled.app_error", "Incoming webhooks have been disabled by the system admin.", "")
		return
	}
	s.mu.Lock()
	hook, ok := s.hooks[hookID]
	s.mu.Unlock()
	if !ok {
		s.fail(w, hookID, reqID, http.StatusBadRequest, "web.incoming_webhook.invalid.app_error", "Invalid webhook.", "")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(maxBody)+1))
	if err != nil {
		s.fail(w, hookID, reqID, http.StatusBadRequest, "web.incoming_webhook.parse.app_error", "Unable to parse incoming data.", err.Error())
		return
	}
	if len(body) > maxBody {
		s.fail(w, hookID, reqID, http.StatusRequestEntityTooLarge, "api.context.request_body_too_large.app_error", "Request body too large.", fmt.Sprintf("limit is %d bytes", maxBody))
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		s.fail(w, hookID, reqID, http.StatusBadRequest, "web.incoming_webhook.parse.app_error", "Unable to parse incoming data.", "content type "+ct+" is not application/json")
		return
	}
	p, status, id, msg := parse(body)
	if status != 0 {
		s.fail(w, hookID, reqID, status, id, msg, "")
		return
	}
	channel := hook.Channel
	if p.channel != "" && p.channel != hook.Channel {
		if hook.Locked {
			s.fail(w, hookID, reqID, http.StatusForbidden, "web.incoming_webhook.channel_locked.app_error", "This webhook is not permitted to post to the requested channel.", "")
			return
		}
		s.mu.Lock()
		exists := s.channels[p.channel] || strings.HasPrefix(p.channel, "@")
		s.mu.Unlock()
		if !exists {
			s.fail(w, hookID, reqID, http.StatusNotFound, "web.incoming_webhook.channel.app_error", "Couldn't find the channel.", "")
			return
		}
		channel = p.channel
	}
	s.accept(hook, channel, p)
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("ok"))
}

func (s *Server) accept(hook Hook, channel string, p parsed) {
	parts := splitRunes(p.text, MaxRunes)
	now := time.Now()
	s.mu.Lock()
	var created []Post
	for i, part := range parts {
		post := Post{HookID: hook.ID, Channel: channel, Username: p.username, IconURL: p.iconURL, Message: part,
			Part: i + 1, Parts: len(parts), Props: p.props, Priority: p.priority, Type: p.typ, IgnoredKeys: p.ignored, Received: now}
		if i == len(parts)-1 {
			post.Attachments = p.attachments // attachments stay with the last part
		}
		s.posts = append(s.posts, post)
		created = append(created, post)
	}
	onPost := s.onPost
	s.mu.Unlock()
	if onPost != nil {
		for _, post := range created {
			onPost(post)
		}
	}
}

func splitRunes(s string, n int) []string {
	if utf8.RuneCountInString(s) <= n {
		return []string{s}
	}
	var out []string
	r := []rune(s)
	for len(r) > n {
		out = append(out, string(r[:n]))
		r = r[n:]
	}
	return append(out, string(r))
}

func (s *Server) fail(w http.ResponseWriter, hookID, reqID string, status int, id, msg, detail string) {
	s.reject(w, Rejection{HookID: hookID}, reqID, status, id, msg, detail)
}

// reject records base completed with the answer and writes Mattermost's JSON error.
func (s *Server) reject(w http.ResponseWriter, base Rejection, reqID string, status int, id, msg, detail string) {
	base.Status, base.ID, base.Message = status, id, msg
	s.mu.Lock()
	s.rejected = append(s.rejected, base)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"id": id, "message": msg, "detailed_error": detail, "request_id": reqID, "status_code": status,
	})
}

type parsed struct {
	text, channel, username, iconURL, typ string
	attachments                           []Attachment
	props                                 map[string]any
	priority                              *Priority
	ignored                               []string
}

var (
	hexColor   = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
	slackOnly  = map[string]bool{"mrkdwn_in": true, "link_names": true, "blocks": true, "mrkdwn": true, "unfurl_links": true, "unfurl_media": true}
	knownKeys  = map[string]bool{"text": true, "channel": true, "username": true, "icon_url": true, "icon_emoji": true, "attachments": true, "props": true, "type": true, "priority": true}
	attachKeys = map[string]bool{"fallback": true, "color": true, "pretext": true, "author_name": true, "author_link": true, "author_icon": true, "title": true, "title_link": true, "text": true, "fields": true, "image_url": true, "thumb_url": true, "footer": true, "footer_icon": true, "ts": true, "id": true, "actions": true}
)

func bad(msg string) (parsed, int, string, string) {
	return parsed{}, http.StatusBadRequest, "web.incoming_webhook.parse.app_error", msg
}

// parse enforces the payload rules; status 0 means accepted.
func parse(body []byte) (parsed, int, string, string) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&raw); err != nil {
		return bad("Unable to parse incoming data: " + err.Error())
	}
	var p parsed
	str := func(key string) (string, bool) {
		v, ok := raw[key]
		if !ok || string(v) == "null" {
			return "", true
		}
		var s string
		return s, json.Unmarshal(v, &s) == nil
	}
	for key := range raw {
		switch {
		case knownKeys[key]:
		case slackOnly[key]:
			p.ignored = append(p.ignored, key)
		}
	}
	var ok bool
	for key, dst := range map[string]*string{"text": &p.text, "channel": &p.channel, "username": &p.username, "icon_url": &p.iconURL, "type": &p.typ} {
		if *dst, ok = str(key); !ok {
			return bad(fmt.Sprintf("%q must be a string", key))
		}
	}
	if v, has := raw["attachments"]; has && string(v) != "null" {
		var list []map[string]json.RawMessage
		if err := json.Unmarshal(v, &list); err != nil {
			return bad("attachments must be an array of objects")
		}
		for i, a := range list {
			att, msg := parseAttachment(a)
			if msg != "" {
				return bad(fmt.Sprintf("attachments[%d]: %s", i, msg))
			}
			p.attachments = append(p.attachments, att)
		}
	}
	if strings.TrimSpace(p.text) == "" && len(p.attachments) == 0 {
		return bad("Unable to parse incoming data: text or attachments is required.")
	}
	if v, has := raw["props"]; has && string(v) != "null" {
		if err := json.Unmarshal(v, &p.props); err != nil {
			return bad("props must be an object")
		}
		if c, has := p.props["card"]; has {
			if _, isStr := c.(string); !isStr {
				return bad("props.card must be a string")
			}
		}
	}
	if v, has := raw["priority"]; has && string(v) != "null" {
		var pr struct {
			Priority     *string `json:"priority"`
			RequestedAck bool    `json:"requested_ack"`
		}
		if err := json.Unmarshal(v, &pr); err != nil {
			return bad("priority must be an object")
		}
		if pr.Priority == nil || *pr.Priority == "" {
			return bad("priority.priority is required")
		}
		if *pr.Priority != "important" && *pr.Priority != "urgent" {
			return bad(fmt.Sprintf("priority.priority %q: must be important or urgent", *pr.Priority))
		}
		p.priority = &Priority{Priority: *pr.Priority, RequestedAck: pr.RequestedAck}
	}
	if p.typ != "" && !strings.HasPrefix(p.typ, "custom_") {
		return parsed{}, http.StatusInternalServerError, "api.post.create_post.type.app_error", "Unable to create the post: invalid type " + p.typ
	}
	return p, 0, "", ""
}

func parseAttachment(a map[string]json.RawMessage) (Attachment, string) {
	var att Attachment
	dst := map[string]*string{
		"fallback": &att.Fallback, "color": &att.Color, "pretext": &att.Pretext, "author_name": &att.AuthorName,
		"author_link": &att.AuthorLink, "author_icon": &att.AuthorIcon, "title": &att.Title, "title_link": &att.TitleLink,
		"text": &att.Text, "image_url": &att.ImageURL, "thumb_url": &att.ThumbURL, "footer": &att.Footer, "footer_icon": &att.FooterIcon,
	}
	for key, v := range a {
		if !attachKeys[key] {
			continue
		}
		if d, isStr := dst[key]; isStr && string(v) != "null" {
			if err := json.Unmarshal(v, d); err != nil {
				return att, fmt.Sprintf("%s must be a string", key)
			}
		}
	}
	switch att.Color {
	case "", "good", "warning", "danger":
	default:
		if !hexColor.MatchString(att.Color) {
			return att, fmt.Sprintf("color %q: must be good, warning, danger or #RRGGBB", att.Color)
		}
	}
	if att.TitleLink != "" && att.Title == "" {
		return att, "title_link needs a title"
	}
	if v, has := a["fields"]; has && string(v) != "null" {
		var fields []struct {
			Title *string         `json:"title"`
			Value json.RawMessage `json:"value"`
			Short *bool           `json:"short"`
		}
		if err := json.Unmarshal(v, &fields); err != nil {
			return att, "fields must be an array of {title, value, short}"
		}
		for i, f := range fields {
			if f.Title == nil {
				return att, fmt.Sprintf("fields[%d].title is required", i)
			}
			var val string
			if len(f.Value) > 0 && string(f.Value) != "null" {
				if err := json.Unmarshal(f.Value, &val); err != nil {
					val = string(f.Value) // numbers are shown as written
				}
			}
			att.Fields = append(att.Fields, Field{Title: *f.Title, Value: val, Short: f.Short != nil && *f.Short})
		}
	}
	return att, ""
}

package inbox

// The REST API v4 subset a bot uses, validated as the real Mattermost server
// does, plus the interactive-button round trip (a user's click, the dispatch
// to the integration, the answer applied).

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// ActionTimeout bounds the dispatch of a click to an integration URL.
const ActionTimeout = 10 * time.Second

// maxAnswer is the most of an integration's answer the server reads.
const maxAnswer = 1 << 20

// APIPost is a post created through the REST API, in its current state.
type APIPost struct {
	ID       string
	CreateAt int64 // ms since the epoch, as every time below
	UpdateAt int64
	EditAt   int64 // 0 until the message or the attachments change
	DeleteAt int64 // 0 unless deleted
	UserID   string
	UserName string
	// ChannelID and ChannelName name the channel the post is in.
	ChannelID   string
	ChannelName string
	// RootID is the thread's root post, empty for a root post.
	RootID   string
	Message  string
	Type     string
	Props    map[string]any
	Metadata map[string]any
	// Attachments are props.attachments parsed; Actions their buttons, in order.
	Attachments []Attachment
	Actions     []Action
	Priority    *Priority
}

// Action is an interactive button of a post (props.attachments[].actions[]).
type Action struct {
	ID, Name, Style, Type string
	// URL is integration.url, where a click is dispatched; Context is integration.context.
	URL     string
	Context map[string]any
}

// Edit is one change of a post: a patch, or an integration's update after a click.
type Edit struct {
	PostID string
	At     time.Time
	// By is the username of the author of the change (the post's author for an update).
	By            string
	Before, After APIPost
}

// Ephemeral is an ephemeral post: an integration's ephemeral_text, shown
// only to the user who clicked.
type Ephemeral struct {
	UserName  string
	ChannelID string
	// RootID is the thread the clicked post belongs to.
	RootID  string
	Message string
	At      time.Time
}

// Dispatch is one click sent to an integration URL, with the answer.
type Dispatch struct {
	PostID, ActionID, UserName string
	URL                        string
	// Body is the JSON the server POSTed.
	Body []byte
	// Status is the integration's HTTP status, 0 when it could not be reached.
	Status int
	// Answer is the integration's answer body; Err the transport error, if any.
	Answer []byte
	Err    string
	At     time.Time
}

// ClickResult is what a click did.
type ClickResult struct {
	// Status is the integration's HTTP status (0 when unreachable).
	Status int
	// EphemeralText is the integration's ephemeral_text, if any.
	EphemeralText string
	// Updated says the integration's answer rewrote the post.
	Updated bool
	// Err is the error the clicking user's client got, empty on success.
	Err string
}

// Event is something that happened through the REST API, for printing.
type Event struct {
	// Kind is "post", "reply", "edit", "delete", "ephemeral" or "click".
	Kind string
	// Post is the post concerned, after the change (for a click: as clicked).
	Post APIPost
	// Before is the post before an edit.
	Before *APIPost
	// Text is the ephemeral text, or the clicked action's name.
	Text string
	// UserName is who clicked, who got the ephemeral post, or who deleted.
	UserName string
	// Status is the integration's HTTP status for a click (0 when unreachable).
	Status int
}

type user struct {
	id, username string
	bot          bool
	createAt     int64
}

type team struct {
	id, name string
	createAt int64
}

type channel struct {
	id, teamID, name string
	createAt         int64
	members          map[string]bool
}

type restState struct {
	mux        *http.ServeMux
	client     *http.Client
	users      map[string]*user    // by id
	tokens     map[string]string   // token → user id
	teams      map[string]*team    // by id
	channels   map[string]*channel // by id
	posts      []*APIPost
	postByID   map[string]*APIPost
	edits      []Edit
	ephemerals []Ephemeral
	dispatches []Dispatch
	onEvent    func(Event)
}

func (s *Server) initREST() {
	s.api = restState{
		client:   &http.Client{Timeout: ActionTimeout},
		users:    map[string]*user{},
		tokens:   map[string]string{},
		teams:    map[string]*team{},
		channels: map[string]*channel{},
		postByID: map[string]*APIPost{},
	}
	s.api.mux = s.apiRoutes()
}

// idEncoding is Mattermost's: 16 random bytes make 26 lowercase letters and digits.
var idEncoding = base32.NewEncoding("ybndrfg8ejkmcpqxot1uwisza345h769").WithPadding(base32.NoPadding)

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return idEncoding.EncodeToString(b)
}

func nowMS() int64 { return time.Now().UnixMilli() }

// AddUser creates a user (a bot when bot is true) and returns its id and a
// new personal access (or bot) token. For an existing username it returns
// the existing id and one more token.
func (s *Server) AddUser(username string, bot bool) (id, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userByName(username)
	if u == nil {
		u = &user{id: newID(), username: username, bot: bot, createAt: nowMS()}
		s.api.users[u.id] = u
	}
	token = newID()
	s.api.tokens[token] = u.id
	return u.id, token
}

// RevokeToken makes token invalid (401 from then on).
func (s *Server) RevokeToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.api.tokens, token)
}

// AddTeam creates a team and returns its id (the existing one's for a known name).
func (s *Server) AddTeam(name string) (id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addTeam(name).id
}

func (s *Server) addTeam(name string) *team {
	if t := s.teamByName(name); t != nil {
		return t
	}
	t := &team{id: newID(), name: name, createAt: nowMS()}
	s.api.teams[t.id] = t
	return t
}

// AddTeamChannel creates the open channel name (type "O") in team (created
// if new) and returns its id (the existing one's for a known channel). The
// name also becomes a channel webhooks may post to.
func (s *Server) AddTeamChannel(team, name string) (id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addTeamChannel(team, name).id
}

func (s *Server) addTeamChannel(teamName, name string) *channel {
	t := s.addTeam(teamName)
	if c := s.channelByName(t.id, name); c != nil {
		return c
	}
	c := &channel{id: newID(), teamID: t.id, name: name, createAt: nowMS(), members: map[string]bool{}}
	s.api.channels[c.id] = c
	s.channels[name] = true
	return c
}

// AddMember makes the user a member of the channel. It panics on an unknown
// channel or user: that is a mistake in the test.
func (s *Server) AddMember(channelID, userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.api.channels[channelID]
	if !ok {
		panic(fmt.Sprintf("inbox: AddMember: unknown channel %q", channelID))
	}
	if _, ok := s.api.users[userID]; !ok {
		panic(fmt.Sprintf("inbox: AddMember: unknown user %q", userID))
	}
	c.members[userID] = true
}

// SetupBot creates the team and channel if missing, a bot user botName that
// is a member of the channel, and returns the bot's token.
func (s *Server) SetupBot(team, channel, botName string) (token string) {
	id, token := s.AddUser(botName, true)
	s.mu.Lock()
	c := s.addTeamChannel(team, channel)
	c.members[id] = true
	s.mu.Unlock()
	return token
}

// OnEvent calls f for every post, reply, edit, deletion, ephemeral post and
// click of the REST API (e.g. to print it with PrintEvent). f is called
// outside the server's lock, in the order the events happened, before the
// request that caused them is answered.
func (s *Server) OnEvent(f func(Event)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.api.onEvent = f
}

func (s *Server) emit(events ...Event) {
	s.mu.Lock()
	f := s.api.onEvent
	s.mu.Unlock()
	if f == nil {
		return
	}
	for _, e := range events {
		f(e)
	}
}

// APIPosts returns the posts created through the REST API, oldest first, in
// their current state (deleted ones included, with DeleteAt set).
func (s *Server) APIPosts() []APIPost {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]APIPost, 0, len(s.api.posts))
	for _, p := range s.api.posts {
		out = append(out, p.clone())
	}
	return out
}

// APIPost returns the post id in its current state.
func (s *Server) APIPost(id string) (APIPost, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.api.postByID[id]
	if !ok {
		return APIPost{}, false
	}
	return p.clone(), true
}

// Thread returns the replies to the root post rootID, oldest first (deleted
// ones included).
func (s *Server) Thread(rootID string) []APIPost {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []APIPost
	for _, p := range s.api.posts {
		if p.RootID == rootID {
			out = append(out, p.clone())
		}
	}
	return out
}

// Edits returns every change of a post, oldest first.
func (s *Server) Edits() []Edit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Edit(nil), s.api.edits...)
}

// Ephemerals returns the ephemeral posts, oldest first.
func (s *Server) Ephemerals() []Ephemeral {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Ephemeral(nil), s.api.ephemerals...)
}

// Dispatches returns the clicks sent to integration URLs, oldest first.
func (s *Server) Dispatches() []Dispatch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Dispatch(nil), s.api.dispatches...)
}

// DeletePost deletes the post id (and, if it is a root, its replies) as a
// person would; it reports whether the post existed and was not deleted.
func (s *Server) DeletePost(id string) bool {
	ev, ok := s.deletePost(id, "")
	if ok {
		s.emit(ev)
	}
	return ok
}

func (s *Server) deletePost(id, by string) (Event, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.api.postByID[id]
	if !ok || p.DeleteAt != 0 {
		return Event{}, false
	}
	now := nowMS()
	for _, q := range s.api.posts {
		if q == p || (p.RootID == "" && q.RootID == p.ID && q.DeleteAt == 0) {
			q.DeleteAt, q.UpdateAt = now, now
		}
	}
	return Event{Kind: "delete", Post: p.clone(), UserName: by}, true
}

// --- lookups; the caller holds s.mu ---

func (s *Server) userByName(name string) *user {
	for _, u := range s.api.users {
		if u.username == name {
			return u
		}
	}
	return nil
}

func (s *Server) teamByName(name string) *team {
	for _, t := range s.api.teams {
		if t.name == name {
			return t
		}
	}
	return nil
}

func (s *Server) channelByName(teamID, name string) *channel {
	for _, c := range s.api.channels {
		if c.teamID == teamID && c.name == name {
			return c
		}
	}
	return nil
}

// --- HTTP ---

// apiError is a Mattermost error answer.
type apiError struct {
	status          int
	id, msg, detail string
}

func (e *apiError) Error() string {
	s := fmt.Sprintf("%d %s: %s", e.status, e.id, e.msg)
	if e.detail != "" {
		s += " (" + e.detail + ")"
	}
	return s
}

var (
	errSession     = &apiError{http.StatusUnauthorized, "api.context.session_expired.app_error", "Invalid or expired session, please login again.", ""}
	errNotFound    = &apiError{http.StatusNotFound, "api.context.404.app_error", "Sorry, we could not find the page.", ""}
	errPermissions = &apiError{http.StatusForbidden, "api.context.permissions.app_error", "You do not have the appropriate permissions.", ""}
	errPostGet     = &apiError{http.StatusNotFound, "app.post.get.app_error", "Unable to get the post.", ""}
)

func badBody(detail string) *apiError {
	return &apiError{http.StatusBadRequest, "api.context.invalid_body_param.app_error", "Invalid or missing post in request body.", detail}
}

// call is one REST request being served.
type call struct {
	w       http.ResponseWriter
	r       *http.Request
	reqID   string
	maxBody int
	user    user
}

type callKey struct{}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, reqID string, maxBody int) {
	c := &call{w: w, r: r, reqID: reqID, maxBody: maxBody}
	s.api.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callKey{}, c)))
}

func (s *Server) failAPI(c *call, e *apiError) {
	s.reject(c.w, Rejection{Path: c.r.URL.Path}, c.reqID, e.status, e.id, e.msg, e.detail)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) apiRoutes() *http.ServeMux {
	mux := http.NewServeMux()
	route := func(pattern string, h func(*call) *apiError) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			c := r.Context().Value(callKey{}).(*call)
			c.w, c.r = w, r // r carries the path values
			err := s.authenticate(c)
			if err == nil {
				err = h(c)
			}
			if err != nil {
				s.failAPI(c, err)
			}
		})
	}
	route("GET /api/v4/users/me", s.apiMe)
	route("GET /api/v4/users/{user_id}", s.apiUser)
	route("GET /api/v4/teams/name/{team_name}/channels/name/{channel_name}", s.apiChannelByName)
	route("GET /api/v4/channels/{channel_id}", s.apiChannel)
	route("GET /api/v4/channels/{channel_id}/members/{user_id}", s.apiMember)
	route("POST /api/v4/posts", s.apiCreatePost)
	route("GET /api/v4/posts/{post_id}", s.apiGetPost)
	route("PUT /api/v4/posts/{post_id}/patch", s.apiPatchPost)
	route("DELETE /api/v4/posts/{post_id}", s.apiDeletePost)
	route("POST /api/v4/posts/{post_id}/actions/{action_id}", s.apiAction)
	mux.HandleFunc("/api/v4/", func(w http.ResponseWriter, r *http.Request) {
		c := r.Context().Value(callKey{}).(*call)
		c.w, c.r = w, r
		s.failAPI(c, errNotFound)
	})
	return mux
}

func (s *Server) authenticate(c *call) *apiError {
	h := c.r.Header.Get("Authorization")
	var token string
	for _, scheme := range []string{"bearer ", "token "} {
		if len(h) > len(scheme) && strings.EqualFold(h[:len(scheme)], scheme) {
			token = strings.TrimSpace(h[len(scheme):])
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.api.users[s.api.tokens[token]]
	if token == "" || !ok {
		return errSession
	}
	c.user = *u
	return nil
}

var alnum = regexp.MustCompile(`^[A-Za-z0-9]+$`)

// pathID is the id parameter name of the URL: Mattermost's routes only match
// letters and digits (404), and its handlers want a 26-character id (400).
func pathID(c *call, name string) (string, *apiError) {
	v := c.r.PathValue(name)
	if !alnum.MatchString(v) {
		return "", errNotFound
	}
	if len(v) != 26 {
		return "", &apiError{http.StatusBadRequest, "api.context.invalid_url_param.app_error",
			fmt.Sprintf("Invalid or missing %s parameter in request URL.", name), ""}
	}
	return v, nil
}

// readJSON reads the request body (413 above the limit, 400 unless JSON) into v.
func readJSON(c *call, v any) *apiError {
	body, err := io.ReadAll(io.LimitReader(c.r.Body, int64(c.maxBody)+1))
	if err != nil {
		return badBody(err.Error())
	}
	if len(body) > c.maxBody {
		return &apiError{http.StatusRequestEntityTooLarge, "api.context.request_body_too_large.app_error", "Request body too large.", fmt.Sprintf("limit is %d bytes", c.maxBody)}
	}
	if ct := c.r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return badBody("content type " + ct + " is not application/json")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return badBody(err.Error())
	}
	return nil
}

func userJSON(u user) map[string]any {
	return map[string]any{
		"id": u.id, "create_at": u.createAt, "update_at": u.createAt, "delete_at": 0,
		"username": u.username, "auth_service": "", "email": u.username + "@example.invalid",
		"nickname": "", "first_name": "", "last_name": "", "position": "",
		"roles": "system_user", "locale": "en", "is_bot": u.bot,
	}
}

func channelJSON(c *channel) map[string]any {
	return map[string]any{
		"id": c.id, "create_at": c.createAt, "update_at": c.createAt, "delete_at": 0,
		"team_id": c.teamID, "type": "O", "display_name": c.name, "name": c.name,
		"header": "", "purpose": "", "creator_id": "",
	}
}

func (s *Server) apiMe(c *call) *apiError {
	writeJSON(c.w, http.StatusOK, userJSON(c.user))
	return nil
}

func (s *Server) apiUser(c *call) *apiError {
	id, err := pathID(c, "user_id")
	if err != nil {
		return err
	}
	return s.answer(c, http.StatusOK, func() (any, *apiError) {
		u, ok := s.api.users[id]
		if !ok {
			return nil, &apiError{http.StatusNotFound, "app.user.missing_account.const", "Unable to find the user.", ""}
		}
		return userJSON(*u), nil
	})
}

// answer writes what f returns, which runs under s.mu.
func (s *Server) answer(c *call, status int, f func() (any, *apiError)) *apiError {
	s.mu.Lock()
	out, err := f()
	s.mu.Unlock()
	if err != nil {
		return err
	}
	writeJSON(c.w, status, out)
	return nil
}

func (s *Server) apiChannelByName(c *call) *apiError {
	return s.answer(c, http.StatusOK, func() (any, *apiError) {
		t := s.teamByName(c.r.PathValue("team_name"))
		if t == nil {
			return nil, &apiError{http.StatusNotFound, "app.team.get_by_name.missing.app_error", "Unable to find the existing team.", ""}
		}
		ch := s.channelByName(t.id, c.r.PathValue("channel_name"))
		if ch == nil {
			return nil, &apiError{http.StatusNotFound, "app.channel.get_by_name.missing.app_error", "Unable to find the existing channel.", ""}
		}
		return channelJSON(ch), nil
	})
}

var errChannelMissing = &apiError{http.StatusNotFound, "app.channel.get.existing.app_error", "Unable to find the existing channel.", ""}

func (s *Server) apiChannel(c *call) *apiError {
	id, err := pathID(c, "channel_id")
	if err != nil {
		return err
	}
	return s.answer(c, http.StatusOK, func() (any, *apiError) {
		ch, ok := s.api.channels[id]
		if !ok {
			return nil, errChannelMissing
		}
		return channelJSON(ch), nil
	})
}

func (s *Server) apiMember(c *call) *apiError {
	chID, err := pathID(c, "channel_id")
	if err != nil {
		return err
	}
	userID, err := pathID(c, "user_id")
	if err != nil {
		return err
	}
	return s.answer(c, http.StatusOK, func() (any, *apiError) {
		ch, ok := s.api.channels[chID]
		if !ok {
			return nil, errChannelMissing
		}
		if !ch.members[userID] {
			return nil, &apiError{http.StatusNotFound, "app.channel.get_member.missing.app_error", "No channel member found for that user ID and channel ID.", ""}
		}
		return map[string]any{
			"channel_id": chID, "user_id": userID, "roles": "channel_user",
			"last_viewed_at": 0, "msg_count": 0, "mention_count": 0, "last_update_at": ch.createAt,
			"scheme_guest": false, "scheme_user": true, "scheme_admin": false, "explicit_roles": "",
			"notify_props": map[string]any{"desktop": "default", "email": "default", "mark_unread": "all", "push": "default"},
		}, nil
	})
}

// newPost is the body of POST /api/v4/posts.
type newPost struct {
	ChannelID string         `json:"channel_id"`
	Message   string         `json:"message"`
	RootID    string         `json:"root_id"`
	Type      string         `json:"type"`
	Props     map[string]any `json:"props"`
	Metadata  *struct {
		Priority *struct {
			Priority     *string `json:"priority"`
			RequestedAck bool    `json:"requested_ack"`
		} `json:"priority"`
	} `json:"metadata"`
}

func (s *Server) apiCreatePost(c *call) *apiError {
	var in newPost
	if err := readJSON(c, &in); err != nil {
		return err
	}
	out, ev, err := s.createPost(c.user, in)
	if err != nil {
		return err
	}
	s.emit(ev) // before the answer: whoever got the answer may rely on the event
	writeJSON(c.w, http.StatusCreated, out)
	return nil
}

// createPost applies Mattermost's rules in its order: channel, permission,
// priority, type, root, then the content.
func (s *Server) createPost(u user, in newPost) (map[string]any, Event, *apiError) {
	fail := func(e *apiError) (map[string]any, Event, *apiError) { return nil, Event{}, e }
	if in.ChannelID == "" {
		return fail(&apiError{http.StatusBadRequest, "model.post.is_valid.channel_id.app_error", "Invalid channel id.", ""})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.api.channels[in.ChannelID]
	if !ok || !ch.members[u.id] {
		return fail(errPermissions)
	}
	var priority *Priority
	if in.Metadata != nil && in.Metadata.Priority != nil {
		if in.RootID != "" {
			return fail(&apiError{http.StatusBadRequest, "api.post.post_priority.priority_post_only_allowed_for_root_post.request_error", "Post priority is only allowed for root posts.", ""})
		}
		pr := in.Metadata.Priority
		if pr.Priority == nil || (*pr.Priority != "important" && *pr.Priority != "urgent") {
			got := "missing"
			if pr.Priority != nil {
				got = fmt.Sprintf("%q", *pr.Priority)
			}
			return fail(&apiError{http.StatusBadRequest, "model.post.is_valid.priority.app_error", "Invalid priority: metadata.priority.priority must be important or urgent.", "priority " + got})
		}
		priority = &Priority{Priority: *pr.Priority, RequestedAck: pr.RequestedAck}
	}
	if strings.HasPrefix(in.Type, "system_") {
		return fail(&apiError{http.StatusBadRequest, "api.context.invalid_param.app_error", "Invalid post.type parameter.", in.Type})
	}
	if in.Type != "" && !strings.HasPrefix(in.Type, "custom_") {
		return fail(&apiError{http.StatusBadRequest, "model.post.is_valid.type.app_error", "Invalid type.", in.Type})
	}
	if in.RootID != "" {
		root, ok := s.api.postByID[in.RootID]
		if !ok || root.DeleteAt != 0 || root.RootID != "" || root.ChannelID != in.ChannelID {
			why := "no such post"
			switch {
			case ok && root.DeleteAt != 0:
				why = "the root post is deleted"
			case ok && root.RootID != "":
				why = "the post is a reply, not a root post"
			case ok:
				why = "the root post is in another channel"
			}
			return fail(&apiError{http.StatusBadRequest, "api.post.create_post.root_id.app_error", "Invalid RootId parameter.", why})
		}
	}
	cont, aerr := checkContent(in.Message, in.Props)
	if aerr != nil {
		return fail(aerr)
	}
	if strings.TrimSpace(cont.message) == "" && len(cont.attachments) == 0 {
		return fail(&apiError{http.StatusBadRequest, "api.post.create_post.message_or_attachments.app_error", "A post needs a message or props.attachments.", ""})
	}
	now := nowMS()
	p := &APIPost{
		ID: newID(), CreateAt: now, UpdateAt: now, UserID: u.id, UserName: u.username,
		ChannelID: ch.id, ChannelName: ch.name, RootID: in.RootID, Type: in.Type, Priority: priority,
	}
	p.setContent(cont)
	if priority != nil {
		p.Metadata = map[string]any{"priority": map[string]any{"priority": priority.Priority, "requested_ack": priority.RequestedAck}}
	}
	s.api.posts = append(s.api.posts, p)
	s.api.postByID[p.ID] = p
	ev := Event{Kind: "post", Post: p.clone()}
	if p.RootID != "" {
		ev.Kind = "reply"
	}
	return s.wire(p), ev, nil
}

// livePost returns the post id unless unknown or deleted; the caller holds s.mu.
func (s *Server) livePost(id string) (*APIPost, *apiError) {
	p, ok := s.api.postByID[id]
	if !ok || p.DeleteAt != 0 {
		return nil, errPostGet
	}
	return p, nil
}

func (s *Server) apiGetPost(c *call) *apiError {
	id, err := pathID(c, "post_id")
	if err != nil {
		return err
	}
	return s.answer(c, http.StatusOK, func() (any, *apiError) {
		p, err := s.livePost(id)
		if err != nil {
			return nil, err
		}
		return s.wire(p), nil
	})
}

func (s *Server) apiPatchPost(c *call) *apiError {
	id, err := pathID(c, "post_id")
	if err != nil {
		return err
	}
	var in struct {
		Message *string         `json:"message"`
		Props   *map[string]any `json:"props"`
	}
	if err := readJSON(c, &in); err != nil {
		return err
	}
	s.mu.Lock()
	p, err := s.livePost(id)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	if p.UserID != c.user.id {
		s.mu.Unlock()
		return &apiError{http.StatusForbidden, "api.post.update_post.permissions_details.app_error", "You do not have the appropriate permissions.", "only the author may edit a post"}
	}
	message, props := p.Message, cloneMap(p.Props)
	if in.Message != nil {
		message = *in.Message
	}
	if in.Props != nil {
		props = *in.Props // replaces the props entirely, as Mattermost does
	}
	cont, err := checkContent(message, props)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	ev := s.applyEdit(p, cont, c.user.username)
	out := s.wire(p)
	s.mu.Unlock()

	s.emit(ev)
	writeJSON(c.w, http.StatusOK, out)
	return nil
}

// applyEdit changes p to cont and records the edit; the caller holds s.mu.
// EditAt moves when the message or the attachments change, as Mattermost's
// UpdatePost does; UpdateAt always.
func (s *Server) applyEdit(p *APIPost, cont content, by string) Event {
	before := p.clone()
	now := nowMS()
	if cont.message != p.Message || !reflect.DeepEqual(cont.props["attachments"], p.Props["attachments"]) {
		p.EditAt = now
	}
	p.UpdateAt = now
	p.setContent(cont)
	after := p.clone()
	s.api.edits = append(s.api.edits, Edit{PostID: p.ID, At: time.UnixMilli(now), By: by, Before: before, After: after})
	return Event{Kind: "edit", Post: after, Before: &before, UserName: by}
}

func (s *Server) apiDeletePost(c *call) *apiError {
	id, err := pathID(c, "post_id")
	if err != nil {
		return err
	}
	s.mu.Lock()
	p, err := s.livePost(id)
	member := err == nil && s.api.channels[p.ChannelID].members[c.user.id]
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if !member {
		return errPermissions
	}
	ev, ok := s.deletePost(id, c.user.username)
	if !ok { // deleted meanwhile
		return errPostGet
	}
	s.emit(ev)
	writeJSON(c.w, http.StatusOK, map[string]string{"status": "OK"})
	return nil
}

// --- content rules ---

// content is a post's message and props that passed checkContent.
type content struct {
	message     string
	props       map[string]any
	attachments []Attachment
	actions     []Action
}

func (p *APIPost) setContent(c content) {
	p.Message, p.Props, p.Attachments, p.Actions = c.message, c.props, c.attachments, c.actions
}

func propsErr(detail string) *apiError {
	// Mattermost itself only logs bad attachments; the stand-in refuses them
	// with the webhook rules so a mistake shows in the tests.
	return &apiError{http.StatusBadRequest, "model.post.is_valid.props.app_error", "Invalid props: " + detail, detail}
}

func actionErr(detail string) *apiError {
	return &apiError{http.StatusBadRequest, "api.post.create_post.attachment_action.app_error", "Invalid attachment action: " + detail, detail}
}

// checkContent applies the rules of a post's message and props (create,
// patch, an integration's update). It may write generated action ids into
// props, which must be the caller's own.
func checkContent(message string, props map[string]any) (content, *apiError) {
	if n := utf8.RuneCountInString(message); n > MaxRunes {
		return content{}, &apiError{http.StatusBadRequest, "model.post.is_valid.message_length.app_error",
			"Post Message property is longer than the maximum permitted length.",
			fmt.Sprintf("length %d runes, max %d: the REST API does not split", n, MaxRunes)}
	}
	c := content{message: message, props: props}
	if card, has := props["card"]; has {
		if _, ok := card.(string); !ok {
			return content{}, propsErr("props.card must be a string")
		}
	}
	raw := props["attachments"]
	if raw == nil {
		return c, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return content{}, propsErr("props.attachments must be an array of objects")
	}
	seen := map[string]bool{}
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return content{}, propsErr(fmt.Sprintf("props.attachments[%d] must be an object", i))
		}
		b, _ := json.Marshal(m)
		var rm map[string]json.RawMessage
		_ = json.Unmarshal(b, &rm)
		att, msg := parseAttachment(rm)
		if msg != "" {
			return content{}, propsErr(fmt.Sprintf("props.attachments[%d]: %s", i, msg))
		}
		c.attachments = append(c.attachments, att)
		acts, err := checkActions(m, i, seen)
		if err != nil {
			return content{}, err
		}
		c.actions = append(c.actions, acts...)
	}
	return c, nil
}

var actionStyles = map[string]bool{"": true, "default": true, "primary": true, "success": true, "good": true, "warning": true, "danger": true}

// checkActions checks attachment i's buttons. A missing id is generated, as
// Mattermost does; a given one must be letters and digits only, because the
// click route is /posts/{post_id:[A-Za-z0-9]+}/actions/{action_id:[A-Za-z0-9]+}
// and any other id makes a dead button.
func checkActions(att map[string]any, i int, seen map[string]bool) ([]Action, *apiError) {
	raw := att["actions"]
	if raw == nil {
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, actionErr(fmt.Sprintf("props.attachments[%d].actions must be an array of objects", i))
	}
	var out []Action
	for j, item := range list {
		where := fmt.Sprintf("props.attachments[%d].actions[%d]", i, j)
		a, ok := item.(map[string]any)
		if !ok {
			return nil, actionErr(where + " must be an object")
		}
		str := func(key string) (string, *apiError) {
			v, has := a[key]
			if !has || v == nil {
				return "", nil
			}
			s, ok := v.(string)
			if !ok {
				return "", actionErr(fmt.Sprintf("%s.%s must be a string", where, key))
			}
			return s, nil
		}
		var act Action
		var err *apiError
		for key, dst := range map[string]*string{"id": &act.ID, "name": &act.Name, "style": &act.Style, "type": &act.Type} {
			if *dst, err = str(key); err != nil {
				return nil, err
			}
		}
		switch {
		case act.ID == "":
			act.ID = newID()
			a["id"] = act.ID
		case !alnum.MatchString(act.ID):
			return nil, actionErr(fmt.Sprintf("%s.id %q: only letters and digits (no - or _): Mattermost routes clicks by /actions/{action_id:[A-Za-z0-9]+}", where, act.ID))
		}
		if seen[act.ID] {
			return nil, actionErr(fmt.Sprintf("%s.id %q is used twice in the post", where, act.ID))
		}
		seen[act.ID] = true
		if strings.TrimSpace(act.Name) == "" {
			return nil, actionErr(where + ".name is required")
		}
		if !actionStyles[act.Style] && !hexColor.MatchString(act.Style) {
			return nil, actionErr(fmt.Sprintf("%s.style %q: must be default, primary, success, good, warning, danger or #RRGGBB", where, act.Style))
		}
		if act.Type != "" && act.Type != "button" && act.Type != "select" {
			return nil, actionErr(fmt.Sprintf("%s.type %q: must be button or select", where, act.Type))
		}
		integ, ok := a["integration"].(map[string]any)
		if !ok {
			return nil, actionErr(where + ".integration {url, context} is required")
		}
		act.URL, _ = integ["url"].(string)
		u, perr := url.Parse(act.URL)
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, actionErr(fmt.Sprintf("%s.integration.url %q: must be an absolute http(s) URL", where, act.URL))
		}
		if ctx, has := integ["context"]; has && ctx != nil {
			m, ok := ctx.(map[string]any)
			if !ok {
				return nil, actionErr(where + ".integration.context must be an object")
			}
			act.Context = m
		}
		out = append(out, act)
	}
	return out, nil
}

// --- copies and wire form ---

func cloneAny(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return cloneMap(t)
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = cloneAny(x)
		}
		return out
	default:
		return v
	}
}

func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneAny(v)
	}
	return out
}

// clone is a deep copy, safe to hand out.
func (p *APIPost) clone() APIPost {
	c := *p
	c.Props, c.Metadata = cloneMap(p.Props), cloneMap(p.Metadata)
	c.Attachments = append([]Attachment(nil), p.Attachments...)
	c.Actions = nil
	for _, a := range p.Actions {
		a.Context = cloneMap(a.Context)
		c.Actions = append(c.Actions, a)
	}
	if p.Priority != nil {
		pr := *p.Priority
		c.Priority = &pr
	}
	return c
}

// wire is the post as Mattermost answers it: integrations stripped from the
// actions (clients never see them), props and metadata never null. The
// caller holds s.mu.
func (s *Server) wire(p *APIPost) map[string]any {
	props := cloneMap(p.Props)
	if props == nil {
		props = map[string]any{}
	}
	if atts, ok := props["attachments"].([]any); ok {
		for _, a := range atts {
			if am, ok := a.(map[string]any); ok {
				if acts, ok := am["actions"].([]any); ok {
					for _, x := range acts {
						if xm, ok := x.(map[string]any); ok {
							delete(xm, "integration")
						}
					}
				}
			}
		}
	}
	metadata := cloneMap(p.Metadata)
	if metadata == nil {
		metadata = map[string]any{}
	}
	replies := 0
	if p.RootID == "" {
		for _, q := range s.api.posts {
			if q.RootID == p.ID && q.DeleteAt == 0 {
				replies++
			}
		}
	}
	return map[string]any{
		"id": p.ID, "create_at": p.CreateAt, "update_at": p.UpdateAt, "edit_at": p.EditAt, "delete_at": p.DeleteAt,
		"is_pinned": false, "user_id": p.UserID, "channel_id": p.ChannelID, "root_id": p.RootID, "original_id": "",
		"message": p.Message, "type": p.Type, "props": props, "hashtags": "", "pending_post_id": "",
		"reply_count": replies, "metadata": metadata,
	}
}

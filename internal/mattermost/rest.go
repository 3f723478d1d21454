package mattermost

// Bot mode talks to Mattermost's REST API v4 as a bot account
// (https://api.mattermost.com/): the calls below are the subset DESIGN.md's
// "Bot mode" names, with the token sent as a bearer token and never shown
// in an error or a log.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/notify"

	"github.com/gatewatch/gatewatch/internal/spec"
)

// API is a REST API v4 client authenticated as the spec's bot.
type API struct {
	base      *url.URL
	token     spec.Secret
	tokenFile string
	http      *http.Client
}

// NewAPI returns a client for the spec's server and bot token; h nil uses
// a 10 s timeout.
func NewAPI(m spec.Mattermost, h *http.Client) (*API, error) {
	if !m.BotMode() {
		return nil, spec.ErrNoBotToken
	}
	u, err := spec.ParseServerURL(m.URL)
	if err != nil {
		return nil, err
	}
	if h == nil {
		h = &http.Client{Timeout: 10 * time.Second}
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return &API{base: u, token: m.BotToken, tokenFile: m.BotTokenFile, http: h}, nil
}

// BaseURL is the server's base URL (not a secret).
func (a *API) BaseURL() string { return a.base.String() }

// User is a Mattermost account.
type User struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	IsBot    bool   `json:"is_bot"`
}

// Channel is a Mattermost channel.
type Channel struct {
	ID          string `json:"id"`
	TeamID      string `json:"team_id"`
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
	Type        string `json:"type"`
}

// Post is a post as the REST API creates and returns it.
type Post struct {
	ID        string        `json:"id,omitempty"`
	CreateAt  int64         `json:"create_at,omitempty"`
	UpdateAt  int64         `json:"update_at,omitempty"`
	EditAt    int64         `json:"edit_at,omitempty"`
	DeleteAt  int64         `json:"delete_at,omitempty"`
	UserID    string        `json:"user_id,omitempty"`
	ChannelID string        `json:"channel_id"`
	RootID    string        `json:"root_id,omitempty"`
	Message   string        `json:"message"`
	Props     *PostProps    `json:"props,omitempty"`
	Metadata  *PostMetadata `json:"metadata,omitempty"`
}

// PostProps are a bot post's properties: the card attachment (with its
// buttons) and the detail card.
type PostProps struct {
	Attachments []Attachment `json:"attachments,omitempty"`
	Card        string       `json:"card,omitempty"`
}

// PostMetadata carries the post's priority (root posts only).
type PostMetadata struct {
	Priority *Priority `json:"priority,omitempty"`
}

// PostPatch edits a post; a nil field is left as it is. Props replace the
// post's props entirely.
type PostPatch struct {
	Message *string    `json:"message,omitempty"`
	Props   *PostProps `json:"props,omitempty"`
}

// Action is an interactive message button (a legacy attachment action,
// which every Mattermost server since 5.x renders; recent servers turn it
// into Mattermost Blocks themselves — see docs/mattermost.md).
type Action struct {
	// ID is alphanumeric only: Mattermost routes clicks by
	// /posts/{post_id}/actions/{action_id:[A-Za-z0-9]+}.
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Style       string            `json:"style,omitempty"`
	Type        string            `json:"type,omitempty"`
	Integration ActionIntegration `json:"integration"`
}

// ActionIntegration is where Mattermost sends a click, and what with.
type ActionIntegration struct {
	URL     string         `json:"url"`
	Context map[string]any `json:"context,omitempty"`
}

// Me is the token's account (GET /api/v4/users/me).
func (a *API) Me(ctx context.Context) (User, error) {
	var u User
	err := a.do(ctx, http.MethodGet, "/api/v4/users/me", nil, &u, nil)
	return u, err
}

// ChannelByName finds a channel by team and channel name.
func (a *API) ChannelByName(ctx context.Context, team, name string) (Channel, error) {
	var c Channel
	err := a.do(ctx, http.MethodGet, "/api/v4/teams/name/"+url.PathEscape(team)+"/channels/name/"+url.PathEscape(name), nil, &c,
		func(se *SendError) {
			if se.Status == http.StatusNotFound {
				se.Hint = fmt.Sprintf("no channel %q in team %q, or the bot is not in that team: check mattermost.team and mattermost.channel (the channel's name as in its URL, not its display name)", name, team)
			}
		})
	return c, err
}

// ChannelByID gets a channel by id.
func (a *API) ChannelByID(ctx context.Context, id string) (Channel, error) {
	var c Channel
	err := a.do(ctx, http.MethodGet, "/api/v4/channels/"+url.PathEscape(id), nil, &c,
		func(se *SendError) {
			if se.Status == http.StatusNotFound || se.Status == http.StatusForbidden {
				se.Hint = fmt.Sprintf("no channel with id %q that the bot can see: check mattermost.channel_id, and that the bot is a member", id)
			}
		})
	return c, err
}

// IsMember says whether the user is a member of the channel.
func (a *API) IsMember(ctx context.Context, channelID, userID string) (bool, error) {
	err := a.do(ctx, http.MethodGet, "/api/v4/channels/"+url.PathEscape(channelID)+"/members/"+url.PathEscape(userID), nil, nil, nil)
	var se *SendError
	if errors.As(err, &se) && se.Status == http.StatusNotFound {
		return false, nil
	}
	return err == nil, err
}

// CreatePost creates a post (a reply when RootID is set).
func (a *API) CreatePost(ctx context.Context, p Post) (Post, error) {
	var out Post
	err := a.do(ctx, http.MethodPost, "/api/v4/posts", p, &out, nil)
	return out, err
}

// GetPost gets a post; a deleted one is a 404.
func (a *API) GetPost(ctx context.Context, id string) (Post, error) {
	var out Post
	err := a.do(ctx, http.MethodGet, "/api/v4/posts/"+url.PathEscape(id), nil, &out, nil)
	return out, err
}

// PatchPost edits a post the bot wrote.
func (a *API) PatchPost(ctx context.Context, id string, patch PostPatch) (Post, error) {
	var out Post
	err := a.do(ctx, http.MethodPut, "/api/v4/posts/"+url.PathEscape(id)+"/patch", patch, &out, nil)
	return out, err
}

// token returns the bot token, re-reading the file on every call.
func (a *API) tokenValue() (string, error) {
	return spec.ResolveBotToken(a.token.Reveal(), a.tokenFile)
}

// do makes one call. Failures are *SendError (Op set, the token never in
// them) saying whether a retry may help: network errors, 429 (with
// Retry-After) and 5xx are retryable, other answers are not. hint, if set,
// adds a call-specific explanation.
func (a *API) do(ctx context.Context, method, path string, in, out any, hint func(*SendError)) error {
	op := method + " " + path
	tok, err := a.tokenValue()
	if err != nil {
		return &SendError{Op: op, Cause: CauseConfig, Err: err}
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return &SendError{Op: op, Cause: CauseConfig, Err: fmt.Errorf("encode request: %w", err)}
		}
		if len(b) >= MaxBody {
			return &SendError{Op: op, Cause: CauseConfig, Err: fmt.Errorf("request is %d bytes, over the %d byte limit", len(b), MaxBody)}
		}
		body = bytes.NewReader(b)
	}
	u := *a.base
	u.Path += path
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return &SendError{Op: op, Cause: CauseConfig, Err: redactToken(err, tok)}
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "gatewatch")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return &SendError{Op: op, Cause: CauseCanceled, Err: ctx.Err()}
		}
		cause := Classify(err)
		return &SendError{Op: op, Cause: cause, Retryable: cause != CauseTLS, Err: redactToken(err, tok)}
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 == 2 {
		if out != nil && len(bytes.TrimSpace(answer)) > 0 {
			if err := json.Unmarshal(answer, out); err != nil {
				return &SendError{Op: op, Cause: CauseHTTP, Status: resp.StatusCode, Message: "answer is not the JSON Mattermost sends: " + err.Error()}
			}
		}
		return nil
	}
	se := &SendError{Op: op, Cause: CauseHTTP, Status: resp.StatusCode}
	var mm mmError
	if json.Unmarshal(answer, &mm) == nil && mm.Message != "" {
		se.Message, se.fromMattermost = mm.Message, true
		if mm.ID != "" {
			se.Message += " (" + mm.ID + ")"
		}
	} else {
		se.Message = strings.TrimSpace(string(answer))
	}
	se.Message = truncateRunes(strings.ReplaceAll(se.Message, tok, "<secret>"), 300)
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		se.Cause = CauseAuth
	case resp.StatusCode == http.StatusTooManyRequests:
		se.Cause, se.Retryable = CauseRateLimit, true
		se.RetryAfter = notify.ParseRetryAfter(resp.Header, time.Now())
	case resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
		se.Retryable = true
	}
	if hint != nil {
		hint(se)
	}
	return se
}

// redactToken removes the token from a transport error's text.
func redactToken(err error, tok string) error {
	inner := err
	var ue *url.Error
	if errors.As(err, &ue) {
		inner = ue.Err
	}
	msg := inner.Error()
	if tok != "" {
		msg = strings.ReplaceAll(msg, tok, "<secret>")
	}
	return &redactedError{msg: msg, err: inner}
}

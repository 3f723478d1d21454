package mattermost

// The buttons on a bot post are Mattermost interactive message actions
// (https://developers.mattermost.com/integrate/plugins/interactive-messages/):
// on a click the Mattermost server POSTs the action's context, with who
// clicked, to the action's integration URL — gatewatch's action endpoint —
// and applies the answer's update to the post and shows its ephemeral text
// to the clicker. Mattermost does not show the context to clients, but
// anyone who can reach gatewatch can post to the endpoint, so every context
// carries an HMAC over what it asks for: a forged or altered click is
// refused with 401 and changes nothing.

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
)

// Action kinds (also the action ids: alphanumeric only).
const (
	ActSilence1h  = "silence1h"
	ActSilence24h = "silence24h"
	ActAck        = "ack"
	ActUnsilence  = "unsilence"
)

// ActionPath is the action endpoint under gatewatch's external URL.
const ActionPath = "/api/gatewatch/v1/mattermost/actions"

// Signer signs and checks action contexts. It signs with the first key
// and accepts any of them (replicas converge on one key; a button signed
// before that still works).
type Signer struct {
	keys func() [][]byte
	// ackOnly: no silence buttons (a bridge without an Alertmanager to
	// silence in), and silence clicks are refused.
	ackOnly bool
}

// NewSigner signs with keys()[0]; keys is called on every use (the key set
// may grow as replicas gossip theirs).
func NewSigner(keys func() [][]byte) *Signer { return &Signer{keys: keys} }

// AckOnly is the signer for posts that offer Acknowledge only: nothing can
// silence their alerts.
func (s *Signer) AckOnly() *Signer { return &Signer{keys: s.keys, ackOnly: true} }

// allows says whether a click on this action may be carried out.
func (s *Signer) allows(action string) bool {
	return !s.ackOnly || action == ActAck
}

// ActionContext is what a button asks for: an action on an alert group.
type ActionContext struct {
	Action   string
	GroupKey string
	// Matchers are the group's labels (name → value), the silence's
	// equality matchers.
	Matchers map[string]string
	// SilenceID is the silence an Unsilence button ends.
	SilenceID string
}

func (c ActionContext) canonical() []byte {
	var b strings.Builder
	for _, s := range []string{"gatewatch-action-v1", c.Action, c.GroupKey, c.matchersString(), c.SilenceID} {
		b.WriteString(s)
		b.WriteByte(0)
	}
	return []byte(b.String())
}

func (c ActionContext) matchersString() string {
	names := make([]string, 0, len(c.Matchers))
	for n := range c.Matchers {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s=%q,", n, c.Matchers[n])
	}
	return b.String()
}

func (s *Signer) mac(key []byte, c ActionContext) string {
	m := hmac.New(sha256.New, key)
	m.Write(c.canonical())
	return hex.EncodeToString(m.Sum(nil))
}

// Context is the signed context a button carries.
func (s *Signer) Context(c ActionContext) (map[string]any, error) {
	keys := s.keys()
	if len(keys) == 0 {
		return nil, errors.New("no action signing key")
	}
	m := map[string]any{"action": c.Action, "group_key": c.GroupKey, "matchers": c.Matchers, "sig": s.mac(keys[0], c)}
	if c.SilenceID != "" {
		m["silence_id"] = c.SilenceID
	}
	return m, nil
}

// errForged is a context whose signature does not match what it asks.
var errForged = errors.New("action context signature does not match: refused")

// Verify reads a context a click sent and checks its signature.
func (s *Signer) Verify(raw map[string]any) (ActionContext, error) {
	var c ActionContext
	str := func(k string) string { v, _ := raw[k].(string); return v }
	c.Action, c.GroupKey, c.SilenceID = str("action"), str("group_key"), str("silence_id")
	if ms, ok := raw["matchers"].(map[string]any); ok {
		c.Matchers = map[string]string{}
		for k, v := range ms {
			sv, ok := v.(string)
			if !ok {
				return c, errForged
			}
			c.Matchers[k] = sv
		}
	}
	sig, err := hex.DecodeString(str("sig"))
	if err != nil || len(sig) != sha256.Size {
		return c, errForged
	}
	for _, k := range s.keys() {
		want, _ := hex.DecodeString(s.mac(k, c))
		if hmac.Equal(sig, want) {
			return c, nil
		}
	}
	return c, errForged
}

// Buttons are the actions of a firing post in state st.
func (s *Signer) Buttons(actionURL, groupKey string, matchers map[string]string, st PostState) []Action {
	if s == nil || actionURL == "" {
		return nil
	}
	var out []Action
	add := func(id, name, style string, c ActionContext) {
		ctx, err := s.Context(c)
		if err != nil {
			return
		}
		out = append(out, Action{ID: id, Name: name, Style: style, Type: "button", Integration: ActionIntegration{URL: actionURL, Context: ctx}})
	}
	base := ActionContext{GroupKey: groupKey, Matchers: matchers}
	switch {
	case s.ackOnly:
	case st.SilenceID != "":
		c := base
		c.Action, c.SilenceID = ActUnsilence, st.SilenceID
		add(ActUnsilence, "Unsilence", "default", c)
	default:
		for _, b := range []struct{ id, name string }{{ActSilence1h, "Silence 1h"}, {ActSilence24h, "Silence 24h"}} {
			c := base
			c.Action = b.id
			add(b.id, b.name, "default", c)
		}
	}
	if st.AckBy == "" {
		c := base
		c.Action = ActAck
		add(ActAck, "Acknowledge", "primary", c)
	}
	return out
}

// PostState is what people did about an alert group from the chat: shown
// on its post (as the attachment's pretext) and on the status page.
type PostState struct {
	SilenceID     string
	SilencedBy    string
	SilencedUntil time.Time
	AckBy         string
	AckAt         time.Time
}

// Line is the post's status line, e.g. "🔕 Silenced by @alice until 14:05 UTC".
func (st PostState) Line() string {
	var parts []string
	if st.SilenceID != "" {
		parts = append(parts, fmt.Sprintf(":no_bell: Silenced by @%s until %s", st.SilencedBy, st.SilencedUntil.UTC().Format("15:04 MST")))
	}
	if st.AckBy != "" {
		parts = append(parts, fmt.Sprintf(":eyes: Acknowledged by @%s at %s", st.AckBy, st.AckAt.UTC().Format("15:04 MST")))
	}
	return strings.Join(parts, " · ")
}

// ActionBackend carries out a click: the embedded engine (its silences and
// acknowledgements) or, in bridge mode, the user's Alertmanager.
type ActionBackend interface {
	Silence(ctx context.Context, matchers map[string]string, d time.Duration, createdBy, comment string) (id string, err error)
	Unsilence(ctx context.Context, id string) error
	Acknowledge(ctx context.Context, postID, groupKey, by string) error
	// State is the group's current state for its post.
	State(ctx context.Context, postID string, matchers map[string]string) PostState
}

// ClickRequest is what Mattermost POSTs to an action's integration URL.
type ClickRequest struct {
	UserID      string         `json:"user_id"`
	UserName    string         `json:"user_name"`
	ChannelID   string         `json:"channel_id"`
	ChannelName string         `json:"channel_name"`
	TeamID      string         `json:"team_id"`
	TeamDomain  string         `json:"team_domain"`
	PostID      string         `json:"post_id"`
	TriggerID   string         `json:"trigger_id"`
	Type        string         `json:"type"`
	DataSource  string         `json:"data_source"`
	Context     map[string]any `json:"context"`
}

// ClickResponse is the integration's answer: Mattermost replaces the
// post's message and props with Update's, and shows EphemeralText to the
// clicker only.
type ClickResponse struct {
	Update        *PostUpdate `json:"update,omitempty"`
	EphemeralText string      `json:"ephemeral_text,omitempty"`
}

// PostUpdate is the post an answer rewrites.
type PostUpdate struct {
	Message string     `json:"message"`
	Props   *PostProps `json:"props,omitempty"`
}

// ActionMetrics count clicks.
type ActionMetrics struct {
	Clicks *prometheus.CounterVec
}

// NewActionMetrics registers the click counters with reg (may be nil).
func NewActionMetrics(reg prometheus.Registerer) *ActionMetrics {
	m := &ActionMetrics{Clicks: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatewatch_mattermost_action_clicks_total",
		Help: "Button clicks from Mattermost, by action and result (accepted, refused: bad signature, failed: the action did not complete).",
	}, []string{"action", "result"})}
	if reg != nil {
		reg.MustRegister(m.Clicks)
	}
	return m
}

// ActionHandler serves the action endpoint: it checks the signature,
// carries the action out through the backend, and answers with the post
// rewritten (status line and buttons) and a confirmation for the clicker.
type ActionHandler struct {
	Signer  *Signer
	Backend ActionBackend
	// API reads the post to rewrite (the bot's client).
	API       *API
	ActionURL string
	Logger    *slog.Logger
	Metrics   *ActionMetrics
}

func (h *ActionHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	var req ClickRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10+1))
	if err != nil || len(body) > 64<<10 || json.Unmarshal(body, &req) != nil {
		h.count("unknown", "refused")
		http.Error(w, "not a Mattermost action request", http.StatusBadRequest)
		return
	}
	c, err := h.Signer.Verify(req.Context)
	if err != nil {
		h.count("unknown", "refused")
		h.Logger.Warn("Mattermost action refused: bad signature", "user", req.UserName, "post", req.PostID, "remote", r.RemoteAddr)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if !slices.Contains([]string{ActSilence1h, ActSilence24h, ActAck, ActUnsilence}, c.Action) || !h.Signer.allows(c.Action) {
		h.count("unknown", "refused")
		http.Error(w, "unknown action", http.StatusBadRequest)
		return
	}
	user := req.UserName
	if user == "" {
		user = req.UserID
	}
	ctx := r.Context()
	var confirm string
	switch c.Action {
	case ActSilence1h, ActSilence24h:
		d := time.Hour
		if c.Action == ActSilence24h {
			d = 24 * time.Hour
		}
		id, err := h.Backend.Silence(ctx, c.Matchers, d, user, "from Mattermost")
		if err != nil {
			h.fail(w, c.Action, "silence not created", err)
			return
		}
		confirm = fmt.Sprintf("Silenced %s for %s (silence %s).", matchersText(c.Matchers), d, id)
	case ActUnsilence:
		if err := h.Backend.Unsilence(ctx, c.SilenceID); err != nil {
			h.fail(w, c.Action, "silence not expired", err)
			return
		}
		confirm = fmt.Sprintf("Silence %s expired: %s notifies again.", c.SilenceID, matchersText(c.Matchers))
	case ActAck:
		if err := h.Backend.Acknowledge(ctx, req.PostID, c.GroupKey, user); err != nil {
			h.fail(w, c.Action, "not acknowledged", err)
			return
		}
		confirm = "Acknowledged: the post shows you are on it (nothing is silenced)."
	}
	h.count(c.Action, "accepted")
	h.Logger.Info("Mattermost action", "action", c.Action, "user", user, "group", c.GroupKey, "post", req.PostID)
	resp := ClickResponse{EphemeralText: confirm}
	if upd, err := h.rewrite(ctx, req.PostID, c); err != nil {
		// The action happened; the post shows it at its next edit.
		h.Logger.Warn("post not rewritten after an action", "post", req.PostID, "err", err)
	} else {
		resp.Update = upd
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

// rewrite is the post with the group's new state: status line and buttons.
func (h *ActionHandler) rewrite(ctx context.Context, postID string, c ActionContext) (*PostUpdate, error) {
	if h.API == nil || postID == "" {
		return nil, errors.New("no post to rewrite")
	}
	p, err := h.API.GetPost(ctx, postID)
	if err != nil {
		return nil, err
	}
	if p.Props == nil || len(p.Props.Attachments) == 0 {
		return nil, errors.New("the post has no card")
	}
	st := h.Backend.State(ctx, postID, c.Matchers)
	if len(p.Props.Attachments[0].Actions) == 0 {
		// A resolved post (no buttons): its status line stays.
		return nil, errors.New("the post is resolved")
	}
	props := *p.Props
	props.Attachments = slices.Clone(props.Attachments)
	a := &props.Attachments[0]
	a.Pretext = st.Line()
	a.Actions = h.Signer.Buttons(h.ActionURL, c.GroupKey, c.Matchers, st)
	return &PostUpdate{Message: p.Message, Props: &props}, nil
}

func (h *ActionHandler) fail(w http.ResponseWriter, action, what string, err error) {
	h.count(action, "failed")
	h.Logger.Error("Mattermost action failed", "action", action, "err", err)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(ClickResponse{EphemeralText: fmt.Sprintf("gatewatch: %s: %v", what, err)})
}

func (h *ActionHandler) count(action, result string) {
	if h.Metrics != nil {
		h.Metrics.Clicks.WithLabelValues(action, result).Inc()
	}
}

func matchersText(m map[string]string) string {
	ls := model.LabelSet{}
	for k, v := range m {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls.String()
}

// PrivateActionURL says whether Mattermost reaches the action URL at a
// private address (loopback, RFC 1918/4193, link-local, or a cluster-local
// name): Mattermost then refuses to send the click unless the host is in
// its ServiceSettings.AllowedUntrustedInternalConnections. It returns the
// reason ("" when public or unknown).
func PrivateActionURL(ctx context.Context, raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return ""
	}
	host := u.Hostname()
	if host == "localhost" || strings.HasSuffix(host, ".svc") || strings.HasSuffix(host, ".cluster.local") || strings.HasSuffix(host, ".local") || !strings.Contains(host, ".") && net.ParseIP(host) == nil {
		return fmt.Sprintf("%s is a cluster-local or private name", host)
	}
	ips := []net.IP{net.ParseIP(host)}
	if ips[0] == nil {
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
		if err != nil {
			return ""
		}
		ips = ips[:0]
		for _, a := range addrs {
			ips = append(ips, a.IP)
		}
	}
	for _, ip := range ips {
		if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified() {
			return fmt.Sprintf("%s is a private address (%s)", host, ip)
		}
	}
	return ""
}

// UntrustedHint is what to do about a private action URL.
func UntrustedHint(reason, host string) string {
	return fmt.Sprintf("%s: Mattermost sends clicks there only if it is listed in the server's ServiceSettings.AllowedUntrustedInternalConnections (System Console → Environment → Developer → Allow untrusted internal connections to: %s)", reason, host)
}

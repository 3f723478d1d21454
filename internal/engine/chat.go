package engine

// Bot mode's state beside Alertmanager's: who acknowledged which post, and
// the keys that sign the posts' buttons. Like the silences and the
// notification log it is saved on every change (<data-dir>/chat.json) and,
// with a cluster, gossiped under its own key, so every replica shows the
// acknowledgement and accepts a button another replica signed.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	amlabels "github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/alertmanager/silence"
	pb "github.com/prometheus/alertmanager/silence/silencepb"
	"github.com/prometheus/common/model"

	"github.com/gatewatch/gatewatch/internal/mattermost"
)

// ackRetention is how long an acknowledgement is kept (its post's
// incident is long over by then).
const ackRetention = 7 * 24 * time.Hour

// Ack is an acknowledgement from the chat.
type Ack struct {
	PostID   string    `json:"post_id"`
	GroupKey string    `json:"group_key"`
	By       string    `json:"by"`
	At       time.Time `json:"at"`
}

type chatData struct {
	Acks map[string]Ack `json:"acks"`
	// Keys sign the buttons (hex); the smallest signs, all verify.
	Keys []string `json:"keys"`
}

// chatState is the acknowledgements and signing keys (cluster.State and
// the stateFile's snapshotter).
type chatState struct {
	mu        sync.Mutex
	data      chatData
	file      *stateFile
	broadcast func([]byte)
	// keyFile, if set (mattermost.actions_secret_file), is the only key:
	// read on use, never gossiped.
	keyFile string
}

func newChatState(path string, m *stateMetrics) (*chatState, error) {
	c := &chatState{data: chatData{Acks: map[string]Ack{}}}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("read chat state: %w", err)
	default:
		if err := json.Unmarshal(b, &c.data); err != nil {
			return nil, fmt.Errorf("read chat state from %s: %w", path, err)
		}
		if c.data.Acks == nil {
			c.data.Acks = map[string]Ack{}
		}
	}
	c.file = newStateFile(path, "chat", c, m)
	if len(c.data.Keys) == 0 {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		c.data.Keys = []string{hex.EncodeToString(key)}
		if err := c.file.save(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Snapshot writes the state as JSON.
func (c *chatState) Snapshot(w io.Writer) (int64, error) {
	b, err := c.MarshalBinary()
	if err != nil {
		return 0, err
	}
	n, err := w.Write(b)
	return int64(n), err
}

// MarshalBinary is the whole state (gossip's push-pull).
func (c *chatState) MarshalBinary() ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return json.Marshal(c.data)
}

// Merge takes another replica's state: every key, and each post's
// earliest acknowledgement.
func (c *chatState) Merge(b []byte) error {
	var in chatData
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.merge(in)
	return nil
}

func (c *chatState) merge(in chatData) {
	for id, a := range in.Acks {
		if old, ok := c.data.Acks[id]; !ok || a.At.Before(old.At) {
			c.data.Acks[id] = a
		}
	}
	keys := map[string]bool{}
	for _, k := range append(c.data.Keys, in.Keys...) {
		if len(k) == 64 {
			keys[k] = true
		}
	}
	c.data.Keys = c.data.Keys[:0]
	for k := range keys {
		c.data.Keys = append(c.data.Keys, k)
	}
	sort.Strings(c.data.Keys)
	cut := time.Now().Add(-ackRetention)
	for id, a := range c.data.Acks {
		if a.At.Before(cut) {
			delete(c.data.Acks, id)
		}
	}
}

// setKeyFile makes file (mattermost.actions_secret_file) the only key, or
// "" the generated and gossiped ones. An unreadable or empty file is an
// error: buttons signed with nothing would all be refused.
func (c *chatState) setKeyFile(file string) error {
	if file != "" {
		if _, err := readKeyFile(file); err != nil {
			return err
		}
	}
	c.mu.Lock()
	c.keyFile = file
	c.mu.Unlock()
	return nil
}

func readKeyFile(file string) ([]byte, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("mattermost.actions_secret_file: %w", err)
	}
	if k := bytes.TrimSpace(b); len(k) > 0 {
		return k, nil
	}
	return nil, fmt.Errorf("mattermost.actions_secret_file %q is empty", file)
}

// keys are the signing keys, the signing one first.
func (c *chatState) keys() [][]byte {
	c.mu.Lock()
	file := c.keyFile
	c.mu.Unlock()
	if file != "" {
		k, err := readKeyFile(file)
		if err != nil {
			return nil
		}
		return [][]byte{k}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var out [][]byte
	for _, k := range c.data.Keys {
		if b, err := hex.DecodeString(k); err == nil {
			out = append(out, b)
		}
	}
	return out
}

// ack records an acknowledgement, saves it and tells the other replicas.
func (c *chatState) ack(a Ack) error {
	c.mu.Lock()
	if _, ok := c.data.Acks[a.PostID]; !ok {
		c.data.Acks[a.PostID] = a
	}
	c.merge(chatData{}) // prunes acknowledgements past their retention
	b, err := json.Marshal(chatData{Acks: map[string]Ack{a.PostID: c.data.Acks[a.PostID]}})
	bc := c.broadcast
	c.mu.Unlock()
	if err == nil && bc != nil {
		bc(b)
	}
	return c.file.save()
}

func (c *chatState) ackOf(postID string) (Ack, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.data.Acks[postID]
	return a, ok
}

func (c *chatState) list() []Ack {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Ack, 0, len(c.data.Acks))
	for _, a := range c.data.Acks {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].At.After(out[j].At) })
	return out
}

// chatActions carries out the buttons' actions on the engine (silences
// through its API, so they are saved before the answer) and its alerting
// part (acknowledgements, state).
type chatActions struct {
	e *Engine
	p *alertingPart
}

var _ mattermost.ActionBackend = chatActions{}

func (c chatActions) Silence(ctx context.Context, matchers map[string]string, d time.Duration, by, comment string) (string, error) {
	if len(matchers) == 0 {
		return "", errors.New("the group has no labels to silence")
	}
	var ms []*amlabels.Matcher
	for k, v := range matchers {
		m, err := amlabels.NewMatcher(amlabels.MatchEqual, k, v)
		if err != nil {
			return "", err
		}
		ms = append(ms, m)
	}
	return c.e.AddSilence(ctx, ms, d, by, comment)
}

func (c chatActions) Unsilence(ctx context.Context, id string) error {
	return c.e.ExpireSilence(ctx, id)
}

func (c chatActions) Acknowledge(_ context.Context, postID, groupKey, by string) error {
	if postID == "" {
		return errors.New("the click names no post")
	}
	return c.p.chat.ack(Ack{PostID: postID, GroupKey: groupKey, By: by, At: time.Now()})
}

// State is the post's acknowledgement and the active silence (the one
// ending last) that mutes the whole group.
func (c chatActions) State(ctx context.Context, postID string, matchers map[string]string) mattermost.PostState {
	var st mattermost.PostState
	p := c.p
	if a, ok := p.chat.ackOf(postID); ok {
		st.AckBy, st.AckAt = a.By, a.At
	}
	ls := model.LabelSet{}
	for k, v := range matchers {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	sils, _, err := p.silences.Query(ctx, silence.QState(silence.SilenceStateActive), silence.QMatches(ls))
	if err != nil {
		return st
	}
	for _, s := range sils {
		// Only a silence of exactly the group (as the buttons make) is
		// the post's to show and to end: a wider one (a namespace's
		// maintenance) is someone else's.
		if !exactly(s.MatcherSets, matchers) {
			continue
		}
		if st.SilenceID == "" || s.EndsAt.AsTime().After(st.SilencedUntil) {
			st.SilenceID, st.SilencedUntil = s.Id, s.EndsAt.AsTime()
			st.SilencedBy = strings.TrimPrefix(s.CreatedBy, "@")
		}
	}
	return st
}

// actionURL is where Mattermost sends the buttons' clicks.
func (e *Engine) actionURL() string {
	return strings.TrimRight(e.opts.ExternalURL.String(), "/") + mattermost.ActionPath
}

// MattermostActions serves the buttons' clicks (bot mode; 404 otherwise).
func (e *Engine) MattermostActions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := e.alerting()
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		p.mu.Lock()
		n := p.notifier
		p.mu.Unlock()
		if n == nil || n.Bot() == nil {
			http.Error(w, "Mattermost bot mode is off (no mattermost.bot_token_file in the spec)", http.StatusNotFound)
			return
		}
		h := &mattermost.ActionHandler{Signer: p.signer, Backend: chatActions{e: e, p: p}, API: n.Bot().API(),
			ActionURL: e.actionURL(), Logger: e.logger.With("component", "mattermost-actions"), Metrics: p.actionMetrics}
		h.ServeHTTP(w, r)
	})
}

// Acks lists the acknowledgements from the chat, newest first.
func (e *Engine) Acks() []Ack {
	p, err := e.alerting()
	if err != nil {
		return nil
	}
	return p.chat.list()
}

func (e *Engine) alerting() (*alertingPart, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.alerts == nil {
		return nil, errNotStarted
	}
	return e.alerts, nil
}

// exactly says whether one of the silence's matcher sets is the group's
// labels as equality matchers, nothing more.
func exactly(sets []*pb.MatcherSet, labels map[string]string) bool {
	for _, set := range sets {
		if len(set.Matchers) != len(labels) {
			continue
		}
		ok := true
		for _, m := range set.Matchers {
			if v, has := labels[m.Name]; !has || m.Type != pb.Matcher_EQUAL || m.Pattern != v {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

package bridge

// Bot mode's state in the bridge's data directory. Alertmanager keeps a
// bot post's id in its notification log, beside the group's entry; the
// bridge receives webhooks and has no notification log, so it keeps the
// same record (mattermost.PostRef) per group key in its own file, with the
// acknowledgements clicked on the posts. The file is rewritten atomically
// (temporary file, fsync, rename, fsync of the directory) on every change,
// so a restart edits the same posts.

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gatewatch/gatewatch/internal/atomicfile"
	"github.com/gatewatch/gatewatch/internal/mattermost"
)

// File names in the data directory.
const (
	stateFileName = "bridge-state.json"
	keyFileName   = "actions.key"
)

// Retentions: a group's post whose group was not notified for postRetention
// is forgotten (Alertmanager's notification log keeps an entry 120h by
// default; a group that resolved without send_resolved never says so), and
// an acknowledgement after ackRetention (its incident is long over).
const (
	postRetention = 120 * time.Hour
	ackRetention  = 7 * 24 * time.Hour
)

// GroupPost is a group's post as the state file keeps it.
type GroupPost struct {
	mattermost.PostRef
	// Updated is when the post was last delivered to.
	Updated time.Time `json:"updated"`
	// Resolved, when set, is when the group's resolve was delivered: the
	// incident is over, the next firing is a new post, and another resolve
	// (a retry, or a second Alertmanager replica) is a duplicate.
	Resolved time.Time `json:"resolved,omitzero"`
}

// Ack is an acknowledgement clicked on a post.
type Ack struct {
	GroupKey string    `json:"group_key"`
	By       string    `json:"by"`
	At       time.Time `json:"at"`
}

type stateData struct {
	// Posts by Alertmanager group key.
	Posts map[string]GroupPost `json:"posts"`
	// Acks by post id.
	Acks map[string]Ack `json:"acks"`
}

// State is the bridge's bot-mode state: each group's post and the
// acknowledgements, saved in the data directory on every change.
type State struct {
	path string
	now  func() time.Time

	mu   sync.Mutex
	data stateData
}

// OpenState reads the state from dir (created, 0700, when missing); an
// absent file is an empty state. now is the clock (nil: time.Now).
func OpenState(dir string, now func() time.Time) (*State, error) {
	if now == nil {
		now = time.Now
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	s := &State{path: filepath.Join(dir, stateFileName), now: now,
		data: stateData{Posts: map[string]GroupPost{}, Acks: map[string]Ack{}}}
	b, err := os.ReadFile(s.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		// Write it now: a data directory that cannot be written is an
		// error at start, not after the first post.
		if err := s.save(); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("read bridge state: %w", err)
	default:
		if err := json.Unmarshal(b, &s.data); err != nil {
			return nil, fmt.Errorf("read bridge state from %s: %w", s.path, err)
		}
		if s.data.Posts == nil {
			s.data.Posts = map[string]GroupPost{}
		}
		if s.data.Acks == nil {
			s.data.Acks = map[string]Ack{}
		}
	}
	return s, nil
}

// Path is the state file.
func (s *State) Path() string { return s.path }

// Post returns the group's post, if the bridge made one for its incident.
func (s *State) Post(groupKey string) (GroupPost, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.data.Posts[groupKey]
	return p, ok
}

// Posts returns every group's post, by group key.
func (s *State) Posts() map[string]GroupPost {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]GroupPost, len(s.data.Posts))
	for k, v := range s.data.Posts {
		out[k] = v
	}
	return out
}

// SetPost records the group's post and saves.
func (s *State) SetPost(groupKey string, ref mattermost.PostRef) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data.Posts[groupKey] = GroupPost{PostRef: ref, Updated: s.now()}
	return s.save()
}

// ResolvePost marks the group's post resolved, which drops it as the
// group's post (the next firing is a new post), and saves.
func (s *State) ResolvePost(groupKey string, ref mattermost.PostRef) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.data.Posts[groupKey] = GroupPost{PostRef: ref, Updated: now, Resolved: now}
	return s.save()
}

// Ack records the first acknowledgement of a post and saves.
func (s *State) Ack(postID string, a Ack) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.data.Acks[postID]; ok {
		return nil
	}
	s.data.Acks[postID] = a
	return s.save()
}

// AckOf returns the post's acknowledgement.
func (s *State) AckOf(postID string) (Ack, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.data.Acks[postID]
	return a, ok
}

// save prunes what is past its retention and writes the file atomically;
// the caller holds s.mu.
func (s *State) save() error {
	now := s.now()
	for k, p := range s.data.Posts {
		if now.Sub(p.Updated) > postRetention {
			delete(s.data.Posts, k)
		}
	}
	for k, a := range s.data.Acks {
		if now.Sub(a.At) > ackRetention {
			delete(s.data.Acks, k)
		}
	}
	b, err := json.MarshalIndent(s.data, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(s.path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("save bridge state: %w", err)
	}
	return nil
}

// writeFileAtomic replaces path with b (atomicfile.Write).
func writeFileAtomic(path string, b []byte, perm os.FileMode) error {
	return atomicfile.Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// signingKeys returns the buttons' signing keys: the content of
// secretFile (mattermost.actions_secret_file), read on every use so it can
// be rotated, or else a random 32-byte key generated once in dir (0600).
func signingKeys(dir, secretFile string) (func() [][]byte, error) {
	if secretFile != "" {
		read := func() ([]byte, error) {
			b, err := os.ReadFile(secretFile)
			if err != nil {
				return nil, fmt.Errorf("read actions_secret_file: %w", err)
			}
			k := []byte(strings.TrimSpace(string(b)))
			if len(k) == 0 {
				return nil, fmt.Errorf("actions_secret_file %s is empty", secretFile)
			}
			return k, nil
		}
		if _, err := read(); err != nil {
			return nil, err
		}
		return func() [][]byte {
			k, err := read()
			if err != nil {
				return nil
			}
			return [][]byte{k}
		}, nil
	}
	path := filepath.Join(dir, keyFileName)
	b, err := os.ReadFile(path)
	var key []byte
	switch {
	case errors.Is(err, os.ErrNotExist):
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		if err := writeFileAtomic(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("save the actions signing key: %w", err)
		}
	case err != nil:
		return nil, fmt.Errorf("read the actions signing key: %w", err)
	default:
		key, err = hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(key) != 32 {
			return nil, fmt.Errorf("the actions signing key %s is not 64 hex digits: delete it to make a new one (buttons already posted stop working)", path)
		}
	}
	return func() [][]byte { return [][]byte{key} }, nil
}

package bridge

// Without --alertmanager-url the bridge cannot silence, so its posts carry
// only the Acknowledge button. The mattermost package signs and lays out
// the buttons for the embedded engine, which always can silence; the
// bridge takes the silence buttons out of what goes to Mattermost — the
// posts it creates and edits (the REST client's transport) and the post a
// click's answer rewrites (the action endpoint's answer).

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"

	"github.com/gatewatch/gatewatch/internal/mattermost"
)

// silenceActions are the buttons that need an Alertmanager.
var silenceActions = []string{mattermost.ActSilence1h, mattermost.ActSilence24h, mattermost.ActUnsilence}

// dropActions removes the actions whose id is in ids from every
// attachment in the JSON document b; it reports whether it changed it.
func dropActions(b []byte, ids []string) ([]byte, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc any
	if dec.Decode(&doc) != nil {
		return b, false
	}
	if !walkActions(doc, ids) {
		return b, false
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return b, false
	}
	return out, true
}

func walkActions(v any, ids []string) bool {
	changed := false
	switch v := v.(type) {
	case map[string]any:
		for k, sub := range v {
			if atts, ok := sub.([]any); ok && k == "attachments" {
				for _, att := range atts {
					if a, ok := att.(map[string]any); ok {
						if acts, ok := a["actions"].([]any); ok {
							kept := slices.DeleteFunc(slices.Clone(acts), func(act any) bool {
								m, _ := act.(map[string]any)
								id, _ := m["id"].(string)
								return slices.Contains(ids, id)
							})
							if len(kept) != len(acts) {
								changed = true
								if len(kept) == 0 {
									delete(a, "actions")
								} else {
									a["actions"] = kept
								}
							}
						}
					}
				}
				continue
			}
			if walkActions(sub, ids) {
				changed = true
			}
		}
	case []any:
		for _, sub := range v {
			if walkActions(sub, ids) {
				changed = true
			}
		}
	}
	return changed
}

// noSilenceTransport takes the silence buttons out of the posts the bot
// creates and edits.
type noSilenceTransport struct{ base http.RoundTripper }

func (t noSilenceTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.Body == http.NoBody || (r.Method != http.MethodPost && r.Method != http.MethodPut) {
		return t.base.RoundTrip(r)
	}
	b, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return nil, err
	}
	b, _ = dropActions(b, silenceActions)
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(bytes.NewReader(b))
	r2.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	r2.ContentLength = int64(len(b))
	return t.base.RoundTrip(r2)
}

// noSilenceAnswers takes the silence buttons out of the post a click's
// answer rewrites.
type noSilenceAnswers struct{ next http.Handler }

func (h noSilenceAnswers) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	h.next.ServeHTTP(rec, r)
	b := rec.body.Bytes()
	if rec.status == http.StatusOK {
		b, _ = dropActions(b, silenceActions)
		if len(b) > 0 && b[len(b)-1] != '\n' {
			b = append(b, '\n')
		}
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(rec.status)
	_, _ = w.Write(b)
}

// recorder keeps a handler's answer (the action endpoint's are small).
type recorder struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.body.Write(b)
}

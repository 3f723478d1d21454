package bridge

// The buttons' actions in bridge mode: the alerts are the user's
// Alertmanager's, so are their silences. Silence and Unsilence go to its
// API v2 through Alertmanager's own generated client; acknowledgements,
// which Alertmanager has no notion of, are kept in the bridge's state.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/go-openapi/strfmt"
	amclient "github.com/prometheus/alertmanager/api/v2/client"
	"github.com/prometheus/alertmanager/api/v2/client/silence"
	"github.com/prometheus/alertmanager/api/v2/models"
	amlabels "github.com/prometheus/alertmanager/pkg/labels"

	"github.com/gatewatch/gatewatch/internal/mattermost"
)

// stateTimeout bounds the silence lookup behind a post's status line: a
// slow Alertmanager must not hold the alert back.
const stateTimeout = 3 * time.Second

// errNoAlertmanager is a silence asked for without --alertmanager-url (the
// buttons are not shown then; an old post may still have them).
var errNoAlertmanager = errors.New("the bridge has no --alertmanager-url: silence the group in your Alertmanager (the post's Silence link)")

// actions carries out the buttons' clicks: silences in the user's
// Alertmanager (am nil: none), acknowledgements in the state.
type actions struct {
	state  *State
	am     *amclient.AlertmanagerAPI
	http   *http.Client
	now    func() time.Time
	logger *slog.Logger
}

var _ mattermost.ActionBackend = (*actions)(nil)

// alertmanagerClient is Alertmanager's API v2 client for raw, an
// Alertmanager's base URL (path prefix included, as its --web.external-url
// or --web.route-prefix has it).
func alertmanagerClient(raw string) (*amclient.AlertmanagerAPI, error) {
	u, err := parseAlertmanagerURL(raw)
	if err != nil {
		return nil, err
	}
	cfg := amclient.DefaultTransportConfig().
		WithHost(u.Host).
		WithBasePath(strings.TrimRight(u.Path, "/") + "/api/v2").
		WithSchemes([]string{u.Scheme})
	return amclient.NewHTTPClientWithConfig(strfmt.Default, cfg), nil
}

// CheckAlertmanagerURL checks --alertmanager-url.
func CheckAlertmanagerURL(raw string) error {
	_, err := parseAlertmanagerURL(raw)
	return err
}

func parseAlertmanagerURL(raw string) (*url.URL, error) {
	const want = "want your Alertmanager's http(s) URL, e.g. http://alertmanager-operated.monitoring.svc:9093"
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, errors.New("--alertmanager-url is not a URL: " + want)
	case u.User != nil:
		return nil, errors.New("--alertmanager-url: credentials in the URL are not supported (they would show in logs and errors)")
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return nil, fmt.Errorf("--alertmanager-url %q: %s", raw, want)
	}
	return u, nil
}

// Silence creates a silence of exactly the group's labels (equality
// matchers) for d.
func (a *actions) Silence(ctx context.Context, matchers map[string]string, d time.Duration, createdBy, comment string) (string, error) {
	if a.am == nil {
		return "", errNoAlertmanager
	}
	if len(matchers) == 0 {
		return "", errors.New("the group has no labels to silence")
	}
	names := make([]string, 0, len(matchers))
	for n := range matchers {
		names = append(names, n)
	}
	sort.Strings(names)
	ms := make(models.Matchers, 0, len(names))
	for _, n := range names {
		ms = append(ms, &models.Matcher{Name: ptr(n), Value: ptr(matchers[n]), IsEqual: ptr(true), IsRegex: ptr(false)})
	}
	now := a.now()
	start, end := strfmt.DateTime(now), strfmt.DateTime(now.Add(d))
	sil := &models.PostableSilence{Silence: models.Silence{
		Matchers: ms, StartsAt: &start, EndsAt: &end, CreatedBy: ptr(createdBy), Comment: ptr(comment),
	}}
	ok, err := a.am.Silence.PostSilences(silence.NewPostSilencesParamsWithContext(ctx).WithHTTPClient(a.http).WithSilence(sil))
	if err != nil {
		return "", fmt.Errorf("alertmanager: create silence: %w", err)
	}
	if ok.Payload == nil || ok.Payload.SilenceID == "" {
		return "", errors.New("alertmanager: create silence: no silence id in the answer")
	}
	return ok.Payload.SilenceID, nil
}

// Unsilence expires the silence.
func (a *actions) Unsilence(ctx context.Context, id string) error {
	if a.am == nil {
		return errNoAlertmanager
	}
	if _, err := a.am.Silence.DeleteSilence(silence.NewDeleteSilenceParamsWithContext(ctx).WithHTTPClient(a.http).WithSilenceID(strfmt.UUID(id))); err != nil {
		return fmt.Errorf("alertmanager: expire silence %s: %w", id, err)
	}
	return nil
}

// Acknowledge records who acknowledged the post, and when.
func (a *actions) Acknowledge(_ context.Context, postID, groupKey, by string) error {
	if postID == "" {
		return errors.New("the click names no post")
	}
	return a.state.Ack(postID, Ack{GroupKey: groupKey, By: by, At: a.now()})
}

// State is the post's acknowledgement and the group's active silence: of
// the silences with the group's matchers that mute all of the group, the
// one ending last. An unreachable Alertmanager leaves the silence out.
func (a *actions) State(ctx context.Context, postID string, matchers map[string]string) mattermost.PostState {
	var st mattermost.PostState
	if ack, ok := a.state.AckOf(postID); ok {
		st.AckBy, st.AckAt = ack.By, ack.At
	}
	if a.am == nil || len(matchers) == 0 {
		return st
	}
	ctx, cancel := context.WithTimeout(ctx, stateTimeout)
	defer cancel()
	sil, err := a.activeSilence(ctx, matchers)
	if err != nil {
		a.logger.Warn("silences not read from Alertmanager; the post shows none", "err", err)
		return st
	}
	if sil != nil {
		st.SilenceID = *sil.ID
		st.SilencedUntil = time.Time(*sil.EndsAt)
		st.SilencedBy = strings.TrimPrefix(*sil.CreatedBy, "@")
	}
	return st
}

// activeSilence is the active silence muting the whole group that ends
// last (nil: none).
func (a *actions) activeSilence(ctx context.Context, matchers map[string]string) (*models.GettableSilence, error) {
	var filter []string
	for n, v := range matchers {
		m, err := amlabels.NewMatcher(amlabels.MatchEqual, n, v)
		if err != nil {
			return nil, err
		}
		filter = append(filter, m.String())
	}
	sort.Strings(filter)
	params := silence.NewGetSilencesParamsWithContext(ctx).WithDefaults().WithHTTPClient(a.http).WithFilter(filter).
		WithExpired(ptr(false)).WithPending(ptr(false))
	ok, err := a.am.Silence.GetSilences(params)
	if err != nil {
		return nil, fmt.Errorf("alertmanager: list silences: %w", err)
	}
	var best *models.GettableSilence
	for _, s := range ok.Payload {
		if s == nil || s.ID == nil || s.EndsAt == nil || s.CreatedBy == nil || s.Status == nil || s.Status.State == nil ||
			*s.Status.State != models.SilenceStatusStateActive || !mutesGroup(s.Matchers, matchers) {
			continue
		}
		if best == nil || time.Time(*s.EndsAt).After(time.Time(*best.EndsAt)) {
			best = s
		}
	}
	return best, nil
}

// mutesGroup reports whether every matcher of a silence matches the
// group's labels (an absent label is empty), so the silence mutes every
// alert of the group.
func mutesGroup(ms models.Matchers, labels map[string]string) bool {
	if len(ms) == 0 {
		return false
	}
	for _, m := range ms {
		if m == nil || m.Name == nil || m.Value == nil || m.IsRegex == nil {
			return false
		}
		eq := m.IsEqual == nil || *m.IsEqual
		t := amlabels.MatchEqual
		switch {
		case *m.IsRegex && eq:
			t = amlabels.MatchRegexp
		case *m.IsRegex:
			t = amlabels.MatchNotRegexp
		case !eq:
			t = amlabels.MatchNotEqual
		}
		lm, err := amlabels.NewMatcher(t, *m.Name, *m.Value)
		if err != nil || !lm.Matches(labels[*m.Name]) {
			return false
		}
	}
	return true
}

func ptr[T any](v T) *T { return &v }

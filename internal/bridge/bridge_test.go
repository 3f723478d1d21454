package bridge

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/alert"
	amcommoncfg "github.com/prometheus/alertmanager/config/common"
	"github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/alertmanager/notify/webhook"
	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/mattermost"
	"github.com/gatewatch/gatewatch/internal/mattermost/inbox"
	"github.com/gatewatch/gatewatch/internal/spec"
)

const hookID = "bridgehooksecret0000000001"

type fixture struct {
	mm      *inbox.Server
	bridge  *httptest.Server
	srv     *Server
	logs    *bytes.Buffer
	metrics *mattermost.Metrics
	// externalURL is the Alertmanager's --web.external-url (the webhook
	// payload's externalURL).
	externalURL string
}

func start(t *testing.T, enrich mattermost.EnrichFunc) *fixture {
	t.Helper()
	mm, err := inbox.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { mm.Close() })
	hook := mm.AddHook(hookID, "gateway-alerts", false)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	m := mattermost.NewMetrics(prometheus.NewRegistry())
	c, err := mattermost.NewClient(spec.Mattermost{WebhookURL: spec.Secret(hook)}, mattermost.WithLogger(logger), mattermost.WithMetrics(m))
	require.NoError(t, err)
	s := New(c, Options{Message: mattermost.Options{Footer: "Sent by gatewatch bridge"}, Enrich: enrich, Logger: logger, Registry: prometheus.NewRegistry()})
	b := httptest.NewServer(s)
	t.Cleanup(b.Close)
	return &fixture{mm: mm, bridge: b, srv: s, logs: &logs, metrics: m, externalURL: "http://alertmanager.example.com:9093"}
}

// send notifies the bridge with Alertmanager's own webhook notifier, so the
// payload is exactly what Alertmanager sends.
func (f *fixture) send(t *testing.T, maxAlerts uint64, alerts ...*alert.Alert) notify.NotifyVerdict {
	t.Helper()
	tmpl, err := template.FromGlobs(nil)
	require.NoError(t, err)
	tmpl.ExternalURL, err = url.Parse(f.externalURL)
	require.NoError(t, err)
	n, err := webhook.New(&webhook.WebhookConfig{
		NotifierConfig: amcommoncfg.NotifierConfig{VSendResolved: true},
		HTTPConfig:     &commoncfg.HTTPClientConfig{},
		URL:            amcommoncfg.SecretTemplateURL(f.bridge.URL + "/alerts"),
		MaxAlerts:      maxAlerts,
	}, tmpl, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	ctx := notify.WithGroupKey(context.Background(), `{}/{alertname="GatewayMisdirectedRequest421"}:{alertname="GatewayMisdirectedRequest421", gateway="public-ingress", namespace="istio-ingress"}`)
	ctx = notify.WithReceiverName(ctx, "gatewatch-bridge")
	ctx = notify.WithGroupLabels(ctx, model.LabelSet{"alertname": "GatewayMisdirectedRequest421", "gateway": "public-ingress", "namespace": "istio-ingress"})
	return n.Notify(ctx, alerts...)
}

func alert421(pod string) *alert.Alert {
	return alert.New(model.Alert{
		Labels:      model.LabelSet{"alertname": "GatewayMisdirectedRequest421", "gateway": "public-ingress", "namespace": "istio-ingress", "severity": "warning", "pod": model.LabelValue(pod)},
		Annotations: model.LabelSet{"summary": "Gateway public-ingress returned HTTP 421 Misdirected Request", "count": "3", "window": "5m"},
		StartsAt:    time.Now().Add(-time.Minute),
	}, time.Now(), false)
}

func TestBridgePostsEnrichedMessage(t *testing.T) {
	var saw *template.Data
	f := start(t, func(_ context.Context, d *template.Data) *mattermost.Enrichment {
		saw = d
		return &mattermost.Enrichment{Line: "**Why:** shop.example.com → api.example.com", Card: "#### Why"}
	})
	v := f.send(t, 0, alert421("gw-1"), alert421("gw-2"))
	require.NoError(t, v.Err())
	posts := f.mm.Posts()
	require.Len(t, posts, 1)
	require.Equal(t, "[FIRING:2] GatewayMisdirectedRequest421 — public-ingress (istio-ingress)", posts[0].Attachments[0].Title)
	require.Contains(t, posts[0].Attachments[0].Text, "**Why:** shop.example.com → api.example.com")
	require.Equal(t, "Sent by gatewatch bridge", posts[0].Attachments[0].Footer)
	require.Equal(t, "gatewatch-bridge", saw.Receiver)
	require.Equal(t, 1.0, testutil.ToFloat64(f.srv.received.WithLabelValues("sent")))
	require.Equal(t, 1.0, testutil.ToFloat64(f.metrics.Sent), "the Mattermost client's counters move too")
	require.NotContains(t, f.logs.String(), hookID)
}

// TestBridgeSilenceLinksToUsersAlertmanager: the bridge's messages come
// from the user's own Alertmanager, so their Silence link opens that
// Alertmanager's UI (the payload's externalURL, path prefix kept), where
// the silence must be made — not gatewatch's page.
func TestBridgeSilenceLinksToUsersAlertmanager(t *testing.T) {
	f := start(t, nil)
	f.externalURL = "https://alertmanager.corp.example/am"
	require.NoError(t, f.send(t, 0, alert421("gw-1")).Err())
	posts := f.mm.Posts()
	require.Len(t, posts, 1)
	require.Contains(t, posts[0].Attachments[0].Text,
		"[Silence](https://alertmanager.corp.example/am/#/silences/new?filter=%7Bgateway%3D%22public-ingress%22%2C%20namespace%3D%22istio-ingress%22%2C%20pod%3D%22gw-1%22%2C%20severity%3D%22warning%22%2C%20alertname%3D%22GatewayMisdirectedRequest421%22%7D)")
	require.Equal(t, 1, strings.Count(posts[0].Attachments[0].Text, "/#/silences/new"))
}

func TestBridgeSaysWhatAlertmanagerTruncated(t *testing.T) {
	f := start(t, nil)
	require.NoError(t, f.send(t, 1, alert421("gw-1"), alert421("gw-2"), alert421("gw-3")).Err())
	posts := f.mm.Posts()
	require.Len(t, posts, 1)
	require.Contains(t, posts[0].Attachments[0].Text, "and 2 more alerts Alertmanager did not send")
}

// TestBridgeAnswersForAlertmanagersRetrier: a Mattermost outage is a 503,
// which Alertmanager's webhook notifier retries; a rejection is a 4xx it
// does not; the secret stays out of both answers.
func TestBridgeAnswersForAlertmanagersRetrier(t *testing.T) {
	f := start(t, nil)
	f.mm.FailNext(1, http.StatusBadGateway)
	v := f.send(t, 0, alert421("gw-1"))
	require.Error(t, v.Err())
	require.True(t, v.ShouldRetry(), "%v", v.Err())
	require.NotContains(t, v.Err().Error(), hookID)
	require.NoError(t, f.send(t, 0, alert421("gw-1")).Err(), "the retry is delivered")

	f.mm.FailNext(1, http.StatusBadRequest)
	v = f.send(t, 0, alert421("gw-1"))
	require.Error(t, v.Err())
	require.False(t, v.ShouldRetry())
	require.Equal(t, 1.0, testutil.ToFloat64(f.srv.received.WithLabelValues("failed")))
	require.Equal(t, 1.0, testutil.ToFloat64(f.metrics.Failed.WithLabelValues(mattermost.CauseHTTP)), "the rejection counted as failed")
	require.Equal(t, 1.0, testutil.ToFloat64(f.metrics.Sent), "the one delivered")
	require.Len(t, f.mm.Posts(), 1)
}

func TestBridgeRejectsBadPayloads(t *testing.T) {
	f := start(t, nil)
	for _, tc := range []struct {
		name, method, body string
		status             int
		want               string
	}{
		{"not json", http.MethodPost, "{not json", 400, "decode Alertmanager webhook payload"},
		{"old version", http.MethodPost, `{"version":"3","alerts":[{"labels":{"alertname":"A"}}]}`, 400, `version "3"`},
		{"no alerts", http.MethodPost, `{"version":"4","status":"firing","alerts":[]}`, 400, "no alerts"},
		{"no alertname", http.MethodPost, `{"version":"4","status":"firing","alerts":[{"labels":{"gateway":"g"}}]}`, 400, "alerts[0] has no alertname"},
		{"truncated", http.MethodPost, `{"version":"4","status":"firing","alerts":[{"labels":`, 400, "unexpected end"},
		{"too big", http.MethodPost, `{"version":"4","x":"` + strings.Repeat("a", MaxPayload) + `"}`, 413, "payload over"},
		{"GET", http.MethodGet, "", 405, "POST Alertmanager webhook notifications here"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, f.bridge.URL+"/alerts", strings.NewReader(tc.body))
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			var b bytes.Buffer
			_, _ = b.ReadFrom(resp.Body)
			require.Equal(t, tc.status, resp.StatusCode, b.String())
			require.Contains(t, b.String(), tc.want)
		})
	}
	require.Empty(t, f.mm.Posts())
	require.Equal(t, 6.0, testutil.ToFloat64(f.srv.received.WithLabelValues("bad_request")))
}

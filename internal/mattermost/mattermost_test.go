package mattermost

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/alertmanager/eventrecorder"
	"github.com/prometheus/alertmanager/featurecontrol"
	"github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/mattermost/inbox"
	"github.com/gatewatch/gatewatch/internal/render"
	"github.com/gatewatch/gatewatch/internal/spec"
)

const hookID = "kd8w3hq1x7fzpbnsecret4tr"

var fastRetry = RetryPolicy{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond, MaxElapsed: 5 * time.Second}

func startServer(t *testing.T) (*inbox.Server, string) {
	t.Helper()
	srv, err := inbox.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	return srv, srv.AddHook(hookID, "gateway-alerts", true)
}

func newClient(t *testing.T, url string, opts ...ClientOption) (*Client, *bytes.Buffer, *Metrics) {
	t.Helper()
	var logs bytes.Buffer
	m := NewMetrics(prometheus.NewRegistry())
	c, err := NewClient(spec.Mattermost{WebhookURL: spec.Secret(url)},
		append([]ClientOption{WithRetry(fastRetry), WithMetrics(m), WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))}, opts...)...)
	require.NoError(t, err)
	return c, &logs, m
}

// sampleData is a realistic firing group of n 421 alerts.
func sampleData(n int, severity string) *template.Data {
	d := &template.Data{
		Receiver: "mattermost", Status: "firing", ExternalURL: "http://alertmanager.example.com:9093",
		GroupLabels:       template.KV{"alertname": "GatewayMisdirectedRequest421", "namespace": "istio-ingress", "gateway": "public-ingress"},
		CommonLabels:      template.KV{"alertname": "GatewayMisdirectedRequest421", "namespace": "istio-ingress", "gateway": "public-ingress", "severity": severity, "workload": "istio-ingressgateway"},
		CommonAnnotations: template.KV{"window": "5m", "count_name": "421s", "summary": "Gateway public-ingress returned HTTP 421 Misdirected Request"},
	}
	for i := 0; i < n; i++ {
		pod := fmt.Sprintf("istio-ingressgateway-7d9f8b6c4d-%05d", i)
		d.Alerts = append(d.Alerts, template.Alert{
			Status:       "firing",
			Labels:       template.KV{"alertname": "GatewayMisdirectedRequest421", "namespace": "istio-ingress", "gateway": "public-ingress", "severity": severity, "workload": "istio-ingressgateway", "pod": pod, "instance": fmt.Sprintf("10.0.%d.%d:15090", i/250, i%250)},
			Annotations:  template.KV{"window": "5m", "count_name": "421s", "count": fmt.Sprint(i%3 + 1), "summary": "Gateway public-ingress returned HTTP 421 Misdirected Request", "description": fmt.Sprintf("%d misdirected request(s) (HTTP 421) served by gateway public-ingress, pod %s in the last 5m. Usually a client reused an HTTP/2 connection opened for another host whose certificate also covers this one.", i%3+1, pod), "runbook_url": "https://runbooks.example.com/gateway-421"},
			StartsAt:     time.Date(2026, 11, 25, 10, 0, i%60, 0, time.UTC),
			GeneratorURL: "http://prometheus.example.com:9090/graph?g0.expr=istio_requests_total",
			Fingerprint:  fmt.Sprintf("%016x", i),
		})
	}
	if n == 1 {
		d.CommonAnnotations = d.Alerts[0].Annotations
	}
	return d
}

func TestFaultsRetriedThenDeliveredOnce(t *testing.T) {
	srv, url := startServer(t)
	c, _, m := newClient(t, url)
	srv.FailNext(3, 500)
	res, err := c.Send(context.Background(), Build(sampleData(1, "warning"), Options{Footer: "Sent by gatewatch"}))
	require.NoError(t, err)
	require.Equal(t, 4, res.Attempts)
	require.Equal(t, 4, srv.Requests())
	require.Len(t, srv.Posts(), 1, "delivered exactly once")
	require.Equal(t, 1.0, testutil.ToFloat64(m.Sent))
	require.Equal(t, 3.0, testutil.ToFloat64(m.Attempts.WithLabelValues(CauseHTTP)))
}

func TestRetryAfterHonoured(t *testing.T) {
	srv, url := startServer(t)
	c, _, _ := newClient(t, url)
	srv.RateLimitNext(1, "2")
	start := time.Now()
	res, err := c.Send(context.Background(), Build(sampleData(1, "warning"), Options{}))
	require.NoError(t, err)
	require.GreaterOrEqual(t, time.Since(start), 2*time.Second, "must wait for Retry-After")
	require.Equal(t, 2, res.Attempts)
	require.Len(t, srv.Posts(), 1)
}

func TestClientErrorsNotRetried(t *testing.T) {
	srv, _ := startServer(t)
	for _, tc := range []struct {
		name, url string
		want      []string
	}{
		{"unknown hook", srv.URL + "/hooks/nosuchhook", []string{"HTTP 400", "unknown hook id", "Invalid webhook."}},
		{"other channel on a locked hook", srv.URL + "/hooks/" + hookID, []string{"HTTP 403", "channel locked", "not permitted to post to the requested channel"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := srv.Requests()
			c, logs, m := newClient(t, tc.url)
			p := Build(sampleData(1, "warning"), Options{Channel: "elsewhere"})
			res, err := c.Send(context.Background(), p)
			require.Error(t, err)
			require.Equal(t, 1, res.Attempts, "4xx is not retried")
			require.Equal(t, before+1, srv.Requests())
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			require.Equal(t, 1.0, testutil.ToFloat64(m.Failed.WithLabelValues(CauseHTTP)))
			require.Contains(t, logs.String(), "mattermost delivery failed")
			require.NotContains(t, err.Error()+logs.String(), hookID)
		})
	}
}

func TestConnectionRefusedReportedFailed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	url := "http://" + addr + "/hooks/" + hookID
	c, logs, m := newClient(t, url, WithRetry(RetryPolicy{Initial: 20 * time.Millisecond, Max: 100 * time.Millisecond, MaxElapsed: 500 * time.Millisecond}))
	res, err := c.Send(context.Background(), Build(sampleData(1, "warning"), Options{}))
	require.Error(t, err)
	require.Greater(t, res.Attempts, 1, "network errors are retried")
	require.Contains(t, err.Error(), "connection refused")
	require.Contains(t, err.Error(), "gave up after")
	require.Equal(t, 1.0, testutil.ToFloat64(m.Failed.WithLabelValues(CauseRefused)))
	require.Contains(t, logs.String(), `msg="mattermost delivery failed" cause="connection refused"`)
	require.NotContains(t, err.Error(), hookID)
	require.NotContains(t, logs.String(), hookID)
}

func TestResetAndSlowAnswersRetried(t *testing.T) {
	srv, url := startServer(t)
	c, logs, m := newClient(t, url, WithHTTPClient(&http.Client{Timeout: 200 * time.Millisecond}))
	srv.ResetNext(1)
	res, err := c.Send(context.Background(), Build(sampleData(1, "warning"), Options{}))
	require.NoError(t, err)
	require.Equal(t, 2, res.Attempts)
	require.Equal(t, 1.0, testutil.ToFloat64(m.Attempts.WithLabelValues(CauseReset)))

	srv.SetDelay(time.Second)
	c2, _, m2 := newClient(t, url, WithHTTPClient(&http.Client{Timeout: 100 * time.Millisecond}),
		WithRetry(RetryPolicy{Initial: 10 * time.Millisecond, Max: 10 * time.Millisecond, MaxElapsed: 400 * time.Millisecond}))
	_, err = c2.Send(context.Background(), Build(sampleData(1, "warning"), Options{}))
	require.Error(t, err)
	require.Contains(t, err.Error(), "timeout")
	require.Equal(t, 1.0, testutil.ToFloat64(m2.Failed.WithLabelValues(CauseTimeout)))
	require.NotContains(t, err.Error()+logs.String(), hookID)
}

func TestContextCancelStopsRetries(t *testing.T) {
	srv, url := startServer(t)
	srv.FailNext(100, 503)
	c, _, _ := newClient(t, url, WithRetry(RetryPolicy{Initial: time.Second, Max: time.Second, MaxElapsed: time.Minute}))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Send(ctx, Build(sampleData(1, "warning"), Options{}))
	require.Error(t, err)
	require.Less(t, time.Since(start), 900*time.Millisecond)
	require.Empty(t, srv.Posts())
}

func TestOversizedGroupSummarisedAndAccepted(t *testing.T) {
	srv, url := startServer(t)
	c, _, _ := newClient(t, url)
	d := sampleData(4000, "critical")
	// Multi-byte text: runes, not bytes, count against the limit.
	for i := range d.Alerts {
		d.Alerts[i].Annotations["description"] += " 🚦 ミスディレクテッド・リクエスト"
	}
	p := Build(d, Options{MentionCritical: "@here", Footer: "Sent by gatewatch"})
	body, err := json.Marshal(p)
	require.NoError(t, err)
	require.Less(t, len(body), MaxBody)
	require.LessOrEqual(t, utf8.RuneCountInString(p.Attachments[0].Text), MaxRunes)
	require.LessOrEqual(t, utf8.RuneCountInString(p.Props.Card), MaxRunes)
	require.Regexp(t, `and \d+ more`, p.Attachments[0].Text)
	require.Contains(t, p.Attachments[0].Title, "[FIRING:4000]")
	require.Regexp(t, `… and \d+ more$`, p.Attachments[0].Fields[3].Value)
	_, err = c.Send(context.Background(), p)
	require.NoError(t, err)
	posts := srv.Posts()
	require.Len(t, posts, 1)
	require.Equal(t, "@here", posts[0].Message)
	require.Equal(t, "important", posts[0].Priority.Priority)
	require.Equal(t, "danger", posts[0].Attachments[0].Color)
}

func TestWebhookURLFileReadOnEverySend(t *testing.T) {
	srv, _ := startServer(t)
	first := srv.AddHook("firsthook", "gateway-alerts", false)
	second := srv.AddHook("secondhook", "gateway-alerts", false)
	file := filepath.Join(t.TempDir(), "url")
	require.NoError(t, os.WriteFile(file, []byte(first+"\n"), 0o600))
	c, err := NewClient(spec.Mattermost{WebhookURLFile: file}, WithRetry(fastRetry))
	require.NoError(t, err)
	_, err = c.Send(context.Background(), Build(sampleData(1, "warning"), Options{}))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, []byte(second), 0o600))
	_, err = c.Send(context.Background(), Build(sampleData(1, "warning"), Options{}))
	require.NoError(t, err)
	posts := srv.Posts()
	require.Len(t, posts, 2)
	require.Equal(t, "firsthook", posts[0].HookID)
	require.Equal(t, "secondhook", posts[1].HookID)

	require.NoError(t, os.Remove(file))
	_, err = c.Send(context.Background(), Build(sampleData(1, "warning"), Options{}))
	require.ErrorContains(t, err, "read webhook_url_file")
}

// TestNotifierInAlertmanagerPipeline drives the notifier through
// Alertmanager's own retry stage: 500 twice, then delivered once.
func TestNotifierInAlertmanagerPipeline(t *testing.T) {
	srv, url := startServer(t)
	c, _, _ := newClient(t, url)
	n, err := NewNotifier(c, Options{Footer: "Sent by gatewatch"}, nil, nil)
	require.NoError(t, err)
	srv.FailNext(2, 502)
	integration := notify.NewIntegration(n, sendResolved(true), "mattermost", 0, "mattermost")
	stage := notify.NewRetryStage(integration, "gatewatch", notify.NewMetrics(prometheus.NewRegistry(), featurecontrol.NoopFlags{}), eventrecorder.NopRecorder())
	ctx := notify.WithGroupKey(context.Background(), "{}:{alertname=\"GatewayMisdirectedRequest421\"}")
	ctx = notify.WithReceiverName(ctx, "mattermost")
	ctx = notify.WithGroupLabels(ctx, model.LabelSet{"alertname": "GatewayMisdirectedRequest421"})
	ctx = notify.WithFiringAlerts(ctx, []uint64{1})
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	a := alert.New(model.Alert{
		Labels:      model.LabelSet{"alertname": "GatewayMisdirectedRequest421", "gateway": "public-ingress", "namespace": "istio-ingress", "severity": "warning", "pod": "istio-ingressgateway-abc"},
		Annotations: model.LabelSet{"summary": "Gateway public-ingress returned HTTP 421 Misdirected Request", "count": "1", "window": "5m"},
		StartsAt:    time.Now().Add(-time.Minute),
	}, time.Now(), false)
	_, _, err = stage.Exec(ctx, slog.New(slog.DiscardHandler), a)
	require.NoError(t, err)
	require.Equal(t, 3, srv.Requests())
	posts := srv.Posts()
	require.Len(t, posts, 1)
	require.Equal(t, "[FIRING:1] GatewayMisdirectedRequest421 — public-ingress (istio-ingress)", posts[0].Attachments[0].Title)
}

type sendResolved bool

func (s sendResolved) SendResolved() bool { return bool(s) }

// TestLayoutMatchesAlertmanagerTemplates renders the same group through
// Alertmanager's template package with the templates render writes into
// slack_configs/mattermost_configs, and through Build: the message a user
// sees is the same whichever sends it.
func TestLayoutMatchesAlertmanagerTemplates(t *testing.T) {
	tmpl, err := template.FromGlobs(nil)
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		data *template.Data
	}{
		{"one firing", sampleData(1, "warning")},
		{"three firing critical", sampleData(3, "critical")},
		{"resolved", func() *template.Data {
			d := sampleData(2, "warning")
			d.Status = "resolved"
			for i := range d.Alerts {
				d.Alerts[i].Status = "resolved"
				d.Alerts[i].EndsAt = d.Alerts[i].StartsAt.Add(6 * time.Minute)
			}
			return d
		}()},
		{"no external URL, no pod", func() *template.Data {
			d := sampleData(1, "warning")
			d.ExternalURL = ""
			delete(d.Alerts[0].Labels, "pod")
			return d
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exec := func(text string) string {
				out, err := tmpl.ExecuteTextString(text, tc.data)
				require.NoError(t, err)
				return out
			}
			p := Build(tc.data, Options{MentionCritical: "@here"})
			a := p.Attachments[0]
			tm := render.Templates(spec.Mattermost{MentionCritical: "@here"})
			require.Equal(t, exec(tm.Title), a.Title)
			require.Equal(t, exec(tm.TitleLink), a.TitleLink)
			require.Equal(t, exec(tm.Color), a.Color)
			require.Equal(t, exec(tm.Body), a.Text)
			require.Equal(t, exec(tm.Card), p.Props.Card)
			require.Equal(t, exec(tm.Mention), p.Text)
			require.Len(t, a.Fields, len(tm.Fields))
			for i, f := range tm.Fields {
				require.Equal(t, exec(f.Title), a.Fields[i].Title)
				require.Equal(t, exec(f.Value), a.Fields[i].Value)
			}
		})
	}
}

func TestMessageContent(t *testing.T) {
	d := sampleData(1, "warning")
	p := Build(d, Options{Footer: "Sent by gatewatch"})
	a := p.Attachments[0]
	require.Equal(t, "[FIRING:1] GatewayMisdirectedRequest421 — public-ingress (istio-ingress)", a.Title)
	require.Equal(t, "warning", a.Color)
	require.Empty(t, p.Text, "no mention for warnings")
	require.Nil(t, p.Priority)
	require.Contains(t, a.Text, "**Gateway public-ingress returned HTTP 421 Misdirected Request** · pod `istio-ingressgateway-7d9f8b6c4d-00000`")
	require.Contains(t, a.Text, "[Runbook](https://runbooks.example.com/gateway-421)")
	require.Contains(t, a.Text, "[Silence](http://alertmanager.example.com:9093/#/silences/new?filter=%7B")
	require.NotContains(t, a.Text, "*Severity:*", "no Slack mrkdwn")
	require.Equal(t, Field{Title: "421s in window", Value: "1", Short: true}, a.Fields[4])
	require.Equal(t, "Sent by gatewatch", a.Footer)
	require.Contains(t, p.Props.Card, "| pod | istio-ingressgateway-7d9f8b6c4d-00000 |")
}

// TestProxyErrorPageRedacted: a proxy's error page that echoes the request
// path must not carry the hook id into errors or logs, and a non-Mattermost
// 404 is not described as "channel not found".
func TestProxyErrorPageRedacted(t *testing.T) {
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, "<html><body>The requested URL %s was not found on this server. (%s%s)</body></html>", r.URL.Path, r.Host, r.URL.Path)
	}))
	defer proxy.Close()
	c, logs, _ := newClient(t, proxy.URL+"/hooks/"+hookID)
	_, err := c.Send(context.Background(), Build(sampleData(1, "warning"), Options{}))
	require.Error(t, err)
	require.Contains(t, err.Error(), "HTTP 404")
	require.NotContains(t, err.Error(), "channel not found")
	require.NotContains(t, err.Error()+logs.String(), hookID)
	require.Contains(t, err.Error(), "<secret>")
}

func TestConfigAndTLSErrorsNotRetried(t *testing.T) {
	file := filepath.Join(t.TempDir(), "url")
	require.NoError(t, os.WriteFile(file, []byte("mattermost.example.com/hooks/"+hookID), 0o600))
	c, err := NewClient(spec.Mattermost{WebhookURLFile: file}, WithRetry(fastRetry))
	require.NoError(t, err)
	res, err := c.Send(context.Background(), Build(sampleData(1, "warning"), Options{}))
	require.Error(t, err)
	require.Equal(t, 1, res.Attempts)
	require.Contains(t, err.Error(), "does not hold an http(s) URL")
	require.NotContains(t, err.Error(), hookID)

	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }))
	defer tlsSrv.Close()
	c2, _, m := newClient(t, tlsSrv.URL+"/hooks/"+hookID)
	res, err = c2.Send(context.Background(), Build(sampleData(1, "warning"), Options{}))
	require.Error(t, err)
	require.Equal(t, 1, res.Attempts, "a certificate error is not retried")
	require.Contains(t, err.Error(), "TLS error")
	require.Equal(t, 1.0, testutil.ToFloat64(m.Failed.WithLabelValues(CauseTLS)))
}

// TestQueryStringRedacted: a webhook URL whose secret is in its query
// string (a proxy's ?key=…) never shows in errors or logs, even when the
// error page echoes the request line, raw or decoded.
func TestQueryStringRedacted(t *testing.T) {
	const key = "qs3cr3tKey9"
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprintf(w, "upstream for %s failed (query %s, key %s)", r.URL.RequestURI(), r.URL.RawQuery, r.URL.Query().Get("key"))
	}))
	defer proxy.Close()
	c, logs, _ := newClient(t, proxy.URL+"/hooks/x?key="+key+"&env=prod")
	_, err := c.Send(context.Background(), Build(sampleData(1, "warning"), Options{}))
	require.Error(t, err)
	require.Contains(t, err.Error(), "HTTP 502")
	require.NotContains(t, err.Error()+logs.String(), key)
}

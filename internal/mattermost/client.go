package mattermost

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatewatch/gatewatch/internal/spec"
)

// RetryPolicy bounds the retries of Send.
type RetryPolicy struct {
	// Initial is the first backoff; it doubles up to Max, with ±25% jitter.
	Initial, Max time.Duration
	// MaxElapsed bounds the total time spent on one message.
	MaxElapsed time.Duration
}

// defaultRetry is used when a Client has none.
func defaultRetry() RetryPolicy {
	return RetryPolicy{Initial: 500 * time.Millisecond, Max: 10 * time.Second, MaxElapsed: time.Minute}
}

// Client posts to a Mattermost incoming webhook.
type Client struct {
	url     spec.Secret
	urlFile string
	http    *http.Client
	logger  *slog.Logger
	retry   RetryPolicy
	metrics *Metrics
	sleep   func(context.Context, time.Duration) error
}

// Metrics counts deliveries.
type Metrics struct {
	Sent     prometheus.Counter
	Failed   *prometheus.CounterVec
	Attempts *prometheus.CounterVec
}

// NewMetrics creates the counters and registers them with reg (may be nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatewatch_mattermost_notifications_sent_total",
			Help: "Messages Mattermost accepted.",
		}),
		Failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatewatch_mattermost_notifications_failed_total",
			Help: "Messages given up on, by cause.",
		}, []string{"cause"}),
		Attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatewatch_mattermost_requests_total",
			Help: "Webhook requests, by outcome (ok or the failure cause).",
		}, []string{"outcome"}),
	}
	if reg != nil {
		reg.MustRegister(m.Sent, m.Failed, m.Attempts)
	}
	return m
}

// ClientOption configures a Client.
type ClientOption func(*Client)

// WithHTTPClient sets the HTTP client (default: 10 s timeout).
func WithHTTPClient(h *http.Client) ClientOption { return func(c *Client) { c.http = h } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) ClientOption { return func(c *Client) { c.logger = l } }

// WithRetry sets the retry policy of Send.
func WithRetry(r RetryPolicy) ClientOption { return func(c *Client) { c.retry = r } }

// WithMetrics sets the counters.
func WithMetrics(m *Metrics) ClientOption { return func(c *Client) { c.metrics = m } }

// NewClient returns a client for the spec's webhook (URL or URL file).
func NewClient(m spec.Mattermost, opts ...ClientOption) (*Client, error) {
	if m.WebhookURL == "" && m.WebhookURLFile == "" {
		return nil, errors.New("mattermost: set webhook_url or webhook_url_file in the spec")
	}
	c := &Client{
		url: m.WebhookURL, urlFile: m.WebhookURLFile,
		http:   &http.Client{Timeout: 10 * time.Second},
		logger: slog.New(slog.DiscardHandler),
		retry:  defaultRetry(),
		sleep:  sleepCtx,
	}
	for _, o := range opts {
		o(c)
	}
	if c.metrics == nil {
		c.metrics = NewMetrics(nil)
	}
	return c, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// webhookURL returns the URL, re-reading the file on every call so a
// rotated secret takes effect without a restart.
func (c *Client) webhookURL() (string, error) {
	return spec.ResolveWebhookURL(c.url.Reveal(), c.urlFile)
}

// Answer is Mattermost's reply to an accepted post.
type Answer struct {
	Status int
	Body   string
}

// mmError is Mattermost's JSON error body.
type mmError struct {
	ID            string `json:"id"`
	Message       string `json:"message"`
	DetailedError string `json:"detailed_error"`
	RequestID     string `json:"request_id"`
	StatusCode    int    `json:"status_code"`
}

// PostOnce is one attempt, as Alertmanager's retry stage (or the bridge's
// caller, Alertmanager) drives them: Post, counted in the metrics
// (requests by outcome; sent; failed when the error is not retryable).
func (c *Client) PostOnce(ctx context.Context, p Payload) error {
	_, err := c.Post(ctx, p)
	if err == nil {
		c.metrics.Attempts.WithLabelValues("ok").Inc()
		c.metrics.Sent.Inc()
		return nil
	}
	cause, retryable := CauseConfig, false
	var se *SendError
	if errors.As(err, &se) {
		cause, retryable = se.Cause, se.Retryable
	}
	c.metrics.Attempts.WithLabelValues(cause).Inc()
	if !retryable {
		c.metrics.Failed.WithLabelValues(cause).Inc()
	}
	return err
}

// Post makes one delivery attempt. Success is a 2xx answer; anything else
// is a *SendError saying whether a retry may help. It counts nothing (Send
// and PostOnce do).
func (c *Client) Post(ctx context.Context, p Payload) (Answer, error) {
	body, err := json.Marshal(p)
	if err != nil {
		return Answer{}, &SendError{Cause: CauseConfig, Err: fmt.Errorf("encode payload: %w", err)}
	}
	if len(body) >= MaxBody {
		return Answer{}, &SendError{Cause: CauseConfig, Err: fmt.Errorf("payload is %d bytes, over the %d byte limit", len(body), MaxBody)}
	}
	raw, err := c.webhookURL()
	if err != nil {
		return Answer{}, &SendError{Cause: CauseConfig, Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, raw, bytes.NewReader(body))
	if err != nil {
		return Answer{}, &SendError{Cause: CauseConfig, Err: redact(err, raw)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "gatewatch")
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return Answer{}, &SendError{Cause: CauseCanceled, Err: ctx.Err()}
		}
		cause := Classify(err)
		// A certificate that does not verify will not verify on the next try.
		return Answer{}, &SendError{Cause: cause, Retryable: cause != CauseTLS, Err: redact(err, raw)}
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 == 2 {
		return Answer{Status: resp.StatusCode, Body: truncateRunes(redactString(strings.TrimSpace(string(answer)), raw), 200)}, nil
	}
	se := &SendError{Cause: CauseHTTP, Status: resp.StatusCode}
	var mm mmError
	if json.Unmarshal(answer, &mm) == nil && mm.Message != "" {
		se.Message, se.fromMattermost = mm.Message, true
	} else {
		se.Message = strings.TrimSpace(string(answer))
	}
	// Proxies echo the request path in error pages: never let the hook id through.
	se.Message = truncateRunes(redactString(se.Message, raw), 300)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		se.Cause, se.Retryable = CauseRateLimit, true
		se.RetryAfter = notify.ParseRetryAfter(resp.Header, time.Now())
	case resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
		se.Retryable = true
	}
	return Answer{}, se
}

// Result describes a delivery.
type Result struct {
	Attempts int
	Elapsed  time.Duration
	// Answer is Mattermost's reply to the accepted attempt.
	Answer Answer
}

// Send delivers p, retrying network errors, 5xx and 429 (waiting at least
// Retry-After) with exponential backoff and jitter, within the policy's
// time budget. Other 4xx answers are not retried. A failure is counted and
// logged before it is returned: nothing is dropped silently.
func (c *Client) Send(ctx context.Context, p Payload) (Result, error) {
	start := time.Now()
	backoff := c.retry.Initial
	var res Result
	for {
		res.Attempts++
		answer, err := c.Post(ctx, p)
		res.Answer = answer
		res.Elapsed = time.Since(start)
		if err == nil {
			c.metrics.Attempts.WithLabelValues("ok").Inc()
			c.metrics.Sent.Inc()
			c.logger.Debug("mattermost message delivered", "attempts", res.Attempts, "elapsed", res.Elapsed)
			return res, nil
		}
		var se *SendError
		if !errors.As(err, &se) {
			se = &SendError{Cause: CauseNetwork, Err: err}
		}
		c.metrics.Attempts.WithLabelValues(se.Cause).Inc()
		wait := jitter(backoff)
		if se.RetryAfter > wait {
			wait = se.RetryAfter
		}
		if !se.Retryable || time.Since(start)+wait > c.retry.MaxElapsed {
			if se.Retryable {
				err = fmt.Errorf("gave up after %d attempts in %s: %w", res.Attempts, res.Elapsed.Round(time.Millisecond), se)
			}
			c.metrics.Failed.WithLabelValues(se.Cause).Inc()
			c.logger.Error("mattermost delivery failed", "cause", se.Cause, "status", se.Status, "attempts", res.Attempts, "err", err)
			return res, err
		}
		c.logger.Warn("mattermost delivery failed, retrying", "cause", se.Cause, "status", se.Status, "attempt", res.Attempts, "retry_in", wait, "err", se)
		if serr := c.sleep(ctx, wait); serr != nil {
			c.metrics.Failed.WithLabelValues(CauseCanceled).Inc()
			c.logger.Error("mattermost delivery canceled", "attempts", res.Attempts, "err", err)
			return res, fmt.Errorf("canceled while retrying: %w", err)
		}
		backoff = min(backoff*2, c.retry.Max)
	}
}

// jitter spreads d by ±25% so retries from many senders do not align.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.75 + rand.Float64()/2))
}

// Package bridge lets users of their own Alertmanager get gatewatch's
// Mattermost message: it receives Alertmanager's webhook notifications
// (payload version 4), adds `gatewatch explain`'s analysis, and posts
// through gatewatch's Mattermost client — a webhook message per
// notification, or in bot mode (bot.go) one living post per alert group
// with buttons that act on the user's Alertmanager.
package bridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/alertmanager/notify/webhook"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatewatch/gatewatch/internal/mattermost"
)

// MaxPayload is the largest webhook body accepted. Alertmanager sends every
// alert of a group; 4000 alerts with long annotations stay well under it.
const MaxPayload = 32 << 20

// Server is the bridge's HTTP handler.
type Server struct {
	client        *mattermost.Client
	bot           *Bot
	opts          mattermost.Options
	enrich        mattermost.EnrichFunc
	enrichTimeout time.Duration
	logger        *slog.Logger
	received      *prometheus.CounterVec
}

// Options of a bridge.
type Options struct {
	Message mattermost.Options
	// Bot, if set, posts in bot mode (one living post per group) instead
	// of through the webhook client.
	Bot *Bot
	// Enrich adds explain's analysis; nil sends messages as they are.
	Enrich        mattermost.EnrichFunc
	EnrichTimeout time.Duration
	Logger        *slog.Logger
	Registry      prometheus.Registerer
}

// New returns a bridge posting through c, or through o.Bot (c nil).
func New(c *mattermost.Client, o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{client: c, bot: o.Bot, opts: o.Message, enrich: o.Enrich, enrichTimeout: o.EnrichTimeout, logger: o.Logger,
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatewatch_bridge_notifications_total",
			Help: "Alertmanager webhook notifications received, by outcome (sent, retry, failed, bad_request).",
		}, []string{"outcome"})}
	if o.Registry != nil {
		o.Registry.MustRegister(s.received)
	}
	return s
}

// ServeHTTP takes one Alertmanager webhook notification. Answers follow
// Alertmanager's webhook retrier (notify.Retrier): 200 when Mattermost took
// the message; 503 when another attempt may succeed, so Alertmanager
// retries; 4xx when retrying cannot help (bad payload, rejected by
// Mattermost), which Alertmanager logs and counts as failed.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST Alertmanager webhook notifications here", http.StatusMethodNotAllowed)
		return
	}
	msg, status, err := decode(w, r)
	if err != nil {
		s.received.WithLabelValues("bad_request").Inc()
		s.logger.Warn("bad webhook notification", "remote", r.RemoteAddr, "err", err)
		http.Error(w, err.Error(), status)
		return
	}
	data := msg.Data
	x := mattermost.Extras{Enrichment: mattermost.EnrichWithin(r.Context(), s.enrich, data, s.enrichTimeout, s.logger)}
	enriched := x.Enrichment != nil
	if msg.TruncatedAlerts > 0 {
		// Alertmanager's max_alerts cut the group: say so (under the alerts,
		// before the explanation, within the size limits).
		x.Note = fmt.Sprintf("- … and %d more alerts Alertmanager did not send (webhook max_alerts)", msg.TruncatedAlerts)
	}
	p := mattermost.BuildWith(data, s.opts, x)
	if s.bot != nil {
		err = s.bot.Deliver(r.Context(), msg, p)
	} else {
		err = s.client.PostOnce(r.Context(), p)
	}
	if err == nil {
		s.received.WithLabelValues("sent").Inc()
		s.logger.Info("notification sent", "group", msg.GroupKey, "status", data.Status, "alerts", len(data.Alerts), "enriched", enriched)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"sent"}`+"\n")
		return
	}
	var se *mattermost.SendError
	if errors.As(err, &se) && se.Retryable {
		s.received.WithLabelValues("retry").Inc()
		s.logger.Warn("mattermost did not take the notification; Alertmanager will retry", "group", msg.GroupKey, "cause", se.Cause, "err", err)
		if se.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(se.RetryAfter.Seconds()+0.5)))
		}
		http.Error(w, "mattermost: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	s.received.WithLabelValues("failed").Inc()
	s.logger.Error("mattermost rejected the notification, not retrying", "group", msg.GroupKey, "err", err)
	http.Error(w, "mattermost: "+err.Error(), http.StatusUnprocessableEntity)
}

// decode reads and checks a webhook payload.
func decode(w http.ResponseWriter, r *http.Request) (*webhook.Message, int, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxPayload))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("payload over %d bytes", MaxPayload)
		}
		return nil, http.StatusBadRequest, fmt.Errorf("read payload: %w", err)
	}
	var msg webhook.Message
	if err := json.Unmarshal(body, &msg); err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("decode Alertmanager webhook payload: %w", err)
	}
	if msg.Version != "4" {
		return nil, http.StatusBadRequest, fmt.Errorf("webhook payload version %q: gatewatch bridge reads version 4 (Alertmanager ≥ 0.9)", msg.Version)
	}
	if msg.Data == nil || len(msg.Alerts) == 0 {
		return nil, http.StatusBadRequest, errors.New("webhook payload has no alerts")
	}
	for i, a := range msg.Alerts {
		if a.Labels["alertname"] == "" {
			return nil, http.StatusBadRequest, fmt.Errorf("alerts[%d] has no alertname label", i)
		}
	}
	return &msg, 0, nil
}

// Handler serves the bridge at /alerts (and /), with /metrics from reg and
// the /-/healthy and /-/ready probes; in bot mode the buttons' clicks at
// mattermost.ActionPath too.
func Handler(b *Server, reg prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/alerts", b)
	mux.Handle("/{$}", b)
	if b.bot != nil {
		mux.Handle(mattermost.ActionPath, b.bot.Actions())
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	ok := func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) }
	mux.HandleFunc("GET /-/healthy", ok)
	mux.HandleFunc("GET /-/ready", ok)
	return mux
}

package engine

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/api"
	"github.com/prometheus/alertmanager/cluster"
	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/common/route"
)

// Alertmanager's API v2 (/api/v2/…) from Alertmanager's own api package,
// on the engine's alert store, silences, dispatcher and cluster peer: what
// amtool, Grafana's Alertmanager data source and karma speak.

// newAPI builds the API once (it registers metrics); apply updates its
// configuration.
func (p *alertingPart) newAPI(reg prometheus.Registerer, logger *slog.Logger) (*api.API, error) {
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "alertmanager_http_request_duration_seconds",
		Help:    "Histogram of latencies for HTTP requests to the Alertmanager API v2.",
		Buckets: []float64{.05, 0.1, .25, .5, .75, 1, 2, 5, 20, 60},
	}, []string{"handler", "method", "code"})
	if err := reg.Register(duration); err != nil {
		return nil, fmt.Errorf("API metrics: %w", err)
	}
	var peer cluster.ClusterPeer // a nil interface without a cluster
	if p.cluster != nil {
		peer = p.cluster.peer
	}
	a, err := api.New(api.Options{
		Alerts:          p.alerts,
		Silences:        p.silences,
		Peer:            peer,
		Timeout:         30 * time.Second,
		Logger:          logger.With("part", "api"),
		Registry:        reg,
		RequestDuration: duration,
		GroupFunc: func(ctx context.Context, routes func(*dispatch.Route) bool, alerts dispatch.AlertFilter) (dispatch.AlertGroups, map[model.Fingerprint][]string, error) {
			p.mu.Lock()
			d := p.dispatcher
			p.mu.Unlock()
			return d.Groups(ctx, routes, alerts)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("alertmanager API: %w", err)
	}
	// Mounted at /api/v2/ only: the package's /api/v1/ answers 410 and
	// would hide gatewatch's Prometheus API.
	p.apiHandler = a.Register(route.New(), "/")
	return a, nil
}

// AlertmanagerAPI serves /api/v2/. A silence created, changed or expired
// through it is saved before the answer, as through the status page.
func (e *Engine) AlertmanagerAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.RLock()
		p := e.alerts
		e.mu.RUnlock()
		if p == nil {
			http.Error(w, errNotStarted.Error(), http.StatusServiceUnavailable)
			return
		}
		h := p.apiHandler
		if !changesSilences(r) {
			h.ServeHTTP(w, r)
			return
		}
		rec := &recorder{header: http.Header{}, code: http.StatusOK}
		h.ServeHTTP(rec, r)
		if rec.code/100 == 2 {
			if err := e.saveSilences(); err != nil {
				http.Error(w, "the silence change is active but was not saved: "+err.Error(), http.StatusInternalServerError)
				return
			}
		}
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.code)
		_, _ = w.Write(rec.body.Bytes())
	})
}

func changesSilences(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/api/v2/silences") ||
		r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, "/api/v2/silence/")
}

// recorder holds an answer until the change is saved.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(code int)        { r.code = code }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }

// gossiped is a state shared with the other replicas whose merges (their
// changes, and the whole state when this replica joins) are saved too.
// The save runs in its own goroutine: Merge holds memberlist's delegate,
// and the state's own lock is taken again by the snapshot.
type gossiped struct {
	cluster.State
	changed chan struct{}
}

func (g gossiped) Merge(b []byte) error {
	if err := g.State.Merge(b); err != nil {
		return err
	}
	select {
	case g.changed <- struct{}{}:
	default:
	}
	return nil
}

// gossip shares state under key and saves what the others send.
func (p *alertingPart) gossip(key string, state cluster.State, file *stateFile) cluster.ClusterChannel {
	g := gossiped{State: state, changed: make(chan struct{}, 1)}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			select {
			case <-p.stopc:
				return
			case <-g.changed:
				if err := file.save(); err != nil {
					p.logger.Error("state from another replica not saved", "state", key, "err", err)
				}
			}
		}
	}()
	return p.cluster.peer.AddState(key, g, p.e.opts.Registry)
}

// ClusterStatus is this replica's view of the cluster (Enabled false
// without clustering).
func (e *Engine) ClusterStatus() ClusterStatus {
	e.mu.RLock()
	p := e.alerts
	e.mu.RUnlock()
	if p == nil {
		return ClusterStatus{}
	}
	return p.cluster.status()
}

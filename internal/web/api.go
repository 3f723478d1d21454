package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
)

// The read-only Prometheus HTTP API subset (/api/v1/query, /api/v1/query_range)
// so Grafana or `promtool query` can point at gatewatch. Response shapes
// follow https://prometheus.io/docs/prometheus/latest/querying/api/.

type apiResponse struct {
	Status    string `json:"status"`
	Data      any    `json:"data,omitempty"`
	ErrorType string `json:"errorType,omitempty"`
	Error     string `json:"error,omitempty"`
}

type queryData struct {
	ResultType string `json:"resultType"`
	Result     any    `json:"result"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func apiError(w http.ResponseWriter, status int, typ string, err error) {
	writeJSON(w, status, apiResponse{Status: "error", ErrorType: typ, Error: err.Error()})
}

// parseTime accepts RFC 3339 or Unix seconds (with fractions), as Prometheus does.
func parseTime(s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp", s)
}

func parseStep(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f <= 0 {
			return 0, fmt.Errorf("zero or negative query resolution step widths are not accepted")
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("cannot parse %q to a valid duration", s)
	}
	return d, nil
}

// oneQueryPerClient lets each client address run one query at a time, as
// a second concurrent query from the same client is refused (429) rather
// than queued: with the engine's own limits (timeout, samples, slots) this
// keeps one dashboard or script from holding every query slot.
type oneQueryPerClient struct {
	mu      sync.Mutex
	running map[string]bool
}

func (c *oneQueryPerClient) acquire(r *http.Request) (release func(), ok bool) {
	client, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		client = r.RemoteAddr
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running == nil {
		c.running = map[string]bool{}
	}
	if c.running[client] {
		return nil, false
	}
	c.running[client] = true
	return func() {
		c.mu.Lock()
		delete(c.running, client)
		c.mu.Unlock()
	}, true
}

// limited wraps a query handler with the per-client limit.
func (s *server) limited(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		release, ok := s.clients.acquire(r)
		if !ok {
			apiError(w, http.StatusTooManyRequests, "unavailable", errors.New("one query at a time per client: this client's previous query is still running"))
			return
		}
		defer release()
		h(w, r)
	}
}

// queryError answers a failed query with Prometheus's error types and
// codes (web/api/v1 returnAPIError).
func queryError(w http.ResponseWriter, err error) {
	var timeout promql.ErrQueryTimeout
	var canceled promql.ErrQueryCanceled
	var storageErr promql.ErrStorage
	switch {
	case errors.As(err, &timeout), errors.Is(err, context.DeadlineExceeded):
		apiError(w, http.StatusServiceUnavailable, "timeout", err)
	case errors.As(err, &canceled), errors.Is(err, context.Canceled):
		apiError(w, http.StatusServiceUnavailable, "canceled", err)
	case errors.As(err, &storageErr):
		apiError(w, http.StatusInternalServerError, "internal", err)
	default:
		apiError(w, http.StatusUnprocessableEntity, "execution", err)
	}
}

func (s *server) apiQuery(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		apiError(w, http.StatusBadRequest, "bad_data", err)
		return
	}
	ts, err := parseTime(r.Form.Get("time"), time.Now())
	if err != nil {
		apiError(w, http.StatusBadRequest, "bad_data", err)
		return
	}
	v, err := s.query.Query(r.Context(), r.Form.Get("query"), ts)
	if err != nil {
		queryError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, apiResponse{Status: "success", Data: queryData{ResultType: string(v.Type()), Result: jsonValue(v)}})
}

func (s *server) apiQueryRange(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		apiError(w, http.StatusBadRequest, "bad_data", err)
		return
	}
	start, err := parseTime(r.Form.Get("start"), time.Time{})
	if err == nil && start.IsZero() {
		err = fmt.Errorf("missing start")
	}
	if err != nil {
		apiError(w, http.StatusBadRequest, "bad_data", err)
		return
	}
	end, err := parseTime(r.Form.Get("end"), time.Time{})
	if err == nil && end.IsZero() {
		err = fmt.Errorf("missing end")
	}
	if err != nil {
		apiError(w, http.StatusBadRequest, "bad_data", err)
		return
	}
	step, err := parseStep(r.Form.Get("step"))
	if err != nil {
		apiError(w, http.StatusBadRequest, "bad_data", err)
		return
	}
	if end.Before(start) {
		apiError(w, http.StatusBadRequest, "bad_data", fmt.Errorf("end timestamp must not be before start time"))
		return
	}
	if end.Sub(start)/step > 11000 {
		apiError(w, http.StatusBadRequest, "bad_data", fmt.Errorf("exceeded maximum resolution of 11,000 points per timeseries"))
		return
	}
	v, err := s.query.QueryRange(r.Context(), r.Form.Get("query"), start, end, step)
	if err != nil {
		queryError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, apiResponse{Status: "success", Data: queryData{ResultType: string(v.Type()), Result: jsonValue(v)}})
}

func (s *server) apiBuildInfo(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, apiResponse{Status: "success", Data: map[string]string{"version": s.o.Version, "application": "gatewatch"}})
}

func sampleValue(t int64, f float64) [2]any {
	return [2]any{float64(t) / 1000, formatFloat(f)}
}

func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func metricMap(l labels.Labels) map[string]string { return l.Map() }

func jsonValue(v parser.Value) any {
	switch x := v.(type) {
	case promql.Vector:
		out := make([]map[string]any, 0, len(x))
		for _, s := range x {
			out = append(out, map[string]any{"metric": metricMap(s.Metric), "value": sampleValue(s.T, s.F)})
		}
		return out
	case promql.Matrix:
		out := make([]map[string]any, 0, len(x))
		for _, s := range x {
			vals := make([][2]any, 0, len(s.Floats))
			for _, p := range s.Floats {
				vals = append(vals, sampleValue(p.T, p.F))
			}
			out = append(out, map[string]any{"metric": metricMap(s.Metric), "values": vals})
		}
		return out
	case promql.Scalar:
		return sampleValue(x.T, x.V)
	case promql.String:
		return [2]any{float64(x.T) / 1000, x.V}
	}
	return nil
}

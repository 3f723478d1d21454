// Package doctor is the runbook's troubleshooting checklist, automated: one
// check per link of the alert path (gateway pods, Envoy stats, Prometheus
// target, rule and query, Alertmanager configuration, route and
// notifications, NetworkPolicies, DNS, the webhook), run in dependency
// order against a live cluster and stack, or offline against manifests.
// For gatewatch's own deployment (render --target standalone) the network
// checks follow gatewatch's paths (scrape, webhook, DNS, the API server,
// gossip, the web port), and the Prometheus and Alertmanager checks are
// left out.
package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gatewatch/gatewatch/internal/mattermost"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// Status of a check.
type Status string

// Statuses, from best to worst.
const (
	Pass Status = "PASS"
	Warn Status = "WARN"
	Fail Status = "FAIL"
	Skip Status = "SKIP"
)

// Result is one check's outcome.
type Result struct {
	ID       string        `json:"id"`
	Title    string        `json:"title"`
	Status   Status        `json:"status"`
	Summary  string        `json:"summary"`
	Evidence []string      `json:"evidence,omitempty"`
	Hint     string        `json:"hint,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// Check is one link of the chain.
type Check interface {
	ID() string
	Title() string
	// Offline reports whether manifests alone can answer it.
	Offline() bool
	Run(ctx context.Context, env *Env) Result
}

// Env is what the checks look at.
type Env struct {
	Spec *spec.Spec
	// Offline: the manifests to check instead of a live cluster.
	Manifests *Manifests
	// Online peers; a nil or empty one makes the checks that need it SKIP.
	Kube kubernetes.Interface
	// RestConfig lets gateway/stats port-forward to a gateway pod through
	// the API server; without it the pod IP is read directly.
	RestConfig      *rest.Config
	PrometheusURL   string
	AlertmanagerURL string
	// GatewatchURL is a gatewatch run's web address: gatewatch/cluster
	// reads its Alertmanager API v2 status.
	GatewatchURL string
	// ExternalURL is gatewatch's --web.external-url (mattermost/bot checks
	// the action URL under it; default GatewatchURL).
	ExternalURL string
	// StatsURL overrides where gateway/stats reads Envoy's page (e.g. a
	// `kubectl port-forward` on localhost).
	StatsURL string
	// SendTest enables mattermost/webhook (posts a test message).
	SendTest bool
	HTTP     *http.Client
	// NotificationsInterval is how long alertmanager/notifications watches
	// the failure counter.
	NotificationsInterval time.Duration

	facts *facts // what several checks need, established on first use
}

func (e *Env) offline() bool { return e.Manifests != nil }

// result helpers.
func pass(summary string, evidence ...string) Result {
	return Result{Status: Pass, Summary: summary, Evidence: evidence}
}

func warn(summary, hint string, evidence ...string) Result {
	return Result{Status: Warn, Summary: summary, Hint: hint, Evidence: evidence}
}

func failed(summary, hint string, evidence ...string) Result {
	return Result{Status: Fail, Summary: summary, Hint: hint, Evidence: evidence}
}

func skip(summary string) Result { return Result{Status: Skip, Summary: summary} }

// scoped is a check of one deployment only: the Prometheus and
// Alertmanager the stack targets configure, or gatewatch's own (render
// --target standalone). A check that does not apply to what doctor looks
// at is left out of the results (doctor checks what is there, and only
// that); an error establishing it is the check's SKIP.
type scoped interface {
	applies(ctx context.Context, env *Env) (bool, error)
}

// Checks returns every check in dependency order.
func Checks() []Check {
	return []Check{
		gatewayPods{}, gatewayStats{},
		prometheusTarget{}, prometheusRule{}, prometheusQuery{},
		alertmanagerConfig{}, alertmanagerRoute{}, alertmanagerNotifications{},
		networkScrape{}, networkEgress{}, networkBridge{}, networkKubeAPI{}, networkGossip{}, networkWeb{},
		dnsWebhook{}, mattermostWebhook{}, mattermostBot{},
		gatewatchCluster{},
		renderStale{},
	}
}

// Run runs the checks in order, calling report as each finishes. Scoped
// checks that do not apply are left out; offline, checks that need a live
// system are skipped. The facts checks share are established afresh for
// each Run.
func Run(ctx context.Context, env *Env, checks []Check, report func(Result)) []Result {
	run := *env
	if run.HTTP == nil {
		run.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	run.facts = &facts{}
	env = &run
	var out []Result
	for _, c := range checks {
		start := time.Now()
		var r Result
		if sc, ok := c.(scoped); ok {
			applies, err := sc.applies(ctx, env)
			if err != nil {
				r = skip(err.Error())
			} else if !applies {
				continue
			}
		}
		if r.Status == "" && env.offline() && !c.Offline() {
			r = skip("needs a live cluster (offline mode)")
		}
		if r.Status == "" {
			r = c.Run(ctx, env)
		}
		r.ID, r.Title, r.Duration = c.ID(), c.Title(), time.Since(start)
		out = append(out, r)
		if report != nil {
			report(r)
		}
	}
	return out
}

// Failed reports whether any result is a FAIL.
func Failed(rs []Result) bool {
	for _, r := range rs {
		if r.Status == Fail {
			return true
		}
	}
	return false
}

// AllSkipped reports whether every result is a SKIP: nothing was checked,
// which is not a pass.
func AllSkipped(rs []Result) bool {
	for _, r := range rs {
		if r.Status != Skip {
			return false
		}
	}
	return true
}

// TextReporter prints one line per check, then evidence and the hint.
func TextReporter(w io.Writer) func(Result) {
	return func(r Result) {
		fmt.Fprintf(w, "%-4s  %-27s %s\n", r.Status, r.ID, r.Summary)
		for _, e := range r.Evidence {
			fmt.Fprintf(w, "      · %s\n", e)
		}
		if r.Hint != "" && (r.Status == Fail || r.Status == Warn) {
			fmt.Fprintf(w, "      → %s\n", r.Hint)
		}
	}
}

// WriteSummary writes the closing count line of the text report.
func WriteSummary(w io.Writer, rs []Result) {
	counts := map[Status]int{}
	for _, r := range rs {
		counts[r.Status]++
	}
	warnings := fmt.Sprintf("%d warnings", counts[Warn])
	if counts[Warn] == 1 {
		warnings = "1 warning"
	}
	fmt.Fprintf(w, "\n%d passed, %d failed, %s, %d skipped\n", counts[Pass], counts[Fail], warnings, counts[Skip])
}

// WriteJSON writes all results as a JSON document.
func WriteJSON(w io.Writer, rs []Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Results    []Result `json:"results"`
		Failed     bool     `json:"failed"`
		AllSkipped bool     `json:"all_skipped"`
	}{rs, Failed(rs), AllSkipped(rs)})
}

// getJSON fetches a Prometheus/Alertmanager API document.
func getJSON(ctx context.Context, env *Env, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := env.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %s", mattermost.Classify(err), strings.TrimPrefix(err.Error(), "Get "))
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

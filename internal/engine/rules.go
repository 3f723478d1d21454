package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	prules "github.com/prometheus/prometheus/rules"
	"sigs.k8s.io/yaml"

	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

type rulesPart struct {
	e       *Engine
	manager *prules.Manager
	file    string
	done    chan struct{}
}

// newRules runs the Prometheus rules manager on exactly the rule file
// render emits, written into the data directory.
func (e *Engine) newRules(ctx context.Context, s *spec.Spec) (*rulesPart, error) {
	p := &rulesPart{e: e, file: filepath.Join(e.dataDir, "rules.yml"), done: make(chan struct{})}
	p.manager = prules.NewManager(&prules.ManagerOptions{
		AppendableV2:    e.db,
		Queryable:       e.db,
		QueryFunc:       prules.EngineQueryFunc(e.queryEngine, e.db),
		NotifyFunc:      e.alerts.notifyFunc(e.opts.ExternalURL.String()),
		Context:         ctx,
		ExternalURL:     e.opts.ExternalURL,
		Logger:          e.logger.With("component", "rules"),
		Registerer:      e.opts.Registry,
		OutageTolerance: time.Hour,
		ForGracePeriod:  10 * time.Minute,
		ResendDelay:     time.Minute,
	})
	if err := p.apply(s); err != nil {
		return nil, err
	}
	go func() { p.manager.Run(); close(p.done) }()
	return p, nil
}

// EvalInterval is how often the embedded engine evaluates the rules: every
// second, so a 421 is noticed right after the scrape that shows it and the
// detection latency is the scrape interval plus group_wait, not plus another
// evaluation interval. The rule text is render's; only the group interval
// differs (a rendered Prometheus evaluates at the scrape interval).
const EvalInterval = time.Second

func (p *rulesPart) apply(s *spec.Spec) error {
	f := rules.Generate(s)
	if err := f.Validate(); err != nil {
		return err
	}
	for i := range f.Groups {
		f.Groups[i].Interval = spec.Duration(EvalInterval)
	}
	b, err := yaml.Marshal(f)
	if err != nil {
		return err
	}
	tmp := p.file + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write rules: %w", err)
	}
	if err := os.Rename(tmp, p.file); err != nil {
		return fmt.Errorf("write rules: %w", err)
	}
	if err := p.manager.Update(EvalInterval, []string{p.file}, labels.EmptyLabels(), p.e.opts.ExternalURL.String(), nil); err != nil {
		return fmt.Errorf("load rules: %w", err)
	}
	return nil
}

func (p *rulesPart) stop() { p.manager.Stop() }

// ActiveAlert is a firing or pending alert for the status page.
type ActiveAlert struct {
	Name        string
	State       string
	Labels      map[string]string
	Annotations map[string]string
	ActiveAt    time.Time
	Value       float64
}

// ActiveAlerts returns the rules' pending and firing alerts.
func (e *Engine) ActiveAlerts() []ActiveAlert {
	e.mu.RLock()
	p := e.rules
	e.mu.RUnlock()
	if p == nil {
		return nil
	}
	var out []ActiveAlert
	for _, r := range p.manager.AlertingRules() {
		for _, a := range r.ActiveAlerts() {
			out = append(out, ActiveAlert{Name: r.Name(), State: a.State.String(), Labels: a.Labels.Map(),
				Annotations: a.Annotations.Map(), ActiveAt: a.ActiveAt, Value: a.Value})
		}
	}
	return out
}

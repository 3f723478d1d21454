package engine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gatewatch/gatewatch/internal/kube"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// kubeStatus watches whether the Kubernetes API answers, so an unreachable
// API server is a clear log line and a line on the status page rather than
// silence. Prometheus's discovery retries on its own; static targets are
// scraped meanwhile.
type kubeStatus struct {
	mu  sync.Mutex
	err string
}

func (k *kubeStatus) set(err error) (changed bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	changed = msg != k.err
	k.err = msg
	return changed
}

// DiscoveryError is the last Kubernetes API error, "" when it answers (or
// no gateway uses pod discovery).
func (e *Engine) DiscoveryError() string {
	e.kube.mu.Lock()
	defer e.kube.mu.Unlock()
	return e.kube.err
}

func usesKubernetes(s *spec.Spec) bool {
	for _, g := range s.Gateways {
		if g.Selector != "" {
			return true
		}
	}
	return false
}

// watchKubernetes probes the API server until ctx ends: every 5 s while it
// fails, every minute once it answers.
func (e *Engine) watchKubernetes(ctx context.Context) {
	probe := func() error {
		if e.kubeErr != nil {
			return fmt.Errorf("pod discovery cannot start, so gateways with a selector have no targets: %w", e.kubeErr)
		}
		cfg, err := kube.Config(kube.Options{Kubeconfig: e.kubeconfig})
		if err != nil {
			return fmt.Errorf("kubernetes configuration: %w", err)
		}
		c, err := kube.ClientsFor(cfg)
		if err != nil {
			return err
		}
		if _, err := c.Typed.Discovery().ServerVersion(); err != nil {
			return fmt.Errorf("kubernetes API unreachable (pod discovery retries; static targets are still scraped): %w", err)
		}
		return nil
	}
	for {
		err := probe()
		if e.kube.set(err) {
			if err != nil {
				e.logger.Error("kubernetes discovery", "err", err)
			} else {
				e.logger.Info("kubernetes API reachable")
			}
		}
		wait := time.Minute
		if err != nil {
			wait = 5 * time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

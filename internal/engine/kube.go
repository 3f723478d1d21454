package engine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

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
		var cfg *rest.Config
		var err error
		if e.opts.Kubeconfig != "" {
			cfg, err = clientcmd.BuildConfigFromFlags("", e.opts.Kubeconfig)
		} else {
			cfg, err = rest.InClusterConfig()
		}
		if err != nil {
			return fmt.Errorf("kubernetes configuration: %w", err)
		}
		cfg.Timeout = 5 * time.Second
		c, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return fmt.Errorf("kubernetes client: %w", err)
		}
		if _, err := c.Discovery().ServerVersion(); err != nil {
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

// selectContext writes a copy of the kubeconfig (default loading rules when
// path is empty) with context as the current one, and returns its path.
func selectContext(path, context, dst string) (string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if path != "" {
		rules.ExplicitPath = path
	}
	cfg, err := rules.Load()
	if err != nil {
		return "", fmt.Errorf("load kubeconfig: %w", err)
	}
	if _, ok := cfg.Contexts[context]; !ok {
		return "", fmt.Errorf("kubeconfig has no context %q", context)
	}
	cfg.CurrentContext = context
	if err := clientcmd.WriteToFile(*cfg, dst); err != nil {
		return "", fmt.Errorf("write kubeconfig for context %q: %w", context, err)
	}
	return dst, nil
}

package cli

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/alertmanager/template"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/gatewatch/gatewatch/internal/explain"
	"github.com/gatewatch/gatewatch/internal/explain/accesslog"
	"github.com/gatewatch/gatewatch/internal/mattermost"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// newEnricher builds the message enrichment the spec's explain section asks
// for; nil when it names no source.
func newEnricher(s *spec.Spec, kubeconfig, kubeContext string, logger *slog.Logger) (*explain.Enricher, error) {
	x := s.Explain
	if !x.Enabled() {
		return nil, nil
	}
	e := &explain.Enricher{Alerts: map[string]bool{}, Logger: logger.With("component", "explain")}
	for _, a := range s.Alerts {
		if a.Kind == spec.KindMisdirectedRequest && a.IsEnabled() {
			e.Alerts[a.Name] = true
		}
	}
	if x.LogFormat != "" {
		f, err := accesslog.ParseFormat(x.LogFormat)
		if err != nil {
			return nil, fmt.Errorf("explain.log_format: %w", err)
		}
		e.Format = f
	}
	var kube kubernetes.Interface
	var dyn dynamic.Interface
	if x.AccessLogs == "kube" || x.Config == "kube" {
		cfg, err := kubeRESTConfig(kubeconfig, kubeContext)
		if err != nil {
			return nil, fmt.Errorf("explain needs the Kubernetes API: %w", err)
		}
		cfg.Timeout = 10 * time.Second
		// A notification's reads (lists, Secrets, pod logs) fit in its
		// budget only without client-go's default 5 QPS throttle.
		cfg.QPS, cfg.Burst = 50, 100
		if kube, err = kubernetes.NewForConfig(cfg); err != nil {
			return nil, err
		}
		if dyn, err = dynamic.NewForConfig(cfg); err != nil {
			return nil, err
		}
	}
	switch x.AccessLogs {
	case "":
	case "kube":
		e.Logs = func(gateway string) explain.LogSource {
			gws := s.Gateways
			for _, g := range s.Gateways {
				if g.Name == gateway {
					gws = []spec.Gateway{g}
				}
			}
			return explain.KubeLogs{Client: kube, Gateways: gws}
		}
	default:
		path := x.AccessLogs
		e.Logs = func(string) explain.LogSource { return explain.FileLogs{Path: path} }
	}
	switch x.Config {
	case "":
	case "kube":
		var nss []string
		for _, g := range s.Gateways {
			nss = append(nss, g.Namespace)
		}
		e.Config = explain.KubeConfig{Client: dyn, GatewayNamespaces: nss}
	default:
		e.Config = explain.DirConfig{Path: x.Config}
	}
	return e, nil
}

// swappableEnrich is an EnrichFunc whose enricher a reload can replace.
type swappableEnrich struct {
	p atomic.Pointer[explain.Enricher]
}

func (s *swappableEnrich) set(e *explain.Enricher) { s.p.Store(e) }

func (s *swappableEnrich) enrich(ctx context.Context, d *template.Data) *mattermost.Enrichment {
	if e := s.p.Load(); e != nil {
		return e.Enrich(ctx, d)
	}
	return nil
}

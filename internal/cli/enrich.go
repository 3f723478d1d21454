package cli

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/prometheus/alertmanager/template"
	"k8s.io/client-go/rest"

	"github.com/gatewatch/gatewatch/internal/explain/enrich"
	"github.com/gatewatch/gatewatch/internal/mattermost"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// newEnricher builds the message enrichment the spec's explain section asks
// for (enrich.FromSpec), reading kubeconfig only for a "kube" source; nil
// when the section names no source.
func newEnricher(s *spec.Spec, kubeconfig, kubeContext string, logger *slog.Logger) (*enrich.Enricher, error) {
	return enrich.FromSpec(s, func() (*rest.Config, error) { return kubeRESTConfig(kubeconfig, kubeContext) }, logger)
}

// swappableEnrich is an EnrichFunc whose enricher a reload can replace.
type swappableEnrich struct {
	p atomic.Pointer[enrich.Enricher]
}

func (s *swappableEnrich) set(e *enrich.Enricher) { s.p.Store(e) }

func (s *swappableEnrich) enrich(ctx context.Context, d *template.Data) *mattermost.Enrichment {
	if e := s.p.Load(); e != nil {
		return e.Enrich(ctx, d)
	}
	return nil
}

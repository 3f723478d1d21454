package doctor

import (
	"context"
	"errors"
	"sync"

	amconfig "github.com/prometheus/alertmanager/config"
	corev1 "k8s.io/api/core/v1"

	"github.com/gatewatch/gatewatch/internal/netpol"
)

// facts are what more than one check needs. Each is established once, on
// first use, by whichever check asks first, so no check depends on another
// having run before it. The function that establishes a fact lives in the
// file of the check that owns it (gateway/pods, alertmanager/config, the
// network checks).
type facts struct {
	gatewayPods  lazy[map[string][]corev1.Pod]
	alertmanager lazy[alertmanagerSetup]
	cluster      lazy[*netpol.Cluster]
	rules        lazy[[]loadedRule]
	gatewatch    lazy[bool]
	bridge       lazy[bool]
}

// alertmanagerSetup is Alertmanager's configuration and where it was read.
type alertmanagerSetup struct {
	conf   *amconfig.Config
	source string
}

// shared returns the facts of this run (Run sets them; a check run on its
// own gets its own).
func (e *Env) shared() *facts {
	if e.facts == nil {
		e.facts = &facts{}
	}
	return e.facts
}

// podsByGateway returns the pods each gateway's selector picks, by gateway
// name (gateways with static targets only are absent): live from the API,
// offline from the manifests' pods and pod templates.
func (e *Env) podsByGateway(ctx context.Context) (map[string][]corev1.Pod, error) {
	return e.shared().gatewayPods.get(func() (map[string][]corev1.Pod, error) { return listGatewayPods(ctx, e) })
}

// alertmanagerConfig returns Alertmanager's configuration and where it was
// read: live from its API, offline from the manifests.
func (e *Env) alertmanagerConfig(ctx context.Context) (*amconfig.Config, string, error) {
	s, err := e.shared().alertmanager.get(func() (alertmanagerSetup, error) { return readAlertmanagerConfig(ctx, e) })
	return s.conf, s.source, err
}

// loadedRules returns the alerting rules Prometheus has loaded: live from
// its rules API, offline from the manifests' rule files, PrometheusRules and
// chart values.
func (e *Env) loadedRules(ctx context.Context) ([]loadedRule, error) {
	return e.shared().rules.get(func() ([]loadedRule, error) { return readLoadedRules(ctx, e) })
}

// cluster returns the NetworkPolicy model: live from the API, or from the
// manifests.
func (e *Env) cluster(ctx context.Context) (*netpol.Cluster, error) {
	return e.shared().cluster.get(func() (*netpol.Cluster, error) { return readCluster(ctx, e) })
}

// deploysGatewatch reports whether gatewatch's own deployment (render
// --target standalone) is among what doctor looks at: offline, the
// manifests hold it; live, its pods run in the monitoring namespace.
func (e *Env) deploysGatewatch(ctx context.Context) (bool, error) {
	return e.shared().gatewatch.get(func() (bool, error) { return findGatewatch(ctx, e) })
}

// deploysBridge reports whether gatewatch bridge's deployment (render
// --target bridge) is among what doctor looks at: offline, the manifests
// hold it; live, its pods run in the monitoring namespace.
func (e *Env) deploysBridge(ctx context.Context) (bool, error) {
	return e.shared().bridge.get(func() (bool, error) { return findBridge(ctx, e) })
}

// checksStack reports whether the Prometheus and Alertmanager checks
// apply: live always (their URLs say which run), offline when the
// manifests configure a Prometheus or Alertmanager.
func (e *Env) checksStack() bool { return !e.offline() || e.Manifests.configuresStack() }

// lazy is a value computed once, on first use.
type lazy[T any] struct {
	once sync.Once
	v    T
	err  error
}

func (l *lazy[T]) get(compute func() (T, error)) (T, error) {
	l.once.Do(func() { l.v, l.err = compute() })
	return l.v, l.err
}

// verdictError is a fact that could not be established, with the result
// the check owning the fact reports for it; other checks needing the fact
// skip.
type verdictError struct{ result Result }

func (e *verdictError) Error() string { return e.result.Summary }

// verdict returns the result a fact's failure is reported as by the check
// that owns it.
func verdict(err error) Result {
	var v *verdictError
	if errors.As(err, &v) {
		return v.result
	}
	return failed(err.Error(), "")
}

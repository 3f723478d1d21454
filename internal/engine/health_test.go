package engine_test

import (
	"context"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/demo"
	"github.com/gatewatch/gatewatch/internal/engine"
	"github.com/gatewatch/gatewatch/internal/render"
	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/syncbuf"
)

// TestMetaRulesReadWhatRunExposes: every metric gatewatch's own alerts
// (render.MetaRules) select is on a running, clustered engine's /metrics,
// and the gauges they read say what happened: a gateway target up, a failed
// reload.
func TestMetaRulesReadWhatRunExposes(t *testing.T) {
	gw := demo.NewGateway("istio-ingress", "istio-ingressgateway", "istio-ingressgateway-0", nil, nil)
	require.NoError(t, gw.Start("127.0.0.1:0"))
	defer gw.Close()
	gw.Serve(10)
	s := testSpec(t, "http://127.0.0.1:1/hooks/none", `"`+gw.Addr()+`"`)
	var logs syncbuf.Buffer
	e, err := engine.New(s, engine.Options{DataDir: t.TempDir(), Logger: testLogger(&logs),
		Cluster: engine.ClusterOptions{ListenAddress: "127.0.0.1:0", PeerName: "gatewatch-0"}})
	require.NoError(t, err)
	require.NoError(t, e.Start(context.Background()))
	defer e.Close()

	families := func() map[string]*dto.MetricFamily {
		mfs, err := e.Registry().Gather()
		require.NoError(t, err)
		m := map[string]*dto.MetricFamily{}
		for _, mf := range mfs {
			m[mf.GetName()] = mf
		}
		return m
	}
	value := func(name string, want map[string]string) (float64, bool) {
		mf := families()[name]
		if mf == nil {
			return 0, false
		}
	next:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					continue next
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue(), true
			}
			return m.GetGauge().GetValue(), true
		}
		return 0, false
	}

	require.Eventually(t, func() bool {
		v, ok := value("gatewatch_gateway_targets", map[string]string{"gateway_namespace": "istio-ingress", "gateway": "public-ingress", "health": "up"})
		return ok && v == 1
	}, 20*time.Second, 100*time.Millisecond, "the gateway's target shows up")

	names, err := rules.Families(render.MetaRules(s))
	require.NoError(t, err)
	require.Contains(t, names, "gatewatch_gateway_targets")
	have := families()
	for _, n := range names {
		require.Contains(t, have, n, "gatewatch's own alert reads %s, which a running gatewatch does not expose", n)
	}
	v, ok := value("gatewatch_alerts", map[string]string{"alert": "GatewayMisdirectedRequest421", "state": "firing"})
	require.True(t, ok)
	require.Zero(t, v)

	v, _ = value("gatewatch_config_last_reload_successful", nil)
	require.Equal(t, 1.0, v)
	e.RejectReload()
	v, _ = value("gatewatch_config_last_reload_successful", nil)
	require.Equal(t, 0.0, v, "a failed reload shows")
	require.NoError(t, e.Reload(context.Background(), s))
	v, _ = value("gatewatch_config_last_reload_successful", nil)
	require.Equal(t, 1.0, v)
}

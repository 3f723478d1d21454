package dashboard

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/stretchr/testify/require"
)

// TestDashboardLoadsStrictly: the JSON loads back into the SDK's Grafana
// schema types losing nothing (marshalled again it is the same JSON, so no
// field is unknown to the schema) and validates; every panel queries the
// ${datasource} variable. (The SDK's own UnmarshalJSONStrict is not used:
// in v0.0.22 it drops panels, returning an empty error list from Panel.)
func TestDashboardLoadsStrictly(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	j, err := JSON()
	require.NoError(t, err)
	var d dashboard.Dashboard
	require.NoError(t, json.Unmarshal(j, &d))
	again, err := json.MarshalIndent(d, "", "  ")
	require.NoError(t, err)
	require.JSONEq(t, string(j), string(again), "the schema types keep every field")
	require.NoError(t, noErrors(d.Validate()))
	require.Equal(t, UID, *d.Uid)
	require.Len(t, d.Panels, len(Panels()))
	for _, p := range d.Panels {
		require.NotNil(t, p.Panel, "a panel, not a row")
		require.Equal(t, "${datasource}", *p.Panel.Datasource.Uid, *p.Panel.Title)
		require.NotEmpty(t, p.Panel.Targets, *p.Panel.Title)
	}
	var titles []string
	for _, p := range Panels() {
		titles = append(titles, p.Title)
	}
	for _, want := range []string{"421s per gateway and pod", "421 share of requests", "Responses by Envoy response flags", "Stats scrape health", "Mattermost notifications", "Alert state"} {
		require.Contains(t, titles, want)
	}
}

// scenario is a gateway fleet as gatewatch's scrape leaves it: two pods of
// one gateway, one of which served 421s, notifications sent and failed,
// a firing 421 alert.
const scenario = `
load 1m
	istio_requests_total{job="gatewatch/istio-ingress/public", pod="gw-0", reporter="source", response_code="200", response_flags="-"} 0+60x70
	istio_requests_total{job="gatewatch/istio-ingress/public", pod="gw-0", reporter="source", response_code="421", response_flags="-"} _x30 1+1x40
	istio_requests_total{job="gatewatch/istio-ingress/public", pod="gw-1", reporter="source", response_code="503", response_flags="UH"} 0+2x70
	up{job="gatewatch/istio-ingress/public", instance="10.0.0.1:15090"} 1x70
	alertmanager_notifications_total{pod="gatewatch-0", integration="mattermost"} 0+1x70
	alertmanager_notifications_failed_total{pod="gatewatch-0", integration="mattermost"} 0x70
	istio_requests_total{job="gatewatch/istio-ingress/public", pod="gw-1", reporter="source", response_code="421", response_flags="-"} _x63 1x7
	ALERTS{alertname="GatewayMisdirectedRequest421", alertstate="firing", gateway="public"} _x31 1x39
`

// TestEveryQueryAnswers: every panel's queries, with Grafana's variables
// put in, parse and return data on the scenario, through Prometheus's own
// PromQL engine; the 421 counts include a pod's first 421 (gw-1's series
// appeared two minutes before, at 1).
func TestEveryQueryAnswers(t *testing.T) {
	storage := promqltest.LoadedStorage(t, scenario)
	t.Cleanup(func() { storage.Close() })
	engine := promqltest.NewTestEngine(t, false, 5*time.Minute, 1_000_000)
	at := time.Unix(0, 0).Add(65 * time.Minute)
	for _, p := range Panels() {
		for _, q := range p.Queries {
			qq, err := engine.NewInstantQuery(context.Background(), storage, nil, Substitute(q), at)
			require.NoError(t, err, "%s: %s", p.Title, q)
			res := qq.Exec(context.Background())
			require.NoError(t, res.Err, "%s: %s", p.Title, q)
			v, err := res.Vector()
			require.NoError(t, err)
			require.NotEmpty(t, v, "%s: %s returns nothing on the scenario", p.Title, Substitute(q))
			switch p.Title {
			case "421s in the time range":
				// gw-0: appeared at 30m at 1, +1 a minute to 36 at 65m; gw-1: 1.
				require.Len(t, v, 1)
				require.InDelta(t, 37, v[0].F, 0.001)
			case "421s per gateway and pod":
				byPod := map[string]float64{}
				for _, s := range v {
					byPod[s.Metric.Get("pod")] = s.F
				}
				require.InDelta(t, 1, byPod["gw-1"], 0.001, "the first 421 of a pod counts")
				require.InDelta(t, 5, byPod["gw-0"], 1.5, "a later 421 counts by its increase")
			}
			qq.Close()
		}
	}
}

// noErrors unwraps the SDK's error list: v0.0.22 returns an empty
// cog.BuildErrors (a nil slice in a non-nil error) when nothing is wrong.
func noErrors(err error) error {
	if be, ok := err.(cog.BuildErrors); ok && len(be) == 0 {
		return nil
	}
	return err
}

package doctor

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/demo"
	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// TestGatewayStatsWithEnvoyFilter: with stats.envoy_filter, gateway/stats
// reads the page as gatewatch scrapes it (filter included) and passes when
// every family the rules read is on it; an Envoy whose filter matches other
// names (here: whole Prometheus names, anchored) loses envoy_server_uptime,
// and the check fails naming it, with the fix.
func TestGatewayStatsWithEnvoyFilter(t *testing.T) {
	s, err := spec.Parse([]byte("gateways:\n  - name: public-ingress\n    namespace: istio-ingress\n    selector: app=istio-ingressgateway\n    stats: {envoy_filter: true}\n"), "g.yaml", rules.SpecKinds())
	require.NoError(t, err)
	path, err := statsPath(s, s.Gateways[0])
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(path, "/stats/prometheus?filter="), path)

	gw := demo.NewGateway("istio-ingress", "istio-ingressgateway", "p", nil, nil)
	require.NoError(t, gw.Start("127.0.0.1:0"))
	defer gw.Close()
	gw.Serve(5)
	env := &Env{Spec: s, HTTP: http.DefaultClient}
	r := statsAt(context.Background(), env, "http://"+gw.Addr()+path)
	require.Equal(t, Pass, r.Status, "%+v", r)
	require.Contains(t, strings.Join(r.Evidence, " "), "Envoy's filter kept 2 families")

	// An Envoy matching the filter against whole Prometheus names.
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		re := regexp.MustCompile("^(?:" + req.URL.Query().Get("filter") + ")$")
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		for _, fam := range []string{"envoy_server_uptime", "istio_requests_total"} {
			if re.MatchString(fam) {
				fmt.Fprintf(w, "# TYPE %s counter\n%s{response_code=\"200\"} 1\n", fam, fam)
			}
		}
	}))
	defer other.Close()
	r = statsAt(context.Background(), env, other.URL+path)
	require.Equal(t, Fail, r.Status, "%+v", r)
	require.Contains(t, r.Summary, "Envoy's filter drops envoy_server_uptime")
	require.Contains(t, r.Hint, "remove gateways[].stats.envoy_filter")
}

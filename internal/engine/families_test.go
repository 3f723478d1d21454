package engine

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// TestFilterKeepsWhatEveryRuleSelects: the stats-page filter and the keep
// relabeling (keptFamilies) keep every metric any rule of any kind selects;
// a kind that starts reading another family fails here, not silently in
// production (its rule would see nothing).
func TestFilterKeepsWhatEveryRuleSelects(t *testing.T) {
	s, err := spec.Parse([]byte(`gateways:
  - name: public-ingress
    namespace: istio-ingress
    selector: app=istio-ingressgateway
  - name: partner
    namespace: edge
    static_targets: ["10.0.0.1:15090"]
alerts:
  - kind: misdirected-request
  - kind: stats-down
  - kind: response-code
    response_code: "503"
  - kind: response-flags
    response_flags: NR
  - kind: error-ratio
    threshold: 0.05
  - kind: misdirected-request
    name: Misdirected421PerGateway
    per: gateway
`), "all.yaml", rules.SpecKinds())
	require.NoError(t, err)
	kinds := map[string]bool{}
	for _, a := range s.EnabledAlerts() {
		kinds[a.Kind] = true
	}
	for _, k := range rules.Kinds() {
		require.True(t, kinds[k.Name], "the spec enables kind %s", k.Name)
	}
	fams, err := rules.Families(rules.Generate(s))
	require.NoError(t, err)
	require.Contains(t, fams, rules.Metric)
	t.Logf("the rules select %v", fams)
	for _, f := range fams {
		require.Contains(t, keptFamilies, f, "a rule selects %s, which the stats-page filter drops", f)
	}
}

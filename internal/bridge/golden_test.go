package bridge

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/demo/fixtures"
	"github.com/gatewatch/gatewatch/internal/explain"
	"github.com/gatewatch/gatewatch/internal/explain/enrich"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// goldenNow is the time of the golden messages' alerts and analyses.
var goldenNow = time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC)

// TestGolden: the bridge's whole message for a 421 alert, enriched by the
// real analysis of the demo's gateway configuration — with its access log,
// and from the configuration alone — is testdata/<case>.golden
// (go test ./internal/bridge -run TestGolden -update rewrites them). The
// message says what the CLI says: "servers[0]", one "**Why…:**".
func TestGolden(t *testing.T) {
	dir := t.TempDir()
	cfg, err := fixtures.DemoGatewayConfigYAML(goldenNow)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "gateways.yaml"), cfg, 0o644))
	for _, tc := range []struct {
		name string
		logs bool
	}{
		{"enriched-logs", true},
		{"enriched-config", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &enrich.Enricher{
				Alerts: map[string]bool{"GatewayMisdirectedRequest421": true},
				Config: explain.DirConfig{Path: dir},
				Now:    func() time.Time { return goldenNow },
			}
			if tc.logs {
				mem := explain.NewMemoryLogs(1 << 20)
				_, err := mem.Write([]byte(fixtures.AccessLog(goldenNow, 3, "lua_response", fixtures.Safari, "api.example.com", "shop.example.com", "text")))
				require.NoError(t, err)
				e.Logs = func(string) explain.LogSource { return mem }
			}
			f := start(t, e.Enrich)
			require.NoError(t, f.send(t, 0, goldenAlert()).Err())
			posts := f.mm.Posts()
			require.Len(t, posts, 1)
			require.Len(t, posts[0].Attachments, 1)
			a := posts[0].Attachments[0]
			got := fmt.Sprintf("title: %s\ncolor: %s\nfooter: %s\n\n-- text --\n%s\n\n-- card --\n%v\n", a.Title, a.Color, a.Footer, a.Text, posts[0].Props["card"])

			golden := filepath.Join("testdata", tc.name+".golden")
			if *update {
				require.NoError(t, os.MkdirAll("testdata", 0o755))
				require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "go test ./internal/bridge -run TestGolden -update")
			require.Equal(t, string(want), got)

			require.Contains(t, got, "servers[0]", "the CLI's wording")
			require.NotContains(t, got, "servers(0)")
			require.NotContains(t, got, ":**:")
			require.Contains(t, a.Text, "**Why")
		})
	}
}

// goldenAlert is a firing 421 alert at goldenNow.
func goldenAlert() *alert.Alert {
	return alert.New(model.Alert{
		Labels:      model.LabelSet{"alertname": "GatewayMisdirectedRequest421", "gateway": "public-ingress", "namespace": "istio-ingress", "severity": "warning"},
		Annotations: model.LabelSet{"summary": "Gateway public-ingress returned HTTP 421 Misdirected Request", "description": "3 responses with status 421 in the last 15m.", "count": "3", "window": "15m"},
		StartsAt:    goldenNow.Add(-time.Minute),
	}, goldenNow, false)
}

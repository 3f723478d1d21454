package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRenderBridgeSaysWhatAlertmanagerDoes: render --target bridge without
// cluster.bridge.enabled still writes the bridge, with Alertmanager's half
// as commented examples for wiring it by hand, and says the stack targets
// still post to Mattermost themselves;
// with it, it says nothing more, and the stack target's Alertmanager
// posts to the bridge.
func TestRenderBridgeSaysWhatAlertmanagerDoes(t *testing.T) {
	dir := t.TempDir()
	code, out := runMain("render", "-c", "../../examples/gatewatch.yaml", "--target", "bridge", "-o", filepath.Join(dir, "off"))
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "wrote 15 files")
	example, err := os.ReadFile(filepath.Join(dir, "off", "alertmanagerconfig-istio-ingress-gatewatch-mattermost.yaml.example"))
	require.NoError(t, err)
	require.Contains(t, string(example), "#   webhook_configs:\n#   - max_alerts: 0\n#     send_resolved: true\n#     url: http://gatewatch-bridge.monitoring.svc:9095/alerts")
	require.Contains(t, string(example), "#     webhookConfigs:\n#     - sendResolved: true\n#       url: http://gatewatch-bridge.monitoring.svc:9095/alerts")
	require.Contains(t, out, "note: cluster.bridge.enabled is not set, so the stack targets still have Alertmanager post to Mattermost itself")
	require.Contains(t, out, "http://gatewatch-bridge.monitoring.svc:9095/alerts")

	raw, err := os.ReadFile("../../examples/gatewatch.yaml")
	require.NoError(t, err)
	on := filepath.Join(dir, "gatewatch.yaml")
	text := strings.Replace(string(raw), "  default_deny: [ingress, egress]\n", "  default_deny: [ingress, egress]\n  bridge:\n    enabled: true\n", 1)
	text = strings.Replace(text, "webhook_url_file: mattermost-webhook-url", "webhook_url_file: /etc/hook", 1)
	require.NotEqual(t, string(raw), text)
	require.NoError(t, os.WriteFile(on, []byte(text), 0o644))
	code, out = runMain("render", "-c", on, "--target", "bridge", "-o", filepath.Join(dir, "on"))
	require.Equal(t, 0, code, out)
	require.NotContains(t, out, "note:")
	code, out = runMain("render", "-c", on, "--target", "prometheus")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "webhook_configs:\n  - max_alerts: 0\n    send_resolved: true\n    url: http://gatewatch-bridge.monitoring.svc:9095/alerts")
	require.NotContains(t, out, "slack_configs")
}

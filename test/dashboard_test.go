package test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/dashboard"
)

// TestDashboardQueriesPassPromtool: every panel query of the Grafana
// dashboard, with Grafana's variables put in, is a valid expression to the
// real promtool (checked as a recording rule each).
func TestDashboardQueriesPassPromtool(t *testing.T) {
	promtool := tool(t, "promtool")
	var b strings.Builder
	b.WriteString("groups:\n- name: dashboard\n  rules:\n")
	n := 0
	for _, p := range dashboard.Panels() {
		for _, q := range p.Queries {
			n++
			fmt.Fprintf(&b, "  - record: gatewatch:dashboard:panel_%d\n    expr: |-\n", n)
			for _, l := range strings.Split(dashboard.Substitute(q), "\n") {
				b.WriteString("      " + l + "\n")
			}
		}
	}
	p := writeFile(t, t.TempDir(), "dashboard.yml", []byte(b.String()))
	out, code := run(t, promtool, "check", "rules", p)
	require.Equal(t, 0, code, "%s\n%s", out, b.String())
	require.Contains(t, out, fmt.Sprintf("SUCCESS: %d rules found", n))
}

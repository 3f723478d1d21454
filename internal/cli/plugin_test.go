package cli

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestKubectlPlugin: started as kubectl-gatewatch, the help reads as a
// kubectl plugin's (usage, examples and long texts say `kubectl
// gatewatch …`) and kubectl's --kubeconfig, --context and -n are there;
// started as gatewatch nothing changes.
func TestKubectlPlugin(t *testing.T) {
	help := func(argv0 string, args ...string) string {
		var out, errOut bytes.Buffer
		require.Equal(t, 0, MainAs(context.Background(), argv0, args, &out, &errOut), errOut.String())
		return out.String()
	}
	root := help("/usr/local/bin/kubectl-gatewatch", "--help")
	require.Contains(t, root, "kubectl gatewatch [command]")
	require.Contains(t, root, "  kubectl gatewatch check  -c gatewatch.yaml")
	require.Contains(t, root, "gatewatch watches Istio/Envoy gateways", "prose keeps its subject")
	require.NotContains(t, root, "kubectl gatewatch watches")
	render := help("kubectl-gatewatch", "render", "--help")
	require.Contains(t, render, "kubectl gatewatch render [flags]")
	require.Contains(t, render, "  kubectl gatewatch render -c gatewatch.yaml --target operator | kubectl apply")
	require.NotRegexp(t, `(?m)^\s+gatewatch render`, render)
	doctor := help("kubectl-gatewatch.exe", "doctor", "--help")
	require.Contains(t, doctor, "--kubeconfig")
	require.Contains(t, doctor, "--context")
	explain := help("kubectl-gatewatch", "explain", "--help")
	require.Contains(t, explain, "-n, --namespace")
	require.Contains(t, explain, "| kubectl gatewatch explain")

	plain := help("gatewatch", "render", "--help")
	require.NotContains(t, plain, "kubectl gatewatch")
	require.Contains(t, plain, "gatewatch render [flags]")
	require.False(t, IsPlugin("/usr/bin/gatewatch"))
	require.True(t, IsPlugin("kubectl-gatewatch"))
}

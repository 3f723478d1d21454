package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/gatewatch/gatewatch/internal/render"
	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// TestSecretNeverPrinted sends known webhook URLs — inline in the spec and
// in the example's webhook_url_file — through every output path this
// version has (check, test, render for every target to stdout and to files,
// doctor offline and live, notify test, error messages, the spec printed
// every way Go can) and asserts that no part of them that identifies the
// hook appears.
func TestSecretNeverPrinted(t *testing.T) {
	const inlineHook = "inline-secret-7c1e3f9a5b"
	exampleURL, err := os.ReadFile("../../examples/mattermost-webhook-url")
	require.NoError(t, err)
	exampleHook := filepath.Base(strings.TrimSpace(string(exampleURL)))
	require.NotEmpty(t, exampleHook)
	secrets := []string{inlineHook, exampleHook}

	specs := []string{"../../examples/gatewatch.yaml", "../render/testdata/full.yaml"}
	dir := t.TempDir()
	// A spec with an invalid URL and both keys set: the error must not echo it.
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("gateways: [{name: g, namespace: n, selector: a=b}]\nmattermost:\n  webhook_url: \"ftp://x/hooks/"+inlineHook+"\"\n  webhook_url_file: f\n"), 0o644))

	var outputs []string
	runCLI := func(args ...string) {
		var stdout, stderr bytes.Buffer
		Main(context.Background(), args, &stdout, &stderr)
		outputs = append(outputs, strings.Join(args, " ")+"\n"+stdout.String()+stderr.String())
	}
	for i, s := range specs {
		runCLI("check", "-c", s)
		runCLI("test", "-c", s)
		runCLI("test", "-c", s, "-o", "json")
		runCLI("test", "-c", s, "--write-promtool", filepath.Join(dir, fmt.Sprint("promtool", i)))
		for _, target := range render.TargetNames() {
			runCLI("render", "-c", s, "--target", target)
			runCLI("render", "-c", s, "--target", target, "-o", filepath.Join(dir, fmt.Sprint("out", i, target)))
		}
		loaded, err := spec.Load(s, rules.SpecKinds())
		require.NoError(t, err)
		j, err := json.Marshal(loaded)
		require.NoError(t, err)
		y, err := yaml.Marshal(loaded)
		require.NoError(t, err)
		outputs = append(outputs, fmt.Sprintf("%v %+v %#v %s %q", loaded, loaded, loaded.Mattermost, loaded.Mattermost.WebhookURL, loaded.Mattermost.WebhookURL), string(j), string(y))
	}
	runCLI("check", "-c", bad)
	runCLI("render", "-c", bad)

	// notify test through a proxy whose error page echoes the request path,
	// with the URL in a webhook_url_file (read on the send).
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprintf(w, "upstream for %s%s is down", r.Host, r.URL.Path)
	}))
	defer proxy.Close()
	urlFile := filepath.Join(dir, "hook-url")
	require.NoError(t, os.WriteFile(urlFile, []byte(proxy.URL+"/hooks/"+inlineHook), 0o600))
	ex, err := os.ReadFile("../../examples/gatewatch.yaml")
	require.NoError(t, err)
	viaFile := filepath.Join(dir, "via-file.yaml")
	require.NoError(t, os.WriteFile(viaFile, []byte(strings.Replace(string(ex), "webhook_url_file: mattermost-webhook-url", "webhook_url_file: "+urlFile, 1)), 0o600))
	runCLI("notify", "test", "-c", viaFile, "--timeout", "1s")
	require.Contains(t, outputs[len(outputs)-1], "HTTP 502", "the notify test reached the proxy")

	// doctor: offline on every render above, and live (no cluster: only the
	// checks that need none) with the test message through the echoing proxy.
	for i, sp := range specs {
		for _, target := range render.TargetNames() {
			runCLI("doctor", "-c", sp, "--offline", "-f", filepath.Join(dir, fmt.Sprint("out", i, target)))
			runCLI("doctor", "-c", sp, "--offline", "-f", filepath.Join(dir, fmt.Sprint("out", i, target)), "-o", "json")
		}
	}
	t.Setenv("HOME", t.TempDir())
	t.Setenv("KUBECONFIG", "")
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	runCLI("doctor", "-c", viaFile, "--send-test")
	require.Contains(t, outputs[len(outputs)-1], "mattermost/webhook", "doctor ran the webhook checks")
	require.Contains(t, outputs[len(outputs)-1], "502", "doctor's test message reached the proxy")
	runCLI("doctor", "-c", viaFile, "--send-test", "-o", "json")

	// Everything written to disk.
	require.NoError(t, filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || p == bad || p == urlFile || p == viaFile {
			return err
		}
		b, err := os.ReadFile(p)
		outputs = append(outputs, p+"\n"+string(b))
		return err
	}))

	// The inline URL was really loaded (so the test can fail).
	full, err := spec.Load(specs[1], rules.SpecKinds())
	require.NoError(t, err)
	require.Contains(t, full.Mattermost.WebhookURL.Reveal(), inlineHook)

	require.Greater(t, len(outputs), 30)
	for _, out := range outputs {
		for _, sec := range secrets {
			require.NotContains(t, out, sec, "secret leaked in:\n%s", out)
		}
	}
}

package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/gatewatch/gatewatch/internal/spec"
)

// TestSecretNeverPrinted sends known webhook URLs — inline in the spec and
// in the example's webhook_url_file — through every output path this
// version has (check, test, render for every target to stdout and to files,
// error messages, the spec printed every way Go can) and asserts that no
// part of them that identifies the hook appears.
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
		for _, target := range []string{"operator", "prometheus", "helm", "standalone"} {
			runCLI("render", "-c", s, "--target", target)
			runCLI("render", "-c", s, "--target", target, "-o", filepath.Join(dir, fmt.Sprint("out", i, target)))
		}
		loaded, err := spec.Load(s)
		require.NoError(t, err)
		j, err := json.Marshal(loaded)
		require.NoError(t, err)
		y, err := yaml.Marshal(loaded)
		require.NoError(t, err)
		outputs = append(outputs, fmt.Sprintf("%v %+v %#v %s %q", loaded, loaded, loaded.Mattermost, loaded.Mattermost.WebhookURL, loaded.Mattermost.WebhookURL), string(j), string(y))
	}
	runCLI("check", "-c", bad)
	runCLI("render", "-c", bad)

	// Everything written to disk.
	require.NoError(t, filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || p == bad {
			return err
		}
		b, err := os.ReadFile(p)
		outputs = append(outputs, p+"\n"+string(b))
		return err
	}))

	// The inline URL was really loaded (so the test can fail).
	full, err := spec.Load(specs[1])
	require.NoError(t, err)
	require.Contains(t, full.Mattermost.WebhookURL.Reveal(), inlineHook)

	require.Greater(t, len(outputs), 30)
	for _, out := range outputs {
		for _, sec := range secrets {
			require.NotContains(t, out, sec, "secret leaked in:\n%s", out)
		}
	}
}

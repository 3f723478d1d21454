package kube

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: a
  cluster: {server: "https://127.0.0.1:6443"}
- name: b
  cluster: {server: "https://127.0.0.2:6443"}
users:
- name: u
  user: {token: t}
contexts:
- name: ctx-a
  context: {cluster: a, user: u}
- name: ctx-b
  context: {cluster: b, user: u}
current-context: ctx-a
`

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config")
	require.NoError(t, os.WriteFile(file, []byte(kubeconfig), 0o600))
	empty := t.TempDir()

	for _, tc := range []struct {
		name      string
		opts      Options
		env       string // $KUBECONFIG
		wantHost  string
		wantErr   string
		noConfig  bool
		wantGiven bool
	}{
		{name: "explicit file, current context", opts: Options{Kubeconfig: file}, wantHost: "https://127.0.0.1:6443", wantGiven: true},
		{name: "explicit context", opts: Options{Kubeconfig: file, Context: "ctx-b"}, wantHost: "https://127.0.0.2:6443", wantGiven: true},
		{name: "KUBECONFIG like kubectl", env: file, wantHost: "https://127.0.0.1:6443"},
		{name: "unknown context", opts: Options{Kubeconfig: file, Context: "nope"}, wantErr: `context "nope" does not exist`, wantGiven: true},
		{name: "missing file", opts: Options{Kubeconfig: filepath.Join(empty, "none")}, wantErr: "kubeconfig:", wantGiven: true},
		{name: "nothing at all", noConfig: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("KUBECONFIG", tc.env)
			t.Setenv("HOME", empty)
			t.Setenv("KUBERNETES_SERVICE_HOST", "")
			require.Equal(t, tc.wantGiven, tc.opts.Given())
			cfg, err := Config(tc.opts)
			switch {
			case tc.noConfig:
				require.True(t, errors.Is(err, ErrNoConfig), "%v", err)
				require.Contains(t, err.Error(), "--kubeconfig")
				require.NotContains(t, err.Error(), "KUBERNETES_MASTER")
			case tc.wantErr != "":
				require.ErrorContains(t, err, tc.wantErr)
			default:
				require.NoError(t, err)
				require.Equal(t, tc.wantHost, cfg.Host)
				require.Equal(t, RequestTimeout, cfg.Timeout)
				require.Equal(t, StreamTimeout, ForStreams(cfg).Timeout)
				require.EqualValues(t, 50, cfg.QPS)
				require.Equal(t, RequestTimeout, cfg.Timeout, "ForStreams copies")
				c, err := ClientsFor(cfg)
				require.NoError(t, err)
				require.NotNil(t, c.Typed)
				require.NotNil(t, c.Dynamic)
			}
		})
	}
}

func TestDiscoveryFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config")
	require.NoError(t, os.WriteFile(file, []byte(kubeconfig), 0o600))
	empty := t.TempDir()
	t.Setenv("HOME", empty)
	t.Setenv("KUBERNETES_SERVICE_HOST", "")

	t.Setenv("KUBECONFIG", "")
	got, err := DiscoveryFile(Options{Kubeconfig: file}, filepath.Join(dir, "out"))
	require.NoError(t, err)
	require.Equal(t, file, got, "a named file alone is used as it is")

	// $KUBECONFIG, as kubectl: its one file as it is.
	t.Setenv("KUBECONFIG", file)
	got, err = DiscoveryFile(Options{}, filepath.Join(dir, "out"))
	require.NoError(t, err)
	require.Equal(t, file, got)

	// A chosen context: a copy holding that context alone (no other
	// cluster's credentials in the data directory).
	got, err = DiscoveryFile(Options{Context: "ctx-b"}, filepath.Join(dir, "out"))
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, "out"), got)
	cfg, err := Config(Options{Kubeconfig: got})
	require.NoError(t, err)
	require.Equal(t, "https://127.0.0.2:6443", cfg.Host)
	b, err := os.ReadFile(got)
	require.NoError(t, err)
	require.NotContains(t, string(b), "127.0.0.1:6443", "the other cluster is not copied")
	require.NotContains(t, string(b), "ctx-a")
	st, err := os.Stat(got)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	// Two files merged: a copy of the current context only.
	other := filepath.Join(dir, "other")
	require.NoError(t, os.WriteFile(other, []byte("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: \"https://127.0.0.3:6443\"}}]\n"), 0o600))
	t.Setenv("KUBECONFIG", file+string(os.PathListSeparator)+other)
	got, err = DiscoveryFile(Options{}, filepath.Join(dir, "out-merged"))
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, "out-merged"), got)
	b, err = os.ReadFile(got)
	require.NoError(t, err)
	require.Contains(t, string(b), "127.0.0.1:6443")
	require.NotContains(t, string(b), "127.0.0.3:6443")

	_, err = DiscoveryFile(Options{Context: "nope"}, filepath.Join(dir, "out2"))
	require.ErrorContains(t, err, `context "nope" does not exist`)

	// Nothing at all, outside a cluster: the error says what to pass.
	t.Setenv("KUBECONFIG", "")
	_, err = DiscoveryFile(Options{}, filepath.Join(dir, "out3"))
	require.True(t, errors.Is(err, ErrNoConfig), "%v", err)
}

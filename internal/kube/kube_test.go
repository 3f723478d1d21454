package kube

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
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
			isolate(t)
			t.Setenv("KUBECONFIG", tc.env)
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
	isolate(t)

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

// isolate leaves the test no kubeconfig and no cluster but what it
// writes: $KUBECONFIG unset, outside a pod, and ~/.kube/config under the
// returned home (client-go reads $HOME once, at start, so the home file is
// set in clientcmd as well as in $HOME).
func isolate(t *testing.T) (home string) {
	t.Helper()
	home = t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("KUBECONFIG", "")
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	old := clientcmd.RecommendedHomeFile
	clientcmd.RecommendedHomeFile = filepath.Join(home, ".kube", "config")
	t.Cleanup(func() { clientcmd.RecommendedHomeFile = old })
	return home
}

// TestDescribe: Describe names the configuration Config loads, by the same
// rules, and says "none: …" (with what to pass) exactly when Config has
// none.
func TestDescribe(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config")
	require.NoError(t, os.WriteFile(file, []byte(kubeconfig), 0o600))
	other := filepath.Join(dir, "other")
	require.NoError(t, os.WriteFile(other, []byte("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: \"https://127.0.0.3:6443\"}}]\n"), 0o600))
	noCurrent := filepath.Join(dir, "no-current")
	require.NoError(t, os.WriteFile(noCurrent, []byte(strings.Replace(kubeconfig, "current-context: ctx-a\n", "", 1)), 0o600))
	inPod := func() (*rest.Config, error) { return &rest.Config{Host: "https://10.96.0.1:443"}, nil }

	for _, tc := range []struct {
		name      string
		opts      Options
		env       string // $KUBECONFIG
		homeFile  bool   // ~/.kube/config is the test's kubeconfig
		inCluster func() (*rest.Config, error)
		want      string // "HOME" stands for the home folder
	}{
		{name: "--kubeconfig", opts: Options{Kubeconfig: file},
			want: "kubeconfig " + file + " (--kubeconfig), context ctx-a, server https://127.0.0.1:6443"},
		{name: "--kubeconfig and --context", opts: Options{Kubeconfig: file, Context: "ctx-b"},
			want: "kubeconfig " + file + " (--kubeconfig), context ctx-b, server https://127.0.0.2:6443"},
		{name: "$KUBECONFIG", env: file,
			want: "kubeconfig " + file + " ($KUBECONFIG), context ctx-a, server https://127.0.0.1:6443"},
		{name: "$KUBECONFIG merged", env: file + string(os.PathListSeparator) + filepath.Join(dir, "absent") + string(os.PathListSeparator) + other,
			want: "kubeconfig " + file + " + " + other + " ($KUBECONFIG), context ctx-a, server https://127.0.0.1:6443"},
		{name: "--kubeconfig over $KUBECONFIG", opts: Options{Kubeconfig: file}, env: other,
			want: "kubeconfig " + file + " (--kubeconfig), context ctx-a, server https://127.0.0.1:6443"},
		{name: "~/.kube/config", homeFile: true,
			want: "kubeconfig HOME/.kube/config, context ctx-a, server https://127.0.0.1:6443"},
		{name: "~/.kube/config before in-cluster, as kubectl", homeFile: true, inCluster: inPod,
			want: "kubeconfig HOME/.kube/config, context ctx-a, server https://127.0.0.1:6443"},
		{name: "in-cluster", inCluster: inPod,
			want: "in-cluster configuration (service account)"},
		{name: "nothing", want: "none: " + ErrNoConfig.Error()},
		{name: "--kubeconfig missing", opts: Options{Kubeconfig: filepath.Join(dir, "absent")},
			want: "none: kubeconfig: stat " + filepath.Join(dir, "absent") + ": no such file or directory"},
		{name: "unknown context", opts: Options{Kubeconfig: file, Context: "nope"},
			want: "none: kubeconfig " + file + ` (--kubeconfig): context "nope" does not exist`},
		{name: "context without any kubeconfig", opts: Options{Context: "prod"}, inCluster: inPod,
			want: `none: no configuration has the context "prod"`},
		{name: "no current context", opts: Options{Kubeconfig: noCurrent},
			want: "none: kubeconfig " + noCurrent + " (--kubeconfig) has no current context (pass --context)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := isolate(t)
			t.Setenv("KUBECONFIG", tc.env)
			if tc.homeFile {
				require.NoError(t, os.MkdirAll(filepath.Join(home, ".kube"), 0o700))
				require.NoError(t, os.WriteFile(filepath.Join(home, ".kube", "config"), []byte(kubeconfig), 0o600))
			}
			if tc.inCluster != nil {
				old := inClusterConfig
				inClusterConfig = tc.inCluster
				t.Cleanup(func() { inClusterConfig = old })
			}
			want := strings.ReplaceAll(tc.want, "HOME", home)
			got := Describe(tc.opts)
			require.Equal(t, want, got)

			// The same rules as Config.
			if tc.inCluster != nil && !strings.HasPrefix(got, "kubeconfig ") {
				return // Config reads the real service account files
			}
			cfg, err := Config(tc.opts)
			if strings.HasPrefix(got, "kubeconfig ") {
				require.NoError(t, err)
				require.Equal(t, got[strings.LastIndex(got, ", server ")+len(", server "):], cfg.Host)
			} else {
				require.Error(t, err, "Describe said %q", got)
			}
		})
	}
}

// TestDescribeInAPodWithoutToken: in a pod whose service account token is
// not mounted, Describe says so (the real rest.InClusterConfig).
func TestDescribeInAPodWithoutToken(t *testing.T) {
	if _, err := os.Stat("/var/run/secrets/kubernetes.io/serviceaccount/token"); err == nil {
		t.Skip("this test runs in a pod with a service account token")
	}
	isolate(t)
	t.Setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
	t.Setenv("KUBERNETES_SERVICE_PORT", "443")
	got := Describe(Options{})
	require.True(t, strings.HasPrefix(got, "none: in-cluster configuration: "), got)
	require.Contains(t, got, "/var/run/secrets/kubernetes.io/serviceaccount/token")
}

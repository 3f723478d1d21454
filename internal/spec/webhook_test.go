package spec

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

const secret = "https://mattermost.example.com/hooks/s3cr3tH00k"

func TestResolveWebhookURL(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	for _, tc := range []struct {
		name         string
		inline, file string
		want, err    string
	}{
		{name: "inline", inline: secret, want: secret},
		{name: "file, trimmed", file: file("ok", "  "+secret+"\n"), want: secret},
		{name: "inline wins", inline: secret, file: filepath.Join(dir, "missing"), want: secret},
		{name: "neither", err: "no webhook_url or webhook_url_file in the spec"},
		{name: "missing file", file: filepath.Join(dir, "missing"), err: `read webhook_url_file "` + filepath.Join(dir, "missing") + `"`},
		{name: "empty file", file: file("empty", "\n"), err: "is empty"},
		{name: "not a URL in the file", file: file("bad", "ftp://mattermost.example.com/hooks/s3cr3tH00k\n"), err: "does not hold an http(s) URL"},
		{name: "inline without host", inline: "https:///hooks/s3cr3tH00k", err: "webhook_url: not an http(s) URL with a host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ResolveWebhookURL(tc.inline, tc.file)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				require.NotContains(t, err.Error(), "s3cr3tH00k", "the URL is a secret")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	_, err := ResolveWebhookURL("", "")
	require.True(t, errors.Is(err, ErrNoWebhook))
}

func TestParseWebhookURL(t *testing.T) {
	for _, tc := range []struct {
		raw, host string
	}{
		{secret, "mattermost.example.com"},
		{"http://10.0.0.5:8065/hooks/x", "10.0.0.5"},
		{"mattermost.example.com/hooks/x", ""},
		{"ftp://mattermost.example.com/hooks/x", ""},
		{"https://", ""},
		{"::", ""},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			u, err := ParseWebhookURL(tc.raw)
			if tc.host == "" {
				require.Error(t, err)
				require.NotContains(t, err.Error(), tc.raw)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.host, u.Hostname())
		})
	}
}

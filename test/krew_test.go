package test

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/gatewatch/gatewatch/internal/cli"
	"github.com/gatewatch/gatewatch/internal/version"
)

// TestKrewManifest: .krew.yaml, filled in as krew-release-bot does, is a
// krew Plugin whose every platform runs kubectl-gatewatch from an archive
// `make dist` builds, for exactly the platforms it builds.
func TestKrewManifest(t *testing.T) {
	b, err := os.ReadFile("../.krew.yaml")
	require.NoError(t, err)
	uri := regexp.MustCompile(`\{\{addURIAndSha "([^"]+)" \.TagName \}\}`)
	filled := uri.ReplaceAllString(string(b), "uri: $1\n    sha256: \"0000\"")
	filled = strings.ReplaceAll(filled, "{{ .TagName }}", version.Release)
	require.NotContains(t, filled, "{{", "a template action krew-release-bot would not fill")
	var m struct {
		APIVersion string                `json:"apiVersion"`
		Kind       string                `json:"kind"`
		Metadata   struct{ Name string } `json:"metadata"`
		Spec       struct {
			Version          string `json:"version"`
			Homepage         string `json:"homepage"`
			ShortDescription string `json:"shortDescription"`
			Description      string `json:"description"`
			Platforms        []struct {
				Selector struct {
					MatchLabels map[string]string `json:"matchLabels"`
				} `json:"selector"`
				URI    string `json:"uri"`
				SHA256 string `json:"sha256"`
				Bin    string `json:"bin"`
			} `json:"platforms"`
		} `json:"spec"`
	}
	require.NoError(t, yaml.UnmarshalStrict([]byte(filled), &m))
	require.Equal(t, "krew.googlecontainertools.github.com/v1alpha2", m.APIVersion)
	require.Equal(t, "Plugin", m.Kind)
	require.Equal(t, "gatewatch", m.Metadata.Name)
	require.Equal(t, version.Release, m.Spec.Version)

	mk, err := os.ReadFile("../Makefile")
	require.NoError(t, err)
	line := regexp.MustCompile(`(?m)^PLATFORMS := (.+)$`).FindStringSubmatch(string(mk))
	require.NotNil(t, line, "the Makefile's PLATFORMS")
	built := strings.Fields(line[1])
	var listed []string
	for _, p := range m.Spec.Platforms {
		os, arch := p.Selector.MatchLabels["os"], p.Selector.MatchLabels["arch"]
		listed = append(listed, os+"/"+arch)
		require.Equal(t, cli.PluginName, p.Bin)
		require.True(t, strings.HasSuffix(p.URI, fmt.Sprintf("/kubectl-gatewatch_%s_%s_%s.tar.gz", version.Release, os, arch)), p.URI)
	}
	slices.Sort(listed)
	slices.Sort(built)
	require.Equal(t, built, listed)
}

package test

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/version"
)

// TestOneImageReference: every place that names gatewatch's image (docs,
// the Dockerfile, render's golden output, the chart, the krew manifest)
// names this release's tag, never a moving one like latest.
func TestOneImageReference(t *testing.T) {
	out, err := exec.Command("git", "-C", "..", "ls-files").Output()
	require.NoError(t, err)
	ref := regexp.MustCompile(regexp.QuoteMeta(version.Repository) + `(:(\$\(VERSION\)|\w[\w.-]*\w))?`)
	seen := 0
	for _, f := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.HasSuffix(f, ".go") || f == "CHANGELOG.md" || strings.HasPrefix(f, ".krew") {
			continue
		}
		b, err := os.ReadFile("../" + f)
		if err != nil {
			continue // deleted in the work tree
		}
		for _, m := range ref.FindAllString(string(b), -1) {
			seen++
			switch {
			case m == version.Image(), m == version.Repository+":$(VERSION)":
			case m == version.Repository && f != "Dockerfile":
				// the repository alone (say, `docker pull` instructions with a tag after)
			default:
				t.Errorf("%s names the image %q; want %s", f, m, version.Image())
			}
		}
	}
	require.NotZero(t, seen, "no image reference found: the pattern is wrong")
	require.NotContains(t, version.Release, "latest")
	require.Regexp(t, `^v\d+\.\d+\.\d+`, version.Release)
}

// TestDockerfileIsStaticAndNonRoot: the image is a static, stripped,
// trimpath binary on distroless, running as non-root.
func TestDockerfileIsStaticAndNonRoot(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	require.NoError(t, err)
	d := string(b)
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-s -w", "FROM gcr.io/distroless/static", ":nonroot", "USER 65532:65532"} {
		require.Contains(t, d, want)
	}
	require.NotContains(t, d, ":latest")
}

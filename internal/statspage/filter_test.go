package statspage

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const page = `# HELP envoy_cluster_upstream_cx_total Total connections
# TYPE envoy_cluster_upstream_cx_total counter
envoy_cluster_upstream_cx_total{cluster_name="a"} 3
# TYPE istio_requests_total counter
istio_requests_total{response_code="421",destination_service="x"} 1
istio_requests_total_other 5
# a free comment
envoy_server_uptime 42
`

func keepRules() *Filter {
	return New(DefaultLimits, "istio_requests_total", "envoy_server_uptime")
}

func TestFilterKeepsOnlyNamedFamilies(t *testing.T) {
	var out bytes.Buffer
	st, err := keepRules().Copy(&out, strings.NewReader(page))
	require.NoError(t, err)
	require.Equal(t, `# TYPE istio_requests_total counter
istio_requests_total{response_code="421",destination_service="x"} 1
envoy_server_uptime 42
`, out.String())
	require.Equal(t, Stats{PageBytes: int64(len(page)), Lines: 8, KeptLines: 3, KeptBytes: int64(out.Len())}, st)
}

func TestFilterLastLineWithoutNewline(t *testing.T) {
	var out bytes.Buffer
	_, err := keepRules().Copy(&out, strings.NewReader("envoy_server_uptime 42"))
	require.NoError(t, err)
	require.Equal(t, "envoy_server_uptime 42\n", out.String())
}

// repeatReader serves prefix, then n bytes of fill, then suffix, without
// holding them in memory.
type repeatReader struct {
	prefix, suffix string
	fill           byte
	n              int64
	pos            int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	total := int64(len(r.prefix)) + r.n + int64(len(r.suffix))
	if r.n < 0 {
		total = 1 << 62
	}
	if r.pos >= total {
		return 0, io.EOF
	}
	i := 0
	for ; i < len(p) && r.pos < total; i++ {
		switch {
		case r.pos < int64(len(r.prefix)):
			p[i] = r.prefix[r.pos]
		case r.n >= 0 && r.pos >= int64(len(r.prefix))+r.n:
			p[i] = r.suffix[r.pos-int64(len(r.prefix))-r.n]
		default:
			p[i] = r.fill
		}
		r.pos++
	}
	return i, nil
}

func TestFilterHostilePages(t *testing.T) {
	const label17MiB = 17 << 20
	for _, tc := range []struct {
		name   string
		src    io.Reader
		limits Limits
		kept   string
		err    string
	}{{
		name: "17 MiB label in a dropped family is skipped",
		src:  &repeatReader{prefix: `envoy_cluster_upstream_cx_total{cluster_name="`, fill: 'A', n: label17MiB, suffix: "\"} 1\nenvoy_server_uptime 7\n"},
		kept: "envoy_server_uptime 7\n",
	}, {
		name: "17 MiB label in a kept family refuses the page",
		src:  &repeatReader{prefix: `istio_requests_total{response_code="`, fill: 'A', n: label17MiB, suffix: "\"} 1\n"},
		err:  "line 1: a istio_requests_total line longer than 64 KiB",
	}, {
		name:   "an endless page stops at the limit",
		src:    &repeatReader{prefix: "# TYPE x counter\n", fill: 'x', n: -1},
		limits: Limits{MaxPageBytes: 1 << 20, MaxLineBytes: 64 << 10, MaxKeptBytes: 1 << 20},
		err:    "page larger than 1 MiB",
	}, {
		name: "binary bytes",
		src:  strings.NewReader("\x1f\x8b\x08\x00\x00\x00\x00\x00"),
		err:  "line 1: binary content at byte 0: not a text exposition page",
	}, {
		name: "invalid UTF-8 after a first text line",
		src:  strings.NewReader("# TYPE a counter\n\xff\xfe\x00"),
		err:  "line 2: binary content at byte 17",
	}, {
		name:   "too many kept bytes",
		src:    strings.NewReader(strings.Repeat("envoy_server_uptime 1\n", 100)),
		limits: Limits{MaxPageBytes: 1 << 20, MaxLineBytes: 1 << 10, MaxKeptBytes: 1 << 10},
		err:    "more than 1 KiB of kept series",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			limits := tc.limits
			if limits == (Limits{}) {
				limits = DefaultLimits
			}
			var out bytes.Buffer
			_, err := New(limits, "istio_requests_total", "envoy_server_uptime").Copy(&out, tc.src)
			if tc.err == "" {
				require.NoError(t, err)
				require.Equal(t, tc.kept, out.String())
				return
			}
			var pe *Error
			require.True(t, errors.As(err, &pe), "want *Error, got %v", err)
			require.Contains(t, err.Error(), tc.err)
		})
	}
}

func TestFilterMemoryIsBoundedByTheLineBuffer(t *testing.T) {
	src := &repeatReader{prefix: `envoy_cluster_upstream_cx_total{cluster_name="`, fill: 'A', n: 64 << 20, suffix: "\"} 1\n"}
	allocs := testing.AllocsPerRun(1, func() {
		src.pos = 0
		_, err := keepRules().Copy(io.Discard, src)
		require.NoError(t, err)
	})
	// The line buffer and a few small values, not one per 64 KiB chunk of
	// the 64 MiB line.
	require.Less(t, allocs, 20.0)
}

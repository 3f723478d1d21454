package engine

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// TestCatalogBounded: series, label names and label values asked without
// a limit (or with one over the bound) return MaxCatalogResults and
// Prometheus's truncation warning, whatever the TSDB holds.
func TestCatalogBounded(t *testing.T) {
	s, err := spec.Parse([]byte("gateways:\n  - name: gw\n    namespace: ns\n    static_targets: [\"127.0.0.1:1\"]\nmattermost:\n  webhook_url: http://127.0.0.1:1/hooks/x\n"), "t.yaml", rules.SpecKinds())
	require.NoError(t, err)
	e, err := New(s, Options{})
	require.NoError(t, err)
	ctx := context.Background()
	_, _, err = e.Series(ctx, [][]*labels.Matcher{{labels.MustNewMatcher(labels.MatchEqual, "__name__", "up")}}, time.Unix(0, 0), time.Now(), 0)
	require.ErrorIs(t, err, errNotStarted)
	require.NoError(t, e.Start(ctx))
	defer e.Close()

	now := time.Now()
	app := e.db.Appender(ctx)
	n := MaxCatalogResults + 5
	for i := range n {
		_, err := app.Append(0, labels.FromStrings("__name__", "bulk", "i", fmt.Sprintf("%05d", i), "l"+strconv.Itoa(i), "x"), timestamp.FromTime(now), 1)
		require.NoError(t, err)
	}
	require.NoError(t, app.Commit())
	bulk := [][]*labels.Matcher{{labels.MustNewMatcher(labels.MatchEqual, "__name__", "bulk")}}
	start, end := now.Add(-time.Minute), now.Add(time.Minute)

	for _, limit := range []int{0, MaxCatalogResults + 1, 1 << 30} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			series, warn, err := e.Series(ctx, bulk, start, end, limit)
			require.NoError(t, err)
			require.Len(t, series, MaxCatalogResults)
			require.Contains(t, warn, errTruncated.Error())
			require.Equal(t, "00000", series[0].Get("i"), "sorted")

			vals, warn, err := e.LabelValues(ctx, "i", nil, start, end, limit)
			require.NoError(t, err)
			require.Len(t, vals, MaxCatalogResults)
			require.Contains(t, warn, errTruncated.Error())
			require.True(t, slices.IsSorted(vals), "sorted")

			names, warn, err := e.LabelNames(ctx, bulk, start, end, limit)
			require.NoError(t, err)
			require.Len(t, names, MaxCatalogResults)
			require.Contains(t, warn, errTruncated.Error())
		})
	}

	// Under the bound, all of it and no warning.
	series, warn, err := e.Series(ctx, [][]*labels.Matcher{{labels.MustNewMatcher(labels.MatchEqual, "i", "00007")}, {labels.MustNewMatcher(labels.MatchEqual, "i", "00003")}}, start, end, 0)
	require.NoError(t, err)
	require.Empty(t, warn)
	require.Len(t, series, 2)
	require.Equal(t, "00003", series[0].Get("i"), "two selectors merged in order")

	// A cancelled request ends without reading on.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, _, err = e.Series(cctx, bulk, start, end, 0)
	require.ErrorIs(t, err, context.Canceled)
}

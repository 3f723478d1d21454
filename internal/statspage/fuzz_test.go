package statspage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
)

// keptSamples parses a page with Prometheus's own text parser and returns
// the samples of the kept families (as the engine's keep relabeling would
// store them), or the parser's error.
func keptSamples(page []byte, keep map[string]bool) ([]string, error) {
	p := textparse.NewPromParser(page, labels.NewSymbolTable(), false)
	var out []string
	var lset labels.Labels
	for {
		e, err := p.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if e != textparse.EntrySeries {
			continue
		}
		_, ts, v := p.Series()
		p.Labels(&lset)
		if !keep[lset.Get(labels.MetricName)] {
			continue
		}
		t := int64(-1)
		if ts != nil {
			t = *ts
		}
		out = append(out, fmt.Sprintf("%s %v %d", lset.String(), v, t))
	}
}

// FuzzFilterKeepsTheSameSamples: for any page Prometheus's parser reads
// whole, the filtered page parses too and holds exactly the samples of the
// kept families that the whole page holds — the filter changes what is
// read, never what is stored.
func FuzzFilterKeepsTheSameSamples(f *testing.F) {
	f.Add([]byte(page))
	f.Add([]byte("# TYPE istio_requests_total counter\nistio_requests_total{a=\"b\"} 1 1700000000000\n# HELP envoy_server_uptime x\nenvoy_server_uptime 42\nother{x=\"#\"} 2\n"))
	f.Add([]byte("istio_requests_total 1\nistio_requests_total_x 2\nenvoy_server_uptimes 3\n  envoy_server_uptime 4\n"))
	f.Add([]byte("# TYPE other histogram\nother_bucket{le=\"1\"} 1\nother_bucket{le=\"+Inf\"} 2\nother_sum 3\nother_count 2\nistio_requests_total{response_code=\"421\"} 1e3\n"))
	flt := keepRules()
	f.Fuzz(func(t *testing.T, in []byte) {
		want, err := keptSamples(in, flt.keep)
		if err != nil {
			return // Prometheus refuses the whole page: nothing is stored either way
		}
		var out bytes.Buffer
		if _, err := flt.Copy(&out, bytes.NewReader(in)); err != nil {
			var fe *Error
			if errors.As(err, &fe) {
				return // refused with a reason (binary, over a limit): a failed scrape, up 0
			}
			t.Fatalf("filter failed without a reason: %v", err)
		}
		got, err := keptSamples(out.Bytes(), flt.keep)
		if err != nil {
			t.Fatalf("the whole page parses, the filtered one does not: %v\nfiltered:\n%q", err, out.String())
		}
		if !slices.Equal(want, got) {
			t.Fatalf("kept samples differ\nwhole page: %q\nfiltered:   %q\npage: %q", want, got, in)
		}
	})
}

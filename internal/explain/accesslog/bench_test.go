package accesslog

import (
	"strings"
	"testing"
)

// BenchmarkParseText measures lines per second of Istio's default text
// format: one Format.ParseLine, and the Reader with format detection.
func BenchmarkParseText(b *testing.B) {
	b.Run("format", func(b *testing.B) {
		f, err := compileFormat(FormatIstio, IstioTextFormat)
		if err != nil {
			b.Fatal(err)
		}
		var e Entry
		b.SetBytes(int64(len(rawClusterLine)))
		for b.Loop() {
			if err := f.ParseLine(rawClusterLine, &e); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	})
	b.Run("reader", func(b *testing.B) {
		const n = 10000
		in := strings.Repeat(rawClusterLine+"\n"+demoLine+"\n", n/2)
		b.SetBytes(int64(len(in)))
		for b.Loop() {
			r := NewReader(strings.NewReader(in), ReaderOptions{})
			got := 0
			for r.Next() {
				got++
			}
			if got != n {
				b.Fatalf("read %d entries, want %d", got, n)
			}
		}
		b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "lines/s")
	})
	b.Run("json", func(b *testing.B) {
		var e Entry
		b.SetBytes(int64(len(jsonLineText)))
		for b.Loop() {
			if _, err := parseJSONLine(jsonLineText, &e); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	})
}

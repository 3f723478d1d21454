package statspage

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

// BenchmarkFilter: one 10 MB Envoy page (80 % envoy_cluster_* lines, 20 %
// istio_requests_total) through the filter; MB/s is the page size over the
// time, the kept lines are what Prometheus's parser then reads.
func BenchmarkFilter(b *testing.B) {
	var page bytes.Buffer
	for i := 0; page.Len() < 10<<20; i++ {
		if i%5 == 0 {
			fmt.Fprintf(&page, "istio_requests_total{reporter=\"destination\",source_workload=\"client-%d\",destination_service=\"svc-%d.ns.svc.cluster.local\",response_code=\"200\",response_flags=\"-\"} %d\n", i%97, i%31, i)
			continue
		}
		fmt.Fprintf(&page, "# TYPE envoy_cluster_upstream_rq_total counter\nenvoy_cluster_upstream_rq_total{cluster_name=\"outbound|8080||svc-%d.ns.svc.cluster.local\"} %d\n", i, i)
	}
	f := New(DefaultLimits, "istio_requests_total", "envoy_server_uptime")
	b.SetBytes(int64(page.Len()))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Copy(io.Discard, bytes.NewReader(page.Bytes())); err != nil {
			b.Fatal(err)
		}
	}
}

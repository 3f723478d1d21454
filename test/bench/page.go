package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatewatch/gatewatch/internal/engine"
	"github.com/gatewatch/gatewatch/internal/render"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// The page-size comparison: gatewatch run and the real Prometheus, each a
// process of its own, scraping the same Envoy page served from this process.
// Prometheus keeps the same two families with metric_relabel_configs, the
// way a runbook user would trim a 100 MB page.

var (
	pageSizes   = []int{1, 10, 50, 100}
	pageWanted  = []int{1, 20}
	pageScrape  = 5 * time.Second
	pageTimeout = 4500 * time.Millisecond
	pageWindow  = 25 * time.Second
	heapWindow  = 10 * time.Second
)

type pageCost struct {
	Series    int           // series on the page
	Kept      int           // series the system stored from it
	CPU       time.Duration // process CPU (user+system) per scrape
	Duration  time.Duration // the system's own mean scrape_duration_seconds
	PeakRSS   uint64        // VmHWM over the whole run
	IdleHeap  uint64        // go_memstats_heap_inuse_bytes before the big page
	PeakHeap  uint64        // the highest go_memstats_heap_inuse_bytes seen while scraping it
	PageBytes int
}

// MBps is the page processed per second of scrape (page bytes over the
// system's own scrape duration).
func (c pageCost) MBps() float64 {
	if c.Duration <= 0 {
		return 0
	}
	return float64(c.PageBytes) / 1e6 / c.Duration.Seconds()
}

// envoyPage builds a stats page of about mb megabytes of which wantedPct
// percent (by bytes) are istio_requests_total lines; the rest are
// envoy_cluster_* stats, as on a gateway in front of a big mesh.
func envoyPage(mb, wantedPct int) ([]byte, int) {
	var b strings.Builder
	b.Grow(mb<<20 + 4096)
	series := 1
	b.WriteString("# TYPE envoy_server_uptime gauge\nenvoy_server_uptime{} 86400\n# TYPE envoy_cluster_upstream_rq_total counter\n")
	i := 0
	for b.Len() < mb<<20*(100-wantedPct)/100 {
		fmt.Fprintf(&b, "envoy_cluster_upstream_rq_total{cluster_name=\"outbound|8080||svc-%d.shop.svc.cluster.local\",response_code_class=\"2xx\"} %d\n", i, i*7)
		i++
		series++
	}
	b.WriteString("# TYPE istio_requests_total counter\n")
	for b.Len() < mb<<20 {
		fmt.Fprintf(&b, "istio_requests_total{reporter=\"source\",source_workload=\"istio-ingressgateway\",source_workload_namespace=\"istio-ingress\",destination_service=\"svc-%d.shop.svc.cluster.local\",destination_workload=\"svc-%d\",response_code=\"200\",response_flags=\"-\",request_protocol=\"http\",connection_security_policy=\"unknown\"} %d\n", i, i, i*3)
		i++
		series++
	}
	return []byte(b.String()), series
}

// pageServer serves a tiny page until armed, then the big one, counting
// the big page's requests.
type pageServer struct {
	page   []byte
	armed  atomic.Bool
	served atomic.Int64
	srv    *http.Server
	addr   string
}

const tinyPage = "# TYPE envoy_server_uptime gauge\nenvoy_server_uptime{} 86400\n"

func startPageServer(page []byte) (*pageServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ps := &pageServer{page: page, addr: ln.Addr().String()}
	ps.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		if !ps.armed.Load() {
			_, _ = w.Write([]byte(tinyPage))
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(ps.page)))
		if _, err := w.Write(ps.page); err == nil {
			ps.served.Add(1)
		}
	})}
	go func() { _ = ps.srv.Serve(ln) }()
	return ps, nil
}

// metricValue reads one unlabelled sample from a /metrics page.
func metricValue(base, name string) (float64, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, name+" ") {
			return strconv.ParseFloat(strings.TrimSpace(l[len(name)+1:]), 64)
		}
	}
	return 0, fmt.Errorf("%s/metrics has no %s", base, name)
}

// instantValue runs an instant query through a Prometheus-compatible API
// (gatewatch's own or Prometheus's) and returns the first sample.
func instantValue(base, query string) (float64, error) {
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, err
	}
	if len(body.Data.Result) == 0 {
		return 0, fmt.Errorf("%s: no result", query)
	}
	s, _ := body.Data.Result[0].Value[1].(string)
	return strconv.ParseFloat(s, 64)
}

// vmHWM is a process's peak resident set size.
func vmHWM(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			kb, err := strconv.ParseUint(strings.Fields(l)[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM for %d", pid)
}

// measurePage starts one system ("gatewatch" or "prometheus") on the page
// server and measures it while it scrapes the big page.
func measurePage(system string, page []byte, series int) (pageCost, error) {
	c := pageCost{Series: series, PageBytes: len(page)}
	ps, err := startPageServer(page)
	if err != nil {
		return c, err
	}
	defer ps.srv.Close()
	dir, err := os.MkdirTemp("", "gatewatch-page-")
	if err != nil {
		return c, err
	}
	defer os.RemoveAll(dir)
	listen, err := freePort()
	if err != nil {
		return c, err
	}
	var p procs
	defer p.stop()
	var pid int
	switch system {
	case "gatewatch":
		specFile := filepath.Join(dir, "gatewatch.yaml")
		y := fmt.Sprintf("gateways:\n  - name: big\n    namespace: istio-ingress\n    static_targets: [%q]\n    stats: {interval: %s, timeout: %s}\nalerts:\n  - window: 5m\nmattermost:\n  webhook_url: http://127.0.0.1:1/hooks/none\n",
			ps.addr, spec.Duration(pageScrape), spec.Duration(pageTimeout))
		if err := os.WriteFile(specFile, []byte(y), 0o644); err != nil {
			return c, err
		}
		cmd, err := p.start(*gwBin, "run", "-c", specFile, "--listen", listen, "--log.level=error", "--data-dir", filepath.Join(dir, "data"))
		if err != nil {
			return c, err
		}
		pid = cmd.Process.Pid
	case "prometheus":
		cfg := fmt.Sprintf(`global: {scrape_interval: %s, scrape_timeout: %s}
scrape_configs:
- job_name: page
  static_configs: [{targets: [%q]}]
  metric_relabel_configs:
  - source_labels: [__name__]
    regex: istio_requests_total|envoy_server_uptime
    action: keep
`, spec.Duration(pageScrape), spec.Duration(pageTimeout), ps.addr)
		if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
			return c, err
		}
		cmd, err := p.start(filepath.Join(*toolsDir, "prometheus"), "--config.file="+filepath.Join(dir, "prometheus.yml"),
			"--storage.tsdb.path="+filepath.Join(dir, "prom"), "--web.listen-address="+listen)
		if err != nil {
			return c, err
		}
		pid = cmd.Process.Pid
	}
	base := "http://" + listen
	if err := waitHTTP(base+"/-/ready", time.Minute); err != nil {
		return c, fmt.Errorf("%w%s", err, p.tail())
	}
	// CPU first, with nothing else asking the process anything: the idle
	// rate (tiny page, rules), then the big page. The heap is sampled in a
	// window of its own after (its /metrics requests cost CPU too).
	time.Sleep(pageScrape) // settled on the tiny page
	idleWindow := 2 * pageScrape
	idle0 := must(cpuOf(pid))
	time.Sleep(idleWindow)
	idleRate := float64(must(cpuOf(pid))-idle0) / float64(idleWindow)
	if c.IdleHeap, err = heapInuse(base); err != nil {
		return c, err
	}
	ps.armed.Store(true)
	// Two big scrapes to create the series, then the measured window.
	for deadline := time.Now().Add(4 * pageScrape); ps.served.Load() < 2 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	n0, cpu0 := ps.served.Load(), must(cpuOf(pid))
	time.Sleep(pageWindow)
	n1, cpu1 := ps.served.Load(), must(cpuOf(pid))

	var mu sync.Mutex
	peak := c.IdleHeap
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(250 * time.Millisecond):
			}
			if h, err := heapInuse(base); err == nil {
				mu.Lock()
				peak = max(peak, h)
				mu.Unlock()
			}
		}
	}()
	time.Sleep(heapWindow)
	close(stop)
	<-done
	if n1 == n0 {
		return c, fmt.Errorf("%s scraped the page 0 times in %s%s", system, pageWindow, p.tail())
	}
	busy := float64(cpu1-cpu0) - idleRate*float64(pageWindow)
	c.CPU = time.Duration(max(busy, 0) / float64(n1-n0))
	c.PeakHeap = peak
	if c.PeakRSS, err = vmHWM(pid); err != nil {
		return c, err
	}
	upv, err := instantValue(base, "min_over_time(up[30s])")
	if err != nil || upv != 1 {
		return c, fmt.Errorf("%s: the target was not up through the window (up %v, %v)%s", system, upv, err, p.tail())
	}
	d, err := instantValue(base, fmt.Sprintf("avg_over_time(scrape_duration_seconds[%s])", pageWindow))
	if err != nil {
		return c, err
	}
	c.Duration = time.Duration(d * float64(time.Second))
	kept, err := instantValue(base, "scrape_samples_post_metric_relabeling")
	if err != nil {
		return c, err
	}
	c.Kept = int(kept)
	return c, nil
}

func heapInuse(base string) (uint64, error) {
	v, err := metricValue(base, "go_memstats_heap_inuse_bytes")
	return uint64(v), err
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// pageSection measures both systems on every page size and share and
// writes the table.
func pageSection(w *strings.Builder) error {
	w.WriteString("## One scrape of a big Envoy page: gatewatch against Prometheus\n\n")
	fmt.Fprintf(w, "`gatewatch run` (its stats-page filter skips unwanted families before Prometheus's parser) and the real Prometheus (parsing the whole page, then dropping with `metric_relabel_configs: keep istio_requests_total|envoy_server_uptime`), each its own process, scraping one page every %s (timeout %s) after two warm-up scrapes. The page is `envoy_cluster_*` stats plus the wanted share, by bytes, of `istio_requests_total` lines. CPU is the process's user+system time per scrape above its idle rate (measured just before, on a tiny page), read from /proc in 10 ms ticks over the %s window: below about 5 ms a figure is within that resolution; scrape time is the system's own mean `scrape_duration_seconds`; MB/s is the page's size over that; heap is `go_memstats_heap_inuse_bytes` sampled every 250 ms for %s after the CPU window (idle before the big page → peak); peak RSS is the kernel's VmHWM. Neither process has a memory limit here.\n\n", pageScrape, pageTimeout, pageWindow, heapWindow)
	w.WriteString("| page | wanted | series on page → kept | system | CPU per scrape | scrape time | MB/s | heap idle → peak (growth) | peak RSS |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, mb := range pageSizes {
		for _, pct := range pageWanted {
			page, series := envoyPage(mb, pct)
			for _, system := range []string{"gatewatch", "prometheus"} {
				fmt.Fprintf(os.Stderr, "bench: %d MB page, %d %% wanted, %s\n", mb, pct, system)
				c, err := measurePage(system, page, series)
				if err != nil {
					return fmt.Errorf("page %d MB %d%% %s: %w", mb, pct, system, err)
				}
				cpu := c.CPU.Round(time.Millisecond).String()
				if c.CPU < 5*time.Millisecond {
					cpu = "< 5ms"
				}
				fmt.Fprintf(w, "| %d MB | %d %% | %d → %d | %s | %s | %s | %.0f | %.0f → %.0f MiB (+%.0f) | %.0f MiB |\n", mb, pct, c.Series, c.Kept, system,
					cpu, c.Duration.Round(time.Millisecond), c.MBps(),
					mib(c.IdleHeap), mib(c.PeakHeap), mib(c.PeakHeap)-mib(c.IdleHeap), mib(c.PeakRSS))
			}
		}
	}
	w.WriteString("\n")
	return nil
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// memlimitSection runs `gatewatch run` as the rendered StatefulSet does
// (GATEWATCH_MEMORY_LIMIT = its 512Mi limit, so GOMEMLIMIT is 80 % of it)
// on the largest pages the stats-page filter accepts — as many kept series
// as the sample limit allows, in a 100 MB page — and reports the peak RSS
// against the limit.
func memlimitSection(w *strings.Builder) error {
	limit, err := resourceBytes(render.StandaloneMemoryLimit)
	if err != nil {
		return err
	}
	w.WriteString("## The largest page inside the deployed memory limit\n\n")
	fmt.Fprintf(w, "`gatewatch run` with `%s` set to the rendered StatefulSet's memory limit (%s, so `--auto-gomemlimit` sets GOMEMLIMIT to 80 %% of it), scraping every %s for %s a 100 MB page whose `istio_requests_total` lines are as many as the stats-page filter and the sample limit accept (%d series, the rest `envoy_cluster_*`). Peak RSS is the kernel's VmHWM; the limit is what the kubelet enforces.\n\n",
		render.MemoryLimitEnv, render.StandaloneMemoryLimit, pageScrape, 2*pageWindow, engine.SampleLimit)
	w.WriteString("| page | kept series | scrapes | target | peak RSS | memory limit | fits |\n|---|---|---|---|---|---|---|\n")
	for _, kept := range []int{engine.SampleLimit / 2, engine.SampleLimit} {
		page, series := keptPage(100, kept)
		fmt.Fprintf(os.Stderr, "bench: memory limit, 100 MB page, %d kept series\n", kept)
		peak, scrapes, health, err := underLimit(page, limit)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "| %d MB (%d series) | %d | %d | %s | %.0f MiB | %s | %s |\n", len(page)>>20, series, kept, scrapes, health, mib(peak), render.StandaloneMemoryLimit,
			map[bool]string{true: "yes", false: "**no**"}[peak < limit])
	}
	w.WriteString("\n")
	return nil
}

func resourceBytes(q string) (uint64, error) {
	var n uint64
	if _, err := fmt.Sscanf(q, "%dMi", &n); err != nil {
		return 0, fmt.Errorf("memory limit %q: %w", q, err)
	}
	return n << 20, nil
}

// keptPage is a page of about mb megabytes holding exactly kept
// istio_requests_total series, the rest envoy_cluster_* stats.
func keptPage(mb, kept int) ([]byte, int) {
	var b strings.Builder
	b.Grow(mb<<20 + 4096)
	b.WriteString("# TYPE envoy_server_uptime gauge\nenvoy_server_uptime{} 86400\n# TYPE istio_requests_total counter\n")
	for i := 1; i < kept; i++ { // envoy_server_uptime is one kept series
		fmt.Fprintf(&b, "istio_requests_total{reporter=\"source\",source_workload=\"istio-ingressgateway\",source_workload_namespace=\"istio-ingress\",destination_service=\"svc-%d.shop.svc.cluster.local\",destination_workload=\"svc-%d\",response_code=\"200\",response_flags=\"-\",request_protocol=\"http\",connection_security_policy=\"unknown\"} %d\n", i, i, i*3)
	}
	series := kept
	b.WriteString("# TYPE envoy_cluster_upstream_rq_total counter\n")
	for i := 0; b.Len() < mb<<20; i++ {
		fmt.Fprintf(&b, "envoy_cluster_upstream_rq_total{cluster_name=\"outbound|8080||svc-%d.shop.svc.cluster.local\",response_code_class=\"2xx\"} %d\n", i, i*7)
		series++
	}
	return []byte(b.String()), series
}

// underLimit runs gatewatch on the page with the rendered memory limit and
// returns its peak RSS, how many scrapes it made and the target's health.
func underLimit(page []byte, limit uint64) (peak uint64, scrapes int64, health string, err error) {
	ps, err := startPageServer(page)
	if err != nil {
		return 0, 0, "", err
	}
	defer ps.srv.Close()
	ps.armed.Store(true)
	dir, err := os.MkdirTemp("", "gatewatch-memlimit-")
	if err != nil {
		return 0, 0, "", err
	}
	defer os.RemoveAll(dir)
	listen, err := freePort()
	if err != nil {
		return 0, 0, "", err
	}
	specFile := filepath.Join(dir, "gatewatch.yaml")
	y := fmt.Sprintf("gateways:\n  - name: big\n    namespace: istio-ingress\n    static_targets: [%q]\n    stats: {interval: %s, timeout: %s}\nalerts:\n  - window: 5m\nmattermost:\n  webhook_url: http://127.0.0.1:1/hooks/none\n",
		ps.addr, spec.Duration(pageScrape), spec.Duration(pageTimeout))
	if err := os.WriteFile(specFile, []byte(y), 0o644); err != nil {
		return 0, 0, "", err
	}
	var p procs
	defer p.stop()
	cmd := exec.Command(*gwBin, "run", "-c", specFile, "--listen", listen, "--log.level=error", "--data-dir", filepath.Join(dir, "data"))
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", render.MemoryLimitEnv, limit))
	if err := p.startCmd(cmd); err != nil {
		return 0, 0, "", err
	}
	base := "http://" + listen
	if err := waitHTTP(base+"/-/ready", time.Minute); err != nil {
		return 0, 0, "", fmt.Errorf("%w%s", err, p.tail())
	}
	time.Sleep(2 * pageWindow)
	if peak, err = vmHWM(cmd.Process.Pid); err != nil {
		return 0, 0, "", err
	}
	health = "up"
	if v, err := instantValue(base, "min_over_time(up[30s])"); err != nil || v != 1 {
		health = "down"
	}
	return peak, ps.served.Load(), health, nil
}

// Command bench measures gatewatch for BENCHMARKS.md (make bench): detection
// latency of first-ever 421s through the embedded engine and, side by side,
// through real Prometheus + Alertmanager running `render --target
// prometheus` output with kube-prometheus-stack timings; CPU and heap per
// scrape for large Envoy pages; steady RSS of gatewatch and of
// Prometheus + Alertmanager on the same targets. Every figure comes from
// this run; nothing is estimated.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gatewatch/gatewatch/internal/demo"
	"github.com/gatewatch/gatewatch/internal/engine"
	"github.com/gatewatch/gatewatch/internal/mattermost/inbox"
	"github.com/gatewatch/gatewatch/internal/render"
	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

var (
	toolsDir = flag.String("tools", ".cache/bin", "folder with prometheus, alertmanager (scripts/tools.sh --servers)")
	out      = flag.String("out", "BENCHMARKS.md", "report file")
	events   = flag.Int("events", 20, "injected first-ever 421s per configuration")
	gwBin    = flag.String("gatewatch", "bin/gatewatch", "gatewatch binary for the RSS measurement")
	quick    = flag.Bool("quick", false, "shorter RSS settle time (for trying the harness)")
	only     = flag.String("only", "", "run one section: latency (replaces that section of -out, naming its commit), or scrape, rss, failover (printed, -out untouched)")
	failRuns = flag.Int("failover-runs", 10, "SIGKILL failovers measured")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type latencyResult struct {
	Name                      string
	Interval, Eval, GroupWait time.Duration
	Latencies                 []time.Duration
	Detected, Injected        int
	RunbookDetected           int
	Note                      string
}

func (l latencyResult) pct(p float64) time.Duration {
	if len(l.Latencies) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), l.Latencies...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	idx := int(p*float64(len(s)-1) + 0.5)
	return s[idx]
}

func run() error {
	var report strings.Builder
	host, _ := os.Hostname()
	commit := gitCommit()
	fmt.Fprintf(&report, "# Benchmarks\n\nWritten by `make bench` on %s, commit %s. The end-to-end figures below come from that run; the Go micro-benchmarks section names its own run (`scripts/bench.sh --micro-only` re-runs only it).\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), commit)
	fmt.Fprintf(&report, "Machine: %s, %d cores (%s), %s, %s.\n\n", host, runtime.NumCPU(), cpuModel(), memTotal(), runtime.Version())

	if *only == "failover" {
		lat, dup, err := failover(*failRuns)
		fmt.Fprintf(os.Stderr, "failover: %v, duplicates %d, err %v\n", lat, dup, err)
		if err != nil {
			return err
		}
		var costs strings.Builder
		if err := writeReplicaCosts(&costs); err != nil {
			return err
		}
		fmt.Fprint(os.Stderr, costs.String())
		return nil
	}
	if *only == "latency" {
		// Re-run only the latency section and put it in place of the one in
		// the report (which then names two commits: its own and the rest's).
		var sec strings.Builder
		note := fmt.Sprintf("_This section alone was re-run (`go run ./test/bench -only latency`, as `make bench` runs it) on %s, commit %s, on the machine above._\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), commit)
		if err := latencySection(&sec, note); err != nil {
			return err
		}
		return replaceSection(*out, "## Detection latency", sec.String())
	}
	if *only == "scrape" {
		for _, mb := range []int{1, 10, 50} {
			cpu, heap, series, err := scrapeCost(mb)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "scrape %d MB: %d series, CPU %s, peak heap %.1f MiB\n", mb, series, cpu, float64(heap)/(1<<20))
		}
		return nil
	}
	if *only == "rss" {
		g, p, err := steadyRSS(1)
		fmt.Fprintf(os.Stderr, "rss: gatewatch %d, stack %d, err %v\n", g, p, err)
		return err
	}
	// a, b. detection latency, gatewatch and the stock stack side by side.
	if err := latencySection(&report, ""); err != nil {
		return err
	}

	// c. CPU and heap per scrape.
	report.WriteString("## CPU time and heap per scrape, by Envoy page size\n\n")
	report.WriteString("The embedded engine scraping one target every second; 80 % of the page is `envoy_cluster_*` stats (dropped by the engine's series filter), 20 % `istio_requests_total`. CPU is the process's user+system time per scrape (the page server shares the process; it only writes a prepared buffer); peak heap is the highest live heap seen, minus the heap before the engine started.\n\n")
	report.WriteString("| page | series on the page | CPU per scrape | peak heap |\n|---|---|---|---|\n")
	for _, mb := range []int{1, 10, 50} {
		cpu, heap, series, err := scrapeCost(mb)
		if err != nil {
			return fmt.Errorf("scrape cost %d MB: %w", mb, err)
		}
		fmt.Fprintf(&report, "| %d MB | %d | %s | %.1f MiB |\n", mb, series, cpu.Round(time.Millisecond), float64(heap)/(1<<20))
	}

	// d. steady RSS.
	report.WriteString("\n## Steady memory (RSS)\n\n")
	report.WriteString("After the processes have scraped simulated gateways for a while (15 s scrape interval, 5 m window):\n\n")
	report.WriteString("| targets | gatewatch run | Prometheus + Alertmanager |\n|---|---|---|\n")
	for _, n := range []int{1, 20} {
		g, p, err := steadyRSS(n)
		if err != nil {
			return fmt.Errorf("rss %d targets: %w", n, err)
		}
		fmt.Fprintf(&report, "| %d | %.0f MiB | %.0f MiB |\n", n, float64(g)/(1<<20), float64(p)/(1<<20))
	}

	// e. failover of a clustered run.
	fo, dup, err := failover(*failRuns)
	if err != nil {
		return fmt.Errorf("failover: %w", err)
	}
	report.WriteString("\n## Failover: the sending replica killed\n\n")
	fmt.Fprintf(&report, "Three `gatewatch run` processes on Alertmanager's gossip (`--cluster.peer-timeout=%s`). The replica at position 0 cannot reach Mattermost and is killed with SIGKILL as it makes its first attempt; the figure is the time from the SIGKILL to the post accepted from the next replica. %d runs.\n\n", failoverPeerTimeout, len(fo))
	fmt.Fprintf(&report, "| runs | median | max | runs with a duplicate post |\n|---|---|---|---|\n| %d | %s | %s | %d |\n", len(fo), fo[len(fo)/2].Round(10*time.Millisecond), fo[len(fo)-1].Round(10*time.Millisecond), dup)
	if err := writeReplicaCosts(&report); err != nil {
		return err
	}
	return os.WriteFile(*out, []byte(report.String()), 0o644)
}

func gitCommit() string {
	b, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			return strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
		}
	}
	return "unknown CPU"
}

func memTotal() string {
	b, _ := os.ReadFile("/proc/meminfo")
	var kb int
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "MemTotal:") {
			fmt.Sscanf(strings.Fields(l)[1], "%d", &kb)
		}
	}
	return fmt.Sprintf("%.0f GiB RAM", float64(kb)/(1<<20))
}

// pods starts n simulated gateway pods with steady traffic.
func pods(n int) ([]*demo.Gateway, func(), error) {
	var gws []*demo.Gateway
	stop := make(chan struct{})
	for i := 0; i < n; i++ {
		g := demo.NewGateway("istio-ingress", "istio-ingressgateway", fmt.Sprintf("gw-%02d", i), nil, nil)
		if err := g.Start("127.0.0.1:0"); err != nil {
			return nil, nil, err
		}
		g.Serve(20)
		gws = append(gws, g)
	}
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				for _, g := range gws {
					g.Serve(3)
				}
			}
		}
	}()
	return gws, func() {
		close(stop)
		for _, g := range gws {
			g.Close()
		}
	}, nil
}

func benchSpec(gws []*demo.Gateway, iv, groupWait time.Duration, hook string) (*spec.Spec, error) {
	return spec.Parse([]byte(specYAML(gws, iv, groupWait, hook)), "bench.yaml", rules.SpecKinds())
}

func specYAML(gws []*demo.Gateway, iv, groupWait time.Duration, hook string) string {
	var targets []string
	for _, g := range gws {
		targets = append(targets, `"`+g.Addr()+`"`)
	}
	return fmt.Sprintf(`gateways:
  - name: public-ingress
    namespace: istio-ingress
    workload: istio-ingressgateway
    static_targets: [%s]
    stats: {interval: %s, timeout: %s}
alerts:
  - window: 5m
mattermost:
  webhook_url: %s
routing:
  group_by: [alertname, instance]
  group_wait: %s
  group_interval: 5m
cluster:
  alertmanager: {version: 0.31.1}
`, strings.Join(targets, ", "), spec.Duration(iv), spec.Duration(iv*2/3), hook, spec.Duration(groupWait))
}

// inject serves one first-ever 421 on each pod, staggered, and measures
// until each pod's message arrives.
func inject(inbox *inbox.Server, gws []*demo.Gateway, timeout time.Duration) ([]time.Duration, int) {
	injected := map[string]time.Time{}
	for _, g := range gws {
		injected[g.Addr()] = time.Now()
		g.Misdirect(1)
		time.Sleep(1500 * time.Millisecond)
	}
	deadline := time.Now().Add(timeout)
	got := map[string]time.Duration{}
	for time.Now().Before(deadline) && len(got) < len(gws) {
		for _, p := range inbox.Posts() {
			for _, a := range p.Attachments {
				if !strings.HasPrefix(a.Title, "[FIRING") {
					continue
				}
				for _, f := range a.Fields {
					if f.Title != "Pods" {
						continue
					}
					for _, inst := range strings.Split(f.Value, ", ") {
						if t0, ok := injected[inst]; ok {
							if _, seen := got[inst]; !seen {
								got[inst] = p.Received.Sub(t0)
							}
						}
					}
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	var out []time.Duration
	for _, d := range got {
		out = append(out, d)
	}
	return out, len(got)
}

func gatewatchLatency(iv, groupWait time.Duration) (latencyResult, error) {
	fmt.Fprintf(os.Stderr, "bench: gatewatch latency at %s scrape\n", iv)
	res := latencyResult{Name: "gatewatch (embedded)", Interval: iv, Eval: engine.EvalInterval, GroupWait: groupWait, Injected: *events}
	inbox, err := inbox.Start("127.0.0.1:0")
	if err != nil {
		return res, err
	}
	defer inbox.Close()
	hook := inbox.AddHook("bench", "alerts", false)
	gws, stop, err := pods(*events)
	if err != nil {
		return res, err
	}
	defer stop()
	s, err := benchSpec(gws, iv, groupWait, hook)
	if err != nil {
		return res, err
	}
	e, err := engine.New(s, engine.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return res, err
	}
	if err := e.Start(context.Background()); err != nil {
		return res, err
	}
	defer e.Close()
	time.Sleep(3 * iv) // scraped a few times without any 421 series
	res.Latencies, res.Detected = inject(inbox, gws, 3*(iv+groupWait)+time.Minute)
	return res, nil
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

type procs struct {
	cmds []*exec.Cmd
	logs []string
}

// tail returns the end of every process log, for error messages.
func (p *procs) tail() string {
	var b strings.Builder
	for _, l := range p.logs {
		data, _ := os.ReadFile(l)
		if len(data) > 1500 {
			data = data[len(data)-1500:]
		}
		fmt.Fprintf(&b, "\n--- %s:\n%s", l, data)
	}
	return b.String()
}

func (p *procs) start(name string, args ...string) (*exec.Cmd, error) {
	cmd := exec.Command(name, args...)
	logf, err := os.CreateTemp("", "gatewatch-bench-"+filepath.Base(name)+"-*.log")
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = io.Discard, logf
	p.logs = append(p.logs, logf.Name())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p.cmds = append(p.cmds, cmd)
	return cmd, nil
}

func (p *procs) stop() {
	for _, c := range p.cmds {
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
}

func waitHTTP(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready after %s", url, timeout)
}

// promStack starts the real Prometheus and Alertmanager with the files
// `render --target prometheus` writes for s, plus the runbook's rule.
func promStack(s *spec.Spec, dir string, evalInterval time.Duration, p *procs) (promURL string, err error) {
	files, err := render.Render(s, render.TargetPrometheus)
	if err != nil {
		return "", err
	}
	amAddr, err := freePort()
	if err != nil {
		return "", err
	}
	promAddr, err := freePort()
	if err != nil {
		return "", err
	}
	for _, f := range files {
		if f.Name == "alertmanager.yml" || f.Name == render.RulesFileName {
			if err := os.WriteFile(filepath.Join(dir, f.Name), f.Content, 0o644); err != nil {
				return "", err
			}
		}
	}
	// The rendered alertmanager.yml reads the URL from the Secret's mount path; point it at a file here.
	am, _ := os.ReadFile(filepath.Join(dir, "alertmanager.yml"))
	am = []byte(strings.ReplaceAll(string(am), render.SecretMountPath(s), filepath.Join(dir, "webhook-url")))
	if err := os.WriteFile(filepath.Join(dir, "alertmanager.yml"), am, 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "webhook-url"), []byte(s.Mattermost.WebhookURL.Reveal()), 0o600); err != nil {
		return "", err
	}
	runbook := fmt.Sprintf("groups:\n- name: runbook\n  interval: %s\n  rules:\n  - alert: RunbookRule421\n    expr: %s\n", spec.Duration(evalInterval), rules.RunbookExpr(s.Gateways[0], spec.DefaultWindow))
	if err := os.WriteFile(filepath.Join(dir, "runbook.yml"), []byte(runbook), 0o644); err != nil {
		return "", err
	}
	scrape, err := render.ScrapeConfigYAML(s, "")
	if err != nil {
		return "", err
	}
	prom := fmt.Sprintf("global:\n  evaluation_interval: %s\nrule_files: [%s, runbook.yml]\nalerting:\n  alertmanagers:\n  - static_configs:\n    - targets: [%q]\n%s",
		spec.Duration(evalInterval), render.RulesFileName, amAddr, scrape)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(prom), 0o644); err != nil {
		return "", err
	}
	if _, err := p.start(filepath.Join(*toolsDir, "alertmanager"), "--config.file="+filepath.Join(dir, "alertmanager.yml"), "--storage.path="+filepath.Join(dir, "am"),
		"--web.listen-address="+amAddr, "--cluster.listen-address="); err != nil {
		return "", err
	}
	if _, err := p.start(filepath.Join(*toolsDir, "prometheus"), "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "prom"),
		"--web.listen-address="+promAddr); err != nil {
		return "", err
	}
	if err := waitHTTP("http://"+amAddr+"/-/ready", time.Minute); err != nil {
		return "", fmt.Errorf("%w%s", err, p.tail())
	}
	if err := waitHTTP("http://"+promAddr+"/-/ready", time.Minute); err != nil {
		return "", fmt.Errorf("%w%s", err, p.tail())
	}
	return "http://" + promAddr, nil
}

func stackLatency() (latencyResult, error) {
	fmt.Fprintln(os.Stderr, "bench: prometheus + alertmanager latency (kube-prometheus-stack timings)")
	iv, gw := 30*time.Second, 30*time.Second
	res := latencyResult{Name: "Prometheus + Alertmanager (render --target prometheus)", Interval: iv, Eval: iv, GroupWait: gw, Injected: *events}
	inbox, err := inbox.Start("127.0.0.1:0")
	if err != nil {
		return res, err
	}
	defer inbox.Close()
	hook := inbox.AddHook("bench-stack", "alerts", false)
	gws, stop, err := pods(*events)
	if err != nil {
		return res, err
	}
	defer stop()
	s, err := benchSpec(gws, iv, gw, hook)
	if err != nil {
		return res, err
	}
	dir, err := os.MkdirTemp("", "gatewatch-bench-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	var p procs
	defer p.stop()
	promURL, err := promStack(s, dir, iv, &p)
	if err != nil {
		return res, err
	}
	time.Sleep(2 * iv)
	res.Latencies, res.Detected = inject(inbox, gws, 4*(2*iv+gw)+time.Minute)
	// Did the runbook's rule ever fire in the window of the test?
	q := `count(max_over_time(ALERTS{alertname="RunbookRule421",alertstate="firing"}[30m]))`
	resp, err := http.Get(promURL + "/api/v1/query?query=" + urlEscape(q))
	if err != nil {
		return res, err
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
		return res, err
	}
	res.RunbookDetected = 0
	if len(body.Data.Result) > 0 {
		res.RunbookDetected = 1
		res.Note = "(Its sum() has no per-pod labels: one firing counts once for all pods.)"
	}
	return res, nil
}

func urlEscape(s string) string {
	r := strings.NewReplacer(" ", "%20", "\"", "%22", "{", "%7B", "}", "%7D", "[", "%5B", "]", "%5D", "=", "%3D", ",", "%2C", "(", "%28", ")", "%29")
	return r.Replace(s)
}

// bigPage builds a stats page of about mb megabytes.
func bigPage(mb int) ([]byte, int) {
	var b strings.Builder
	series := 0
	b.WriteString("# TYPE envoy_server_uptime gauge\nenvoy_server_uptime{} 86400\n# TYPE envoy_cluster_upstream_rq_total counter\n")
	i := 0
	for b.Len() < mb<<20*8/10 {
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

func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func scrapeCost(mb int) (time.Duration, uint64, int, error) {
	fmt.Fprintf(os.Stderr, "bench: scrape cost, %d MB page\n", mb)
	page, series := bigPage(mb)
	var mu sync.Mutex
	scrapes := 0
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		scrapes++
		mu.Unlock()
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write(page)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, 0, 0, err
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	s, err := spec.Parse([]byte(fmt.Sprintf("gateways:\n  - name: big\n    namespace: ns\n    static_targets: [%q]\n    stats: {interval: 2s, timeout: 1900ms}\nalerts:\n  - window: 1m\nmattermost:\n  webhook_url: http://127.0.0.1:1/hooks/none\n", ln.Addr().String())), "scrape.yaml", rules.SpecKinds())
	if err != nil {
		return 0, 0, 0, err
	}
	runtime.GC()
	base := heapBytes()
	e, err := engine.New(s, engine.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return 0, 0, 0, err
	}
	if err := e.Start(context.Background()); err != nil {
		return 0, 0, 0, err
	}
	defer e.Close()
	time.Sleep(3 * time.Second) // first scrapes create the series
	mu.Lock()
	startScrapes := scrapes
	mu.Unlock()
	startCPU := cpuTime()
	var peak uint64
	end := time.Now().Add(20 * time.Second)
	for time.Now().Before(end) {
		if h := heapBytes(); h > peak {
			peak = h
		}
		time.Sleep(20 * time.Millisecond)
	}
	cpu := cpuTime() - startCPU
	mu.Lock()
	n := scrapes - startScrapes
	mu.Unlock()
	for _, t := range e.Targets() {
		if t.Health != "up" {
			return 0, 0, 0, fmt.Errorf("target %s: %s", t.Health, t.Error)
		}
	}
	if n == 0 {
		return 0, 0, 0, fmt.Errorf("no scrapes")
	}
	if peak < base {
		peak = base
	}
	return cpu / time.Duration(n), peak - base, series, nil
}

func rss(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			var kb uint64
			fmt.Sscanf(strings.Fields(l)[1], "%d", &kb)
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS for %d", pid)
}

func steadyRSS(n int) (gatewatch, stack uint64, err error) {
	fmt.Fprintf(os.Stderr, "bench: steady RSS with %d targets\n", n)
	settle := 90 * time.Second
	if *quick {
		settle = 20 * time.Second
	}
	inbox, err := inbox.Start("127.0.0.1:0")
	if err != nil {
		return 0, 0, err
	}
	defer inbox.Close()
	hook := inbox.AddHook("rss", "alerts", false)
	gws, stop, err := pods(n)
	if err != nil {
		return 0, 0, err
	}
	defer stop()
	s, err := benchSpec(gws, 15*time.Second, 30*time.Second, hook)
	if err != nil {
		return 0, 0, err
	}
	dir, err := os.MkdirTemp("", "gatewatch-rss-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	specFile := filepath.Join(dir, "gatewatch.yaml")
	if err := os.WriteFile(specFile, []byte(specYAML(gws, 15*time.Second, 30*time.Second, hook)), 0o644); err != nil {
		return 0, 0, err
	}
	listen, err := freePort()
	if err != nil {
		return 0, 0, err
	}
	var p procs
	g, err := p.start(*gwBin, "run", "-c", specFile, "--listen", listen, "--log.level=error", "--data-dir", filepath.Join(dir, "gw-data"))
	if err != nil {
		p.stop()
		return 0, 0, err
	}
	if err := waitHTTP("http://"+listen+"/-/ready", time.Minute); err != nil {
		p.stop()
		return 0, 0, fmt.Errorf("%w%s", err, p.tail())
	}
	time.Sleep(settle)
	gatewatch, err = rss(g.Process.Pid)
	p.stop()
	if err != nil {
		return 0, 0, err
	}

	var ps procs
	defer ps.stop()
	if _, err := promStack(s, dir, 15*time.Second, &ps); err != nil {
		return 0, 0, err
	}
	time.Sleep(settle)
	for _, c := range ps.cmds {
		r, err := rss(c.Process.Pid)
		if err != nil {
			return 0, 0, err
		}
		stack += r
	}
	return gatewatch, stack, nil
}

// writeReplicaCosts measures a single run and a clustered replica side by
// side and writes the table.
func writeReplicaCosts(report *strings.Builder) error {
	single, err := singleCost()
	if err != nil {
		return fmt.Errorf("single run: %w", err)
	}
	replica, err := clusterCost()
	if err != nil {
		return fmt.Errorf("clustered replica: %w", err)
	}
	fmt.Fprintf(report, "\n## A replica's cost, with and without clustering\n\nOne gateway target scraped every second; RSS after, and CPU (user+system) over, %s of steady running; API latency is the median of 20 requests to the replica, one at a time.\n\n", costWindow)
	report.WriteString("| | RSS | CPU per minute |")
	for _, path := range apiRequests {
		fmt.Fprintf(report, " `%s` |", path)
	}
	report.WriteString("\n|---|---|---|" + strings.Repeat("---|", len(apiRequests)) + "\n")
	for _, row := range []struct {
		name string
		c    replicaCost
	}{{"`gatewatch run`, no clustering", single}, {"one of three clustered replicas", replica}} {
		fmt.Fprintf(report, "| %s | %.0f MiB | %s |", row.name, float64(row.c.RSS)/(1<<20), (row.c.CPU * time.Duration(time.Minute/costWindow)).Round(10*time.Millisecond))
		for _, path := range apiRequests {
			fmt.Fprintf(report, " %s |", row.c.API[path].Round(100*time.Microsecond))
		}
		report.WriteString("\n")
	}
	return nil
}

// latencySection measures and writes the detection-latency section: the
// same first-ever 421s through gatewatch at its shipped defaults, at 5 s
// scrape, and at the stock stack's timings, and through the real
// Prometheus + Alertmanager at kube-prometheus-stack's timings, so each
// comparison has the same group_wait on both sides.
func latencySection(w io.Writer, note string) error {
	var lat []latencyResult
	for _, c := range []struct {
		iv, gw time.Duration
		what   string
	}{
		{15 * time.Second, time.Duration(spec.DefaultGroupWait), "shipped defaults"},
		{5 * time.Second, time.Duration(spec.DefaultGroupWait), "5 s scrape"},
		{30 * time.Second, 30 * time.Second, "the stock stack's timings"},
	} {
		r, err := gatewatchLatency(c.iv, c.gw)
		if err != nil {
			return fmt.Errorf("latency at %s: %w", c.iv, err)
		}
		r.Name += ", " + c.what
		lat = append(lat, r)
	}
	stack, err := stackLatency()
	if err != nil {
		return fmt.Errorf("prometheus + alertmanager: %w", err)
	}
	lat = append(lat, stack)

	fmt.Fprint(w, "## Detection latency: a 421 served → the message accepted by the Mattermost inbox\n\n"+note)
	fmt.Fprintf(w, "%d first-ever 421s per row, each on its own gateway pod (a new `response_code=\"421\"` series at 1), grouped per pod so each is its own message, injected 1.5 s apart. The inbox is the strict Mattermost-compatible server. Median and maximum of the %d (no percentile is claimed from so few).\n\n", *events, *events)
	fmt.Fprint(w, "| stack | scrape | evaluation | group_wait | detected | median | max | design bound (scrape + group_wait + 2 s) |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range lat {
		bound := r.Interval + r.GroupWait + 2*time.Second
		fmt.Fprintf(w, "| %s | %s | %s | %s | %d / %d | %s | %s | %s |\n", r.Name, r.Interval, r.Eval, r.GroupWait, r.Detected, r.Injected,
			r.pct(0.5).Round(100*time.Millisecond), r.pct(1).Round(100*time.Millisecond), bound)
	}
	ratio := func(a, b latencyResult) string {
		if a.pct(0.5) == 0 || b.pct(0.5) == 0 {
			return "not measured"
		}
		return fmt.Sprintf("median %.1f×, max %.1f×", float64(a.pct(0.5))/float64(b.pct(0.5)), float64(a.pct(1))/float64(b.pct(1)))
	}
	fmt.Fprintf(w, "\nSame timings on both sides (30 s scrape, 30 s group_wait): Prometheus + Alertmanager to gatewatch, %s — the difference is Prometheus's 30 s evaluation against gatewatch's 1 s.\n", ratio(stack, lat[2]))
	fmt.Fprintf(w, "\nWhat a user gets from each out of the box (gatewatch 15 s scrape and 1 s group_wait; the stack kube-prometheus-stack's 30 s and Alertmanager's 30 s): %s.\n", ratio(stack, lat[0]))
	fmt.Fprintf(w, "\nThe runbook's own rule (`sum(increase(...[5m])) > 0`), loaded into the same Prometheus, fired for %d of the %d first-ever 421s: it cannot see a series' first sample. Its latency on *later* 421s is not measured here (one unlabelled alert per run). %s\n\n", stack.RunbookDetected, stack.Injected, stack.Note)
	return nil
}

// replaceSection puts sec in place of the section of file starting at the
// line header (up to the next "## " heading).
func replaceSection(file, header, sec string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	s := string(b)
	i := strings.Index(s, header)
	if i < 0 {
		return fmt.Errorf("%s has no %q section: run make bench", file, header)
	}
	j := strings.Index(s[i+len(header):], "\n## ")
	end := len(s)
	if j >= 0 {
		end = i + len(header) + j + 1
	}
	return os.WriteFile(file, []byte(s[:i]+sec+s[end:]), 0o644)
}

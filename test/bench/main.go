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
	"sort"
	"strings"
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
	quick    = flag.Bool("quick", false, "smaller pages, fewer pods, shorter windows (for trying the harness; not for BENCHMARKS.md)")
	only     = flag.String("only", "", "re-run one section and replace it in -out (which must exist), naming its commit: latency, page, steady, failover, replica, memlimit")
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
	Name, Rule, Kind          string // Kind: "first-ever" or "later"
	Interval, Eval, GroupWait time.Duration
	Latencies                 []time.Duration
	Detected, Injected        int
	FalseAlarms               int // firing posts before any 421 was injected
	RunbookDetected           int
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

// section is one part of BENCHMARKS.md: its heading and what measures it.
type section struct {
	name, header string
	write        func(*strings.Builder) error
}

var sections = []section{
	{"latency", "## Detection latency", latencySection},
	{"page", "## One scrape of a big Envoy page", pageSection},
	{"steady", "## Steady cost", steadySection},
	{"failover", "## Failover", failoverSection},
	{"replica", "## A replica's cost", writeReplicaCosts},
	{"memlimit", "## The largest page inside the deployed memory limit", memlimitSection},
}

func sectionNames() string {
	var n []string
	for _, s := range sections {
		n = append(n, s.name)
	}
	return strings.Join(n, ", ")
}

func run() error {
	if *quick {
		pageSizes, pageWindow, steadyTargets, steadySettle = []int{1, 10}, 10*time.Second, []int{2}, 20*time.Second
	}
	commit := gitCommit()
	now := time.Now().UTC().Format("2006-01-02 15:04 UTC")
	if *only != "" {
		// Re-run one section and put it in place of the one in the report,
		// which then says so (and names two commits: its own and the rest's).
		for _, sec := range sections {
			if sec.name != *only {
				continue
			}
			var b strings.Builder
			if err := sec.write(&b); err != nil {
				return err
			}
			text := b.String()
			note := fmt.Sprintf("_This section alone was re-run (`go run ./test/bench -only %s`) on %s, commit %s, on the machine above._\n\n", sec.name, now, commit)
			if i := strings.Index(text, "\n\n"); i >= 0 {
				text = text[:i+2] + note + text[i+2:]
			}
			return replaceSection(*out, sec.header, text)
		}
		return fmt.Errorf("-only %q: the sections are %s", *only, sectionNames())
	}
	var report strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&report, "# Benchmarks\n\nWritten by `make bench` on %s, commit %s. Every end-to-end figure below comes from that run unless its section says it was re-run alone; the Go micro-benchmarks section names its own run (`scripts/bench.sh --micro-only` re-runs only it).\n\n", now, commit)
	fmt.Fprintf(&report, "Machine: %s, %d cores (%s), %s, %s.\n\n", host, runtime.NumCPU(), cpuModel(), memTotal(), runtime.Version())
	for _, sec := range sections {
		if err := sec.write(&report); err != nil {
			return fmt.Errorf("%s: %w", sec.name, err)
		}
		// Written after every section: a later failure keeps what was measured.
		if err := os.WriteFile(*out, []byte(report.String()), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// failoverSection kills the sending replica of three.
func failoverSection(report *strings.Builder) error {
	fo, dup, err := failover(*failRuns)
	if err != nil {
		return err
	}
	report.WriteString("## Failover: the sending replica killed\n\n")
	fmt.Fprintf(report, "Three `gatewatch run` processes on Alertmanager's gossip (`--cluster.peer-timeout=%s`). The replica at position 0 cannot reach Mattermost and is killed with SIGKILL as it makes its first attempt; the figure is the time from the SIGKILL to the post accepted from the next replica. %d runs.\n\n", failoverPeerTimeout, len(fo))
	fmt.Fprintf(report, "| runs | median | max | runs with a duplicate post |\n|---|---|---|---|\n| %d | %s | %s | %d |\n\n", len(fo), fo[len(fo)/2].Round(10*time.Millisecond), fo[len(fo)-1].Round(10*time.Millisecond), dup)
	return nil
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

// seedLater makes each pod an old one (an hour of uptime) that already
// served a 421 before anything watched it: the 421 injected later is then a
// counter increase on an existing series, what the runbook's rule can see.
func seedLater(gws []*demo.Gateway) {
	for _, g := range gws {
		g.SetUptime(time.Hour)
		g.Misdirect(1)
	}
}

// inject serves one 421 on each pod, 1.5 s apart, and returns when each was
// served.
func inject(gws []*demo.Gateway) map[string]time.Time {
	injected := map[string]time.Time{}
	for _, g := range gws {
		injected[g.Addr()] = time.Now()
		g.Misdirect(1)
		time.Sleep(1500 * time.Millisecond)
	}
	return injected
}

// firing lists the inbox's firing posts for alertname as (pod, received).
func firing(inbox *inbox.Server, alertname string) map[string]time.Time {
	out := map[string]time.Time{}
	for _, p := range inbox.Posts() {
		for _, a := range p.Attachments {
			if !strings.HasPrefix(a.Title, "[FIRING") || !strings.Contains(a.Title, "] "+alertname+" ") {
				continue
			}
			for _, f := range a.Fields {
				if f.Title != "Pods" {
					continue
				}
				for _, inst := range strings.Split(f.Value, ", ") {
					if _, seen := out[inst]; !seen {
						out[inst] = p.Received
					}
				}
			}
		}
	}
	return out
}

// collect waits until every injected pod's alertname message arrived (or
// the deadline) and returns the latencies.
func collect(inbox *inbox.Server, injected map[string]time.Time, alertname string, deadline time.Time) ([]time.Duration, int) {
	got := map[string]time.Duration{}
	for {
		for inst, at := range firing(inbox, alertname) {
			if t0, ok := injected[inst]; ok && at.After(t0) {
				got[inst] = at.Sub(t0)
			}
		}
		if len(got) == len(injected) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var out []time.Duration
	for _, d := range got {
		out = append(out, d)
	}
	return out, len(got)
}

// alert421 is the generated rule's alert; the runbook's rules are loaded
// as runbookAlert (its literal sum) and runbookPerPod (the same sum by
// instance, so each pod's later 421 is its own message to time).
const (
	alert421      = "GatewayMisdirectedRequest421"
	runbookAlert  = "RunbookRule421"
	runbookPerPod = "RunbookRule421PerPod"
)

func gatewatchLatency(kind string, iv, groupWait time.Duration) (latencyResult, error) {
	fmt.Fprintf(os.Stderr, "bench: gatewatch latency, %s 421s at %s scrape\n", kind, iv)
	res := latencyResult{Name: "gatewatch (embedded)", Rule: "gatewatch's", Kind: kind, Interval: iv, Eval: engine.EvalInterval, GroupWait: groupWait, Injected: *events}
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
	if kind == "later" {
		seedLater(gws)
	}
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
	time.Sleep(3*iv + groupWait) // scraped a few times before the 421s
	res.FalseAlarms = len(firing(inbox, alert421))
	injected := inject(gws)
	res.Latencies, res.Detected = collect(inbox, injected, alert421, time.Now().Add(3*(iv+groupWait)+time.Minute))
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
	return cmd, p.startCmd(cmd)
}

// startCmd starts a prepared command (its environment set), logging to a
// temporary file.
func (p *procs) startCmd(cmd *exec.Cmd) error {
	logf, err := os.CreateTemp("", "gatewatch-bench-"+filepath.Base(cmd.Path)+"-*.log")
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = io.Discard, logf
	p.logs = append(p.logs, logf.Name())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	p.cmds = append(p.cmds, cmd)
	return nil
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
	// The runbook's Alertmanager step: its alerts go to the same receiver
	// with the same timings.
	route := fmt.Sprintf("  - group_by: [alertname, instance]\n    group_wait: %s\n    group_interval: 5m\n    matchers:\n    - alertname=~\"%s|%s\"\n    receiver: mattermost\n  - matchers:\n    - alertname=\"Watchdog\"", s.Routing.GroupWait, runbookAlert, runbookPerPod)
	if !strings.Contains(string(am), "  - matchers:\n    - alertname=\"Watchdog\"") {
		return "", fmt.Errorf("alertmanager.yml: no Watchdog route to put the runbook's route before")
	}
	am = []byte(strings.Replace(string(am), "  - matchers:\n    - alertname=\"Watchdog\"", route, 1))
	if err := os.WriteFile(filepath.Join(dir, "alertmanager.yml"), am, 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "webhook-url"), []byte(s.Mattermost.WebhookURL.Reveal()), 0o600); err != nil {
		return "", err
	}
	expr := rules.RunbookExpr(s.Gateways[0], spec.DefaultWindow)
	perPod := strings.Replace(expr, "sum(", "sum by (instance) (", 1)
	runbook := fmt.Sprintf("groups:\n- name: runbook\n  interval: %s\n  rules:\n  - alert: %s\n    expr: %s\n  - alert: %s\n    expr: %s\n",
		spec.Duration(evalInterval), runbookAlert, expr, runbookPerPod, perPod)
	if err := os.WriteFile(filepath.Join(dir, "runbook.yml"), []byte(runbook), 0o644); err != nil {
		return "", err
	}
	scrape, err := render.ScrapeConfigYAML(s, "")
	if err != nil {
		return "", err
	}
	// The same keep filter the engine applies, so both store the same series.
	scrape = []byte(strings.ReplaceAll(string(scrape), "\n- job_name: ", "\n- metric_relabel_configs:\n  - source_labels: [__name__]\n    regex: istio_requests_total|envoy_server_uptime\n    action: keep\n  job_name: "))
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

// stackLatency runs the real Prometheus + Alertmanager at
// kube-prometheus-stack's timings on kind ("first-ever" or "later") 421s
// and times gatewatch's rule and the runbook's (per pod) in the same run.
func stackLatency(kind string) (gw, runbook latencyResult, err error) {
	fmt.Fprintf(os.Stderr, "bench: prometheus + alertmanager latency, %s 421s (kube-prometheus-stack timings)\n", kind)
	iv, gwait := 30*time.Second, 30*time.Second
	gw = latencyResult{Name: "Prometheus + Alertmanager", Rule: "gatewatch's (render --target prometheus)", Kind: kind, Interval: iv, Eval: iv, GroupWait: gwait, Injected: *events}
	runbook = gw
	runbook.Rule = "the runbook's, per pod (`sum by (instance)`)"
	inbox, err := inbox.Start("127.0.0.1:0")
	if err != nil {
		return
	}
	defer inbox.Close()
	hook := inbox.AddHook("bench-stack", "alerts", false)
	gws, stop, err := pods(*events)
	if err != nil {
		return
	}
	defer stop()
	if kind == "later" {
		seedLater(gws)
	}
	s, err := benchSpec(gws, iv, gwait, hook)
	if err != nil {
		return
	}
	dir, err := os.MkdirTemp("", "gatewatch-bench-")
	if err != nil {
		return
	}
	defer os.RemoveAll(dir)
	var p procs
	defer p.stop()
	promURL, err := promStack(s, dir, iv, &p)
	if err != nil {
		return
	}
	time.Sleep(3*iv + gwait)
	gw.FalseAlarms = len(firing(inbox, alert421))
	runbook.FalseAlarms = len(firing(inbox, runbookPerPod))
	injected := inject(gws)
	// Both rules' messages are waited for until the same deadline.
	deadline := time.Now().Add(4*(2*iv+gwait) + time.Minute)
	gw.Latencies, gw.Detected = collect(inbox, injected, alert421, deadline)
	runbook.Latencies, runbook.Detected = collect(inbox, injected, runbookPerPod, deadline)
	// The runbook's literal rule (one unlabelled sum): did it fire at all?
	if v, qerr := instantValue(promURL, `count(max_over_time(ALERTS{alertname="`+runbookAlert+`",alertstate="firing"}[30m]))`); qerr == nil && v > 0 {
		runbook.RunbookDetected = 1
	}
	return
}

func urlEscape(s string) string {
	r := strings.NewReplacer(" ", "%20", "\"", "%22", "{", "%7B", "}", "%7D", "[", "%5B", "]", "%5D", "=", "%3D", ",", "%2C", "(", "%28", ")", "%29")
	return r.Replace(s)
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

// steadyTargets and steadyClusters: the fleet sizes measured, each pod's
// page padded with the upstream-cluster stats of a mid-sized mesh.
var (
	steadyTargets  = []int{1, 20, 100}
	steadyClusters = 1500
	steadySettle   = 60 * time.Second
)

type steadyCost struct {
	RSS uint64
	CPU time.Duration // per minute, user+system
}

// steadyRun measures the processes of one system after it settled:
// RSS at the end and CPU over the window.
func steadyRun(pids []int) (steadyCost, error) {
	window := 60 * time.Second
	if *quick {
		window = 15 * time.Second
	}
	var c steadyCost
	var cpu0 time.Duration
	for _, pid := range pids {
		t, err := cpuOf(pid)
		if err != nil {
			return c, err
		}
		cpu0 += t
	}
	time.Sleep(window)
	for _, pid := range pids {
		t, err := cpuOf(pid)
		if err != nil {
			return c, err
		}
		c.CPU += t
		r, err := rss(pid)
		if err != nil {
			return c, err
		}
		c.RSS += r
	}
	// per minute, in floating point: a Duration times a minute overflows
	c.CPU = time.Duration(float64(c.CPU-cpu0) * float64(time.Minute) / float64(window))
	return c, nil
}

// steadyTargetsCost runs gatewatch, then Prometheus + Alertmanager, on the
// same n padded gateway pods at the shipped 15 s scrape.
func steadyTargetsCost(n int) (gatewatch, stack steadyCost, pageBytes int, err error) {
	fmt.Fprintf(os.Stderr, "bench: steady cost with %d targets\n", n)
	settle := steadySettle
	inbox, err := inbox.Start("127.0.0.1:0")
	if err != nil {
		return
	}
	defer inbox.Close()
	hook := inbox.AddHook("steady", "alerts", false)
	gws, stop, err := pods(n)
	if err != nil {
		return
	}
	defer stop()
	for _, g := range gws {
		g.PadStats(steadyClusters)
	}
	if pageBytes, err = pageSize(gws[0]); err != nil {
		return
	}
	s, err := benchSpec(gws, 15*time.Second, time.Duration(spec.DefaultGroupWait), hook)
	if err != nil {
		return
	}
	dir, err := os.MkdirTemp("", "gatewatch-steady-")
	if err != nil {
		return
	}
	defer os.RemoveAll(dir)
	specFile := filepath.Join(dir, "gatewatch.yaml")
	if err = os.WriteFile(specFile, []byte(specYAML(gws, 15*time.Second, time.Duration(spec.DefaultGroupWait), hook)), 0o644); err != nil {
		return
	}
	listen, err := freePort()
	if err != nil {
		return
	}
	var p procs
	g, err := p.start(*gwBin, "run", "-c", specFile, "--listen", listen, "--log.level=error", "--data-dir", filepath.Join(dir, "gw-data"))
	if err != nil {
		p.stop()
		return
	}
	if err = waitHTTP("http://"+listen+"/-/ready", time.Minute); err != nil {
		p.stop()
		err = fmt.Errorf("%w%s", err, p.tail())
		return
	}
	time.Sleep(settle)
	gatewatch, err = steadyRun([]int{g.Process.Pid})
	p.stop()
	if err != nil {
		return
	}

	var ps procs
	defer ps.stop()
	if _, err = promStack(s, dir, 15*time.Second, &ps); err != nil {
		return
	}
	time.Sleep(settle)
	var pids []int
	for _, c := range ps.cmds {
		pids = append(pids, c.Process.Pid)
	}
	stack, err = steadyRun(pids)
	return
}

// pageSize is the size of one pod's whole stats page.
func pageSize(g *demo.Gateway) (int, error) {
	resp, err := http.Get("http://" + g.Addr() + "/stats/prometheus")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return len(b), err
}

func steadySection(report *strings.Builder) error {
	type row struct {
		n    int
		g, s steadyCost
	}
	var rows []row
	var page int
	for _, n := range steadyTargets {
		g, st, pb, err := steadyTargetsCost(n)
		if err != nil {
			return fmt.Errorf("%d targets: %w", n, err)
		}
		page = pb
		rows = append(rows, row{n, g, st})
	}
	report.WriteString("## Steady cost: RSS and CPU by number of gateway pods\n\n")
	fmt.Fprintf(report, "Each pod serves a %.1f MB stats page (Istio's request metrics plus %d upstream clusters' `envoy_cluster_*` stats) with steady traffic, scraped every 15 s (the shipped default). `gatewatch run` against the real Prometheus + Alertmanager running `render --target prometheus` output plus the same keep filter gatewatch applies (`metric_relabel_configs: keep istio_requests_total|envoy_server_uptime`), so both store the same series. Each measured after %s of running: RSS summed over the processes, CPU (user+system) over the next minute.\n\n", float64(page)/1e6, steadyClusters, steadySettle)
	report.WriteString("| pods | gatewatch RSS | Prometheus + Alertmanager RSS | RSS ratio | gatewatch CPU per minute | Prometheus + Alertmanager CPU per minute | CPU ratio |\n|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(report, "| %d | %.0f MiB | %.0f MiB | %.2f | %s | %s | %.2f |\n", r.n, mib(r.g.RSS), mib(r.s.RSS), float64(r.g.RSS)/float64(r.s.RSS),
			r.g.CPU.Round(10*time.Millisecond), r.s.CPU.Round(10*time.Millisecond), float64(r.g.CPU)/float64(max(r.s.CPU, 1)))
	}
	report.WriteString("\n")
	return nil
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
	fmt.Fprintf(report, "## A replica's cost, with and without clustering\n\nOne gateway target scraped every second; RSS after, and CPU (user+system) over, %s of steady running; API latency is the median of 20 requests to the replica, one at a time.\n\n", costWindow)
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
	report.WriteString("\n")
	return nil
}

// latencySection measures and writes the detection-latency section:
// first-ever 421s through gatewatch at 1, 5 and 15 s scrape and at the stock
// stack's timings, and through the real Prometheus + Alertmanager at
// kube-prometheus-stack's timings; then later 421s (on pods that already
// served one) through gatewatch at its shipped defaults and through the
// stack, where the runbook's rule can see them. Each comparison has the same
// group_wait on both sides.
func latencySection(w *strings.Builder) error {
	var lat []latencyResult
	dgw := time.Duration(spec.DefaultGroupWait)
	dsc := time.Duration(spec.DefaultScrapeInterval)
	for _, c := range []struct {
		kind   string
		iv, gw time.Duration
		what   string
	}{
		{"first-ever", time.Second, dgw, "1 s scrape"},
		{"first-ever", 5 * time.Second, dgw, "5 s scrape"},
		{"first-ever", dsc, dgw, "shipped defaults"},
		{"first-ever", 30 * time.Second, 30 * time.Second, "the stock stack's timings"},
	} {
		r, err := gatewatchLatency(c.kind, c.iv, c.gw)
		if err != nil {
			return fmt.Errorf("latency at %s: %w", c.iv, err)
		}
		r.Name += ", " + c.what
		lat = append(lat, r)
	}
	firstStack, firstRunbook, err := stackLatency("first-ever")
	if err != nil {
		return fmt.Errorf("prometheus + alertmanager: %w", err)
	}
	lat = append(lat, firstStack, firstRunbook)
	laterGW, err := gatewatchLatency("later", dsc, dgw)
	if err != nil {
		return err
	}
	laterGW.Name += ", shipped defaults"
	laterStack, laterRunbook, err := stackLatency("later")
	if err != nil {
		return fmt.Errorf("prometheus + alertmanager: %w", err)
	}
	lat = append(lat, laterGW, laterStack, laterRunbook)

	fmt.Fprint(w, "## Detection latency: a 421 served → the message accepted by the Mattermost inbox\n\n")
	fmt.Fprintf(w, "%d pods per row, one 421 on each, 1.5 s apart, grouped per pod so each is its own message; the inbox is the strict Mattermost-compatible server. *First-ever*: the pod's first 421 (a new `response_code=\"421\"` series at 1). *Later*: the pod has been up an hour and served a 421 before anything watched it; the injected one is a counter increase. The stock stack is the real Prometheus + Alertmanager with `render --target prometheus` output, kube-prometheus-stack's 30 s scrape and evaluation and Alertmanager's 30 s group_wait, running gatewatch's rule and the runbook's side by side (the runbook's literal `sum(...)` and the same `sum by (instance)`, so each pod's message can be timed; both routed to the same receiver). Median and maximum of the %d (no percentile is claimed from so few). *False alarms*: firing messages before any 421 was injected.\n\n", *events, *events)
	fmt.Fprint(w, "| stack | rule | 421 | scrape | evaluation | group_wait | detected | false alarms | median | max | design bound (scrape + evaluation + group_wait + 2 s) |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range lat {
		bound := r.Interval + r.Eval + r.GroupWait + 2*time.Second
		med, mx := "—", "—"
		if len(r.Latencies) > 0 {
			med, mx = r.pct(0.5).Round(100*time.Millisecond).String(), r.pct(1).Round(100*time.Millisecond).String()
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %d / %d | %d | %s | %s | %s |\n", r.Name, r.Rule, r.Kind, r.Interval, r.Eval, r.GroupWait, r.Detected, r.Injected,
			r.FalseAlarms, med, mx, bound)
	}
	ratio := func(slow, fast latencyResult) string {
		if slow.pct(0.5) == 0 || fast.pct(0.5) == 0 {
			return "not measured"
		}
		return fmt.Sprintf("median %.1f×, max %.1f×", float64(slow.pct(0.5))/float64(fast.pct(0.5)), float64(slow.pct(1))/float64(fast.pct(1)))
	}
	fmt.Fprintf(w, "\nWhat a user gets out of the box, on a later 421 (the only kind the runbook's rule sees): the stock stack with the runbook's rule to gatewatch at its shipped defaults (%s scrape, %s group_wait), %s.\n", dsc, dgw, ratio(laterRunbook, laterGW))
	fmt.Fprintf(w, "\nOn a first-ever 421: the runbook's rule fired for %d of %d (per pod) — its literal unlabelled `sum` fired %s — so the stock stack as the runbook builds it never reports one; gatewatch reported %d of %d at its shipped defaults.\n", firstRunbook.Detected, firstRunbook.Injected, map[bool]string{true: "once", false: "never"}[firstRunbook.RunbookDetected > 0], lat[2].Detected, lat[2].Injected)
	fmt.Fprintf(w, "\nSame timings on both sides (30 s scrape, 30 s group_wait, gatewatch's rule, first-ever 421s): Prometheus + Alertmanager to gatewatch, %s — the difference is Prometheus's 30 s evaluation against gatewatch's 1 s.\n\n", ratio(firstStack, lat[3]))
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
	micro := strings.Index(s, "\n### Go micro-benchmarks")
	if micro < 0 {
		micro = len(s)
	} else {
		micro++
	}
	i := strings.Index(s, header)
	if i < 0 {
		// A section the report does not have yet: before the micro-benchmarks.
		return os.WriteFile(file, []byte(s[:micro]+sec+s[micro:]), 0o644)
	}
	end := micro
	if j := strings.Index(s[i+len(header):], "\n## "); j >= 0 && i+len(header)+j+1 < end {
		end = i + len(header) + j + 1
	}
	return os.WriteFile(file, []byte(s[:i]+sec+s[end:]), 0o644)
}

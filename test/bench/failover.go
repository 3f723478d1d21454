package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gatewatch/gatewatch/internal/demo"
	"github.com/gatewatch/gatewatch/internal/mattermost/inbox"
)

// failoverPeerTimeout is --cluster.peer-timeout in the failover runs.
const failoverPeerTimeout = 5 * time.Second

// failover measures, over n runs, the time from the SIGKILL of the replica
// that would send (position 0, which cannot reach Mattermost) to the post
// accepted from the next replica, with three `gatewatch run` processes on
// Alertmanager's gossip. It also reports whether any run posted twice.
func failover(n int) (lat []time.Duration, duplicates int, err error) {
	for i := range n {
		fmt.Fprintf(os.Stderr, "bench: failover run %d/%d\n", i+1, n)
		d, posts, err := failoverOnce(nil)
		if err != nil {
			return lat, duplicates, err
		}
		lat = append(lat, d)
		if posts > 1 {
			duplicates++
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat, duplicates, nil
}

// replicaCost is what one replica costs, measured before the 421.
type replicaCost struct {
	RSS uint64
	CPU time.Duration // user+system over the measured window
	// API is the median latency of each status-page and API request.
	API map[string]time.Duration
}

func failoverOnce(cost *replicaCost) (time.Duration, int, error) {
	mm, err := inbox.Start("127.0.0.1:0")
	if err != nil {
		return 0, 0, err
	}
	defer mm.Close()
	gws, stop, err := pods(1)
	if err != nil {
		return 0, 0, err
	}
	defer stop()
	dir, err := os.MkdirTemp("", "gatewatch-failover-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	good, err := writeFailoverSpec(dir, "good.yaml", gws[0], mm.AddHook("failover", "alerts", false))
	if err != nil {
		return 0, 0, err
	}
	broken, err := writeFailoverSpec(dir, "broken.yaml", gws[0], "http://127.0.0.1:1/hooks/unreachable")
	if err != nil {
		return 0, 0, err
	}
	var p procs
	defer p.stop()
	web := map[string]string{}
	var gossipA string
	for _, name := range []string{"a", "b", "c"} {
		if web[name], err = freePort(); err != nil {
			return 0, 0, err
		}
		gossip, err := freePort()
		if err != nil {
			return 0, 0, err
		}
		specFile := good
		args := []string{"run", "--listen", web[name], "--data-dir", filepath.Join(dir, name),
			"--cluster.listen-address=" + gossip, "--cluster.peer-name=" + name, "--cluster.peer-timeout=" + failoverPeerTimeout.String(),
			"--cluster.gossip-interval=50ms", "--cluster.pushpull-interval=1s", "--cluster.settle-timeout=0s"}
		if name == "a" {
			specFile, gossipA = broken, gossip
		} else {
			args = append(args, "--cluster.peer="+gossipA)
		}
		if _, err := p.start(*gwBin, append(args, "-c", specFile)...); err != nil {
			return 0, 0, err
		}
		// The first replica listens before the others join it.
		if err := waitHTTP("http://"+web[name]+"/-/ready", time.Minute); err != nil {
			return 0, 0, fmt.Errorf("replica %s: %w%s", name, err, p.tail())
		}
	}
	for _, name := range []string{"a", "b", "c"} {
		if err := waitFor(30*time.Second, func() bool { return members("http://"+web[name]) == 3 }); err != nil {
			return 0, 0, fmt.Errorf("replica %s does not see three members: %w%s", name, err, p.tail())
		}
	}
	if cost != nil {
		if err := measureReplica(cost, p.cmds[1].Process.Pid, "http://"+web["b"]); err != nil {
			return 0, 0, err
		}
	}
	time.Sleep(3 * time.Second) // scraped a few times without a 421
	gws[0].Misdirect(1)
	if err := waitFor(30*time.Second, func() bool {
		return metricSum("http://"+web["a"]+"/metrics", "gatewatch_mattermost_requests_total{") >= 1
	}); err != nil {
		return 0, 0, fmt.Errorf("replica a never tried to send: %w%s", err, p.tail())
	}
	_ = syscall.Kill(-p.cmds[0].Process.Pid, syscall.SIGKILL)
	killed := time.Now()
	if err := waitFor(time.Minute, func() bool { return len(mm.Posts()) >= 1 }); err != nil {
		return 0, 0, fmt.Errorf("no replica sent after the SIGKILL: %w%s", err, p.tail())
	}
	took := mm.Posts()[0].Received.Sub(killed)
	time.Sleep(2 * failoverPeerTimeout) // any duplicate would have come by now
	return took, len(mm.Posts()), nil
}

func writeFailoverSpec(dir, name string, gw *demo.Gateway, hook string) (string, error) {
	p := filepath.Join(dir, name)
	y := fmt.Sprintf("gateways:\n  - name: public-ingress\n    namespace: istio-ingress\n    workload: istio-ingressgateway\n    static_targets: [%q]\n    stats: {interval: 1s, timeout: 900ms}\nalerts:\n  - window: 10m\nrouting: {group_wait: 0s, group_interval: 1s, repeat_interval: 4h}\nmattermost:\n  webhook_url: %s\n", gw.Addr(), hook)
	return p, os.WriteFile(p, []byte(y), 0o600)
}

// members is the number of cluster peers a replica's API v2 reports.
func members(base string) int {
	resp, err := http.Get(base + "/api/v2/status")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var st struct {
		Cluster struct{ Peers []any } `json:"cluster"`
	}
	if json.NewDecoder(resp.Body).Decode(&st) != nil {
		return 0
	}
	return len(st.Cluster.Peers)
}

func waitFor(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("not within %s", timeout)
}

// metricSum adds the values of the series at url whose line starts with
// prefix.
func metricSum(url, prefix string) float64 {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	total := 0.0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, prefix) {
			if v, err := strconv.ParseFloat(line[strings.LastIndex(line, " ")+1:], 64); err == nil {
				total += v
			}
		}
	}
	return total
}

// costWindow is how long a replica's CPU is measured.
const costWindow = 30 * time.Second

// apiRequests are the requests the status page, amtool and Grafana make.
var apiRequests = []string{"/api/gatewatch/status", "/api/v1/query?query=up", "/api/v1/targets", "/api/v2/alerts", "/api/v2/silences", "/api/v2/status"}

// measureReplica reads a running replica's RSS, its CPU over costWindow,
// and the median latency of 20 of each API request.
func measureReplica(c *replicaCost, pid int, base string) error {
	cpu0, err := cpuOf(pid)
	if err != nil {
		return err
	}
	time.Sleep(costWindow)
	cpu1, err := cpuOf(pid)
	if err != nil {
		return err
	}
	c.CPU = cpu1 - cpu0
	if c.RSS, err = rss(pid); err != nil {
		return err
	}
	c.API = map[string]time.Duration{}
	for _, path := range apiRequests {
		var ds []time.Duration
		for range 20 {
			start := time.Now()
			resp, err := http.Get(base + path)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("GET %s: HTTP %d", path, resp.StatusCode)
			}
			ds = append(ds, time.Since(start))
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		c.API[path] = ds[len(ds)/2]
	}
	return nil
}

// cpuOf is a process's user+system time (/proc/PID/stat, clock ticks of
// 1/100 s).
func cpuOf(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// singleCost measures one unclustered `gatewatch run` on the same kind of
// target, for the comparison with a clustered replica.
func singleCost() (replicaCost, error) {
	var c replicaCost
	mm, err := inbox.Start("127.0.0.1:0")
	if err != nil {
		return c, err
	}
	defer mm.Close()
	gws, stop, err := pods(1)
	if err != nil {
		return c, err
	}
	defer stop()
	dir, err := os.MkdirTemp("", "gatewatch-single-")
	if err != nil {
		return c, err
	}
	defer os.RemoveAll(dir)
	specFile, err := writeFailoverSpec(dir, "spec.yaml", gws[0], mm.AddHook("single", "alerts", false))
	if err != nil {
		return c, err
	}
	addr, err := freePort()
	if err != nil {
		return c, err
	}
	var p procs
	defer p.stop()
	cmd, err := p.start(*gwBin, "run", "--listen", addr, "--data-dir", filepath.Join(dir, "data"), "-c", specFile)
	if err != nil {
		return c, err
	}
	if err := waitHTTP("http://"+addr+"/-/ready", time.Minute); err != nil {
		return c, fmt.Errorf("%w%s", err, p.tail())
	}
	return c, measureReplica(&c, cmd.Process.Pid, "http://"+addr)
}

// clusterCost measures replica b of a three-replica cluster.
func clusterCost() (replicaCost, error) {
	var c replicaCost
	_, _, err := failoverOnce(&c)
	return c, err
}

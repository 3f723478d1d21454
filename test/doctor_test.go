package test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/gatewatch/gatewatch/internal/demo"
	"github.com/gatewatch/gatewatch/internal/doctor"
	"github.com/gatewatch/gatewatch/internal/mattermost/inbox"
	"github.com/gatewatch/gatewatch/internal/render"
	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// startProc runs a real server for the test and stops it at the end.
func startProc(t *testing.T, bin string, args ...string) {
	t.Helper()
	logf, err := os.Create(filepath.Join(t.TempDir(), filepath.Base(bin)+".log"))
	require.NoError(t, err)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			if len(b) > 3000 {
				b = b[len(b)-3000:]
			}
			t.Logf("%s log:\n%s", filepath.Base(bin), b)
		}
	})
}

func post(t *testing.T, url string) {
	t.Helper()
	resp, err := http.Post(url, "", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode, url)
}

// TestDoctorLive runs doctor against a real kube-apiserver (gateway,
// Prometheus, Alertmanager and DNS pods, default-deny plus the rendered
// NetworkPolicies) and real Prometheus and Alertmanager configured from
// `render --target prometheus`, scraping a simulated gateway: the correct
// setup passes; removing the DNS egress policy, gatewatch's scrape job or
// the route each fails exactly the expected check.
func TestDoctorLive(t *testing.T) {
	promBin, amBin := tool(t, "prometheus"), tool(t, "alertmanager")
	cfg := kubeAPI(t)
	client, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	ctx := context.Background()
	for _, ns := range []string{"istio-ingress", "monitoring"} {
		ensureNamespace(t, client, ns)
	}

	inbox, err := inbox.Start("127.0.0.1:0")
	require.NoError(t, err)
	defer inbox.Close()
	dir := t.TempDir()
	urlFile := filepath.Join(dir, "webhook-url")
	require.NoError(t, os.WriteFile(urlFile, []byte(inbox.AddHook("doctorhook", "alerts", false)), 0o600))

	gw := demo.NewGateway("istio-ingress", "istio-ingressgateway", "gw", nil, nil)
	require.NoError(t, gw.Start("127.0.0.1:0"))
	defer gw.Close()
	gw.Serve(10)
	gatewayPod(t, client, "istio-ingress", "istio-ingressgateway-live", portOf(t, gw.Addr()))
	t.Cleanup(func() {
		// The API server is shared by the package's tests: leave no pods or policies behind.
		_ = client.CoreV1().Pods("istio-ingress").Delete(context.Background(), "istio-ingressgateway-live", metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
		for _, ns := range []string{"istio-ingress", "monitoring"} {
			_ = client.NetworkingV1().NetworkPolicies(ns).DeleteCollection(context.Background(), metav1.DeleteOptions{}, metav1.ListOptions{})
		}
	})
	for _, p := range []struct{ ns, name, key, value string }{
		{"monitoring", "prometheus-0", "app.kubernetes.io/name", "prometheus"},
		{"monitoring", "alertmanager-0", "app.kubernetes.io/name", "alertmanager"},
		{"kube-system", "coredns-0", "k8s-app", "kube-dns"},
	} {
		_, err := client.CoreV1().Pods(p.ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: p.name, Namespace: p.ns, Labels: map[string]string{p.key: p.value}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}, metav1.CreateOptions{})
		if err != nil && !strings.Contains(err.Error(), "already exists") {
			require.NoError(t, err)
		}
	}

	raw, err := os.ReadFile("../examples/gatewatch.yaml")
	require.NoError(t, err)
	specText := strings.Replace(string(raw), "webhook_url_file: mattermost-webhook-url", "webhook_url_file: "+urlFile, 1)
	s, err := spec.Parse([]byte(specText), "doctor.yaml", rules.SpecKinds())
	require.NoError(t, err)
	s.Gateways[0].Stats.Interval, s.Gateways[0].Stats.Timeout = spec.Duration(time.Second), spec.Duration(900*time.Millisecond)
	s.Routing.GroupWait, s.Routing.GroupInterval = spec.Duration(time.Second), spec.Duration(2*time.Second)

	// NetworkPolicies: default deny plus what render writes.
	applyPolicies(t, client, s, render.TargetPrometheus, "istio-ingress", "monitoring")
	files, err := render.Render(s, render.TargetPrometheus)
	require.NoError(t, err)

	// Alertmanager from the rendered alertmanager.yml, the URL from the file.
	amAddr, promAddr := freeAddr(t), freeAddr(t)
	var amYAML []byte
	for _, f := range files {
		switch f.Name {
		case "alertmanager.yml":
			amYAML = []byte(strings.ReplaceAll(string(f.Content), render.SecretMountPath(s), urlFile))
		case render.RulesFileName:
			require.NoError(t, os.WriteFile(filepath.Join(dir, f.Name), f.Content, 0o644))
		}
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "alertmanager.yml"), amYAML, 0o644))
	startProc(t, amBin, "--config.file="+filepath.Join(dir, "alertmanager.yml"), "--storage.path="+filepath.Join(dir, "am"),
		"--web.listen-address="+amAddr, "--cluster.listen-address=")

	// Prometheus: the rendered scrape job, discovering the pod through the API.
	scrape, err := render.ScrapeConfigYAML(s, writeKubeconfig(t, cfg, "envtest"))
	require.NoError(t, err)
	writeProm := func(scrapeCfg string) {
		prom := fmt.Sprintf("global: {scrape_interval: 1s, evaluation_interval: 1s}\nrule_files: [%s]\nalerting:\n  alertmanagers:\n  - static_configs:\n    - targets: [%q]\n%s",
			render.RulesFileName, amAddr, scrapeCfg)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(prom), 0o644))
	}
	writeProm(string(scrape))
	startProc(t, promBin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "prom"),
		"--web.listen-address="+promAddr, "--web.enable-lifecycle")
	promURL, amURL := "http://"+promAddr, "http://"+amAddr
	require.Eventually(t, func() bool {
		return httpOK(promURL+"/-/ready") && httpOK(amURL+"/-/ready")
	}, 60*time.Second, 50*time.Millisecond, "Prometheus and Alertmanager ready")

	sendTest := true
	statsURL := ""
	run := func() map[string]doctor.Result {
		env := &doctor.Env{Spec: s, Kube: client, PrometheusURL: promURL, AlertmanagerURL: amURL, SendTest: sendTest, StatsURL: statsURL, NotificationsInterval: 3 * time.Second}
		out := map[string]doctor.Result{}
		for _, r := range doctor.Run(ctx, env, doctor.Checks(), nil) {
			out[r.ID] = r
		}
		return out
	}
	var rs map[string]doctor.Result
	deadline := time.Now().Add(60 * time.Second)
	for {
		rs = run()
		if rs["prometheus/target"].Status == doctor.Pass {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the gateway target never came up: %+v", rs["prometheus/target"])
		}
		time.Sleep(time.Second)
	}
	for id, r := range rs {
		require.Equal(t, doctor.Pass, r.Status, "%s: %s %v %s", id, r.Summary, r.Evidence, r.Hint)
	}
	require.Contains(t, strings.Join(rs["gateway/stats"].Evidence, " ")+rs["gateway/stats"].Summary, "istio_requests_total")
	require.NotEmpty(t, inbox.Posts(), "mattermost/webhook sent a test message")

	onlyFailing := func(rs map[string]doctor.Result, id, hint string) {
		t.Helper()
		for other, r := range rs {
			if other == id {
				require.Equal(t, doctor.Fail, r.Status, "%s: %s %v", id, r.Summary, r.Evidence)
				require.Contains(t, r.Hint+strings.Join(r.Evidence, " "), hint)
			} else {
				require.NotEqual(t, doctor.Fail, r.Status, "%s also failed: %s %v", other, r.Summary, r.Evidence)
			}
		}
	}

	// 1. The DNS egress policy goes: network/egress fails.
	require.NoError(t, client.NetworkingV1().NetworkPolicies("monitoring").Delete(ctx, "gatewatch-alertmanager-egress-dns", metav1.DeleteOptions{}))
	onlyFailing(run(), "network/egress", "53 UDP and TCP")
	var dnsPol networkingv1.NetworkPolicy
	for _, f := range files {
		if strings.Contains(f.Name, "egress-dns") {
			require.NoError(t, yaml.UnmarshalStrict(f.Content, &dnsPol))
		}
	}
	_, err = client.NetworkingV1().NetworkPolicies("monitoring").Create(ctx, &dnsPol, metav1.CreateOptions{})
	require.NoError(t, err)

	// 2a. Envoy's page at a wrong path: gateway/stats fails.
	statsURL = "http://" + gw.Addr() + "/stats"
	onlyFailing(run(), "gateway/stats", "/stats/prometheus")
	statsURL = ""

	// 2b. The runbook's rule instead of gatewatch's: prometheus/rule warns, naming the blind spot.
	rulesPath := filepath.Join(dir, render.RulesFileName)
	goodRules, err := os.ReadFile(rulesPath)
	require.NoError(t, err)
	// gatewatch's file with the runbook's expression for the 421 alert (its
	// other alerts stay as rendered).
	runbookRules := strings.Replace(string(goodRules), "  - alert: GatewayMisdirectedRequest421\n", "  - alert: GatewayMisdirectedRequest421Gatewatch\n", 1) +
		fmt.Sprintf("- name: runbook\n  rules:\n  - alert: GatewayMisdirectedRequest421\n    expr: %s\n", rules.RunbookExpr(s.Gateways[0], spec.DefaultWindow))
	require.NoError(t, os.WriteFile(rulesPath, []byte(runbookRules), 0o644))
	post(t, promURL+"/-/reload")
	require.Eventually(t, func() bool { return run()["prometheus/rule"].Status == doctor.Warn }, 20*time.Second, 50*time.Millisecond, "the runbook rule loaded")
	r := run()["prometheus/rule"]
	require.Contains(t, r.Hint, "never fires on the first 421")
	// 2b'. With a route that matches on namespace (as the operator's
	// AlertmanagerConfig adds), the runbook's sum() reaches only null:
	// alertmanager/route fails on the loaded rule's labels, naming namespace.
	const mmMatcher = "    - alertname=~\"GatewayMisdirectedRequest421|GatewayStatsDown\"\n"
	nsRoute := strings.Replace(string(amYAML), mmMatcher, mmMatcher+"    - namespace=\""+s.Gateways[0].Namespace+"\"\n", 1)
	require.NotEqual(t, string(amYAML), nsRoute)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "alertmanager.yml"), []byte(nsRoute), 0o644))
	post(t, amURL+"/-/reload")
	r = run()["alertmanager/route"]
	require.Equal(t, doctor.Fail, r.Status, "%s %v", r.Summary, r.Evidence)
	require.Contains(t, r.Summary, "lacks namespace")
	require.Contains(t, r.Summary, "group runbook")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "alertmanager.yml"), amYAML, 0o644))
	post(t, amURL+"/-/reload")
	require.NoError(t, os.WriteFile(rulesPath, goodRules, 0o644))
	post(t, promURL+"/-/reload")
	require.Eventually(t, func() bool { return run()["prometheus/rule"].Status == doctor.Pass }, 20*time.Second, 50*time.Millisecond, "the rule back")

	// 2. The route goes: alertmanager/route fails.
	noRoute := strings.Replace(string(amYAML), `alertname=~"GatewayMisdirectedRequest421|GatewayStatsDown"`, `alertname=~"SomethingElse|GatewayStatsDown"`, 1)
	require.NotEqual(t, string(amYAML), noRoute)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "alertmanager.yml"), []byte(noRoute), 0o644))
	post(t, amURL+"/-/reload")
	onlyFailing(run(), "alertmanager/route", "add a route matching the alertname")

	// 2c. An Alertmanager without the Mattermost receiver (its stock config):
	// alertmanager/config fails, and the route check with it.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "alertmanager.yml"), []byte("route: {receiver: \"null\"}\nreceivers: [{name: \"null\"}]\n"), 0o644))
	post(t, amURL+"/-/reload")
	rs = run()
	require.Equal(t, doctor.Fail, rs["alertmanager/config"].Status, "%+v", rs["alertmanager/config"])
	require.Contains(t, rs["alertmanager/config"].Summary, "no Mattermost receiver")
	require.Contains(t, rs["alertmanager/config"].Hint, "add the receiver from `gatewatch render`")
	require.Equal(t, doctor.Fail, rs["alertmanager/route"].Status)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "alertmanager.yml"), amYAML, 0o644))
	post(t, amURL+"/-/reload")

	// 3. gatewatch's scrape job goes (the PodMonitor's job): prometheus/target fails.
	writeProm("scrape_configs: []\n")
	post(t, promURL+"/-/reload")
	require.Eventually(t, func() bool {
		rs = run()
		return rs["prometheus/target"].Status == doctor.Fail
	}, 30*time.Second, 50*time.Millisecond, "the target to go")
	onlyFailing(rs, "prometheus/target", "render --target operator")
	writeProm(string(scrape))
	post(t, promURL+"/-/reload")
	require.Eventually(t, func() bool { return run()["prometheus/target"].Status == doctor.Pass }, 30*time.Second, 50*time.Millisecond, "the target back")

	// 4. The webhook Secret goes (Alertmanager's URL file): a 421 fires, its
	// notifications fail, alertmanager/notifications fails.
	require.NoError(t, os.Remove(urlFile))
	sendTest = false // the test message would fail for the same reason
	gw.Misdirect(1)
	deadline = time.Now().Add(90 * time.Second)
	for {
		rs = run()
		if (rs["alertmanager/notifications"].Status == doctor.Fail && rs["prometheus/target"].Status == doctor.Pass) || time.Now().After(deadline) {
			break
		}
	}
	onlyFailing(rs, "alertmanager/notifications", "slack/")
}

// applyPolicies creates a default-deny policy (ingress and egress) in each
// of the namespaces, and the NetworkPolicies render writes for the target;
// it returns how many render wrote.
func applyPolicies(t *testing.T, client kubernetes.Interface, s *spec.Spec, target string, denyIn ...string) int {
	t.Helper()
	ctx := context.Background()
	for _, ns := range denyIn {
		_, err := client.NetworkingV1().NetworkPolicies(ns).Create(ctx, &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "default-deny", Namespace: ns},
			Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}}}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	files, err := render.Render(s, target)
	require.NoError(t, err)
	n := 0
	for _, f := range files {
		if !strings.HasPrefix(f.Name, "networkpolicy-") {
			continue
		}
		var np networkingv1.NetworkPolicy
		require.NoError(t, yaml.UnmarshalStrict(f.Content, &np))
		_, err := client.NetworkingV1().NetworkPolicies(np.Namespace).Create(ctx, &np, metav1.CreateOptions{})
		require.NoError(t, err, f.Name)
		n++
	}
	return n
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := netListen()
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

func httpOK(url string) bool {
	resp, err := http.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

func netListen() (interface {
	Addr() net.Addr
	Close() error
}, error) {
	return net.Listen("tcp", "127.0.0.1:0")
}

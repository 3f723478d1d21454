package doctor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/gatewatch/gatewatch/internal/mattermost"
	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// gatewayStats (gateway/stats): Envoy answers Prometheus text with
// istio_requests_total; says whether a 421 series exists yet.
type gatewayStats struct{}

func (gatewayStats) ID() string    { return "gateway/stats" }
func (gatewayStats) Title() string { return "Envoy serves Prometheus stats with istio_requests_total" }
func (gatewayStats) Offline() bool { return false }

func (gatewayStats) Run(ctx context.Context, env *Env) Result {
	if env.StatsURL != "" {
		return statsAt(ctx, env, env.StatsURL)
	}
	pods, _ := env.podsByGateway(ctx) // a failure is gateway/pods' to report
	var results []Result
	for _, g := range env.Spec.Gateways {
		var pod *corev1.Pod
		for i := range pods[g.Name] {
			if pods[g.Name][i].Status.Phase == corev1.PodRunning {
				pod = &pods[g.Name][i]
				break
			}
		}
		if pod == nil {
			continue
		}
		port := g.Stats.Port.Number
		for _, c := range pod.Spec.Containers {
			for _, p := range c.Ports {
				if p.Name == g.Stats.Port.Name {
					port = int(p.ContainerPort)
				}
			}
		}
		if port == 0 {
			return failed(fmt.Sprintf("pod %s has no container port named %s", pod.Name, g.Stats.Port.Name), "set gateways[].stats.port to the Envoy stats port (15090) or its name")
		}
		path, err := statsPath(env.Spec, g)
		if err != nil {
			return failed("the rules do not parse", "run gatewatch check", err.Error())
		}
		r := statsOfPod(ctx, env, pod, port, path)
		if r.Status != Pass {
			return r
		}
		results = append(results, r)
	}
	if len(results) == 0 {
		return skip("no running gateway pod (see gateway/pods); or give --stats-url")
	}
	out := results[0]
	for _, r := range results[1:] {
		out.Evidence = append(out.Evidence, r.Summary)
		out.Evidence = append(out.Evidence, r.Evidence...)
	}
	return out
}

// statsOfPod reads a gateway pod's stats page through an API port-forward,
// as `kubectl port-forward` would, so doctor works from a workstation. When
// the forward cannot be opened (no pods/portforward permission, kubelet
// unreachable) it reads the pod IP directly, which works inside the cluster.
func statsOfPod(ctx context.Context, env *Env, pod *corev1.Pod, port int, path string) Result {
	podRef := fmt.Sprintf("pod %s/%s", pod.Namespace, pod.Name)
	var pfErr error
	if env.RestConfig != nil && env.Kube != nil {
		// A hung upgrade must not hang doctor.
		fctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		addr, stop, err := forwardPort(fctx, env.RestConfig, env.Kube, pod, port)
		if err == nil {
			r := statsAt(fctx, env, "http://"+addr+path)
			streamErr := stop()
			r.Evidence = append([]string{fmt.Sprintf("%s port %d, through a port-forward (as kubectl port-forward would)", podRef, port)}, r.Evidence...)
			if r.Status == Fail && streamErr != "" {
				r.Evidence = append(r.Evidence, "port-forward: "+streamErr)
			}
			if r.Status == Fail && r.Summary == summaryStatsUnreachable {
				// The forward's error stream says whose fault it is: the
				// pod's port (connection refused inside the pod) or the path
				// to the kubelet.
				switch {
				case fctx.Err() != nil:
					r.Hint = "the port-forward timed out (15s): check the API server and kubelet, or run `kubectl port-forward` yourself and pass --stats-url"
				case strings.Contains(streamErr, "connection refused"):
					r.Hint = fmt.Sprintf("nothing answers on port %d in the pod: set gateways[].stats.port to Envoy's stats port (15090)", port)
				default:
					r.Hint = "the port-forward broke between the API server and the kubelet (see the evidence); or run `kubectl port-forward` yourself and pass --stats-url"
				}
			}
			return r
		}
		pfErr = err
	}
	if pod.Status.PodIP == "" {
		return failed(podRef+": no port-forward and no pod IP", "allow pods/portforward (create) in the gateway namespace, or give --stats-url after `kubectl port-forward`", pfErr.Error())
	}
	r := statsAt(ctx, env, "http://"+net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(port))+path)
	ev := fmt.Sprintf("%s at its IP %s", podRef, pod.Status.PodIP)
	if pfErr != nil {
		ev += " (port-forward failed: " + pfErr.Error() + ")"
	}
	r.Evidence = append([]string{ev}, r.Evidence...)
	if r.Status == Fail && pfErr != nil && r.Summary == summaryStatsUnreachable {
		manual := "run `kubectl -n " + pod.Namespace + " port-forward pod/" + pod.Name + " " + strconv.Itoa(port) + "` and pass --stats-url http://127.0.0.1:" + strconv.Itoa(port) + path
		switch {
		case apierrors.IsForbidden(pfErr) || strings.Contains(pfErr.Error(), "forbidden"):
			r.Hint = "allow pods/portforward (create) in the gateway namespace so doctor can port-forward, or " + manual
		case errors.Is(pfErr, context.DeadlineExceeded):
			r.Hint = "the port-forward timed out (15s): check the API server and the kubelet, or " + manual
		default:
			r.Hint = "the port-forward failed (see the evidence); " + manual
		}
	}
	return r
}

const summaryStatsUnreachable = "Envoy stats unreachable"

// statsAt reads one Envoy stats page.
func statsAt(ctx context.Context, env *Env, url string) Result {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return failed("bad stats URL", "", err.Error())
	}
	resp, err := env.HTTP.Do(req)
	if err != nil {
		return failed(summaryStatsUnreachable, "from outside the cluster: `kubectl -n <ns> port-forward pod/<gateway-pod> 15090` and pass --stats-url http://127.0.0.1:15090/stats/prometheus", err.Error())
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return failed("the stats page was cut off", "the page took too long or the connection broke; try again, or read it with --stats-url", mattermost.Classify(err)+": "+err.Error())
	}
	if resp.StatusCode != http.StatusOK {
		return failed(fmt.Sprintf("Envoy answered HTTP %d", resp.StatusCode), "check gateways[].stats.path (Istio: /stats/prometheus)", url)
	}
	tp := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := tp.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return failed("the stats page is not Prometheus text", "check the port and path: 15090 /stats/prometheus is Envoy's Prometheus endpoint", err.Error())
	}
	fam, ok := fams[rules.Metric]
	filtered := strings.Contains(url, "filter=")
	if !ok && filtered {
		return failed("no istio_requests_total on the page Envoy's filter returns", "gateways[].stats.envoy_filter drops a family the rules need on this Envoy: remove envoy_filter (the page is then filtered by gatewatch instead)", url)
	}
	if !ok {
		return failed("no istio_requests_total on the page", "the Istio stats (telemetry) are disabled for this proxy, or this is not an Istio gateway", url)
	}
	if filtered {
		// Every family the rules select must survive Envoy's filter.
		need, err := rules.Families(rules.Generate(env.Spec))
		if err != nil {
			return failed("the rules do not parse", "run gatewatch check", err.Error())
		}
		for _, f := range need {
			if _, ok := fams[f]; !ok {
				return failed(fmt.Sprintf("Envoy's filter drops %s, which the rules read", f), "remove gateways[].stats.envoy_filter (the page is then filtered by gatewatch instead), or report the Envoy version: its stat names differ from what the filter expects", url)
			}
		}
	}
	n421 := 0
	for _, m := range fam.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "response_code" && l.GetValue() == "421" {
				n421++
			}
		}
	}
	ev := []string{fmt.Sprintf("%d istio_requests_total series, %d bytes", len(fam.GetMetric()), len(body))}
	if filtered {
		ev = append(ev, fmt.Sprintf("Envoy's filter kept %d families; every family the rules read is there", len(fams)))
	}
	if n421 == 0 {
		return pass("istio_requests_total present; no 421 series yet (Envoy creates it at the first 421)", ev...)
	}
	return pass(fmt.Sprintf("istio_requests_total present; %d response_code=\"421\" series", n421), append(ev, strings.TrimSpace(url))...)
}

// statsPath is the stats page's path with Envoy's filter when the gateway
// asks for it (rules.StatsParams), as gatewatch and Prometheus scrape it.
func statsPath(s *spec.Spec, g spec.Gateway) (string, error) {
	params, err := rules.StatsParams(s, g)
	if err != nil || len(params) == 0 {
		return g.Stats.Path, err
	}
	return g.Stats.Path + "?" + neturl.Values(params).Encode(), nil
}

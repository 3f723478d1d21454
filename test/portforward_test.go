package test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/cri-streaming/pkg/streaming/portforward"

	"github.com/gatewatch/gatewatch/internal/demo"
	"github.com/gatewatch/gatewatch/internal/doctor"
	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// kubelet is the port-forward half of a kubelet: the real CRI streaming
// server (k8s.io/cri-streaming, the code the kubelet and container runtimes
// serve /portForward with) behind TLS, forwarding each pod port to a
// loopback address. envtest has no nodes; with a Node object pointing here
// the real kube-apiserver's pods/portforward reaches it as it would a kubelet.
type kubelet struct {
	srv *httptest.Server
	// logs are the container logs served at /containerLogs/{ns}/{pod}/{container}.
	logs     map[string]string
	logQuery atomic.Value // the last log request's query
	mu       sync.Mutex
	targets  map[int32]string // pod port → loopback address
	forwards atomic.Int64
}

func (k *kubelet) PortForward(ctx context.Context, _ string, _ string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	k.mu.Lock()
	addr, ok := k.targets[port]
	k.mu.Unlock()
	if !ok {
		addr = "127.0.0.1:1" // nothing listens: the forward fails as in a pod
	}
	k.forwards.Add(1)
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(conn, stream); done <- struct{}{} }()
	go func() { _, _ = io.Copy(stream, conn); done <- struct{}{} }()
	<-done
	return nil
}

func startKubelet(t *testing.T, targets map[int32]string) *kubelet {
	t.Helper()
	k := &kubelet{targets: targets, logs: map[string]string{}}
	k.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// /portForward/{namespace}/{pod}[/{uid}], as the kubelet routes it.
		parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		if len(parts) == 4 && parts[0] == "containerLogs" {
			k.mu.Lock()
			body, ok := k.logs[strings.Join(parts[1:], "/")]
			k.mu.Unlock()
			if !ok {
				http.Error(w, "container not found", http.StatusNotFound)
				return
			}
			k.logQuery.Store(r.URL.RawQuery)
			_, _ = io.WriteString(w, body)
			return
		}
		if len(parts) < 3 || parts[0] != "portForward" {
			http.NotFound(w, r)
			return
		}
		opts, err := portforward.NewV4Options(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		uid := ""
		if len(parts) > 3 {
			uid = parts[3]
		}
		portforward.ServePortForward(w, r, k, parts[2], uid, opts, 30*time.Second, 10*time.Second, portforward.SupportedProtocols)
	}))
	k.srv.EnableHTTP2 = false // the upgrade needs HTTP/1.1
	k.srv.StartTLS()
	t.Cleanup(k.srv.Close)
	return k
}

func (k *kubelet) target(port int32, addr string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.targets[port] = addr
}

// node registers a Node whose kubelet is k.
func (k *kubelet) node(t *testing.T, c kubernetes.Interface, name string) {
	t.Helper()
	ctx := context.Background()
	n, err := c.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	port := k.srv.Listener.Addr().(*net.TCPAddr).Port
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
	n.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(port)
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	_, err = c.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
	require.NoError(t, err)
}

// TestDoctorGatewayThroughAPI: from a workstation doctor reads Envoy's stats
// through the API server's pods/portforward, as `kubectl port-forward` does,
// with a real kube-apiserver and the kubelet's real streaming server; and
// gateway/pods fails live when the only gateway pod is not Ready.
func TestDoctorGatewayThroughAPI(t *testing.T) {
	cfg := kubeAPI(t)
	client, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	ctx := context.Background()
	const ns = "gw-portforward"
	ensureNamespace(t, client, ns)

	gw := demo.NewGateway(ns, "istio-ingressgateway", "pf", nil, nil)
	require.NoError(t, gw.Start("127.0.0.1:0"))
	defer gw.Close()
	gw.Serve(3)
	gw.Misdirect(1)
	// The pod's Envoy listens on 15090 in the pod; only the kubelet can reach
	// it (the pod IP given is an address nothing listens on here).
	k := startKubelet(t, map[int32]string{15090: gw.Addr()})
	k.node(t, client, "gatewatch-node-1")
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "istio-ingressgateway-pf", Namespace: ns, Labels: map[string]string{"app": "istio-ingressgateway", "istio": "ingressgateway"}},
		Spec: corev1.PodSpec{NodeName: "gatewatch-node-1", Containers: []corev1.Container{{
			Name: "istio-proxy", Image: "istio/proxyv2:1.28.0",
			Ports: []corev1.ContainerPort{{Name: "http-envoy-prom", ContainerPort: 15090, Protocol: corev1.ProtocolTCP}},
		}}},
	}
	_, err = client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = client.CoreV1().Pods(ns).Delete(context.Background(), pod.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
	})
	setReady := func(ready corev1.ConditionStatus) {
		p, err := client.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
		require.NoError(t, err)
		p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "127.0.0.1", PodIPs: []corev1.PodIP{{IP: "127.0.0.1"}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: ready}}}
		_, err = client.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
		require.NoError(t, err)
	}
	setReady(corev1.ConditionTrue)

	raw, err := os.ReadFile("../examples/gatewatch.yaml")
	require.NoError(t, err)
	s, err := spec.Parse(raw, "gatewatch.yaml", rules.SpecKinds())
	require.NoError(t, err)
	s.Gateways[0].Namespace = ns
	run := func() map[string]doctor.Result {
		env := &doctor.Env{Spec: s, Kube: client, RestConfig: cfg}
		out := map[string]doctor.Result{}
		for _, r := range doctor.Run(ctx, env, doctor.Checks(), nil) {
			out[r.ID] = r
		}
		return out
	}

	rs := run()
	require.Equal(t, doctor.Pass, rs["gateway/pods"].Status, "%+v", rs["gateway/pods"])
	st := rs["gateway/stats"]
	require.Equal(t, doctor.Pass, st.Status, "%+v", st)
	require.Contains(t, st.Summary, `1 response_code="421" series`)
	require.Contains(t, strings.Join(st.Evidence, "\n"), "through a port-forward")
	require.Positive(t, k.forwards.Load(), "the stats were read through the kubelet's port-forward")

	// The pod declares a stats port nothing listens on: the forward is made,
	// the connection in the pod is refused, and the hint names the port.
	k.target(15090, "127.0.0.1:1")
	st = run()["gateway/stats"]
	require.Equal(t, doctor.Fail, st.Status, "%+v", st)
	require.Contains(t, st.Hint, "nothing answers on port 15090")
	require.Contains(t, strings.Join(st.Evidence, "\n"), "connection refused", "the forward's own error is the evidence")
	k.target(15090, gw.Addr())

	// Not Ready: gateway/pods fails live, naming the pod.
	setReady(corev1.ConditionFalse)
	gp := run()["gateway/pods"]
	require.Equal(t, doctor.Fail, gp.Status, "%+v", gp)
	require.Contains(t, gp.Summary+strings.Join(gp.Evidence, " "), "istio-ingressgateway-pf")
}

package doctor

import (
	"context"
	"errors"
	"fmt"
	"github.com/gatewatch/gatewatch/internal/syncbuf"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/klog/v2"
)

// forwardPort opens a port-forward to pod's port through the API server, the
// way `kubectl port-forward pod/NAME PORT` does (kubectl 1.31+: SPDY
// tunnelled over WebSockets, falling back to SPDY when the server cannot
// upgrade; k8s.io/kubectl pkg/cmd/portforward createDialer). It listens on a
// free loopback port and returns its address and a stop function, which
// returns what the forwarder reported on its error stream.
func forwardPort(ctx context.Context, cfg *rest.Config, kube kubernetes.Interface, pod *corev1.Pod, port int) (string, func() string, error) {
	u := kube.CoreV1().RESTClient().Post().Resource("pods").Namespace(pod.Namespace).Name(pod.Name).SubResource("portforward").URL()
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return "", nil, fmt.Errorf("port-forward transport: %w", err)
	}
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	ws, err := portforward.NewSPDYOverWebsocketDialer(u, cfg)
	if err != nil {
		return "", nil, fmt.Errorf("port-forward transport: %w", err)
	}
	dialer = portforward.NewFallbackDialer(ws, dialer, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})

	// The forwarder logs stream errors (e.g. the pod's port refusing)
	// through the context's logger; doctor keeps them as evidence (errOut)
	// instead of printing them, so its output stays the reporter's.
	var errOut syncbuf.Buffer
	sink := funcr.New(func(prefix, args string) { fmt.Fprintf(&errOut, "%s %s\n", prefix, args) }, funcr.Options{})
	fctx, cancel := context.WithCancel(klog.NewContext(ctx, sink))
	ready := make(chan struct{})
	fw, err := portforward.NewOnAddressesWithContext(fctx, dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(port)}, ready, nil, &errOut)
	if err != nil {
		cancel()
		return "", nil, fmt.Errorf("port-forward: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- fw.ForwardPorts() }()
	stop := func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
	}
	select {
	case <-ready:
	case err := <-done:
		cancel()
		if err == nil {
			err = errors.New("port-forward ended before it was ready")
		}
		return "", nil, fmt.Errorf("port-forward pod/%s %d: %w", pod.Name, port, err)
	case <-ctx.Done():
		stop()
		return "", nil, ctx.Err()
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) == 0 {
		stop()
		return "", nil, fmt.Errorf("port-forward pod/%s %d: no local port: %v", pod.Name, port, err)
	}
	return "127.0.0.1:" + strconv.Itoa(int(ports[0].Local)), func() string {
		stop()
		return strings.TrimSpace(errOut.String())
	}, nil
}

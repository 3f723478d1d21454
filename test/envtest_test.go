package test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/gatewatch/gatewatch/internal/demo"
	"github.com/gatewatch/gatewatch/internal/engine"
	"github.com/gatewatch/gatewatch/internal/kube"
	"github.com/gatewatch/gatewatch/internal/mattermost/inbox"
	"github.com/gatewatch/gatewatch/internal/render"
	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
	"github.com/gatewatch/gatewatch/internal/syncbuf"
)

var (
	envOnce sync.Once
	envCfg  *rest.Config
	envErr  error
	envStop func()
)

// kubeAPI starts one real kube-apiserver + etcd (envtest with the binaries
// scripts/k8s-tools.sh builds from the pinned versions) with the
// prometheus-operator CRDs installed, shared by the tests of this package.
// kubeClients are the shared test API server's configuration and its
// typed, dynamic and discovery clients.
func kubeClients(t *testing.T) (*rest.Config, *kubernetes.Clientset, *dynamic.DynamicClient, *discovery.DiscoveryClient) {
	t.Helper()
	cfg := kubeAPI(t)
	client, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	dyn, err := dynamic.NewForConfig(cfg)
	require.NoError(t, err)
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	require.NoError(t, err)
	return cfg, client, dyn, dc
}

func kubeAPI(t *testing.T) *rest.Config {
	t.Helper()
	tool(t, "kube-apiserver")
	tool(t, "etcd")
	envOnce.Do(func() {
		dir := filepath.Dir(tool(t, "etcd"))
		crds := os.Getenv("GATEWATCH_CRDS_DIR")
		if crds == "" {
			crds = filepath.Join("..", ".cache", "crds")
		}
		env := &envtest.Environment{
			BinaryAssetsDirectory:    dir,
			CRDDirectoryPaths:        []string{crds},
			ErrorIfCRDPathMissing:    true,
			ControlPlaneStartTimeout: 2 * time.Minute,
			ControlPlaneStopTimeout:  time.Minute,
		}
		envCfg, envErr = env.Start()
		envStop = func() { _ = env.Stop() }
	})
	require.NoError(t, envErr, "start kube-apiserver and etcd")
	return envCfg
}

func TestMain(m *testing.M) {
	code := m.Run()
	if envStop != nil {
		envStop()
	}
	os.Exit(code)
}

// writeKubeconfig writes a kubeconfig for cfg (Prometheus's Kubernetes
// discovery reads a file).
func writeKubeconfig(t *testing.T, cfg *rest.Config, current string) string {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["envtest"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "envtest"}
	// A context that points nowhere: with it current, --context must pick envtest.
	kc.Clusters["nowhere"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:1"}
	kc.Contexts["nowhere"] = &clientcmdapi.Context{Cluster: "nowhere", AuthInfo: "envtest"}
	kc.CurrentContext = current
	p := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, clientcmd.WriteToFile(*kc, p))
	return p
}

func ensureNamespace(t *testing.T, c kubernetes.Interface, name string) {
	t.Helper()
	_, err := c.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !strings.Contains(err.Error(), "already exists") {
		require.NoError(t, err)
	}
}

// gatewayPod creates a Running gateway pod whose podIP is loopback and
// whose http-envoy-prom port is the simulated gateway's port.
func gatewayPod(t *testing.T, c kubernetes.Interface, ns, name string, port int) {
	t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "istio-ingressgateway", "istio": "ingressgateway"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "istio-proxy", Image: "istio/proxyv2:1.28.0",
			Ports: []corev1.ContainerPort{{Name: "http-envoy-prom", ContainerPort: int32(port), Protocol: corev1.ProtocolTCP}},
		}}},
	}
	created, err := c.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	require.NoError(t, err)
	deleteAtEnd(t, c, ns, name)
	created.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "127.0.0.1", PodIPs: []corev1.PodIP{{IP: "127.0.0.1"}},
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
	_, err = c.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{})
	require.NoError(t, err)
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	p, err := strconv.Atoi(addr[strings.LastIndex(addr, ":")+1:])
	require.NoError(t, err)
	return p
}

// TestKubernetesDiscoveryEndToEnd: gateway pods created through a real
// kube-apiserver are discovered with the rendered relabeling, scraped and
// alerted on, labelled by pod; a deleted pod's target disappears.
func TestKubernetesDiscoveryEndToEnd(t *testing.T) {
	cfg := kubeAPI(t)
	client, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	ensureNamespace(t, client, "gw-discovery")

	inbox, err := inbox.Start("127.0.0.1:0")
	require.NoError(t, err)
	defer inbox.Close()
	hook := inbox.AddHook("envtest", "gateway-alerts", true)

	a := demo.NewGateway("gw-discovery", "istio-ingressgateway", "gw-a", nil, nil)
	b := demo.NewGateway("gw-discovery", "istio-ingressgateway", "gw-b", nil, nil)
	require.NoError(t, a.Start("127.0.0.1:0"))
	require.NoError(t, b.Start("127.0.0.1:0"))
	defer a.Close()
	defer b.Close()
	gatewayPod(t, client, "gw-discovery", "istio-ingressgateway-a", portOf(t, a.Addr()))
	gatewayPod(t, client, "gw-discovery", "istio-ingressgateway-b", portOf(t, b.Addr()))
	// A pod the selector must not pick.
	other := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "gw-discovery", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx", Ports: []corev1.ContainerPort{{Name: "http-envoy-prom", ContainerPort: 1}}}}}}
	_, err = client.CoreV1().Pods("gw-discovery").Create(context.Background(), other, metav1.CreateOptions{})
	deleteAtEnd(t, client, "gw-discovery", "web")
	require.NoError(t, err)

	s, err := spec.Parse([]byte(fmt.Sprintf(`gateways:
  - name: public-ingress
    namespace: gw-discovery
    workload: istio-ingressgateway
    selector: app=istio-ingressgateway,istio=ingressgateway
    stats: {interval: 1s, timeout: 900ms}
alerts:
  - window: 10s
mattermost:
  webhook_url: %s
routing: {group_wait: 1s, group_interval: 2s}
`, hook)), "envtest.yaml", rules.SpecKinds())
	require.NoError(t, err)
	var logs syncbuf.Buffer
	e, err := engine.New(s, engine.Options{Kube: kube.Options{Kubeconfig: writeKubeconfig(t, cfg, "nowhere"), Context: "envtest"}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	require.NoError(t, e.Start(context.Background()))
	defer e.Close()

	upPods := func() map[string]string {
		out := map[string]string{}
		for _, tg := range e.Targets() {
			out[tg.Labels["pod"]] = tg.Health
		}
		return out
	}
	require.Eventually(t, func() bool {
		p := upPods()
		return len(p) == 2 && p["istio-ingressgateway-a"] == "up" && p["istio-ingressgateway-b"] == "up"
	}, 30*time.Second, 50*time.Millisecond, "both gateway pods discovered and up")
	require.Empty(t, e.DiscoveryError())

	a.Misdirect(1)
	require.Eventually(t, func() bool { return len(inbox.Posts()) == 1 }, 20*time.Second, 50*time.Millisecond, "the firing message")
	post := inbox.Posts()[0]
	require.Contains(t, post.Attachments[0].Text, "pod `istio-ingressgateway-a`")
	require.Equal(t, "istio-ingressgateway-a", fieldValue(post, "Pods"))

	require.NoError(t, client.CoreV1().Pods("gw-discovery").Delete(context.Background(), "istio-ingressgateway-b", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}))
	require.Eventually(t, func() bool {
		p := upPods()
		_, gone := p["istio-ingressgateway-b"]
		return !gone && len(p) == 1
	}, 30*time.Second, 50*time.Millisecond, "the deleted pod's target to disappear")
}

func fieldValue(p inbox.Post, title string) string {
	for _, f := range p.Attachments[0].Fields {
		if f.Title == title {
			return f.Value
		}
	}
	return ""
}

// TestServerSideDryRun applies every rendered manifest of every target to a
// real kube-apiserver with the prometheus-operator CRDs, as
// `kubectl apply --server-side --dry-run=server` does: schema errors that
// golden files cannot catch fail here.
func TestServerSideDryRun(t *testing.T) {
	_, client, dyn, dc := kubeClients(t)
	var objects int
	for name, path := range specs {
		for _, target := range []string{render.TargetOperator, render.TargetStandalone, render.TargetHelm, render.TargetPrometheus, render.TargetBridge} {
			t.Run(name+"/"+target, func(t *testing.T) {
				s, err := spec.Load(path, rules.SpecKinds())
				require.NoError(t, err)
				files, err := render.Render(s, target)
				require.NoError(t, err)
				groups, err := restmapper.GetAPIGroupResources(dc)
				require.NoError(t, err)
				mapper := restmapper.NewDiscoveryRESTMapper(groups)
				for _, f := range files {
					if !strings.HasSuffix(f.Name, ".yaml") || f.Name == "values.yaml" {
						continue // config files and the commented Secret example
					}
					var obj unstructured.Unstructured
					require.NoError(t, utilyaml.Unmarshal(f.Content, &obj.Object), f.Name)
					if obj.GetKind() == "" {
						continue // prometheus.yml / rule files
					}
					if obj.GetNamespace() != "" {
						ensureNamespace(t, client, obj.GetNamespace())
					}
					gvk := obj.GroupVersionKind()
					m, err := mapper.RESTMapping(schema.GroupKind{Group: gvk.Group, Kind: gvk.Kind}, gvk.Version)
					require.NoError(t, err, "%s: %s is not served", f.Name, gvk)
					body, err := obj.MarshalJSON()
					require.NoError(t, err)
					_, err = dyn.Resource(m.Resource).Namespace(obj.GetNamespace()).Patch(context.Background(), obj.GetName(), types.ApplyPatchType, body,
						metav1.PatchOptions{FieldManager: "gatewatch", DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"})
					require.NoError(t, err, "server-side dry-run of %s", f.Name)
					objects++
				}
			})
		}
	}
	require.Greater(t, objects, 20)
}

// deleteAtEnd deletes the pod when the test ends, at once (no kubelet here
// to finish a graceful deletion), so the shared API server holds nothing of
// this run when the test runs again (go test -count).
func deleteAtEnd(t *testing.T, c kubernetes.Interface, ns, name string) {
	t.Helper()
	t.Cleanup(func() {
		zero := int64(0)
		_ = c.CoreV1().Pods(ns).Delete(context.Background(), name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	})
}

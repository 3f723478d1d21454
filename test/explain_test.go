package test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/restmapper"

	"github.com/gatewatch/gatewatch/internal/cli"
	"github.com/gatewatch/gatewatch/internal/explain"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// TestExplainKube: explain --kube reads the gateway pods' istio-proxy logs
// through a real kube-apiserver (pods/log, served by the kubelet's side in
// this test) and the Istio Gateways, EnvoyFilter and TLS Secret through the
// API (the Istio CRDs from istio.io/api installed), and comes to the same
// verdict as on files; the Secret's private key goes nowhere.
func TestExplainKube(t *testing.T) {
	cfg, client, dyn, dc := kubeClients(t)
	ctx := context.Background()
	const ns = "gw-explain"
	for _, n := range []string{ns, "istio-system"} {
		ensureNamespace(t, client, n)
	}

	// The Gateways, Service and EnvoyFilter of the worked example, in ns.
	raw, err := os.ReadFile("../examples/explain/config/gateways.yaml")
	require.NoError(t, err)
	groups, err := restmapper.GetAPIGroupResources(dc)
	require.NoError(t, err)
	mapper := restmapper.NewDiscoveryRESTMapper(groups)
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(bytes.ReplaceAll(raw, []byte("namespace: istio-ingress"), []byte("namespace: "+ns))), 4096)
	applied := 0
	for {
		var obj unstructured.Unstructured
		if err := dec.Decode(&obj.Object); err != nil {
			break
		}
		if obj.Object == nil {
			continue
		}
		gvk := obj.GroupVersionKind()
		m, err := mapper.RESTMapping(schema.GroupKind{Group: gvk.Group, Kind: gvk.Kind}, gvk.Version)
		require.NoError(t, err, "%s is served (Istio CRDs installed)", gvk)
		body, err := obj.MarshalJSON()
		require.NoError(t, err)
		_, err = dyn.Resource(m.Resource).Namespace(obj.GetNamespace()).Patch(ctx, obj.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: "gatewatch-test", FieldValidation: "Strict"})
		require.NoError(t, err, "apply %s %s", gvk.Kind, obj.GetName())
		res, name, objNS := m.Resource, obj.GetName(), obj.GetNamespace()
		t.Cleanup(func() {
			_ = dyn.Resource(res).Namespace(objNS).Delete(context.Background(), name, metav1.DeleteOptions{})
		})
		applied++
	}
	require.Equal(t, 5, applied)

	// The wildcard certificate's Secret, with a private key that must not
	// travel further than the API client.
	const key = "-----BEGIN EC PRIVATE KEY-----\nZ2F0ZXdhdGNoLXRlc3Qta2V5LW5ldmVyLWxlYWtlZA==\n-----END EC PRIVATE KEY-----\n"
	secretYAML, err := os.ReadFile("../examples/explain/config/secret-wildcard-example-com.yaml")
	require.NoError(t, err)
	var secret corev1.Secret
	require.NoError(t, utilyaml.Unmarshal(secretYAML, &secret))
	secret.Namespace = ns
	secret.Data["tls.key"] = []byte(key)
	_, err = client.CoreV1().Secrets(ns).Create(ctx, &secret, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = client.CoreV1().Secrets(ns).Delete(context.Background(), secret.Name, metav1.DeleteOptions{})
	})

	// A gateway pod on a node whose kubelet serves its istio-proxy log.
	logs, err := os.ReadFile("../examples/explain/access.log")
	require.NoError(t, err)
	k := startKubelet(t, nil)
	k.logs[ns+"/istio-ingressgateway-explain/istio-proxy"] = "2026-11-25T09:57:59.000000Z\tinfo\tEnvoy proxy is ready\n" + string(logs)
	k.node(t, client, "gatewatch-node-explain")
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "istio-ingressgateway-explain", Namespace: ns, Labels: map[string]string{"istio": "ingressgateway"}},
		Spec: corev1.PodSpec{NodeName: "gatewatch-node-explain", Containers: []corev1.Container{
			{Name: "istio-proxy", Image: "istio/proxyv2:1.28.0"}, {Name: "sidecar-logger", Image: "busybox"}}},
	}
	created, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = client.CoreV1().Pods(ns).Delete(context.Background(), pod.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
	})
	created.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "127.0.0.1"}
	_, err = client.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{})
	require.NoError(t, err)

	now := time.Date(2026, 11, 25, 10, 5, 0, 0, time.UTC)
	r, err := explain.Run(ctx, explain.Options{
		Logs:   explain.KubeLogs{Client: client, Gateways: []spec.Gateway{{Name: "public", Namespace: ns, Selector: "istio=ingressgateway"}}},
		Config: explain.KubeConfig{Client: dyn, GatewayNamespaces: []string{ns}},
		Now:    now, Since: 30 * time.Minute,
	})
	require.NoError(t, err)
	require.Equal(t, 19, r.Logs.Misdirected, "warnings: %v", r.Warnings)
	require.Equal(t, 2, r.Logs.Input.NotAccessLog, "the kubelet log's proxy line and the example's sds line")
	f := r.Findings[0]
	require.Equal(t, "shop.example.com", f.SNI)
	require.Equal(t, "api.example.com", f.Authority)
	require.NotNil(t, f.Config)
	require.False(t, f.Config.CertInferred, "the certificate came from the Secret: %v", r.Warnings)
	require.True(t, f.Config.CertCoversAuthority)
	require.True(t, f.Config.CoalescingPossible)
	require.Equal(t, []string{"wildcard-example-com"}, f.Config.SNIServer.Credentials)
	require.Equal(t, "coalescing", f.Verdict.Cause)
	require.Equal(t, "merge-servers", f.Verdict.Fixes[0].Code)
	require.Contains(t, k.logQuery.Load(), "limitBytes=", "the log was read through the API with a byte limit")
	js, err := json.Marshal(r)
	require.NoError(t, err)
	require.NotContains(t, string(js), "PRIVATE KEY")
	require.NotContains(t, string(js), base64.StdEncoding.EncodeToString([]byte(key))[:20])

	// The same through the command line, as a user runs it.
	var out, errOut bytes.Buffer
	code := cli.Main(ctx, []string{"explain", "--kube", "--kubeconfig", writeKubeconfig(t, cfg, "envtest"), "--context", "envtest", "-n", ns, "-l", "istio=ingressgateway"}, &out, &errOut)
	require.Equal(t, 0, code, errOut.String())
	require.Contains(t, out.String(), "#1  shop.example.com → api.example.com   19×")
	require.Contains(t, out.String(), "certificate wildcard-example-com")
	require.NotContains(t, out.String()+errOut.String(), "PRIVATE KEY")
	require.True(t, strings.Contains(out.String(), "kube logs of gateway "+ns+"/gateway"), out.String())
}

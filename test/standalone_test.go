package test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/restmapper"

	"github.com/gatewatch/gatewatch/internal/render"
	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// TestStandaloneServerSideDryRun applies the whole standalone render —
// StatefulSet, PodDisruptionBudget, both Services, NetworkPolicies, RBAC,
// ConfigMap — for each shape the spec gives it to the real kube-apiserver,
// as `kubectl apply --server-side --dry-run=server` does, with strict field
// validation, and reads back what the API server made of the parts a
// schema or defaulting could change.
func TestStandaloneServerSideDryRun(t *testing.T) {
	_, client, dyn, dc := kubeClients(t)
	groups, err := restmapper.GetAPIGroupResources(dc)
	require.NoError(t, err)
	mapper := restmapper.NewDiscoveryRESTMapper(groups)

	const base = `gateways:
  - name: public-ingress
    namespace: sa-istio-ingress
    selector: app=istio-ingressgateway,istio=ingressgateway
  - name: edge
    namespace: sa-edge
    selector: "app=edge,tier in (a,b)"
    stats: {port: 15090}
mattermost:
  webhook_url_file: /etc/webhook-url
explain: {access_logs: kube, config: kube}
cluster:
  monitoring_namespace: sa-monitoring
  default_deny: [ingress, egress]
`
	for _, tc := range []struct {
		name, cluster string
		check         func(t *testing.T, applied map[string]*unstructured.Unstructured)
	}{
		{"defaults", "", func(t *testing.T, applied map[string]*unstructured.Unstructured) {
			sts := applied["StatefulSet/gatewatch"]
			replicas, _, _ := unstructured.NestedInt64(sts.Object, "spec", "replicas")
			require.Equal(t, int64(2), replicas)
			claims, _, _ := unstructured.NestedSlice(sts.Object, "spec", "volumeClaimTemplates")
			require.Len(t, claims, 1)
			size, _, _ := unstructured.NestedString(claims[0].(map[string]any), "spec", "resources", "requests", "storage")
			require.Equal(t, "1Gi", size)
			svc := applied["Service/gatewatch-cluster"]
			ip, _, _ := unstructured.NestedString(svc.Object, "spec", "clusterIP")
			require.Equal(t, "None", ip)
			pna, _, _ := unstructured.NestedBool(svc.Object, "spec", "publishNotReadyAddresses")
			require.True(t, pna)
			pdb := applied["PodDisruptionBudget/gatewatch"]
			mu, _, _ := unstructured.NestedFieldNoCopy(pdb.Object, "spec", "maxUnavailable")
			require.EqualValues(t, 1, mu)
		}},
		{"replicas, class, API server, web peers, service monitor", `  api_server: {cidrs: [192.0.2.10/32, "2001:db8::10/128"], ports: [6443]}
  standalone:
    replicas: 3
    service_monitor: true
    storage: {size: 5Gi, storage_class: fast-ssd}
    web_from:
      - {namespace: sa-monitoring, pod_selector: app.kubernetes.io/name=prometheus}
      - {namespace: sa-grafana}
      - {cidrs: [198.51.100.7/32]}
`, func(t *testing.T, applied map[string]*unstructured.Unstructured) {
			sts := applied["StatefulSet/gatewatch"]
			replicas, _, _ := unstructured.NestedInt64(sts.Object, "spec", "replicas")
			require.Equal(t, int64(3), replicas)
			claims, _, _ := unstructured.NestedSlice(sts.Object, "spec", "volumeClaimTemplates")
			class, _, _ := unstructured.NestedString(claims[0].(map[string]any), "spec", "storageClassName")
			require.Equal(t, "fast-ssd", class)
			require.Contains(t, applied, "NetworkPolicy/gatewatch-web-client", "Grafana's namespace gets its egress policy")
			require.Contains(t, applied, "ServiceMonitor/gatewatch")
			require.Contains(t, applied, "PrometheusRule/gatewatch-self")
		}},
		{"emptyDir", `  standalone:
    storage: {size: 2Gi, empty_dir: true}
`, func(t *testing.T, applied map[string]*unstructured.Unstructured) {
			sts := applied["StatefulSet/gatewatch"]
			claims, _, _ := unstructured.NestedSlice(sts.Object, "spec", "volumeClaimTemplates")
			require.Empty(t, claims)
			vols, _, _ := unstructured.NestedSlice(sts.Object, "spec", "template", "spec", "volumes")
			var limit string
			for _, v := range vols {
				if v.(map[string]any)["name"] == "data" {
					limit, _, _ = unstructured.NestedString(v.(map[string]any), "emptyDir", "sizeLimit")
				}
			}
			require.Equal(t, "2Gi", limit)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := spec.Parse([]byte(base+tc.cluster), "standalone.yaml", rules.SpecKinds())
			require.NoError(t, err)
			files, err := render.Render(s, render.TargetStandalone)
			require.NoError(t, err)
			target, err := render.Lookup(render.TargetStandalone)
			require.NoError(t, err)
			applied := map[string]*unstructured.Unstructured{}
			kinds := map[string]bool{}
			for _, f := range files {
				out, ok := target.Output(f.Name)
				require.True(t, ok, f.Name)
				if out.Format != render.FormatObject {
					continue // the commented Secret example
				}
				var obj unstructured.Unstructured
				require.NoError(t, utilyaml.Unmarshal(f.Content, &obj.Object), f.Name)
				if obj.GetNamespace() != "" {
					ensureNamespace(t, client, obj.GetNamespace())
				}
				gvk := obj.GroupVersionKind()
				m, err := mapper.RESTMapping(schema.GroupKind{Group: gvk.Group, Kind: gvk.Kind}, gvk.Version)
				require.NoError(t, err, "%s: %s is not served", f.Name, gvk)
				body, err := obj.MarshalJSON()
				require.NoError(t, err)
				got, err := dyn.Resource(m.Resource).Namespace(obj.GetNamespace()).Patch(context.Background(), obj.GetName(), types.ApplyPatchType, body,
					metav1.PatchOptions{FieldManager: "gatewatch", DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"})
				require.NoError(t, err, "server-side dry-run of %s", f.Name)
				applied[gvk.Kind+"/"+obj.GetName()] = got
				kinds[gvk.Kind] = true
			}
			// Every kind the target declares reached the API server.
			for _, o := range target.Writes {
				if o.Format != render.FormatObject || (strings.HasPrefix(o.Name, "self-") && !s.Cluster.Standalone.ServiceMonitor) {
					continue // gatewatch's own monitoring is written only with service_monitor
				}
				for _, k := range o.Kinds {
					if strings.HasPrefix(k, "Cluster") && s.Explain.Config != "kube" {
						continue
					}
					require.True(t, kinds[k], "%s was not applied", k)
				}
			}
			tc.check(t, applied)
		})
	}
}

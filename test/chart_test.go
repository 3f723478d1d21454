package test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/gatewatch/gatewatch/internal/cli"
	"github.com/gatewatch/gatewatch/internal/dashboard"
	"github.com/gatewatch/gatewatch/internal/render"
	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
	"github.com/gatewatch/gatewatch/internal/version"
)

var update = flag.Bool("update", false, "rewrite generated files (the chart's dashboard)")

const chartDir = "../charts/gatewatch"

// kubeVersion is the Kubernetes the tests' kube-apiserver runs
// (scripts/k8s-tools.sh): helm template and lint check the chart's
// kubeVersion against it (helm's own default is v1.20).
const kubeVersion = "v1.37.2"

// Placeholders in files/self-rules.yaml, which the chart replaces with its
// namespace and replica count.
const (
	namespacePlaceholder = "gatewatch-namespace-placeholder"
	replicasPlaceholder  = 424242
)

// TestChartFilesCurrent: the chart's generated files are what the code
// builds (`make update-golden` rewrites them): the dashboard
// (internal/dashboard) and gatewatch's own alerts (render.MetaRules, with
// placeholders for the namespace and the replica count).
func TestChartFilesCurrent(t *testing.T) {
	j, err := dashboard.JSON()
	require.NoError(t, err)
	s, err := spec.Parse([]byte(fmt.Sprintf("gateways: [{name: g, namespace: n, selector: app=g}]\nmattermost: {webhook_url_file: /x}\ncluster:\n  monitoring_namespace: %s\n  standalone: {replicas: %d}\n", namespacePlaceholder, replicasPlaceholder)), "placeholder.yaml", rules.SpecKinds())
	require.NoError(t, err)
	rb, err := yaml.Marshal(render.MetaRules(s))
	require.NoError(t, err)
	for name, want := range map[string][]byte{"gatewatch.json": append(j, '\n'), "self-rules.yaml": append([]byte("# Generated from render.MetaRules (make update-golden); the chart puts in its\n# namespace for "+namespacePlaceholder+" and the replica count for "+fmt.Sprint(replicasPlaceholder)+".\n"), rb...)} {
		p := filepath.Join(chartDir, "files", name)
		if *update {
			require.NoError(t, os.WriteFile(p, want, 0o644))
		}
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		require.Equal(t, string(want), string(b), "charts/gatewatch/files/%s is stale: make update-golden", name)
	}
}

// chartValues writes the chart's values for a spec file: the spec as the
// value spec, without the secret's literal keys (the chart takes it from
// the Secret).
func chartValues(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var s map[string]any
	require.NoError(t, yaml.Unmarshal(b, &s))
	if m, ok := s["mattermost"].(map[string]any); ok {
		delete(m, "webhook_url")
		delete(m, "webhook_url_file")
	}
	out, err := yaml.Marshal(map[string]any{"spec": s})
	require.NoError(t, err)
	return writeFile(t, t.TempDir(), "values.yaml", out)
}

// helmTemplate renders the chart for a spec file in its monitoring
// namespace and returns the objects, hooks left out.
func helmTemplate(t *testing.T, helm, specPath string, s *spec.Spec) []*unstructured.Unstructured {
	t.Helper()
	out, code := run(t, helm, "template", "gatewatch", chartDir, "--kube-version", kubeVersion, "-n", s.Cluster.MonitoringNamespace, "-f", chartValues(t, specPath))
	require.Equal(t, 0, code, out)
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(out), 4096)
	for {
		var o unstructured.Unstructured
		if err := dec.Decode(&o.Object); err != nil {
			require.ErrorContains(t, err, "EOF")
			break
		}
		if o.Object == nil || o.GetKind() == "" {
			continue
		}
		if _, hook := o.GetAnnotations()["helm.sh/hook"]; hook {
			continue
		}
		objs = append(objs, &o)
	}
	return objs
}

// TestChartLintAndTemplate: the pinned helm lints the chart (strict) and
// templates it for both golden specs; the values schema refuses a webhook
// URL in values and a spec without gateways.
func TestChartLintAndTemplate(t *testing.T) {
	var chart struct {
		Version    string `json:"version"`
		AppVersion string `json:"appVersion"`
	}
	b, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, &chart))
	require.Equal(t, version.Release, chart.AppVersion, "the chart deploys this release")
	require.Equal(t, strings.TrimPrefix(version.Release, "v"), chart.Version)
	helm := tool(t, "helm")
	for name, path := range specs {
		t.Run(name, func(t *testing.T) {
			s, err := spec.Load(path, rules.SpecKinds())
			require.NoError(t, err)
			out, code := run(t, helm, "lint", "--strict", chartDir, "--kube-version", kubeVersion, "-n", s.Cluster.MonitoringNamespace, "-f", chartValues(t, path))
			require.Equal(t, 0, code, out)
			require.Contains(t, out, "1 chart(s) linted, 0 chart(s) failed")
			require.NotEmpty(t, helmTemplate(t, helm, path, s))
		})
	}
	bad := writeFile(t, t.TempDir(), "bad.yaml", []byte("spec:\n  gateways: [{name: a, namespace: b}]\n  mattermost: {webhook_url: \"http://mm/hooks/x\"}\n"))
	out, code := run(t, helm, "template", "gatewatch", chartDir, "--kube-version", kubeVersion, "-f", bad)
	require.NotEqual(t, 0, code, out)
	require.Contains(t, out, "values don't meet the specifications of the schema")
	none := writeFile(t, t.TempDir(), "none.yaml", []byte("spec:\n  gateways: []\n  mattermost: {}\n"))
	out, code = run(t, helm, "template", "gatewatch", chartDir, "--kube-version", kubeVersion, "-f", none)
	require.NotEqual(t, 0, code, out)
	out, code = run(t, helm, "template", "gatewatch", chartDir, "--kube-version", kubeVersion, "-n", "monitoring", "-f", chartValues(t, specs["example"]),
		"--set", "nodeSelector.disktype=ssd", "--set", "priorityClassName=critical-monitoring", "--set", "resources.limits.memory=1Gi")
	require.Equal(t, 0, code, out)
	for _, want := range []string{"disktype: ssd", "priorityClassName: critical-monitoring", "memory: 1Gi"} {
		require.Contains(t, out, want)
	}
	out, code = run(t, helm, "template", "gatewatch", chartDir, "--kube-version", kubeVersion, "-n", "elsewhere", "-f", chartValues(t, specs["full"]))
	require.NotEqual(t, 0, code)
	require.Contains(t, out, "install the chart there")
}

// chartSpecs are the golden specs and variants of the example that reach
// the chart's other branches: kubectl selector forms, bot mode, an emptyDir
// and ingress-only default-deny with CIDR web clients, a direct webhook path
// with a storage class, API server CIDRs and a numeric stats port.
func chartSpecs(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, v := range specs {
		out[k] = v
	}
	b, err := os.ReadFile(specs["example"])
	require.NoError(t, err)
	dir := t.TempDir()
	for name, edit := range map[string]func(s map[string]any){
		"selectors": func(s map[string]any) {
			gw := s["gateways"].([]any)[0].(map[string]any)
			gw["selector"] = "app = istio-ingressgateway, istio != canary,tier in(edge,dmz), ! canary, track notin (a,b),zone"
		},
		"bot": func(s map[string]any) {
			s["mattermost"] = map[string]any{"url": "https://mattermost.example.com", "bot_token_file": "/run/token", "team": "ops", "channel": "alerts", "actions_secret_file": "/run/actions"}
		},
		"emptydir-ingress-only": func(s map[string]any) {
			c := s["cluster"].(map[string]any)
			c["default_deny"] = []any{"ingress"}
			c["standalone"] = map[string]any{"replicas": 3, "storage": map[string]any{"empty_dir": true, "size": "2Gi"}, "web_from": []any{map[string]any{"cidrs": []any{"10.0.0.0/8"}}}}
		},
		"direct": func(s map[string]any) {
			c := s["cluster"].(map[string]any)
			c["webhook_path"] = map[string]any{"via": "direct", "cidrs": []any{"203.0.113.10/32"}, "port": 8443}
			c["api_server"] = map[string]any{"cidrs": []any{"10.96.0.1/32"}, "ports": []any{443}}
			c["standalone"] = map[string]any{"replicas": 1, "storage": map[string]any{"storage_class": "fast"}}
			gw := s["gateways"].([]any)[0].(map[string]any)
			gw["stats"] = map[string]any{"port": 15090}
		},
	} {
		var s map[string]any
		require.NoError(t, yaml.Unmarshal(b, &s))
		edit(s)
		y, err := yaml.Marshal(s)
		require.NoError(t, err)
		p := writeFile(t, dir, name+".yaml", y)
		_, err = spec.Load(p, rules.SpecKinds())
		require.NoError(t, err, "variant %s is a valid spec", name)
		out[name] = p
	}
	return out
}

// TestChartMatchesStandaloneRender: for the same spec, the chart deploys
// what render --target standalone writes: the same objects (kind,
// namespace, name) with the same contents once Helm's own labels, the
// template's checksum annotation and the pull policy are set aside, and a
// deployed spec that reads back to the same spec.
func TestChartMatchesStandaloneRender(t *testing.T) {
	helm := tool(t, "helm")
	for name, path := range chartSpecs(t) {
		t.Run(name, func(t *testing.T) {
			s, err := spec.Load(path, rules.SpecKinds())
			require.NoError(t, err)
			chart := map[string]*unstructured.Unstructured{}
			for _, o := range helmTemplate(t, helm, path, s) {
				chart[key(o.GetKind(), o.GetNamespace(), o.GetName())] = o
			}
			files, err := render.Render(s, render.TargetStandalone)
			require.NoError(t, err)
			want := map[string]bool{}
			for _, f := range files {
				if !strings.HasSuffix(f.Name, ".yaml") {
					continue // the Secret example
				}
				var o unstructured.Unstructured
				require.NoError(t, yaml.Unmarshal(f.Content, &o.Object), f.Name)
				k := key(o.GetKind(), o.GetNamespace(), o.GetName())
				want[k] = true
				gotU, ok := chart[k]
				require.True(t, ok, "the chart has no %s (render writes %s)", k, f.Name)
				// The labels that select the object (a Prometheus's
				// ruleSelector, the Grafana sidecar's label) are the chart's too.
				gotLabels := gotU.GetLabels()
				for k, v := range o.GetLabels() {
					if k == "app.kubernetes.io/managed-by" {
						continue // Helm's, in the chart
					}
					require.Equal(t, v, gotLabels[k], "%s: label %s", k, k)
				}
				if _, known := scheme.Scheme.AllKnownTypes()[o.GroupVersionKind()]; !known {
					// prometheus-operator's kinds: compared as data
					require.Equal(t, jsonOf(t, o.Object["spec"]), jsonOf(t, gotU.Object["spec"]), "%s differs", k)
					continue
				}
				r, got := typed(t, &o), typed(t, gotU)
				if sts, ok := got.(*appsv1.StatefulSet); ok {
					stableClaimLabels(t, r.(*appsv1.StatefulSet), sts)
				}
				if cm, ok := r.(*corev1.ConfigMap); ok && cm.Name == "gatewatch-spec" {
					requireSameSpec(t, cm, got.(*corev1.ConfigMap))
					continue
				}
				normalize(r)
				normalize(got)
				require.True(t, apiequality.Semantic.DeepEqual(r, got), "%s differs:\nrender: %s\nchart:  %s", k, dump(r), dump(got))
			}
			for k := range chart {
				require.True(t, want[k], "the chart deploys %s, which render --target standalone does not", k)
			}
		})
	}
}

func key(kind, ns, name string) string { return kind + " " + ns + "/" + name }

// jsonOf is v as indented JSON, numbers and all, for comparing data.
func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var back any
	require.NoError(t, json.Unmarshal(b, &back))
	out, err := json.MarshalIndent(back, "", "  ")
	require.NoError(t, err)
	return string(out)
}

func typed(t *testing.T, o *unstructured.Unstructured) runtime.Object {
	t.Helper()
	b, err := o.MarshalJSON()
	require.NoError(t, err)
	obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(b, nil, nil)
	require.NoError(t, err, "%s %s", o.GetKind(), o.GetName())
	return obj
}

// normalize sets aside what the chart adds as a Helm chart: its labels and
// annotations, and the image pull policy.
func normalize(o runtime.Object) {
	if m, err := meta.Accessor(o); err == nil {
		m.SetLabels(nil)
		m.SetAnnotations(nil)
	}
	if sts, ok := o.(*appsv1.StatefulSet); ok {
		sts.Spec.Template.Labels, sts.Spec.Template.Annotations = nil, nil
		for i := range sts.Spec.Template.Spec.Containers {
			sts.Spec.Template.Spec.Containers[i].ImagePullPolicy = ""
		}
		for i := range sts.Spec.VolumeClaimTemplates {
			sts.Spec.VolumeClaimTemplates[i].Labels = nil // compared by stableClaimLabels
		}
	}
	o.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
}

// stableClaimLabels: the chart's volumeClaimTemplates carry render's
// labels (Helm's managed-by aside) and nothing that changes with a
// release: Kubernetes refuses any change to volumeClaimTemplates, so a
// chart or app version there would fail every helm upgrade.
func stableClaimLabels(t *testing.T, fromRender, fromChart *appsv1.StatefulSet) {
	t.Helper()
	require.Len(t, fromChart.Spec.VolumeClaimTemplates, len(fromRender.Spec.VolumeClaimTemplates))
	for i, c := range fromChart.Spec.VolumeClaimTemplates {
		for k, v := range fromRender.Spec.VolumeClaimTemplates[i].Labels {
			if k != "app.kubernetes.io/managed-by" {
				require.Equal(t, v, c.Labels[k], "claim label %s", k)
			}
		}
		for _, k := range []string{"helm.sh/chart", "app.kubernetes.io/version"} {
			require.NotContains(t, c.Labels, k, "a claim template label that changes with the release fails helm upgrade")
		}
	}
}

func dump(o runtime.Object) string {
	b, _ := yaml.Marshal(o)
	return string(b)
}

// requireSameSpec: both deployed specs load (the Secret's mount paths in
// place) and are the same spec.
func requireSameSpec(t *testing.T, fromRender, fromChart *corev1.ConfigMap) {
	t.Helper()
	load := func(what string, cm *corev1.ConfigMap) string {
		s, err := spec.Parse([]byte(cm.Data["gatewatch.yaml"]), what, rules.SpecKinds())
		require.NoError(t, err, "%s:\n%s", what, cm.Data["gatewatch.yaml"])
		b, err := render.DeploymentSpec(s)
		require.NoError(t, err)
		return string(b)
	}
	require.Equal(t, load("render", fromRender), load("chart", fromChart))
}

// TestChartServerSideDryRun applies every object the chart templates to
// the real kube-apiserver, as `helm install --dry-run=server` would.
func TestChartServerSideDryRun(t *testing.T) {
	helm := tool(t, "helm")
	_, client, dyn, dc := kubeClients(t)
	groups, err := restmapper.GetAPIGroupResources(dc)
	require.NoError(t, err)
	mapper := restmapper.NewDiscoveryRESTMapper(groups)
	n := 0
	for name, path := range specs {
		t.Run(name, func(t *testing.T) {
			s, err := spec.Load(path, rules.SpecKinds())
			require.NoError(t, err)
			for _, o := range helmTemplate(t, helm, path, s) {
				if o.GetNamespace() != "" {
					ensureNamespace(t, client, o.GetNamespace())
				}
				gvk := o.GroupVersionKind()
				m, err := mapper.RESTMapping(schema.GroupKind{Group: gvk.Group, Kind: gvk.Kind}, gvk.Version)
				require.NoError(t, err, "%s is not served", gvk)
				body, err := o.MarshalJSON()
				require.NoError(t, err)
				_, err = dyn.Resource(m.Resource).Namespace(o.GetNamespace()).Patch(context.Background(), o.GetName(), types.ApplyPatchType, body,
					metav1.PatchOptions{FieldManager: "helm", DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"})
				require.NoError(t, err, "server-side dry-run of %s %s", o.GetKind(), o.GetName())
				n++
			}
		})
	}
	require.Greater(t, n, 10)
}

const chartDefaultDeny = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: monitoring}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: istio-ingress}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
`

// TestDoctorPassesOnTheChart: doctor --offline on the chart's output (the
// example spec, the runbook's default-deny cluster, the gateway's
// Deployment beside it) knows it for gatewatch's own deployment and passes;
// without one of its NetworkPolicies it fails, naming the path.
func TestDoctorPassesOnTheChart(t *testing.T) {
	helm := tool(t, "helm")
	path := specs["example"]
	s, err := spec.Load(path, rules.SpecKinds())
	require.NoError(t, err)
	objs := helmTemplate(t, helm, path, s)
	doctor := func(drop string) (string, int) {
		dir := t.TempDir()
		var b strings.Builder
		for _, o := range objs {
			if o.GetKind() == "NetworkPolicy" && o.GetName() == drop {
				continue
			}
			y, err := yaml.Marshal(o.Object)
			require.NoError(t, err)
			b.WriteString("---\n")
			b.Write(y)
		}
		writeFile(t, dir, "chart.yaml", []byte(b.String()))
		gw, err := os.ReadFile("../internal/doctor/testdata/gateway-deployment.yaml")
		require.NoError(t, err)
		writeFile(t, dir, "gateway.yaml", gw)
		writeFile(t, dir, "default-deny.yaml", []byte(chartDefaultDeny))
		var out, errOut strings.Builder
		code := cli.Main(context.Background(), []string{"doctor", "-c", path, "--offline", "-f", dir}, &out, &errOut)
		return out.String() + errOut.String(), code
	}
	out, code := doctor("")
	require.Equal(t, 0, code, out)
	for _, want := range []string{"PASS  network/scrape", "PASS  network/egress", "PASS  network/kube-api", "PASS  network/gossip", "PASS  network/web"} {
		require.Contains(t, out, want)
	}
	require.NotContains(t, out, "prometheus/target", "the chart's output is gatewatch's own deployment, not a stack's")
	out, code = doctor("gatewatch-egress-dns")
	require.NotEqual(t, 0, code, out)
	require.Contains(t, out, "FAIL  network/egress")
	require.Contains(t, out, "DNS UDP")
}

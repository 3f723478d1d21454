package render

import (
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// standaloneObjects renders the standalone target of a spec given as YAML
// (appended to the example's gateway) and reads the objects back by file
// name.
func standaloneObjects(t *testing.T, clusterYAML string) map[string][]byte {
	t.Helper()
	y := `gateways:
  - name: public-ingress
    namespace: istio-ingress
    selector: app=istio-ingressgateway
cluster:
  default_deny: [ingress, egress]
` + clusterYAML
	s, err := spec.Parse([]byte(y), "g.yaml", rules.SpecKinds())
	require.NoError(t, err)
	files, err := Render(s, TargetStandalone)
	require.NoError(t, err)
	out := map[string][]byte{}
	for _, f := range files {
		out[f.Name] = f.Content
	}
	return out
}

func decode[T any](t *testing.T, objs map[string][]byte, name string) T {
	t.Helper()
	b, ok := objs[name]
	require.True(t, ok, "%s is rendered", name)
	var v T
	require.NoError(t, yaml.UnmarshalStrict(b, &v), name)
	return v
}

// TestStandaloneStatefulSet: clustered replicas (default 2) with the
// cluster flags run takes, one volume per replica from the spec, the
// headless Service they find each other through, a PodDisruptionBudget,
// anti-affinity, and no Deployment.
func TestStandaloneStatefulSet(t *testing.T) {
	objs := standaloneObjects(t, "")
	for name := range objs {
		require.False(t, strings.HasPrefix(name, "deployment-"), "no Deployment: %s", name)
	}
	sts := decode[appsv1.StatefulSet](t, objs, "statefulset-monitoring-gatewatch.yaml")
	require.Equal(t, int32(spec.DefaultReplicas), *sts.Spec.Replicas)
	require.Equal(t, ClusterServiceName, sts.Spec.ServiceName)
	require.Equal(t, appsv1.ParallelPodManagement, sts.Spec.PodManagementPolicy)
	pod := sts.Spec.Template.Spec
	c := pod.Containers[0]
	require.Equal(t, []string{"run", "-c", "/etc/gatewatch/gatewatch.yaml", "--listen=0.0.0.0:9421", "--data-dir=/var/lib/gatewatch", "--log.format=json",
		"--web.external-url=http://gatewatch.monitoring.svc:9421", "--cluster.listen-address=0.0.0.0:9094", "--cluster.advertise-address=$(POD_IP):9094",
		"--cluster.peer=gatewatch-cluster.monitoring.svc:9094", "--cluster.peer-name=$(POD_NAME)"}, c.Args)
	env := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.ResourceFieldRef != nil:
			env[e.Name] = e.ValueFrom.ResourceFieldRef.ContainerName + "/" + e.ValueFrom.ResourceFieldRef.Resource
		case e.ValueFrom != nil:
			env[e.Name] = e.ValueFrom.FieldRef.FieldPath
		default:
			env[e.Name] = e.Value
		}
	}
	require.Equal(t, map[string]string{MemoryLimitEnv: "gatewatch/limits.memory", "POD_NAME": "metadata.name", "POD_IP": "status.podIP"}, env)
	require.Equal(t, "gatewatch", c.Name, "the resourceFieldRef names this container")
	require.Equal(t, resource.MustParse(StandaloneMemoryLimit), c.Resources.Limits[corev1.ResourceMemory])
	require.Equal(t, resource.MustParse(StandaloneMemoryRequest), c.Resources.Requests[corev1.ResourceMemory])
	require.Equal(t, resource.MustParse(StandaloneCPURequest), c.Resources.Requests[corev1.ResourceCPU])
	require.Equal(t, "/-/healthy", c.LivenessProbe.HTTPGet.Path)
	require.Equal(t, "/-/ready", c.ReadinessProbe.HTTPGet.Path)
	require.True(t, *c.SecurityContext.ReadOnlyRootFilesystem)
	require.True(t, *pod.SecurityContext.RunAsNonRoot)
	ports := map[string]corev1.ContainerPort{}
	for _, p := range c.Ports {
		ports[p.Name] = p
	}
	require.Equal(t, corev1.ContainerPort{Name: "mesh-tcp", ContainerPort: GossipPort, Protocol: corev1.ProtocolTCP}, ports["mesh-tcp"])
	require.Equal(t, corev1.ContainerPort{Name: "mesh-udp", ContainerPort: GossipPort, Protocol: corev1.ProtocolUDP}, ports["mesh-udp"])
	aff := pod.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution
	require.Len(t, aff, 1)
	require.Equal(t, "kubernetes.io/hostname", aff[0].PodAffinityTerm.TopologyKey)
	require.Equal(t, map[string]string{"app.kubernetes.io/name": "gatewatch"}, aff[0].PodAffinityTerm.LabelSelector.MatchLabels)
	require.Empty(t, pod.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution, "preferred only: two replicas still run on one node")

	// --data-dir on a claim per replica; no data emptyDir.
	require.Len(t, sts.Spec.VolumeClaimTemplates, 1)
	claim := sts.Spec.VolumeClaimTemplates[0]
	require.Equal(t, "data", claim.Name)
	require.Equal(t, resource.MustParse("1Gi"), claim.Spec.Resources.Requests[corev1.ResourceStorage])
	require.Nil(t, claim.Spec.StorageClassName, "the cluster's default class")
	for _, v := range pod.Volumes {
		require.NotEqual(t, "data", v.Name)
	}
	require.NotContains(t, string(objs["statefulset-monitoring-gatewatch.yaml"]), "status: {}")

	headless := decode[corev1.Service](t, objs, "service-monitoring-gatewatch-cluster.yaml")
	require.Equal(t, corev1.ClusterIPNone, headless.Spec.ClusterIP)
	require.True(t, headless.Spec.PublishNotReadyAddresses)
	var protos []corev1.Protocol
	for _, p := range headless.Spec.Ports {
		require.Equal(t, int32(GossipPort), p.Port)
		protos = append(protos, p.Protocol)
	}
	require.ElementsMatch(t, []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP}, protos)
	web := decode[corev1.Service](t, objs, "service-monitoring-gatewatch.yaml")
	require.Equal(t, int32(StandalonePort), web.Spec.Ports[0].Port)

	pdb := decode[policyv1.PodDisruptionBudget](t, objs, "poddisruptionbudget-monitoring-gatewatch.yaml")
	require.Equal(t, 1, pdb.Spec.MaxUnavailable.IntValue())
	require.Equal(t, sts.Spec.Selector, pdb.Spec.Selector)
}

// TestStandaloneStorageAndReplicasFromSpec: replicas, size and class come
// from the spec; empty_dir swaps the claim for a sized emptyDir.
func TestStandaloneStorageAndReplicasFromSpec(t *testing.T) {
	objs := standaloneObjects(t, "  standalone:\n    replicas: 3\n    storage: {size: 5Gi, storage_class: fast-ssd}\n")
	sts := decode[appsv1.StatefulSet](t, objs, "statefulset-monitoring-gatewatch.yaml")
	require.Equal(t, int32(3), *sts.Spec.Replicas)
	claim := sts.Spec.VolumeClaimTemplates[0]
	require.Equal(t, resource.MustParse("5Gi"), claim.Spec.Resources.Requests[corev1.ResourceStorage])
	require.Equal(t, "fast-ssd", *claim.Spec.StorageClassName)

	objs = standaloneObjects(t, "  standalone:\n    storage: {size: 2Gi, empty_dir: true}\n")
	sts = decode[appsv1.StatefulSet](t, objs, "statefulset-monitoring-gatewatch.yaml")
	require.Empty(t, sts.Spec.VolumeClaimTemplates)
	var data *corev1.Volume
	for i, v := range sts.Spec.Template.Spec.Volumes {
		if v.Name == "data" {
			data = &sts.Spec.Template.Spec.Volumes[i]
		}
	}
	require.NotNil(t, data)
	require.Equal(t, resource.MustParse("2Gi"), *data.EmptyDir.SizeLimit)
}

// TestStandalonePolicyNames: one policy per path and side, each only for a
// denied direction; web clients' egress lives in their namespace.
func TestStandalonePolicyNames(t *testing.T) {
	names := func(objs map[string][]byte) []string {
		var out []string
		for name := range objs {
			if strings.HasPrefix(name, "networkpolicy-") {
				np := decode[networkingv1.NetworkPolicy](t, objs, name)
				out = append(out, np.Namespace+"/"+np.Name+" "+string(np.Spec.PolicyTypes[0]))
				require.Len(t, np.Spec.PolicyTypes, 1, "%s: one direction", name)
			}
		}
		return out
	}
	web := "    web_from:\n      - {namespace: monitoring, pod_selector: app=grafana}\n      - {namespace: monitoring, pod_selector: app=prometheus}\n      - {cidrs: [198.51.100.7/32]}\n"
	objs := standaloneObjects(t, "  standalone:\n"+web)
	require.ElementsMatch(t, []string{
		"istio-ingress/gatewatch-public-ingress-allow-gatewatch-scrape Ingress",
		"istio-ingress/gatewatch-allow-gatewatch-webhook Ingress",
		"monitoring/gatewatch-allow-gossip Ingress",
		"monitoring/gatewatch-allow-web Ingress",
		"monitoring/gatewatch-egress-scrape Egress",
		"monitoring/gatewatch-egress-webhook Egress",
		"monitoring/gatewatch-egress-dns Egress",
		"monitoring/gatewatch-egress-kube-api Egress",
		"monitoring/gatewatch-egress-gossip Egress",
		"monitoring/gatewatch-web-client Egress",
		"monitoring/gatewatch-web-client-2 Egress",
	}, names(objs))
	allow := decode[networkingv1.NetworkPolicy](t, objs, "networkpolicy-monitoring-gatewatch-allow-web.yaml")
	require.Len(t, allow.Spec.Ingress[0].From, 3)
	require.Equal(t, "198.51.100.7/32", allow.Spec.Ingress[0].From[2].IPBlock.CIDR)

	// Egress only: no ingress policy (it would isolate the pods it selects).
	s, err := spec.Parse([]byte("gateways:\n  - {name: gw, namespace: istio-ingress, selector: app=gw}\ncluster:\n  default_deny: [egress]\n  api_server: {cidrs: [192.0.2.1/32], ports: [6443]}\n"), "g.yaml", rules.SpecKinds())
	require.NoError(t, err)
	files, err := Render(s, TargetStandalone)
	require.NoError(t, err)
	got := map[string][]byte{}
	for _, f := range files {
		got[f.Name] = f.Content
	}
	for _, n := range names(got) {
		require.True(t, strings.HasSuffix(n, " Egress"), n)
	}
	api := decode[networkingv1.NetworkPolicy](t, got, "networkpolicy-monitoring-gatewatch-egress-kube-api.yaml")
	require.Equal(t, "192.0.2.1/32", api.Spec.Egress[0].To[0].IPBlock.CIDR)
	require.Equal(t, 6443, api.Spec.Egress[0].Ports[0].Port.IntValue())
}

// TestStandaloneBotMode: in bot mode the deployed spec reads the token
// from the mounted Secret (never inline, never in any rendered file), the
// Secret example names the bot-token key, the external URL Mattermost sends
// clicks to is the flag; the Alertmanager targets refuse bot mode.
func TestStandaloneBotMode(t *testing.T) {
	const token = "xoxbottokenneverrendered1234"
	y := `gateways:
  - name: public-ingress
    namespace: istio-ingress
    selector: app=istio-ingressgateway
mattermost:
  url: https://mattermost.example.com
  bot_token: ` + token + `
  team: ops
  channel: gateway-alerts
cluster:
  default_deny: [ingress, egress]
  standalone:
    external_url: https://gatewatch.example.com
    web_from: [{cidrs: [203.0.113.20/32]}]
`
	s, err := spec.Parse([]byte(y), "g.yaml", rules.SpecKinds())
	require.NoError(t, err)
	files, err := Render(s, TargetStandalone)
	require.NoError(t, err)
	objs := map[string][]byte{}
	for _, f := range files {
		require.NotContains(t, string(f.Content)+f.Header, token, f.Name)
		objs[f.Name] = append([]byte(f.Header), f.Content...)
	}
	cm := decode[corev1.ConfigMap](t, objs, "configmap-monitoring-gatewatch.yaml")
	deployed, err := spec.Parse([]byte(cm.Data["gatewatch.yaml"]), "deployed.yaml", rules.SpecKinds())
	require.NoError(t, err, "the deployed spec is valid")
	require.True(t, deployed.Mattermost.BotMode())
	require.Equal(t, "/etc/gatewatch/secrets/bot-token", deployed.Mattermost.BotTokenFile)
	require.Empty(t, deployed.Mattermost.WebhookURLFile)
	require.Contains(t, string(objs["secret-monitoring-gatewatch-mattermost.yaml.example"]), "--from-file=bot-token=./bot-token")
	sts := decode[appsv1.StatefulSet](t, objs, "statefulset-monitoring-gatewatch.yaml")
	require.Contains(t, sts.Spec.Template.Spec.Containers[0].Args, "--web.external-url=https://gatewatch.example.com")

	for _, target := range []string{TargetOperator, TargetPrometheus, TargetHelm} {
		_, err := Render(s, target)
		require.ErrorContains(t, err, "bot mode", target)
		require.NotContains(t, err.Error(), token)
	}
}

// TestEnvoyFilterParams: stats.envoy_filter puts Envoy's filter into every
// scrape the targets write: the PodMonitor's and the ScrapeConfig's params
// and the scrape_configs' params (embedded engine, prometheus, helm).
func TestEnvoyFilterParams(t *testing.T) {
	s, err := spec.Parse([]byte(`gateways:
  - name: public-ingress
    namespace: istio-ingress
    selector: app=istio-ingressgateway
    static_targets: ["10.0.0.1:15090"]
    stats: {envoy_filter: true}
`), "g.yaml", rules.SpecKinds())
	require.NoError(t, err)
	want := map[string][]string{"filter": {`server[._]uptime|istio[._]requests[._]total`}}
	files, err := Render(s, TargetOperator)
	require.NoError(t, err)
	objs := map[string][]byte{}
	for _, f := range files {
		objs[f.Name] = f.Content
	}
	pm := decode[monitoringv1.PodMonitor](t, objs, "podmonitor-istio-ingress-gatewatch-public-ingress.yaml")
	require.Equal(t, want, pm.Spec.PodMetricsEndpoints[0].Params)
	sc := decode[monitoringv1alpha1.ScrapeConfig](t, objs, "scrapeconfig-monitoring-gatewatch-public-ingress-static.yaml")
	require.Equal(t, want, sc.Spec.Params)
	y, err := ScrapeConfigYAML(s, "")
	require.NoError(t, err)
	require.Contains(t, string(y), "params:\n    filter:\n    - server[._]uptime|istio[._]requests[._]total")
}

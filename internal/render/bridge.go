package render

import (
	"crypto/sha256"
	"fmt"
	"net/url"
	"path"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gatewatch/gatewatch/internal/spec"
)

// Bridge deployment constants.
const (
	// BridgeName names the bridge's Deployment, Service, ServiceAccount and
	// pods (app.kubernetes.io/name).
	BridgeName = "gatewatch-bridge"
	// BridgePort is where the bridge receives Alertmanager's webhooks
	// (and, in bot mode, the buttons' clicks) and serves /metrics.
	BridgePort = spec.DefaultBridgePort
	// BridgeSelector selects the bridge's pods.
	BridgeSelector    = "app.kubernetes.io/name=" + BridgeName
	bridgeDataDir     = "/var/lib/gatewatch-bridge"
	bridgeSpecConfig  = BridgeName + "-spec"
	bridgeDataClaim   = BridgeName + "-data"
	bridgeCPURequest  = "20m"
	bridgeMemRequest  = "64Mi"
	bridgeMemoryLimit = "256Mi"
)

// BridgeURL is where Alertmanager sends its webhook notifications: the
// bridge's Service, in the monitoring namespace.
func BridgeURL(s *spec.Spec) string {
	return fmt.Sprintf("http://%s.%s.svc:%d/alerts", BridgeName, s.Cluster.MonitoringNamespace, BridgePort)
}

// BridgeExternalURL is the deployed bridge's --web.external-url (bot mode).
func BridgeExternalURL(s *spec.Spec) string {
	if u := s.Cluster.Bridge.ExternalURL; u != "" {
		return u
	}
	return fmt.Sprintf("http://%s.%s.svc:%d", BridgeName, s.Cluster.MonitoringNamespace, BridgePort)
}

// BridgeWorkload is the bridge's pods.
func BridgeWorkload(s *spec.Spec) spec.Workload {
	return spec.Workload{Namespace: s.Cluster.MonitoringNamespace, PodSelector: BridgeSelector}
}

// throughBridge reports whether Alertmanager posts through the bridge.
func throughBridge(s *spec.Spec) bool { return s.Cluster.Bridge.Enabled }

// bridge renders `gatewatch bridge` in front of Mattermost, behind the
// stack's Alertmanager (whose receiver the stack targets point at it when
// cluster.bridge.enabled is set; without it, a receiver written by hand
// does, as docs/bridge.md shows): its ServiceAccount (and, for explain's
// kube sources, what they read), the spec ConfigMap, a hardened Deployment,
// in bot mode the data volume its posts are kept on, the Service
// Alertmanager posts to, a PodDisruptionBudget with two replicas or more,
// the Secret example, and the NetworkPolicies of its paths.
func bridge(s *spec.Spec) ([]File, error) {
	ns := s.Cluster.MonitoringNamespace
	b := s.Cluster.Bridge
	labels := map[string]string{"app.kubernetes.io/name": BridgeName, "app.kubernetes.io/managed-by": "gatewatch"}
	meta := func(name, namespace string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels}
	}
	var files []File
	add := func(name, header string, v any) error {
		f, err := file(name, header, v)
		files = append(files, f)
		return err
	}
	kube := s.Explain.AccessLogs == "kube" || s.Explain.Config == "kube"
	// Only explain's kube sources talk to the API server.
	rbac, err := rbacFiles(s, BridgeName, ns, kube, false, meta)
	if err != nil {
		return nil, err
	}
	files = append(files, rbac...)

	specYAML, err := deploymentSpec(s, TargetBridge)
	if err != nil {
		return nil, err
	}
	if err := add("configmap-"+ns+"-"+BridgeName+".yaml", "", &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: meta(bridgeSpecConfig, ns),
		Data: map[string]string{"gatewatch.yaml": string(specYAML)},
	}); err != nil {
		return nil, err
	}
	bot := s.Mattermost.BotMode()
	if bot && !b.Storage.EmptyDir {
		pvc := &corev1.PersistentVolumeClaim{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"}, ObjectMeta: meta(bridgeDataClaim, ns),
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(b.Storage.Size)}},
			},
		}
		if b.Storage.StorageClass != "" {
			pvc.Spec.StorageClassName = ptr(b.Storage.StorageClass)
		}
		if err := add("persistentvolumeclaim-"+ns+"-"+BridgeName+".yaml", "", pvc); err != nil {
			return nil, err
		}
	}
	dep := bridgeDeployment(s, meta(BridgeName, ns), labels, kube)
	// The bridge reads its spec once, at start: the spec's checksum on the
	// pod template rolls the pods when a changed render is applied (as
	// Helm charts do).
	dep.Spec.Template.Annotations = map[string]string{"checksum/spec": fmt.Sprintf("%x", sha256.Sum256(specYAML))}
	if err := add("deployment-"+ns+"-"+BridgeName+".yaml", "", dep); err != nil {
		return nil, err
	}
	selector := map[string]string{"app.kubernetes.io/name": BridgeName}
	if err := add("service-"+ns+"-"+BridgeName+".yaml", "", &corev1.Service{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}, ObjectMeta: meta(BridgeName, ns),
		Spec: corev1.ServiceSpec{
			Selector: selector,
			Ports:    []corev1.ServicePort{{Name: "http", Port: BridgePort, TargetPort: intstr.FromString("http")}},
		},
	}); err != nil {
		return nil, err
	}
	if b.Replicas > 1 {
		// A node drain takes one replica at a time: Alertmanager's
		// notifications keep finding one.
		if err := add("poddisruptionbudget-"+ns+"-"+BridgeName+".yaml", "", onePodAtATime(meta(BridgeName, ns), selector)); err != nil {
			return nil, err
		}
	}
	sec, err := secretExample(s, ns)
	if err != nil {
		return nil, err
	}
	files = append(files, sec)
	am, err := alertmanagerSideExamples(s)
	if err != nil {
		return nil, err
	}
	files = append(files, am...)
	nps, err := bridgePolicies(s)
	if err != nil {
		return nil, err
	}
	for _, np := range nps {
		if err := add(fmt.Sprintf("networkpolicy-%s-%s.yaml", np.Namespace, np.Name), netpolHeader, np); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// alertmanagerSideExamples are Alertmanager's half of the bridge, for
// wiring it by hand: per namespace the operator's AlertmanagerConfig as a
// commented example, headed by the same receiver and route for
// alertmanager.yml and kube-prometheus-stack values. They are the objects
// the stack targets write with cluster.bridge.enabled (built by the same
// code), so the two cannot differ; as .example files, `kubectl apply -f`
// skips them.
func alertmanagerSideExamples(s *spec.Spec) ([]File, error) {
	c := *s
	c.Cluster.Bridge.Enabled = true
	am := alertmanagerConfig(&c)
	var part amConfig
	for _, r := range am.Route.Routes {
		if r.Receiver == ReceiverName {
			part.Route.Routes = append(part.Route.Routes, r)
		}
	}
	for _, r := range am.Receivers {
		if r.Name == ReceiverName {
			part.Receivers = append(part.Receivers, r)
		}
	}
	y, err := marshal(struct {
		Route struct {
			Routes []amRoute `json:"routes"`
		} `json:"route"`
		Receivers []amReceiver `json:"receivers"`
	}{struct {
		Routes []amRoute `json:"routes"`
	}{part.Route.Routes}, part.Receivers})
	if err != nil {
		return nil, fmt.Errorf("render the Alertmanager receiver: %w", err)
	}
	note := `# The stack targets (render --target operator|prometheus|helm) write it, as
# cluster.bridge.enabled is set; this copy is for wiring it by hand.`
	if !throughBridge(s) {
		note = `# cluster.bridge.enabled is not set, so the stack targets (render --target
# operator|prometheus|helm) still post to Mattermost themselves: set it, or
# wire this by hand.`
	}
	var header strings.Builder
	fmt.Fprintf(&header, `# Alertmanager's half of the bridge: a webhook receiver to it, and its route.
%s
# alertmanager.yml, or kube-prometheus-stack values under alertmanager.config
# (merge into your route and receivers):
`, note)
	header.WriteString(commentOut(y))
	header.WriteString("# The prometheus-operator's AlertmanagerConfig (its namespace is the alerts'):\n")
	var files []File
	for _, ns := range alertmanagerConfigNamespaces(s) {
		amc := alertmanagerConfigCR(&c, ns)
		b, err := marshal(amc)
		if err != nil {
			return nil, fmt.Errorf("render the AlertmanagerConfig: %w", err)
		}
		files = append(files, File{Name: fmt.Sprintf("alertmanagerconfig-%s-%s.yaml.example", ns, amc.Name), Header: header.String(), Content: []byte(commentOut(b))})
	}
	return files, nil
}

// bridgeDeployment is the bridge's workload. With a webhook it is
// stateless: cluster.bridge.replicas replicas, rolled one at a time. In
// bot mode it keeps each group's post in --data-dir, one bridge per
// directory: one replica, replaced (not rolled) on update so two never
// share the volume.
func bridgeDeployment(s *spec.Spec, meta metav1.ObjectMeta, labels map[string]string, kube bool) *appsv1.Deployment {
	b := s.Cluster.Bridge
	bot := s.Mattermost.BotMode()
	selector := map[string]string{"app.kubernetes.io/name": BridgeName}
	args := []string{"bridge", "-c", path.Join(specMountDir, "gatewatch.yaml"),
		fmt.Sprintf("--listen=0.0.0.0:%d", BridgePort), "--log.format=json"}
	volumes := []corev1.Volume{
		{Name: "spec", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: bridgeSpecConfig}}}},
		{Name: "webhook", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: s.Cluster.Alertmanager.SecretName}}},
		{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	mounts := []corev1.VolumeMount{
		{Name: "spec", MountPath: specMountDir, ReadOnly: true},
		{Name: "webhook", MountPath: secretMountDir, ReadOnly: true},
		{Name: "tmp", MountPath: "/tmp"},
	}
	strategy := appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType}
	if bot {
		args = append(args, "--data-dir="+bridgeDataDir, "--web.external-url="+BridgeExternalURL(s))
		if b.AlertmanagerURL != "" {
			args = append(args, "--alertmanager-url="+b.AlertmanagerURL)
		}
		data := corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: bridgeDataClaim}}
		if b.Storage.EmptyDir {
			size := resource.MustParse(b.Storage.Size)
			data = corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: &size}}
		}
		volumes = append(volumes, corev1.Volume{Name: "data", VolumeSource: data})
		mounts = append(mounts, corev1.VolumeMount{Name: "data", MountPath: bridgeDataDir})
		strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: meta,
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(int32(b.Replicas)),
			Strategy: strategy,
			Selector: &metav1.LabelSelector{MatchLabels: selector},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					ServiceAccountName:           BridgeName,
					AutomountServiceAccountToken: ptr(kube),
					SecurityContext:              podSecurityContext(),
					Affinity:                     spreadAcrossNodes(selector),
					Containers: []corev1.Container{{
						Name:  "bridge",
						Image: s.Cluster.Image,
						Args:  args,
						Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: BridgePort, Protocol: corev1.ProtocolTCP}},
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(bridgeCPURequest), corev1.ResourceMemory: resource.MustParse(bridgeMemRequest)},
							Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(bridgeMemoryLimit)},
						},
						LivenessProbe:   httpProbe("/-/healthy", 20),
						ReadinessProbe:  httpProbe("/-/ready", 10),
						SecurityContext: containerSecurityContext(),
						VolumeMounts:    mounts,
					}},
					Volumes: volumes,
				},
			},
		},
	}
}

// alertmanagerBridgePolicies are the Alertmanager → bridge path: the
// egress from Alertmanager's pods and the bridge's ingress from them, on
// BridgePort. The stack targets write them when Alertmanager posts through
// the bridge, and so does the bridge target: each folder passes doctor on
// its own, and the same objects applied twice are one.
func alertmanagerBridgePolicies(s *spec.Spec) ([]networkingv1.NetworkPolicy, error) {
	c := s.Cluster
	amPods, err := selector(c.Alertmanager.PodSelector)
	if err != nil {
		return nil, err
	}
	me := &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": BridgeName}}
	ports := []networkingv1.NetworkPolicyPort{{Protocol: protoPtr(corev1.ProtocolTCP), Port: portNum(BridgePort)}}
	egress := netpol(s, "gatewatch-alertmanager-egress-bridge", c.Alertmanager.Namespace, amPods, []networkingv1.PolicyType{networkingv1.PolicyTypeEgress})
	egress.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{
		To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: nsSelector(c.MonitoringNamespace), PodSelector: me}}, Ports: ports,
	}}
	ingress := netpol(s, "gatewatch-bridge-allow-alertmanager", c.MonitoringNamespace, me, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress})
	ingress.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{
		From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: nsSelector(c.Alertmanager.Namespace), PodSelector: amPods}}, Ports: ports,
	}}
	return []networkingv1.NetworkPolicy{egress, ingress}, nil
}

// alertmanagerDNSPolicy lets Alertmanager resolve the webhook's (or the
// bridge's) name: an egress policy that forgets DNS breaks the webhook too.
func alertmanagerDNSPolicy(s *spec.Spec) (networkingv1.NetworkPolicy, error) {
	amPods, err := selector(s.Cluster.Alertmanager.PodSelector)
	if err != nil {
		return networkingv1.NetworkPolicy{}, err
	}
	dns := netpol(s, "gatewatch-alertmanager-egress-dns", s.Cluster.Alertmanager.Namespace, amPods, []networkingv1.PolicyType{networkingv1.PolicyTypeEgress})
	dns.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{dnsEgressRule(s)}
	return dns, nil
}

// BridgeAlertmanagerPort is the port of cluster.bridge.alertmanager_url
// (the scheme's default when it names none), and whether one is set.
func BridgeAlertmanagerPort(s *spec.Spec) (int, bool) {
	u, err := url.Parse(s.Cluster.Bridge.AlertmanagerURL)
	if s.Cluster.Bridge.AlertmanagerURL == "" || err != nil {
		return 0, false
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		return n, err == nil
	}
	if u.Scheme == "https" {
		return 443, true
	}
	return 80, true
}

// bridgePolicies are the NetworkPolicies of every path the bridge needs,
// for the directions cluster.default_deny denies, one policy per path and
// side so that a missing one names its path:
//
//   - Alertmanager → bridge (alertmanagerBridgePolicies) and Alertmanager →
//     DNS, to resolve the bridge's Service name;
//   - bridge → the webhook path (egress here; for the in-cluster gateway,
//     its ingress too) and → kube-dns on 53 UDP and TCP;
//   - bridge → the Kubernetes API, for explain's kube sources;
//   - bridge → Alertmanager's API (bot mode's silence buttons), egress and
//     Alertmanager's ingress, when cluster.bridge.alertmanager_url is set;
//   - cluster.bridge.web_from → the bridge's port (ingress here; egress in
//     each pod peer's namespace).
//
// Kubelet probes need no rule: traffic from a pod's own node is always
// allowed.
func bridgePolicies(s *spec.Spec) ([]networkingv1.NetworkPolicy, error) {
	c := s.Cluster
	ns := c.MonitoringNamespace
	me := &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": BridgeName}}
	tcp := protoPtr(corev1.ProtocolTCP)
	fromMe := []networkingv1.NetworkPolicyPeer{{NamespaceSelector: nsSelector(ns), PodSelector: me}}
	egressT := []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
	ingressT := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	amPods, err := selector(c.Alertmanager.PodSelector)
	if err != nil {
		return nil, err
	}

	var egress, ingress []networkingv1.NetworkPolicy
	amPath, err := alertmanagerBridgePolicies(s)
	if err != nil {
		return nil, err
	}
	egress, ingress = append(egress, amPath[0]), append(ingress, amPath[1])
	amDNS, err := alertmanagerDNSPolicy(s)
	if err != nil {
		return nil, err
	}
	egress = append(egress, amDNS)

	eg := func(name string, rules ...networkingv1.NetworkPolicyEgressRule) {
		if len(rules) == 0 {
			return
		}
		np := netpol(s, name, ns, me, egressT)
		np.Spec.Egress = rules
		egress = append(egress, np)
	}
	web, err := webhookEgressRules(s)
	if err != nil {
		return nil, err
	}
	eg("gatewatch-bridge-egress-webhook", web...)
	eg("gatewatch-bridge-egress-dns", dnsEgressRule(s))
	if s.Explain.AccessLogs == "kube" || s.Explain.Config == "kube" {
		eg("gatewatch-bridge-egress-kube-api", apiServerEgressRule(s))
	}
	if port, ok := BridgeAlertmanagerPort(s); ok {
		amPorts := []networkingv1.NetworkPolicyPort{{Protocol: tcp, Port: portNum(port)}}
		eg("gatewatch-bridge-egress-alertmanager", networkingv1.NetworkPolicyEgressRule{
			To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: nsSelector(c.Alertmanager.Namespace), PodSelector: amPods}}, Ports: amPorts,
		})
		np := netpol(s, "gatewatch-alertmanager-allow-bridge", c.Alertmanager.Namespace, amPods, ingressT)
		np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: fromMe, Ports: amPorts}}
		ingress = append(ingress, np)
	}

	// The in-cluster gateway on the webhook path lets the bridge in.
	if w := c.WebhookPath; w.Via == spec.ViaGateway && w.Gateway.PodSelector != "" {
		gw, err := selector(w.Gateway.PodSelector)
		if err != nil {
			return nil, err
		}
		np := netpol(s, "gatewatch-allow-bridge-webhook", w.Gateway.Namespace, gw, ingressT)
		np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: fromMe, Ports: webhookPorts(w)}}
		ingress = append(ingress, np)
	}

	// The bridge's port, from the configured peers; pod peers' egress to it.
	webEgress, webIngress, err := webFromPolicies(s, ns, me, c.Bridge.WebFrom, BridgePort, "gatewatch-bridge-web-client", "gatewatch-bridge-allow-web")
	if err != nil {
		return nil, err
	}
	egress, ingress = append(egress, webEgress...), append(ingress, webIngress...)

	return deniedOnly(c, ingress, egress), nil
}

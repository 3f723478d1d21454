package render

import (
	"encoding/json"
	"fmt"
	"path"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gatewatch/gatewatch/internal/spec"
)

// Standalone deployment constants.
const (
	standaloneName = "gatewatch"
	// StandalonePort serves the status page, /metrics and the API.
	StandalonePort = 9421
	// GossipPort is where the replicas gossip (Alertmanager's cluster
	// port), TCP and UDP.
	GossipPort = 9094
	// ClusterServiceName is the headless Service whose DNS name lists
	// every replica: the --cluster.peer of each.
	ClusterServiceName = "gatewatch-cluster"
	// StandaloneSelector selects gatewatch's pods (the workload, both
	// Services and the NetworkPolicies go by it).
	StandaloneSelector = "app.kubernetes.io/name=" + standaloneName
	specMountDir       = "/etc/gatewatch"
	secretMountDir     = "/etc/gatewatch/secrets"
	dataDir            = "/var/lib/gatewatch"
)

// DeploymentSpec returns the spec as the deployed gatewatch reads it: the
// webhook URL replaced by the mounted Secret's file, never inline.
func DeploymentSpec(s *spec.Spec) ([]byte, error) { return deploymentSpec(s, TargetStandalone) }

// deploymentSpec is DeploymentSpec for the target that deploys it.
func deploymentSpec(s *spec.Spec, target string) ([]byte, error) {
	c := *s
	from := "the webhook URL comes from the Secret"
	if c.Mattermost.BotMode() {
		from = "the bot token comes from the Secret"
		c.Mattermost.BotToken = ""
		c.Mattermost.BotTokenFile = path.Join(secretMountDir, spec.BotTokenKey)
		if c.Mattermost.ActionsSecretFile != "" {
			c.Mattermost.ActionsSecretFile = path.Join(secretMountDir, spec.ActionsSecretKey)
		}
	} else {
		c.Mattermost.WebhookURL = ""
		c.Mattermost.WebhookURLFile = path.Join(secretMountDir, spec.SecretKey)
	}
	b, err := marshalSpec(&c)
	if err != nil {
		return nil, fmt.Errorf("render the deployed spec: %w", err)
	}
	return append([]byte("# Rendered by gatewatch render --target "+target+"; "+from+".\n"), b...), nil
}

// StandaloneExternalURL is the deployed gatewatch's --web.external-url.
func StandaloneExternalURL(s *spec.Spec) string {
	if u := s.Cluster.Standalone.ExternalURL; u != "" {
		return u
	}
	return fmt.Sprintf("http://%s.%s.svc:%d", standaloneName, s.Cluster.MonitoringNamespace, StandalonePort)
}

// marshalSpec writes the spec as YAML that reads back to the same values.
// yaml.v3 writes a string that spans lines as a block scalar, and some of
// those it cannot read back (one that starts with a newline, or whose first
// line starts with a space, inside a list: "did not find expected key", or
// the newline is lost). Such strings are written double-quoted instead:
// they are replaced by placeholders for the encoding into a node tree and
// put back, quoted, into the tree.
func marshalSpec(c *spec.Spec) ([]byte, error) {
	hidden := map[string]string{}
	hideMultiline(reflect.ValueOf(c).Elem(), hidden)
	if len(hidden) == 0 {
		return yaml.Marshal(c)
	}
	var doc yaml.Node
	if err := doc.Encode(c); err != nil {
		return nil, err
	}
	var restore func(n *yaml.Node)
	restore = func(n *yaml.Node) {
		if v, ok := hidden[n.Value]; ok && n.Kind == yaml.ScalarNode {
			n.Value, n.Style = v, yaml.DoubleQuotedStyle
		}
		for _, ch := range n.Content {
			restore(ch)
		}
	}
	restore(&doc)
	return yaml.Marshal(&doc)
}

// hideMultiline replaces, in v, every string that spans lines or starts or
// ends with white space by a placeholder recorded in hidden. Slices and maps
// are copied before they change, so the spec v was copied from keeps its
// values.
func hideMultiline(v reflect.Value, hidden map[string]string) {
	switch v.Kind() {
	case reflect.String:
		s := v.String()
		if v.CanSet() && (strings.Contains(s, "\n") || s != strings.TrimSpace(s)) {
			key := fmt.Sprintf("\x00gatewatch-hidden-%d", len(hidden)) // no spec value holds a NUL
			hidden[key] = s
			v.SetString(key)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				hideMultiline(v.Field(i), hidden)
			}
		}
	case reflect.Slice:
		if v.IsNil() || !v.CanSet() {
			return
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(c, v)
		v.Set(c)
		for i := range c.Len() {
			hideMultiline(c.Index(i), hidden)
		}
	case reflect.Map:
		if v.IsNil() || !v.CanSet() {
			return
		}
		c := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(it.Value())
			hideMultiline(e, hidden)
			c.SetMapIndex(it.Key(), e)
		}
		v.Set(c)
	}
}

// standalone renders what deploys gatewatch itself: ServiceAccount, a Role
// and RoleBinding per gateway namespace (get/list/watch pods, nothing else),
// the spec ConfigMap, a hardened StatefulSet of clustered replicas with a
// volume each for --data-dir, the web Service and the headless Service the
// replicas gossip through, a PodDisruptionBudget, the Secret example, and
// NetworkPolicies for every path gatewatch itself needs.
func standalone(s *spec.Spec) ([]File, error) {
	ns := s.Cluster.MonitoringNamespace
	labels := map[string]string{"app.kubernetes.io/name": standaloneName, "app.kubernetes.io/managed-by": "gatewatch"}
	meta := func(name, namespace string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels}
	}
	var files []File
	add := func(name, header string, v any) error {
		f, err := file(name, header, v)
		files = append(files, f)
		return err
	}

	rbac, err := rbacFiles(s, standaloneName, ns, true, true, meta)
	if err != nil {
		return nil, err
	}
	files = append(files, rbac...)

	specYAML, err := DeploymentSpec(s)
	if err != nil {
		return nil, err
	}
	if err := add("configmap-"+ns+"-gatewatch.yaml", "", &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: meta("gatewatch-spec", ns),
		Data: map[string]string{"gatewatch.yaml": string(specYAML)},
	}); err != nil {
		return nil, err
	}

	sts, err := withoutClaimStatus(statefulSet(s, ns, meta(standaloneName, ns), labels))
	if err != nil {
		return nil, err
	}
	if err := add("statefulset-"+ns+"-gatewatch.yaml", "", sts); err != nil {
		return nil, err
	}
	selector := map[string]string{"app.kubernetes.io/name": standaloneName}
	if err := add("service-"+ns+"-gatewatch.yaml", "", &corev1.Service{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}, ObjectMeta: meta(standaloneName, ns),
		Spec: corev1.ServiceSpec{
			Selector: selector,
			Ports:    []corev1.ServicePort{{Name: "http", Port: StandalonePort, TargetPort: intstr.FromString("http")}},
		},
	}); err != nil {
		return nil, err
	}
	// The replicas find each other through this headless Service's DNS
	// name: every replica's address, ready or not (a replica is not ready
	// before it has joined, so only ready addresses would never let the
	// first ones meet).
	if err := add("service-"+ns+"-"+ClusterServiceName+".yaml", "", &corev1.Service{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}, ObjectMeta: meta(ClusterServiceName, ns),
		Spec: corev1.ServiceSpec{
			ClusterIP:                corev1.ClusterIPNone,
			PublishNotReadyAddresses: true,
			Selector:                 selector,
			Ports: []corev1.ServicePort{
				{Name: "mesh-tcp", Port: GossipPort, TargetPort: intstr.FromString("mesh-tcp"), Protocol: corev1.ProtocolTCP},
				{Name: "mesh-udp", Port: GossipPort, TargetPort: intstr.FromString("mesh-udp"), Protocol: corev1.ProtocolUDP},
			},
		},
	}); err != nil {
		return nil, err
	}
	// One replica at a time may be evicted (a node drain): the others keep
	// scraping and notifying.
	if err := add("poddisruptionbudget-"+ns+"-gatewatch.yaml", "", onePodAtATime(meta(standaloneName, ns), selector)); err != nil {
		return nil, err
	}
	sec, err := secretExample(s, ns)
	if err != nil {
		return nil, err
	}
	files = append(files, sec)

	dash, err := dashboardFile(s)
	if err != nil {
		return nil, err
	}
	files = append(files, dash)
	if s.Cluster.Standalone.ServiceMonitor {
		meta, err := metaFiles(s, ns)
		if err != nil {
			return nil, err
		}
		files = append(files, meta...)
	}
	nps, err := standalonePolicies(s, ns)
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

// statefulSet is gatewatch's workload: cluster.standalone.replicas
// replicas, each scraping and evaluating on its own and gossiping silences
// and the notification log with the others on GossipPort (Alertmanager's
// cluster flags), each with its own --data-dir volume.
func statefulSet(s *spec.Spec, ns string, meta metav1.ObjectMeta, labels map[string]string) *appsv1.StatefulSet {
	st := s.Cluster.Standalone
	selector := map[string]string{"app.kubernetes.io/name": standaloneName}
	size := resource.MustParse(st.Storage.Size) // validated by spec
	volumes := []corev1.Volume{
		{Name: "spec", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "gatewatch-spec"}}}},
		{Name: "webhook", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: s.Cluster.Alertmanager.SecretName}}},
		{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	var claims []corev1.PersistentVolumeClaim
	if st.Storage.EmptyDir {
		volumes = append(volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: &size}}})
	} else {
		pvc := corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: "data", Labels: labels},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
			},
		}
		if st.Storage.StorageClass != "" {
			pvc.Spec.StorageClassName = ptr(st.Storage.StorageClass)
		}
		claims = append(claims, pvc)
	}
	gossip := fmt.Sprintf(":%d", GossipPort)
	return &appsv1.StatefulSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: meta,
		Spec: appsv1.StatefulSetSpec{
			Replicas:    ptr(int32(st.Replicas)),
			ServiceName: ClusterServiceName,
			// The replicas are peers, not an ordered chain: all start at
			// once and find each other through the headless Service.
			PodManagementPolicy: appsv1.ParallelPodManagement,
			UpdateStrategy:      appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType},
			Selector:            &metav1.LabelSelector{MatchLabels: selector},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					ServiceAccountName: standaloneName,
					SecurityContext:    podSecurityContext(),
					Affinity:           spreadAcrossNodes(selector),
					Containers: []corev1.Container{{
						Name:  standaloneName,
						Image: s.Cluster.Image,
						Args: []string{"run", "-c", path.Join(specMountDir, "gatewatch.yaml"),
							fmt.Sprintf("--listen=0.0.0.0:%d", StandalonePort), "--data-dir=" + dataDir, "--log.format=json",
							"--web.external-url=" + StandaloneExternalURL(s),
							"--cluster.listen-address=0.0.0.0" + gossip,
							"--cluster.advertise-address=$(POD_IP)" + gossip,
							"--cluster.peer=" + ClusterServiceName + "." + ns + ".svc" + gossip,
							"--cluster.peer-name=$(POD_NAME)"},
						Ports: []corev1.ContainerPort{
							{Name: "http", ContainerPort: StandalonePort, Protocol: corev1.ProtocolTCP},
							{Name: "mesh-tcp", ContainerPort: GossipPort, Protocol: corev1.ProtocolTCP},
							{Name: "mesh-udp", ContainerPort: GossipPort, Protocol: corev1.ProtocolUDP},
						},
						Env: []corev1.EnvVar{
							{Name: MemoryLimitEnv, ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: standaloneName, Resource: "limits.memory"}}},
							{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
							{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
						},
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(StandaloneCPURequest), corev1.ResourceMemory: resource.MustParse(StandaloneMemoryRequest)},
							Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(StandaloneMemoryLimit)},
						},
						LivenessProbe:   httpProbe("/-/healthy", 20),
						ReadinessProbe:  httpProbe("/-/ready", 10),
						SecurityContext: containerSecurityContext(),
						VolumeMounts: []corev1.VolumeMount{
							{Name: "spec", MountPath: specMountDir, ReadOnly: true},
							{Name: "webhook", MountPath: secretMountDir, ReadOnly: true},
							{Name: "data", MountPath: dataDir},
							{Name: "tmp", MountPath: "/tmp"},
						},
					}},
					Volumes: volumes,
				},
			},
			VolumeClaimTemplates: claims,
		},
	}
}

// podSecurityContext runs gatewatch's pods as the image's non-root user
// (65532, distroless's nonroot), its volumes writable by that group, under
// the runtime's default seccomp profile.
func podSecurityContext() *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{
		RunAsNonRoot: ptr(true), RunAsUser: ptr(int64(65532)), RunAsGroup: ptr(int64(65532)), FSGroup: ptr(int64(65532)),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// containerSecurityContext: no privilege escalation, a read-only root
// filesystem, no capabilities.
func containerSecurityContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr(false), ReadOnlyRootFilesystem: ptr(true),
		Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
}

// spreadAcrossNodes puts the replicas on different nodes when there are
// enough: one node's loss should not take every replica.
func spreadAcrossNodes(selector map[string]string) *corev1.Affinity {
	return &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
			Weight: 100,
			PodAffinityTerm: corev1.PodAffinityTerm{
				LabelSelector: &metav1.LabelSelector{MatchLabels: selector},
				TopologyKey:   "kubernetes.io/hostname",
			},
		}},
	}}
}

// onePodAtATime is a PodDisruptionBudget letting one of the selected pods
// be evicted at a time (a node drain).
func onePodAtATime(meta metav1.ObjectMeta, selector map[string]string) *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{
		TypeMeta: metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"}, ObjectMeta: meta,
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: ptr(intstr.FromInt32(1)),
			Selector:       &metav1.LabelSelector{MatchLabels: selector},
		},
	}
}

// httpProbe probes path on the container's "http" port every period seconds.
func httpProbe(path string, period int32) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("http")}}, PeriodSeconds: period}
}

// withoutClaimStatus is the StatefulSet as a manifest: its
// volumeClaimTemplates without the empty status the typed struct always
// carries.
func withoutClaimStatus(sts *appsv1.StatefulSet) (map[string]any, error) {
	b, err := json.Marshal(sts)
	if err != nil {
		return nil, fmt.Errorf("render the StatefulSet: %w", err)
	}
	var obj map[string]any
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, fmt.Errorf("render the StatefulSet: %w", err)
	}
	spec, _ := obj["spec"].(map[string]any)
	claims, _ := spec["volumeClaimTemplates"].([]any)
	for _, c := range claims {
		if c, ok := c.(map[string]any); ok {
			delete(c, "status")
		}
	}
	return obj, nil
}

// rbacFiles are the ServiceAccount sa in ns (its token mounted when
// automount) and its grants in the gateways' namespaces: with discovery,
// get/list/watch pods (gatewatch run finds the gateway pods); for explain's
// kube sources, the gateway pods' logs, the
// Services in front of them and the TLS Secrets the Gateways name (only the
// certificate is kept, the key is dropped on read), and cluster-wide the
// Gateways and their routing. No Role when none is needed.
func rbacFiles(s *spec.Spec, sa, ns string, automount, discovery bool, meta func(name, namespace string) metav1.ObjectMeta) ([]File, error) {
	var files []File
	add := func(name string, v any) error {
		f, err := file(name, "", v)
		files = append(files, f)
		return err
	}
	if err := add("serviceaccount-"+ns+"-"+sa+".yaml", &corev1.ServiceAccount{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: meta(sa, ns),
		AutomountServiceAccountToken: ptr(automount),
	}); err != nil {
		return nil, err
	}
	logs, config := s.Explain.AccessLogs == "kube", s.Explain.Config == "kube"
	name := sa + "-pod-discovery"
	if !discovery {
		name = sa + "-explain"
	}
	for _, gns := range gatewayNamespaces(s) {
		role := &rbacv1.Role{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"}, ObjectMeta: meta(name, gns)}
		switch {
		case discovery:
			role.Rules = append(role.Rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}})
		case logs:
			// explain finds the gateway's pods before it reads their logs.
			role.Rules = append(role.Rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}})
		}
		if logs {
			role.Rules = append(role.Rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods/log"}, Verbs: []string{"get"}})
		}
		if config {
			role.Rules = append(role.Rules,
				rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: []string{"list"}},
				rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}})
		}
		if len(role.Rules) == 0 {
			continue
		}
		binding := &rbacv1.RoleBinding{
			TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"}, ObjectMeta: meta(name, gns),
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: role.Name},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa, Namespace: ns}},
		}
		if err := add("role-"+gns+"-"+name+".yaml", role); err != nil {
			return nil, err
		}
		if err := add("rolebinding-"+gns+"-"+name+".yaml", binding); err != nil {
			return nil, err
		}
	}
	if config {
		// Gateways and their routing can live in any namespace.
		cr := &rbacv1.ClusterRole{
			TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"}, ObjectMeta: meta(sa+"-explain", ""),
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{"networking.istio.io"}, Resources: []string{"gateways", "virtualservices", "envoyfilters"}, Verbs: []string{"list"}},
				{APIGroups: []string{"gateway.networking.k8s.io"}, Resources: []string{"gateways"}, Verbs: []string{"list"}},
			},
		}
		crb := &rbacv1.ClusterRoleBinding{
			TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"}, ObjectMeta: meta(sa+"-explain", ""),
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: cr.Name},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa, Namespace: ns}},
		}
		if err := add("clusterrole-"+cr.Name+".yaml", cr); err != nil {
			return nil, err
		}
		if err := add("clusterrolebinding-"+crb.Name+".yaml", crb); err != nil {
			return nil, err
		}
	}
	return files, nil
}

func gatewayNamespaces(s *spec.Spec) []string {
	var out []string
	seen := map[string]bool{}
	for _, g := range s.Gateways {
		if g.Selector != "" && !seen[g.Namespace] {
			seen[g.Namespace] = true
			out = append(out, g.Namespace)
		}
	}
	return out
}

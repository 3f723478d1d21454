package explain

import (
	"context"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/gatewatch/gatewatch/internal/explain/gwconfig"
)

// ConfigSource yields the gateway configuration to analyse.
type ConfigSource interface {
	// Config loads it; warn is told about what could not be read.
	Config(ctx context.Context, warn func(string)) (*gwconfig.Config, error)
	String() string
}

// StaticConfig is a ConfigSource of an already loaded configuration.
type StaticConfig struct {
	C    *gwconfig.Config
	Name string
}

func (s StaticConfig) String() string { return s.Name }

// Config returns the configuration.
func (s StaticConfig) Config(context.Context, func(string)) (*gwconfig.Config, error) {
	return s.C, nil
}

// DirConfig reads manifests (YAML or JSON, multi-document, recursively)
// from a directory or one file.
type DirConfig struct{ Path string }

func (d DirConfig) String() string { return "manifests in " + d.Path }

// Config loads the manifests, stopping between files when ctx ends.
func (d DirConfig) Config(ctx context.Context, _ func(string)) (*gwconfig.Config, error) {
	c, err := gwconfig.LoadDirContext(ctx, d.Path)
	if err != nil {
		return nil, err // gwconfig says "read gateway configuration …"
	}
	return c, nil
}

// KubeConfig reads the configuration through the API: Istio Gateways,
// VirtualServices and EnvoyFilters, Gateway API Gateways, the Services in
// their namespaces, and only the TLS Secrets the gateways name (their
// certificates; private keys are dropped as soon as they are read). It needs
// list on those resources and get on the Secrets.
type KubeConfig struct {
	Client dynamic.Interface
	// Namespace limits the Gateways read ("" is every namespace);
	// VirtualServices and EnvoyFilters are read in every namespace.
	Namespace string
	// GatewayNamespaces are where the gateway pods run (credentialName
	// Secrets live there); the Gateways' own namespaces are always tried.
	GatewayNamespaces []string
}

func (k KubeConfig) String() string {
	if k.Namespace == "" {
		return "the cluster (all namespaces)"
	}
	return "the cluster (namespace " + k.Namespace + ")"
}

// resource is one kind to list, with the versions to try in order.
type resource struct {
	group, resource string
	versions        []string
}

var kubeResources = []resource{
	{"networking.istio.io", "gateways", []string{"v1", "v1beta1", "v1alpha3"}},
	{"networking.istio.io", "virtualservices", []string{"v1", "v1beta1", "v1alpha3"}},
	{"networking.istio.io", "envoyfilters", []string{"v1alpha3"}},
	{"gateway.networking.k8s.io", "gateways", []string{"v1", "v1beta1"}},
}

// Config reads the resources. A kind whose CRD is not installed is skipped
// quietly; one that cannot be read (forbidden) is a warning.
func (k KubeConfig) Config(ctx context.Context, warn func(string)) (*gwconfig.Config, error) {
	c := gwconfig.New()
	read := 0
	// Services and Secrets are read only where the gateways are: the pods'
	// namespaces and the Gateway resources' own (not every namespace a
	// VirtualService or EnvoyFilter lives in).
	namespaces := slices.Clone(k.GatewayNamespaces)
	var lastErr error
	for _, r := range kubeResources {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		list, err := k.list(ctx, r)
		if err != nil {
			if !apierrors.IsNotFound(err) {
				warn(fmt.Sprintf("%s.%s: %v", r.resource, r.group, err))
				lastErr = err
			}
			continue
		}
		read++
		for i := range list.Items {
			obj := &list.Items[i]
			if r.resource == "gateways" {
				namespaces = append(namespaces, obj.GetNamespace())
			}
			c.Add(fmt.Sprintf("kube %s/%s", strings.ToLower(obj.GetKind()), obj.GetNamespace()+"/"+obj.GetName()), obj.Object)
		}
	}
	if read == 0 && lastErr != nil {
		return nil, fmt.Errorf("read gateway configuration from the cluster: %w", lastErr)
	}
	slices.Sort(namespaces)
	namespaces = slices.Compact(namespaces)

	// Services in front of the gateway pods (their load-balancer addresses).
	services := schema.GroupVersionResource{Version: "v1", Resource: "services"}
	for _, ns := range namespaces {
		list, err := k.Client.Resource(services).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			warn(fmt.Sprintf("services in %s: %v", ns, err))
			continue
		}
		for i := range list.Items {
			if t, _, _ := unstructured.NestedString(list.Items[i].Object, "spec", "type"); t == "LoadBalancer" || t == "NodePort" {
				c.Add("kube service/"+ns+"/"+list.Items[i].GetName(), list.Items[i].Object)
			}
		}
	}

	// Only the Secrets the servers name.
	secrets := schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	seen := map[string]bool{}
	for _, g := range c.Gateways() {
		for _, s := range g.Servers {
			for _, cred := range s.Credentials {
				// A Gateway API reference names its namespace; Istio's
				// credentialName is looked up where the gateway pods run,
				// then in the Gateway's namespace.
				ns, name, ok := strings.Cut(cred, "/")
				try := []string{ns}
				if !ok {
					name, try = cred, uniq(append(slices.Clone(k.GatewayNamespaces), g.Namespace))
				}
				found := false
				for _, ns := range try {
					key := ns + "/" + name
					if seen[key] {
						found = true
						break
					}
					obj, err := k.Client.Resource(secrets).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
					if apierrors.IsNotFound(err) {
						continue
					}
					if err != nil {
						warn(fmt.Sprintf("secret %s: %v", key, err))
						continue
					}
					seen[key], found = true, true
					c.Add("kube secret/"+key, certificateOnly(obj.Object))
					break
				}
				if !found {
					warn(fmt.Sprintf("%s: certificate Secret %q not found in %s", g.Key(), name, strings.Join(try, ", ")))
				}
			}
		}
	}
	// Cut short by the deadline, the configuration lacks Services or
	// certificates: an error, so nobody caches or trusts it.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

// uniq drops repeated values, keeping the first place of each.
func uniq(ss []string) []string {
	var out []string
	for _, s := range ss {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func (k KubeConfig) list(ctx context.Context, r resource) (*unstructured.UnstructuredList, error) {
	// Namespace limits the Gateways; EnvoyFilters (the root namespace's
	// apply everywhere) and VirtualServices are read wherever they are.
	ns := ""
	if r.resource == "gateways" {
		ns = k.Namespace
	}
	var err error
	for _, v := range r.versions {
		var list *unstructured.UnstructuredList
		list, err = k.Client.Resource(schema.GroupVersionResource{Group: r.group, Version: v, Resource: r.resource}).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err == nil {
			return list, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, err
		}
	}
	return nil, err
}

// certificateOnly keeps a Secret's identity and certificate keys: the
// private key (also in a last-applied-configuration annotation) never leaves
// this function.
func certificateOnly(obj map[string]any) map[string]any {
	out := map[string]any{"apiVersion": obj["apiVersion"], "kind": obj["kind"], "type": obj["type"]}
	if md, ok := obj["metadata"].(map[string]any); ok {
		out["metadata"] = map[string]any{"name": md["name"], "namespace": md["namespace"]}
	}
	for _, field := range []string{"data", "stringData"} {
		m, ok := obj[field].(map[string]any)
		if !ok {
			continue
		}
		keep := map[string]any{}
		for k, v := range m {
			if k == "tls.crt" || k == "cert" || k == "ca.crt" || k == "cacert" {
				keep[k] = v
			}
		}
		out[field] = keep
	}
	return out
}

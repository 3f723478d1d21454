package doctor

import (
	"context"
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatewatch/gatewatch/internal/manifest"
	"github.com/gatewatch/gatewatch/internal/render"
)

// renderStale (render/stale): every gatewatch object in the manifests (one
// labelled app.kubernetes.io/managed-by=gatewatch, a gatewatch/ scrape job,
// a gatewatch- chart PodMonitor) is one the spec renders for some target. A
// PodMonitor for a gateway no longer in the spec is left over from an
// earlier render: `kubectl apply -f` re-applies it and it keeps scraping
// and alerting. Live, the cluster's gatewatch NetworkPolicies are compared
// (the monitoring kinds need the prometheus-operator's API).
type renderStale struct{}

func (renderStale) ID() string    { return "render/stale" }
func (renderStale) Title() string { return "Every gatewatch object is one the spec renders" }
func (renderStale) Offline() bool { return true }

func (renderStale) Run(ctx context.Context, env *Env) Result {
	produced, err := renderedObjects(env)
	if err != nil {
		return failed("the spec does not render", "run `gatewatch render` to see why", err.Error())
	}
	var found []ownedObject
	what := "object"
	if env.offline() {
		found = env.Manifests.owned
	} else {
		if env.Kube == nil {
			return skip("no Kubernetes access (use --kubeconfig)")
		}
		what = "NetworkPolicy"
		nps, err := env.Kube.NetworkingV1().NetworkPolicies("").List(ctx, metav1.ListOptions{LabelSelector: managedBy + "=gatewatch"})
		if err != nil {
			return failed("cannot list NetworkPolicies", "check --kubeconfig and that it may list NetworkPolicies", err.Error())
		}
		for _, np := range nps.Items {
			found = append(found, ownedObject{key: "NetworkPolicy/" + np.Namespace + "/" + np.Name, source: "the cluster"})
		}
	}
	var stale []string
	for _, o := range found {
		if !produced[o.key] {
			stale = append(stale, fmt.Sprintf("%s (%s): no target renders it for this spec", describeKey(o.key), o.source))
		}
	}
	sort.Strings(stale)
	if len(stale) > 0 {
		hint := "re-render into the folder with `gatewatch render -o DIR` (it removes the files it wrote that the spec no longer produces) or delete them; in the cluster: kubectl delete the objects"
		return warn(fmt.Sprintf("%d gatewatch %s(s) the spec no longer produces", len(stale), what), hint, stale...)
	}
	return pass(fmt.Sprintf("%d gatewatch %s(s), each rendered by the spec", len(found), what))
}

// renderedObjects are the keys of everything the spec renders, for every
// target, read back as the manifests are (Manifests.owned).
func renderedObjects(env *Env) (map[string]bool, error) {
	out := map[string]bool{}
	for _, t := range render.Targets() {
		files, err := t.Render(env.Spec)
		if err != nil {
			return nil, fmt.Errorf("render %s: %w", t.Name, err)
		}
		m := &Manifests{namespaces: map[string]map[string]string{}}
		for _, f := range files {
			for _, o := range manifest.Read(f.Name, append([]byte(f.Header), f.Content...)) {
				if o.Err == nil {
					_ = m.read(o)
				}
			}
		}
		for _, o := range m.owned {
			out[o.key] = true
		}
	}
	return out, nil
}

// describeKey is "Kind namespace/name" (or "Kind name").
func describeKey(key string) string {
	kind, rest, _ := strings.Cut(key, "/")
	ns, name, _ := strings.Cut(rest, "/")
	if ns == "" {
		return kind + " " + name
	}
	return kind + " " + ns + "/" + name
}

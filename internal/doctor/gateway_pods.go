package doctor

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// gatewayPods (gateway/pods): the selector finds Running, Ready gateway pods.
type gatewayPods struct{}

func (gatewayPods) ID() string    { return "gateway/pods" }
func (gatewayPods) Title() string { return "The selector finds Running, Ready gateway pods" }
func (gatewayPods) Offline() bool { return true }

func (gatewayPods) Run(ctx context.Context, env *Env) Result {
	byGateway, err := env.podsByGateway(ctx)
	if err != nil {
		return verdict(err)
	}
	var all []corev1.Pod
	var evidence []string
	bad, unknown := 0, 0
	matchedNotReady := false
	for _, g := range env.Spec.Gateways {
		if g.Selector == "" {
			evidence = append(evidence, fmt.Sprintf("%s: static targets only", g.Name))
			continue
		}
		pods := byGateway[g.Name]
		if env.offline() && len(pods) == 0 && len(env.Manifests.podsMatching(g.Namespace, labels.Everything())) == 0 {
			unknown++
			evidence = append(evidence, fmt.Sprintf("%s: the manifests hold no workload in %s to match %q against", g.Name, g.Namespace, g.Selector))
			continue
		}
		ready := 0
		var notReady []string
		for _, p := range pods {
			if env.offline() || (p.Status.Phase == corev1.PodRunning && podReady(p)) {
				ready++
			} else if len(notReady) < 5 {
				notReady = append(notReady, fmt.Sprintf("%s: pod %s is %s", g.Name, p.Name, podState(p)))
			}
		}
		all = append(all, pods...)
		evidence = append(evidence, fmt.Sprintf("%s: %d pod(s) match %q in %s, %d Running and Ready", g.Name, len(pods), g.Selector, g.Namespace, ready))
		evidence = append(evidence, notReady...)
		if ready == 0 {
			bad++
			if len(pods) > 0 {
				matchedNotReady = true
			}
		}
	}
	if unknown > 0 && bad == 0 && len(all) == 0 {
		return warn("the gateway's own workload is not in the manifests", "add the gateway Deployment's manifest to the directory to check the selector, or run doctor against the live cluster", evidence...)
	}
	if bad > 0 {
		what := "no Running, Ready pod matches the gateway selector"
		if env.offline() {
			what = "no pod template in the manifests matches the gateway selector"
		}
		if matchedNotReady {
			return failed("the gateway's pods match but none is Running and Ready", "`kubectl -n <namespace> describe pod <pod>`: the istio-proxy readiness probe (:15021/healthz/ready) fails while Envoy has no configuration from istiod", evidence...)
		}
		return failed(what, "compare gateways[].selector and namespace with `kubectl get pods -n <namespace> --show-labels`", evidence...)
	}
	return pass(fmt.Sprintf("%d gateway pod(s) found", len(all)), evidence...)
}

// listGatewayPods establishes the gateway pods fact (Env.podsByGateway):
// offline the manifests' pods and pod templates, live the API's pods. A
// failure carries gateway/pods' verdict.
func listGatewayPods(ctx context.Context, env *Env) (map[string][]corev1.Pod, error) {
	byGateway := map[string][]corev1.Pod{}
	for _, g := range env.Spec.Gateways {
		if g.Selector == "" {
			continue
		}
		sel, err := labels.Parse(g.Selector)
		if err != nil {
			return nil, &verdictError{failed(fmt.Sprintf("gateway %s: invalid selector", g.Name), "fix gateways[].selector", err.Error())}
		}
		if env.offline() {
			byGateway[g.Name] = env.Manifests.podsMatching(g.Namespace, sel)
			continue
		}
		if env.Kube == nil {
			return nil, &verdictError{skip("no Kubernetes API (use --kubeconfig)")}
		}
		list, err := env.Kube.CoreV1().Pods(g.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			return nil, &verdictError{failed(fmt.Sprintf("listing pods in %s failed", g.Namespace), "check the kubeconfig and that you may list pods there", err.Error())}
		}
		byGateway[g.Name] = list.Items
	}
	return byGateway, nil
}

// podState says why a pod is not serving: its phase and the Ready
// condition's reason and message.
func podState(p corev1.Pod) string {
	state := string(p.Status.Phase)
	if state == "" {
		state = "Pending"
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status != corev1.ConditionTrue {
			state += ", not Ready"
			if c.Reason != "" {
				state += " (" + c.Reason
				if c.Message != "" {
					state += ": " + c.Message
				}
				state += ")"
			}
		}
	}
	return state
}

func podReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

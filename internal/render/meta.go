package render

import (
	"fmt"
	"regexp"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// Meta-monitoring: the watcher watched. With
// cluster.standalone.service_monitor, render --target standalone also
// writes a ServiceMonitor for gatewatch's /metrics and a PrometheusRule with
// gatewatch's own alerts, for the cluster's Prometheus (prometheus-operator)
// and Alertmanager: gatewatch cannot tell anyone that it is down, blind or
// unable to post.

// MetaRuleGroup is the PrometheusRule group name of gatewatch's own alerts.
const MetaRuleGroup = "gatewatch-self"

// MetaRules are gatewatch's own alerts for the Prometheus that scrapes the
// standalone deployment's Service (job "gatewatch" in its namespace).
func MetaRules(s *spec.Spec) rules.File {
	sel := fmt.Sprintf(`job=%q, namespace=%q`, standaloneName, s.Cluster.MonitoringNamespace)
	where := fmt.Sprintf("gatewatch in namespace %s", s.Cluster.MonitoringNamespace)
	rule := func(alert, expr, for_, severity, summary, description string) rules.Rule {
		d, err := model.ParseDuration(for_)
		if err != nil {
			panic(err) // constants below
		}
		// namespace on every alert: the operator adds a namespace matcher to
		// every AlertmanagerConfig route, and some expressions (absent, max
		// by gateway) keep none of their own.
		return rules.Rule{Alert: alert, Expr: expr, For: spec.Duration(d),
			Labels:      map[string]string{"severity": severity, "namespace": s.Cluster.MonitoringNamespace},
			Annotations: map[string]string{"summary": summary, "description": description}}
	}
	rs := []rules.Rule{
		rule("GatewatchDown", fmt.Sprintf(`absent(up{%s} == 1)`, sel), "5m", "critical",
			"No gatewatch replica is up",
			"No replica of "+where+" has answered a scrape for 5 minutes: nothing watches the gateways for 421s. `kubectl -n "+s.Cluster.MonitoringNamespace+" get pods -l app.kubernetes.io/name=gatewatch`."),
		rule("GatewatchNotificationsFailing",
			// Summed per pod before subtracting: the failed counter has a
			// reason label the total does not.
			fmt.Sprintf(`sum by (namespace, pod) (increase(alertmanager_notifications_failed_total{%[1]s}[10m])) > 0
unless on (namespace, pod)
(sum by (namespace, pod) (increase(alertmanager_notifications_total{%[1]s}[10m])) - sum by (namespace, pod) (increase(alertmanager_notifications_failed_total{%[1]s}[10m]))) > 0`, sel),
			"5m", "critical",
			"gatewatch cannot post to Mattermost",
			"{{ $labels.pod }} has failed {{ $value | printf \"%.0f\" }} Mattermost notification attempts in 10 minutes and delivered none. `gatewatch doctor` checks the path; the status page lists the pending notifications."),
		rule("GatewatchNotificationsPending",
			fmt.Sprintf(`max by (namespace, pod) (gatewatch_notifications_pending_oldest_age_seconds{%s}) > 900`, sel),
			"0s", "warning",
			"A gatewatch notification has waited over 15 minutes",
			"{{ $labels.pod }} holds a notification that Mattermost has not accepted for {{ $value | humanizeDuration }}; it is retried until --notification.max-pending-age."),
		rule("GatewatchNotificationsDropped",
			fmt.Sprintf(`sum by (namespace, pod) (increase(gatewatch_notifications_dropped_total{%s}[1h])) > 0`, sel),
			"0s", "critical",
			"gatewatch gave up on a notification",
			"{{ $labels.pod }} dropped a notification after --notification.max-pending-age without Mattermost accepting it."),
		rule("GatewatchGatewayBlind",
			fmt.Sprintf(`max by (gateway_namespace, gateway) (gatewatch_gateway_targets{%s, health="up"}) == 0`, sel),
			"10m", "critical",
			"gatewatch sees no stats page of gateway {{ $labels.gateway }}",
			"No replica of "+where+" has a healthy scrape target for gateway {{ $labels.gateway }} in {{ $labels.gateway_namespace }}: a 421 there goes unnoticed. `gatewatch doctor` names the broken step (discovery, NetworkPolicy, port 15090)."),
		rule("GatewatchConfigReloadFailed",
			fmt.Sprintf(`max by (namespace, pod) (gatewatch_config_last_reload_successful{%s}) == 0`, sel),
			"10m", "warning",
			"gatewatch could not load its new spec",
			"{{ $labels.pod }} keeps running the previous spec: the last reload failed. `gatewatch check -c gatewatch.yaml` says why."),
		rule("GatewatchRuleEvaluationFailing",
			fmt.Sprintf(`sum by (namespace, pod) (increase(prometheus_rule_evaluation_failures_total{%s}[10m])) > 0`, sel),
			"10m", "warning",
			"gatewatch's alert rules fail to evaluate",
			"{{ $labels.pod }}'s rule evaluations have been failing for 10 minutes; its /api/v1/rules shows the error."),
		rule("GatewatchWatchdog", fmt.Sprintf(`max by (namespace) (up{%s}) == 1`, sel), "0s", "none",
			"gatewatch is alive",
			"Always firing while a replica of "+where+" is up, as kube-prometheus-stack's Watchdog: route it to a dead man's switch, which alerts when it stops."),
	}
	// The spec's stats-down alerts, by the names it gives them.
	var statsDown []string
	for _, a := range s.EnabledAlerts() {
		if a.Kind == rules.KindStatsDown {
			statsDown = append(statsDown, regexp.QuoteMeta(a.Name))
		}
	}
	if len(statsDown) > 0 {
		rs = append(rs, rule("GatewatchGatewayStatsMissing",
			fmt.Sprintf(`max by (alert) (gatewatch_alerts{%s, alert=~%q, state="firing"}) > 0`, sel, strings.Join(statsDown, "|")),
			"15m", "warning",
			"A gateway's stats page has been unusable for 15 minutes",
			"gatewatch's {{ $labels.alert }} alert has fired for 15 minutes: a target is down, not Envoy, or its page lacks istio_requests_total (gatewatch is blind to its 421s). Its Mattermost message names the pod and the cause."))
	}
	if n := s.Cluster.Standalone.Replicas; n > 1 {
		rs = append(rs, rule("GatewatchClusterMembersMissing",
			fmt.Sprintf(`min by (namespace) (alertmanager_cluster_members{%s}) < %d`, sel, n),
			"10m", "warning",
			"gatewatch replicas do not see each other",
			fmt.Sprintf("A replica of %s sees {{ $value }} of %d cluster members: silences and the notification log are not shared, so a failover may post twice or miss a silence. Check the %s Service and the gossip NetworkPolicy (port %d).", where, n, ClusterServiceName, GossipPort)))
	}
	return rules.File{Groups: []rules.Group{{Name: MetaRuleGroup, Rules: rs}}}
}

// metaFiles are the ServiceMonitor and the PrometheusRule.
func metaFiles(s *spec.Spec, ns string) ([]File, error) {
	sm := &monitoringv1.ServiceMonitor{
		TypeMeta:   metav1.TypeMeta{APIVersion: "monitoring.coreos.com/v1", Kind: "ServiceMonitor"},
		ObjectMeta: metav1.ObjectMeta{Name: standaloneName, Namespace: ns, Labels: managedLabels(s, true)},
		Spec: monitoringv1.ServiceMonitorSpec{
			Selector:          metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": standaloneName}},
			NamespaceSelector: monitoringv1.NamespaceSelector{MatchNames: []string{ns}},
			Endpoints:         []monitoringv1.Endpoint{{Port: "http", Path: "/metrics", Interval: "30s"}},
		},
	}
	// The Service's selector labels also select the headless gossip
	// Service; its ports have no "http", so it yields no target.
	var groups []monitoringv1.RuleGroup
	for _, g := range MetaRules(s).Groups {
		rg := monitoringv1.RuleGroup{Name: g.Name}
		for _, r := range g.Rules {
			mr := monitoringv1.Rule{Alert: r.Alert, Expr: intstr.FromString(r.Expr), Labels: r.Labels, Annotations: r.Annotations}
			if r.For != 0 {
				mr.For = ptr(monitoringv1.Duration(r.For.String()))
			}
			rg.Rules = append(rg.Rules, mr)
		}
		groups = append(groups, rg)
	}
	pr := &monitoringv1.PrometheusRule{
		TypeMeta:   metav1.TypeMeta{APIVersion: "monitoring.coreos.com/v1", Kind: "PrometheusRule"},
		ObjectMeta: metav1.ObjectMeta{Name: standaloneName + "-self", Namespace: ns, Labels: managedLabels(s, true)},
		Spec:       monitoringv1.PrometheusRuleSpec{Groups: groups},
	}
	var out []File
	for _, o := range []struct {
		name string
		v    any
	}{{"self-servicemonitor-" + ns + "-gatewatch.yaml", sm}, {"self-prometheusrule-" + ns + "-gatewatch.yaml", pr}} {
		f, err := file(o.name, "", o.v)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

package render

import (
	"fmt"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// SecretPlaceholder is the value rendered Secrets carry instead of the URL.
const SecretPlaceholder = "https://mattermost.example.com/hooks/REPLACE-WITH-YOUR-WEBHOOK-ID"

func ptr[T any](v T) *T { return &v }

// operator renders prometheus-operator custom resources: a PodMonitor per
// gateway (plus a ScrapeConfig for static targets), one PrometheusRule, an
// AlertmanagerConfig and its Secret per gateway namespace, and the
// NetworkPolicies.
func operator(s *spec.Spec) ([]File, error) {
	var files []File
	for _, g := range s.Gateways {
		if g.Selector != "" {
			pm, err := podMonitor(s, g)
			if err != nil {
				return nil, err
			}
			f, err := file(fmt.Sprintf("podmonitor-%s-%s.yaml", g.Namespace, pm.Name), "", pm)
			if err != nil {
				return nil, err
			}
			files = append(files, f)
		}
		if len(g.StaticTargets) > 0 {
			sc := scrapeConfigCR(s, g)
			f, err := file(fmt.Sprintf("scrapeconfig-%s-%s.yaml", sc.Namespace, sc.Name), "", sc)
			if err != nil {
				return nil, err
			}
			files = append(files, f)
		}
	}
	pr := prometheusRule(s)
	f, err := file(fmt.Sprintf("prometheusrule-%s-%s.yaml", pr.Namespace, pr.Name), "", pr)
	if err != nil {
		return nil, err
	}
	files = append(files, f)
	for _, ns := range alertmanagerConfigNamespaces(s) {
		if !throughBridge(s) {
			// Through the bridge, the bridge holds the Secret (render
			// --target bridge), not Alertmanager.
			f, err := secretExample(s, ns)
			if err != nil {
				return nil, err
			}
			files = append(files, f)
		}
		amc := alertmanagerConfigCR(s, ns)
		f, err = file(fmt.Sprintf("alertmanagerconfig-%s-%s.yaml", ns, amc.Name), amcHeader, amc)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	dash, err := dashboardFile(s)
	if err != nil {
		return nil, err
	}
	files = append(files, dash)
	np, err := networkPolicies(s)
	if err != nil {
		return nil, err
	}
	return append(files, np...), nil
}

// podMonitor is the runbook's dedicated PodMonitor: the platform's broad,
// annotation-based monitor misses gateway pods.
func podMonitor(s *spec.Spec, g spec.Gateway) (*monitoringv1.PodMonitor, error) {
	sel, err := selector(g.Selector)
	if err != nil {
		return nil, err
	}
	params, err := rules.StatsParams(s, g)
	if err != nil {
		return nil, err
	}
	ep := monitoringv1.PodMetricsEndpoint{
		Params: params,
		// The rules count only this job (see rules.JobName): another monitor
		// scraping the same pods must not double the count.
		RelabelConfigs: []monitoringv1.RelabelConfig{{TargetLabel: "job", Replacement: ptr(rules.JobName(g))}},
		Path:           g.Stats.Path,
		Interval:       monitoringv1.Duration(g.Stats.Interval.String()),
		ScrapeTimeout:  monitoringv1.Duration(g.Stats.Timeout.String()),
		Scheme:         ptr(monitoringv1.Scheme("http")),
	}
	if g.Stats.Port.Name != "" {
		ep.Port = ptr(g.Stats.Port.Name)
	} else {
		ep.PortNumber = ptr(int32(g.Stats.Port.Number))
	}
	pm := &monitoringv1.PodMonitor{
		TypeMeta:   metav1.TypeMeta{APIVersion: "monitoring.coreos.com/v1", Kind: "PodMonitor"},
		ObjectMeta: metav1.ObjectMeta{Name: "gatewatch-" + g.Name, Namespace: g.Namespace, Labels: managedLabels(s, true)},
		Spec: monitoringv1.PodMonitorSpec{
			Selector:            *sel,
			NamespaceSelector:   monitoringv1.NamespaceSelector{MatchNames: []string{g.Namespace}},
			PodMetricsEndpoints: []monitoringv1.PodMetricsEndpoint{ep},
		},
	}
	pm.Spec.LabelLimit, pm.Spec.LabelNameLengthLimit, pm.Spec.LabelValueLengthLimit = labelLimits()
	return pm, nil
}

func scrapeConfigCR(s *spec.Spec, g spec.Gateway) *monitoringv1alpha1.ScrapeConfig {
	var targets []monitoringv1alpha1.Target
	for _, t := range g.StaticTargets {
		targets = append(targets, monitoringv1alpha1.Target(t))
	}
	sc := &monitoringv1alpha1.ScrapeConfig{
		TypeMeta:   metav1.TypeMeta{APIVersion: "monitoring.coreos.com/v1alpha1", Kind: "ScrapeConfig"},
		ObjectMeta: metav1.ObjectMeta{Name: "gatewatch-" + g.Name + "-static", Namespace: s.Cluster.MonitoringNamespace, Labels: managedLabels(s, true)},
		Spec: monitoringv1alpha1.ScrapeConfigSpec{
			JobName:        ptr(rules.StaticJobName(g)),
			StaticConfigs:  []monitoringv1alpha1.StaticConfig{{Targets: targets, Labels: map[string]string{"gateway": g.Name}}},
			MetricsPath:    ptr(g.Stats.Path),
			Params:         statsParams(s, g),
			ScrapeInterval: ptr(monitoringv1.Duration(g.Stats.Interval.String())),
			ScrapeTimeout:  ptr(monitoringv1.Duration(g.Stats.Timeout.String())),
		},
	}
	sc.Spec.LabelLimit, sc.Spec.LabelNameLengthLimit, sc.Spec.LabelValueLengthLimit = labelLimits()
	return sc
}

func prometheusRule(s *spec.Spec) *monitoringv1.PrometheusRule {
	var groups []monitoringv1.RuleGroup
	for _, g := range rules.Generate(s).Groups {
		rg := monitoringv1.RuleGroup{Name: g.Name, Interval: ptr(monitoringv1.Duration(g.Interval.String()))}
		for _, r := range g.Rules {
			mr := monitoringv1.Rule{Alert: r.Alert, Expr: intstr.FromString(r.Expr), Labels: r.Labels, Annotations: r.Annotations}
			mr.For = ptr(monitoringv1.Duration(r.For.String()))
			rg.Rules = append(rg.Rules, mr)
		}
		groups = append(groups, rg)
	}
	return &monitoringv1.PrometheusRule{
		TypeMeta:   metav1.TypeMeta{APIVersion: "monitoring.coreos.com/v1", Kind: "PrometheusRule"},
		ObjectMeta: metav1.ObjectMeta{Name: "gatewatch", Namespace: s.Cluster.MonitoringNamespace, Labels: managedLabels(s, true)},
		Spec:       monitoringv1.PrometheusRuleSpec{Groups: groups},
	}
}

// secretExample is the Secret the manifests reference, as a commented-out
// example in a *.yaml.example file: `kubectl apply -f DIR` skips it and a
// stdout stream carries it only as comments, so applying the output never
// overwrites the real Secret with a placeholder.
func secretExample(s *spec.Spec, ns string) (File, error) {
	sec := placeholderSecret(s, ns)
	b, err := marshal(sec)
	if err != nil {
		return File{}, err
	}
	header := fmt.Sprintf(`# The Secret the manifests reference. gatewatch never writes the webhook URL:
# create the Secret yourself, e.g.
#   kubectl -n %s create secret generic %s --from-file=%s=./webhook-url
# (or with your secrets tooling: External Secrets, Sealed Secrets, SOPS). Its shape:
`, ns, s.Cluster.Alertmanager.SecretName, spec.SecretKey)
	if s.Mattermost.BotMode() {
		from := fmt.Sprintf("--from-file=%s=./bot-token", spec.BotTokenKey)
		if s.Mattermost.ActionsSecretFile != "" {
			from += fmt.Sprintf(" --from-file=%s=./actions-secret", spec.ActionsSecretKey)
		}
		header = fmt.Sprintf(`# The Secret the manifests reference. gatewatch never writes the bot token:
# create the Secret yourself, e.g.
#   kubectl -n %s create secret generic %s %s
# (or with your secrets tooling: External Secrets, Sealed Secrets, SOPS). Its shape:
`, ns, s.Cluster.Alertmanager.SecretName, from)
	}
	return File{Name: fmt.Sprintf("secret-%s-%s.yaml.example", ns, sec.Name), Header: header, Content: []byte(commentOut(b))}, nil
}

// commentOut writes YAML as comments, line for line.
func commentOut(b []byte) string {
	var commented strings.Builder
	for _, l := range strings.SplitAfter(strings.TrimRight(string(b), "\n"), "\n") {
		commented.WriteString("# " + l)
	}
	commented.WriteString("\n")
	return commented.String()
}

// secretKeys are the Secret's keys: the webhook URL, or in bot mode the
// token (and the signing key when the spec names a file for it).
func secretKeys(s *spec.Spec) map[string]string {
	if !s.Mattermost.BotMode() {
		return map[string]string{spec.SecretKey: SecretPlaceholder}
	}
	keys := map[string]string{spec.BotTokenKey: SecretPlaceholder}
	if s.Mattermost.ActionsSecretFile != "" {
		keys[spec.ActionsSecretKey] = SecretPlaceholder
	}
	return keys
}

func placeholderSecret(s *spec.Spec, ns string) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: s.Cluster.Alertmanager.SecretName, Namespace: ns, Labels: managedLabels(s, false)},
		Type:       corev1.SecretTypeOpaque,
		StringData: secretKeys(s),
	}
}

const amcHeader = `# The operator adds a namespace="<this namespace>" matcher to every route of an
# AlertmanagerConfig; the gatewatch rules set namespace to the gateway's
# namespace, so this object lives there. AlertmanagerConfig (v1alpha1) has no
# Mattermost receiver: slackConfigs speak Mattermost's Slack-compatible
# webhook (or, with cluster.bridge.enabled, webhookConfigs post to gatewatch
# bridge, which posts to Mattermost). The "null" default receiver and the Watchdog route belong to the
# Alertmanager's base configuration (kube-prometheus-stack has both), so the
# spec's routing.default_receiver and routing.watchdog do not apply here.
`

func alertmanagerConfigCR(s *spec.Spec, ns string) *monitoringv1alpha1.AlertmanagerConfig {
	m, p, r := s.Mattermost, posterOf(s.Mattermost), s.Routing
	slack := monitoringv1alpha1.SlackConfig{
		SendResolved: ptr(m.ShouldSendResolved()),
		APIURL: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: s.Cluster.Alertmanager.SecretName},
			Key:                  spec.SecretKey,
		},
		Username:  ptr(p.Username),
		Color:     ptr(colorTemplate),
		Title:     ptr(titleTemplate),
		TitleLink: titleLinkTemplate,
		Text:      ptr(bodyTemplate),
		Footer:    ptr(footerTemplate),
		IconURL:   p.IconURL,
	}
	if p.Mention != "" {
		slack.Pretext = ptr(p.Mention)
	}
	for _, f := range fieldTemplates() {
		slack.Fields = append(slack.Fields, monitoringv1alpha1.SlackField{Title: f.Title, Value: f.Value})
	}
	if p.Channel != "" {
		slack.Channel = ptr(p.Channel)
	}
	if p.IconEmoji != "" {
		slack.IconEmoji = ptr(p.IconEmoji)
	}
	matcher := monitoringv1alpha1.Matcher{Name: "alertname", Value: r.Alerts[0], MatchType: monitoringv1alpha1.MatchEqual}
	if len(r.Alerts) > 1 {
		matcher = monitoringv1alpha1.Matcher{Name: "alertname", Value: joinAlternatives(r.Alerts), MatchType: monitoringv1alpha1.MatchRegexp}
	}
	receiver := monitoringv1alpha1.Receiver{Name: ReceiverName, SlackConfigs: []monitoringv1alpha1.SlackConfig{slack}}
	if throughBridge(s) {
		receiver = monitoringv1alpha1.Receiver{Name: ReceiverName, WebhookConfigs: []monitoringv1alpha1.WebhookConfig{{
			SendResolved: ptr(m.ShouldSendResolved() || m.BotMode()), URL: ptr(BridgeURL(s)),
		}}}
	}
	return &monitoringv1alpha1.AlertmanagerConfig{
		TypeMeta:   metav1.TypeMeta{APIVersion: "monitoring.coreos.com/v1alpha1", Kind: "AlertmanagerConfig"},
		ObjectMeta: metav1.ObjectMeta{Name: "gatewatch-mattermost", Namespace: ns, Labels: managedLabels(s, true)},
		Spec: monitoringv1alpha1.AlertmanagerConfigSpec{
			Route: &monitoringv1alpha1.Route{
				Receiver:       ReceiverName,
				GroupBy:        r.GroupBy,
				GroupWait:      ptr(monitoringv1.NonEmptyDuration(r.GroupWait.String())),
				GroupInterval:  ptr(monitoringv1.NonEmptyDuration(r.GroupInterval.String())),
				RepeatInterval: ptr(monitoringv1.NonEmptyDuration(r.RepeatInterval.String())),
				Matchers:       []monitoringv1alpha1.Matcher{matcher},
			},
			Receivers: []monitoringv1alpha1.Receiver{receiver},
		},
	}
}

// statsParams are the stats page's query parameters (rules.StatsParams);
// the spec was validated, so its rules parse.
func statsParams(s *spec.Spec, g spec.Gateway) map[string][]string {
	p, err := rules.StatsParams(s, g)
	if err != nil {
		return nil
	}
	return p
}

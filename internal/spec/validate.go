package spec

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	promlabels "github.com/prometheus/prometheus/model/labels"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/validation"
)

type validator struct {
	file      string
	lines     lineIndex
	skipLines map[int]bool
	errs      []error
	warnings  []error
}

// warnf records a problem that does not make the spec invalid.
func (v *validator) warnf(path, format string, args ...any) {
	v.warnings = append(v.warnings, &Error{File: v.file, Line: v.lines.line(path), Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) errorf(path, format string, args ...any) {
	line := v.lines.line(path)
	if v.skipLines[line] && v.lines.has(path) {
		return
	}
	v.errs = append(v.errs, &Error{File: v.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

var alertNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

func (s *Spec) validate(v *validator, kinds Kinds) {
	if len(s.Gateways) == 0 {
		v.errorf("gateways", "at least one gateway is required (name, namespace, selector)")
	}
	names := map[string]bool{}
	workloads := map[string]string{}
	for i, g := range s.Gateways {
		p := fmt.Sprintf("gateways[%d]", i)
		g.validate(v, p)
		if s.Cluster.Denies("egress") {
			for j, t := range g.StaticTargets {
				if host, _, err := net.SplitHostPort(t); err == nil && host != "" && net.ParseIP(host) == nil {
					v.warnf(fmt.Sprintf("%s.static_targets[%d]", p, j), "%q is a name: under default-deny egress a NetworkPolicy can allow only addresses, so render allows none for it; use its IP address, or allow it in your own egress policy", t)
				}
			}
		}
		if names[g.Name] {
			v.errorf(p+".name", "duplicate gateway name %q", g.Name)
		}
		names[g.Name] = true
		key := g.Namespace + "/" + g.Workload
		if other, dup := workloads[key]; dup {
			v.errorf(p+".workload", "gateway %s has the same namespace and workload (%s) as gateway %s: its requests would be counted by both", g.Name, key, other)
		}
		workloads[key] = g.Name
	}

	alertNames := map[string]bool{}
	for _, a := range s.Alerts {
		a.validate(v, kinds)
		for _, g := range s.Gateways {
			// increase() and the new-series test need several samples per window.
			if a.Window > 0 && g.Stats.Interval > 0 && a.Window < 4*g.Stats.Interval {
				v.errorf(a.path+".window", "window %s is shorter than 4 scrape intervals of gateway %s (%s): use at least %s", a.Window, g.Name, g.Stats.Interval, 4*g.Stats.Interval)
			}
		}
		if alertNames[a.Name] {
			v.errorf(a.path+".name", "duplicate alert name %q", a.Name)
		}
		alertNames[a.Name] = true
	}

	s.Mattermost.validate(v)
	s.Explain.validate(v, s)
	s.Routing.validate(v, s)
	s.Cluster.validate(v)
	s.Cluster.Bridge.validate(v, s.Mattermost.BotMode())
}

func (g Gateway) validate(v *validator, p string) {
	if g.Name == "" {
		v.errorf(p+".name", "a gateway needs a name")
	} else if errs := validation.IsDNS1123Label(g.Name); len(errs) > 0 {
		v.errorf(p+".name", "%q is not a valid name: %s", g.Name, strings.Join(errs, "; "))
	}
	if g.Namespace == "" {
		v.errorf(p+".namespace", "a gateway needs the namespace its pods run in")
	} else if errs := validation.IsDNS1123Label(g.Namespace); len(errs) > 0 {
		v.errorf(p+".namespace", "%q is not a valid namespace: %s", g.Namespace, strings.Join(errs, "; "))
	}
	if g.Selector == "" && len(g.StaticTargets) == 0 {
		v.errorf(p+".selector", "a gateway needs a pod label selector (e.g. app=istio-ingressgateway) or static_targets")
	}
	validateSelector(v, p+".selector", g.Selector)
	if g.Stats.Port.Name != "" {
		if errs := validation.IsValidPortName(g.Stats.Port.Name); len(errs) > 0 {
			v.errorf(p+".stats.port", "%q is not a valid port name: %s", g.Stats.Port.Name, strings.Join(errs, "; "))
		}
	}
	if !strings.HasPrefix(g.Stats.Path, "/") {
		v.errorf(p+".stats.path", "path %q must start with /", g.Stats.Path)
	}
	if g.Stats.Interval <= 0 {
		v.errorf(p+".stats.interval", "interval must be positive")
	}
	// An unset timeout derives from the interval: when that is invalid, its
	// own error says so (no second error for a key the user did not write).
	if g.Stats.Timeout <= 0 && (g.Stats.Interval > 0 || v.lines.has(p+".stats.timeout")) {
		v.errorf(p+".stats.timeout", "timeout must be positive")
	} else if g.Stats.Timeout > g.Stats.Interval && g.Stats.Interval > 0 {
		v.errorf(p+".stats.timeout", "timeout %s is longer than the interval %s (Prometheus rejects that)", g.Stats.Timeout, g.Stats.Interval)
	}
	for j, t := range g.StaticTargets {
		tp := fmt.Sprintf("%s.static_targets[%d]", p, j)
		host, port, err := net.SplitHostPort(t)
		if err != nil || host == "" {
			v.errorf(tp, "%q is not host:port", t)
			continue
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			v.errorf(tp, "%q has no valid port number", t)
		}
	}
}

func validateSelector(v *validator, path, sel string) {
	if sel == "" {
		return
	}
	parsed, err := labels.Parse(sel)
	if err != nil {
		v.errorf(path, "invalid label selector %q: %v", sel, err)
		return
	}
	reqs, _ := parsed.Requirements()
	for _, r := range reqs {
		// A pod selector (PodMonitor, NetworkPolicy) has no such operator.
		switch r.Operator() {
		case selection.GreaterThan:
			v.errorf(path, "label selector %q: \">\" compares numbers, which a pod selector cannot express; use =, !=, in, notin, key or !key", sel)
		case selection.LessThan:
			v.errorf(path, "label selector %q: \"<\" compares numbers, which a pod selector cannot express; use =, !=, in, notin, key or !key", sel)
		}
	}
}

func (a Alert) validate(v *validator, kinds Kinds) {
	p := a.path
	k, ok := a.validateKind(v, kinds)
	if !ok {
		return
	}
	if !alertNameRE.MatchString(a.Name) {
		v.errorf(p+".name", "alert name %q must match %s", a.Name, alertNameRE)
	}
	if a.Window <= 0 {
		v.errorf(p+".window", "window must be positive (e.g. 5m)")
	}
	if a.For < 0 {
		v.errorf(p+".for", "for must not be negative")
	} else if a.For >= a.Window && a.Window > 0 && !k.ForMayExceedWindow {
		v.errorf(p+".for", "for %s is not shorter than the window %s: a single request is counted for one window only, so the alert would never fire on it", a.For, a.Window)
	}
	for _, re := range []struct{ key, val string }{{"response_code", a.ResponseCode}, {"response_flags", a.ResponseFlags}} {
		if re.val == "" {
			continue
		}
		// Prometheus parses the regex on its own before anchoring it: a
		// value such as "a)|(b" is whole only inside gatewatch's anchors.
		_, err := promlabels.NewFastRegexMatcher(re.val)
		if err == nil {
			_, err = regexp.Compile("^(?:" + re.val + ")$")
		}
		if err != nil {
			v.errorf(p+"."+re.key, "invalid regex %q: %v", re.val, err)
		}
	}
	switch a.Severity {
	case "info", "warning", "critical":
	default:
		v.errorf(p+".severity", "severity %q: use info, warning or critical", a.Severity)
	}
	if a.Per != "pod" && a.Per != "gateway" {
		v.errorf(p+".per", "per %q: use pod or gateway", a.Per)
	}
	for k := range a.Labels {
		if !model.LabelName(k).IsValidLegacy() {
			v.errorf(p+".labels."+k, "%q is not a valid label name", k)
		}
		if reservedLabels[k] {
			v.errorf(p+".labels."+k, "label %q is set by gatewatch and cannot be overridden", k)
		}
	}
	a.validateTemplates(v)
	if a.RunbookURL != "" {
		if u, err := url.Parse(a.RunbookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.errorf(p+".runbook_url", "runbook_url must be an http(s) URL")
		}
	}
}

// reservedLabels are set on every alert by the generated rules.
var reservedLabels = map[string]bool{"alertname": true, "severity": true, "gateway": true, "namespace": true, "workload": true}

func (m Mattermost) validate(v *validator) {
	if m.WebhookURL != "" && m.WebhookURLFile != "" {
		v.errorf("mattermost.webhook_url_file", "give webhook_url or webhook_url_file, not both")
	}
	if m.WebhookURL != "" {
		// The URL is a secret: the message never includes it.
		if _, err := ParseWebhookURL(m.WebhookURL.Reveal()); err != nil {
			v.errorf("mattermost.webhook_url", "webhook_url must be an http(s) URL such as https://mattermost.example.com/hooks/<id> (value not shown: it is a secret)")
		}
	}
	m.validateBot(v)
	if m.IconURL != "" {
		if u, err := url.Parse(m.IconURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			v.errorf("mattermost.icon_url", "icon_url must be an http(s) URL")
		}
	}
	if m.MentionCritical != "" && !strings.HasPrefix(m.MentionCritical, "@") {
		v.errorf("mattermost.mention_critical", "mention %q must start with @ (e.g. @here, @channel, @oncall)", m.MentionCritical)
	}
}

// validateBot checks bot mode: a token (inline or file, not both) needs
// the server URL and a channel (team and name, or id), and excludes a
// webhook.
func (m Mattermost) validateBot(v *validator) {
	if m.BotToken != "" && m.BotTokenFile != "" {
		v.errorf("mattermost.bot_token_file", "give bot_token or bot_token_file, not both")
	}
	if !m.BotMode() {
		for path, val := range map[string]string{"mattermost.url": m.URL, "mattermost.team": m.Team, "mattermost.channel_id": m.ChannelID, "mattermost.actions_secret_file": m.ActionsSecretFile} {
			if val != "" {
				v.errorf(path, "%s is for bot mode: set bot_token_file too (or remove it)", path[len("mattermost."):])
			}
		}
		return
	}
	if m.WebhookURL != "" {
		v.errorf("mattermost.webhook_url", "give a webhook or a bot token, not both: bot mode posts through the REST API")
	}
	if m.WebhookURLFile != "" {
		v.errorf("mattermost.webhook_url_file", "give a webhook or a bot token, not both: bot mode posts through the REST API")
	}
	path := "mattermost.bot_token"
	if m.BotTokenFile != "" {
		path = "mattermost.bot_token_file"
	}
	if m.URL == "" {
		v.errorf(path, "a bot token needs mattermost.url, the server's base URL (e.g. https://mattermost.example.com)")
	} else if _, err := ParseServerURL(m.URL); err != nil {
		v.errorf("mattermost.url", "%v", err)
	}
	switch {
	case m.ChannelID != "" && (m.Channel != "" || m.Team != ""):
		v.errorf("mattermost.channel_id", "give channel_id, or team and channel, not both")
	case m.ChannelID == "" && (m.Team == "" || m.Channel == ""):
		v.errorf(path, "a bot token needs the channel to post in: mattermost.team and mattermost.channel (names), or mattermost.channel_id")
	}
	if m.Channel != "" && strings.HasPrefix(m.Channel, "@") {
		v.errorf("mattermost.channel", "bot mode posts to a channel (its name, e.g. alerts), not to %q", m.Channel)
	}
}

func (r Routing) validate(v *validator, s *Spec) {
	for i, l := range r.GroupBy {
		if l != "..." && !model.LabelName(l).IsValidLegacy() {
			v.errorf(fmt.Sprintf("routing.group_by[%d]", i), "%q is not a valid label name", l)
		}
	}
	if r.GroupWait < 0 {
		v.errorf("routing.group_wait", "group_wait must not be negative")
	}
	if r.GroupInterval <= 0 {
		v.errorf("routing.group_interval", "group_interval must be positive")
	}
	if r.RepeatInterval <= 0 {
		v.errorf("routing.repeat_interval", "repeat_interval must be positive")
	}
	enabled := map[string]bool{}
	for _, a := range s.EnabledAlerts() {
		enabled[a.Name] = true
	}
	for i, n := range r.Alerts {
		if !enabled[n] {
			v.errorf(fmt.Sprintf("routing.alerts[%d]", i), "alert %q is not an enabled alert of this spec", n)
		}
	}
	if r.DefaultReceiver != "null" && r.DefaultReceiver != "mattermost" {
		v.errorf("routing.default_receiver", "default_receiver %q: use null (drop) or mattermost", r.DefaultReceiver)
	}
	if r.DefaultReceiver == "null" {
		for _, a := range s.EnabledAlerts() {
			if slices.Contains(r.Alerts, a.Name) {
				continue
			}
			p := a.path
			if p == "alerts" { // on by default, not written
				p = "routing.alerts"
			}
			v.warnf(p, "alert %s is enabled but no route delivers it: routing.alerts does not name it and default_receiver is null, so every target drops it; add it to routing.alerts or set enabled: false", a.Name)
		}
	}
}

func (c Cluster) validate(v *validator) {
	for _, ns := range []struct{ path, val string }{
		{"cluster.monitoring_namespace", c.MonitoringNamespace},
		{"cluster.prometheus.namespace", c.Prometheus.Namespace},
		{"cluster.alertmanager.namespace", c.Alertmanager.Namespace},
		{"cluster.dns.namespace", c.DNS.Namespace},
		{"cluster.webhook_path.gateway.namespace", c.WebhookPath.Gateway.Namespace},
	} {
		if ns.val == "" {
			continue
		}
		if errs := validation.IsDNS1123Label(ns.val); len(errs) > 0 {
			v.errorf(ns.path, "%q is not a valid namespace: %s", ns.val, strings.Join(errs, "; "))
		}
	}
	for k, val := range c.SelectorLabels {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			v.errorf("cluster.selector_labels."+k, "%q is not a valid label key: %s", k, strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(val); len(errs) > 0 {
			v.errorf("cluster.selector_labels."+k, "%q is not a valid label value: %s", val, strings.Join(errs, "; "))
		}
	}
	validateSelector(v, "cluster.prometheus.pod_selector", c.Prometheus.PodSelector)
	validateSelector(v, "cluster.alertmanager.pod_selector", c.Alertmanager.PodSelector)
	validateSelector(v, "cluster.dns.pod_selector", c.DNS.PodSelector)
	if _, err := ParseVersion(c.Alertmanager.Version); err != nil {
		v.errorf("cluster.alertmanager.version", "%v", err)
	}
	if errs := validation.IsDNS1123Subdomain(c.Alertmanager.SecretName); len(errs) > 0 {
		v.errorf("cluster.alertmanager.secret_name", "%q is not a valid Secret name: %s", c.Alertmanager.SecretName, strings.Join(errs, "; "))
	}
	for i, d := range c.DefaultDeny {
		if d != "ingress" && d != "egress" {
			v.errorf(fmt.Sprintf("cluster.default_deny[%d]", i), "%q: use ingress and/or egress", d)
		}
	}
	c.APIServer.validate(v)
	c.Standalone.validate(v)
	w := c.WebhookPath
	if c.Denies("egress") && w.Via == ViaGateway && w.Gateway.PodSelector == "" && !v.lines.has("cluster.webhook_path") {
		v.errorf("cluster.default_deny", "egress is denied by default, so Alertmanager's egress to Mattermost must be allowed: set cluster.webhook_path (the gateway's namespace and pod_selector, or via: direct with cidrs)")
	}
	switch w.Via {
	case ViaGateway:
		// Only a written webhook_path must be complete: when it is defaulted
		// from a gateway with static targets only, render skips the webhook
		// NetworkPolicies (there are no pods to select).
		if (w.Gateway.Namespace == "" || w.Gateway.PodSelector == "") && v.lines.has("cluster.webhook_path") {
			v.errorf("cluster.webhook_path.gateway", "via gateway needs the gateway's namespace and pod_selector")
		}
		if v.lines.has("cluster.webhook_path.gateway.pod_selector") {
			// When defaulted it is the first gateway's selector, checked there.
			validateSelector(v, "cluster.webhook_path.gateway.pod_selector", w.Gateway.PodSelector)
		}
		for _, pp := range []struct {
			key string
			n   int
		}{{"port", w.Gateway.Port}, {"target_port", w.Gateway.TargetPort}} {
			if pp.n < 1 || pp.n > 65535 {
				v.errorf("cluster.webhook_path.gateway."+pp.key, "port %d is out of range 1-65535", pp.n)
			}
		}
	case ViaDirect:
		if len(w.CIDRs) == 0 {
			v.errorf("cluster.webhook_path.cidrs", "via direct needs the CIDRs the Mattermost host resolves to (e.g. 203.0.113.10/32)")
		}
	default:
		v.errorf("cluster.webhook_path.via", "via %q: use gateway or direct", w.Via)
	}
	validateCIDRs(v, "cluster.webhook_path.cidrs", w.CIDRs)
	if w.Port < 1 || w.Port > 65535 {
		v.errorf("cluster.webhook_path.port", "port %d is out of range 1-65535", w.Port)
	}
}

func (a APIServer) validate(v *validator) {
	validateCIDRs(v, "cluster.api_server.cidrs", a.CIDRs)
	if len(a.Ports) == 0 {
		v.errorf("cluster.api_server.ports", "ports: give at least one (443 on most managed clusters, 6443 with kubeadm)")
	}
	for i, p := range a.Ports {
		if p < 1 || p > 65535 {
			v.errorf(fmt.Sprintf("cluster.api_server.ports[%d]", i), "port %d is out of range 1-65535", p)
		}
	}
}

func (st Standalone) validate(v *validator) {
	if st.Replicas < 1 {
		v.errorf("cluster.standalone.replicas", "replicas %d: give at least 1 (2 or more for failover)", st.Replicas)
	}
	st.Storage.validate(v, "cluster.standalone.storage")
	if st.Storage.EmptyDir {
		v.warnf("cluster.standalone.storage.empty_dir", "empty_dir: true keeps silences and the notification log only as long as the pod: a replica rescheduled while no other replica is up to gossip them back forgets them (and may notify again); leave it out for a PersistentVolumeClaim per replica")
	}
	for i, p := range st.WebFrom {
		p.validate(v, fmt.Sprintf("cluster.standalone.web_from[%d]", i))
	}
	if st.ExternalURL != "" {
		if u, err := url.Parse(st.ExternalURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.errorf("cluster.standalone.external_url", "external_url %q must be an http(s) URL such as https://gatewatch.example.com", st.ExternalURL)
		}
	}
}

// validate checks the bridge section; in bot mode the bridge keeps its
// posts in one data directory, so it runs one replica.
func (b Bridge) validate(v *validator, botMode bool) {
	if b.Replicas < 1 {
		v.errorf("cluster.bridge.replicas", "replicas %d: give at least 1 (2 or more so a notification finds a bridge during a rollout)", b.Replicas)
	}
	if botMode && b.Replicas > 1 {
		v.errorf("cluster.bridge.replicas", "replicas %d: in bot mode the bridge keeps each alert group's post in its data directory, one bridge per directory: use 1", b.Replicas)
	}
	b.Storage.validate(v, "cluster.bridge.storage")
	for i, p := range b.WebFrom {
		p.validate(v, fmt.Sprintf("cluster.bridge.web_from[%d]", i))
	}
	for _, u := range []struct{ key, val, eg string }{
		{"external_url", b.ExternalURL, "https://gatewatch-bridge.example.com"},
		{"alertmanager_url", b.AlertmanagerURL, "http://alertmanager-operated.monitoring.svc:9093"},
	} {
		if u.val == "" {
			continue
		}
		if pu, err := url.Parse(u.val); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			v.errorf("cluster.bridge."+u.key, "%s %q must be an http(s) URL such as %s", u.key, u.val, u.eg)
		}
	}
}

// validate checks a data volume's size and class at path.
func (st Storage) validate(v *validator, path string) {
	if q, err := resource.ParseQuantity(st.Size); err != nil {
		v.errorf(path+".size", "size %q is not a Kubernetes quantity such as 1Gi", st.Size)
	} else if q.Sign() <= 0 {
		v.errorf(path+".size", "size %q must be positive", st.Size)
	}
	if sc := st.StorageClass; sc != "" {
		if errs := validation.IsDNS1123Subdomain(sc); len(errs) > 0 {
			v.errorf(path+".storage_class", "%q is not a valid StorageClass name: %s", sc, strings.Join(errs, "; "))
		}
		if st.EmptyDir {
			v.errorf(path+".storage_class", "storage_class has no effect with empty_dir: true: give one or the other")
		}
	}
}

func (p Peer) validate(v *validator, path string) {
	switch {
	case p.Namespace == "" && len(p.CIDRs) == 0:
		v.errorf(path, "a peer needs a namespace (and optionally a pod_selector) or cidrs")
	case p.Namespace != "" && len(p.CIDRs) > 0:
		v.errorf(path+".cidrs", "a peer is pods of a namespace or cidrs, not both: give them as two peers")
	case p.Namespace == "" && p.PodSelector != "":
		v.errorf(path+".pod_selector", "pod_selector needs the namespace of the pods")
	}
	if p.Namespace != "" {
		if errs := validation.IsDNS1123Label(p.Namespace); len(errs) > 0 {
			v.errorf(path+".namespace", "%q is not a valid namespace: %s", p.Namespace, strings.Join(errs, "; "))
		}
	}
	validateSelector(v, path+".pod_selector", p.PodSelector)
	validateCIDRs(v, path+".cidrs", p.CIDRs)
}

func validateCIDRs(v *validator, path string, cidrs []string) {
	for i, cidr := range cidrs {
		if _, _, err := net.ParseCIDR(cidr); err != nil {
			v.errorf(fmt.Sprintf("%s[%d]", path, i), "%q is not a CIDR (e.g. 203.0.113.10/32)", cidr)
		}
	}
}

// Version is a major.minor.patch release number.
type Version struct{ Major, Minor, Patch int }

// ParseVersion parses "0.28.1" or "v0.28.1".
func ParseVersion(s string) (Version, error) {
	parts := strings.Split(strings.TrimPrefix(s, "v"), ".")
	if len(parts) < 2 || len(parts) > 3 {
		return Version{}, fmt.Errorf("version %q: want major.minor[.patch] such as 0.28.1", s)
	}
	var n [3]int
	for i, p := range parts {
		x, err := strconv.Atoi(p)
		if err != nil || x < 0 {
			return Version{}, fmt.Errorf("version %q: want major.minor[.patch] such as 0.28.1", s)
		}
		n[i] = x
	}
	return Version{n[0], n[1], n[2]}, nil
}

// AtLeast reports whether v >= major.minor.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || v.Major == major && v.Minor >= minor
}

// MattermostNative reports whether the Alertmanager has mattermost_configs (>= 0.30).
func (c Cluster) MattermostNative() bool {
	v, err := ParseVersion(c.Alertmanager.Version)
	return err == nil && v.AtLeast(0, 30)
}

func (e Explain) validate(v *validator, s *Spec) {
	if e.AccessLogs == "-" {
		v.errorf("explain.access_logs", "access_logs: standard input cannot feed alert messages: give kube or a file path")
	}
	if e.AccessLogs == "kube" {
		withSelector := false
		for _, g := range s.Gateways {
			withSelector = withSelector || g.Selector != ""
		}
		if !withSelector {
			v.errorf("explain.access_logs", "access_logs: kube reads the gateway pods' logs, but no gateway has a selector: give a file path instead")
		}
	}
	if e.Timeout < 0 || time.Duration(e.Timeout) > time.Minute {
		v.errorf("explain.timeout", "timeout %s must be between 0 and 1m: the alert waits for it", e.Timeout)
	}
}

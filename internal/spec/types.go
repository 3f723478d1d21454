// Package spec defines gatewatch.yaml: the one file a platform engineer writes.
// It loads the file strictly (unknown keys are errors), fills in documented
// defaults and validates every field, reporting all problems at once with
// file:line positions.
package spec

import (
	"time"
)

// Spec is the whole gatewatch.yaml.
type Spec struct {
	// Gateways are the Istio/Envoy gateways to watch. At least one.
	Gateways []Gateway `yaml:"gateways,omitempty"`
	// Alerts are the alerts evaluated for every gateway. When the key is
	// absent the misdirected-request (421) alert is the only one; when it is
	// present the 421 alert is still added unless an entry of kind
	// misdirected-request turns it off.
	Alerts []Alert `yaml:"alerts,omitempty"`
	// Mattermost is where alerts are delivered.
	Mattermost Mattermost `yaml:"mattermost,omitempty"`
	// Routing is the Alertmanager route tree gatewatch renders and runs.
	Routing Routing `yaml:"routing,omitempty"`
	// Cluster holds facts about the cluster that render and doctor need.
	Cluster Cluster `yaml:"cluster,omitempty"`
	// Explain says where the evidence that explains 421s comes from, for
	// the alert messages of run and bridge and for `gatewatch explain`.
	Explain Explain `yaml:"explain,omitempty"`

	// File is the path the spec was loaded from ("" when built in code).
	File string `yaml:"-"`

	warnings []error
}

// Warnings are the problems found while loading that leave the spec valid
// (an enabled alert that no route delivers), each a *Error with file:line.
func (s *Spec) Warnings() []error { return s.warnings }

// Gateway is one Istio ingress (or egress) gateway deployment.
type Gateway struct {
	// Name identifies the gateway in alerts (label "gateway") and object names.
	Name string `yaml:"name,omitempty"`
	// Namespace the gateway pods run in (source_workload_namespace).
	Namespace string `yaml:"namespace,omitempty"`
	// Workload is the istio source_workload value, usually the Deployment name.
	// Default: the gateway name.
	Workload string `yaml:"workload,omitempty"`
	// Selector is a Kubernetes label selector (kubectl syntax) for the gateway
	// pods, e.g. "app=istio-ingressgateway,istio=ingressgateway".
	Selector string `yaml:"selector,omitempty"`
	// Stats says where Envoy's Prometheus endpoint is.
	Stats Stats `yaml:"stats,omitempty"`
	// StaticTargets are host:port addresses of Envoy stats endpoints outside
	// Kubernetes. They are scraped in addition to discovered pods.
	StaticTargets []string `yaml:"static_targets,omitempty"`
}

// Stats describes the Envoy stats endpoint of a gateway pod.
type Stats struct {
	// Port is the container port name or number. Default "http-envoy-prom"
	// (Istio's name for 15090).
	Port Port `yaml:"port,omitempty"`
	// Path of the Prometheus text endpoint. Default "/stats/prometheus".
	Path string `yaml:"path,omitempty"`
	// Interval between scrapes. Default 15s.
	Interval Duration `yaml:"interval,omitempty"`
	// Timeout of one scrape. Default 10s; must not exceed Interval.
	Timeout Duration `yaml:"timeout,omitempty"`
	// EnvoyFilter asks Envoy for only the families the rules read
	// (/stats/prometheus?filter=<regex>): a 1–100 MB page shrinks to a few
	// KB at the source. Opt-in; doctor's gateway/stats checks that the
	// filtered page still holds every family the rules need.
	EnvoyFilter bool `yaml:"envoy_filter,omitempty"`
}

// Alert is one alert evaluated for every gateway. Every kind is the same
// object; the kind decides which requests are counted.
type Alert struct {
	// Name is the alertname. Default per kind, e.g. GatewayMisdirectedRequest421.
	Name string `yaml:"name,omitempty"`
	// Kind names the alert kind (declared in package rules, one file each):
	// misdirected-request (default), response-code, response-flags,
	// error-ratio, …
	Kind string `yaml:"kind,omitempty"`
	// Enabled turns the alert off when false. Default true.
	Enabled *bool `yaml:"enabled,omitempty"`
	// ResponseCode is a regex on response_code (response-code, error-ratio).
	// Default "5.." for error-ratio.
	ResponseCode string `yaml:"response_code,omitempty"`
	// ResponseFlags is a regex on response_flags (response-flags).
	ResponseFlags string `yaml:"response_flags,omitempty"`
	// Threshold: counts fire above it (default 0); ratios fire above it
	// (required, 0 < threshold < 1).
	Threshold float64 `yaml:"threshold,omitempty"`
	// MinRequestRate is the traffic floor of a ratio alert, in requests per
	// second over the window: below it the ratio is not judged (error-ratio;
	// default 0.1, i.e. 30 requests in a 5m window).
	MinRequestRate *float64 `yaml:"min_request_rate,omitempty"`
	// Window counted over. Default 5m.
	Window Duration `yaml:"window,omitempty"`
	// For is how long the condition must hold before the alert fires. Default 0s.
	For Duration `yaml:"for,omitempty"`
	// Severity label. Default warning.
	Severity string `yaml:"severity,omitempty"`
	// Per is "pod" (one alert per gateway pod, default) or "gateway".
	Per string `yaml:"per,omitempty"`
	// Labels are extra alert labels.
	Labels map[string]string `yaml:"labels,omitempty"`
	// Annotations are extra alert annotations; they override the generated ones.
	Annotations map[string]string `yaml:"annotations,omitempty"`
	// RunbookURL becomes the runbook_url annotation.
	RunbookURL string `yaml:"runbook_url,omitempty"`

	path string // position in the file, for errors
}

// IsEnabled reports whether the alert is on.
func (a Alert) IsEnabled() bool { return a.Enabled == nil || *a.Enabled }

// Mattermost is where alerts are posted: an incoming webhook, or a bot
// account through the REST API (bot mode).
type Mattermost struct {
	// WebhookURL is the incoming webhook URL. A secret: it prints as <secret>.
	WebhookURL Secret `yaml:"webhook_url,omitempty"`
	// WebhookURLFile is a file holding the URL, re-read on every use so
	// rotation works. Exactly one of webhook_url and webhook_url_file.
	WebhookURLFile string `yaml:"webhook_url_file,omitempty"`
	// Channel overrides the webhook's default channel.
	Channel string `yaml:"channel,omitempty"`
	// Username shown as the poster. Default "gatewatch".
	Username string `yaml:"username,omitempty"`
	// IconURL shown as the poster's avatar.
	IconURL string `yaml:"icon_url,omitempty"`
	// IconEmoji, e.g. ":rotating_light:".
	IconEmoji string `yaml:"icon_emoji,omitempty"`
	// MentionCritical is added to critical alerts, e.g. "@here" or "@channel".
	MentionCritical string `yaml:"mention_critical,omitempty"`
	// SendResolved also posts when an alert clears. Default true.
	SendResolved *bool `yaml:"send_resolved,omitempty"`

	// Bot mode (docs/mattermost.md): with a bot token, gatewatch posts
	// through Mattermost's REST API v4 instead of a webhook — one post per
	// alert group, edited on resolve, follow-ups in its thread, buttons to
	// silence and acknowledge.

	// URL is the Mattermost server's base URL, e.g. https://mattermost.example.com.
	URL string `yaml:"url,omitempty"`
	// BotToken is the bot account's access token. A secret: it prints as <secret>.
	BotToken Secret `yaml:"bot_token,omitempty"`
	// BotTokenFile is a file holding the token, re-read on every use.
	BotTokenFile string `yaml:"bot_token_file,omitempty"`
	// Team is the team name of Channel (bot mode: Channel is a channel name).
	Team string `yaml:"team,omitempty"`
	// ChannelID names the channel by id instead of team and channel.
	ChannelID string `yaml:"channel_id,omitempty"`
	// ActionsSecretFile holds the key that signs the buttons' actions.
	// Default: a key generated once in the data directory (shared with the
	// replicas through the cluster).
	ActionsSecretFile string `yaml:"actions_secret_file,omitempty"`
}

// BotMode reports whether alerts are posted as a bot (REST API v4).
func (m Mattermost) BotMode() bool { return m.BotToken != "" || m.BotTokenFile != "" }

// Delivers reports whether the spec says where to deliver: a webhook or a bot.
func (m Mattermost) Delivers() bool {
	return m.WebhookURL != "" || m.WebhookURLFile != "" || m.BotMode()
}

// ShouldSendResolved reports whether resolved notifications are sent.
func (m Mattermost) ShouldSendResolved() bool { return m.SendResolved == nil || *m.SendResolved }

// Routing is the Alertmanager route tree.
type Routing struct {
	// GroupBy labels. Default [alertname, namespace, gateway].
	GroupBy []string `yaml:"group_by,omitempty"`
	// GroupWait before the first notification of a group. Default 1s: a 421
	// is a canary, not a flood to batch (docs/rules.md, "Latency").
	GroupWait Duration `yaml:"group_wait,omitempty"`
	// GroupInterval between notifications about new alerts in a group. Default 5m.
	GroupInterval Duration `yaml:"group_interval,omitempty"`
	// RepeatInterval before a still-firing group is sent again. Default 4h.
	RepeatInterval Duration `yaml:"repeat_interval,omitempty"`
	// Alerts are the alertnames sent to Mattermost. Default: every enabled alert.
	Alerts []string `yaml:"alerts,omitempty"`
	// DefaultReceiver for everything else. Default "null" (drop).
	DefaultReceiver string `yaml:"default_receiver,omitempty"`
	// Watchdog routes alertname=Watchdog to the null receiver. Default true.
	Watchdog *bool `yaml:"watchdog,omitempty"`
}

// RoutesWatchdog reports whether a Watchdog → null route is rendered.
func (r Routing) RoutesWatchdog() bool { return r.Watchdog == nil || *r.Watchdog }

// Cluster holds the facts about the cluster's monitoring stack.
type Cluster struct {
	// MonitoringNamespace holds the PrometheusRule. Default "monitoring".
	MonitoringNamespace string `yaml:"monitoring_namespace,omitempty"`
	// SelectorLabels are put on every rendered custom resource so Prometheus
	// and the operator select them, e.g. {release: kube-prometheus-stack}.
	SelectorLabels map[string]string `yaml:"selector_labels,omitempty"`
	// Prometheus is the Prometheus server that scrapes the gateways.
	Prometheus Workload `yaml:"prometheus,omitempty"`
	// Alertmanager is the Alertmanager that delivers to Mattermost.
	Alertmanager Alertmanager `yaml:"alertmanager,omitempty"`
	// WebhookPath is how Alertmanager reaches the Mattermost host.
	WebhookPath WebhookPath `yaml:"webhook_path,omitempty"`
	// DNS is the cluster DNS (kube-dns / CoreDNS) pods.
	DNS Workload `yaml:"dns,omitempty"`
	// Image is the gatewatch container image render --target standalone
	// deploys. Default: this release's image (version.Image(), e.g.
	// ghcr.io/gatewatch/gatewatch:v0.1.0), never a moving tag.
	Image string `yaml:"image,omitempty"`
	// DefaultDeny lists the directions ("ingress", "egress") that the
	// namespaces involved deny by default. render writes NetworkPolicies only
	// for those directions: there they only add allowances, while elsewhere a
	// policy that selects pods would isolate them. Default: none.
	DefaultDeny []string `yaml:"default_deny,omitempty"`
	// APIServer is where the Kubernetes API server's endpoints are, for the
	// egress policy of render --target standalone (gatewatch discovers the
	// gateway pods through it).
	APIServer APIServer `yaml:"api_server,omitempty"`
	// Standalone shapes what render --target standalone deploys.
	Standalone Standalone `yaml:"standalone,omitempty"`
	// Bridge puts `gatewatch bridge` between your Alertmanager and
	// Mattermost: render --target bridge deploys it.
	Bridge Bridge `yaml:"bridge,omitempty"`
}

// Bridge is `gatewatch bridge` in front of Mattermost, behind the stack's
// Alertmanager: render --target bridge deploys it, and with Enabled the
// stack targets (operator, prometheus, helm) give Alertmanager a
// webhook_configs receiver pointing at it instead of posting to Mattermost
// themselves.
type Bridge struct {
	// Enabled sends Alertmanager's notifications through the bridge.
	// Default false.
	Enabled bool `yaml:"enabled,omitempty"`
	// Replicas of the bridge Deployment. Default 2 with a webhook (each
	// notification is posted by whichever replica Alertmanager reaches);
	// bot mode keeps each group's post in a data directory, so it runs 1.
	Replicas int `yaml:"replicas,omitempty"`
	// Storage is bot mode's --data-dir volume (each group's post, the
	// acknowledgements, the buttons' signing key). Default 1Gi.
	Storage Storage `yaml:"storage,omitempty"`
	// ExternalURL is where Mattermost reaches the bridge for the buttons'
	// clicks (bot mode). Default: the in-cluster Service,
	// http://gatewatch-bridge.<monitoring namespace>.svc:9095.
	ExternalURL string `yaml:"external_url,omitempty"`
	// AlertmanagerURL is the Alertmanager whose API v2 the Silence buttons
	// use (bot mode). Default: none, Acknowledge only.
	AlertmanagerURL string `yaml:"alertmanager_url,omitempty"`
	// WebFrom are the peers let in to the bridge's port besides
	// Alertmanager under default-deny ingress (Prometheus for /metrics, the
	// Mattermost server for the buttons). Default: the Prometheus pods.
	WebFrom []Peer `yaml:"web_from,omitempty"`
}

// APIServer is the Kubernetes API server as NetworkPolicy sees it: the
// endpoint addresses behind the kubernetes Service (`kubectl get endpoints
// kubernetes`), after the Service translation.
type APIServer struct {
	// CIDRs of the API server's endpoints. Default: none, i.e. any address
	// on Ports (the API server is not a pod and its address differs per
	// cluster).
	CIDRs []string `yaml:"cidrs,omitempty"`
	// Ports the endpoints listen on. Default [443, 6443] (managed clusters
	// and kubeadm).
	Ports []int `yaml:"ports,omitempty"`
}

// Standalone is the StatefulSet render --target standalone writes.
type Standalone struct {
	// Replicas of gatewatch, clustered on Alertmanager's gossip. Default 2.
	Replicas int `yaml:"replicas,omitempty"`
	// Storage holds each replica's --data-dir (silences, the notification
	// log, the TSDB).
	Storage Storage `yaml:"storage,omitempty"`
	// WebFrom are the peers let in to gatewatch's web port (status page,
	// /metrics, the APIs) under default-deny ingress. Default: the
	// Prometheus pods of cluster.prometheus (for /metrics).
	WebFrom []Peer `yaml:"web_from,omitempty"`
	// ExternalURL is the URL gatewatch is reached at (its --web.external-url):
	// the links in messages and, in Mattermost bot mode, where Mattermost
	// sends button clicks. Default: the in-cluster Service,
	// http://gatewatch.<monitoring namespace>.svc:9421.
	ExternalURL string `yaml:"external_url,omitempty"`
	// ServiceMonitor also writes, for prometheus-operator, a ServiceMonitor
	// for gatewatch's /metrics and a PrometheusRule with gatewatch's own
	// alerts (down, blind, cannot post, reload failed, replicas apart, and
	// an always-firing heartbeat). Default false.
	ServiceMonitor bool `yaml:"service_monitor,omitempty"`
}

// Storage is a replica's data volume.
type Storage struct {
	// Size of the volume (a Kubernetes quantity). Default 1Gi.
	Size string `yaml:"size,omitempty"`
	// StorageClass of the PersistentVolumeClaim. Default: the cluster's
	// default StorageClass.
	StorageClass string `yaml:"storage_class,omitempty"`
	// EmptyDir puts the data in an emptyDir instead of a
	// PersistentVolumeClaim: a rescheduled replica starts empty. Default
	// false (a warning when true).
	EmptyDir bool `yaml:"empty_dir,omitempty"`
}

// Peer is a source of traffic: pods of a namespace (all of them when
// pod_selector is empty), or addresses outside the cluster.
type Peer struct {
	Namespace   string   `yaml:"namespace,omitempty"`
	PodSelector string   `yaml:"pod_selector,omitempty"`
	CIDRs       []string `yaml:"cidrs,omitempty"`
}

// Denies reports whether direction ("ingress" or "egress") is denied by default.
func (c Cluster) Denies(direction string) bool {
	for _, d := range c.DefaultDeny {
		if d == direction {
			return true
		}
	}
	return false
}

// Workload names pods by namespace and label selector.
type Workload struct {
	Namespace   string `yaml:"namespace,omitempty"`
	PodSelector string `yaml:"pod_selector,omitempty"`
}

// Alertmanager describes the Alertmanager deployment.
type Alertmanager struct {
	Workload `yaml:",inline"`
	// Version of Alertmanager; >= 0.30 gets mattermost_configs, older slack_configs.
	// Default 0.31.1.
	Version string `yaml:"version,omitempty"`
	// SecretName holds the webhook URL in the key "webhook-url". Default
	// "gatewatch-mattermost".
	SecretName string `yaml:"secret_name,omitempty"`
}

// Webhook path kinds.
const (
	ViaGateway = "gateway"
	ViaDirect  = "direct"
)

// WebhookPath is how Alertmanager's traffic reaches Mattermost.
type WebhookPath struct {
	// Via is "gateway" (the Mattermost host is served through an in-cluster
	// gateway, default) or "direct" (egress to CIDRs).
	Via string `yaml:"via,omitempty"`
	// Gateway is the in-cluster gateway the webhook traffic goes through.
	// Default: the first gateway's namespace and selector.
	Gateway GatewayPeer `yaml:"gateway,omitempty"`
	// CIDRs the Mattermost host resolves to (via: direct).
	CIDRs []string `yaml:"cidrs,omitempty"`
	// Port of the Mattermost host (via: direct). Default 443.
	Port int `yaml:"port,omitempty"`
}

// GatewayPeer is the in-cluster gateway on the webhook path.
type GatewayPeer struct {
	Namespace   string `yaml:"namespace,omitempty"`
	PodSelector string `yaml:"pod_selector,omitempty"`
	// Port is the Service port clients dial. Default 443.
	Port int `yaml:"port,omitempty"`
	// TargetPort is the pod port behind it, which is what NetworkPolicy sees
	// after the Service translation. Default 8443 (Istio's gateway charts map
	// 443 → 8443 so Envoy runs unprivileged).
	TargetPort int `yaml:"target_port,omitempty"`
}

// Defaults used when a field is empty; documented in docs/spec.md.
const (
	DefaultStatsPortName   = "http-envoy-prom"
	DefaultStatsPortNumber = 15090
	DefaultStatsPath       = "/stats/prometheus"
	DefaultSeverity        = "warning"
	DefaultAMVersion       = "0.31.1"
	DefaultSecretName      = "gatewatch-mattermost"
	DefaultReplicas        = 2
	// DefaultBridgePort is where render --target bridge's bridge listens.
	DefaultBridgePort  = 9095
	DefaultStorageSize = "1Gi"
	// SecretKey is the key in the Secret that holds the webhook URL.
	SecretKey = "webhook-url"
	// BotTokenKey is the key in the Secret that holds the bot token (bot mode).
	BotTokenKey = "bot-token"
	// ActionsSecretKey is the key that holds the buttons' signing key, when
	// mattermost.actions_secret_file is set.
	ActionsSecretKey = "actions-secret"
)

// Default durations.
var (
	DefaultScrapeInterval = Duration(15 * time.Second)
	DefaultScrapeTimeout  = Duration(10 * time.Second)
	DefaultWindow         = Duration(5 * time.Minute)
	DefaultGroupWait      = Duration(time.Second)
	DefaultExplainTimeout = Duration(2 * time.Second)
	DefaultGroupInterval  = Duration(5 * time.Minute)
	DefaultRepeatInterval = Duration(4 * time.Hour)
)

// Explain configures the 421 analysis attached to alert messages.
type Explain struct {
	// AccessLogs is where the gateways' access logs are read: "kube" (the
	// gateway pods' istio-proxy container logs through the API; needs get
	// on pods/log), a file path, or "" for none (the default).
	AccessLogs string `yaml:"access_logs,omitempty"`
	// LogFormat is the Envoy access-log format string when the mesh sets a
	// custom one; default: Istio's text and JSON formats, detected per line.
	LogFormat string `yaml:"log_format,omitempty"`
	// Config is where the gateway configuration is read: "kube" (Istio
	// Gateways, VirtualServices and EnvoyFilters, Gateway API Gateways and
	// the TLS Secrets they name; needs get/list on them), a directory of
	// manifests, or "" for none (the default).
	Config string `yaml:"config,omitempty"`
	// Timeout bounds the analysis for one message; the alert is sent
	// without it when it takes longer. Default 2s.
	Timeout Duration `yaml:"timeout,omitempty"`
}

// Enabled reports whether any evidence source is configured.
func (e Explain) Enabled() bool { return e.AccessLogs != "" || e.Config != "" }

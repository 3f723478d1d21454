package spec

import (
	"fmt"
	"slices"

	"github.com/gatewatch/gatewatch/internal/version"
)

// applyDefaults fills every empty field with its documented default. Fields
// that were written in the file keep their value even when it is zero, so
// validate can reject "window: 0s" instead of silently replacing it.
func (s *Spec) applyDefaults(idx lineIndex, kinds Kinds) {
	for i := range s.Gateways {
		g := &s.Gateways[i]
		if g.Workload == "" {
			g.Workload = g.Name
		}
		if g.Stats.Port.IsZero() {
			g.Stats.Port = Port{Name: DefaultStatsPortName}
		}
		if g.Stats.Path == "" {
			g.Stats.Path = DefaultStatsPath
		}
		if !idx.has(fmt.Sprintf("gateways[%d].stats.interval", i)) {
			g.Stats.Interval = DefaultScrapeInterval
		}
		if !idx.has(fmt.Sprintf("gateways[%d].stats.timeout", i)) {
			g.Stats.Timeout = min(DefaultScrapeTimeout, g.Stats.Interval)
		}
	}

	present := map[string]bool{}
	for i := range s.Alerts {
		a := &s.Alerts[i]
		a.path = fmt.Sprintf("alerts[%d]", i)
		if a.Kind == "" && len(kinds) > 0 {
			a.Kind = kinds[0].Name
		}
		present[a.Kind] = true
		k, _ := kinds.Lookup(a.Kind)
		a.applyDefaults(k, idx.has(a.path+".window"), idx.has(a.path+".for"))
	}
	// Implicit kinds (the 421 alert: it is what gatewatch is for) are on
	// unless the file has an entry of their kind. Each goes after the last
	// alert of a kind earlier in the catalogue, so the 421 alert stays
	// first.
	rank := map[string]int{}
	for i, k := range kinds {
		rank[k.Name] = i
	}
	for i, k := range kinds {
		if !k.Implicit || present[k.Name] {
			continue
		}
		a := Alert{Kind: k.Name, path: "alerts"}
		a.applyDefaults(k, false, false)
		at := 0
		for j, w := range s.Alerts {
			if r, ok := rank[w.Kind]; ok && r < i {
				at = j + 1
			}
		}
		s.Alerts = slices.Insert(s.Alerts, at, a)
	}

	m := &s.Mattermost
	if m.Username == "" {
		m.Username = "gatewatch"
	}

	r := &s.Routing
	if len(r.GroupBy) == 0 {
		r.GroupBy = []string{"alertname", "namespace", "gateway"}
	}
	if r.GroupWait == 0 && !idx.has("routing.group_wait") {
		r.GroupWait = DefaultGroupWait
	}
	if !idx.has("routing.group_interval") {
		r.GroupInterval = DefaultGroupInterval
	}
	if !idx.has("routing.repeat_interval") {
		r.RepeatInterval = DefaultRepeatInterval
	}
	if r.DefaultReceiver == "" {
		r.DefaultReceiver = "null"
	}
	if len(r.Alerts) == 0 {
		for _, a := range s.Alerts {
			if a.IsEnabled() {
				r.Alerts = append(r.Alerts, a.Name)
			}
		}
	} else {
		r.Alerts = routedWith(s.Alerts, r.Alerts, kinds)
	}

	if s.Explain.Timeout == 0 {
		s.Explain.Timeout = DefaultExplainTimeout
	}

	c := &s.Cluster
	if c.MonitoringNamespace == "" {
		c.MonitoringNamespace = "monitoring"
	}
	if c.Prometheus.Namespace == "" {
		c.Prometheus.Namespace = c.MonitoringNamespace
	}
	if c.Prometheus.PodSelector == "" {
		c.Prometheus.PodSelector = "app.kubernetes.io/name=prometheus"
	}
	if c.Alertmanager.Namespace == "" {
		c.Alertmanager.Namespace = c.MonitoringNamespace
	}
	if c.Alertmanager.PodSelector == "" {
		c.Alertmanager.PodSelector = "app.kubernetes.io/name=alertmanager"
	}
	if c.Alertmanager.Version == "" {
		c.Alertmanager.Version = DefaultAMVersion
	}
	if c.Alertmanager.SecretName == "" {
		c.Alertmanager.SecretName = DefaultSecretName
	}
	if c.Image == "" {
		c.Image = version.Image()
	}
	if c.DNS.Namespace == "" {
		c.DNS.Namespace = "kube-system"
	}
	if c.DNS.PodSelector == "" {
		c.DNS.PodSelector = "k8s-app=kube-dns"
	}
	if len(c.APIServer.Ports) == 0 && !idx.has("cluster.api_server.ports") {
		c.APIServer.Ports = []int{443, 6443}
	}
	st := &c.Standalone
	if !idx.has("cluster.standalone.replicas") {
		st.Replicas = DefaultReplicas
	}
	if st.Storage.Size == "" && !idx.has("cluster.standalone.storage.size") {
		st.Storage.Size = DefaultStorageSize
	}
	if len(st.WebFrom) == 0 && !idx.has("cluster.standalone.web_from") {
		st.WebFrom = []Peer{{Namespace: c.Prometheus.Namespace, PodSelector: c.Prometheus.PodSelector}}
	}
	b := &c.Bridge
	if !idx.has("cluster.bridge.replicas") {
		b.Replicas = DefaultReplicas
		if s.Mattermost.BotMode() {
			b.Replicas = 1
		}
	}
	if b.Storage.Size == "" && !idx.has("cluster.bridge.storage.size") {
		b.Storage.Size = DefaultStorageSize
	}
	if len(b.WebFrom) == 0 && !idx.has("cluster.bridge.web_from") {
		b.WebFrom = []Peer{{Namespace: c.Prometheus.Namespace, PodSelector: c.Prometheus.PodSelector}}
	}
	w := &c.WebhookPath
	if w.Via == "" {
		w.Via = ViaGateway
	}
	if w.Via == ViaGateway {
		if w.Gateway.Namespace == "" && len(s.Gateways) > 0 {
			w.Gateway.Namespace = s.Gateways[0].Namespace
		}
		if w.Gateway.PodSelector == "" && len(s.Gateways) > 0 {
			w.Gateway.PodSelector = s.Gateways[0].Selector
		}
		if w.Gateway.Port == 0 {
			w.Gateway.Port = 443
		}
		if w.Gateway.TargetPort == 0 {
			w.Gateway.TargetPort = 8443
		}
	}
	if w.Port == 0 {
		w.Port = 443
	}
}

// EnabledAlerts returns the alerts that are on, in file order.
func (s *Spec) EnabledAlerts() []Alert {
	var out []Alert
	for _, a := range s.Alerts {
		if a.IsEnabled() {
			out = append(out, a)
		}
	}
	return out
}

func (a *Alert) applyDefaults(k Kind, windowWritten, forWritten bool) {
	if a.Name == "" {
		a.Name = k.AlertName
	}
	if k.Defaults != nil {
		k.Defaults(a)
	}
	if !windowWritten {
		a.Window = DefaultWindow
		if k.DefaultWindow > 0 {
			a.Window = k.DefaultWindow
		}
	}
	if !forWritten {
		a.For = k.DefaultFor
	}
	if a.Severity == "" {
		a.Severity = DefaultSeverity
	}
	if a.Per == "" {
		a.Per = "pod"
	}
}

// routedWith adds to a written routing.alerts list the enabled alerts whose
// kind follows the routing of a kind that the list delivers (stats-down
// goes where the 421 alert goes).
func routedWith(alerts []Alert, routed []string, kinds Kinds) []string {
	byName := map[string]Alert{}
	for _, a := range alerts {
		byName[a.Name] = a
	}
	kindRouted := map[string]bool{}
	for _, n := range routed {
		kindRouted[byName[n].Kind] = true
	}
	out := routed
	for _, a := range alerts {
		k, _ := kinds.Lookup(a.Kind)
		if a.IsEnabled() && k.RoutedWith != "" && kindRouted[k.RoutedWith] && !slices.Contains(out, a.Name) {
			out = append(slices.Clip(out), a.Name)
		}
	}
	return out
}

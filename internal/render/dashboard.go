package render

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatewatch/gatewatch/internal/dashboard"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// DashboardLabel is the label kube-prometheus-stack's Grafana sidecar
// loads dashboards from (grafana.sidecar.dashboards.label, value "1").
const DashboardLabel = "grafana_dashboard"

// dashboardOutput is the Grafana dashboard's ConfigMap, written by every
// target that runs in a cluster.
func dashboardOutput() Output {
	return Output{Name: "dashboard-*.yaml", Format: FormatObject, Kinds: []string{"ConfigMap"}}
}

// dashboardFile is gatewatch's Grafana dashboard (internal/dashboard) in a
// ConfigMap of the monitoring namespace, where the sidecar finds it.
func dashboardFile(s *spec.Spec) (File, error) {
	j, err := dashboard.JSON()
	if err != nil {
		return File{}, err
	}
	ns := s.Cluster.MonitoringNamespace
	labels := managedLabels(s, false)
	labels[DashboardLabel] = "1"
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "gatewatch-dashboard", Namespace: ns, Labels: labels},
		Data:       map[string]string{"gatewatch.json": string(j)},
	}
	return file("dashboard-"+ns+"-gatewatch.yaml", "# gatewatch's Grafana dashboard: kube-prometheus-stack's Grafana sidecar loads\n# ConfigMaps labelled grafana_dashboard=\"1\" (docs/dashboard.md).\n", cm)
}

package gwconfig

import (
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
)

func (c *Config) addService(src Source, js []byte) error {
	var in corev1.Service
	if err := json.Unmarshal(js, &in); err != nil {
		return err
	}
	s := &Service{
		Namespace: in.Namespace, Name: in.Name, Source: src,
		Type: string(in.Spec.Type), Labels: in.Labels, Selector: in.Spec.Selector,
	}
	for _, p := range in.Spec.Ports {
		s.Ports = append(s.Ports, ServicePort{Name: p.Name, Port: int(p.Port), TargetPort: p.TargetPort.IntValue()})
	}
	for _, ing := range in.Status.LoadBalancer.Ingress {
		for _, a := range []string{ing.IP, ing.Hostname} {
			if a != "" {
				s.Addresses = append(s.Addresses, a)
			}
		}
	}
	s.Addresses = append(s.Addresses, in.Spec.ExternalIPs...)
	if prev, ok := c.services.put(s.Key(), s); ok {
		c.replaced("Service "+s.Key(), src, prev.Source)
	}
	return nil
}

package gwconfig

import (
	"cmp"
	"encoding/json"
	"fmt"
	"strings"
)

// gatewayAPIGateway is gateway.networking.k8s.io Gateway (v1, v1beta1).
type gatewayAPIGateway struct {
	Metadata objectMeta `json:"metadata"`
	Spec     struct {
		GatewayClassName string    `json:"gatewayClassName"`
		Addresses        []Address `json:"addresses"`
		Listeners        []struct {
			Name     string  `json:"name"`
			Hostname *string `json:"hostname"`
			Port     int     `json:"port"`
			Protocol string  `json:"protocol"`
			TLS      *struct {
				Mode            string `json:"mode"`
				CertificateRefs []struct {
					Group     string `json:"group"`
					Kind      string `json:"kind"`
					Name      string `json:"name"`
					Namespace string `json:"namespace"`
				} `json:"certificateRefs"`
			} `json:"tls"`
		} `json:"listeners"`
	} `json:"spec"`
	Status struct {
		Addresses []Address `json:"addresses"`
	} `json:"status"`
}

func (c *Config) addGatewayAPIGateway(src Source, apiVersion string, js []byte) error {
	var in gatewayAPIGateway
	if err := json.Unmarshal(js, &in); err != nil {
		return err
	}
	g := &Gateway{
		Group: GatewayAPIGroup, APIVersion: apiVersion,
		Namespace: in.Metadata.Namespace, Name: in.Metadata.Name, Source: src,
		ClassName: in.Spec.GatewayClassName,
		Addresses: in.Spec.Addresses, StatusAddresses: in.Status.Addresses,
	}
	for i, l := range in.Spec.Listeners {
		srv := Server{Index: i, Name: l.Name, Port: l.Port, Protocol: strings.ToUpper(l.Protocol)}
		if l.Hostname != nil && *l.Hostname != "" {
			srv.Hosts = []string{*l.Hostname}
		}
		if srv.Protocol == "HTTPS" || srv.Protocol == "TLS" {
			srv.TLSMode = "Terminate" // the API's default
			if l.TLS == nil && srv.Protocol == "HTTPS" {
				c.warn(g.item(), src, fmt.Sprintf("listener %q is HTTPS without tls settings", l.Name))
			}
		}
		if l.TLS != nil {
			if l.TLS.Mode != "" {
				srv.TLSMode = l.TLS.Mode
			}
			for _, r := range l.TLS.CertificateRefs {
				if (r.Kind != "" && r.Kind != "Secret") || (r.Group != "" && r.Group != "core") {
					c.warn(g.item(), src, fmt.Sprintf("listener %q refers to a %s %q, not a Secret; its certificate can't be read", l.Name, r.Kind, r.Name))
					continue
				}
				srv.Credentials = append(srv.Credentials, nsName(cmp.Or(r.Namespace, g.Namespace), r.Name))
			}
		}
		g.Servers = append(g.Servers, srv)
	}
	if prev, ok := c.gateways.put(GatewayAPIGroup+"/"+g.Key(), g); ok {
		c.replaced(g.item(), src, prev.Source)
	}
	return nil
}

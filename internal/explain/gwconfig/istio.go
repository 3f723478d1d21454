package gwconfig

import (
	"cmp"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// istioGateway is networking.istio.io Gateway (v1, v1beta1 and v1alpha3
// share the schema). Istio decodes with protobuf JSON, which also accepts
// the proto field names, so a few snake_case spellings are read too.
type istioGateway struct {
	Metadata objectMeta `json:"metadata"`
	Spec     struct {
		Selector map[string]string `json:"selector"`
		Servers  []struct {
			Port *struct {
				Number          int    `json:"number"`
				Protocol        string `json:"protocol"`
				Name            string `json:"name"`
				TargetPort      int    `json:"targetPort"`
				TargetPortSnake int    `json:"target_port"`
			} `json:"port"`
			Hosts []string `json:"hosts"`
			TLS   *struct {
				Mode                   string   `json:"mode"`
				CredentialName         string   `json:"credentialName"`
				CredentialNameSnake    string   `json:"credential_name"`
				CredentialNames        []string `json:"credentialNames"`
				ServerCertificate      string   `json:"serverCertificate"`
				ServerCertificateSnake string   `json:"server_certificate"`
				HTTPSRedirect          bool     `json:"httpsRedirect"`
				HTTPSRedirectSnake     bool     `json:"https_redirect"`
			} `json:"tls"`
			Name string `json:"name"`
		} `json:"servers"`
	} `json:"spec"`
}

func (c *Config) addIstioGateway(src Source, apiVersion string, js []byte) error {
	var in istioGateway
	if err := json.Unmarshal(js, &in); err != nil {
		return err
	}
	g := &Gateway{
		Group: IstioGroup, APIVersion: apiVersion,
		Namespace: in.Metadata.Namespace, Name: in.Metadata.Name, Source: src,
		Selector: in.Spec.Selector,
	}
	portNames := map[string]int{}
	for i, s := range in.Spec.Servers {
		if s.Port == nil {
			c.warn(g.item(), src, fmt.Sprintf("servers[%d] has no port; skipped", i))
			continue
		}
		if j, ok := portNames[s.Port.Name]; ok {
			c.warn(g.item(), src, fmt.Sprintf("servers[%d] and servers[%d] have the same port name %q; Istio rejects the Gateway", j, i, s.Port.Name))
		}
		portNames[s.Port.Name] = i
		srv := Server{
			Index: i, Name: s.Name, PortName: s.Port.Name, Port: s.Port.Number,
			TargetPort: cmp.Or(s.Port.TargetPort, s.Port.TargetPortSnake),
			Protocol:   strings.ToUpper(s.Port.Protocol),
			Hosts:      s.Hosts,
		}
		if len(s.Hosts) == 0 {
			c.warn(g.item(), src, fmt.Sprintf("servers[%d] has no hosts", i))
		}
		if t := s.TLS; t != nil {
			srv.HTTPSRedirect = t.HTTPSRedirect || t.HTTPSRedirectSnake
			srv.TLSMode = strings.ToUpper(t.Mode)
			cred := cmp.Or(t.CredentialName, t.CredentialNameSnake)
			for _, n := range append([]string{cred}, t.CredentialNames...) {
				if n = strings.TrimPrefix(n, "kubernetes://"); n != "" && !slices.Contains(srv.Credentials, n) {
					srv.Credentials = append(srv.Credentials, n)
				}
			}
			srv.ServerCertificate = cmp.Or(t.ServerCertificate, t.ServerCertificateSnake)
			terminating := srv.Protocol == "HTTPS" || srv.Protocol == "TLS"
			if srv.TLSMode == "" && terminating && !srv.HTTPSRedirect {
				// TLSmode's zero value is PASSTHROUGH.
				srv.TLSMode = "PASSTHROUGH"
				if len(srv.Credentials) > 0 || srv.ServerCertificate != "" {
					c.warn(g.item(), src, fmt.Sprintf("servers[%d] has tls without mode: Istio's default is PASSTHROUGH, so its certificate is not used", i))
				}
			}
		}
		if (srv.Protocol == "HTTPS" || srv.Protocol == "TLS") && srv.TLSMode == "" {
			c.warn(g.item(), src, fmt.Sprintf("servers[%d] is %s without tls settings; Istio rejects it", i, srv.Protocol))
		}
		g.Servers = append(g.Servers, srv)
	}
	if prev, ok := c.gateways.put(IstioGroup+"/"+g.Key(), g); ok {
		c.replaced(g.item(), src, prev.Source)
	}
	return nil
}

type virtualService struct {
	Metadata objectMeta `json:"metadata"`
	Spec     struct {
		Hosts    []string `json:"hosts"`
		Gateways []string `json:"gateways"`
	} `json:"spec"`
}

func (c *Config) addVirtualService(src Source, js []byte) error {
	var in virtualService
	if err := json.Unmarshal(js, &in); err != nil {
		return err
	}
	vs := &VirtualService{Namespace: in.Metadata.Namespace, Name: in.Metadata.Name, Source: src, Hosts: in.Spec.Hosts}
	for _, g := range in.Spec.Gateways {
		vs.Gateways = append(vs.Gateways, gatewayRef(g, vs.Namespace))
	}
	if len(vs.Gateways) == 0 {
		vs.Gateways = []string{"mesh"}
	}
	if prev, ok := c.virtualServices.put(nsName(vs.Namespace, vs.Name), vs); ok {
		c.replaced("VirtualService "+nsName(vs.Namespace, vs.Name), src, prev.Source)
	}
	return nil
}

// gatewayRef turns a VirtualService gateways entry into namespace/name: a
// bare name is relative to the VirtualService's namespace; "mesh" stays.
func gatewayRef(g, ns string) string {
	if g == "mesh" || strings.Contains(g, "/") {
		return g
	}
	return nsName(ns, g)
}

// addEnvoyFilter reads an EnvoyFilter generically: its patches are Envoy
// configuration in any shape, and both camelCase and snake_case spellings
// are accepted by Istio.
func (c *Config) addEnvoyFilter(src Source, js []byte) error {
	var obj map[string]any
	if err := json.Unmarshal(js, &obj); err != nil {
		return err
	}
	md := mapAt(obj, "metadata")
	f := &EnvoyFilter{Namespace: str(md["namespace"]), Name: str(md["name"]), Source: src}
	spec := mapAt(obj, "spec")
	if labels := mapAt(mapAt(spec, "workloadSelector", "workload_selector"), "labels"); len(labels) > 0 {
		f.WorkloadSelector = map[string]string{}
		for k, v := range labels {
			f.WorkloadSelector[k] = str(v)
		}
	}
	for _, r := range listAt(spec, "targetRefs", "target_refs") {
		m, _ := r.(map[string]any)
		f.TargetRefs = append(f.TargetRefs, TargetRef{Group: str(m["group"]), Kind: str(m["kind"]), Name: str(m["name"])})
	}
	if r := mapAt(spec, "targetRef", "target_ref"); r != nil {
		f.TargetRefs = append(f.TargetRefs, TargetRef{Group: str(r["group"]), Kind: str(r["kind"]), Name: str(r["name"])})
	}
	for i, p := range listAt(spec, "configPatches", "config_patches") {
		pm, ok := p.(map[string]any)
		if !ok {
			c.warn("EnvoyFilter "+f.Key(), src, fmt.Sprintf("configPatches[%d] is not an object; skipped", i))
			continue
		}
		f.Patches = append(f.Patches, readPatch(i, pm))
	}
	if prev, ok := c.envoyFilters.put(f.Key(), f); ok {
		c.replaced("EnvoyFilter "+f.Key(), src, prev.Source)
	}
	return nil
}

var (
	// luaSNIRe finds code reading the SNI: streamInfo():requestedServerName().
	luaSNIRe = regexp.MustCompile(`requestedServerName|requested_server_name|:sni\(`)
	// luaAuthorityRe finds code reading the :authority (or Host) header.
	luaAuthorityRe = regexp.MustCompile(`["']:authority["']|get\(\s*["'][Hh]ost["']`)
	lua421Re       = regexp.MustCompile(`\b421\b`)
)

func readPatch(i int, pm map[string]any) FilterPatch {
	match := mapAt(pm, "match")
	listener := mapAt(match, "listener")
	route := mapAt(match, "routeConfiguration", "route_configuration")
	p := FilterPatch{
		Index:        i,
		ApplyTo:      strings.ToUpper(str(first(pm, "applyTo", "apply_to"))),
		Context:      strings.ToUpper(str(match["context"])),
		PortNumber:   num(first(listener, "portNumber", "port_number")),
		SNI:          str(mapAt(listener, "filterChain", "filter_chain")["sni"]),
		RouteGateway: str(route["gateway"]),
	}
	if p.PortNumber == 0 {
		p.PortNumber = num(first(route, "portNumber", "port_number"))
	}
	value := mapAt(pm, "patch")["value"]
	p.Lua = mentionsLua(match) || mentionsLua(value)
	var code []string
	walk(value, func(key string, v any) {
		switch key {
		case "inlineCode", "inline_code", "inlineString", "inline_string":
			code = append(code, str(v))
		case "alpnProtocols", "alpn_protocols":
			if l, ok := v.([]any); ok {
				for _, a := range l {
					p.ALPN = append(p.ALPN, str(a))
				}
			}
		}
	})
	if p.Lua {
		all := strings.Join(code, "\n")
		p.ReadsSNI = luaSNIRe.MatchString(all)
		p.ReadsAuthority = luaAuthorityRe.MatchString(all)
		p.Responds421 = strings.Contains(all, "respond(") && lua421Re.MatchString(all)
	}
	return p
}

// mentionsLua reports whether v names the Envoy Lua HTTP filter, by filter
// name or by type URL, anywhere.
func mentionsLua(v any) bool {
	found := false
	walk(v, func(key string, v any) {
		s, ok := v.(string)
		if !ok {
			return
		}
		switch {
		case key == "name" && (s == "envoy.filters.http.lua" || s == "envoy.lua"),
			strings.Contains(s, "envoy.extensions.filters.http.lua.v3."),
			strings.Contains(s, "envoy.config.filter.http.lua.v2."):
			found = true
		}
	})
	return found
}

// walk calls fn for every key and value of nested maps and lists.
func walk(v any, fn func(key string, v any)) {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			fn(k, x)
			walk(x, fn)
		}
	case []any:
		for _, x := range t {
			walk(x, fn)
		}
	}
}

func first(m map[string]any, keys ...string) any {
	for _, k := range keys {
		if v, ok := m[k]; ok {
			return v
		}
	}
	return nil
}

func mapAt(m map[string]any, keys ...string) map[string]any {
	r, _ := first(m, keys...).(map[string]any)
	return r
}

func listAt(m map[string]any, keys ...string) []any {
	r, _ := first(m, keys...).([]any)
	return r
}

func str(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

func num(v any) int {
	switch t := v.(type) {
	case float64:
		return int(t)
	case string:
		n, _ := strconv.Atoi(t)
		return n
	}
	return 0
}

// Package kube builds Kubernetes API clients the way kubectl does, for
// every part of gatewatch that talks to the API (run's pod discovery,
// doctor, explain and the alert enrichment): one set of loading rules, one
// timeout policy, and errors that name the flags to pass.
package kube

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// The timeout policy: RequestTimeout bounds one API request; a read of
// pod logs, which streams, gets StreamTimeout (ForStreams).
const (
	RequestTimeout = 10 * time.Second
	StreamTimeout  = 30 * time.Second
)

// A command's reads (lists, Secrets, pod logs for every gateway pod) fit in
// their budget only without client-go's default throttle of 5 QPS.
const (
	qps   = 50
	burst = 100
)

// Options are the kubectl flags that choose a cluster.
type Options struct {
	// Kubeconfig is --kubeconfig ("" for $KUBECONFIG, ~/.kube/config, then
	// the in-cluster configuration).
	Kubeconfig string
	// Context is --context ("" for the current one).
	Context string
}

// Given reports whether the user named a kubeconfig or a context: then a
// configuration that does not load is an error, not a reason to skip.
func (o Options) Given() bool { return o.Kubeconfig != "" || o.Context != "" }

// ErrNoConfig is returned (wrapped) when no configuration is found at all.
var ErrNoConfig = errors.New("no Kubernetes configuration: pass --kubeconfig (or set KUBECONFIG), or run inside a cluster")

// inClusterConfig is rest.InClusterConfig (tests stand in for a pod).
var inClusterConfig = rest.InClusterConfig

// loadingRules are kubectl's: --kubeconfig, else $KUBECONFIG's files, else
// ~/.kube/config.
func loadingRules(o Options) *clientcmd.ClientConfigLoadingRules {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.Kubeconfig
	return rules
}

// Config loads the client configuration with kubectl's rules:
// --kubeconfig, $KUBECONFIG, ~/.kube/config, then the in-cluster
// configuration; --context picks a context. Requests time out after
// RequestTimeout, and are throttled at 50 QPS (burst 100) on the client.
func Config(o Options) (*rest.Config, error) {
	rules := loadingRules(o)
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: o.Context}).ClientConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) {
			// client-go's own words name KUBERNETES_MASTER, which kubectl
			// dropped years ago.
			return nil, ErrNoConfig
		}
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	cfg.Timeout = RequestTimeout
	cfg.QPS, cfg.Burst = qps, burst
	return cfg, nil
}

// ForStreams returns a copy of cfg whose requests time out after
// StreamTimeout, for clients that read pod logs.
func ForStreams(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Timeout = StreamTimeout
	return c
}

// Clients are the typed and dynamic clients of one configuration.
type Clients struct {
	Config  *rest.Config
	Typed   kubernetes.Interface
	Dynamic dynamic.Interface
}

// NewClients loads the configuration (Config) and builds both clients.
func NewClients(o Options) (*Clients, error) {
	cfg, err := Config(o)
	if err != nil {
		return nil, err
	}
	return ClientsFor(cfg)
}

// ClientsFor builds both clients for cfg.
func ClientsFor(cfg *rest.Config) (*Clients, error) {
	typed, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes dynamic client: %w", err)
	}
	return &Clients{Config: cfg, Typed: typed, Dynamic: dyn}, nil
}

// DiscoveryFile returns the kubeconfig file for Prometheus's Kubernetes
// discovery, which reads one file and its current context: the user's own
// file when one file was found (--kubeconfig, a one-file $KUBECONFIG or
// ~/.kube/config) and no context was chosen, so its tokens and their
// refresh stay the user's; otherwise a copy holding only the chosen (or
// current) context, its cluster and its user, written to dst (0600); ""
// for the in-cluster configuration. Without any, it returns ErrNoConfig.
func DiscoveryFile(o Options, dst string) (string, error) {
	rules := loadingRules(o)
	cfg, err := rules.Load()
	if err != nil {
		return "", fmt.Errorf("kubeconfig: %w", err)
	}
	if clientcmdapi.IsConfigEmpty(cfg) {
		if o.Context != "" {
			return "", fmt.Errorf("kubeconfig: no configuration has the context %q", o.Context)
		}
		if _, err := inClusterConfig(); err != nil {
			return "", ErrNoConfig
		}
		return "", nil
	}
	if o.Context == "" {
		if found := foundFiles(rules); len(found) == 1 {
			return found[0], nil
		}
	} else {
		if _, ok := cfg.Contexts[o.Context]; !ok {
			return "", fmt.Errorf("kubeconfig: context %q does not exist", o.Context)
		}
		cfg.CurrentContext = o.Context
	}
	if err := clientcmdapi.MinifyConfig(cfg); err != nil {
		return "", fmt.Errorf("kubeconfig: %w", err)
	}
	if err := clientcmd.WriteToFile(*cfg, dst); err != nil {
		return "", fmt.Errorf("write kubeconfig for discovery: %w", err)
	}
	return dst, nil
}

// foundFiles are the files of the loading rules that exist, in order.
func foundFiles(rules *clientcmd.ClientConfigLoadingRules) []string {
	var found []string
	for _, f := range rules.GetLoadingPrecedence() {
		if _, err := os.Stat(f); err == nil {
			found = append(found, f)
		}
	}
	return found
}

// Describe says which configuration Config and DiscoveryFile take for o,
// by the same rules, for a start log line:
//
//	kubeconfig /home/u/.kube/config, context prod, server https://10.0.0.1:6443
//	kubeconfig /tmp/a + /tmp/b ($KUBECONFIG), context dev, server https://…
//	in-cluster configuration (service account)
//	none: no Kubernetes configuration: pass --kubeconfig (or set KUBECONFIG), or run inside a cluster
//
// A file named by --kubeconfig is marked "(--kubeconfig)", files from
// $KUBECONFIG "($KUBECONFIG)". It reads the files and contacts no server.
func Describe(o Options) string {
	rules := loadingRules(o)
	cfg, err := rules.Load()
	if err != nil {
		return "none: kubeconfig: " + err.Error()
	}
	if clientcmdapi.IsConfigEmpty(cfg) {
		if o.Context != "" {
			return fmt.Sprintf("none: no configuration has the context %q", o.Context)
		}
		_, err := inClusterConfig()
		switch {
		case err == nil:
			return "in-cluster configuration (service account)"
		case errors.Is(err, rest.ErrNotInCluster):
			return "none: " + ErrNoConfig.Error()
		default:
			// In a pod, without its service account token (e.g.
			// automountServiceAccountToken: false).
			return "none: in-cluster configuration: " + err.Error()
		}
	}
	files := strings.Join(foundFiles(rules), " + ")
	switch {
	case o.Kubeconfig != "":
		files += " (--kubeconfig)"
	case os.Getenv(clientcmd.RecommendedConfigPathEnvVar) != "":
		files += " ($KUBECONFIG)"
	}
	name := o.Context
	if name == "" {
		name = cfg.CurrentContext
	}
	if name == "" {
		return fmt.Sprintf("none: kubeconfig %s has no current context (pass --context)", files)
	}
	ctx, ok := cfg.Contexts[name]
	if !ok {
		return fmt.Sprintf("none: kubeconfig %s: context %q does not exist", files, name)
	}
	server := "(none)"
	if c, ok := cfg.Clusters[ctx.Cluster]; ok && c.Server != "" {
		server = c.Server
	}
	return fmt.Sprintf("kubeconfig %s, context %s, server %s", files, name, server)
}

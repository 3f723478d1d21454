// Package kube builds Kubernetes API clients the way kubectl does, for
// every part of gatewatch that talks to the API (run's pod discovery,
// doctor, explain and the alert enrichment): one set of loading rules, one
// timeout policy, and errors that name the flags to pass.
package kube

import (
	"errors"
	"fmt"
	"os"
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

// Config loads the client configuration with kubectl's rules:
// --kubeconfig, $KUBECONFIG, ~/.kube/config, then the in-cluster
// configuration; --context picks a context. Requests time out after
// RequestTimeout, and are throttled at 50 QPS (burst 100) on the client.
func Config(o Options) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.Kubeconfig
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
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.Kubeconfig
	cfg, err := rules.Load()
	if err != nil {
		return "", fmt.Errorf("kubeconfig: %w", err)
	}
	if clientcmdapi.IsConfigEmpty(cfg) {
		if o.Context != "" {
			return "", fmt.Errorf("kubeconfig: no configuration has the context %q", o.Context)
		}
		if _, err := rest.InClusterConfig(); err != nil {
			return "", ErrNoConfig
		}
		return "", nil
	}
	if o.Context == "" {
		var found []string
		for _, f := range rules.GetLoadingPrecedence() {
			if _, err := os.Stat(f); err == nil {
				found = append(found, f)
			}
		}
		if len(found) == 1 {
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

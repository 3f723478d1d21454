package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/gatewatch/gatewatch/internal/explain"
	"github.com/gatewatch/gatewatch/internal/explain/accesslog"
	"github.com/gatewatch/gatewatch/internal/spec"
)

func newExplainCmd() *cobra.Command {
	var (
		path, logs, logFormat, configDir, namespace, selector, kubeconfig, kubeContext, format string
		kube                                                                                   bool
		since                                                                                  time.Duration
		top                                                                                    int
	)
	cmd := &cobra.Command{
		Use:   "explain",
		Short: "Explain why the gateway answered 421: host pairs, who answered, which certificates and servers overlap, and the fix",
		Long: `Reads a gateway's access log (Istio's default text or JSON format, or
--log-format), groups the 421 Misdirected Request answers by TLS SNI →
:authority pair and by who produced them (an EnvoyFilter's Lua code, the
application, Envoy), then checks each pair against the gateway configuration:
Istio Gateways, VirtualServices and EnvoyFilters, Gateway API Gateways and
the TLS Secrets' certificates. It says which server the SNI selected, whether
its certificate also covers the :authority (so browsers may reuse the
connection: HTTP/2 connection coalescing), whether both share an address and
port, and what to change.

Without logs it lists the server pairs whose certificates let browsers
coalesce. Bad log lines and unreadable resources are warnings; the analysis
goes on.

Sources:
  --logs FILE|-        an access log (kubectl logs output is fine, with --prefix/--timestamps)
  --config DIR|FILE    manifests (YAML/JSON, multi-document, recursive)
  --kube               the gateway pods' logs and the resources through the API
  -c gatewatch.yaml    the spec's gateways (for --kube) and its explain section`,
		Example: `  kubectl -n istio-ingress logs deploy/istio-ingressgateway --since=1h | gatewatch explain --logs - --config manifests/
  gatewatch explain --kube -n istio-ingress --since 30m
  gatewatch explain --config manifests/ -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			var s *spec.Spec
			if path != "" {
				var err error
				if s, err = loadSpec(path); err != nil {
					return err // an invalid spec is exit 1, as for every command
				}
			}
			// Every source named on the command line must work (exit 2).
			o := explain.Options{Since: since, Now: time.Now(), Top: top, Strict: true}
			if logFormat == "" && s != nil {
				logFormat = s.Explain.LogFormat
			}
			if logFormat != "" {
				f, err := accesslog.ParseFormat(logFormat)
				if err != nil {
					return fail(exitUsage, fmt.Errorf("--log-format: %w", err))
				}
				o.Format = f
			}
			switch logs {
			case "":
			case "-":
				o.Logs = explain.ReaderLogs{R: cmd.InOrStdin(), Name: "standard input"}
			default:
				o.Logs = explain.FileLogs{Path: logs}
			}
			if configDir != "" {
				// A gatewatch spec given as --config (elsewhere -c/--config
				// is the spec): say so instead of skipping it quietly.
				if looksLikeSpec(configDir) {
					return fail(exitUsage, fmt.Errorf("%s is a gatewatch spec: pass it with -c/--spec; --config names the Gateway manifests", configDir))
				}
				o.Config = explain.DirConfig{Path: configDir}
			}
			if kube {
				cfg, err := kubeRESTConfig(kubeconfig, kubeContext)
				if err != nil {
					return fail(exitUsage, fmt.Errorf("--kube: %w", err))
				}
				cfg.Timeout = 30 * time.Second
				cfg.QPS, cfg.Burst = 50, 100
				client, err := kubernetes.NewForConfig(cfg)
				if err != nil {
					return fail(exitUsage, err)
				}
				dyn, err := dynamic.NewForConfig(cfg)
				if err != nil {
					return fail(exitUsage, err)
				}
				// The gateway pods: -n/-l, or the spec's gateways (those in
				// -n when it is given).
				gws := []spec.Gateway{{Name: "gateway", Namespace: namespace, Selector: selector}}
				if s != nil && !cmd.Flags().Changed("selector") {
					gws = nil
					for _, g := range s.Gateways {
						if g.Selector != "" && (!cmd.Flags().Changed("namespace") || g.Namespace == namespace) {
							gws = append(gws, g)
						}
					}
					if len(gws) == 0 {
						return fail(exitUsage, fmt.Errorf("%s has no gateway with a selector%s: give -l SELECTOR", path, map[bool]string{true: " in namespace " + namespace}[cmd.Flags().Changed("namespace")]))
					}
				}
				var nss []string
				for _, g := range gws {
					nss = append(nss, g.Namespace)
				}
				if o.Logs == nil {
					o.Logs = explain.KubeLogs{Client: client, Gateways: gws}
				}
				if o.Config == nil {
					kc := explain.KubeConfig{Client: dyn, GatewayNamespaces: nss}
					if cmd.Flags().Changed("namespace") {
						kc.Namespace = namespace // for namespace-scoped permissions
					}
					o.Config = kc
				}
			}
			// What the command line left open, the spec's explain section fills.
			if s != nil && s.Explain.Enabled() && (o.Logs == nil || o.Config == nil) {
				enr, err := newEnricher(s, kubeconfig, kubeContext, slog.New(slog.DiscardHandler))
				if err != nil {
					return fail(exitUsage, err)
				}
				if o.Logs == nil && enr.Logs != nil {
					o.Logs = enr.Logs("")
				}
				if o.Config == nil && enr.Config != nil {
					o.Config = enr.Config
				}
			}
			if o.Logs == nil && o.Config == nil {
				return fail(exitUsage, fmt.Errorf("nothing to explain: give --logs FILE|-, --config DIR, --kube, or a spec (-c) with an explain section"))
			}
			r, err := explain.Run(cmd.Context(), o)
			if cmd.Context().Err() != nil {
				return fail(exitUsage, errors.New("interrupted"))
			}
			if err != nil {
				return fail(exitUsage, err)
			}
			if format == "json" {
				return explain.WriteJSON(cmd.OutOrStdout(), r)
			}
			return explain.WriteText(cmd.OutOrStdout(), r)
		},
	}
	cmd.Flags().StringVarP(&path, "spec", "c", "", "gatewatch spec file: its gateways for --kube and its explain section (here --config/-f names the manifests)")
	cmd.Flags().StringVar(&logs, "logs", "", "access log file, or - for standard input")
	cmd.Flags().StringVar(&logFormat, "log-format", "", "Envoy access-log format string, when the mesh sets a custom one (default: Istio's text and JSON, detected per line)")
	cmd.Flags().StringVarP(&configDir, "config", "f", "", "directory (or file) of manifests: Gateways, VirtualServices, EnvoyFilters, TLS Secrets, Services")
	cmd.Flags().BoolVar(&kube, "kube", false, "read the gateway pods' logs and the resources through the Kubernetes API")
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "istio-system", "gateway pods' namespace for --kube (and, when given, the only namespace whose Gateways are read); with -c, limits the spec's gateways to it")
	cmd.Flags().StringVarP(&selector, "selector", "l", "istio=ingressgateway", "gateway pods' label selector for --kube; with -c, the spec's selectors unless given")
	cmd.Flags().DurationVar(&since, "since", 0, "only entries newer than this (e.g. 15m; default: all); also limits --kube logs")
	cmd.Flags().IntVar(&top, "top", 10, "how many host pairs to analyse in full")
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig for --kube (default: kubectl's rules)")
	cmd.Flags().StringVar(&kubeContext, "context", "", "kubeconfig context")
	outputFlag(cmd, &format)
	return cmd
}

// looksLikeSpec reports whether path is a file shaped like a gatewatch spec
// (a top-level gateways key and no kind), valid or not.
func looksLikeSpec(path string) bool {
	st, err := os.Stat(path)
	if err != nil || !st.Mode().IsRegular() || st.Size() > 1<<20 {
		return false
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	var top map[string]any
	if yaml.Unmarshal(b, &top) != nil {
		return false
	}
	_, gateways := top["gateways"]
	_, kind := top["kind"]
	return gateways && !kind
}

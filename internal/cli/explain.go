package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/gatewatch/gatewatch/internal/explain"
	"github.com/gatewatch/gatewatch/internal/explain/accesslog"
	"github.com/gatewatch/gatewatch/internal/explain/enrich"
	"github.com/gatewatch/gatewatch/internal/kube"
	"github.com/gatewatch/gatewatch/internal/spec"
)

func newExplainCmd() *cobra.Command {
	var o explainOptions
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
			o.namespaceSet, o.selectorSet = cmd.Flags().Changed("namespace"), cmd.Flags().Changed("selector")
			return o.run(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVarP(&o.path, "spec", "c", "", "gatewatch spec file: its gateways for --kube and its explain section (here --config/-f names the manifests)")
	cmd.Flags().StringVar(&o.logs, "logs", "", "access log file, or - for standard input")
	cmd.Flags().StringVar(&o.logFormat, "log-format", "", "Envoy access-log format string, when the mesh sets a custom one (default: Istio's text and JSON, detected per line)")
	cmd.Flags().StringVarP(&o.configDir, "config", "f", "", "directory (or file) of manifests: Gateways, VirtualServices, EnvoyFilters, TLS Secrets, Services")
	cmd.Flags().BoolVar(&o.useKube, "kube", false, "read the gateway pods' logs and the resources through the Kubernetes API")
	cmd.Flags().StringVarP(&o.namespace, "namespace", "n", "istio-system", "gateway pods' namespace for --kube (and, when given, the only namespace whose Gateways are read); with -c, limits the spec's gateways to it")
	cmd.Flags().StringVarP(&o.selector, "selector", "l", "istio=ingressgateway", "gateway pods' label selector for --kube; with -c, the spec's selectors unless given")
	cmd.Flags().DurationVar(&o.since, "since", 0, "only entries newer than this (e.g. 15m; default: all); also limits --kube logs")
	cmd.Flags().IntVar(&o.top, "top", 10, "how many host pairs to analyse in full, and how many items of every list the text report shows (-o json has them all)")
	kubeFlags(cmd, &o.kube, "--kube")
	outputFlag(cmd, &o.format)
	return cmd
}

// explainOptions are `gatewatch explain`'s flags.
type explainOptions struct {
	path, logs, logFormat, configDir, namespace, selector, format string
	useKube                                                       bool
	namespaceSet, selectorSet                                     bool // given on the command line
	since                                                         time.Duration
	top                                                           int
	kube                                                          kube.Options
}

// run explains the 421s of the sources the command line (and the spec's
// explain section) name, and writes the report.
func (o explainOptions) run(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	if err := checkFormat(o.format); err != nil {
		return err
	}
	var s *spec.Spec
	if o.path != "" {
		var err error
		if s, err = loadSpec(o.path); err != nil {
			return err // an invalid spec is exit 1, as for every command
		}
	}
	eo, err := o.sources(s, stdin)
	if err != nil {
		return fail(exitUsage, err)
	}
	r, err := explain.Run(ctx, eo)
	if ctx.Err() != nil {
		// Ctrl-C (cmd/gatewatch's signal context): the analysis stops
		// where it is, with the shell's code for SIGINT.
		return fail(exitInterrupted, errors.New("interrupted"))
	}
	if err != nil {
		return fail(exitUsage, err)
	}
	if o.format == "json" {
		return explain.WriteJSON(stdout, r)
	}
	return explain.WriteText(stdout, r)
}

// sources turns the flags into explain's options. Every source named on the
// command line must work (exit 2); what it leaves open, the spec's explain
// section fills.
func (o explainOptions) sources(s *spec.Spec, stdin io.Reader) (explain.Options, error) {
	eo := explain.Options{Since: o.since, Now: time.Now(), Top: o.top, Strict: true}
	logFormat := o.logFormat
	if logFormat == "" && s != nil {
		logFormat = s.Explain.LogFormat
	}
	if logFormat != "" {
		f, err := accesslog.ParseFormat(logFormat)
		if err != nil {
			return eo, fmt.Errorf("--log-format: %w", err)
		}
		eo.Format = f
	}
	switch o.logs {
	case "":
	case "-":
		eo.Logs = explain.ReaderLogs{R: stdin, Name: "standard input"}
	default:
		eo.Logs = explain.FileLogs{Path: o.logs}
	}
	if o.configDir != "" {
		// A gatewatch spec given as --config (elsewhere -c/--config is the
		// spec): say so instead of skipping it quietly.
		if looksLikeSpec(o.configDir) {
			return eo, fmt.Errorf("%s is a gatewatch spec: pass it with -c/--spec; --config names the Gateway manifests", o.configDir)
		}
		eo.Config = explain.DirConfig{Path: o.configDir}
	}
	if o.useKube {
		if err := o.kubeSources(s, &eo); err != nil {
			return eo, err
		}
	}
	if s != nil && s.Explain.Enabled() && (eo.Logs == nil || eo.Config == nil) {
		enr, err := enrich.FromSpec(s, o.kube, slog.New(slog.DiscardHandler))
		if err != nil {
			return eo, err
		}
		if eo.Logs == nil && enr.Logs != nil {
			eo.Logs = enr.Logs("")
		}
		if eo.Config == nil && enr.Config != nil {
			eo.Config = enr.Config
		}
	}
	if eo.Logs == nil && eo.Config == nil {
		return eo, fmt.Errorf("nothing to explain: give --logs FILE|-, --config DIR, --kube, or a spec (-c) with an explain section")
	}
	return eo, nil
}

// kubeSources fills what --kube reads and the command line left open: the
// gateway pods' logs (-n/-l, or the spec's gateways, those in -n when it is
// given) and the resources.
func (o explainOptions) kubeSources(s *spec.Spec, eo *explain.Options) error {
	cfg, err := kube.Config(o.kube)
	if err != nil {
		return fmt.Errorf("--kube: %w", err)
	}
	clients, err := kube.ClientsFor(kube.ForStreams(cfg))
	if err != nil {
		return err
	}
	gws := []spec.Gateway{{Name: "gateway", Namespace: o.namespace, Selector: o.selector}}
	if s != nil && !o.selectorSet {
		gws = nil
		for _, g := range s.Gateways {
			if g.Selector != "" && (!o.namespaceSet || g.Namespace == o.namespace) {
				gws = append(gws, g)
			}
		}
		if len(gws) == 0 {
			in := ""
			if o.namespaceSet {
				in = " in namespace " + o.namespace
			}
			return fmt.Errorf("%s has no gateway with a selector%s: give -l SELECTOR", o.path, in)
		}
	}
	var nss []string
	for _, g := range gws {
		nss = append(nss, g.Namespace)
	}
	if eo.Logs == nil {
		eo.Logs = explain.KubeLogs{Client: clients.Typed, Gateways: gws}
	}
	if eo.Config == nil {
		kc := explain.KubeConfig{Client: clients.Dynamic, GatewayNamespaces: nss}
		if o.namespaceSet {
			kc.Namespace = o.namespace // for namespace-scoped permissions
		}
		eo.Config = kc
	}
	return nil
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

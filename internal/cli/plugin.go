package cli

import (
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
)

// PluginName is the binary name kubectl finds on $PATH for `kubectl
// gatewatch …` (kubectl runs kubectl-<name> with the rest of the command
// line; https://kubernetes.io/docs/tasks/extend-kubectl/kubectl-plugins/).
const PluginName = "kubectl-gatewatch"

// IsPlugin reports whether the binary was started under the plugin name
// (argv[0], with or without a path or .exe).
func IsPlugin(argv0 string) bool {
	return strings.TrimSuffix(filepath.Base(argv0), ".exe") == PluginName
}

// commandLine matches "gatewatch " where a command line starts: at the
// start of a line (after indentation or a "$ " prompt), after a pipe, or
// in backquotes.
var commandLine = regexp.MustCompile("(?m)(^\\s*(?:\\$ )?|\\| |`)gatewatch ")

// asPlugin makes the help read as kubectl's: usage lines say `kubectl
// gatewatch render …` (cobra's display name), and so do the examples and
// the command lines in the long descriptions.
func asPlugin(root *cobra.Command) {
	if root.Annotations == nil {
		root.Annotations = map[string]string{}
	}
	root.Annotations[cobra.CommandDisplayNameAnnotation] = "kubectl gatewatch"
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Example = commandLine.ReplaceAllString(c.Example, "${1}kubectl gatewatch ")
		c.Long = commandLine.ReplaceAllString(c.Long, "${1}kubectl gatewatch ")
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

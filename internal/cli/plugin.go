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

// commandLine matches "gatewatch <command>" where a command line starts:
// at the start of a line (after indentation or a "$ " prompt), after a
// pipe, or in backquotes. Prose that starts with the word ("gatewatch
// watches …") has no command after it and stays.
func commandLine(root *cobra.Command) *regexp.Regexp {
	var names []string
	for _, c := range root.Commands() {
		names = append(names, regexp.QuoteMeta(c.Name()))
	}
	return regexp.MustCompile("(?m)(^\\s*(?:\\$ )?|\\| |`)gatewatch ((?:" + strings.Join(names, "|") + ")\\b)")
}

// asPlugin makes the help read as kubectl's: usage lines say `kubectl
// gatewatch render …` (cobra's display name), and so do the examples and
// the command lines in the long descriptions.
func asPlugin(root *cobra.Command) {
	if root.Annotations == nil {
		root.Annotations = map[string]string{}
	}
	root.Annotations[cobra.CommandDisplayNameAnnotation] = "kubectl gatewatch"
	cmdLine := commandLine(root)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Example = cmdLine.ReplaceAllString(c.Example, "${1}kubectl gatewatch ${2}")
		c.Long = cmdLine.ReplaceAllString(c.Long, "${1}kubectl gatewatch ${2}")
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

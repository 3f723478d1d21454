package cli

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"
)

// logFlags are the logging flags of the long-running commands.
type logFlags struct{ level, format string }

func (l *logFlags) add(cmd *cobra.Command, defLevel string) {
	cmd.Flags().StringVar(&l.level, "log.level", defLevel, "log level: debug, info, warn, error")
	cmd.Flags().StringVar(&l.format, "log.format", "text", "log format: text or json")
}

// logger builds the process logger (to stderr); library code receives it.
func (l *logFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(l.level)); err != nil {
		return nil, fail(exitUsage, fmt.Errorf("--log.level %q: use debug, info, warn or error", l.level))
	}
	opts := &slog.HandlerOptions{Level: level}
	switch l.format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fail(exitUsage, fmt.Errorf("--log.format %q: use text or json", l.format))
}

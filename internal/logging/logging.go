// Package logging builds the slog logger every binary uses, from the
// Prometheus-style --log.level and --log.format flags. Logs go to stderr so
// journald keeps and rotates them.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Flags are embedded in each binary's kong CLI.
type Flags struct {
	Level  string `name:"log.level" default:"info" enum:"debug,info,warn,error" help:"Only log messages with the given severity or above (${enum})."`
	Format string `name:"log.format" default:"logfmt" enum:"logfmt,json" help:"Output format of log messages (${enum})."`
}

// New returns the logger the flags describe.
func (f Flags) New(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(f.Level))); err != nil {
		return nil, fmt.Errorf("--log.level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	if f.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

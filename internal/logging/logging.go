// Package logging gives each binary's kong CLI Prometheus' --log.level and
// --log.format flags and builds the promslog logger they describe, as every
// Prometheus component's. (promslog/flag registers the same flags, but on a
// kingpin application only.) Logs go to stderr so journald keeps and rotates
// them.
package logging

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/prometheus/common/promslog"
)

// Flags are embedded in each binary's kong CLI.
type Flags struct {
	Level  string `name:"log.level" default:"info" enum:"debug,info,warn,error" help:"Only log messages with the given severity or above (${enum})."`
	Format string `name:"log.format" default:"logfmt" enum:"logfmt,json" help:"Output format of log messages (${enum})."`
}

// New returns the logger the flags describe, writing to w.
func (f Flags) New(w io.Writer) (*slog.Logger, error) {
	cfg := &promslog.Config{Level: promslog.NewLevel(), Format: promslog.NewFormat(), Writer: w}
	if err := cfg.Level.Set(f.Level); err != nil {
		return nil, fmt.Errorf("--log.level: %w", err)
	}
	if err := cfg.Format.Set(f.Format); err != nil {
		return nil, fmt.Errorf("--log.format: %w", err)
	}
	return promslog.New(cfg), nil
}

// Command dog-enforcer owns the port_traffic_dog nftables table (and the tc
// shaper): it counts, enforces quotas and limits, checkpoints counters and
// serves the admin API the dog CLI uses.
package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/alecthomas/kong"
	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/prometheus/common/version"

	"port-traffic-dog/enforcer"
	"port-traffic-dog/enforcer/admin"
	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/logging"
	"port-traffic-dog/internal/memlimit"
)

type cli struct {
	ConfigFile  string           `name:"config.file" default:"${config_path}" help:"YAML configuration file. A missing default file means flags only." placeholder:"PATH"`
	Port        []string         `name:"port" sep:"none" help:"An item, repeatable: PORTS[:key=value]... with the YAML item keys, e.g. --port 443:remark=alice:quota=500GiB:billing=sum. %XX escapes a colon in a value." placeholder:"SPEC"`
	StateDir    string           `name:"state-dir" help:"Override the config's state_dir." placeholder:"DIR"`
	AdminSocket string           `name:"admin-socket" help:"Override the config's admin_socket." placeholder:"PATH"`
	Cleanup     bool             `name:"cleanup" help:"Remove the nftables table and the tc setup this program created, then exit. Counters are kept in the state dir."`
	Version     kong.VersionFlag `name:"version" help:"Print version information and exit."`
	Log         logging.Flags    `embed:""`
}

func main() {
	var c cli
	kong.Parse(&c,
		kong.Name("dog-enforcer"),
		kong.Description("Per-port traffic accounting, monthly quotas and bandwidth limits with nftables and tc."),
		kong.Vars{"config_path": config.DefaultPath, "version": version.Print("dog-enforcer")},
		kong.UsageOnError())
	if err := run(&c); err != nil {
		fmt.Fprintln(os.Stderr, "dog-enforcer:", err)
		os.Exit(1)
	}
}

func run(c *cli) error {
	log, err := c.Log.New(os.Stderr)
	if err != nil {
		return err
	}
	// The heap is mostly the table's description (~15 MB at 10,000 items),
	// which changes rarely; at the default GOGC=100 the runtime lets it
	// double before collecting. At 50 the enforcer's resident memory at
	// 10,000 items is ~10 MB lower for the same CPU (bench/RESULTS.md).
	// GOGC and GOMEMLIMIT in the environment still rule; without the
	// latter the enforcer fits a soft limit to its heap (internal/memlimit).
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
	path := c.ConfigFile
	if path == config.DefaultPath {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			log.Info("no config file; using flags only", "path", path)
			path = ""
		}
	}
	opts := enforcer.Options{
		ConfigPath: path, PortFlags: c.Port, Logger: log, Version: version.Version,
		StateDir: c.StateDir, AdminSocket: c.AdminSocket,
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		opts.Memory = &memlimit.Tuner{}
	}
	e, err := enforcer.New(opts)
	if err != nil {
		return err
	}
	if c.Cleanup {
		return e.Cleanup()
	}
	// Signals are caught before Start: a SIGTERM or SIGHUP that arrives
	// while the table is being applied would otherwise end the process by
	// default, before the checkpoint that a stop writes. They are acted on
	// once Start has returned.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	if err := e.Start(); err != nil {
		return err
	}
	// Under systemd (Type=notify) this is what lets the network come up:
	// the table is in force now. Outside systemd it does nothing.
	if _, err := daemon.SdNotify(false, daemon.SdNotifyReady); err != nil {
		log.Warn("telling systemd we are ready failed", "err", err)
	}
	go func() {
		for range hup {
			if err := e.Reload(); err != nil {
				log.Error("reload on SIGHUP failed; keeping the applied configuration", "err", err)
			}
		}
	}()
	adminDone := make(chan struct{})
	go func() {
		defer close(adminDone)
		if err := admin.Serve(ctx, e, admin.Options{Logger: log}); err != nil {
			// Said at once, not at exit: counting and enforcement go on,
			// but dog cannot reach this enforcer until it is fixed.
			log.Error("admin API not available; counting and enforcement go on", "err", err)
		}
	}()
	runErr := e.Run(ctx)
	stop()
	<-adminDone
	return runErr
}

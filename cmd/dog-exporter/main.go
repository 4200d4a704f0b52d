// Command dog-exporter serves Port Traffic Dog's per-port counters, quota
// use, limits and reset times to Prometheus. It reads the kernel over
// netlink and the enforcer's state file; it changes nothing.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kong"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"

	"go.yaml.in/yaml/v3"

	"port-traffic-dog/exporter"
	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/logging"
)

type cli struct {
	ListenAddress []string         `name:"web.listen-address" default:":9730" help:"Addresses on which to expose metrics and the web interface. Repeatable." placeholder:"ADDR"`
	SystemdSocket bool             `name:"web.systemd-socket" help:"Use systemd socket activation listeners instead of port listeners."`
	ConfigFile    string           `name:"web.config.file" help:"Path to the configuration file that can enable TLS or basic authentication (exporter-toolkit format)." placeholder:"PATH"`
	TelemetryPath string           `name:"web.telemetry-path" default:"/metrics" help:"Path under which to expose metrics."`
	MaxRequests   int              `name:"web.max-requests" default:"10" help:"Maximum number of parallel scrape requests; 0 disables the limit."`
	StateDir      string           `name:"state-dir" default:"${state_dir}" help:"The enforcer's state directory." placeholder:"DIR"`
	Version       kong.VersionFlag `name:"version" help:"Print version information and exit."`
	Log           logging.Flags    `embed:""`
}

func main() {
	var c cli
	kong.Parse(&c,
		kong.Name("dog-exporter"),
		kong.Description("Prometheus exporter of Port Traffic Dog's per-port traffic, quotas and limits."),
		kong.Vars{"state_dir": config.DefaultStateDir, "version": version.Print("dog-exporter")},
		kong.UsageOnError())
	if err := run(&c); err != nil {
		fmt.Fprintln(os.Stderr, "dog-exporter:", err)
		os.Exit(1)
	}
}

func run(c *cli) error {
	log, err := c.Log.New(os.Stderr)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		versioncollector.NewCollector("port_traffic_dog_exporter"),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	mux := http.NewServeMux()
	mux.Handle(c.TelemetryPath, exporter.New(0, c.StateDir, log).Handler(reg, c.MaxRequests, 30*time.Second))
	if c.TelemetryPath != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        "Port Traffic Dog exporter",
			Description: "Per-port traffic, quotas and limits",
			Version:     version.Info(),
			Links:       []web.LandingLinks{{Address: c.TelemetryPath, Text: "Metrics"}},
		})
		if err != nil {
			return err
		}
		mux.Handle("/", landing)
	}
	srv := &http.Server{
		Handler:           exporter.ReadOnly(mux),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// Scrapes still running after 5 s are cut off.
		if err := srv.Shutdown(shut); err != nil {
			log.Warn("web server did not shut down cleanly", "err", err)
		}
	}()
	log.Info("starting dog-exporter", "version", version.Info(), "state_dir", c.StateDir)
	if why := openWithoutAuth(c.ListenAddress, c.SystemdSocket, c.ConfigFile); why != "" {
		log.Warn("metrics (remarks included) are served without authentication to anyone who can reach " +
			strings.Join(c.ListenAddress, ", ") + ": " + why + "; restrict it with basic auth or client certificates in --web.config.file, " +
			"a loopback --web.listen-address, or a firewall (docs/INSTALL.md)")
	}
	err = web.ListenAndServe(srv, &web.FlagConfig{
		WebListenAddresses: &c.ListenAddress,
		WebSystemdSocket:   &c.SystemdSocket,
		WebConfigFile:      &c.ConfigFile,
	}, log)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// openWithoutAuth says why the exporter answers anyone ("" when it does
// not: every address is loopback, or the web config asks for basic auth
// or client certificates).
func openWithoutAuth(addrs []string, systemdSocket bool, webConfig string) string {
	loopback := !systemdSocket
	for _, a := range addrs {
		host, _, err := net.SplitHostPort(a)
		ip := net.ParseIP(host)
		if err != nil || !(host == "localhost" || (ip != nil && ip.IsLoopback())) {
			loopback = false
		}
	}
	if loopback {
		return ""
	}
	if webConfig == "" {
		return "no --web.config.file"
	}
	b, err := os.ReadFile(webConfig)
	if err != nil {
		return "" // the toolkit refuses to start and says why
	}
	var wc struct {
		Users map[string]string `yaml:"basic_auth_users"`
		TLS   struct {
			ClientAuth string `yaml:"client_auth_type"`
		} `yaml:"tls_server_config"`
	}
	if err := yaml.Unmarshal(b, &wc); err != nil {
		return ""
	}
	if len(wc.Users) > 0 || strings.HasPrefix(wc.TLS.ClientAuth, "RequireAndVerify") || wc.TLS.ClientAuth == "RequireAnyClientCert" {
		return ""
	}
	return "the web config file sets no basic_auth_users and no client certificates"
}

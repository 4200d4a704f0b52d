// Package cli is the dog command: the operator's front door to the enforcer
// (status, reset, history, …) and to the configuration.
package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kong"
	"github.com/mattn/go-runewidth"
	"github.com/prometheus/common/version"
	"golang.org/x/term"

	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/forwarding"
	"port-traffic-dog/internal/i18n"
	"port-traffic-dog/internal/units"
)

// Globals are the flags every command shares.
type Globals struct {
	Socket string `name:"socket" default:"${socket}" help:"The enforcer's admin socket." placeholder:"PATH"`
	Config string `name:"config" default:"${config_path}" help:"The configuration file." placeholder:"PATH"`
	Lang   string `name:"lang" enum:"en,zh," default:"" help:"Language of the output: en or zh (default: from LC_ALL, LC_MESSAGES or LANG)." placeholder:"LANG"`
	NoMenu bool   `name:"no-menu" help:"dog alone on a terminal prints the status instead of opening the console."`
}

// CLI is the command tree.
type CLI struct {
	Globals
	Status      StatusCmd        `cmd:"" default:"withargs" help:"Show every item and the host: use, quota, limits, state (the default command)."`
	Add         AddCmd           `cmd:"" help:"Add an item to the config file and apply it."`
	Set         SetCmd           `cmd:"" help:"Change settings of an item in the config file and apply them (a value of none removes a setting)."`
	Rm          RmCmd            `cmd:"" help:"Remove an item from the config file and apply it (its counters are dropped)."`
	Reset       ResetCmd         `cmd:"" help:"End the billing period of items now: zero their period use and quota, unblock them."`
	History     HistoryCmd       `cmd:"" help:"Show the reset history."`
	Export      ExportCmd        `cmd:"" help:"Write config, a fresh checkpoint of every counter and the history to one archive, to move to another host."`
	Import      ImportCmd        `cmd:"" help:"Continue from an export archive: replaces config, counters, periods and history (validated first)."`
	CheckConfig CheckConfigCmd   `cmd:"" name:"check-config" help:"Validate a configuration file without applying it (no root needed)."`
	Notify      NotifyCmd        `cmd:"" help:"Telegram and e-mail notifications: set up, test, send the report, show."`
	Version     kong.VersionFlag `name:"version" help:"Print version information and exit."`

	ImportLegacy ImportLegacyCmd `cmd:"" name:"import-legacy" help:"Carry over a port-traffic-dog.sh (端口流量狗) installation: every port, setting and this month's counters; then remove the script's table, qdiscs and cron lines."`
}

// Env is where a command writes, its clock (fixed in golden tests) and what
// it knows about the terminal.
type Env struct {
	Out, Err io.Writer
	Now      func() time.Time
	Ctx      context.Context
	// Color: Out is a terminal that wants colors (not NO_COLOR, not dumb).
	Color bool
	// Width of the terminal in columns; 0 means not a terminal (80 is used).
	Width int
	// Height of the terminal in rows; 0 means not known.
	Height int
	// EastAsian: the terminal draws ambiguous-width characters two columns
	// wide (CJK locales).
	EastAsian bool
	// NetNS is the network namespace whose kernel table dog reads when the
	// enforcer is down (a namespace fd in tests; 0 is dog's own).
	NetNS int

	// raw is Out before Main made it terminal-safe: for an archive
	// written to standard output.
	raw io.Writer
	// Getenv reads the locale (LC_ALL, LC_MESSAGES, LANG); nil: English.
	Getenv func(string) string
	// P prints in the chosen language (set by Main).
	P *i18n.Printer
	// In answers confirmations when Interactive: stdin and stdout are
	// a terminal.
	In          io.Reader
	Interactive bool
}

func (env *Env) style() tableStyle {
	return tableStyle{color: env.Color, width: env.Width, eastAsian: env.EastAsian, p: env.P}
}

// Main runs dog with args and returns the exit code.
func Main(args []string, env Env) int {
	env.raw = env.Out
	env.Out, env.Err = termSafe{env.Out}, termSafe{env.Err}
	// --help prints, and a parse error is told, while kong parses the
	// arguments: their language is read before, from --lang as the
	// arguments spell it or the locale (an invalid --lang is kong's error).
	lang, err := i18n.Detect(langFlag(args), env.Getenv)
	if err != nil {
		lang, _ = i18n.Detect("", env.Getenv)
	}
	env.P = i18n.New(lang)
	var c CLI
	parser, err := newParser(&c, &env)
	if err != nil {
		fmt.Fprintln(env.Err, "dog:", err)
		return 2
	}
	code := 0
	func() {
		defer func() {
			if r := recover(); r != nil {
				if c, ok := r.(exitCode); ok {
					code = int(c)
					return
				}
				panic(r)
			}
		}()
		ctx, err := parser.Parse(args)
		if err != nil {
			fmt.Fprintln(env.Err, "dog:", env.P.ParseError(err))
			code = 2
			return
		}
		lang, err := i18n.Detect(c.Lang, env.Getenv)
		if err != nil {
			fmt.Fprintln(env.Err, "dog:", err)
			code = 2
			return
		}
		env.P = i18n.New(lang)
		if wantsConsole(args, &env) {
			if err := runConsole(&c.Globals, &env); err != nil {
				fmt.Fprintln(env.Err, "dog:", env.P.Error(err))
				code = 1
			}
			return
		}
		if err := ctx.Run(&c.Globals, &env); err != nil {
			fmt.Fprintln(env.Err, "dog:", env.P.Error(err))
			code = 1
		}
	}()
	return code
}

type exitCode int

// newParser is kong's parser of dog's command line into c: it prints
// help to env, in env.P's language, and exits by panicking an exitCode.
func newParser(c *CLI, env *Env) (*kong.Kong, error) {
	return kong.New(c,
		kong.Name("dog"),
		kong.Description("Port Traffic Dog: per-port traffic, quotas and limits."),
		kong.Vars{"socket": config.DefaultAdminSocket, "config_path": config.DefaultPath, "version": version.Print("dog")},
		kong.Vars(notifyVars),
		kong.Writers(env.Out, env.Err),
		kong.Exit(func(code int) { panic(exitCode(code)) }),
		kong.Help(helpPrinter(env)))
}

// langFlag is the value of --lang in args ("" without one), the last one
// as kong takes it.
func langFlag(args []string) string {
	v := ""
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--":
			return v
		case a == "--lang" && i+1 < len(args):
			v = args[i+1]
			i++
		case strings.HasPrefix(a, "--lang="):
			v = strings.TrimPrefix(a, "--lang=")
		}
	}
	return v
}

// CheckConfigCmd validates a config file.
type CheckConfigCmd struct {
	File string   `arg:"" optional:"" help:"The configuration file (default: --config's)." type:"path"`
	Port []string `name:"port" sep:"none" help:"Also validate these --port items, as dog-enforcer would merge them." placeholder:"SPEC"`
	JSON bool     `name:"json" help:"Print the result as JSON."`
}

// checkResult is check-config's --json answer for a valid config.
type checkResult struct {
	File      string   `json:"file"`
	Valid     bool     `json:"valid"`
	Items     int      `json:"items"`
	Quotas    int      `json:"quotas"`
	Limits    int      `json:"limits"`
	Timezone  string   `json:"timezone"`
	HostQuota uint64   `json:"host_quota,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
}

// checkFailure is check-config's --json answer for an invalid config (or
// one it cannot read), so that scripts read a verdict either way.
type checkFailure struct {
	File   string         `json:"file"`
	Valid  bool           `json:"valid"`
	Errors []checkProblem `json:"errors"`
}

// checkProblem is one problem of a config by the parts of a config.Error;
// another error (the file cannot be read) has its message only.
type checkProblem struct {
	Source  string `json:"source,omitempty"`
	Item    string `json:"item,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// problemsOf lists the problems err joins (config.Parse joins one error
// per problem).
func problemsOf(err error) []checkProblem {
	switch e := err.(type) { //nolint:errorlint // the joined list itself, not what a frame wraps
	case interface{ Unwrap() []error }:
		var out []checkProblem
		for _, err := range e.Unwrap() {
			out = append(out, problemsOf(err)...)
		}
		return out
	case *config.Error:
		return []checkProblem{{Source: e.Source, Item: e.Item, Field: e.Field, Message: e.Msg}}
	}
	return []checkProblem{{Message: err.Error()}}
}

// forwardsUncounted is the case of check-config's warning for
// count_forwarded: false on a host that forwards (read in network
// namespace netns), where forwarded traffic then goes uncounted and
// unblocked.
func forwardsUncounted(cfg *config.Config, netns int) bool {
	if cfg.CountForwarded != config.ForwardedFalse {
		return false
	}
	on, err := forwarding.Enabled(netns)
	return err == nil && on
}

func (c *CheckConfigCmd) Run(g *Globals, env *Env) error {
	if c.File == "" {
		c.File = g.Config // the file the enforcer reads by default
	}
	cfg, err := config.Load(c.File)
	if err == nil {
		cfg, err = cfg.WithPortFlags(c.Port)
	}
	if err != nil {
		if c.JSON {
			if werr := writeJSON(env.Out, checkFailure{File: c.File, Errors: problemsOf(err)}); werr != nil {
				return werr
			}
		}
		return err // said on standard error too, and the exit code says invalid
	}
	quotas, limits := 0, 0
	for _, it := range cfg.Items {
		if it.Quota > 0 {
			quotas++
		}
		if it.RateIn > 0 || it.RateOut > 0 {
			limits++
		}
	}
	warnings := cfg.Warnings(env.Now()) // internal/config's English, translated below
	uncounted := forwardsUncounted(cfg, env.NetNS)
	if c.JSON {
		if uncounted {
			warnings = append(warnings, i18n.New(i18n.EN).Sprintf(i18n.ForwardingUncounted))
		}
		r := checkResult{File: c.File, Valid: true, Items: len(cfg.Items), Quotas: quotas, Limits: limits, Timezone: cfg.Timezone,
			Warnings: warnings}
		if cfg.Host != nil {
			r.HostQuota = cfg.Host.Quota
		}
		return writeJSON(env.Out, r)
	}
	env.P.Fprintf(env.Out, i18n.CheckOK, c.File, env.P.Count(len(cfg.Items), i18n.ItemsOne, i18n.ItemsMany), quotas, limits, cfg.Timezone)
	if cfg.Host != nil {
		env.P.Fprintf(env.Out, i18n.CheckHostQuota, units.FormatBytes(cfg.Host.Quota), cfg.Host.Billing)
	}
	fmt.Fprintln(env.Out)
	for _, w := range warnings {
		env.P.Fprintln(env.Err, i18n.Warning, env.P.Message(w))
	}
	if uncounted {
		env.P.Fprintln(env.Err, i18n.Warning, env.P.Sprintf(i18n.ForwardingUncounted))
	}
	return nil
}

// ResetCmd resets items.
type ResetCmd struct {
	Ports []string `arg:"" optional:"" help:"Items by their ports spec (\"443\", \"5000-5100\", \"host\")."`
	All   bool     `name:"all" help:"Reset every item and the host."`
	Yes   bool     `name:"yes" short:"y" help:"Reset --all without asking (needed when not on a terminal)."`
	JSON  bool     `name:"json" help:"Print the history entries as JSON."`
}

func (c *ResetCmd) Run(g *Globals, env *Env) error {
	if c.All == (len(c.Ports) > 0) {
		return env.P.Errorf(i18n.ResetWhich)
	}
	if c.All && !c.Yes {
		if err := c.confirmAll(g, env); err != nil {
			return err
		}
	}
	resp, err := adminapi.NewClient(g.Socket).Reset(env.Ctx, adminapi.ResetRequest{Ports: c.Ports, All: c.All})
	if err != nil {
		return err
	}
	if c.JSON {
		return writeJSON(env.Out, resp)
	}
	for _, r := range resp.Resets {
		env.P.Fprintln(env.Out, i18n.ResetDone, r.Ports, remark(r.Remark),
			r.PeriodStart.In(zone(resp.Timezone)).Format("2006-01-02 15:04"), units.FormatBytes(r.InBytes),
			units.FormatBytes(r.OutBytes), units.FormatBytes(r.Billable))
	}
	return nil
}

// confirmAll shows every period --all closes and asks.
func (c *ResetCmd) confirmAll(g *Globals, env *Env) error {
	var show []string
	if env.Interactive {
		st, err := adminapi.NewClient(g.Socket).Status(env.Ctx)
		if err != nil {
			return err
		}
		for _, it := range append(st.Items, st.Host) {
			show = append(show, periodLine(env.P, it, statusLocation(st)))
		}
	}
	return confirm(env, "dog reset --all", show, env.P.Sprintf(i18n.ConfirmResetAll))
}

// HistoryCmd shows the reset history.
type HistoryCmd struct {
	Ports []string `arg:"" optional:"" help:"Only these items."`
	JSON  bool     `name:"json" help:"Print JSON."`
}

func (c *HistoryCmd) Run(g *Globals, env *Env) error {
	resp, err := adminapi.NewClient(g.Socket).History(env.Ctx, c.Ports)
	if err != nil {
		return err
	}
	if c.JSON {
		return writeJSON(env.Out, resp)
	}
	if len(resp.Resets) == 0 {
		env.P.Fprintln(env.Out, i18n.NoResets)
		return nil
	}
	renderHistory(env.Out, resp.Resets, zone(resp.Timezone), env.style())
	return nil
}

func remark(r string) string {
	if r == "" {
		return ""
	}
	return " (" + r + ")"
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Run is main for the dog binary.
func Run() int {
	// Ctrl-C ends a live view (status --watch, the console) cleanly.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := Env{Out: os.Stdout, Err: os.Stderr, Now: time.Now, Ctx: ctx, Getenv: os.Getenv, In: os.Stdin}
	env.Interactive = term.IsTerminal(int(os.Stdin.Fd())) && term.IsTerminal(int(os.Stdout.Fd()))
	if fd := int(os.Stdout.Fd()); term.IsTerminal(fd) {
		env.Width = 80
		if w, h, err := term.GetSize(fd); err == nil && w > 0 {
			env.Width, env.Height = w, h
		}
		// https://no-color.org: any non-empty NO_COLOR turns colors off.
		env.Color = os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
		env.EastAsian = runewidth.DefaultCondition.EastAsianWidth
	}
	return Main(os.Args[1:], env)
}

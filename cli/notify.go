package cli

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/alecthomas/kong"
	"golang.org/x/term"

	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/i18n"
	"port-traffic-dog/internal/notify"
)

// NotifyCmd sets up and checks Telegram (and e-mail) notifications through
// the Debian packages' Prometheus and Alertmanager.
type NotifyCmd struct {
	Telegram NotifyTelegramCmd `cmd:"" help:"Set up Telegram notifications: rules, templates, scrape job and Alertmanager config, validated, then reload."`
	Test     NotifyTestCmd     `cmd:"" help:"Check the Bot API (token, chat) and send a test message through Alertmanager."`
	Report   NotifyReportCmd   `cmd:"" help:"Send the status report now."`
	Status   NotifyStatusCmd   `cmd:"" help:"Show what is configured (never the token)."`
	Email    NotifyEmailCmd    `cmd:"" help:"Send the same alerts by e-mail too (beside Telegram)."`
}

type notifyPaths struct {
	PrometheusConfig   string `name:"prometheus-config" default:"${prometheus_config}" type:"path" help:"Prometheus' config file; the rules go into rules/ beside it." placeholder:"PATH"`
	AlertmanagerConfig string `name:"alertmanager-config" default:"${alertmanager_config}" type:"path" help:"Alertmanager's config file; the templates go into alertmanager_templates/ beside it." placeholder:"PATH"`
}

func (p notifyPaths) paths() notify.Paths {
	return notify.Paths{PrometheusConfig: p.PrometheusConfig, AlertmanagerConfig: p.AlertmanagerConfig}
}

// notifyVars are the defaults the notify flags show in --help.
var notifyVars = map[string]string{
	"prometheus_config":   notify.DefaultPrometheusConfig,
	"alertmanager_config": notify.DefaultAlertmanagerConfig,
}

// notifyEnv speaks dog's language (--lang or the locale).
func notifyEnv(env *Env) *notify.Env {
	return &notify.Env{Out: env.Out, Msg: notify.MessagesFor(string(env.P.Lang())), Now: env.Now}
}

// NotifyTelegramCmd is dog notify telegram.
type NotifyTelegramCmd struct {
	ChatID      chatID `name:"chat-id" help:"Numeric chat id of the group, channel or user (groups and channels: -100…)." placeholder:"ID"`
	TokenFile   string `name:"token-file" type:"path" help:"File holding the bot token. Without it the token is read from a prompt or stdin, never from the command line." placeholder:"FILE"`
	ServerName  string `name:"server-name" help:"Name of this server in every message (the instance label; default: the hostname)." placeholder:"NAME"`
	MessageLang string `name:"message-lang" help:"Language of the messages: en or zh." placeholder:"en|zh"`
	ReportEvery string `name:"report-every" help:"Status report interval, 1m to 24h, or off (default 6h)." placeholder:"DURATION|off"`
	APIURL      string `name:"api-url" help:"Bot API endpoint (a proxy); default https://api.telegram.org." placeholder:"URL"`
	Exporter    string `name:"exporter-address" help:"Where Prometheus scrapes dog-exporter (default 127.0.0.1:9730)." placeholder:"HOST:PORT"`
	AMAddress   string `name:"alertmanager-address" help:"Where Prometheus sends alerts (default 127.0.0.1:9093)." placeholder:"HOST:PORT"`
	Force       bool   `name:"force" help:"Replace an alertmanager.yml that dog did not write (a backup is kept)."`
	notifyPaths `embed:""`
}

func (c *NotifyTelegramCmd) Run(g *Globals, env *Env) error {
	e := notifyEnv(env)
	token, err := readToken(env.P, c.TokenFile, e.Msg, env.Err, c.paths())
	if err != nil {
		return err
	}
	err = notify.Telegram(env.Ctx, e, notify.TelegramOptions{Paths: c.paths(), ChatID: string(c.ChatID), Token: token,
		ServerName: c.ServerName, Language: c.MessageLang, ReportEvery: c.ReportEvery, APIURL: c.APIURL,
		ExporterAddr: c.Exporter, AlertmanagerAddr: c.AMAddress, Force: c.Force})
	warnZone(g, env)
	return err
}

// warnZone warns when the billing time zone (the config's timezone) is
// not this host's: Prometheus writes the dates of the messages (next
// reset, expiry) in its host's zone, and the status report shows them
// without the zone, so a UTC host billing in Asia/Shanghai would say
// every reset and expiry a day early.
func warnZone(g *Globals, env *Env) {
	name := ""
	if st := liveStatus(env.Ctx, g); st != nil {
		name = st.Timezone
	} else if cfg, err := config.Load(g.Config); err == nil {
		name = cfg.Timezone
	}
	if name == "" || name == "Local" {
		return
	}
	billing, err := time.LoadLocation(name)
	if err != nil {
		return
	}
	now := env.Now()
	// Now and half a year on: a zone with summer time differs in one.
	for _, t := range []time.Time{now, now.AddDate(0, 6, 0)} {
		_, a := t.In(billing).Zone()
		_, b := t.In(time.Local).Zone()
		if a != b {
			env.P.Fprintln(env.Err, i18n.Warning, env.P.Sprintf(i18n.NotifyZoneDiffers,
				name, t.In(billing).Format("-07:00"), t.In(time.Local).Format("-07:00"), name))
			return
		}
	}
}

// chatID is --chat-id's value. The ids of groups and channels are
// negative (-100…), which kong takes for a short flag in "--chat-id
// -100123" (the form people copy from getUpdates): a number is the value.
type chatID string

func (c *chatID) Decode(ctx *kong.DecodeContext) error {
	if t := ctx.Scan.Peek(); t.InferredType() == kong.ShortFlagToken && negativeNumber.MatchString(t.String()) {
		*c = chatID(ctx.Scan.Pop().String())
		return nil
	}
	return ctx.Scan.PopValueInto("string", (*string)(c))
}

var negativeNumber = regexp.MustCompile(`^-[0-9]+$`)

// readToken reads the token from a file, a prompt without echo or stdin.
// An empty answer keeps the configured token ("" is returned).
func readToken(pr *i18n.Printer, path string, m *notify.Messages, prompt io.Writer, p notify.Paths) (string, error) {
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", pr.Errorf(i18n.FlagValueErr, "token-file", err)
		}
		t := strings.TrimSpace(string(b))
		if t == "" {
			return "", pr.Errorf(i18n.FlagFileEmpty, "token-file", path)
		}
		return t, nil
	}
	fd := int(os.Stdin.Fd())
	if term.IsTerminal(fd) {
		msg := m.TokenPrompt
		if _, err := os.Stat(p.AlertmanagerConfig); err == nil {
			msg = m.TokenPromptKeep
		}
		fmt.Fprint(prompt, msg)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(prompt)
		if err != nil {
			return "", pr.Errorf(i18n.ReadingToken, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	b, err := io.ReadAll(io.LimitReader(os.Stdin, 4096))
	if err != nil {
		return "", pr.Errorf(i18n.ReadingTokenStdin, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// NotifyTestCmd is dog notify test.
type NotifyTestCmd struct {
	AlertmanagerURL string `name:"alertmanager-url" help:"Alertmanager's URL (default: the target dog wrote into prometheus.yml)." placeholder:"URL"`
	notifyPaths     `embed:""`
}

func (c *NotifyTestCmd) Run(g *Globals, env *Env) error {
	return notify.Test(env.Ctx, notifyEnv(env), notify.ClientOptions{Paths: c.paths(), AlertmanagerURL: c.AlertmanagerURL})
}

// NotifyReportCmd is dog notify report.
type NotifyReportCmd struct {
	AlertmanagerURL string `name:"alertmanager-url" help:"Alertmanager's URL (default: the target dog wrote into prometheus.yml)." placeholder:"URL"`
	PrometheusURL   string `name:"prometheus-url" default:"http://127.0.0.1:9090" help:"Prometheus' URL, where the report's alerts are read." placeholder:"URL"`
	notifyPaths     `embed:""`
}

func (c *NotifyReportCmd) Run(g *Globals, env *Env) error {
	return notify.Report(env.Ctx, notifyEnv(env), notify.ClientOptions{Paths: c.paths(), AlertmanagerURL: c.AlertmanagerURL, PrometheusURL: c.PrometheusURL})
}

// NotifyStatusCmd is dog notify status.
type NotifyStatusCmd struct {
	notifyPaths `embed:""`
}

func (c *NotifyStatusCmd) Run(g *Globals, env *Env) error {
	err := notify.Status(env.Ctx, notifyEnv(env), c.paths())
	warnZone(g, env)
	return err
}

// NotifyEmailCmd is dog notify email.
type NotifyEmailCmd struct {
	Smarthost        string `name:"smarthost" help:"SMTP server." placeholder:"HOST:PORT"`
	From             string `name:"from" help:"Sender address (Alertmanager requires one)." placeholder:"ADDR"`
	To               string `name:"to" help:"Recipient address." placeholder:"ADDR"`
	AuthUsername     string `name:"auth-username" help:"SMTP user name." placeholder:"USER"`
	AuthPasswordFile string `name:"auth-password-file" type:"path" help:"File holding the SMTP password (copied to a 0640 root:prometheus file)." placeholder:"FILE"`
	Off              bool   `name:"off" help:"Stop sending e-mail."`
	notifyPaths      `embed:""`
}

func (c *NotifyEmailCmd) Run(g *Globals, env *Env) error {
	password := ""
	if c.AuthPasswordFile != "" {
		b, err := os.ReadFile(c.AuthPasswordFile)
		if err != nil {
			return env.P.Errorf(i18n.FlagValueErr, "auth-password-file", err)
		}
		if password = strings.TrimRight(string(b), "\r\n"); password == "" {
			return env.P.Errorf(i18n.FlagFileEmpty, "auth-password-file", c.AuthPasswordFile)
		}
	}
	return notify.Email(env.Ctx, notifyEnv(env), notify.EmailOptions{Paths: c.paths(), Smarthost: c.Smarthost, From: c.From, To: c.To,
		AuthUsername: c.AuthUsername, AuthPassword: password, Off: c.Off})
}

// Package notify sets up Telegram (and e-mail) notifications on a host the
// way Debian packages Prometheus and Alertmanager: it writes the bundled
// rules and templates beside their configs, adds the scrape job, the rule
// file and the Alertmanager target to prometheus.yml without touching the
// operator's other lines, renders alertmanager.yml with the token kept
// secret, validates everything with promtool and amtool before replacing
// anything, and reloads the services. It also checks the result: the Bot
// API directly, and the whole path through Alertmanager's API and counters.
//
// The token is read from a file or stdin, never from argv, and is written
// only into files of mode 0640 root:prometheus.
package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"port-traffic-dog/alerts"
	"port-traffic-dog/internal/config"
)

// Debian's paths (packages prometheus and prometheus-alertmanager).
const (
	DefaultPrometheusConfig   = "/etc/prometheus/prometheus.yml"
	DefaultAlertmanagerConfig = alerts.AlertmanagerConfigPath
	DefaultExporterAddr       = "127.0.0.1:9730"
	DefaultAlertmanagerAddr   = "127.0.0.1:9093"
	DefaultAPIURL             = "https://api.telegram.org"
	// MinReportEvery and MaxReportEvery bound the status report interval
	// (the script offered 1 min to 24 h).
	MinReportEvery = time.Minute
	MaxReportEvery = 24 * time.Hour
)

// Paths are the two config files; everything else goes beside them.
type Paths struct {
	PrometheusConfig, AlertmanagerConfig string
}

// RulesFile is where the rules go: rules/port-traffic-dog.yml beside
// prometheus.yml (alerts.RulesPath on Debian).
func (p Paths) RulesFile() string {
	return filepath.Join(filepath.Dir(p.PrometheusConfig), "rules", "port-traffic-dog.yml")
}

// TemplatesDir is where the Telegram templates go (alerts.TemplatesDir on
// Debian).
func (p Paths) TemplatesDir() string {
	return filepath.Join(filepath.Dir(p.AlertmanagerConfig), "alertmanager_templates", "port-traffic-dog")
}

// TokenFile holds the bot token for Alertmanager 0.26 and later.
func (p Paths) TokenFile() string {
	return filepath.Join(filepath.Dir(p.AlertmanagerConfig), "telegram_bot_token")
}

// SMTPPasswordFile holds the e-mail password.
func (p Paths) SMTPPasswordFile() string {
	return filepath.Join(filepath.Dir(p.AlertmanagerConfig), "smtp_password")
}

// Kinds of errors a caller may act on (errors.Is), whatever the language
// of their message.
var (
	// ErrNotInstalled: Prometheus or Alertmanager (their config, programs
	// or group) is missing here, as opposed to a setup that refuses or
	// fails.
	ErrNotInstalled = errors.New("prometheus or alertmanager is not installed")
	// ErrForeignAlertmanager: alertmanager.yml was not written by dog and
	// Force was not given.
	ErrForeignAlertmanager = errors.New("alertmanager.yml was not written by dog")
)

// kindError is a message for people that is one of the kinds above.
type kindError struct {
	msg  string
	kind error
}

func (e kindError) Error() string        { return e.msg }
func (e kindError) Is(target error) bool { return target == e.kind }

// Env is where the commands write and their clock.
type Env struct {
	Out io.Writer
	Msg *Messages
	Now func() time.Time
}

// TelegramOptions are dog notify telegram's flags; an empty value keeps
// what is configured, or the default on a first run.
type TelegramOptions struct {
	Paths
	ChatID      string
	Token       string // read by the caller from --token-file, a prompt or stdin
	ServerName  string
	Language    string
	ReportEvery string // a duration or "off"
	APIURL      string
	// Where dog-exporter and Alertmanager listen, for prometheus.yml.
	ExporterAddr, AlertmanagerAddr string
	Force                          bool
}

// current is what the two files hold now.
type current struct {
	amData  []byte
	amOwner amOwner
	am      *AMSettings // nil unless dog wrote the file
	promOld string
	prom    promManaged
}

func loadCurrent(p Paths, m *Messages) (*current, error) {
	c := &current{}
	b, err := os.ReadFile(p.AlertmanagerConfig)
	switch {
	case err == nil:
		c.amData, c.amOwner = b, ownerOf(b, true)
	case errors.Is(err, os.ErrNotExist):
		c.amOwner = amAbsent
	default:
		return nil, err
	}
	if c.amOwner == amOurs {
		// A file of ours that no longer reads back was edited by hand:
		// from now on it is the operator's (--force replaces it).
		if s, err := parseAM(b); err == nil {
			c.am = &s
		} else {
			c.amOwner = amForeign
		}
	}
	pb, err := os.ReadFile(p.PrometheusConfig)
	if errors.Is(err, os.ErrNotExist) {
		return nil, kindError{fmt.Sprintf(m.NoPrometheusConfig, p.PrometheusConfig), ErrNotInstalled}
	} else if err != nil {
		return nil, err
	}
	c.promOld = string(pb)
	if _, c.prom, err = stripManaged(c.promOld); err != nil {
		return nil, fmt.Errorf("%s: %w", p.PrometheusConfig, err)
	}
	return c, nil
}

// loadConfigured is loadCurrent for the commands that need an
// alertmanager.yml dog wrote; notConfigured (a format with the path) says
// what to do otherwise.
func loadConfigured(p Paths, m *Messages, notConfigured string) (*current, error) {
	cur, err := loadCurrent(p, m)
	if err != nil {
		return nil, err
	}
	if cur.am == nil {
		return nil, fmt.Errorf(notConfigured, p.AlertmanagerConfig)
	}
	return cur, nil
}

// ParseChatID accepts the numeric ids Alertmanager's telegram_configs take
// (chat_id is an integer there, in 0.25 and since).
func ParseChatID(s string, m *Messages) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || id == 0 {
		return 0, fmt.Errorf(m.BadChatID, s)
	}
	return id, nil
}

// ParseReportEvery accepts "off" or a duration from 1m to 24h.
func ParseReportEvery(s string, m *Messages) (d time.Duration, off bool, err error) {
	if strings.EqualFold(s, "off") {
		return 0, true, nil
	}
	md, err := model.ParseDuration(s)
	if err != nil || time.Duration(md) < MinReportEvery || time.Duration(md) > MaxReportEvery {
		return 0, false, fmt.Errorf(m.BadReportEvery, s)
	}
	return time.Duration(md), false, nil
}

// checkServerName: the name is in every message and in prometheus.yml, so
// it follows the rule of new remarks (no control, bidi or hidden
// characters; U+2028 would be a line break there).
func checkServerName(s string, m *Messages) error {
	if s == "" || len(s) > 128 || config.CheckNewRemark(s) != nil {
		return fmt.Errorf(m.BadServerName, s)
	}
	return nil
}

func checkAddr(flag, s string, m *Messages) error {
	if _, port, err := net.SplitHostPort(s); err != nil || port == "" || strings.ContainsAny(s, "'\n ") {
		return fmt.Errorf(m.BadAddr, flag, s)
	}
	return nil
}

func checkAPIURL(s string, m *Messages) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf(m.BadAPIURL, s)
	}
	return nil
}

func orDefault(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// Telegram is dog notify telegram.
func Telegram(ctx context.Context, e *Env, o TelegramOptions) error {
	s, err := prepareTelegram(e.Msg, o)
	if err != nil {
		return err
	}
	return apply(ctx, e, o.Paths, s.cur, s.am, s.prom)
}

// CheckTelegram is Telegram without writing anything: the same refusals,
// and the programs and group the setup needs (those missing are
// ErrNotInstalled). It lets a caller say beforehand what the setup will do.
func CheckTelegram(m *Messages, o TelegramOptions) error {
	if _, err := prepareTelegram(m, o); err != nil {
		return err
	}
	if _, err := findTools(m); err != nil {
		return err
	}
	_, err := prometheusGID(m)
	return err
}

// telegramSetup is what dog notify telegram will write.
type telegramSetup struct {
	cur  *current
	am   AMSettings
	prom PromSettings
}

// prepareTelegram reads the two files and merges o into what they hold.
func prepareTelegram(m *Messages, o TelegramOptions) (*telegramSetup, error) {
	cur, err := loadCurrent(o.Paths, m)
	if err != nil {
		return nil, err
	}
	if cur.amOwner == amForeign && !o.Force {
		return nil, kindError{fmt.Sprintf(m.ForeignAlertmanager, o.AlertmanagerConfig), ErrForeignAlertmanager}
	}
	am := AMSettings{Language: "en", ReportEvery: alerts.DefaultStatusInterval, APIURL: DefaultAPIURL}
	if cur.am != nil {
		am = *cur.am
	}
	switch {
	case o.ChatID != "":
		if am.ChatID, err = ParseChatID(o.ChatID, m); err != nil {
			return nil, err
		}
	case cur.am == nil:
		return nil, errors.New(m.ChatIDRequired)
	}
	switch {
	case o.Token != "":
		am.Token = o.Token
	case cur.am != nil:
		if am.Token, err = cur.am.token(); err != nil {
			return nil, fmt.Errorf(m.TokenUnreadable, err)
		}
	default:
		return nil, errors.New(m.TokenRequired)
	}
	if err := alerts.CheckBotToken(am.Token); err != nil {
		return nil, err
	}
	if o.Language != "" {
		if o.Language != "en" && o.Language != "zh" {
			return nil, fmt.Errorf(m.BadLanguage, o.Language)
		}
		am.Language = o.Language
	}
	if o.ReportEvery != "" {
		d, off, err := ParseReportEvery(o.ReportEvery, m)
		if err != nil {
			return nil, err
		}
		am.ReportOff = off
		if !off {
			am.ReportEvery = d
		}
	}
	if o.APIURL != "" {
		if err := checkAPIURL(o.APIURL, m); err != nil {
			return nil, err
		}
		am.APIURL = o.APIURL
	}
	prom := PromSettings{
		ServerName:       orDefault(o.ServerName, cur.prom.ServerName, hostname()),
		ExporterAddr:     orDefault(o.ExporterAddr, cur.prom.ExporterAddr, DefaultExporterAddr),
		AlertmanagerAddr: orDefault(o.AlertmanagerAddr, cur.prom.AlertmanagerAddr, DefaultAlertmanagerAddr),
		RulesFile:        o.RulesFile(),
	}
	if err := checkServerName(prom.ServerName, m); err != nil {
		return nil, err
	}
	if err := checkAddr("--exporter-address", prom.ExporterAddr, m); err != nil {
		return nil, err
	}
	if err := checkAddr("--alertmanager-address", prom.AlertmanagerAddr, m); err != nil {
		return nil, err
	}
	return &telegramSetup{cur, am, prom}, nil
}

// EmailOptions are dog notify email's flags.
type EmailOptions struct {
	Paths
	Smarthost, From, To string
	AuthUsername        string
	AuthPassword        string // read by the caller from --auth-password-file
	Off                 bool
}

// Email is dog notify email: the same alerts to an address beside Telegram.
func Email(ctx context.Context, e *Env, o EmailOptions) error {
	m := e.Msg
	cur, err := loadConfigured(o.Paths, m, m.EmailNeedsTelegram)
	if err != nil {
		return err
	}
	am := *cur.am
	if am.Token, err = cur.am.token(); err != nil {
		return fmt.Errorf(m.TokenUnreadable, err)
	}
	var password *file
	if o.Off {
		am.Email = nil
	} else {
		if o.Smarthost == "" || o.From == "" || o.To == "" {
			return errors.New(m.EmailFieldsRequired)
		}
		if err := checkAddr("--smarthost", o.Smarthost, m); err != nil {
			return err
		}
		am.Email = &alerts.Email{Smarthost: o.Smarthost, From: o.From, To: o.To, AuthUsername: o.AuthUsername}
		if o.AuthPassword != "" {
			if o.AuthUsername == "" {
				return errors.New(m.EmailPasswordWithoutUser)
			}
			gid, err := prometheusGID(m)
			if err != nil {
				return err
			}
			am.Email.AuthPasswordFile = o.SMTPPasswordFile()
			password = &file{path: o.SMTPPasswordFile(), data: []byte(o.AuthPassword + "\n"), mode: 0o640, uid: 0, gid: gid}
		}
	}
	prom := PromSettings{
		ServerName:       orDefault(cur.prom.ServerName, hostname()),
		ExporterAddr:     orDefault(cur.prom.ExporterAddr, DefaultExporterAddr),
		AlertmanagerAddr: orDefault(cur.prom.AlertmanagerAddr, DefaultAlertmanagerAddr),
		RulesFile:        o.RulesFile(),
	}
	return apply(ctx, e, o.Paths, cur, am, prom, extra(password)...)
}

func extra(f *file) []file {
	if f == nil {
		return nil
	}
	return []file{*f}
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

// apply renders, validates and writes everything, then reloads.
func apply(ctx context.Context, e *Env, p Paths, cur *current, am AMSettings, prom PromSettings, more ...file) error {
	m := e.Msg
	tools, err := findTools(m)
	if err != nil {
		return err
	}
	major, minor, err := alertmanagerVersion(ctx, tools.Alertmanager)
	if err != nil {
		return err
	}
	gid, err := prometheusGID(m)
	if err != nil {
		return err
	}
	useTokenFile := major > 0 || minor >= 26
	cfg := alerts.Config{ChatID: am.ChatID, Language: am.Language, StatusInterval: am.ReportEvery, StatusOff: am.ReportOff,
		TelegramAPIURL: am.APIURL, Email: am.Email}
	var files []file
	if useTokenFile {
		cfg.BotTokenFile = p.TokenFile()
		files = append(files, file{path: p.TokenFile(), data: []byte(am.Token + "\n"), mode: 0o640, uid: 0, gid: gid})
	} else {
		cfg.BotToken = am.Token
	}
	render := func(templates string) ([]byte, error) {
		c := cfg
		c.TemplatesDir = templates
		b, err := alerts.AlertmanagerConfig(c)
		if err != nil {
			return nil, err
		}
		return append([]byte(amHeader), b...), nil
	}
	amData, err := render(p.TemplatesDir())
	if err != nil {
		return err
	}
	promData, err := editPrometheus(cur.promOld, prom)
	if err != nil {
		return fmt.Errorf("%s: %w", p.PrometheusConfig, err)
	}
	rules, err := alerts.FS.ReadFile("rules.yml")
	if err != nil {
		return err
	}
	files = append(files, more...)
	for _, t := range alerts.TemplateFiles {
		b, err := alerts.FS.ReadFile(t)
		if err != nil {
			return err
		}
		files = append(files, file{path: filepath.Join(p.TemplatesDir(), filepath.Base(t)), data: b, mode: 0o644, uid: 0, gid: 0})
	}
	files = append(files,
		file{path: p.RulesFile(), data: rules, mode: 0o644, uid: 0, gid: 0},
		file{path: p.PrometheusConfig, data: []byte(promData), mode: promMode(p.PrometheusConfig), uid: -1, gid: -1},
		file{path: p.AlertmanagerConfig, data: amData, mode: 0o640, uid: 0, gid: gid})

	changed := false
	for _, f := range files {
		if !f.unchanged() {
			changed = true
		}
	}
	if !changed {
		fmt.Fprintln(e.Out, m.Unchanged)
		return nil
	}

	// Validate copies in a private directory; nothing is replaced unless
	// every check passes.
	stage, err := os.MkdirTemp(filepath.Dir(p.AlertmanagerConfig), ".dog-notify-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(stage) }()
	staged := func(name string, data []byte) (string, error) {
		path := filepath.Join(stage, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return "", err
		}
		return path, os.WriteFile(path, data, 0o600)
	}
	for _, t := range alerts.TemplateFiles {
		b, _ := alerts.FS.ReadFile(t)
		if _, err := staged(filepath.Join("templates", filepath.Base(t)), b); err != nil {
			return err
		}
	}
	stagedAM, err := render(filepath.Join(stage, "templates"))
	if err != nil {
		return err
	}
	var checks [][]string
	for _, s := range []struct {
		name string
		data []byte
		tool []string
	}{
		{"prometheus.yml", []byte(promData), []string{tools.Promtool, "check", "config", "--syntax-only"}},
		{"rules.yml", rules, []string{tools.Promtool, "check", "rules"}},
		{"alertmanager.yml", stagedAM, []string{tools.Amtool, "check-config"}},
	} {
		path, err := staged(s.name, s.data)
		if err != nil {
			return err
		}
		checks = append(checks, append(s.tool, path))
	}
	for _, c := range checks {
		if err := check(ctx, c[0], c[1:]...); err != nil {
			return fmt.Errorf(m.ValidationFailed, err)
		}
	}

	if cur.amOwner == amForeign || cur.amOwner == amDebianSample {
		name, err := backup(p.AlertmanagerConfig, cur.amData, e.Now())
		if err != nil {
			return fmt.Errorf("backup of %s: %w", p.AlertmanagerConfig, err)
		}
		fmt.Fprintf(e.Out, m.BackedUp+"\n", p.AlertmanagerConfig, name)
	}
	for _, f := range files {
		if f.unchanged() {
			continue
		}
		if err := f.write(); err != nil {
			return fmt.Errorf("writing %s: %w", f.path, err)
		}
		fmt.Fprintf(e.Out, m.Wrote+"\n", f.path, f.mode)
	}
	if useTokenFile {
		fmt.Fprintf(e.Out, m.TokenInFile+"\n", p.TokenFile())
	} else {
		fmt.Fprintf(e.Out, m.TokenInline+"\n", major, minor, p.AlertmanagerConfig)
	}
	if err := reload(ctx, e); err != nil {
		return err
	}
	fmt.Fprintln(e.Out, m.NextSteps)
	return nil
}

// promMode keeps prometheus.yml's mode (0644 when new).
func promMode(path string) os.FileMode {
	if fi, err := os.Stat(path); err == nil {
		return fi.Mode().Perm()
	}
	return 0o644
}

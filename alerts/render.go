package alerts

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// StatusIntervals are the status report intervals the documentation offers
// (and the CLI should offer). AlertmanagerConfig accepts any positive
// duration so that tests can use seconds.
var StatusIntervals = []time.Duration{
	time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

// DefaultStatusInterval is the status interval of the bundled alertmanager.yml.
const DefaultStatusInterval = 6 * time.Hour

// StatusRepeatInterval is the repeat_interval that makes Alertmanager send
// the status report every status interval. The route's group_interval is
// the status interval itself; Alertmanager re-sends an unchanged group when
// "last send time < flush tick - repeat_interval", and the last send time is
// taken after the Telegram call returned, a little after the previous tick.
// With repeat_interval equal to the status interval that test fails at the
// next tick and the report would come every second interval, so the repeat
// interval is shorter by a margin that outlasts any Telegram call: a sixth
// of the interval, at most ten minutes.
func StatusRepeatInterval(status time.Duration) time.Duration {
	margin := status / 6
	if margin > 10*time.Minute {
		margin = 10 * time.Minute
	}
	return (status - margin).Round(time.Millisecond)
}

// Config holds the per-installation values of the Alertmanager
// configuration. Zero values keep what the bundled alertmanager.yml has.
type Config struct {
	// BotToken is written into the file (Alertmanager 0.25 has no other
	// way); the file must then be mode 0640 root:prometheus.
	BotToken string
	// BotTokenFile makes the receivers read the token from this file
	// instead; it needs Alertmanager 0.26 or newer.
	BotTokenFile string
	ChatID       int64
	// Language of the messages: "en" (default) or "zh".
	Language string
	// StatusInterval is how often the status report is sent (default 6h).
	StatusInterval time.Duration
	// TelegramAPIURL replaces https://api.telegram.org (a proxy, or a fake
	// Bot API in tests).
	TelegramAPIURL string
	// TemplatesDir is where telegram.*.tmpl are installed (default
	// TemplatesDir).
	TemplatesDir string

	// StatusOff routes the status report to the receiver without
	// notifiers; StatusInterval is then still written, for when it is
	// turned on again.
	StatusOff bool
	// Email, when set, sends every Telegram message to an address too.
	Email *Email

	// Grouping delays; tests shorten them to see messages within seconds.
	EventGroupWait     time.Duration
	EventGroupInterval time.Duration
	StatusGroupWait    time.Duration
}

// Email is an SMTP receiver beside Telegram. Alertmanager 0.25 requires a
// sender address; the password, if any, is read from a file
// (smtp_auth_password_file, in 0.25 and later).
type Email struct {
	Smarthost        string // host:port
	From, To         string
	AuthUsername     string
	AuthPasswordFile string
}

// CheckBotToken says whether s looks like a token as BotFather prints it,
// without repeating s (the error may be logged).
func CheckBotToken(s string) error {
	if !botTokenRe.MatchString(s) {
		return errors.New("bot token does not look like 123456789:ABC-def_… (as BotFather prints it)")
	}
	return nil
}

var (
	botTokenRe  = regexp.MustCompile(`^[0-9]+:[A-Za-z0-9_-]+$`)
	reTokenLine = regexp.MustCompile(`(?m)^([ \t]*- )bot_token: '[^']*'$`)
	reChatID    = regexp.MustCompile(`(?m)^([ \t]*chat_id: )-?[0-9]+$`)
	reMessage   = regexp.MustCompile(`(?m)^([ \t]*message: '\{\{ template "dog\.telegram\.)en(" \. \}\}')$`)
	reAPIURL    = regexp.MustCompile(`(?m)^([ \t]*telegram_api_url: )'[^']*'$`)
	reStatusRcv = regexp.MustCompile(`(?m)^([ \t]*- receiver: )telegram-quiet([ \t]+# status_receiver)$`)
	reGlobalEnd = regexp.MustCompile(`(?m)^([ \t]*)telegram_api_url: .*$`)
	reEmailRcv  = regexp.MustCompile(`(?m)^([ \t]*)send_resolved: (true|false)\n[ \t]*message: .*$`)
	reTemplates = regexp.MustCompile(`(?m)^([ \t]*- )'/etc/prometheus/alertmanager_templates/port-traffic-dog/\*\.tmpl'$`)
)

// marked matches a "key: value  # marker" line of alertmanager.yml.
func marked(key, marker string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^([ \t]*` + key + `: )\S+([ \t]+# ` + marker + `)$`)
}

// replace substitutes every match of re and insists on the expected number
// of matches, so that an edit of alertmanager.yml that moves a placeholder
// breaks the tests instead of silently leaving it in place.
func replace(s string, re *regexp.Regexp, want int, repl func(sub []string) string) (string, error) {
	n := 0
	out := re.ReplaceAllStringFunc(s, func(m string) string {
		n++
		return repl(re.FindStringSubmatch(m))
	})
	if n != want {
		return "", fmt.Errorf("alertmanager.yml: %d matches of %s, want %d", n, re, want)
	}
	return out, nil
}

func promDuration(d time.Duration) string { return model.Duration(d).String() }

// AlertmanagerConfig renders the bundled alertmanager.yml with c's values.
func AlertmanagerConfig(c Config) ([]byte, error) {
	b, err := FS.ReadFile("alertmanager.yml")
	if err != nil {
		return nil, err
	}
	s := string(b)
	type edit struct {
		re   *regexp.Regexp
		want int
		repl func(sub []string) string
	}
	var edits []edit

	switch {
	case c.BotToken != "" && c.BotTokenFile != "":
		return nil, errors.New("set BotToken or BotTokenFile, not both")
	case c.BotToken != "":
		if err := CheckBotToken(c.BotToken); err != nil {
			return nil, err
		}
		edits = append(edits, edit{reTokenLine, 2, func(m []string) string { return m[1] + "bot_token: '" + c.BotToken + "'" }})
	case c.BotTokenFile != "":
		if !path.IsAbs(c.BotTokenFile) || strings.ContainsAny(c.BotTokenFile, "'\n") {
			return nil, fmt.Errorf("bot token file %q: want an absolute path without quotes", c.BotTokenFile)
		}
		edits = append(edits, edit{reTokenLine, 2, func(m []string) string { return m[1] + "bot_token_file: '" + c.BotTokenFile + "'" }})
	}
	if c.ChatID != 0 {
		edits = append(edits, edit{reChatID, 2, func(m []string) string { return m[1] + strconv.FormatInt(c.ChatID, 10) }})
	}
	switch c.Language {
	case "", "en":
	case "zh":
		edits = append(edits, edit{reMessage, 2, func(m []string) string { return m[1] + "zh" + m[2] }})
	default:
		return nil, fmt.Errorf("language %q: want en or zh", c.Language)
	}
	if c.TelegramAPIURL != "" {
		u, err := url.Parse(c.TelegramAPIURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(c.TelegramAPIURL, "'\n") {
			return nil, fmt.Errorf("telegram API URL %q: want http(s)://host[/path]", c.TelegramAPIURL)
		}
		edits = append(edits, edit{reAPIURL, 1, func(m []string) string { return m[1] + "'" + c.TelegramAPIURL + "'" }})
	}
	if c.TemplatesDir != "" {
		if !path.IsAbs(c.TemplatesDir) || strings.ContainsAny(c.TemplatesDir, "'\n*?[") {
			return nil, fmt.Errorf("templates dir %q: want an absolute path without quotes or glob characters", c.TemplatesDir)
		}
		edits = append(edits, edit{reTemplates, 1, func(m []string) string { return m[1] + "'" + path.Join(c.TemplatesDir, "*.tmpl") + "'" }})
	}
	if c.StatusInterval < 0 || c.EventGroupWait < 0 || c.EventGroupInterval < 0 || c.StatusGroupWait < 0 {
		return nil, errors.New("negative duration")
	}
	dur := func(key, marker string, d time.Duration) {
		if d > 0 {
			edits = append(edits, edit{marked(key, marker), 1, func(m []string) string { return m[1] + promDuration(d) + m[2] }})
		}
	}
	if c.StatusInterval > 0 {
		if c.StatusInterval < time.Second {
			return nil, fmt.Errorf("status interval %s: too short", c.StatusInterval)
		}
		dur("group_interval", "status_interval", c.StatusInterval)
		dur("repeat_interval", "status_repeat_interval", StatusRepeatInterval(c.StatusInterval))
	}
	if c.StatusOff {
		edits = append(edits, edit{reStatusRcv, 1, func(m []string) string { return m[1] + "silent" + m[2] }})
	}
	if e := c.Email; e != nil {
		g, r, err := emailLines(*e)
		if err != nil {
			return nil, err
		}
		edits = append(edits,
			edit{reGlobalEnd, 1, func(m []string) string { return m[0] + "\n" + indent(g, m[1]) }},
			edit{reEmailRcv, 2, func(m []string) string {
				// m[1] is the telegram item's key indent; the receiver's
				// keys sit four columns left of it.
				return m[0] + "\n" + indent(fmt.Sprintf(r, m[2]), m[1][:len(m[1])-4])
			}})
	}
	dur("group_wait", "event_group_wait", c.EventGroupWait)
	dur("group_interval", "event_group_interval", c.EventGroupInterval)
	dur("group_wait", "status_group_wait", c.StatusGroupWait)

	for _, e := range edits {
		if s, err = replace(s, e.re, e.want, e.repl); err != nil {
			return nil, err
		}
	}
	return []byte(s), nil
}

var (
	reFor      = regexp.MustCompile(`(?m)^([ \t]+for: )(\S+)$`)
	reInterval = regexp.MustCompile(`(?m)^([ \t]+interval: )\S+$`)
)

// Rules returns the bundled rules.yml with every alert's `for` divided by
// speedup (1 keeps them; 60 turns minutes into seconds, so the order in
// which alerts fire stays as in production) and the status report group's
// evaluation interval set to statusEval; statusEval 0 drops the group's
// interval so that the global evaluation_interval applies, a negative one
// keeps the bundled 1m. End-to-end tests use it to see in seconds what
// production waits minutes for.
func Rules(speedup int, statusEval time.Duration) ([]byte, error) {
	if speedup < 1 {
		return nil, fmt.Errorf("speedup %d: want 1 or more", speedup)
	}
	b, err := FS.ReadFile("rules.yml")
	if err != nil {
		return nil, err
	}
	s := string(b)
	var bad error
	n := 0
	s = reFor.ReplaceAllStringFunc(s, func(m string) string {
		n++
		sub := reFor.FindStringSubmatch(m)
		d, err := model.ParseDuration(sub[2])
		if err != nil {
			bad = fmt.Errorf("rules.yml: for: %w", err)
			return m
		}
		return sub[1] + promDuration((time.Duration(d) / time.Duration(speedup)).Round(time.Millisecond))
	})
	if bad != nil {
		return nil, bad
	}
	if n == 0 {
		return nil, errors.New("rules.yml: no `for:` lines")
	}
	if statusEval >= 0 {
		repl := func(m []string) string { return m[1] + promDuration(statusEval) }
		if statusEval == 0 {
			repl = func([]string) string { return "" }
		}
		if s, err = replace(s, reInterval, 1, repl); err != nil {
			return nil, err
		}
	}
	return []byte(s), nil
}

// quote writes s as a YAML single-quoted scalar.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func indent(lines, prefix string) string {
	ls := strings.Split(strings.TrimSuffix(lines, "\n"), "\n")
	for i := range ls {
		ls[i] = prefix + ls[i]
	}
	return strings.Join(ls, "\n")
}

// emailLines returns the global SMTP settings and the receivers'
// email_configs (with a %s for send_resolved), unindented.
func emailLines(e Email) (global, receiver string, err error) {
	for _, f := range []struct{ name, v string }{{"smarthost", e.Smarthost}, {"from", e.From}, {"to", e.To}, {"auth username", e.AuthUsername}, {"auth password file", e.AuthPasswordFile}} {
		if strings.ContainsFunc(f.v, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return "", "", fmt.Errorf("email %s %q: control characters", f.name, f.v)
		}
	}
	if e.Smarthost == "" || e.From == "" || e.To == "" {
		return "", "", errors.New("email: smarthost, from and to are required")
	}
	if e.AuthPasswordFile != "" && !path.IsAbs(e.AuthPasswordFile) {
		return "", "", fmt.Errorf("email auth password file %q: want an absolute path", e.AuthPasswordFile)
	}
	global = "smtp_smarthost: " + quote(e.Smarthost) + "\nsmtp_from: " + quote(e.From) + "\n"
	if e.AuthUsername != "" {
		global += "smtp_auth_username: " + quote(e.AuthUsername) + "\n"
	}
	if e.AuthPasswordFile != "" {
		global += "smtp_auth_password_file: " + quote(e.AuthPasswordFile) + "\n"
	}
	receiver = "email_configs:\n  - to: " + strings.ReplaceAll(quote(e.To), "%", "%%") + "\n    send_resolved: %s\n"
	return global, receiver, nil
}

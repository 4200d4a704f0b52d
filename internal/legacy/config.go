// Package legacy reads what the shell script port-traffic-dog.sh (端口流量狗,
// versions 1.0–1.2.5) leaves on a host: its config.json, the counter backup
// traffic_data.json, the reset history log, its nftables table, its tc setup
// and its crontab lines; and maps its ports onto our items, so `dog
// import-legacy` can carry every port, setting and this month's counters.
//
// Everything here is read as hostile input: a malformed file is refused
// with the key and value named, and nothing is changed.
package legacy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"
)

// File names inside the script's directory (/etc/port-traffic-dog).
const (
	DefaultDir      = "/etc/port-traffic-dog"
	ConfigName      = "config.json"
	TrafficDataName = "traffic_data.json"
	HistoryLogName  = "reset_history.log"
	DefaultTable    = "port_traffic_monitor"
	// MaxFileSize bounds every legacy file read: the script writes a few
	// kilobytes; more is not its file.
	MaxFileSize = 1 << 20
	// maxString bounds any string value (a remark, a token).
	maxString = 4096
)

// Billing modes as the script writes them.
const (
	ModeSingle = "single"
	ModeDouble = "double"
	ModeRelay  = "relay" // some 1.2.4.x builds: in + 2 × out
)

// Config is a validated legacy config.json.
type Config struct {
	Path   string
	Table  string // nftables table name
	Family string // always inet in practice
	// GlobalBilling is global.billing_mode: written by the script but read by
	// none of its versions (each port has its own).
	GlobalBilling string
	Ports         []Port // sorted by first port
	Telegram      *Telegram
	// WeCom is set when a WeCom group robot was configured: we cannot send
	// to it (Alertmanager's wechat_configs is the WeChat Work app API).
	WeCom bool
}

// Port is one .ports entry.
type Port struct {
	Key    string // "443" or "100-200", as in the file
	Lo, Hi uint16
	// Billing is billing_mode as written; "" when absent (its meaning
	// depends on the version: see Plan).
	Billing string
	Remark  string
	// Quota is monthly_limit in bytes (0: none or not enabled), QuotaText
	// as written.
	Quota     uint64
	QuotaText string
	// ResetDay is quota.reset_day; 0 when absent or null (no automatic
	// reset in 1.2.3+).
	ResetDay int
	// Rate is bandwidth_limit.rate in bit/s (0: none), RateText as written.
	Rate     uint64
	RateText string
}

// IsRange reports a "lo-hi" key.
func (p *Port) IsRange() bool { return strings.Contains(p.Key, "-") }

// CounterBase is the script's name stem for the port: port_443 or
// port_100_200 (a range's dash becomes an underscore).
func (p *Port) CounterBase() string { return "port_" + strings.ReplaceAll(p.Key, "-", "_") }

// Telegram is notifications.telegram.
type Telegram struct {
	Enabled    bool
	Token      string
	ChatID     string
	ServerName string
	// Interval of the status report ("1h"), "" when status reports are off.
	Interval string
}

// Error names the file and key of a bad value.
type Error struct {
	Path string
	Key  string // jq-style path: .ports["443"].quota.monthly_limit
	Msg  string
}

func (e *Error) Error() string {
	if e.Key == "" {
		return e.Path + ": " + e.Msg
	}
	return e.Path + ": " + e.Key + ": " + e.Msg
}

// ErrNoConfig: the directory holds no config.json (never installed, or
// already migrated).
var ErrNoConfig = errors.New("no legacy config.json")

// ReadFile reads a regular file of at most MaxFileSize bytes, refusing a
// symlink (a hostile one could point at a secret that error messages would
// then quote) and anything that is not a plain file.
func ReadFile(path string) ([]byte, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		return nil, &Error{Path: path, Msg: "is a symbolic link; the script writes plain files, so this is not its file (copy the real file there)"}
	}
	if !fi.Mode().IsRegular() {
		return nil, &Error{Path: path, Msg: "is not a regular file"}
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, &Error{Path: path, Msg: fmt.Sprintf("is larger than %d bytes; the script writes a few kilobytes", MaxFileSize)}
	}
	return data, nil
}

// LoadConfig reads and validates dir/config.json.
func LoadConfig(dir string) (*Config, error) {
	path := filepath.Join(dir, ConfigName)
	data, err := ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s", ErrNoConfig, dir)
	}
	if err != nil {
		return nil, err
	}
	return ParseConfig(data, path)
}

// object is a JSON object decoded one level deep.
type object map[string]json.RawMessage

type parser struct{ path string }

func (p *parser) fail(key, format string, args ...any) error {
	return &Error{Path: p.path, Key: key, Msg: fmt.Sprintf(format, args...)}
}

// obj decodes raw as an object whose keys must be among known.
func (p *parser) obj(raw json.RawMessage, key string, known ...string) (object, error) {
	if isNull(raw) {
		return object{}, nil
	}
	if k := kind(raw); k != "an object" {
		return nil, p.fail(key, "is %s, want an object", k)
	}
	var o object
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, p.fail(key, "%v", err)
	}
	if known != nil {
		var unknown []string
		for k := range o {
			if !contains(known, k) {
				unknown = append(unknown, strconv.Quote(k))
			}
		}
		if len(unknown) > 0 {
			sort.Strings(unknown)
			return nil, p.fail(key, "unknown key %s: not written by port-traffic-dog.sh 1.0–1.2.5 (a newer version?); nothing was imported, since a setting we do not understand would be lost silently",
				strings.Join(unknown, ", "))
		}
	}
	return o, nil
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

func isNull(raw json.RawMessage) bool { return raw == nil || string(bytes.TrimSpace(raw)) == "null" }

// kind names a JSON value's type for messages.
func kind(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return "empty"
	}
	switch t[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

func (p *parser) str(o object, key, name string) (string, bool, error) {
	raw, ok := o[name]
	if !ok || isNull(raw) {
		return "", false, nil
	}
	full := key + "." + name
	if k := kind(raw); k != "a string" {
		return "", false, p.fail(full, "is %s, want a string", k)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false, p.fail(full, "%v", err)
	}
	if len(s) > maxString {
		return "", false, p.fail(full, "is a string of %d bytes; at most %d are accepted", len(s), maxString)
	}
	if !utf8.ValidString(s) {
		return "", false, p.fail(full, "is not valid UTF-8")
	}
	return s, true, nil
}

func (p *parser) boolean(o object, key, name string, def bool) (bool, error) {
	raw, ok := o[name]
	if !ok || isNull(raw) {
		return def, nil
	}
	var b bool
	if kind(raw) != "a boolean" || json.Unmarshal(raw, &b) != nil {
		return false, p.fail(key+"."+name, "is %s %s, want true or false", kind(raw), clip(raw))
	}
	return b, nil
}

// clip quotes a bad value for a message, shortened.
func clip(raw json.RawMessage) string {
	s := string(bytes.TrimSpace(raw))
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return s
}

var (
	singlePort = regexp.MustCompile(`^[1-9][0-9]{0,4}$`)
	portRange  = regexp.MustCompile(`^([1-9][0-9]{0,4})-([1-9][0-9]{0,4})$`)
	sizeRe     = regexp.MustCompile(`^([0-9]{1,20})(mb|gb|tb|m|g|t)$`)
	rateRe     = regexp.MustCompile(`^([0-9]{1,20})(kbps|mbps|gbps)$`)
)

// ParseConfig validates config.json bytes; path is for messages.
func ParseConfig(data []byte, path string) (*Config, error) {
	p := &parser{path: path}
	if !utf8.Valid(data) {
		return nil, p.fail("", "is not valid UTF-8 JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var root json.RawMessage
	if err := dec.Decode(&root); err != nil {
		return nil, p.fail("", "is not valid JSON: %v", err)
	}
	if dec.More() {
		return nil, p.fail("", "holds more than one JSON value")
	}
	top, err := p.obj(root, "", "global", "ports", "nftables", "notifications")
	if err != nil {
		if kind(root) != "an object" {
			return nil, p.fail("", "is %s, want a JSON object", kind(root))
		}
		return nil, err
	}
	if _, ok := top["ports"]; !ok {
		return nil, p.fail("", "has no \"ports\" key: not a port-traffic-dog.sh config")
	}
	cfg := &Config{Path: path, Table: DefaultTable, Family: "inet"}

	g, err := p.obj(top["global"], ".global", "billing_mode", "data_retention_days", "collection_interval", "interface")
	if err != nil {
		return nil, err
	}
	if cfg.GlobalBilling, _, err = p.str(g, ".global", "billing_mode"); err != nil {
		return nil, err
	}

	n, err := p.obj(top["nftables"], ".nftables", "table_name", "family")
	if err != nil {
		return nil, err
	}
	if s, ok, err := p.str(n, ".nftables", "table_name"); err != nil {
		return nil, err
	} else if ok {
		if !validObjName(s) {
			return nil, p.fail(".nftables.table_name", "%q is not a table name the script could have created (letters, digits, _ and -, at most 255 bytes)", s)
		}
		cfg.Table = s
	}
	if s, ok, err := p.str(n, ".nftables", "family"); err != nil {
		return nil, err
	} else if ok && s != "inet" {
		return nil, p.fail(".nftables.family", "is %q; every version of the script uses inet", s)
	}

	if err := p.notifications(top["notifications"], cfg); err != nil {
		return nil, err
	}

	ports, err := p.obj(top["ports"], ".ports")
	if err != nil {
		return nil, err
	}
	for key, raw := range ports {
		pt, err := p.port(key, raw)
		if err != nil {
			return nil, err
		}
		cfg.Ports = append(cfg.Ports, pt)
	}
	sort.Slice(cfg.Ports, func(i, j int) bool { return cfg.Ports[i].Lo < cfg.Ports[j].Lo })
	for i := 1; i < len(cfg.Ports); i++ {
		a, b := cfg.Ports[i-1], cfg.Ports[i]
		if b.Lo <= a.Hi {
			return nil, p.fail(fmt.Sprintf(".ports[%q]", b.Key), "overlaps .ports[%q]: the script counted their shared ports twice; remove one of them in the script first (dog → 端口监控管理 → 删除)", a.Key)
		}
	}
	return cfg, nil
}

func validObjName(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '-' || r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r))) {
			return false
		}
	}
	return true
}

func (p *parser) notifications(raw json.RawMessage, cfg *Config) error {
	n, err := p.obj(raw, ".notifications", "telegram", "email", "wecom", "wechat")
	if err != nil {
		return err
	}
	status := []string{"enabled", "interval", "last_sent"}
	tg, err := p.obj(n["telegram"], ".notifications.telegram", "enabled", "bot_token", "chat_id", "server_name",
		"api_timeout", "retry_count", "snapshot_notifications", "status_notifications")
	if err != nil {
		return err
	}
	if _, err := p.obj(tg["snapshot_notifications"], ".notifications.telegram.snapshot_notifications", "enabled", "format", "last_sent"); err != nil {
		return err
	}
	st, err := p.obj(tg["status_notifications"], ".notifications.telegram.status_notifications", status...)
	if err != nil {
		return err
	}
	t := &Telegram{}
	const k = ".notifications.telegram"
	if t.Enabled, err = p.boolean(tg, k, "enabled", false); err != nil {
		return err
	}
	if t.Token, _, err = p.str(tg, k, "bot_token"); err != nil {
		return err
	}
	if t.ChatID, _, err = p.chatID(tg, k); err != nil {
		return err
	}
	if t.ServerName, _, err = p.str(tg, k, "server_name"); err != nil {
		return err
	}
	on, err := p.boolean(st, k+".status_notifications", "enabled", false)
	if err != nil {
		return err
	}
	iv, _, err := p.str(st, k+".status_notifications", "interval")
	if err != nil {
		return err
	}
	if on {
		switch iv {
		case "1m", "15m", "30m", "1h", "2h", "6h", "12h", "24h":
			t.Interval = iv
		case "":
			t.Interval = "1h" // what the script's menu defaults to
		default:
			return p.fail(k+".status_notifications.interval", "%q is not one of the script's intervals (1m, 15m, 30m, 1h, 2h, 6h, 12h, 24h)", iv)
		}
	}
	if t.Token != "" && strings.ContainsAny(t.Token, " \t\r\n") {
		return p.fail(k+".bot_token", "contains white space; not a Telegram bot token")
	}
	if t.Token != "" || t.ChatID != "" {
		cfg.Telegram = t
	}

	wc, err := p.obj(n["wecom"], ".notifications.wecom", "enabled", "webhook_url", "server_name", "status_notifications")
	if err != nil {
		return err
	}
	if _, err := p.obj(wc["status_notifications"], ".notifications.wecom.status_notifications", status...); err != nil {
		return err
	}
	url, _, err := p.str(wc, ".notifications.wecom", "webhook_url")
	if err != nil {
		return err
	}
	on, err = p.boolean(wc, ".notifications.wecom", "enabled", false)
	if err != nil {
		return err
	}
	cfg.WeCom = on || url != ""
	for _, name := range []string{"email", "wechat"} {
		if _, err := p.obj(n[name], ".notifications."+name, "enabled", "status"); err != nil {
			return err
		}
	}
	return nil
}

// chatID accepts the id as the script stores it (a string) or as a number.
func (p *parser) chatID(o object, key string) (string, bool, error) {
	raw, ok := o["chat_id"]
	if !ok || isNull(raw) {
		return "", false, nil
	}
	if kind(raw) == "a number" {
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", false, p.fail(key+".chat_id", "%v", err)
		}
		raw, _ = json.Marshal(n.String())
		o = object{"chat_id": raw}
	}
	s, ok, err := p.str(o, key, "chat_id")
	if err == nil && s != "" {
		if _, perr := strconv.ParseInt(s, 10, 64); perr != nil && !strings.HasPrefix(s, "@") {
			return "", false, p.fail(key+".chat_id", "%q is not a Telegram chat id (a number, or @channel)", s)
		}
	}
	return s, ok, err
}

func (p *parser) port(key string, raw json.RawMessage) (Port, error) {
	k := fmt.Sprintf(".ports[%q]", key)
	pt := Port{Key: key}
	lo, hi, ok := parsePortKey(key)
	if !ok {
		return pt, p.fail(k, "is not a port (1–65535) or a range lo-hi with lo ≤ hi")
	}
	pt.Lo, pt.Hi = lo, hi
	o, err := p.obj(raw, k, "name", "enabled", "billing_mode", "bandwidth_limit", "quota", "remark", "created_at")
	if err != nil {
		return pt, err
	}
	if len(o) == 0 && kind(raw) != "an object" {
		return pt, p.fail(k, "is %s, want an object", kind(raw))
	}
	for _, name := range []string{"name", "created_at"} {
		if _, _, err := p.str(o, k, name); err != nil {
			return pt, err
		}
	}
	if _, err := p.boolean(o, k, "enabled", true); err != nil {
		return pt, err
	}
	if pt.Billing, _, err = p.str(o, k, "billing_mode"); err != nil {
		return pt, err
	}
	switch pt.Billing {
	case "", ModeSingle, ModeDouble, ModeRelay:
	default:
		return pt, p.fail(k+".billing_mode", "%q is none of the script's modes (single, double, relay)", pt.Billing)
	}
	if pt.Remark, _, err = p.str(o, k, "remark"); err != nil {
		return pt, err
	}
	if strings.IndexFunc(pt.Remark, func(r rune) bool { return unicode.IsControl(r) }) >= 0 {
		return pt, p.fail(k+".remark", "contains a control character")
	}
	if n := utf8.RuneCountInString(pt.Remark); n > 200 {
		return pt, p.fail(k+".remark", "has %d characters; ours allow 200: shorten it in the script first", n)
	}

	q, err := p.obj(o["quota"], k+".quota", "enabled", "monthly_limit", "reset_day")
	if err != nil {
		return pt, err
	}
	// The script writes enabled: true with every port and applies the
	// quota when it is true; cron and the status line read a missing one
	// as true too.
	qOn, err := p.boolean(q, k+".quota", "enabled", true)
	if err != nil {
		return pt, err
	}
	limit, _, err := p.str(q, k+".quota", "monthly_limit")
	if err != nil {
		return pt, err
	}
	if limit != "" && limit != "unlimited" && limit != "0" {
		b, err := ParseSize(limit)
		if err != nil {
			return pt, p.fail(k+".quota.monthly_limit", "%v", err)
		}
		if qOn {
			pt.Quota, pt.QuotaText = b, limit
		}
	}
	if rd, ok := q["reset_day"]; ok && !isNull(rd) {
		var d int
		if kind(rd) != "a number" || json.Unmarshal(rd, &d) != nil || d < 1 || d > 31 {
			return pt, p.fail(k+".quota.reset_day", "is %s %s, want a day of the month 1–31", kind(rd), clip(rd))
		}
		pt.ResetDay = d
	}

	bw, err := p.obj(o["bandwidth_limit"], k+".bandwidth_limit", "enabled", "rate")
	if err != nil {
		return pt, err
	}
	bwOn, err := p.boolean(bw, k+".bandwidth_limit", "enabled", false)
	if err != nil {
		return pt, err
	}
	rate, _, err := p.str(bw, k+".bandwidth_limit", "rate")
	if err != nil {
		return pt, err
	}
	if rate != "" && rate != "unlimited" && rate != "0" {
		r, err := ParseRate(rate)
		if err != nil {
			return pt, p.fail(k+".bandwidth_limit.rate", "%v", err)
		}
		if bwOn {
			pt.Rate, pt.RateText = r, rate
		}
	}
	return pt, nil
}

func parsePortKey(key string) (lo, hi uint16, ok bool) {
	num := func(s string) (uint16, bool) {
		n, err := strconv.Atoi(s)
		return uint16(n), err == nil && n >= 1 && n <= 65535
	}
	if singlePort.MatchString(key) {
		lo, ok = num(key)
		return lo, lo, ok
	}
	m := portRange.FindStringSubmatch(key)
	if m == nil {
		return 0, 0, false
	}
	lo, ok1 := num(m[1])
	hi, ok2 := num(m[2])
	return lo, hi, ok1 && ok2 && lo <= hi
}

// ParseSize reads the script's sizes: a whole number and MB, GB, TB or a
// bare M, G, T in any case, all powers of 1024 (its parse_size_to_bytes).
func ParseSize(s string) (uint64, error) {
	m := sizeRe.FindStringSubmatch(strings.ToLower(s))
	if m == nil {
		return 0, fmt.Errorf("%q is not a size the script accepts (a whole number and MB, GB, TB, M, G or T)", s)
	}
	n, err := strconv.ParseUint(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", s, err)
	}
	shift := map[string]uint{"m": 20, "mb": 20, "g": 30, "gb": 30, "t": 40, "tb": 40}[m[2]]
	// The script computes in bash's signed 64-bit arithmetic.
	if n == 0 || bits.LeadingZeros64(n) <= int(shift) {
		return 0, fmt.Errorf("%q is zero or too large", s)
	}
	return n << shift, nil
}

// ParseRate reads the script's bandwidth limits: a whole number and Kbps,
// Mbps or Gbps in any case, which it hands to tc as kbit, mbit, gbit
// (powers of 1000 bits per second).
func ParseRate(s string) (uint64, error) {
	m := rateRe.FindStringSubmatch(strings.ToLower(s))
	if m == nil {
		return 0, fmt.Errorf("%q is not a rate the script accepts (a whole number and Kbps, Mbps or Gbps)", s)
	}
	n, err := strconv.ParseUint(m[1], 10, 64)
	mult := map[string]uint64{"kbps": 1e3, "mbps": 1e6, "gbps": 1e9}[m[2]]
	if err != nil || n == 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is zero or too large", s)
	}
	return n * mult, nil
}

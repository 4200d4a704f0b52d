package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"port-traffic-dog/internal/portspec"
	"port-traffic-dog/internal/units"
)

// MaxFileSize bounds what Load reads: 50,000 items fit in a few MB.
const MaxFileSize = 32 << 20

// Load reads and validates a config file.
func Load(path string) (*Config, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data, path)
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("read config %s: not a regular file", path)
	}
	if st.Size() > MaxFileSize {
		return nil, fmt.Errorf("read config %s: %d bytes is larger than the %d MiB limit", path, st.Size(), MaxFileSize>>20)
	}
	data := make([]byte, st.Size())
	if _, err := f.ReadAt(data, 0); err != nil && st.Size() > 0 {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	return data, nil
}

// Parse validates YAML config text; source names it in error messages.
func Parse(data []byte, source string) (*Config, error) {
	cfg, _, err := parse(data, source)
	return cfg, err
}

// parse is Parse that also returns the document's root node (nil for an
// empty file), for the item cache to learn the items' text from.
func parse(data []byte, source string) (*Config, *yaml.Node, error) {
	if len(data) > MaxFileSize {
		return nil, nil, &Error{Source: source, Msg: fmt.Sprintf("%d bytes is larger than the %d MiB limit", len(data), MaxFileSize>>20)}
	}
	if !utf8.Valid(data) {
		return nil, nil, &Error{Source: source + lineOfInvalidUTF8(data), Msg: "file is not valid UTF-8"}
	}
	cfg := Default()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, &Error{Source: source, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	// A second document (two files concatenated, a stray "---") would be
	// ignored silently with all its items: refuse it instead.
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, nil, &Error{Source: source, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	case len(extra.Content) > 0 && !isNull(extra.Content[0]):
		return nil, nil, &Error{Source: lineOf(source, extra.Content[0]), Msg: "a second YAML document starts here; the file must hold one"}
	}
	if len(doc.Content) == 0 { // empty file: all defaults, no items
		return cfg, nil, nil
	}
	d := &decoder{source: source}
	d.top(doc.Content[0], cfg)
	errs := append(d.errs, crossCheck(d.parsed, cfg.Exempt)...)
	if len(errs) > 0 {
		slices.SortStableFunc(errs, func(a, b error) int { return errorLine(a) - errorLine(b) })
		return nil, nil, joinErrors(source, errs)
	}
	return cfg, doc.Content[0], nil
}

// MaxErrors is how many of a config's problems an error lists: a file
// broken in all of its 10,000 items must not flood a terminal or a log.
const MaxErrors = 50

// joinErrors is errs as one error, the problems past MaxErrors counted in
// a last one.
func joinErrors(source string, errs []error) error {
	if len(errs) > MaxErrors {
		errs = append(errs[:MaxErrors:MaxErrors], &Error{Source: source, Msg: fmt.Sprintf("and %d more problems", len(errs)-MaxErrors)})
	}
	return errors.Join(errs...)
}

func errorLine(err error) int {
	if e, ok := err.(*Error); ok { //nolint:errorlint // the decoder's own errors, never wrapped
		return e.line
	}
	return 0
}

// WithPortFlags returns a copy of c with the items of repeated --port flags
// added, validated together with the file's items; without flags, c itself
// (validated already: a copy of 10,000 items is ~2 MB).
func (c *Config) WithPortFlags(flags []string) (*Config, error) {
	if len(flags) == 0 {
		return c, nil
	}
	out := *c
	out.Items = slices.Clone(c.Items)
	parsed := slices.Clone(c.Items) // and the flags whose ports parsed, to check them all against each other
	var errs []error
	for i, f := range flags {
		it, ferrs := parsePortFlag(f, fmt.Sprintf("--port #%d", i+1))
		errs = append(errs, ferrs...)
		if len(ferrs) == 0 {
			out.Items = append(out.Items, it)
		}
		if it.Spec != nil {
			parsed = append(parsed, it)
		}
	}
	if errs = append(errs, crossCheck(parsed, c.Exempt)...); len(errs) > 0 {
		return nil, joinErrors("--port", errs)
	}
	return &out, nil
}

type decoder struct {
	source string
	errs   []error
	parsed []Item // the items whose ports parsed, valid or not, for crossCheck
}

func (d *decoder) at(n *yaml.Node) string {
	if n == nil || n.Line == 0 {
		return d.source
	}
	return d.source + ":" + strconv.Itoa(n.Line)
}

func (d *decoder) fail(n *yaml.Node, item, field, format string, args ...any) {
	e := &Error{Source: d.at(n), Item: item, Field: field, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.line = n.Line
	}
	d.errs = append(d.errs, e)
}

type pair struct{ key, value *yaml.Node }

// mapping flattens a mapping node into its key/value pairs, resolving aliases
// and YAML merge keys (`<<: *defaults`, handy for items sharing options), and
// rejecting duplicate keys, which YAML forbids but many parsers take silently.
func (d *decoder) mapping(n *yaml.Node, item, field string) ([]pair, bool) {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		d.fail(n, item, field, "expected a mapping (key: value lines), found %s", describe(n))
		return nil, false
	}
	var merged, own []pair
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode { // reported, and the other keys still read
			d.fail(k, item, field, "keys must be plain names, found %s", describe(k))
			continue
		}
		if k.Tag == "!!merge" {
			srcs := []*yaml.Node{resolve(v)}
			if srcs[0].Kind == yaml.SequenceNode {
				srcs = srcs[0].Content
			}
			for _, src := range srcs {
				ps, ok := d.mapping(src, item, field)
				if !ok {
					return nil, false
				}
				merged = append(merged, ps...)
			}
			continue
		}
		if prev, dup := seen[k.Value]; dup { // the first one counts, for the other keys' messages
			d.fail(k, item, k.Value, "duplicate key (first set at line %d)", prev.Line)
			continue
		}
		seen[k.Value] = k
		own = append(own, pair{k, v})
	}
	var out []pair
	for _, p := range merged { // explicit keys override merged ones
		if _, overridden := seen[p.key.Value]; !overridden {
			seen[p.key.Value] = p.key
			out = append(out, p)
		}
	}
	return append(out, own...), true
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

// maxSocketPath is the longest path a unix socket can be bound to
// (sun_path is 108 bytes with the terminating NUL).
const maxSocketPath = 107

// groupName is what useradd/groupadd accept (and a numeric gid): the name
// is looked up on the host only when the enforcer creates its socket.
var groupName = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_.-]{0,31}|[0-9]{1,10})$`)

var topKeys = []string{"state_dir", "admin_socket", "admin_group", "checkpoint_interval", "timezone",
	"count_loopback", "count_forwarded", "exempt", "interfaces", "host", "ports"}

func (d *decoder) top(root *yaml.Node, cfg *Config) {
	pairs, ok := d.mapping(root, "", "")
	if !ok {
		return
	}
	for _, p := range pairs {
		k, v := p.key.Value, resolve(p.value)
		switch k {
		case "state_dir":
			cfg.StateDir = d.absPath(v, k)
		case "admin_socket":
			cfg.AdminSocket = d.absPath(v, k)
			if len(cfg.AdminSocket) > maxSocketPath {
				d.fail(v, "", k, "%q is %d bytes long; a unix socket path has at most %d", cfg.AdminSocket, len(cfg.AdminSocket), maxSocketPath)
			}
		case "admin_group":
			if s, ok := d.str(v, "", k); ok {
				if !groupName.MatchString(s) {
					d.fail(v, "", k, "%q is not a group name or gid", s)
				} else {
					cfg.AdminGroup = s
				}
			}
		case "checkpoint_interval":
			if s, ok := d.str(v, "", k); ok {
				dur, err := time.ParseDuration(s)
				switch {
				case err != nil:
					d.fail(v, "", k, "%q is not a duration (examples: 10s, 1m)", s)
				case dur < time.Second || dur > time.Hour:
					d.fail(v, "", k, "%s is outside 1s-1h", dur)
				default:
					cfg.CheckpointInterval = dur
				}
			}
		case "timezone":
			if s, ok := d.str(v, "", k); ok {
				loc, err := time.LoadLocation(s)
				if err != nil || s == "" {
					d.fail(v, "", k, "unknown time zone %q (use an IANA name such as Asia/Shanghai, or Local or UTC)", s)
				} else {
					cfg.Timezone, cfg.Location = s, loc
				}
			}
		case "count_loopback":
			cfg.CountLoopback, _ = d.boolean(v, "", k)
		case "count_forwarded":
			if s, ok := d.str(v, "", k); ok {
				if c := CountForwarded(s); slices.Contains(countForwardedValues, c) {
					cfg.CountForwarded = c
				} else {
					d.fail(v, "", k, "%q is not auto, true or false", s)
				}
			}
		case "exempt":
			cfg.Exempt = d.exempt(v)
		case "interfaces":
			cfg.Interfaces = d.interfaces(v)
		case "host":
			cfg.Host = d.host(v)
		case "ports":
			d.items(v, cfg)
		default:
			d.unknown(p.key, "", k, topKeys)
		}
	}
}

// portsValue finds an item's `ports` before the item is decoded, to name the
// item in messages about its other keys.
func portsValue(n *yaml.Node) string {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "ports" && resolve(n.Content[i+1]).Kind == yaml.ScalarNode {
			return resolve(n.Content[i+1]).Value
		}
	}
	return ""
}

func (d *decoder) unknown(n *yaml.Node, item, k string, known []string) {
	msg := "unknown key"
	if s := suggest(k, known); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	} else {
		msg += fmt.Sprintf(" (known keys: %s)", strings.Join(known, ", "))
	}
	d.fail(n, item, k, "%s", msg)
}

func (d *decoder) str(v *yaml.Node, item, k string) (string, bool) {
	if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		d.fail(v, item, k, "expected a single value, found %s", describe(v))
		return "", false
	}
	return v.Value, true
}

func (d *decoder) absPath(v *yaml.Node, k string) string {
	s, ok := d.str(v, "", k)
	switch {
	case !ok:
	case !filepath.IsAbs(s):
		d.fail(v, "", k, "%q must be an absolute path", s)
	case strings.ContainsFunc(s, unicode.IsControl):
		d.fail(v, "", k, "%q contains a control character", s)
	}
	return filepath.Clean(s)
}

// isNull is an empty YAML document's content ("---" and nothing after it).
func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// lineOf is "source:line" of a node outside a decoder.
func lineOf(source string, n *yaml.Node) string {
	return (&decoder{source: source}).at(n)
}

func (d *decoder) boolean(v *yaml.Node, item, k string) (bool, bool) {
	if v.Kind == yaml.ScalarNode {
		switch v.Value {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	d.fail(v, item, k, "expected true or false, found %s", describe(v))
	return false, false
}

func (d *decoder) list(v *yaml.Node, item, k string) []*yaml.Node {
	if v.Kind != yaml.SequenceNode {
		d.fail(v, item, k, "expected a list, found %s", describe(v))
		return nil
	}
	out := make([]*yaml.Node, len(v.Content))
	for i, e := range v.Content {
		out[i] = resolve(e)
	}
	return out
}

func (d *decoder) exempt(v *yaml.Node) portspec.Spec {
	var all portspec.Spec
	for _, e := range d.list(v, "", "exempt") {
		s, ok := d.str(e, "", "exempt")
		if !ok {
			continue
		}
		spec, err := portspec.Parse(s)
		if err != nil {
			d.fail(e, "", "exempt", "%v", err)
			continue
		}
		all = append(all, spec...)
	}
	// Overlaps inside exempt are harmless; re-parse to sort and reject them
	// anyway, since they usually mean a typo.
	if len(all) == 0 {
		return portspec.Spec{}
	}
	spec, err := portspec.Parse(all.String())
	if err != nil {
		d.fail(v, "", "exempt", "%v", err)
	}
	return spec
}

func (d *decoder) interfaces(v *yaml.Node) []string {
	var out []string
	for _, e := range d.list(v, "", "interfaces") {
		s, ok := d.str(e, "", "interfaces")
		if !ok {
			continue
		}
		if !validIfName(s) {
			d.fail(e, "", "interfaces", "%q is not an interface name (1-15 characters, no spaces or /)", s)
			continue
		}
		out = append(out, s)
	}
	return out
}

func validIfName(s string) bool {
	if s == "" || len(s) > 15 || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		if r == '/' || r == ':' || unicode.IsSpace(r) || r > unicode.MaxASCII {
			return false
		}
	}
	return true
}

var hostKeys = []string{"quota", "billing", "reset_day"}

func (d *decoder) host(v *yaml.Node) *HostQuota {
	pairs, ok := d.mapping(v, HostPort, "host")
	if !ok {
		return nil
	}
	h := &HostQuota{Billing: BillingSum, ResetDay: DefaultResetDay, Source: d.at(v)}
	hasQuota := false
	for _, p := range pairs {
		k, val := p.key.Value, resolve(p.value)
		raw, _ := d.str(val, HostPort, k)
		var err error
		switch k {
		case "quota":
			hasQuota = true
			h.Quota, err = parseQuota(raw)
		case "billing":
			h.Billing, err = parseBilling(raw)
		case "reset_day":
			h.ResetDay, err = parseResetDay(raw)
		default:
			d.unknown(p.key, HostPort, k, hostKeys)
			continue
		}
		if err != nil {
			d.fail(val, HostPort, k, "%v", err)
		}
	}
	if !hasQuota { // a bad quota value is reported as such, once
		d.fail(v, HostPort, "quota", "the host block needs a quota (remove the block for no whole-host quota)")
	}
	return h
}

func (d *decoder) items(v *yaml.Node, cfg *Config) {
	for _, n := range d.list(v, "", "ports") {
		it, errs := decodeItem(n, d.source)
		d.errs = append(d.errs, errs...)
		if len(errs) == 0 {
			cfg.Items = append(cfg.Items, it)
		}
		if it.Spec != nil {
			d.parsed = append(d.parsed, it)
		}
	}
}

// itemKeys are the per-item options; the same names are the keys of --port.
var itemKeys = []string{"ports", "remark", "protocols", "quota", "billing", "reset_day", "expires",
	"rate", "rate_in", "rate_out", "burst"}

// decodeItem decodes one item of the list. With errors, the item is not
// valid, but has its Spec if its ports parsed (for crossCheck).
func decodeItem(n *yaml.Node, source string) (Item, []error) {
	d := &decoder{source: source}
	pairs, ok := d.mapping(n, portsValue(n), "ports")
	if !ok {
		return Item{}, d.errs
	}
	// The ports value names the item in every other message, so find it first.
	var raw = map[string]string{}
	nodes := map[string]*yaml.Node{}
	var keys []string // of raw, in the file's order
	for _, p := range pairs {
		k, v := p.key.Value, resolve(p.value)
		if !slices.Contains(itemKeys, k) {
			d.unknown(p.key, "", k, itemKeys)
			continue
		}
		nodes[k] = v
		if k == "protocols" && v.Kind == yaml.SequenceNode {
			var ps []string
			for _, e := range d.list(v, "", k) {
				if s, ok := d.str(e, "", k); ok {
					ps = append(ps, s)
				}
			}
			raw[k] = strings.Join(ps, ",")
			keys = append(keys, k)
			continue
		}
		if s, ok := d.str(v, "", k); ok {
			raw[k] = s
			keys = append(keys, k)
		}
	}
	if _, ok := nodes["ports"]; !ok {
		d.fail(n, "", "ports", "every item needs `ports` (\"443\", \"5000-5100\" or \"443,5000-5100\")")
	}
	// Every value that was read is checked too, whatever else is wrong.
	it, errs := buildItem(raw, keys, d.source, n.Line, func(key string) string { return d.at(nodes[key]) })
	for _, e := range errs {
		e.line = nodes[e.Field].Line
		d.errs = append(d.errs, e)
	}
	if len(d.errs) == 0 {
		return it, nil
	}
	// Label the errors with the item now that its name is known.
	for _, e := range d.errs {
		var fe *Error
		if errors.As(e, &fe) && fe.Item == "" {
			fe.Item = raw["ports"]
		}
	}
	return it, d.errs
}

// buildItem turns the raw option strings of one item (from YAML or a --port
// flag) into an Item defined at source and line (0 for a flag), checking
// the keys in order; where(key) locates an option for messages. With
// errors, one for each bad option, the item has its Spec if its ports
// parsed.
func buildItem(raw map[string]string, order []string, source string, line int, where func(string) string) (Item, []*Error) {
	it := Item{Ports: strings.TrimSpace(raw["ports"]), Protocols: TCP | UDP, Billing: BillingSum,
		ResetDay: DefaultResetDay, source: source, line: line}
	var errs []*Error
	rates := map[string]uint64{}
	rateFailed := false
	for _, k := range order {
		v, set := raw[k]
		if !set {
			continue
		}
		var err error
		switch k {
		case "ports":
			if it.Spec, err = portspec.Parse(it.Ports); err == nil {
				it.id = ItemID(it.Spec)
			}
		case "remark":
			it.Remark, err = parseRemark(v)
		case "protocols":
			it.Protocols, err = parseProtocols(v)
		case "quota":
			it.Quota, err = parseQuota(v)
		case "billing":
			it.Billing, err = parseBilling(v)
		case "reset_day":
			it.ResetDay, err = parseResetDay(v)
		case "expires":
			it.Expires, err = ParseDate(v)
		case "rate", "rate_in", "rate_out":
			var r uint64
			if r, err = units.ParseRate(v); err == nil {
				rates[k] = r
			}
			rateFailed = rateFailed || err != nil
		case "burst":
			it.Burst, err = units.ParseBytes(v)
			if err == nil && it.Burst == 0 {
				err = errors.New("must be greater than zero (omit it for the default)")
			}
		}
		if err != nil {
			errs = append(errs, &Error{Source: where(k), Item: it.Ports, Field: k, Msg: err.Error()})
		}
	}
	// The direction overrides win over `rate` whatever their order.
	it.RateIn, it.RateOut = rates["rate"], rates["rate"]
	if r, set := rates["rate_in"]; set {
		it.RateIn = r
	}
	if r, set := rates["rate_out"]; set {
		it.RateOut = r
	}
	if it.Burst > 0 && !rateFailed && it.RateIn == 0 && it.RateOut == 0 {
		errs = append(errs, &Error{Source: where("burst"), Item: it.Ports, Field: "burst", Msg: "burst needs a rate, rate_in or rate_out"})
	}
	return it, errs
}

func parseRemark(s string) (string, error) {
	if utf8.RuneCountInString(s) > MaxRemarkLen {
		return "", fmt.Errorf("longer than %d characters", MaxRemarkLen)
	}
	if err := CheckText(s); err != nil {
		return "", fmt.Errorf("%w; a remark is one line", err)
	}
	return s, nil
}

// CheckText is the rule for text from a config or an archive that dog shows
// to people (remarks, host names, history entries): no control characters
// (a terminal takes ESC sequences as commands) and no explicit bidi
// embeddings, overrides or isolates, which reorder the text around them:
// a remark could make dog status, the history or an alert show other
// ports or numbers than the real ones.
func CheckText(s string) error {
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("contains a control character (%U)", r)
		}
		if (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) {
			return fmt.Errorf("contains a bidirectional control character (%U), which would reorder the text around it", r)
		}
	}
	return nil
}

// Hidden returns the first character of s that can reorder or hide text
// without being seen: bidi marks, line and paragraph separators, the soft
// hyphen, zero-width spaces and joiners other than ZWJ/ZWNJ (which emoji
// and some scripts need), the BOM and tag characters. New remarks may not
// hold them (CheckNewRemark); a config that has them still loads, with a
// warning (Config.Warnings), so an upgrade never stops an enforcer.
func Hidden(s string) (rune, bool) {
	for _, r := range s {
		switch {
		case r == 0x200E || r == 0x200F || r == 0x061C, // bidi marks
			r == 0x2028 || r == 0x2029, // line and paragraph separators
			r == 0x00AD,                // soft hyphen
			r == 0x200B || (r >= 0x2060 && r <= 0x2064), r == 0xFEFF,
			r >= 0xE0000 && r <= 0xE007F: // tags
			return r, true
		}
	}
	return 0, false
}

// CheckNewRemark is the rule for a remark an edit writes: the load rule and
// no hidden characters.
func CheckNewRemark(s string) error {
	if _, err := parseRemark(s); err != nil {
		return err
	}
	if r, ok := Hidden(s); ok {
		return fmt.Errorf("contains %U, an invisible character that can reorder or hide text", r)
	}
	return nil
}

// Warnings name what the config holds that new edits refuse but loading
// still takes (so an upgrade keeps every enforcer running), and the items
// whose expiry date has come by now: valid, but blocked at once, which an
// operator who typed the wrong year should hear of.
func (c *Config) Warnings(now time.Time) []string {
	var out []string
	for i := range c.Items {
		it := &c.Items[i]
		if r, ok := Hidden(it.Remark); ok {
			out = append(out, fmt.Sprintf("%s: item %q: remark contains %U, an invisible character that can reorder or hide text; remove it (dog set %s --remark ...)",
				it.Source(), it.Ports, r, it.Ports))
		}
		if !it.Expires.IsZero() && !now.Before(it.Expires.In(c.Location)) {
			out = append(out, fmt.Sprintf("%s: item %q: expired on %s, so its traffic is blocked; if it should not be, change or remove the date (dog set %s --expires ...)",
				it.Source(), it.Ports, it.Expires, it.Ports))
		}
	}
	return out
}

func parseProtocols(s string) (Protocols, error) {
	var p Protocols
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '+' || r == ' ' }) {
		var bit Protocols
		switch strings.ToLower(f) {
		case "tcp":
			bit = TCP
		case "udp":
			bit = UDP
		default:
			return 0, fmt.Errorf("unknown protocol %q (tcp or udp)", f)
		}
		if p&bit != 0 {
			return 0, fmt.Errorf("%s is listed twice", f)
		}
		p |= bit
	}
	if p == 0 {
		return 0, errors.New("empty: list tcp, udp or both")
	}
	return p, nil
}

func parseQuota(s string) (uint64, error) {
	q, err := units.ParseBytes(s)
	if err == nil && q == 0 {
		err = errors.New("must be greater than zero (omit it for no quota)")
	}
	return q, err
}

func parseBilling(s string) (Billing, error) {
	for _, b := range billings {
		if string(b) == s {
			return b, nil
		}
	}
	if s == "single" || s == "double" {
		// The shell script's modes: what they billed depends on its
		// version, which dog import-legacy reads from its table.
		return "", fmt.Errorf("unknown billing mode %q (out, in, sum, max or relay): the shell script's single is out, its double is sum (before 1.2.5) or relay (1.2.5)", s)
	}
	return "", fmt.Errorf("unknown billing mode %q (out, in, sum, max or relay)", s)
}

func parseResetDay(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 31 {
		return 0, fmt.Errorf("%q is not a day of the month (1-31, or 0 for never)", s)
	}
	return n, nil
}

func lineOfInvalidUTF8(data []byte) string {
	line := 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return ":" + strconv.Itoa(line)
		}
		if r == '\n' {
			line++
		}
		i += size
	}
	return ""
}

// suggest returns the known key closest to a misspelt one, if close enough.
func suggest(k string, known []string) string {
	for _, c := range known {
		if len(k) >= 4 && strings.HasPrefix(c, k) {
			return c
		}
	}
	best, bestD := "", 3
	for _, c := range known {
		if d := editDistance(k, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

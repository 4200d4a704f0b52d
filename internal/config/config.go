// Package config is the schema of the enforcer's desired state: the YAML file,
// the repeatable --port flags, and the validation both run through. The
// result is a fully checked, typed Config; nothing downstream re-parses text.
package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // IANA zones must resolve on minimal hosts without /usr/share/zoneinfo

	"port-traffic-dog/internal/billing"
	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/portspec"
)

// Defaults, documented in docs/CONFIG.md.
const (
	DefaultPath               = "/etc/port-traffic-dog/config.yaml"
	DefaultStateDir           = "/var/lib/port-traffic-dog"
	DefaultAdminSocket        = "/run/port-traffic-dog/enforcer.sock"
	DefaultCheckpointInterval = 10 * time.Second
	DefaultResetDay           = 1
	MaxRemarkLen              = 200
)

// DefaultExempt is what `exempt` is when the file does not set it: SSH, so a
// whole-host block never locks the operator out.
var DefaultExempt = portspec.Spec{{Lo: 22, Hi: 22}}

// Billing says which bytes consume an item's quota. Counting is not affected:
// counters always count real bytes, once.
type Billing string

const (
	BillingOut   Billing = "out"   // bytes sent from the port
	BillingIn    Billing = "in"    // bytes sent to the port
	BillingSum   Billing = "sum"   // in + out
	BillingMax   Billing = "max"   // the larger direction
	BillingRelay Billing = "relay" // (in + out) x 2: a userspace relay's backend leg uses other ports
)

var billings = []Billing{BillingOut, BillingIn, BillingSum, BillingMax, BillingRelay}

// CountForwarded says whether traffic the host forwards (DNAT, routing) is
// counted and enforced by item, which needs conntrack for every packet of the
// host (docs/CONFIG.md).
type CountForwarded string

const (
	ForwardedAuto  CountForwarded = "auto"  // while the host forwards (the default)
	ForwardedTrue  CountForwarded = "true"  // always
	ForwardedFalse CountForwarded = "false" // never
)

var countForwardedValues = []CountForwarded{ForwardedAuto, ForwardedTrue, ForwardedFalse}

// Enabled tells whether forwarded traffic is counted on a host that
// forwards (hostForwards) or does not. The zero value is auto.
func (c CountForwarded) Enabled(hostForwards bool) bool {
	return c == ForwardedTrue || (c != ForwardedFalse && hostForwards)
}

// Billable is the quota use of a period with the given in/out bytes.
func (b Billing) Billable(in, out uint64) uint64 {
	switch b {
	case BillingOut:
		return out
	case BillingIn:
		return in
	case BillingMax:
		return max(in, out)
	case BillingRelay:
		return (in + out) * 2
	default:
		return in + out
	}
}

// Protocols is the set of transport protocols an item covers.
type Protocols uint8

const (
	TCP Protocols = 1 << iota
	UDP
)

func (p Protocols) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	default:
		return "tcp+udp"
	}
}

// Date is a calendar day without a time zone; it becomes an instant only in
// the configured zone (expiry starts at 00:00 of that day there).
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ParseDate reads YYYY-MM-DD.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse("2006-01-02", strings.TrimSpace(s))
	if err != nil {
		return Date{}, fmt.Errorf("%q is not a date (want YYYY-MM-DD)", s)
	}
	return Date{t.Year(), t.Month(), t.Day()}, nil
}

func (d Date) IsZero() bool { return d == Date{} }

// In returns the start of the day in loc: 00:00, or its first minute where
// a DST change skips midnight.
func (d Date) In(loc *time.Location) time.Time {
	return billing.DayStart(d.Year, d.Month, d.Day, loc)
}

func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day)
}

// Item is one monitored port, range or group.
type Item struct {
	Ports     string        // the spec as written; the `port` label of every metric
	Spec      portspec.Spec // parsed, canonical
	Remark    string
	Protocols Protocols
	Quota     uint64 // bytes per period; 0 = no quota
	Billing   Billing
	ResetDay  int    // 1-31, 0 = never
	Expires   Date   // zero = never
	RateIn    uint64 // bits/s to the port (client uploads); 0 = unlimited
	RateOut   uint64 // bits/s from the port (client downloads); 0 = unlimited
	Burst     uint64 // bytes; 0 = derived from the rate

	// Where the item is defined, for messages (Source): a file and a line,
	// or a --port flag and line 0. The file name is shared by all items.
	source string
	line   int
	id     string // ID(), kept: a reload looks up every item by it
}

// Source is where the item is defined: "file.yaml:12" or "--port #2".
func (it *Item) Source() string {
	if it.line == 0 {
		return it.source
	}
	return it.source + ":" + strconv.Itoa(it.line)
}

// ID is the item's stable identity in the kernel (object and chain names) and
// in the state: derived from the canonical ports, so re-ordering a group or
// editing the remark keeps the counters.
func (it *Item) ID() string {
	if it.id != "" {
		return it.id
	}
	return ItemID(it.Spec)
}

// ItemID derives the kernel identity of a ports spec.
func ItemID(s portspec.Spec) string {
	id := "p" + strings.ReplaceAll(s.String(), ",", "_")
	if len(id) <= 120 { // chain names are "item_<id>_out"; the kernel allows 255 bytes
		return id
	}
	sum := sha256.Sum256([]byte(s.String()))
	return "g" + hex.EncodeToString(sum[:12])
}

// IDOf is the kernel identity of the item a user names by its ports, in
// any spelling, or by HostPort for the whole host.
func IDOf(ports string) (string, error) {
	if ports == HostPort {
		return layout.HostID, nil
	}
	spec, err := portspec.Parse(ports)
	if err != nil {
		return "", err
	}
	return ItemID(spec), nil
}

// HostQuota is the optional whole-host budget.
type HostQuota struct {
	Quota    uint64
	Billing  Billing
	ResetDay int
	Source   string
}

// HostPort is the `port` label value of the whole-host item.
const HostPort = "host"

// Config is the validated desired state.
type Config struct {
	StateDir           string
	AdminSocket        string
	AdminGroup         string // group allowed to use the admin socket besides root
	CheckpointInterval time.Duration
	Timezone           string
	Location           *time.Location
	CountLoopback      bool
	CountForwarded     CountForwarded
	Exempt             portspec.Spec
	Interfaces         []string // shaped interfaces; empty = the default routes' interfaces
	Host               *HostQuota
	Items              []Item
}

// Default returns the configuration used when there is no file.
func Default() *Config {
	return &Config{
		StateDir:           DefaultStateDir,
		AdminSocket:        DefaultAdminSocket,
		CheckpointInterval: DefaultCheckpointInterval,
		Timezone:           "Local",
		Location:           time.Local,
		CountForwarded:     ForwardedAuto,
		Exempt:             DefaultExempt,
	}
}

// Item returns the item whose canonical spec equals spec's, if any.
func (c *Config) Item(spec portspec.Spec) (*Item, bool) {
	canon := spec.String()
	for i := range c.Items {
		if c.Items[i].Spec.String() == canon {
			return &c.Items[i], true
		}
	}
	return nil, false
}

// crossCheck runs the rules that involve more than one item, over items in
// file order (those whose ports parsed, valid or not, so one run reports
// these problems along with the items' own): no two items may share a port
// (each byte is counted once), and exempt ports carry no quota. Every item
// that shares a port with an item defined before it is reported, once for
// each earlier item that first holds one of the ports it shares.
func crossCheck(items []Item, exempt portspec.Spec) []error {
	type claim struct {
		r    portspec.Range
		item int
	}
	var (
		errs   []error
		claims []claim
		// owner[p] is 1 + the index in claims of the range that first
		// claimed port p. next[p] is a port >= p that may be free, and
		// skips claimed ports: the check takes time linear in the ports
		// and items, however wide or nested the ranges of a broken file.
		owner = make([]int32, 1<<16)
		next  = make([]int32, 1<<16+1)
	)
	for p := range next {
		next[p] = int32(p)
	}
	free := func(p int32) int32 {
		for next[p] != p {
			next[p] = next[next[p]]
			p = next[p]
		}
		return p
	}
	for i := range items {
		it := &items[i]
		if r, ok := it.Spec.Overlap(exempt); ok {
			for _, f := range []struct {
				field string
				set   bool
			}{{"quota", it.Quota > 0}, {"expires", !it.Expires.IsZero()}} {
				if f.set {
					errs = append(errs, &Error{Source: it.Source(), Item: it.Ports, Field: f.field, line: it.line,
						Msg: fmt.Sprintf("port %s is exempt (never blocked), so it cannot have %s; remove it from `exempt` or drop %s", r, article(f.field), f.field)})
				}
			}
		}
		reported := map[int]bool{} // earlier items this one was reported with
		for _, r := range it.Spec {
			claims = append(claims, claim{r, i})
			for p := int32(r.Lo); p <= int32(r.Hi); {
				if q := free(p); q != p { // p..q-1 are claimed already
					c := claims[owner[p]-1]
					if !reported[c.item] {
						reported[c.item] = true
						errs = append(errs, overlapError(&items[c.item], it, c.r, r))
					}
					p = q
					continue
				}
				owner[p], next[p] = int32(len(claims)), p+1
				p++
			}
		}
	}
	return errs
}

// overlapError is the error of item later, which shares ports with the
// earlier item first: their ranges a and b overlap.
func overlapError(first, later *Item, a, b portspec.Range) *Error {
	e := &Error{Source: later.Source(), Item: later.Ports, Field: "ports", line: later.line}
	if first.Spec.String() == later.Spec.String() {
		e.Msg = fmt.Sprintf("duplicate item: %q is already defined at %s", first.Ports, first.Source())
	} else {
		shared := portspec.Range{Lo: max(a.Lo, b.Lo), Hi: min(a.Hi, b.Hi)}
		e.Msg = fmt.Sprintf("overlaps item %q (%s) on port %s: a port can belong to one item only", first.Ports, first.Source(), shared)
	}
	return e
}

func article(field string) string {
	if field == "quota" {
		return "a quota"
	}
	return "an expiry date"
}

// Error is a validation error that names where the problem is.
type Error struct {
	Source string // "file.yaml:12", "file.yaml", "--port #2"
	Item   string // the item's ports as written, when the problem is in an item
	Field  string // the YAML key
	Msg    string

	line int // in the file, to report a file's problems in its order; 0 if unknown
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Source != "" {
		b.WriteString(e.Source)
		b.WriteString(": ")
	}
	if e.Item != "" {
		fmt.Fprintf(&b, "item %q: ", e.Item)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

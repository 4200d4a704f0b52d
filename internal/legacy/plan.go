package legacy

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"port-traffic-dog/internal/billing"
	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/nftread"
	"port-traffic-dog/internal/portspec"
	"port-traffic-dog/internal/state"
	"port-traffic-dog/internal/units"
)

// ReasonLegacy marks history entries carried from reset_history.log.
const ReasonLegacy = "legacy"

// Options are the operator's answers to what the files cannot tell.
type Options struct {
	// Doubled answers, when no live table shows it, whether the script was
	// 1.2.5 (whose double mode counts every packet twice, and for which a
	// missing billing_mode means double) or older (nil: not answered).
	Doubled *bool
	// RelayAs is the billing to use for ports in the 1.2.4.x relay mode
	// (in + 2 × out), which none of ours equals; "" refuses them.
	RelayAs config.Billing
}

// Item is one legacy port mapped onto one of our items.
type Item struct {
	Legacy Port
	Ports  string // our ports spec
	ID     string
	// Mode describes the legacy billing as detected ("double, rules
	// doubled (1.2.5)").
	Mode    string
	Billing config.Billing
	Halved  bool
	// LegacyIn/Out are the counters as the script held them; In/Out ours
	// (the real bytes: halved where the script doubled them).
	LegacyIn, LegacyOut state.Counter
	In, Out             state.Counter
	// Billable is the period's use as the script showed it, and as ours
	// computes it from In/Out with Billing.
	Billable uint64
	Quota    uint64
	ResetDay int
	RateOut  uint64
	// Blocked: the legacy quota stopped the port; it stays blocked.
	Blocked bool
	Notes   []string
}

// QuotaText is the quota as our config writes it: the script's sizes are
// powers of 1024, so "500GB" there is 500GiB here.
func (it *Item) QuotaText() string { return sizeText(it.Quota) }

func sizeText(b uint64) string {
	for _, u := range []struct {
		name  string
		shift uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if b != 0 && b%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d%s", b>>u.shift, u.name)
		}
	}
	return fmt.Sprintf("%dB", b)
}

// RateText is the limit as our config writes it.
func (it *Item) RateText() string {
	for _, u := range []struct {
		name string
		mult uint64
	}{{"Gbps", 1e9}, {"Mbps", 1e6}, {"Kbps", 1e3}} {
		if it.RateOut != 0 && it.RateOut%u.mult == 0 {
			return fmt.Sprintf("%d%s", it.RateOut/u.mult, u.name)
		}
	}
	return fmt.Sprintf("%dbps", it.RateOut)
}

// Source is where the counters come from.
type Source struct {
	// Table is the live table, nil when it does not exist here.
	Table *Table
	// Backup is traffic_data.json, used when there is no live table.
	Backup map[string]Backup
}

// Plan maps every legacy port. It refuses (naming the ports and the
// choices) a mode with no equivalent and a doubling it cannot tell, rather
// than guess.
func Plan(cfg *Config, src Source, opts Options) ([]Item, error) {
	var items []Item
	var errs []error
	for _, pt := range cfg.Ports {
		it, err := planPort(pt, src, opts)
		if err != nil {
			errs = append(errs, fmt.Errorf("port %s: %w", pt.Key, err))
			continue
		}
		items = append(items, it)
	}
	return items, errors.Join(errs...)
}

// ErrAskDoubled: the answer to --doubled is needed.
var ErrAskDoubled = errors.New("the legacy table is not live here, so how the script counted cannot be read from its rules")

func planPort(pt Port, src Source, opts Options) (Item, error) {
	it := Item{Legacy: pt, Ports: pt.Key, Quota: pt.Quota, ResetDay: pt.ResetDay, RateOut: pt.Rate}
	spec, err := portspec.Parse(pt.Key)
	if err != nil {
		return it, err
	}
	it.ID = config.ItemID(spec)
	base := pt.CounterBase()
	if t := src.Table; t != nil {
		it.LegacyIn, it.LegacyOut = t.Counters[base+"_in"], t.Counters[base+"_out"]
		if _, ok := t.Counters[base+"_out"]; !ok {
			it.Notes = append(it.Notes, "its counters are missing from the live table: carried as 0")
		}
	} else if b, ok := src.Backup[pt.Key]; ok {
		it.LegacyIn, it.LegacyOut = state.Counter{Bytes: b.In}, state.Counter{Bytes: b.Out}
		it.Notes = append(it.Notes, fmt.Sprintf("counters from traffic_data.json (saved %s)", b.Time))
	} else {
		it.Notes = append(it.Notes, "no live table and no traffic_data.json entry: counters start at 0")
	}

	// How many times the script's rules count each packet of this port;
	// --doubled answers where the rules cannot tell (no live table, or a
	// shape no version builds).
	doubling, shapeErr := 0, error(nil)
	if t := src.Table; t != nil {
		for _, dir := range []string{"_in", "_out"} {
			d, err := t.Doubling(base + dir)
			if err == nil && d != 0 && doubling != 0 && d != doubling {
				err = fmt.Errorf("its in and out counters are fed by differently doubled rules (see nft -a list table inet %s); pass --doubled yes or no", t.Name)
			}
			if err != nil {
				shapeErr, doubling = err, 0
				break
			}
			if d != 0 {
				doubling = d
			}
		}
	}
	live := doubling
	if doubling == 0 && opts.Doubled != nil {
		doubling, shapeErr = 1, nil
		if *opts.Doubled {
			doubling = 2
		}
	}
	if shapeErr != nil {
		return it, shapeErr
	}

	mode, relayKind := pt.Billing, 0
	switch mode {
	case ModeSingle:
		// Every version bills the out counter alone; those before 1.2.5
		// also count in, which is carried as information.
		it.Mode, it.Billing = string(modeSingle), config.BillingOut
		if live == 2 {
			return it, fmt.Errorf("billing_mode single with doubled counting rules: no version of the script builds that")
		}
	case ModeDouble, "":
		v := byDoubling[mode]
		if doubling != 1 && doubling != 2 {
			return it, fmt.Errorf("%s: %w; pass --doubled yes (1.2.5) or --doubled no (1.0–1.2.4)", v.ask, ErrAskDoubled)
		}
		o := v.by[doubling-1]
		it.Mode, it.Billing, it.Halved = string(o.mode), o.billing, o.halved
	case ModeRelay:
		// 1.2.4 billed in + 2 × out (its quota rules charge in once, out
		// twice); 1.2.4.3 billed (in + out) × 2, our relay (both twice).
		// Its counters count once either way.
		if t := src.Table; t != nil {
			relayKind = t.InboundCharges(base + "_quota")
		}
		switch {
		case relayKind == 2:
			it.Mode, it.Billing = string(modeRelayBoth), config.BillingRelay
		case opts.RelayAs == "":
			what := relayUntold
			if relayKind == 1 {
				what = relayNoEquivalent
			}
			return it, fmt.Errorf("billing_mode relay bills %s; choose with --relay-as: relay ((in + out) × 2, what 1.2.4.3 billed), sum (in + out), max (the larger direction) or out (out only); or switch the port to single or double in the script first", what)
		default:
			it.Mode, it.Billing = string(modeRelayAny), opts.RelayAs
			if relayKind == 1 {
				it.Mode = string(modeRelayInOut)
			}
			it.Notes = append(it.Notes, fmt.Sprintf("billed as %s from now on (--relay-as)", opts.RelayAs))
		}
	}

	it.In, it.Out = it.LegacyIn, it.LegacyOut
	if it.Halved {
		it.In, it.Out = halve(it.LegacyIn), halve(it.LegacyOut)
		if it.LegacyIn.Bytes%2 != 0 || it.LegacyOut.Bytes%2 != 0 {
			it.Notes = append(it.Notes, "an odd doubled counter: rounded down by one byte")
		}
	}
	it.Billable = legacyBillable(mode, doubling, relayKind, it.LegacyIn.Bytes, it.LegacyOut.Bytes)
	if mode == ModeRelay && relayKind == 0 {
		it.Billable = it.Billing.Billable(it.In.Bytes, it.Out.Bytes) // what the script showed is unknown
	}
	if it.Billing == config.BillingOut && mode != ModeRelay && it.LegacyIn.Bytes > 0 {
		it.Notes = append(it.Notes, "the in counter is carried too: ours always counts both directions, billing decides what uses the quota")
	}

	if pt.Quota > 0 {
		if pt.ResetDay == 0 {
			it.Notes = append(it.Notes, "no reset_day: the script never resets it automatically; neither will we (reset_day 0)")
		}
		if q, ok := src.quota(base); ok {
			it.Blocked = q.Depleted()
		} else {
			it.Blocked = it.Billable >= pt.Quota
		}
	} else {
		it.ResetDay = 0 // the script resets only ports with a quota
	}
	if pt.Rate > 0 {
		it.Notes = append(it.Notes, "the script's limit shaped traffic leaving the host only: carried as rate_out (add rate_in to also limit uploads)")
	}
	return it, nil
}

func (s Source) quota(base string) (nftread.Quota, bool) {
	if s.Table == nil {
		return nftread.Quota{}, false
	}
	q, ok := s.Table.Quotas[base+"_quota"]
	return q, ok
}

// reportText is a text of the report for people: the legacy billing of a
// port as detected (Item.Mode), or what the operator must tell. dog
// translates them: internal/i18n's TestErrorMessages finds them by this
// type.
type reportText string

const (
	modeSingle        reportText = "single (out only)"
	modeDoubleOnce    reportText = "double, rules once (1.0–1.2.4): in + out"
	modeDoubleTwice   reportText = "double, every rule twice (1.2.5): (in + out) × 2"
	modeMissingSingle reportText = "missing, so single before 1.2.5: out only"
	modeMissingDouble reportText = "missing, so double in 1.2.5, every rule twice: (in + out) × 2"
	modeRelayBoth     reportText = "relay (1.2.4.3): (in + out) × 2"
	modeRelayAny      reportText = "relay (1.2.4.x)"
	modeRelayInOut    reportText = "relay (1.2.4): in + 2 × out"

	askDouble         reportText = "billing_mode double means (in + out) × 2 in 1.2.5 but in + out before"
	askMissing        reportText = "billing_mode is missing, which means double in 1.2.5 but single before"
	relayUntold       reportText = "in + 2 × out (1.2.4) or (in + out) × 2 (1.2.4.3), which the files alone cannot tell"
	relayNoEquivalent reportText = "in + 2 × out (1.2.4), which none of our modes equals"
)

type outcome struct {
	mode    reportText
	billing config.Billing
	halved  bool
}

// byDoubling maps the modes whose meaning changed in 1.2.5, by how many
// times the rules count each packet (once, twice).
var byDoubling = map[string]struct {
	ask reportText
	by  [2]outcome
}{
	ModeDouble: {askDouble, [2]outcome{
		{modeDoubleOnce, config.BillingSum, false},
		{modeDoubleTwice, config.BillingRelay, true}}},
	"": {askMissing, [2]outcome{
		{modeMissingSingle, config.BillingOut, false},
		{modeMissingDouble, config.BillingRelay, true}}},
}

func halve(c state.Counter) state.Counter {
	return state.Counter{Bytes: c.Bytes / 2, Packets: c.Packets / 2}
}

// legacyBillable is the script's calculate_total_traffic for the version
// the rules tell.
func legacyBillable(mode string, doubling, relayKind int, in, out uint64) uint64 {
	switch {
	case mode == ModeRelay && relayKind == 2:
		return (in + out) * 2
	case mode == ModeRelay:
		return in + 2*out
	case mode == ModeDouble, mode == "" && doubling == 2:
		return in + out
	default:
		return out
	}
}

// StateItem is the item's state as our enforcer continues it: the counters
// are this period's use (the script zeroes them at a reset), so the period
// starts at the last reset: the reset day's last occurrence in loc, or the
// script's last recorded reset of the port if later.
func (it *Item) StateItem(now time.Time, loc *time.Location, lastReset time.Time) state.Item {
	start := billing.PeriodStart(now, it.ResetDay, loc)
	if lastReset.After(start) && !lastReset.After(now) {
		start = lastReset
	}
	if start.IsZero() {
		start = now
	}
	return state.Item{ID: it.ID, Ports: it.Ports, Remark: it.Legacy.Remark, Protocols: "tcp+udp",
		Billing: string(it.Billing), Quota: it.Quota, ResetDay: it.ResetDay, RateOut: it.RateOut,
		In: it.In, Out: it.Out, PeriodStart: start.UTC(), NextReset: billing.NextReset(now, it.ResetDay, loc).UTC(),
		QuotaBlocked: it.Blocked}
}

// History converts the script's reset log of the planned ports.
func History(entries []HistoryEntry, items []Item) []state.Reset {
	byKey := map[string]*Item{}
	for i := range items {
		byKey[items[i].Legacy.Key] = &items[i]
	}
	var out []state.Reset
	for _, e := range entries {
		it, ok := byKey[e.Port]
		if !ok {
			continue // a port the script no longer monitors
		}
		out = append(out, state.Reset{Time: e.Time, ID: it.ID, Ports: it.Ports, Remark: "port-traffic-dog.sh reset (billable total as it showed)",
			Reason: ReasonLegacy, PeriodStart: e.Time, Billable: e.Bytes, Billing: string(it.Billing), Quota: it.Quota})
	}
	return out
}

// LastReset is the latest logged reset of each port.
func LastReset(entries []HistoryEntry) map[string]time.Time {
	m := map[string]time.Time{}
	for _, e := range entries {
		if e.Time.After(m[e.Port]) {
			m[e.Port] = e.Time
		}
	}
	return m
}

// Describe is one line of the report for the item: the legacy setting and
// ours side by side.
func (it *Item) Describe() []string {
	q := "none"
	if it.Quota > 0 {
		q = fmt.Sprintf("%s = %d bytes → quota: %s", it.Legacy.QuotaText, it.Quota, it.QuotaText())
	}
	rd := "never"
	if it.ResetDay > 0 {
		rd = fmt.Sprintf("day %d", it.ResetDay)
	}
	rate := "none"
	if it.RateOut > 0 {
		rate = fmt.Sprintf("%s → rate_out: %s", it.Legacy.RateText, it.RateText())
	}
	halved := ""
	if it.Halved {
		halved = " (halved: the script counted every byte twice)"
	}
	lines := []string{
		fmt.Sprintf("billing:  %s → %s", it.Mode, it.Billing),
		fmt.Sprintf("counters: in %d, out %d bytes → in %d, out %d%s", it.LegacyIn.Bytes, it.LegacyOut.Bytes, it.In.Bytes, it.Out.Bytes, halved),
		fmt.Sprintf("use:      %s billable (%d bytes), the same under %s", units.FormatBytes(it.Billable), it.Billable, it.Billing),
		"quota:    " + q,
		"reset:    " + rd,
		"rate:     " + rate,
	}
	if it.Legacy.Remark != "" {
		lines = append(lines, "remark:   "+it.Legacy.Remark)
	}
	if it.Blocked {
		lines = append(lines, "blocked:  yes, the quota is used up: stays blocked until the reset or a higher quota")
	} else if it.OverQuota() {
		lines = append(lines, "blocked:  from the migration on: the use is over the quota, though the script's own quota object had not run out (set a higher quota after the migration to keep it open)")
	}
	for _, n := range it.Notes {
		lines = append(lines, "note:     "+n)
	}
	return lines
}

// OverQuota: the period's use, as ours bills it, has reached the quota, so
// the enforcer blocks the port from the import on, whatever the script's
// quota object said (its use can lag the counters, e.g. a quota set on a
// port that had counted for a while).
func (it *Item) OverQuota() bool { return it.Quota > 0 && it.Billable >= it.Quota }

// Fields lists the item's config keys in our YAML order; withRate adds the
// limit.
func (it *Item) Fields(withRate bool) [][2]string {
	f := [][2]string{}
	if it.Legacy.Remark != "" {
		f = append(f, [2]string{"remark", it.Legacy.Remark})
	}
	if it.Quota > 0 {
		f = append(f, [2]string{"quota", it.QuotaText()})
	}
	f = append(f, [2]string{"billing", string(it.Billing)}, [2]string{"reset_day", fmt.Sprint(it.ResetDay)})
	if withRate && it.RateOut > 0 {
		f = append(f, [2]string{"rate_out", it.RateText()})
	}
	return f
}

// Summary is the plan in one line.
func Summary(items []Item) string {
	var parts []string
	for _, it := range items {
		parts = append(parts, it.Ports)
	}
	return strings.Join(parts, ", ")
}

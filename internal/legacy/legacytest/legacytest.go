// Package legacytest builds, for tests, the nftables table and tc setup of
// port-traffic-dog.sh exactly as its versions do (table, chain, counter and
// quota names, rule shapes and their order), with counters preset to known
// values.
package legacytest

import (
	"fmt"
	"strings"
)

// Port is one port of the script's table.
type Port struct {
	Key string // "443" or "5000-5100"
	// Version picks the rule shapes: "1.0" (counting rules end in accept),
	// "1.2.4" (in and out counted once, any mode; relay charges the quota
	// in once, out twice), "1.2.4.3" (relay charges both twice) or "1.2.5"
	// (double mode adds every rule twice; single mode has no in counter).
	Version string
	Mode    string // single, double, relay (1.2.4.x)
	// In and Out are the counters' values as the script's rules made them.
	InBytes, InPackets, OutBytes, OutPackets uint64
	// Quota (0: none) and its consumed bytes.
	Quota, QuotaUsed uint64
}

func (p Port) base() string { return "port_" + strings.ReplaceAll(p.Key, "-", "_") }

func (p Port) isRange() bool { return strings.Contains(p.Key, "-") }

// mark is the script's generate_port_range_mark.
func (p Port) mark() int {
	var lo, hi int
	fmt.Sscanf(p.Key, "%d-%d", &lo, &hi)
	return (lo*1000 + hi) % 65536
}

func (p Port) hasIn() bool { return !(p.Version == "1.2.5" && p.Mode == "single") }

func (p Port) times() int {
	if p.Version == "1.2.5" && p.Mode == "double" {
		return 2
	}
	return 1
}

// Table returns an nft -f script creating the table as the script leaves it.
func Table(name string, ports []Port) string {
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s {\n", name)
	for _, p := range ports {
		if p.hasIn() {
			fmt.Fprintf(&b, "\tcounter %s_in { packets %d bytes %d }\n", p.base(), p.InPackets, p.InBytes)
		}
		fmt.Fprintf(&b, "\tcounter %s_out { packets %d bytes %d }\n", p.base(), p.OutPackets, p.OutBytes)
		if p.Quota > 0 {
			fmt.Fprintf(&b, "\tquota %s_quota { over %d bytes used %d bytes }\n", p.base(), p.Quota, p.QuotaUsed)
		}
	}
	for _, ch := range []string{"input", "output", "forward"} {
		fmt.Fprintf(&b, "\tchain %s {\n\t\ttype filter hook %s priority 0; policy accept;\n", ch, ch)
		// Quota rules are inserted at the top of the chains, the counting
		// rules appended.
		for _, p := range ports {
			for _, r := range quotaRules(p, ch) {
				fmt.Fprintf(&b, "\t\t%s\n", r)
			}
		}
		for _, p := range ports {
			for _, r := range countRules(p, ch) {
				fmt.Fprintf(&b, "\t\t%s\n", r)
			}
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// dirs are the (chain, match, counter suffix) of each direction.
func dirs(ch string) (in, out bool) {
	return ch == "input" || ch == "forward", ch == "output" || ch == "forward"
}

func countRules(p Port, ch string) []string {
	in, out := dirs(ch)
	var rs []string
	add := func(match, dir string) {
		for t := 0; t < p.times(); t++ {
			for _, proto := range []string{"tcp", "udp"} {
				r := fmt.Sprintf("%s %s %s", proto, match, p.Key)
				if p.isRange() {
					r += fmt.Sprintf(" meta mark set %d", p.mark())
				}
				r += fmt.Sprintf(" counter name %q", p.base()+dir)
				if p.Version == "1.0" {
					r += " accept"
				}
				rs = append(rs, r)
			}
		}
	}
	if in && p.hasIn() {
		add("dport", "_in")
	}
	if out {
		add("sport", "_out")
	}
	return rs
}

func quotaRules(p Port, ch string) []string {
	if p.Quota == 0 {
		return nil
	}
	in, out := dirs(ch)
	var rs []string
	add := func(match string, n int, verdict string) {
		for t := 0; t < n; t++ {
			for _, proto := range []string{"tcp", "udp"} {
				rs = append(rs, strings.TrimSpace(fmt.Sprintf("%s %s %s quota name %q %s", proto, match, p.Key, p.base()+"_quota", verdict)))
			}
		}
	}
	switch p.Mode {
	case "single":
		if out {
			add("sport", 1, "drop")
		}
	case "double":
		if in {
			add("dport", p.times(), "drop")
		}
		if out {
			add("sport", p.times(), "drop")
		}
	case "relay": // 1.2.4: in once, out twice (once without a verdict); 1.2.4.3: both twice
		if in {
			add("dport", 1, "drop")
			if p.Version == "1.2.4.3" {
				add("dport", 1, "")
			}
		}
		if out {
			add("sport", 1, "drop")
			add("sport", 1, "")
		}
	}
	return rs
}

// TC returns the tc commands the script runs for a single port's limit on
// dev (its apply_tc_limit: HTB root 1: default 30, class 1:1, a class
// 1:<0x1000+port> and u32 filters on sport and dport for TCP and UDP).
// Ranges use the fw classifier, which this project's test kernels lack.
func TC(dev string, port int, rate string) [][]string {
	class := fmt.Sprintf("1:%x", 0x1000+port)
	prio := port%1000 + 1
	cmds := [][]string{
		{"tc", "qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default", "30"},
		{"tc", "class", "add", "dev", dev, "parent", "1:", "classid", "1:1", "htb", "rate", "1000mbit"},
		{"tc", "class", "add", "dev", dev, "parent", "1:1", "classid", class, "htb", "rate", rate, "ceil", rate, "burst", "122k"},
	}
	for _, f := range []struct{ prio, proto int }{{prio, 6}, {prio + 1000, 17}} {
		for _, m := range []string{"sport", "dport"} {
			cmds = append(cmds, []string{"tc", "filter", "add", "dev", dev, "protocol", "ip", "parent", "1:0", "prio", fmt.Sprint(f.prio), "u32",
				"match", "ip", "protocol", fmt.Sprint(f.proto), "0xff", "match", "ip", m, fmt.Sprint(port), "0xffff", "flowid", class})
		}
	}
	return cmds
}

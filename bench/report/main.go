// Command report turns `go test -bench` output (stdin) into bench/RESULTS.md:
// the machine, the command, a summary against the targets of issue 7, and
// one table per benchmark with a column per reported metric. Benchmarks run
// several times (-count) are reported as the median of their runs. The raw
// output is echoed as it is read.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"port-traffic-dog/bench/stats"
)

// row is one benchmark (family/name) with every sample of every metric.
type row struct {
	name    string
	metrics map[string][]float64
}

type family struct {
	name  string
	rows  []*row
	units []string
}

func main() {
	command := flag.String("command", "bench/run.sh", "the command that produced the input, for the reader")
	out := flag.String("out", "bench/RESULTS.md", "where to write the Markdown")
	loadBefore := flag.String("load-before", "", "/proc/loadavg before the run")
	started := flag.String("started", "", "when the run started (RFC 3339)")
	flag.Parse()

	var families []*family
	byName := map[string]*family{}
	var failures []string
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fmt.Println(line) // keep the raw output visible
		if strings.HasPrefix(line, "--- FAIL") || strings.HasPrefix(line, "FAIL") || strings.Contains(line, "panic:") {
			failures = append(failures, line)
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndex(name, "-"); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i] // GOMAXPROCS suffix
			}
		}
		famName, sub, _ := strings.Cut(name, "/")
		fam := byName[famName]
		if fam == nil {
			fam = &family{name: famName}
			byName[famName] = fam
			families = append(families, fam)
		}
		var r *row
		for _, x := range fam.rows {
			if x.name == sub {
				r = x
			}
		}
		if r == nil {
			r = &row{name: sub, metrics: map[string][]float64{}}
			fam.rows = append(fam.rows, r)
		}
		custom := len(f) > 4
		for i := 2; i+1 < len(f); i += 2 {
			unit := f[i+1]
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch {
			case unit == "ns/op" && custom:
				continue // wall time of the whole setup: not a result
			case unit == "ns/op":
				unit, v = "ms/op", v/1e6
			case unit == "B/op" || unit == "allocs/op":
				continue
			}
			r.metrics[unit] = append(r.metrics[unit], v)
			if !contains(fam.units, unit) {
				fam.units = append(fam.units, unit)
			}
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmark results\n\nWritten by `%s`", *command)
	if *started != "" {
		fmt.Fprintf(&b, ", run started %s, finished %s", *started, time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	}
	fmt.Fprintf(&b, ".\n\nMachine: %s.\n\n", machine())
	if *loadBefore != "" {
		fmt.Fprintf(&b, "Load average (1, 5, 15 min) before the run: %s; after: %s.\n\n", *loadBefore, loadavg())
	}
	if note := os.Getenv("DOG_BENCH_NOTE"); note != "" {
		fmt.Fprintf(&b, "**Note:** %s\n\n", note)
	}
	b.WriteString("Every figure is a median of several runs, or a ratio of runs taken side by side\n" +
		"(alternating configurations), because machines like this one are noisy. How each\n" +
		"benchmark measures is described in its doc comment in `bench/` (or its package).\n\n")
	if len(failures) > 0 {
		b.WriteString("**Failures during the run:**\n\n```\n" + strings.Join(failures, "\n") + "\n```\n\n")
	}
	summary(&b, byName)
	sort.SliceStable(families, func(i, j int) bool { return rank(families[i].name) < rank(families[j].name) })
	for _, fam := range families {
		fmt.Fprintf(&b, "## %s\n\n", fam.name)
		if d := describe[fam.name]; d != "" {
			b.WriteString(d + "\n\n")
		}
		units := ordered(fam)
		cell := func(r *row, u string) string {
			v := format(stats.Median(r.metrics[u]))
			if n := len(r.metrics[u]); n > 1 {
				v += fmt.Sprintf(" (%d)", n)
			}
			return v
		}
		if len(fam.rows) == 1 && len(units) > 6 { // one wide row: transposed
			fmt.Fprintf(&b, "| %s | |\n|---|---:|\n", fam.rows[0].name)
			for _, u := range units {
				fmt.Fprintf(&b, "| %s | %s |\n", u, cell(fam.rows[0], u))
			}
			b.WriteString("\n")
			continue
		}
		fmt.Fprintf(&b, "| case | %s |\n|---|%s\n", strings.Join(units, " | "), strings.Repeat("---:|", len(units)))
		for _, r := range fam.rows {
			vals := make([]string, len(units))
			for i, u := range units {
				vals[i] = cell(r, u)
			}
			fmt.Fprintf(&b, "| %s | %s |\n", r.name, strings.Join(vals, " | "))
		}
		b.WriteString("\n")
	}
	b.WriteString("A number in parentheses is how many runs (`-count`) the median is of; figures\n" +
		"without one are medians the benchmark computed itself over its own repetitions.\n")
	b.WriteString(handWritten)
	if err := os.WriteFile(*out, []byte(b.String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "\n"+summaryText(byName))
	if len(failures) > 0 {
		fmt.Fprintf(os.Stderr, "%d failures; see %s\n", len(failures), *out)
		os.Exit(2)
	}
}

// handWritten points to the results recorded by hand, which a run does not
// write: analyses, and measurements taken on their own.
const handWritten = `
## Recorded by hand

- [RESULTS-packetcost.md](RESULTS-packetcost.md): the per-packet cost (issue 15), each
  candidate change on its own, and why the iperf3 rate cannot tell 0.03 apart here.
- [RESULTS-regression.md](RESULTS-regression.md): releases compared side by side in one
  run, where a target's figure moved with the machine.
- [RESULTS-counters.md](RESULTS-counters.md): serving counters from the durable
  checkpoint (freshness, disk, the exporter's read) and the crash-loop figures.
- [RESULTS-dataplane.md](RESULTS-dataplane.md) and [RESULTS-toggled.md](RESULTS-toggled.md):
  data-plane runs with more repetitions.
`

// target is one line of the summary: a figure of a benchmark against the
// bound issue 7 sets.
type target struct {
	what, family, row, unit string
	op                      string // "<=", ">=", "=="
	bound                   float64
	unitText                string
}

var targets = []target{
	{"Data plane, 10,000 items, port outside the list", "DataPlane", "items=10000/design=vmap", "%-outside", ">=", 95, "% of no-table throughput"},
	{"Data plane, 10,000 items, port inside the list", "DataPlane", "items=10000/design=vmap", "%-inside", ">=", 95, "% of no-table throughput"},
	{"Data plane, 50,000 items, port outside the list", "DataPlane", "items=50000/design=vmap", "%-outside", ">=", 90, "% of no-table throughput"},
	{"Data plane, 50,000 items, port inside the list", "DataPlane", "items=50000/design=vmap", "%-inside", ">=", 90, "% of no-table throughput"},
	{"Data plane, 10,000 items, outside, table toggled within one transfer", "DataPlaneToggled", "items=10000", "%-outside", ">=", 95, "% of dormant-table throughput"},
	{"Data plane, 10,000 items, inside, table toggled within one transfer", "DataPlaneToggled", "items=10000", "%-inside", ">=", 95, "% of dormant-table throughput"},
	{"Data plane, 50,000 items, outside, table toggled within one transfer", "DataPlaneToggled", "items=50000", "%-outside", ">=", 90, "% of dormant-table throughput"},
	{"Data plane, 50,000 items, inside, table toggled within one transfer", "DataPlaneToggled", "items=50000", "%-inside", ">=", 90, "% of dormant-table throughput"},
	{"Cold start, 10,000 items (dog-enforcer, exec to READY=1)", "ColdStart", "items=10000/binary", "ms-to-ready", "<=", 1000, "ms"},
	{"Reload changing one item of 10,000", "Reload", "items=10000", "ms-one-change", "<=", 50, "ms"},
	{"Reload without change: notifications and generation changes", "Reload", "items=10000", "kernel-msgs-no-change", "==", 0, "kernel changes"},
	{"Scrape of 10,000 items, over HTTP, median", "Daemons", "items=10000", "ms-scrape", "<=", 100, "ms"},
	{"Scrape of 10,000 items, gzip (as Prometheus asks), median", "Daemons", "items=10000", "ms-scrape-gzip", "<=", 100, "ms"},
	{"dog-exporter resident memory after a minute of scrapes", "Daemons", "items=10000", "MB-exporter-RSS", "<=", 40, "MB"},
	{"dog-enforcer resident memory after start", "Daemons", "items=10000", "MB-enforcer-RSS-start", "<=", 40, "MB"},
	{"dog-enforcer resident memory after a minute of checkpoints", "Daemons", "items=10000", "MB-enforcer-RSS", "<=", 40, "MB"},
	{"dog-enforcer CPU while idle", "Daemons", "items=10000", "%CPU-enforcer-idle", "<=", 0.5, "% of a core (≈ 0)"},
	{"dog-exporter CPU while idle", "Daemons", "items=10000", "%CPU-exporter-idle", "<=", 0.5, "% of a core (≈ 0)"},
	{"Checkpoint of 10,000 items (dump + encode + write + fsync)", "Checkpoint", "items=10000", "ms-total", "<=", 50, "ms"},
	// Issue 15, on its own measure (iperf3's received rate), then on CPU
	// time, which charges the table's whole cost to every packet.
	{"64-byte UDP, 10,000 items, iperf3's received packet rate", "PacketRate", "", "udp/items=10000-share", ">=", 0.93, "of no table"},
	{"64-byte UDP, 10,000 items, iperf3's rate, against the minimal table", "PacketRate", "", "udp/items=10000-minus-minimal", ">=", -0.03, "(share − minimal's)"},
	{"TCP, 10,000 items, iperf3's goodput", "PacketRate", "", "tcp/items=10000-share", ">=", 0.97, "of no table"},
	{"64-byte UDP, 10,000 items, conntrack on anyway, iperf3's rate", "PacketRate", "", "udp/ct+items=10000-share", ">=", 0.97, "of ct-only"},
	{"64-byte UDP, 10,000 items, netfilter's share of the packet's path (perf)", "PacketCostProfile", "", "udp/items=10000-share", ">=", 0.93, "of no table"},
	{"64-byte UDP, 10,000 items, perf, against the minimal table", "PacketCostProfile", "", "udp/items=10000-minus-minimal", ">=", -0.03, "(share − minimal's)"},
	{"64-byte UDP, 10,000 items, conntrack on anyway, perf", "PacketCostProfile", "", "udp/ct+items=10000-share", ">=", 0.97, "of ct-only"},
	{"64-byte UDP, 10,000 items, CPU time per packet", "PacketCost", "", "udp/items=10000-share", ">=", 0.93, "of no table"},
	{"64-byte UDP, 10,000 items, CPU time, against the minimal table", "PacketCost", "", "udp/items=10000-minus-minimal", ">=", -0.03, "(share − minimal's)"},
	{"TCP, 10,000 items, CPU time per MB", "PacketCost", "", "tcp/items=10000-share", ">=", 0.97, "of no table"},
	{"64-byte UDP, 10,000 items, conntrack on anyway, CPU time", "PacketCost", "", "udp/ct+items=10000-share", ">=", 0.97, "of ct-only"},
}

func summary(b *strings.Builder, fams map[string]*family) {
	b.WriteString("## Summary against the targets\n\n| figure | target | measured | |\n|---|---|---:|---|\n")
	for _, t := range targets {
		v, ok := lookup(fams, t.family, t.row, t.unit)
		meas, verdict := "not run", ""
		if ok {
			meas = format(v)
			// A share is a median of rounds: show their range too.
			lo, okLo := lookup(fams, t.family, t.row, t.unit+"-min")
			hi, okHi := lookup(fams, t.family, t.row, t.unit+"-max")
			if okLo && okHi {
				meas += fmt.Sprintf(" (rounds %s–%s)", format(lo), format(hi))
			}
			verdict = "missed"
			if (t.op == "<=" && v <= t.bound) || (t.op == ">=" && v >= t.bound) || (t.op == "==" && v == t.bound) {
				verdict = "met"
			}
		}
		op := map[string]string{"<=": "≤", ">=": "≥", "==": "="}[t.op]
		fmt.Fprintf(b, "| %s | %s %s %s | %s | %s |\n", t.what, op, format(t.bound), t.unitText, meas, verdict)
	}
	// Quota precision: nothing over the budget in any mode, and at most one
	// packet short (a GSO packet of up to 64 KiB with offload, a 1,500-byte
	// segment without; twice that for relay, which bills bytes twice).
	if fam := fams["QuotaPrecision"]; fam != nil {
		worstOver, worstOn, worstOff := 0.0, 0.0, 0.0
		okOn, okOff := true, true
		for _, r := range fam.rows {
			over, short := stats.Max(r.metrics["B-over"]), stats.Max(r.metrics["B-short"])
			worstOver = math.Max(worstOver, over)
			bound := 65536.0
			if strings.Contains(r.name, "offload=off") {
				bound = 1500
			}
			if strings.Contains(r.name, "relay") {
				bound *= 2
			}
			if strings.Contains(r.name, "offload=off") {
				worstOff = math.Max(worstOff, short)
				okOff = okOff && short <= bound
			} else {
				worstOn = math.Max(worstOn, short)
				okOn = okOn && short <= bound
			}
		}
		verdict := func(ok bool) string {
			if ok {
				return "met"
			}
			return "missed"
		}
		fmt.Fprintf(b, "| Quota at line rate: bytes through after the budget, every billing mode | = 0 B | %s B | %s |\n", format(worstOver), verdict(worstOver == 0))
		fmt.Fprintf(b, "| Quota: stop short of the budget by at most one packet, offload on | ≤ 64 KiB (relay 128 KiB) | %s B | %s |\n", format(worstOn), verdict(okOn))
		fmt.Fprintf(b, "| Quota: stop short of the budget by at most one segment, offload off | ≤ 1,500 B (relay 3,000 B) | %s B | %s |\n", format(worstOff), verdict(okOff))
	}
	b.WriteString("\n")
}

func summaryText(fams map[string]*family) string {
	var b strings.Builder
	summary(&b, fams)
	return b.String()
}

func lookup(fams map[string]*family, fam, name, unit string) (float64, bool) {
	f := fams[fam]
	if f == nil {
		return 0, false
	}
	for _, r := range f.rows {
		if r.name == name && len(r.metrics[unit]) > 0 {
			return stats.Median(r.metrics[unit]), true
		}
	}
	return 0, false
}

var describe = map[string]string{
	"DataPlane": "TCP goodput (iperf3, one stream, veth between two namespaces) with no table, with the\n" +
		"enforcer's table (`vmap`: verdict maps, a hash map of ports and an interval map of long ranges,\n" +
		"dispatching to per-item chains) and with\n" +
		"the same items as one rule per port per chain (`linear`: the shell tool's design), to a\n" +
		"port below every item (`outside`: a linear chain evaluates every rule) and to the middle\n" +
		"item's port (`inside`). Items: 90% single ports, 5% ranges of 3 ports, 5% groups of two\n" +
		"ports, quotas on half (never reached), TCP and UDP, no limits. `%` columns are the median\n" +
		"of each repetition's ratio to the no-table run taken just before it; `s-load` is the time\n" +
		"to load the table (one netlink transaction for `vmap`, `nft -f` for `linear`).",
	"DataPlaneToggled": "The vmap table of 10,000 and 50,000 items, and one 54 s iperf3 transfer per port\n" +
		"during which the table is made dormant (`flags dormant`: its hooks unregistered, so the\n" +
		"kernel runs none of its rules) and woken every 2 s. Each awake phase's goodput (three\n" +
		"0.5 s intervals clear of the switches) is compared with the mean of the dormant phases\n" +
		"around it; `%` is the median of those ratios over 12 cycles. Drift over minutes cancels\n" +
		"out; this VM's second-to-second swings (±20 % between 2 s phases) do not.",
	"ColdStart": "dog-enforcer starting with 10,000 items on a host without its table (a boot): config\n" +
		"read, parsed and validated, the table applied in one transaction, the first state file\n" +
		"written, `READY=1` sent to systemd. `binary` is the shipped program from exec to\n" +
		"`READY=1` (includes `ip netns exec`); `in-process` splits `enforcer.New` (config) and\n" +
		"`Start`. Each repetition is a fresh namespace. Most of `Start` is the kernel's work on\n" +
		"~70,000 netlink messages (system time), which grows when any process on the host listens\n" +
		"to nftables notifications (the kernel then builds one per element and rule).",
	"Reload": "`Enforcer.Reload` of 10,000 items: the config file with one item's quota changed\n" +
		"(alternately raised and put back), then the same file again. A reload decodes only the\n" +
		"items whose text changed (`config.ItemCache`; `ms-parse`, with `ms-parse-full` for a\n" +
		"full YAML parse of the same file, both measured on their own in the same repetition),\n" +
		"reads the counters of the changed items only, applies the difference (one transaction)\n" +
		"and saves the state and meta files (both at once). The benchmark's own garbage is\n" +
		"collected before each timed reload. A reload without change must leave\n" +
		"the nftables generation (NFT_MSG_GETGEN) as it was and cause no nftables, tc or link\n" +
		"notification: `kernel-msgs-no-change` counts them (the benchmark fails otherwise; the\n" +
		"same is a test, `enforcer/reload_noop_test.go`).",
	"Checkpoint": "One checkpoint of 10,000 items as the control loop takes it when the host has traffic\n" +
		"(`Enforcer.Checkpoint`): dump every counter and quota from the kernel, check quotas,\n" +
		"encode the state, write it atomically (temp file, fsync, rename, fsync the directory);\n" +
		"the meta file only when settings changed. The parts are measured separately in the same\n" +
		"repetition. The dump is bound by the kernel: it walks the table's object list from the\n" +
		"start again for every 32 KiB it returns (O(n²/chunk)).",
	"Daemons": "The shipped dog-enforcer and dog-exporter with 10,000 items in a namespace. Scrapes:\n" +
		"one a second for a minute over HTTP (new connection each), alternating plain and gzip,\n" +
		"median time to the last byte. The config counts loopback traffic, so the scrapes move the\n" +
		"host counters and the enforcer takes a real checkpoint every 10 s (`%CPU-enforcer-busy`).\n" +
		"Memory: VmRSS after start (`-start`) and after the busy minute, VmHWM (`-peak`, for the\n" +
		"enforcer the cold start's transaction). Idle: utime+stime over 30 s with no scrape and no\n" +
		"change, in % of one core.",
	"QuotaPrecision": "An item with a 2 GB quota (200 MB with offload off) gets iperf3 TCP traffic at full\n" +
		"veth speed until the kernel quota runs out: downloads for `out`, uploads for `in`, both\n" +
		"at once (`--bidir`) for `sum`, `max` and `relay`. `B-over`: billable bytes beyond the\n" +
		"quota; `B-short`: how far below it the item stopped (the dropped packet that crossed\n" +
		"it); worst of 3 runs. With offload on netfilter sees GSO packets of up to 64 KiB; off\n" +
		"(`gso_max_segs 1` on both veth ends) every packet is one segment of at most 1,500 bytes.",
	"PacketCost": "CPU time per 64-byte UDP packet (`udp/…-ns/pkt`) and per MB of one TCP connection\n" +
		"(`tcp/…-us/MB`, sender and receiver) through a veth pair, each setup in a namespace pair of\n" +
		"its own, all sampled in turn in every cycle; `-extra` is the cost over no table (over\n" +
		"the ct-only table for `ct+` and `forwarding+`), `-share` the baseline's cost divided by the\n" +
		"setup's (the share of the baseline's rate a CPU doing nothing else reaches), the median of\n" +
		"5 rounds' medians, with their range (`-share-min`, `-share-max`); each sample is the mean\n" +
		"over 3 replicas of a setup, namespace pairs with the same tables, since a pair keeps a\n" +
		"bias of its own for the whole run. Earlier runs and the\n" +
		"analysis of each change: bench/RESULTS-packetcost.md.",
	"PacketCostFloor": "What nftables costs a packet before a table's own work, and this release's input\n" +
		"path built up from the minimal table a rule at a time, measured as PacketCost (UDP): the\n" +
		"hook alone (`empty-base-chain`), ten anonymous counters, ten named counters and ten named\n" +
		"quotas (`-x10`: one alone does not stand out of the rounds' spread), a lookup in a verdict map of one port and of\n" +
		"10,000 ports with a goto to a chain holding the named counter (the minimal table, input\n" +
		"hook only), plus the loopback rule, plus the host's named counter, plus the item's quota,\n" +
		"and the enforcer's own table of 10,000 items.",
	"PacketRate": "The setups of PacketCost measured as issue 15 defines its figures: the packets per\n" +
		"second an iperf3 server receives from `iperf3 -u -l 64 -b 0` (`udp/…-ns/rx-pkt`: ns per\n" +
		"received packet) and iperf3's TCP goodput (`tcp/…-us/rx-MB`), sender and receiver on\n" +
		"different CPUs, 2 s per sample, all setups in turn in every cycle; `-share` is the share of\n" +
		"the baseline's rate. The reader on the other CPU can be the slower side, which hides part\n" +
		"of the table's cost that PacketCost's CPU time charges in full.",
	"PacketCostProfile": "The setups of PacketCost (UDP) seen from inside the packet's path: perf samples the\n" +
		"sending thread's CPU clock (on a veth the receiving namespace's input path runs in its\n" +
		"softirq) over 200,000 datagrams, and the share of its samples in netfilter's functions is\n" +
		"the table's share of the packet's cost, split into the rule walk, the lookups, the\n" +
		"counter and quota objects and conntrack (`-…-ns/pkt`: that share of the CPU time per\n" +
		"packet). `-share` = (1 − the setup's netfilter share) / (1 − the baseline's), median of 8\n" +
		"cycles with their range: both shares come from one sample's own clock, so the drift that\n" +
		"PacketCost averages over rounds and replicas cancels in every sample. It does not see a\n" +
		"table's indirect cost (caches its data takes from the rest of the path).",
	"PacketCostCandidates": "The candidate changes of issue 15 one at a time, measured as PacketCost (UDP): each\n" +
		"table shape differs from the one before it by one change.",
	"SyncCold": "enforcer/nft: a full Sync of n items into an empty namespace (ruleset built beforehand).",
	"ApplyOneChange": "enforcer/nft: ruleset build, diff and transaction for one changed quota among\n" +
		"10,000 items (the kernel part of a one-item reload). The write socket is closed in the\n" +
		"background: its release waits for the kernel's deferred cleanup of the commit (an RCU\n" +
		"grace period, 8-20 ms here).",
	"ReadObjects": "enforcer/nft: one dump of every counter and quota of 10,000 items.",
	"Scrape":      "exporter: one scrape through the Handler in-process (no HTTP), 10,000 items.",
}

// familyOrder is the order of the sections; others follow as they came.
var familyOrder = []string{"DataPlane", "DataPlaneToggled", "ColdStart", "Reload", "Checkpoint", "Daemons", "QuotaPrecision"}

func rank(name string) int {
	for i, n := range familyOrder {
		if n == name {
			return i
		}
	}
	return len(familyOrder)
}

// unitOrder is the column order of a family (go test prints metrics
// sorted by name); units not listed follow.
var unitOrder = map[string][]string{
	"DataPlane":  {"Gbit/s-no-table", "Gbit/s-outside", "%-outside", "Gbit/s-inside", "%-inside", "s-load"},
	"ColdStart":  {"ms-to-ready", "ms-to-ready-max", "ms-parse", "ms-start", "ms-total"},
	"Reload":     {"ms-one-change", "ms-no-change", "ms-parse", "ms-parse-full", "kernel-msgs-no-change"},
	"Checkpoint": {"ms-total", "ms-dump", "ms-encode", "ms-write+fsync", "MB-state.json", "MB-meta.json"},
	"Daemons": {"ms-scrape", "ms-scrape-gzip", "MB-scrape", "MB-scrape-gzip", "MB-enforcer-RSS-start", "MB-enforcer-RSS",
		"MB-enforcer-peak", "MB-exporter-RSS-start", "MB-exporter-RSS", "MB-exporter-peak", "%CPU-enforcer-busy",
		"%CPU-enforcer-idle", "%CPU-exporter-idle"},
	"QuotaPrecision": {"B-over", "B-short", "Gbit/s"},
}

func ordered(fam *family) []string {
	var out []string
	for _, u := range unitOrder[fam.name] {
		if contains(fam.units, u) {
			out = append(out, u)
		}
	}
	for _, u := range fam.units {
		if !contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}

func format(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return ""
	case v == math.Trunc(v) && a < 1e15:
		return thousands(int64(v))
	case a >= 1000:
		return thousands(int64(math.Round(v)))
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'g', 2, 64)
	}
}

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func machine() string {
	out := func(name string, args ...string) string {
		b, _ := exec.Command(name, args...).Output()
		return strings.TrimSpace(string(b))
	}
	model := ""
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "model name") {
				_, model, _ = strings.Cut(l, ":")
				model = strings.TrimSpace(model)
				break
			}
		}
	}
	mem := ""
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		kb, _ := strconv.ParseFloat(strings.Fields(strings.Split(string(data), "\n")[0])[1], 64)
		mem = fmt.Sprintf("%.1f GiB RAM", kb/(1<<20))
	}
	osName := runtime.GOOS
	if data, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
				osName = strings.Trim(v, `"`)
			}
		}
	}
	return fmt.Sprintf("%s, %d CPUs (%s), %s, kernel %s, %s, %s, iperf3 %s", osName, runtime.NumCPU(), model, mem,
		out("uname", "-r"), runtime.Version(), out("nft", "--version"), strings.Fields(out("iperf3", "--version") + " ? ?")[1])
}

package enforcer

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"port-traffic-dog/internal/state"
	"port-traffic-dog/internal/testnet"
	"port-traffic-dog/internal/testutil"
)

// These tests measure the shaper with real TCP (iperf3) over the rig's veth
// pair: the enforcer runs in the server namespace and shapes its veth0, so
// an upload (client to server) is the item's "in" direction, shaped by the
// IFB, and a download (iperf3 -R) its "out" direction, shaped by the HTB
// root that the item's nftables out chain classifies into.

// payloadShare is the TCP payload per byte on the wire at MTU 1500 (the
// shaper limits Ethernet frames: 14 + 1500 bytes carry 1448 bytes of TCP
// payload with timestamps over IPv4, 1428 over IPv6).
func payloadShare(v6 bool) float64 {
	ip := 20.0
	if v6 {
		ip = 40
	}
	return (1500 - ip - 32) / 1514
}

type iperfInterval struct {
	Start, End float64
	BPS        float64
}

type iperfResult struct {
	Goodput   float64 // bits/s the receiver got, omitted seconds excluded
	Intervals []iperfInterval
}

// iperfServers starts an iperf3 server per port in the server namespace.
func iperfServers(t *testing.T, p *testnet.Pair, ports ...uint16) {
	t.Helper()
	testutil.RequireBinary(t, "iperf3")
	for _, port := range ports {
		p.Server.Start(t, "iperf3", "-s", "-p", strconv.Itoa(int(port)))
	}
}

// iperf runs one TCP test from the client namespace. down is iperf3 -R: the
// server sends. The result is the receiver's view either way. extra are
// more iperf3 arguments.
func iperf(p *testnet.Pair, addr netip.Addr, port uint16, secs, omit int, down bool, extra ...string) (iperfResult, error) {
	args := []string{"iperf3", "-c", addr.String(), "-p", strconv.Itoa(int(port)), "-t", strconv.Itoa(secs), "-J"}
	args = append(args, extra...)
	if omit > 0 {
		args = append(args, "-O", strconv.Itoa(omit))
	}
	if down {
		args = append(args, "-R")
	} else {
		args = append(args, "--get-server-output")
	}
	type run struct {
		Intervals []struct {
			Sum struct {
				Start, End    float64
				BitsPerSecond float64 `json:"bits_per_second"`
				Omitted       bool
			} `json:"sum"`
		} `json:"intervals"`
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
		Error string `json:"error"`
	}
	var last string
	for try := 0; try < 50; try++ {
		out, err := p.Client.Output(args...)
		var res struct {
			run
			Server *run `json:"server_output_json"`
		}
		jerr := json.Unmarshal([]byte(out), &res)
		if err == nil && jerr == nil && res.Error == "" && res.End.SumReceived.BitsPerSecond > 0 {
			var r iperfResult
			recv := &res.run
			if !down && res.Server != nil {
				recv = res.Server
			}
			for _, iv := range recv.Intervals {
				if !iv.Sum.Omitted {
					r.Intervals = append(r.Intervals, iperfInterval{iv.Sum.Start, iv.Sum.End, iv.Sum.BitsPerSecond})
				}
			}
			r.Goodput = steadyGoodput(r.Intervals, res.End.SumReceived.BitsPerSecond)
			return r, nil
		}
		// The server is starting, or still finishing the previous test.
		last = fmt.Sprintf("%v %v %s", err, jerr, res.Error)
		time.Sleep(100 * time.Millisecond)
	}
	return iperfResult{}, fmt.Errorf("iperf3 to %v port %d keeps failing: %s", addr, port, last)
}

// steadyGoodput is the mean of the receiver's whole seconds, leaving out
// the first one and a short last one, or whole when there are too few of
// them. Both ends mislead on a busy machine: a receiver that fell behind
// while starting reads the kernel's backlog in its first counted second
// (12.5 Mbit/s "through" a 10 Mbit/s limit), and the last fraction of a
// second is the drain of the shaper's queue. iperf3 3.12's own summary is
// no better: with -O, an upload's sum_received sometimes divides all the
// server got by the counted time only.
func steadyGoodput(ivs []iperfInterval, whole float64) float64 {
	var bits, secs float64
	for i, iv := range ivs {
		d := iv.End - iv.Start
		if i == 0 || d < 0.9 {
			continue
		}
		bits += iv.BPS * d
		secs += d
	}
	if secs < 2 {
		return whole
	}
	return bits / secs
}

func direction(down bool) string {
	if down {
		return "download (out)"
	}
	return "upload (in)"
}

func mbit(bps float64) string { return fmt.Sprintf("%.2f Mbit/s", bps/1e6) }

// TestLimitsHoldInBothDirections: 10 and 100 Mbit/s, an IPv6 flow and a
// port inside a limited range each get within 5% of the configured rate
// (after TCP/IP header overhead), uploads and downloads; a group of two
// ports driven at once stays within 5% of the group's limit in total, in
// goodput and on the wire. The
// flows of one direction run at the same time, each item in its own class.
func TestLimitsHoldInBothDirections(t *testing.T) {
	testutil.RequireBinary(t, "tc")
	r := newRig(t, `interfaces: [veth0]
ports:
  - ports: "5201"
    rate: 10Mbps
  - ports: "5202"
    rate: 100Mbps
  - ports: "5203"
    rate: 10Mbps
  - ports: 6000-6100
    rate: 20Mbps
  - ports: "7001,7002"
    rate: 30Mbps
`)
	e := r.enforcer()
	iperfServers(t, r.pair, 5201, 5202, 5203, 6050, 7001, 7002)
	flows := []struct {
		name string
		addr netip.Addr
		port uint16
		rate float64
	}{
		{"10 Mbit/s", testnet.ServerIP4, 5201, 10e6},
		{"100 Mbit/s", testnet.ServerIP4, 5202, 100e6},
		{"IPv6 10 Mbit/s", testnet.ServerIP6, 5203, 10e6},
		{"port 6050 of 6000-6100 at 20 Mbit/s", testnet.ServerIP4, 6050, 20e6},
	}
	st, err := e.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	var group uint16
	for _, it := range st.Items {
		if it.Ports == "7001,7002" {
			group = it.ClassMinor
		}
	}
	for _, down := range []bool{false, true} {
		// Every flow runs 9 s; what the receivers' TCP stacks took in is
		// read at 2 s and 8 s, when all transfers surely run, and the
		// group's class output with it. Goodput is counted in the kernel,
		// not by iperf3: its receiver reads late when the machine is busy,
		// and a second's backlog moves a 10 Mbit/s figure by 5%.
		dev := testnet.Dev
		if !down {
			dev = ifbOf(t, r)
		}
		var wg sync.WaitGroup
		ports := []uint16{7001, 7002}
		errs := make([]error, len(flows)+len(ports))
		for i, f := range flows {
			ports = append(ports, f.port)
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = iperf(r.pair, f.addr, f.port, 9, 0, down)
			}()
		}
		for i, port := range ports[:2] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[len(flows)+i] = iperf(r.pair, testnet.ServerIP4, port, 9, 0, down)
			}()
		}
		start := time.Now()
		time.Sleep(2 * time.Second)
		recv0, rt0 := tcpReceived(t, r.pair, down, ports)
		b0, bt0 := classSent(t, r, dev, group)
		time.Sleep(time.Until(start.Add(8 * time.Second)))
		recv1, rt1 := tcpReceived(t, r.pair, down, ports)
		b1, bt1 := classSent(t, r, dev, group)
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		secs := rt1.Sub(rt0).Seconds()
		goodput := func(port uint16) float64 { return float64(recv1[port]-recv0[port]) * 8 / secs }
		check := func(name string, got, rate float64, v6 bool) {
			want := rate * payloadShare(v6)
			dev := (got - want) / want
			t.Logf("%s %s: %s, expected %s (%+.1f%%)", name, direction(down), mbit(got), mbit(want), 100*dev)
			if math.Abs(dev) > 0.05 {
				t.Errorf("%s %s: goodput %s, want %s ± 5%%", name, direction(down), mbit(got), mbit(want))
			}
		}
		for _, f := range flows {
			check(f.name, goodput(f.port), f.rate, f.addr.Is6())
		}
		// How the group's two TCP flows split the limit is theirs to
		// settle (one FIFO); together they get it.
		check("group 7001,7002 at 30 Mbit/s", goodput(7001)+goodput(7002), 30e6, false)
		wire := float64(b1-b0) * 8 / bt1.Sub(bt0).Seconds()
		t.Logf("group 7001,7002 at 30 Mbit/s %s: %s on the wire (%+.1f%%)", direction(down), mbit(wire), 100*(wire-30e6)/30e6)
		if math.Abs(wire-30e6)/30e6 > 0.05 {
			t.Errorf("group 7001,7002 %s: both ports together %s on the wire, want 30 Mbit/s ± 5%%", direction(down), mbit(wire))
		}
	}
}

// tcpReceived reads, per port, the payload bytes the receiving side's TCP
// has taken in on its established connections of that port (ss's
// bytes_received: in order, retransmissions once, whether or not the
// application has read them yet), and when. The receiver is the server for
// an upload, the client for a download (down). One ss for all ports, timed
// by its midpoint: under load a command takes up to a few hundred ms, which
// one read per port added up to a skew of several percent between the
// ports' windows and the one measured.
func tcpReceived(t *testing.T, p *testnet.Pair, down bool, ports []uint16) (map[uint16]uint64, time.Time) {
	t.Helper()
	ns, side, col := p.Server, "sport", 2 // columns: Recv-Q Send-Q Local Peer
	if down {
		ns, side, col = p.Client, "dport", 3
	}
	filter := []string{"("}
	for i, port := range ports {
		if i > 0 {
			filter = append(filter, "or")
		}
		filter = append(filter, side, "=", ":"+strconv.Itoa(int(port)))
	}
	before := time.Now()
	text := ns.Run(t, append([]string{"ss", "-tinH", "state", "established"}, append(filter, ")")...)...)
	at := before.Add(time.Since(before) / 2)
	out := map[uint16]uint64{}
	var port uint64
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "\t") { // a connection; its details follow
			if len(f) <= col {
				t.Fatalf("ss: %q", line)
			}
			var err error
			if port, err = strconv.ParseUint(f[col][strings.LastIndex(f[col], ":")+1:], 10, 16); err != nil {
				t.Fatalf("ss: %q", line)
			}
			continue
		}
		for _, v := range f {
			if v, ok := strings.CutPrefix(v, "bytes_received:"); ok {
				n, err := strconv.ParseUint(v, 10, 64)
				if err != nil {
					t.Fatalf("ss: %q", line)
				}
				out[uint16(port)] += n
			}
		}
	}
	return out, at
}

// ifbOf returns the shaper's IFB device in the rig's server namespace.
func ifbOf(t *testing.T, r *rig) string {
	t.Helper()
	for _, line := range strings.Split(r.pair.Server.Run(t, "ip", "-o", "link", "show", "type", "ifb"), "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], "dogifb") {
			return strings.TrimSuffix(f[1], ":")
		}
	}
	t.Fatal("no IFB device")
	return ""
}

// classSent reads the bytes an HTB class of the shaper has sent: the
// shaper's output for one item, Ethernet frames as on the wire.
func classSent(t *testing.T, r *rig, dev string, minor uint16) (uint64, time.Time) {
	t.Helper()
	before := time.Now()
	out := r.pair.Server.Run(t, "tc", "-s", "class", "show", "dev", dev, "classid", fmt.Sprintf("7d0:%x", minor))
	at := before.Add(time.Since(before) / 2)
	i := strings.Index(out, "Sent ")
	if i < 0 {
		t.Fatalf("no class 7d0:%x on %s: %q", minor, dev, out)
	}
	n, err := strconv.ParseUint(strings.Fields(out[i:])[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n, at
}

// TestLimitChangesLive: during one running transfer per direction the
// limit goes 10 → 50 → 10 Mbit/s. Measured per second by the receiver: the
// new rate holds from 2 s after each change, and no second exceeds the
// higher of the two rates by more than 10%.
func TestLimitChangesLive(t *testing.T) {
	cfg := func(rate string) string {
		return fmt.Sprintf("interfaces: [veth0]\nports:\n  - ports: \"5401\"\n    rate_out: %s\n  - ports: \"5402\"\n    rate_in: %s\n", rate, rate)
	}
	r := newRig(t, cfg("10Mbps"))
	// The client sends frames, not 64 KiB offload lumps: a veth hands those
	// to the IFB whole, which makes the seconds of an upload jump by a lump
	// (~7% at 10 Mbit/s) around an exact average. Traffic from the Internet
	// arrives in frames.
	r.pair.Client.Run(t, "ip", "link", "set", testnet.Dev, "gso_max_segs", "1")
	e := r.enforcer()
	iperfServers(t, r.pair, 5401, 5402)
	// Warm up: both servers answer before the clock starts.
	for _, port := range []uint16{5401, 5402} {
		if _, err := iperf(r.pair, testnet.ServerIP4, port, 1, 0, false); err != nil {
			t.Fatal(err)
		}
	}
	const phase = 5 // seconds per rate
	var wg sync.WaitGroup
	var res [2]iperfResult
	var errs [2]error
	t0 := time.Now()
	for i, down := range []bool{true, false} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// iperf3 counts what its receiver read in whole blocks (128 KiB by
			// default, a tenth of a second at 10 Mbit/s): small blocks make
			// its seconds exact.
			res[i], errs[i] = iperf(r.pair, testnet.ServerIP4, 5401+uint16(i), 3*phase, 0, down, "-l", "8K")
		}()
	}
	var changes [2]float64 // seconds after t0
	for i, rate := range []string{"50Mbps", "10Mbps"} {
		time.Sleep(time.Until(t0.Add(time.Duration(i+1) * phase * time.Second)))
		r.writeConfig(cfg(rate))
		if err := e.Reload(); err != nil {
			t.Fatal(err)
		}
		changes[i] = time.Since(t0).Seconds()
	}
	wg.Wait()
	// An iperf3 test starts a little after t0 (process start, connection):
	// at most slack later, so its clock shows a change up to slack early.
	const slack = 0.3
	share := payloadShare(false)
	for i, down := range []bool{true, false} {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		var line []string
		for _, iv := range res[i].Intervals {
			line = append(line, fmt.Sprintf("%.0f-%.0fs %.1f", iv.Start, iv.End, iv.BPS/1e6))
		}
		t.Logf("%s, changes at %.2fs and %.2fs: %s (Mbit/s)", direction(down), changes[0], changes[1], strings.Join(line, ", "))
		for _, iv := range res[i].Intervals {
			// iperf3's first receiver second also holds what arrived before
			// its clock started, and a tail of milliseconds is no second:
			// both are left out. In the last second the sender stops, and
			// what is still queued then belongs to no second: it is only
			// checked for excess.
			if iv.Start < 1 || iv.End-iv.Start < 0.5 {
				continue
			}
			last := iv.End > 3*phase-0.5
			var want float64 // the rate that must hold in this second; 0: a transition
			bound := 50e6    // the higher of the rates around this second
			switch {
			case iv.End <= changes[0]-slack:
				want, bound = 10e6, 10e6
			case iv.Start >= changes[0]+2 && iv.End <= changes[1]-slack:
				want = 50e6
			case iv.Start >= changes[1]+2 && !last:
				want = 10e6
			}
			if wire := iv.BPS / share; wire > 1.1*bound {
				t.Errorf("%s: %.0f-%.0fs: %s on the wire, more than 10%% over %s", direction(down), iv.Start, iv.End, mbit(wire), mbit(bound))
			}
			if want > 0 && math.Abs(iv.BPS-want*share)/(want*share) > 0.1 {
				t.Errorf("%s: %.0f-%.0fs: %s, want %s ± 10%% (the rate must hold from 2 s after the change)",
					direction(down), iv.Start, iv.End, mbit(iv.BPS), mbit(want*share))
			}
		}
	}
}

// measure is one sample of an unlimited flow's throughput: 1 s (slow start
// takes milliseconds on a veth).
func measure(t *testing.T, p *testnet.Pair, port uint16, down bool) float64 {
	t.Helper()
	res, err := iperf(p, testnet.ServerIP4, port, 1, 0, down)
	if err != nil {
		t.Fatal(err)
	}
	return res.Goodput
}

// TestUnlimitedTrafficKeepsTheLink: while a limited item is saturated in
// both directions, an unlimited item on the same interface keeps at least
// 75% of the throughput it has with no limit configured; removing the limit
// gives the formerly limited item full speed again, and the interface its
// original qdiscs.
//
// The no-limit throughput is measured with the other item carrying the same
// 10 Mbit/s both ways, paced by iperf3 instead of the shaper: on two shared
// cores a full-speed flow is CPU-bound, and four more busy processes cost it
// ~10% whatever limits them; the shaper's own cost is what is compared.
// Neighbours' load moves a one-second sample by ±20%, so the two conditions
// are measured back to back in each round and the best round compared, for
// at least two rounds and until the comparison holds or eight rounds have
// not made it hold. (A shaper that slows unlimited traffic, as sending it through an HTB
// default class did, to 40%, fails every round.)
func TestUnlimitedTrafficKeepsTheLink(t *testing.T) {
	testutil.RequireBinary(t, "tc")
	// Item 5310,5311 is the limited one: uploads go to 5310 and downloads
	// to 5311 at the same time (an iperf3 server runs one test at a time).
	cfg := func(rate string) string {
		return "interfaces: [veth0]\nports:\n  - ports: \"5300\"\n  - ports: \"5310,5311\"\n" + rate
	}
	r := newRig(t, cfg(""))
	e := r.enforcer()
	iperfServers(t, r.pair, 5300, 5310, 5311)
	pristine := r.pair.Server.Run(t, "tc", "qdisc", "show")
	reload := func(body string) {
		t.Helper()
		r.writeConfig(body)
		if err := e.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	dirs := []bool{false, true}
	// busy runs 10 Mbit/s both ways on item 5310,5311 while measure runs:
	// paced by iperf3 (extra "-b 10M") or by the shaper.
	busy := func(measure func(), extra ...string) [2]iperfResult {
		t.Helper()
		var wg sync.WaitGroup
		var res [2]iperfResult
		var errs [2]error
		for i, down := range dirs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res[i], errs[i] = iperf(r.pair, testnet.ServerIP4, 5310+uint16(i), 4, 0, down, extra...)
			}()
		}
		time.Sleep(500 * time.Millisecond)
		measure()
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		return res
	}
	const minRounds, maxRounds = 2, 8
	// Each round compares the two conditions taken back to back, and the
	// best round counts (the running maxima of two noisy series drift
	// apart). The bound is below the 90% of the limit-removed check: with
	// a limit configured every packet of the interface, the unlimited
	// item's too, passes the HTB root and (ingress) the IFB redirect, which
	// costs a CPU-bound 16 Gbit/s veth flow 10-15% under the suite's load;
	// the misclassification this test guards against reads 40%.
	const bound = 0.75
	var base, loaded [2]float64
	ratio := func(i int) float64 {
		if base[i] == 0 {
			return 0
		}
		return loaded[i] / base[i]
	}
	holds := func() bool { return ratio(0) >= bound && ratio(1) >= bound }
	rounds := 0
	for ; rounds < maxRounds && (rounds < minRounds || !holds()); rounds++ {
		var b, l [2]float64
		reload(cfg(""))
		busy(func() {
			for i, down := range dirs {
				b[i] = measure(t, r.pair, 5300, down)
			}
		}, "-b", "10M")
		reload(cfg("    rate: 10Mbps\n"))
		sat := busy(func() {
			for i, down := range dirs {
				l[i] = measure(t, r.pair, 5300, down)
			}
		})
		for i := range dirs {
			if b[i] > 0 && (base[i] == 0 || l[i]/b[i] > ratio(i)) {
				base[i], loaded[i] = b[i], l[i]
			}
		}
		for i, down := range dirs {
			// Limited and busy. (Its accuracy is TestLimitsHoldInBothDirections';
			// here a full-speed flow starves its sender of CPU now and then,
			// and the samples of its goodput come late: 10.8 and 11.6 Mbit/s
			// were read at this limit, on the release before this one too.
			// An item the limit missed would run at Gbit/s.)
			if g := sat[i].Goodput; g > 15e6 || g < 5e6 {
				t.Errorf("the saturated limited item, %s: %s, want it busy at its 10 Mbit/s limit", direction(down), mbit(g))
			}
		}
	}
	for i, down := range dirs {
		t.Logf("unlimited item %s: %s with no limit configured, %s while a limited item is saturated (%.0f%%; best of %d rounds)",
			direction(down), mbit(base[i]), mbit(loaded[i]), 100*ratio(i), rounds)
		if ratio(i) < bound {
			t.Errorf("unlimited item, %s: %s while a limited item is saturated, want ≥ %.0f%% of %s", direction(down), mbit(loaded[i]), 100*bound, mbit(base[i]))
		}
	}

	reload(cfg(""))
	if got := r.pair.Server.Run(t, "tc", "qdisc", "show"); got != pristine {
		t.Errorf("qdiscs after the last limit was removed:\n%s\nwant\n%s", got, pristine)
	}
	for i, down := range dirs {
		// Each round compares two transfers taken back to back, and the
		// best round counts: the running maxima of two noisy series drift
		// apart as rounds are added.
		var was, never float64
		for round := 0; round < maxRounds && (round < minRounds || was < 0.9*never); round++ {
			n, w := measure(t, r.pair, 5300, down), measure(t, r.pair, 5310+uint16(i), down)
			if never == 0 || w/n > was/never {
				was, never = w, n
			}
		}
		t.Logf("limit removed, %s: formerly limited item %s, never limited item %s (best round)", direction(down), mbit(was), mbit(never))
		if was < 0.9*never {
			t.Errorf("limit removed, %s: %s, want full speed (≥ 90%% of the %s an unlimited item gets)", direction(down), mbit(was), mbit(never))
		}
	}
}

// TestShaperIntegration: the enforcer's side of the limits without timing:
// stable class minors across reloads and restarts, the out chain's
// priority, bad input (nothing applied, counting goes on), a blocked item
// stays blocked under a limit, the tick repairs a deleted root qdisc and a
// deleted class, and Cleanup leaves no qdisc or IFB device behind.
func TestShaperIntegration(t *testing.T) {
	testutil.RequireBinary(t, "tc")
	testutil.RequireBinary(t, "nft")
	r := newRig(t, `interfaces: [veth0]
ports:
  - ports: "443"
    rate: 10Mbps
  - ports: "80"
    rate_out: 20Mbps
`)
	pristine := r.pair.Server.Run(t, "tc", "qdisc", "show")
	e := r.enforcer()
	minors := func() map[string]uint16 {
		st, err := state.ReadFile(r.dir + "/state/state.json")
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]uint16{}
		for _, it := range st.Items {
			m[it.Ports] = it.ClassMinor
		}
		return m
	}
	if m := minors(); m["443"] == 0 || m["80"] == 0 || m["443"] == m["80"] {
		t.Fatalf("class minors %v: want two distinct ones", m)
	}
	first := minors()
	chain := r.pair.Server.Nft("list", "chain", "inet", "port_traffic_dog", "item_p80_out")
	if want := fmt.Sprintf("meta priority set 7d0:%x", first["80"]); !strings.Contains(chain, want) {
		t.Errorf("out chain of 80 lacks %q:\n%s", want, chain)
	}

	// A new item before them, then one dropped and another added: the
	// survivors keep their minors, the newcomers get unused ones.
	r.writeConfig(`interfaces: [veth0]
ports:
  - ports: "8443"
    rate: 5Mbps
  - ports: "443"
    rate: 10Mbps
  - ports: "80"
    rate_out: 20Mbps
`)
	if err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	m := minors()
	if m["443"] != first["443"] || m["80"] != first["80"] || m["8443"] == 0 || m["8443"] == m["443"] || m["8443"] == m["80"] {
		t.Errorf("minors after adding an item: %v (before %v)", m, first)
	}
	r.writeConfig(`interfaces: [veth0]
ports:
  - ports: "8443"
    rate: 5Mbps
  - ports: "9443"
    rate: 5Mbps
  - ports: "80"
    rate_out: 20Mbps
`)
	if err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	m2 := minors()
	if m2["8443"] != m["8443"] || m2["80"] != m["80"] || m2["9443"] == first["443"] || m2["9443"] == 0 {
		t.Errorf("minors after replacing an item: %v (before %v): the newcomer must not take the removed item's class while it is applied", m2, m)
	}

	// A restart (new process, kernel state in place) keeps them and
	// re-creates nothing: the root qdisc keeps its statistics.
	if _, err := r.pair.TCP(testnet.ServerIP4, 80, 0, 200_000, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	before, _ := classSent(t, r, testnet.Dev, m2["80"])
	e = r.enforcer()
	if m3 := minors(); fmt.Sprint(m3) != fmt.Sprint(m2) {
		t.Errorf("minors after a restart: %v, want %v", m3, m2)
	}
	if after, _ := classSent(t, r, testnet.Dev, m2["80"]); after < before || before < 200_000 {
		t.Errorf("class 7d0:%x after the restart has sent %d bytes, had %d: it was re-created", m2["80"], after, before)
	}

	// Bad input at reload: a rate above the link speed, a missing
	// interface, an unknown unit. Nothing changes, counting goes on.
	applied := r.pair.Server.Run(t, "tc", "class", "show", "dev", testnet.Dev)
	for _, bad := range []struct{ cfg, want string }{
		{"interfaces: [veth0]\nports:\n  - ports: \"80\"\n    rate_out: 20Gbps\n", `rate_out: 20 Gbit/s is above the 10 Gbit/s link speed of veth0`},
		{"interfaces: [veth0, wan7]\nports:\n  - ports: \"80\"\n    rate_out: 20Mbps\n", `interfaces: "wan7" does not exist`},
		{"interfaces: [veth0]\nports:\n  - ports: \"80\"\n    rate_out: 20MB/s\n", `rates are in bits per second`},
	} {
		r.writeConfig(bad.cfg)
		err := e.Reload()
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("reload: %v, want %q", err, bad.want)
		}
		if got := r.pair.Server.Run(t, "tc", "class", "show", "dev", testnet.Dev); got != applied {
			t.Errorf("bad config changed the classes:\n%s\nwant\n%s", got, applied)
		}
	}
	c0 := r.counter("p80", 1)
	r.tcp(80, 0, 50_000)
	if c := r.counter("p80", 1); c.Bytes < c0.Bytes+50_000 {
		t.Errorf("not counting after a refused reload: %v -> %v", c0, c)
	}

	// A start whose limits cannot apply (the interface is missing) still
	// counts; the limits come when the interface does.
	r.writeConfig("interfaces: [late0]\nports:\n  - ports: \"81\"\n    rate: 5Mbps\n")
	e.Cleanup()
	e = r.enforcer()
	r.tcp(81, 10_000, 0)
	if c := r.counter("p81", 0); c.Bytes < 10_000 {
		t.Errorf("not counting while the limits cannot apply: %v", c)
	}
	if out := r.pair.Server.Run(t, "tc", "qdisc", "show"); out != pristine {
		t.Errorf("qdiscs while the interface is missing:\n%s", out)
	}
	stop := r.run(e)
	r.pair.Server.Run(t, "ip", "link", "add", "late0", "type", "veth", "peer", "name", "late1")
	testnet.WaitFor(t, 10*time.Second, "the limits on the new interface", func() bool {
		out, _ := r.pair.Server.Output("tc", "qdisc", "show", "dev", "late0")
		return strings.Contains(out, "htb 7d0:")
	})

	// The tick repairs a deleted root qdisc.
	r.pair.Server.Run(t, "tc", "qdisc", "del", "dev", "late0", "root")
	testnet.WaitFor(t, 10*time.Second, "the root qdisc to be repaired", func() bool {
		out, _ := r.pair.Server.Output("tc", "qdisc", "show", "dev", "late0", "root")
		return strings.Contains(out, "htb 7d0:")
	})
	// And an item's class deleted by hand.
	class := regexp.MustCompile(`class htb (7d0:[0-9a-f]+) `).FindStringSubmatch(r.pair.Server.Run(t, "tc", "class", "show", "dev", "late0"))
	if class == nil {
		t.Fatalf("no class on late0")
	}
	r.pair.Server.Run(t, "tc", "class", "del", "dev", "late0", "classid", class[1])
	testnet.WaitFor(t, 10*time.Second, "the class to be repaired", func() bool {
		out, _ := r.pair.Server.Output("tc", "class", "show", "dev", "late0", "classid", class[1])
		return strings.Contains(out, "rate 5Mbit ceil 5Mbit")
	})
	stop()
	if st, err := e.Checkpoint(); err != nil || st.Stats.Repairs < 2 {
		t.Errorf("repairs not counted: %v %+v", err, st)
	}

	// Cleanup removes every qdisc and device of the shaper.
	if err := e.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if out := r.pair.Server.Run(t, "tc", "qdisc", "show"); strings.Contains(out, "7d0:") || strings.Contains(out, "ingress") {
		t.Errorf("qdiscs after cleanup:\n%s", out)
	}
	if out := r.pair.Server.Run(t, "ip", "link"); strings.Contains(out, "dogifb") {
		t.Errorf("IFB left after cleanup:\n%s", out)
	}
}

// TestBlockedItemStaysBlockedUnderALimit: limits and the quota block
// compose.
func TestBlockedItemStaysBlockedUnderALimit(t *testing.T) {
	r := newRig(t, "interfaces: [veth0]\nports:\n  - ports: \"5500\"\n    rate: 50Mbps\n    quota: 300KB\n    billing: in\n")
	e := r.enforcer()
	r.pair.TCP(testnet.ServerIP4, 5500, 500_000, 0, 3*time.Second) // runs into the quota
	if _, err := e.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	res, err := r.pair.TCP(testnet.ServerIP4, 5500, 100_000, 100_000, 2*time.Second)
	if err == nil || res.Up > 0 || res.Down > 0 {
		t.Errorf("blocked item moved data under a limit: %+v, %v", res, err)
	}
}

// TestPortChangeKeepsEgressShaped: an item whose ports change is a new
// item with a new class. The old class must outlive the tc apply until the
// nftables commit that moves the item's packets to the new one; it was
// deleted at the apply, and the old out chain's packets took HTB's direct
// path, unshaped, in between. (The seam before the commit sees the kernel
// as the packets do at that moment.)
func TestPortChangeKeepsEgressShaped(t *testing.T) {
	testutil.RequireBinary(t, "tc")
	r := newRig(t, "interfaces: [veth0]\nports:\n  - ports: \"443\"\n    rate_out: 10Mbps\n")
	e := r.enforcer()
	classes := func() string { return r.pair.Server.Run(t, "tc", "class", "show", "dev", testnet.Dev) }
	old := regexp.MustCompile(`class htb (7d0:[0-9a-f]+) `).FindStringSubmatch(classes())
	if old == nil {
		t.Fatalf("no egress class: %q", classes())
	}
	var before string
	e.mu.Lock()
	e.applyFault = func() error { // under e.mu, just before the table commit
		before = classes()
		return nil
	}
	e.mu.Unlock()
	r.writeConfig("interfaces: [veth0]\nports:\n  - ports: \"443,444\"\n    rate_out: 10Mbps\n")
	if err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(before, "class htb "+old[1]+" ") {
		t.Errorf("before the table commit the old class %s was gone already:\n%s", old[1], before)
	}
	after := classes()
	if strings.Contains(after, "class htb "+old[1]+" ") || strings.Count(after, "class htb") != 1 {
		t.Errorf("classes after the reload: %q, want only the new item's", after)
	}
}

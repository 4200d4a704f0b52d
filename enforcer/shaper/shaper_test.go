package shaper

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/portspec"
	"port-traffic-dog/internal/testnet"
	"port-traffic-dog/internal/testutil"
)

func logger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// env is a client/server pair whose server end is shaped.
type env struct {
	t    *testing.T
	pair *testnet.Pair
	s    *Shaper
}

func newEnv(t *testing.T) *env {
	t.Helper()
	testutil.RequireBinary(t, "tc")
	p := testnet.NewPair(t)
	e := &env{t: t, pair: p, s: New(p.Server.Fd(), logger())}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("qdiscs:\n%s\nclasses:\n%s\nlinks:\n%s", e.tc("qdisc", "show"), e.tc("class", "show", "dev", testnet.Dev),
				e.server("ip", "-d", "link"))
		}
	})
	return e
}

func (e *env) server(args ...string) string {
	out, _ := e.pair.Server.Output(args...)
	return out
}

// tc runs tc in the server namespace. HTB's count of packets that took its
// direct path is left out: the namespace's own chatter (an IPv6 router
// solicitation) moves it.
func (e *env) tc(args ...string) string {
	return directPackets.ReplaceAllString(e.server(append([]string{"tc"}, args...)...), "")
}

var directPackets = regexp.MustCompile(` direct_packets_stat \d+`)

func item(ports string, minor uint16, in, out uint64) Item {
	spec, err := portspec.Parse(ports)
	if err != nil {
		panic(err)
	}
	return Item{Ports: ports, Spec: spec, Protocols: config.TCP | config.UDP, Minor: minor, RateIn: in, RateOut: out}
}

func (e *env) apply(items ...Item) {
	e.t.Helper()
	if err := e.s.Apply(Desired{Interfaces: []string{testnet.Dev}, Items: items}); err != nil {
		e.t.Fatalf("apply: %v", err)
	}
}

func (e *env) handle() *netlink.Handle {
	e.t.Helper()
	c, err := dial(e.pair.Server.Fd())
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(c.close)
	return c.h
}

// classStats returns bytes through a class of dev (0 when it does not exist).
func (e *env) classStats(dev string, minor uint16) (bytes uint64, ok bool) {
	e.t.Helper()
	h := e.handle()
	l, err := h.LinkByName(dev)
	if err != nil {
		e.t.Fatalf("%s: %v", dev, err)
	}
	cls, err := h.ClassList(l, rootHandle)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, c := range cls {
		if c.Attrs().Handle == ClassID(minor) && c.Attrs().Statistics != nil {
			return c.Attrs().Statistics.Basic.Bytes, true
		}
	}
	return 0, false
}

func (e *env) rootQdisc() string {
	out := e.tc("qdisc", "show", "dev", testnet.Dev, "root")
	return strings.TrimSpace(out)
}

func (e *env) ifbDev() string {
	e.t.Helper()
	l, err := e.handle().LinkByName(testnet.Dev)
	if err != nil {
		e.t.Fatal(err)
	}
	return ifbName(l.Attrs().Index)
}

// TestIngressClassification sends real traffic at the edges of single
// ports, ranges and groups, over IPv4 and IPv6, TCP and UDP, and checks
// which IFB class (if any) it went through: the u32 trees are exact.
func TestIngressClassification(t *testing.T) {
	e := newEnv(t)
	const fast = 1e9 // fast enough not to slow the test down
	e.apply(
		item("443", 1, fast, fast),
		item("5000-5100", 2, fast, 0),
		item("8000,9000-9255,20000-28191", 3, fast, 0), // aligned 256 and 8192 blocks
		Item{Ports: "7000-7007", Spec: portspec.Spec{{Lo: 7000, Hi: 7007}}, Protocols: config.UDP, Minor: 4, RateIn: fast},
		item("6000", 5, 0, fast), // egress only: not in the ingress trees
	)
	ifb := e.ifbDev()
	if !strings.Contains(e.server("ip", "-d", "link", "show", ifb), IFBAliasPrefix+testnet.Dev) {
		t.Errorf("%s has no alias naming %s", ifb, testnet.Dev)
	}
	ifbPackets := func() uint64 { return e.pair.Server.Stats(t, ifb).TxPackets }

	type probe struct {
		port  uint16
		udp   bool
		addr  netip.Addr
		minor uint16 // 0: must not be redirected at all
	}
	probes := []probe{
		{443, false, testnet.ServerIP4, 1}, {443, true, testnet.ServerIP6, 1}, {442, false, testnet.ServerIP4, 0},
		{444, false, testnet.ServerIP6, 0},
		{5000, false, testnet.ServerIP4, 2}, {5100, true, testnet.ServerIP4, 2}, {5055, false, testnet.ServerIP6, 2},
		{4999, false, testnet.ServerIP4, 0}, {5101, true, testnet.ServerIP6, 0},
		{8000, false, testnet.ServerIP6, 3}, {9000, true, testnet.ServerIP4, 3}, {9255, false, testnet.ServerIP4, 3},
		{8999, false, testnet.ServerIP4, 0}, {9256, false, testnet.ServerIP4, 0},
		{20000, false, testnet.ServerIP4, 3}, {24321, true, testnet.ServerIP6, 3}, {28191, false, testnet.ServerIP4, 3},
		{28192, false, testnet.ServerIP4, 0}, {19999, true, testnet.ServerIP4, 0},
		{7003, true, testnet.ServerIP4, 4}, {7003, false, testnet.ServerIP4, 0}, // UDP-only item
		{6000, false, testnet.ServerIP4, 0},
	}
	for _, pr := range probes {
		before := map[uint16]uint64{}
		for m := uint16(1); m <= 5; m++ {
			before[m], _ = e.classStats(ifb, m)
		}
		redirected := ifbPackets()
		const size = 60_000
		if pr.udp {
			if _, _, err := e.pair.UDP(pr.addr, pr.port, 50, 1200, 0, 5*time.Second); err != nil {
				t.Fatalf("udp %v:%d: %v", pr.addr, pr.port, err)
			}
		} else if _, err := e.pair.TCP(pr.addr, pr.port, size, 0, 5*time.Second); err != nil {
			t.Fatalf("tcp %v:%d: %v", pr.addr, pr.port, err)
		}
		proto := "tcp"
		if pr.udp {
			proto = "udp"
		}
		for m := uint16(1); m <= 5; m++ {
			after, _ := e.classStats(ifb, m)
			moved := after - before[m]
			switch {
			case m == pr.minor && moved < 50_000:
				t.Errorf("%s %v port %d: class %d saw %d bytes, want the transfer", proto, pr.addr, pr.port, m, moved)
			case m != pr.minor && moved > 0:
				t.Errorf("%s %v port %d: class %d saw %d bytes, want none", proto, pr.addr, pr.port, m, moved)
			}
		}
		if pr.minor == 0 && ifbPackets() != redirected {
			t.Errorf("%s %v port %d (unlimited): %d packets were redirected to %s", proto, pr.addr, pr.port, ifbPackets()-redirected, ifb)
		}
	}
}

// TestLifecycleRestoresTheInterface applies, changes and removes limits on
// an interface that had an operator-configured root qdisc (a TBF): classes
// change in place, and removing the last limit puts the TBF back exactly,
// deletes the IFB and the ingress qdisc the shaper added.
func TestLifecycleRestoresTheInterface(t *testing.T) {
	e := newEnv(t)
	e.pair.Server.Run(t, "tc", "qdisc", "add", "dev", testnet.Dev, "root", "handle", "8123:", "tbf", "rate", "900mbit", "burst", "200kb", "latency", "40ms")
	before := e.rootQdisc()

	e.apply(item("443", 7, 10e6, 20e6))
	if got := e.rootQdisc(); !strings.HasPrefix(got, "qdisc htb 7d0: root") || !strings.Contains(got, "default 0") {
		t.Fatalf("root qdisc is %q, want the shaper's htb 7d0: with default 0", got)
	}
	if !e.s.Egress(7) || e.s.Egress(8) {
		t.Errorf("Egress(7)=%v Egress(8)=%v", e.s.Egress(7), e.s.Egress(8))
	}
	st := e.s.State()
	if st == nil || len(st.Links) != 1 || st.Links[0].PrevRoot == nil || st.Links[0].PrevRoot.Kind != "tbf" || !st.Links[0].CreatedIngress {
		t.Fatalf("state %+v: want veth0 with the tbf recorded and the ingress qdisc marked as created", st)
	}
	classLine := func(dev string) string { return e.tc("class", "show", "dev", dev, "classid", "7d0:7") }
	if c := classLine(testnet.Dev); !strings.Contains(c, "rate 20Mbit ceil 20Mbit") {
		t.Errorf("egress class: %q", c)
	}
	if c := classLine(e.ifbDev()); !strings.Contains(c, "rate 10Mbit ceil 10Mbit") {
		t.Errorf("ingress class: %q", c)
	}

	// A rate change is a class change: same handles, nothing else touched.
	filters := e.tc("filter", "show", "dev", testnet.Dev, "ingress")
	e.apply(item("443", 7, 30e6, 5e6))
	if c := classLine(testnet.Dev); !strings.Contains(c, "rate 5Mbit ceil 5Mbit") {
		t.Errorf("egress class after the change: %q", c)
	}
	if c := classLine(e.ifbDev()); !strings.Contains(c, "rate 30Mbit ceil 30Mbit") {
		t.Errorf("ingress class after the change: %q", c)
	}
	if after := e.tc("filter", "show", "dev", testnet.Dev, "ingress"); after != filters {
		t.Errorf("a rate change rebuilt the filters:\n%s\nthen\n%s", filters, after)
	}

	// Egress only: the ingress side goes away, the root stays.
	e.apply(item("443", 7, 0, 5e6))
	if out := e.tc("qdisc", "show", "dev", testnet.Dev, "ingress"); strings.Contains(out, "ingress") {
		t.Errorf("ingress qdisc still there without ingress limits: %q", out)
	}
	if _, err := e.handle().LinkByName(e.ifbDev()); err == nil {
		t.Errorf("IFB still there without ingress limits")
	}

	e.apply() // no limits at all
	if got := e.rootQdisc(); got != before {
		t.Errorf("root qdisc after the last limit went: %q, want the original %q", got, before)
	}
	if e.s.State() != nil {
		t.Errorf("state after removing all limits: %+v", e.s.State())
	}
}

// TestDefaultRootComesBack: on an interface with the kernel's default root
// (noqueue on a veth), removing the limits leaves no qdisc of the shaper.
func TestDefaultRootComesBack(t *testing.T) {
	e := newEnv(t)
	before := e.tc("qdisc", "show", "dev", testnet.Dev)
	e.apply(item("80", 1, 10e6, 10e6), item("81", 2, 10e6, 0))
	e.apply(item("80", 1, 10e6, 10e6)) // one item's classes go
	if _, ok := e.classStats(e.ifbDev(), 2); ok {
		t.Errorf("class 7d0:2 of a removed item is still on the IFB")
	}
	e.apply()
	if after := e.tc("qdisc", "show", "dev", testnet.Dev); after != before {
		t.Errorf("qdiscs after removal:\n%s\nwant\n%s", after, before)
	}
}

// TestRefusesAnotherShaper: a root qdisc with someone's classes is not
// replaced, and nothing is applied.
func TestRefusesAnotherShaper(t *testing.T) {
	e := newEnv(t)
	e.pair.Server.Run(t, "tc", "qdisc", "add", "dev", testnet.Dev, "root", "handle", "1:", "htb", "default", "10")
	e.pair.Server.Run(t, "tc", "class", "add", "dev", testnet.Dev, "parent", "1:", "classid", "1:10", "htb", "rate", "100mbit")
	e.pair.Server.Run(t, "tc", "qdisc", "add", "dev", testnet.Dev, "parent", "1:10", "handle", "10:", "pfifo")
	before := e.tc("qdisc", "show")
	err := e.s.Apply(Desired{Interfaces: []string{testnet.Dev}, Items: []Item{item("443", 1, 10e6, 10e6)}})
	if err == nil || !strings.Contains(err.Error(), "will not replace another shaper") {
		t.Fatalf("err = %v, want a refusal", err)
	}
	if after := e.tc("qdisc", "show"); after != before {
		t.Errorf("qdiscs changed:\n%s\nwant\n%s", after, before)
	}
}

// TestBadInputChangesNothing: a missing interface, a rate above the link
// speed (a veth reports 10 Gbit/s), an oversized burst, a kernel without
// HTB or IFB: a clear error naming the field and value, and no qdisc, class,
// filter or device of the shaper anywhere, also when an earlier Apply had
// set limits that must stay as they were.
func TestBadInputChangesNothing(t *testing.T) {
	e := newEnv(t)
	pristine := e.tc("qdisc", "show")
	desired := func(ifaces []string, items ...Item) Desired { return Desired{Interfaces: ifaces, Items: items} }
	big := item("443", 1, 0, 1e6)
	big.Burst = 100 << 20
	cases := []struct {
		name string
		d    Desired
		want string
	}{
		{"missing interface", desired([]string{"eth9"}, item("443", 1, 10e6, 0)), `interfaces: "eth9" does not exist (the host has lo, veth0)`},
		{"above link speed", desired([]string{testnet.Dev}, item("443", 1, 0, 20e9)), `item "443": rate_out: 20 Gbit/s is above the 10 Gbit/s link speed of veth0`},
		{"burst", desired([]string{testnet.Dev}, big), `item "443": burst: 100 MiB is more than 60 s at rate_out 1 Mbit/s`},
		{"no default route", desired(nil, item("443", 1, 10e6, 0)), "has no default route"},
		{"duplicate minor", desired([]string{testnet.Dev}, item("443", 1, 10e6, 0), item("80", 1, 10e6, 0)), "same tc class minor 1"},
	}
	check := func(want string) {
		t.Helper()
		if got := e.tc("qdisc", "show"); got != want {
			t.Errorf("qdiscs changed:\n%s\nwant\n%s", got, want)
		}
	}
	for _, c := range cases {
		err := e.s.Apply(c.d)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
		check(pristine)
	}

	for _, k := range []struct {
		name string
		kinds
		want string
	}{
		{"kernel without HTB", kinds{htb: "htb_missing", ifb: "ifb"}, `the kernel has no "htb_missing" qdisc`},
		{"kernel without IFB", kinds{htb: "htb", ifb: "ifb_missing"}, `the kernel has no "ifb_missing" devices`},
	} {
		s := New(e.pair.Server.Fd(), logger())
		s.kinds = k.kinds
		err := s.Apply(desired([]string{testnet.Dev}, item("443", 1, 10e6, 10e6)))
		if err == nil || !strings.Contains(err.Error(), k.want) {
			t.Errorf("%s: err = %v, want %q", k.name, err, k.want)
		}
		check(pristine)
		if out := e.server("ip", "link"); strings.Contains(out, IFBPrefix) {
			t.Errorf("%s: an IFB device was left behind:\n%s", k.name, out)
		}
	}

	// With limits in place, a bad change leaves them exactly as they were.
	e.apply(item("443", 1, 10e6, 10e6))
	applied := e.tc("qdisc", "show") + e.tc("class", "show", "dev", testnet.Dev) + e.tc("filter", "show", "dev", testnet.Dev, "ingress")
	for _, c := range cases {
		e.s.Apply(c.d)
		if got := e.tc("qdisc", "show") + e.tc("class", "show", "dev", testnet.Dev) + e.tc("filter", "show", "dev", testnet.Dev, "ingress"); got != applied {
			t.Errorf("%s changed the applied limits", c.name)
		}
	}
}

// TestDefaultRouteInterfaces: without `interfaces`, the interfaces of the
// IPv4 and IPv6 default routes are shaped.
func TestDefaultRouteInterfaces(t *testing.T) {
	e := newEnv(t)
	e.pair.Server.Run(t, "ip", "route", "add", "default", "via", testnet.ClientIP4.String())
	if err := e.s.Apply(Desired{Items: []Item{item("443", 1, 0, 10e6)}}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(e.rootQdisc(), "qdisc htb 7d0:") {
		t.Errorf("default route's interface not shaped: %q", e.rootQdisc())
	}
}

// TestRestartAdoptsAndRepairs: a new Shaper (a restarted enforcer) given the
// recorded state takes the kernel's setup over without a gap (the class
// keeps its byte counter, i.e. it was never re-created), removes what the
// new config drops, still knows the root to restore; Verify puts back what
// another tool removed.
func TestRestartAdoptsAndRepairs(t *testing.T) {
	e := newEnv(t)
	e.pair.Server.Run(t, "tc", "qdisc", "add", "dev", testnet.Dev, "root", "handle", "8123:", "tbf", "rate", "900mbit", "burst", "200kb", "latency", "40ms")
	original := e.rootQdisc()
	e.apply(item("443", 3, 1e9, 1e9), item("80", 4, 1e9, 0))
	if _, err := e.pair.TCP(testnet.ServerIP4, 443, 100_000, 0, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	seen, _ := e.classStats(e.ifbDev(), 3)

	s2 := New(e.pair.Server.Fd(), logger())
	s2.Restore(e.s.State())
	e.s = s2
	e.apply(item("443", 3, 1e9, 1e9))
	if got, ok := e.classStats(e.ifbDev(), 3); !ok || got < seen {
		t.Errorf("class 7d0:3 after the restart: %d bytes (exists %v), had %d: it was re-created", got, ok, seen)
	}
	if _, ok := e.classStats(e.ifbDev(), 4); ok {
		t.Errorf("class of the dropped item survived the restart")
	}
	if _, err := e.pair.TCP(testnet.ServerIP6, 443, 100_000, 0, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.classStats(e.ifbDev(), 3); got < seen+100_000 {
		t.Errorf("after the restart the ingress tree no longer classifies port 443 (class saw %d more bytes)", got-seen)
	}

	if what, err := e.s.Verify(); what != "" || err != nil {
		t.Fatalf("Verify with nothing broken: %q, %v", what, err)
	}
	e.pair.Server.Run(t, "tc", "qdisc", "del", "dev", testnet.Dev, "root")
	e.pair.Server.Run(t, "tc", "qdisc", "del", "dev", testnet.Dev, "ingress")
	what, err := e.s.Verify()
	if err != nil || !strings.Contains(what, "root qdisc deleted") || !strings.Contains(what, "ingress qdisc deleted") {
		t.Fatalf("Verify: %q, %v", what, err)
	}
	if !strings.HasPrefix(e.rootQdisc(), "qdisc htb 7d0:") {
		t.Errorf("root not repaired: %q", e.rootQdisc())
	}
	before, _ := e.classStats(e.ifbDev(), 3)
	if _, err := e.pair.TCP(testnet.ServerIP4, 443, 100_000, 0, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.classStats(e.ifbDev(), 3); got < before+100_000 {
		t.Errorf("ingress not repaired: class saw %d bytes", got-before)
	}
	e.pair.Server.Run(t, "tc", "qdisc", "replace", "dev", testnet.Dev, "root", "pfifo")
	if what, err := e.s.Verify(); err != nil || !strings.Contains(what, "replaced by pfifo") {
		t.Fatalf("Verify: %q, %v", what, err)
	}
	// Another tool swaps the ingress qdisc for a clsact: the gate moves
	// onto the clsact's ingress hook, which stays when the limits go.
	e.pair.Server.Run(t, "tc", "qdisc", "del", "dev", testnet.Dev, "ingress")
	e.pair.Server.Run(t, "tc", "qdisc", "add", "dev", testnet.Dev, "clsact")
	if what, err := e.s.Verify(); err != nil || !strings.Contains(what, "ingress qdisc replaced by clsact") {
		t.Fatalf("Verify: %q, %v", what, err)
	}
	before, _ = e.classStats(e.ifbDev(), 3)
	if _, err := e.pair.TCP(testnet.ServerIP6, 443, 100_000, 0, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.classStats(e.ifbDev(), 3); got < before+100_000 {
		t.Errorf("ingress on the clsact not classified: class saw %d bytes", got-before)
	}

	e.apply()
	if got := e.rootQdisc(); got != original {
		t.Errorf("root after the restart and removal: %q, want %q", got, original)
	}
	if got := e.tc("qdisc", "show", "dev", testnet.Dev); !strings.Contains(got, "clsact") || strings.Count(got, "qdisc ") != 2 {
		t.Errorf("qdiscs after removal: %q, want the tbf and the other tool's clsact", got)
	}
	if got := e.tc("filter", "show", "dev", testnet.Dev, "ingress"); got != "" {
		t.Errorf("filters left on the clsact: %q", got)
	}
}

// TestCleanupRemovesOnlyOurs: Cleanup (dog-enforcer --cleanup) leaves the
// namespace as it was before the shaper, and keeps what others added to a
// shared ingress qdisc.
func TestCleanupRemovesOnlyOurs(t *testing.T) {
	e := newEnv(t)
	e.pair.Server.Run(t, "ip", "link", "add", "ifb-other", "type", "ifb")
	e.pair.Server.Run(t, "ip", "link", "add", IFBPrefix+"99", "type", "ifb") // our prefix, not our alias
	e.pair.Server.Run(t, "ip", "link", "add", "dummyish", "type", "veth", "peer", "name", "dummyish2")
	e.pair.Server.Run(t, "tc", "qdisc", "add", "dev", "dummyish", "root", "handle", "5:", "tbf", "rate", "1mbit", "burst", "10kb", "latency", "10ms")
	e.pair.Server.Run(t, "tc", "qdisc", "add", "dev", "dummyish", "ingress")
	pristine := e.tc("qdisc", "show") + e.server("ip", "-o", "link")
	if err := e.s.Apply(Desired{Interfaces: []string{testnet.Dev, "dummyish"}, Items: []Item{item("443", 1, 10e6, 10e6)}}); err != nil {
		t.Fatal(err)
	}
	// Someone else's filter on the ingress qdisc the shaper created.
	e.pair.Server.Run(t, "tc", "filter", "add", "dev", testnet.Dev, "ingress", "pref", "1", "protocol", "arp", "u32", "match", "u32", "0", "0")
	if err := Cleanup(e.pair.Server.Fd(), e.s.State(), logger()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.tc("filter", "show", "dev", testnet.Dev, "ingress"), "pref 1 ") {
		t.Errorf("cleanup removed someone else's filter")
	}
	e.pair.Server.Run(t, "tc", "qdisc", "del", "dev", testnet.Dev, "ingress")
	if got := e.tc("qdisc", "show") + e.server("ip", "-o", "link"); got != pristine {
		t.Errorf("after cleanup:\n%s\nwant\n%s", got, pristine)
	}
	if err := Cleanup(e.pair.Server.Fd(), nil, logger()); err != nil {
		t.Errorf("second cleanup: %v", err)
	}
}

// TestLinkSpeedOverNetlink: the speed comes from ethtool's generic netlink
// family (the systemd unit allows no AF_INET socket for the ioctl); a veth
// reports a fixed 10 Gbit/s, loopback none.
func TestLinkSpeedOverNetlink(t *testing.T) {
	e := newEnv(t)
	c, err := dial(e.pair.Server.Fd())
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	if mbit, err := c.ethtoolSpeed(testnet.Dev); err != nil || mbit != 10000 {
		t.Errorf("veth0: %d Mbit/s, %v; want 10000", mbit, err)
	}
	if got := linkSpeed(c, e.pair.Server.Fd(), "lo"); got != 0 {
		t.Errorf("lo: %d bit/s, want 0 (not reported)", got)
	}
}

// TestFailedSetupKeepsTheOldInterfaces: moving the limits to another
// interface where they cannot be set up (here: no IFB) changes nothing;
// the old interface stays shaped.
func TestFailedSetupKeepsTheOldInterfaces(t *testing.T) {
	e := newEnv(t)
	e.pair.Server.Run(t, "ip", "link", "add", "wan1", "type", "veth", "peer", "name", "wan1p")
	e.apply(item("443", 1, 10e6, 10e6))
	applied := e.tc("qdisc", "show")
	e.s.kinds.ifb = "ifb_missing"
	err := e.s.Apply(Desired{Interfaces: []string{"wan1"}, Items: []Item{item("443", 1, 10e6, 10e6)}})
	if err == nil || !strings.Contains(err.Error(), "ifb_missing") {
		t.Fatalf("err = %v", err)
	}
	if got := e.tc("qdisc", "show"); got != applied {
		t.Errorf("qdiscs after the failed move:\n%s\nwant\n%s", got, applied)
	}
	if !e.s.Egress(1) {
		t.Errorf("the old interface's class is no longer recorded")
	}
}

// TestVerifyRepairsARecreatedInterface: an interface deleted and created
// again (a VPN or PPP link coming back, an operator's ip link del/add)
// has lost the shaper's qdiscs. Verify once left that to "the next apply",
// which the enforcer never makes while the desired limits stay the same,
// so the limits were gone for good; Verify sets it up again.
func TestVerifyRepairsARecreatedInterface(t *testing.T) {
	e := newEnv(t)
	e.pair.Server.Run(t, "ip", "link", "add", "wan1", "type", "veth", "peer", "name", "wan1p")
	e.pair.Server.Run(t, "ip", "link", "set", "wan1", "up")
	d := Desired{Interfaces: []string{"wan1"}, Items: []Item{item("443", 1, 10e6, 10e6)}}
	if err := e.s.Apply(d); err != nil {
		t.Fatal(err)
	}
	e.pair.Server.Run(t, "ip", "link", "del", "wan1")
	e.pair.Server.Run(t, "ip", "link", "add", "wan1", "type", "veth", "peer", "name", "wan1p")
	e.pair.Server.Run(t, "ip", "link", "set", "wan1", "up")
	what, err := e.s.Verify()
	if err != nil || what == "" {
		t.Errorf("Verify after the interface was re-created: %q, %v", what, err)
	}
	if got := e.tc("qdisc", "show", "dev", "wan1", "root"); !strings.HasPrefix(got, "qdisc htb 7d0:") {
		t.Errorf("root of the re-created interface: %q", got)
	}
	if got := e.tc("class", "show", "dev", "wan1"); !strings.Contains(got, "class htb 7d0:1 ") {
		t.Errorf("classes of the re-created interface: %q", got)
	}
	if got := e.tc("filter", "show", "dev", "wan1", "ingress"); !strings.Contains(got, "mirred") {
		t.Errorf("no ingress gate on the re-created interface: %q", got)
	}
	if what, err := e.s.Verify(); what != "" || err != nil {
		t.Errorf("Verify after the repair: %q, %v", what, err)
	}
}

// link is the shaper's record of the test's interface.
func (e *env) link() *link {
	e.t.Helper()
	l := e.s.links[testnet.Dev]
	if l == nil {
		e.t.Fatalf("%s is not shaped", testnet.Dev)
	}
	return l
}

// markOut gives the server's packets from port the priority of the class
// of minor, as the enforcer's out chain does.
func (e *env) markOut(port, minor uint16) {
	e.t.Helper()
	testutil.RequireBinary(e.t, "nft")
	e.pair.Server.Run(e.t, "nft", fmt.Sprintf("add table inet shapertest; add chain inet shapertest out { type filter hook output priority 0; }; "+
		"add rule inet shapertest out tcp sport %d meta priority set %x:%x", port, layout.HTBMajor, minor))
}

// transfer times one TCP transfer of up bytes to port and down bytes back.
func (e *env) transfer(addr netip.Addr, port uint16, up, down int64) time.Duration {
	e.t.Helper()
	t0 := time.Now()
	if _, err := e.pair.TCP(addr, port, up, down, 20*time.Second); err != nil {
		e.t.Fatalf("transfer on port %d: %v", port, err)
	}
	return time.Since(t0)
}

// limited checks that a transfer of n bytes took at least 70% of the time
// rate (bits/s) allows, i.e. that the limit applied (unshaped, a veth moves
// it in milliseconds); want false: that it took less than a third of that.
func (e *env) limited(what string, took time.Duration, n int64, rate float64, want bool) {
	e.t.Helper()
	least := time.Duration(float64(n) * 8 / rate * float64(time.Second))
	if got := took >= least*7/10; got != want {
		e.t.Errorf("%s: %d bytes took %v; at the limit they take %v (limited: %v, want %v)", what, n, took, least, got, want)
	}
	if !want && took > least/3 {
		e.t.Errorf("%s: %d bytes took %v, want well under the limit's %v", what, n, took, least)
	}
}

// verifyRepairs runs Verify after damage by hand: it must name the damage
// (every want), and a second Verify must find nothing.
func (e *env) verifyRepairs(want ...string) {
	e.t.Helper()
	what, err := e.s.Verify()
	if err != nil {
		e.t.Fatalf("Verify: %q, %v", what, err)
	}
	for _, w := range want {
		if !strings.Contains(what, w) {
			e.t.Errorf("Verify: %q, want it to name %q", what, w)
		}
	}
	if what, err := e.s.Verify(); what != "" || err != nil {
		e.t.Errorf("Verify after the repair: %q, %v", what, err)
	}
}

// TestVerifyRepairsAnEgressClass: an item's egress class deleted or changed
// by hand (tc class del/change) left its downloads unlimited, or limited
// to another rate, until the next change of the limits: Verify checked
// only qdiscs. It puts the class back, at the item's rate, with its queue.
func TestVerifyRepairsAnEgressClass(t *testing.T) {
	e := newEnv(t)
	const rate, n = 16e6, 1 << 20
	e.apply(item("443", 1, 0, rate), item("80", 2, 10e6, 20e6))
	e.markOut(443, 1)
	e.limited("download before", e.transfer(testnet.ServerIP4, 443, 0, n), n, rate, true)

	e.pair.Server.Run(t, "tc", "class", "del", "dev", testnet.Dev, "classid", "7d0:1")
	e.limited("download with the class deleted", e.transfer(testnet.ServerIP4, 443, 0, n), n, rate, false)
	e.verifyRepairs("veth0: egress classes of 443 (7d0:1) deleted")
	if c := e.tc("class", "show", "dev", testnet.Dev, "classid", "7d0:1"); !strings.Contains(c, "rate 16Mbit ceil 16Mbit") {
		t.Errorf("class after the repair: %q", c)
	}
	if q := e.tc("qdisc", "show", "dev", testnet.Dev, "parent", "7d0:1"); !strings.Contains(q, "bfifo") {
		t.Errorf("queue of the class after the repair: %q", q)
	}
	e.limited("download after the repair", e.transfer(testnet.ServerIP4, 443, 0, n), n, rate, true)

	e.pair.Server.Run(t, "tc", "class", "change", "dev", testnet.Dev, "parent", "7d0:", "classid", "7d0:1", "htb", "rate", "1gbit")
	e.limited("download with the rate changed", e.transfer(testnet.ServerIP4, 443, 0, n), n, rate, false)
	e.verifyRepairs("veth0: egress classes of 443 (7d0:1) changed (rate 1 Gbit/s, ceil 1 Gbit/s; want 16 Mbit/s)")
	if c := e.tc("class", "show", "dev", testnet.Dev, "classid", "7d0:1"); !strings.Contains(c, "rate 16Mbit ceil 16Mbit") {
		t.Errorf("class after the repair: %q", c)
	}
	e.limited("download after the second repair", e.transfer(testnet.ServerIP4, 443, 0, n), n, rate, true)

	// A burst changed alone is a change too; the other item is untouched.
	before := e.tc("class", "show", "dev", testnet.Dev, "classid", "7d0:2")
	e.pair.Server.Run(t, "tc", "class", "change", "dev", testnet.Dev, "parent", "7d0:", "classid", "7d0:1", "htb", "rate", "16mbit", "burst", "3000")
	e.verifyRepairs("veth0: egress classes of 443 (7d0:1) changed")
	if after := e.tc("class", "show", "dev", testnet.Dev, "classid", "7d0:2"); after != before {
		t.Errorf("the other item's class changed:\n%s\nthen\n%s", before, after)
	}
}

// TestVerifyRepairsAClassQueue: a class's byte FIFO replaced by another
// queue, or deleted (the kernel then gives the class a default pfifo of
// txqueuelen packets, which no dump shows), still passes the class's rate,
// but holds seconds of it at a low rate, so uploads fall short of the
// limit. Verify puts the FIFO back, as it was, on the interface and on the
// IFB.
func TestVerifyRepairsAClassQueue(t *testing.T) {
	e := newEnv(t)
	e.apply(item("443", 1, 16e6, 16e6), item("80", 2, 10e6, 20e6))
	ifb := e.ifbDev()
	for _, c := range []struct {
		dev, dir string
		change   []string
	}{
		{testnet.Dev, "egress", []string{"replace", "dev", testnet.Dev, "parent", "7d0:1", "pfifo", "limit", "1000"}},
		{testnet.Dev, "egress", []string{"del", "dev", testnet.Dev, "parent", "7d0:1"}},
		{ifb, "ingress", []string{"replace", "dev", ifb, "parent", "7d0:1", "bfifo", "limit", "5000000"}},
	} {
		how := strings.Join(c.change, " ")
		queue := func(minor string) string {
			// The handle (third word) is the kernel's choice; the kind and
			// the limit are ours.
			f := strings.Fields(e.tc("qdisc", "show", "dev", c.dev, "parent", "7d0:"+minor))
			if len(f) > 2 {
				f[2] = ""
			}
			return strings.Join(f, " ")
		}
		want, other := queue("1"), queue("2")
		if !strings.Contains(want, "bfifo") {
			t.Fatalf("%s: queue of 7d0:1 before: %q", how, want)
		}
		e.tc(append([]string{"qdisc"}, c.change...)...)
		e.verifyRepairs("veth0: " + c.dir + " queues of 443 (7d0:1) changed")
		if got := queue("1"); got != want {
			t.Errorf("%s: queue of 7d0:1 after the repair: %q, want %q", how, got, want)
		}
		if got := queue("2"); got != other {
			t.Errorf("%s: the other item's queue changed: %q, was %q", how, got, other)
		}
	}
}

// TestVerifyRepairsIngressClassesAndFilters: on the IFB, a class in use by
// the classifier cannot be deleted, so its filters go first (tc filter del,
// then tc class del); a class changed in place and a filter of the gate
// deleted are the other cases. Each left the item's uploads unlimited
// until the next change of the limits; Verify sets them up again.
func TestVerifyRepairsIngressClassesAndFilters(t *testing.T) {
	e := newEnv(t)
	const rate, n = 16e6, 1 << 20
	e.apply(item("443", 1, rate, 0), item("80", 2, 10e6, 20e6))
	ifb, l := e.ifbDev(), e.link()
	e.limited("upload before", e.transfer(testnet.ServerIP4, 443, n, 0), n, rate, true)

	// The classifier's nodes of port 443 (TCP and UDP), then the class.
	node := func(t *tree, p int) string {
		return fmt.Sprintf("%x:%x:%x", htH2(t.gen, p, 0x01), 0xbb, 1) // 443 = 0x01bb: H2 of 0x01, bucket 0xbb
	}
	delNode := func(dev string, t *tree, p int) {
		parent := "7d0:"
		if t.gate {
			parent = "ffff:"
		}
		e.pair.Server.Run(e.t, "tc", "filter", "del", "dev", dev, "parent", parent, "protocol", "ip", "prio", fmt.Sprint(prioV4), "handle", node(t, p), "u32")
	}
	delNode(ifb, l.cls, 0)
	e.limited("upload with the classifier's node deleted", e.transfer(testnet.ServerIP4, 443, n, 0), n, rate, false)
	delNode(ifb, l.cls, 1)
	e.pair.Server.Run(t, "tc", "class", "del", "dev", ifb, "classid", "7d0:1")
	e.verifyRepairs("veth0: ingress classes of 443 (7d0:1) deleted", "u32 filters steering 443 (7d0:1) into their classes deleted")
	if c := e.tc("class", "show", "dev", ifb, "classid", "7d0:1"); !strings.Contains(c, "rate 16Mbit ceil 16Mbit") {
		t.Errorf("IFB class after the repair: %q", c)
	}
	e.limited("upload after the repair", e.transfer(testnet.ServerIP6, 443, n, 0), n, rate, true)

	e.pair.Server.Run(t, "tc", "class", "change", "dev", ifb, "parent", "7d0:", "classid", "7d0:1", "htb", "rate", "1gbit")
	e.limited("upload with the rate changed", e.transfer(testnet.ServerIP4, 443, n, 0), n, rate, false)
	e.verifyRepairs("veth0: ingress classes of 443 (7d0:1) changed (rate 1 Gbit/s, ceil 1 Gbit/s; want 16 Mbit/s)")
	e.limited("upload after the second repair", e.transfer(testnet.ServerIP4, 443, n, 0), n, rate, true)

	// The gate: a deleted node no longer sends port 443 to the IFB.
	delNode(testnet.Dev, l.gate, 0)
	e.limited("upload with the gate's node deleted", e.transfer(testnet.ServerIP4, 443, n, 0), n, rate, false)
	e.verifyRepairs("veth0: u32 filters steering 443 (7d0:1) to " + ifb + " deleted")
	e.limited("upload after the gate's repair", e.transfer(testnet.ServerIP4, 443, n, 0), n, rate, true)

	// A node changed to point to another class.
	e.pair.Server.Run(t, "tc", "filter", "change", "dev", ifb, "parent", "7d0:", "protocol", "ip", "prio", fmt.Sprint(prioV4),
		"handle", node(e.link().cls, 0), "u32", "ht", fmt.Sprintf("%x:%x", htH2(e.link().cls.gen, 0, 1), 0xbb),
		"match", "u32", "0x1bb", "0xffff", "at", "0", "flowid", "7d0:2")
	e.verifyRepairs("veth0: u32 filters steering 443 (7d0:1) into their classes changed")
	e.limited("upload after the third repair", e.transfer(testnet.ServerIP4, 443, n, 0), n, rate, true)

	// The IPv6 half of the gate gone: the ingress part is set up anew.
	e.pair.Server.Run(t, "tc", "filter", "del", "dev", testnet.Dev, "ingress", "protocol", "ipv6", "prio", fmt.Sprint(prioV6))
	e.limited("IPv6 upload with the gate's IPv6 filter deleted", e.transfer(testnet.ServerIP6, 443, n, 0), n, rate, false)
	e.verifyRepairs("veth0: the ingress gate: IPv6 u32 filter deleted")
	e.limited("IPv6 upload after the repair", e.transfer(testnet.ServerIP6, 443, n, 0), n, rate, true)
	e.limited("IPv4 upload after the repair", e.transfer(testnet.ServerIP4, 443, n, 0), n, rate, true)
}

// TestVerifyFindsNothingInOwnStates: Verify reports nothing after any
// apply: egress only, ingress only, ranges and groups, limits removed, a
// class whose last change failed (its parameters are unknown until the
// next apply replaces it).
func TestVerifyFindsNothingInOwnStates(t *testing.T) {
	e := newEnv(t)
	nothing := func(when string) {
		t.Helper()
		if what, err := e.s.Verify(); what != "" || err != nil {
			t.Errorf("Verify %s: %q, %v", when, what, err)
		}
	}
	for _, c := range []struct {
		when  string
		items []Item
	}{
		{"with egress limits only", []Item{item("443", 1, 0, 10e6)}},
		{"with ingress limits only", []Item{item("443", 1, 10e6, 0)}},
		{"with ranges and groups", []Item{item("443", 1, 10e6, 10e6), item("5000-5100", 2, 10e6, 0),
			item("8000,9000-9255,20000-28191", 3, 10e6, 5e6),
			{Ports: "7000-7007", Spec: portspec.Spec{{Lo: 7000, Hi: 7007}}, Protocols: config.UDP, Minor: 4, RateIn: 10e6}}},
		{"after a port change", []Item{item("444", 1, 10e6, 10e6)}},
		{"without limits", nil},
	} {
		e.apply(c.items...)
		nothing(c.when)
	}
	e.apply(item("443", 1, 10e6, 10e6))
	e.link().out[1] = classSpec{} // as a failed class replace leaves it
	nothing("with a class of unknown parameters")
}

// prunes checks a retired egress class of minor: it is kept and its minor
// reserved, but no packet is given its priority, Verify finds nothing, and
// Prune deletes it.
func (e *env) prunes(minor uint16) {
	e.t.Helper()
	if _, ok := e.classStats(testnet.Dev, minor); !ok || !e.s.Minors()[minor] || e.s.Egress(minor) {
		e.t.Errorf("retired class 7d0:%x: exists %v, Minors() has it %v, Egress %v; want it kept, reserved and not given to packets",
			minor, ok, e.s.Minors()[minor], e.s.Egress(minor))
	}
	if what, err := e.s.Verify(); what != "" || err != nil {
		e.t.Errorf("Verify with a class waiting for the prune: %q, %v", what, err)
	}
	if err := e.s.Prune(); err != nil {
		e.t.Fatal(err)
	}
	if _, ok := e.classStats(testnet.Dev, minor); ok || e.s.Minors()[minor] {
		e.t.Errorf("retired class 7d0:%x survived the prune", minor)
	}
}

// TestDroppedEgressClassWaitsForPrune: an item whose ports change is a new
// item with a new class. Its old egress class stays until Prune, which the
// enforcer calls once its nftables table no longer gives packets the old
// class's priority: deleted at the apply (as it was), those packets went
// unshaped in between. The IFB's old class goes at the apply: the u32
// trees, rebuilt first, no longer use it.
func TestDroppedEgressClassWaitsForPrune(t *testing.T) {
	e := newEnv(t)
	const rate, n = 16e6, 1 << 20
	e.apply(item("443", 1, rate, rate))
	e.markOut(443, 1) // the old out chain, until the table commit
	e.apply(item("443,444", 2, rate, rate))
	if _, ok := e.classStats(testnet.Dev, 1); !ok {
		t.Fatalf("the old egress class went before the table stopped using it")
	}
	e.limited("download through the old class", e.transfer(testnet.ServerIP4, 443, 0, n), n, rate, true)
	if _, ok := e.classStats(e.ifbDev(), 1); ok {
		t.Errorf("the old IFB class is still there")
	}
	e.prunes(1)

	// A class taken again before the prune stays.
	e.apply(item("443,444", 2, rate, rate), item("80", 3, 0, rate))
	e.apply(item("443,444", 2, rate, rate))
	e.apply(item("443,444", 2, rate, rate), item("80", 3, 0, rate))
	if err := e.s.Prune(); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.classStats(testnet.Dev, 3); !ok || !e.s.Egress(3) {
		t.Errorf("the prune deleted a class in use again")
	}
}

// TestRestartPrunesARetiredClass: the enforcer stopped between the apply
// that retired an egress class and the table commit after which Prune
// deletes it. The next run adopts the class, retires it at its first apply
// (its minor stays reserved: no new item gets it while the old table may
// still give packets its priority) and the Prune after its first table
// commit deletes it: nothing leaks.
func TestRestartPrunesARetiredClass(t *testing.T) {
	e := newEnv(t)
	const rate = 16e6
	e.apply(item("443", 1, rate, rate))
	e.apply(item("443,444", 2, rate, rate)) // the process stops before the prune

	s2 := New(e.pair.Server.Fd(), logger())
	s2.Restore(e.s.State())
	e.s = s2
	e.apply(item("443,444", 2, rate, rate))
	e.prunes(1)
	if _, ok := e.classStats(testnet.Dev, 2); !ok || !e.s.Egress(2) {
		t.Errorf("the prune took the item's own class")
	}
}

package enforcer

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/state"
	"port-traffic-dog/internal/testnet"
)

// measure runs traffic and returns the item's counted in/out bytes and the
// server veth's ground truth (L3 bytes) for the same interval.
func (r *rig) measure(id string, traffic func()) (in, out, rx, tx uint64) {
	r.t.Helper()
	c0 := Open(r)
	s0 := r.pair.Server.Stats(r.t, testnet.Dev)
	traffic()
	s1 := r.pair.Server.Stats(r.t, testnet.Dev)
	c1 := Open(r)
	rx, tx = s1.Sub(s0).L3()
	in = c1[layout.Counter(id, layout.In)].Sub(c0[layout.Counter(id, layout.In)]).Bytes
	out = c1[layout.Counter(id, layout.Out)].Sub(c0[layout.Counter(id, layout.Out)]).Bytes
	return
}

// within1pct asserts counted bytes match the veth's within 1%.
func within1pct(t *testing.T, what string, counted, truth uint64) {
	t.Helper()
	diff := int64(counted) - int64(truth)
	if diff < 0 {
		diff = -diff
	}
	if truth == 0 || float64(diff) > 0.01*float64(truth) {
		t.Errorf("%s: counted %d bytes, the veth saw %d (L3)", what, counted, truth)
	}
}

func TestCountingMatchesTheWire(t *testing.T) {
	r := newRig(t, `ports:
  - ports: "443"
  - ports: 5000-5100
  - ports: "7000,7100-7105"
  - ports: "5353"
    protocols: [udp]
  - ports: "8000"
    protocols: [tcp]
`)
	r.enforcer()
	tcp := func(addr netip.Addr, port uint16, up, down int64) func() {
		return func() {
			if _, err := r.pair.TCP(addr, port, up, down, 10*time.Second); err != nil {
				t.Fatalf("transfer to %d: %v", port, err)
			}
		}
	}
	for _, tc := range []struct {
		name string
		id   string
		run  func()
	}{
		{"single port", "p443", tcp(testnet.ServerIP4, 443, 300_000, 1_000_000)},
		{"range low edge", "p5000-5100", tcp(testnet.ServerIP4, 5000, 100_000, 200_000)},
		{"range high edge", "p5000-5100", tcp(testnet.ServerIP4, 5100, 100_000, 200_000)},
		{"group single member", "p7000_7100-7105", tcp(testnet.ServerIP4, 7000, 50_000, 80_000)},
		{"group range member", "p7000_7100-7105", tcp(testnet.ServerIP4, 7103, 50_000, 80_000)},
		{"IPv6", "p443", tcp(testnet.ServerIP6, 443, 200_000, 700_000)},
		{"UDP", "p5353", func() {
			if _, _, err := r.pair.UDP(testnet.ServerIP4, 5353, 200, 1200, 600, 10*time.Second); err != nil {
				t.Fatal(err)
			}
		}},
		{"UDP over IPv6", "p5353", func() {
			if _, _, err := r.pair.UDP(testnet.ServerIP6, 5353, 100, 1000, 100, 10*time.Second); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		in, out, rx, tx := r.measure(tc.id, tc.run)
		within1pct(t, tc.name+" in", in, rx)
		within1pct(t, tc.name+" out", out, tx)
	}

	// Ports just outside a range, and a protocol the item does not cover,
	// count nothing for the item (the host counters see them).
	for _, tc := range []struct {
		name string
		id   string
		run  func()
	}{
		{"below the range", "p5000-5100", tcp(testnet.ServerIP4, 4999, 10_000, 10_000)},
		{"above the range", "p5000-5100", tcp(testnet.ServerIP4, 5101, 10_000, 10_000)},
		{"between group members", "p7000_7100-7105", tcp(testnet.ServerIP4, 7099, 10_000, 10_000)},
		{"udp to a tcp-only item", "p8000", func() { r.pair.UDP(testnet.ServerIP4, 8000, 10, 500, 0, 2*time.Second) }},
		{"tcp to a udp-only item", "p5353", tcp(testnet.ServerIP4, 5353, 10_000, 10_000)},
	} {
		in, out, rx, _ := r.measure(tc.id, tc.run)
		if in != 0 || out != 0 || rx == 0 {
			t.Errorf("%s: item counted in %d out %d (veth rx %d)", tc.name, in, out, rx)
		}
	}
	host := Open(r)[layout.Counter(layout.HostID, layout.In)]
	if host.Bytes == 0 {
		t.Error("host counter counted nothing")
	}
}

// dnat is a router (the rig's server namespace) that DNATs its port 8080 to
// backend:5201, with the client routed through it.
type dnat struct {
	r       *rig
	router  *testnet.NS
	backend netip.Addr
	fwd     *testnet.Pair // client → backend, for TCPVia
}

func newDNAT(t *testing.T, config string) *dnat {
	r := newRig(t, config)
	router := r.pair.Server
	backend := testnet.NewNS(t, "b")
	routerIP, backendIP := netip.MustParseAddr("10.98.0.1"), netip.MustParseAddr("10.98.0.2")
	testnet.Link(t, router, "veth1", []netip.Prefix{netip.PrefixFrom(routerIP, 24)},
		backend, "veth0", []netip.Prefix{netip.PrefixFrom(backendIP, 24)})
	backend.Run(t, "ip", "route", "add", "default", "via", routerIP.String())
	r.pair.Client.Run(t, "ip", "route", "add", "10.98.0.0/24", "via", testnet.ServerIP4.String())
	router.Run(t, "nft", "add table ip nat; add chain ip nat pre { type nat hook prerouting priority dstnat; }; "+
		"add rule ip nat pre tcp dport 8080 dnat to "+backendIP.String()+":5201")
	return &dnat{r: r, router: router, backend: backendIP, fwd: &testnet.Pair{Client: r.pair.Client, Server: backend}}
}

func (n *dnat) setForwarding(on bool) {
	v := "0"
	if on {
		v = "1"
	}
	n.router.Run(n.r.t, "sysctl", "-qw", "net.ipv4.ip_forward="+v)
}

// transfer moves a DNAT connection and returns the counters' deltas and the
// router's veth to the client (ground truth, L3) over it.
func (n *dnat) transfer() (c0, c1 map[string]state.Counter, rx, tx uint64) {
	t := n.r.t
	t.Helper()
	c0 = Open(n.r)
	s0 := n.router.Stats(t, testnet.Dev)
	if _, err := n.fwd.TCPVia(testnet.ServerIP4, 8080, n.backend, 5201, 200_000, 600_000, 10*time.Second); err != nil {
		t.Fatalf("DNAT transfer: %v\n%s", err, n.router.Nft("list", "ruleset"))
	}
	s1 := n.router.Stats(t, testnet.Dev)
	rx, tx = s1.Sub(s0).L3()
	return c0, Open(n.r), rx, tx
}

func delta(c0, c1 map[string]state.Counter, id string, d layout.Direction) uint64 {
	return c1[layout.Counter(id, d)].Sub(c0[layout.Counter(id, d)]).Bytes
}

// TestCountsDNATForwardByOriginalPort: a client connects to router:8080,
// which DNATs to backend:5201. The router's enforcer counts the forwarded
// connection under 8080, once: in = what the client sent, out = the replies.
func TestCountsDNATForwardByOriginalPort(t *testing.T) {
	n := newDNAT(t, "ports:\n  - ports: \"8080\"\n  - ports: \"5201\"\n")
	n.setForwarding(true)
	n.r.enforcer()
	c0, c1, rx, tx := n.transfer()
	within1pct(t, "forwarded in", delta(c0, c1, "p8080", layout.In), rx)
	within1pct(t, "forwarded out", delta(c0, c1, "p8080", layout.Out), tx)
	if b := delta(c0, c1, "p5201", layout.In) + delta(c0, c1, "p5201", layout.Out); b != 0 {
		t.Errorf("the backend port 5201 counted %d bytes on the router: forwarded traffic counted twice", b)
	}
	// The host counts a forwarded packet in both directions, as the uplink does.
	if h := delta(c0, c1, layout.HostID, layout.In); h < rx {
		t.Errorf("host in %d < forwarded bytes %d", h, rx)
	}
}

// forwardChain tells whether the router's table has the forward hook's
// chain, and whether the table has any conntrack expression.
func (n *dnat) forwardChain() (chain, ct bool) {
	out := n.router.Nft("list", "table", "inet", layout.Table)
	return strings.Contains(out, "chain forward"), strings.Contains(out, " ct ")
}

// TestForwardedCountingFollowsIPForward: with count_forwarded: auto the
// running enforcer adds the forward chain (conntrack) within 2 s of the
// host starting to forward, counting DNAT traffic byte-exact, and removes
// it within 2 s of forwarding stopping, at its default 1 s tick.
func TestForwardedCountingFollowsIPForward(t *testing.T) {
	n := newDNAT(t, "ports:\n  - ports: \"8080\"\n")
	n.setForwarding(false)
	e := n.r.enforcer(func(o *Options) { o.TickInterval = time.Second })
	n.r.run(e)
	if chain, ct := n.forwardChain(); chain || ct {
		t.Fatalf("a host that does not forward got the forward chain (%v) or conntrack (%v)", chain, ct)
	}
	for round := 0; round < 2; round++ {
		n.setForwarding(true)
		testnet.WaitFor(t, 2*time.Second, "the forward chain after ip_forward=1", func() bool {
			chain, ct := n.forwardChain()
			return chain && ct
		})
		c0, c1, rx, tx := n.transfer()
		within1pct(t, "forwarded in", delta(c0, c1, "p8080", layout.In), rx)
		within1pct(t, "forwarded out", delta(c0, c1, "p8080", layout.Out), tx)
		n.setForwarding(false)
		testnet.WaitFor(t, 2*time.Second, "the forward chain gone after ip_forward=0", func() bool {
			chain, ct := n.forwardChain()
			return !chain && !ct
		})
	}
}

// TestCountForwardedFixed: true keeps the forward chain on a host that does
// not forward; false leaves forwarded traffic alone on one that does: it
// flows, uncounted by item, without conntrack from this table.
func TestCountForwardedFixed(t *testing.T) {
	on := newDNAT(t, "count_forwarded: true\nports:\n  - ports: \"8080\"\n")
	on.setForwarding(false)
	on.r.enforcer()
	if chain, ct := on.forwardChain(); !chain || !ct {
		t.Errorf("count_forwarded: true without forwarding: forward chain %v, conntrack %v", chain, ct)
	}

	off := newDNAT(t, "count_forwarded: false\nports:\n  - ports: \"8080\"\n")
	off.setForwarding(true)
	off.r.enforcer()
	if chain, ct := off.forwardChain(); chain || ct {
		t.Errorf("count_forwarded: false on a forwarding host: forward chain %v, conntrack %v", chain, ct)
	}
	c0, c1, rx, _ := off.transfer()
	if b := delta(c0, c1, "p8080", layout.In) + delta(c0, c1, "p8080", layout.Out); b != 0 || rx == 0 {
		t.Errorf("count_forwarded: false: item counted %d forwarded bytes (router saw %d)", b, rx)
	}
}

package enforcer

import (
	"net/netip"
	"testing"
	"time"

	"port-traffic-dog/internal/layout"
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

// TestCountsDNATForwardByOriginalPort: a client connects to router:8080,
// which DNATs to backend:5201. The router's enforcer counts the forwarded
// connection under 8080, once: in = what the client sent, out = the replies.
func TestCountsDNATForwardByOriginalPort(t *testing.T) {
	r := newRig(t, "ports:\n  - ports: \"8080\"\n  - ports: \"5201\"\n")
	router := r.pair.Server
	backend := testnet.NewNS(t, "b")
	routerIP, backendIP := netip.MustParseAddr("10.98.0.1"), netip.MustParseAddr("10.98.0.2")
	testnet.Link(t, router, "veth1", []netip.Prefix{netip.PrefixFrom(routerIP, 24)},
		backend, "veth0", []netip.Prefix{netip.PrefixFrom(backendIP, 24)})
	backend.Run(t, "ip", "route", "add", "default", "via", routerIP.String())
	router.Run(t, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	r.pair.Client.Run(t, "ip", "route", "add", "10.98.0.0/24", "via", testnet.ServerIP4.String())
	router.Run(t, "nft", "add table ip nat; add chain ip nat pre { type nat hook prerouting priority dstnat; }; "+
		"add rule ip nat pre tcp dport 8080 dnat to "+backendIP.String()+":5201")
	r.enforcer()

	// The backend listens; the client dials the router's 8080.
	fwd := &testnet.Pair{Client: r.pair.Client, Server: backend}
	c0 := Open(r)
	s0 := router.Stats(t, testnet.Dev)
	if _, err := fwd.TCPVia(testnet.ServerIP4, 8080, backendIP, 5201, 200_000, 600_000, 10*time.Second); err != nil {
		t.Fatalf("DNAT transfer: %v\n%s", err, router.Nft("list", "ruleset"))
	}
	s1 := router.Stats(t, testnet.Dev)
	c1 := Open(r)
	rx, tx := s1.Sub(s0).L3()
	delta := func(id string, d layout.Direction) uint64 {
		return c1[layout.Counter(id, d)].Sub(c0[layout.Counter(id, d)]).Bytes
	}
	within1pct(t, "forwarded in", delta("p8080", layout.In), rx)
	within1pct(t, "forwarded out", delta("p8080", layout.Out), tx)
	if n := delta("p5201", layout.In) + delta("p5201", layout.Out); n != 0 {
		t.Errorf("the backend port 5201 counted %d bytes on the router: forwarded traffic counted twice", n)
	}
	// The host counts a forwarded packet in both directions, as the uplink does.
	if h := c1[layout.Counter(layout.HostID, layout.In)].Sub(c0[layout.Counter(layout.HostID, layout.In)]); h.Bytes < rx {
		t.Errorf("host in %d < forwarded bytes %d", h.Bytes, rx)
	}
}

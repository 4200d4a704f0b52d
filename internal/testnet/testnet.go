// Package testnet builds the throw-away network the data-plane tests run on:
// network namespaces joined by a veth pair, with IPv4 and IPv6 addresses and
// static neighbours (so no ARP or neighbour discovery disturbs byte counts),
// and helpers to move exact amounts of real TCP and UDP traffic between them.
// Everything is removed in t.Cleanup, also when the test fails.
package testnet

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"port-traffic-dog/internal/testutil"
)

// Addresses of every pair: each pair lives in its own namespaces, so pairs
// of concurrent tests never collide.
var (
	ClientIP4 = netip.MustParseAddr("10.99.0.1")
	ServerIP4 = netip.MustParseAddr("10.99.0.2")
	ClientIP6 = netip.MustParseAddr("fd99::1")
	ServerIP6 = netip.MustParseAddr("fd99::2")
)

// NS is a named network namespace the test created.
type NS struct {
	Name   string
	handle netns.NsHandle
}

// Fd is a file descriptor of the namespace, for netlink sockets opened in it.
func (n *NS) Fd() int { return int(n.handle) }

// Pair is a client and a server namespace joined by a veth pair: the client
// end is "veth0" in the client namespace, the server end "veth0" in the server.
type Pair struct {
	Client, Server *NS
	t              testing.TB
}

// Dev is the veth end's name in each namespace.
const Dev = "veth0"

func randSuffix() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// NewNS creates an empty namespace with loopback up, deleted at cleanup.
func NewNS(t testing.TB, role string) *NS {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "ip")
	name := "dogt-" + randSuffix() + "-" + role
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	h, err := netns.GetFromName(name)
	if err != nil {
		t.Fatalf("open namespace %s: %v", name, err)
	}
	t.Cleanup(func() { h.Close() })
	ns := &NS{Name: name, handle: h}
	ns.Run(t, "ip", "link", "set", "lo", "up")
	// No router advertisements or DAD: nothing but the test's traffic.
	// The multicast listener reports of a link coming up cannot be turned
	// off; their interval of 1 ms (default 1 s, at random) sends them all
	// at once, before Link returns, instead of into a test's measurement
	// (two 96-byte reports a side, up to a second after the link came up).
	ns.Run(t, "sysctl", "-qw", "net.ipv6.conf.all.accept_ra=0", "net.ipv6.conf.default.accept_ra=0",
		"net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0",
		"net.ipv6.conf.all.mldv1_unsolicited_report_interval=1", "net.ipv6.conf.default.mldv1_unsolicited_report_interval=1",
		"net.ipv6.conf.all.mldv2_unsolicited_report_interval=1", "net.ipv6.conf.default.mldv2_unsolicited_report_interval=1")
	return ns
}

// NewPair creates the client and server namespaces and the veth between them.
func NewPair(t testing.TB) *Pair {
	t.Helper()
	p := &Pair{Client: NewNS(t, "c"), Server: NewNS(t, "s"), t: t}
	Link(t, p.Client, Dev, []netip.Prefix{netip.PrefixFrom(ClientIP4, 24), netip.PrefixFrom(ClientIP6, 64)},
		p.Server, Dev, []netip.Prefix{netip.PrefixFrom(ServerIP4, 24), netip.PrefixFrom(ServerIP6, 64)})
	return p
}

// Link joins namespaces a and b with a veth pair named devA in a and devB in
// b, gives each end its addresses and each side a permanent neighbour entry
// for the other's addresses (no ARP or neighbour discovery in the counts).
func Link(t testing.TB, a *NS, devA string, addrsA []netip.Prefix, b *NS, devB string, addrsB []netip.Prefix) {
	t.Helper()
	tmp := "dogv" + randSuffix()
	run(t, "ip", "link", "add", tmp+"a", "netns", a.Name, "type", "veth", "peer", "name", tmp+"b", "netns", b.Name)
	a.Run(t, "ip", "link", "set", tmp+"a", "name", devA)
	b.Run(t, "ip", "link", "set", tmp+"b", "name", devB)
	for _, side := range []struct {
		ns    *NS
		dev   string
		addrs []netip.Prefix
	}{{a, devA, addrsA}, {b, devB, addrsB}} {
		for _, p := range side.addrs {
			args := []string{"ip", "addr", "add", p.String(), "dev", side.dev}
			if p.Addr().Is6() {
				args = append(args, "nodad")
			}
			side.ns.Run(t, args...)
		}
		side.ns.Run(t, "ip", "link", "set", side.dev, "up")
	}
	macA, macB := a.MAC(t, devA), b.MAC(t, devB)
	for _, n := range []struct {
		ns    *NS
		dev   string
		peer  []netip.Prefix
		lladr string
	}{{a, devA, addrsB, macB}, {b, devB, addrsA, macA}} {
		for _, p := range n.peer {
			n.ns.Run(t, "ip", "neigh", "replace", p.Addr().String(), "lladdr", n.lladr, "dev", n.dev, "nud", "permanent")
		}
	}
	quiet(t, []*NS{a, b}, []string{devA, devB})
}

// quiet waits until the devs (devs[i] in nss[i]) have sent nothing for
// 20 ms: the links' listener reports are out, and what they count from now
// on is the test's.
func quiet(t testing.TB, nss []*NS, devs []string) {
	t.Helper()
	sent := func() (n uint64) {
		for i, ns := range nss {
			n += ns.Stats(t, devs[i]).TxPackets
		}
		return n
	}
	last := sent()
	for still, deadline := time.Duration(0), time.Now().Add(2*time.Second); still < 20*time.Millisecond && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
		if n := sent(); n != last {
			last, still = n, 0
			continue
		}
		still += 5 * time.Millisecond
	}
}

// link looks a link up by name inside the namespace.
func (n *NS) link(t testing.TB, dev string) netlink.Link {
	t.Helper()
	h, err := netlink.NewHandleAt(n.handle)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	l, err := h.LinkByName(dev)
	if err != nil {
		t.Fatalf("%s in %s: %v", dev, n.Name, err)
	}
	return l
}

// MAC returns a link's hardware address.
func (n *NS) MAC(t testing.TB, dev string) string {
	t.Helper()
	return n.link(t, dev).Attrs().HardwareAddr.String()
}

// LinkStats are a link's own counters.
type LinkStats struct {
	RxBytes, TxBytes, RxPackets, TxPackets uint64
}

// L3 converts link counters to IP bytes, as netfilter counts them: a veth
// frame carries a 14-byte Ethernet header.
func (s LinkStats) L3() (rx, tx uint64) {
	return s.RxBytes - 14*s.RxPackets, s.TxBytes - 14*s.TxPackets
}

// Sub is s - o.
func (s LinkStats) Sub(o LinkStats) LinkStats {
	return LinkStats{s.RxBytes - o.RxBytes, s.TxBytes - o.TxBytes, s.RxPackets - o.RxPackets, s.TxPackets - o.TxPackets}
}

// Stats reads a link's counters.
func (n *NS) Stats(t testing.TB, dev string) LinkStats {
	t.Helper()
	s := n.link(t, dev).Attrs().Statistics
	return LinkStats{s.RxBytes, s.TxBytes, s.RxPackets, s.TxPackets}
}

// Run runs a command inside the namespace and fails the test if it fails.
func (n *NS) Run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := n.Output(args...)
	if err != nil {
		t.Fatalf("in %s: %s: %v\n%s", n.Name, strings.Join(args, " "), err, out)
	}
	return out
}

// Output runs a command inside the namespace and returns its combined output.
func (n *NS) Output(args ...string) (string, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.Name}, args...)...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	return buf.String(), err
}

// Command returns an unstarted command that runs inside the namespace.
func (n *NS) Command(args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Name}, args...)...)
}

// Start starts a background command in the namespace, killed at cleanup.
func (n *NS) Start(t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	cmd := n.Command(args...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v in %s: %v", args, n.Name, err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		if t.Failed() && buf.Len() > 0 {
			t.Logf("output of %v:\n%s", args, buf.String())
		}
	})
	return cmd
}

// Do runs f with the calling goroutine's thread switched into the
// namespace. Sockets created in f stay in the namespace and can be used from
// any goroutine afterwards.
func (n *NS) Do(f func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer orig.Close()
	if err := netns.Set(n.handle); err != nil {
		return fmt.Errorf("enter %s: %w", n.Name, err)
	}
	defer netns.Set(orig)
	return f()
}

// Nft returns `nft list table …` output for failure messages (the nft CLI is
// optional: tests only use it to show the ruleset).
func (n *NS) Nft(args ...string) string {
	if _, err := exec.LookPath("nft"); err != nil {
		return "(nft not installed)"
	}
	out, _ := n.Output(append([]string{"nft"}, args...)...)
	return out
}

func run(t testing.TB, args ...string) {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// WaitFor polls cond until it holds or the timeout passes.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func init() {
	// `ip netns exec` needs /run/netns; create it so the first test does not
	// race others creating it.
	os.MkdirAll("/run/netns", 0o755)
}

// HTTPClient returns a client whose connections are opened inside the
// namespace, to reach a server listening on an address only that namespace
// can route to.
func (n *NS) HTTPClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (c net.Conn, err error) {
			err = n.Do(func() error {
				var d net.Dialer
				c, err = d.DialContext(ctx, network, addr)
				return err
			})
			return c, err
		},
		DisableKeepAlives: true,
	}}
}

// Forward listens on a free loopback port of the test's own namespace and
// relays every connection to addr as seen from inside n (e.g. a server on
// n's loopback). It lets processes outside the namespace, such as a
// Prometheus the test started, reach a server inside it. It stops at
// cleanup.
func (n *NS) Forward(t testing.TB, addr string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				var up net.Conn
				if err := n.Do(func() (err error) { up, err = net.DialTimeout("tcp", addr, 5*time.Second); return }); err != nil {
					return
				}
				defer up.Close()
				done := make(chan struct{}, 2)
				go func() { io.Copy(up, c); done <- struct{}{} }()
				go func() { io.Copy(c, up); done <- struct{}{} }()
				<-done
			}()
		}
	}()
	return ln.Addr().String()
}

package enforcer

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/nftread"
	"port-traffic-dog/internal/testnet"
	"port-traffic-dog/internal/testutil"
)

// segment is the largest packet the quota can see in these tests: the veth
// MTU, once segmentation offload is off (see oneSegmentPerPacket).
const segment = 1500

// blockBound is how long the enforcer may take to block an item's other
// direction after the kernel quota ran out. It learns it from the kernel's
// quota notification within milliseconds; the bound is generous for a
// loaded CI machine, and far below the checkpoint interval (1h in these
// tests), so the notification path is what it tests.
const blockBound = 3 * time.Second

// oneSegmentPerPacket makes every TCP packet one MTU-sized segment on both
// veth ends. With segmentation offload a packet is a GSO super-packet of up
// to 64 KiB when netfilter sees it; the quota is exact to one packet either
// way, but only this makes "one packet" mean "one TCP segment".
func (r *rig) oneSegmentPerPacket() {
	r.t.Helper()
	for _, ns := range []*testnet.NS{r.pair.Client, r.pair.Server} {
		ns.Run(r.t, "ip", "link", "set", testnet.Dev, "gso_max_segs", "1")
	}
}

// strays counts, from now on, the packets of the server's own stack that
// are no test's traffic: IPv6 multicast listener reports (all ICMPv6;
// static neighbours leave nothing else), of which testnet has a new link
// send its own before the test begins, and any a later join sends. They
// are counted in a table of the test's own and returned as IP bytes in and
// out, so bounds can account for them exactly.
func (r *rig) strays() func() (in, out uint64) {
	r.t.Helper()
	testutil.RequireBinary(r.t, "nft")
	r.pair.Server.Run(r.t, "nft", `add table inet dogtest
		add counter inet dogtest icmp6_in
		add counter inet dogtest icmp6_out
		add chain inet dogtest in { type filter hook input priority -300; }
		add chain inet dogtest out { type filter hook output priority -300; }
		add rule inet dogtest in iifname `+testnet.Dev+` meta l4proto ipv6-icmp counter name icmp6_in
		add rule inet dogtest out oifname `+testnet.Dev+` meta l4proto ipv6-icmp counter name icmp6_out
		add counter inet dogtest other_out
		add rule inet dogtest out oifname `+testnet.Dev+` meta l4proto { tcp, udp } th sport != 443 counter name other_out
		add rule inet dogtest out oifname `+testnet.Dev+` meta l4proto != { tcp, udp, ipv6-icmp } counter name other_out`)
	return func() (in, out uint64) {
		r.t.Helper()
		objs, err := nftread.Read(r.pair.Server.Fd(), "dogtest")
		if err != nil {
			r.t.Fatalf("read the stray counters: %v", err)
		}
		return objs.Counters["icmp6_in"].Bytes, objs.Counters["icmp6_out"].Bytes
	}
}

// counters returns an item's counters as the kernel has them now.
func (r *rig) counters(id string) (in, out uint64) {
	r.t.Helper()
	c := Open(r)
	return c[layout.Counter(id, layout.In)].Bytes, c[layout.Counter(id, layout.Out)].Bytes
}

// quiesce waits until the item's counters stop moving: a transfer's last
// segments (the closing FIN and ACK) may still be under way when it returns.
func (r *rig) quiesce(id string) {
	r.t.Helper()
	in0, out0 := r.counters(id)
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		in, out := r.counters(id)
		if in == in0 && out == out0 {
			return
		}
		in0, out0 = in, out
	}
	r.t.Fatalf("the counters of %s keep moving", id)
}

// quotaDepleted reports whether any quota object of the item has run out.
func (r *rig) quotaDepleted(id string) bool {
	r.t.Helper()
	objs, err := nftConn(r.pair.Server.Fd()).ReadObjects()
	if err != nil {
		r.t.Fatalf("read quotas: %v", err)
	}
	for name, q := range objs.Quotas {
		if owner, ok := layout.QuotaOwner(name); ok && owner == id && q.Depleted() {
			return true
		}
	}
	return false
}

// blocked returns the item's (ports spec or "host") block reason per the
// enforcer's status: "", "quota" or "expired".
func blocked(t *testing.T, e *Enforcer, ports string) string {
	t.Helper()
	st, err := e.Status()
	if err != nil {
		t.Fatal(err)
	}
	if ports == "host" {
		return st.Host.Blocked
	}
	for _, it := range st.Items {
		if it.Ports == ports {
			return it.Blocked
		}
	}
	t.Fatalf("no item %q in the status", ports)
	return ""
}

// within1Segment asserts that the bytes that got through are below what the
// mode allows and at most one packet (the one that crossed the limit and was
// dropped) short of it.
func within1Segment(t *testing.T, what string, passed, allowed uint64) {
	t.Helper()
	if passed >= allowed || passed+segment < allowed {
		t.Errorf("%s: %d bytes got through, the mode allows %d: want %d..%d", what, passed, allowed, allowed-segment, allowed-1)
	} else {
		t.Logf("%s: %d bytes got through of %d allowed (%d short)", what, passed, allowed, allowed-passed)
	}
}

// tcpServer accepts connections on a port of the server namespace for the
// whole test, so connections made before and after a block go to one
// listener.
type tcpServer struct {
	r     *rig
	addr  string
	conns chan net.Conn
}

func (r *rig) serve(port uint16) *tcpServer {
	r.t.Helper()
	s := &tcpServer{r: r, addr: netip.AddrPortFrom(testnet.ServerIP4, port).String(), conns: make(chan net.Conn, 16)}
	var ln net.Listener
	if err := r.pair.Server.Do(func() (err error) { ln, err = net.Listen("tcp", s.addr); return }); err != nil {
		r.t.Fatal(err)
	}
	go func() {
		defer close(s.conns)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns <- c
		}
	}()
	r.t.Cleanup(func() {
		ln.Close()
		for c := range s.conns {
			c.Close()
		}
	})
	return s
}

// dial opens a connection from the client namespace. It fails when the
// item is blocked: the SYN is dropped.
func (s *tcpServer) dial(timeout time.Duration) (client, server net.Conn, err error) {
	err = s.r.pair.Client.Do(func() (err error) {
		d := net.Dialer{Timeout: timeout}
		client, err = d.Dial("tcp", s.addr)
		return
	})
	if err != nil {
		return nil, nil, err
	}
	select {
	case server = <-s.conns:
	case <-time.After(timeout):
		client.Close()
		return nil, nil, errors.New("connected but not accepted")
	}
	s.r.t.Cleanup(func() { client.Close(); server.Close() })
	return client, server, nil
}

// mustDial is dial for connections that must work.
func (s *tcpServer) mustDial() (client, server net.Conn) {
	s.r.t.Helper()
	c, srv, err := s.dial(5 * time.Second)
	if err != nil {
		s.r.t.Fatalf("connect to %s: %v", s.addr, err)
	}
	return c, srv
}

// exchange sends n bytes each way over an established connection and
// reports whether they arrived within timeout.
func exchange(client, server net.Conn, n int, timeout time.Duration) error {
	var errs [2]error
	var wg sync.WaitGroup
	for i, p := range [][2]net.Conn{{client, server}, {server, client}} {
		wg.Add(2)
		go func() {
			defer wg.Done()
			p[0].SetWriteDeadline(time.Now().Add(timeout))
			p[0].Write(make([]byte, n))
		}()
		go func() {
			defer wg.Done()
			p[1].SetReadDeadline(time.Now().Add(timeout))
			got, err := io.ReadFull(p[1], make([]byte, n))
			if err != nil {
				errs[i] = fmt.Errorf("%s: %d of %d bytes arrived: %w", []string{"to the server", "to the client"}[i], got, n, err)
			}
		}()
	}
	wg.Wait()
	for _, c := range []net.Conn{client, server} {
		c.SetDeadline(time.Time{})
	}
	return errors.Join(errs[:]...)
}

// exhaust sends as fast as it can over a new connection to srv, in
// direction d (out: the server sends), until the item's kernel quota runs
// out, then waits for the enforcer to block the item (both directions) and
// closes the connection.
func (r *rig) exhaust(e *Enforcer, srv *tcpServer, ports, id string, d layout.Direction) {
	r.t.Helper()
	c, s := srv.mustDial()
	sender, receiver := c, s
	if d == layout.Out {
		sender, receiver = s, c
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		buf := make([]byte, 16<<10)
		for {
			if _, err := sender.Write(buf); err != nil {
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		io.Copy(io.Discard, receiver)
	}()
	defer func() {
		// Reset, not close: a closed socket would keep retransmitting its
		// unsent data and send it once the item is unblocked.
		c.(*net.TCPConn).SetLinger(0)
		s.(*net.TCPConn).SetLinger(0)
		c.Close()
		s.Close()
		wg.Wait()
	}()
	testnet.WaitFor(r.t, 20*time.Second, "the kernel quota of "+ports+" to run out", func() bool { return r.quotaDepleted(id) })
	ran := time.Now()
	testnet.WaitFor(r.t, blockBound, "the enforcer to block "+ports, func() bool { return blocked(r.t, e, ports) == "quota" })
	r.t.Logf("%s: blocked %s after the kernel quota ran out", ports, time.Since(ran).Round(time.Millisecond))
}

// assertBlocked checks that nothing of the item passes either way: an
// established connection carries nothing in either direction, a new one
// cannot be opened, and the item's counters do not move.
func (r *rig) assertBlocked(srv *tcpServer, id string, client, server net.Conn) {
	r.t.Helper()
	in0, out0 := r.counters(id)
	err := exchange(client, server, 100, 300*time.Millisecond)
	var errs interface{ Unwrap() []error }
	if !errors.As(err, &errs) || len(errs.Unwrap()) != 2 {
		r.t.Errorf("%s: an established connection still carries data: %v", srv.addr, err)
	}
	if _, _, err := srv.dial(300 * time.Millisecond); err == nil {
		r.t.Errorf("%s: a new connection was opened", srv.addr)
	}
	if in1, out1 := r.counters(id); in1 != in0 || out1 != out0 {
		r.t.Errorf("%s: blocked, yet %d bytes in and %d out passed", srv.addr, in1-in0, out1-out0)
	}
}

// quotaConfig is a config with one item under test on 443 and a bystander
// on 8080. The checkpoint interval is long so that blocking has to come
// from the kernel's quota notification, not from the periodic read.
func quotaConfig(item string) string {
	return `checkpoint_interval: 1h
timezone: UTC
ports:
  - ports: "443"
` + item + `
  - ports: "8080"
`
}

func TestQuotaPerBillingMode(t *testing.T) {
	const q = 300_000
	for _, tc := range []struct {
		mode string
		// pre is sent before the exhausting transfer, in the direction the
		// mode does not charge or charges differently: up to the server
		// (in), down to the client (out).
		preUp, preDown int64
		dir            layout.Direction // of the exhausting transfer
		// charged is what the mode counts against the quota, in real bytes
		// (relay's shared quota is N/2 real bytes).
		charged func(in, out uint64) uint64
		allowed uint64
	}{
		{"out", 150_000, 0, layout.Out, func(in, out uint64) uint64 { return out }, q},
		{"in", 0, 150_000, layout.In, func(in, out uint64) uint64 { return in }, q},
		{"sum", 100_000, 0, layout.Out, func(in, out uint64) uint64 { return in + out }, q},
		// 200 KB in leaves 100 KB under sum; max charges only the larger side.
		{"max", 200_000, 0, layout.Out, func(in, out uint64) uint64 { return max(in, out) }, q},
		{"relay", 50_000, 0, layout.Out, func(in, out uint64) uint64 { return in + out }, q / 2},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			r := newRig(t, quotaConfig(fmt.Sprintf("    quota: %dB\n    billing: %s", q, tc.mode)))
			r.oneSegmentPerPacket()
			strays := r.strays()
			e := r.enforcer()
			r.run(e)
			wire0 := r.pair.Server.Stats(t, testnet.Dev)
			// From here on, as the wire is: a listener report sent between
			// the strays table and wire0 counted in one and not the other.
			_, strayOut0 := strays()

			r.tcp(443, tc.preUp, tc.preDown)
			srv := r.serve(443)
			estC, estS := srv.mustDial() // established before the block
			r.exhaust(e, srv, "443", "p443", tc.dir)

			in, out := r.counters("p443")
			within1Segment(t, tc.mode, tc.charged(in, out), tc.allowed)
			if tc.mode == "max" && in >= q {
				t.Errorf("max: %d bytes in passed, over the quota of %d", in, q)
			}
			// The counters are what really passed: what left the server's
			// veth is the item's out bytes and the stack's own strays.
			_, tx := r.pair.Server.Stats(t, testnet.Dev).Sub(wire0).L3()
			_, strayOut := strays()
			if strayOut -= strayOut0; tx != out+strayOut {
				// What else left names the culprit.
				other := "unknown"
				if objs, err := nftread.Read(r.pair.Server.Fd(), "dogtest"); err == nil {
					other = fmt.Sprint(objs.Counters["other_out"].Bytes)
				}
				t.Errorf("veth sent %d bytes (L3), the item counted %d out, strays %d; sent since the strays table, neither from port 443 nor ICMPv6: %s bytes",
					tx, out, strayOut, other)
			}

			r.assertBlocked(srv, "p443", estC, estS)
			if got := blocked(t, e, "443"); got != "quota" {
				t.Errorf("status: blocked %q", got)
			}
			// Other items are not affected.
			r.tcp(8080, 100_000, 100_000)
			// The enforcer's own changes are not taken for another tool's.
			if st, _ := e.Status(); st.Stats.Repairs != 0 {
				t.Errorf("%d repairs of a table nobody else touched", st.Stats.Repairs)
			}
		})
	}
}

// TestQuotaUDP: a UDP item stops within one datagram of its quota, then
// drops datagrams both ways.
func TestQuotaUDP(t *testing.T) {
	const q, payload = 300_000, 1000
	const datagram = payload + 28 // IPv4 + UDP headers: what the quota counts
	r := newRig(t, `checkpoint_interval: 1h
ports:
  - ports: "5353"
    protocols: [udp]
    quota: 300000B
    billing: in
  - ports: "8080"
`)
	e := r.enforcer()
	r.run(e)
	var srv, cli net.PacketConn
	srvAddr := net.UDPAddrFromAddrPort(netip.AddrPortFrom(testnet.ServerIP4, 5353))
	cliAddr := net.UDPAddrFromAddrPort(netip.AddrPortFrom(testnet.ClientIP4, 40000))
	if err := r.pair.Server.Do(func() (err error) { srv, err = net.ListenUDP("udp", srvAddr); return }); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	// Room for every datagram the test sends, so none that the quota let
	// through is lost to a full socket buffer if the reader is slow.
	if rc, err := srv.(*net.UDPConn).SyscallConn(); err != nil {
		t.Fatal(err)
	} else if err := rc.Control(func(fd uintptr) {
		if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20); err != nil {
			t.Fatal(err)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := r.pair.Client.Do(func() (err error) { cli, err = net.ListenUDP("udp", cliAddr); return }); err != nil {
		t.Fatal(err)
	}
	defer cli.Close()

	received := make(chan int)
	go func() {
		n := 0
		buf := make([]byte, 65536)
		for {
			srv.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			m, _, err := srv.ReadFrom(buf)
			if err != nil {
				received <- n
				return
			}
			n += m
		}
	}()
	buf := make([]byte, payload)
	for i := 0; i < 2*q/payload; i++ {
		if _, err := cli.WriteTo(buf, srvAddr); err != nil {
			t.Fatal(err)
		}
		if i%32 == 31 { // a full socket buffer would drop datagrams the quota let through
			time.Sleep(time.Millisecond)
		}
	}
	got := <-received
	testnet.WaitFor(t, blockBound, "the enforcer to block 5353", func() bool { return blocked(t, e, "5353") == "quota" })

	in, out := r.counters("p5353")
	if in%datagram != 0 || uint64(got/payload)*datagram != in {
		t.Errorf("counted %d bytes in, the server received %d datagrams (%d bytes each on the wire)", in, got/payload, datagram)
	}
	if in >= q || in+datagram < q {
		t.Errorf("%d bytes got through, want within one datagram (%d) below %d", in, datagram, q)
	}

	// Blocked both ways: the server's datagrams to the client are dropped
	// too, and nothing more is counted.
	srv.WriteTo(buf, cliAddr) // EPERM: the output hook dropped it
	cli.WriteTo(buf, srvAddr)
	for name, c := range map[string]net.PacketConn{"client": cli, "server": srv} {
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if n, _, err := c.ReadFrom(make([]byte, 65536)); err == nil {
			t.Errorf("the %s received %d bytes through a blocked item", name, n)
		}
	}
	if in2, out2 := r.counters("p5353"); in2 != in || out2 != out {
		t.Errorf("blocked, yet %d bytes in and %d out passed", in2-in, out2-out)
	}
	r.tcp(8080, 50_000, 50_000)
}

// TestHostQuotaSparesExemptPorts: the whole-host quota counts all traffic,
// the exempt port 22 included, and once used up blocks everything but the
// exempt ports (default: 22).
func TestHostQuotaSparesExemptPorts(t *testing.T) {
	const q = 300_000
	r := newRig(t, `checkpoint_interval: 1h
host:
  quota: 300000B
  billing: sum
ports:
  - ports: "22"
    remark: counted, never blocked
  - ports: "443"
  - ports: "8080"
`)
	r.oneSegmentPerPacket()
	strays := r.strays()
	e := r.enforcer()
	r.run(e)
	ssh := r.serve(22)
	sshC, sshS := ssh.mustDial()
	if err := exchange(sshC, sshS, 100_000, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	web := r.serve(443)
	webC, webS := web.mustDial()
	other := r.serve(8080)
	r.exhaust(e, web, "host", "host", layout.Out)

	// What consumed the host quota is what went to 22 and 443 (nothing else
	// ran), and the stack's strays, of which some may have come after the
	// block.
	in22, out22 := r.counters("p22")
	in, out := r.counters("p443")
	sin, sout := strays()
	if passed := in22 + out22 + in + out; passed >= q || passed+segment+sin+sout < q {
		t.Errorf("%d bytes got through (%d of them to port 22), strays %d, want within one segment below %d",
			passed, in22+out22, sin+sout, q)
	} else {
		t.Logf("host: %d bytes got through of %d allowed, %d of them exempt", passed, q, in22+out22)
	}

	r.assertBlocked(web, "p443", webC, webS)
	if _, _, err := other.dial(300 * time.Millisecond); err == nil {
		t.Error("another item's port accepted a connection under the host block")
	}
	// SSH keeps working: the established session and a new one.
	if err := exchange(sshC, sshS, 50_000, 5*time.Second); err != nil {
		t.Errorf("established connection to the exempt port 22: %v", err)
	}
	c, s := ssh.mustDial()
	if err := exchange(c, s, 200_000, 5*time.Second); err != nil {
		t.Errorf("new connection to the exempt port 22: %v", err)
	}
	if got := blocked(t, e, "host"); got != "quota" {
		t.Errorf("host status: blocked %q", got)
	}
}

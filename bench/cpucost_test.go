package bench

import (
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"port-traffic-dog/internal/testnet"
)

// threadCPU is the calling thread's CPU time. The kernel here has no
// separate IRQ time accounting, so a thread's time includes the softirq work
// done on its behalf while it runs: on a veth, the receiving namespace's whole
// input path (netfilter included) runs in the sender's softirq.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		panic(err)
	}
	return time.Duration(ts.Nano())
}

// socketIn opens an IPv4 socket of type typ in namespace ns, where setup
// binds or connects it to addr; the socket stays in ns, whichever thread
// uses it.
func socketIn(b testing.TB, ns *testnet.NS, typ int, setup func(fd int, addr unix.Sockaddr) error, addr unix.Sockaddr) int {
	b.Helper()
	var fd int
	err := ns.Do(func() (err error) {
		if fd, err = unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0); err != nil {
			return err
		}
		return setup(fd, addr)
	})
	if err != nil {
		b.Fatalf("socket in %s: %v", ns.Name, err)
	}
	return fd
}

// udpPayload is iperf3 -l 64's datagram: 64 bytes of payload.
const udpPayload = 64

// udpCost sends n datagrams of udpPayload bytes from the client namespace to
// port in the server namespace, where a socket is bound that never reads (it
// drops what overflows its buffer, after netfilter), and returns the sending
// thread's CPU time per packet: the whole path of one packet through both
// namespaces. Unlike a packet rate, it does not depend on what else the
// machine's CPUs are doing.
func udpCost(b testing.TB, p *testnet.Pair, port uint16, n int) (cost time.Duration) {
	udpSender(b, p, port, n, func(send func()) {
		t0 := threadCPU()
		send()
		cost = (threadCPU() - t0) / time.Duration(n)
	})
	return cost
}

// udpSender opens udpCost's sockets, sends n/10 datagrams (caches, the
// neighbour entry, the socket's full buffer) and calls measure on the same
// locked thread with a send of n datagrams: the thread whose time and
// softirq work is measured.
func udpSender(b testing.TB, p *testnet.Pair, port uint16, n int, measure func(send func())) {
	b.Helper()
	addr := &unix.SockaddrInet4{Port: int(port), Addr: testnet.ServerIP4.As4()}
	rfd := socketIn(b, p.Server, unix.SOCK_DGRAM, unix.Bind, addr)
	defer unix.Close(rfd)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	sfd := socketIn(b, p.Client, unix.SOCK_DGRAM, unix.Connect, addr)
	defer unix.Close(sfd)
	buf := make([]byte, udpPayload)
	send := func(k int) {
		for i := 0; i < k; i++ {
			if _, err := unix.Write(sfd, buf); err != nil && err != unix.ENOBUFS {
				b.Fatalf("send: %v", err)
			}
		}
	}
	send(n / 10)
	measure(func() { send(n) })
}

// tcpCost moves bytes over one TCP connection from the client namespace to
// port in the server namespace and returns the CPU time per megabyte of the
// sending and the receiving thread together (ACKs travel back through the
// server's output hook in the receiver's softirq).
func tcpCost(b testing.TB, p *testnet.Pair, port uint16, bytes int64) time.Duration {
	b.Helper()
	addr := &unix.SockaddrInet4{Port: int(port), Addr: testnet.ServerIP4.As4()}
	lfd := socketIn(b, p.Server, unix.SOCK_STREAM, func(fd int, addr unix.Sockaddr) error {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return err
		}
		if err := unix.Bind(fd, addr); err != nil {
			return err
		}
		return unix.Listen(fd, 1)
	}, addr)
	defer unix.Close(lfd)
	recvCPU := make(chan time.Duration, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		fd, _, err := unix.Accept(lfd)
		if err != nil {
			recvCPU <- -1
			return
		}
		defer unix.Close(fd)
		buf := make([]byte, 256<<10)
		var got int64
		t0 := threadCPU()
		for got < bytes {
			n, err := unix.Read(fd, buf)
			if err != nil || n <= 0 {
				break
			}
			got += int64(n)
		}
		recvCPU <- threadCPU() - t0
	}()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	fd := socketIn(b, p.Client, unix.SOCK_STREAM, unix.Connect, addr)
	defer unix.Close(fd)
	buf := make([]byte, 256<<10)
	t0 := threadCPU()
	for sent := int64(0); sent < bytes; {
		n, err := unix.Write(fd, buf[:min(int64(len(buf)), bytes-sent)])
		if err != nil {
			b.Fatalf("send: %v", err)
		}
		sent += int64(n)
	}
	send := threadCPU() - t0
	recv := <-recvCPU
	if recv < 0 {
		b.Fatal("receiver failed")
	}
	return (send + recv) * (1 << 20) / time.Duration(bytes)
}

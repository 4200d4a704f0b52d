package testnet

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// TCPResult is what a transfer moved before it ended.
type TCPResult struct {
	Up, Down int64 // payload bytes that arrived at the other end
}

// TCP opens one connection from the client namespace to server:port in the
// server namespace, sends up bytes to the server and down bytes back, and
// closes. It stops at timeout (a blocked port stalls the transfer) and
// reports what got through, with an error unless everything did.
func (p *Pair) TCP(server netip.Addr, port uint16, up, down int64, timeout time.Duration) (TCPResult, error) {
	addr := net.JoinHostPort(server.String(), strconv.Itoa(int(port)))
	return p.transfer(addr, addr, up, down, timeout)
}

func (p *Pair) transfer(addr, listen string, up, down int64, timeout time.Duration) (TCPResult, error) {
	var ln net.Listener
	if err := p.Server.Do(func() (err error) { ln, err = net.Listen("tcp", listen); return }); err != nil {
		return TCPResult{}, err
	}
	defer ln.Close()
	deadline := time.Now().Add(timeout)

	var res TCPResult
	var wg sync.WaitGroup
	var serverErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		if err != nil {
			serverErr = err
			return
		}
		defer c.Close()
		c.SetDeadline(deadline)
		n, err := io.CopyN(io.Discard, c, up)
		res.Up = n
		if err != nil {
			serverErr = fmt.Errorf("server read: %w", err)
			return
		}
		m, err := io.CopyN(c, zeros{}, down)
		if err != nil {
			serverErr = fmt.Errorf("server write after %d bytes: %w", m, err)
		}
		c.(*net.TCPConn).CloseWrite()
	}()

	var c net.Conn
	err := p.Client.Do(func() (err error) {
		d := net.Dialer{Deadline: deadline}
		c, err = d.Dial("tcp", addr)
		return
	})
	if err != nil {
		ln.Close()
		wg.Wait()
		return res, fmt.Errorf("dial %s: %w", addr, err)
	}
	defer c.Close()
	c.SetDeadline(deadline)
	var clientErr error
	if _, err := io.CopyN(c, zeros{}, up); err != nil {
		clientErr = fmt.Errorf("client write: %w", err)
	} else {
		n, err := io.CopyN(io.Discard, c, down)
		res.Down = n
		if err != nil {
			clientErr = fmt.Errorf("client read: %w", err)
		} else {
			// Wait for the server's FIN so its closing segments are part of
			// the transfer, not of what the test measures next.
			io.Copy(io.Discard, c)
		}
	}
	c.Close()
	if clientErr != nil {
		ln.Close()
	}
	wg.Wait()
	return res, errors.Join(clientErr, serverErr)
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

// UDP sends n datagrams of size payload bytes from the client to
// server:port, and the server answers each with reply bytes. It returns how
// many datagrams and replies arrived within timeout.
func (p *Pair) UDP(server netip.Addr, port uint16, n, size, reply int, timeout time.Duration) (got, replies int, err error) {
	addr := net.JoinHostPort(server.String(), strconv.Itoa(int(port)))
	var sc net.PacketConn
	if err := p.Server.Do(func() (err error) { sc, err = net.ListenPacket("udp", addr); return }); err != nil {
		return 0, 0, err
	}
	defer sc.Close()
	var cc net.Conn
	if err := p.Client.Do(func() (err error) { cc, err = net.Dial("udp", addr); return }); err != nil {
		return 0, 0, err
	}
	defer cc.Close()
	// Room for every datagram in both sockets' buffers, so a reader the
	// scheduler delays (a loaded machine) drops none: the default buffer
	// holds about 90 datagrams of 1,200 bytes. Beyond rmem_max as root
	// (SO_RCVBUFFORCE); without root the default stays, and the pacing
	// below has to do.
	forceReadBuffer(sc, 8<<20)
	forceReadBuffer(cc, 8<<20)
	deadline := time.Now().Add(timeout)
	sc.SetDeadline(deadline)
	cc.SetDeadline(deadline)

	done := make(chan int)
	go func() {
		buf := make([]byte, 65536)
		out := make([]byte, reply)
		count := 0
		for count < n {
			_, from, err := sc.ReadFrom(buf)
			if err != nil {
				break
			}
			count++
			if reply > 0 {
				sc.WriteTo(out, from)
			}
		}
		done <- count
	}()
	recvd := make(chan int)
	go func() {
		buf := make([]byte, 65536)
		count := 0
		for reply > 0 && count < n {
			if _, err := cc.Read(buf); err != nil {
				break
			}
			count++
		}
		recvd <- count
	}()
	payload := make([]byte, size)
	for i := 0; i < n; i++ {
		if _, err := cc.Write(payload); err != nil {
			return 0, 0, err
		}
		// Pace the sender: a veth drops datagrams a full socket buffer
		// cannot take, and the tests want every byte accounted for.
		if i%32 == 31 {
			time.Sleep(time.Millisecond)
		}
	}
	got, replies = <-done, <-recvd
	if got < n || replies < n && reply > 0 {
		err = fmt.Errorf("udp: %d of %d datagrams arrived, %d replies", got, n, replies)
	}
	return got, replies, err
}

// TCPVia is TCP for a server reached through an address translation: the
// server listens on listen:listenPort in the server namespace while the
// client dials dial:dialPort (a DNAT on a router between them).
func (p *Pair) TCPVia(dial netip.Addr, dialPort uint16, listen netip.Addr, listenPort uint16, up, down int64, timeout time.Duration) (TCPResult, error) {
	return p.transfer(net.JoinHostPort(dial.String(), strconv.Itoa(int(dialPort))),
		net.JoinHostPort(listen.String(), strconv.Itoa(int(listenPort))), up, down, timeout)
}

// forceReadBuffer sets c's receive buffer to n bytes, past rmem_max where
// the process may (CAP_NET_ADMIN); it is best effort.
func forceReadBuffer(c any, n int) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n)
	})
}

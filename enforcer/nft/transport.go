package nft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nltest"
	"golang.org/x/sys/unix"
)

// batchTransport sends a google/nftables batch the way nft(8) does: without
// asking the kernel for an acknowledgement per message, only for the last.
//
// Why: google/nftables v0.3.0 (the newest release the module proxy serves)
// sets NLM_F_ACK on every message and reads the acks one recvmsg at a time.
// Measured here, that is ~18 µs a message: ~1.1 s for a 10,000-item table of
// ~60,000 messages, and the acks of a batch that large overflow the socket
// buffer. Upstream dropped the per-message acks after that release; until a
// release carries it, the library still builds and marshals every message and
// this transport only changes how the batch travels. The library reads its
// acks from here, answered locally once the kernel has spoken.
//
// A netlink batch is processed synchronously inside sendmsg, and errors are
// always reported whether or not an ack was asked for, so waiting for the ack
// of the last message (or the first error, which aborts the transaction)
// tells the whole outcome.
type batchTransport struct {
	netns int
	own   *ownPorts // where the sockets' port ids are registered for the monitor
	// pending are the messages whose acks the library has yet to read; the
	// acks are made as it reads them (60,000 of them at once cost 13 MB).
	pending []netlink.Message
	// errno is the kernel's answer to the next pending message (the first
	// of the batch; every other one is acknowledged as applied, or, after
	// an error, as never applied, which the library does not distinguish).
	errno int
	ok    []netlink.Message // a success ack
	// lastErr is the kernel's error for the last batch, with the extended
	// ack text the library's errno-only ack cannot carry.
	lastErr error
}

// dial is the nltest.Func the writer Conn is built with.
func (t *batchTransport) dial(req []netlink.Message) ([]netlink.Message, error) {
	if req == nil { // the library reading its next ack
		return t.nextAck()
	}
	if err := t.send(req); err != nil {
		t.lastErr = err
		return nil, err
	}
	return t.nextAck()
}

// nextAck answers the library's read of the next acknowledgement.
func (t *batchTransport) nextAck() ([]netlink.Message, error) {
	if len(t.pending) == 0 {
		return nil, errors.New("nft transport: no acknowledgement pending")
	}
	if t.errno == 0 && t.ok != nil {
		// The library only checks that an ack is an error message of errno
		// 0: one serves every message.
		t.pending = t.pending[1:]
		return t.ok, nil
	}
	ack, err := nltest.Error(t.errno, t.pending[:1])
	if t.errno == 0 {
		t.ok = ack
	}
	t.pending, t.errno = t.pending[1:], 0
	return ack, err
}

// send transmits one batch (BATCH_BEGIN, messages…, BATCH_END) and leaves
// one ack per message between begin and end pending for the library.
func (t *batchTransport) send(batch []netlink.Message) error {
	if len(batch) < 3 {
		return fmt.Errorf("nft transport: batch of %d messages", len(batch))
	}
	conn, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: t.netns})
	if err != nil {
		return fmt.Errorf("nft transport: dial: %w", err)
	}
	// Releasing a netfilter socket makes the kernel finish the previous
	// commit's deferred cleanup first (nf_tables' NETLINK_URELEASE handler
	// flushes its destroy work, which waits for an RCU grace period): 8 to
	// 20 ms here, after this transaction's outcome is known. The socket is
	// closed in the background so a one-item change does not wait for it.
	defer func() { go conn.Close() }()
	if err := t.own.register(conn); err != nil {
		return err
	}
	buf := marshalBatch(batch)
	if err := setBuffers(conn, len(buf)); err != nil {
		return err
	}
	// Best effort: extended acks add the kernel's reason to an errno.
	_ = conn.SetOption(netlink.ExtendedAcknowledge, true)
	if err := sendRaw(conn, buf); err != nil {
		return fmt.Errorf("nft transport: send %d messages: %w", len(batch), err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
		return err
	}
	wantSeq := batch[len(batch)-2].Header.Sequence
	var kernelErr error
	for kernelErr == nil {
		replies, err := conn.Receive()
		if err != nil {
			// mdlayher/netlink turns a NLMSG_ERROR with an errno into an
			// error; the first one aborts the whole transaction.
			kernelErr = err
			break
		}
		done := false
		for _, r := range replies {
			if r.Header.Type == netlink.Error && r.Header.Sequence == wantSeq {
				done = true
			}
		}
		if done {
			break
		}
	}
	t.lastErr = kernelErr
	t.pending, t.errno = batch[1:len(batch)-1], 0
	if kernelErr != nil {
		t.errno = errnoOf(kernelErr)
	}
	return nil
}

// marshalBatch lays the batch out as one netlink datagram, in a buffer of
// exactly its size (netlink.Conn.SendMessages grows one by appending: at
// 10,000 items, a 25 MB batch cost ~60 MB of garbage and the process's peak
// memory). The library asks for rules to be echoed back (to learn their
// handles); nothing here uses handles, and 30,000 echoes would overflow the
// receive buffer: the flag is cleared. Only the last message asks for an
// ack.
func marshalBatch(batch []netlink.Message) []byte {
	buf := make([]byte, batchBytes(batch))
	last := len(batch) - 2
	off := 0
	for i, m := range batch {
		flags := m.Header.Flags &^ unix.NLM_F_ECHO
		if i != last {
			flags &^= netlink.Acknowledge
		} else {
			flags |= netlink.Acknowledge
		}
		n := nlmsgAlign(unix.NLMSG_HDRLEN + len(m.Data))
		h := buf[off : off+unix.NLMSG_HDRLEN]
		binary.NativeEndian.PutUint32(h[0:4], uint32(n))
		binary.NativeEndian.PutUint16(h[4:6], uint16(m.Header.Type))
		binary.NativeEndian.PutUint16(h[6:8], uint16(flags))
		binary.NativeEndian.PutUint32(h[8:12], m.Header.Sequence)
		binary.NativeEndian.PutUint32(h[12:16], 0)
		copy(buf[off+unix.NLMSG_HDRLEN:], m.Data)
		off += n
	}
	return buf
}

func nlmsgAlign(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

// sendRaw sends one datagram to the kernel on conn's socket.
func sendRaw(conn *netlink.Conn, buf []byte) error {
	rc, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Write(func(fd uintptr) bool {
		serr = unix.Sendmsg(int(fd), buf, nil, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}, 0)
		return serr != unix.EAGAIN
	}); err != nil {
		return err
	}
	return serr
}

func errnoOf(err error) int {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return int(errno)
	}
	return int(unix.EIO)
}

func batchBytes(batch []netlink.Message) int {
	n := 0
	for _, m := range batch {
		n += nlmsgAlign(unix.NLMSG_HDRLEN + len(m.Data))
	}
	return n
}

// setBuffers sizes the socket for the batch: sendmsg refuses a batch larger
// than the send buffer. The *FORCE options need CAP_NET_ADMIN, which writing
// nftables needs anyway.
func setBuffers(conn *netlink.Conn, size int) error {
	size = max(size+size/4, 1<<20)
	rc, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, size)
		if serr == nil {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20)
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("nft transport: socket buffer of %d bytes: %w", size, serr)
	}
	return nil
}

// ownPorts remembers the netlink port ids of the sockets a Conn sent its
// last transactions from. The kernel stamps every notification of a
// transaction, its closing NEWGEN included, with the sender's port id, so the
// monitor tells the enforcer's own changes from another process's by it.
// (NEWGEN's process id attribute cannot: it is the id of the sending thread,
// which for a Go program is rarely the process id.)
type ownPorts struct {
	mu   sync.Mutex
	ids  [64]uint32 // a ring: the monitor reads a transaction's NEWGEN long before 64 more have passed
	next int
}

func (o *ownPorts) register(conn *netlink.Conn) error {
	rc, err := conn.SyscallConn()
	if err != nil {
		return fmt.Errorf("nft transport: %w", err)
	}
	var sa unix.Sockaddr
	var serr error
	if err := rc.Control(func(fd uintptr) { sa, serr = unix.Getsockname(int(fd)) }); err != nil {
		return fmt.Errorf("nft transport: %w", err)
	}
	nl, ok := sa.(*unix.SockaddrNetlink)
	if serr != nil || !ok {
		return fmt.Errorf("nft transport: netlink port id: %v", serr)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ids[o.next%len(o.ids)] = nl.Pid
	o.next++
	return nil
}

func (o *ownPorts) has(id uint32) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return id != 0 && slices.Contains(o.ids[:], id)
}

package nft

import (
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
	netns   int
	own     *ownPorts         // where the sockets' port ids are registered for the monitor
	pending []netlink.Message // acks the library has yet to read
	// lastErr is the kernel's error for the last batch, with the extended
	// ack text the library's errno-only ack cannot carry.
	lastErr error
}

// dial is the nltest.Func the writer Conn is built with.
func (t *batchTransport) dial(req []netlink.Message) ([]netlink.Message, error) {
	if req == nil { // the library reading its next ack
		if len(t.pending) == 0 {
			return nil, errors.New("nft transport: no acknowledgement pending")
		}
		m := t.pending[0]
		t.pending = t.pending[1:]
		return []netlink.Message{m}, nil
	}
	acks, err := t.send(req)
	if err != nil {
		t.lastErr = err
		return nil, err
	}
	t.pending = acks[1:]
	return acks[:1], nil
}

// send transmits one batch (BATCH_BEGIN, messages…, BATCH_END) and returns
// one ack per message between begin and end.
func (t *batchTransport) send(batch []netlink.Message) ([]netlink.Message, error) {
	if len(batch) < 3 {
		return nil, fmt.Errorf("nft transport: batch of %d messages", len(batch))
	}
	conn, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: t.netns})
	if err != nil {
		return nil, fmt.Errorf("nft transport: dial: %w", err)
	}
	defer conn.Close()
	if err := t.own.register(conn); err != nil {
		return nil, err
	}
	if err := setBuffers(conn, batchBytes(batch)); err != nil {
		return nil, err
	}
	// Best effort: extended acks add the kernel's reason to an errno.
	_ = conn.SetOption(netlink.ExtendedAcknowledge, true)
	msgs := make([]netlink.Message, len(batch))
	last := len(batch) - 2
	for i, m := range batch {
		m.Header.PID = 0
		// The library asks for rules to be echoed back (to learn their
		// handles); nothing here uses handles, and 30,000 echoes would
		// overflow the receive buffer.
		m.Header.Flags &^= unix.NLM_F_ECHO
		if i != last {
			m.Header.Flags &^= netlink.Acknowledge
		} else {
			m.Header.Flags |= netlink.Acknowledge
		}
		msgs[i] = m
	}
	if _, err := conn.SendMessages(msgs); err != nil {
		return nil, fmt.Errorf("nft transport: send %d messages: %w", len(msgs), err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
		return nil, err
	}
	wantSeq := msgs[last].Header.Sequence
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
	acks := make([]netlink.Message, 0, len(batch)-2)
	for i, m := range batch[1 : len(batch)-1] {
		errno := 0
		if kernelErr != nil && i == 0 {
			errno = errnoOf(kernelErr)
		}
		ack, _ := nltest.Error(errno, []netlink.Message{m})
		acks = append(acks, ack[0])
	}
	return acks, nil
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
		n += 16 + len(m.Data) + 4
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

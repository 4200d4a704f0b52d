package nft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// sendBatch transmits one batch (BATCH_BEGIN, messages…, BATCH_END) to the
// nftables of namespace fd netns, the way nft(8) does: one datagram, an ack
// asked for the last message only. A netlink batch is processed
// synchronously inside sendmsg, and errors are always reported whether or
// not an ack was asked for, so waiting for the ack of the last message (or
// the first error, which aborts the transaction) tells the whole outcome:
// kernelErr, nil when the batch was applied. err is set when the batch
// could not be sent or its outcome read.
func sendBatch(netns int, own *ownPorts, batch []netlink.Message) (kernelErr, err error) {
	if len(batch) < 3 {
		return nil, fmt.Errorf("nft transport: batch of %d messages", len(batch))
	}
	conn, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: netns})
	if err != nil {
		return nil, fmt.Errorf("nft transport: dial: %w", err)
	}
	// Releasing a netfilter socket makes the kernel finish the previous
	// commit's deferred cleanup first (nf_tables' NETLINK_URELEASE handler
	// flushes its destroy work, which waits for an RCU grace period): 8 to
	// 20 ms here, after this transaction's outcome is known. The socket is
	// closed in the background so a one-item change does not wait for it.
	defer func() { go func() { _ = conn.Close() }() }()
	if err := own.register(conn); err != nil {
		return nil, err
	}
	buf := marshalBatch(batch)
	if err := setBuffers(conn, len(buf)); err != nil {
		return nil, err
	}
	// Best effort: extended acks add the kernel's reason to an errno.
	_ = conn.SetOption(netlink.ExtendedAcknowledge, true)
	if err := sendRaw(conn, buf); err != nil {
		return nil, fmt.Errorf("nft transport: send %d messages: %w", len(batch), err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
		return nil, err
	}
	wantSeq := batch[len(batch)-2].Header.Sequence
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
	return kernelErr, nil
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

package nft

import (
	"errors"

	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nltest"
)

// This file is the one place the daemon plugs into google/nftables' test
// hook (WithTestDial, which links mdlayher/netlink's nltest into
// dog-enforcer). Everything else about sending a batch is in batch.go.
//
// Why the hook: google/nftables v0.3.0 (the newest release the module proxy
// serves; v0.2.0 is the only other) sets NLM_F_ACK on every message of a
// batch and reads the acks one recvmsg at a time. Measured here, that is
// ~18 µs a message: ~1.1 s for a 10,000-item table of ~60,000 messages, and
// the acks of a batch that large overflow the socket buffer. Through the
// hook the library still builds and marshals every message; batch.go sends
// them the way nft(8) does, one datagram asking for one ack, and the hook
// answers the library's per-message ack reads locally once the kernel has
// spoken.
//
// What lets it go (all on google/nftables' main branch, in no release yet):
//   - "Stop requesting ACKs" (commit dca01dd, PR #336, Nov 2025), on top of
//     "Ensure socket buffer draining during Flush" (#330) and the receive
//     loop of #334: Flush sends no NLM_F_ACK and reads until the socket is
//     drained, the first error still reported;
//   - socket buffers for a ~25 MB batch (10,000 items): "Automatically set
//     socket read & write buffer sizes" (#312) sizes them, but without the
//     FORCE options the kernel caps them at net.core.wmem_max/rmem_max;
//     WithSockOptions (which turns #312 off) can set SO_SNDBUFFORCE and
//     SO_RCVBUFFORCE as setBuffers does;
//   - GetPortID with AsLasting (#332) for ownPorts, the monitor's way of
//     telling our own transactions from another process's.
// Still missing there: main asks the kernel to echo every NEWRULE
// (NLM_F_ECHO, to learn rule handles; #299, #309), ~30,000 echoes at 10,000
// items that batch.go clears and the library would have to read. With a
// release that has the above, a read buffer large enough for the echoes
// (or an option to skip them), and a measured 10,000-item sync no slower
// than bench/RESULTS.md's, this file, batch.go's marshalling and the
// nltest dependency go.

// batchTransport is the nltest.Func side: it sends each batch through
// sendBatch and answers the library's reads of per-message acks.
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
	kernelErr, err := sendBatch(t.netns, t.own, req)
	if err != nil {
		t.lastErr = err
		return nil, err
	}
	t.lastErr = kernelErr
	// One ack per message between BATCH_BEGIN and BATCH_END.
	t.pending, t.errno = req[1:len(req)-1], 0
	if kernelErr != nil {
		t.errno = errnoOf(kernelErr)
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

package testnet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// NftGeneration returns the nftables ruleset generation of the namespace of
// fd netns (NFT_MSG_GETGEN). Every committed transaction, by any process,
// increments it; reads (dumps, object gets) do not.
func NftGeneration(netns int) (uint32, error) {
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: netns})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	msgs, err := c.Execute(netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETGEN), Flags: netlink.Request},
		Data:   []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, 0},
	})
	if err != nil {
		return 0, fmt.Errorf("nftables generation: %w", err)
	}
	for _, m := range msgs {
		if len(m.Data) < 4 {
			continue
		}
		ad, err := netlink.NewAttributeDecoder(m.Data[4:])
		if err != nil {
			return 0, err
		}
		ad.ByteOrder = binary.BigEndian
		for ad.Next() {
			if ad.Type() == unix.NFTA_GEN_ID {
				return ad.Uint32(), nil
			}
		}
	}
	return 0, errors.New("nftables generation: no NFTA_GEN_ID in the reply")
}

// KernelWatch subscribes to the change notifications of a namespace:
// nftables (every table, chain, rule, set, element and object change, and
// the NEWGEN that closes each transaction) and rtnetlink's tc (qdiscs,
// classes, filters) and link groups. Whoever changes the kernel's
// packet-path configuration in the namespace, a notification follows.
type KernelWatch struct {
	t        testing.TB
	nft, rtn *netlink.Conn
}

// WatchKernel starts recording; the sockets close at cleanup.
func WatchKernel(t testing.TB, netns int) *KernelWatch {
	t.Helper()
	const nfnlgrpNftables = 7
	nft, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: netns, Groups: 1 << (nfnlgrpNftables - 1)})
	if err != nil {
		t.Fatalf("nftables monitor: %v", err)
	}
	rtn, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{NetNS: netns, Groups: unix.RTMGRP_TC | unix.RTMGRP_LINK})
	if err != nil {
		nft.Close()
		t.Fatalf("rtnetlink monitor: %v", err)
	}
	t.Cleanup(func() { nft.Close(); rtn.Close() })
	return &KernelWatch{t: t, nft: nft, rtn: rtn}
}

// Changes returns a description of every notification received since the
// watch started or Changes was last called. Notifications are queued on the
// socket while the change is committed, before the changing call returns, so
// a short drain sees them all.
func (w *KernelWatch) Changes() []string {
	w.t.Helper()
	var out []string
	for _, c := range []struct {
		name string
		conn *netlink.Conn
	}{{"nftables", w.nft}, {"rtnetlink", w.rtn}} {
		for {
			if err := c.conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
				w.t.Fatal(err)
			}
			msgs, err := c.conn.Receive()
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			if err != nil {
				// ENOBUFS: so many notifications that the socket overflowed.
				out = append(out, fmt.Sprintf("%s: %v", c.name, err))
				continue
			}
			for _, m := range msgs {
				out = append(out, fmt.Sprintf("%s: message type %#x from port id %d", c.name, uint16(m.Header.Type), m.Header.PID))
			}
		}
	}
	return out
}

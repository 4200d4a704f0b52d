package nft

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"port-traffic-dog/internal/layout"
)

// Event is what the monitor reports about the table.
type Event int

const (
	// EventQuota: a quota object of the table ran out; the kernel notifies
	// at once from the packet path.
	EventQuota Event = iota + 1
	// EventChanged: another process changed or deleted the table.
	EventChanged
	// EventLost: the monitor socket overflowed; anything may have changed.
	EventLost
)

const nfnlgrpNftables = 7 // NFNLGRP_NFTABLES

// Monitor subscribes to nftables change notifications and reports the ones
// that concern the table. Notifications of this Conn's own transactions
// (sent from its sockets' port ids) are ignored. It returns when ctx ends.
func (c *Conn) Monitor(ctx context.Context, events chan<- Event) error {
	conn, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: c.netns, Groups: 1 << (nfnlgrpNftables - 1)})
	if err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		_ = conn.Close()
	}()
	send := func(e Event) {
		select {
		case events <- e:
		default: // a report is pending already; the consumer re-reads everything anyway
		}
	}
	ours := false // the current transaction touched our table
	for {
		msgs, err := conn.Receive()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, unix.ENOBUFS) {
				send(EventLost)
				continue
			}
			return err
		}
		for _, m := range msgs {
			subsys, typ := uint16(m.Header.Type)>>8, uint16(m.Header.Type)&0xff
			if subsys != unix.NFNL_SUBSYS_NFTABLES || len(m.Data) < 4 {
				continue
			}
			attrs := m.Data[4:]
			switch typ {
			case unix.NFT_MSG_NEWGEN:
				if ours && !c.own.has(m.Header.PID) {
					send(EventChanged)
				}
				ours = false
			case unix.NFT_MSG_NEWOBJ, unix.NFT_MSG_DELOBJ:
				if tableAttr(attrs) != layout.Table {
					continue
				}
				// A quota running out notifies from the packet path (port id
				// 0), outside any transaction.
				if m.Header.PID == 0 {
					if typ == unix.NFT_MSG_NEWOBJ && objType(attrs) == unix.NFT_OBJECT_QUOTA {
						send(EventQuota)
					}
					continue
				}
				ours = true
			default:
				if tableAttr(attrs) == layout.Table {
					ours = true
				}
			}
		}
	}
}

// tableAttr returns attribute 1, the table name in every table, chain,
// rule, set, element and object message.
func tableAttr(b []byte) string {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return ""
	}
	for ad.Next() {
		if ad.Type() == 1 {
			return string(bytes.TrimRight(ad.Bytes(), "\x00"))
		}
	}
	return ""
}

func objType(b []byte) uint32 {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return 0
	}
	for ad.Next() {
		if ad.Type() == 3 && len(ad.Bytes()) == 4 { // NFTA_OBJ_TYPE
			return binary.BigEndian.Uint32(ad.Bytes())
		}
	}
	return 0
}

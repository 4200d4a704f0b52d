package nft

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"port-traffic-dog/internal/testnet"
)

// TestMarshalBatch: one datagram, every message aligned, an ack asked for
// the last message of the batch only, and no echoes.
func TestMarshalBatch(t *testing.T) {
	msg := func(typ int, flags netlink.HeaderFlags, data string) netlink.Message {
		return netlink.Message{Header: netlink.Header{Type: netlink.HeaderType(typ), Flags: flags}, Data: []byte(data)}
	}
	batch := []netlink.Message{
		msg(unix.NFNL_MSG_BATCH_BEGIN, netlink.Request, "abcd"),
		msg(1, netlink.Request|netlink.Acknowledge|netlink.Create, "x"),
		msg(2, netlink.Request|netlink.Acknowledge|unix.NLM_F_ECHO, "hello"),
		msg(3, netlink.Request, "12345678"),
		msg(unix.NFNL_MSG_BATCH_END, netlink.Request, "abcd"),
	}
	buf := marshalBatch(batch)
	if len(buf) != batchBytes(batch) {
		t.Fatalf("%d bytes, want %d", len(buf), batchBytes(batch))
	}
	var got []string
	for i, off := 0, 0; off < len(buf); i++ {
		n := int(binary.NativeEndian.Uint32(buf[off:]))
		typ := binary.NativeEndian.Uint16(buf[off+4:])
		flags := netlink.HeaderFlags(binary.NativeEndian.Uint16(buf[off+6:]))
		if n%unix.NLMSG_ALIGNTO != 0 || n < unix.NLMSG_HDRLEN+len(batch[i].Data) {
			t.Errorf("message %d: length %d", i, n)
		}
		if int(typ) != int(batch[i].Header.Type) || string(buf[off+unix.NLMSG_HDRLEN:][:len(batch[i].Data)]) != string(batch[i].Data) {
			t.Errorf("message %d: type %d or data differ", i, typ)
		}
		var f []string
		if flags&netlink.Acknowledge != 0 {
			f = append(f, "ack")
		}
		if flags&unix.NLM_F_ECHO != 0 {
			f = append(f, "echo")
		}
		got = append(got, strings.Join(f, "+"))
		off += n
	}
	if want := []string{"", "", "", "ack", ""}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("flags per message %q, want %q", got, want)
	}
}

// TestNextAck: the library reads an ack per message; after a batch the
// kernel refused, the first carries the errno and the others succeed (the
// library keeps the first error); after a success all succeed; a read past
// the batch is an error, not a hang.
func TestNextAck(t *testing.T) {
	pending := make([]netlink.Message, 3)
	for _, errno := range []int{0, int(unix.ENOENT)} {
		tr := &batchTransport{pending: pending, errno: errno}
		for i := range pending {
			ack, err := tr.nextAck()
			if err != nil {
				t.Fatal(err)
			}
			if len(ack) != 1 || ack[0].Header.Type != netlink.Error || len(ack[0].Data) < 4 {
				t.Fatalf("ack %d: %+v is no NLMSG_ERROR", i, ack)
			}
			code := -int32(binary.NativeEndian.Uint32(ack[0].Data))
			want := int32(0)
			if i == 0 {
				want = int32(errno)
			}
			if code != want {
				t.Errorf("errno %d, ack %d: code %d, want %d", errno, i, code, want)
			}
		}
		if _, err := tr.nextAck(); err == nil {
			t.Errorf("errno %d: a read past the batch succeeded", errno)
		}
	}
}

// TestKernelRefusal: a batch the kernel refuses reports the kernel's errno
// through the library's Flush and applies nothing of it.
func TestKernelRefusal(t *testing.T) {
	ns := testnet.NewNS(t, "refuse")
	tr := &batchTransport{netns: ns.Fd(), own: &ownPorts{}}
	w, err := nftables.New(nftables.WithTestDial(tr.dial))
	if err != nil {
		t.Fatal(err)
	}
	table := w.AddTable(&nftables.Table{Name: "refusal_test", Family: nftables.TableFamilyINet})
	w.AddChain(&nftables.Chain{Name: "c", Table: table})
	w.DelChain(&nftables.Chain{Name: "absent", Table: table})
	if err := w.Flush(); err == nil {
		t.Fatal("deleting an absent chain was accepted")
	}
	if !errors.Is(tr.lastErr, unix.ENOENT) {
		t.Errorf("kernel error %v, want ENOENT", tr.lastErr)
	}
	if chains := chainsOf(t, ns.Fd(), "refusal_test"); len(chains) != 0 {
		t.Errorf("half of a refused batch applied: chains %q", chains)
	}
	// The same transport then applies a good batch.
	w.AddTable(table)
	w.AddChain(&nftables.Chain{Name: "c", Table: table})
	if err := w.Flush(); err != nil || tr.lastErr != nil {
		t.Fatalf("good batch: %v (kernel: %v)", err, tr.lastErr)
	}
	if chains := chainsOf(t, ns.Fd(), "refusal_test"); len(chains) != 1 || chains[0] != "c" {
		t.Errorf("good batch: chains %q, want [c]", chains)
	}
}

func chainsOf(t *testing.T, netns int, table string) []string {
	t.Helper()
	r, err := nftables.New(nftables.WithNetNSFd(netns))
	if err != nil {
		t.Fatal(err)
	}
	chains, err := r.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range chains {
		if c.Table.Name == table {
			out = append(out, c.Name)
		}
	}
	return out
}

package shaper

import (
	"strings"
	"testing"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// TestDumpRefusesATruncatedPart: a part of a dump larger than the read
// buffer was cut without a trace when the cut fell at the end of an
// answer: the classes after it were simply missing, and Verify would have
// reported them deleted and replaced them, every tick. (The buffer is
// twice the largest part the kernel makes for a tc dump; the test makes
// it smaller to see what a larger part would do.)
func TestDumpRefusesATruncatedPart(t *testing.T) {
	e := newEnv(t)
	e.apply(item("443", 1, 0, 10e6), item("80", 2, 0, 10e6), item("22", 3, 0, 10e6))
	c, err := dial(e.pair.Server.Fd())
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	index := e.link().index
	if have, err := c.classes(index); err != nil || len(have) != 3 {
		t.Fatalf("classes: %v, %v; want 3", have, err)
	}
	// The first answer's length: a buffer of exactly that cuts the
	// kernel's first part, which holds all three classes, after it.
	first := 0
	err = c.dump(unix.RTM_GETTCLASS, unix.RTM_NEWTCLASS, index, rootHandle, func(_ *nl.TcMsg, attrs []byte) {
		if first == 0 {
			first = unix.NLMSG_HDRLEN + nl.SizeofTcMsg + len(attrs)
		}
	})
	if err != nil || first == 0 {
		t.Fatalf("dump: %v (first answer %d bytes)", err, first)
	}
	c.buf = make([]byte, (first+unix.NLMSG_ALIGNTO-1)&^(unix.NLMSG_ALIGNTO-1))
	if have, err := c.classes(index); err == nil || !strings.Contains(err.Error(), "more than the") {
		t.Errorf("classes read through a %d-byte buffer: %d of 3, error %v; want the part refused as too large", len(c.buf), len(have), err)
	}
}

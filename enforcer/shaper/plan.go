package shaper

import (
	"cmp"
	"fmt"
	"slices"

	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/portspec"
	"port-traffic-dog/internal/units"
)

// Item is one item's limits, as the shaper needs them.
type Item struct {
	Ports     string // as written, for messages
	Spec      portspec.Spec
	Protocols config.Protocols
	// Minor is the item's HTB class minor on every shaped interface and IFB:
	// stable, unique, not 0.
	Minor   uint16
	RateIn  uint64 // bits/s to the port (client uploads); 0 = unlimited
	RateOut uint64 // bits/s from the port (client downloads); 0 = unlimited
	Burst   uint64 // bytes; 0 = derived from the rate
}

// Desired is the whole desired shaper state.
type Desired struct {
	// Interfaces to shape; empty: those of the default routes.
	Interfaces []string
	Items      []Item
}

// limited reports whether any item has a limit.
func (d *Desired) limited() bool {
	for _, it := range d.Items {
		if it.RateIn > 0 || it.RateOut > 0 {
			return true
		}
	}
	return false
}

// classSpec is one HTB class's parameters. Rate is ceil too: a class never
// borrows, so it is exact whatever the other classes do.
type classSpec struct {
	rate    uint64 // bytes/s
	burst   uint32 // bytes
	quantum uint32 // bytes
	queue   uint32 // bytes the class's FIFO holds
}

const (
	// minBurst is one full frame and a half: HTB needs a bucket that holds
	// at least a packet to send at all without going into debt each time.
	minBurst = 2 << 10
	// burstTime is how much of the rate the default bucket holds. tc's
	// default (one timer tick plus an MTU) starves a fast class whenever the
	// dequeue runs a little late; 10 ms at the rate is the usual advice and
	// stays under 1% of any second.
	burstTime = 100 // 1/100 s
	// defaultMinBurst keeps slow classes able to pass a TSO/GRO burst.
	defaultMinBurst = 16 << 10
	// maxBurstSeconds bounds a configured burst: HTB stores it as a time at
	// the rate, and more than this is a misplaced unit, not a bucket.
	maxBurstSeconds = 60
	// queueTime is how much of the rate a class's queue holds. HTB's default
	// leaf holds txqueuelen packets, 1.2 s at 10 Mbit/s: an upload's sender
	// (which sees nothing of the queue, unlike a local sender) fills it, the
	// round trip grows past what the receive window covers and the limit is
	// not reached. 100 ms is a path's typical bandwidth-delay product. (A
	// fair queue would be better still; these kernels have none.)
	queueTime = 10 // 1/10 s
	// minQueue holds two 64 KiB GSO/GRO packets, which a byte FIFO smaller
	// than that would always drop.
	minQueue = 128 << 10
)

// spec computes an item's class for one direction.
func spec(rateBits, burst uint64) classSpec {
	rate := max(rateBits/8, 1)
	b := burst
	if b == 0 {
		b = max(rate/burstTime, defaultMinBurst)
	}
	b = min(max(b, minBurst), 1<<31)
	// Quantum: the bytes a class sends per round when several are ready on a
	// saturated link; proportional to the rate (1 ms of it) so shares
	// follow the configured limits, at least one MTU-sized frame.
	q := min(max(rate/1000, 1600), 1<<20)
	queue := min(max(rate/queueTime, minQueue), 1<<30)
	return classSpec{rate: rate, burst: uint32(b), quantum: uint32(q), queue: uint32(queue)}
}

// entry is one port block of an item's ingress classification: a u32 key
// on the destination port.
type entry struct {
	proto uint8 // unix.IPPROTO_TCP / IPPROTO_UDP
	value uint16
	mask  uint16
	minor uint16
}

func entryCmp(a, b entry) int {
	return cmp.Or(cmp.Compare(a.proto, b.proto), cmp.Compare(a.value, b.value), cmp.Compare(a.mask, b.mask), cmp.Compare(a.minor, b.minor))
}

const (
	protoTCP = 6
	protoUDP = 17
)

// plan is the desired state resolved against the host: interfaces looked up,
// every limit checked, classes and filter entries computed.
type plan struct {
	links   []iface
	out, in map[uint16]classSpec
	entries []entry
}

// makePlan validates d and computes the plan. It changes nothing.
func makePlan(c *conn, fd int, d Desired) (*plan, error) {
	p := &plan{out: map[uint16]classSpec{}, in: map[uint16]classSpec{}}
	if !d.limited() {
		return p, nil
	}
	owner := map[uint16]string{}
	for _, it := range d.Items {
		if it.RateIn == 0 && it.RateOut == 0 {
			continue
		}
		if it.Minor == 0 {
			return nil, fmt.Errorf("item %q: no tc class assigned", it.Ports)
		}
		if o, dup := owner[it.Minor]; dup {
			return nil, fmt.Errorf("items %q and %q were given the same tc class minor %d", o, it.Ports, it.Minor)
		}
		owner[it.Minor] = it.Ports
		if it.Burst > 0 {
			for _, r := range []struct {
				key  string
				rate uint64
			}{{"rate_in", it.RateIn}, {"rate_out", it.RateOut}} {
				if r.rate > 0 && it.Burst > r.rate/8*maxBurstSeconds {
					return nil, fmt.Errorf("item %q: burst: %s is more than %d s at %s %s; burst is in bytes (KB, MB)",
						it.Ports, units.FormatBytes(it.Burst), maxBurstSeconds, r.key, units.FormatRate(r.rate))
				}
			}
		}
		if it.RateOut > 0 {
			p.out[it.Minor] = spec(it.RateOut, it.Burst)
		}
		if it.RateIn > 0 {
			p.in[it.Minor] = spec(it.RateIn, it.Burst)
			for _, pr := range []struct {
				bit   config.Protocols
				proto uint8
			}{{config.TCP, protoTCP}, {config.UDP, protoUDP}} {
				if it.Protocols&pr.bit == 0 {
					continue
				}
				for _, r := range it.Spec {
					for _, pf := range r.Prefixes() {
						p.entries = append(p.entries, entry{proto: pr.proto, value: pf.Value & pf.Mask, mask: pf.Mask, minor: it.Minor})
					}
				}
			}
		}
	}
	slices.SortFunc(p.entries, entryCmp)
	links, err := resolve(c, fd, d.Interfaces)
	if err != nil {
		return nil, err
	}
	for _, l := range links {
		if l.speed == 0 {
			continue
		}
		for _, it := range d.Items {
			for _, r := range []struct {
				key  string
				rate uint64
			}{{"rate_in", it.RateIn}, {"rate_out", it.RateOut}} {
				if r.rate > l.speed {
					return nil, fmt.Errorf("item %q: %s: %s is above the %s link speed of %s; a limit there could never apply (check the unit: Mbps, Gbps)",
						it.Ports, r.key, units.FormatRate(r.rate), units.FormatRate(l.speed), l.name)
				}
			}
		}
	}
	p.links = links
	return p, nil
}

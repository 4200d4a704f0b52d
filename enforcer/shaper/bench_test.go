package shaper

import (
	"fmt"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"port-traffic-dog/internal/testnet"
)

// items1000 is 1,000 limited single-port items (TCP and UDP, both
// directions): 2,000 HTB classes and 4,000 u32 nodes (gate and classifier).
func items1000(rate uint64) []Item {
	out := make([]Item, 1000)
	for i := range out {
		out[i] = item(fmt.Sprint(10000+i), uint16(i+1), rate, rate)
	}
	return out
}

func benchShaper(b *testing.B) (*Shaper, *testnet.Pair) {
	p := testnet.NewPair(b)
	return New(p.Server.Fd(), nil), p
}

func mustApply(b *testing.B, s *Shaper, items []Item) {
	b.Helper()
	if err := s.Apply(Desired{Interfaces: []string{testnet.Dev}, Items: items}); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkApply1000 sets up 1,000 limited items on an interface without
// any: HTB roots, IFB, gate, classes, queues and both u32 trees.
func BenchmarkApply1000(b *testing.B) {
	s, _ := benchShaper(b)
	items := items1000(10e6)
	for b.Loop() {
		b.StopTimer()
		mustApply(b, s, nil)
		b.StartTimer()
		mustApply(b, s, items)
	}
}

// BenchmarkChangeRate changes one item's rate among 1,000: two class (and
// queue) replaces.
func BenchmarkChangeRate(b *testing.B) {
	s, _ := benchShaper(b)
	items := items1000(10e6)
	mustApply(b, s, items)
	i := 0
	for b.Loop() {
		items[500].RateIn, items[500].RateOut = uint64(20e6+i%2*10e6), uint64(20e6+i%2*10e6)
		mustApply(b, s, items)
		i++
	}
}

// BenchmarkChangePorts adds or removes one item among 1,000: its classes,
// and a new generation of both u32 trees swapped in.
func BenchmarkChangePorts(b *testing.B) {
	s, _ := benchShaper(b)
	items := items1000(10e6)
	extra := item("20000", 1001, 10e6, 10e6)
	mustApply(b, s, items)
	i := 0
	for b.Loop() {
		if i%2 == 0 {
			mustApply(b, s, append(items[:1000:1000], extra))
		} else {
			mustApply(b, s, items)
		}
		i++
	}
}

// BenchmarkVerify is the control loop's check, run every second, with
// nothing broken: on an interface with one and with 1,000 limited items
// (both directions). cpu-ns/op is the process's CPU time (user and system:
// the kernel's work for the dumps), steadier than the wall time on a
// shared machine.
func BenchmarkVerify(b *testing.B) {
	for _, n := range []int{1, 1000} {
		b.Run(fmt.Sprint(n, "items"), func(b *testing.B) {
			s, _ := benchShaper(b)
			mustApply(b, s, items1000(10e6)[:n])
			cpu0 := cpuTime(b)
			for b.Loop() {
				if what, err := s.Verify(); what != "" || err != nil {
					b.Fatalf("Verify: %q, %v", what, err)
				}
			}
			b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/testnet"
	"port-traffic-dog/internal/testprom"
	"port-traffic-dog/internal/testutil"
)

// load is steady TCP traffic to one port, in chunks, that can be paused:
// a power loss is simulated with the traffic stopped while the host is
// "down", since a powered-off host counts nothing and the veth would.
type load struct {
	mu     sync.Mutex // held by a chunk in flight, and while paused
	stop   chan struct{}
	done   chan struct{}
	paused time.Duration
	since  time.Time
}

const loadChunk = 200_000

func startLoad(h *host, port uint16) *load {
	l := &load{stop: make(chan struct{}), done: make(chan struct{}), since: time.Now()}
	go func() {
		defer close(l.done)
		for {
			select {
			case <-l.stop:
				return
			default:
			}
			l.mu.Lock()
			h.pair.TCP(testnet.ServerIP4, port, loadChunk, 0, 5*time.Second)
			l.mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	}()
	h.t.Cleanup(l.end)
	return l
}

// pause waits for the chunk in flight and holds the traffic; resume lets it
// go on.
func (l *load) pause() time.Time { l.mu.Lock(); return time.Now() }
func (l *load) resume(at time.Time) {
	l.paused += time.Since(at)
	l.mu.Unlock()
}

// end stops the traffic; active is how long it flowed.
func (l *load) end() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.done
}

func (l *load) active() time.Duration { return time.Since(l.since) - l.paused }

// powerLoss is a hard reset of the host under traffic: dog-enforcer is
// killed (no final checkpoint), the traffic stops, the table goes (as a
// reboot leaves the kernel), and dog-enforcer starts again, restoring its
// last checkpoint. It returns the new enforcer and the bytes in of item id
// the kernel had counted when the power went and has after the restore.
func (h *host) powerLoss(e *proc, l *load, id string) (next *proc, before, after uint64) {
	h.t.Helper()
	e.stop(h.t, syscall.SIGKILL)
	at := l.pause()
	defer l.resume(at)
	before = h.counter(id, layout.In).Bytes
	h.pair.Server.Run(h.t, "nft", "flush", "ruleset")
	next = h.enforcer()
	return next, before, h.counter(id, layout.In).Bytes
}

// TestPowerLossesNeverLowerServedCounters: a real Prometheus scrapes the
// exporter every second while the host takes 10 power losses under
// traffic. No scraped sample of the item's bytes or packets is lower than
// the one before (resets() is 0), and the served increase is the wire's
// truth less what each power loss took (the traffic since the last
// checkpoint), never more than the truth.
func TestPowerLossesNeverLowerServedCounters(t *testing.T) {
	testutil.RequireBinary(t, "prometheus")
	const interval = time.Second
	h := newHost(t, "checkpoint_interval: 1s\nports:\n  - ports: \"443\"\n")
	e := h.enforcer()
	start(t, h.pair.Server, "dog-exporter", "--web.listen-address", "127.0.0.1:9730", "--state-dir", filepath.Join(h.dir, "state"))
	target := h.pair.Server.Forward(t, "127.0.0.1:9730")
	prom := testprom.StartPrometheus(t, testprom.OneTarget(target))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := prom.WaitForTargetsUp(ctx, 1); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // quiet samples before the traffic
	begin := time.Now()
	wire0 := h.pair.Server.Stats(t, testnet.Dev)
	l := startLoad(h, 443)
	var lost uint64
	var losses []string
	for range 10 {
		time.Sleep(time.Duration(1500+rand.IntN(1000)) * time.Millisecond)
		var before, after uint64
		e, before, after = h.powerLoss(e, l, "p443")
		if after > before {
			t.Fatalf("the restore counted more than the kernel had: %d -> %d", before, after)
		}
		lost += before - after
		losses = append(losses, fmt.Sprint(before-after))
	}
	active := l.active()
	l.end()
	time.Sleep(3 * interval) // a checkpoint of the last bytes, and scrapes of it
	wire, _ := h.pair.Server.Stats(t, testnet.Dev).Sub(wire0).L3()
	window := fmt.Sprintf("%ds", int(time.Since(begin).Seconds())+3)
	query := func(q string) float64 {
		t.Helper()
		v, err := prom.Query(ctx, q)
		if err != nil || len(v) != 1 {
			t.Fatalf("%s: %v %v", q, v, err)
		}
		return v[0].Value
	}
	for _, s := range []string{
		`port_traffic_dog_bytes_total{port="443",direction="in"}`, `port_traffic_dog_bytes_total{port="443",direction="out"}`,
		`port_traffic_dog_packets_total{port="443",direction="in"}`, `port_traffic_dog_packets_total{port="443",direction="out"}`,
	} {
		if n := query("count_over_time(" + s + "[" + window + "])"); n < 20 {
			t.Errorf("%s: %v samples", s, n)
		}
		if r := query("resets(" + s + "[" + window + "])"); r != 0 {
			t.Errorf("%s fell %v times across the power losses", s, r)
		}
	}
	in := `port_traffic_dog_bytes_total{port="443",direction="in"}[` + window + `]`
	served := query("max_over_time(" + in + ") - min_over_time(" + in + ")")
	increase := query("increase(" + in + ")")
	rate := float64(wire) / active.Seconds()
	t.Logf("wire %d B in %s (%.0f B/s), lost %d B in 10 power losses (%s), served %.0f B, increase() %.0f B",
		wire, active.Round(time.Millisecond), rate, lost, strings.Join(losses, " "), served, increase)
	if increase > float64(wire) || served > float64(wire) {
		t.Errorf("Prometheus counted more than the wire carried: increase %.0f, served %.0f, wire %d", increase, served, wire)
	}
	// The veth also carries the link's own stray packets (IPv6 multicast
	// reports): a few kB.
	if short := float64(wire) - float64(lost) - served; short > 20_000 || short < -20_000 {
		t.Errorf("served %.0f B, want the wire's %d less the %d lost: %.0f B off", served, wire, lost, short)
	}
	if perLoss := rate * interval.Seconds(); float64(lost) > 10*(1.5*perLoss+loadChunk) {
		t.Errorf("lost %d B in 10 power losses: more than one interval (%.0f B) each", lost, perLoss)
	}
}

// TestCrashLoopKeepsCheckpointing: power losses every 0.3-0.8 intervals
// under traffic. Each start restores the last checkpoint and schedules the
// next one at most an interval after it (not after the start), so the
// restored counter keeps advancing and a power loss takes at most about one
// interval of traffic. Scaled to a 2 s interval here; DOG_CRASHLOOP=full runs the
// issue's figures (10 s interval, 20 power losses every 3-8 s, about two
// minutes) for bench/RESULTS.md.
func TestCrashLoopKeepsCheckpointing(t *testing.T) {
	interval, gapMin, gapMax := 2*time.Second, 600*time.Millisecond, 1600*time.Millisecond
	if os.Getenv("DOG_CRASHLOOP") == "full" {
		interval, gapMin, gapMax = 10*time.Second, 3*time.Second, 8*time.Second
	}
	h := newHost(t, fmt.Sprintf("checkpoint_interval: %s\nports:\n  - ports: \"443\"\n", interval))
	e := h.enforcer()
	wire0 := h.pair.Server.Stats(t, testnet.Dev)
	l := startLoad(h, 443)
	var restored []uint64
	var lost, maxLoss uint64
	for range 20 {
		time.Sleep(gapMin + time.Duration(rand.Int64N(int64(gapMax-gapMin))))
		var before, after uint64
		e, before, after = h.powerLoss(e, l, "p443")
		if n := len(restored); n > 0 && after < restored[n-1] {
			t.Errorf("the restored counter went back: %d after %d", after, restored[n-1])
		}
		restored = append(restored, after)
		lost += before - after
		maxLoss = max(maxLoss, before-after)
	}
	active := l.active()
	l.end()
	wire, _ := h.pair.Server.Stats(t, testnet.Dev).Sub(wire0).L3()
	rate := float64(wire) / active.Seconds()
	perInterval := rate * interval.Seconds()
	progress := restored[len(restored)-1] - restored[0]
	t.Logf("interval %s, 20 power losses every %s-%s: wire %d B in %s (%.0f B/s, %.0f B an interval); restored counter %d -> %d (+%d B, %.0f%% of the wire); lost %d B, %.0f B a power loss on average (%.2f intervals), at most %d B (%.2f intervals)",
		interval, gapMin, gapMax, wire, active.Round(time.Millisecond), rate, perInterval, restored[0], restored[len(restored)-1],
		progress, 100*float64(progress)/float64(wire), lost, float64(lost)/20, float64(lost)/20/perInterval, maxLoss, float64(maxLoss)/perInterval)
	// Anchored on each start, no checkpoint would come before the next
	// power loss, and every start would restore the same counter.
	if float64(progress) < 0.1*float64(wire) {
		t.Errorf("the restored counter advanced %d B of %d on the wire: the crash loop loses (almost) everything", progress, wire)
	}
	if float64(maxLoss) > 1.5*perInterval+loadChunk {
		t.Errorf("a power loss took %d B: more than about one interval (%.0f B)", maxLoss, perInterval)
	}
}

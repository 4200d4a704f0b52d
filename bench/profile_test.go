package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"port-traffic-dog/bench/stats"
	"port-traffic-dog/internal/testnet"
	"port-traffic-dog/internal/testutil"
)

// netfilterParts are the parts of netfilter's work a profile tells apart,
// by the kernel function a sample falls in (netfilterPart).
var netfilterParts = []string{"walk", "lookup", "objects", "conntrack"}

// netfilterPart is the part of netfilter's work the kernel function sym
// does, "" for any other function. A function that also serves other work
// (siphash, which conntrack hashes with) may be counted: that work is the
// same with and without a table, and BenchmarkPacketCostProfile's share
// cancels it. What it must not miss is netfilter's own functions.
func netfilterPart(sym string) string {
	nft := strings.HasPrefix(sym, "nft_")
	switch {
	case strings.Contains(sym, "conntrack") || strings.Contains(sym, "defrag") ||
		strings.HasPrefix(sym, "nf_ct_") || strings.HasPrefix(sym, "nf_nat") ||
		strings.HasPrefix(sym, "nf_confirm") || strings.HasPrefix(sym, "__siphash"):
		return "conntrack"
	case sym == "jhash" || nft && strings.Contains(sym, "lookup"):
		return "lookup"
	case nft && (strings.Contains(sym, "obj") || strings.Contains(sym, "counter") || strings.Contains(sym, "quota")):
		return "objects"
	case nft || strings.HasPrefix(sym, "nf_") || strings.HasPrefix(sym, "__nf_"):
		return "walk"
	}
	return ""
}

// profile is one profiled send of udpCost's datagrams.
type profile struct {
	cpu     time.Duration  // the sending thread's CPU time per packet
	samples int            // the thread's samples
	parts   map[string]int // samples per netfilterPart
}

// netfilter is the share of the thread's samples in netfilter's functions.
func (p profile) netfilter() float64 {
	n := 0
	for _, v := range p.parts {
		n += v
	}
	return p.share(n)
}

func (p profile) share(n int) float64 {
	if p.samples == 0 {
		return 0
	}
	return float64(n) / float64(p.samples)
}

// BenchmarkPacketCostProfile measures the setups of BenchmarkPacketCost (UDP)
// from inside the packet's path: perf samples the sending thread (on a veth
// the receiving namespace's input path runs in its softirq) while it sends
// DOG_BENCH_PROFILE_PACKETS datagrams (200,000), and the share of its
// samples in netfilter's functions is the table's share of the packet's
// cost. The share of the baseline's packet rate is then
// (1 − setup's netfilter share) / (1 − baseline's): the rest of the path
// costs the same with and without a table. Both shares come from the same
// samples, so the machine's drift, which moves PacketCost's CPU time by
// ±10 % over minutes and by a bias of its own per namespace pair, cancels in
// each sample, and the sampling error is the binomial one (about ±0.005 at
// 4,000 samples). What it does not see is a table's indirect cost: caches
// its data takes from the rest of the path. DOG_BENCH_PROFILE_CYCLES (8)
// samples per setup, all setups in turn in each cycle. Needs perf (Debian:
// linux-perf); the VM has no hardware counters, so the clock samples.
func BenchmarkPacketCostProfile(b *testing.B) {
	testutil.RequireBinary(b, "perf")
	setups := packetCostSetups(b, 1)
	packets := envInt("DOG_BENCH_PROFILE_PACKETS", 200000)
	cycles := envInt("DOG_BENCH_PROFILE_CYCLES", 8)
	time.Sleep(2 * time.Second) // the kernel's deferred work after the loads
	profiles := map[string][]profile{}
	inTurn(setups, cycles, func(st *setup) {
		profiles[st.name] = append(profiles[st.name], profileUDP(b, st.pair, st.port, packets))
	})
	if stats.Median(netfilterShares(profiles["minimal"])) == 0 {
		b.Fatal("perf saw no netfilter function in the minimal table's profile: are kernel symbols hidden (/proc/sys/kernel/kptr_restrict)?")
	}
	shares := map[string][]float64{}
	for _, st := range setups {
		base := "none"
		if strings.HasPrefix(st.name, "ct+") || strings.HasPrefix(st.name, "forwarding+") {
			base = "ct-only"
		}
		shares[st.name] = reportProfile(b, st.name, profiles[st.name], profiles[base], base)
	}
	for _, st := range setups {
		if !strings.HasPrefix(st.name, "items=") {
			continue
		}
		var d []float64
		for c, v := range shares[st.name] {
			d = append(d, v-shares["minimal"][c])
		}
		b.ReportMetric(stats.Median(d), "udp/"+st.name+"-minus-minimal")
	}
}

// reportProfile reports a setup's profiles against its baseline's, taken
// in the same cycles, and returns the share of the baseline's rate per
// cycle.
func reportProfile(b *testing.B, name string, ps, base []profile, baseName string) []float64 {
	label := "udp/" + name
	var share, cpu, nf []float64
	parts := map[string][]float64{}
	for c, p := range ps {
		f := p.netfilter()
		share = append(share, (1-f)/(1-base[c].netfilter()))
		cpu = append(cpu, float64(p.cpu))
		nf = append(nf, f*float64(p.cpu))
		for _, part := range netfilterParts {
			parts[part] = append(parts[part], p.share(p.parts[part])*float64(p.cpu))
		}
	}
	lo, hi := minMax(share)
	b.ReportMetric(stats.Median(cpu), label+"-ns/pkt")
	b.ReportMetric(stats.Median(nf), label+"-netfilter-ns/pkt")
	line := fmt.Sprintf("%-24s ns/pkt %5.0f  netfilter %4.0f (", label, stats.Median(cpu), stats.Median(nf))
	for i, part := range netfilterParts {
		v := stats.Median(parts[part])
		b.ReportMetric(v, label+"-"+part+"-ns/pkt")
		if i > 0 {
			line += ", "
		}
		line += fmt.Sprintf("%s %.0f", part, v)
	}
	b.ReportMetric(stats.Median(share), label+"-share")
	b.ReportMetric(lo, label+"-share-min")
	b.ReportMetric(hi, label+"-share-max")
	b.Logf("%s)  share of %s's rate %.3f (cycles %.3f–%.3f)", line, baseName, stats.Median(share), lo, hi)
	return share
}

func netfilterShares(ps []profile) []float64 {
	var v []float64
	for _, p := range ps {
		v = append(v, p.netfilter())
	}
	return v
}

// profileUDP is udpCost with perf sampling the sending thread's CPU clock
// while it sends.
func profileUDP(b *testing.B, p *testnet.Pair, port uint16, n int) (prof profile) {
	udpSender(b, p, port, n, func(send func()) {
		rec := startPerf(b, unix.Gettid())
		t0 := threadCPU()
		send()
		prof.cpu = (threadCPU() - t0) / time.Duration(n)
		prof.samples, prof.parts = rec.stop(b)
	})
	return prof
}

// perfRecording is a `perf record` of one thread, enabled only while the
// measured work runs (its control pipe), so perf's own start and stop fall
// outside it.
type perfRecording struct {
	cmd      *exec.Cmd
	ctl      *os.File
	ack      *bufio.Reader
	ackFile  *os.File
	data     string
	finished bool
}

// perfHz is perf's sampling rate: about 4,000 samples in a second of
// sending, without the sampling interrupts weighing on the path.
const perfHz = "4999"

func startPerf(b *testing.B, tid int) *perfRecording {
	b.Helper()
	ctlR, ctlW, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	ackR, ackW, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	r := &perfRecording{ctl: ctlW, ack: bufio.NewReader(ackR), ackFile: ackR, data: filepath.Join(b.TempDir(), "perf.data")}
	r.cmd = exec.Command("perf", "record", "-q", "-e", "cpu-clock", "-F", perfHz, "-D", "-1",
		"--control", "fd:3,4", "-t", strconv.Itoa(tid), "-o", r.data)
	r.cmd.ExtraFiles = []*os.File{ctlR, ackW}
	var stderr bytes.Buffer
	r.cmd.Stderr = &stderr
	if err := r.cmd.Start(); err != nil {
		b.Fatalf("perf record: %v", err)
	}
	_ = ctlR.Close()
	_ = ackW.Close()
	b.Cleanup(func() { r.kill() })
	if err := r.command("enable"); err != nil {
		r.kill()
		b.Fatalf("perf record: %v: %s", err, stderr.String())
	}
	return r
}

// command sends perf a control command and waits for its ack.
func (r *perfRecording) command(c string) error {
	if _, err := fmt.Fprintln(r.ctl, c); err != nil {
		return fmt.Errorf("perf control %q: %w", c, err)
	}
	line, err := r.ack.ReadString('\n')
	if err != nil {
		return fmt.Errorf("perf control %q: no ack: %w", c, err)
	}
	// perf ends each ack with a NUL, which the next read starts with.
	if strings.Trim(line, "\x00\n") != "ack" {
		return fmt.Errorf("perf control %q: %q", c, line)
	}
	return nil
}

func (r *perfRecording) kill() { _ = r.end(os.Kill) }

// end sends perf sig and waits for it to exit, once.
func (r *perfRecording) end(sig os.Signal) error {
	if r.finished {
		return nil
	}
	r.finished = true
	_ = r.cmd.Process.Signal(sig)
	err := r.cmd.Wait()
	_ = r.ctl.Close()
	_ = r.ackFile.Close()
	return err
}

// stop ends the recording and counts its samples: all, and per
// netfilterPart.
func (r *perfRecording) stop(b *testing.B) (samples int, parts map[string]int) {
	b.Helper()
	if err := r.command("disable"); err != nil {
		b.Fatal(err)
	}
	if err := r.end(syscall.SIGINT); err != nil && !interrupted(err) {
		b.Fatalf("perf record: %v", err)
	}
	out, err := exec.Command("perf", "report", "-i", r.data, "--no-children", "--sort", "sym",
		"--stdio", "-F", "sample,sym", "-q", "-g", "none").Output()
	if err != nil {
		b.Fatalf("perf report: %v", err)
	}
	_ = os.Remove(r.data)
	samples, parts = countSamples(out)
	return samples, parts
}

// interrupted tells whether err is the exit of a perf that wrote its data
// and ended, as asked, by the SIGINT it then raises on itself.
func interrupted(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGINT
}

// countSamples reads `perf report -F sample,sym` lines ("  123  [k] sym").
func countSamples(report []byte) (samples int, parts map[string]int) {
	parts = map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(report))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 {
			continue
		}
		n, err := strconv.Atoi(f[0])
		if err != nil {
			continue
		}
		samples += n
		if part := netfilterPart(f[2]); part != "" && f[1] == "[k]" {
			parts[part] += n
		}
	}
	return samples, parts
}

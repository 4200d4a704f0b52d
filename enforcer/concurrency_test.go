package enforcer

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"port-traffic-dog/enforcer/admin"
	"port-traffic-dog/exporter"
	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/state"
	"port-traffic-dog/internal/testnet"
)

// monotonic remembers the last value one observer saw of each series and
// reports a value that went down.
type monotonic struct {
	who  string
	last map[string]uint64
	errs *[]string
	mu   *sync.Mutex
}

func (m *monotonic) see(series string, v uint64) {
	if prev, ok := m.last[series]; ok && v < prev {
		m.mu.Lock()
		*m.errs = append(*m.errs, fmt.Sprintf("%s saw %s go from %d down to %d", m.who, series, prev, v))
		m.mu.Unlock()
	}
	m.last[series] = v
}

// TestConcurrentResetsReloadsCheckpointsScrapes runs 1,000 operations at
// once against one enforcer in a namespace (its control loop ticking and
// polling the config file, traffic flowing): manual resets of one item or
// all, config rewrites with reloads (remarks and quotas change, an item
// comes and goes), checkpoints, status reads and exporter scrapes. Under the
// race detector, within a deadline (a deadlock dumps every goroutine):
// every reset the API confirmed is in the history exactly once, the periods
// in the history and the current one add up to the counters exactly (no
// byte lost or counted twice between periods), and no observer ever sees a
// counter go down.
func TestConcurrentResetsReloadsCheckpointsScrapes(t *testing.T) {
	configs := [2]string{
		"checkpoint_interval: 1s\nports:\n  - ports: \"443\"\n    remark: a\n    quota: 100GB\n    reset_day: 0\n" +
			"  - ports: \"8080\"\n    reset_day: 0\n  - ports: \"9000\"\n    reset_day: 0\n",
		"checkpoint_interval: 1s\nports:\n  - ports: \"443\"\n    remark: b\n    quota: 200GB\n    reset_day: 0\n" +
			"  - ports: \"8080\"\n    remark: x\n    reset_day: 0\n",
	}
	r := newRig(t, configs[0])
	e := r.enforcer()
	stopLoop := r.run(e)
	// Resets and status also go through the admin API, as dog sends them.
	adminCtx, stopAdmin := context.WithCancel(context.Background())
	adminDone := make(chan error, 1)
	go func() { adminDone <- admin.Serve(adminCtx, e, admin.Options{Logger: r.logger()}) }()
	defer func() {
		stopAdmin()
		if err := <-adminDone; err != nil {
			t.Errorf("admin API: %v", err)
		}
	}()
	api := adminapi.NewClient(e.AdminSocket())
	testnet.WaitFor(t, 5*time.Second, "the admin socket", func() bool {
		_, err := api.Status(context.Background())
		return err == nil
	})
	x := exporter.New(r.pair.Server.Fd(), filepath.Join(r.dir, "state"), r.logger())
	srv := httptest.NewServer(x.Handler(nil, 4, 10*time.Second))
	defer srv.Close()

	// DOG_LONG=1 (docs/RELIABILITY.md): 10,000 operations instead.
	scale := 1
	if os.Getenv("DOG_LONG") == "1" {
		scale = 10
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(scale)*3*time.Minute)
	defer cancel()
	trafficDone := make(chan struct{})
	go func() { // steady traffic on both stable items
		defer close(trafficDone)
		for i := 0; ctx.Err() == nil; i++ {
			port := uint16(443)
			if i%2 == 1 {
				port = 8080
			}
			r.pair.TCP(testnet.ServerIP4, port, 20_000, 20_000, 5*time.Second)
		}
	}()

	var mu sync.Mutex
	var errs []string
	fail := func(format string, args ...any) {
		mu.Lock()
		errs = append(errs, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	confirmed := map[string]int{} // resets the API returned, by item id
	var ops sync.WaitGroup
	worker := func(name string, n int, op func(rng *rand.Rand, m *monotonic)) {
		ops.Add(1)
		go func() {
			defer ops.Done()
			rng := rand.New(rand.NewPCG(uint64(len(name)), uint64(n)))
			m := &monotonic{who: name, last: map[string]uint64{}, errs: &errs, mu: &mu}
			for range n * scale {
				if ctx.Err() != nil {
					fail("%s: ran out of time", name)
					return
				}
				op(rng, m)
			}
		}()
	}
	reset := func(rng *rand.Rand, _ *monotonic) {
		var resets []state.Reset
		var err error
		req := adminapi.ResetRequest{All: true}
		switch rng.IntN(3) {
		case 0:
			req = adminapi.ResetRequest{Ports: []string{"443"}}
		case 1:
			req = adminapi.ResetRequest{Ports: []string{"8080"}}
		}
		if rng.IntN(2) == 0 { // as dog does it
			var resp *adminapi.ResetResponse
			if resp, err = api.Reset(ctx, req); err == nil {
				resets = resp.Resets
			}
		} else {
			resets, err = e.Reset(req.Ports, req.All, state.ReasonManual)
		}
		if err != nil {
			fail("reset: %v", err)
			return
		}
		mu.Lock()
		for _, r := range resets {
			confirmed[r.ID]++
		}
		mu.Unlock()
	}
	worker("resetter 1", 100, reset)
	worker("resetter 2", 100, reset)
	var flip int
	worker("reloader", 100, func(_ *rand.Rand, _ *monotonic) {
		flip ^= 1
		r.writeConfig(configs[flip])
		if err := e.Reload(); err != nil {
			fail("reload: %v", err)
		}
	})
	counters := func(m *monotonic, items []state.Item) {
		for _, it := range items {
			if it.ID == "p443" || it.ID == "p8080" {
				m.see(it.ID+" in", it.In.Bytes)
				m.see(it.ID+" out", it.Out.Bytes)
			}
		}
	}
	worker("checkpointer", 200, func(_ *rand.Rand, m *monotonic) {
		st, err := e.Checkpoint()
		if err != nil {
			fail("checkpoint: %v", err)
			return
		}
		counters(m, st.Items)
	})
	worker("status", 250, func(rng *rand.Rand, m *monotonic) {
		var st *adminapi.Status
		var err error
		if rng.IntN(2) == 0 {
			st, err = api.Status(ctx)
		} else {
			st, err = e.Status()
		}
		if err != nil {
			fail("status: %v", err)
			return
		}
		var items []state.Item
		for _, it := range st.Items {
			items = append(items, state.Item{ID: it.ID, In: it.In, Out: it.Out})
			if it.PeriodIn > it.In.Bytes || it.PeriodOut > it.Out.Bytes {
				fail("status: %s period %d/%d beyond its counters %d/%d", it.Ports, it.PeriodIn, it.PeriodOut, it.In.Bytes, it.Out.Bytes)
			}
		}
		counters(m, items)
	})
	scrape := func(_ *rand.Rand, m *monotonic) {
		resp, err := http.Get(srv.URL)
		if err != nil {
			fail("scrape: %v", err)
			return
		}
		defer resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusServiceUnavailable: // over --web.max-requests
			io.Copy(io.Discard, resp.Body)
			return
		case http.StatusOK:
		default:
			fail("scrape: %s", resp.Status)
			return
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			l := sc.Text()
			if !strings.HasPrefix(l, "port_traffic_dog_bytes_total{") {
				continue
			}
			series, val, _ := strings.Cut(l, " ")
			if !strings.Contains(series, `port="443"`) && !strings.Contains(series, `port="8080"`) {
				continue
			}
			v, err := strconv.ParseFloat(val, 64)
			if err != nil {
				fail("scrape: %q: %v", l, err)
				continue
			}
			m.see(series, uint64(v))
		}
	}
	worker("scraper 1", 125, scrape)
	worker("scraper 2", 125, scrape)

	finished := make(chan struct{})
	go func() { ops.Wait(); close(finished) }()
	began := time.Now()
	select {
	case <-finished:
	case <-ctx.Done():
		var dump strings.Builder
		pprof.Lookup("goroutine").WriteTo(&dump, 2)
		t.Fatalf("%d operations did not finish in time (deadlock?); goroutines:\n%s", 1000*scale, dump.String())
	}
	cancel()
	<-trafficDone
	t.Logf("%d concurrent operations in %s", 1000*scale, time.Since(began).Round(time.Millisecond))
	stopLoop() // the final checkpoint
	for _, e := range errs {
		t.Error(e)
	}

	hist, skipped, err := state.ReadHistory(filepath.Join(r.dir, "state"))
	if err != nil || skipped != 0 {
		t.Fatalf("history: %v, %d lines skipped", err, skipped)
	}
	recorded := map[string]int{}
	sums := map[string][2]uint64{}
	for _, h := range hist {
		if h.Reason != state.ReasonManual {
			t.Errorf("unexpected history entry %+v", h)
		}
		recorded[h.ID]++
		s := sums[h.ID]
		sums[h.ID] = [2]uint64{s[0] + h.InBytes, s[1] + h.OutBytes}
	}
	for id, n := range confirmed {
		if recorded[id] != n {
			t.Errorf("%s: %d resets confirmed, %d in the history", id, n, recorded[id])
		}
	}
	for id, n := range recorded {
		if confirmed[id] == 0 {
			t.Errorf("%s: %d resets in the history, none confirmed", id, n)
		}
	}
	st, warn, err := state.Load(filepath.Join(r.dir, "state"))
	if err != nil || warn != nil {
		t.Fatalf("state: %v %v", err, warn)
	}
	for _, id := range []string{"p443", "p8080"} {
		it, ok := itemOfState(st, id)
		if !ok {
			t.Fatalf("%s not in the final state", id)
		}
		in := sums[id][0] + it.PeriodIn().Bytes
		out := sums[id][1] + it.PeriodOut().Bytes
		if in != it.In.Bytes || out != it.Out.Bytes {
			t.Errorf("%s: the periods add up to %d in / %d out, the counters are %d / %d", id, in, out, it.In.Bytes, it.Out.Bytes)
		}
		if confirmed[id] < 20 || it.In.Bytes == 0 {
			t.Errorf("%s: only %d resets, %d bytes: the test did not exercise much", id, confirmed[id], it.In.Bytes)
		}
	}
	t.Logf("resets confirmed and recorded: %v", confirmed)
}

func itemOfState(st *state.State, id string) (state.Item, bool) {
	for _, it := range st.Items {
		if it.ID == id {
			return it, true
		}
	}
	return state.Item{}, false
}

package bench

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"port-traffic-dog/bench/stats"
	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/testnet"
	"port-traffic-dog/internal/testutil"
)

// BenchmarkLiveView measures what an open live view costs the enforcer at
// n items: the shipped dog-enforcer in a namespace, its CPU while nobody
// looks (idle), while the console (dog alone, in tmux at 80×24) is open
// and reads the status every 2 s, and while `dog status --watch
// --interval 1s` (the shortest interval dog allows) runs; each phase
// DOG_BENCH_LIVE_SECONDS (default 30). Also: one status read over the
// admin socket (ms, median), the figure the 1 s floor is about, and dog's
// own CPU in each view.
func BenchmarkLiveView(b *testing.B) {
	testutil.RequireRoot(b)
	testutil.RequireBinary(b, "tmux")
	n := applyItems()
	b.Run(fmt.Sprintf("items=%d", n), func(b *testing.B) {
		ns := testnet.NewNS(b, "live")
		enf, files := scaledEnforcer(b, ns, n, "")
		cfg, sock := files.config, files.socket
		dog := binary(b, "dog")
		phase := time.Duration(envInt("DOG_BENCH_LIVE_SECONDS", 30)) * time.Second

		client := adminapi.NewClient(sock)
		testnet.WaitFor(b, 10*time.Second, "the admin socket", func() bool {
			_, err := client.Status(context.Background())
			return err == nil
		})
		var reads []float64
		for range 2 * reps() {
			t0 := time.Now()
			st, err := client.Status(context.Background())
			if err != nil || len(st.Items) != n {
				b.Fatalf("status: %v", err)
			}
			reads = append(reads, ms(time.Since(t0)))
		}
		time.Sleep(12 * time.Second) // past a checkpoint: the enforcer settles

		// cpu is the share of a core pid used during the phase.
		cpu := func(pids ...int) []float64 {
			t0 := make([]time.Duration, len(pids))
			for i, p := range pids {
				t0[i] = cpuTime(b, p)
			}
			start := time.Now()
			time.Sleep(phase)
			out := make([]float64, len(pids))
			for i, p := range pids {
				out[i] = float64(cpuTime(b, p)-t0[i]) / float64(time.Since(start)) * 100
			}
			return out
		}
		idle := cpu(enf.pid())[0]

		// The console, in a tmux of the benchmark's own.
		tmuxSock := filepath.Join(b.TempDir(), "tmux.sock")
		tmux := func(args ...string) string {
			out, err := exec.Command("tmux", append([]string{"-S", tmuxSock}, args...)...).CombinedOutput()
			if err != nil {
				b.Fatalf("tmux %v: %v\n%s", args, err, out)
			}
			return strings.TrimSpace(string(out))
		}
		b.Cleanup(func() { exec.Command("tmux", "-S", tmuxSock, "kill-server").Run() })
		tmux("-f", "/dev/null", "new-session", "-d", "-s", "dog", "-x", "80", "-y", "24",
			"exec env TERM=xterm-256color "+dog+" --socket "+sock+" --config "+cfg)
		consolePID, err := strconv.Atoi(tmux("display-message", "-p", "-t", "dog", "#{pane_pid}"))
		if err != nil {
			b.Fatal(err)
		}
		testnet.WaitFor(b, 10*time.Second, "the console to show the items", func() bool {
			return strings.Contains(tmux("capture-pane", "-p", "-t", "dog"), "TOTAL")
		})
		console := cpu(enf.pid(), consolePID)
		tmux("kill-server")

		watch := exec.Command(dog, "--socket", sock, "--config", cfg, "status", "--watch", "--interval", "1s")
		var out testutil.SyncBuffer
		watch.Stdout, watch.Stderr = &out, &out
		if err := watch.Start(); err != nil {
			b.Fatal(err)
		}
		defer func() { watch.Process.Kill(); watch.Wait() }()
		testnet.WaitFor(b, 10*time.Second, "the watch's first frame", func() bool { return strings.Contains(out.String(), "Ctrl-C") })
		watched := cpu(enf.pid(), watch.Process.Pid)

		b.ReportMetric(stats.Median(reads), "ms-status-read")
		b.ReportMetric(idle, "%CPU-enforcer-idle")
		b.ReportMetric(console[0], "%CPU-enforcer-console-2s")
		b.ReportMetric(watched[0], "%CPU-enforcer-watch-1s")
		b.ReportMetric(console[1], "%CPU-dog-console")
		b.ReportMetric(watched[1], "%CPU-dog-watch-1s")
	})
}

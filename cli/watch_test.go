package cli

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"port-traffic-dog/internal/testnet"
	"port-traffic-dog/internal/testutil"
)

// TestStatusWatch: status --watch redraws the table with a live rate
// that follows real traffic, stops cleanly when its context ends and
// refuses an interval under a second.
func TestStatusWatch(t *testing.T) {
	h := newHost(t, "ports:\n  - ports: \"5300\"\n    remark: dns\n")
	h.start()
	var out, errOut testutil.SyncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- Main([]string{"--socket", h.sock, "--config", h.config, "status", "--watch", "--interval", "1s"},
			Env{Out: &out, Err: &errOut, Now: time.Now, Ctx: ctx, NetNS: h.pair.Server.Fd(), Width: 80})
	}()
	// 5300's line gets a rate in bits per second over the last interval.
	live := regexp.MustCompile(`(?m)^5300 .*\n  now in ([0-9.]+) (bit|Kbit|Mbit)/s`)
	deadline := time.Now().Add(15 * time.Second)
	for {
		h.pair.UDP(testnet.ServerIP4, 5300, 200, 1000, 0, time.Second) // ~200 KB a round; a lost datagram does not matter
		if m := live.FindStringSubmatch(out.String()); m != nil && m[1] != "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no non-zero rate for 5300 in the watch:\n%s%s", out.String(), errOut.String())
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("watch ended with exit %d: %s", code, errOut.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch did not stop with its context")
	}
	// On a terminal: each frame homes the cursor and clears what the last
	// one left, with dog's own sequences, not escaped as foreign text is.
	if !strings.Contains(out.String(), "\x1b[H") || !strings.Contains(out.String(), "\x1b[K\n") || strings.Contains(out.String(), `\u001b`) {
		t.Errorf("frames without their cursor moves, or with them escaped:\n%q", out.String())
	}
	if n := strings.Count(out.String(), "every 1s, Ctrl-C stops"); n < 2 {
		t.Errorf("%d frames", n)
	}
	// A terminal shorter than the table: each frame keeps its head (time,
	// items) and says how much is left out, instead of scrolling the head
	// off the screen.
	var short testutil.SyncBuffer
	ctx, cancel = context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancel()
	Main([]string{"--socket", h.sock, "--config", h.config, "status", "--watch", "--interval", "1s"},
		Env{Out: &short, Err: &errOut, Now: time.Now, Ctx: ctx, NetNS: h.pair.Server.Fd(), Width: 80, Height: 6})
	frames := strings.Split(short.String(), "\x1b[H")[1:]
	if len(frames) == 0 {
		t.Fatalf("no frame on a short terminal: %q", short.String())
	}
	for _, f := range frames {
		lines := strings.Split(strings.TrimSuffix(strings.ReplaceAll(strings.ReplaceAll(f, "\x1b[K", ""), "\x1b[J", ""), "\n"), "\n")
		// Five lines: a newline written on the sixth row scrolls the
		// screen, the frame's head with it.
		if len(lines) > 5 || !strings.HasPrefix(lines[0], "Port Traffic Dog") || !strings.Contains(f, "more lines (dog alone opens the console") {
			t.Errorf("a frame on a 6-row terminal:\n%s", strings.Join(lines, "\n"))
		}
	}
	if _, errOut, code := h.dog(Env{}, "status", "--watch", "--interval", "500ms"); code == 0 || !strings.Contains(errOut, "--interval 500ms: at least 1s") {
		t.Errorf("interval 500ms: exit %d: %s", code, errOut)
	}
}

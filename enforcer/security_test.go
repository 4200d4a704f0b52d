package enforcer

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"port-traffic-dog/enforcer/admin"
	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/archive"
	"port-traffic-dog/internal/state"
)

// exportOf is an archive of the given config text with an empty state.
func exportOf(t *testing.T, cfg string) []byte {
	t.Helper()
	var b bytes.Buffer
	err := archive.Write(&b, archive.Input{ToolVersion: "test", Host: "old-vps", Created: time.Now(),
		Config: []byte(cfg), State: &state.State{SavedAt: time.Now()}})
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestArchiveCannotChooseThisHostsPaths: an archive whose config hides
// line breaks from the line editor (CR, here) once made Import's "keep
// this host's state_dir" edit a comment line, so the enforcer took the
// archive's state_dir (where an unprivileged user's link had root append
// to a file of their choice), while the output said "kept this host's
// state_dir". A flow-style config had its items dropped silently. Both are
// refused now, in the dry run too, and nothing changes.
func TestArchiveCannotChooseThisHostsPaths(t *testing.T) {
	r := newRig(t, "")
	sd, sock := filepath.Join(r.dir, "state"), filepath.Join(r.dir, "admin.sock")
	ours := fmt.Sprintf("state_dir: %s\nadmin_socket: %s\nports:\n  - ports: \"443\"\n", sd, sock)
	r.writeConfig(ours)
	e := r.enforcer(func(o *Options) { o.StateDir, o.AdminSocket = "", "" })
	evilDir := filepath.Join(t.TempDir(), "evil")
	for name, cfg := range map[string]string{
		"hidden CRs": "#\r#\r#\r#\r#\r#\rstate_dir: " + evilDir + "\nadmin_socket: " + sock +
			"\nports:\n  - ports: \"443\"\n    remark: \"a\n      b\n      c\n      d\"\n",
		"flow style": "{state_dir: " + evilDir + ", admin_socket: " + sock + ", ports: [{ports: \"443\"}, {ports: \"80\"}]}\n",
	} {
		for _, dry := range []bool{true, false} {
			resp, err := e.Import(bytes.NewReader(exportOf(t, cfg)), dry)
			if err == nil {
				t.Errorf("%s (dry run %v): imported: %+v", name, dry, resp)
			} else {
				t.Logf("%s: %v", name, err)
			}
		}
	}
	if got := e.StateDir(); got != sd {
		t.Errorf("state dir now %s, want %s", got, sd)
	}
	if b, _ := os.ReadFile(r.cfg); string(b) != ours {
		t.Errorf("config file changed:\n%s", b)
	}
	if _, err := os.Stat(evilDir); err == nil {
		t.Errorf("the archive's state dir was created")
	}

	// An ordinary archive with other paths: this host's are kept, and the
	// notes say so truly.
	resp, err := e.Import(bytes.NewReader(exportOf(t, "state_dir: "+evilDir+"\nports:\n  - ports: \"80\"\n")), false)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.StateDir(); got != sd {
		t.Errorf("after an import: state dir %s, want %s", got, sd)
	}
	if len(resp.Notes) != 2 || !strings.Contains(resp.Notes[0], "kept this host's state_dir "+sd+" (the archive had "+evilDir) {
		t.Errorf("notes: %q", resp.Notes)
	}
	// The same notes by their codes, for dog to say in Chinese.
	want := adminapi.Note{Code: adminapi.CodeNoteKeptPath, Args: []string{"state_dir", sd, evilDir}}
	if len(resp.NoteCodes) != len(resp.Notes) || !reflect.DeepEqual(resp.NoteCodes[0], want) {
		t.Errorf("note codes: %+v", resp.NoteCodes)
	}
}

// TestResetTargetsAreDeduplicated: a reset request naming one item 65,536
// times (any spelling) is one reset, one history line.
func TestResetTargetsAreDeduplicated(t *testing.T) {
	r := newRig(t, "ports:\n  - ports: \"443,80\"\n")
	e := r.enforcer()
	ports := make([]string, 1<<16)
	for i := range ports {
		ports[i] = []string{"443,80", "80,443", "80, 443"}[i%3]
	}
	resets, err := e.Reset(ports, false, state.ReasonManual)
	if err != nil {
		t.Fatal(err)
	}
	if len(resets) != 1 || len(r.history()) != 1 {
		t.Errorf("%d resets answered, %d in the history; want 1", len(resets), len(r.history()))
	}
}

// TestImportBodyReadTimeout: an import whose body trickles is cut off after
// the read timeout instead of holding the import slot.
func TestImportBodyReadTimeout(t *testing.T) {
	r := newRig(t, "ports:\n  - ports: \"443\"\n")
	e := r.enforcer()
	r.serveAdminWith(e, admin.Options{ImportReadTimeout: time.Second})
	c, err := net.Dial("unix", e.AdminSocket())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST %s?dry_run=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n\x1f\x8b", adminapi.PathImport)
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("no answer to a trickling import within %s: %v", time.Since(start), err)
	}
	t.Logf("answered after %s: %s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(line))
	// A second import is served: the slot is free again.
	if _, err := adminapi.NewClient(e.AdminSocket()).Import(context.Background(),
		exportOf(t, "ports:\n  - ports: \"443\"\n"), true); err != nil {
		t.Errorf("import after the trickle: %v", err)
	}
}

// TestStuckHistoryReaderTimesOut: history answers are built one at a time,
// so a client (any member of admin_group) that asks for the history and
// never reads the answer once held every later history read, dog export's
// included, for as long as it kept its connection. Its answer is cut off
// after the write timeout and the next read is served.
func TestStuckHistoryReaderTimesOut(t *testing.T) {
	r := newRig(t, "ports:\n  - ports: \"443\"\n")
	e := r.enforcer()
	// Megabytes of answer: more than the socket's buffers hold.
	now := time.Now().Add(-time.Hour)
	batch := make([]state.Reset, 10_000)
	for i := range batch {
		batch[i] = state.Reset{Time: now, ID: "p443", Ports: "443", Remark: strings.Repeat("x", 200),
			Reason: state.ReasonManual, PeriodStart: now.AddDate(0, -1, 0), Billing: "sum"}
	}
	if err := state.AppendHistory(filepath.Join(r.dir, "state"), batch...); err != nil {
		t.Fatal(err)
	}
	client := r.serveAdminWith(e, admin.Options{HistoryWriteTimeout: 3 * time.Second})
	c, err := net.Dial("unix", e.AdminSocket())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", adminapi.PathHistory)
	// The status line: the stuck client holds its turn from here on.
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.Contains(line, "200") {
		t.Fatalf("history: %q %v", line, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	h, err := client.History(ctx, nil)
	if err != nil || len(h.Resets) != len(batch) {
		t.Fatalf("history behind a stuck reader, after %s: %v", time.Since(start), err)
	}
	t.Logf("served %s after the stuck reader's turn began", time.Since(start).Round(time.Millisecond))
}

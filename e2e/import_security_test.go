package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/archive"
	"port-traffic-dog/internal/archive/archivetest"
	"port-traffic-dog/internal/state"
	"port-traffic-dog/internal/testnet"
	"port-traffic-dog/internal/testutil"
)

// tempAccount creates a system group and a user in it for the test, removed
// at cleanup.
func tempAccount(t *testing.T) (name string, cred *syscall.Credential) {
	t.Helper()
	testutil.RequireRoot(t) // groupadd and useradd
	testutil.RequireBinary(t, "useradd")
	name = fmt.Sprintf("dogsec%d", os.Getpid()%100000)
	if out, err := exec.Command("groupadd", "--system", name).CombinedOutput(); err != nil {
		t.Fatalf("groupadd: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("groupdel", name).Run() })
	if out, err := exec.Command("useradd", "--system", "--no-create-home", "--gid", name, "--shell", "/usr/sbin/nologin", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("userdel", name).Run() })
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return name, &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
}

// TestImportIsRootOnly: members of admin_group may read, reset and
// reload, but not replace root's configuration through /v1/import (which
// once took quotas, exempt, interfaces and admin_group itself from them).
// And a reloaded admin_group is in force at once: the socket's group and
// mode and the peer check follow it.
func TestImportIsRootOnly(t *testing.T) {
	group, member := tempAccount(t)
	pub := publicDir(t)
	dog := publicDog(t, pub)
	sock := filepath.Join(pub, "run", "enforcer.sock")
	h := newHost(t, "admin_group: "+group+"\nports:\n  - ports: \"443\"\n    remark: alice\n")
	e := start(t, h.pair.Server, "dog-enforcer", "--config.file", h.cfg,
		"--state-dir", filepath.Join(h.dir, "state"), "--admin-socket", sock)
	e.waitOutput(t, "table applied")
	client := adminapi.NewClient(sock)
	testnet.WaitFor(t, 10*time.Second, "the admin socket", func() bool {
		_, err := client.Status(context.Background())
		return err == nil
	})
	tgz := filepath.Join(pub, "export.tgz")
	if out, err := runAs(&syscall.Credential{}, dog, "--socket", sock, "export", tgz); err != nil {
		t.Fatalf("root: dog export: %v\n%s", err, out)
	}
	os.Chmod(tgz, 0o644)
	before, _ := os.ReadFile(h.cfg)

	if out, err := runAs(member, dog, "--socket", sock, "status"); err != nil || !strings.Contains(out, "alice") {
		t.Errorf("member: dog status: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"import", tgz}, {"import", "--dry-run", tgz}} {
		out, err := runAs(member, dog, append([]string{"--socket", sock}, args...)...)
		if err == nil || !strings.Contains(out, "only root may change") {
			t.Errorf("member: dog %v: %v\n%s", args, err, out)
		}
	}
	if after, _ := os.ReadFile(h.cfg); !bytes.Equal(before, after) {
		t.Errorf("a member's import changed the config:\n%s", after)
	}
	if out, err := runAs(&syscall.Credential{}, dog, "--socket", sock, "import", "--dry-run", tgz); err != nil {
		t.Errorf("root: dog import --dry-run: %v\n%s", err, out)
	}

	// admin_group dropped by a reload: root only, at once.
	os.WriteFile(h.cfg, []byte("ports:\n  - ports: \"443\"\n    remark: alice\n"), 0o600)
	e.waitOutput(t, "admin API access changed by a reload")
	if m, _, gid := fileInfo(t, sock); m != os.ModeSocket|0o600 || gid != 0 {
		t.Errorf("socket after dropping admin_group: %v gid %d, want srw------- 0", m, gid)
	}
	if out, err := runAs(member, dog, "--socket", sock, "status"); err == nil || !strings.Contains(out, "permission denied") {
		t.Errorf("former member: dog status: %v\n%s", err, out)
	}
	// And given back.
	os.WriteFile(h.cfg, []byte("admin_group: "+group+"\nports:\n  - ports: \"443\"\n    remark: alice\n"), 0o600)
	testnet.WaitFor(t, 10*time.Second, "the member to get in again", func() bool {
		out, err := runAs(member, dog, "--socket", sock, "status")
		return err == nil && strings.Contains(out, "alice")
	})
	if m, _, gid := fileInfo(t, sock); m != os.ModeSocket|0o660 || gid != member.Gid {
		t.Errorf("socket with admin_group again: %v gid %d, want srw-rw---- %d", m, gid, member.Gid)
	}
}

// TestParallelImportsStayInMemory: six dry-run imports at once of an
// archive within the size limits padded to 240 MiB (once: 479 MB peak for
// one, 2.18 GB for six) leave the enforcer's peak resident memory far from
// that: one import runs at a time, and the archive is read as a stream.
func TestParallelImportsStayInMemory(t *testing.T) {
	h := newHost(t, "ports:\n  - ports: \"443\"\n")
	sock := filepath.Join(h.dir, "admin.sock")
	e := h.enforcer()
	client := adminapi.NewClient(sock)
	testnet.WaitFor(t, 10*time.Second, "the admin socket", func() bool {
		_, err := client.Status(context.Background())
		return err == nil
	})
	cp, err := client.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var valid bytes.Buffer
	if err := archive.Write(&valid, archive.Input{ToolVersion: "test", Host: "old", Created: time.Now(),
		Config: []byte("ports:\n  - ports: \"443\"\n"), State: cp.State}); err != nil {
		t.Fatal(err)
	}
	const pad = 120 << 20
	es := archivetest.Entries(valid.Bytes())
	for i, en := range es {
		switch en.Hdr.Name {
		case archive.StateName:
			es[i] = archivetest.Reg(archive.StateName, append(append([]byte{'{'}, bytes.Repeat([]byte{' '}, pad)...), en.Data[1:]...))
		case archive.HistoryName:
			es[i] = archivetest.Reg(archive.HistoryName, bytes.Repeat([]byte{'\n'}, pad))
		}
	}
	data := archivetest.Build(archivetest.WithManifest(es, nil))
	clear(es) // the padded entries are garbage before memory is measured
	base := vmHWM(t, e.cmd.Process.Pid)
	raw := rawAdmin(sock)
	var wg sync.WaitGroup
	codes := make([]int, 6)
	for i := range codes {
		wg.Go(func() {
			var body string
			codes[i], body = raw("POST", adminapi.PathImport+"?dry_run=1", bytes.NewReader(data))
			if codes[i] != 200 && codes[i] != 409 {
				t.Errorf("import %d: %d %s", i, codes[i], body)
			}
		})
	}
	wg.Wait()
	peak := vmHWM(t, e.cmd.Process.Pid)
	t.Logf("archive %d KB padded to %d MiB; answers %v; enforcer peak RSS %d MiB (%d MiB before)", len(data)>>10, 2*pad>>20, codes, peak>>10, base>>10)
	if peak > 150<<10 {
		t.Errorf("enforcer peak RSS %d MiB after six padded imports; want under 150 MiB", peak>>10)
	}
}

// TestParallelHistoryReadsStayInMemory: /v1/history, which members of
// admin_group may call, answers with the whole history (up to two files of
// state.MaxHistorySize), decoded and encoded in memory. Six such requests
// at once once held six copies: with 24 MiB of history one read raised the
// enforcer's peak memory by 68 MiB, six at once by 269 MiB. The answers
// are built one at a time now, so six cost what one does.
func TestParallelHistoryReadsStayInMemory(t *testing.T) {
	h := newHost(t, "ports:\n  - ports: \"443\"\n")
	stateDir := filepath.Join(h.dir, "state")
	if err := os.Mkdir(stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Add(-time.Hour)
	batch := make([]state.Reset, 1000)
	for i := range batch {
		batch[i] = state.Reset{Time: now, ID: fmt.Sprintf("p%d", 10000+i), Ports: strconv.Itoa(10000 + i), Remark: "customer 阿里 alice",
			Reason: state.ReasonManual, PeriodStart: now.AddDate(0, -1, 0), InBytes: 123456789, OutBytes: 987654321,
			Billable: 1111111110, Billing: "sum", Quota: 1 << 40}
	}
	const fileSize = 12 << 20 // each of the current and the rotated file
	for _, rotate := range []bool{true, false} {
		for size := int64(0); size < fileSize; {
			if err := state.AppendHistory(stateDir, batch...); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(filepath.Join(stateDir, state.HistoryName))
			if err != nil {
				t.Fatal(err)
			}
			size = fi.Size()
		}
		if rotate {
			if _, err := state.RotateHistory(stateDir, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	e := h.enforcer()
	raw := rawAdmin(filepath.Join(h.dir, "admin.sock"))
	read := func() {
		if code, body := raw("GET", adminapi.PathHistory, nil); code != 200 {
			t.Errorf("history: %d %.200s", code, body)
		}
	}
	base := vmHWM(t, e.cmd.Process.Pid)
	read()
	one := vmHWM(t, e.cmd.Process.Pid)
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(read)
	}
	wg.Wait()
	six := vmHWM(t, e.cmd.Process.Pid)
	t.Logf("history %d MiB: enforcer peak RSS %d MiB at start, %d MiB after one read, %d MiB after six at once",
		2*fileSize>>20, base>>10, one>>10, six>>10)
	if six-base > 2*(one-base) {
		t.Errorf("six parallel history reads raised the peak by %d MiB, one by %d MiB: want at most twice one", (six-base)>>10, (one-base)>>10)
	}
}

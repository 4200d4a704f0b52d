package e2e

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/state"
	"port-traffic-dog/internal/testnet"
	"port-traffic-dog/internal/testutil"
)

// publicDir returns a directory every user can traverse (t.TempDir's parents
// are 0700), removed at cleanup: for sockets and binaries that the tests
// use as an unprivileged user.
func publicDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "dog-pub-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// publicDog copies the dog binary where an unprivileged user can run it.
func publicDog(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(bin, "dog"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "dog")
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// runAs runs a command with the given credentials (uid, gid and
// supplementary groups, as the kernel will report them to the socket's
// SO_PEERCRED and SO_PEERGROUPS).
func runAs(cred *syscall.Credential, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/", "NO_COLOR=1"}
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func fileInfo(t *testing.T, path string) (os.FileMode, uint32, uint32) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return fi.Mode(), st.Uid, st.Gid
}

// TestAdminSocketAccess: the admin socket is 0600 root (0660 root:group
// with admin_group), and the peer's credentials are checked on every
// connection, so even a socket whose mode was loosened by mistake lets no
// one else reset, import or read. Request bodies are bounded.
func TestAdminSocketAccess(t *testing.T) {
	pub := publicDir(t)
	dog := publicDog(t, pub)
	sock := filepath.Join(pub, "run", "enforcer.sock")
	h := newHost(t, "ports:\n  - ports: \"443\"\n    remark: alice\n")
	e := start(t, h.pair.Server, "dog-enforcer", "--config.file", h.cfg,
		"--state-dir", filepath.Join(h.dir, "state"), "--admin-socket", sock)
	e.waitOutput(t, "table applied")
	client := adminapi.NewClient(sock)
	testnet.WaitFor(t, 10*time.Second, "the admin socket", func() bool {
		_, err := client.Status(context.Background())
		return err == nil
	})
	if m, uid, gid := fileInfo(t, sock); m != os.ModeSocket|0o600 || uid != 0 || gid != 0 {
		t.Errorf("socket: mode %v owner %d:%d, want srw------- 0:0", m, uid, gid)
	}
	if out, err := runAs(&syscall.Credential{}, dog, "--socket", sock, "status"); err != nil || !strings.Contains(out, "alice") {
		t.Errorf("root: dog status: %v\n%s", err, out)
	}
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}
	for _, args := range [][]string{{"reset", "443"}, {"status"}, {"history"}} {
		out, err := runAs(nobody, dog, append([]string{"--socket", sock}, args...)...)
		if err == nil || !strings.Contains(out, "permission denied") {
			t.Errorf("nobody: dog %v on a 0600 socket: %v\n%s", args, err, out)
		}
	}
	// The mode loosened by mistake: the kernel lets nobody connect, the
	// peer check refuses every request.
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"reset", "443"}, {"reset", "--all", "--yes"}, {"status"}, {"history"}} {
		out, err := runAs(nobody, dog, append([]string{"--socket", sock}, args...)...)
		if err == nil || !strings.Contains(out, "permission denied: the admin API is for root only; you are uid 65534") {
			t.Errorf("nobody: dog %v on a 0666 socket: %v\n%s", args, err, out)
		}
	}
	e.waitOutput(t, "admin API request refused")
	if h, _, _ := state.ReadHistory(filepath.Join(h.dir, "state")); len(h) != 0 {
		t.Errorf("a refused reset is in the history: %+v", h)
	}
	os.Chmod(sock, 0o600)

	// Bodies and queries the API refuses before doing anything.
	raw := rawAdmin(sock)
	for _, tc := range []struct {
		method, path string
		body         io.Reader
		code         int
		want         string
	}{
		{"POST", adminapi.PathReset, io.LimitReader(zeros{}, adminapi.MaxResetBody+10), 400, "larger than"},
		{"POST", adminapi.PathImport, storedGzip(adminapi.MaxRequestBody + 10), 413, "request body too large"},
		{"POST", adminapi.PathImport + "?dry_run=true", strings.NewReader("x"), 400, `want 1 or 0`},
		{"POST", adminapi.PathReset, strings.NewReader(`{"all":true}{"all":true}`), 400, "data after the JSON object"},
		{"POST", adminapi.PathReset, strings.NewReader(`{"ports":["443"],"all":true}`), 400, "not both"},
		{"GET", adminapi.PathHistory + "?ports=0", nil, 400, "port 0 is outside"},
		{"GET", adminapi.PathReset, nil, 405, ""},
		{"DELETE", adminapi.PathStatus, nil, 405, ""},
		{"GET", "/v1/../etc/passwd", nil, 404, ""},
		{"GET", "/debug/pprof/", nil, 404, ""},
	} {
		code, body := raw(tc.method, tc.path, tc.body)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s: %d %q, want %d with %q", tc.method, tc.path, code, body, tc.code, tc.want)
		}
	}
	if h, _, _ := state.ReadHistory(filepath.Join(h.dir, "state")); len(h) != 0 {
		t.Errorf("a refused request reset something: %+v", h)
	}
	if err := e.stop(t, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	// admin_group: its members may use the API, through their primary or a
	// supplementary group; everyone else still may not.
	os.WriteFile(h.cfg, []byte("admin_group: nogroup\nports:\n  - ports: \"443\"\n    remark: alice\n"), 0o600)
	e = start(t, h.pair.Server, "dog-enforcer", "--config.file", h.cfg,
		"--state-dir", filepath.Join(h.dir, "state"), "--admin-socket", sock)
	e.waitOutput(t, "table applied")
	testnet.WaitFor(t, 10*time.Second, "the admin socket", func() bool {
		_, err := client.Status(context.Background())
		return err == nil
	})
	if m, uid, gid := fileInfo(t, sock); m != os.ModeSocket|0o660 || uid != 0 || gid != 65534 {
		t.Errorf("socket with admin_group: mode %v owner %d:%d, want srw-rw---- 0:65534", m, uid, gid)
	}
	members := []*syscall.Credential{
		{Uid: 65534, Gid: 65534, Groups: []uint32{}},
		{Uid: 4242, Gid: 4242, Groups: []uint32{65534}},
	}
	for _, cred := range members {
		if out, err := runAs(cred, dog, "--socket", sock, "reset", "443"); err != nil || !strings.Contains(out, "reset 443 (alice)") {
			t.Errorf("member uid %d gid %d groups %v: dog reset: %v\n%s", cred.Uid, cred.Gid, cred.Groups, err, out)
		}
	}
	stranger := &syscall.Credential{Uid: 4242, Gid: 4242, Groups: []uint32{4243}}
	if out, err := runAs(stranger, dog, "--socket", sock, "reset", "443"); err == nil || !strings.Contains(out, "permission denied") {
		t.Errorf("non-member: %v\n%s", err, out)
	}
	os.Chmod(sock, 0o666)
	if out, err := runAs(stranger, dog, "--socket", sock, "reset", "443"); err == nil ||
		!strings.Contains(out, "the admin API is for root and members of group nogroup (gid 65534); you are uid 4242") {
		t.Errorf("non-member on a 0666 socket: %v\n%s", err, out)
	}
	if hist, _, _ := state.ReadHistory(filepath.Join(h.dir, "state")); len(hist) != len(members) {
		t.Errorf("history has %d entries, want the %d members' resets", len(hist), len(members))
	}
	if err := e.stop(t, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	// A group the enforcer cannot use — one it is not a member of, without
	// CAP_CHOWN (as under systemd without Group=), or one that does not
	// exist — leaves the API to root: said in the log, never more open.
	setpriv := testutil.RequireBinary(t, "setpriv")
	for _, tc := range []struct {
		group string
		argv  []string
	}{
		{"nogroup", []string{setpriv, "--bounding-set=-chown", filepath.Join(bin, "dog-enforcer")}},
		{"no-such-group-dog", []string{filepath.Join(bin, "dog-enforcer")}},
	} {
		os.WriteFile(h.cfg, []byte("admin_group: "+tc.group+"\nports:\n  - ports: \"443\"\n    remark: alice\n"), 0o600)
		e = startArgv(t, h.pair.Server, append(tc.argv, "--config.file", h.cfg,
			"--state-dir", filepath.Join(h.dir, "state"), "--admin-socket", sock)...)
		e.waitOutput(t, "admin_group not in effect: the admin API is for root only")
		testnet.WaitFor(t, 10*time.Second, "the admin socket", func() bool {
			_, err := client.Status(context.Background())
			return err == nil
		})
		if m, uid, gid := fileInfo(t, sock); m != os.ModeSocket|0o600 || uid != 0 || gid != 0 {
			t.Errorf("%s unusable: socket %v %d:%d, want srw------- 0:0", tc.group, m, uid, gid)
		}
		os.Chmod(sock, 0o666)
		if out, err := runAs(members[0], dog, "--socket", sock, "status"); err == nil || !strings.Contains(out, "for root only") {
			t.Errorf("%s unusable: a would-be member: %v\n%s", tc.group, err, out)
		}
		if err := e.stop(t, syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}
}

// storedGzip is a gzip stream of n bytes or more that does not compress
// (stored blocks of a tar entry of zeros): the archive reader reads it
// until a bound stops it.
func storedGzip(n int64) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		zw, _ := gzip.NewWriterLevel(pw, gzip.NoCompression)
		tw := tar.NewWriter(zw)
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "history.jsonl", Size: n, Mode: 0o600})
		_, err := io.Copy(tw, io.LimitReader(zeros{}, n))
		pw.CloseWithError(err)
	}()
	return pr
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// rawAdmin sends arbitrary requests to the admin socket as root.
func rawAdmin(sock string) func(method, path string, body io.Reader) (int, string) {
	c := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	return func(method, path string, body io.Reader) (int, string) {
		req, err := http.NewRequest(method, "http://enforcer"+path, body)
		if err != nil {
			return 0, err.Error()
		}
		req.URL.Opaque, _, _ = strings.Cut(path, "?") // as sent, no cleaning by the client
		resp, err := c.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return resp.StatusCode, string(b)
	}
}

// nsClient is an HTTP client whose connections start inside ns.
func nsClient(ns *testnet.NS, tlsConf *tls.Config, keepAlive bool) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   tlsConf,
		DisableKeepAlives: !keepAlive,
		MaxIdleConns:      200, MaxIdleConnsPerHost: 200,
		DialContext: func(ctx context.Context, network, addr string) (c net.Conn, err error) {
			err = ns.Do(func() error {
				var d net.Dialer
				c, err = d.DialContext(ctx, network, addr)
				return err
			})
			return c, err
		},
	}}
}

// selfSigned writes a self-signed certificate for the server's addresses
// and its key, and returns the pool that trusts it.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dog-exporter test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
		IPAddresses: []net.IP{net.IP(testnet.ServerIP4.AsSlice()), net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestExporterTLS: with tls_server_config and basic_auth_users in
// --web.config.file, plain HTTP gets no metrics, HTTPS needs the CA, and
// the credentials; nothing of the secrets shows in the answers or logs.
func TestExporterTLS(t *testing.T) {
	h := newHost(t, "ports:\n  - ports: \"443\"\n    remark: alice\n")
	h.enforcer()
	certFile, keyFile, pool := selfSigned(t, h.dir)
	const password = "correct horse battery staple"
	hash, _ := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	web := filepath.Join(h.dir, "web.yml")
	os.WriteFile(web, []byte(fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  prometheus: %s\n",
		certFile, keyFile, hash)), 0o600)
	x := start(t, h.pair.Server, "dog-exporter", "--web.listen-address", testnet.ServerIP4.String()+":9733",
		"--web.config.file", web, "--state-dir", filepath.Join(h.dir, "state"))
	x.waitOutput(t, "Listening on")
	addr := testnet.ServerIP4.String() + ":9733"

	get := func(c *http.Client, url, user, pass string) (int, string, error) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	plain := nsClient(h.pair.Client, nil, false)
	if code, body, err := get(plain, "http://"+addr+"/metrics", "prometheus", password); err == nil &&
		(code == 200 || strings.Contains(body, "port_traffic_dog")) {
		t.Errorf("plain HTTP: %d\n%s", code, body)
	}
	untrusting := nsClient(h.pair.Client, &tls.Config{}, false)
	if _, _, err := get(untrusting, "https://"+addr+"/metrics", "prometheus", password); err == nil ||
		!strings.Contains(err.Error(), "certificate") {
		t.Errorf("HTTPS without the CA: %v, want a certificate error", err)
	}
	trusting := nsClient(h.pair.Client, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, false)
	if code, _, err := get(trusting, "https://"+addr+"/metrics", "", ""); err != nil || code != http.StatusUnauthorized {
		t.Errorf("HTTPS without credentials: %d %v, want 401", code, err)
	}
	if code, _, err := get(trusting, "https://"+addr+"/metrics", "prometheus", "wrong"); err != nil || code != http.StatusUnauthorized {
		t.Errorf("HTTPS with a wrong password: %d %v, want 401", code, err)
	}
	code, body, err := get(trusting, "https://"+addr+"/metrics", "prometheus", password)
	if err != nil || code != 200 || !strings.Contains(body, "port_traffic_dog_up 1") || !strings.Contains(body, `remark="alice"`) {
		t.Fatalf("HTTPS with the CA and credentials: %d %v\n%.300s", code, err, body)
	}
	// Old protocol versions are refused (exporter-toolkit's default minimum is TLS 1.2).
	old := nsClient(h.pair.Client, &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}, false)
	if _, _, err := get(old, "https://"+addr+"/metrics", "prometheus", password); err == nil {
		t.Error("TLS 1.1 accepted")
	}
	for _, secret := range []string{password, string(hash), "PRIVATE KEY"} {
		if strings.Contains(body, secret) || strings.Contains(x.out.String(), secret) {
			t.Errorf("%q shows in the metrics or the exporter's log", secret)
		}
	}
}

// TestExporterIsReadOnlyAndBounded: the exporter's HTTP port serves GET
// and HEAD of /metrics and / only; no method or path resets, imports or
// reads anything else. 100 concurrent scrapers and 50 clients that never
// finish their headers do not exhaust it: it answers every request (200,
// or 503 beyond --web.max-requests), keeps its memory, drops the stalled
// clients after its header timeout, and answers normally afterwards.
func TestExporterIsReadOnlyAndBounded(t *testing.T) {
	h := newHost(t, "checkpoint_interval: 1s\nports:\n  - ports: \"443\"\n    remark: alice\n    quota: 1GB\n")
	h.enforcer()
	h.traffic(443, 100_000)
	x := start(t, h.pair.Server, "dog-exporter", "--web.listen-address", "127.0.0.1:9734",
		"--web.max-requests", "4", "--state-dir", filepath.Join(h.dir, "state"))
	x.waitOutput(t, "Listening on")
	base := "http://127.0.0.1:9734"
	c := nsClient(h.pair.Server, nil, false)
	do := func(method, path string) (int, string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(`{"all":true}`))
		req.URL.Opaque = path
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := do("GET", "/metrics"); code != 200 || !strings.Contains(body, "port_traffic_dog_up 1") {
		t.Fatalf("GET /metrics: %d", code)
	}
	if code, _ := do("HEAD", "/metrics"); code != 200 {
		t.Errorf("HEAD /metrics: %d", code)
	}
	if code, _ := do("GET", "/"); code != 200 {
		t.Errorf("GET /: %d", code)
	}
	for _, path := range []string{"/metrics", "/", adminapi.PathReset, adminapi.PathImport, adminapi.PathReload, adminapi.PathCheckpoint, "/-/reload", "/-/quit"} {
		for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"} {
			if code, _ := do(m, path); code != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: %d, want 405", m, path, code)
			}
		}
	}
	for _, path := range []string{adminapi.PathReset, adminapi.PathStatus, adminapi.PathHistory, "/debug/pprof/", "/metrics/x", "/../state.json", "/state.json", "/-/healthy/../../v1/reset"} {
		if code, _ := do("GET", path); code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, code)
		}
	}
	if hist, _, _ := state.ReadHistory(filepath.Join(h.dir, "state")); len(hist) != 0 {
		t.Errorf("the exporter's port reset something: %+v", hist)
	}

	pid := x.cmd.Process.Pid
	before := vmHWM(t, pid)
	// Clients that open a connection and never finish the request headers.
	var stalled []net.Conn
	for range 50 {
		var conn net.Conn
		err := h.pair.Server.Do(func() (err error) { conn, err = net.Dial("tcp", "127.0.0.1:9734"); return })
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET /metrics HTTP/1.1\r\nHost: x\r\n")
		stalled = append(stalled, conn)
	}
	stalledAt := time.Now()

	var mu sync.Mutex
	codes := map[int]int{}
	var errs []error
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			keep := nsClient(h.pair.Server, nil, i%2 == 0) // half reuse connections
			for range 10 {
				resp, err := keep.Get(base + "/metrics")
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					codes[resp.StatusCode]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	t.Logf("100 scrapers x 10: answers %v; exporter VmHWM %d KiB before, %d KiB after", codes, before, vmHWM(t, pid))
	if len(errs) > 0 {
		t.Errorf("%d scrapes got no answer, e.g. %v", len(errs), errs[0])
	}
	if codes[200] == 0 || codes[200]+codes[503] != 1000 {
		t.Errorf("answers %v: want only 200 and 503, some 200", codes)
	}
	if grown := vmHWM(t, pid) - before; grown > 64<<10 {
		t.Errorf("the exporter's peak memory grew by %d KiB under 100 scrapers", grown)
	}
	if code, body := do("GET", "/metrics"); code != 200 || !strings.Contains(body, "port_traffic_dog_up 1") {
		t.Errorf("after the crowd: %d", code)
	}
	// The stalled clients are cut off by the header timeout (10 s).
	for i, conn := range stalled {
		conn.SetReadDeadline(stalledAt.Add(25 * time.Second))
		b, err := io.ReadAll(bufio.NewReader(conn))
		if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("stalled client %d still connected after %s", i, time.Since(stalledAt).Round(time.Second))
		}
		if strings.Contains(string(b), "port_traffic_dog") {
			t.Errorf("stalled client %d got metrics", i)
		}
	}
	t.Logf("stalled clients dropped after %s", time.Since(stalledAt).Round(100*time.Millisecond))
	if hist, _, _ := state.ReadHistory(filepath.Join(h.dir, "state")); len(hist) != 0 {
		t.Errorf("history after the crowd: %+v", hist)
	}
}

// vmHWM is a process's peak resident memory in KiB.
func vmHWM(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Fatalf("no VmHWM for pid %d", pid)
	return 0
}

// umask0 runs argv with umask 000, the worst an operator could set: the
// modes must come from the programs, not from the environment.
func umask0(argv ...string) []string {
	return append([]string{"sh", "-c", `umask 000; exec "$@"`, "sh"}, argv...)
}

// TestFileModesAsCreated starts the enforcer with umask 000 and no state
// dir or socket dir, uses the CLI to reset, edit the config (also world-
// readable before) and export, and checks every file's mode: state dir
// 0700, state.json/.prev and meta.json 0640, history 0600, socket 0600,
// config 0600 (its world bits dropped), the export 0600. Nothing in the
// state dir is readable by others.
func TestFileModesAsCreated(t *testing.T) {
	h := newHost(t, "ports:\n  - ports: \"443\"\n    remark: alice\n    quota: 1GB\n")
	os.Chmod(h.cfg, 0o644) // an operator's mistake the CLI repairs
	stateDir := filepath.Join(h.dir, "var", "lib", "dog")
	sock := filepath.Join(h.dir, "run", "dog", "enforcer.sock")
	e := startArgv(t, h.pair.Server, umask0(filepath.Join(bin, "dog-enforcer"), "--config.file", h.cfg,
		"--state-dir", stateDir, "--admin-socket", sock)...)
	e.waitOutput(t, "table applied")
	h.traffic(443, 20_000)
	dog := func(args ...string) {
		t.Helper()
		argv := umask0(append([]string{filepath.Join(bin, "dog"), "--socket", sock, "--config", h.cfg}, args...)...)
		var out string
		var err error
		for range 50 { // the socket may not be there yet
			if out, err = h.pair.Server.Output(argv...); err == nil || !strings.Contains(out, "not running") {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("dog %v: %v\n%s", args, err, out)
		}
	}
	dog("reset", "443")
	dog("add", "8443", "--remark", "bob")
	export := filepath.Join(h.dir, "export.tgz")
	dog("export", export)

	for path, want := range map[string]os.FileMode{
		stateDir:                                   os.ModeDir | 0o700,
		filepath.Join(stateDir, state.FileName):    0o640,
		filepath.Join(stateDir, state.PrevName):    0o640,
		filepath.Join(stateDir, state.MetaName):    0o640,
		filepath.Join(stateDir, state.HistoryName): 0o600,
		sock:               os.ModeSocket | 0o600,
		h.cfg:              0o600,
		export:             0o600,
		filepath.Dir(sock): os.ModeDir | 0o755, // the socket's own mode and peer check guard it
	} {
		if m, uid, _ := fileInfo(t, path); m != want || uid != 0 {
			t.Errorf("%s: %v owned by %d, want %v root", path, m, uid, want)
		}
	}
	filepath.WalkDir(stateDir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			t.Error(err)
			return nil
		}
		if fi, err := d.Info(); err == nil && fi.Mode().Perm()&0o007 != 0 {
			t.Errorf("%s is %v: open to other users", path, fi.Mode())
		}
		return nil
	})
}

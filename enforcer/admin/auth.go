package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"port-traffic-dog/internal/adminapi"
)

// The admin API resets billing periods and replaces the configuration and
// counters, so who may use it is checked twice: by the socket's mode (0600
// root, or 0660 root:admin_group) and, for every connection, by the
// credentials the kernel recorded when the peer connected (SO_PEERCRED,
// SO_PEERGROUPS). The second check holds even if the socket's mode is
// loosened by mistake or a file system ignores it.

// peer is the other end of an admin connection as the kernel saw it at
// connect() time.
type peer struct {
	pid      int32
	uid, gid uint32
	groups   []uint32 // supplementary groups
	err      error    // the credentials could not be read: refuse
}

type peerKey struct{}

// peerOf reads the credentials of a unix socket connection's peer.
func peerOf(c net.Conn) peer {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return peer{err: fmt.Errorf("not a unix socket connection (%T)", c)}
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return peer{err: fmt.Errorf("peer credentials: %w", err)}
	}
	var p peer
	cerr := raw.Control(func(fd uintptr) {
		cred, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		if err != nil {
			p.err = fmt.Errorf("SO_PEERCRED: %w", err)
			return
		}
		p.pid, p.uid, p.gid = cred.Pid, cred.Uid, cred.Gid
		if p.groups, err = peerGroups(int(fd)); err != nil {
			p.err = fmt.Errorf("SO_PEERGROUPS: %w", err)
		}
	})
	if cerr != nil {
		return peer{err: fmt.Errorf("peer credentials: %w", cerr)}
	}
	return p
}

// peerGroups returns the peer's supplementary groups (Linux 4.13+).
// x/sys has no wrapper that keeps the binary gid list intact.
func peerGroups(fd int) ([]uint32, error) {
	buf := make([]uint32, 64)
	for range 4 {
		n := uint32(len(buf) * 4)
		_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_PEERGROUPS,
			uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&n)), 0)
		switch {
		case e == unix.ERANGE && int(n/4) > len(buf):
			buf = make([]uint32, n/4)
		case e != 0:
			return nil, e
		default:
			return buf[:n/4], nil
		}
	}
	return nil, errors.New("the group list keeps growing")
}

// access is who may use the admin API: root, and the members of the
// admin group when one is configured.
type access struct {
	group string // as configured; "" for root only
	gid   uint32
}

// resolveAdminGroup looks the configured admin_group up on this host (a
// name, or a numeric gid).
func resolveAdminGroup(name string) (access, error) {
	if name == "" {
		return access{}, nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		if _, nerr := strconv.ParseUint(name, 10, 32); nerr == nil {
			g, err = user.LookupGroupId(name)
		}
	}
	if err != nil {
		return access{}, fmt.Errorf("admin_group %q: %w", name, err)
	}
	gid, err := strconv.ParseUint(g.Gid, 10, 32)
	if err != nil {
		return access{}, fmt.Errorf("admin_group %q: gid %q: %w", name, g.Gid, err)
	}
	return access{group: name, gid: uint32(gid)}, nil
}

// privilege is what a route asks of its caller.
type privilege int

const (
	// member: root or a member of admin_group (when one is configured).
	member privilege = iota
	// rootOnly: root alone. For what replaces the configuration root
	// wrote (quotas, exempt, the host quota, interfaces, admin_group
	// itself): admin_group members may not do by the API what the file's
	// mode keeps them from doing by dog add.
	rootOnly
)

// routes is who may call what on the admin API: the one place the rule
// lives. A route not listed here is not served.
var routes = []struct {
	pattern string
	need    privilege
}{
	{"GET " + adminapi.PathStatus, member},
	{"GET " + adminapi.PathHistory, member},
	{"POST " + adminapi.PathReset, member},
	{"POST " + adminapi.PathReload, member},     // re-reads root's file, changes nothing in it
	{"POST " + adminapi.PathCheckpoint, member}, // writes counters, as the loop does
	{"POST " + adminapi.PathImport, rootOnly},   // replaces the config file (dry runs too: one rule per route)
}

func (a access) allows(p peer, need privilege) bool {
	if p.err != nil {
		return false
	}
	if p.uid == 0 {
		return true
	}
	return need == member && a.group != "" && (p.gid == a.gid || slices.Contains(p.groups, a.gid))
}

func (a access) describe() string {
	if a.group == "" {
		return "root only"
	}
	return fmt.Sprintf("root and members of group %s (gid %d)", a.group, a.gid)
}

// refusal is the error a refused request is answered with.
func (a access) refusal(p peer, need privilege, r *http.Request) error {
	uid := strconv.FormatUint(uint64(p.uid), 10)
	switch {
	case need == rootOnly && a.allows(p, member):
		return adminapi.NewError(adminapi.CodeRootOnly, nil, r.Method, r.URL.Path, uid)
	case a.group == "":
		return adminapi.NewError(adminapi.CodeForbiddenRoot, nil, uid)
	}
	return adminapi.NewError(adminapi.CodeForbiddenGroup, nil, a.group, strconv.FormatUint(uint64(a.gid), 10), uid)
}

// guard refuses a request from a peer the access rule (as it is now: a
// reload may change admin_group) does not allow for the route, before the
// handler runs and before the request body is read.
func guard(log *slog.Logger, current func() access, need privilege, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := current()
		p, ok := r.Context().Value(peerKey{}).(peer)
		if !ok {
			p = peer{err: errors.New("no peer credentials")}
		}
		if a.allows(p, need) {
			next.ServeHTTP(w, r)
			return
		}
		log.Warn("admin API request refused", "method", r.Method, "path", r.URL.Path,
			"peer_uid", p.uid, "peer_gid", p.gid, "peer_pid", p.pid, "cred_err", p.err, "allowed", a.describe())
		writeJSON(w, http.StatusForbidden, adminapi.ErrorOf(a.refusal(p, need, r)))
	})
}

// setSocketAccess gives the listening socket at path the mode and group of
// a (after a reload changed admin_group): loosened only once the group
// owns it, tightened before the group is dropped.
func setSocketAccess(path string, a access) error {
	if a.group == "" {
		if err := os.Chmod(path, 0o600); err != nil {
			return err
		}
		return os.Lchown(path, -1, 0)
	}
	if err := os.Lchown(path, -1, int(a.gid)); err != nil {
		return fmt.Errorf("%w: admin socket %s: giving it to admin_group %s: %w", errGroupOwner, path, a.group, err)
	}
	return os.Chmod(path, 0o660)
}

// errGroupOwner: the socket could not be given to the admin group.
var errGroupOwner = errors.New("admin_group not usable")

// listenAdmin creates the admin socket at path with its final mode and
// group before anyone can connect: it is bound inside a fresh 0700
// directory next to path, given its mode and group there, and renamed into
// place. (Binding at path and chmod-ing afterwards would leave a moment in
// which the umask's mode applies.)
func listenAdmin(path string, a access) (net.Listener, error) {
	dir := filepath.Dir(path)
	tmpDir, err := os.MkdirTemp(dir, ".s")
	if err != nil {
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}
	defer func() { _ = os.RemoveAll(tmpDir) }()
	tmp := filepath.Join(tmpDir, "s")
	ln, err := net.Listen("unix", tmp)
	if err != nil {
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}
	// The path changes under the listener: Close must not unlink
	// whatever is at the temporary path then. Serve removes the socket.
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	mode := os.FileMode(0o600)
	if a.group != "" {
		mode = 0o660
		if err := os.Lchown(tmp, -1, int(a.gid)); err != nil {
			_ = ln.Close()
			return nil, fmt.Errorf("%w: admin socket %s: giving it to admin_group %s: %w (the enforcer must be a member of the group, e.g. Group=%s in its unit, or have CAP_CHOWN)",
				errGroupOwner, path, a.group, err, a.group)
		}
	}
	if err := os.Chmod(tmp, mode); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}
	return ln, nil
}

// groupCanReach reports why members of the admin group could not reach the
// socket through its directory ("" when they can).
func groupCanReach(path string, a access) string {
	if a.group == "" {
		return ""
	}
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	if err != nil {
		return err.Error()
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	m := fi.Mode().Perm()
	if m&0o001 != 0 || (st.Gid == a.gid && m&0o010 != 0) {
		return ""
	}
	return fmt.Sprintf("its directory %s is mode %04o owned by %d:%d (with systemd, set Group=%s for dog-enforcer: its RuntimeDirectory then belongs to the group)",
		dir, m, st.Uid, st.Gid, a.group)
}

// withPeer is the http.Server's ConnContext: it records every connection's
// peer credentials for guard.
func withPeer(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, peerKey{}, peerOf(c))
}

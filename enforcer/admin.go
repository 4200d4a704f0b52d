package enforcer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/portspec"
	"port-traffic-dog/internal/state"
)

// Status returns every item with counters fresh from the kernel.
func (e *Enforcer) Status() (*adminapi.Status, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if objs, err := e.nft.ReadObjects(); err == nil {
		e.takeCounters(objs)
	}
	now := e.opts.Now()
	st := &adminapi.Status{Version: e.opts.Version, Time: now, Timezone: e.cfg.Timezone, Config: e.opts.ConfigPath,
		LastCheckpoint: e.lastCheckpoint, Stats: e.stats, Host: e.statusItem(e.host)}
	for _, it := range e.items {
		st.Items = append(st.Items, e.statusItem(it))
	}
	return st, nil
}

func (e *Enforcer) statusItem(it *item) adminapi.Item {
	pin, pout := it.st.PeriodIn().Bytes, it.st.PeriodOut().Bytes
	out := adminapi.Item{
		Ports: it.cfg.Ports, ID: it.st.ID, Remark: it.cfg.Remark, Protocols: it.cfg.Protocols.String(),
		Billing: string(it.cfg.Billing), Quota: it.cfg.Quota, ResetDay: it.st.ResetDay, Expires: it.st.Expires,
		RateIn: it.cfg.RateIn, RateOut: it.cfg.RateOut, In: it.st.In, Out: it.st.Out,
		PeriodIn: pin, PeriodOut: pout, Billable: it.cfg.Billing.Billable(pin, pout),
		PeriodStart: it.st.PeriodStart, NextReset: it.st.NextReset,
	}
	switch {
	case it.st.QuotaBlocked:
		out.Blocked = "quota"
	case it.expired: // as applied: the status says what the kernel does
		out.Blocked = "expired"
	}
	return out
}

// History returns the reset history, of the given items (any spelling of
// their ports) or all.
func (e *Enforcer) History(ports []string) ([]state.Reset, error) {
	var ids []string
	for _, p := range ports {
		if p == config.HostPort {
			ids = append(ids, "host")
			continue
		}
		spec, err := portspec.Parse(p)
		if err != nil {
			return nil, err
		}
		ids = append(ids, config.ItemID(spec))
	}
	// The files are opened under the lock, together with the resets a
	// full disk did not take yet, so a flush cannot move an entry between
	// the two meanwhile; they are read outside it: a long history does not
	// hold up the loop, resets and status.
	e.mu.Lock()
	files, err := state.OpenHistory(e.cfg.StateDir)
	pending := slices.Clone(e.unrecorded)
	e.mu.Unlock()
	if err != nil {
		return nil, err
	}
	var keep func(*state.Reset) bool
	if len(ids) > 0 {
		keep = func(r *state.Reset) bool { return slices.Contains(ids, r.ID) }
	}
	out, skipped, err := files.Read(keep)
	if err != nil {
		return nil, err
	}
	if skipped > 0 {
		e.log.Warn("history has unreadable lines (torn by a crash?)", "skipped", skipped)
	}
	for i := range pending {
		if keep == nil || keep(&pending[i]) {
			out = append(out, pending[i])
		}
	}
	return out, nil
}

// Checkpoint reads the kernel and writes the state now, returning it.
func (e *Enforcer) Checkpoint() (*state.State, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.checkpointLocked(true); err != nil {
		return nil, err
	}
	return e.snapshot(), nil
}

// ServeAdmin serves the admin API on the configured unix socket until ctx
// ends. The socket is created 0600 (root only), or 0660 root:admin_group
// when the config names an admin group; every connection's peer
// credentials are checked as well, against the route's privilege
// (adminauth.go). A reload that changes admin_group changes both.
func (e *Enforcer) ServeAdmin(ctx context.Context) error {
	e.mu.Lock()
	path, groupName := e.cfg.AdminSocket, e.cfg.AdminGroup
	e.mu.Unlock()
	// A group that cannot be used leaves the API to root alone rather than
	// without a socket: stricter, and sudo dog still works.
	access, err := resolveAdminGroup(groupName)
	if err != nil {
		e.log.Error("admin_group not in effect: the admin API is for root only", "err", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("admin socket dir: %w", err)
	}
	if err := removeStaleSocket(path); err != nil {
		return err
	}
	ln, err := listenAdmin(path, access)
	if errors.Is(err, errGroupOwner) {
		e.log.Error("admin_group not in effect: the admin API is for root only", "err", err)
		access = adminAccess{}
		ln, err = listenAdmin(path, access)
	}
	if err != nil {
		return err
	}
	if why := groupCanReach(path, access); why != "" {
		e.log.Warn("members of admin_group cannot reach the admin socket", "group", access.group, "reason", why)
	}
	e.mu.Lock()
	e.admin = &adminServer{path: path}
	e.access.Store(&access)
	e.mu.Unlock()
	srv := &http.Server{Handler: e.adminHandler(), ConnContext: withPeer,
		ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 64 << 10}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shut); err != nil {
			e.log.Warn("admin API did not shut down cleanly", "err", err)
		}
	}()
	err = srv.Serve(ln)
	e.mu.Lock()
	e.admin = nil
	e.access.Store(nil)
	e.mu.Unlock()
	_ = os.Remove(path)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// adminServer is the admin socket being served.
type adminServer struct {
	path string
}

// adminAccess is the access rule in force (root only when not serving).
// Read without the main lock: a request's permission check never waits
// for a reload or a checkpoint.
func (e *Enforcer) adminAccess() adminAccess {
	if a := e.access.Load(); a != nil {
		return *a
	}
	return adminAccess{}
}

// reloadAdminGroupLocked puts a reloaded admin_group in force: the socket's
// group and mode and the peer check. A group that cannot be used leaves
// the API to root, as at start.
func (e *Enforcer) reloadAdminGroupLocked(name string) {
	if e.admin == nil || name == e.adminAccess().group {
		return
	}
	access, err := resolveAdminGroup(name)
	if err == nil {
		err = setSocketAccess(e.admin.path, access)
	}
	if err != nil {
		e.log.Error("admin_group not in effect: the admin API is for root only", "err", err)
		access = adminAccess{}
		if err := setSocketAccess(e.admin.path, access); err != nil {
			e.log.Error("admin socket: restoring root-only access", "err", err)
		}
	}
	e.access.Store(&access)
	e.log.Info("admin API access changed by a reload", "allowed", access.describe())
	if why := groupCanReach(e.admin.path, access); why != "" {
		e.log.Warn("members of admin_group cannot reach the admin socket", "group", access.group, "reason", why)
	}
}

// removeStaleSocket removes a socket left by a crashed enforcer, but refuses
// to start a second enforcer next to a live one.
func removeStaleSocket(path string) error {
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		_ = c.Close()
		return fmt.Errorf("another enforcer is answering on %s", path)
	}
	return os.Remove(path)
}

// importReadTimeout bounds how long an import's request body may take to
// arrive: dog sends a file it has read already, so a body that trickles is
// a client holding the import slot.
const importReadTimeout = time.Minute

func (e *Enforcer) adminHandler() http.Handler {
	handlers := map[string]http.HandlerFunc{
		"GET " + adminapi.PathStatus: func(w http.ResponseWriter, r *http.Request) {
			st, err := e.Status()
			reply(w, st, err)
		},
		"POST " + adminapi.PathReset: func(w http.ResponseWriter, r *http.Request) {
			req, err := adminapi.DecodeResetRequest(r.Body)
			if err != nil {
				writeJSON(w, http.StatusBadRequest, adminapi.Error{Error: "bad request: " + err.Error()})
				return
			}
			resets, err := e.Reset(req.Ports, req.All, state.ReasonManual)
			reply(w, &adminapi.ResetResponse{Resets: resets}, err)
		},
		"GET " + adminapi.PathHistory: func(w http.ResponseWriter, r *http.Request) {
			ports, err := adminapi.ParseHistoryQuery(r.URL.RawQuery)
			if err != nil {
				writeJSON(w, http.StatusBadRequest, adminapi.Error{Error: "bad request: " + err.Error()})
				return
			}
			resets, err := e.History(ports)
			reply(w, &adminapi.HistoryResponse{Resets: resets}, err)
		},
		"POST " + adminapi.PathReload: func(w http.ResponseWriter, r *http.Request) {
			reply(w, struct{}{}, e.Reload())
		},
		"POST " + adminapi.PathCheckpoint: func(w http.ResponseWriter, r *http.Request) {
			st, err := e.Checkpoint()
			reply(w, &adminapi.CheckpointResponse{State: st}, err)
		},
		"POST " + adminapi.PathImport: func(w http.ResponseWriter, r *http.Request) {
			dryRun, err := adminapi.ParseImportQuery(r.URL.RawQuery)
			if err != nil {
				writeJSON(w, http.StatusBadRequest, adminapi.Error{Error: "bad request: " + err.Error()})
				return
			}
			rc := http.NewResponseController(w)
			_ = rc.SetReadDeadline(time.Now().Add(e.opts.ImportReadTimeout)) // the connection gone: the read fails anyway
			// The body (bounded by MaxBytesHandler below) is read as a
			// stream by the archive reader.
			resp, err := e.Import(&untilEOF{r: r.Body, done: func() { _ = rc.SetReadDeadline(time.Time{}) }}, dryRun)
			var tooLarge *http.MaxBytesError
			switch {
			case errors.As(err, &tooLarge):
				writeJSON(w, http.StatusRequestEntityTooLarge, adminapi.Error{Error: "import: reading the archive: " + err.Error()})
			case errors.Is(err, ErrImportBusy):
				writeJSON(w, http.StatusConflict, adminapi.Error{Error: err.Error()})
			default:
				reply(w, resp, err)
			}
		},
	}
	mux := http.NewServeMux()
	for _, rt := range routes {
		mux.Handle(rt.pattern, guard(e.log, e.adminAccess, rt.need, handlers[rt.pattern]))
	}
	// Anything else is refused to strangers too, as the routes are.
	return http.MaxBytesHandler(guard(e.log, e.adminAccess, member, mux), adminapi.MaxRequestBody)
}

// untilEOF calls done once r has been read to its end. Not on an error: the
// server may read what is left of a body after the handler, and a body
// that timed out must keep its deadline for that.
type untilEOF struct {
	r    io.Reader
	done func()
}

func (u *untilEOF) Read(p []byte) (int, error) {
	n, err := u.r.Read(p)
	if err == io.EOF && u.done != nil {
		u.done()
		u.done = nil
	}
	return n, err
}

func reply(w http.ResponseWriter, v any, err error) {
	if err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, adminapi.Error{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // the client went away: nobody to tell
}

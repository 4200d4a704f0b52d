// Package admin serves the enforcer's admin API (internal/adminapi) on a
// unix socket: the HTTP server, the socket's mode and group, the callers'
// peer credentials and who may call what (auth.go). What the API does is
// the Backend's, which the enforcer implements; this package decides only
// who may ask.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/state"
)

// Backend is what the admin API serves: the enforcer.
type Backend interface {
	Status() (*adminapi.Status, error)
	Reset(ports []string, all bool, reason string) ([]state.Reset, error)
	History(ports []string) ([]state.Reset, error)
	// Timezone is the config's time zone, in which periods and resets
	// are shown.
	Timezone() string
	Reload() error
	Checkpoint() (*state.State, error)
	// Import returns adminapi.ErrImportBusy while another import works.
	Import(r io.Reader, dryRun bool) (*adminapi.ImportResponse, error)
	// WatchAdmin returns the admin socket's path and the admin_group in
	// force, and has f called with the group whenever a reload changes
	// it from then on (f nil: no more calls). f must not block.
	WatchAdmin(f func(group string)) (path, group string)
}

// Options tune the server.
type Options struct {
	Logger *slog.Logger
	// ImportReadTimeout bounds how long an import's body may take to
	// arrive (default DefaultImportReadTimeout).
	ImportReadTimeout time.Duration
	// HistoryWriteTimeout bounds how long a history answer, once built,
	// may take to be read (default DefaultHistoryWriteTimeout).
	HistoryWriteTimeout time.Duration
}

// DefaultImportReadTimeout bounds how long an import's request body may
// take to arrive: dog sends a file it has read already, so a body that
// trickles is a client holding the import slot.
const DefaultImportReadTimeout = time.Minute

// DefaultHistoryWriteTimeout bounds how long a history answer may take to
// be read: answers are built one at a time, so a client that asks and
// never reads would otherwise hold every other history read, dog export's
// included, for as long as it keeps its connection.
const DefaultHistoryWriteTimeout = time.Minute

// server is the admin socket being served.
type server struct {
	b    Backend
	opts Options
	log  *slog.Logger
	path string
	// access is the rule in force. Read without any lock: a request's
	// permission check never waits for a reload or a checkpoint.
	access atomic.Pointer[access]
	mu     sync.Mutex // serializes changes of the socket's group
	// history lets one history answer be built at a time: each holds the
	// whole history decoded and encoded (up to 2 × state.MaxHistorySize
	// on disk, a few times that in memory), and members of admin_group may
	// ask for it in parallel: six at once held six copies.
	history chan struct{}
}

// Serve serves b's admin API on its unix socket until ctx ends. The socket
// is created 0600 (root only), or 0660 root:admin_group when the config
// names an admin group; every connection's peer credentials are checked as
// well, against the route's privilege (auth.go). A reload that changes
// admin_group changes both.
func Serve(ctx context.Context, b Backend, opts Options) error {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if opts.ImportReadTimeout == 0 {
		opts.ImportReadTimeout = DefaultImportReadTimeout
	}
	if opts.HistoryWriteTimeout == 0 {
		opts.HistoryWriteTimeout = DefaultHistoryWriteTimeout
	}
	path, groupName := b.WatchAdmin(nil)
	s := &server{b: b, opts: opts, log: opts.Logger, path: path, history: make(chan struct{}, 1)}
	// A group that cannot be used leaves the API to root alone rather than
	// without a socket: stricter, and sudo dog still works.
	acc, err := resolveAdminGroup(groupName)
	if err != nil {
		s.log.Error("admin_group not in effect: the admin API is for root only", "err", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("admin socket dir: %w", err)
	}
	if err := removeStaleSocket(path); err != nil {
		return err
	}
	ln, err := listenAdmin(path, acc)
	if errors.Is(err, errGroupOwner) {
		s.log.Error("admin_group not in effect: the admin API is for root only", "err", err)
		acc = access{}
		ln, err = listenAdmin(path, acc)
	}
	if err != nil {
		return err
	}
	if why := groupCanReach(path, acc); why != "" {
		s.log.Warn("members of admin_group cannot reach the admin socket", "group", acc.group, "reason", why)
	}
	s.access.Store(&acc)
	// A reload between reading the group above and watching it now is
	// caught up with here.
	if _, now := b.WatchAdmin(s.setGroup); now != groupName {
		s.setGroup(now)
	}
	srv := &http.Server{Handler: s.handler(), ConnContext: withPeer,
		ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 64 << 10}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shut); err != nil {
			s.log.Warn("admin API did not shut down cleanly", "err", err)
		}
	}()
	err = srv.Serve(ln)
	b.WatchAdmin(nil)
	s.access.Store(nil)
	_ = os.Remove(path)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// current is the access rule in force (root only when not serving).
func (s *server) current() access {
	if a := s.access.Load(); a != nil {
		return *a
	}
	return access{}
}

// setGroup puts a reloaded admin_group in force: the socket's group and
// mode and the peer check. A group that cannot be used leaves the API to
// root, as at start.
func (s *server) setGroup(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.access.Load() == nil || name == s.current().group {
		return
	}
	acc, err := resolveAdminGroup(name)
	if err == nil {
		err = setSocketAccess(s.path, acc)
	}
	if err != nil {
		s.log.Error("admin_group not in effect: the admin API is for root only", "err", err)
		acc = access{}
		if err := setSocketAccess(s.path, acc); err != nil {
			s.log.Error("admin socket: restoring root-only access", "err", err)
		}
	}
	s.access.Store(&acc)
	s.log.Info("admin API access changed by a reload", "allowed", acc.describe())
	if why := groupCanReach(s.path, acc); why != "" {
		s.log.Warn("members of admin_group cannot reach the admin socket", "group", acc.group, "reason", why)
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

func (s *server) handler() http.Handler {
	handlers := map[string]http.HandlerFunc{
		"GET " + adminapi.PathStatus: func(w http.ResponseWriter, r *http.Request) {
			st, err := s.b.Status()
			reply(w, st, err)
		},
		"POST " + adminapi.PathReset: func(w http.ResponseWriter, r *http.Request) {
			req, err := adminapi.DecodeResetRequest(r.Body)
			if err != nil {
				badRequest(w, err)
				return
			}
			resets, err := s.b.Reset(req.Ports, req.All, state.ReasonManual)
			reply(w, &adminapi.ResetResponse{Resets: resets, Timezone: s.b.Timezone()}, err)
		},
		"GET " + adminapi.PathHistory: func(w http.ResponseWriter, r *http.Request) {
			ports, err := adminapi.ParseHistoryQuery(r.URL.RawQuery)
			if err != nil {
				badRequest(w, err)
				return
			}
			select {
			case s.history <- struct{}{}:
				defer func() { <-s.history }()
			case <-r.Context().Done():
				return // the client left while waiting its turn
			}
			resets, err := s.b.History(ports)
			rc := http.NewResponseController(w)
			_ = rc.SetWriteDeadline(time.Now().Add(s.opts.HistoryWriteTimeout)) // the connection gone: the write fails anyway
			reply(w, &adminapi.HistoryResponse{Resets: resets, Timezone: s.b.Timezone()}, err)
			// The connection may serve more requests: no deadline for them.
			_ = rc.SetWriteDeadline(time.Time{})
		},
		"POST " + adminapi.PathReload: func(w http.ResponseWriter, r *http.Request) {
			reply(w, struct{}{}, s.b.Reload())
		},
		"POST " + adminapi.PathCheckpoint: func(w http.ResponseWriter, r *http.Request) {
			st, err := s.b.Checkpoint()
			reply(w, &adminapi.CheckpointResponse{State: st}, err)
		},
		"POST " + adminapi.PathImport: func(w http.ResponseWriter, r *http.Request) {
			dryRun, err := adminapi.ParseImportQuery(r.URL.RawQuery)
			if err != nil {
				badRequest(w, err)
				return
			}
			rc := http.NewResponseController(w)
			_ = rc.SetReadDeadline(time.Now().Add(s.opts.ImportReadTimeout)) // the connection gone: the read fails anyway
			// The body (bounded by MaxBytesHandler below) is read as a
			// stream by the archive reader.
			resp, err := s.b.Import(&untilEOF{r: r.Body, done: func() { _ = rc.SetReadDeadline(time.Time{}) }}, dryRun)
			var tooLarge *http.MaxBytesError
			switch {
			case errors.As(err, &tooLarge):
				writeJSON(w, http.StatusRequestEntityTooLarge, adminapi.ErrorOf(adminapi.NewError(adminapi.CodeTooLarge, err)))
			case errors.Is(err, adminapi.ErrImportBusy):
				writeJSON(w, http.StatusConflict, adminapi.ErrorOf(err))
			default:
				reply(w, resp, err)
			}
		},
	}
	mux := http.NewServeMux()
	for _, rt := range routes {
		mux.Handle(rt.pattern, guard(s.log, s.current, rt.need, handlers[rt.pattern]))
	}
	// Anything else is refused to strangers too, as the routes are.
	return http.MaxBytesHandler(guard(s.log, s.current, member, mux), adminapi.MaxRequestBody)
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
		writeJSON(w, http.StatusUnprocessableEntity, adminapi.ErrorOf(err))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// badRequest answers a request whose query or body could not be read.
func badRequest(w http.ResponseWriter, err error) {
	writeJSON(w, http.StatusBadRequest, adminapi.ErrorOf(adminapi.NewError(adminapi.CodeBadRequest, err)))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // the client went away: nobody to tell
}

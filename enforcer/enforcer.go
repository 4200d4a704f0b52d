// Package enforcer is dog-enforcer's daemon: it owns the nftables table (and
// the shaper), applies the desired state from the config file and flags,
// restores counters after a reboot, checkpoints them, runs the billing
// resets, blocks exhausted and expired items, repairs what other tools break
// and answers the admin API (served by enforcer/admin, which decides who may
// ask).
//
// All state changes happen under one mutex, in one place each: the control
// loop's ticks, reloads and admin requests never interleave half-done.
package enforcer

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"port-traffic-dog/enforcer/nft"
	"port-traffic-dog/enforcer/ruleset"
	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/billing"
	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/filestamp"
	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/nftread"
	"port-traffic-dog/internal/state"
)

// Options configure an Enforcer.
type Options struct {
	// ConfigPath is the YAML file; empty when items come from flags only.
	ConfigPath string
	PortFlags  []string
	// NetNS is a namespace fd to work in (tests); 0 is the process's own.
	NetNS   int
	Now     func() time.Time
	Logger  *slog.Logger
	Version string
	// TickInterval paces resets, expiry and the table-existence check.
	TickInterval time.Duration
	// ConfigPollInterval paces the check for an edited config file.
	ConfigPollInterval time.Duration
	// Overrides for tests: a state dir or socket other than the config's.
	StateDir, AdminSocket string
	// Memory, when set, is told when the live heap has settled (after a
	// checkpoint) and when work that parses a whole config starts (a
	// reload, an import): internal/memlimit keeps the process's soft
	// memory limit fitted with it. For the daemon, not for tests and
	// benchmarks that share the process.
	Memory MemoryTuner
}

// MemoryTuner is the memory-tuning hook (internal/memlimit.Tuner).
type MemoryTuner interface {
	Fit(gc bool)
	Lift() (refit func())
}

// fitMemoryLimit and liftMemoryLimit call the hook, if any.
func (e *Enforcer) fitMemoryLimit(gc bool) {
	if e.opts.Memory != nil {
		e.opts.Memory.Fit(gc)
	}
}

func (e *Enforcer) liftMemoryLimit() (refit func()) {
	if e.opts.Memory == nil {
		return func() {}
	}
	return e.opts.Memory.Lift()
}

// item is one item: its configuration and its durable state.
type item struct {
	// cfg points into the applied Config's items: at 10,000 items a copy
	// per item was 1.7 MB of the enforcer's ~17 MB heap.
	cfg     *config.Item
	st      state.Item
	expired bool // as last applied
}

// Enforcer is the daemon.
type Enforcer struct {
	opts Options
	log  *slog.Logger
	nft  *nft.Conn

	mu             sync.Mutex
	cfg            *config.Config
	items          []*item // in config order
	host           *item
	applied        *ruleset.Ruleset
	stats          state.Stats
	lastCheckpoint time.Time
	lastHost       [2]state.Counter // host counters at the last checkpoint
	dirty          bool             // state changed since the last save
	metaSum        uint64           // of the meta file last written (metaHash)
	configStamp    filestamp.Stamp
	configText     config.ItemCache // a reload decodes only the items that changed
	bootID         string
	shape          shaping       // the tc side: bandwidth limits (shape.go)
	unrecorded     []state.Reset // applied resets the history file did not take yet
	fwd            forwardState  // the host's IP forwarding (forwarding.go)
	// adminWatch is told of a reloaded admin_group (WatchAdmin).
	adminWatch func(group string)

	// importing lets one import run at a time (dry runs too): each holds
	// an archive's contents in memory.
	importing sync.Mutex

	// The kernel against the desired state (reconcile.go): synced is false
	// from a failed apply until a retry holds; pending is the strongest
	// sync a failed attempt wanted, retryAt when the next one is due.
	synced   bool
	failures int
	pending  syncMode
	retryAt  time.Time
	// applyFault, when set, fails applies before they reach the kernel:
	// the fault-injection seam of the tests (export_test.go), nil in the
	// daemon.
	applyFault func() error

	// firstCheckpoint is the wait for the first periodic checkpoint after
	// Start, on the grid anchored at the loaded state's SavedAt.
	firstCheckpoint time.Duration
	// intervalChanged tells Run that a reload changed checkpoint_interval.
	intervalChanged chan struct{}
}

// New loads and validates the configuration and the state. Nothing touches
// the kernel yet: a bad config is reported before anything is applied.
func New(opts Options) (*Enforcer, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if opts.TickInterval == 0 {
		opts.TickInterval = time.Second
	}
	if opts.ConfigPollInterval == 0 {
		opts.ConfigPollInterval = 2 * time.Second
	}
	e := &Enforcer{opts: opts, log: opts.Logger, nft: nft.Open(opts.NetNS), bootID: readBootID(),
		intervalChanged: make(chan struct{}, 1)}
	e.shape = newShaping(opts.NetNS, opts.Logger)
	cfg, stamp, err := e.loadConfig()
	if err != nil {
		return nil, err
	}
	e.cfg, e.configStamp = cfg, stamp
	return e, nil
}

// checkConfigFile refuses a config file another user could write (see
// state.CheckConfigFile) and logs what the config holds that new edits
// refuse.
func (e *Enforcer) checkConfigFile(cfg *config.Config) error {
	if e.opts.ConfigPath != "" {
		notes, err := state.CheckConfigFile(e.opts.ConfigPath)
		if err != nil {
			return err
		}
		for _, n := range notes {
			e.log.Warn(n)
		}
	}
	for _, w := range cfg.Warnings(e.opts.Now()) {
		e.log.Warn("config: " + w)
	}
	return nil
}

func (e *Enforcer) loadConfig() (*config.Config, filestamp.Stamp, error) {
	cfg := config.Default()
	var stamp filestamp.Stamp
	if e.opts.ConfigPath != "" {
		stamp, _ = filestamp.Of(e.opts.ConfigPath) // Load reports a file it cannot read
		var err error
		if cfg, err = e.configText.Load(e.opts.ConfigPath); err != nil {
			return nil, stamp, err
		}
	}
	cfg, err := e.withFlags(cfg)
	if err != nil {
		return nil, stamp, err
	}
	if err := e.checkConfigFile(cfg); err != nil {
		return nil, stamp, err
	}
	return cfg, stamp, nil
}

// withFlags is cfg with what the command line adds to and overrides in
// every configuration the enforcer takes (loaded or imported).
func (e *Enforcer) withFlags(cfg *config.Config) (*config.Config, error) {
	cfg, err := cfg.WithPortFlags(e.opts.PortFlags)
	if err != nil {
		return nil, err
	}
	if e.opts.StateDir != "" {
		cfg.StateDir = e.opts.StateDir
	}
	if e.opts.AdminSocket != "" {
		cfg.AdminSocket = e.opts.AdminSocket
	}
	return cfg, nil
}

// StateDir is where the enforcer keeps its state.
func (e *Enforcer) StateDir() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cfg.StateDir
}

// AdminSocket is the admin API's socket path.
func (e *Enforcer) AdminSocket() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cfg.AdminSocket
}

// WatchAdmin returns the admin API's socket path and the admin_group in
// force, and has f called (under the enforcer's lock) with the group each
// time a reload changes it from now on; f nil stops the calls. The admin
// server (enforcer/admin) keeps the socket's access current with it.
func (e *Enforcer) WatchAdmin(f func(group string)) (path, group string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.adminWatch = f
	return e.cfg.AdminSocket, e.cfg.AdminGroup
}

// Start restores and applies the table. Counters: if the kernel has the
// table (the process restarted) its values win; if not (a reboot, or a
// flushed ruleset) they are re-created from the last checkpoint.
func (e *Enforcer) Start() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := os.MkdirAll(e.cfg.StateDir, 0o700); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	notes, err := state.CheckDir(e.cfg.StateDir)
	if err != nil {
		return err
	}
	for _, n := range notes {
		e.log.Warn(n)
	}
	if n, err := state.RemoveStaleTemp(e.cfg.StateDir); err != nil || n > 0 {
		e.log.Info("removed temporary files of interrupted checkpoints", "files", n, "err", err)
	}
	st, warn, err := state.Load(e.cfg.StateDir)
	switch {
	case errors.Is(err, state.ErrNotExist):
		st = &state.State{}
	case err != nil:
		return err
	}
	if warn != nil {
		e.log.Warn("state file damaged, using the previous checkpoint", "err", warn)
	}
	e.stats = st.Stats
	e.shape.s.Restore(st.Shaper)
	now := e.opts.Now()
	e.items, e.host = e.merge(e.cfg, statesByID(st.Items), st.Host, now)
	e.readForwarding() // before the first desired state, which reads it

	objs, err := e.nft.ReadObjects()
	switch {
	case errors.Is(err, nft.ErrNoTable):
		if !st.SavedAt.IsZero() {
			e.log.Info("table missing: restoring counters from the checkpoint", "saved_at", st.SavedAt.Format(time.RFC3339),
				"rebooted", st.BootID != "" && st.BootID != e.bootID)
		}
	case err != nil:
		return fmt.Errorf("read nftables: %w", err)
	default:
		e.takeCounters(objs)
	}
	e.adoptRecordedResets(st.SavedAt) // resets recorded but not saved before a crash
	resets := e.runDueResets(now)     // resets missed while the enforcer was down
	e.checkQuotas(objs)
	if err := e.reconcile(syncFull); err != nil && e.applied == nil {
		// No table: nothing counts. Fail, so the service manager's
		// restart retries with nothing recorded twice.
		return err
	}
	e.record(resets)
	e.firstCheckpoint = checkpointDelay(st.SavedAt, now, e.cfg.CheckpointInterval)
	if err := e.saveLocked(); err != nil {
		return err
	}
	// Logged last: what follows at once is the daemon's signal handling,
	// and tests (and operators) take this line as "started".
	e.log.Info("table applied", "items", len(e.items), "host_quota", e.cfg.Host != nil, "synced", e.synced)
	return nil
}

// checkpointDelay is the wait for the first periodic checkpoint after a
// start: the next point of the checkpoint_interval grid anchored at the
// loaded state's SavedAt, so at most one interval after that checkpoint
// when it is that recent, and never more than one interval away. Anchored
// on the start instead, a daemon killed within an interval of every start
// (a crash loop) never checkpointed again, and every restart restored the
// same old counters.
func checkpointDelay(savedAt, now time.Time, interval time.Duration) time.Duration {
	since := now.Sub(savedAt)
	if savedAt.IsZero() || since < 0 || interval <= 0 {
		return interval
	}
	return interval - since%interval
}

// merge pairs the configured items with their saved state (by id), starting
// a billing period for new ones, and carries config changes into the state:
// a new billing mode gets fresh quota objects, a new reset day reschedules,
// a quota raised above the use unblocks.
func (e *Enforcer) merge(cfg *config.Config, saved map[string]*state.Item, savedHost *state.Item, now time.Time) ([]*item, *item) {
	items := make([]*item, 0, len(cfg.Items))
	for i := range cfg.Items {
		c := &cfg.Items[i]
		it := &item{cfg: c}
		s := state.Item{ID: c.ID(), PeriodStart: now}
		old, ok := saved[s.ID]
		if ok {
			s = *old
		}
		it.st = e.carry(s, ok, itemSettings{quota: c.Quota, billing: c.Billing, resetDay: c.ResetDay}, now)
		it.st.Ports, it.st.Remark, it.st.Protocols = c.Ports, c.Remark, c.Protocols.String()
		it.st.Expires, it.st.RateIn, it.st.RateOut = time.Time{}, c.RateIn, c.RateOut
		if !c.Expires.IsZero() {
			it.st.Expires = c.Expires.In(cfg.Location)
		}
		items = append(items, it)
	}
	host := &item{cfg: &config.Item{Ports: config.HostPort, Protocols: config.TCP | config.UDP, Billing: config.BillingSum}}
	hs, ok := state.Item{ID: layout.HostID, PeriodStart: now}, false
	if savedHost != nil {
		hs, ok = *savedHost, true
	}
	hset := itemSettings{billing: config.BillingSum}
	if h := cfg.Host; h != nil {
		host.cfg.Quota, host.cfg.Billing, host.cfg.ResetDay = h.Quota, h.Billing, h.ResetDay
		hset = itemSettings{quota: h.Quota, billing: h.Billing, resetDay: h.ResetDay}
	}
	host.st = e.carry(hs, ok, hset, now)
	host.st.Ports, host.st.Protocols = config.HostPort, "tcp+udp"
	// The host has no remark, expiry or rates in a config: a saved host
	// entry that has them (an archive's) must not block or show them.
	host.st.Remark, host.st.Expires, host.st.RateIn, host.st.RateOut = "", time.Time{}, 0, 0
	e.assignClasses(items)
	return items, host
}

// statesByID indexes saved item states for merge.
func statesByID(items []state.Item) map[string]*state.Item {
	m := make(map[string]*state.Item, len(items))
	for i := range items {
		m[items[i].ID] = &items[i]
	}
	return m
}

type itemSettings struct {
	quota    uint64
	billing  config.Billing
	resetDay int
}

// carry applies an item's (possibly changed) settings to its state.
func (e *Enforcer) carry(s state.Item, existed bool, set itemSettings, now time.Time) state.Item {
	loc := e.cfg.Location
	if !existed || s.ResetDay != set.resetDay || (s.NextReset.IsZero() && set.resetDay != 0) {
		s.NextReset = billing.Rescheduled(s.PeriodStart, now, set.resetDay, loc).Next
	}
	if existed && s.Billing != "" && s.Billing != string(set.billing) {
		s.QuotaGen++ // the new mode's objects start from the period's counters
	}
	billable := set.billing.Billable(s.PeriodIn().Bytes, s.PeriodOut().Bytes)
	switch {
	case set.quota == 0:
		s.QuotaBlocked = false
	case billable >= set.quota:
		s.QuotaBlocked = true
	case s.QuotaBlocked && (set.quota > s.Quota || s.Billing != string(set.billing)):
		// Raised above the use, or billed differently and under the quota
		// now: unblock now, with fresh quota objects whose consumed bytes
		// are the counters' (the old ones also counted what they dropped).
		// Otherwise a blocked item stays blocked: the bytes that passed are
		// always a packet short of the quota, since the kernel dropped the
		// packet that crossed it, so "use < quota" alone is no reason.
		s.QuotaBlocked = false
		s.QuotaGen++
	}
	s.Billing, s.Quota, s.ResetDay = string(set.billing), set.quota, set.resetDay
	return s
}

// takeCounters copies kernel counter values into the state.
func (e *Enforcer) takeCounters(objs *nftread.Objects) {
	for _, it := range e.all() {
		if c, ok := objs.Counters[layout.Counter(it.st.ID, layout.In)]; ok {
			it.st.In = c
		}
		if c, ok := objs.Counters[layout.Counter(it.st.ID, layout.Out)]; ok {
			it.st.Out = c
		}
	}
}

func (e *Enforcer) all() []*item {
	return append(append(make([]*item, 0, len(e.items)+1), e.items...), e.host)
}

// expiredAt reports whether the item's expiry has come at now.
func expiredAt(it *item, now time.Time) bool {
	return it.st.ExpiredAt(now)
}

// input is the desired ruleset input for now. It only reads.
func (e *Enforcer) input(now time.Time) ruleset.Input {
	conv := func(it *item) ruleset.Item {
		return ruleset.Item{
			ID: it.st.ID, Spec: it.cfg.Spec, Protocols: it.cfg.Protocols, Quota: it.cfg.Quota,
			Billing: it.cfg.Billing, QuotaGen: it.st.QuotaGen, Blocked: it.st.QuotaBlocked || expiredAt(it, now),
			ClassOut: e.classOut(it),
			In:       it.st.In, Out: it.st.Out, BaseIn: it.st.BaseIn, BaseOut: it.st.BaseOut,
		}
	}
	in := ruleset.Input{CountLoopback: e.cfg.CountLoopback, CountForwarded: e.countForwarded(), Exempt: e.cfg.Exempt}
	in.Items = make([]ruleset.Item, len(e.items))
	for i, it := range e.items {
		in.Items[i] = conv(it)
	}
	h := conv(e.host)
	in.Host = &h
	return in
}

// classOut is the egress shaping class of an item (0: unshaped). The shaper
// fills it in.
func (e *Enforcer) classOut(it *item) uint32 { return e.shapeClassOut(it) }

// saveLocked writes the state file now, and the meta file when it changed.
func (e *Enforcer) saveLocked() error {
	e.flushHistory()
	st := e.snapshot()
	// Both files at once: at 10,000 items each is ~4 ms of encoding and an
	// fsync, and the two fsyncs can share a journal commit.
	var metaErr error
	var wg sync.WaitGroup
	wg.Go(func() { metaErr = e.saveMeta(st) })
	err := state.Save(e.cfg.StateDir, st)
	wg.Wait()
	if err != nil || metaErr != nil {
		e.stats.CheckpointErrors++
	}
	if err != nil {
		return adminapi.NewError(adminapi.CodeCheckpoint, err)
	}
	e.lastCheckpoint = st.SavedAt
	e.lastHost = [2]state.Counter{e.host.st.In, e.host.st.Out}
	e.dirty = false
	if metaErr != nil {
		return adminapi.NewError(adminapi.CodeCheckpoint, metaErr)
	}
	e.fitMemoryLimit(false)
	return nil
}

// saveMeta writes the exporter's view of the state when it changed. Counters
// are left out, so between config changes, resets and blocks it stays the
// same and the exporter does not re-parse it.
func (e *Enforcer) saveMeta(st *state.State) error {
	sum := metaHash(st)
	if sum == e.metaSum {
		return nil
	}
	m := &state.Meta{Timezone: st.Timezone, Stats: st.Stats, Items: make([]state.Item, len(st.Items))}
	m.Shaper = st.Shaper
	for i, it := range st.Items {
		m.Items[i] = withoutCounters(it)
	}
	if st.Host != nil {
		h := withoutCounters(*st.Host)
		m.Host = &h
	}
	if err := state.SaveMeta(e.cfg.StateDir, m); err != nil {
		return err
	}
	e.metaSum = sum
	return nil
}

func withoutCounters(it state.Item) state.Item {
	it.In, it.Out = state.Counter{}, state.Counter{}
	return it
}

// metaSeed keys metaHash for the process's lifetime.
var metaSeed = maphash.MakeSeed()

// metaHash identifies the meta file st makes without making it: encoding
// 10,000 items to compare a checksum cost ~7 ms and 7 MB of garbage at every
// checkpoint. Strings are hashed by content, times by their instant and
// zone pointer (a zone loaded anew only costs a needless write).
func metaHash(st *state.State) uint64 {
	var h maphash.Hash
	h.SetSeed(metaSeed)
	maphash.WriteComparable(&h, st.Timezone)
	maphash.WriteComparable(&h, st.Stats)
	maphash.WriteComparable(&h, len(st.Items))
	for _, it := range st.Items {
		maphash.WriteComparable(&h, withoutCounters(it))
	}
	if st.Host != nil {
		maphash.WriteComparable(&h, withoutCounters(*st.Host))
	}
	if st.Shaper != nil {
		shaper, _ := json.Marshal(st.Shaper) // a few interfaces
		h.Write(shaper)
	}
	return h.Sum64()
}

func (e *Enforcer) snapshot() *state.State {
	st := &state.State{SavedAt: e.opts.Now().UTC(), BootID: e.bootID, Timezone: e.cfg.Timezone, Stats: e.stats,
		Items: make([]state.Item, len(e.items))}
	for i, it := range e.items {
		st.Items[i] = it.st
	}
	h := e.host.st
	st.Host = &h
	st.Shaper = e.shape.s.State()
	return st
}

func readBootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// Cleanup removes what the enforcer created in the kernel. The state dir
// stays: a later start continues from the last checkpoint.
func (e *Enforcer) Cleanup() error {
	if err := e.nft.Delete(); err != nil {
		return err
	}
	e.log.Info("removed the nftables table " + layout.Table)
	return e.cleanupShaper()
}

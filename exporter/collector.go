// Package exporter is dog-exporter: at every scrape it dumps the enforcer's
// counters from the kernel over netlink and joins them with the enforcer's
// meta file (ports as written, remarks, billing periods, quotas). Everything
// is read at scrape time, nothing is mirrored in long-lived vectors, so
// nothing stale survives a config change. It only reads: no scrape can
// change anything.
//
// The items' bytes_total and packets_total are the exception: they come from
// the enforcer's last durable checkpoint (state.DurableName), not from the
// kernel. A power loss restores that checkpoint, so a value served from it
// is never undercut by a restore; a live kernel value could be, and
// Prometheus would read the fall as a counter reset and add the item's
// whole lifetime to increase(). The price is freshness: these two lag the
// kernel by up to one checkpoint_interval (docs/METRICS.md).
//
// The per-item families (about eleven series per item, 110,000 at 10,000
// items) are written straight into the text exposition format. Through
// client_golang's const metrics, Gather (which builds, sorts and re-encodes
// every series) cost ~7 µs a series: 700 ms a scrape at 10,000 items.
// The few host-level metrics still go through a prometheus.Collector, as
// node_exporter's do.
package exporter

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"port-traffic-dog/internal/filestamp"
	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/nftread"
	"port-traffic-dog/internal/state"
	"port-traffic-dog/internal/tcread"
)

const namespace = "port_traffic_dog"

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
}

var (
	itemsDesc  = desc("items", "Number of configured items, the host not included.")
	upDesc     = desc("up", "1 when the kernel table could be read.")
	durDesc    = desc("scrape_duration_seconds", "Time this scrape took to read the kernel and the state.")
	cpDesc     = desc("checkpoint_timestamp_seconds", "When the enforcer last wrote a checkpoint successfully.")
	recErrDesc = desc("enforcer_reconcile_errors_total", "Failed applies and reconcile passes of the enforcer.")
	repairDesc = desc("enforcer_repairs_total", "Times the enforcer restored its table or qdiscs after another tool changed them.")
	cpErrDesc  = desc("enforcer_checkpoint_errors_total", "Failed checkpoint writes.")
	syncedDesc = desc("enforcer_synced", "1 when the kernel matches the enforcer's desired state, 0 while a failed apply waits for its retry.")
)

// Exporter reads one host's table and state.
type Exporter struct {
	netns    int
	stateDir string
	log      *slog.Logger
	now      func() time.Time

	mu    sync.Mutex // guards the caches
	meta  *state.Meta
	stamp filestamp.Stamp
	// durable is the last durable checkpoint's counters, re-read when its
	// link names another file (once per checkpoint).
	durable      *state.Counters
	durableStamp filestamp.Stamp
}

// New reads the table in the namespace of fd netns (0: the process's) and
// the enforcer's files in stateDir.
func New(netns int, stateDir string, log *slog.Logger) *Exporter {
	return &Exporter{netns: netns, stateDir: stateDir, log: log, now: time.Now}
}

// loadMeta returns the meta file, re-reading it only when it changed.
func (x *Exporter) loadMeta() (*state.Meta, error) {
	path := filepath.Join(x.stateDir, state.MetaName)
	s, err := filestamp.Of(path)
	if err != nil {
		return nil, err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.meta != nil && s == x.stamp {
		return x.meta, nil
	}
	m, err := state.ReadMeta(path)
	if err != nil {
		return nil, err
	}
	x.meta, x.stamp = m, s
	return m, nil
}

// loadDurable returns the counters of the durable checkpoint, re-reading
// them only when the enforcer published a new one. A new one that does not
// read (which an atomic link should never give) leaves the last good one
// served: older, so never more than a restore gives back.
func (x *Exporter) loadDurable() *state.Counters {
	s, err := filestamp.Of(filepath.Join(x.stateDir, state.DurableName))
	x.mu.Lock()
	defer x.mu.Unlock()
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			x.log.Warn("cannot read the durable checkpoint; serving the last one read", "err", err)
		}
		return x.durable
	}
	if x.durable != nil && s == x.durableStamp {
		return x.durable
	}
	c, err := state.ReadDurable(x.stateDir)
	if err != nil {
		x.log.Warn("cannot read the durable checkpoint; serving the last one read", "err", err)
		return x.durable
	}
	x.durable, x.durableStamp = c, s
	return c
}

// snapshot is what one scrape read.
type snapshot struct {
	start      time.Time
	now        time.Time
	meta       *state.Meta // nil when unreadable
	checkpoint time.Time   // mtime of the state file
	objs       *nftread.Objects
	kernelErr  error
	durable    *state.Counters // nil: no durable checkpoint yet
	tc         *tcread.Stats
}

func (x *Exporter) read() *snapshot {
	s := &snapshot{start: time.Now(), now: x.now()}
	m, err := x.loadMeta()
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		x.log.Warn("cannot read the enforcer's meta file; metrics from the kernel only", "err", err)
	}
	s.meta = m
	if fi, err := os.Stat(filepath.Join(x.stateDir, state.FileName)); err == nil {
		s.checkpoint = fi.ModTime()
	}
	s.durable = x.loadDurable()
	s.objs, s.kernelErr = nftread.ReadCounters(x.netns, layout.Table)
	s.tc = x.readShaper(m)
	if s.kernelErr != nil {
		x.log.Warn("cannot read the nftables table", "err", s.kernelErr)
	}
	return s
}

// hostCollector sends the host-level metrics of one snapshot.
type hostCollector struct{ s *snapshot }

func (c hostCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{itemsDesc, upDesc, durDesc, cpDesc, recErrDesc, repairDesc, cpErrDesc, syncedDesc} {
		ch <- d
	}
}

func (c hostCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	up := 1.0
	if s.kernelErr != nil {
		up = 0
	}
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(durDesc, prometheus.GaugeValue, time.Since(s.start).Seconds())
	if !s.checkpoint.IsZero() {
		ch <- prometheus.MustNewConstMetric(cpDesc, prometheus.GaugeValue, ts(s.checkpoint))
	}
	if m := s.meta; m != nil {
		ch <- prometheus.MustNewConstMetric(recErrDesc, prometheus.CounterValue, float64(m.Stats.ReconcileErrors))
		ch <- prometheus.MustNewConstMetric(repairDesc, prometheus.CounterValue, float64(m.Stats.Repairs))
		ch <- prometheus.MustNewConstMetric(cpErrDesc, prometheus.CounterValue, float64(m.Stats.CheckpointErrors))
		ch <- prometheus.MustNewConstMetric(itemsDesc, prometheus.GaugeValue, float64(len(m.Items)))
		synced := 1.0
		if m.Stats.OutOfSync {
			synced = 0
		}
		ch <- prometheus.MustNewConstMetric(syncedDesc, prometheus.GaugeValue, synced)
	}
}

func ts(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// Package exporter is dog-exporter's collector: at every scrape it dumps the
// enforcer's counters from the kernel over netlink and joins them with what
// the enforcer's state file knows (ports as written, remarks, billing
// periods, quotas). Metrics are built at scrape time as const metrics, never
// mirrored in long-lived vectors, so nothing stale survives a config change.
// It only reads: no scrape can change anything.
package exporter

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/nftread"
	"port-traffic-dog/internal/state"
)

const namespace = "port_traffic_dog"

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
}

var (
	bytesDesc   = desc("bytes_total", "Bytes (IP packet length) that passed, by item and direction (in: to the port, out: from it). Never reset.", "port", "direction")
	packetsDesc = desc("packets_total", "Packets that passed, by item and direction. Never reset.", "port", "direction")
	infoDesc    = desc("info", "Item metadata; join on port for the remark.", "port", "remark", "protocols", "billing")
	periodDesc  = desc("period_bytes", "Bytes since the current billing period started.", "port", "direction")
	usedDesc    = desc("quota_used_bytes", "Billable bytes this period under the item's billing mode.", "port")
	quotaDesc   = desc("quota_bytes", "Quota per billing period.", "port")
	blockedDesc = desc("blocked", "1 when the item is blocked for the reason (quota, expired).", "port", "reason")
	lastDesc    = desc("last_reset_timestamp_seconds", "Start of the current billing period.", "port")
	nextDesc    = desc("next_reset_timestamp_seconds", "Next automatic reset (absent for reset_day 0).", "port")
	expiryDesc  = desc("expiry_timestamp_seconds", "When the item expires (blocked from then on).", "port")
	rateDesc    = desc("rate_limit_bytes_per_second", "Configured bandwidth limit in bytes per second (x8 for bit/s).", "port", "direction")
	itemsDesc   = desc("items", "Number of configured items, the host not included.")
	upDesc      = desc("up", "1 when the kernel table could be read.")
	durDesc     = desc("scrape_duration_seconds", "Time this scrape took to read the kernel and the state.")
	cpDesc      = desc("checkpoint_timestamp_seconds", "When the enforcer last wrote a checkpoint successfully.")
	recErrDesc  = desc("enforcer_reconcile_errors_total", "Failed applies and reconcile passes of the enforcer.")
	repairDesc  = desc("enforcer_repairs_total", "Times the enforcer restored its table or qdiscs after another tool changed them.")
	cpErrDesc   = desc("enforcer_checkpoint_errors_total", "Failed checkpoint writes.")
)

// Collector is the exporter's one collector.
type Collector struct {
	netns    int
	stateDir string
	log      *slog.Logger
	now      func() time.Time

	mu     sync.Mutex // guards the cache
	cached *state.State
	stamp  stamp
}

// NewCollector reads the table in the namespace of fd netns (0: the
// process's) and the state in stateDir.
func NewCollector(netns int, stateDir string, log *slog.Logger) *Collector {
	return &Collector{netns: netns, stateDir: stateDir, log: log, now: time.Now}
}

// Describe sends every descriptor.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{bytesDesc, packetsDesc, infoDesc, periodDesc, usedDesc, quotaDesc, blockedDesc,
		lastDesc, nextDesc, expiryDesc, rateDesc, itemsDesc, upDesc, durDesc, cpDesc, recErrDesc, repairDesc, cpErrDesc} {
		ch <- d
	}
}

type stamp struct {
	mod  time.Time
	size int64
	ino  uint64
}

// loadState returns the state file, re-reading it only when it changed: the
// enforcer rewrites it every checkpoint, scrapes may come more often.
func (c *Collector) loadState() (*state.State, error) {
	path := filepath.Join(c.stateDir, state.FileName)
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	s := stamp{mod: fi.ModTime(), size: fi.Size()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.ino = st.Ino
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cached != nil && s == c.stamp {
		return c.cached, nil
	}
	st, err := state.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c.cached, c.stamp = st, s
	return st, nil
}

// Collect reads the kernel and the state and sends the metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	start := time.Now()
	defer func() {
		ch <- prometheus.MustNewConstMetric(durDesc, prometheus.GaugeValue, time.Since(start).Seconds())
	}()
	st, err := c.loadState()
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		c.log.Warn("cannot read the enforcer's state; metrics from the kernel only", "err", err)
	}
	if st != nil {
		ch <- prometheus.MustNewConstMetric(cpDesc, prometheus.GaugeValue, float64(st.SavedAt.UnixMilli())/1000)
		ch <- prometheus.MustNewConstMetric(recErrDesc, prometheus.CounterValue, float64(st.Stats.ReconcileErrors))
		ch <- prometheus.MustNewConstMetric(repairDesc, prometheus.CounterValue, float64(st.Stats.Repairs))
		ch <- prometheus.MustNewConstMetric(cpErrDesc, prometheus.CounterValue, float64(st.Stats.CheckpointErrors))
		ch <- prometheus.MustNewConstMetric(itemsDesc, prometheus.GaugeValue, float64(len(st.Items)))
	}
	objs, err := nftread.Read(c.netns, layout.Table)
	if err != nil {
		c.log.Warn("cannot read the nftables table", "err", err)
		ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 1)

	known := map[string]bool{}
	if st != nil {
		now := c.now()
		for i := range st.Items {
			known[st.Items[i].ID] = true
			c.item(ch, &st.Items[i], objs, now)
		}
		if st.Host != nil {
			known[layout.HostID] = true
			c.item(ch, st.Host, objs, now)
		}
	}
	// Counters the state does not know yet (an item applied after the last
	// checkpoint): their ids encode the canonical ports.
	for name, v := range objs.Counters {
		id, d, ok := layout.ParseCounter(name)
		if !ok || known[id] {
			continue
		}
		port := portOfID(id)
		if port == "" {
			continue
		}
		counters(ch, port, d.String(), v)
	}
}

func portOfID(id string) string {
	if id == layout.HostID {
		return config.HostPort
	}
	if !strings.HasPrefix(id, "p") {
		return "" // a hashed group id: wait for the state
	}
	return strings.ReplaceAll(id[1:], "_", ",")
}

func counters(ch chan<- prometheus.Metric, port, dir string, v state.Counter) {
	ch <- prometheus.MustNewConstMetric(bytesDesc, prometheus.CounterValue, float64(v.Bytes), port, dir)
	ch <- prometheus.MustNewConstMetric(packetsDesc, prometheus.CounterValue, float64(v.Packets), port, dir)
}

func ts(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func (c *Collector) item(ch chan<- prometheus.Metric, it *state.Item, objs *nftread.Objects, now time.Time) {
	in, okIn := objs.Counters[layout.Counter(it.ID, layout.In)]
	out, okOut := objs.Counters[layout.Counter(it.ID, layout.Out)]
	if !okIn || !okOut {
		return // removed since the checkpoint
	}
	port := it.Ports
	g := prometheus.GaugeValue
	counters(ch, port, "in", in)
	counters(ch, port, "out", out)
	ch <- prometheus.MustNewConstMetric(infoDesc, g, 1, port, it.Remark, it.Protocols, it.Billing)
	pin, pout := in.Sub(it.BaseIn).Bytes, out.Sub(it.BaseOut).Bytes
	ch <- prometheus.MustNewConstMetric(periodDesc, g, float64(pin), port, "in")
	ch <- prometheus.MustNewConstMetric(periodDesc, g, float64(pout), port, "out")
	ch <- prometheus.MustNewConstMetric(usedDesc, g, float64(config.Billing(it.Billing).Billable(pin, pout)), port)
	if it.Quota > 0 {
		ch <- prometheus.MustNewConstMetric(quotaDesc, g, float64(it.Quota), port)
		ch <- prometheus.MustNewConstMetric(blockedDesc, g, b2f(it.QuotaBlocked), port, "quota")
	}
	if !it.Expires.IsZero() {
		ch <- prometheus.MustNewConstMetric(expiryDesc, g, ts(it.Expires), port)
		ch <- prometheus.MustNewConstMetric(blockedDesc, g, b2f(!now.Before(it.Expires)), port, "expired")
	}
	ch <- prometheus.MustNewConstMetric(lastDesc, g, ts(it.PeriodStart), port)
	if !it.NextReset.IsZero() {
		ch <- prometheus.MustNewConstMetric(nextDesc, g, ts(it.NextReset), port)
	}
	if it.RateIn > 0 {
		ch <- prometheus.MustNewConstMetric(rateDesc, g, float64(it.RateIn)/8, port, "in")
	}
	if it.RateOut > 0 {
		ch <- prometheus.MustNewConstMetric(rateDesc, g, float64(it.RateOut)/8, port, "out")
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

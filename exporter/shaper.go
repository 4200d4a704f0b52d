package exporter

import (
	"port-traffic-dog/internal/state"
	"port-traffic-dog/internal/tcread"
)

// readShaper reads the shaper's class counters from the interfaces the meta
// file names; nil when nothing is shaped or they cannot be read (the other
// metrics are still served).
func (x *Exporter) readShaper(m *state.Meta) *tcread.Stats {
	if m == nil || m.Shaper == nil {
		return nil
	}
	st, err := tcread.Read(x.netns, m.Shaper)
	if err != nil {
		x.log.Warn("cannot read the shaper's tc classes", "err", err)
	}
	return st
}

// attachShaper gives every view the scrape's class counters.
func attachShaper(v []itemView, st *tcread.Stats) {
	for i := range v {
		v[i].tc = st
	}
}

// shaperSeries writes one of the shaper's counters for each limited
// direction of the item whose class exists.
func shaperSeries(pick func(tcread.Counters) uint64) func(w *seriesWriter, it *itemView) {
	return func(w *seriesWriter, it *itemView) {
		if it.Item == nil || it.tc == nil || it.ClassMinor == 0 {
			return
		}
		if c, ok := it.tc.In[it.ClassMinor]; ok && it.RateIn > 0 {
			w.dir(it.port, "in", pick(c))
		}
		if c, ok := it.tc.Out[it.ClassMinor]; ok && it.RateOut > 0 {
			w.dir(it.port, "out", pick(c))
		}
	}
}

var (
	shaperDrops      = shaperSeries(func(c tcread.Counters) uint64 { return c.Drops })
	shaperOverlimits = shaperSeries(func(c tcread.Counters) uint64 { return c.Overlimits })
)

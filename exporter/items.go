package exporter

import (
	"bufio"
	"strconv"
	"time"

	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/state"
	"port-traffic-dog/internal/tcread"
)

// family is one per-item metric family: how to write its series for an item.
// The items' own _total counters come from the durable checkpoint
// (checkpointed), everything else from the kernel now.
type family struct {
	name, help, typ string
	series          func(w *seriesWriter, it *itemView)
	checkpointed    bool
}

// itemView is one item as a scrape sees it: meta plus kernel counters.
type itemView struct {
	*state.Item
	port      string
	in, out   state.Counter
	pin, pout uint64
	now       time.Time
	tc        *tcread.Stats // the shaper's class counters (nil: none)
}

var families = []family{
	{"bytes_total", "Bytes (IP packet length) that passed, by item and direction (in: to the port, out: from it), as of the last durable checkpoint. Never reset.", "counter",
		func(w *seriesWriter, it *itemView) {
			w.dir(it.port, "in", it.in.Bytes)
			w.dir(it.port, "out", it.out.Bytes)
		}, true},
	{"packets_total", "Packets that passed, by item and direction, as of the last durable checkpoint. Never reset.", "counter",
		func(w *seriesWriter, it *itemView) {
			w.dir(it.port, "in", it.in.Packets)
			w.dir(it.port, "out", it.out.Packets)
		}, true},
	{"info", "Item metadata; join on port for the remark.", "gauge",
		func(w *seriesWriter, it *itemView) {
			if it.Item == nil {
				return
			}
			w.start()
			w.label("billing", it.Billing)
			w.label("port", it.port)
			w.label("protocols", it.Protocols)
			w.label("remark", it.Remark)
			w.uint(1)
		}, false},
	{"period_bytes", "Bytes since the current billing period started.", "gauge",
		func(w *seriesWriter, it *itemView) {
			if it.Item == nil {
				return
			}
			w.dir(it.port, "in", it.pin)
			w.dir(it.port, "out", it.pout)
		}, false},
	{"quota_used_bytes", "Billable bytes this period under the item's billing mode.", "gauge",
		func(w *seriesWriter, it *itemView) {
			if it.Item != nil {
				w.port(it.port)
				w.uint(config.Billing(it.Billing).Billable(it.pin, it.pout))
			}
		}, false},
	{"quota_bytes", "Quota per billing period.", "gauge",
		func(w *seriesWriter, it *itemView) {
			if it.Item != nil && it.Quota > 0 {
				w.port(it.port)
				w.uint(it.Quota)
			}
		}, false},
	{"blocked", "1 when the item is blocked for the reason (quota, expired).", "gauge",
		func(w *seriesWriter, it *itemView) {
			if it.Item == nil {
				return
			}
			if it.Quota > 0 {
				w.reason(it.port, "quota", it.QuotaBlocked)
			}
			if !it.Expires.IsZero() {
				w.reason(it.port, "expired", it.ExpiredAt(it.now))
			}
		}, false},
	{"last_reset_timestamp_seconds", "Start of the current billing period.", "gauge",
		func(w *seriesWriter, it *itemView) {
			if it.Item != nil && !it.PeriodStart.IsZero() {
				w.port(it.port)
				w.time(it.PeriodStart)
			}
		}, false},
	{"next_reset_timestamp_seconds", "Next automatic reset (absent for reset_day 0).", "gauge",
		func(w *seriesWriter, it *itemView) {
			if it.Item != nil && !it.NextReset.IsZero() {
				w.port(it.port)
				w.time(it.NextReset)
			}
		}, false},
	{"expiry_timestamp_seconds", "When the item expires (blocked from then on).", "gauge",
		func(w *seriesWriter, it *itemView) {
			if it.Item != nil && !it.Expires.IsZero() {
				w.port(it.port)
				w.time(it.Expires)
			}
		}, false},
	{"rate_limit_bytes_per_second", "Configured bandwidth limit in bytes per second (x8 for bit/s).", "gauge",
		func(w *seriesWriter, it *itemView) {
			if it.Item == nil {
				return
			}
			if it.RateIn > 0 {
				w.dirFloat(it.port, "in", float64(it.RateIn)/8)
			}
			if it.RateOut > 0 {
				w.dirFloat(it.port, "out", float64(it.RateOut)/8)
			}
		}, false},
	{"shaper_dropped_packets_total", "Packets the bandwidth limit's queue dropped, by item and limited direction.", "counter", shaperDrops, false},
	{"shaper_overlimits_total", "Times the item's traffic went over its bandwidth limit and had to wait, by limited direction.", "counter", shaperOverlimits, false},
}

// views joins the meta's items with the kernel's counters, for the families
// read from the kernel. Items removed since the meta was written (no
// counters) are left out; items applied a moment ago wait for the meta file
// (their _total counters come from the checkpoint, which has them).
func views(s *snapshot) []itemView {
	var out []itemView
	add := func(it *state.Item) {
		in, okIn := s.objs.Counters[layout.Counter(it.ID, layout.In)]
		outC, okOut := s.objs.Counters[layout.Counter(it.ID, layout.Out)]
		if !okIn || !okOut {
			return
		}
		port := it.Ports
		if it.ID == layout.HostID {
			port = config.HostPort
		}
		out = append(out, itemView{Item: it, port: port, in: in, out: outC,
			pin: in.Sub(it.BaseIn).Bytes, pout: outC.Sub(it.BaseOut).Bytes, now: s.now})
	}
	if s.meta != nil {
		for i := range s.meta.Items {
			add(&s.meta.Items[i])
		}
		if s.meta.Host != nil {
			add(s.meta.Host)
		}
	}
	return out
}

// checkpointed is the durable checkpoint's items as views for the
// checkpointed families: every item it holds, whatever the kernel has now
// (a table a power loss took is served as the checkpoint restores it).
func checkpointed(c *state.Counters) []itemView {
	if c == nil {
		return nil
	}
	out := make([]itemView, 0, len(c.Items)+1)
	for _, it := range c.Items {
		out = append(out, itemView{port: it.Ports, in: it.In, out: it.Out})
	}
	if c.Host != nil {
		out = append(out, itemView{port: config.HostPort, in: c.Host.In, out: c.Host.Out})
	}
	return out
}

// writeItems writes every per-item family in the text exposition format.
func writeItems(bw *bufio.Writer, views, durable []itemView) {
	w := &seriesWriter{w: bw}
	for _, f := range families {
		w.name = namespace + "_" + f.name
		w.header(f.help, f.typ)
		v := views
		if f.checkpointed {
			v = durable
		}
		for i := range v {
			f.series(w, &v[i])
		}
	}
}

// seriesWriter appends series lines; buf is reused for every line.
type seriesWriter struct {
	w     *bufio.Writer
	name  string
	buf   []byte
	first bool
}

func (w *seriesWriter) header(help, typ string) {
	w.w.WriteString("# HELP " + w.name + " " + help + "\n# TYPE " + w.name + " " + typ + "\n")
}

func (w *seriesWriter) start() {
	w.buf = append(w.buf[:0], w.name...)
	w.buf = append(w.buf, '{')
	w.first = true
}

func (w *seriesWriter) label(name, value string) {
	if !w.first {
		w.buf = append(w.buf, ',')
	}
	w.first = false
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, '=', '"')
	for i := 0; i < len(value); i++ {
		switch c := value[i]; c {
		case '\\':
			w.buf = append(w.buf, '\\', '\\')
		case '"':
			w.buf = append(w.buf, '\\', '"')
		case '\n':
			w.buf = append(w.buf, '\\', 'n')
		default:
			w.buf = append(w.buf, c)
		}
	}
	w.buf = append(w.buf, '"')
}

func (w *seriesWriter) end() {
	w.buf = append(w.buf, '\n')
	w.w.Write(w.buf)
}

func (w *seriesWriter) uint(v uint64) {
	w.buf = append(w.buf, '}', ' ')
	w.buf = strconv.AppendUint(w.buf, v, 10)
	w.end()
}

func (w *seriesWriter) float(v float64) {
	w.buf = append(w.buf, '}', ' ')
	w.buf = strconv.AppendFloat(w.buf, v, 'g', -1, 64)
	w.end()
}

func (w *seriesWriter) time(t time.Time) { w.float(ts(t)) }

func (w *seriesWriter) port(port string) {
	w.start()
	w.label("port", port)
}

func (w *seriesWriter) dir(port, dir string, v uint64) {
	w.start()
	w.label("direction", dir)
	w.label("port", port)
	w.uint(v)
}

func (w *seriesWriter) dirFloat(port, dir string, v float64) {
	w.start()
	w.label("direction", dir)
	w.label("port", port)
	w.float(v)
}

func (w *seriesWriter) reason(port, reason string, blocked bool) {
	w.start()
	w.label("port", port)
	w.label("reason", reason)
	if blocked {
		w.uint(1)
	} else {
		w.uint(0)
	}
}

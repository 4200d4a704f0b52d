package exporter

import (
	"bufio"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// Handler serves /metrics: the registry's process-level metrics (build info,
// Go runtime, process), the host-level metrics of this scrape, and the
// per-item families. maxInFlight bounds concurrent scrapes (0: no bound);
// more get 503 at once, so a crowd of scrapers cannot pile up dumps.
func (x *Exporter) Handler(static prometheus.Gatherer, maxInFlight int, timeout time.Duration) http.Handler {
	var sem chan struct{}
	if maxInFlight > 0 {
		sem = make(chan struct{}, maxInFlight)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sem != nil {
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			default:
				http.Error(w, "too many concurrent scrapes", http.StatusServiceUnavailable)
				return
			}
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		w.Header().Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
		var dst io.Writer = w
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			// BestSpeed: 10,000 items are ~8 MB of text; default level
			// compression would triple the scrape time for a few percent.
			w.Header().Set("Content-Encoding", "gzip")
			gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
			defer func() { _ = gz.Close() }() // a failed write: the scraper sees a cut response
			dst = gz
		}
		bw := bufio.NewWriterSize(dst, 64<<10)
		defer func() { _ = bw.Flush() }()
		if err := x.Write(ctx, bw, static); err != nil {
			x.log.Error("scrape failed", "err", err)
		}
	})
}

// Write reads the kernel and the state once and writes every metric.
func (x *Exporter) Write(ctx context.Context, bw *bufio.Writer, static prometheus.Gatherer) error {
	s := x.read()
	var v []itemView
	if s.objs != nil {
		v = views(s)
		attachShaper(v, s.tc)
	}
	perScrape := prometheus.NewRegistry()
	if err := perScrape.Register(hostCollector{s}); err != nil {
		return err
	}
	gs := prometheus.Gatherers{perScrape}
	if static != nil {
		gs = append(gs, static)
	}
	// The per-item families first: the host collector's scrape duration
	// then covers them too.
	writeItems(bw, v, checkpointed(s.durable))
	mfs, err := gs.Gather()
	if err != nil {
		return err
	}
	enc := expfmt.NewEncoder(bw, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := enc.Encode(mf); err != nil {
			return err
		}
	}
	return nil
}

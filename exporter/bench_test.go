package exporter

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"port-traffic-dog/internal/testnet"
)

// BenchmarkScrape measures one full scrape (kernel dump, state, encoding) of
// an exporter in front of an enforcer with 10,000 items, quotas on half.
func BenchmarkScrape(b *testing.B) {
	ns := testnet.NewNS(b, "bench")
	var cfg strings.Builder
	cfg.WriteString("ports:\n")
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&cfg, "  - ports: \"%d\"\n    remark: customer-%d\n", 1024+i, i)
		if i%2 == 0 {
			cfg.WriteString("    quota: 1TB\n")
		}
	}
	_, x := startEnforcer(b, ns.Fd(), cfg.String(), nil)
	h := x.Handler(prometheus.NewRegistry(), 0, time.Minute)
	for _, gzip := range []bool{false, true} {
		b.Run(fmt.Sprintf("gzip=%v", gzip), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
				if gzip {
					req.Header.Set("Accept-Encoding", "gzip")
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatal(rec.Code)
				}
				b.ReportMetric(float64(rec.Body.Len()), "bytes")
			}
		})
	}
}

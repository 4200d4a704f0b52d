package exporter

import "net/http"

// ReadOnly lets only GET and HEAD through: the exporter's HTTP port serves
// metrics and a landing page and nothing else. Every other method is
// answered 405 before any handler runs, so no request can change anything,
// whatever handlers are added to the mux later.
func ReadOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed: this exporter is read-only", http.StatusMethodNotAllowed)
			return
		}
		next.ServeHTTP(w, r)
	})
}

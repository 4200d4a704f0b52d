package dashboards_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"port-traffic-dog/dashboards"
	"port-traffic-dog/internal/testprom"
)

func contract(t *testing.T) map[string][]string {
	t.Helper()
	c, err := testprom.MetricsContract("../docs/METRICS.md")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func scan(expr string) (map[string][]string, []string, error) { return testprom.PromQLRefs(expr) }

func load(t *testing.T) map[string]dashboards.Dashboard {
	t.Helper()
	ds, err := dashboards.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 {
		t.Fatalf("%d dashboards, want overview and item", len(ds))
	}
	return ds
}

func TestStructure(t *testing.T) {
	uids := map[string]string{}
	builtins := map[string]bool{"__rate_interval": true, "__interval": true, "__range": true}
	all := load(t)
	for file, d := range all {
		t.Run(file, func(t *testing.T) {
			if d.UID == "" || len(d.UID) > 40 || d.Title == "" || d.SchemaVersion < 36 {
				t.Errorf("uid %q title %q schemaVersion %d", d.UID, d.Title, d.SchemaVersion)
			}
			if other, dup := uids[d.UID]; dup {
				t.Errorf("uid %s also used by %s", d.UID, other)
			}
			uids[d.UID] = file

			vars := map[string]dashboards.Variable{}
			for _, v := range d.Templating.List {
				vars[v.Name] = v
			}
			if v := vars["datasource"]; v.Type != "datasource" || v.QueryString() != "prometheus" {
				t.Errorf("datasource variable %+v", v)
			}
			if v := vars["instance"]; v.Type != "query" || !v.Multi || v.Datasource == nil || v.Datasource.UID != "${datasource}" {
				t.Errorf("instance variable %+v: want a multi-value query on ${datasource}", v)
			}
			if v := vars["port"]; v.Type != "query" || v.Datasource == nil || v.Datasource.UID != "${datasource}" {
				t.Errorf("port variable %+v", v)
			}
			for _, v := range d.Templating.List {
				for _, n := range dashboards.VariableNames(v.QueryString()) {
					if _, ok := vars[n]; !ok || n == v.Name {
						t.Errorf("variable %s uses undefined or itself: $%s", v.Name, n)
					}
				}
			}

			ids := map[int]bool{}
			type rect struct{ x0, y0, x1, y1 int }
			var rects []rect
			rateInterval := false
			for _, p := range d.AllPanels() {
				if ids[p.ID] || p.ID == 0 {
					t.Errorf("panel %q: id %d missing or not unique", p.Title, p.ID)
				}
				ids[p.ID] = true
				g := p.GridPos
				if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
					t.Errorf("panel %q: gridPos %+v off the 24-column grid", p.Title, g)
				}
				r := rect{g.X, g.Y, g.X + g.W, g.Y + g.H}
				for _, o := range rects {
					if r.x0 < o.x1 && o.x0 < r.x1 && r.y0 < o.y1 && o.y0 < r.y1 {
						t.Errorf("panel %q overlaps another at %+v", p.Title, g)
					}
				}
				rects = append(rects, r)
				if p.Type == "row" {
					continue
				}
				if p.Title == "" || p.Datasource == nil || p.Datasource.UID != "${datasource}" || p.Datasource.Type != "prometheus" {
					t.Errorf("panel %q: datasource %+v, want prometheus ${datasource}", p.Title, p.Datasource)
				}
				if len(p.Targets) == 0 {
					t.Errorf("panel %q has no query", p.Title)
				}
				refs := map[string]bool{}
				for _, tg := range p.Targets {
					if tg.Datasource == nil || tg.Datasource.UID != "${datasource}" {
						t.Errorf("panel %q target %s: datasource %+v", p.Title, tg.RefID, tg.Datasource)
					}
					if tg.Expr == "" || tg.RefID == "" || refs[tg.RefID] {
						t.Errorf("panel %q: target %q without expr or with a duplicate refId", p.Title, tg.RefID)
					}
					refs[tg.RefID] = true
					for _, n := range dashboards.VariableNames(tg.Expr) {
						if _, ok := vars[n]; !ok && !builtins[n] {
							t.Errorf("panel %q: $%s is not defined", p.Title, n)
						}
					}
					if strings.Contains(tg.Expr, "rate(") && !strings.Contains(tg.Expr, "[$__rate_interval]") {
						t.Errorf("panel %q: rate without $__rate_interval: %s", p.Title, tg.Expr)
					}
					rateInterval = rateInterval || strings.Contains(tg.Expr, "$__rate_interval")
				}
				// Links may use data-link fields as well.
				var links []dashboards.Link
				links = append(links, p.Links...)
				for _, o := range p.FieldConfig.Overrides {
					for _, pr := range o.Properties {
						if pr.ID == "links" {
							var ls []dashboards.Link
							if err := json.Unmarshal(pr.Value, &ls); err != nil {
								t.Errorf("panel %q: links: %v", p.Title, err)
							}
							links = append(links, ls...)
						}
					}
				}
				checkLinks(t, p.Title, links, vars, all)
			}
			checkLinks(t, "dashboard", d.Links, vars, all)
			if !rateInterval {
				t.Error("no panel uses $__rate_interval")
			}
		})
	}
}

var linkTargetRe = regexp.MustCompile(`^/d/([a-z0-9-]+)/`)

// checkLinks: links point at a bundled dashboard and use only defined
// variables or Grafana's link variables.
func checkLinks(t *testing.T, where string, links []dashboards.Link, vars map[string]dashboards.Variable, all map[string]dashboards.Dashboard) {
	t.Helper()
	for _, l := range links {
		m := linkTargetRe.FindStringSubmatch(l.URL)
		found := false
		for _, d := range all {
			found = found || m != nil && d.UID == m[1]
		}
		if !found {
			t.Errorf("%s: link %q points at no bundled dashboard", where, l.URL)
		}
		for _, n := range dashboards.VariableNames(l.URL) {
			if _, ok := vars[n]; !ok && n != "__url_time_range" && !strings.HasPrefix(n, "__data.fields.") {
				t.Errorf("%s: link uses undefined $%s", where, n)
			}
		}
	}
}

// TestMetricsAreInTheContract: every metric a query selects is one the
// exporter serves, with labels it has; every grouping label exists.
func TestMetricsAreInTheContract(t *testing.T) {
	c := contract(t)
	known := map[string]bool{"instance": true, "job": true}
	for _, ls := range c {
		for _, l := range ls {
			known[l] = true
		}
	}
	qs, err := dashboards.Queries(dashboards.Vars{})
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, q := range qs {
		metrics, grouping, err := scan(q.Expr)
		if err != nil {
			t.Errorf("%s / %s: %v", q.File, q.Panel, err)
			continue
		}
		if len(metrics) == 0 {
			t.Errorf("%s / %s: no metric in %s", q.File, q.Panel, q.Expr)
		}
		for m, labels := range metrics {
			allowed, ok := c[m]
			if !ok {
				t.Errorf("%s / %s: %s is not in docs/METRICS.md", q.File, q.Panel, m)
				continue
			}
			used[m] = true
			for _, l := range labels {
				if l != "instance" && l != "job" && !slices.Contains(allowed, l) {
					t.Errorf("%s / %s: %s has no label %q (contract: %v)", q.File, q.Panel, m, l, allowed)
				}
			}
		}
		for _, l := range grouping {
			if !known[l] {
				t.Errorf("%s / %s: grouping label %q exists on no metric", q.File, q.Panel, l)
			}
		}
	}
	// Not a requirement per metric, but the dashboards should show the
	// per-item contract; list what they leave out so it is a choice.
	var unused []string
	for m := range c {
		if !used[m] {
			unused = append(unused, m)
		}
	}
	sort.Strings(unused)
	if want := []string{"port_traffic_dog_exporter_build_info"}; !slices.Equal(unused, want) {
		t.Errorf("metrics no dashboard shows: %v, want only %v", unused, want)
	}
}

func TestExpand(t *testing.T) {
	got, err := dashboards.Expand(`rate(x{instance=~"$instance",port=~"${port}"}[$__rate_interval]) [[instance]] ${port:regex}`, dashboards.Vars{Instance: "a|b", RateInterval: "4s"})
	if err != nil || got != `rate(x{instance=~"a|b",port=~".+"}[4s]) a|b .+` {
		t.Errorf("%q %v", got, err)
	}
	if _, err := dashboards.Expand(`x{a="$typo"}`, dashboards.Vars{}); err == nil {
		t.Error("an unknown variable must be an error")
	}
}

// fakeContractExporter serves every metric of the contract with its labels
// for two items and the whole host, counters growing with the clock, so
// that each dashboard query has something to find.
func fakeContractExporter(t *testing.T, c map[string][]string) *httptest.Server {
	values := map[string][]string{
		"port": {"443", "host"}, "direction": {"in", "out"}, "reason": {"quota", "expired"},
		"remark": nil, "protocols": nil, "billing": nil, "version": {"test"}, "revision": {"abc"}, "goversion": {"go1.26"},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := float64(time.Now().UnixMilli()) / 1000
		for name, labels := range c {
			sets := []string{""}
			for _, l := range labels {
				if l == "remark" || l == "protocols" || l == "billing" {
					continue // derived from the port below
				}
				var next []string
				for _, s := range sets {
					for _, v := range values[l] {
						next = append(next, s+fmt.Sprintf(`,%s=%q`, l, v))
					}
				}
				sets = next
			}
			for _, s := range sets {
				if slices.Contains(labels, "remark") {
					s += `,remark="web <&>",protocols="tcp+udp",billing="sum"`
				}
				v := 1.0
				switch {
				case strings.HasSuffix(name, "_total"):
					v = now * 1000
				case strings.HasSuffix(name, "_timestamp_seconds"):
					v = now + 86400
				case strings.HasSuffix(name, "_bytes"):
					v = 80e9
				case name == "port_traffic_dog_rate_limit_bytes_per_second":
					v = 12.5e6
				}
				fmt.Fprintf(w, "%s{%s} %g\n", name, strings.TrimPrefix(s, ","), v)
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestQueriesEvaluate runs every dashboard query, variables expanded as
// Grafana would with "All" selected, in Debian's Prometheus 2.42 against
// the fake exporter: each must parse and return at least one series.
// (The full end-to-end test repeats this against the real exporter.)
func TestQueriesEvaluate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	exp := fakeContractExporter(t, contract(t))
	prom := testprom.StartPrometheus(t, testprom.OneTarget(strings.TrimPrefix(exp.URL, "http://")))
	if err := prom.WaitForTargetsUp(ctx, 1); err != nil {
		t.Fatal(err)
	}
	// rate() and increase() need two samples inside $__rate_interval.
	for {
		v, err := prom.Query(ctx, `count_over_time(port_traffic_dog_up[4s])`)
		if err == nil && len(v) == 1 && v[0].Value >= 3 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("waiting for three scrapes: %v %v", v, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	qs, err := dashboards.Queries(dashboards.Vars{RateInterval: "4s", Interval: "1s", Range: "1m"})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		v, err := prom.Query(ctx, q.Expr)
		if err != nil {
			t.Errorf("%s / %s %s: %v", q.File, q.Panel, q.RefID, err)
			continue
		}
		if len(v) == 0 {
			t.Errorf("%s / %s %s: no series for %s", q.File, q.Panel, q.RefID, q.Expr)
		}
	}
}

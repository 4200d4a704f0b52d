// Package dashboards bundles the Grafana dashboards (JSON, Grafana 10+, the
// Prometheus data source chosen through the ${datasource} variable) and
// exposes their queries, with the dashboard variables expanded, so that
// tests can evaluate every panel against a real Prometheus.
package dashboards

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"
)

// FS holds the dashboards, one JSON file each.
//
//go:embed *.json
var FS embed.FS

// Dashboard is the part of Grafana's dashboard model the tests look at.
type Dashboard struct {
	UID           string    `json:"uid"`
	Title         string    `json:"title"`
	SchemaVersion int       `json:"schemaVersion"`
	Panels        []Panel   `json:"panels"`
	Links         []Link    `json:"links"`
	Templating    Variables `json:"templating"`
}

// Panel is a dashboard panel; rows carry their collapsed panels in Panels.
type Panel struct {
	ID          int         `json:"id"`
	Type        string      `json:"type"`
	Title       string      `json:"title"`
	Datasource  *Datasource `json:"datasource"`
	Targets     []Target    `json:"targets"`
	Panels      []Panel     `json:"panels"`
	GridPos     GridPos     `json:"gridPos"`
	Links       []Link      `json:"links"`
	FieldConfig struct {
		Overrides []struct {
			Properties []struct {
				ID    string          `json:"id"`
				Value json.RawMessage `json:"value"`
			} `json:"properties"`
		} `json:"overrides"`
	} `json:"fieldConfig"`
}

// GridPos places a panel on Grafana's 24-column grid.
type GridPos struct{ X, Y, W, H int }

// Datasource references a data source by type and uid ("${datasource}").
type Datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// Target is one query of a panel.
type Target struct {
	RefID      string      `json:"refId"`
	Expr       string      `json:"expr"`
	Instant    bool        `json:"instant"`
	Datasource *Datasource `json:"datasource"`
}

// Link is a dashboard or data link.
type Link struct {
	Title string `json:"title"`
	URL   string `json:"url"`
}

// Variables is the dashboard's templating section.
type Variables struct {
	List []Variable `json:"list"`
}

// Variable is a template variable. Query is a string or, as Grafana 10
// saves it, an object with the query in "query".
type Variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Datasource *Datasource     `json:"datasource"`
	Multi      bool            `json:"multi"`
	IncludeAll bool            `json:"includeAll"`
	AllValue   string          `json:"allValue"`
}

// QueryString returns the variable's query text.
func (v Variable) QueryString() string {
	var s string
	if json.Unmarshal(v.Query, &s) == nil {
		return s
	}
	var o struct {
		Query string `json:"query"`
	}
	_ = json.Unmarshal(v.Query, &o)
	return o.Query
}

// Load parses every bundled dashboard, keyed by file name.
func Load() (map[string]Dashboard, error) {
	names, err := fs.Glob(FS, "*.json")
	if err != nil {
		return nil, err
	}
	out := map[string]Dashboard{}
	for _, n := range names {
		b, err := FS.ReadFile(n)
		if err != nil {
			return nil, err
		}
		var d Dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		out[n] = d
	}
	return out, nil
}

// AllPanels flattens rows: the panels of a dashboard including those
// nested in collapsed rows, rows themselves included.
func (d Dashboard) AllPanels() []Panel {
	var out []Panel
	for _, p := range d.Panels {
		out = append(out, p)
		out = append(out, p.Panels...)
	}
	return out
}

// Vars are the values substituted for the dashboard variables. Empty
// fields get defaults that select everything: Instance and Port ".+" (the
// dashboards' "All" value), RateInterval and Interval "1m", Range "1h".
type Vars struct {
	Instance     string // regex, as Grafana formats a multi-value variable
	Port         string
	RateInterval string // $__rate_interval: at least four scrape intervals
	Interval     string
	Range        string
}

func (v Vars) withDefaults() map[string]string {
	def := func(s, d string) string {
		if s == "" {
			return d
		}
		return s
	}
	return map[string]string{
		"instance":        def(v.Instance, ".+"),
		"port":            def(v.Port, ".+"),
		"__rate_interval": def(v.RateInterval, "1m"),
		"__interval":      def(v.Interval, "1m"),
		"__range":         def(v.Range, "1h"),
		"datasource":      "prometheus",
	}
}

// varRe matches Grafana's variable syntaxes: $name, ${name}, ${name:format}
// and [[name]].
var varRe = regexp.MustCompile(`\$\{([A-Za-z0-9_.]+)(?::[A-Za-z]+)?\}|\$([A-Za-z0-9_]+)|\[\[([A-Za-z0-9_.]+)\]\]`)

// VariableNames returns the names of the variables s refers to.
func VariableNames(s string) []string {
	var out []string
	for _, m := range varRe.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1]+m[2]+m[3])
	}
	return out
}

// Expand substitutes the variables in a query; it fails on a variable
// it does not know, so a typo in a dashboard cannot pass unnoticed.
func Expand(expr string, v Vars) (string, error) {
	vals := v.withDefaults()
	var unknown []string
	out := varRe.ReplaceAllStringFunc(expr, func(m string) string {
		name := VariableNames(m)[0]
		val, ok := vals[name]
		if !ok {
			unknown = append(unknown, name)
			return m
		}
		return val
	})
	if len(unknown) > 0 {
		return "", fmt.Errorf("unknown variables %v in %q", unknown, expr)
	}
	return out, nil
}

// Query is one PromQL query of a dashboard, variables expanded.
type Query struct {
	File    string // dashboard file name
	UID     string // dashboard uid
	Panel   string // panel title, or "variable <name>"
	RefID   string
	Raw     string // as written in the dashboard
	Expr    string // expanded
	Instant bool
}

// labelValuesRe matches a Prometheus variable query label_values(selector, label).
var labelValuesRe = regexp.MustCompile(`^\s*label_values\(\s*(.+?)\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$`)

// Queries returns every query of every bundled dashboard: each panel
// target, and each query variable turned into the PromQL that yields its
// values (label_values(sel, l) becomes count by (l) (sel)). Sorted by file,
// panel and refId.
func Queries(v Vars) ([]Query, error) {
	ds, err := Load()
	if err != nil {
		return nil, err
	}
	var out []Query
	for file, d := range ds {
		add := func(panel, ref, raw string, instant bool) error {
			e, err := Expand(raw, v)
			if err != nil {
				return fmt.Errorf("%s, %s %s: %w", file, panel, ref, err)
			}
			out = append(out, Query{File: file, UID: d.UID, Panel: panel, RefID: ref, Raw: raw, Expr: e, Instant: instant})
			return nil
		}
		for _, vr := range d.Templating.List {
			if vr.Type != "query" {
				continue
			}
			m := labelValuesRe.FindStringSubmatch(vr.QueryString())
			if m == nil {
				return nil, fmt.Errorf("%s: variable %s: query %q is not label_values(selector, label)", file, vr.Name, vr.QueryString())
			}
			if err := add("variable "+vr.Name, "", "count by ("+m[2]+") ("+m[1]+")", true); err != nil {
				return nil, err
			}
		}
		for _, p := range d.AllPanels() {
			for _, t := range p.Targets {
				if err := add(p.Title, t.RefID, t.Expr, t.Instant); err != nil {
					return nil, err
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return strings.Join([]string{a.File, a.Panel, a.RefID}, "\x00") < strings.Join([]string{b.File, b.Panel, b.RefID}, "\x00")
	})
	return out, nil
}

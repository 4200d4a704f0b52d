package testprom

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

var contractRow = regexp.MustCompile("(?m)^\\|\\s*`(port_traffic_dog_[a-z0-9_]+)`\\s*\\|\\s*(counter|gauge)[^|]*\\|([^|]*)\\|")

// MetricsContract parses the table of docs/METRICS.md into metric name →
// label names. Tests check the rules and dashboards against the document
// itself, so a renamed metric fails them the day the contract changes.
func MetricsContract(path string) (map[string][]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("the metrics contract: %w", err)
	}
	out := map[string][]string{}
	for _, m := range contractRow.FindAllStringSubmatch(string(b), -1) {
		var labels []string
		for _, l := range strings.Split(m[3], ",") {
			if l = strings.TrimSpace(l); l != "" {
				labels = append(labels, l)
			}
		}
		out[m[1]] = labels
	}
	if len(out) < 15 {
		return nil, fmt.Errorf("parsed only %d metrics from %s; has the table changed shape?", len(out), path)
	}
	return out, nil
}

var (
	stringLit  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	matcherRe  = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)`)
	groupingKw = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}
	operatorKw = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true, "inf": true, "nan": true, "start": true, "end": true}
)

// PromQLRefs is a small PromQL lexer, enough to find which metrics an
// expression selects (with the label names its matchers use, per metric)
// and which label names appear in by/without/on/ignoring/group_left/
// group_right lists. An identifier followed by "(" or by "by"/"without" is
// a function or an aggregation. A selector without a metric name is an
// error: it would hide which metrics the expression needs.
//
// Not Prometheus' promql/parser, tried and measured: the module
// github.com/prometheus/prometheus (v0.316.0) brings 16 of its packages
// (storage, tsdb/chunks …) into the test build, raises go.mod's go line to
// 1.26.7, upgrades five indirect modules, and makes go mod tidy fail on an
// ambiguous import of cloud.google.com/go/compute/metadata.
func PromQLRefs(expr string) (metrics map[string][]string, grouping []string, err error) {
	metrics = map[string][]string{}
	isIdent := func(c byte, first bool) bool {
		return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || !first && c >= '0' && c <= '9'
	}
	skipSpace := func(i int) int {
		for i < len(expr) && strings.ContainsRune(" \t\n\r", rune(expr[i])) {
			i++
		}
		return i
	}
	nextWord := func(i int) string {
		j := i
		for j < len(expr) && (expr[j] == '_' || expr[j] >= 'a' && expr[j] <= 'z') {
			j++
		}
		return expr[i:j]
	}
	skipString := func(i int) (int, error) {
		q := expr[i]
		for i++; i < len(expr); i++ {
			if expr[i] == '\\' && q != '`' {
				i++
				continue
			}
			if expr[i] == q {
				return i + 1, nil
			}
		}
		return 0, fmt.Errorf("unterminated string in %q", expr)
	}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			if i, err = skipString(i); err != nil {
				return nil, nil, err
			}
		case c == '[': // range or subquery
			end := strings.IndexByte(expr[i:], ']')
			if end < 0 {
				return nil, nil, fmt.Errorf("unclosed [ in %q", expr)
			}
			i += end + 1
		case c == '{':
			return nil, nil, fmt.Errorf("selector without a metric name in %q", expr)
		case c >= '0' && c <= '9' || c == '.':
			for i < len(expr) && (isIdent(expr[i], false) || expr[i] == '.') {
				i++
			}
		case isIdent(c, true):
			start := i
			for i < len(expr) && isIdent(expr[i], false) {
				i++
			}
			word := expr[start:i]
			j := skipSpace(i)
			switch {
			case groupingKw[word]:
				if j >= len(expr) || expr[j] != '(' {
					if word == "group_left" || word == "group_right" {
						continue
					}
					return nil, nil, fmt.Errorf("%s without a label list in %q", word, expr)
				}
				end := strings.IndexByte(expr[j:], ')')
				if end < 0 {
					return nil, nil, fmt.Errorf("unclosed label list in %q", expr)
				}
				for _, l := range strings.Split(expr[j+1:j+end], ",") {
					if l = strings.TrimSpace(l); l != "" {
						grouping = append(grouping, l)
					}
				}
				i = j + end + 1
			case operatorKw[strings.ToLower(word)]:
			case j < len(expr) && expr[j] == '(' || nextWord(j) == "by" || nextWord(j) == "without":
			default:
				var labels []string
				if j < len(expr) && expr[j] == '{' {
					end := j
					for end < len(expr) && expr[end] != '}' {
						if q := expr[end]; q == '"' || q == '\'' || q == '`' {
							if end, err = skipString(end); err != nil {
								return nil, nil, err
							}
							continue
						}
						end++
					}
					if end >= len(expr) {
						return nil, nil, fmt.Errorf("unclosed { in %q", expr)
					}
					for _, m := range matcherRe.FindAllStringSubmatch(stringLit.ReplaceAllString(expr[j:end], `""`), -1) {
						labels = append(labels, m[1])
					}
					i = end + 1
				}
				metrics[word] = append(metrics[word], labels...)
			}
		default:
			i++
		}
	}
	return metrics, grouping, nil
}

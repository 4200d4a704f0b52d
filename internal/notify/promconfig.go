package notify

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"port-traffic-dog/internal/configedit"
)

// The Prometheus config is edited as text: each thing dog adds is a block
// between two comment lines, so every other byte of the operator's file
// stays as it was, and the next run finds and replaces exactly its own
// lines. Prometheus ignores the comments. A run strips the blocks and adds
// them again to the stripped text, so a second run with the same settings
// writes the same bytes.
const (
	markBegin = "# BEGIN port-traffic-dog"
	markEnd   = "# END port-traffic-dog"
)

// JobName is the scrape job the rules select on (alerts/rules.yml).
const JobName = "port-traffic-dog"

// PromSettings is what dog adds to prometheus.yml.
type PromSettings struct {
	ServerName       string // the target's instance label
	ExporterAddr     string // host:port of dog-exporter
	AlertmanagerAddr string // host:port of Alertmanager
	RulesFile        string // absolute path of the rules
}

// promManaged is what the managed blocks of a prometheus.yml say.
type promManaged struct {
	ServerName, ExporterAddr, AlertmanagerAddr, RulesFile string
}

// stripManaged removes dog's blocks and returns the operator's text and
// what the blocks held.
func stripManaged(src string) (string, promManaged, error) {
	var got promManaged
	lines := strings.SplitAfter(src, "\n")
	var out strings.Builder
	in, kind, beginLine := false, "", 0
	for i, l := range lines {
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(t, markBegin):
			if in {
				return "", got, fmt.Errorf("line %d: %q inside the block opened on line %d", i+1, markBegin, beginLine)
			}
			in, beginLine = true, i+1
			kind, _, _ = strings.Cut(strings.TrimPrefix(strings.TrimPrefix(t, markBegin), ":"), " (")
			kind = strings.TrimSpace(kind)
		case strings.HasPrefix(t, markEnd):
			if !in {
				return "", got, fmt.Errorf("line %d: %q without %q", i+1, markEnd, markBegin)
			}
			in = false
		case in:
			v, ok := managedValue(t)
			switch {
			case !ok:
			case kind == "scrape job" && strings.HasPrefix(t, "- targets:"):
				got.ExporterAddr = v
			case kind == "scrape job" && strings.HasPrefix(t, "instance:"):
				got.ServerName = v
			case kind == "rule file":
				got.RulesFile = v
			case kind == "alertmanager":
				got.AlertmanagerAddr = v
			}
		default:
			out.WriteString(l)
		}
	}
	if in {
		return "", got, fmt.Errorf("line %d: %q is never closed by %q", beginLine, markBegin, markEnd)
	}
	return out.String(), got, nil
}

var reQuoted = regexp.MustCompile(`'((?:[^']|'')*)'`)

// managedValue is the single-quoted value on a line dog wrote.
func managedValue(line string) (string, bool) {
	m := reQuoted.FindStringSubmatch(line)
	if m == nil {
		return "", false
	}
	return strings.ReplaceAll(m[1], "''", "'"), true
}

func yamlQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// insertion is a block of lines to put before line index at (0-based, into
// the stripped text's lines).
type insertion struct {
	at   int
	text string
}

// editPrometheus returns src (dog's old blocks removed) with the scrape job,
// the rule file and the Alertmanager target added.
func editPrometheus(src string, s PromSettings) (string, error) {
	// The edit places its blocks by the parser's line numbers: a line
	// break only YAML sees would put them elsewhere than meant.
	for i, l := range strings.Split(src, "\n") {
		if err := configedit.CheckLine(i+1, strings.TrimSuffix(l, "\r")); err != nil {
			return "", err
		}
	}
	base, _, err := stripManaged(src)
	if err != nil {
		return "", err
	}
	if base != "" && !strings.HasSuffix(base, "\n") {
		base += "\n"
	}
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(base), &root); err != nil {
		return "", fmt.Errorf("not valid YAML: %w", err)
	}
	var top *yaml.Node
	switch {
	case root.Kind == 0: // empty file
	case root.Kind == yaml.DocumentNode && len(root.Content) == 1 && root.Content[0].Kind == yaml.MappingNode:
		top = root.Content[0]
	default:
		return "", errors.New("the top level is not a mapping")
	}
	if strings.Contains(base, "\n---") || strings.HasPrefix(base, "---") {
		return "", errors.New("several YAML documents (---): edit it by hand")
	}
	lines := strings.SplitAfter(base, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	e := &promEditor{lines: lines}

	job := "- job_name: " + JobName + "\n" +
		"  static_configs:\n" +
		"    - targets: [" + yamlQuote(s.ExporterAddr) + "]\n" +
		"      labels:\n" +
		"        instance: " + yamlQuote(s.ServerName) + "\n"
	if n := findJob(top, JobName); n != nil {
		return "", fmt.Errorf("line %d: a scrape job %q that dog did not write is there already: remove it (dog adds its own)", n.Line, JobName)
	}
	if err := e.addToList(top, "scrape_configs", "scrape job", job, len(lines)); err != nil {
		return "", err
	}
	if !listHas(top, "rule_files", s.RulesFile) {
		if err := e.addToList(top, "rule_files", "rule file", "- "+yamlQuote(s.RulesFile)+"\n", len(lines)); err != nil {
			return "", err
		}
	}
	if !hasAlertmanager(top, s.AlertmanagerAddr) {
		am := "- static_configs:\n    - targets: [" + yamlQuote(s.AlertmanagerAddr) + "]\n"
		alerting, alertingEnd := lookup(top, "alerting", len(lines))
		switch {
		case alerting == nil:
			e.add(len(lines), 0, "alertmanager", "alerting:\n  alertmanagers:\n"+indentBlock(am, "    "))
		case alerting.value.Kind == yaml.ScalarNode && alerting.value.Tag == "!!null":
			if err := e.afterKey(alerting, "alertmanager", "alertmanagers:\n"+indentBlock(am, "  ")); err != nil {
				return "", err
			}
		case alerting.value.Kind == yaml.MappingNode:
			if err := e.addToList(alerting.value, "alertmanagers", "alertmanager", am, alertingEnd); err != nil {
				return "", err
			}
		default:
			return "", fmt.Errorf("line %d: alerting is not a mapping", alerting.key.Line)
		}
	}
	return e.result(), nil
}

type promEditor struct {
	lines []string
	ins   []insertion
}

// add queues block (unindented) at line index at, indented by col spaces,
// between the markers.
func (e *promEditor) add(at, col int, kind, block string) {
	pad := strings.Repeat(" ", col)
	e.ins = append(e.ins, insertion{at, pad + markBegin + ": " + kind + " (written by dog notify telegram; edits here are replaced)\n" +
		indentBlock(block, pad) + pad + markEnd + "\n"})
}

func (e *promEditor) result() string {
	sort.SliceStable(e.ins, func(i, j int) bool { return e.ins[i].at < e.ins[j].at })
	var b strings.Builder
	k := 0
	for i := 0; i <= len(e.lines); i++ {
		for k < len(e.ins) && e.ins[k].at == i {
			b.WriteString(e.ins[k].text)
			k++
		}
		if i < len(e.lines) {
			b.WriteString(e.lines[i])
		}
	}
	return b.String()
}

// afterKey queues block right after the line of key kv, whose value is
// empty (comments may follow on later lines), one level deeper.
func (e *promEditor) afterKey(kv *keyValue, kind, block string) error {
	line := e.lines[kv.key.Line-1]
	_, rest, _ := strings.Cut(line[kv.key.Column-1:], ":")
	if r := strings.TrimSpace(rest); r != "" && !strings.HasPrefix(r, "#") {
		return fmt.Errorf("line %d: %s has the value %q; make it a block list or add dog's entries by hand", kv.key.Line, kv.key.Value, r)
	}
	e.add(kv.key.Line, kv.key.Column-1+2, kind, block)
	return nil
}

// addToList queues item as the last element of the block list under key
// in mapping m, whose last line is before line index end; an absent key
// is added with the item at the end of m.
func (e *promEditor) addToList(m *yaml.Node, key, kind, item string, end int) error {
	kv, kvEnd := lookup(m, key, end)
	if kv == nil {
		col := 0
		if m != nil && len(m.Content) > 0 {
			col = m.Content[0].Column - 1
		}
		e.add(e.lastContent(end), col, kind, key+":\n"+indentBlock(item, "  "))
		return nil
	}
	switch v := kv.value; {
	case v.Kind == yaml.ScalarNode && v.Tag == "!!null":
		return e.afterKey(kv, kind, item)
	case v.Kind == yaml.SequenceNode && v.Style&yaml.FlowStyle == 0:
		e.add(e.lastContent(kvEnd), v.Column-1, kind, item)
		return nil
	case v.Kind == yaml.SequenceNode:
		return fmt.Errorf("line %d: %s is a flow list ([...]); write it as a block list (one \"- \" line per entry) and run again", kv.key.Line, key)
	default:
		return fmt.Errorf("line %d: %s is not a list", kv.key.Line, key)
	}
}

// lastContent is the index just after the last line before end that is
// neither blank nor a comment: where an element appended to a list goes.
func (e *promEditor) lastContent(end int) int {
	for i := end; i > 0; i-- {
		t := strings.TrimSpace(e.lines[i-1])
		if t != "" && !strings.HasPrefix(t, "#") {
			return i
		}
	}
	return 0
}

func indentBlock(block, pad string) string {
	ls := strings.SplitAfter(block, "\n")
	for i, l := range ls {
		if l != "" && l != "\n" {
			ls[i] = pad + l
		}
	}
	return strings.Join(ls, "")
}

type keyValue struct{ key, value *yaml.Node }

// lookup finds key in mapping m and the line index where its value ends
// (the next key's line, or end).
func lookup(m *yaml.Node, key string, end int) (*keyValue, int) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, end
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			valueEnd := end
			if i+2 < len(m.Content) {
				valueEnd = m.Content[i+2].Line - 1
			}
			return &keyValue{m.Content[i], m.Content[i+1]}, valueEnd
		}
	}
	return nil, end
}

func findJob(top *yaml.Node, name string) *yaml.Node {
	kv, _ := lookup(top, "scrape_configs", 0)
	if kv == nil || kv.value.Kind != yaml.SequenceNode {
		return nil
	}
	for _, job := range kv.value.Content {
		if j, _ := lookup(job, "job_name", 0); j != nil && j.value.Value == name {
			return j.value
		}
	}
	return nil
}

func listHas(top *yaml.Node, key, v string) bool {
	kv, _ := lookup(top, key, 0)
	if kv == nil || kv.value.Kind != yaml.SequenceNode {
		return false
	}
	for _, n := range kv.value.Content {
		if n.Value == v {
			return true
		}
	}
	return false
}

// hasAlertmanager: a plain static target of alerting.alertmanagers is addr
// already (Debian's sample has localhost:9093), so alerts reach it.
func hasAlertmanager(top *yaml.Node, addr string) bool {
	for _, t := range alertmanagerTargets(top) {
		if sameAddr(t, addr) {
			return true
		}
	}
	return false
}

// alertmanagerTargets are the plain static targets of
// alerting.alertmanagers (a scheme or path prefix makes another endpoint).
func alertmanagerTargets(top *yaml.Node) []string {
	alerting, _ := lookup(top, "alerting", 0)
	if alerting == nil {
		return nil
	}
	ams, _ := lookup(alerting.value, "alertmanagers", 0)
	if ams == nil || ams.value.Kind != yaml.SequenceNode {
		return nil
	}
	var out []string
	for _, am := range ams.value.Content {
		if s, _ := lookup(am, "scheme", 0); s != nil && s.value.Value != "http" {
			continue
		}
		if p, _ := lookup(am, "path_prefix", 0); p != nil && strings.Trim(p.value.Value, "/") != "" {
			continue
		}
		sc, _ := lookup(am, "static_configs", 0)
		if sc == nil || sc.value.Kind != yaml.SequenceNode {
			continue
		}
		for _, c := range sc.value.Content {
			ts, _ := lookup(c, "targets", 0)
			if ts == nil || ts.value.Kind != yaml.SequenceNode {
				continue
			}
			for _, t := range ts.value.Content {
				out = append(out, t.Value)
			}
		}
	}
	return out
}

// operatorTop is the top mapping of a prometheus.yml without dog's blocks
// (nil when there is none or it does not read).
func operatorTop(src string) *yaml.Node {
	base, _, err := stripManaged(src)
	if err != nil {
		return nil
	}
	var root yaml.Node
	if yaml.Unmarshal([]byte(base), &root) != nil || root.Kind != yaml.DocumentNode || len(root.Content) != 1 || root.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	return root.Content[0]
}

func sameAddr(a, b string) bool {
	norm := func(s string) string {
		h, p, err := net.SplitHostPort(s)
		if err != nil {
			return s
		}
		if h == "localhost" || h == "" {
			h = "127.0.0.1"
		}
		return net.JoinHostPort(h, p)
	}
	return norm(a) == norm(b)
}

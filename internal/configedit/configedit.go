// Package configedit changes one item (or one top-level setting) of a
// configuration file's text and leaves every other byte as it was: the
// operator's comments, blank lines, key order and quoting survive `dog add`,
// `dog set` and `dog rm`.
//
// It works on lines located through yaml.v3's node positions and never
// re-marshals the document: re-encoding would reflow comments and quoting
// all over the file. Only the lines of the edited key (or item) change.
// Layouts it cannot edit safely (flow-style files and lists, anchors, merge
// keys in the edited item, line breaks other than \n and \r\n, which YAML
// counts but the editor would not) are refused with a message, never
// mangled, and every result is checked: all the other settings read back
// as they were, and the item count is what the edit says. The result is
// not validated as a config here; callers run config.Parse on it before
// writing.
package configedit

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"port-traffic-dog/internal/portspec"
)

// Field is one item key and its new value. An empty Value removes the key.
type Field struct {
	Key, Value string
}

// ErrNotFound: no item has the ports spec.
var ErrNotFound = errors.New("no such item")

// ErrExists: an item with the ports spec is already there.
var ErrExists = errors.New("item exists")

type doc struct {
	lines []string // without their line break
	// crlf marks the lines that ended in "\r\n" (a file edited on
	// Windows); they keep it, and new lines take the first line's.
	crlf []bool
	root *yaml.Node
}

// yamlBreaks are the characters other than "\n" at which the YAML scanner
// ends a line (CR alone, NEL, LS, PS; CRLF is one break). Node positions
// count them, so a file holding one has lines the editor would miscount:
// it would edit another line than the one it means (a remark spanning
// "lines" could put a setting of its choice where state_dir was).
var yamlBreaks = map[rune]string{'\r': "CR (carriage return)", '\u0085': "U+0085 (NEXT LINE)",
	'\u2028': "U+2028 (LINE SEPARATOR)", '\u2029': "U+2029 (PARAGRAPH SEPARATOR)"}

// CheckLine refuses line n of a YAML file dog edits as text (given
// without its "\n", and without the "\r" of a CRLF end) when it holds a
// character YAML reads as a line break: positions in the parsed document
// would not be the file's lines.
func CheckLine(n int, line string) error {
	if j := strings.IndexFunc(line, func(r rune) bool { _, ok := yamlBreaks[r]; return ok }); j >= 0 {
		r, _ := utf8.DecodeRuneInString(line[j:])
		return fmt.Errorf("line %d: contains %s, which YAML reads as a line break: dog edits only files whose lines end in \\n or \\r\\n (remove it, or edit the file by hand)", n, yamlBreaks[r])
	}
	return nil
}

func load(src []byte) (*doc, error) {
	d := &doc{}
	if len(src) > 0 {
		d.lines = strings.Split(strings.TrimSuffix(string(src), "\n"), "\n")
		d.crlf = make([]bool, len(d.lines))
	}
	endsInLF := len(src) > 0 && src[len(src)-1] == '\n'
	for i, l := range d.lines {
		if i < len(d.lines)-1 || endsInLF {
			if t, ok := strings.CutSuffix(l, "\r"); ok {
				l, d.lines[i], d.crlf[i] = t, t, true
			}
		}
		if err := CheckLine(i+1, l); err != nil {
			return nil, err
		}
		if i == 0 && strings.HasPrefix(l, "\uFEFF") {
			return nil, errors.New("line 1: the file starts with a byte order mark (U+FEFF); save it as UTF-8 without BOM")
		}
		if strings.Contains(l, "\t") && strings.TrimSpace(l) != "" && strings.HasPrefix(strings.TrimLeft(l, " "), "\t") {
			return nil, fmt.Errorf("line %d: indented with a tab, which YAML forbids", i+1)
		}
	}
	var n yaml.Node
	if err := yaml.Unmarshal(src, &n); err != nil {
		return nil, fmt.Errorf("the file is not valid YAML: %w", err)
	}
	if len(n.Content) > 0 {
		d.root = n.Content[0]
		if d.root.Kind != yaml.MappingNode {
			return nil, errors.New("the file's top level is not a mapping of settings")
		}
		if d.root.Style&yaml.FlowStyle != 0 {
			return nil, fmt.Errorf("line %d: the settings are written as one {flow, mapping}; dog edits only the usual one-setting-per-line layout (edit this file by hand)", d.root.Line)
		}
	}
	return d, nil
}

func (d *doc) bytes() []byte {
	if len(d.lines) == 0 {
		return nil
	}
	// An edited file always ends with a line break, whether or not it did.
	var b strings.Builder
	for i, l := range d.lines {
		b.WriteString(l)
		if d.crlf[i] {
			b.WriteByte('\r')
		}
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// newCRLF: lines the edit adds end as the file's first line does.
func (d *doc) newCRLF() bool { return len(d.crlf) > 0 && d.crlf[0] }

// at is the byte offset in line (0-based) of the YAML column col (1-based,
// counted in characters).
func (d *doc) at(line, col int) int {
	l := d.lines[line]
	off := 0
	for range col - 1 {
		if off >= len(l) {
			break
		}
		_, n := utf8.DecodeRuneInString(l[off:])
		off += n
	}
	return off
}

// splice replaces lines [from, to) (0-based) with repl.
func (d *doc) splice(from, to int, repl []string) {
	out := make([]string, 0, len(d.lines)-(to-from)+len(repl))
	out = append(out, d.lines[:from]...)
	out = append(out, repl...)
	out = append(out, d.lines[to:]...)
	d.lines = out
	crlf := make([]bool, 0, len(out))
	crlf = append(crlf, d.crlf[:from]...)
	for range repl {
		crlf = append(crlf, d.newCRLF())
	}
	d.crlf = append(crlf, d.crlf[to:]...)
}

// topKey returns the key and value nodes of a top-level setting.
func (d *doc) topKey(name string) (k, v *yaml.Node) {
	if d.root == nil {
		return nil, nil
	}
	for i := 0; i+1 < len(d.root.Content); i += 2 {
		if d.root.Content[i].Value == name {
			return d.root.Content[i], d.root.Content[i+1]
		}
	}
	return nil, nil
}

// nextTopLine is the 0-based line of the top-level key after k, or the
// number of lines.
func (d *doc) nextTopLine(k *yaml.Node) int {
	for i := 0; i+1 < len(d.root.Content); i += 2 {
		if d.root.Content[i] == k && i+2 < len(d.root.Content) {
			return d.root.Content[i+2].Line - 1
		}
	}
	return len(d.lines)
}

// indent is the number of leading spaces of a line.
func indent(l string) int { return len(l) - len(strings.TrimLeft(l, " ")) }

func isBlankOrComment(l string) bool {
	t := strings.TrimSpace(l)
	return t == "" || strings.HasPrefix(t, "#")
}

// trimTail moves end back over blank lines and over comment lines indented
// no deeper than col: those introduce what follows, not what precedes.
func (d *doc) trimTail(start, end, col int) int {
	for end > start+1 && isBlankOrComment(d.lines[end-1]) && (strings.TrimSpace(d.lines[end-1]) == "" || indent(d.lines[end-1]) <= col) {
		end--
	}
	return end
}

// itemSpan is an item's node and its line span [start, end).
type itemSpan struct {
	node       *yaml.Node
	start, end int
}

// items returns the ports list and, for each item, its line span.
func (d *doc) items() (seqKey, seq *yaml.Node, spans []itemSpan, err error) {
	k, v := d.topKey("ports")
	if k == nil {
		return nil, nil, nil, nil
	}
	if v.Kind == yaml.ScalarNode && (v.Tag == "!!null" || v.Value == "") {
		return k, v, nil, nil
	}
	if v.Kind != yaml.SequenceNode {
		return nil, nil, nil, fmt.Errorf("line %d: `ports` is not a list", v.Line)
	}
	if v.Style&yaml.FlowStyle != 0 {
		if len(v.Content) == 0 {
			return k, v, nil, nil
		}
		return nil, nil, nil, fmt.Errorf("line %d: `ports` is written as a [flow, list]; dog edits only the usual one-item-per-line layout (edit this file by hand)", v.Line)
	}
	limit := d.nextTopLine(k)
	for i, it := range v.Content {
		start := it.Line - 1
		end := limit
		if i+1 < len(v.Content) {
			end = v.Content[i+1].Line - 1
		}
		if start >= len(d.lines) {
			return nil, nil, nil, fmt.Errorf("line %d: an empty item at the end of `ports`; edit this file by hand", it.Line)
		}
		dash := d.at(start, v.Column)
		if !strings.HasPrefix(d.lines[start][dash:], "-") || strings.TrimLeft(d.lines[start][:dash], " ") != "" {
			return nil, nil, nil, fmt.Errorf("line %d: an item of `ports` does not start on the line of its `-`; dog edits only the usual layout (edit this file by hand)", it.Line)
		}
		spans = append(spans, itemSpan{node: it, start: start, end: d.trimTail(start, end, dash)})
	}
	return k, v, spans, nil
}

func specOf(it *yaml.Node) (portspec.Spec, bool) {
	it = resolve(it)
	if it.Kind != yaml.MappingNode {
		return nil, false
	}
	for i := 0; i+1 < len(it.Content); i += 2 {
		if it.Content[i].Value == "ports" {
			v := resolve(it.Content[i+1])
			if v.Kind != yaml.ScalarNode {
				return nil, false
			}
			s, err := portspec.Parse(v.Value)
			return s, err == nil
		}
	}
	return nil, false
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// openItem parses an item's ports and loads src, as every edit of one
// item begins.
func openItem(src []byte, ports string) (*doc, portspec.Spec, error) {
	spec, err := portspec.Parse(ports)
	if err != nil {
		return nil, spec, err
	}
	d, err := load(src)
	return d, spec, err
}

// find returns the item with spec; none is ErrNotFound, naming the ports
// as the operator gave them.
func (d *doc) find(spec portspec.Spec, ports string) (*itemSpan, error) {
	_, _, spans, err := d.items()
	if err != nil {
		return nil, err
	}
	var owner error // a port of a range or group: say whose it is
	for i := range spans {
		s, ok := specOf(spans[i].node)
		if !ok {
			continue
		}
		if s.String() == spec.String() {
			return &spans[i], nil
		}
		if r, ok := s.Overlap(spec); ok && owner == nil {
			owner = fmt.Errorf("%w: %q is not configured; port %s belongs to item %q (name an item by all its ports)",
				ErrNotFound, ports, r, s)
		}
	}
	if owner != nil {
		return nil, owner
	}
	return nil, fmt.Errorf("%w: %q is not configured", ErrNotFound, ports)
}

// Scalar renders a value as YAML: plain when that reads back as the same
// string, quoted otherwise ("443", 'a: b').
func Scalar(v string) string {
	n := &yaml.Node{Kind: yaml.ScalarNode, Value: v}
	switch v {
	case "", "~", "null", "Null", "NULL":
		// Plain, these read back as "nothing"; the config wants a value.
		n.Tag = "!!str"
	}
	b, err := yaml.Marshal(n)
	if err != nil {
		return fmt.Sprintf("%q", v)
	}
	return strings.TrimSuffix(string(b), "\n")
}

func quoted(v string) string {
	b, err := yaml.Marshal(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v, Style: yaml.DoubleQuotedStyle})
	if err != nil {
		return fmt.Sprintf("%q", v)
	}
	return strings.TrimSuffix(string(b), "\n")
}

// render is the YAML text of a key's value. Ports are always quoted (a bare
// 443 would be a number to other YAML readers); protocols become a list.
func render(key, value string) string {
	switch key {
	case "ports":
		return quoted(value)
	case "protocols":
		parts := strings.FieldsFunc(value, func(r rune) bool { return r == ',' || r == '+' || r == ' ' })
		for i, p := range parts {
			parts[i] = Scalar(p)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return Scalar(value)
}

// AddItem appends an item with the fields (ports first) at the end of the
// ports list, creating the list if the file has none.
func AddItem(src []byte, ports string, fields []Field) ([]byte, error) {
	d, spec, err := openItem(src, ports)
	if err != nil {
		return nil, err
	}
	if _, err := d.find(spec, ports); err == nil {
		return nil, fmt.Errorf("%w: %q is already configured", ErrExists, ports)
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	k, seq, spans, _ := d.items()
	body := []Field{{"ports", ports}}
	for _, f := range fields {
		if f.Value != "" && f.Key != "ports" {
			body = append(body, f)
		}
	}
	lines := func(dashCol int) []string {
		pad := strings.Repeat(" ", dashCol)
		out := make([]string, len(body))
		for i, f := range body {
			lead := pad + "  "
			if i == 0 {
				lead = pad + "- "
			}
			out[i] = lead + f.Key + ": " + render(f.Key, f.Value)
		}
		return out
	}
	switch {
	case k == nil: // no ports list yet: add one at the end
		var add []string
		if len(d.lines) > 0 && strings.TrimSpace(d.lines[len(d.lines)-1]) != "" {
			add = append(add, "")
		}
		add = append(add, "ports:")
		d.splice(len(d.lines), len(d.lines), append(add, lines(2)...))
	case len(spans) == 0: // `ports:` or `ports: []`
		line := k.Line - 1
		keyLine := d.lines[line][:d.at(line, k.Column)] + "ports:"
		if seq.LineComment != "" {
			keyLine += " " + seq.LineComment
		} else if k.LineComment != "" {
			keyLine += " " + k.LineComment
		}
		d.splice(line, line+1, append([]string{keyLine}, lines(k.Column-1+2)...))
	default:
		last := spans[len(spans)-1]
		dash := strings.Index(d.lines[last.start], "-")
		d.splice(last.end, last.end, lines(dash))
	}
	return itemsEdited(d.root, d.bytes(), 1)
}

// itemsEdited is the edited text, once checked: the other settings are as
// they were and the ports list has delta more entries.
func itemsEdited(src *yaml.Node, out []byte, delta int) ([]byte, error) {
	before, after, err := othersKept(src, out, "ports")
	if err != nil {
		return nil, err
	}
	n := func(m map[string]*yaml.Node) int {
		if v := m["ports"]; v != nil && v.Kind == yaml.SequenceNode {
			return len(v.Content)
		}
		return 0
	}
	if n(after) != n(before)+delta {
		return nil, fmt.Errorf("the edit would leave %d items instead of %d (an unusual layout); edit the file by hand", n(after), n(before)+delta)
	}
	return out, nil
}

// SetFields changes, adds or (with an empty value) removes keys of the item
// with the ports spec. Only the lines of the changed keys change; a new key
// goes after the item's last line.
func SetFields(src []byte, ports string, fields []Field) ([]byte, error) {
	d, spec, err := openItem(src, ports)
	if err != nil {
		return nil, err
	}
	orig := d.root
	for i, f := range fields {
		if f.Key == "ports" {
			return nil, errors.New("the ports of an item are its identity: remove it and add the new ports instead")
		}
		if i > 0 { // positions changed: re-read
			if d, err = load(d.bytes()); err != nil {
				return nil, err
			}
		}
		sp, err := d.find(spec, ports)
		if err != nil {
			return nil, err
		}
		if err := d.setField(sp, f); err != nil {
			return nil, err
		}
	}
	return itemsEdited(orig, d.bytes(), 0)
}

func (d *doc) setField(sp *itemSpan, f Field) error {
	it := sp.node
	if it.Kind != yaml.MappingNode || it.Style&yaml.FlowStyle != 0 {
		return fmt.Errorf("line %d: the item is written in {flow, style}; edit it by hand", it.Line)
	}
	var key, val *yaml.Node
	keyIdx := -1
	for i := 0; i+1 < len(it.Content); i += 2 {
		if it.Content[i].Tag == "!!merge" {
			return fmt.Errorf("line %d: the item uses a merge key (<<); edit it by hand", it.Content[i].Line)
		}
		if it.Content[i].Value == f.Key {
			key, val, keyIdx = it.Content[i], it.Content[i+1], i
		}
	}
	keyCol := it.Column - 1
	if key == nil {
		if f.Value == "" {
			return nil // removing what is not there
		}
		d.splice(sp.end, sp.end, []string{strings.Repeat(" ", keyCol) + f.Key + ": " + render(f.Key, f.Value)})
		return nil
	}
	if val.Kind == yaml.AliasNode || val.Anchor != "" {
		return fmt.Errorf("line %d: %s uses a YAML anchor or alias; edit it by hand", key.Line, f.Key)
	}
	// The key's lines run to the next key of the item (or the item's end),
	// less trailing comments that introduce the next key.
	start := key.Line - 1
	end := sp.end
	if keyIdx+2 < len(it.Content) {
		end = it.Content[keyIdx+2].Line - 1
	}
	end = d.trimTail(start, end, keyCol)
	if f.Value == "" {
		if keyIdx == 0 {
			return fmt.Errorf("line %d: %s is the item's first key (on the `-` line); edit it by hand", key.Line, f.Key)
		}
		d.splice(start, end, nil)
		return nil
	}
	line := d.lines[start][:d.at(start, key.Column)] + f.Key + ": " + render(f.Key, f.Value)
	if c := val.LineComment; c != "" && val.Line == key.Line {
		line += "  " + c
	} else if c := key.LineComment; c != "" {
		line += "  " + c
	}
	d.splice(start, end, []string{line})
	return nil
}

// RemoveItem deletes the item with the ports spec: its lines and the
// comments indented inside it. Comments above it stay (they may introduce
// the list). The last item leaves `ports: []`.
func RemoveItem(src []byte, ports string) ([]byte, error) {
	d, spec, err := openItem(src, ports)
	if err != nil {
		return nil, err
	}
	sp, err := d.find(spec, ports)
	if err != nil {
		return nil, err
	}
	k, _, spans, _ := d.items()
	// The item's own head comment (directly above its dash, as indented)
	// goes with it, and so does one of the blank lines around it.
	start, end := sp.start, sp.end
	dash := strings.Index(d.lines[sp.start], "-")
	for start > 0 && strings.HasPrefix(strings.TrimSpace(d.lines[start-1]), "#") && indent(d.lines[start-1]) == dash {
		start--
	}
	if end < len(d.lines) && strings.TrimSpace(d.lines[end]) == "" && (start == 0 || strings.TrimSpace(d.lines[start-1]) == "") {
		end++
	}
	d.splice(start, end, nil)
	if len(spans) == 1 {
		line := k.Line - 1
		rest := strings.TrimSpace(d.lines[line][d.at(line, k.Column)+len("ports:"):])
		repl := d.lines[line][:d.at(line, k.Column)] + "ports: []"
		if strings.HasPrefix(rest, "#") {
			repl += " " + rest
		}
		d.lines[line] = repl
	}
	return itemsEdited(d.root, d.bytes(), -1)
}

// SetTop sets a top-level setting whose value is one scalar on its key's
// line, or adds it before the first setting.
func SetTop(src []byte, key, value string) ([]byte, error) {
	d, err := load(src)
	if err != nil {
		return nil, err
	}
	k, v := d.topKey(key)
	line := key + ": " + Scalar(value)
	if k == nil {
		at, pad := 0, ""
		if d.root != nil && len(d.root.Content) > 0 {
			first := d.root.Content[0] // after the file's header comment
			at = first.Line - 1
			pad = d.lines[at][:d.at(at, first.Column)]
		}
		if strings.TrimLeft(pad, " ") != "" {
			return nil, fmt.Errorf("line %d: the first setting does not start its line; add %s by hand", at+1, key)
		}
		d.splice(at, at, []string{pad + line})
	} else {
		l := k.Line - 1
		pad := d.lines[l][:d.at(l, k.Column)]
		if v.Kind != yaml.ScalarNode || v.Line != k.Line || v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 ||
			strings.TrimLeft(pad, " ") != "" || !wholeOnLine(d.lines[l], key, v.Value) {
			return nil, fmt.Errorf("line %d: %s is not a one-line value; edit it by hand", k.Line, key)
		}
		if v.LineComment != "" {
			line += "  " + v.LineComment
		}
		d.lines[l] = pad + line
	}
	out := d.bytes()
	_, after, err := othersKept(d.root, out, key)
	if err != nil {
		return nil, err
	}
	if v := after[key]; v == nil || v.Kind != yaml.ScalarNode || v.Value != value {
		return nil, fmt.Errorf("%s: its value spans more than its line (continued below?); edit it by hand", key)
	}
	return out, nil
}

// wholeOnLine reports whether line alone holds key and all its value: a
// quoted or plain value continued on the next lines does not read back the
// same from its first line.
func wholeOnLine(line, key, value string) bool {
	var m map[string]yaml.Node
	if err := yaml.Unmarshal([]byte(strings.TrimLeft(line, " ")), &m); err != nil || len(m) != 1 {
		return false
	}
	n, ok := m[key]
	return ok && n.Kind == yaml.ScalarNode && n.Value == value
}

// othersKept checks the result of an edit: every top-level setting but
// key reads back as it was, none is gone and none appeared. This is what
// keeps an edit from changing more than it says whatever layout the file
// has; the per-line work above is only how the edit keeps the comments.
// It returns the settings' value nodes before and after the edit.
func othersKept(before *yaml.Node, after []byte, key string) (b, a map[string]*yaml.Node, err error) {
	b = topValuesOf(before)
	var n yaml.Node
	if err = yaml.Unmarshal(after, &n); err == nil && len(n.Content) > 0 && n.Content[0].Kind != yaml.MappingNode {
		err = errors.New("the top level is not a mapping")
	}
	if err == nil && len(n.Content) > 0 {
		a = topValuesOf(n.Content[0])
	}
	if err != nil {
		return nil, nil, fmt.Errorf("the edit would make the file invalid YAML (%w); edit it by hand", err)
	}
	for k, v := range b {
		if k == key {
			continue
		}
		w, ok := a[k]
		if !ok || v == nil || w == nil || !sameValue(v, w) {
			return nil, nil, fmt.Errorf("editing %s would change %s too (an unusual layout); edit the file by hand", key, k)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok && k != key {
			return nil, nil, fmt.Errorf("editing %s would add %s (an unusual layout); edit the file by hand", key, k)
		}
	}
	return b, a, nil
}

// topValuesOf maps the settings of a root mapping (nil: none) to their
// value nodes. A key set twice maps to nil, which no comparison matches.
func topValuesOf(root *yaml.Node) map[string]*yaml.Node {
	m := map[string]*yaml.Node{}
	if root == nil {
		return m
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i].Value
		if _, dup := m[k]; dup {
			m[k] = nil
			continue
		}
		m[k] = root.Content[i+1]
	}
	return m
}

// sameValue reports whether two nodes read back as the same value: the
// same tree of kinds, tags and values (comments, styles and positions
// aside). Where an alias is involved its target may have changed
// elsewhere: then the decoded values are compared (yaml.v3 bounds alias
// expansion).
func sameValue(a, b *yaml.Node) bool {
	if hasAlias(a) || hasAlias(b) {
		var x, y any
		if a.Decode(&x) != nil || b.Decode(&y) != nil {
			return false
		}
		return reflect.DeepEqual(x, y)
	}
	return sameTree(a, b)
}

func sameTree(a, b *yaml.Node) bool {
	if a.Kind != b.Kind || a.ShortTag() != b.ShortTag() || a.Value != b.Value || len(a.Content) != len(b.Content) {
		return false
	}
	for i := range a.Content {
		if !sameTree(a.Content[i], b.Content[i]) {
			return false
		}
	}
	return true
}

func hasAlias(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode {
		return true
	}
	for _, c := range n.Content {
		if hasAlias(c) {
			return true
		}
	}
	return false
}

package config

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// ItemCache re-reads a config file in time proportional to what changed in
// it. YAML decoding is most of a reload's cost at 10,000 items (~50 ms),
// while an operator's edit touches one or two of them. The cache keeps each
// item decoded, keyed by the exact text of its list entry; a re-read then
// decodes the file without the list (the top-level keys), plus the entries
// whose text it has not seen, each on its own.
//
// That is only the same as decoding the whole file when the entries split
// cleanly on their "- " lines, and each entry means the same alone as in
// the file. The split refuses anything it is not sure of (tabs, CR, several
// documents, a `ports` key it cannot place, lines it cannot assign), every
// part must decode without error, entries with anchors or aliases (which
// reach across entries) are never cached, and the file without the list
// must still show `ports` as the top-level key on the line the split found.
// Otherwise, or when any check or validation fails, or when most entries
// changed, the whole file is parsed as Parse does, so every error message
// comes from the full parse.
//
// The cache holds one copy of the last file's text (its keys are parts of
// it) and shares the items with the Config it returned: at 10,000 items
// about 1 MB besides the Config. Callers must not modify a returned
// Config's Items. The zero value is ready to use. It is not safe for
// concurrent use.
type ItemCache struct {
	items []Item              // the last file's items, as returned
	index map[string]entryRef // an entry's text (a substring of one copy of the file) -> its item
	fast  int                 // parses served from the cache, for tests
}

type entryRef struct {
	item int32 // in items
	line int32 // the item's line within the entry's text, from 1
}

// Load reads and validates a config file like the package's Load.
func (c *ItemCache) Load(path string) (*Config, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return c.Parse(data, path)
}

// Parse validates config text like the package's Parse, with the same
// result and errors.
func (c *ItemCache) Parse(data []byte, source string) (*Config, error) {
	// What parse refuses before decoding, it also refuses here.
	list, split := splitList(data)
	split = split && len(data) <= MaxFileSize && utf8.Valid(data)
	if split && c.index != nil {
		if cfg, ok := c.parseChanged(data, list, source); ok {
			c.fast++
			return cfg, nil
		}
	}
	cfg, root, err := parse(data, source)
	if err != nil {
		// The cache stays: the corrected file most likely shares its items.
		return nil, err
	}
	c.items, c.index = nil, nil
	if split {
		c.learn(string(data), list, root, cfg)
	}
	return cfg, nil
}

// parseChanged decodes data from the cache and the entries it lacks. ok is
// false when the result could differ from a full parse, or is an error.
func (c *ItemCache) parseChanged(data []byte, list itemList, source string) (*Config, bool) {
	misses := 0
	for _, e := range list.entries {
		if _, hit := c.index[string(data[e.start:e.end])]; !hit {
			misses++
		}
	}
	if misses*2 > len(list.entries) { // one parser over the whole file is faster
		return nil, false
	}
	cfg, root, err := parse(list.withoutEntries(data), source)
	if err != nil || !list.placed(root) {
		return nil, false
	}
	text := string(data)
	index := make(map[string]entryRef, len(list.entries))
	items := make([]Item, 0, len(list.entries))
	for _, e := range list.entries {
		key := text[e.start:e.end]
		var it Item
		ref, hit := c.index[key]
		if hit {
			it = c.items[ref.item]
		} else if it, ref.line, hit = decodeEntry(data[e.start:e.end], source); !hit {
			return nil, false
		}
		it.source, it.line = source, e.line+int(ref.line)-1
		index[key] = entryRef{int32(len(items)), ref.line}
		items = append(items, it)
	}
	cfg.Items = items
	if len(crossCheck(items, cfg.Exempt)) > 0 {
		return nil, false
	}
	c.items, c.index = items, index
	return cfg, true
}

// decodeEntry decodes one list entry's text alone.
func decodeEntry(text []byte, source string) (it Item, line int32, ok bool) {
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil || len(doc.Content) != 1 {
		return Item{}, 0, false
	}
	seq := doc.Content[0]
	if seq.Kind != yaml.SequenceNode || len(seq.Content) != 1 || crossesEntries(seq) {
		return Item{}, 0, false
	}
	it, errs := decodeItem(seq.Content[0], source)
	if len(errs) > 0 {
		return Item{}, 0, false
	}
	return it, int32(seq.Content[0].Line), true
}

// learn fills the cache from a full parse of text whose list entries are
// where the split put them.
func (c *ItemCache) learn(text string, list itemList, root *yaml.Node, cfg *Config) {
	seq := listValue(root, list)
	if seq == nil || seq.Kind != yaml.SequenceNode || len(seq.Content) != len(list.entries) || len(cfg.Items) != len(list.entries) {
		return
	}
	// An entry's node starts within its lines (checked below), and one
	// that ran on into the next entry would have taken that entry's node.
	// The last one could run on past the list: the parser lets a quoted
	// scalar continue at column 0. Then the line the split ends the list
	// at is not the top-level key it must be.
	if list.end < len(text) && !keyAt(root, 1+strings.Count(text[:list.end], "\n")) {
		return
	}
	index := make(map[string]entryRef, len(list.entries))
	for i, n := range seq.Content {
		e := list.entries[i]
		if n.Line < e.line || (i+1 < len(list.entries) && n.Line >= list.entries[i+1].line) {
			return // the split and the parser disagree
		}
		if !crossesEntries(n) {
			index[text[e.start:e.end]] = entryRef{int32(i), int32(n.Line - e.line + 1)}
		}
	}
	c.items, c.index = cfg.Items, index
}

// keyAt reports whether the root mapping has a key at column 1 of line.
func keyAt(root *yaml.Node, line int) bool {
	for i := 0; i < len(root.Content); i += 2 {
		if k := root.Content[i]; k.Line == line && k.Column == 1 {
			return true
		}
	}
	return false
}

// crossesEntries reports an anchor or alias under n: its meaning can depend
// on other entries.
func crossesEntries(n *yaml.Node) bool {
	if n.Anchor != "" || n.Kind == yaml.AliasNode {
		return true
	}
	for _, c := range n.Content {
		if crossesEntries(c) {
			return true
		}
	}
	return false
}

// itemList is where the top-level `ports` list is in a file's text.
type itemList struct {
	keyLine    int // line of the `ports:` key, from 1
	keyStart   int // offset of that line
	start, end int // offsets of the list's lines
	entries    []entry
}

// entry is one list entry: the offsets of its text, from its "- " line to
// the next, and the line it starts on.
type entry struct {
	start, end int
	line       int
}

// splitList finds the entries of the top-level `ports` list, when it is a
// block list the split is sure of.
func splitList(data []byte) (itemList, bool) {
	var l itemList
	// The YAML scanner also breaks lines at CR, NEL, LS and PS (YAML 1.1):
	// the split counts "\n" only.
	if bytes.ContainsAny(data, "\t\r\u0085\u2028\u2029") {
		return l, false
	}
	const (
		before = iota
		inList
		after
	)
	where, indent, entryStart, entryLine := before, -1, -1, 0
	closeEntry := func(at int) {
		if entryStart >= 0 {
			l.entries = append(l.entries, entry{entryStart, at, entryLine})
		}
		entryStart = -1
	}
	line := 0
	for off := 0; off < len(data); {
		line++
		next := len(data)
		if i := bytes.IndexByte(data[off:], '\n'); i >= 0 {
			next = off + i + 1
		}
		text := bytes.TrimSuffix(data[off:next], []byte("\n"))
		if bytes.HasPrefix(text, []byte("...")) || bytes.HasPrefix(text, []byte("%")) ||
			(bytes.HasPrefix(text, []byte("---")) && (line > 1 || len(bytes.TrimRight(text, " ")) > 3)) {
			return l, false // directives and document markers: only a leading "---"
		}
		if where == inList {
			rest := bytes.TrimLeft(text, " ")
			ind := len(text) - len(rest)
			switch {
			case len(rest) == 0 || rest[0] == '#':
				off = next
				continue
			case indent < 0 && isEntryLine(rest):
				indent = ind
				fallthrough
			case ind == indent && isEntryLine(rest):
				closeEntry(off)
				entryStart, entryLine = off, line
				off = next
				continue
			case indent >= 0 && ind > indent:
				off = next
				continue
			case indent >= 0 && ind == 0:
				closeEntry(off)
				l.end, where = off, after
			default:
				return l, false
			}
		}
		if bytes.HasPrefix(text, []byte("ports")) {
			if where != before || !isPortsKey(text) {
				return l, false
			}
			where, l.keyLine, l.keyStart, l.start = inList, line, off, next
		}
		off = next
	}
	if where == inList {
		closeEntry(len(data))
		l.end = len(data)
	}
	return l, where != before && len(l.entries) > 0
}

// isPortsKey is a `ports:` line with nothing after the colon but a comment.
func isPortsKey(text []byte) bool {
	rest, ok := bytes.CutPrefix(text, []byte("ports:"))
	if !ok {
		return false
	}
	if len(rest) == 0 {
		return true
	}
	rest = bytes.TrimLeft(rest, " ")
	return len(rest) < len(text)-len("ports:") && (len(rest) == 0 || rest[0] == '#')
}

func isEntryLine(rest []byte) bool {
	return bytes.Equal(rest, []byte("-")) || bytes.HasPrefix(rest, []byte("- "))
}

// withoutEntries is data with the list emptied: `ports: []` on the key's
// line and the entries' lines left blank, so every other line keeps its
// number.
func (l itemList) withoutEntries(data []byte) []byte {
	out := make([]byte, 0, l.keyStart+len(data)-l.end+(l.end-l.start)/8+16)
	out = append(out, data[:l.keyStart]...)
	out = append(out, "ports: []\n"...)
	out = append(out, bytes.Repeat([]byte("\n"), bytes.Count(data[l.start:l.end], []byte("\n")))...)
	return append(out, data[l.end:]...)
}

// placed reports whether the file without its entries, as parsed, has the
// emptied `ports: []` as a top-level key where the split found it: every
// line before it then parsed the same as in the whole file, and the entries
// are the value of that key.
func (l itemList) placed(root *yaml.Node) bool {
	v := listValue(root, l)
	return v != nil && v.Kind == yaml.SequenceNode && v.Style&yaml.FlowStyle != 0 && len(v.Content) == 0 && v.Line == l.keyLine
}

// listValue is the value of the top-level `ports` key if that key is on
// the line the split found.
func listValue(root *yaml.Node, l itemList) *yaml.Node {
	if root == nil || root.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i]
		if k.Kind == yaml.ScalarNode && k.Value == "ports" && k.Line == l.keyLine && k.Column == 1 {
			return root.Content[i+1]
		}
	}
	return nil
}

package configedit

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"port-traffic-dog/internal/config"
)

// FuzzLineMapping checks the editor's idea of lines against the YAML
// parser's: wherever a node starts by the parser's line and column, the
// editor's line holds that node's first character. And whatever the text,
// no edit panics, and SetTop of state_dir either refuses or yields a config
// whose state_dir is the one set and whose items are the same: the
// property Import relies on to keep this host's paths.
func FuzzLineMapping(f *testing.F) {
	for _, s := range []string{
		commented,
		strings.ReplaceAll(commented, "\n", "\r\n"),
		"#\r#\r#\r\nstate_dir: /tmp/x/evil\nports:\n  - ports: \"443\"\n    remark: \"a\n      b\"\n",
		"ports:\n  - ports: \"443\"\n    remark: \"a\u2028b\"\n",
		"timezone: UTC # \u0085state_dir: /x\n",
		"{state_dir: /a, ports: [{ports: \"443\"}]}\n",
		"state_dir: \"/a\n  #b\"\nports: []\n",
		"  timezone: UTC\n  ports: []\n",
		"d: &d {quota: 1GB}\nports:\n  - <<: *d\n    ports: \"443\"\n",
		"remark: 阿里\nports:\n  - ports: \"443\"\n    remark: 阿里 alice\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 4096 {
			return
		}
		// None may panic, whatever they return.
		AddItem([]byte(src), "80", []Field{{"remark", "x"}})
		SetFields([]byte(src), "443", []Field{{"quota", "1GB"}, {"remark", ""}})
		RemoveItem([]byte(src), "443")

		if d, err := load([]byte(src)); err == nil && d.root != nil {
			checkPositions(t, d, d.root)
		}

		before, err := config.Parse([]byte(src), "in")
		if err != nil {
			return
		}
		out, err := SetTop([]byte(src), "state_dir", "/srv/dog")
		if err != nil {
			return
		}
		after, err := config.Parse(out, "out")
		if err != nil {
			t.Fatalf("SetTop made a valid config invalid: %v\nin:  %q\nout: %q", err, src, out)
		}
		if after.StateDir != "/srv/dog" || len(after.Items) != len(before.Items) || after.AdminSocket != before.AdminSocket {
			t.Fatalf("SetTop state_dir: state_dir %q admin_socket %q items %d, want /srv/dog %q %d\nin:  %q\nout: %q",
				after.StateDir, after.AdminSocket, len(after.Items), before.AdminSocket, len(before.Items), src, out)
		}
	})
}

// checkPositions walks the nodes under n: the editor's line at the node's
// position starts with what the node starts with.
func checkPositions(t *testing.T, d *doc, n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && n.Value == "" && n.Style == 0 {
		return // an empty node may sit after the last line
	}
	if n.Line < 1 || n.Line > len(d.lines) {
		t.Fatalf("node %q at line %d; the editor has %d lines", n.Value, n.Line, len(d.lines))
	}
	at := d.lines[n.Line-1][d.at(n.Line-1, n.Column):]
	var want string
	switch {
	case n.Anchor != "" || n.Style&yaml.TaggedStyle != 0 || strings.HasPrefix(at, "!"):
		// The position is the anchor's or tag's ("!" too is a tag).
	case n.Kind == yaml.AliasNode:
		want = "*"
	case n.Kind == yaml.ScalarNode && n.Style&yaml.DoubleQuotedStyle != 0:
		want = `"`
	case n.Kind == yaml.ScalarNode && n.Style&yaml.SingleQuotedStyle != 0:
		want = "'"
	case n.Kind == yaml.ScalarNode && n.Style == 0 && n.Value != "" && !strings.ContainsAny(n.Value, "\n "):
		want = n.Value
	case n.Kind == yaml.SequenceNode && n.Style&yaml.FlowStyle != 0:
		want = "["
	case n.Kind == yaml.MappingNode && n.Style&yaml.FlowStyle != 0:
		want = "{"
	case n.Kind == yaml.SequenceNode:
		want = "-"
	}
	if !strings.HasPrefix(at, want) {
		t.Fatalf("node %q (kind %d style %d) at line %d column %d: the editor's line there is %q", n.Value, n.Kind, n.Style, n.Line, n.Column, d.lines[n.Line-1])
	}
	for _, c := range n.Content {
		checkPositions(t, d, c)
	}
}

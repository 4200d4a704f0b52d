package cli

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/huh"
	"github.com/charmbracelet/lipgloss"
	"go.yaml.in/yaml/v3"

	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/configedit"
	"port-traffic-dog/internal/i18n"
	"port-traffic-dog/internal/portspec"
)

// The item keys a form edits, in the config's key order.
var (
	fieldsAll    = []string{"remark", "quota", "billing", "reset_day", "expires", "rate", "rate_in", "rate_out", "protocols"}
	fieldsLimits = []string{"rate", "rate_in", "rate_out", "burst"}
	fieldsExpiry = []string{"expires"}
)

// fieldHelp is each key's label and hint.
var fieldHelp = map[string][2]i18n.Key{
	"remark":    {i18n.FieldRemark, i18n.HintRemark},
	"quota":     {i18n.FieldQuota, i18n.HintQuota},
	"billing":   {i18n.FieldBilling, i18n.HintBilling},
	"reset_day": {i18n.FieldResetDay, i18n.HintResetDay},
	"expires":   {i18n.FieldExpires, i18n.HintExpires},
	"rate":      {i18n.FieldRate, i18n.HintRate},
	"rate_in":   {i18n.FieldRateIn, i18n.HintRateIn},
	"rate_out":  {i18n.FieldRateOut, i18n.HintRateOut},
	"burst":     {i18n.FieldBurst, i18n.HintBurst},
	"protocols": {i18n.FieldProtocols, i18n.HintProtocols},
}

// rawItem reads the item's keys as written in the config file, so a form
// starts from the operator's own spelling ("10GiB", not 10737418240).
func rawItem(p *i18n.Printer, path, ports string) (map[string]string, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, p.Errorf(i18n.ReadConfigErr, err)
	}
	var doc struct {
		Ports []map[string]string `yaml:"ports"`
	}
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, p.Errorf(i18n.EditFailed, path, err)
	}
	want, err := portspec.Parse(ports)
	if err != nil {
		return nil, err
	}
	for _, it := range doc.Ports {
		if s, err := portspec.Parse(it["ports"]); err == nil && s.String() == want.String() {
			return it, nil
		}
	}
	return nil, p.Errorf(i18n.NotConfigured, ports)
}

// validateField checks one value as dog check-config would, with its
// message: the value alone in an item of a config of its own.
func validateField(p *i18n.Printer, key, value string) error {
	if strings.TrimSpace(value) == "" {
		return nil
	}
	src, err := configedit.AddItem(nil, "1", []configedit.Field{{Key: key, Value: value}})
	if err != nil {
		return errors.New(p.Error(err))
	}
	if key == "burst" { // a burst alone is refused for want of a rate
		src, err = configedit.SetFields(src, "1", []configedit.Field{{Key: "rate", Value: "1Mbps"}})
		if err != nil {
			return err
		}
	}
	_, err = config.Parse(src, "form")
	var ce *config.Error
	if errors.As(err, &ce) {
		return errors.New(p.Message(ce.Msg))
	}
	if err != nil {
		return errors.New(p.Error(err))
	}
	return nil
}

// openItemForm opens the add form (ports "") or the edit form of an item
// with the given keys.
func (c *console) openItemForm(ports string, keys []string) (tea.Model, tea.Cmd) {
	adding := ports == ""
	old := map[string]string{}
	if !adding {
		raw, err := rawItem(c.p, c.g.Config, ports)
		if err != nil {
			c.message, c.failed = "dog: "+c.p.Error(err), true
			return c, nil
		}
		old = raw
	}
	vals := map[string]*string{}
	var fields []huh.Field
	newPorts := new(string)
	if adding {
		c.title = c.p.Sprintf(i18n.ConsoleAddTitle)
		fields = append(fields, c.input(i18n.FieldPorts, i18n.HintPorts, newPorts).Validate(func(s string) error {
			if strings.TrimSpace(s) == "" {
				return errors.New(c.p.Sprintf(i18n.PortsRequired))
			}
			spec, err := portspec.Parse(strings.TrimSpace(s))
			if err != nil {
				return errors.New(c.p.Error(err))
			}
			return c.portsFree(spec)
		}))
	} else {
		c.title = c.p.Sprintf(i18n.ConsoleEditTitle, ports)
	}
	for _, key := range keys {
		v := old[key]
		vals[key] = &v
		key := key
		help := fieldHelp[key]
		fields = append(fields, c.input(help[0], help[1], vals[key]).Validate(func(s string) error { return validateField(c.p, key, s) }))
	}
	// Pages of at most 5 fields: a page fits 24 rows with its hints.
	var groups []*huh.Group
	for len(fields) > 0 {
		n := min(len(fields), 5)
		groups = append(groups, huh.NewGroup(fields[:n]...))
		fields = fields[n:]
	}
	c.form = c.newForm(groups...)
	c.screen = screenForm
	c.onSubmit = func() tea.Cmd {
		var changes []configedit.Field
		for _, key := range keys {
			v := strings.TrimSpace(*vals[key])
			if v != strings.TrimSpace(old[key]) {
				changes = append(changes, configedit.Field{Key: key, Value: v})
			}
		}
		if adding {
			p := strings.TrimSpace(*newPorts)
			var add []configedit.Field
			for _, f := range changes {
				if f.Value != "" {
					add = append(add, f)
				}
			}
			return c.preview(c.p.Sprintf(i18n.ConsoleAddTitle), true, func(src []byte) ([]byte, error) {
				return configedit.AddItem(src, p, add)
			}, c.p.Sprintf(i18n.EditAdded, p))
		}
		if len(changes) == 0 {
			return func() tea.Msg { return doneMsg{out: c.p.Sprintf(i18n.ConsoleNoChange)} }
		}
		return c.preview(c.p.Sprintf(i18n.ConsoleEditTitle, ports), false, func(src []byte) ([]byte, error) {
			return configedit.SetFields(src, ports, changes)
		}, c.p.Sprintf(i18n.EditChanged, ports))
	}
	return c, c.form.Init()
}

// portsFree checks new ports against the items the enforcer has, so that
// a port another item counts is refused at the field rather than after
// the whole form (the preview checks the file again).
func (c *console) portsFree(spec portspec.Spec) error {
	if c.st == nil {
		return nil
	}
	for _, it := range c.st.Items {
		other, err := portspec.Parse(it.Ports)
		if err != nil {
			continue
		}
		if other.String() == spec.String() {
			return errors.New(c.p.Sprintf(i18n.ConsolePortsExist, it.Ports))
		}
		if r, ok := spec.Overlap(other); ok {
			return errors.New(c.p.Sprintf(i18n.ConsolePortsTaken, it.Ports, r.String()))
		}
	}
	return nil
}

// input is a one-line field: its label in a column of its own, the hint
// as the placeholder of an empty value.
func (c *console) input(label, hint i18n.Key, v *string) *huh.Input {
	return huh.NewInput().Title(c.style.cond().FillRight(c.p.Sprintf(label), 12)).Prompt(" ").
		Placeholder(c.p.Sprintf(hint)).Inline(true).Value(v)
}

func (c *console) newForm(groups ...*huh.Group) *huh.Form {
	theme := huh.ThemeCharm()
	if !c.style.color {
		theme = huh.ThemeBase()
	}
	if c.style.eastAsian {
		// A CJK terminal draws the box-drawing ┃ two columns wide.
		theme.Focused.Base = theme.Focused.Base.Border(lipgloss.Border{Left: "|"}, false, false, false, true)
	}
	return huh.NewForm(groups...).WithTheme(theme).WithWidth(min(c.w, 100)).WithShowHelp(false)
}

// preview shows the config change an edit makes, checked as the enforcer
// would load it, and applies it on y through the same code as dog
// add/set/rm.
func (c *console) preview(title string, mayCreate bool, edit func([]byte) ([]byte, error), done string) tea.Cmd {
	return func() tea.Msg {
		path := c.g.Config
		if p, err := filepath.EvalSymlinks(path); err == nil {
			path = p
		}
		old, err := os.ReadFile(path)
		if err != nil && !(errors.Is(err, fs.ErrNotExist) && mayCreate) {
			return textMsg{err: c.p.Errorf(i18n.ReadConfigErr, err)}
		}
		edited, err := edit(old)
		if err != nil {
			return textMsg{err: c.p.Errorf(i18n.EditFailed, path, err)}
		}
		if _, err := config.Parse(edited, path); err != nil {
			return textMsg{err: c.p.Errorf(i18n.EditInvalid, err)}
		}
		lines := append([]string{c.p.Sprintf(i18n.ConsolePreview), "", "  " + path}, lineDiff(string(old), string(edited), 2)...)
		return confirmMsg{title: title, lines: lines, yes: func() tea.Cmd {
			return c.capture(func(env *Env) error { return editConfig(c.g, env, mayCreate, edit, done) })
		}}
	}
}

// confirmMsg opens a confirmation.
type confirmMsg struct {
	title string
	lines []string
	yes   func() tea.Cmd
}

func (c *console) confirmRemove(it adminapi.Item) (tea.Model, tea.Cmd) {
	ports := it.Ports
	show := periodLine(c.p, it, statusLocation(c.st))
	pv := c.preview(c.p.Sprintf(i18n.ConsoleRemoveTitle, ports), false, func(src []byte) ([]byte, error) {
		return configedit.RemoveItem(src, ports)
	}, c.p.Sprintf(i18n.EditRemoved, ports))
	return c, func() tea.Msg {
		m := pv()
		if cm, ok := m.(confirmMsg); ok {
			cm.lines = append([]string{show, c.p.Sprintf(i18n.ConsoleRemoveWhat), ""}, cm.lines...)
			return cm
		}
		return m
	}
}

// openPathForm asks for the archive to export to or import from.
func (c *console) openPathForm(export bool) (tea.Model, tea.Cmd) {
	path := new(string)
	title, label := i18n.ConsoleImportTitle, i18n.FieldImportFile
	if export {
		title, label = i18n.ConsoleExportTitle, i18n.FieldExportFile
		*path = "dog-export-" + c.env.Now().Format("20060102-1504") + ".tar.gz"
	}
	c.title = c.p.Sprintf(title)
	c.form = c.newForm(huh.NewGroup(c.input(label, i18n.PathHint, path).
		Validate(func(s string) error {
			if strings.TrimSpace(s) == "" {
				return errors.New(c.p.Sprintf(i18n.PathRequired))
			}
			return nil
		})))
	c.screen = screenForm
	c.onSubmit = func() tea.Cmd {
		file := strings.TrimSpace(*path)
		if export {
			return c.capture(func(env *Env) error { return (&ExportCmd{File: file}).Run(c.g, env) })
		}
		// A dry run first: what the archive holds, then y imports it.
		dry := c.capture(func(env *Env) error { return (&ImportCmd{File: file, DryRun: true}).Run(c.g, env) })
		return func() tea.Msg {
			d := dry().(doneMsg)
			if d.err != nil {
				return textMsg{err: d.err}
			}
			lines := strings.Split(strings.TrimRight(d.out, "\n"), "\n")
			lines = append(lines, "", c.p.Sprintf(i18n.ConsoleImportWhat))
			return textMsg{title: c.p.Sprintf(i18n.ConsoleImportTitle), lines: lines, hint: i18n.ConsoleImportKeys,
				keys: map[string]func() tea.Cmd{"y": func() tea.Cmd {
					return c.capture(func(env *Env) error { return (&ImportCmd{File: file}).Run(c.g, env) })
				}}}
		}
	}
	return c, c.form.Init()
}

// lineDiff shows what changes between a and b: the changed lines (- old,
// + new) with context lines around them. dog's edits touch one place, so
// the common head and tail are cut instead of running a full diff (a
// config of 10,000 items stays instant).
func lineDiff(a, b string, context int) []string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	if a == "" {
		al = nil
	}
	head := 0
	for head < len(al) && head < len(bl) && al[head] == bl[head] {
		head++
	}
	tail := 0
	for tail < len(al)-head && tail < len(bl)-head && al[len(al)-1-tail] == bl[len(bl)-1-tail] {
		tail++
	}
	var out []string
	for i := max(head-context, 0); i < head; i++ {
		out = append(out, "  "+al[i])
	}
	for _, l := range al[head : len(al)-tail] {
		out = append(out, "- "+l)
	}
	for _, l := range bl[head : len(bl)-tail] {
		out = append(out, "+ "+l)
	}
	for i := len(bl) - tail; i < min(len(bl)-tail+context, len(bl)); i++ {
		if bl[i] != "" || i < len(bl)-1 {
			out = append(out, "  "+bl[i])
		}
	}
	return out
}

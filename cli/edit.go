package cli

import (
	"errors"
	"io/fs"
	"strings"
	"time"

	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/configedit"
	"port-traffic-dog/internal/fileedit"
	"port-traffic-dog/internal/i18n"
	"port-traffic-dog/internal/portspec"
)

// ItemFlags are the item settings add and set take, named like the YAML
// keys (reset_day is --reset-day). Unset flags leave a setting alone.
type ItemFlags struct {
	Remark    *string `name:"remark" help:"Free text, e.g. the customer (one line, up to 200 characters)." placeholder:"TEXT"`
	Protocols *string `name:"protocols" help:"tcp, udp or tcp,udp (default both)." placeholder:"LIST"`
	Quota     *string `name:"quota" help:"Bytes per billing period: 500GiB, 1TB (KB/MB/GB/TB x1000, KiB/MiB/GiB/TiB x1024)." placeholder:"SIZE"`
	Billing   *string `name:"billing" help:"What uses the quota: out, in, sum, max or relay (default sum)." placeholder:"MODE"`
	ResetDay  *string `name:"reset-day" help:"Day of the month the period resets, 1-31 (clamped to short months); 0 never (default 1)." placeholder:"DAY"`
	Expires   *string `name:"expires" help:"Block the item from 00:00 of this day: YYYY-MM-DD." placeholder:"DATE"`
	Rate      *string `name:"rate" help:"Bandwidth limit both ways: 100Mbps, 1Gbps." placeholder:"RATE"`
	RateIn    *string `name:"rate-in" help:"Limit of traffic to the port (client uploads)." placeholder:"RATE"`
	RateOut   *string `name:"rate-out" help:"Limit of traffic from the port (client downloads)." placeholder:"RATE"`
	Burst     *string `name:"burst" help:"Burst size of the limit (default derived from the rate)." placeholder:"SIZE"`
}

// fields lists the given flags as config keys, in the YAML key order.
// "none" (for set) becomes an empty value: remove the setting.
func (f *ItemFlags) fields(p *i18n.Printer, allowNone bool) ([]configedit.Field, error) {
	var out []configedit.Field
	for _, kv := range []struct {
		key string
		v   *string
	}{{"remark", f.Remark}, {"protocols", f.Protocols}, {"quota", f.Quota}, {"billing", f.Billing},
		{"reset_day", f.ResetDay}, {"expires", f.Expires}, {"rate", f.Rate}, {"rate_in", f.RateIn},
		{"rate_out", f.RateOut}, {"burst", f.Burst}} {
		if kv.v == nil {
			continue
		}
		v := *kv.v
		if strings.EqualFold(v, "none") {
			if !allowNone {
				return nil, p.Errorf(i18n.FlagNoneAdd, strings.ReplaceAll(kv.key, "_", "-"))
			}
			v = ""
		} else if v == "" {
			return nil, p.Errorf(i18n.FlagNeedsValue, strings.ReplaceAll(kv.key, "_", "-"))
		}
		if kv.key == "remark" && v != "" {
			if err := config.CheckNewRemark(v); err != nil {
				return nil, p.Errorf(i18n.FlagValueErr, "remark", err)
			}
		}
		out = append(out, configedit.Field{Key: kv.key, Value: v})
	}
	return out, nil
}

// AddCmd adds an item.
type AddCmd struct {
	Ports string `arg:"" help:"A port (443), a range (5000-5100) or a group (443,5000-5100)."`
	ItemFlags
}

func (c *AddCmd) Run(g *Globals, env *Env) error {
	fields, err := c.fields(env.P, false)
	if err != nil {
		return err
	}
	if _, err := portspec.Parse(c.Ports); err != nil {
		return err
	}
	return editConfig(g, env, true, func(src []byte) ([]byte, error) {
		return configedit.AddItem(src, c.Ports, fields)
	}, env.P.Sprintf(i18n.EditAdded, c.Ports))
}

// SetCmd changes an item.
type SetCmd struct {
	Ports string `arg:"" help:"The item, by its ports (any spelling of a group)."`
	ItemFlags
}

func (c *SetCmd) Run(g *Globals, env *Env) error {
	fields, err := c.fields(env.P, true)
	if err != nil {
		return err
	}
	if len(fields) == 0 {
		return env.P.Errorf(i18n.NothingToChange)
	}
	return editConfig(g, env, false, func(src []byte) ([]byte, error) {
		return configedit.SetFields(src, c.Ports, fields)
	}, env.P.Sprintf(i18n.EditChanged, c.Ports))
}

// RmCmd removes an item.
type RmCmd struct {
	Ports string `arg:"" help:"The item, by its ports."`
	Yes   bool   `name:"yes" short:"y" help:"Remove without asking (needed when not on a terminal)."`
}

func (c *RmCmd) Run(g *Globals, env *Env) error {
	if !c.Yes {
		var show []string
		if st := liveStatus(env.Ctx, g); st != nil && env.Interactive {
			if it, ok := findItem(st, c.Ports); ok {
				show = append(show, periodLine(env.P, it, statusLocation(st)))
			}
		}
		if err := confirm(env, "dog rm "+c.Ports, show, env.P.Sprintf(i18n.ConfirmRm, c.Ports)); err != nil {
			return err
		}
	}
	return editConfig(g, env, false, func(src []byte) ([]byte, error) {
		return configedit.RemoveItem(src, c.Ports)
	}, env.P.Sprintf(i18n.EditRemoved, c.Ports))
}

// editConfig applies edit to the config file (applyEdit) and says so:
// done ("added 443") in the file, and whether the enforcer applied it.
func editConfig(g *Globals, env *Env, mayCreate bool, edit func([]byte) ([]byte, error), done string) error {
	res, err := applyEdit(g, env, mayCreate, edit)
	if err != nil {
		return err
	}
	key := i18n.EditApplied
	if res.pending {
		key = i18n.EditPending
	}
	env.P.Fprintln(env.Out, key, done, res.path, env.P.Count(res.items, i18n.ItemsOne, i18n.ItemsMany))
	for _, w := range res.warnings {
		env.P.Fprintln(env.Err, i18n.Warning, env.P.Message(w)) // internal/config's English
	}
	return nil
}

// editResult is what applyEdit changed: the file, its number of items, and
// whether the change waits for the enforcer to start (pending) rather than
// applied now.
type editResult struct {
	path    string
	items   int
	pending bool
	// warnings are the edited config's warnings the file did not have
	// (an expiry date that has come: blocked at once).
	warnings []string
}

// applyEdit applies edit to the config file: validated as the daemon
// validates it, written atomically with its mode kept, then reloaded by the
// enforcer. If the enforcer refuses the result (it merges --port flags this
// command cannot see), the file is put back: an invalid edit changes
// nothing.
func applyEdit(g *Globals, env *Env, mayCreate bool, edit func([]byte) ([]byte, error)) (editResult, error) {
	fe, err := fileedit.Begin(g.Config, mayCreate)
	if err != nil {
		var se *fileedit.StepError
		if errors.As(err, &se) {
			switch se.Step {
			case fileedit.StepResolve:
				return editResult{}, env.P.Errorf(i18n.ConfigFileErr, se.Err)
			case fileedit.StepMkdir:
				return editResult{}, env.P.Errorf(i18n.ConfigDirErr, se.Err)
			case fileedit.StepRead:
				return editResult{}, env.P.Errorf(i18n.ReadConfigErr, se.Err)
			}
		}
		return editResult{}, err
	}
	path, old := fe.Path, fe.Old()
	if !fe.Existed() && !mayCreate {
		return editResult{}, env.P.Errorf(i18n.ReadConfigErr, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist})
	}
	edited, err := edit(old)
	if err != nil {
		return editResult{}, env.P.Errorf(i18n.EditFailed, path, err)
	}
	cfg, err := config.Parse(edited, path)
	if err != nil {
		return editResult{}, env.P.Errorf(i18n.EditInvalid, err)
	}
	if err := fe.Write(edited); err != nil {
		return editResult{}, err
	}
	res := editResult{path: path, items: len(cfg.Items), warnings: newWarnings(old, cfg, path, env.Now())}
	err = adminapi.NewClient(g.Socket).Reload(env.Ctx)
	switch {
	case err == nil:
	case errors.Is(err, adminapi.ErrNotRunning):
		res.pending = true
	default:
		if rerr := fe.Undo(); rerr != nil {
			return editResult{}, env.P.Errorf(i18n.EditRefusedRestoreFailed, err, rerr)
		}
		return editResult{}, env.P.Errorf(i18n.EditRefused, err)
	}
	return res, nil
}

// newWarnings are the warnings of the edited config that the file did not
// have before, compared without the file:line each starts with (an edit
// moves the lines below it).
func newWarnings(old []byte, edited *config.Config, path string, now time.Time) []string {
	withoutPlace := func(w string) string {
		if _, rest, ok := strings.Cut(w, ": item "); ok {
			return rest
		}
		return w
	}
	had := map[string]bool{}
	if prev, err := config.Parse(old, path); err == nil {
		for _, w := range prev.Warnings(now) {
			had[withoutPlace(w)] = true
		}
	}
	var out []string
	for _, w := range edited.Warnings(now) {
		if !had[withoutPlace(w)] {
			out = append(out, w)
		}
	}
	return out
}

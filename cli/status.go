package cli

import (
	"errors"
	"fmt"
	"os"
	"time"

	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/i18n"
	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/nftread"
	"port-traffic-dog/internal/state"
)

// StatusCmd shows every item.
type StatusCmd struct {
	JSON     bool          `name:"json" help:"Print JSON (the admin API's status object)."`
	StateDir string        `name:"state-dir" help:"Where to find the last checkpoint when the enforcer is down (default: the config's state_dir)." placeholder:"DIR"`
	Watch    bool          `name:"watch" short:"w" help:"Redraw the table every --interval with live in/out rates, until Ctrl-C."`
	Interval time.Duration `name:"interval" default:"2s" help:"How often --watch reads the status (at least 1s)."`
}

func (c *StatusCmd) Run(g *Globals, env *Env) error {
	if c.Watch {
		return c.watch(g, env)
	}
	st, err := adminapi.NewClient(g.Socket).Status(env.Ctx)
	live := true
	if errors.Is(err, adminapi.ErrNotRunning) {
		fmt.Fprintln(env.Err, "dog: "+env.P.Sprintf(i18n.ErrNotRunning))
		live = false
		var note string
		st, note, err = c.offline(g, env)
		if err != nil {
			return env.P.Errorf(i18n.NoCheckpoint, err)
		}
		fmt.Fprintln(env.Err, "dog: "+note)
	}
	if err != nil {
		return err
	}
	if c.JSON {
		return writeJSON(env.Out, st)
	}
	if live {
		if err := configInvalid(st.Config); err != nil {
			env.P.Fprintln(env.Err, i18n.StatusConfigInvalid, st.Config, err)
		}
	}
	return renderStatus(env.Out, st, live, env.style())
}

// configInvalid is why the config file the enforcer reads does not load,
// nil when it does or dog cannot read it. A hand edit that does not
// validate leaves the enforcer on what it applied last, which the status
// then shows as if the edit had not been made.
func configInvalid(path string) error {
	if path == "" {
		return nil
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil // not dog's to read (admin_group); the enforcer logs it
	}
	_, err = config.Parse(src, path)
	return err
}

// offline builds the status from the last checkpoint and, where dog may
// read it, the kernel's live counters: the table keeps counting and
// blocking while the enforcer is stopped.
func (c *StatusCmd) offline(g *Globals, env *Env) (*adminapi.Status, string, error) {
	dir := c.StateDir
	loc := time.Local
	if dir == "" {
		dir = config.DefaultStateDir
		if cfg, err := config.Load(g.Config); err == nil {
			dir, loc = cfg.StateDir, cfg.Location
		}
	}
	saved, _, err := state.Load(dir)
	if err != nil {
		return nil, "", env.P.Errorf(i18n.StateDirErr, dir, err)
	}
	if saved.Timezone != "" {
		if l, err := time.LoadLocation(saved.Timezone); err == nil {
			loc = l
		}
	}
	now := env.Now()
	objs, kerr := nftread.Read(env.NetNS, layout.Table)
	savedAt := saved.SavedAt.In(loc).Format("2006-01-02 15:04:05")
	note := env.P.Sprintf(i18n.OfflineLive, savedAt)
	switch {
	case errors.Is(kerr, nftread.ErrNoTable):
		note = env.P.Sprintf(i18n.OfflineNoTable, layout.Table, savedAt)
		objs = nil
	case kerr != nil:
		note = env.P.Sprintf(i18n.OfflineKernelErr, kerr, savedAt)
		objs = nil
	}
	st := &adminapi.Status{Time: now, Timezone: saved.Timezone, LastCheckpoint: saved.SavedAt, Stats: saved.Stats}
	conv := func(it state.Item) adminapi.Item {
		if objs != nil {
			if v, ok := objs.Counters[layout.Counter(it.ID, layout.In)]; ok {
				it.In = v
			}
			if v, ok := objs.Counters[layout.Counter(it.ID, layout.Out)]; ok {
				it.Out = v
			}
		}
		return adminapi.ItemOf(&it, it.ExpiredAt(now))
	}
	for _, it := range saved.Items {
		st.Items = append(st.Items, conv(it))
	}
	if saved.Host != nil {
		st.Host = conv(*saved.Host)
	} else {
		st.Host = adminapi.Item{Ports: config.HostPort, ID: layout.HostID}
	}
	return st, note, nil
}

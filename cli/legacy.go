package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/archive"
	"port-traffic-dog/internal/atomicfile"
	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/configedit"
	"port-traffic-dog/internal/i18n"
	"port-traffic-dog/internal/legacy"
	"port-traffic-dog/internal/notify"
	"port-traffic-dog/internal/state"
)

// ImportLegacyCmd carries a port-traffic-dog.sh installation over.
type ImportLegacyCmd struct {
	From     string `name:"from" default:"/etc/port-traffic-dog" help:"The script's directory, or a copy of it (then only its settings and traffic_data.json counters are taken)." placeholder:"DIR"`
	DryRun   bool   `name:"dry-run" help:"Print the report and stop."`
	Yes      bool   `name:"yes" short:"y" help:"Do not ask for confirmation."`
	Doubled  string `name:"doubled" enum:",yes,no" default:"" help:"When the script's table is not live here: yes if it was 1.2.5 (double mode counted every byte twice), no if older." placeholder:"yes|no"`
	RelayAs  string `name:"relay-as" enum:",out,sum,max,relay" default:"" help:"Our billing for ports in the script's relay mode where it cannot be told or has no equivalent (1.2.4's in + 2 × out): relay ((in + out) × 2, as 1.2.4.3), sum, max or out." placeholder:"MODE"`
	Crontab  string `name:"crontab" help:"Edit this crontab file instead of root's (through the crontab command)." placeholder:"FILE"`
	Shortcut string `name:"shortcut" default:"/usr/local/bin/dog" help:"The script's shortcut, removed if it is the script or a link to it." placeholder:"PATH"`
	// The script's Telegram settings are set up as dog notify telegram
	// would, where Prometheus and Alertmanager are installed.
	ForceAlertmanager bool `name:"force-alertmanager" help:"Replace an alertmanager.yml that dog did not write to carry the script's Telegram settings (a backup is kept), as dog notify telegram --force."`
	// The script's messages were Chinese: carrying them in English would
	// change what its users read.
	MessageLang string `name:"message-lang" enum:"en,zh" default:"zh" help:"Language of the carried Telegram messages: zh (as the script sent them) or en." placeholder:"en|zh"`
	notifyPaths `embed:""`
}

// legacyRun is one import-legacy run: what was read and planned.
type legacyRun struct {
	c       *ImportLegacyCmd
	env     *Env
	cfg     *legacy.Config
	table   *legacy.Table // nil: not live here
	items   []legacy.Item
	history []legacy.HistoryEntry
	shaping []legacy.Shaping
	cron    string   // the crontab as read
	keep    []string // its lines that stay
	cronOld []string // the script's lines
	script  bool     // Shortcut is the script's
}

func (c *ImportLegacyCmd) Run(g *Globals, env *Env) error {
	cfg, err := legacy.LoadConfig(c.From)
	if errors.Is(err, legacy.ErrNoConfig) {
		if done := legacy.Retired(c.From); len(done) > 0 {
			env.P.Fprintln(env.Out, i18n.LegacyAlreadyMigrated, c.From, filepath.Base(done[len(done)-1]))
		} else {
			env.P.Fprintln(env.Out, i18n.LegacyNoConfig, c.From)
		}
		if _, err := legacy.ReadTable(env.NetNS, legacy.DefaultTable); err == nil {
			// Its quota rules would go on dropping traffic.
			env.P.Fprintln(env.Out, i18n.LegacyTableLeft, legacy.DefaultTable)
		}
		return nil
	}
	if err != nil {
		return env.P.Errorf(i18n.LegacyNothingChanged, err)
	}
	r := &legacyRun{c: c, env: env, cfg: cfg}
	if err := r.read(); errors.Is(err, fs.ErrPermission) {
		return env.P.Errorf(i18n.LegacyNeedsRoot)
	} else if err != nil {
		return env.P.Errorf(i18n.LegacyNothingChanged, err)
	}

	client := adminapi.NewClient(g.Socket)
	st, stErr := client.Status(env.Ctx)
	var ourText []byte
	var ours *config.Config
	if stErr == nil {
		if st.Config == "" {
			return env.P.Errorf(i18n.LegacyFlagsOnly)
		}
		if ourText, err = os.ReadFile(st.Config); err != nil && !os.IsNotExist(err) {
			return env.P.Errorf(i18n.LegacyReadOurs, err)
		}
		if ours, err = config.Parse(ourText, st.Config); err != nil {
			return env.P.Errorf(i18n.LegacyOursInvalid, err)
		}
	}
	planErr := r.plan()
	r.report(stErr == nil)
	if planErr != nil {
		return env.P.Errorf(i18n.LegacyNotMigrated, planErr)
	}
	var withRates, withoutRates []byte
	if stErr == nil {
		if withRates, err = r.ourConfig(ourText, true); err == nil {
			withoutRates, err = r.ourConfig(ourText, false)
		}
		if err == nil {
			_, err = config.Parse(withRates, st.Config)
		}
		if err != nil {
			return env.P.Errorf(i18n.LegacyDoesNotFit, st.Config, err)
		}
	}
	if c.DryRun {
		env.P.Fprintln(env.Out, i18n.LegacyDryRun)
		return nil
	}
	if errors.Is(stErr, adminapi.ErrNotRunning) {
		return env.P.Errorf(i18n.LegacyNeedsEnforcer, stErr)
	}
	if stErr != nil {
		return stErr
	}
	if !c.Yes {
		if err := confirm(env, "dog import-legacy", nil, env.P.Sprintf(i18n.ConfirmMigrate)); err != nil {
			return err
		}
	}
	return r.migrate(client, st.Config, ours, withRates, withoutRates)
}

// read gathers the live setup: the table, if it is this config's, its tc
// setup and cron lines.
func (r *legacyRun) read() error {
	t, err := legacy.ReadTable(r.env.NetNS, r.cfg.Table)
	switch {
	case errors.Is(err, legacy.ErrNoTable):
	case err != nil:
		return err
	default:
		r.table = t
		for _, p := range r.cfg.Ports {
			if _, ok := t.Counters[p.CounterBase()+"_out"]; !ok {
				// Not this config's table (or half of it): touch nothing.
				r.env.P.Fprintln(r.env.Err, i18n.LegacyForeignTable,
					r.cfg.Table, p.CounterBase(), legacy.TrafficDataName)
				r.table = nil
				break
			}
		}
	}
	if r.table == nil {
		return nil
	}
	if r.shaping, err = legacy.FindShaping(r.env.NetNS); err != nil {
		return err
	}
	if r.cron, err = (legacy.Crontab{File: r.c.Crontab}).Read(); err != nil {
		return err
	}
	r.keep, r.cronOld = legacy.SplitCron(r.cron)
	r.script, err = legacy.IsScript(r.c.Shortcut)
	return err
}

func (r *legacyRun) plan() error {
	var opts legacy.Options
	if r.c.Doubled != "" {
		d := r.c.Doubled == "yes"
		opts.Doubled = &d
	}
	opts.RelayAs = config.Billing(r.c.RelayAs)
	var src legacy.Source
	if r.table != nil {
		src.Table = r.table
	} else {
		b, err := legacy.LoadBackup(r.c.From, r.cfg)
		if err != nil {
			return err
		}
		src.Backup = b
	}
	h, err := legacy.LoadHistory(r.c.From)
	if err != nil {
		return err
	}
	r.history = h
	r.items, err = legacy.Plan(r.cfg, src, opts)
	return err
}

// report prints what the migration will do, side by side with the script's
// settings.
func (r *legacyRun) report(enforcer bool) {
	w := r.env.Out
	where := r.env.P.Sprintf(i18n.LegacyWhereLive, r.cfg.Table)
	if r.table == nil {
		where = r.env.P.Sprintf(i18n.LegacyWhereNotLive, legacy.TrafficDataName)
	}
	r.env.P.Fprintln(w, i18n.LegacyHeader, r.c.From, where)
	r.env.P.Fprintln(w, i18n.LegacyPorts, r.env.P.Count(len(r.cfg.Ports), i18n.LegacyPortOne, i18n.LegacyPortsMany))
	for i := range r.items {
		it := &r.items[i]
		fmt.Fprintf(w, "\n  %s\n", it.Ports)
		for _, l := range it.Describe() {
			fmt.Fprintln(w, "    "+r.env.P.Message(l))
		}
	}
	fmt.Fprintln(w)
	if r.cfg.GlobalBilling != "" {
		r.env.P.Fprintln(w, i18n.LegacyGlobalBilling, r.cfg.GlobalBilling)
	}
	if n := len(legacy.History(r.history, r.items)); n > 0 {
		r.env.P.Fprintln(w, i18n.LegacyHistory, r.env.P.Count(n, i18n.LegacyResetOne, i18n.LegacyResetsMany), legacy.HistoryLogName, legacy.ReasonLegacy)
	}
	if t := r.cfg.Telegram; t != nil {
		r.env.P.Fprintf(w, i18n.LegacyTelegramHead, t.ChatID, t.ServerName, orOff(r.env.P, t.Interval))
		_, why := r.telegram(notifyEnv(r.env).Msg)
		switch {
		case t.Token == "" || t.ChatID == "":
			r.env.P.Fprintln(w, i18n.LegacyTelegramNothing)
		case why == nil:
			r.env.P.Fprintln(w, i18n.LegacyTelegramSetUp, r.c.AlertmanagerConfig, r.c.PrometheusConfig)
		case expected(why):
			r.env.P.Fprintln(w, i18n.LegacyTelegramNotHere, why)
		default:
			r.env.P.Fprintln(w, i18n.LegacyTelegramRefuses, whyText(r.env.P, why))
		}
	}
	if r.cfg.WeCom {
		r.env.P.Fprintln(w, i18n.LegacyWeCom)
	}
	if r.table != nil {
		r.env.P.Fprintf(w, i18n.LegacyToRemove, r.cronLines())
		for _, l := range r.cronOld {
			fmt.Fprintf(w, "\n    %s", l)
		}
		r.env.P.Fprintf(w, i18n.LegacyThenTable, r.cfg.Table)
		for _, s := range r.shaping {
			r.env.P.Fprintf(w, i18n.LegacyThenHTB, s.Link, r.env.P.Count(s.Classes, i18n.LegacyClassOne, i18n.LegacyClassesMany), r.env.P.Count(s.Filters, i18n.LegacyFilterOne, i18n.LegacyFiltersMany))
		}
		if r.script {
			r.env.P.Fprintf(w, i18n.LegacyThenShortcut, r.c.Shortcut)
		}
		fmt.Fprintln(w)
	}
	if !enforcer {
		r.env.P.Fprintln(w, i18n.LegacyNotChecked)
	}
}

func orOff(p *i18n.Printer, s string) string {
	if s == "" {
		return p.Sprintf(i18n.LegacyOff)
	}
	return p.Sprintf(i18n.LegacyEvery, s)
}

// cronLines counts the script's cron lines for the report.
func (r *legacyRun) cronLines() string {
	return r.env.P.Count(len(r.cronOld), i18n.LegacyCronLineOne, i18n.LegacyCronLinesMany)
}

// ourConfig is the enforcer's config with the script's ports appended.
func (r *legacyRun) ourConfig(text []byte, withRates bool) ([]byte, error) {
	var err error
	for i := range r.items {
		it := &r.items[i]
		var fields []configedit.Field
		for _, f := range it.Fields(withRates) {
			fields = append(fields, configedit.Field{Key: f[0], Value: f[1]})
		}
		if text, err = configedit.AddItem(text, it.Ports, fields); err != nil {
			return nil, r.env.P.Errorf(i18n.LegacyPortErr, it.Ports, err)
		}
	}
	return text, nil
}

// migrate runs the steps in order. Until the script's setup is removed a
// failure leaves everything as it was; the enforcer's import is undone by
// importing what it had before.
func (r *legacyRun) migrate(client *adminapi.Client, cfgPath string, ours *config.Config, withRates, withoutRates []byte) error {
	w, now := r.env.Out, r.env.Now()
	backup, err := legacy.BackupDir(r.c.From, now)
	if err != nil {
		return r.env.P.Errorf(i18n.LegacyNothingChanged, err)
	}
	r.env.P.Fprintln(w, i18n.LegacyBackedUp, r.c.From, backup)

	// The script's counters went on counting while the operator read the
	// report: take them again, a moment before ours take over.
	if r.table != nil {
		t, err := legacy.ReadTable(r.env.NetNS, r.cfg.Table)
		if err != nil {
			return r.env.P.Errorf(i18n.LegacyReread, err)
		}
		r.table = t
		if err := r.plan(); err != nil {
			return r.env.P.Errorf(i18n.LegacyChanged, err)
		}
	}
	cp, err := client.Checkpoint(r.env.Ctx)
	if err != nil {
		return r.env.P.Errorf(i18n.LegacyCheckpoint, err)
	}
	before, err := os.ReadFile(cfgPath)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	// The limits go in after the script's HTB root is gone: our shaper
	// refuses an interface that carries another shaper's classes.
	text := withRates
	if len(r.shaping) > 0 {
		text = withoutRates
	}
	last := legacy.LastReset(r.history)
	next := *cp.State
	next.Items = append([]state.Item(nil), cp.State.Items...)
	for i := range r.items {
		it := &r.items[i]
		next.Items = append(next.Items, it.StateItem(now, ours.Location, last[it.Legacy.Key]))
	}
	undo, err := r.archive(before, cp.State, nil, now)
	if err != nil {
		return err
	}
	data, err := r.archive(text, &next, legacy.History(r.history, r.items), now)
	if err != nil {
		return err
	}
	if _, err := client.Import(r.env.Ctx, data, false); err != nil {
		return r.env.P.Errorf(i18n.LegacyRefused, err)
	}
	r.env.P.Fprintln(w, i18n.LegacyWrote, len(r.items), cfgPath, r.blocked())
	rollback := func(cause error) error {
		if _, err := client.Import(r.env.Ctx, undo, false); err != nil {
			return r.env.P.Errorf(i18n.LegacyUndoFailed, cause, err, backup)
		}
		return r.env.P.Errorf(i18n.LegacyUndone, cause)
	}

	if r.table != nil {
		if err := r.removeLegacy(rollback); err != nil {
			return err
		}
	} else {
		r.env.P.Fprintln(w, i18n.LegacyNotLive)
	}
	retired, err := legacy.RetireConfig(r.c.From, now)
	if err != nil {
		return r.env.P.Errorf(i18n.LegacyRenameYourself, err)
	}
	r.env.P.Fprintln(w, i18n.LegacyRenamed, retired)

	if len(r.shaping) > 0 && !bytes.Equal(text, withRates) {
		g := &Globals{Socket: client.Socket, Config: cfgPath}
		res, err := applyEdit(g, r.env, false, func([]byte) ([]byte, error) {
			cur, err := os.ReadFile(cfgPath)
			if err != nil {
				return nil, err
			}
			return r.addRates(cur)
		})
		if err != nil {
			return r.env.P.Errorf(i18n.LegacyRatesFailed, err)
		}
		// A step line of its own: the step's number leads it in every
		// language (edit's sentence would put the file first in Chinese).
		key := i18n.LegacyRatesAdded
		if res.pending {
			key = i18n.LegacyRatesPending
		}
		r.env.P.Fprintln(w, key, res.path, r.env.P.Count(res.items, i18n.ItemsOne, i18n.ItemsMany))
	} else if err := client.Reload(r.env.Ctx); err != nil {
		return r.env.P.Errorf(i18n.LegacyReloadErr, err)
	} else {
		r.env.P.Fprintln(w, i18n.LegacyReloaded)
	}
	notifyErr := r.notifications(cfgPath)
	r.env.P.Fprintln(w, i18n.LegacyDone)
	return notifyErr
}

func (r *legacyRun) blocked() string {
	var b []string
	for _, it := range r.items {
		if it.Blocked || it.OverQuota() {
			b = append(b, it.Ports)
		}
	}
	if len(b) == 0 {
		return r.env.P.Sprintf(i18n.LegacyNone)
	}
	return strings.Join(b, ", ")
}

// removeLegacy removes the cron lines first (a cron run of the script
// would re-create its table), then the table, the qdiscs and the shortcut.
func (r *legacyRun) removeLegacy(rollback func(error) error) error {
	w := r.env.Out
	cron := legacy.Crontab{File: r.c.Crontab}
	if len(r.cronOld) > 0 {
		if err := cron.Write(strings.Join(r.keep, "")); err != nil {
			return rollback(r.env.P.Errorf(i18n.LegacyRmCron, err))
		}
	}
	if err := legacy.DeleteTable(r.env.NetNS, r.cfg.Table); err != nil {
		err = r.env.P.Errorf(i18n.LegacyRmTable, err)
		if len(r.cronOld) > 0 {
			if cerr := cron.Write(r.cron); cerr != nil {
				return r.env.P.Errorf(i18n.LegacyCronBackFailed, err, cerr)
			}
		}
		return rollback(err)
	}
	r.env.P.Fprintln(w, i18n.LegacyRemoved, r.cronLines(), r.cfg.Table)
	var errs []error
	for _, s := range r.shaping {
		if err := legacy.RemoveShaping(r.env.NetNS, s); err != nil {
			errs = append(errs, r.env.P.Errorf(i18n.LegacyRmQdisc, err, s.Link))
			continue
		}
		r.env.P.Fprintln(w, i18n.LegacyRemovedHTB, s.Link)
	}
	if r.script {
		if err := os.Remove(r.c.Shortcut); err != nil {
			errs = append(errs, r.env.P.Errorf(i18n.LegacyRmShortcut, r.c.Shortcut, err))
		} else {
			r.env.P.Fprintln(w, i18n.LegacyRemovedShortcut, r.c.Shortcut)
		}
	}
	if len(errs) > 0 {
		return r.env.P.Errorf(i18n.LegacyPartlyLeft, errors.Join(errs...))
	}
	return nil
}

// addRates sets the held-back limits in text.
func (r *legacyRun) addRates(text []byte) ([]byte, error) {
	var err error
	for i := range r.items {
		it := &r.items[i]
		if it.RateOut == 0 {
			continue
		}
		if text, err = configedit.SetFields(text, it.Ports, []configedit.Field{{Key: "rate_out", Value: it.RateText()}}); err != nil {
			return nil, err
		}
	}
	return text, nil
}

func (r *legacyRun) archive(cfg []byte, st *state.State, hist []state.Reset, now time.Time) ([]byte, error) {
	var buf bytes.Buffer
	err := archive.Write(&buf, archive.Input{ToolVersion: "port-traffic-dog.sh", Host: "port-traffic-dog.sh in " + r.c.From,
		Created: now.UTC(), Config: cfg, State: st, History: hist})
	return buf.Bytes(), err
}

// notCarried: the script's Telegram settings cannot be set up here with
// dog notify, and the run is no worse for it.
type notCarried struct{ error }

// expected: why is a reason to print the command, not a failure.
func expected(why error) bool {
	return errors.As(why, new(notCarried)) || errors.Is(why, notify.ErrNotInstalled)
}

// whyText is why in p's language, with import-legacy's name for dog
// notify's --force.
func whyText(p *i18n.Printer, why error) string {
	if errors.Is(why, notify.ErrForeignAlertmanager) {
		return p.Sprintf(i18n.LegacyForceAlertmanager, why)
	}
	return p.Error(why)
}

// telegram is the script's Telegram settings as dog notify telegram's
// options, and why they cannot be set up with them here (nil: they can).
func (r *legacyRun) telegram(m *notify.Messages) (notify.TelegramOptions, error) {
	t := r.cfg.Telegram
	o := notify.TelegramOptions{Paths: r.c.paths(), ChatID: t.ChatID, Token: t.Token, ServerName: t.ServerName,
		ReportEvery: orDefault(t.Interval, "off"), Language: r.c.MessageLang, Force: r.c.ForceAlertmanager}
	if !t.Enabled {
		return o, notCarried{r.env.P.Errorf(i18n.LegacyTelegramDisabled)}
	}
	// The script also took an @channel name, which Alertmanager does not.
	if _, err := notify.ParseChatID(t.ChatID, m); err != nil {
		return o, notCarried{err}
	}
	return o, notify.CheckTelegram(m, o)
}

// notifications carries the script's Telegram settings into Alertmanager
// and Prometheus with dog notify telegram's setup. Where that cannot be
// done it writes the token to a 0600 file and prints the command; a setup
// that refuses or fails is the run's error (the ports are migrated by
// then and stay so).
func (r *legacyRun) notifications(cfgPath string) error {
	w := r.env.Out
	if r.cfg.WeCom {
		r.env.P.Fprintln(w, i18n.LegacyWeComNot)
	}
	t := r.cfg.Telegram
	if t == nil || t.Token == "" || t.ChatID == "" {
		return nil
	}
	e := notifyEnv(r.env)
	o, why := r.telegram(e.Msg)
	if why == nil {
		r.env.P.Fprintln(w, i18n.LegacyTelegramStep)
		if why = notify.Telegram(r.env.Ctx, e, o); why == nil {
			return nil
		}
	}
	if expected(why) {
		r.env.P.Fprintln(w, i18n.LegacyTelegramNotSetUp, why)
	} else {
		r.env.P.Fprintln(w, i18n.LegacyTelegramFailed, whyText(r.env.P, why))
	}
	tokenFile := filepath.Join(filepath.Dir(cfgPath), "telegram-bot-token")
	if err := atomicfile.WriteFile(tokenFile, []byte(t.Token+"\n"), 0o600); err != nil {
		r.env.P.Fprintln(w, i18n.LegacyTokenFailed, err)
	} else {
		// A group's id is negative: --chat-id=-100… keeps it a value.
		cmd := "dog notify telegram --chat-id=" + shellQuote(t.ChatID) + " --token-file " + shellQuote(tokenFile)
		if t.ServerName != "" {
			cmd += " --server-name " + shellQuote(t.ServerName)
		}
		cmd += " --report-every " + o.ReportEvery + " --message-lang " + o.Language
		r.env.P.Fprintln(w, i18n.LegacyTokenDone, tokenFile, cmd)
	}
	if expected(why) {
		return nil
	}
	return r.env.P.Errorf(i18n.LegacyTelegramNotCarried, why)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./@:") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

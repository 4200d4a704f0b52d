package cli

import (
	"bufio"
	"context"
	"strings"
	"time"

	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/i18n"
	"port-traffic-dog/internal/portspec"
	"port-traffic-dog/internal/units"
)

// confirm shows what a destructive command is about to do and asks on
// the terminal; without one it refuses (a script says --yes), so nothing
// is ever removed or reset by a question nobody saw.
func confirm(env *Env, command string, show []string, question string) error {
	if !env.Interactive || env.In == nil {
		return env.P.Errorf(i18n.ConfirmNoTTY, command)
	}
	cond := env.style().cond()
	for _, l := range show {
		lines := []string{l}
		if env.Width > 0 {
			// Wrapped here: the terminal would cut a size in two.
			lines = wrapJoin(joinUnits(strings.Split(l, " ")), " ", env.Width-2, "", cond)
		}
		for _, l := range lines {
			env.P.Fprintln(env.Out, i18n.Indented, l)
		}
	}
	env.P.Fprintf(env.Out, i18n.ConfirmPrompt, question)
	answer, _ := bufio.NewReader(env.In).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes", "是":
		return nil
	}
	return env.P.Errorf(i18n.Cancelled)
}

// periodLine is an item's open period as a confirmation shows it.
func periodLine(p *i18n.Printer, it adminapi.Item, loc *time.Location) string {
	use := p.Sprintf(i18n.PeriodUse, it.Ports, remark(it.Remark), it.PeriodStart.In(loc).Format("2006-01-02 15:04"),
		units.FormatBytes(it.PeriodIn), units.FormatBytes(it.PeriodOut), units.FormatBytes(it.Billable))
	if it.Quota > 0 {
		use += p.Sprintf(i18n.PeriodOfQuota, units.FormatBytes(it.Quota))
	}
	return use
}

// findItem is the status's item whose ports are spec in any spelling.
func findItem(st *adminapi.Status, spec string) (adminapi.Item, bool) {
	want, err := portspec.Parse(spec)
	if err != nil {
		return adminapi.Item{}, false
	}
	for _, it := range st.Items {
		if got, err := portspec.Parse(it.Ports); err == nil && got.String() == want.String() {
			return it, true
		}
	}
	return adminapi.Item{}, false
}

// liveStatus is the enforcer's status, nil when it does not run (the
// caller then shows less, or fails later with the enforcer's own error).
func liveStatus(ctx context.Context, g *Globals) *adminapi.Status {
	st, err := adminapi.NewClient(g.Socket).Status(ctx)
	if err != nil {
		return nil
	}
	return st
}

package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/i18n"
)

// MinWatchInterval bounds how often a live view reads the status: one read
// costs about 100 ms of the enforcer's lock at 10,000 items.
const MinWatchInterval = time.Second

// rate is an item's traffic between two status samples, in bits per second.
type rate struct{ in, out uint64 }

// sampler turns successive statuses into rates.
type sampler struct {
	at   time.Time
	prev map[string][2]uint64 // item ID → in, out bytes
}

// sample takes st, read at at, and returns every item's rate since the
// previous sample (none on the first).
func (s *sampler) sample(st *adminapi.Status, at time.Time) map[string]rate {
	cur := make(map[string][2]uint64, len(st.Items)+1)
	rates := make(map[string]rate, len(st.Items)+1)
	dt := at.Sub(s.at).Seconds()
	for _, it := range append(st.Items, st.Host) {
		now := [2]uint64{it.In.Bytes, it.Out.Bytes}
		cur[it.ID] = now
		if p, ok := s.prev[it.ID]; ok && dt > 0 {
			rates[it.ID] = rate{in: perSecond(p[0], now[0], dt), out: perSecond(p[1], now[1], dt)}
		}
	}
	s.prev, s.at = cur, at
	return rates
}

func perSecond(from, to uint64, seconds float64) uint64 {
	if to < from { // the item was removed and added again: no rate yet
		return 0
	}
	return uint64(float64(to-from) * 8 / seconds)
}

// watch redraws the status table every interval until the context ends.
func (c *StatusCmd) watch(g *Globals, env *Env) error {
	if c.Interval < MinWatchInterval {
		return env.P.Errorf(i18n.WatchInterval, c.Interval, MinWatchInterval)
	}
	client := adminapi.NewClient(g.Socket)
	var smp sampler
	tick := time.NewTicker(c.Interval)
	defer tick.Stop()
	for {
		// The frame's text is made terminal-safe (remarks, errors); the
		// cursor moves around it are dog's own, written as they are.
		var safe strings.Builder
		b := termSafe{&safe}
		st, err := client.Status(env.Ctx)
		if env.Ctx.Err() != nil {
			return nil
		}
		if err != nil {
			// The enforcer restarting is no reason to stop watching.
			fmt.Fprintln(b, "dog: "+env.P.Error(err))
		} else {
			s := env.style()
			s.rates = smp.sample(st, time.Now())
			if err := renderStatus(b, st, true, s); err != nil {
				return err
			}
		}
		// The rows above the footer's: the footer's newline, written on
		// the last row, would scroll the frame's first line off.
		frame := fitRows(safe.String(), env.Height-2, func(n int) string { return env.P.Sprintf(i18n.WatchMore, n) })
		frame += env.P.Sprintf(i18n.WatchFooter, c.Interval) + "\n"
		if env.Width > 0 {
			// Home, each line cleared to its end, the rest of the screen
			// cleared: no flicker of a full clear.
			frame = "\x1b[H" + strings.ReplaceAll(frame, "\n", "\x1b[K\n") + "\x1b[J"
		} else {
			frame += "\n"
		}
		if _, err := io.WriteString(env.raw, frame); err != nil {
			return err
		}
		select {
		case <-env.Ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// fitRows keeps the first lines of text that fit in rows (0 or less: all),
// the last of them saying how many more there are: a frame taller than
// the terminal would scroll its head (the time, the blocked count) off.
func fitRows(text string, rows int, more func(n int) string) string {
	lines := strings.SplitAfter(text, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if rows <= 0 || len(lines) <= rows {
		return text
	}
	keep := max(rows-1, 0)
	return strings.Join(lines[:keep], "") + more(len(lines)-keep) + "\n"
}

package nft

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"

	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/nftread"
	"port-traffic-dog/internal/state"
)

// ReadObjects dumps every counter and quota of the table. It returns
// ErrNoTable when the table is gone.
func (c *Conn) ReadObjects() (*nftread.Objects, error) {
	objs, err := nftread.Read(c.netns, layout.Table)
	if errors.Is(err, nftread.ErrNoTable) {
		return nil, ErrNoTable
	}
	return objs, err
}

// ReadHostCounters reads just the two host counters with two lookups, far
// cheaper than a dump: the enforcer uses it to skip checkpoints of an idle
// host and to notice a deleted table.
func (c *Conn) ReadHostCounters() ([2]state.Counter, error) {
	var out [2]state.Counter
	r, err := c.reader()
	if err != nil {
		return out, err
	}
	for _, d := range layout.Directions {
		o, err := r.GetObject(&nftables.CounterObj{Table: c.table, Name: layout.Counter(layout.HostID, d)})
		if err != nil {
			if errors.Is(err, unix.ENOENT) || strings.Contains(err.Error(), "no such file") {
				return out, ErrNoTable
			}
			return out, fmt.Errorf("read host counter: %w", err)
		}
		if co, ok := o.(*nftables.CounterObj); ok {
			out[d] = state.Counter{Bytes: co.Bytes, Packets: co.Packets}
		}
	}
	return out, nil
}

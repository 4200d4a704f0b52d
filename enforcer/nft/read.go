package nft

import (
	"errors"
	"fmt"

	"github.com/google/nftables"

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
	objs, err := c.ReadCounters([]string{layout.HostID})
	if err != nil {
		return [2]state.Counter{}, err
	}
	return [2]state.Counter{objs.Counters[layout.Counter(layout.HostID, layout.In)],
		objs.Counters[layout.Counter(layout.HostID, layout.Out)]}, nil
}

// ReadCounters reads the in and out counters of the given items, two
// lookups each: for a few items far cheaper than a dump of all of them. A
// missing counter is ErrNoTable: the table is gone or was tampered with.
func (c *Conn) ReadCounters(ids []string) (*nftread.Objects, error) {
	objs := &nftread.Objects{Counters: make(map[string]state.Counter, 2*len(ids))}
	r, err := nftables.New(nftables.WithNetNSFd(c.netns), nftables.AsLasting()) // one socket for all lookups
	if err != nil {
		return nil, err
	}
	defer func() { _ = r.CloseLasting() }()
	for _, id := range ids {
		for _, d := range layout.Directions {
			name := layout.Counter(id, d)
			o, err := r.GetObject(&nftables.CounterObj{Table: c.table, Name: name})
			if err != nil {
				if notFound(err) {
					return nil, ErrNoTable
				}
				return nil, fmt.Errorf("read counter %s: %w", name, err)
			}
			if co, ok := o.(*nftables.CounterObj); ok {
				objs.Counters[name] = state.Counter{Bytes: co.Bytes, Packets: co.Packets}
			}
		}
	}
	return objs, nil
}

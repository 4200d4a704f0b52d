package nft

import (
	"port-traffic-dog/enforcer/ruleset"
	"port-traffic-dog/internal/layout"
)

// Replace makes the kernel table exactly rs in one transaction, counters
// and quotas included: the table is deleted and re-created with every
// object at its Init values. Unlike Sync, nothing keeps its kernel value.
// It is how an import adopts another host's counters: the table on the new
// host already exists with fresh counters, and "the kernel wins" must not
// apply. Packets see the old table or the new one, never none.
func (c *Conn) Replace(rs *ruleset.Ruleset) error {
	x, err := c.begin() // declares the table, so deleting it cannot fail on a host without one
	if err != nil {
		return err
	}
	x.w.DelTable(c.table)
	x.w.AddTable(c.table)
	x.n += 2
	for _, o := range rs.Objects() {
		x.addObject(c.table, o)
	}
	if _, err := x.fill(c.table, rs, nil); err != nil {
		return err
	}
	return x.commit("replace nftables table " + layout.Table)
}

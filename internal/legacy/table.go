package legacy

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"port-traffic-dog/internal/nftread"
	"port-traffic-dog/internal/state"
)

// Table is what the script's live nftables table holds.
type Table struct {
	Name     string
	Counters map[string]state.Counter
	Quotas   map[string]nftread.Quota
	// Refs counts, per named counter, the rules that feed it, by chain and
	// protocol ("input/tcp"). 1.2.5 in double mode adds every counting rule
	// twice, so each packet is counted twice; the older versions once.
	Refs map[string]map[string]int
	// QuotaRefs counts the rules referencing each quota the same way: the
	// relay mode of 1.2.4 charged in once and out twice, that of 1.2.4.3
	// both twice.
	QuotaRefs map[string]map[string]int
}

// ErrNoTable: the table named in config.json does not exist here.
var ErrNoTable = errors.New("the legacy nftables table does not exist")

func conn(netns int) (*nftables.Conn, error) {
	if netns != 0 {
		return nftables.New(nftables.WithNetNSFd(netns))
	}
	return nftables.New()
}

// ReadTable reads the inet table name in the network namespace of fd
// netns (0: ours).
func ReadTable(netns int, name string) (*Table, error) {
	c, err := conn(netns)
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, fmt.Errorf("list nftables tables: %w", err)
	}
	var tab *nftables.Table
	for _, t := range tables {
		if t.Name == name {
			tab = t
		}
	}
	if tab == nil {
		return nil, fmt.Errorf("%w (inet %s)", ErrNoTable, name)
	}
	t := &Table{Name: name, Counters: map[string]state.Counter{}, Quotas: map[string]nftread.Quota{}, Refs: map[string]map[string]int{}, QuotaRefs: map[string]map[string]int{}}
	objs, err := nftread.Read(netns, name)
	switch {
	case errors.Is(err, nftread.ErrNoTable): // a table without objects
	case err != nil:
		return nil, fmt.Errorf("read the counters of inet %s: %w", name, err)
	default:
		t.Counters, t.Quotas = objs.Counters, objs.Quotas
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, fmt.Errorf("list the chains of inet %s: %w", name, err)
	}
	for _, ch := range chains {
		if ch.Table.Name != name {
			continue
		}
		rules, err := c.GetRules(tab, ch)
		if err != nil {
			return nil, fmt.Errorf("list the rules of inet %s %s: %w", name, ch.Name, err)
		}
		for _, r := range rules {
			proto, counter, quota := ruleShape(r.Exprs)
			for name, refs := range map[string]map[string]map[string]int{counter: t.Refs, quota: t.QuotaRefs} {
				if name == "" {
					continue
				}
				if refs[name] == nil {
					refs[name] = map[string]int{}
				}
				refs[name][ch.Name+"/"+proto]++
			}
		}
	}
	return t, nil
}

// ruleShape finds the protocol a rule matches (tcp, udp) and the named
// counter or quota it references.
func ruleShape(exprs []expr.Any) (proto, counter, quota string) {
	var l4reg uint32
	haveL4 := false
	for _, e := range exprs {
		switch e := e.(type) {
		case *expr.Meta:
			if e.Key == expr.MetaKeyL4PROTO {
				l4reg, haveL4 = e.Register, true
			}
		case *expr.Cmp:
			if haveL4 && e.Register == l4reg && len(e.Data) == 1 && proto == "" {
				switch e.Data[0] {
				case unix.IPPROTO_TCP:
					proto = "tcp"
				case unix.IPPROTO_UDP:
					proto = "udp"
				}
			}
		case *expr.Objref:
			switch e.Type {
			case unix.NFT_OBJECT_COUNTER:
				counter = e.Name
			case unix.NFT_OBJECT_QUOTA:
				quota = e.Name
			}
		}
	}
	return proto, counter, quota
}

// InboundCharges says how many times the rules of the input chain charge
// each packet to quota (0: none reference it).
func (t *Table) InboundCharges(quota string) int {
	n := 0
	for key, c := range t.QuotaRefs[quota] {
		if strings.HasPrefix(key, "input/") && c > n {
			n = c
		}
	}
	return n
}

// Doubling says how many times the rules feeding counter count each
// packet: 1 or 2 (every rule present twice, as 1.2.5 builds double mode),
// 0 when no rule feeds it, or an error for a shape no version builds.
func (t *Table) Doubling(counter string) (int, error) {
	refs := t.Refs[counter]
	if len(refs) == 0 {
		return 0, nil
	}
	n := -1
	for key, c := range refs {
		if n == -1 {
			n = c
		}
		if c != n || c > 2 {
			return 0, fmt.Errorf("the rules feeding counter %s have a shape no version of the script builds (%s: %d rules, others %d; see nft -a list table inet %s): pass --doubled yes if each packet is counted twice, no if once", counter, key, c, n, t.Name)
		}
	}
	return n, nil
}

// DeleteTable deletes the inet table name in netns.
func DeleteTable(netns int, name string) error {
	c, err := conn(netns)
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	c.DelTable(&nftables.Table{Name: name, Family: nftables.TableFamilyINet})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("delete table inet %s: %w", name, err)
	}
	return nil
}

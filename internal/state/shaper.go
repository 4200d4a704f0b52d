package state

// Shaper records what the enforcer's tc shaper set up on each interface it
// shapes. The enforcer needs it to undo its changes exactly (after a restart
// too: the root qdisc it replaced is gone from the kernel by then), and the
// exporter to know where to read the shaper's per-class statistics.
type Shaper struct {
	Links []ShapedLink `json:"links"`
}

// ShapedLink is one shaped interface.
type ShapedLink struct {
	// Name is the interface (an uplink).
	Name string `json:"name"`
	// Egress is set while the shaper's HTB is the interface's root qdisc.
	Egress bool `json:"egress,omitempty"`
	// IFB is the device ingress traffic is redirected to and shaped on; empty
	// when no item limits this interface's incoming traffic.
	IFB string `json:"ifb,omitempty"`
	// CreatedIngress is set when the shaper added the interface's ingress
	// qdisc (and so removes it again); an existing ingress or clsact qdisc is
	// shared and left in place.
	CreatedIngress bool `json:"created_ingress,omitempty"`
	// PrevRoot is the operator-configured root qdisc the HTB replaced, to be
	// put back when the last limit goes. Nil means the kernel's default root
	// (handle 0), which comes back by itself when the HTB is deleted.
	PrevRoot *Qdisc `json:"prev_root,omitempty"`
}

// Qdisc is a qdisc as the kernel dumps it: enough to create it again.
type Qdisc struct {
	Kind   string `json:"kind"`
	Handle uint32 `json:"handle"`
	// Options is the raw TCA_OPTIONS attribute the kernel dumped; classless
	// qdiscs accept their own dump back.
	Options []byte `json:"options,omitempty"`
}

// Link returns the record of the named interface, if any.
func (s *Shaper) Link(name string) (ShapedLink, bool) {
	if s == nil {
		return ShapedLink{}, false
	}
	for _, l := range s.Links {
		if l.Name == name {
			return l, true
		}
	}
	return ShapedLink{}, false
}

package nft

import (
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"port-traffic-dog/enforcer/ruleset"
	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/portspec"
)

const arphrdLoopback = 772 // ARPHRD_LOOPBACK, for meta iiftype/oiftype

var l4proto = map[string]byte{"tcp": unix.IPPROTO_TCP, "udp": unix.IPPROTO_UDP}

// Transport header offsets of the port fields.
const (
	sportOffset = 0
	dportOffset = 2
)

func matchProto(proto string) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{l4proto[proto]}},
	}
}

// Registers of a lookup key. A concatenated key takes a 4-byte register per
// part: NFT_REG_1 is the first of them (NFT_REG32_00), NFT_REG32_01 the next.
const (
	regKey  = 1
	regKey2 = 9 // NFT_REG32_01
)

// matchDirection: in forward, only packets of conntrack's direction d.
func matchDirection(hook ruleset.Hook, d layout.Direction) []expr.Any {
	if hook != ruleset.HookForward {
		return nil
	}
	return []expr.Any{
		&expr.Ct{Key: expr.CtKeyDIRECTION, Register: regKey},
		&expr.Cmp{Op: expr.CmpOpEq, Register: regKey, Data: []byte{ctDirection(d)}},
	}
}

// loadPort puts the port that identifies the item into register reg: the
// local port for local traffic, conntrack's original destination port for
// forwarded traffic (the port the client used, before any DNAT).
func loadPort(hook ruleset.Hook, reg uint32) expr.Any {
	switch hook {
	case ruleset.HookForward:
		return &expr.Ct{Key: expr.CtKeyPROTODST, Register: reg, Direction: 0}
	case ruleset.HookOutput:
		return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseTransportHeader, Offset: sportOffset, Len: 2}
	default:
		return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseTransportHeader, Offset: dportOffset, Len: 2}
	}
}

// protoPort matches proto and loads the port into regKey, for a lookup in
// a set keyed by port.
func protoPort(proto string, hook ruleset.Hook, d layout.Direction) []expr.Any {
	e := append(matchProto(proto), matchDirection(hook, d)...)
	return append(e, loadPort(hook, regKey))
}

// portMapKey loads protocol . port into regKey and regKey2, for a lookup
// in a port map. The protocol needs no check: only TCP and UDP keys are in
// the map.
func portMapKey(hook ruleset.Hook, d layout.Direction) []expr.Any {
	return append(matchDirection(hook, d),
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: regKey},
		loadPort(hook, regKey2))
}

// portMapElement is the key of proto's port in a port map: each part
// padded to 4 bytes, as it sits in the registers.
func portMapElement(proto string, port uint16) []byte {
	return []byte{l4proto[proto], 0, 0, 0, byte(port >> 8), byte(port), 0, 0}
}

// ctDirection: packets to the port travel in conntrack's original direction.
func ctDirection(d layout.Direction) byte {
	if d == layout.In {
		return 0 // IP_CT_DIR_ORIGINAL
	}
	return 1 // IP_CT_DIR_REPLY
}

// compile turns one rule of a chain into expressions.
func compile(r ruleset.Rule, hook ruleset.Hook, sets map[string]*nftables.Set) ([]expr.Any, error) {
	switch r.Kind {
	case ruleset.RuleCounter:
		return []expr.Any{&expr.Objref{Type: int(nftables.ObjTypeCounter), Name: r.Name}}, nil
	case ruleset.RuleQuotaDrop:
		return []expr.Any{
			&expr.Objref{Type: int(nftables.ObjTypeQuota), Name: r.Name},
			&expr.Verdict{Kind: expr.VerdictDrop},
		}, nil
	case ruleset.RuleDrop:
		return []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}}, nil
	case ruleset.RulePriority:
		return []expr.Any{
			&expr.Immediate{Register: 1, Data: binaryutil.NativeEndian.PutUint32(r.Class)},
			&expr.Meta{Key: expr.MetaKeyPRIORITY, SourceRegister: true, Register: 1},
		}, nil
	case ruleset.RuleSkipLoopback:
		key := expr.MetaKeyIIFTYPE
		if hook == ruleset.HookOutput {
			key = expr.MetaKeyOIFTYPE
		}
		return []expr.Any{
			&expr.Meta{Key: key, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint16(arphrdLoopback)},
			&expr.Verdict{Kind: expr.VerdictReturn},
		}, nil
	case ruleset.RuleDispatch:
		set, ok := sets[r.Name]
		if !ok {
			return nil, fmt.Errorf("rule refers to unknown map %q", r.Name)
		}
		var e []expr.Any
		if r.Proto == "" {
			e = portMapKey(r.Via, r.Dir)
		} else {
			e = protoPort(r.Proto, r.Via, r.Dir)
		}
		return append(e, &expr.Lookup{SourceRegister: regKey, SetName: set.Name, SetID: set.ID, DestRegister: 0, IsDestRegSet: true}), nil
	case ruleset.RuleExemptGoto:
		set, ok := sets[layout.ExemptSet]
		if !ok {
			return nil, fmt.Errorf("rule refers to the exempt set, which is missing")
		}
		return append(protoPort(r.Proto, r.Via, r.Dir),
			&expr.Lookup{SourceRegister: regKey, SetName: set.Name, SetID: set.ID},
			&expr.Verdict{Kind: expr.VerdictGoto, Chain: r.Name}), nil
	case ruleset.RuleGoto:
		return []expr.Any{&expr.Verdict{Kind: expr.VerdictGoto, Chain: r.Name}}, nil
	case ruleset.RuleQuotaGoto:
		return []expr.Any{
			&expr.Objref{Type: int(nftables.ObjTypeQuota), Name: r.Name},
			&expr.Verdict{Kind: expr.VerdictGoto, Chain: r.Chain},
		}, nil
	}
	return nil, fmt.Errorf("unknown rule kind %d", r.Kind)
}

// intervalElements encodes port ranges as interval set elements: a start key
// and an exclusive end key (hi+1), none for a range ending at 65535.
func intervalElements(r portspec.Range, verdict *expr.Verdict) []nftables.SetElement {
	els := []nftables.SetElement{{Key: binaryutil.BigEndian.PutUint16(r.Lo), VerdictData: verdict}}
	if r.Hi < 65535 {
		els = append(els, nftables.SetElement{Key: binaryutil.BigEndian.PutUint16(r.Hi + 1), IntervalEnd: true})
	}
	return els
}

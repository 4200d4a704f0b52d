// Package layout is the contract between the enforcer, which builds the
// nftables table, and the exporter and CLI, which read it: the table's name
// and how kernel object names map to items and directions.
package layout

import (
	"fmt"
	"strings"
)

// Table is the one inet table the enforcer owns.
const Table = "port_traffic_dog"

// HostID is the item id of the whole-host counters and quota. Item ids start
// with "p" or "g" (config.ItemID), so it never collides.
const HostID = "host"

// Direction of traffic relative to the item's port.
type Direction int

const (
	In  Direction = iota // to the port (client uploads)
	Out                  // from the port (client downloads)
)

func (d Direction) String() string {
	if d == In {
		return "in"
	}
	return "out"
}

// Directions lists both, in label order.
var Directions = [2]Direction{In, Out}

// Counter is the name of an item's named counter for a direction.
func Counter(id string, d Direction) string { return id + "_" + d.String() }

// ParseCounter splits a counter object name into item id and direction.
func ParseCounter(name string) (id string, d Direction, ok bool) {
	switch {
	case strings.HasSuffix(name, "_in"):
		return strings.TrimSuffix(name, "_in"), In, true
	case strings.HasSuffix(name, "_out"):
		return strings.TrimSuffix(name, "_out"), Out, true
	}
	return "", 0, false
}

// Quota names an item's quota object of a generation for a billing mode;
// suffix is "" for a quota shared by both directions, or "in"/"out" for the
// per-direction quotas of billing mode max.
func Quota(id string, gen uint32, mode, suffix string) string {
	name := fmt.Sprintf("%s_q%d_%s", id, gen, mode)
	if suffix != "" {
		name += "_" + suffix
	}
	return name
}

// QuotaOwner returns the item id of a quota object name made by Quota.
func QuotaOwner(name string) (string, bool) {
	i := strings.LastIndex(name, "_q")
	for i > 0 {
		rest := name[i+2:]
		if j := strings.IndexByte(rest, '_'); j > 0 && allDigits(rest[:j]) {
			return name[:i], true
		}
		i = strings.LastIndex(name[:i], "_q")
	}
	return "", false
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// ItemChain is the regular chain an item's packets jump to.
func ItemChain(id string, d Direction) string { return "item_" + id + "_" + d.String() }

// Dispatch in one direction is verdict maps, port → goto ItemChain: one
// hash map keyed by protocol and port (`meta l4proto . th dport`), where
// single ports and ranges of up to MaxExpandedRange ports are entered port
// by port, and an interval map per protocol of the longer ranges. An
// interval map is a red-black tree, walked for every packet: with 10,000
// ports in one and nothing else in the table a veth's TCP throughput was a
// median 92% of no table's, with the same ports in a hash map 98%
// (bench/interval-vs-hash.sh). One map for both protocols is one lookup per
// packet instead of one per protocol rule (bench/RESULTS.md, PacketCost).
//
// The previous release's hash maps were one per protocol (in_tcp_port …,
// keyed by the port alone); a sync deletes them.

// PortMap is the hash map of a direction, keyed by protocol . port.
func PortMap(d Direction) string { return d.String() + "_ports" }

// RangeMap is the interval map of a protocol and direction.
func RangeMap(proto string, d Direction) string { return d.String() + "_" + proto + "_range" }

// IsRangeMap tells a RangeMap name from a PortMap name.
func IsRangeMap(name string) bool { return strings.HasSuffix(name, "_range") }

// MaxExpandedRange is the longest range entered in a PortMap port by port.
// Longer ones are few (the port space has room for 256 of them) and keep
// the RangeMap shallow.
const MaxExpandedRange = 256

// ExemptSet holds the ports no block ever applies to.
const ExemptSet = "exempt"

// HTBMajor is the qdisc handle major of the shaper's HTB roots; item chains
// set skb->priority to HTBMajor:ClassMinor to classify egress.
const HTBMajor = 0x7d0

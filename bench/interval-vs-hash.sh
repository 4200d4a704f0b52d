#!/usr/bin/env bash
# Why dog-enforcer's dispatch is a hash map of ports plus a small interval
# map of long ranges, not one interval map: TCP throughput over a veth pair
# between two namespaces with no table, with 10,000 ports in an interval
# verdict map (a red-black tree, walked per packet), and with the same ports
# in a hash verdict map; nothing else in the table, traffic to a port that
# is not in the map. Needs root, nft and iperf3.
#
# Measured 2026-11-29 on the 2-core test VM, ROUNDS=8 (Gbit/s):
#   no table  20.3 21.3 20.0 20.9 18.0 21.2 18.5 21.3
#   interval  16.0 19.4 18.5 19.4 20.1 18.7 19.2 19.1   median ratio 92 %
#   hash      20.3 20.6 18.1 20.8 20.6 20.5 19.4 20.8   median ratio 98 %
# The VM's throughput drifts by ±10 % between minutes: compare rounds, not
# single figures, and expect runs to differ.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then echo "$0 needs root" >&2; exit 1; fi
s=dogbench-s-$$ c=dogbench-c-$$ dir=$(mktemp -d)
ip netns add "$s"; ip netns add "$c"
cleanup() {
  ip netns pids "$s" 2>/dev/null | xargs -r kill 2>/dev/null || true
  ip netns del "$s" 2>/dev/null || true; ip netns del "$c" 2>/dev/null || true; rm -rf "$dir"
}
trap cleanup EXIT
ip link add v0 netns "$s" type veth peer name v1 netns "$c"
ip -n "$s" addr add 10.77.0.2/24 dev v0; ip -n "$c" addr add 10.77.0.1/24 dev v1
for ns in "$s" "$c"; do ip -n "$ns" link set lo up; done
ip -n "$s" link set v0 up; ip -n "$c" link set v1 up
ip netns exec "$s" iperf3 -s -p 6999 -D
sleep 0.5
table() { # $1: "interval" or "hash"
  local flags=""; [ "$1" = interval ] && flags="flags interval"
  printf 'table inet t {\n chain item {\n  counter\n }\n'
  for m in mi mo; do
    printf ' map %s {\n  type inet_service : verdict\n  %s\n  elements = {\n' "$m" "$flags"
    seq 10000 19999 | sed 's/$/ : jump item,/'
    printf '  }\n }\n'
  done
  printf ' chain input {\n  type filter hook input priority 0\n  tcp dport vmap @mi\n  udp dport vmap @mi\n }\n'
  printf ' chain output {\n  type filter hook output priority 0\n  tcp sport vmap @mo\n  udp sport vmap @mo\n }\n}\n'
}
table interval >"$dir/interval.nft"; table hash >"$dir/hash.nft"
gbit() {
  ip netns exec "$c" iperf3 -c 10.77.0.2 -p 6999 -t 3 -O 1 -J |
    python3 -c 'import json,sys; print(round(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9, 2))'
}
measure() { # $1: a table file, or "none"
  ip netns exec "$s" nft flush ruleset
  [ "$1" = none ] || ip netns exec "$s" nft -f "$1"
  sleep 2
  gbit
}
for round in $(seq 1 "${ROUNDS:-6}"); do
  # Each round in a different order: the machine drifts.
  if [ $((round % 2)) = 1 ]; then
    none=$(measure none); interval=$(measure "$dir/interval.nft"); hash=$(measure "$dir/hash.nft")
  else
    hash=$(measure "$dir/hash.nft"); interval=$(measure "$dir/interval.nft"); none=$(measure none)
  fi
  echo "round $round: no table $none, interval map $interval, hash map $hash Gbit/s"
done

#!/usr/bin/env bash
# Runs every benchmark on this machine, prints the results and writes
# bench/RESULTS.md (machine description, summary against the targets, one
# table per benchmark). Needs root, iperf3 and nftables, and a quiet machine:
# figures are medians of alternating runs, but a busy machine still skews
# them. PacketCostProfile also needs perf (Debian: linux-perf) and skips without it.
# Takes ~60 minutes with the defaults.
#
# Tunables (environment):
#   DOG_BENCH_SIZES        data plane table sizes (default 100,1000,10000,50000)
#   DOG_BENCH_TOGGLED_SIZES, DOG_BENCH_CYCLES   the toggled data plane (default 10000,50000; 12)
#   DOG_BENCH_REPS         repetitions per measurement (default 5)
#   DOG_BENCH_SECONDS      seconds per iperf3 transfer (default 3)
#   DOG_BENCH_LINEAR_MAX   largest size the linear design is measured at (default: all)
#   DOG_BENCH_ITEMS        items of the apply/checkpoint/daemon benchmarks (default 10000)
#   DOG_BENCH_BUSY_SECONDS, DOG_BENCH_IDLE_SECONDS   daemon phases (default 60, 30)
#   DOG_BENCH_QUOTA_BYTES, DOG_BENCH_QUOTA_REPS       quota precision (default 2 GB, 3)
#   DOG_BENCH_PACKETS, DOG_BENCH_TCP_MB   per-packet cost: datagrams / MB per sample (default 10000, 128)
#   DOG_BENCH_COST_ROUNDS, DOG_BENCH_COST_CYCLES   per-packet cost: rounds of cycles (default 5, 20)
#   DOG_BENCH_COST_REPLICAS   per-packet cost: namespace pairs per setup (default 3)
#   DOG_BENCH_PROFILE_PACKETS, DOG_BENCH_PROFILE_CYCLES  per-packet cost seen by perf: datagrams per sample, cycles (default 200000, 8)
#   DOG_BENCH_RATE_CYCLES, DOG_BENCH_RATE_SECONDS  packet rate (iperf3): cycles per round, seconds per sample (default 2, 2)
#   DOG_BENCH_COUNT        runs of the package benchmarks (default 5)
#   DOG_BENCH_FILTER       only benchmarks matching this -bench regexp (default: all)
#   DOG_BENCH_NOTE         a note for RESULTS.md (e.g. "the machine was shared")
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
if [ "$(id -u)" != 0 ]; then echo "bench/run.sh needs root (namespaces, nftables)" >&2; exit 1; fi
for bin in iperf3 nft ip; do
  command -v "$bin" >/dev/null || { echo "bench/run.sh needs $bin" >&2; exit 1; }
done
filter=${DOG_BENCH_FILTER:-.}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
"$GO" build -o /dev/null ./bench/report
{
  # bench/: each benchmark repeats its own measurements and reports medians.
  "$GO" test -run '^$' -bench "$filter" -benchtime 1x -timeout 120m ./bench/ || true
  # The packages' own benchmarks, each run DOG_BENCH_COUNT times (medians).
  "$GO" test -run '^$' -bench "$filter" -benchtime 1x -count "${DOG_BENCH_COUNT:-5}" -timeout 60m \
    ./enforcer/nft/ ./exporter/ ./enforcer/ ./enforcer/shaper/ || true
} 2>&1 | "$GO" run ./bench/report -command "bench/run.sh" -load-before "$load_before" -started "$started"
echo "wrote bench/RESULTS.md"

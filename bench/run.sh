#!/usr/bin/env bash
# Runs every benchmark on this machine and writes bench/RESULTS.md.
# Needs root, iperf3 and nftables, and a quiet machine (nothing else
# running): figures are medians of alternating runs, but a busy machine
# still skews them. Tunables: DOG_BENCH_SIZES (e.g. 100,1000), DOG_BENCH_REPS,
# DOG_BENCH_SECONDS.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
if [ "$(id -u)" != 0 ]; then echo "bench/run.sh needs root (namespaces, nftables)" >&2; exit 1; fi
"$GO" test -run '^$' -bench . -benchtime 1x -timeout 120m ./bench/ ./enforcer/nft/ 2>&1 |
  "$GO" run ./bench/report -command "bench/run.sh"
echo "wrote bench/RESULTS.md"

#!/usr/bin/env bash
# Runs dog-enforcer and dog-exporter in the foreground with a config file,
# until Ctrl-C. For trying the product out; production uses the systemd
# units in deploy/systemd.
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-deploy/config.example.yaml}
if [ "$(id -u)" != 0 ]; then
  echo "run-local.sh: the enforcer needs root (nftables, tc): sudo $0 $*" >&2
  exit 1
fi
bin/dog check-config "$config"
bin/dog-enforcer --config.file "$config" &
enforcer=$!
trap 'kill -TERM $enforcer $exporter 2>/dev/null; wait' INT TERM EXIT
state_dir=$(sed -n 's/^state_dir:[[:space:]]*\([^[:space:]#]*\).*/\1/p' "$config")
bin/dog-exporter --state-dir "${state_dir:-/var/lib/port-traffic-dog}" &
exporter=$!
echo "enforcer pid $enforcer, exporter pid $exporter: metrics on http://localhost:9730/metrics, status: bin/dog status"
wait -n

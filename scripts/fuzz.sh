#!/usr/bin/env bash
# Runs every fuzz target of the module (found by grepping for `func Fuzz`)
# for FUZZTIME each, one after the other, and reports the targets that
# found a failure. A failing input is written by `go test` to
# <package>/testdata/fuzz/<Target>/<hash>: fix the bug, keep the file and
# commit it, so every later `go test` runs it as a regression test.
#
#   scripts/fuzz.sh                        # every target, 1 minute each
#   FUZZTIME=10m scripts/fuzz.sh FuzzParse # targets whose name matches
#   FUZZ_PARALLEL=1 scripts/fuzz.sh        # workers (default: all CPUs)
#   scripts/fuzz.sh --list                 # package and target, one a line
#
# Every plain `go test` (and CI) already runs each target's seed corpus:
# the f.Add seeds and testdata/fuzz/<Target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
FUZZTIME=${FUZZTIME:-1m}
PARALLEL=${FUZZ_PARALLEL:-$(nproc)}

# "package Target" pairs, in a stable order.
targets() {
	grep -rHoE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]+' --exclude-dir=.git --exclude-dir=bench . |
		sed -E 's#^\./(.*)/[^/]+_test\.go:func (Fuzz[A-Za-z0-9_]+)$#./\1 \2#' | sort -u
}

if [[ ${1:-} == --list ]]; then
	targets
	exit 0
fi
filter=${1:-.}

failed=()
ran=0
while read -r pkg target; do
	[[ $target =~ $filter ]] || continue
	ran=$((ran + 1))
	echo "=== $pkg $target ($FUZZTIME, $PARALLEL workers)"
	before=$(ls "$pkg/testdata/fuzz/$target" 2>/dev/null | wc -l)
	if ! "$GO" test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" -parallel "$PARALLEL" "$pkg"; then
		failed+=("$pkg $target")
		after=$(ls "$pkg/testdata/fuzz/$target" 2>/dev/null | wc -l)
		echo "--- $target failed; $((after - before)) new input(s) in $pkg/testdata/fuzz/$target: fix, then commit them"
	fi
done < <(targets)

if ((ran == 0)); then
	echo "no fuzz target matches $filter" >&2
	exit 2
fi
if ((${#failed[@]} > 0)); then
	printf 'FAIL: %s\n' "${failed[@]}"
	exit 1
fi
echo "ok: $ran fuzz targets, $FUZZTIME each, no failure"

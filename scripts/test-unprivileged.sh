#!/usr/bin/env bash
# Runs every test as an unprivileged user (nobody), as on a developer's
# machine without root: the tests that need root or a missing program skip,
# everything else must pass. Run as root: it switches to the user itself.
# The user gets its own Go caches under TEST_HOME, with the module cache
# copied from root's, so no network is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
user=${TEST_USER:-nobody}
home=${TEST_HOME:-/var/tmp/port-traffic-dog-tests-$user}
if [ "$(id -u)" != 0 ]; then
	echo "test-unprivileged: run as root (it switches to $user); as any other user, plain go test ./... is the same" >&2
	exit 1
fi
if ! setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups -- test -r go.mod; then
	echo "test-unprivileged: $user cannot read $(pwd); clone the tree where it can" >&2
	exit 1
fi
install -d -m 0755 "$home"
# Root's module cache, read before GOMODCACHE is set: bash applies a
# command's leading assignments one by one, so a $(go env GOMODCACHE) among
# them would already see the user's (empty) cache.
src=$("$GO" env GOMODCACHE)
GOMODCACHE="$home/mod" GOPROXY="file://$src/cache/download" GOFLAGS=-mod=readonly "$GO" mod download
# And what the packaging module builds with (deploy/deb's tests run it);
# only that: its whole module graph is more than root's cache holds.
GOMODCACHE="$home/mod" GOPROXY="file://$src/cache/download" GOFLAGS=-mod=readonly "$GO" -C packaging list -deps ./... >/dev/null
chown -R "$user" "$home"
# The tree belongs to another user, so git refuses to read it for the user
# ("dubious ownership") and the builds the tests run would fail on VCS
# stamping, which no test needs.
exec setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups -- \
	env -u DOG_REQUIRE_PRIVILEGED HOME="$home" GOCACHE="$home/cache" GOMODCACHE="$home/mod" GOPROXY=off GOTOOLCHAIN=local GOFLAGS=-buildvcs=false \
	"$GO" test -race -count=1 -timeout "${TEST_TIMEOUT:-15m}" "${@:-./...}"

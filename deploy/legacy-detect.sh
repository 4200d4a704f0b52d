# shellcheck shell=sh
# Detects an installation of the shell script port-traffic-dog.sh (端口流量狗,
# versions 1.0-1.2.5), which claims the same places as we do: its config
# /etc/port-traffic-dog/config.json, its shortcut /usr/local/bin/dog and its
# nftables table inet port_traffic_monitor. Sourced (POSIX sh) by
# deploy/install.sh and by the Debian package's maintainer scripts, so both
# apply one rule; `dog import-legacy` moves such a host over.
#
#   . deploy/legacy-detect.sh
#   if ptd_legacy_detect "$DESTDIR"; then printf '%s\n' "$PTD_LEGACY_FOUND"; fi
#
# The argument is a root directory: "" for this machine (then the live
# nftables table is checked too), a scratch root checks its files only.
# Sets PTD_LEGACY_FOUND (what was found, one item a line) and
# PTD_LEGACY_SHORTCUT (the root's usr/local/bin/dog when it is the script's,
# else empty); returns 0 when something was found.

# ptd_legacy_is_script PATH: PATH is the script or its shortcut: a symlink
# to a file named like the script, or a shell script (#!) that is the script
# or runs it. Our dog is a Go binary and never is. internal/legacy.IsScript
# applies the same rule.
ptd_legacy_is_script() {
	if [ -L "$1" ]; then
		case $(basename "$(readlink "$1")") in
		*port-traffic-dog*) return 0 ;;
		esac
		return 1
	fi
	[ -f "$1" ] || return 1
	[ "$(head -c 2 "$1")" = "#!" ] || return 1
	head -c 65536 "$1" | LC_ALL=C grep -q -e 'port-traffic-dog' -e '端口流量狗' -e '端口流量犬' && return 0
	# The shortcut of a script saved under another name runs it.
	[ -z "${2:-}" ] || return 1
	_ptd_target=$(head -c 65536 "$1" | sed -n 's/^exec bash "\([^"]*\)" "\$@"$/\1/p' | head -n 1)
	[ -n "$_ptd_target" ] && ptd_legacy_is_script "$_ptd_target" once
}

ptd_legacy_detect() {
	_ptd_root=${1:-}
	PTD_LEGACY_FOUND=
	PTD_LEGACY_SHORTCUT=
	if [ -e "$_ptd_root/etc/port-traffic-dog/config.json" ] || [ -L "$_ptd_root/etc/port-traffic-dog/config.json" ]; then
		PTD_LEGACY_FOUND="$PTD_LEGACY_FOUND
  its config $_ptd_root/etc/port-traffic-dog/config.json"
	fi
	if ptd_legacy_is_script "$_ptd_root/usr/local/bin/dog"; then
		PTD_LEGACY_SHORTCUT=$_ptd_root/usr/local/bin/dog
		PTD_LEGACY_FOUND="$PTD_LEGACY_FOUND
  its shortcut $_ptd_root/usr/local/bin/dog"
	fi
	if [ -z "$_ptd_root" ] && command -v nft >/dev/null 2>&1 &&
		nft list table inet port_traffic_monitor >/dev/null 2>&1; then
		PTD_LEGACY_FOUND="$PTD_LEGACY_FOUND
  its nftables table inet port_traffic_monitor"
	fi
	PTD_LEGACY_FOUND=${PTD_LEGACY_FOUND#?}
	[ -n "$PTD_LEGACY_FOUND" ]
}

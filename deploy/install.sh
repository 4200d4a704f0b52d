#!/bin/sh
# Installs or removes Port Traffic Dog: binaries, systemd units, the example
# config, the state dir and the exporter's user. `make install` and
# `make uninstall` call it; it never downloads anything.
#
#   deploy/install.sh install     # after `make build`
#   deploy/install.sh uninstall   # PURGE=1 also deletes config, state and the user
#
# Environment: DESTDIR (a scratch or package root; then no user is created,
# no service touched and no kernel state removed), PREFIX (/usr/local),
# BINSRC (where the built binaries are, default bin/), UNITDIR
# (/etc/systemd/system), PURGE.
set -eu

cd "$(dirname "$0")/.."
action=${1:-}
DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/usr/local}
BINSRC=${BINSRC:-bin}
UNITDIR=${UNITDIR:-/etc/systemd/system}
PURGE=${PURGE:-0}

BINDIR=$PREFIX/bin
SBINDIR=$PREFIX/sbin
DOCDIR=$PREFIX/share/doc/port-traffic-dog
CONFDIR=/etc/port-traffic-dog
STATEDIR=/var/lib/port-traffic-dog
GROUP=port-traffic-dog
USER_NAME=port-traffic-dog
BINARIES="dog dog-enforcer dog-exporter"
UNITS="dog-enforcer.service dog-exporter.service"

. deploy/legacy-detect.sh

say() { printf '%s\n' "$*"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

# live: installing onto this machine (not into a DESTDIR).
live() { [ -z "$DESTDIR" ]; }
systemd_running() { live && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; }

need_root() {
	if live && [ "$(id -u)" != 0 ]; then
		die "run as root (sudo make $action), or set DESTDIR to install into a scratch root"
	fi
}

create_user() {
	if ! live; then
		say "DESTDIR set: not creating the $USER_NAME user; packages create it from $DOCDIR/sysusers.conf"
		return
	fi
	getent group "$GROUP" >/dev/null || groupadd --system "$GROUP"
	getent passwd "$USER_NAME" >/dev/null ||
		useradd --system --gid "$GROUP" --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin --comment "Port Traffic Dog exporter" "$USER_NAME"
}

# is_ours PATH: PATH is a dog we installed (a Go binary of this project).
is_ours() { [ -f "$1" ] && ! ptd_legacy_is_script "$1" && LC_ALL=C grep -q 'port-traffic-dog/cli' "$1"; }

do_install() {
	need_root
	for b in $BINARIES; do
		[ -x "$BINSRC/$b" ] || die "$BINSRC/$b is missing: run make build first"
	done
	# port-traffic-dog.sh installed here: install beside it, touching none
	# of its files, and let `dog import-legacy` move it over. Its shortcut
	# holds $BINDIR/dog, so ours goes to $SBINDIR/dog until the import
	# removes the shortcut (root's PATH has sbin first).
	legacy=0
	dogdir=$BINDIR
	if ptd_legacy_detect "$DESTDIR"; then
		legacy=1
		if [ "$PTD_LEGACY_SHORTCUT" = "$DESTDIR$BINDIR/dog" ] || ptd_legacy_is_script "$DESTDIR$BINDIR/dog"; then
			dogdir=$SBINDIR
		fi
	fi
	install -d -m 0755 "$DESTDIR$BINDIR" "$DESTDIR$dogdir" "$DESTDIR$UNITDIR" "$DESTDIR$DOCDIR"
	for b in $BINARIES; do
		if [ "$b" = dog ]; then
			install -m 0755 "$BINSRC/$b" "$DESTDIR$dogdir/$b"
		else
			install -m 0755 "$BINSRC/$b" "$DESTDIR$BINDIR/$b"
		fi
	done
	# A dog left in sbin by an install beside the script: one dog only.
	if [ "$dogdir" = "$BINDIR" ] && [ "$SBINDIR" != "$BINDIR" ] && is_ours "$DESTDIR$SBINDIR/dog"; then
		rm -f "$DESTDIR$SBINDIR/dog"
	fi
	for u in $UNITS; do
		sed -e "s|@BINDIR@|$BINDIR|g" -e "s|@DOCDIR@|$DOCDIR|g" "deploy/systemd/$u" >"$DESTDIR$UNITDIR/$u.tmp"
		chmod 0644 "$DESTDIR$UNITDIR/$u.tmp"
		mv "$DESTDIR$UNITDIR/$u.tmp" "$DESTDIR$UNITDIR/$u"
	done
	install -m 0644 README.md "$DESTDIR$DOCDIR/README.md"
	install -m 0644 deploy/sysusers.conf "$DESTDIR$DOCDIR/sysusers.conf"
	install -d -m 0755 "$DESTDIR$DOCDIR/docs"
	for d in docs/*.md; do install -m 0644 "$d" "$DESTDIR$DOCDIR/$d"; done

	create_user
	# Config: root only (it may hold customers' names). Never overwritten.
	install -d -m 0750 "$DESTDIR$CONFDIR"
	if [ -e "$DESTDIR$CONFDIR/config.yaml" ]; then
		say "kept the existing $CONFDIR/config.yaml"
	elif [ "$legacy" = 1 ]; then
		# No example items: the script's ports come with the import, and
		# an example port could overlap one of them.
		printf '%s\n' "# Port Traffic Dog. The ports of port-traffic-dog.sh arrive with: dog import-legacy" \
			"# Reference: $DOCDIR/docs/CONFIG.md" "ports: []" >"$DESTDIR$CONFDIR/config.yaml.tmp"
		chmod 0600 "$DESTDIR$CONFDIR/config.yaml.tmp"
		mv "$DESTDIR$CONFDIR/config.yaml.tmp" "$DESTDIR$CONFDIR/config.yaml"
	else
		install -m 0600 deploy/config.example.yaml "$DESTDIR$CONFDIR/config.yaml"
	fi
	# State: setgid dir of the exporter's group, so the enforcer's 0640
	# state.json and meta.json are readable by the exporter and by no one
	# else (history.jsonl stays 0600). See docs/INSTALL.md.
	install -d -m 2750 "$DESTDIR$STATEDIR"
	if live || getent group "$GROUP" >/dev/null; then
		chgrp "$GROUP" "$DESTDIR$STATEDIR"
	fi
	chmod 2750 "$DESTDIR$STATEDIR"

	if systemd_running; then
		systemctl daemon-reload
	fi
	say "installed into ${DESTDIR:-/}: $dogdir/dog, $BINDIR/{dog-enforcer,dog-exporter}, $UNITDIR/{$(echo "$UNITS" | tr ' ' ,)}, $CONFDIR/config.yaml, $STATEDIR"
	if [ "$legacy" = 1 ]; then
		say "found port-traffic-dog.sh (端口流量狗) on this host:"
		say "$PTD_LEGACY_FOUND"
		say "none of its files was touched and no daemon was started; to move its ports, settings"
		say "and this month's counters over, then remove its table, qdiscs and cron lines:"
		say "      systemctl start dog-enforcer      # counts beside the script until the import"
		say "      $dogdir/dog import-legacy   # prints what it will do and asks first"
		say "      systemctl enable --now dog-enforcer dog-exporter"
	elif live; then
		say "next: edit $CONFDIR/config.yaml (dog check-config $CONFDIR/config.yaml), then"
		say "      systemctl enable --now dog-enforcer dog-exporter && dog"
	fi
}

do_uninstall() {
	need_root
	if systemd_running; then
		# Stopping writes the enforcer's final checkpoint.
		systemctl disable --now dog-exporter.service dog-enforcer.service 2>/dev/null || true
	fi
	if live && [ -x "$BINDIR/dog-enforcer" ]; then
		# Remove the nftables table and the tc qdiscs: nothing is counted,
		# blocked or limited any more.
		if ! "$BINDIR/dog-enforcer" --cleanup --config.file="$CONFDIR/config.yaml"; then
			say "dog-enforcer --cleanup failed; removing the table with nft"
			command -v nft >/dev/null 2>&1 && nft delete table inet port_traffic_dog 2>/dev/null || true
		fi
	fi
	for u in $UNITS; do rm -f "$DESTDIR$UNITDIR/$u"; done
	for b in $BINARIES; do
		# Never the script's shortcut, which may hold $BINDIR/dog.
		ptd_legacy_is_script "$DESTDIR$BINDIR/$b" || rm -f "$DESTDIR$BINDIR/$b"
	done
	if is_ours "$DESTDIR$SBINDIR/dog"; then rm -f "$DESTDIR$SBINDIR/dog"; fi
	rm -rf "$DESTDIR$DOCDIR"
	if systemd_running; then
		systemctl daemon-reload
	fi
	if [ "$PURGE" = 1 ]; then
		if ptd_legacy_detect "$DESTDIR"; then
			# The directory is port-traffic-dog.sh's too: remove ours only.
			rm -f "$DESTDIR$CONFDIR/config.yaml" "$DESTDIR$CONFDIR/config.yaml.prev" "$DESTDIR$CONFDIR/telegram-bot-token"
			rm -rf "$DESTDIR$STATEDIR"
			say "kept port-traffic-dog.sh's files in $CONFDIR"
		else
			rm -rf "$DESTDIR$CONFDIR" "$DESTDIR$STATEDIR"
		fi
		if live; then
			getent passwd "$USER_NAME" >/dev/null && userdel "$USER_NAME" || true
			getent group "$GROUP" >/dev/null && groupdel "$GROUP" 2>/dev/null || true
		fi
		say "removed Port Traffic Dog, its config, its state (counters, history) and its user"
	else
		say "removed Port Traffic Dog; kept $CONFDIR and $STATEDIR (counters, history): PURGE=1 deletes them"
	fi
}

case "$action" in
install) do_install ;;
uninstall) do_uninstall ;;
*) die "usage: $0 install|uninstall" ;;
esac

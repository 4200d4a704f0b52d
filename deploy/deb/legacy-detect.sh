#!/bin/sh
# Detects an installation of the legacy shell script port-traffic-dog.sh
# (端口流量狗). POSIX sh, no bash: the package's maintainer scripts get this
# file pasted in at build time (packaging/, #LEGACY_DETECT#). It only reads:
# nothing of the legacy installation is ever changed here.

# legacy_found prints one line per trace of the legacy script it finds and
# returns 0 if it found any, 1 if none.
legacy_found() {
	_lf=1
	if [ -e /etc/port-traffic-dog/config.json ]; then
		echo "/etc/port-traffic-dog/config.json (its configuration)"
		_lf=0
	fi
	# /usr/local/bin/dog is the legacy command when it is (or links to) a
	# script naming the tool. Ours there (make install) is an ELF binary,
	# which holds the name too, hence the #! test.
	if [ -e /usr/local/bin/dog ]; then
		_lt=$(readlink -f /usr/local/bin/dog 2>/dev/null) || _lt=/usr/local/bin/dog
		if [ "$(head -c 2 "$_lt" 2>/dev/null)" = '#!' ] &&
			grep -q -e 'port-traffic-dog' -e '端口流量狗' "$_lt" 2>/dev/null; then
			echo "/usr/local/bin/dog (its command, $_lt)"
			_lf=0
		fi
	fi
	if command -v nft >/dev/null 2>&1 && nft list table inet port_traffic_monitor >/dev/null 2>&1; then
		echo "the nftables table inet port_traffic_monitor (its counters and quotas)"
		_lf=0
	fi
	return $_lf
}

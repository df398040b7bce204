#!/bin/sh
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Build (once) a Debian sid root for tests that need a newer userland than
# bookworm's: CPython 3.13, 3.14 and 3.15 (static LTO builds), glibc 2.43,
# gcc. Tests run its programs as a container would (chroot, attached
# through /proc/PID/root). Idempotent and safe to call from several tests at
# once (flock); prints the root's path on stdout.
#
#   tests/sid-chroot.sh [DIR]     default $MEMTRACE_SID or /var/tmp/memtrace-sid
set -eu
DIR=${1:-${MEMTRACE_SID:-/var/tmp/memtrace-sid}}
PKGS="python3.13 python3.14 python3.15 gcc g++ libc6-dev libjemalloc-dev \
libgoogle-perftools-dev"
STAMP="$DIR/.memtrace-ready"
[ "$(id -u)" = 0 ] || { echo "sid-chroot: run as root" >&2; exit 1; }
mkdir -p "$(dirname "$DIR")"
exec 9>"$DIR.lock"
flock 9
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$PKGS" ]; then
	echo "$DIR"
	exit 0
fi
command -v debootstrap >/dev/null || {
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
}
if [ ! -x "$DIR/usr/bin/apt-get" ]; then
	rm -rf "$DIR"
	debootstrap --variant=minbase sid "$DIR" http://deb.debian.org/debian >&2
fi
chroot "$DIR" sh -c "export DEBIAN_FRONTEND=noninteractive; \
	apt-get -qq -o Acquire::Check-Valid-Until=false update && \
	apt-get install -y -qq --no-install-recommends $PKGS" >&2
echo "$PKGS" >"$STAMP"
echo "$DIR"

#!/bin/sh
# Install everything memtrace needs to build and test, from Debian 12 packages.
set -eu
[ "$(id -u)" = 0 ] || { echo "install-deps: run as root" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
	make gcc libc6-dev clang llvm bpftool pkg-config \
	libbpf-dev libelf-dev libdw-dev libdebuginfod-dev debuginfod zlib1g-dev \
	libc6-dbg libclang-rt-14-dev python3 valgrind procps linux-perf \
	golang-go golang-github-google-pprof-dev groff-base man-db chromium xxd \
	libncurses-dev tmux debootstrap curl xz-utils binutils g++ libjemalloc-dev libgoogle-perftools-dev libtcmalloc-minimal4 libmimalloc2.0 libglib2.0-0 gdb \
	nginx-light apache2-utils redis-server redis-tools \
	libmicrohttpd-dev libcurl4-openssl-dev prometheus systemd >/dev/null
echo "install-deps: ok"

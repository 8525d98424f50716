#!/bin/sh
# Installs the Debian packages poolguard needs to build, test and demo, and only those that are missing.
# Safe to run repeatedly; does nothing when everything is present.
set -eu

pkgs="gcc g++ make pkg-config libunwind-dev check libdw-dev libelf-dev libjansson-dev graphviz python3"
# For the tests: the pool libraries of tests/progs/lib_* (libuv, GLib, Boost.Asio, whose
# header-only boost/asio/thread_pool.hpp comes with libboost-dev, oneTBB), a JDK (javac, java)
# for tests/java, and clang with its runtime for the fuzzer and the sanitizer builds of `make check`.
extra="libuv1-dev libglib2.0-dev libboost-dev libtbb-dev openjdk-17-jdk-headless clang libclang-rt-14-dev"

# The real programs of `make check-real` (scripts/check_real.sh), only when it runs: `deps.sh real`.
# CPython's own test suites (libpython3.11-testsuite) are in the list above: `make check` runs
# test_queue from them.
real="xz-utils zstd pigz coreutils make git sqlite3 python3 redis-server redis-tools nodejs openjdk-17-jdk-headless bsdutils time"
extra="$extra libpython3.11-testsuite bsdutils"
[ "${1:-}" = real ] && extra="$extra $real"

missing=""
for p in $pkgs $extra; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "poolguard: error: missing packages:$missing (run this script as root, or install them)" >&2
    exit 1
fi
echo "poolguard: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2

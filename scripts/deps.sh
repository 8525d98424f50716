#!/bin/sh
# Installs the Debian packages poolguard needs to build, test and demo, and only those that are missing.
# Safe to run repeatedly; does nothing when everything is present.
set -eu

# `deps.sh --sarif-schema DIR`: the SARIF 2.1.0 JSON schema for tests/e2e/check_sarif_schema.sh, taken
# from an npm package that ships it (Microsoft's SARIF matchers for Jest), pinned by version and
# by the registry's integrity hash. Only the tarball is fetched; nothing of it is installed or run.
SARIF_PKG=@microsoft/jest-sarif@1.0.0-beta.0
SARIF_SHA512=A1fOhPd6Ic5iDk4F9YPw1qNB4XF+7+IviR7xl8r2F6QzQkx5cpY9LsGk2rExiFIEcBbjpVnSmwWGBukASkiQ9A==
SARIF_FILE=sarif-2.1.0-rtm.5.json
if [ "${1:-}" = "--sarif-schema" ]; then
    dir=${2:?usage: deps.sh --sarif-schema DIR}
    [ -r "$dir/$SARIF_FILE" ] && exit 0
    command -v npm >/dev/null 2>&1 || { echo "poolguard: error: npm is needed to fetch the SARIF schema (apt-get install npm)" >&2; exit 1; }
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && npm pack --silent "$SARIF_PKG" >/dev/null)
    tgz=$(ls "$tmp"/*.tgz)
    got=$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)
    if [ "$got" != "$SARIF_SHA512" ]; then
        echo "poolguard: error: $SARIF_PKG does not have the pinned integrity hash" >&2
        exit 1
    fi
    tar -xzf "$tgz" -C "$tmp" "package/lib/schemas/$SARIF_FILE"
    mkdir -p "$dir"
    mv "$tmp/package/lib/schemas/$SARIF_FILE" "$dir/$SARIF_FILE"
    exit 0
fi

pkgs="gcc g++ make pkg-config libunwind-dev check libdw-dev libelf-dev libjansson-dev graphviz python3"
# For the tests: the pool libraries of tests/progs/lib_* (libuv, GLib, Boost.Asio, whose
# header-only boost/asio/thread_pool.hpp comes with libboost-dev, oneTBB), a JDK (javac, java)
# for tests/java, and clang with its runtime for the fuzzer and the sanitizer builds of `make check`;
# cppcheck, clang-tidy and clang-format for `make lint`, which `make check` runs; gdb for its
# gcore, which makes the core file `poolguard core` is tested on;
# Chromium to open the HTML report in a real browser, python3-jsonschema to validate SARIF (npm,
# which fetches the schema above, comes with Node.js, Debian's or another's: not required here).
extra="libuv1-dev libglib2.0-dev libboost-dev libtbb-dev openjdk-17-jdk-headless clang libclang-rt-14-dev
       cppcheck clang-tidy clang-format gdb
       chromium python3-jsonschema openssl"

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

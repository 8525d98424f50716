#!/bin/sh
# Checks, without root and without apt, that the libraries a build needs are installed, and names
# the Debian package of each one that is not. `need.sh build`: the shim and the analyzer;
# `need.sh test`: the unit-test framework too. Installing is `make deps` (scripts/deps.sh, root).
set -u
what=${1:-build}
missing=""
need_pc() { # pkg-config module, Debian package
    pkg-config --exists "$1" 2>/dev/null || missing="$missing $2"
}
command -v pkg-config >/dev/null 2>&1 || {
    echo "poolguard: error: pkg-config is not installed (Debian: pkg-config); 'make deps' as root installs everything" >&2
    exit 1
}
need_pc libunwind libunwind-dev
need_pc jansson libjansson-dev
need_pc libdw libdw-dev
[ "$what" = test ] && need_pc check check
if [ -n "$missing" ]; then
    echo "poolguard: error: missing libraries for the $what: install the Debian packages:$missing" >&2
    echo "poolguard: (as root, 'make deps' installs them and everything the tests use)" >&2
    exit 1
fi
exit 0

#!/bin/sh
# make bench: runs the overhead benchmarks (bench/run.py) against the build in $1 and writes
# docs/performance.md. Extra arguments go to bench/run.py (--quick, --reps N, --only SECTIONS).
set -eu
build=${1:-build}
[ $# -gt 0 ] && shift
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/python3 ]; then
    echo "bench: error: /usr/bin/python3 is needed to run the benchmarks" >&2
    exit 1
fi
exec /usr/bin/python3 bench/run.py "$build" "$@"

#!/bin/sh
# Records the pool-analysis traces replayed by tests/unit/check_pool_trace.c: each test program runs
# under the shim with POOLGUARD_TRACE for a few seconds, and the trace is cut to the scans that
# matter (trim.py). Usage: tests/data/traces/record.sh BUILD [NAME...]
# The traces are committed; run this again only when the trace format or a program changes.
set -u
build=${1:?usage: record.sh BUILD [NAME...]}
shift
here=$(cd "$(dirname "$0")" && pwd)
shim=$(cd "$build" && pwd)/libpoolguard.so
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# name seconds env... -- program args...
rec() {
    name=$1 secs=$2
    shift 2
    if [ -n "$only" ] && ! echo " $only " | grep -q " $name "; then return; fi
    envs=""
    while [ "$1" != "--" ]; do envs="$envs $1"; shift; done
    shift
    prog=$build/progs/$1
    shift
    [ -x "$prog" ] || { echo "record.sh: $prog is not built" >&2; return; }
    rm -f "$work/$name.trace"
    env POOLGUARD_DIR="$work/rep-$name" POOLGUARD_TRACE="$work/$name.trace" POOLGUARD_QUIET=1 $envs \
        LD_PRELOAD="$shim" timeout -s KILL "$secs" "$prog" "$@" >/dev/null 2>&1
    python3 "$here/trim.py" "$work/$name.trace" "$here/$name.trace"
}
only="$*"

rec flood 4 -- pool_cond_flood
rec flood_mainwait 4 -- pool_cond_flood mainwait
rec flood_heartbeat 4 -- pool_cond_flood heartbeat
rec flood_immediate 4 -- pool_cond_flood immediate
rec sem 4 -- pool_sem
rec cxx 4 -- pool_cxx
rec annotated 4 -- pool_annotated
rec growth 8 POOLGUARD_QUEUE_LIMIT=500 -- pool_growth
rec ok_busy 6 -- ok_pool_busy
rec ok_nested 6 -- ok_pool_nested
rec ok_event 6 -- ok_pool_event
rec ok_idle 6 POOLGUARD_STALL_MS=500 -- ok_pool_idle
rec uv 5 POOLGUARD_STALL_MS=1000 -- pool_uv
rec glib 5 POOLGUARD_STALL_MS=1000 -- pool_glib
for lib in lib_condpool lib_sempool lib_cxxpool lib_uv lib_glib lib_tbb lib_asio; do
    rec ${lib}_stuck_blocked 5 -- $lib stuck-mainblocked 2
    rec ${lib}_stuck_running 5 POOLGUARD_STALL_MS=1500 -- $lib stuck-mainrunning 2
    rec ${lib}_ok_long 6 -- $lib ok-long 2
    rec ${lib}_growth 7 POOLGUARD_QUEUE_LIMIT=200 -- $lib growth-never 2
done

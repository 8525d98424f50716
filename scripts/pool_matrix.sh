#!/usr/bin/env bash
# The full matrix of pools in real libraries under the CI gate: every program of tests/progs/lib_*
# (C condvar pool, semaphore pool, progschj-style C++ pool, libuv, GLib exclusive and shared,
# Boost.Asio, oneTBB) x every scenario of tests/progs/lib_scen.h x 1, 2 and 4 workers for the
# stuck ones, plus the healthy Java program. Each runs under `poolguard run --timeout N`; the
# table says what was expected (by the proof standard: an error where the adapter or the whole
# program's wait-for graph proves it, "unproven", never an error, where another thread runs),
# what poolguard found (every finding in the raw reports, info
# included), the seconds from the program's stuck point (its "stuck at" line; for the other
# scenarios its start) to the first finding, the gate's exit status, and whether stdout and the
# status equal a run without poolguard. tests/e2e/check_pool_libs.c asserts a subset in `make check`.
#
# usage: scripts/pool_matrix.sh [-b BUILD] [-t TIMEOUT_S] [-j JOBS] [-n "1 2 4"] [-l "lib_uv ..."]
# Exit status: 0 when every row is as expected, 1 otherwise. Needs the build (make BUILD=...
# all and $BUILD/progs/lib_*), python3, and javac/java for the Java row.
set -u

build=build timeout=10 jobs=1 sizes="1 2 4"
libs="lib_condpool lib_sempool lib_cxxpool lib_uv lib_glib lib_glib:shared lib_tbb lib_asio"
while getopts "b:t:j:n:l:h" o; do
    case $o in
    b) build=$OPTARG ;;
    t) timeout=$OPTARG ;;
    j) jobs=$OPTARG ;;
    n) sizes=$OPTARG ;;
    l) libs=$OPTARG ;;
    *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    esac
done
build=$(cd "$build" && pwd) || exit 2
gate=$build/poolguard
[ -x "$gate" ] && [ -r "$build/libpoolguard.so" ] || { echo "pool_matrix: error: no $gate or shim: make BUILD=... all" >&2; exit 2; }
work=$(mktemp -d /tmp/pool_matrix.XXXXXX)
trap 'rm -rf "$work"' EXIT

stuck="stuck-queued stuck-idle stuck-heartbeat stuck-mainblocked stuck-mainrunning"
growth="growth-exit growth-_exit growth-never"
healthy="ok-many ok-nested ok-long ok-event ok-idle"

now_ms() { date +%s%3N; }

# Reads a run's raw reports: "<kind/severity,...|none> <first finding's unix ms or ->".
findings() {
    python3 - "$1" <<'EOF'
import glob, json, sys
found, first = [], None
for path in sorted(glob.glob(sys.argv[1] + "/*.jsonl")):
    for line in open(path, errors="replace"):
        try:
            o = json.loads(line)
        except ValueError:
            continue
        if o.get("type") == "finding":
            found.append("%s/%s" % (o.get("kind"), o.get("severity")))
            t = o.get("time_unix_ms")
            if t is not None and (first is None or t < first):
                first = t
print(",".join(found) or "none", first if first is not None else "-")
EOF
}

# One row: run_case ID LIB SCENARIO WORKERS EXPECTED CMD...   (writes $work/ID.row)
run_case() {
    local id=$1 lib=$2 scen=$3 n=$4 expected=$5
    shift 5
    local d=$work/$id
    mkdir -p "$d"
    local native_rc=- native_out=
    if [ "$expected" = none ] || [ "$scen" = growth-exit ] || [ "$scen" = growth-_exit ]; then
        timeout 120 "$@" >"$d/native.out" 2>/dev/null
        native_rc=$?
    fi
    local t0
    t0=$(now_ms)
    "$gate" run --timeout "$timeout" --dir "$d/reports" --format json --output "$d/report.json" -- "$@" \
        >"$d/out" 2>"$d/err" </dev/null
    local rc=$?
    local verdict first
    read -r verdict first < <(findings "$d/reports")
    local from=$t0
    local stuck_at
    stuck_at=$(sed -n 's/.*: stuck at \([0-9]*\)$/\1/p' "$d/err" | head -n 1)
    [ -n "$stuck_at" ] && from=$stuck_at
    local secs=-
    [ "$first" != - ] && secs=$(awk -v a="$first" -v b="$from" 'BEGIN { printf "%.2f", (a - b) / 1000 }')
    local same=-
    if [ "$native_rc" != - ]; then
        if [ "$native_rc" = "$rc" ] && cmp -s "$d/native.out" "$d/out"; then same=yes; else same="no(native $native_rc)"; fi
    fi
    local ok=FAIL
    case $expected in
    pool_exhaustion/error)
        # Asio keeps its queue out of sight: a proven hang of its may read as the plain "every
        # thread is blocked" deadlock.
        if [ "$rc" = 66 ]; then
            [ "$verdict" = "$expected" ] && ok=pass
            case $lib in lib_asio*) [ "$verdict" = deadlock/error ] && ok=pass ;; esac
        fi ;;
    unproven)
        # Nothing proves the hang while another thread runs: never an error, never stopped.
        [ "$rc" = 124 ] && case $verdict in *error*) ;; *) ok=pass ;; esac ;;
    queue_growth/warning)
        if [ "$verdict" = "$expected" ]; then
            if [ "$scen" = growth-never ]; then [ "$rc" = 124 ] && ok=pass; else [ "$same" = yes ] && ok=pass; fi
        fi ;;
    none) [ "$verdict" = none ] && [ "$same" = yes ] && ok=pass ;;
    esac
    [ -z "$stuck_at" ] && [ "$expected" = pool_exhaustion/error ] && verdict="$verdict(never stuck)"
    printf '%-16s %-18s %-2s %-21s %-34s %-7s %-4s %-10s %s\n' "$lib" "$scen" "$n" "$expected" \
        "$verdict" "$secs" "$rc" "$same" "$ok" >"$work/$id.row"
}

throttle() {
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
        wait -n 2>/dev/null || sleep 0.1
    done
}

id=0
for spec in $libs; do
    lib=${spec%%:*} flag=
    [ "$spec" != "$lib" ] && flag=${spec#*:}
    prog=$build/progs/$lib
    name=$lib${flag:+:$flag}
    if [ ! -x "$prog" ]; then
        id=$((id + 1))
        printf '%-16s %-18s %-2s %-21s %-34s %-7s %-4s %-10s %s\n' "$name" all - - "not built" - - - FAIL \
            >"$work/$(printf %04d $id).row"
        continue
    fi
    for scen in $stuck; do
        # The proof standard (docs/design.md): pools known exactly (the libuv, GLib and oneTBB
        # adapters) are proven stuck whatever main does; inferred pools only when the whole
        # program is blocked, not while main runs or a heartbeat thread keeps waking up.
        want=pool_exhaustion/error
        case $lib:$scen in
        lib_uv:*|lib_glib:*|lib_tbb:*) ;;
        *:stuck-heartbeat|*:stuck-mainrunning) want=unproven ;;
        esac
        for n in $sizes; do
            id=$((id + 1)); throttle
            run_case "$(printf %04d $id)" "$name" "$scen" "$n" "$want" "$prog" "$scen" "$n" $flag &
        done
    done
    for scen in $growth; do
        id=$((id + 1)); throttle
        run_case "$(printf %04d $id)" "$name" "$scen" 2 queue_growth/warning "$prog" "$scen" 2 $flag &
    done
    for scen in $healthy; do
        id=$((id + 1)); throttle
        run_case "$(printf %04d $id)" "$name" "$scen" 2 none "$prog" "$scen" 2 $flag &
    done
done

here=$(cd "$(dirname "$0")/.." && pwd)
if command -v javac >/dev/null && command -v java >/dev/null; then
    mkdir -p "$build/java"
    if javac -d "$build/java" "$here/tests/java/Healthy.java"; then
        id=$((id + 1)); throttle
        run_case "$(printf %04d $id)" java Healthy - none java -cp "$build/java" Healthy &
    fi
else
    echo "pool_matrix: error: no javac/java (openjdk-17-jdk-headless; scripts/deps.sh installs it)" >&2
    printf '%-16s %-18s %-2s %-21s %-34s %-7s %-4s %-10s %s\n' java Healthy - none "not run" - - - FAIL \
        >"$work/9999.row"
fi
wait

printf '%-16s %-18s %-2s %-21s %-34s %-7s %-4s %-10s %s\n' library scenario n expected verdict \
    "secs" exit "same-out" result
cat "$work"/*.row
pass=$(cat "$work"/*.row | awk '$NF == "pass"' | wc -l)
total=$(cat "$work"/*.row | wc -l)
echo "pool_matrix: $pass of $total rows as expected (timeout ${timeout}s; secs: stuck point or start to the first finding)"
[ "$pass" = "$total" ]

#!/bin/bash
# make check-real: real programs, installed from Debian, run natively and under `poolguard run`;
# exit status, output and findings compared. Prints a table: workload, identical, findings,
# CPU-time ratio (user+system under the gate / natively). Exit status 0 only when every workload
# is identical with no finding.
#
#   scripts/check_real.sh BUILD_DIR [WORKLOAD...]
#
# Workloads: xz zstd pigz sort make git sqlite redis node java py_threading py_thread
# py_concurrent_futures py_queue (default: all). Missing packages are installed first by
# `scripts/deps.sh real`. Everything runs in a temporary directory, redis on loopback only with a
# bounded number of requests. What "identical" means per workload is said next to it below:
# output whose bytes vary from run to run (timings, addresses) is reduced to what must not change.
set -u
BUILD=${1:-build}
shift || true
here=$(cd "$(dirname "$0")/.." && pwd)
PG="$here/$BUILD/poolguard"
[ -x "$PG" ] || { echo "poolguard: error: $PG is not built (make all)" >&2; exit 125; }
"$here/scripts/deps.sh" real || exit 125
PY=/usr/bin/python3
work=$(mktemp -d "${TMPDIR:-/tmp}/poolguard-real.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 125
ncpu=$(nproc)

# run NAME MODE CMD...: runs CMD (natively, or MODE=gate under poolguard run) with its stdout in
# NAME.MODE.out, stderr in NAME.MODE.err, exit status in NAME.MODE.rc, CPU seconds in NAME.MODE.cpu.
run() {
    local name=$1 mode=$2
    shift 2
    local pre=()
    [ "$mode" = gate ] && pre=("$PG" run --timeout 900 --)
    /usr/bin/time -f "%U %S" -o "$name.$mode.time" "${pre[@]}" "$@" >"$name.$mode.out" 2>"$name.$mode.err"
    echo $? >"$name.$mode.rc"
    awk '{ printf "%.2f\n", $1 + $2 }' "$name.$mode.time" >"$name.$mode.cpu"
}

# The reduction of each workload's stdout that must be the same in both runs (default: all of it).
reduce() { cat; }

fails=0
rows=()
# report NAME NOTE: compares the two runs of NAME and adds a row.
report() {
    local name=$1 note=${2:-}
    local same=yes findings
    cmp -s "$name.native.rc" "$name.gate.rc" || same="no (exit $(cat "$name.native.rc") vs $(cat "$name.gate.rc"))"
    if [ "$same" = yes ]; then
        reduce_"$name" <"$name.native.out" >"$name.native.red" 2>/dev/null || cp "$name.native.out" "$name.native.red"
        reduce_"$name" <"$name.gate.out" >"$name.gate.red" 2>/dev/null || cp "$name.gate.out" "$name.gate.red"
        cmp -s "$name.native.red" "$name.gate.red" || same="no (output differs)"
    fi
    findings=$(sed -n 's/^poolguard: \([0-9][0-9]*\) finding.*/\1/p' "$name.gate.err" | tail -n 1)
    [ -n "$findings" ] || findings="?"
    local n g ratio
    n=$(cat "$name.native.cpu") g=$(cat "$name.gate.cpu")
    ratio=$(awk -v n="$n" -v g="$g" 'BEGIN { if (n > 0.005) printf "%.2f", g / n; else print "-" }')
    rows+=("$(printf '| %-22s | %-28s | %-8s | %-9s | %s' "$name" "$same" "$findings" "$ratio" "$note")")
    if [ "$same" != yes ] || [ "$findings" != 0 ]; then
        fails=$((fails + 1))
        echo "--- $name: native stderr (tail)"; tail -n 15 "$name.native.err"
        echo "--- $name: under the gate, stderr (tail)"; tail -n 30 "$name.gate.err"
    fi >&2
}

both() { local name=$1; shift; run "$name" native "$@"; run "$name" gate "$@"; }

# Inputs: 18 MB of text (hex dump of random bytes: compressible, not trivially).
gen_text() { [ -f text.in ] || head -c 6000000 /dev/urandom | od -An -tx1 >text.in; }

w_xz() { gen_text; both xz sh -c 'xz -T0 -3 -c text.in | sha256sum'; report xz "xz -T0 ($ncpu threads), 18 MB"; }
w_zstd() { gen_text; both zstd sh -c 'zstd -T0 -3 -c text.in | sha256sum'; report zstd "zstd -T0, 18 MB"; }
w_pigz() { gen_text; both pigz sh -c "pigz -p $((ncpu > 2 ? ncpu : 4)) -c text.in | sha256sum"; report pigz "pigz, 18 MB"; }
w_sort() {
    [ -f sort.in ] || $PY -c 'import random; r=random.Random(1); print("\n".join(str(r.random()) for _ in range(500000)))' >sort.in
    both sort sh -c 'sort --parallel=4 -S 64M sort.in | sha256sum'; report sort "sort --parallel=4, 500k lines"
}
w_make() {
    rm -rf proj && mkdir -p proj
    for i in $(seq 1 40); do printf 'int f%d(int x) { return x * %d + 1; }\n' "$i" "$i" >"proj/f$i.c"; done
    { echo 'OBJS := $(patsubst %.c,%.o,$(wildcard f*.c))'
      echo 'all: lib.a'; echo 'lib.a: $(OBJS)'; printf '\tar rcs $@ $^\n'
      echo '%.o: %.c'; printf '\tcc -O2 -c $< -o $@\n'; } >proj/Makefile
    # Both runs build from scratch; the list of what was built is compared, in order-free form.
    run make native sh -c 'rm -f proj/*.o proj/lib.a; make -j2 -C proj >/dev/null && ar t proj/lib.a | sort'
    run make gate sh -c 'rm -f proj/*.o proj/lib.a; make -j2 -C proj >/dev/null && ar t proj/lib.a | sort'
    report make "make -j2, 40 C files"
}
w_git() {
    rm -rf repo.orig && mkdir repo.orig && (cd repo.orig && git init -q && git config user.email t@t &&
        git config user.name t &&
        for c in $(seq 1 30); do
            for f in $(seq 1 40); do echo "line $c of file $f: $RANDOM$RANDOM" >>"f$f.txt"; done
            git add -A && git commit -qm "commit $c"
        done) >/dev/null 2>&1
    # Each run works on its own copy: gc and pack-objects change the repository they run in. A
    # pack made by 4 threads differs from run to run (the delta search is parallel), natively too:
    # what is compared is what the repository holds afterwards.
    both git sh -c 'rm -rf repo pk-* && cp -a repo.orig repo && cd repo && git grep -c "line 1" | sort && git rev-list --all --objects | git pack-objects -q --threads=4 ../pk >/dev/null && git gc -q --aggressive && git fsck --no-progress && git rev-list --all --objects | sort | sha256sum'
    report git "git grep, pack-objects, gc --aggressive"
}
w_sqlite() {
    cat >sq.py <<'EOF'
import sqlite3, concurrent.futures, threading, os
db = "sq.db"
if os.path.exists(db): os.remove(db)
c = sqlite3.connect(db); c.execute("pragma journal_mode=wal"); c.execute("create table t(k integer, v text)"); c.commit(); c.close()
lock = threading.Lock()
def work(n):
    con = sqlite3.connect(db, timeout=30)
    for i in range(300):
        with con:
            con.execute("insert into t values(?, ?)", (n * 1000 + i, str(i) * 3))
        con.execute("select count(*) from t").fetchone()
    con.close()
    return n
with concurrent.futures.ThreadPoolExecutor(8) as ex:
    print(sorted(ex.map(work, range(8))))
con = sqlite3.connect(db)
print(con.execute("select count(*), sum(k) from t").fetchone())
EOF
    both sqlite $PY sq.py; report sqlite "8 Python threads, executor, WAL"
}
reduce_redis() { sed -n 's/^\([A-Z_a-z ()0-9]*\): .*requests per second.*/\1/p'; }
w_redis() {
    local port=$((20000 + RANDOM % 20000))
    for mode in native gate; do
        local pre=()
        [ $mode = gate ] && pre=("$PG" run --timeout 900 --)
        /usr/bin/time -f "%U %S" -o redis.$mode.time "${pre[@]}" redis-server --port $port --bind 127.0.0.1 \
            --io-threads 4 --io-threads-do-reads yes --save '' --appendonly no --daemonize no \
            >redis.$mode.srv 2>redis.$mode.err &
        local srv=$!
        for _ in $(seq 1 100); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.1; done
        redis-benchmark -p $port -h 127.0.0.1 -n 10000 -c 16 --threads 2 -q -t set,get,lpush,lpop,incr >redis.$mode.out 2>&1
        echo $? >redis.$mode.rc
        redis-cli -p $port shutdown nosave >/dev/null 2>&1
        wait $srv
        echo $? >>redis.$mode.rc
        awk '{ printf "%.2f\n", $1 + $2 }' redis.$mode.time >redis.$mode.cpu
    done
    report redis "io-threads 4, redis-benchmark 10k requests x 5 (server CPU)"
}
w_node() {
    cat >n.js <<'EOF'
const fs = require('fs'), crypto = require('crypto');
fs.writeFileSync('n.dat', 'x'.repeat(100000));
let pending = 0, total = 0, keys = [];
for (let i = 0; i < 200; i++) { pending++; fs.readFile('n.dat', (e, b) => { total += b.length; if (--pending === 0) done(); }); }
for (let i = 0; i < 16; i++) { pending++; crypto.pbkdf2('pw' + i, 'salt', 20000, 32, 'sha256', (e, k) => { keys[i] = k.toString('hex'); if (--pending === 0) done(); }); }
function done() { console.log(total, crypto.createHash('sha256').update(keys.join()).digest('hex')); }
EOF
    both node node n.js; report node "libuv pool: 200 fs reads, 16 pbkdf2"
}
w_java() {
    mkdir -p jc && javac -d jc "$here/tests/java/Healthy.java" || return
    both java java -cp jc Healthy; report java "OpenJDK 17: fixed pool, CompletableFuture, parallel stream"
}
# The result line, and the regrtest's own verdicts on the environment ("env changed", dangling
# threads), which must not appear under the gate unless they appear natively.
reduce_py() { grep -E '^(Tests result|== Tests result)|env changed|Dangling thread' | sed 's/ in [0-9].*//; s/started [0-9]*/started/; s/stopped [0-9]*/stopped/' ; }
py_suite() {
    local name=py_$1
    eval "reduce_$name() { reduce_py; }"
    both "$name" $PY -m test "$1"; report "$name" "CPython $1 (Debian's libpython3.11-testsuite)"
}
w_py_threading() { py_suite test_threading; }
w_py_thread() { py_suite test_thread; }
w_py_concurrent_futures() { py_suite test_concurrent_futures; }
w_py_queue() { py_suite test_queue; }

all="xz zstd pigz sort make git sqlite redis node java py_threading py_thread py_concurrent_futures py_queue"
for w in ${@:-$all}; do
    echo "check-real: $w" >&2
    "w_$w"
done
echo
printf '| %-22s | %-28s | %-8s | %-9s | %s\n' workload identical findings "CPU ratio" notes
printf '|%s|%s|%s|%s|%s\n' ------------------------ ------------------------------ ---------- ----------- -----
printf '%s\n' "${rows[@]}"
echo
if [ $fails -ne 0 ]; then
    echo "check-real: $fails workload(s) not identical or with findings" >&2
    exit 1
fi
echo "check-real: every workload identical, no finding"

#!/bin/sh
# `make demo`: runs bundled examples under the CI gate, `poolguard run`, and shows what a user sees.
# Each example deadlocks on purpose; the gate stops it within a second or two and exits 66.
set -u
build=${1:-build}
out="$build/demo"
mkdir -p "$out"
pg="$build/poolguard"

section() {
    printf '\n\033[1m== %s\033[0m\n$ %s\n\n' "$1" "$2"
}

run_example() {
    title=$1
    svg=$2
    shift 2
    section "$title" "poolguard run --svg $svg -- $*"
    "$pg" run --timeout 20 --svg "$svg" -- "$@"
    status=$?
    printf '\n(poolguard run exited with status %s; the wait-for graph is in %s)\n' "$status" "$svg"
}

run_example "Python: a ThreadPoolExecutor whose tasks wait on tasks queued behind them" \
    "$out/python.svg" python3 examples/pool_exhaustion.py

# The same run as the HTML page people open from a CI artifact, and a screenshot of it in
# headless Chromium beside the SVG.
section "Python: the HTML report" "poolguard run --format html --output $out/python.html -- python3 examples/pool_exhaustion.py"
"$pg" run --timeout 20 --format html --output "$out/python.html" -- python3 examples/pool_exhaustion.py
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -n "$browser" ] && "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --user-data-dir="$out/.chromium" --window-size=1400,2000 --screenshot="$out/python.png" \
    "file://$(realpath "$out/python.html")" >/dev/null 2>&1; then
    printf '\n(the page is %s; its screenshot is %s)\n' "$out/python.html" "$out/python.png"
else
    printf '\n(the page is %s; no screenshot: chromium is not installed or cannot run here)\n' "$out/python.html"
fi
run_example "C: a thread pool whose tasks wait for tasks queued behind them (main waits too)" \
    "$out/pool.svg" "$build/progs/pool_cond_flood" mainwait
run_example "C: two threads taking two mutexes in opposite orders" \
    "$out/inversion.svg" "$build/progs/dl_lock_inversion"
exit 0

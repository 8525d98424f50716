#!/bin/sh
# Raw reports of real runs for the checks that need a browser or a schema validator
# (tests/e2e/check_html_browser.sh, tests/e2e/check_sarif_schema.sh): a lock cycle, a C pool, the Python
# example, a lock-order warning and a time-out snapshot, each in OUT/<case>/ as the shim wrote it.
# Usage: make_report_cases.sh BUILD OUT. A case whose program cannot run here (no python3) is
# left out with a line on stderr; the checks then cover the others.
set -u
build=$1
out=$2
pg="$build/poolguard"
rm -rf "$out"
mkdir -p "$out"

run_case() {
    name=$1
    shift
    "$pg" run --dir "$out/$name" -o /dev/null "$@" >/dev/null 2>"$out/$name.log"
    if ! ls "$out/$name"/*.jsonl >/dev/null 2>&1; then
        echo "make_report_cases: $name wrote no report (see $out/$name.log)" >&2
        rm -rf "${out:?}/$name"
    fi
}

run_case cycle --timeout 20 -- "$build/progs/dl_lock_inversion"
run_case pool --timeout 20 -- "$build/progs/pool_cond_flood"
run_case lock_order --timeout 20 -- "$build/progs/lo_inversion"
run_case timeout --timeout 1 -- "$build/progs/ok_pool_idle"
if command -v python3 >/dev/null 2>&1; then
    run_case python --timeout 20 -- python3 examples/pool_exhaustion.py
else
    echo "make_report_cases: python3 not found: the Python example is left out" >&2
fi
# The reports are real runs of the shim: each must be in the raw report format.
if ! /usr/bin/python3 tests/lib/validate_report.py "$out"; then
    echo "make_report_cases: a report under $out does not match docs/report-format.schema.json" >&2
    exit 1
fi
exit 0

#!/bin/sh
# The HTML report in a real browser: each case of tests/e2e/make_report_cases.sh rendered with
# `poolguard report --format html` and opened in headless Chromium. What is checked is the page
# the browser built (--dump-dom), not the file: every finding and snapshot in the summary and
# with its section, every thread with its section, graph nodes linking to existing thread
# sections, runtime frames inside <details>, a fold opening when the page is opened at it (the
# browser expands a closed <details> holding the fragment), the script having run to its end
# (data-js="ok"), and no console message at all (the page logs nothing; an error would).
# A screenshot of each page is left in CASES/<case>.png.
# Usage: check_html_browser.sh BUILD CASES. Without Chromium (which scripts/deps.sh installs) it
# fails; with a Chromium that cannot start headless here (a sandbox), it says SKIP with the reason.
set -u
build=$1
cases=$2
pg="$build/poolguard"
py=/usr/bin/python3
[ -x "$py" ] || py=python3

browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
    echo "check_html_browser: error: chromium is not installed (scripts/deps.sh installs it)" >&2
    exit 1
fi
if ! "$browser" --headless --no-sandbox --disable-gpu --dump-dom about:blank >/dev/null 2>&1; then
    echo "check_html_browser: SKIP: $browser cannot start headless here:" \
        "$("$browser" --headless --no-sandbox --disable-gpu --dump-dom about:blank 2>&1 | tail -n 1)"
    exit 0
fi

chrome() {
    # A profile of our own: a user's running Chromium is neither used nor disturbed.
    "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
        --user-data-dir="$cases/.profile" --enable-logging=stderr --v=0 \
        --virtual-time-budget=3000 "$@"
}

passed=0
failed=0
for dir in "$cases"/*/; do
    name=$(basename "$dir")
    # Only the cases: directories of raw reports.
    ls "$dir"*.jsonl >/dev/null 2>&1 || continue
    html="$cases/$name.html"
    "$pg" report --format html --output "$html" "$dir" 2>"$cases/$name.render.log"
    "$pg" report --format json --output "$cases/$name.json" "$dir" 2>>"$cases/$name.render.log"
    chrome --dump-dom "file://$(realpath "$html")" >"$cases/$name.dom" 2>"$cases/$name.console"
    # The first fold of the page, opened through its fragment.
    fold=$(grep -o '</summary><ol[^>]* id="[^"]*"' "$html" | head -n 1 | sed 's/.*id="//; s/"$//')
    if [ -n "$fold" ]; then
        chrome --dump-dom "file://$(realpath "$html")#$fold" >"$cases/$name.fold.dom" 2>>"$cases/$name.console"
    fi
    chrome --screenshot="$cases/$name.png" --window-size=1400,2000 "file://$(realpath "$html")" \
        >/dev/null 2>>"$cases/$name.console"
    if "$py" tests/e2e/html_dom_check.py "$name" "$cases/$name.json" "$cases/$name.dom" \
        "$cases/$name.console" "$fold" "$cases/$name.fold.dom"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
done
if [ $((passed + failed)) -eq 0 ]; then
    echo "check_html_browser: no report to check in $cases" >&2
    exit 1
fi
echo "check_html_browser: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

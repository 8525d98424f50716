"""Checks the DOM headless Chromium built from one HTML report (tests/e2e/check_html_browser.sh).

Usage: html_dom_check.py NAME RENDERED_JSON DOM CONSOLE_LOG FOLD_ID FOLD_DOM
The rendered JSON of the same report says what must be on the page: every finding and
snapshot (summary row and section), every thread (its section). Prints one line per problem
and exits 1 when there is any. Standard library only.
"""
import html.parser
import json
import re
import sys

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []          # open elements: (tag, attrs)
        self.ids = {}            # id -> (tag, class, attrs)
        self.links = []          # (href, inside_svg)
        self.runtime_outside_details = 0
        self.runtime_frames = 0
        self.summary_rows = []   # data-kind of <tr> in table.summary
        self.html_attrs = {}
        self.fold_of = {}        # id -> attributes of the <details> holding it, or None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.html_attrs = a
        if "id" in a:
            self.ids[a["id"]] = (tag, a.get("class", ""), a)
            folds = [at for t, at in self.stack if t == "details"]
            self.fold_of[a["id"]] = folds[-1] if folds else None
        inside = [t for t, _ in self.stack]
        if tag == "a":
            href = a.get("xlink:href") or a.get("href")
            if href:
                self.links.append((href, "svg" in inside))
        if tag == "li" and "runtime" in a.get("class", "").split():
            self.runtime_frames += 1
            if "details" not in inside:
                self.runtime_outside_details += 1
        if tag == "tr" and "data-kind" in a and any(
                t == "table" and "summary" in at.get("class", "") for t, at in self.stack):
            self.summary_rows.append(a["data-kind"])
        if tag not in VOID:
            self.stack.append((tag, a))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return


def parse(path):
    p = Page()
    with open(path, encoding="utf-8", errors="replace") as f:
        p.feed(f.read())
    return p


def main():
    name, rendered, dom, console, fold_id, fold_dom = sys.argv[1:7]
    problems = []
    doc = json.load(open(rendered))
    page = parse(dom)
    if page.html_attrs.get("data-js") != "ok":
        problems.append("the page's script did not run to its end (no data-js=\"ok\")")
    findings, snapshots = doc.get("findings", []), doc.get("snapshots", [])
    if not findings and not snapshots:
        problems.append("the report has nothing to show: the case proves nothing")
    if len(page.summary_rows) != len(findings) + len(snapshots):
        problems.append("summary has %d rows for %d findings and %d snapshots"
                        % (len(page.summary_rows), len(findings), len(snapshots)))
    for prefix, items in (("f", findings), ("s", snapshots)):
        for i, item in enumerate(items, 1):
            anchor = "%s%d" % (prefix, i)
            if anchor not in page.ids:
                problems.append("no section #%s (%s)" % (anchor, item.get("kind", "snapshot")))
            for t in item.get("threads", []):
                tid = "%s-t%d" % (anchor, t["tid"])
                if tid not in page.ids or "thread" not in page.ids[tid][1].split():
                    problems.append("no thread section #%s" % tid)
    graph_links = [h for h, in_svg in page.links if in_svg]
    for href in graph_links:
        target = href[1:] if href.startswith("#") else None
        if not target or target not in page.ids or "thread" not in page.ids[target][1].split():
            problems.append("graph node links to %s, which is no thread section" % href)
    with_threads = sum(1 for f in findings + snapshots if f.get("threads"))
    if with_threads and not graph_links:
        problems.append("no graph node links to a thread section")
    for href, _ in page.links:
        if href.startswith("#") and href[1:] not in page.ids:
            problems.append("link to %s, which is not on the page" % href)
    if page.runtime_outside_details:
        problems.append("%d runtime frames are not folded in <details>" % page.runtime_outside_details)
    if fold_id:
        fold = parse(fold_dom)
        details = fold.fold_of.get(fold_id)
        if details is None or "open" not in details:
            problems.append("the fold #%s did not open when the page was opened at it" % fold_id)
    elif page.runtime_frames:
        problems.append("runtime frames but no fold id")
    for line in open(console, errors="replace"):
        if re.search(r":CONSOLE[:(]|Uncaught", line):
            problems.append("console: " + line.strip())
    for p in problems:
        print("check_html_browser: %s: %s" % (name, p))
    print("check_html_browser: %s: %s (%d findings, %d snapshots, %d graph links, %d folded "
          "runtime frames)" % (name, "FAILED" if problems else "ok", len(findings), len(snapshots),
                               len(graph_links), page.runtime_frames))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Cuts a POOLGUARD_TRACE file to the scans that matter (record.sh): the first process's lines,
from the start (so a replay builds the same per-pool state as the live scans did) to three scans
after the last verdict, or the first 60 scans when there is none; at most 300 KB."""
import json
import sys

src, dst = sys.argv[1], sys.argv[2]
try:
    lines = open(src).read().splitlines()
except OSError:
    print("trim.py: no trace in %s" % src, file=sys.stderr)
    sys.exit(0)
pid = None
kept = []
last_verdict = -1
for line in lines:
    try:
        rec = json.loads(line)
    except ValueError:
        break
    if pid is None:
        pid = rec["pid"]
    if rec["pid"] != pid:
        continue
    kept.append(line)
    if rec["verdicts"]:
        last_verdict = len(kept) - 1
end = last_verdict + 4 if last_verdict >= 0 else 60
kept = kept[:end]
out, size = [], 0
for line in kept:
    if size + len(line) + 1 > 300 * 1024:
        break
    out.append(line)
    size += len(line) + 1
with open(dst, "w") as f:
    f.write("".join(l + "\n" for l in out))
verdicts = sorted({"%s/%s/%s" % (v["kind"], v["severity"], v["proof"])
                   for l in out for v in json.loads(l)["verdicts"]})
print("%-32s %4d scans %7d bytes  %s" % (dst.rsplit("/", 1)[-1], len(out), size,
                                        " ".join(verdicts) or "no verdict"))

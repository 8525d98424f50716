#!/usr/bin/python3
"""Checks raw reports against docs/report-format.schema.json.

Usage: validate_report.py [--schema FILE] [--log FILE] PATH...

Each PATH is a raw report, or a directory whose reports (regular files named poolguard.*.jsonl,
at any depth) are checked. Every line of a report must validate, except a last line without its newline: a
report cut short (a full disk, a file size limit) keeps its complete lines, which is all the
format promises. Problems are printed as "FILE:LINE: MESSAGE" (and appended to the --log file,
so that a test run can collect them); the exit status is 1 when there is any, 2 when the schema
or a report cannot be read at all.
"""
import argparse
import fnmatch
import json
import os
import stat
import sys

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SCHEMA = os.path.join(HERE, "..", "..", "docs", "report-format.schema.json")


def reports(path):
    """The reports under a directory: regular files named poolguard.*.jsonl, symbolic links
    neither followed nor read (the shim never writes through one)."""
    if not os.path.isdir(path):
        return [path]
    found = []
    for top, dirs, files in os.walk(path):
        for f in files:
            full = os.path.join(top, f)
            if fnmatch.fnmatch(f, "poolguard.*.jsonl") and stat.S_ISREG(os.lstat(full).st_mode):
                found.append(full)
    return sorted(found)


def where(error):
    return "/".join(str(p) for p in error.absolute_path) or "(the line)"


def check_file(validator, name):
    problems = []
    try:
        with open(name, "rb") as f:
            data = f.read()
    except OSError as e:
        return [f"{name}: cannot read: {e.strerror}"]
    lines = data.split(b"\n")
    # The piece after the last newline: empty, or a line cut short.
    lines.pop()
    if not lines:
        problems.append(f"{name}: no complete line")
    for no, raw in enumerate(lines, 1):
        try:
            obj = json.loads(raw)
        except ValueError as e:
            problems.append(f"{name}:{no}: not JSON: {e}")
            continue
        if no == 1 and (not isinstance(obj, dict) or obj.get("type") != "header"):
            problems.append(f"{name}:{no}: the first line is not the header")
        errors = sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path))
        for e in errors[:5]:
            problems.append(f"{name}:{no}: {where(e)}: {e.message}")
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--schema", default=DEFAULT_SCHEMA)
    ap.add_argument("--log")
    ap.add_argument("paths", nargs="+")
    args = ap.parse_args()
    try:
        with open(args.schema) as f:
            schema = json.load(f)
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
    except (OSError, ValueError, jsonschema.SchemaError) as e:
        print(f"validate_report: {args.schema}: {e}", file=sys.stderr)
        return 2
    validator = cls(schema)
    problems = []
    for p in args.paths:
        for name in reports(p):
            problems += check_file(validator, name)
    for line in problems:
        print(line)
    if problems and args.log:
        with open(args.log, "a") as f:
            f.write("".join(line + "\n" for line in problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

#!/bin/sh
# SARIF held to the SARIF 2.1.0 JSON schema (sarif-2.1.0-rtm.5.json, the schema code-scanning
# services validate uploads against) by a real validator, python3-jsonschema: each case of
# tests/e2e/make_report_cases.sh rendered with `poolguard report --format sarif`, plus the committed
# raw fixtures of tests/data. Beyond the schema it checks what code scanning needs from us: a
# result of a finding with threads points at the program's own code, and a result whose locks
# have names says them. Usage: check_sarif_schema.sh BUILD CASES SCHEMA.
set -u
build=$1
cases=$2
schema=$3
py=/usr/bin/python3
if ! [ -r "$schema" ]; then
    echo "check_sarif_schema: error: $schema is missing (scripts/deps.sh --sarif-schema installs it)" >&2
    exit 1
fi
if ! "$py" -c 'import jsonschema' 2>/dev/null; then
    echo "check_sarif_schema: error: python3-jsonschema is missing (scripts/deps.sh installs it)" >&2
    exit 1
fi
out="$cases.sarif"
rm -rf "$out"
mkdir -p "$out"
n=0
for input in "$cases"/*/ tests/data/deadlock.jsonl tests/data/pool_libuv.jsonl tests/data/pool_glib.jsonl \
    tests/data/python_executor.jsonl tests/data/lock_order.jsonl tests/data/snapshot.jsonl; do
    [ -e "$input" ] || continue
    name=$(basename "$input" .jsonl)
    case "$name" in .profile | sarif) continue ;; esac
    # The fixtures' modules do not exist: nothing of theirs can point at source.
    case "$input" in tests/data/*) name="fixture-$name" ;; esac
    "$build/poolguard" report --format sarif --min-severity info --output "$out/$name.sarif" "$input" 2>/dev/null
    n=$((n + 1))
done
"$py" - "$schema" "$out"/*.sarif <<'PY'
import json, sys
import jsonschema

schema = json.load(open(sys.argv[1]))
validator = jsonschema.validators.validator_for(schema)(schema)
passed = failed = 0
for path in sys.argv[2:]:
    doc = json.load(open(path))
    problems = ["%s at %s" % (e.message[:300], "/".join(map(str, e.absolute_path)))
                for e in validator.iter_errors(doc)]
    for res in doc["runs"][0]["results"]:
        flows = res.get("codeFlows", [])
        locs = [l for l in res.get("locations", []) if "physicalLocation" in l]
        fixture = path.rsplit("/", 1)[-1].startswith("fixture-")
        if flows and res["ruleId"] != "lock_order" and not locs and not fixture:
            problems.append("result %s has threads but no location in source" % res["ruleId"])
        props = res.get("properties", {})
        if "locks" in props and not all(l.get("name") or l.get("address") for l in props["locks"]):
            problems.append("result %s lists a lock with neither name nor address" % res["ruleId"])
    for p in problems:
        print("check_sarif_schema: %s: %s" % (path, p))
    if problems:
        failed += 1
    else:
        passed += 1
print("check_sarif_schema: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed or not passed else 0)
PY

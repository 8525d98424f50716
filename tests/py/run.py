#!/usr/bin/env python3
"""Runs the Python test programs under the shim and checks what pg_py_inspect reads from them.

Independently of the watchdog's own calls, the shim's debugging aid (POOLGUARD_PY_DEBUG, see
tests/lib/python_debug.c) calls pg_py_inspect a few times and appends one JSON line per call to a file, which this
script checks. Every program runs under a time limit; the deadlocking ones are killed by it.

    tests/py/run.py [--build DIR] [--python EXE]... [--all-versions] [--verbose]

Without --python: /usr/bin/python3 and the python3 found on PATH (resolved to the real binary);
when that is the same interpreter, the second run says SKIP with the reason.
--all-versions adds every ~/.pyenv/versions/3.*/bin/python3 (3.6 and 3.7 must be refused); none
there is a SKIP too. A missing shim or interpreter is a failure, not a skip.
Exit status 0 when every check passes.
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VALIDATE = os.path.join(ROOT, "tests", "lib", "validate_report.py")
ENOTSUP = 95

# script: (debug schedule "delay_ms,count,period_ms", time limit in s)
PROGRAMS = {
    "app_one_worker.py": ("1000,2,300", 3),
    "app_flood.py": ("1000,3,300", 3),
    "app_event.py": ("1000,2,300", 3),
    "app_growth.py": ("700,4,500", 6),
    "app_mp_one.py": ("1000,2,300", 3),
    "app_mp_two.py": ("1000,2,300", 3),
    "app_mp_growth.py": ("700,4,500", 6),
    "app_asyncio_threadsafe.py": ("1000,2,300", 3),
    "app_asyncio_named.py": ("1000,2,300", 3),
    "ok_two_executors.py": ("400,8,250", 6),
    # Done in 0.6-1 s on a quiet machine: two readings must come before it ends.
    "ok_many_tasks.py": ("150,8,100", 6),
    "ok_gil.py": ("400,8,250", 6),
    "ok_sleep.py": ("500,8,250", 6),
    "ok_event_set.py": ("500,8,400", 8),
    "ok_sqlite.py": ("100,10,100", 15),
    "ok_mp_many.py": ("100,6,100", 10),
    "ok_nested.py": ("100,10,150", 15),
    "ok_asyncio_many.py": ("100,8,120", 10),
    "safety_gil_held.py": ("100,10,200", 6),
    "safety_user_objects.py": ("200,20,100", 6),
    "safety_exit.py": ("0,3000,1", 6),
    "safety_lifetimes.py": ("300,20,300", 14),
}
ETIMEDOUT, EAGAIN = -110, -11

WAITS = ("future_result", "futures_wait", "as_completed", "async_result")


def version_of(exe):
    out = subprocess.run([exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                         capture_output=True, text=True, check=True).stdout
    return tuple(int(x) for x in out.split("."))


def run(exe, script, build):
    schedule, limit = PROGRAMS[script]
    with tempfile.TemporaryDirectory(prefix="pgpy-") as tmp:
        out = os.path.join(tmp, "inspect.jsonl")
        env = dict(os.environ, POOLGUARD_PY_DEBUG=schedule, POOLGUARD_PY_DEBUG_OUT=out,
                   POOLGUARD_DIR=tmp, POOLGUARD_QUIET="1")
        # Only the interpreter gets the shim (not timeout(1), which would log calls of its own).
        p = subprocess.run(["timeout", "-s", "KILL", str(limit), "env",
                            "LD_PRELOAD=" + os.path.join(build, "libpoolguard-pydebug.so"),
                            exe, os.path.join(HERE, script)],
                           env=env, capture_output=True, text=True)
        calls = []
        if os.path.exists(out):
            with open(out) as f:
                calls = [json.loads(line) for line in f if line.strip()]
        # The reports the shim wrote next to inspect.jsonl must be in the format.
        v = subprocess.run(["/usr/bin/python3", VALIDATE, tmp], capture_output=True, text=True)
        p.schema_problems = (v.stdout + v.stderr).strip() if v.returncode else ""
        return p, calls


def queued_on(w, ex):
    """The waited work is still queued on ex (for a run_coroutine_threadsafe future: the executor
    job its coroutine awaits, with no asyncio timeout that could cancel it)."""
    if w.get("queued_in") != ex["address"]:
        return False
    if "needs" in w:
        return w["needs_state"] == "PENDING" and not w["needs_timed"]
    return w["state"] == "PENDING"


def exhausted(state):
    """Pools whose every worker waits, untimed, on work queued in that same pool."""
    found = []
    for ex in state["executors"]:
        workers = [t for t in state["threads"] if t.get("executor") == ex["address"]]
        if not workers or len(workers) != ex["threads"]:
            continue
        if all(t["blocked"] in WAITS and not t["timed"] and
               any(queued_on(w, ex) for w in t.get("waits_on", []))
               for t in workers):
            found.append(ex)
    return found


def workers_of(state, ex):
    return [t for t in state["threads"] if t.get("executor") == ex["address"]]


def stack_has(t, function):
    """Before 3.11 frames carry co_name only ("result", not "Future.result")."""
    short = function.rsplit(".", 1)[-1]
    return any(f["function"] in (function, short) for f in t["stack"])


class Checker:
    def __init__(self, name):
        self.name = name
        self.failures = []

    def check(self, cond, what):
        if not cond:
            self.failures.append(what)
        return cond


def check_one_worker(c, states):
    st = states[-1]
    ex = exhausted(st)
    if not c.check(len(ex) == 1 and ex[0]["max_workers"] == 1, "one exhausted executor, 1 worker"):
        return
    (w,) = workers_of(st, ex[0])
    c.check(w["name"] == "ThreadPoolExecutor-0_0", "worker name: %r" % w["name"])
    c.check(w["task"]["function"] == "parent_task", "worker runs parent_task")
    c.check(stack_has(w, "parent_task") and stack_has(w, "Future.result"), "worker stack")
    fw = w["waits_on"][0]
    c.check(fw["state"] == "PENDING" and fw["fn"]["function"] == "dependent_task" and
            fw["queue_pos"] == 0, "waits on queued dependent_task: %r" % fw)
    main = [t for t in st["threads"] if t["name"] == "MainThread"]
    c.check(main and main[0]["waits_on"][0].get("run_by") == w["ident"],
            "main waits on the future the worker runs")


def check_flood(c, states):
    st = states[-1]
    ex = exhausted(st)
    if not c.check(len(ex) == 1 and ex[0]["max_workers"] == 2, "one exhausted executor, 2 workers"):
        return
    ws = workers_of(st, ex[0])
    c.check(len(ws) == 2 and all(w["task"]["function"] == "parent_task" for w in ws),
            "both workers run parent_task")
    c.check(all(w["waits_on"][0]["fn"]["function"] == "dependent_task" for w in ws),
            "both wait on dependent_task")
    c.check(ex[0]["queue_len"] >= 2, "queue holds the children")
    c.check(any(t["name"] == "heartbeat" for t in st["threads"]), "the unrelated thread is seen")


def check_event(c, states):
    st = states[-1]
    exs = st["executors"]
    if not c.check(len(exs) == 1, "one executor"):
        return
    ws = workers_of(st, exs[0])
    c.check(len(ws) == 2 and all(w["blocked"] == "event_wait" and not w["timed"] and
                                  w["task"]["function"] == "consumer" for w in ws),
            "both workers wait on an Event inside consumer")
    c.check(exs[0]["queue_len"] == 1, "the producer is queued")
    c.check(not exhausted(st), "no future-based exhaustion claimed")


def check_growth(c, states):
    lens = [s["executors"][0]["queue_len"] for s in states if s["executors"]]
    c.check(len(lens) >= 3 and all(b > a for a, b in zip(lens, lens[1:])),
            "queue grows: %r" % lens)
    for s in states:
        c.check(not exhausted(s), "no exhaustion")


def check_healthy(c, states):
    for s in states:
        c.check(not exhausted(s), "no exhaustion in a healthy program")


def check_two(c, states):
    check_healthy(c, states)
    prefixes = {e["prefix"] for s in states for e in s["executors"]}
    c.check(prefixes == {"parents", "children"}, "both executors seen: %r" % prefixes)


def check_sleep(c, states):
    check_healthy(c, states)
    st = states[0]
    ws = [t for t in st["threads"] if t.get("executor")]
    c.check(len(ws) == 2 and all(w["blocked"] == "none" and w["task"]["function"] == "nap"
                                 for w in ws), "workers sleep inside nap")


MP = "multiprocessing.pool.ThreadPool"
TPE = "concurrent.futures.ThreadPoolExecutor"


def check_not_workers(c, st):
    """ThreadPool's handler threads are not its workers."""
    handlers = [t for t in st["threads"]
                if any(f["function"].rsplit(".", 1)[-1] in ("_handle_tasks", "_handle_results")
                       for f in t["stack"])]
    c.check(handlers and all("executor" not in t for t in handlers),
            "handler threads seen, not workers: %r" % [t["name"] for t in handlers])


def check_mp_one(c, states):
    st = states[-1]
    ex = exhausted(st)
    if not c.check(len(ex) == 1 and ex[0]["kind"] == MP and ex[0]["max_workers"] == 1,
                   "one exhausted ThreadPool, 1 worker: %r" % st["executors"]):
        return
    c.check(ex[0].get("global") == "__main__.pool", "named by its global")
    (w,) = workers_of(st, ex[0])
    c.check(w["task"]["function"] == "parent" and w["task_job"] >= 0, "worker runs parent")
    c.check(stack_has(w, "parent") and stack_has(w, "ApplyResult.get"), "worker stack")
    fw = w["waits_on"][0]
    c.check(fw["kind"] == "async_result" and fw["state"] == "PENDING" and
            fw["fn"]["function"] == "subtask" and fw["queue_pos"] == 0,
            "waits on queued subtask: %r" % fw)
    c.check(ex[0]["queue_len"] == ex[0]["inqueue_len"] + ex[0]["taskqueue_len"] == 1,
            "queue: %r" % ex[0])
    main = [t for t in st["threads"] if t["name"] == "MainThread"]
    c.check(main and main[0]["waits_on"][0].get("run_by") == w["ident"] and
            main[0]["waits_on"][0]["state"] == "RUNNING", "main waits on the job the worker runs")
    check_not_workers(c, st)


def check_mp_two(c, states):
    st = states[-1]
    ex = exhausted(st)
    if not c.check(len(ex) == 1 and ex[0]["kind"] == MP and ex[0]["max_workers"] == 2,
                   "one exhausted ThreadPool, 2 workers"):
        return
    ws = workers_of(st, ex[0])
    c.check(len(ws) == 2 and all(w["task"]["function"] == "parent" for w in ws),
            "both workers run parent")
    c.check(all(w["waits_on"][0]["fn"]["function"] == "subtask" for w in ws), "both wait on subtask")
    c.check(ex[0]["queue_len"] == 6, "4 parents and 2 subtasks queued: %r" % ex[0]["queue_len"])
    check_not_workers(c, st)


def check_mp_growth(c, states):
    lens = [s["executors"][0]["queue_len"] for s in states if s["executors"]]
    c.check(all(s["executors"][0]["kind"] == MP for s in states if s["executors"]), "a ThreadPool")
    c.check(len(lens) >= 3 and all(b > a for a, b in zip(lens, lens[1:])),
            "queue grows: %r" % lens)
    for s in states:
        c.check(not exhausted(s), "no exhaustion")


def check_asyncio_threadsafe(c, states):
    st = states[-1]
    ex = exhausted(st)
    if not c.check(len(ex) == 1 and ex[0]["kind"] == TPE, "one exhausted executor"):
        return
    main = [t for t in st["threads"] if t["name"] == "MainThread"][0]
    c.check(ex[0].get("loop_thread") == main["ident"] and ex[0].get("default_executor_of_loop"),
            "the default executor of the loop in MainThread: %r" % ex[0])
    ws = workers_of(st, ex[0])
    c.check(len(ws) == ex[0]["max_workers"] and all(w["task"]["function"] == "parent" for w in ws),
            "every worker runs parent (functools.partial unwrapped)")
    for w in ws:
        fw = w["waits_on"][0]
        c.check(fw["state"] == "PENDING" and fw["coroutine"]["function"] == "fetch" and
                fw["needs_state"] == "PENDING" and fw["fn"]["function"] == "child",
                "waits on fetch's future, which awaits queued child: %r" % fw)


def check_asyncio_named(c, states):
    st = states[-1]
    ex = exhausted(st)
    if not c.check(len(ex) == 1 and ex[0]["prefix"] == "db", "the db executor is exhausted"):
        return
    c.check("default_executor_of_loop" not in ex[0], "not a loop's default executor")
    ws = workers_of(st, ex[0])
    c.check(len(ws) == 2 and all(w["task"]["function"] == "query" for w in ws),
            "both workers run query (functools.partial unwrapped)")


def check_event_set(c, states):
    check_healthy(c, states)
    for s in states[:-1]:
        ws = [t for t in s["threads"] if t.get("executor")]
        c.check(len(ws) == 2 and all(w["blocked"] == "event_wait" and w["task"]["function"] == "waiter"
                                     for w in ws) and s["executors"][0]["queue_len"] == 0,
                "workers wait on the event, nothing queued")


def check_kinds(c, states, want):
    check_healthy(c, states)
    kinds = {e["kind"] for s in states for e in s["executors"]}
    c.check(want <= kinds, "pools seen: %r" % kinds)


def check_gil_held(c, calls, p):
    rcs = [x["rc"] for x in calls]
    c.check(rcs[0] == 0 and rcs[-1] == 0, "works before and after: %r" % rcs)
    c.check(ETIMEDOUT in rcs and set(rcs) <= {0, ETIMEDOUT}, "times out meanwhile: %r" % rcs)
    c.check(all(x["elapsed_us"] < 600000 for x in calls), "never waits past the limit")
    c.check(p.returncode == 0 and "released" in p.stdout, "the program is unaffected")


def check_user_objects(c, calls, p):
    c.check(all(x["rc"] == 0 for x in calls), "every call succeeds")
    c.check("USER CODE RAN" not in p.stderr, "no program code ran: " + p.stderr[-500:])
    c.check(p.returncode == 0 and "done" in p.stdout, "the program is unaffected")
    names = {t["name"] for x in calls if x["rc"] == 0 for t in x["python"]["threads"]}
    c.check("MainThread" in names and "ThreadPoolExecutor-0_0" in names, "names: %r" % names)


def check_exit(c, calls, p):
    rcs = {x["rc"] for x in calls}
    c.check(p.returncode == 3, "exit status kept: %r" % p.returncode)
    c.check(rcs <= {0, EAGAIN, ETIMEDOUT} and 0 in rcs, "results: %r" % rcs)


def check_lifetimes(c, calls, p):
    rcs = [x["rc"] for x in calls]
    end = rcs.index(EAGAIN) if EAGAIN in rcs else len(rcs)
    c.check(all(r == 0 for r in rcs[:end]) and all(r == EAGAIN for r in rcs[end:]),
            "every call succeeds until the program ends: %r" % rcs)
    states = [x["python"] for x in calls if x["rc"] == 0]

    def read(task, main_blocked):
        return any(any((t.get("task") or {}).get("function") == task for t in s["threads"]) and
                   any(t["name"] == "MainThread" and t["blocked"] == main_blocked
                       for t in s["threads"]) for s in states)
    c.check(read("fail_late", "future_result"),
            "read while a worker ran fail_late and main waited in Future.result()")
    c.check(read("watched", "future_result"), "read while a worker ran watched")
    c.check(p.returncode == 0 and "freed: 3 objects" in p.stdout,
            "the executor, its future and its worker die when the program lets go: " +
            p.stdout[-300:])
    c.check("self is a _WorkItem" in p.stdout,
            "a frame's locals the program holds are left as they are: " + p.stdout[-300:])
    c.check(read("traced_task", "future_result"), "read while a traced worker ran traced_task")
    c.check("traced: [1, 3]" in p.stdout, "a traced worker's locals stay intact: " + p.stdout[-300:])
    c.check(any(any(t["name"].startswith("tracer-held") and t["blocked"] == "event_wait"
                    for t in s["threads"]) for s in states),
            "read while a tracer held a worker's _WorkItem.run frame")
    c.check("tracer-held: 41" in p.stdout,
            "a frame a tracer holds keeps its variables through a reading: " + p.stdout[-300:])


RAW_CHECKS = {
    "safety_gil_held.py": check_gil_held,
    "safety_user_objects.py": check_user_objects,
    "safety_exit.py": check_exit,
    "safety_lifetimes.py": check_lifetimes,
}

CHECKS = {
    "app_one_worker.py": check_one_worker,
    "app_flood.py": check_flood,
    "app_event.py": check_event,
    "app_growth.py": check_growth,
    "ok_two_executors.py": check_two,
    "ok_many_tasks.py": check_healthy,
    "ok_gil.py": check_healthy,
    "ok_sleep.py": check_sleep,
    "app_mp_one.py": check_mp_one,
    "app_mp_two.py": check_mp_two,
    "app_mp_growth.py": check_mp_growth,
    "app_asyncio_threadsafe.py": check_asyncio_threadsafe,
    "app_asyncio_named.py": check_asyncio_named,
    "ok_event_set.py": check_event_set,
    "ok_sqlite.py": check_healthy,
    "ok_mp_many.py": lambda c, states: check_kinds(c, states, {MP}),
    "ok_nested.py": lambda c, states: check_kinds(c, states, {MP, TPE}),
    "ok_asyncio_many.py": lambda c, states: check_kinds(c, states, {TPE}),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--python", action="append", default=[])
    ap.add_argument("--all-versions", action="store_true")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("programs", nargs="*")
    a = ap.parse_args()
    shim = os.path.join(a.build, "libpoolguard-pydebug.so")
    if not os.path.exists(shim):
        print("FAIL %s is not built (make check-python-layer builds it)" % shim)
        return 1
    pythons = a.python or ["/usr/bin/python3"]
    skipped = []
    if not a.python:
        onpath = shutil.which("python3")
        real = ""
        if onpath:
            real = subprocess.run([onpath, "-c", "import sys; print(sys.executable)"],
                                  capture_output=True, text=True).stdout.strip()
        if real and os.path.realpath(real) != os.path.realpath(pythons[0]):
            pythons.append(os.path.realpath(real))
        else:
            skipped.append("a second interpreter: the python3 on PATH is %s itself" % pythons[0]
                           if real else "a second interpreter: no python3 on PATH")
    if a.all_versions:
        found = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.*/bin/python3")))
        pythons += found
        if not found:
            skipped.append("--all-versions: no ~/.pyenv/versions/3.*/bin/python3")
    seen = set()
    pythons = [p for p in pythons if not (os.path.realpath(p) in seen or seen.add(os.path.realpath(p)))]
    for why in skipped:
        print("SKIP %s" % why)
    failed = 0
    checked = 0
    for exe in pythons:
        if not os.access(exe, os.X_OK):
            print("FAIL %s: no such interpreter" % exe)
            failed += 1
            continue
        ver = version_of(exe)
        # Older versions are refused before anything is read: one program shows it.
        for script in (a.programs or PROGRAMS) if ver >= (3, 8) else ["app_one_worker.py"]:
            p, calls = run(exe, script, a.build)
            c = Checker(script)
            c.check(not p.schema_problems, "a raw report does not match "
                    "docs/report-format.schema.json:\n         " +
                    p.schema_problems.replace("\n", "\n         "))
            rcs = [x["rc"] for x in calls]
            if ver < (3, 8):
                c.check(calls and all(r == -ENOTSUP for r in rcs), "refused: %r" % rcs)
                states = []
            elif script in RAW_CHECKS:
                RAW_CHECKS[script](c, calls, p)
                states = [x["python"] for x in calls if x["rc"] == 0]
            else:
                # A program that finishes while it is being read makes the last readings -EAGAIN
                # (finalizing): that is the documented answer, not a failure. Before that, every
                # reading must succeed, and there must be at least two.
                end = rcs.index(EAGAIN) if EAGAIN in rcs else len(rcs)
                ok, tail = rcs[:end], rcs[end:]
                c.check(len(ok) >= 2 and all(r == 0 for r in ok) and all(r == EAGAIN for r in tail),
                        "every call succeeds until the program ends: %r" % rcs)
                states = [x["python"] for x in calls if x["rc"] == 0]
                if states:
                    CHECKS[script](c, states)
            times = [x["elapsed_us"] for x in calls]
            holds = ["%d+%d" % (s["gil_wait_us"], s["read_us"]) for s in states]
            if len(times) > 12:
                times = "max %d" % max(times)
                holds = holds[:4] + ["..."]
            status = "ok" if not c.failures else "FAIL"
            print("%-4s %-8s %-20s exit=%-4s calls=%d elapsed_us=%s gil+read_us=%s" % (
                status, "%d.%d" % ver, script, p.returncode, len(calls), times, holds))
            for f in c.failures:
                print("       - " + f)
            if c.failures and a.verbose:
                print(p.stdout[-2000:], p.stderr[-2000:])
                for x in calls:
                    print(json.dumps(x)[:3000])
            failed += bool(c.failures)
            checked += 1
    print("%d checked, %d failed, %d skipped" % (checked, failed, len(skipped)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

/*
 * `poolguard attach` and `poolguard core` on a Python process started WITHOUT the shim: the
 * interpreter is read from memory (analyzer/attach/pyremote*.c), so the raw report's threads carry
 * their Python names and Python stacks. Runs Debian's /usr/bin/python3 (what CI has): the
 * problem's example (examples/pool_exhaustion.py) hung, attached to and read from a gcore; and a
 * healthy Python program attached to many times, whose output and exit status must not change;
 * and the same moment of a program read from inside by the shim's Python layer (its test aid,
 * build/libpoolguard-pydebug.so) and from outside by attach: the two readings must be equal.
 * Skipped where ptrace is not permitted; every program runs under a time limit.
 */
#include "attach_util.h"
#include "testlib.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

enum { READY_MS = 15000, SETTLE_MS = 300, ATTACHES = 25 };

#define PYTHON "/usr/bin/python3"

/* Starts python3 with args, without the shim, and waits for its first line of output. */
static void start_python_env(struct e2e_run *r, const char *label, char *const args[],
                             const char *const env[])
{
    tu_need_program(PYTHON, "python3");
    char *argv[8] = { PYTHON };
    for (int i = 0; args[i] && i < 6; i++)
        argv[i + 1] = args[i];
    e2e_run_init(r, label);
    e2e_run_start(r, PYTHON, argv, false, env);
    long deadline = tu_now_ms() + READY_MS;
    for (;;) {
        char *o = e2e_run_stdout(r);
        bool ready = strchr(o, '\n') != NULL;
        free(o);
        if (ready)
            break;
        ck_assert_msg(!e2e_run_wait(r, 0), "%s exited before its first line", label);
        ck_assert_msg(tu_now_ms() < deadline, "%s printed nothing within %d ms", label, READY_MS);
        tu_sleep_ms(10);
    }
    tu_sleep_ms(SETTLE_MS);
}

static void start_python(struct e2e_run *r, const char *label, char *const args[])
{
    start_python_env(r, label, args, NULL);
}

/* The records of one type in a raw report, in order. */
static json_t *raw_records(const char *path, const char *want)
{
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "no raw report %s", path);
    char *line = NULL;
    size_t cap = 0;
    json_t *all = json_array();
    while (getline(&line, &cap, f) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        const char *type = json_string_value(json_object_get(o, "type"));
        if (type && !strcmp(type, want))
            json_array_append(all, o);
        json_decref(o);
    }
    free(line);
    fclose(f);
    return all;
}

/* The snapshot record of a raw report (attach/core --all-threads). */
static json_t *raw_snapshot(const char *path)
{
    json_t *all = raw_records(path, "snapshot");
    json_t *snap = json_incref(json_array_get(all, 0));
    json_decref(all);
    ck_assert_msg(snap != NULL, "%s has no snapshot record", path);
    return snap;
}

static json_t *thread_named(json_t *snap, const char *name)
{
    size_t i;
    json_t *t;
    json_array_foreach (json_object_get(snap, "threads"), i, t) {
        const char *n = json_string_value(json_object_get(t, "name"));
        if (n && !strcmp(n, name))
            return t;
    }
    ck_abort_msg("no thread named %s in the report", name);
    return NULL;
}

static bool py_stack_has(json_t *t, const char *fn)
{
    size_t i;
    json_t *f;
    json_array_foreach (json_object_get(t, "python_stack"), i, f) {
        const char *n = json_string_value(json_object_get(f, "function"));
        if (n && !strcmp(n, fn))
            return true;
    }
    return false;
}

/* What a user of attach or core relies on for the example: the three threads by their Python
 * names, the workers in parent_task waiting on Future.result, the main thread in <module>. */
static void check_example_threads(json_t *snap, const char *what)
{
    static const char *const workers[] = { "ThreadPoolExecutor-0_0", "ThreadPoolExecutor-0_1" };
    for (int k = 0; k < 2; k++) {
        json_t *t = thread_named(snap, workers[k]);
        ck_assert_msg(py_stack_has(t, "parent_task"), "%s: %s is not in parent_task", what,
                      workers[k]);
        ck_assert_msg(py_stack_has(t, "Future.result"), "%s: %s is not in Future.result", what,
                      workers[k]);
        ck_assert_str_eq(json_string_value(json_object_get(t, "python_blocked")), "future_result");
    }
    json_t *m = thread_named(snap, "MainThread");
    ck_assert_msg(py_stack_has(m, "<module>"), "%s: MainThread is not in <module>", what);
    ck_assert_msg(json_is_true(json_object_get(m, "main")), "%s: MainThread is not the main one",
                  what);
}

/* What the shim says of the example, proven from one reading taken outside: one finding, a
 * pool_exhaustion error with an exact proof, both workers running parent_task and waiting on
 * the future of dependent_task queued on their own executor, the main thread stuck with them. */
static void check_example_finding(const char *raw, const char *what)
{
    json_t *all = raw_records(raw, "finding");
    ck_assert_msg(json_array_size(all) == 1, "%s: %zu findings, want 1 (the pool)", what,
                  json_array_size(all));
    json_t *f = json_array_get(all, 0);
    ck_assert_str_eq(json_string_value(json_object_get(f, "kind")), "pool_exhaustion");
    ck_assert_str_eq(json_string_value(json_object_get(f, "severity")), "error");
    const char *sum = json_string_value(json_object_get(f, "summary"));
    ck_assert_msg(sum && strstr(sum, "all 2 workers of ThreadPoolExecutor-0") &&
                      strstr(sum, "running parent_task") && strstr(sum, "waits on dependent_task"),
                  "%s: summary %s", what, sum);
    json_t *pool = json_object_get(f, "pool");
    ck_assert_str_eq(json_string_value(json_object_get(pool, "proof")), "exact");
    ck_assert_int_eq(json_integer_value(json_object_get(pool, "workers")), 2);
    size_t i;
    json_t *t;
    int queued_here = 0;
    json_array_foreach (json_object_get(pool, "tasks"), i, t) {
        json_t *task = json_object_get(t, "task"), *wf = json_object_get(t, "waits_for");
        ck_assert_str_eq(json_string_value(json_object_get(task, "function")), "parent_task");
        ck_assert_str_eq(json_string_value(
                             json_object_get(json_object_get(wf, "function"), "function")),
                         "dependent_task");
        queued_here += json_is_true(json_object_get(wf, "queued_here"));
    }
    ck_assert_msg(queued_here == 2, "%s: %d workers wait on work queued on their own pool", what,
                  queued_here);
    int workers = 0, main_blocked = 0;
    json_array_foreach (json_object_get(f, "threads"), i, t) {
        const char *role = json_string_value(json_object_get(t, "role"));
        workers += role && !strcmp(role, "worker") && py_stack_has(t, "parent_task");
        main_blocked += role && !strcmp(role, "blocked") &&
                        json_is_true(json_object_get(t, "main")) && py_stack_has(t, "<module>");
    }
    ck_assert_msg(workers == 2 && main_blocked == 1,
                  "%s: %d workers in parent_task and %d main thread in <module> in the finding",
                  what, workers, main_blocked);
    json_decref(all);
}

START_TEST(test_attach_reads_python_threads_of_stuck_pool)
{
    need_attach();
    struct e2e_run r;
    char *args[] = { "examples/pool_exhaustion.py", NULL };
    start_python(&r, "py-pool", args);
    char pid[16];
    snprintf(pid, sizeof pid, "%d", (int)r.pid);
    char *dir = tu_tmpdir(), raw[PATH_MAX];
    snprintf(raw, sizeof raw, "%s/poolguard.attach.1.jsonl", dir);
    char *pargs[] = { "poolguard", "attach", "--all-threads", "--raw", raw, pid, NULL };
    char *err;
    int st = run_poolguard("py-pool-attach", pargs, NULL, &err);
    /* No native proof here (Python's SIGINT handler could wake a thread): the shim's Python
     * rules prove it from the reading. */
    ck_assert_msg(st == 66, "attach: exit status %d, want 66; stderr: %s", st, err);
    free(err);
    check_example_finding(raw, "attach");
    json_t *snap = raw_snapshot(raw);
    check_example_threads(snap, "attach");
    json_decref(snap);
    assert_running(r.pid);
    ck_assert_msg(!e2e_run_wait(&r, 0), "the program ended after attach");
    tu_rmtree(dir); /* checks the raw report against the format */
    free(dir);
    e2e_run_kill(&r);
    tu_rmtree(r.work);
}
END_TEST

START_TEST(test_core_of_stuck_python_pool_gives_same_names)
{
    need_attach();
    if (system("command -v gcore >/dev/null 2>&1") != 0)
        ck_abort_msg("gcore is not installed (it comes with gdb: run make deps)");
    struct e2e_run r;
    char *args[] = { "examples/pool_exhaustion.py", NULL };
    start_python(&r, "py-pool-core", args);
    char cmd[PATH_MAX * 2], core[PATH_MAX + 32];
    snprintf(cmd, sizeof cmd, "timeout 60 gcore -o %s/core %d >/dev/null 2>&1", r.work, (int)r.pid);
    ck_assert_msg(system(cmd) == 0, "gcore failed: %s", cmd);
    snprintf(core, sizeof core, "%s/core.%d", r.work, (int)r.pid);
    assert_running(r.pid);
    char *dir = tu_tmpdir(), raw[PATH_MAX];
    snprintf(raw, sizeof raw, "%s/poolguard.core.1.jsonl", dir);
    char *pargs[] = { "poolguard", "core", "--all-threads", "--raw", raw, core, PYTHON, NULL };
    char *err;
    int st = run_poolguard("py-pool-corefile", pargs, NULL, &err);
    ck_assert_msg(st == 66, "core: exit status %d, want 66; stderr: %s", st, err);
    free(err);
    check_example_finding(raw, "core");
    json_t *snap = raw_snapshot(raw);
    check_example_threads(snap, "core");
    json_decref(snap);
    tu_rmtree(dir);
    free(dir);
    e2e_run_kill(&r);
    tu_rmtree(r.work);
}
END_TEST

/* The gate: a Python program that runs outside the shim (env drops LD_PRELOAD before exec'ing
 * python3) hangs on its pool; at the time-out it does not answer the snapshot request, so
 * `poolguard run` attaches to it, and the pool finding read from outside fails the gate (66)
 * instead of a plain time-out (124). */
START_TEST(test_run_timeout_attaches_to_python_outside_the_shim)
{
    need_attach();
    tu_need_program(PYTHON, "python3");
    char *dir = tu_tmpdir();
    char *args[] = { "poolguard", "run",        "--timeout", "3",
                     "--dir",     dir,          "--",        "env",
                     "-u",        "LD_PRELOAD", PYTHON,      "examples/pool_exhaustion.py",
                     NULL };
    struct e2e_run r;
    e2e_run_init(&r, "py-run-timeout");
    e2e_run_start(&r, poolguard(), args, false, NULL);
    bool done = e2e_run_wait(&r, 60000);
    if (!done)
        e2e_run_kill(&r);
    ck_assert_msg(done, "poolguard run did not end within 60 s");
    char *err = e2e_run_stderr(&r), *out = e2e_run_stdout(&r);
    ck_assert_msg(strstr(err, "did not answer the snapshot request"), "%s", err);
    ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 66,
                  "status 0x%x, want exit 66:\n%s", r.status, err);
    ck_assert_msg(strstr(err, "pool_exhaustion") && strstr(err, "parent_task"),
                  "no pool finding with the task's name:\n%s", err);
    ck_assert_msg(strcmp(out, "submitting parent tasks\n") == 0, "the program's output: %s", out);
    free(err);
    free(out);
    tu_rmtree(r.work);
    tu_rmtree(dir); /* checks the reports against the format */
    free(dir);
}
END_TEST

/* A healthy pool: maps until the stop file appears, then prints its result and exits with 3. */
static const char healthy[] = "import os, sys\n"
                              "from concurrent.futures import ThreadPoolExecutor\n"
                              "ex = ThreadPoolExecutor(4)\n"
                              "total = sum(ex.map(lambda x: x * x, range(100)))\n"
                              "print('ready', flush=True)\n"
                              "while not os.path.exists(sys.argv[1]):\n"
                              "    assert sum(ex.map(lambda x: x * x, range(100))) == total\n"
                              "print(total)\n"
                              "ex.shutdown()\n"
                              "sys.exit(3)\n";

START_TEST(test_attach_many_times_leaves_python_program_unchanged)
{
    need_attach();
    char stop[PATH_MAX];
    snprintf(stop, sizeof stop, "/tmp/poolguard-py-stop-%d", (int)getpid());
    /* Unattached: the stop file is there from the start. */
    tu_write(stop, "");
    struct e2e_run ref;
    char *args[] = { "-c", (char *)healthy, stop, NULL };
    start_python(&ref, "py-healthy-ref", args);
    ck_assert(e2e_run_wait(&ref, E2E_HEALTHY_EXIT_MS));
    char *want = e2e_run_stdout(&ref);
    int want_status = ref.status;
    tu_rmtree(ref.work);
    unlink(stop);

    struct e2e_run r;
    start_python(&r, "py-healthy", args);
    char pid[16];
    snprintf(pid, sizeof pid, "%d", (int)r.pid);
    for (int k = 0; k < ATTACHES; k++) {
        char *pargs[] = { "poolguard", "attach", pid, NULL };
        char *err;
        int st = run_poolguard("py-healthy-attach", pargs, NULL, &err);
        ck_assert_msg(st == 0, "attach %d: exit status %d; stderr: %s", k, st, err);
        free(err);
        ck_assert_msg(!e2e_run_wait(&r, 0), "the program ended while being attached to (%d)", k);
    }
    assert_running(r.pid);
    tu_write(stop, "");
    ck_assert_msg(e2e_run_wait(&r, E2E_HEALTHY_EXIT_MS), "the program did not finish");
    unlink(stop);
    char *got = e2e_run_stdout(&r);
    ck_assert_str_eq(got, want);
    ck_assert_int_eq(r.status, want_status);
    ck_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 3);
    free(got);
    free(want);
    tu_rmtree(r.work);
}
END_TEST

/* A reading without what differs by nature between two readings (timings; the order of the
 * threads: the interpreter's list against sys._current_frames): threads keyed by ident. */
static json_t *comparable(json_t *py, const char *what)
{
    ck_assert_msg(json_is_object(py), "%s: no reading", what);
    json_t *c = json_deep_copy(py);
    json_object_del(c, "gil_wait_us");
    json_object_del(c, "read_us");
    json_t *byid = json_object();
    size_t i;
    json_t *t;
    json_array_foreach (json_object_get(c, "threads"), i, t)
        json_object_set(byid, json_string_value(json_object_get(t, "ident")), t);
    json_object_set_new(c, "threads", byid);
    return c;
}

/* The same moment read from inside by the shim's Python layer (through the C API, with the GIL)
 * and from outside by attach (raw memory): the two readings must be the same, field for field. */
static void check_inside_equals_outside(const char *script, const char *label)
{
    need_attach();
    tu_need_built("libpoolguard-pydebug.so");
    char *dir = tu_tmpdir();
    char shim[PATH_MAX + 32], in[PATH_MAX], out[PATH_MAX], pre[PATH_MAX + 64], dout[PATH_MAX + 32],
        pdir[PATH_MAX + 32], pyj[PATH_MAX + 32];
    char *b = tu_build_path("libpoolguard-pydebug.so");
    snprintf(shim, sizeof shim, "%s", b);
    free(b);
    snprintf(in, sizeof in, "%s/inside.jsonl", dir);
    snprintf(out, sizeof out, "%s/outside.json", dir);
    snprintf(pre, sizeof pre, "LD_PRELOAD=%s", shim);
    snprintf(dout, sizeof dout, "POOLGUARD_PY_DEBUG_OUT=%s", in);
    snprintf(pdir, sizeof pdir, "POOLGUARD_DIR=%s", dir);
    snprintf(pyj, sizeof pyj, "POOLGUARD_ATTACH_PYJSON=%s", out);
    const char *env[] = { pre, "POOLGUARD_PY_DEBUG=1000", dout, pdir, NULL };
    struct e2e_run r;
    char *args[] = { (char *)script, NULL };
    start_python_env(&r, label, args, env);
    long deadline = tu_now_ms() + READY_MS;
    for (;;) { /* the inside reading, one second after the start */
        char *s = tu_slurp_maybe(in, NULL);
        bool done = s && strchr(s, '\n');
        free(s);
        if (done)
            break;
        ck_assert_msg(tu_now_ms() < deadline, "%s: no inside reading within %d ms", label,
                      READY_MS);
        tu_sleep_ms(20);
    }
    char pid[16];
    snprintf(pid, sizeof pid, "%d", (int)r.pid);
    char *pargs[] = { "poolguard", "attach", pid, NULL };
    const char *penv[] = { pyj, NULL };
    char *err;
    int st = run_poolguard_env(label, pargs, penv, NULL, &err);
    ck_assert_msg(st == 0 || st == 66, "%s: attach exit status %d; stderr: %s", label, st, err);
    free(err);
    json_error_t e;
    json_t *inside = json_load_file(in, JSON_DISABLE_EOF_CHECK, &e);
    json_t *outside = json_load_file(out, 0, &e);
    ck_assert_msg(inside && outside, "%s: a reading is not JSON", label);
    ck_assert_int_eq(json_integer_value(json_object_get(inside, "rc")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(outside, "status")), 0);
    json_t *a = comparable(json_object_get(inside, "python"), "inside");
    json_t *o = comparable(json_object_get(outside, "python"), "outside");
    ck_assert_int_ge(json_object_size(json_object_get(o, "threads")), 3);
    if (!json_equal(a, o)) {
        /* Which part differs, in the message; both readings in full on stderr. */
        const char *part = "version";
        if (!json_equal(json_object_get(a, "executors"), json_object_get(o, "executors")))
            part = "executors";
        const char *key;
        json_t *t;
        json_object_foreach (json_object_get(a, "threads"), key, t)
            if (!json_equal(t, json_object_get(json_object_get(o, "threads"), key)))
                part = key;
        char *sa = json_dumps(a, JSON_SORT_KEYS), *so = json_dumps(o, JSON_SORT_KEYS);
        fprintf(stderr, "%s inside:  %s\n%s outside: %s\n", label, sa, label, so);
        ck_abort_msg("%s: the readings differ in %s (both are on stderr)", label, part);
    }
    json_decref(a);
    json_decref(o);
    json_decref(inside);
    json_decref(outside);
    e2e_run_kill(&r);
    tu_rmtree(r.work);
    tu_rmtree(dir);
    free(dir);
}

START_TEST(test_outside_reading_equals_shims_on_stuck_pool)
{
    check_inside_equals_outside("examples/pool_exhaustion.py", "py-same-pool");
}
END_TEST

/* Queued futures at known places, a timed and an untimed Event.wait, futures.wait on two. */
static const char waits[] =
    "import threading, time\n"
    "from concurrent.futures import ThreadPoolExecutor, wait\n"
    "ev = threading.Event()\n"
    "ex = ThreadPoolExecutor(max_workers=1, thread_name_prefix='one')\n"
    "def blocker(): ev.wait()\n"
    "def a(): pass\n"
    "def b(): pass\n"
    "def c(): pass\n"
    "ex.submit(blocker)\n"
    "time.sleep(0.2)\n"
    "fa, fb, fc = ex.submit(a), ex.submit(b), ex.submit(c)\n"
    "threading.Thread(target=lambda: ev.wait(timeout=100), name='timed', daemon=True).start()\n"
    "print('ready', flush=True)\n"
    "wait([fb, fc])\n";

START_TEST(test_outside_reading_equals_shims_on_waits)
{
    char *dir = tu_tmpdir(), path[PATH_MAX];
    snprintf(path, sizeof path, "%s/waits.py", dir);
    tu_write(path, waits);
    check_inside_equals_outside(path, "py-same-waits");
    tu_rmtree(dir);
    free(dir);
}
END_TEST

Suite *attach_py_suite(void)
{
    Suite *s = suite_create("attach_py");
    TCase *tc = tcase_create("attach_py");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_attach_reads_python_threads_of_stuck_pool);
    tcase_add_test(tc, test_core_of_stuck_python_pool_gives_same_names);
    tcase_add_test(tc, test_run_timeout_attaches_to_python_outside_the_shim);
    tcase_add_test(tc, test_attach_many_times_leaves_python_program_unchanged);
    tcase_add_test(tc, test_outside_reading_equals_shims_on_stuck_pool);
    tcase_add_test(tc, test_outside_reading_equals_shims_on_waits);
    suite_add_tcase(s, tc);
    return s;
}

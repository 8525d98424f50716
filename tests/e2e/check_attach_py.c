/*
 * `poolguard attach` and `poolguard core` on a Python process started WITHOUT the shim: the
 * interpreter is read from memory (analyzer/attach/pyremote*.c), so the raw report's threads carry
 * their Python names and Python stacks. Runs Debian's /usr/bin/python3 (what CI has): the
 * problem's example (examples/pool_exhaustion.py) hung, attached to and read from a gcore; and a
 * healthy Python program attached to many times, whose output and exit status must not change.
 * Skipped where ptrace is not permitted; every program runs under a time limit.
 */
#include "testlib.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

enum { READY_MS = 15000, ATTACH_MS = 20000, SETTLE_MS = 300, ATTACHES = 25 };

#define PYTHON "/usr/bin/python3"

static char poolguard_path[PATH_MAX];

static const char *poolguard(void)
{
    snprintf(poolguard_path, sizeof poolguard_path, "%s/poolguard", tu_build());
    return poolguard_path;
}

static int run_poolguard(const char *label, char *const args[], char **err)
{
    struct e2e_run r;
    e2e_run_init(&r, label);
    e2e_run_start(&r, poolguard(), args, false, NULL);
    bool done = e2e_run_wait(&r, ATTACH_MS);
    if (!done)
        e2e_run_kill(&r);
    ck_assert_msg(done, "%s: poolguard did not finish within %d ms", label, ATTACH_MS);
    ck_assert_msg(WIFEXITED(r.status), "%s: poolguard died (status 0x%x)", label, r.status);
    *err = e2e_run_stderr(&r);
    tu_rmtree(r.work);
    return WEXITSTATUS(r.status);
}

/* Starts python3 with args, without the shim, and waits for its first line of output. */
static void start_python(struct e2e_run *r, const char *label, char *const args[])
{
    tu_need_program(PYTHON, "python3");
    char *argv[8] = { PYTHON };
    for (int i = 0; args[i] && i < 6; i++)
        argv[i + 1] = args[i];
    e2e_run_init(r, label);
    e2e_run_start(r, PYTHON, argv, false, NULL);
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

/* No thread of pid is stopped or traced. */
static void assert_running(pid_t pid)
{
    char cmd[128], line[1024];
    snprintf(cmd, sizeof cmd, "cat /proc/%d/task/*/stat 2>/dev/null", (int)pid);
    FILE *f = popen(cmd, "r");
    ck_assert(f != NULL);
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        const char *paren = strrchr(line, ')');
        ck_assert(paren != NULL);
        ck_assert_msg(paren[2] != 't' && paren[2] != 'T', "a thread was left stopped: %s", line);
        n++;
    }
    pclose(f);
    ck_assert_msg(n > 0, "process %d has no threads left", (int)pid);
}

static bool attach_permitted(char *why, size_t cap)
{
    struct e2e_run r;
    char *args[] = { "-c", "import time; print('ready', flush=True); time.sleep(30)", NULL };
    start_python(&r, "py-probe", args);
    char pid[16];
    snprintf(pid, sizeof pid, "%d", (int)r.pid);
    char *pargs[] = { "poolguard", "attach", pid, NULL };
    char *err;
    int st = run_poolguard("py-attach-probe", pargs, &err);
    bool ok = !(st == 125 && strstr(err, "not permitted"));
    snprintf(why, cap, "%s", err);
    free(err);
    e2e_run_kill(&r);
    tu_rmtree(r.work);
    return ok;
}

static void need_attach(void)
{
    static int known = -1;
    static char why[512];
    if (known < 0)
        known = attach_permitted(why, sizeof why);
    if (!known)
        tu_skip("ptrace is not permitted here: %s", why);
}

/* The snapshot record of a raw report (attach/core --all-threads). */
static json_t *raw_snapshot(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "no raw report %s", path);
    char *line = NULL;
    size_t cap = 0;
    json_t *snap = NULL;
    while (getline(&line, &cap, f) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        const char *type = json_string_value(json_object_get(o, "type"));
        if (!snap && type && !strcmp(type, "snapshot"))
            snap = json_incref(o);
        json_decref(o);
    }
    free(line);
    fclose(f);
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
    int st = run_poolguard("py-pool-attach", pargs, &err);
    /* No native proof here (Python's SIGINT handler could wake a thread); the exit status is
     * 66 once the Python rules judge this reading, 0 until then, never an error. */
    ck_assert_msg(st == 0 || st == 66, "attach: exit status %d; stderr: %s", st, err);
    free(err);
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
    int st = run_poolguard("py-pool-corefile", pargs, &err);
    ck_assert_msg(st == 0 || st == 66, "core: exit status %d; stderr: %s", st, err);
    free(err);
    json_t *snap = raw_snapshot(raw);
    check_example_threads(snap, "core");
    json_decref(snap);
    tu_rmtree(dir);
    free(dir);
    e2e_run_kill(&r);
    tu_rmtree(r.work);
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
        int st = run_poolguard("py-healthy-attach", pargs, &err);
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

Suite *attach_py_suite(void)
{
    Suite *s = suite_create("attach_py");
    TCase *tc = tcase_create("attach_py");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_attach_reads_python_threads_of_stuck_pool);
    tcase_add_test(tc, test_core_of_stuck_python_pool_gives_same_names);
    tcase_add_test(tc, test_attach_many_times_leaves_python_program_unchanged);
    suite_add_tcase(s, tc);
    return s;
}

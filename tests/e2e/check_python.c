/*
 * Python programs under the shim: examples/pool_exhaustion.py and its variations (on a
 * ThreadPoolExecutor, a multiprocessing ThreadPool, asyncio's executors) must give the right
 * finding with Python thread names, functions and lines, and a pool that says what it is, how the
 * program names it and which task functions its workers run and wait for; healthy programs that
 * block a lot must give none, with their output and exit status unchanged. Every test runs on the
 * Python that Debian ships (/usr/bin/python3, test_*_on_debian_python) and again on the python3
 * found on the PATH (test_*_on_path_python), which is skipped, saying so, when that is the same
 * interpreter.
 */
#include "testlib.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { REPORT_MS = 6000, SETTLE_MS = 400, HEALTHY_MS = 30000 };

/* The interpreters to test: index 0 Debian's, 1 the PATH's if different ("" otherwise); what the
 * PATH's python3 said its executable is ("" when there is none). */
static char pythons[2][PATH_MAX];
static char path_python[PATH_MAX];

static void find_pythons(void)
{
    snprintf(pythons[0], sizeof pythons[0], "/usr/bin/python3");
    pythons[1][0] = 0;
    FILE *p = popen("python3 -c 'import sys; print(sys.executable)' 2>/dev/null", "r");
    if (!p)
        return;
    char buf[PATH_MAX] = "";
    if (fgets(buf, sizeof buf, p))
        buf[strcspn(buf, "\n")] = 0;
    pclose(p);
    snprintf(path_python, sizeof path_python, "%s", buf);
    char a[PATH_MAX], b[PATH_MAX];
    if (buf[0] && realpath(buf, a) && realpath(pythons[0], b) && strcmp(a, b))
        snprintf(pythons[1], sizeof pythons[1], "%s", buf);
}

static const char *python(int which)
{
    if (!pythons[0][0])
        find_pythons();
    if (!pythons[which][0] && path_python[0])
        tu_skip("no second Python: the python3 on the PATH is %s, the same as %s", path_python,
                pythons[0]);
    if (!pythons[which][0])
        tu_skip("no second Python: no python3 on the PATH");
    return pythons[which];
}

static void script_path(char *buf, size_t size, const char *script)
{
    const char *src = getenv("POOLGUARD_SRC");
    snprintf(buf, size, "%s/tests/py/%s", src ? src : ".", script);
}

struct py_case {
    const char *script;
    const char *first_line;
    const char *kind, *severity;
    const char *summary_has[3];
    const char *worker_name_prefix;
    const char *worker_fn;   /* in every worker's python_stack */
    const char *worker_file; /* that frame's file's base name */
    /* The pool object (when pool_kind is set): kind, name, and for every worker its task's
     * function and the function of the work it waits for (coroutine: the coroutine between). */
    const char *pool_kind, *pool_name, *task_fn, *waits_fn, *coroutine;
    long queued; /* exact queue depth; -1: not checked */
};

static const char *get_str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void check_pool(const struct py_case *c, json_t *f)
{
    json_t *pool = json_object_get(f, "pool");
    char *dump = json_dumps(pool, JSON_COMPACT);
    ck_assert_msg(get_str(pool, "library") && !strcmp(get_str(pool, "library"), "python"),
                  "%s: pool library: %.1500s", c->script, dump);
    ck_assert_msg(get_str(pool, "kind") && !strcmp(get_str(pool, "kind"), c->pool_kind),
                  "%s: pool kind: %.1500s", c->script, dump);
    ck_assert_msg(get_str(pool, "name") && !strcmp(get_str(pool, "name"), c->pool_name),
                  "%s: pool name: %.1500s", c->script, dump);
    if (c->queued >= 0)
        ck_assert_msg(json_integer_value(json_object_get(pool, "queued")) == c->queued &&
                          json_is_true(json_object_get(pool, "queued_exact")),
                      "%s: queued: %.1500s", c->script, dump);
    json_t *tasks = json_object_get(pool, "tasks");
    ck_assert_msg(json_array_size(tasks) > 0 &&
                      (json_int_t)json_array_size(tasks) ==
                          json_integer_value(json_object_get(pool, "workers")),
                  "%s: one task entry per worker: %.1500s", c->script, dump);
    size_t i;
    json_t *t;
    json_array_foreach (tasks, i, t) {
        json_t *wf = json_object_get(t, "waits_for");
        ck_assert_msg(!strcmp(get_str(json_object_get(t, "task"), "function"), c->task_fn) &&
                          json_is_true(json_object_get(wf, "queued_here")) &&
                          !strcmp(get_str(json_object_get(wf, "function"), "function"),
                                  c->waits_fn),
                      "%s: worker %zu's task and wait: %.1500s", c->script, i, dump);
        if (c->coroutine)
            ck_assert_msg(!strcmp(get_str(wf, "kind"), "coroutine") &&
                              !strcmp(get_str(json_object_get(wf, "coroutine"), "function"),
                                      c->coroutine),
                          "%s: worker %zu waits through coroutine %s: %.1500s", c->script, i,
                          c->coroutine, dump);
    }
    free(dump);
}

static json_t *the_finding(const struct py_case *c, struct e2e_reports *rs, const char *dir)
{
    char all[4096];
    e2e_describe_findings(rs, all, sizeof all);
    ck_assert_msg(e2e_reports_count_findings(rs) == 1, "%s: %zu findings, expected 1: %s (in %s)",
                  c->script, e2e_reports_count_findings(rs), all, dir);
    return json_array_get(e2e_reports_with_finding(rs)->findings, 0);
}

static void check_finding(const struct py_case *c, json_t *f)
{
    ck_assert_str_eq(json_string_value(json_object_get(f, "kind")), c->kind);
    ck_assert_str_eq(json_string_value(json_object_get(f, "severity")), c->severity);
    const char *summary = json_string_value(json_object_get(f, "summary"));
    for (int k = 0; k < 3 && c->summary_has[k]; k++)
        ck_assert_msg(summary && strstr(summary, c->summary_has[k]), "%s: summary lacks \"%s\": %s",
                      c->script, c->summary_has[k], summary);
    if (c->pool_kind)
        check_pool(c, f);
    if (!c->worker_fn)
        return;
    int workers = 0;
    size_t i;
    json_t *t;
    json_array_foreach (json_object_get(f, "threads"), i, t) {
        const char *role = json_string_value(json_object_get(t, "role"));
        if (!role || strcmp(role, "worker"))
            continue;
        workers++;
        const char *name = json_string_value(json_object_get(t, "name"));
        ck_assert_msg(name && tu_starts_with(name, c->worker_name_prefix), "%s: worker named %s",
                      c->script, name);
        bool found = false;
        size_t j;
        json_t *fr;
        json_array_foreach (json_object_get(t, "python_stack"), j, fr) {
            const char *fn = json_string_value(json_object_get(fr, "function"));
            const char *file = json_string_value(json_object_get(fr, "file"));
            if (fn && !strcmp(fn, c->worker_fn) && file &&
                !strcmp(tu_base_name(file), c->worker_file) &&
                json_integer_value(json_object_get(fr, "line")) > 0)
                found = true;
        }
        char *dump = json_dumps(json_object_get(t, "python_stack"), JSON_COMPACT);
        ck_assert_msg(found, "%s: worker %s's Python stack lacks %s in %s: %.1500s", c->script,
                      name, c->worker_fn, c->worker_file, dump);
        free(dump);
    }
    ck_assert_msg(workers > 0, "%s: no worker in the finding", c->script);
}

/* A program that hangs: wait for the finding, stop it, check the raw report and the analyzer. */
static void run_hang(const struct py_case *c, int which)
{
    const char *py = python(which);
    struct e2e_run r;
    e2e_run_init(&r, c->script);
    char script[PATH_MAX];
    script_path(script, sizeof script, c->script);
    char *argv[] = { "python3", script, NULL };
    bool stall = !strcmp(c->kind, "stall");
    static const char *const stall_env[] = { "POOLGUARD_STALL_MS=1000", NULL };
    e2e_run_start(&r, py, argv, true, stall ? stall_env : NULL);
    bool started = e2e_wait_for_output(&r, c->first_line, 10000);
    bool found = started && e2e_wait_for_finding(&r, REPORT_MS);
    bool exited = r.exited;
    if (found)
        tu_sleep_ms(SETTLE_MS);
    e2e_run_kill(&r);
    char *err = e2e_run_stderr(&r);
    ck_assert_msg(!exited, "%s (%s): exited instead of hanging; stderr %.500s", c->script, py, err);
    ck_assert_msg(found, "%s (%s): no finding in %d ms; stderr %.800s", c->script, py, REPORT_MS,
                  err);
    free(err);
    struct e2e_reports rs;
    e2e_reports_load(&rs, r.reports);
    check_finding(c, the_finding(c, &rs, r.reports));
    e2e_reports_free(&rs);
    json_t *doc = e2e_analyzer_json(c->script, &r);
    json_t *f = json_array_get(json_object_get(doc, "findings"), 0);
    if (stall) {
        /* Info: in the report, not shown by default. */
        ck_assert_msg(!f, "%s: a stall is shown by default", c->script);
    } else {
        ck_assert_msg(f, "%s: the analyzer shows no finding", c->script);
        ck_assert_str_eq(json_string_value(json_object_get(f, "kind")), c->kind);
    }
    json_decref(doc);
    tu_rmtree(r.work);
}

static void run_py(const char *py, const char *script, bool preload, const char *const env[],
                   struct e2e_run *r)
{
    e2e_run_init(r, script);
    char path[PATH_MAX];
    script_path(path, sizeof path, script);
    char *argv[] = { "python3", path, NULL };
    e2e_run_start(r, py, argv, preload, env);
    bool done = e2e_run_wait(r, HEALTHY_MS);
    e2e_run_kill(r);
    ck_assert_msg(done, "%s (%s%s): did not finish in %d ms", script, py, preload ? ", shim" : "",
                  HEALTHY_MS);
}

/* A healthy program: same stdout and status with and without the shim, and no finding. */
static void run_healthy(const char *script, int which)
{
    const char *py = python(which);
    struct e2e_run native, shim;
    run_py(py, script, false, NULL, &native);
    run_py(py, script, true, NULL, &shim);
    char *a = e2e_run_stdout(&native), *b = e2e_run_stdout(&shim);
    struct e2e_reports rs;
    e2e_reports_load(&rs, shim.reports);
    char all[4096];
    e2e_describe_findings(&rs, all, sizeof all);
    ck_assert_msg(e2e_reports_count_findings(&rs) == 0,
                  "%s (%s): findings on a healthy program: %s", script, py, all);
    ck_assert_msg(WIFEXITED(shim.status) && shim.status == native.status, "%s: status 0x%x vs 0x%x",
                  script, shim.status, native.status);
    ck_assert_msg(!strcmp(a, b), "%s: stdout differs:\n%s---\n%s", script, a, b);
    free(a);
    free(b);
    e2e_reports_free(&rs);
    tu_rmtree(native.work);
    tu_rmtree(shim.work);
}

static const struct py_case one_worker = {
    "app_one_worker.py",
    "app_one_worker: submitting\n",
    "pool_exhaustion",
    "error",
    { "worker ThreadPoolExecutor-0_0, running parent_task (app_one_worker.py:12)",
      "waits on the future of dependent_task, which is still queued on the same executor",
      "its only worker is that thread" },
    "ThreadPoolExecutor-0_",
    "parent_task",
    "app_one_worker.py",
    "concurrent.futures.ThreadPoolExecutor",
    "ThreadPoolExecutor-0",
    "parent_task",
    "dependent_task",
    NULL,
    1
};

static const struct py_case mp_one = {
    "app_mp_one.py",
    "app_mp_one: submitting\n",
    "pool_exhaustion",
    "error",
    { "running parent (app_mp_one.py:13)",
      "waits on the result of subtask, which is still queued on the same pool",
      "its only worker is that thread" },
    "Thread-",
    "parent",
    "app_mp_one.py",
    "multiprocessing.pool.ThreadPool",
    "ThreadPool __main__.pool",
    "parent",
    "subtask",
    NULL,
    1
};

static const struct py_case mp_two = {
    "app_mp_two.py",
    "app_mp_two: submitting 6 parents\n",
    "pool_exhaustion",
    "error",
    { "all 2 workers of ThreadPool __main__.pool",
      "are waiting on results of tasks still queued on the same pool", "waits on subtask" },
    "Thread-",
    "parent",
    "app_mp_two.py",
    "multiprocessing.pool.ThreadPool",
    "ThreadPool __main__.pool",
    "parent",
    "subtask",
    NULL,
    6
};

static const struct py_case asyncio_threadsafe = {
    "app_asyncio_threadsafe.py",
    "app_asyncio_threadsafe: submitting 40 parents\n",
    "pool_exhaustion",
    "error",
    { "workers of asyncio's default executor of the event loop in MainThread",
      "waiting on futures whose completion needs tasks still queued on the same executor",
      "waits on coroutine fetch, which awaits child" },
    "asyncio_",
    "parent",
    "app_asyncio_threadsafe.py",
    "concurrent.futures.ThreadPoolExecutor",
    "asyncio's default executor of the event loop in MainThread",
    "parent",
    "child",
    "fetch",
    40
};

static const struct py_case asyncio_named = { "app_asyncio_named.py",
                                              "app_asyncio_named: submitting\n",
                                              "pool_exhaustion",
                                              "error",
                                              { "all 2 workers of db", "running query",
                                                "waits on write_log" },
                                              "db_",
                                              "query",
                                              "app_asyncio_named.py",
                                              "concurrent.futures.ThreadPoolExecutor",
                                              "db",
                                              "query",
                                              "write_log",
                                              NULL,
                                              -1 };

static const struct py_case flood = { "app_flood.py",
                                      "app_flood: submitting 200 parents\n",
                                      "pool_exhaustion",
                                      "error",
                                      { "all 2 workers of ThreadPoolExecutor-0",
                                        "running parent_task", "waits on dependent_task" },
                                      "ThreadPoolExecutor-0_",
                                      "parent_task",
                                      "app_flood.py",
                                      NULL,
                                      NULL,
                                      NULL,
                                      NULL,
                                      NULL,
                                      -1 };

/* The task that would set the event is queued behind the two that wait, and main waits for them
 * all; but CPython catches SIGINT, so a handler could still run and nothing proves the workers
 * stuck (the Python layer cannot tie an Event to the task that sets it): a stall, not an error. */
static const struct py_case event = { "app_event.py",
                                      "app_event: submitting\n",
                                      "stall",
                                      "info",
                                      { "all 2 workers of ThreadPoolExecutor-0", "event_wait",
                                        "1 task waits in its queue" },
                                      "ThreadPoolExecutor-0_",
                                      "consumer",
                                      "app_event.py",
                                      NULL,
                                      NULL,
                                      NULL,
                                      NULL,
                                      NULL,
                                      -1 };

/* Each test twice: `which` is 0 on Debian's Python, 1 on the PATH's. */
#define BOTH(name, body)                                                                           \
    START_TEST(name##_on_debian_python)                                                            \
    {                                                                                              \
        int which = 0;                                                                             \
        body;                                                                                      \
    }                                                                                              \
    END_TEST                                                                                       \
    START_TEST(name##_on_path_python)                                                              \
    {                                                                                              \
        int which = 1;                                                                             \
        body;                                                                                      \
    }                                                                                              \
    END_TEST
#define ADD_BOTH(tc, name)                                                                         \
    do {                                                                                           \
        tcase_add_test(tc, name##_on_debian_python);                                               \
        tcase_add_test(tc, name##_on_path_python);                                                 \
    } while (0)

BOTH(test_python_one_worker_waiting_on_its_own_queue_is_exhausted, run_hang(&one_worker, which))
BOTH(test_python_flood_of_parents_with_a_heartbeat_is_exhausted, run_hang(&flood, which))
BOTH(test_python_tasks_waiting_through_an_event_are_a_stall, run_hang(&event, which))
BOTH(test_python_thread_pool_of_one_waiting_on_its_own_subtask_is_exhausted,
     run_hang(&mp_one, which))
BOTH(test_python_thread_pool_of_two_flooded_with_parents_is_exhausted, run_hang(&mp_two, which))
BOTH(test_python_asyncio_default_executor_starved_through_run_coroutine_threadsafe,
     run_hang(&asyncio_threadsafe, which))
BOTH(test_python_run_in_executor_pool_and_partial_tasks_are_named, run_hang(&asyncio_named, which))
BOTH(test_python_two_executors_are_healthy, run_healthy("ok_two_executors.py", which))
BOTH(test_python_workers_waiting_on_an_event_main_sets_are_healthy,
     run_healthy("ok_event_set.py", which))
BOTH(test_python_sqlite_threads_and_executor_are_healthy, run_healthy("ok_sqlite.py", which))
BOTH(test_python_thread_pool_of_thousands_of_tasks_is_healthy, run_healthy("ok_mp_many.py", which))
BOTH(test_python_nested_pools_done_right_are_healthy, run_healthy("ok_nested.py", which))
BOTH(test_python_asyncio_many_executor_jobs_are_healthy, run_healthy("ok_asyncio_many.py", which))
BOTH(test_python_thousands_of_short_tasks_are_healthy, run_healthy("ok_many_tasks.py", which))
BOTH(test_python_gil_contention_is_healthy, run_healthy("ok_gil.py", which))
BOTH(test_python_long_sleeps_are_healthy, run_healthy("ok_sleep.py", which))

/* Memory growth from a submit loop that never waits for results. queue_growth and nothing else; the
 * program's own output and exit status are kept. */
static void growth(int which, const char *script, const char *pool_name, const char *pool_kind)
{
    const char *py = python(which);
    struct e2e_run r;
    const char *env[] = { "POOLGUARD_QUEUE_LIMIT=2000", NULL };
    run_py(py, script, true, env, &r);
    ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status 0x%x", r.status);
    struct e2e_reports rs;
    e2e_reports_load(&rs, r.reports);
    const struct py_case c = { .script = script };
    json_t *f = the_finding(&c, &rs, r.reports);
    ck_assert_str_eq(json_string_value(json_object_get(f, "kind")), "queue_growth");
    const char *summary = json_string_value(json_object_get(f, "summary"));
    ck_assert_msg(strstr(summary, pool_name), "summary: %s", summary);
    json_t *pool = json_object_get(f, "pool");
    ck_assert_str_eq(get_str(pool, "name"), pool_name);
    ck_assert_str_eq(get_str(pool, "kind"), pool_kind);
    ck_assert_int_gt(json_integer_value(json_object_get(json_object_get(f, "growth"), "depth")),
                     2000);
    e2e_reports_free(&rs);
    tu_rmtree(r.work);
}

BOTH(test_python_growing_queue_reports_queue_growth_only,
     growth(which, "app_growth.py", "ThreadPoolExecutor-0",
            "concurrent.futures.ThreadPoolExecutor"))
BOTH(test_python_growing_thread_pool_reports_queue_growth_only,
     growth(which, "app_mp_growth.py", "ThreadPool __main__.pool",
            "multiprocessing.pool.ThreadPool"))

Suite *python_suite(void)
{
    Suite *s = suite_create("python");
    TCase *tc = tcase_create("executor");
    tcase_set_timeout(tc, 120);
    ADD_BOTH(tc, test_python_one_worker_waiting_on_its_own_queue_is_exhausted);
    ADD_BOTH(tc, test_python_flood_of_parents_with_a_heartbeat_is_exhausted);
    ADD_BOTH(tc, test_python_tasks_waiting_through_an_event_are_a_stall);
    ADD_BOTH(tc, test_python_growing_queue_reports_queue_growth_only);
    ADD_BOTH(tc, test_python_two_executors_are_healthy);
    ADD_BOTH(tc, test_python_thousands_of_short_tasks_are_healthy);
    ADD_BOTH(tc, test_python_gil_contention_is_healthy);
    ADD_BOTH(tc, test_python_long_sleeps_are_healthy);
    ADD_BOTH(tc, test_python_thread_pool_of_one_waiting_on_its_own_subtask_is_exhausted);
    ADD_BOTH(tc, test_python_thread_pool_of_two_flooded_with_parents_is_exhausted);
    ADD_BOTH(tc, test_python_asyncio_default_executor_starved_through_run_coroutine_threadsafe);
    ADD_BOTH(tc, test_python_run_in_executor_pool_and_partial_tasks_are_named);
    ADD_BOTH(tc, test_python_growing_thread_pool_reports_queue_growth_only);
    ADD_BOTH(tc, test_python_workers_waiting_on_an_event_main_sets_are_healthy);
    ADD_BOTH(tc, test_python_sqlite_threads_and_executor_are_healthy);
    ADD_BOTH(tc, test_python_thread_pool_of_thousands_of_tasks_is_healthy);
    ADD_BOTH(tc, test_python_nested_pools_done_right_are_healthy);
    ADD_BOTH(tc, test_python_asyncio_many_executor_jobs_are_healthy);
    suite_add_tcase(s, tc);
    return s;
}

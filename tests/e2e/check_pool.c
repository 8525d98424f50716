/*
 * End-to-end tests of pool exhaustion and queue growth: pools of every kind the shim must
 * recognise unaided (a C condition-variable pool, a semaphore-counted queue, C++ std::thread +
 * packaged_task, libuv, GLib), an annotated pool, a growing queue, and healthy pools that block a
 * lot. Each deadlocking test checks the raw report (one finding, its kind and severity, the pool,
 * the task function in every worker's stack) and the analyzer's rendering of it.
 */
#include "testlib.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

enum { STARTUP_MS = 10000, SETTLE_MS = 500 };

struct pool_case {
    const char *label;
    const char *prog;
    const char *arg;
    const char *first_line;
    const char *env[4];
    const char *kind;     /* expected kind; NULL: pool_exhaustion */
    const char *severity; /* expected severity; NULL: error or warning */
    const char *proof;    /* expected proof ("graph", "exact", "inferred"); NULL: any */
    long report_ms;       /* the finding must be on disk this soon after first_line */
    int workers;
    const char *worker_fns[3]; /* all in the stack of every worker */
    int exact;                 /* annotated: exact depth, waits_for_task "queued" */
    const char *library;       /* known through this library's adapter: exact depth */
};

static void check_worker_fns(const struct pool_case *c, json_t *names, const char *who,
                             json_int_t tid)
{
    for (int k = 0; k < 3 && c->worker_fns[k]; k++) {
        char *dump = json_dumps(names, JSON_COMPACT);
        ck_assert_msg(e2e_names_have(names, c->worker_fns[k]),
                      "%s: %s: worker %lld's stack lacks %s: %.1500s", c->label, who,
                      (long long)tid, c->worker_fns[k], dump);
        free(dump);
    }
}

static json_t *only_finding(const struct pool_case *c, struct e2e_reports *rs, const char *dir)
{
    char all[4096];
    e2e_describe_findings(rs, all, sizeof all);
    ck_assert_msg(e2e_reports_count_findings(rs) == 1,
                  "%s: expected exactly one finding, got %zu: %s "
                  "(reports in %s)",
                  c->label, e2e_reports_count_findings(rs), all, dir);
    return json_array_get(e2e_reports_with_finding(rs)->findings, 0);
}

static void check_raw(const struct pool_case *c, struct e2e_reports *rs, const char *dir)
{
    json_t *f = only_finding(c, rs, dir);
    struct e2e_report *rp = e2e_reports_with_finding(rs);
    const char *kind = json_string_value(json_object_get(f, "kind"));
    const char *sev = json_string_value(json_object_get(f, "severity"));
    const char *want_kind = c->kind ? c->kind : "pool_exhaustion";
    ck_assert_msg(kind && !strcmp(kind, want_kind), "%s: kind %s, expected %s", c->label, kind,
                  want_kind);
    if (c->severity)
        ck_assert_msg(sev && !strcmp(sev, c->severity),
                      "%s: severity %s, expected %s (summary: %s)", c->label, sev, c->severity,
                      json_string_value(json_object_get(f, "summary")));
    else
        ck_assert_msg(sev && (!strcmp(sev, "error") || !strcmp(sev, "warning")), "%s: severity %s",
                      c->label, sev);
    json_t *pool = json_object_get(f, "pool");
    ck_assert_msg(json_is_object(pool), "%s: no pool in the finding", c->label);
    const char *proof = json_string_value(json_object_get(pool, "proof"));
    if (c->proof)
        ck_assert_msg(proof && !strcmp(proof, c->proof), "%s: proof %s, expected %s", c->label,
                      proof, c->proof);
    /* The standard every finding is held to: an error is a proof, inference is a warning. */
    if (sev && !strcmp(sev, "error"))
        ck_assert_msg(proof && (!strcmp(proof, "graph") || !strcmp(proof, "exact")),
                      "%s: an error with proof %s", c->label, proof);
    ck_assert_int_eq(json_integer_value(json_object_get(pool, "workers")), c->workers);
    if (sev && !strcmp(sev, "error"))
        ck_assert_msg(json_integer_value(json_object_get(pool, "queued")) >= 1,
                      "%s: an error needs queued work; pool: %s", c->label,
                      json_dumps(pool, JSON_COMPACT));
    if (c->exact) {
        ck_assert(json_is_true(json_object_get(pool, "queued_exact")));
        ck_assert_int_eq(json_integer_value(json_object_get(pool, "queued")), c->workers);
    }
    if (c->library) {
        const char *lib = json_string_value(json_object_get(pool, "library"));
        ck_assert_msg(lib && !strcmp(lib, c->library), "%s: library %s", c->label, lib);
        ck_assert_msg(json_array_size(json_object_get(pool, "queued_tasks")) ==
                          (size_t)json_integer_value(json_object_get(pool, "queued")),
                      "%s: queued_tasks do not list the queue", c->label);
    }

    char bin[PATH_MAX];
    tu_prog_path(bin, sizeof bin, c->prog);
    struct e2e_symtab st;
    e2e_symtab_load(&st, bin);
    int nworkers = 0;
    size_t i;
    json_t *t;
    json_array_foreach (json_object_get(f, "threads"), i, t) {
        const char *role = json_string_value(json_object_get(t, "role"));
        if (!role || strcmp(role, "worker"))
            continue;
        nworkers++;
        json_t *bo = json_object_get(t, "blocked_on");
        ck_assert_msg(json_is_object(bo) && json_is_false(json_object_get(bo, "timed")),
                      "%s: a worker is not in an untimed wait", c->label);
        json_t *names =
            e2e_raw_stack_functions(rp->modules, json_object_get(t, "stack"), c->prog, &st);
        check_worker_fns(c, names, "raw report", json_integer_value(json_object_get(t, "tid")));
        json_decref(names);
        if (c->exact) {
            json_t *wt = json_object_get(t, "waits_for_task");
            const char *state = json_string_value(json_object_get(wt, "state"));
            ck_assert_msg(state && !strcmp(state, "queued"),
                          "%s: worker waits for a task in state %s", c->label,
                          state ? state : "(none)");
        }
    }
    e2e_symtab_free(&st);
    ck_assert_int_eq(nworkers, c->workers);
}

static void check_rendered(const struct pool_case *c, const struct e2e_run *r)
{
    json_t *doc = e2e_analyzer_json(c->label, r);
    json_t *findings = json_object_get(doc, "findings");
    if (c->kind && !strcmp(c->kind, "stall")) {
        /* Info is not shown by default: the report says one finding is below --min-severity. */
        json_t *hidden = json_object_get(json_object_get(doc, "hidden"), "below_min_severity");
        ck_assert_msg(json_array_size(findings) == 0 && json_integer_value(hidden) == 1,
                      "%s: a stall must be hidden by default (%zu shown, %lld hidden)", c->label,
                      json_array_size(findings), (long long)json_integer_value(hidden));
        json_decref(doc);
        return;
    }
    ck_assert_msg(json_array_size(findings) == 1, "%s: analyzer shows %zu findings", c->label,
                  json_array_size(findings));
    json_t *f = json_array_get(findings, 0);
    ck_assert_str_eq(json_string_value(json_object_get(f, "kind")),
                     c->kind ? c->kind : "pool_exhaustion");
    size_t i;
    json_t *t;
    json_array_foreach (json_object_get(f, "threads"), i, t) {
        const char *role = json_string_value(json_object_get(t, "role"));
        if (!role || strcmp(role, "worker"))
            continue;
        json_t *names = e2e_stack_function_names(json_object_get(t, "stack"));
        check_worker_fns(c, names, "analyzer", json_integer_value(json_object_get(t, "tid")));
        json_decref(names);
    }
    json_decref(doc);
}

static void run_pool_case(const struct pool_case *c)
{
    struct e2e_run r;
    e2e_run_init(&r, c->label);
    char path[PATH_MAX];
    tu_prog_path(path, sizeof path, c->prog);
    char *argv[] = { (char *)c->prog, (char *)c->arg, NULL };
    e2e_run_start(&r, path, argv, true, c->env);
    bool started = e2e_wait_for_output(&r, c->first_line, STARTUP_MS);
    bool found = started && e2e_wait_for_finding(&r, c->report_ms);
    bool exited_early = r.exited;
    if (found)
        tu_sleep_ms(SETTLE_MS);
    e2e_run_kill(&r);
    char *out = e2e_run_stdout(&r), *err = e2e_run_stderr(&r);
    ck_assert_msg(!exited_early, "%s: the program exited (status 0x%x); stderr: %.500s", c->label,
                  r.status, err);
    ck_assert_msg(started, "%s: no \"%s\" on stdout within %d ms", c->label, c->first_line,
                  STARTUP_MS);
    ck_assert_msg(found, "%s: no finding within %ld ms (reports in %s); stderr: %.800s", c->label,
                  c->report_ms, r.reports, err);
    ck_assert_msg(!strcmp(out, c->first_line), "%s: stdout changed: \"%s\"", c->label, out);
    if (c->kind && !strcmp(c->kind, "stall"))
        ck_assert_msg(!strstr(err, "poolguard:"),
                      "%s: a stall is info: nothing on stderr, got %.500s", c->label, err);
    else
        ck_assert_msg(e2e_has_poolguard_line(err, "pool_exhaustion"),
                      "%s: no poolguard: line on "
                      "stderr: %.500s",
                      c->label, err);
    free(out);
    free(err);
    struct e2e_reports rs;
    e2e_reports_load(&rs, r.reports);
    check_raw(c, &rs, r.reports);
    e2e_reports_free(&rs);
    check_rendered(c, &r);
    tu_rmtree(r.work);
}

/* A pool nobody describes is inferred: with main still running nothing proves the workers stuck,
 * so the finding is a warning; with main waiting too, the wait-for graph proves the hang. */
#define FLOOD(lbl, a, sev, prf)                                                                    \
    {                                                                                              \
        .label = lbl, .prog = "pool_cond_flood", .arg = a,                                         \
        .first_line = "pool_cond_flood: start\n", .severity = sev, .proof = prf,                   \
        .report_ms = 3000, .workers = 2, .worker_fns = {                                           \
            "parent_task",                                                                         \
            "future_get",                                                                          \
            "pool_worker"                                                                          \
        }                                                                                          \
    }

static const struct pool_case flood = FLOOD("pool_flood", NULL, "warning", "inferred");
static const struct pool_case flood_immediate =
    FLOOD("pool_flood_immediate", "immediate", "warning", "inferred");
static const struct pool_case flood_heartbeat =
    FLOOD("pool_flood_heartbeat", "heartbeat", "warning", "inferred");
static const struct pool_case flood_mainwait =
    FLOOD("pool_flood_mainwait", "mainwait", "error", "graph");

static const struct pool_case sem_pool = { .label = "pool_sem",
                                           .prog = "pool_sem",
                                           .first_line = "pool_sem: start\n",
                                           .severity = "warning",
                                           .proof = "inferred",
                                           .report_ms = 3000,
                                           .workers = 2,
                                           .worker_fns = { "parent_job", "sem_worker" } };

static const struct pool_case cxx_pool = { .label = "pool_cxx",
                                           .prog = "pool_cxx",
                                           .first_line = "pool_cxx: start\n",
                                           .severity = "warning",
                                           .proof = "inferred",
                                           .report_ms = 3000,
                                           .workers = 2,
                                           .worker_fns = { "parent_task", "ThreadPool::run" } };

/* libuv and GLib pools whose workers wait for work main queued behind them: the adapters know
 * the queue exactly, but nothing says what the workers wait for (the event loop thread, or main,
 * could post it), so this is a stall (info), never an error. */
static const struct pool_case uv_pool = { .label = "pool_uv",
                                          .prog = "pool_uv",
                                          .first_line = "pool_uv: start\n",
                                          .kind = "stall",
                                          .env = { "POOLGUARD_STALL_MS=1000", NULL },
                                          .severity = "info",
                                          .proof = "none",
                                          .report_ms = 4000,
                                          .workers = 2,
                                          .worker_fns = { "wait_for_release" },
                                          .library = "libuv" };

static const struct pool_case glib_pool = { .label = "pool_glib",
                                            .prog = "pool_glib",
                                            .first_line = "pool_glib: start\n",
                                            .kind = "stall",
                                            .env = { "POOLGUARD_STALL_MS=1000", NULL },
                                            .severity = "info",
                                            .proof = "none",
                                            .report_ms = 4000,
                                            .workers = 2,
                                            .worker_fns = { "waiter_task" },
                                            .library = "glib" };

static const struct pool_case annotated = { .label = "pool_annotated",
                                            .prog = "pool_annotated",
                                            .first_line = "pool_annotated: start\n",
                                            .severity = "error",
                                            .proof = "exact",
                                            .report_ms = 3000,
                                            .workers = 2,
                                            .worker_fns = { "parent_task", "future_get" },
                                            .exact = 1 };

START_TEST(test_pool_condvar_flood_reports_exhaustion_with_parent_task_in_stacks)
{
    run_pool_case(&flood);
}
END_TEST

START_TEST(test_pool_never_idle_workers_still_report_exhaustion)
{
    run_pool_case(&flood_immediate);
}
END_TEST

START_TEST(test_pool_exhaustion_is_found_with_a_heartbeat_thread_alive)
{
    run_pool_case(&flood_heartbeat);
}
END_TEST

START_TEST(test_pool_exhaustion_with_main_waiting_is_one_pool_finding)
{
    run_pool_case(&flood_mainwait);
}
END_TEST

START_TEST(test_pool_semaphore_queue_reports_exhaustion)
{
    run_pool_case(&sem_pool);
}
END_TEST

START_TEST(test_pool_cxx_packaged_task_reports_exhaustion)
{
    run_pool_case(&cxx_pool);
}
END_TEST

START_TEST(test_pool_libuv_workers_waiting_on_queued_work_are_a_stall)
{
    run_pool_case(&uv_pool);
}
END_TEST

START_TEST(test_pool_glib_workers_waiting_on_queued_work_are_a_stall)
{
    run_pool_case(&glib_pool);
}
END_TEST

START_TEST(test_pool_annotated_reports_exact_queued_tasks)
{
    run_pool_case(&annotated);
}
END_TEST

/* A finite program whose queue only grows: one queue_growth warning, with the submitter's stack,
 * and nothing else; the program ends by itself with its own output and status. */
START_TEST(test_pool_growing_queue_reports_queue_growth_only)
{
    struct e2e_run r;
    e2e_run_init(&r, "pool_growth");
    char path[PATH_MAX];
    tu_prog_path(path, sizeof path, "pool_growth");
    char *argv[] = { "pool_growth", NULL };
    const char *env[] = { "POOLGUARD_QUEUE_LIMIT=500", NULL };
    e2e_run_start(&r, path, argv, true, env);
    bool done = e2e_run_wait(&r, 15000);
    e2e_run_kill(&r);
    char *out = e2e_run_stdout(&r);
    ck_assert_msg(done, "pool_growth did not end by itself");
    ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status 0x%x", r.status);
    ck_assert_str_eq(out, "pool_growth: submitted many\n");
    free(out);
    struct e2e_reports rs;
    e2e_reports_load(&rs, r.reports);
    static const struct pool_case c = { .label = "pool_growth" };
    json_t *f = only_finding(&c, &rs, r.reports);
    ck_assert_str_eq(json_string_value(json_object_get(f, "kind")), "queue_growth");
    ck_assert_str_eq(json_string_value(json_object_get(f, "severity")), "warning");
    json_t *g = json_object_get(f, "growth");
    ck_assert_int_gt(json_integer_value(json_object_get(g, "per_second")), 0);
    ck_assert_int_gt(json_integer_value(json_object_get(g, "depth")), 500);
    struct e2e_symtab st;
    e2e_symtab_load(&st, path);
    bool submitter = false;
    size_t i;
    json_t *t;
    json_array_foreach (json_object_get(f, "threads"), i, t) {
        const char *role = json_string_value(json_object_get(t, "role"));
        if (role && !strcmp(role, "submitter")) {
            json_t *names =
                e2e_raw_stack_functions(e2e_reports_with_finding(&rs)->modules,
                                        json_object_get(t, "stack"), "pool_growth", &st);
            submitter =
                e2e_names_have(names, "produce_forever") && e2e_names_have(names, "pool_submit");
            json_decref(names);
        }
    }
    e2e_symtab_free(&st);
    ck_assert_msg(submitter, "no submitter thread with produce_forever/pool_submit in its stack");
    e2e_reports_free(&rs);
    tu_rmtree(r.work);
}
END_TEST

START_TEST(test_pool_nested_pools_done_right_are_healthy)
{
    static const struct e2e_ok_case c = { "ok_pool_nested", 0 };
    e2e_check_healthy(&c, NULL, NULL);
}
END_TEST

START_TEST(test_pool_thousands_of_short_tasks_are_healthy)
{
    static const struct e2e_ok_case c = { "ok_pool_busy", 0 };
    e2e_check_healthy(&c, NULL, NULL);
}
END_TEST

START_TEST(test_pool_worker_waiting_for_a_live_event_is_healthy)
{
    static const struct e2e_ok_case c = { "ok_pool_event", 0 };
    e2e_check_healthy(&c, NULL, NULL);
}
END_TEST

/* Workers that queue follow-up work and then contend for a lock main holds are busy, not starved:
 * a wait on a lock (a pthread mutex, or GLib's GMutex on a futex) is never a wait for a task. */
START_TEST(test_pool_submit_then_lock_contention_is_healthy)
{
    static const struct e2e_ok_case c = { "ok_glib_submit_then_lock", 0 };
    e2e_check_healthy(&c, NULL, NULL);
}
END_TEST

START_TEST(test_pool_idle_past_the_stall_limit_is_healthy)
{
    static const struct e2e_ok_case c = { "ok_pool_idle", 0 };
    static const char *const env[] = { "POOLGUARD_STALL_MS=500", NULL };
    e2e_check_healthy(&c, env, NULL);
}
END_TEST

Suite *pool_suite(void)
{
    Suite *s = suite_create("pool");
    TCase *dl = tcase_create("exhaustion");
    tcase_set_timeout(dl, 60);
    tcase_add_test(dl, test_pool_condvar_flood_reports_exhaustion_with_parent_task_in_stacks);
    tcase_add_test(dl, test_pool_never_idle_workers_still_report_exhaustion);
    tcase_add_test(dl, test_pool_exhaustion_is_found_with_a_heartbeat_thread_alive);
    tcase_add_test(dl, test_pool_exhaustion_with_main_waiting_is_one_pool_finding);
    tcase_add_test(dl, test_pool_semaphore_queue_reports_exhaustion);
    tcase_add_test(dl, test_pool_cxx_packaged_task_reports_exhaustion);
    tcase_add_test(dl, test_pool_libuv_workers_waiting_on_queued_work_are_a_stall);
    tcase_add_test(dl, test_pool_glib_workers_waiting_on_queued_work_are_a_stall);
    tcase_add_test(dl, test_pool_annotated_reports_exact_queued_tasks);
    tcase_add_test(dl, test_pool_growing_queue_reports_queue_growth_only);
    suite_add_tcase(s, dl);
    TCase *ok = tcase_create("healthy");
    tcase_set_timeout(ok, 60);
    tcase_add_test(ok, test_pool_nested_pools_done_right_are_healthy);
    tcase_add_test(ok, test_pool_thousands_of_short_tasks_are_healthy);
    tcase_add_test(ok, test_pool_worker_waiting_for_a_live_event_is_healthy);
    tcase_add_test(ok, test_pool_idle_past_the_stall_limit_is_healthy);
    tcase_add_test(ok, test_pool_submit_then_lock_contention_is_healthy);
    suite_add_tcase(s, ok);
    return s;
}

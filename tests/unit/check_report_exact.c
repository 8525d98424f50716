/*
 * The exact pool layer's members read defensively, and the gate's rules for stalls and proofs:
 * absent, null or wrong-typed members count as absent (tests/data/pool_badmembers.jsonl), a
 * stall is info whatever its writer says and never stops `poolguard run` nor fails it at the
 * default --fail-on, and a pool finding whose proof is only inferred is a warning at most.
 * The gate runs through the real binary with the fake program playing the shim.
 */
#include <check.h>
#include <jansson.h>

#include "render_util.h"
#include "run_watch.h"
#include "testlib.h"

START_TEST(test_exact_members_of_the_wrong_type_count_as_absent)
{
    pg_report *r = ru_load("tests/data/pool_badmembers.jsonl", (const ru_sym[]){ { 0 } });
    size_t n;
    pg_finding **f = report_findings(r, &n);
    ck_assert_uint_eq(n, 4);

    const pg_pool *p = &f[0]->pool_info;
    ck_assert(p->present);
    ck_assert_ptr_null(p->library);       /* 5 */
    ck_assert_int_eq(p->source, -1);      /* "magic" */
    ck_assert_int_eq(p->proof, -1);       /* ["exact"] */
    ck_assert_int_eq(p->max_workers, -1); /* "4" */
    ck_assert_int_eq(p->active, -1);      /* -3 */
    /* Only entries with an address are tasks; bad functions and positions are absent. */
    ck_assert_uint_eq(p->nqueued_tasks, 3);
    ck_assert_uint_eq(p->queued_tasks[0].address, 0x10);
    ck_assert(!p->queued_tasks[0].function.present);
    ck_assert_int_eq(p->queued_tasks[0].position, -1);
    ck_assert(!p->queued_tasks[1].function.present); /* "0x0" */
    ck_assert_int_eq(p->queued_tasks[1].position, -1);
    ck_assert(!p->queued_tasks[2].function.present); /* "0xZZ" */
    ck_assert_int_eq(p->queued_tasks[2].position, -1);
    /* Without a known proof, the finding keeps the shim's severity, and is described at it (an
     * error was proven); the workers are counted by their role, "workers" being a string. */
    ck_assert_int_eq(f[0]->sev, PG_SEV_ERROR);
    ck_assert_str_eq(f[0]->shim_summary, "all 2 workers of the pool are waiting");
    ck_assert_str_eq(f[0]->summary, "all 3 workers of the pool are waiting for tasks queued behind "
                                    "them in the same pool: about 2 tasks queued (estimated); "
                                    "worker 1 waits for a "
                                    "task; worker 3 waits after submitting a task, still queued");

    const pg_mthread *t = f[0]->threads;
    ck_assert(!t[0].task_function.present);  /* {} */
    ck_assert(!t[0].submitted_task.present); /* "queued" */
    ck_assert(t[0].waits_for_task.present);
    ck_assert(!t[0].waits_for_task.function.present);
    ck_assert_ptr_null(t[0].waits_for_task.state);
    ck_assert(!t[1].task_function.present);  /* null */
    ck_assert(!t[1].submitted_task.present); /* address null */
    ck_assert(!t[1].waits_for_task.present);
    ck_assert(!t[2].task_function.present); /* "0x" */
    ck_assert(t[2].submitted_task.present);
    ck_assert_int_eq(t[2].submitted_task.position, -1); /* 1e9 is not an integer */
    ck_assert_ptr_null(t[2].submitted_task.state);

    /* An inferred proof is a warning at most; the queue list is capped. */
    ck_assert_int_eq(f[1]->sev, PG_SEV_WARNING);
    ck_assert_ptr_null(f[1]->pool_info.library);
    ck_assert_int_eq(f[1]->pool_info.source, PG_SRC_INFERRED);
    ck_assert_uint_eq(f[1]->pool_info.nqueued_tasks, PG_MAX_QUEUED_TASKS);
    ck_assert_ptr_nonnull(strstr(f[1]->summary, "inferred from how the threads wait, not proven"));
    /* A stall claiming to be an error is info. */
    ck_assert_str_eq(f[2]->kind, "stall");
    ck_assert_int_eq(f[2]->sev, PG_SEV_INFO);
    ck_assert_int_eq(f[3]->sev, PG_SEV_ERROR);
    ck_assert_int_eq(f[3]->pool_info.proof, -1);
    ck_assert_uint_eq(f[3]->pool_info.nqueued_tasks, 0);

    /* Every format renders them; JSON leaves out what could not be read. */
    static const pg_format fmts[] = { PG_FMT_TEXT, PG_FMT_SARIF, PG_FMT_JUNIT, PG_FMT_DOT };
    for (size_t i = 0; i < sizeof fmts / sizeof *fmts; i++)
        free(ru_render_opts(r, fmts[i], PG_SEV_INFO, false));
    char *j = ru_render_opts(r, PG_FMT_JSON, PG_SEV_INFO, false);
    json_t *doc = json_loads(j, 0, NULL);
    ck_assert_ptr_nonnull(doc);
    json_t *pool = json_object_get(json_array_get(json_object_get(doc, "findings"), 0), "pool");
    ck_assert_ptr_null(json_object_get(pool, "library"));
    ck_assert_ptr_null(json_object_get(pool, "proof"));
    ck_assert_ptr_null(json_object_get(pool, "max_workers"));
    ck_assert_ptr_null(json_object_get(pool, "active"));
    json_t *q0 = json_array_get(json_object_get(pool, "queued_tasks"), 0);
    ck_assert(json_is_null(json_object_get(q0, "function")));
    ck_assert(json_is_null(json_object_get(q0, "position")));
    json_t *p1 = json_object_get(json_array_get(json_object_get(doc, "findings"), 1), "pool");
    ck_assert_uint_eq(json_array_size(json_object_get(p1, "queued_tasks")), PG_MAX_QUEUED_TASKS);
    json_decref(doc);
    free(j);
    report_free(r);
}
END_TEST

START_TEST(test_exact_gate_stops_only_on_proven_errors)
{
    ck_assert(!run_finding_stops("stall", "info", NULL));
    ck_assert(!run_finding_stops("stall", "error", NULL));
    ck_assert(!run_finding_stops("stall", "error", "exact"));
    ck_assert(!run_finding_stops("pool_exhaustion", "error", "inferred"));
    ck_assert(!run_finding_stops("pool_exhaustion", "error", "none"));
    ck_assert(!run_finding_stops("pool_exhaustion", "warning", "exact"));
    ck_assert(run_finding_stops("pool_exhaustion", "error", "exact"));
    ck_assert(run_finding_stops("pool_exhaustion", "error", "graph"));
    ck_assert(run_finding_stops("pool_exhaustion", "error", NULL)); /* shims that write no proof */
    ck_assert(run_finding_stops("deadlock", "error", NULL));
}
END_TEST

typedef struct res {
    int code;
    char *out, *err;
} res;

/* build/poolguard with args (FAKEAPP: the fake program); POOLGUARD_SHIM a harmless library. */
static res pg(const char *const *args, int timeout_s)
{
    char *argv[32];
    size_t n = 0;
    argv[n++] = tu_build_path("poolguard");
    for (size_t i = 0; args[i] && n < 30; i++)
        argv[n++] =
            strcmp(args[i], "FAKEAPP") == 0 ? tu_build_path("fixtures/fakeapp") : strdup(args[i]);
    argv[n] = NULL;
    static char shim_env[8300];
    char *shim = tu_build_path("fixtures/libsymlib.so");
    snprintf(shim_env, sizeof shim_env, "POOLGUARD_SHIM=%s", shim);
    free(shim);
    char *env[] = { shim_env, "NO_COLOR=1", NULL };
    res r;
    r.code = tu_run_capture(argv, env, timeout_s, &r.out, &r.err);
    return r;
}

static void res_free(res *r)
{
    free(r->out);
    free(r->err);
}

START_TEST(test_exact_report_stall_never_fails_not_even_with_fail_on_info)
{
    res r = pg((const char *[]){ "report", "tests/data/stall.jsonl", NULL }, 20);
    ck_assert_int_eq(r.code, 0);
    ck_assert_ptr_null(strstr(r.out, "stall in"));
    ck_assert_msg(strstr(r.out, "0 findings (0 errors, 0 warnings), 2 below --min-severity"), "%s",
                  r.out);
    res_free(&r);
    r = pg((const char *[]){ "report", "--min-severity", "info", "tests/data/stall.jsonl", NULL },
           20);
    ck_assert_int_eq(r.code, 0);
    ck_assert_msg(strstr(r.out, "info: stall in thumbs (pid 6300)"), "%s", r.out);
    res_free(&r);
    r = pg((const char *[]){ "report", "--fail-on", "warning", "--min-severity", "info",
                             "tests/data/stall.jsonl", NULL },
           20);
    ck_assert_int_eq(r.code, 0);
    res_free(&r);
    /* --fail-on info shows info findings; a stall proves nothing and fails nothing even then. */
    r = pg((const char *[]){ "report", "--fail-on", "info", "tests/data/stall.jsonl", NULL }, 20);
    ck_assert_int_eq(r.code, 0);
    ck_assert_msg(strstr(r.out, "info: stall in thumbs"), "%s", r.out);
    res_free(&r);
}
END_TEST

START_TEST(test_exact_run_a_stall_never_stops_the_program)
{
    /* The program runs to its time-out; the stall is shown beside the snapshot. */
    res r = pg((const char *[]){ "run", "--timeout", "1", "--", "FAKEAPP", "stall", NULL }, 20);
    ck_assert_int_eq(r.code, 124);
    ck_assert_msg(strstr(r.err, "info: stall in fakeapp"), "%s", r.err);
    ck_assert_msg(strstr(r.err,
                         "all 2 workers of the GThreadPool have been blocked for at least 5000 ms; "
                         "nothing proves they cannot continue"),
                  "%s", r.err);
    ck_assert_msg(strstr(r.err, "time-out snapshot of fakeapp"), "%s", r.err);
    ck_assert_ptr_null(strstr(r.err, "stopped the program"));
    res_free(&r);
    /* Not even when a broken shim calls it an error. */
    r = pg((const char *[]){ "run", "--timeout", "1", "--", "FAKEAPP", "stall", "error", NULL },
           20);
    ck_assert_int_eq(r.code, 124);
    ck_assert_ptr_null(strstr(r.err, "stopped the program"));
    ck_assert_msg(strstr(r.err, "info: stall in fakeapp"), "%s", r.err);
    res_free(&r);
    /* A program that finishes keeps its status; the stall is only counted. */
    r = pg((const char *[]){ "run", "--", "FAKEAPP", "stall-exit", NULL }, 20);
    ck_assert_int_eq(r.code, 0);
    ck_assert_ptr_null(strstr(r.err, "stall in"));
    ck_assert_msg(strstr(r.err, "1 below --min-severity"), "%s", r.err);
    res_free(&r);
}
END_TEST

Suite *report_exact_suite(void)
{
    Suite *s = suite_create("report_exact");
    TCase *tc = tcase_create("exact");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, test_exact_members_of_the_wrong_type_count_as_absent);
    tcase_add_test(tc, test_exact_gate_stops_only_on_proven_errors);
    tcase_add_test(tc, test_exact_report_stall_never_fails_not_even_with_fail_on_info);
    tcase_add_test(tc, test_exact_run_a_stall_never_stops_the_program);
    suite_add_tcase(s, tc);
    return s;
}

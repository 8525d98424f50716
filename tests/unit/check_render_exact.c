/*
 * Pools known exactly (library adapters, annotations) and stalls, as people and tools read
 * them, from hand-made raw reports shaped like the shim's (tests/data/pool_libuv.jsonl,
 * pool_glib.jsonl, stall.jsonl) whose addresses a fake symbolizer names: the sentence is the
 * analyzer's, built from the structured members (pool named by library and where it was
 * created, tasks by function, queue positions), and the text, JSON, SARIF, JUnit, DOT and HTML
 * carry the same. A stall is info: hidden by default, shown when asked and after a time-out.
 */
#include <check.h>
#include <jansson.h>

#include "render_util.h"
#include "testlib.h"

static const ru_sym uv_syms[] = {
    { 0x7f3000012345, "uv_queue_work", NULL, 0 },
    { 0x55d0c0a0131f, "main", "/src/app.c", 31 },
    { 0x55d0c0a01200, "parent_task", "/src/app.c", 12 },
    { 0x55d0c0a01180, "child_task", "/src/app.c", 8 },
    { 0x55d0c0a011c0, "log_task", "/src/app.c", 10 },
    { 0x55d0c0a0125a, "wait_for_child", "/src/app.c", 20 },
    { 0x55d0c0a01233, "parent_task", "/src/app.c", 15 },
    { 0x7f3000020100, "worker", NULL, 0 },
    { 0 },
};

static const ru_sym glib_syms[] = {
    { 0x7f4000055000, "g_thread_pool_new", NULL, 0 },
    { 0x55d0c0a01545, "main", "/src/thumbs.c", 40 },
    { 0x55d0c0a01400, "resize_image", "/src/thumbs.c", 18 },
    { 0x55d0c0a01380, "write_thumbnail", "/src/thumbs.c", 9 },
    { 0x55d0c0a01466, "resize_image", "/src/thumbs.c", 24 },
    { 0x7f4000061000, "g_cond_wait", NULL, 0 },
    { 0x55d0c0a01622, "flush_loop", "/src/thumbs.c", 60 },
    { 0 },
};

static const char uv_sentence[] =
    "all 2 workers of the libuv threadpool (created in main() at app.c:31) are waiting for tasks "
    "queued behind them in the same pool: 3 tasks queued (exact); worker 1234 runs parent_task and "
    "waits after submitting child_task, queued 2nd; worker 1235 runs parent_task and waits after "
    "submitting child_task, queued 1st";

START_TEST(test_exact_libuv_sentence_names_pool_tasks_and_queue_positions)
{
    pg_report *r = ru_load("tests/data/pool_libuv.jsonl", uv_syms);
    char *t = ru_render(r, PG_FMT_TEXT);
    tu_assert_in_order(
        t, (const char *[]){
               "error: pool_exhaustion in app (pid 6100): ",
               uv_sentence,
               "\n",
               "the pool: libuv threadpool, 2 workers, created in main at /src/app.c:31\n",
               "    known from: poolguard's libuv adapter",
               "    proof: exact: a worker waits on a task still queued in this pool while every "
               "worker is "
               "blocked\n",
               "    running: 2 tasks (at most 2 workers at once)\n",
               "    idle wait: not needed (the library adapter says when tasks start)\n",
               "    queued: 3 tasks, counted exactly by poolguard's libuv adapter\n",
               "    queued tasks, next to run first:\n",
               "      1. child_task at /src/app.c:8 (task 0x5600aa000080)\n",
               "      2. child_task at /src/app.c:8 (task 0x5600aa000100)\n",
               "      3. log_task at /src/app.c:10 (task 0x5600aa000180)\n",
               "libuv-worker (tid 1234), worker of the pool\n",
               "    runs task 0x5600aa000022: parent_task at /src/app.c:15\n",
               "    blocks in wait_for_child at /src/app.c:20\n",
               "    submitted task 0x5600aa000100 (child_task) to its own pool before this wait; "
               "it is still "
               "queued, 2nd in line\n",
               "libuv-worker (tid 1235), worker of the pool\n",
               "it is still queued, 1st in line\n",
               "poolguard: 1 finding (1 error, 0 warnings)\n",
               NULL });
    /* The shim's pool members are shown in words, not repeated raw. */
    ck_assert_ptr_null(strstr(t, "also: library"));
    ck_assert_ptr_null(strstr(t, "proof="));
    free(t);
    report_free(r);
}
END_TEST

START_TEST(test_exact_libuv_json_carries_task_functions_library_and_proof)
{
    pg_report *r = ru_load("tests/data/pool_libuv.jsonl", uv_syms);
    json_t *doc, *f = ru_first_finding(r, &doc);
    ck_assert_str_eq(json_string_value(json_object_get(f, "summary")), uv_sentence);
    ck_assert_str_eq(json_string_value(json_object_get(f, "shim_summary")),
                     "all 2 workers of the pool are waiting for tasks queued behind them in the "
                     "same "
                     "pool (3 queued)");
    json_t *pool = json_object_get(f, "pool");
    ck_assert_str_eq(json_string_value(json_object_get(pool, "library")), "libuv");
    ck_assert_str_eq(json_string_value(json_object_get(pool, "source")), "adapter");
    ck_assert_str_eq(json_string_value(json_object_get(pool, "proof")), "exact");
    ck_assert_int_eq(json_integer_value(json_object_get(pool, "max_workers")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(pool, "active")), 2);
    ck_assert_str_eq(json_string_value(json_object_get(pool, "description")),
                     "the libuv threadpool (created in main() at app.c:31)");
    json_t *q = json_object_get(pool, "queued_tasks");
    ck_assert_uint_eq(json_array_size(q), 3);
    json_t *q1 = json_array_get(q, 1);
    ck_assert_str_eq(json_string_value(json_object_get(q1, "address")), "0x5600aa000100");
    ck_assert_int_eq(json_integer_value(json_object_get(q1, "position")), 2);
    json_t *fn = json_object_get(q1, "function");
    ck_assert_str_eq(json_string_value(json_object_get(fn, "function")), "child_task");
    ck_assert_str_eq(json_string_value(json_object_get(fn, "address")), "0x55d0c0a01180");
    ck_assert_str_eq(json_string_value(json_object_get(fn, "file")), "/src/app.c");
    ck_assert_str_eq(json_string_value(
                         json_object_get(json_object_get(json_array_get(q, 2), "function"),
                                         "function")),
                     "log_task");

    json_t *w = json_array_get(json_object_get(f, "threads"), 0);
    json_t *tf = json_object_get(w, "task_function");
    ck_assert_str_eq(json_string_value(json_object_get(tf, "function")), "parent_task");
    ck_assert_str_eq(json_string_value(json_object_get(tf, "address")), "0x55d0c0a01200");
    ck_assert_int_eq(json_integer_value(json_object_get(tf, "line")), 12);
    json_t *sub = json_object_get(w, "submitted_task");
    ck_assert_str_eq(json_string_value(json_object_get(sub, "address")), "0x5600aa000100");
    ck_assert_str_eq(json_string_value(json_object_get(sub, "state")), "queued");
    ck_assert_int_eq(json_integer_value(json_object_get(sub, "position")), 2);
    ck_assert_str_eq(json_string_value(
                         json_object_get(json_object_get(sub, "function"), "function")),
                     "child_task");
    json_decref(doc);
    report_free(r);
}
END_TEST

START_TEST(test_exact_libuv_in_sarif_junit_dot_and_html)
{
    pg_report *r = ru_load("tests/data/pool_libuv.jsonl", uv_syms);
    char *s = ru_render(r, PG_FMT_SARIF);
    json_t *doc = json_loads(s, 0, NULL);
    ck_assert_ptr_nonnull(doc);
    json_t *res =
        json_array_get(json_object_get(json_array_get(json_object_get(doc, "runs"), 0), "results"),
                       0);
    ck_assert_str_eq(json_string_value(json_object_get(res, "level")), "error");
    ck_assert_ptr_nonnull(
        strstr(json_string_value(json_object_get(json_object_get(res, "message"), "text")),
               uv_sentence));
    json_t *props = json_object_get(res, "properties");
    ck_assert_str_eq(json_string_value(json_object_get(props, "library")), "libuv");
    ck_assert_str_eq(json_string_value(json_object_get(props, "proof")), "exact");
    ck_assert_str_eq(json_string_value(json_object_get(props, "poolSource")), "adapter");
    json_t *qt = json_object_get(props, "queuedTasks");
    ck_assert_uint_eq(json_array_size(qt), 3);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(qt, 0), "function")),
                     "child_task");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(qt, 0), "position")), 1);
    /* Where the pool was created, then each queued task's function. */
    json_t *rel = json_object_get(res, "relatedLocations");
    ck_assert_uint_eq(json_array_size(rel), 4);
    json_t *r1 = json_array_get(rel, 1);
    ck_assert_str_eq(json_string_value(
                         json_object_get(json_array_get(json_object_get(r1, "logicalLocations"), 0),
                                         "fullyQualifiedName")),
                     "child_task");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r1, "message"), "text")),
                     "queued task, 1st in line");
    json_t *flow =
        json_array_get(json_object_get(json_array_get(json_object_get(res, "codeFlows"), 0),
                                       "threadFlows"),
                       0);
    ck_assert_ptr_nonnull(
        strstr(json_string_value(json_object_get(json_object_get(flow, "message"), "text")),
               "; runs parent_task; submitted child_task, still queued 2nd"));
    json_decref(doc);
    free(s);

    char *j = ru_render(r, PG_FMT_JUNIT);
    ck_assert_ptr_nonnull(strstr(j, "failures=\"1\""));
    ck_assert_ptr_nonnull(
        strstr(j, "worker 1234 runs parent_task and waits after submitting child_task"));
    ck_assert_ptr_nonnull(strstr(j, "1. child_task at /src/app.c:8"));
    free(j);

    char *d = ru_render(r, PG_FMT_DOT);
    ck_assert_ptr_nonnull(
        strstr(d, "the libuv threadpool (created in main() at app.c:31)\\n2 workers, 3 queued"
                  "\\nproof: exact\\nqueued: child_task, child_task, log_task"));
    /* worker -> task (queued 2nd) -> pool -> worker: the loop, not the raw futex. */
    ck_assert_ptr_nonnull(
        strstr(d, "q0_5600aa000100 [shape=note, style=filled, fillcolor=\"#eef4ff\", "
                  "label=\"task child_task\\nqueued 2nd\"]"));
    ck_assert_ptr_nonnull(
        strstr(d, "t0_1234 -> q0_5600aa000100 [label=\"submitted, waits after\", color=red"));
    ck_assert_ptr_nonnull(strstr(d, "q0_5600aa000100 -> p0 [label=\"queued 2nd in\", color=red"));
    ck_assert_ptr_nonnull(
        strstr(d, "p0 -> t0_1234 [label=\"busy: runs parent_task\", style=dashed, color=red"));
    ck_assert_ptr_nonnull(strstr(d, "\\nruns parent_task\""));
    free(d);

    render_opts o = { .format = PG_FMT_HTML, .min_severity = PG_SEV_WARNING };
    char *h = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&h, &len);
    /* Without Graphviz the page still renders, with a note instead of the graph. */
    int ret = render(r, &o, m);
    fclose(m);
    ck_assert_int_eq(ret, 0);
    ck_assert_ptr_nonnull(strstr(h, "<span class=\"badge error\">error</span> pool_exhaustion"));
    ck_assert_ptr_nonnull(
        strstr(h, "<p class=\"sentence\">all 2 workers of the libuv threadpool (created in "
                  "main() at app.c:31)"));
    ck_assert_ptr_nonnull(
        strstr(h, "<dt>submitted</dt><dd>task <span class=\"mono\">0x5600aa000100</span> "
                  "(<b>child_task</b>)"));
    free(h);
    report_free(r);
}
END_TEST

START_TEST(test_exact_glib_graph_proof_and_waits_for_queued_and_running_tasks)
{
    pg_report *r = ru_load("tests/data/pool_glib.jsonl", glib_syms);
    char *t = ru_render(r, PG_FMT_TEXT);
    tu_assert_in_order(
        t, (const char *[]){
               "error: pool_exhaustion in thumbs (pid 6200): all 2 workers of the GThreadPool "
               "created in main() "
               "at thumbs.c:40 are waiting for tasks queued behind them in the same pool: 1 task "
               "queued "
               "(exact); worker 2001 runs resize_image and waits for write_thumbnail, queued 1st; "
               "worker 2002 "
               "runs resize_image and waits for resize_image, running on thread 2001\n",
               "the pool: GThreadPool, 2 workers, created in main at /src/thumbs.c:40\n",
               "    known from: poolguard's glib adapter",
               "    proof: the wait-for graph: every worker is stuck and no thread outside can "
               "wake one\n",
               "      1. write_thumbnail at /src/thumbs.c:9 (task 0x5600bb000200)\n",
               "pool-1 (tid 2001), worker of the pool\n",
               "    runs task 0x5600bb000001: resize_image at /src/thumbs.c:24\n",
               "    waits for task 0x5600bb000200 (write_thumbnail), which is still queued (pool "
               "0x5600cc000010, "
               "1st in line) and has not started: it needs a free worker\n",
               "pool-2 (tid 2002), worker of the pool\n",
               "    waits for task 0x5600bb000001 (resize_image), which is running on tid 2001\n",
               NULL });
    free(t);
    json_t *doc, *f = ru_first_finding(r, &doc);
    json_t *pool = json_object_get(f, "pool");
    ck_assert_str_eq(json_string_value(json_object_get(pool, "proof")), "graph");
    ck_assert_str_eq(json_string_value(json_object_get(pool, "description")),
                     "the GThreadPool created in main() at thumbs.c:40");
    json_t *wt =
        json_object_get(json_array_get(json_object_get(f, "threads"), 0), "waits_for_task");
    ck_assert_str_eq(json_string_value(
                         json_object_get(json_object_get(wt, "function"), "function")),
                     "write_thumbnail");
    json_decref(doc);
    char *d = ru_render(r, PG_FMT_DOT);
    ck_assert_ptr_nonnull(strstr(d, "label=\"task write_thumbnail\\nqueued 1st\""));
    ck_assert_ptr_nonnull(strstr(d, "t0_2001 -> q0_5600bb000200 [label=\"waits for\", color=red"));
    ck_assert_ptr_nonnull(strstr(d, "q0_5600bb000200 -> p0 [label=\"queued 1st in\", color=red"));
    /* The task the second worker waits for runs on the first. */
    ck_assert_ptr_nonnull(strstr(d, "q0_5600bb000001 -> t0_2001 [label=\"runs on\"]"));
    free(d);
    report_free(r);
}
END_TEST

static const char pool_stall[] =
    "info: stall in thumbs (pid 6300): all 2 workers of the GThreadPool created in main() at "
    "thumbs.c:40 have been blocked for at least 5010 ms; nothing proves they cannot continue\n";
static const char thread_stall[] =
    "info: stall in thumbs (pid 6300): flusher (tid 2010) has been blocked for 6000 ms on a "
    "condition variable; nothing proves it cannot continue\n";

START_TEST(test_stall_is_hidden_by_default_and_counted_below_min_severity)
{
    pg_report *r = ru_load("tests/data/stall.jsonl", glib_syms);
    char *t = ru_render(r, PG_FMT_TEXT);
    ck_assert_ptr_null(strstr(t, "stall in"));
    ck_assert_ptr_nonnull(
        strstr(t, "poolguard: 0 findings (0 errors, 0 warnings), 2 below --min-severity\n"));
    free(t);
    json_t *doc;
    ck_assert_ptr_null(ru_first_finding(r, &doc));
    ck_assert_int_eq(json_integer_value(
                         json_object_get(json_object_get(doc, "hidden"), "below_min_severity")),
                     2);
    json_decref(doc);
    char *s = ru_render(r, PG_FMT_SARIF);
    ck_assert_ptr_nonnull(strstr(s, "\"results\": []"));
    free(s);
    report_free(r);
}
END_TEST

START_TEST(test_stall_is_shown_with_min_severity_info_in_every_format)
{
    pg_report *r = ru_load("tests/data/stall.jsonl", glib_syms);
    char *t = ru_render_opts(r, PG_FMT_TEXT, PG_SEV_INFO, false);
    tu_assert_in_order(
        t,
        (const char *[]){
            pool_stall, "the pool: GThreadPool, 2 workers, created in main at /src/thumbs.c:40\n",
            "    proof: none: the workers have only been blocked for long\n",
            "    queued: nothing\n", "pool-1 (tid 2001), worker of the pool\n",
            "    runs task 0x5600bb000001: resize_image at /src/thumbs.c:24\n", thread_stall,
            "flusher (tid 2010), blocked for long\n", "#0  flush_loop at /src/thumbs.c:60",
            "poolguard: 2 findings (0 errors, 0 warnings, 2 info)\n", NULL });
    ck_assert_ptr_null(strstr(t, "below --min-severity"));
    ck_assert_ptr_null(strstr(t, "stuck behind the cycle"));
    free(t);

    char *s = ru_render_opts(r, PG_FMT_SARIF, PG_SEV_INFO, false);
    json_t *doc = json_loads(s, 0, NULL);
    json_t *results = json_object_get(json_array_get(json_object_get(doc, "runs"), 0), "results");
    ck_assert_uint_eq(json_array_size(results), 2);
    for (size_t i = 0; i < 2; i++) {
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(results, i), "level")),
                         "note");
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(results, i), "ruleId")),
                         "stall");
    }
    ck_assert_str_eq(json_string_value(
                         json_object_get(json_object_get(json_array_get(results, 0), "properties"),
                                         "proof")),
                     "none");
    json_decref(doc);
    free(s);

    char *j = ru_render_opts(r, PG_FMT_JUNIT, PG_SEV_INFO, false);
    /* Info is a passing test case with the details, never a failure. */
    ck_assert_ptr_nonnull(strstr(j, "tests=\"2\" failures=\"0\""));
    ck_assert_ptr_null(strstr(j, "<failure"));
    ck_assert_ptr_nonnull(
        strstr(j, "<testcase classname=\"poolguard.stall\" name=\"flusher (tid 2010) has been "
                  "blocked for 6000 ms"));
    ck_assert_ptr_nonnull(strstr(j, "<system-out>"));
    free(j);

    char *d = ru_render_opts(r, PG_FMT_DOT, PG_SEV_INFO, false);
    ck_assert_ptr_nonnull(strstr(d, "color=steelblue;"));
    ck_assert_ptr_nonnull(strstr(d, "proof: none"));
    free(d);

    char *jj = ru_render_opts(r, PG_FMT_JSON, PG_SEV_INFO, false);
    doc = json_loads(jj, 0, NULL);
    json_t *f0 = json_array_get(json_object_get(doc, "findings"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(f0, "kind")), "stall");
    ck_assert_str_eq(json_string_value(json_object_get(f0, "severity")), "info");
    ck_assert_str_eq(json_string_value(json_object_get(f0, "summary")),
                     "all 2 workers of the GThreadPool created in main() at thumbs.c:40 have been "
                     "blocked "
                     "for at least 5010 ms; nothing proves they cannot continue");
    ck_assert_int_eq(json_integer_value(
                         json_object_get(json_object_get(doc, "hidden"), "below_min_severity")),
                     0);
    json_decref(doc);
    free(jj);
    report_free(r);
}
END_TEST

START_TEST(test_stall_is_shown_after_a_time_out_whatever_min_severity_says)
{
    pg_report *r = ru_load("tests/data/stall.jsonl", glib_syms);
    char *t = ru_render_opts(r, PG_FMT_TEXT, PG_SEV_WARNING, true);
    tu_assert_in_order(t, (const char *[]){ pool_stall, thread_stall,
                                            "poolguard: 2 findings (0 errors, 0 warnings, 2 info)",
                                            NULL });
    free(t);
    /* Not at --min-severity error either: the time-out is what asks for them. */
    t = ru_render_opts(r, PG_FMT_TEXT, PG_SEV_ERROR, true);
    ck_assert_ptr_nonnull(strstr(t, thread_stall));
    free(t);
    report_free(r);
}
END_TEST

START_TEST(test_stall_findings_are_not_folded_into_errors_and_keep_their_kind_in_signatures)
{
    pg_report *r = ru_load("tests/data/stall.jsonl", glib_syms);
    size_t n;
    pg_finding **f = report_findings(r, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(f[0]->sev, PG_SEV_INFO);
    ck_assert(strncmp(f[0]->signature, "stall|", 6) == 0);
    suppressions *s = ru_suppressions("stall:flush_loop\n");
    ck_assert(!suppressions_match(s, f[0]));
    ck_assert(suppressions_match(s, f[1]));
    suppressions_free(s);
    report_free(r);
}
END_TEST

Suite *render_exact_suite(void)
{
    Suite *s = suite_create("render_exact");
    TCase *tc = tcase_create("exact");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_exact_libuv_sentence_names_pool_tasks_and_queue_positions);
    tcase_add_test(tc, test_exact_libuv_json_carries_task_functions_library_and_proof);
    tcase_add_test(tc, test_exact_libuv_in_sarif_junit_dot_and_html);
    tcase_add_test(tc, test_exact_glib_graph_proof_and_waits_for_queued_and_running_tasks);
    tcase_add_test(tc, test_stall_is_hidden_by_default_and_counted_below_min_severity);
    tcase_add_test(tc, test_stall_is_shown_with_min_severity_info_in_every_format);
    tcase_add_test(tc, test_stall_is_shown_after_a_time_out_whatever_min_severity_says);
    tcase_add_test(
        tc, test_stall_findings_are_not_folded_into_errors_and_keep_their_kind_in_signatures);
    suite_add_tcase(s, tc);
    return s;
}

/*
 * Pool findings (pool_exhaustion, queue_growth) as people and tools read them, from hand-made
 * raw reports whose addresses are named by a fake symbolizer (tests/lib/render_util.h): the
 * sentence names the pool by where it was created, the pool block says size, idle wait, what is
 * queued and how that is known, each worker the task it runs and where it blocks, and the
 * rendered JSON, SARIF and DOT carry the same. Real programs: check_run_shim.c.
 */
#include <check.h>
#include <jansson.h>

#include "render_util.h"
#include "testlib.h"

static const ru_sym pool_syms[] = {
    { 0x55d0c0a014fd, "pool_start", "/src/minipool.c", 145 },
    { 0x55d0c0a01808, "main", "/src/server.c", 67 },
    { 0x55d0c0a01580, "pool_worker", "/src/minipool.c", 118 },
    { 0x55d0c0a0135e, "future_get", "/src/minipool.c", 68 },
    { 0x55d0c0a013ab, "parent_task", "/src/server.c", 30 },
    { 0x55d0c0a015c7, "pool_worker", "/src/minipool.c", 124 },
    { 0x55d0c0a01820, "main", "/src/server.c", 70 },
    { 0x7f100002724a, "__libc_start_main", NULL, 0 },
    { 0 },
};

static const ru_sym annotated_syms[] = {
    { 0x55d0c0a01465, "pool_start", "/src/minipool.c", 142 },
    { 0x55d0c0a01655, "main", "/src/annotated.c", 34 },
    { 0x55d0c0a01523, "pool_worker", "/src/minipool.c", 118 },
    { 0x55d0c0a01375, "future_get", "/src/minipool.c", 68 },
    { 0x55d0c0a013d4, "parent_task", "/src/annotated.c", 26 },
    { 0x55d0c0a01579, "pool_worker", "/src/minipool.c", 124 },
    { 0 },
};

static const ru_sym growth_syms[] = {
    { 0x55d0c0a01316, "pool_start", "/src/minipool.c", 145 },
    { 0x55d0c0a015a3, "main", "/src/growth.c", 35 },
    { 0x55d0c0a013a3, "pool_worker", "/src/minipool.c", 118 },
    { 0x55d0c0a014c7, "pool_submit", "/src/minipool.c", 96 },
    { 0x55d0c0a0152d, "produce_forever", "/src/growth.c", 26 },
    { 0x55d0c0a015a8, "main", "/src/growth.c", 36 },
    { 0 },
};

START_TEST(test_render_pool_exhaustion_names_the_pool_by_where_it_was_created)
{
    pg_report *r = ru_load("tests/data/pool_exhaustion.jsonl", pool_syms);
    char *t = ru_render(r, PG_FMT_TEXT);
    tu_assert_in_order(
        t, (const char *[]){
               "error: pool_exhaustion in server (pid 5150): all 2 workers of the pool created in "
               "pool_start() (thread routine pool_worker) are waiting for tasks queued behind them "
               "in the "
               "same pool: about 2 tasks queued (estimated)\n",
               "the pool: 2 workers, created in pool_start at /src/minipool.c:145\n",
               "    thread routine: pool_worker\n",
               "    idle wait: condition variable 0x55d0c0a04128\n",
               "    queued: about 2 tasks, estimated from signals with no idle worker\n",
               "    created at:\n",
               "#0  pool_start at /src/minipool.c:145",
               "#1  main at /src/server.c:67",
               "worker-1 (tid 5152), worker of the pool\n",
               "    runs parent_task at /src/server.c:30\n",
               "    blocks in future_get at /src/minipool.c:68\n",
               "    waits 1101 ms on condition variable 0x7f2000000bc8\n",
               "#0  future_get at /src/minipool.c:68",
               "#1  parent_task at /src/server.c:30",
               "#2  pool_worker at /src/minipool.c:124",
               "worker-2 (tid 5153), worker of the pool\n",
               "    runs parent_task at /src/server.c:30\n",
               "server (tid 5150), stuck with the pool, main thread\n",
               "waits 1090 ms on condition variable",
               "#1  main at /src/server.c:70",
               "1 finding (1 error, 0 warnings)",
               NULL });
    /* The main thread is not a worker: no task line of its own. */
    const char *main_thread = strstr(t, "server (tid 5150)");
    ck_assert_ptr_nonnull(main_thread);
    bool has_task_line = strstr(main_thread, "runs ") != NULL;
    ck_assert(!has_task_line);
    free(t);
    report_free(r);
}
END_TEST

START_TEST(test_render_pool_annotated_says_the_awaited_task_is_still_queued)
{
    pg_report *r = ru_load("tests/data/pool_annotated.jsonl", annotated_syms);
    char *t = ru_render(r, PG_FMT_TEXT);
    tu_assert_in_order(
        t, (const char *[]){
               "all 2 workers of the pool \"minipool\" are waiting for tasks queued behind them in "
               "the same "
               "pool: 2 tasks queued (exact)",
               "the pool: \"minipool\", 2 workers, created in pool_start at /src/minipool.c:142\n",
               "    idle wait: not needed (the pool's annotations say when tasks start)\n",
               "    queued: 2 tasks, counted exactly by the pool's annotations\n",
               "mp-worker-0 (tid 5162), worker of the pool\n",
               "    runs task 0x5563c0a2c6a0: parent_task at /src/annotated.c:26\n",
               "    blocks in future_get at /src/minipool.c:68\n",
               "    waits for task 0x7f2000000ba0, which is still queued (pool 0x55d0c0a040e0) and "
               "has not "
               "started: it needs a free worker\n",
               "mp-worker-1 (tid 5163), worker of the pool\n",
               "    waits for task 0x7f2100000ba0, which is running on tid 5162\n", NULL });
    ck_assert_ptr_null(strstr(t, "about 2"));
    free(t);

    json_t *doc, *f = ru_first_finding(r, &doc);
    json_t *w0 = json_array_get(json_object_get(f, "threads"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(w0, "task")), "0x5563c0a2c6a0");
    json_t *wt = json_object_get(w0, "waits_for_task");
    ck_assert_str_eq(json_string_value(json_object_get(wt, "address")), "0x7f2000000ba0");
    ck_assert_str_eq(json_string_value(json_object_get(wt, "state")), "queued");
    ck_assert_str_eq(json_string_value(json_object_get(wt, "pool")), "0x55d0c0a040e0");
    json_t *wt1 =
        json_object_get(json_array_get(json_object_get(f, "threads"), 1), "waits_for_task");
    ck_assert_int_eq(json_integer_value(json_object_get(wt1, "runner")), 5162);
    json_t *pool = json_object_get(f, "pool");
    ck_assert_str_eq(json_string_value(json_object_get(pool, "name")), "minipool");
    ck_assert_int_eq(json_integer_value(json_object_get(pool, "declared_workers")), 2);
    ck_assert(json_is_true(json_object_get(pool, "queued_exact")));
    ck_assert(json_is_null(json_object_get(pool, "idle")));
    ck_assert_str_eq(json_string_value(json_object_get(pool, "description")),
                     "the pool \"minipool\"");
    json_decref(doc);
    report_free(r);
}
END_TEST

START_TEST(test_render_pool_json_carries_the_symbolized_pool)
{
    pg_report *r = ru_load("tests/data/pool_exhaustion.jsonl", pool_syms);
    json_t *doc, *f = ru_first_finding(r, &doc);
    ck_assert_str_eq(json_string_value(json_object_get(f, "summary")),
                     "all 2 workers of the pool created in pool_start() (thread routine "
                     "pool_worker) "
                     "are waiting for tasks queued behind them in the same pool: about 2 tasks "
                     "queued (estimated)");
    ck_assert_str_eq(json_string_value(json_object_get(f, "shim_summary")),
                     "all 2 workers of the pool are waiting for tasks queued behind them in the "
                     "same "
                     "pool (2 queued)");
    json_t *pool = json_object_get(f, "pool");
    ck_assert_str_eq(json_string_value(json_object_get(pool, "id")), "0x3dfca65ce6947e16");
    ck_assert(json_is_false(json_object_get(pool, "annotated")));
    ck_assert_int_eq(json_integer_value(json_object_get(pool, "workers")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(pool, "queued")), 2);
    ck_assert(json_is_false(json_object_get(pool, "queued_exact")));
    /* A version 1 report's phrase comes out as the format's code. */
    ck_assert_str_eq(json_string_value(json_object_get(pool, "evidence")), "idle_signals");
    ck_assert_str_eq(json_string_value(json_object_get(pool, "start_function")), "pool_worker");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(pool, "idle"), "kind")),
                     "cond");
    json_t *cs = json_object_get(pool, "create_stack");
    ck_assert_uint_eq(json_array_size(cs), 3);
    json_t *c0 = json_array_get(cs, 0);
    ck_assert_str_eq(json_string_value(json_object_get(c0, "function")), "pool_start");
    ck_assert_str_eq(json_string_value(json_object_get(c0, "file")), "/src/minipool.c");
    ck_assert_int_eq(json_integer_value(json_object_get(c0, "line")), 145);
    ck_assert_str_eq(json_string_value(json_object_get(c0, "module")), "/nonexistent/server");
    ck_assert_str_eq(json_string_value(json_object_get(c0, "offset")), "0x14fd");
    ck_assert(json_is_true(json_object_get(json_array_get(cs, 2), "folded")));
    ck_assert_str_eq(json_string_value(
                         json_object_get(json_object_get(pool, "created_in"), "function")),
                     "pool_start");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(f, "location"), "function")),
                     "future_get");
    json_t *w = json_array_get(json_object_get(f, "threads"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(w, "role")), "worker");
    ck_assert_ptr_null(json_object_get(w, "waits_for_task"));
    json_decref(doc);
    report_free(r);
}
END_TEST

START_TEST(test_render_queue_growth_gives_rates_depth_and_the_submitter)
{
    pg_report *r = ru_load("tests/data/queue_growth.jsonl", growth_syms);
    char *t = ru_render(r, PG_FMT_TEXT);
    tu_assert_in_order(
        t, (const char *[]){
               "warning: queue_growth in server (pid 5170): 9874 tasks were queued on the pool "
               "created in "
               "pool_start() (thread routine pool_worker), which has 1 worker, while no worker was "
               "free to "
               "take them (+4790 per second); its queue keeps growing\n",
               "the pool: 1 worker, created in pool_start at /src/minipool.c:145\n",
               "    queued: about 9874 tasks, estimated from signals with no idle worker\n",
               "    the queue grows: +4790 tasks per second over 2003 ms\n",
               "    the process's memory grew by 1544 kB meanwhile\n",
               "worker (tid 5172), worker of the pool\n", "running (not blocked)",
               "producer (tid 5170), submits work to the pool, main thread\n",
               "    running; the stack below is where it last queued work\n",
               "#0  pool_submit at /src/minipool.c:96", "#1  produce_forever at /src/growth.c:26",
               "#2  main at /src/growth.c:36", "1 finding (0 errors, 1 warning)", NULL });
    free(t);
    json_t *doc, *f = ru_first_finding(r, &doc);
    json_t *g = json_object_get(f, "growth");
    ck_assert_int_eq(json_integer_value(json_object_get(g, "per_second")), 4790);
    ck_assert_int_eq(json_integer_value(json_object_get(g, "depth")), 9874);
    ck_assert_int_eq(json_integer_value(json_object_get(g, "window_ms")), 2003);
    ck_assert_int_eq(json_integer_value(json_object_get(g, "rss_growth_kb")), 1544);
    json_t *sub = json_array_get(json_object_get(f, "threads"), 1);
    ck_assert_str_eq(json_string_value(json_object_get(sub, "role")), "submitter");
    ck_assert(json_is_null(json_object_get(sub, "blocked_on")));
    json_decref(doc);
    report_free(r);
}
END_TEST

START_TEST(test_render_pool_in_sarif_junit_and_dot)
{
    pg_report *r = ru_load("tests/data/pool_exhaustion.jsonl", pool_syms);
    char *s = ru_render(r, PG_FMT_SARIF);
    json_t *doc = json_loads(s, 0, NULL);
    ck_assert_ptr_nonnull(doc);
    json_t *res =
        json_array_get(json_object_get(json_array_get(json_object_get(doc, "runs"), 0), "results"),
                       0);
    ck_assert_ptr_nonnull(
        strstr(json_string_value(json_object_get(json_object_get(res, "message"), "text")),
               "the pool created in pool_start()"));
    json_t *rel = json_array_get(json_object_get(res, "relatedLocations"), 0);
    ck_assert_str_eq(json_string_value(
                         json_object_get(json_array_get(json_object_get(rel, "logicalLocations"),
                                                        0),
                                         "fullyQualifiedName")),
                     "pool_start");
    ck_assert_uint_eq(json_array_size(
                          json_object_get(json_array_get(json_object_get(res, "codeFlows"), 0),
                                          "threadFlows")),
                      3);
    json_decref(doc);
    free(s);

    char *j = ru_render(r, PG_FMT_JUNIT);
    ck_assert_ptr_nonnull(
        strstr(j, "<testcase classname=\"poolguard.pool_exhaustion\" name=\"all 2 workers "
                  "of the pool created in pool_start() (thread routine pool_worker)"));
    ck_assert_ptr_nonnull(strstr(j, "runs parent_task at /src/server.c:30"));
    free(j);

    char *d = ru_render(r, PG_FMT_DOT);
    ck_assert_ptr_nonnull(strstr(d, "p0 [shape=box3d"));
    ck_assert_ptr_nonnull(strstr(d, "the pool created in pool_start() (thread routine "
                                    "pool_worker)\\n2 workers, about 2 queued"));
    ck_assert_ptr_nonnull(strstr(d, "p0 -> t0_5152 [label=\"busy\", style=dashed"));
    free(d);
    report_free(r);
}
END_TEST

START_TEST(test_render_pool_other_layers_members_pass_through)
{
    /* The Python layer describes an executor with members of its own: kept and shown. */
    pg_report *r = ru_load("tests/data/python.jsonl", (const ru_sym[]){ { 0 } });
    char *t = ru_render(r, PG_FMT_TEXT);
    tu_assert_in_order(t, (const char *[]){ "the pool:", "running: at most 1 worker at once",
                                            "also: executor=0x7f00aa\n", "    stack:\n",
                                            "#0  parent_task at app.py:12", NULL });
    free(t);
    json_t *doc, *f = ru_first_finding(r, &doc);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(f, "pool"), "executor")),
                     "0x7f00aa");
    json_decref(doc);
    report_free(r);
}
END_TEST

START_TEST(test_render_pool_signature_and_suppression_by_creator)
{
    pg_report *r = ru_load("tests/data/pool_exhaustion.jsonl", pool_syms);
    size_t n;
    pg_finding **f = report_findings(r, &n);
    ck_assert_ptr_nonnull(strstr(f[0]->signature, "future_get>parent_task>pool_worker"));
    suppressions *s = ru_suppressions("pool_exhaustion:pool_start\n");
    ck_assert(suppressions_match(s, f[0]));
    suppressions_free(s);
    report_free(r);
}
END_TEST

Suite *render_pool_suite(void)
{
    Suite *s = suite_create("render_pool");
    TCase *tc = tcase_create("pool");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_render_pool_exhaustion_names_the_pool_by_where_it_was_created);
    tcase_add_test(tc, test_render_pool_annotated_says_the_awaited_task_is_still_queued);
    tcase_add_test(tc, test_render_pool_json_carries_the_symbolized_pool);
    tcase_add_test(tc, test_render_queue_growth_gives_rates_depth_and_the_submitter);
    tcase_add_test(tc, test_render_pool_in_sarif_junit_and_dot);
    tcase_add_test(tc, test_render_pool_other_layers_members_pass_through);
    tcase_add_test(tc, test_render_pool_signature_and_suppression_by_creator);
    suite_add_tcase(s, tc);
    return s;
}

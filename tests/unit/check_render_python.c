/*
 * Pools read from the Python interpreter, as people and tools read them, from raw reports of
 * real runs (tests/py/app_one_worker.py, app_mp_two.py, app_asyncio_threadsafe.py,
 * app_asyncio_named.py, app_event.py, app_mp_growth.py under the shim; stacks trimmed, paths
 * moved to /src): each pool is named by its kind in the program's terms, and the sentence of an
 * exact exhaustion is the analyzer's, built from the pool's tasks[] (the worker, the function it
 * runs with file:line, what it waits on and where that is queued). Python functions have no
 * addresses, so nothing here needs a symbolizer.
 */
#include <check.h>
#include <jansson.h>

#include "render_util.h"
#include "testlib.h"

static const ru_sym no_syms[] = { { 0 } };

static const char one_worker_sentence[] =
    "the only worker of the ThreadPoolExecutor \"ThreadPoolExecutor-0\" is waiting for a task "
    "queued behind it in the same executor: 1 task queued (exact); worker ThreadPoolExecutor-0_0, "
    "running parent_task (app_one_worker.py:12), waits on the future of dependent_task, queued 1st "
    "in the same executor";

static const char threadpool_sentence[] =
    "all 2 workers of the multiprocessing ThreadPool held in __main__.pool are waiting for tasks "
    "queued behind them in the same pool: 6 tasks queued (exact); worker Thread-1 (worker), "
    "running "
    "parent (app_mp_two.py:13), waits on the result of subtask, queued 5th in the same pool; "
    "worker "
    "Thread-2 (worker), running parent (app_mp_two.py:13), waits on the result of subtask, queued "
    "6th in the same pool";

static const char asyncio_sentence[] =
    "all 6 workers of asyncio's default executor (event loop in MainThread) are waiting for tasks "
    "queued behind them in the same executor: 40 tasks queued (exact); worker asyncio_0, running "
    "parent (app_asyncio_threadsafe.py:17), waits on coroutine fetch() (run_coroutine_threadsafe), "
    "which awaits run_in_executor(child), queued 35th in the same executor; worker asyncio_1, "
    "running parent (app_asyncio_threadsafe.py:17), waits on coroutine fetch() "
    "(run_coroutine_threadsafe), which awaits run_in_executor(child), queued 36th in the same "
    "executor; and 4 more";

START_TEST(test_python_executor_one_worker_sentence_names_worker_task_and_queued_future)
{
    pg_report *r = ru_load("tests/data/python_executor.jsonl", no_syms);
    char *t = ru_render(r, PG_FMT_TEXT);
    tu_assert_in_order(t, (const char *[]){
                              "error: pool_exhaustion in app_one_worker.py (pid 19521): ",
                              one_worker_sentence, "\n",
                              "  the pool: ThreadPoolExecutor \"ThreadPoolExecutor-0\", 1 worker\n",
                              "    known from: the Python interpreter\n",
                              "    proof: exact: a worker waits on a task still queued in this "
                              "pool while every worker is "
                              "blocked\n",
                              "    class: concurrent.futures.ThreadPoolExecutor\n",
                              "    thread name prefix: ThreadPoolExecutor-0\n",
                              "    queued: 1 task, counted exactly by the interpreter\n",
                              "  ThreadPoolExecutor-0_0 (tid 19526), worker of the pool\n",
                              "    runs parent_task at /src/app_one_worker.py:14\n",
                              "    waits on the future of dependent_task, queued 1st in the same "
                              "executor, and has not "
                              "started: it needs a free worker\n",
                              "      task dependent_task at /src/app_one_worker.py:8\n",
                              "    stack:\n", "#0  parent_task at /src/app_one_worker.py:14\n",
                              " native frames in ",
                              "  MainThread (tid 19521), stuck with the pool, main thread\n",
                              "poolguard: 1 finding (1 error, 0 warnings)\n", NULL });
    /* The Python layer's members are said in words, not listed raw; only workers get a task. */
    ck_assert_ptr_null(strstr(t, "also:"));
    ck_assert_ptr_null(strstr(t, "the ThreadPoolExecutor \"the"));
    const char *main_at = strstr(t, "MainThread (tid 19521)");
    ck_assert_ptr_nonnull(main_at);
    ck_assert_ptr_null(strstr(main_at, "waits on the future"));
    free(t);

    json_t *doc, *f = ru_first_finding(r, &doc);
    ck_assert_str_eq(json_string_value(json_object_get(f, "summary")), one_worker_sentence);
    ck_assert_str_eq(
        json_string_value(json_object_get(f, "shim_summary")),
        "worker ThreadPoolExecutor-0_0, running parent_task (app_one_worker.py:12), waits "
        "on the future of dependent_task, which is still queued on the same executor; its "
        "only worker is that thread");
    json_t *pool = json_object_get(f, "pool");
    ck_assert_str_eq(json_string_value(json_object_get(pool, "description")),
                     "the ThreadPoolExecutor \"ThreadPoolExecutor-0\"");
    ck_assert_str_eq(json_string_value(json_object_get(pool, "library")), "python");
    ck_assert_str_eq(json_string_value(json_object_get(pool, "source")), "python");
    ck_assert_str_eq(json_string_value(json_object_get(pool, "proof")), "exact");
    json_t *tasks = json_object_get(pool, "tasks");
    ck_assert_uint_eq(json_array_size(tasks), 1);
    json_t *t0 = json_array_get(tasks, 0);
    ck_assert_str_eq(json_string_value(json_object_get(t0, "thread")), "ThreadPoolExecutor-0_0");
    ck_assert_int_eq(json_integer_value(json_object_get(t0, "tid")), 19526);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(t0, "task"), "function")),
                     "parent_task");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(t0, "task"), "line")), 12);
    ck_assert_str_eq(json_string_value(json_object_get(t0, "python_blocked")), "future_result");
    json_t *w = json_object_get(t0, "waits_for");
    ck_assert_str_eq(json_string_value(json_object_get(w, "kind")), "future");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(w, "function"), "function")),
                     "dependent_task");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(w, "function"), "file")),
                     "/src/app_one_worker.py");
    ck_assert(json_is_true(json_object_get(w, "queued_here")));
    ck_assert_int_eq(json_integer_value(json_object_get(w, "queue_pos")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(w, "position")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(t0, "description")),
                     "worker ThreadPoolExecutor-0_0, running parent_task (app_one_worker.py:12), "
                     "waits "
                     "on the future of dependent_task, queued 1st in the same executor");
    json_decref(doc);
    report_free(r);
}
END_TEST

START_TEST(test_python_threadpool_is_named_by_its_global_and_waits_on_async_results)
{
    pg_report *r = ru_load("tests/data/python_threadpool.jsonl", no_syms);
    char *t = ru_render(r, PG_FMT_TEXT);
    tu_assert_in_order(
        t, (const char *[]){
               "error: pool_exhaustion in app_mp_two.py (pid 15924): ", threadpool_sentence, "\n",
               "  the pool: multiprocessing ThreadPool held in __main__.pool, 2 workers\n",
               "    class: multiprocessing.pool.ThreadPool\n", "    held in: __main__.pool\n",
               "    queues: 6 in _inqueue, 0 in _taskqueue (a map() counts once)\n",
               "    queued: 6 tasks, counted exactly by the interpreter\n",
               "  Thread-2 (worker) (tid 15927), worker of the pool\n",
               "    runs parent at /src/app_mp_two.py:15\n",
               "    waits on the result of subtask, queued 6th in the same pool, and has not "
               "started: it "
               "needs a free worker\n",
               "      task subtask at /src/app_mp_two.py:9\n",
               "  Thread-1 (worker) (tid 15926), worker of the pool\n",
               "    waits on the result of subtask, queued 5th in the same pool", NULL });
    ck_assert_ptr_null(strstr(t, "ThreadPoolExecutor"));
    free(t);

    json_t *doc, *f = ru_first_finding(r, &doc);
    ck_assert_str_eq(json_string_value(json_object_get(f, "summary")), threadpool_sentence);
    json_t *pool = json_object_get(f, "pool");
    ck_assert_str_eq(json_string_value(json_object_get(pool, "description")),
                     "the multiprocessing ThreadPool held in __main__.pool");
    ck_assert_str_eq(json_string_value(json_object_get(pool, "kind")),
                     "multiprocessing.pool.ThreadPool");
    ck_assert_int_eq(json_integer_value(json_object_get(pool, "inqueue_len")), 6);
    json_t *w = json_object_get(json_array_get(json_object_get(pool, "tasks"), 0), "waits_for");
    ck_assert_str_eq(json_string_value(json_object_get(w, "kind")), "async_result");
    ck_assert_int_eq(json_integer_value(json_object_get(w, "position")), 6);
    json_decref(doc);

    char *s = ru_render(r, PG_FMT_SARIF);
    doc = json_loads(s, 0, NULL);
    ck_assert_ptr_nonnull(doc);
    json_t *res =
        json_array_get(json_object_get(json_array_get(json_object_get(doc, "runs"), 0), "results"),
                       0);
    ck_assert_ptr_nonnull(
        strstr(json_string_value(json_object_get(json_object_get(res, "message"), "text")),
               threadpool_sentence));
    json_t *props = json_object_get(res, "properties");
    ck_assert_str_eq(json_string_value(json_object_get(props, "poolClass")),
                     "multiprocessing.pool.ThreadPool");
    ck_assert_str_eq(json_string_value(json_object_get(props, "proof")), "exact");
    ck_assert_str_eq(json_string_value(json_object_get(props, "poolSource")), "python");
    /* The waited-on function, once, where it is defined. */
    json_t *rel = json_object_get(res, "relatedLocations");
    ck_assert_uint_eq(json_array_size(rel), 1);
    json_t *r0 = json_array_get(rel, 0);
    ck_assert_str_eq(json_string_value(
                         json_object_get(json_array_get(json_object_get(r0, "logicalLocations"), 0),
                                         "fullyQualifiedName")),
                     "subtask");
    ck_assert_int_eq(json_integer_value(
                         json_object_get(json_object_get(json_object_get(r0, "physicalLocation"),
                                                         "region"),
                                         "startLine")),
                     9);
    json_t *flow =
        json_array_get(json_object_get(json_array_get(json_object_get(res, "codeFlows"), 0),
                                       "threadFlows"),
                       0);
    ck_assert_ptr_nonnull(
        strstr(json_string_value(json_object_get(json_object_get(flow, "message"), "text")),
               "; runs parent (app_mp_two.py:13); waits on the result of subtask, queued "
               "6th in the same pool"));
    json_decref(doc);
    free(s);

    char *d = ru_render(r, PG_FMT_DOT);
    ck_assert_ptr_nonnull(
        strstr(d, "the multiprocessing ThreadPool held in __main__.pool\\n2 workers, 6 queued"
                  "\\nproof: exact"));
    /* The worker waits on the task's result; the task is queued 6th in the pool; the pool waits
     * for a free worker, and this one is busy running parent. */
    ck_assert_ptr_nonnull(strstr(d, "q0_t15927 [shape=note, style=filled, fillcolor=\"#eef4ff\", "
                                    "label=\"task subtask\\nqueued 6th\"]"));
    ck_assert_ptr_nonnull(
        strstr(d, "t0_15927 -> q0_t15927 [label=\"waits on the result\", color=red"));
    ck_assert_ptr_nonnull(strstr(d, "q0_t15927 -> p0 [label=\"queued 6th in\", color=red"));
    ck_assert_ptr_nonnull(
        strstr(d, "p0 -> t0_15927 [label=\"busy: runs parent\", style=dashed, color=red"));
    free(d);
    report_free(r);
}
END_TEST

START_TEST(test_python_asyncio_default_executor_and_run_coroutine_threadsafe)
{
    pg_report *r = ru_load("tests/data/python_asyncio.jsonl", no_syms);
    char *t = ru_render(r, PG_FMT_TEXT);
    tu_assert_in_order(
        t,
        (const char *[]){
            "error: pool_exhaustion in app_asyncio_threadsafe.py (pid 16128): ", asyncio_sentence,
            "\n", "  the pool: asyncio's default executor (event loop in MainThread), 6 workers\n",
            "    thread name prefix: asyncio\n",
            "    the default executor of the asyncio event loop running in MainThread (tid "
            "16128)\n",
            "  asyncio_5 (tid 16135), worker of the pool\n",
            "    runs parent at /src/app_asyncio_threadsafe.py:19\n",
            "    waits on coroutine fetch() (run_coroutine_threadsafe), which awaits "
            "run_in_executor(child), "
            "queued 40th in the same executor, and has not started: it needs a free worker\n",
            "      coroutine fetch at /src/app_asyncio_threadsafe.py:13\n",
            "      which awaits child at /src/app_asyncio_threadsafe.py:9\n", NULL });
    free(t);

    json_t *doc, *f = ru_first_finding(r, &doc);
    ck_assert_str_eq(json_string_value(json_object_get(f, "summary")), asyncio_sentence);
    json_t *pool = json_object_get(f, "pool");
    ck_assert_str_eq(json_string_value(json_object_get(pool, "description")),
                     "asyncio's default executor (event loop in MainThread)");
    json_t *tasks = json_object_get(pool, "tasks");
    ck_assert_uint_eq(json_array_size(tasks), 6);
    json_t *w = json_object_get(json_array_get(tasks, 0), "waits_for");
    ck_assert_str_eq(json_string_value(json_object_get(w, "kind")), "coroutine");
    ck_assert_str_eq(json_string_value(
                         json_object_get(json_object_get(w, "coroutine"), "function")),
                     "fetch");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(w, "function"), "function")),
                     "child");
    ck_assert_int_eq(json_integer_value(json_object_get(w, "position")), 40);
    json_decref(doc);

    char *d = ru_render(r, PG_FMT_DOT);
    ck_assert_ptr_nonnull(strstr(d, "label=\"task child\\nvia coroutine fetch()\\nqueued 35th\""));
    ck_assert_ptr_nonnull(
        strstr(d, "t0_16130 -> q0_t16130 [label=\"waits on (coroutine)\", color=red"));
    ck_assert_ptr_nonnull(strstr(d, "q0_t16130 -> p0 [label=\"queued 35th in\""));
    free(d);
    report_free(r);
}
END_TEST

START_TEST(test_python_explicit_executor_used_from_asyncio_is_named_by_its_prefix)
{
    pg_report *r = ru_load("tests/data/python_asyncio_named.jsonl", no_syms);
    json_t *doc, *f = ru_first_finding(r, &doc);
    ck_assert_str_eq(
        json_string_value(json_object_get(f, "summary")),
        "all 2 workers of the ThreadPoolExecutor \"db\" are waiting for tasks queued behind "
        "them in the same executor: 4 tasks queued (exact); worker db_0, running query "
        "(app_asyncio_named.py:14), waits on the future of write_log, queued 1st in the same "
        "executor; worker db_1, running query (app_asyncio_named.py:14), waits on the future "
        "of write_log, queued 2nd in the same executor");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(f, "pool"), "description")),
                     "the ThreadPoolExecutor \"db\"");
    json_decref(doc);
    char *t = ru_render(r, PG_FMT_TEXT);
    tu_assert_in_order(t, (const char *[]){
                              "  the pool: ThreadPoolExecutor \"db\", 2 workers\n",
                              "  db_1 (tid 19273), worker of the pool\n",
                              "    runs query at /src/app_asyncio_named.py:15\n",
                              "      task write_log at /src/app_asyncio_named.py:10\n", NULL });
    ck_assert_ptr_null(strstr(t, "asyncio's default executor"));
    free(t);
    report_free(r);
}
END_TEST

START_TEST(test_python_event_waits_are_a_stall_or_proven_by_the_graph)
{
    pg_report *r = ru_load("tests/data/python_event.jsonl", no_syms);
    static const char clauses[] = "; worker ThreadPoolExecutor-0_1, running consumer "
                                  "(app_event.py:10), blocked in Event.wait(); "
                                  "worker ThreadPoolExecutor-0_0, running consumer "
                                  "(app_event.py:10), blocked in Event.wait()";
    char *t = ru_render_opts(r, PG_FMT_TEXT, PG_SEV_INFO, false);
    tu_assert_in_order(
        t, (const char *[]){
               "info: stall in app_event.py (pid 22167): all 2 workers of the ThreadPoolExecutor "
               "\"ThreadPoolExecutor-0\" have been blocked for at least 2006 ms (1 task queued "
               "(exact)); "
               "nothing proves they cannot continue",
               clauses, "\n", "    proof: none: the workers have only been blocked for long\n",
               "    blocked in Event.wait()\n",
               "error: pool_exhaustion in app_event.py (pid 22167): all 2 workers of the "
               "ThreadPoolExecutor "
               "\"ThreadPoolExecutor-0\" are blocked inside their tasks with 1 task queued (exact) "
               "behind "
               "them, and the wait-for graph shows no thread left to wake them",
               clauses, "\n", "    proof: the wait-for graph: every worker is stuck", NULL });
    free(t);
    /* The stall is info whatever: hidden by default, the graph's error is not. */
    t = ru_render(r, PG_FMT_TEXT);
    ck_assert_ptr_null(strstr(t, "stall in"));
    ck_assert_ptr_nonnull(
        strstr(t, "poolguard: 1 finding (1 error, 0 warnings), 1 below --min-severity\n"));
    free(t);
    report_free(r);
}
END_TEST

START_TEST(test_python_queue_growth_names_the_pool_by_kind)
{
    pg_report *r = ru_load("tests/data/python_growth.jsonl", no_syms);
    json_t *doc, *f = ru_first_finding(r, &doc);
    ck_assert_str_eq(json_string_value(json_object_get(f, "summary")),
                     "the queue of the multiprocessing ThreadPool held in __main__.pool (2 "
                     "workers) grew "
                     "to 195151 tasks (+88796 per second) while every worker was busy: submissions "
                     "outpace the pool and memory grows with them");
    json_decref(doc);
    report_free(r);
}
END_TEST

/* A Python pool without tasks[] (an older shim) keeps the shim's own sentence; junk in tasks[]
 * is left out, not trusted. */
START_TEST(test_python_pool_without_tasks_keeps_the_shim_sentence_and_junk_is_ignored)
{
    char *dir = tu_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/py.jsonl", dir);
    tu_write(path,
             "{\"type\":\"header\",\"format\":\"poolguard-report\",\"version\":1,\"pid\":7,"
             "\"exe\":\"/usr/bin/python3.11\",\"argv\":[\"python3\",\"app.py\"]}\n"
             "{\"type\":\"finding\",\"seq\":1,\"kind\":\"pool_exhaustion\",\"severity\":\"error\","
             "\"summary\":\"the shim's own words about the pool\",\"pool\":{\"library\":\"python\","
             "\"kind\":\"concurrent.futures.ThreadPoolExecutor\",\"name\":\"io\",\"prefix\":\"io\","
             "\"workers\":1,\"source\":\"python\",\"proof\":\"exact\"},\"threads\":[]}\n"
             "{\"type\":\"finding\",\"seq\":2,\"kind\":\"pool_exhaustion\",\"severity\":\"error\","
             "\"summary\":\"x\",\"pool\":{\"library\":\"python\",\"prefix\":\"io\",\"workers\":1,"
             "\"queued\":1,\"queued_exact\":true,\"source\":\"python\",\"proof\":\"exact\","
             "\"asyncio_loop\":7,\"tasks\":[5,{\"thread\":3,\"tid\":\"x\",\"task\":{\"function\":4}"
             ","
             "\"python_blocked\":\"whatever\",\"waits_for\":{\"kind\":\"weird\",\"function\":[],"
             "\"queued_here\":true,\"queue_pos\":-3}}]},\"threads\":[]}\n");
    pg_report *r = ru_load(path, no_syms);
    json_t *doc;
    ru_first_finding(r, &doc);
    json_t *fs = json_object_get(doc, "findings");
    ck_assert_uint_eq(json_array_size(fs), 2);
    json_t *f0 = json_array_get(fs, 0), *f1 = json_array_get(fs, 1);
    ck_assert_str_eq(json_string_value(json_object_get(f0, "summary")),
                     "the shim's own words about the pool");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(f0, "pool"), "description")),
                     "the ThreadPoolExecutor \"io\"");
    ck_assert_str_eq(
        json_string_value(json_object_get(f1, "summary")),
        "the only worker of the ThreadPoolExecutor \"io\" is waiting for a task queued "
        "behind it in the same executor: 1 task queued (exact); a worker, waits on the "
        "future of a task, still queued in the same executor");
    json_t *t0 = json_array_get(json_object_get(json_object_get(f1, "pool"), "tasks"), 0);
    ck_assert(json_is_null(json_object_get(t0, "thread")));
    ck_assert(json_is_null(json_object_get(t0, "task")));
    ck_assert(json_is_null(json_object_get(json_object_get(t0, "waits_for"), "kind")));
    ck_assert(json_is_null(json_object_get(json_object_get(t0, "waits_for"), "position")));
    json_decref(doc);
    char *t = ru_render(r, PG_FMT_TEXT);
    ck_assert_ptr_nonnull(t);
    free(t);
    report_free(r);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

Suite *render_python_suite(void)
{
    Suite *s = suite_create("render_python");
    TCase *tc = tcase_create("python");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc,
                   test_python_executor_one_worker_sentence_names_worker_task_and_queued_future);
    tcase_add_test(tc, test_python_threadpool_is_named_by_its_global_and_waits_on_async_results);
    tcase_add_test(tc, test_python_asyncio_default_executor_and_run_coroutine_threadsafe);
    tcase_add_test(tc, test_python_explicit_executor_used_from_asyncio_is_named_by_its_prefix);
    tcase_add_test(tc, test_python_event_waits_are_a_stall_or_proven_by_the_graph);
    tcase_add_test(tc, test_python_queue_growth_names_the_pool_by_kind);
    tcase_add_test(tc, test_python_pool_without_tasks_keeps_the_shim_sentence_and_junk_is_ignored);
    suite_add_tcase(s, tc);
    return s;
}

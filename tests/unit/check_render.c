/*
 * Renderers, checked by structure: the text report's parts in order (headline, cycle, threads,
 * folded frames, colour only when asked), the rendered JSON read back with jansson.
 */
#include <check.h>

#include "render_util.h"
#include "testlib.h"

START_TEST(test_render_text_reads_top_down)
{
    pg_report *r = ru_load_symbolized("tests/data/deadlock.jsonl");
    char *t = ru_render_color(r, PG_FMT_TEXT, false);
    tu_assert_in_order(
        t, (const char *[]){
               "error: deadlock in app (pid 4242): 2 threads wait on each other through 2 mutexes",
               "the cycle:", "worker-1 (tid 11)", "waits on mutex 0x55d0c0a04040, held by",
               "worker-2 (tid 12)", "waits on mutex 0x55d0c0a04080, held by",
               "worker-1 (tid 11)  (back to the start)", "worker-1 (tid 11), in the cycle",
               "waits 812 ms on mutex 0x55d0c0a04040, held by tid 12",
               "holds mutex 0x55d0c0a04080, taken at /nonexistent/app+0x1300", "stack:",
               "... 2 frames in libpoolguard.so, libc.so.6", "#0  /nonexistent/app+0x130f",
               "#1  /nonexistent/app+0x1400", "... 1 frame in libc.so.6", "worker-2 (tid 12)",
               "1 finding (1 error, 0 warnings)", NULL });
    ck_assert_ptr_null(strchr(t, '\033'));
    free(t);
    report_free(r);
}
END_TEST

START_TEST(test_render_text_colours_only_when_asked)
{
    pg_report *r = ru_load_symbolized("tests/data/deadlock.jsonl");
    char *t = ru_render_color(r, PG_FMT_TEXT, true);
    ck_assert_ptr_nonnull(strstr(t, "\033[31m"));
    free(t);
    report_free(r);
}
END_TEST

START_TEST(test_render_text_hides_info_by_default_and_shows_pool)
{
    pg_report *r = ru_load_symbolized("tests/data/badlines.jsonl");
    char *t = ru_render_color(r, PG_FMT_TEXT, false);
    ck_assert_ptr_nonnull(strstr(t, "error: pool_exhaustion"));
    ck_assert_ptr_nonnull(strstr(t, "the pool: \"io\", 4 workers\n"));
    ck_assert_ptr_nonnull(strstr(t, "queued: about 3 tasks"));
    ck_assert_ptr_null(strstr(t, "stall"));
    ck_assert_ptr_nonnull(strstr(t, "1 below --min-severity"));
    free(t);
    report_free(r);
}
END_TEST

START_TEST(test_render_text_snapshot_shows_every_thread)
{
    pg_report *r = ru_load_symbolized("tests/data/snapshot.jsonl");
    char *t = ru_render_color(r, PG_FMT_TEXT, false);
    tu_assert_in_order(t, (const char *[]){
                              "time-out snapshot of server (pid 900): 2 threads, 1 blocked",
                              "server (tid 900)",
                              "waits 29000 ms on thread join, for thread 901 to finish",
                              "busy (tid 901)", "running (not blocked)", NULL });
    free(t);
    report_free(r);
}
END_TEST

START_TEST(test_render_json_schema)
{
    pg_report *r = ru_load_symbolized("tests/data/deadlock.jsonl");
    char *t = ru_render_color(r, PG_FMT_JSON, false);
    json_error_t err;
    json_t *doc = json_loads(t, 0, &err);
    ck_assert_msg(doc != NULL, "%s", err.text);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "version")), 1);
    json_t *f = json_array_get(json_object_get(doc, "findings"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(f, "kind")), "deadlock");
    ck_assert_str_eq(json_string_value(json_object_get(f, "severity")), "error");
    ck_assert_int_eq(json_integer_value(json_object_get(f, "pid")), 4242);
    ck_assert_str_eq(json_string_value(json_object_get(f, "exe")), "/nonexistent/app");
    ck_assert_int_eq(json_integer_value(json_object_get(f, "count")), 1);
    ck_assert_uint_eq(json_array_size(json_object_get(f, "cycle")), 2);
    json_t *t0 = json_array_get(json_object_get(f, "threads"), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(t0, "tid")), 11);
    ck_assert_str_eq(json_string_value(json_object_get(t0, "role")), "cycle");
    json_t *b = json_object_get(t0, "blocked_on");
    ck_assert_str_eq(json_string_value(json_object_get(b, "kind")), "mutex");
    ck_assert_str_eq(json_string_value(json_object_get(b, "address")), "0x55d0c0a04040");
    ck_assert(json_is_false(json_object_get(b, "timed")));
    ck_assert_int_eq(json_integer_value(json_object_get(b, "since_ms")), 812);
    ck_assert_int_eq(json_integer_value(json_object_get(b, "owner")), 12);
    ck_assert_uint_eq(json_array_size(json_object_get(t0, "holds")), 1);
    json_t *stack = json_object_get(t0, "stack");
    ck_assert_uint_eq(json_array_size(stack), 5);
    json_t *fr0 = json_array_get(stack, 0);
    ck_assert(json_is_true(json_object_get(fr0, "folded")));
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(stack, 2), "offset")),
                     "0x130f");
    ck_assert(json_is_null(json_object_get(json_array_get(stack, 2), "function")));
    ck_assert_ptr_null(json_object_get(doc, "snapshots"));
    json_decref(doc);
    free(t);
    report_free(r);
}
END_TEST

START_TEST(test_render_json_includes_snapshots)
{
    pg_report *r = ru_load_symbolized("tests/data/snapshot.jsonl");
    char *t = ru_render_color(r, PG_FMT_JSON, false);
    json_t *doc = json_loads(t, 0, NULL);
    json_t *s = json_array_get(json_object_get(doc, "snapshots"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(s, "reason")), "request");
    json_t *th = json_object_get(s, "threads");
    ck_assert_uint_eq(json_array_size(th), 2);
    ck_assert(json_is_null(json_object_get(json_array_get(th, 1), "blocked_on")));
    ck_assert_int_eq(json_integer_value(
                         json_object_get(json_object_get(json_array_get(th, 0), "blocked_on"),
                                         "target")),
                     901);
    json_decref(doc);
    free(t);
    report_free(r);
}
END_TEST

START_TEST(test_render_text_shows_the_program_frames_first)
{
    pg_report *r = report_new();
    report_set_diagnostics(r, NULL);
    ck_assert_int_eq(report_add_path(r, "tests/data/deadlock.jsonl"), 0);
    size_t n;
    pg_finding **f = report_findings(r, &n);
    /* Frames as the symbolizer would give them for C++: library code above and between the
     * program's own frames. The symbolizer leaves stacks that already have frames alone. */
    static const struct {
        const char *fn;
        const char *mod;
        bool own;
    } fr[] = {
        { "poolguard_hook", "/x/libpoolguard.so", false },
        { "std::future<long>::get()", "/x/libstdc++.so.6", false },
        { "std::__basic_future<long>::_M_get_result() const", "/work/app", false },
        { "parent_task(long)", "/work/app", true },
        { "std::a", "/work/app", false },
        { "std::b", "/work/app", false },
        { "std::c", "/work/app", false },
        { "std::d", "/work/app", false },
        { "ThreadPool::run()", "/work/app", true },
        { "start_thread", "/x/libc.so.6", false },
    };
    pg_stack *st = &f[0]->threads[0].stack;
    st->nframes = sizeof fr / sizeof *fr;
    st->frames = calloc(st->nframes, sizeof *st->frames);
    for (size_t i = 0; i < st->nframes; i++) {
        st->frames[i].function = strdup(fr[i].fn);
        st->frames[i].module = fr[i].mod;
        st->frames[i].own = fr[i].own;
        st->frames[i].folded = module_is_folded(fr[i].mod);
    }
    analyze_dedup(r);
    char *t = ru_render_color(r, PG_FMT_TEXT, false);
    tu_assert_in_order(t, (const char *[]){ "... 3 frames in libpoolguard.so, libstdc++.so.6, app",
                                            "#0  parent_task(long) in app", "... 4 frames in app",
                                            "#1  ThreadPool::run() in app",
                                            "... 1 frame in libc.so.6", NULL });
    ck_assert_ptr_null(strstr(t, "std::future<long>::get()"));
    /* The signature is made of the program's own frames. */
    ck_assert_ptr_nonnull(strstr(f[0]->signature, "parent_task(long)>ThreadPool::run()"));
    free(t);
    report_free(r);
}
END_TEST

START_TEST(test_render_python_stacks_come_first)
{
    pg_report *r = ru_load_symbolized("tests/data/python.jsonl");
    size_t n;
    pg_finding **f = report_findings(r, &n);
    ck_assert_uint_eq(f[0]->threads[0].python.nframes, 3);
    ck_assert_str_eq(f[0]->threads[0].python.frames[1].function, "parent_task");
    ck_assert_ptr_nonnull(strstr(f[0]->signature, "|parent_task"));
    ck_assert_ptr_null(strstr(f[0]->signature, "result"));
    const pg_frame *loc = render_finding_location(f[0]);
    ck_assert_str_eq(loc->function, "parent_task"); /* not the standard library's result() */
    char *t = ru_render_color(r, PG_FMT_TEXT, false);
    tu_assert_in_order(t,
                       (const char *[]){ "error: pool_exhaustion in app.py (pid 3100)",
                                         "pool_0 (tid 3102), worker",
                                         "waits 2500 ms on future 0x7f00bb", "    stack:\n",
                                         "... 1 frame in _base.py", "#0  parent_task at app.py:12",
                                         "... 2 native frames in python3.11", NULL });
    ck_assert_ptr_null(strstr(t, "/nonexistent/python3.11+0x1000"));
    free(t);
    /* --native shows the interpreter's frames. */
    render_opts native = { .format = PG_FMT_TEXT, .min_severity = PG_SEV_WARNING, .native = true };
    char *nt = NULL;
    size_t nlen = 0;
    FILE *m = open_memstream(&nt, &nlen);
    ck_assert_int_eq(render(r, &native, m), 0);
    fclose(m);
    tu_assert_in_order(nt,
                       (const char *[]){ "    stack:\n", "#0  parent_task at app.py:12",
                                         "native stack:", "/nonexistent/python3.11+0x1000", NULL });
    free(nt);
    char *j = ru_render_color(r, PG_FMT_JSON, false);
    json_t *doc = json_loads(j, 0, NULL);
    json_t *th = json_array_get(json_object_get(json_array_get(json_object_get(doc, "findings"), 0),
                                                "threads"),
                                0);
    json_t *py = json_object_get(th, "python_stack");
    ck_assert_uint_eq(json_array_size(py), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(py, 1), "line")), 12);
    json_decref(doc);
    free(j);
    report_free(r);
}
END_TEST

Suite *render_suite(void)
{
    Suite *s = suite_create("render");
    TCase *tc = tcase_create("text_json");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_render_text_reads_top_down);
    tcase_add_test(tc, test_render_text_colours_only_when_asked);
    tcase_add_test(tc, test_render_text_hides_info_by_default_and_shows_pool);
    tcase_add_test(tc, test_render_text_snapshot_shows_every_thread);
    tcase_add_test(tc, test_render_text_shows_the_program_frames_first);
    tcase_add_test(tc, test_render_python_stacks_come_first);
    tcase_add_test(tc, test_render_json_schema);
    tcase_add_test(tc, test_render_json_includes_snapshots);
    suite_add_tcase(s, tc);
    return s;
}

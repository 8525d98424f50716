/*
 * lock_order findings (locks taken in inconsistent orders, no deadlock this run) in every format,
 * from a hand-made raw report with a two-lock and a three-lock cycle: the headline names the
 * functions, the cycle is drawn as a chain of locks, each edge says who took which lock where;
 * SARIF has one thread flow per edge, DOT the order graph, and the signature is made of the
 * edges' functions. Real programs: check_run_shim.c.
 */
#include <check.h>
#include <jansson.h>

#include "render_util.h"
#include "testlib.h"

static const ru_sym order_syms[] = {
    { 0x55d0c0a0118f, "take_b_while_holding_a", "/src/lo.c", 15 },
    { 0x55d0c0a0119e, "take_b_while_holding_a", "/src/lo.c", 16 },
    { 0x55d0c0a011c3, "first", "/src/lo.c", 34 },
    { 0x55d0c0a011e0, "take_a_while_holding_b", "/src/lo.c", 24 },
    { 0x55d0c0a011ef, "take_a_while_holding_b", "/src/lo.c", 25 },
    { 0x55d0c0a01214, "second", "/src/lo.c", 41 },
    { 0x55d0c0a01300, "ring_step_0", "/src/ring.c", 10 },
    { 0x55d0c0a01310, "ring_step_0", "/src/ring.c", 11 },
    { 0x55d0c0a01320, "ring_step_1", "/src/ring.c", 20 },
    { 0x55d0c0a01330, "ring_step_1", "/src/ring.c", 21 },
    { 0x55d0c0a01340, "ring_step_2", "/src/ring.c", 30 },
    { 0x55d0c0a01350, "ring_step_2", "/src/ring.c", 31 },
    { 0 },
};

START_TEST(test_render_order_text_draws_the_cycle_and_every_edge)
{
    pg_report *r = ru_load("tests/data/lock_order.jsonl", order_syms);
    char *t = ru_render(r, PG_FMT_TEXT);
    tu_assert_in_order(
        t,
        (const char *[]){
            "warning: lock_order in server (pid 5180): 2 locks are taken in opposite orders by 2 "
            "threads "
            "(in take_b_while_holding_a() and take_a_while_holding_b()); a deadlock that did not "
            "happen "
            "this run\n",
            "  the cycle of lock orders:\n", "    lock A: mutex 0x55d0c0a040c0\n",
            "      | then lock B, taken by writer (tid 5182) in take_b_while_holding_a\n",
            "      v\n", "    lock B: mutex 0x55d0c0a04080\n",
            "      | then lock A, taken by thread (tid 5183) in take_a_while_holding_b\n",
            "      v\n", "    lock A  (back to the start)\n",
            "  writer (tid 5182) took lock A, then lock B\n",
            "    took lock A in take_b_while_holding_a at /src/lo.c:15\n",
            "    then took lock B:\n", "... 1 frame in libpoolguard.so",
            "#0  take_b_while_holding_a at /src/lo.c:16", "#1  first at /src/lo.c:34",
            "  thread (tid 5183) took lock B, then lock A\n",
            "    took lock B in take_a_while_holding_b at /src/lo.c:24\n",
            "    then took lock A:\n", "#0  take_a_while_holding_b at /src/lo.c:25",
            "#1  second at /src/lo.c:41",
            /* The three-lock cycle. */
            "3 locks are taken in a circular order by 3 threads (in ring_step_0(), ring_step_1() "
            "and "
            "ring_step_2()); a deadlock that did not happen this run\n",
            "    lock A: mutex 0x55d0c0a04100\n",
            "      | then lock B, taken by ring-0 (tid 5184) in ring_step_0\n",
            "    lock B: write lock 0x55d0c0a04140\n",
            "      | then lock C, taken by ring-1 (tid 5185) in ring_step_1\n",
            "    lock C: mutex 0x55d0c0a04180\n",
            "      | then lock A, taken by ring-2 (tid 5186) in ring_step_2\n",
            "    lock A  (back to the start)\n", "  ring-2 (tid 5186) took lock C, then lock A\n",
            "    took lock C in ring_step_2 at /src/ring.c:30\n",
            "2 findings (0 errors, 2 warnings)", NULL });
    free(t);
    report_free(r);
}
END_TEST

START_TEST(test_render_order_json_has_the_symbolized_edges)
{
    pg_report *r = ru_load("tests/data/lock_order.jsonl", order_syms);
    json_t *doc, *f = ru_first_finding(r, &doc);
    ck_assert_str_eq(json_string_value(json_object_get(f, "kind")), "lock_order");
    ck_assert_str_eq(json_string_value(json_object_get(f, "severity")), "warning");
    ck_assert_uint_eq(json_array_size(json_object_get(f, "threads")), 0);
    json_t *order = json_object_get(f, "order");
    ck_assert_uint_eq(json_array_size(order), 2);
    json_t *e0 = json_array_get(order, 0), *e1 = json_array_get(order, 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(e0, "first"), "address")),
                     "0x55d0c0a040c0");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(e0, "then"), "address")),
                     "0x55d0c0a04080");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(e0, "then"), "kind")),
                     "mutex");
    ck_assert_int_eq(json_integer_value(json_object_get(e0, "tid")), 5182);
    ck_assert_str_eq(json_string_value(json_object_get(e0, "name")), "writer");
    ck_assert(json_is_null(json_object_get(e1, "name")));
    json_t *fa = json_object_get(e0, "first_taken_at");
    ck_assert_str_eq(json_string_value(json_object_get(fa, "function")), "take_b_while_holding_a");
    ck_assert_int_eq(json_integer_value(json_object_get(fa, "line")), 15);
    json_t *st1 = json_object_get(e1, "stack");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(st1, 1), "function")),
                     "take_a_while_holding_b");
    ck_assert(json_is_true(json_object_get(json_array_get(st1, 0), "folded")));
    /* Located where the first edge took its second lock. */
    json_t *loc = json_object_get(f, "location");
    ck_assert_str_eq(json_string_value(json_object_get(loc, "function")), "take_b_while_holding_a");
    ck_assert_int_eq(json_integer_value(json_object_get(loc, "line")), 16);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(f, "signature")),
                                 "take_a_while_holding_b@take_a_while_holding_b>second"));
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(f, "signature")),
                                 "take_b_while_holding_a@take_b_while_holding_a>first"));
    json_decref(doc);
    report_free(r);
}
END_TEST

START_TEST(test_render_order_sarif_has_a_thread_flow_per_edge)
{
    pg_report *r = ru_load("tests/data/lock_order.jsonl", order_syms);
    char *s = ru_render(r, PG_FMT_SARIF);
    json_t *doc = json_loads(s, 0, NULL);
    ck_assert_ptr_nonnull(doc);
    json_t *results = json_object_get(json_array_get(json_object_get(doc, "runs"), 0), "results");
    ck_assert_uint_eq(json_array_size(results), 2);
    json_t *res = json_array_get(results, 0);
    ck_assert_str_eq(json_string_value(json_object_get(res, "ruleId")), "lock_order");
    ck_assert_str_eq(json_string_value(json_object_get(res, "level")), "warning");
    json_t *phys =
        json_object_get(json_array_get(json_object_get(res, "locations"), 0), "physicalLocation");
    ck_assert_str_eq(json_string_value(
                         json_object_get(json_object_get(phys, "artifactLocation"), "uri")),
                     "file:///src/lo.c");
    ck_assert_int_eq(json_integer_value(
                         json_object_get(json_object_get(phys, "region"), "startLine")),
                     16);
    json_t *flows =
        json_object_get(json_array_get(json_object_get(res, "codeFlows"), 0), "threadFlows");
    ck_assert_uint_eq(json_array_size(flows), 2);
    json_t *f1 = json_array_get(flows, 1);
    ck_assert_str_eq(json_string_value(json_object_get(f1, "id")), "edge 2: thread (tid 5183)");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(f1, "message"), "text")),
                     "thread (tid 5183) takes mutex 0x55d0c0a040c0 while holding mutex "
                     "0x55d0c0a04080");
    json_t *locs = json_object_get(f1, "locations");
    /* Where the first lock was taken, then the stack of the second (shim frames folded). */
    const char *names[] = { "take_a_while_holding_b", "take_a_while_holding_b", "second" };
    ck_assert_uint_eq(json_array_size(locs), 3);
    for (size_t i = 0; i < 3; i++) {
        json_t *ll = json_object_get(json_object_get(json_array_get(locs, i), "location"),
                                     "logicalLocations");
        ck_assert_str_eq(json_string_value(
                             json_object_get(json_array_get(ll, 0), "fullyQualifiedName")),
                         names[i]);
    }
    json_t *l0 = json_object_get(json_array_get(locs, 0), "location");
    ck_assert_int_eq(json_integer_value(
                         json_object_get(json_object_get(json_object_get(l0, "physicalLocation"),
                                                         "region"),
                                         "startLine")),
                     24);
    json_decref(doc);
    free(s);
    report_free(r);
}
END_TEST

START_TEST(test_render_order_junit_and_dot)
{
    pg_report *r = ru_load("tests/data/lock_order.jsonl", order_syms);
    char *j = ru_render(r, PG_FMT_JUNIT);
    ck_assert_ptr_nonnull(strstr(j, "tests=\"2\" failures=\"2\""));
    ck_assert_ptr_nonnull(
        strstr(j, "<testcase classname=\"poolguard.lock_order\" name=\"2 locks are taken in "
                  "opposite orders by 2 threads (in take_b_while_holding_a() and "
                  "take_a_while_holding_b()); a deadlock that did not happen this run (server, pid "
                  "5180)\">"));
    ck_assert_ptr_nonnull(strstr(j, "took lock A in take_b_while_holding_a at /src/lo.c:15"));
    free(j);
    char *d = ru_render(r, PG_FMT_DOT);
    tu_assert_in_order(d, (const char *[]){ "subgraph cluster_0", "l0_55d0c0a040c0 [shape=ellipse",
                                            "label=\"mutex\\n0x55d0c0a040c0\"",
                                            "l0_55d0c0a040c0 -> l0_55d0c0a04080 [label=\"writer "
                                            "(tid 5182)\\ntake_b_while_holding_a\", color=red",
                                            "l0_55d0c0a04080 -> l0_55d0c0a040c0 [label=\"thread "
                                            "(tid 5183)\\ntake_a_while_holding_b\", color=red",
                                            "subgraph cluster_1",
                                            "l1_55d0c0a04140 -> l1_55d0c0a04180 [label=\"ring-1 "
                                            "(tid 5185)\\nring_step_1\"",
                                            NULL });
    free(d);
    report_free(r);
}
END_TEST

START_TEST(test_render_order_suppressed_by_an_edge_function)
{
    pg_report *r = ru_load("tests/data/lock_order.jsonl", order_syms);
    size_t n;
    pg_finding **f = report_findings(r, &n);
    suppressions *s = ru_suppressions("lock_order:take_a_while_*\n");
    ck_assert(suppressions_match(s, f[0]));
    ck_assert(!suppressions_match(s, f[1]));
    suppressions_free(s);
    report_free(r);
}
END_TEST

START_TEST(test_render_order_same_cycle_from_two_runs_is_one_finding)
{
    /* The same bug in another process, with another thread id: the same functions, one
     * finding with a count. */
    char *dir = tu_tmpdir();
    char *orig = tu_slurp("tests/data/lock_order.jsonl");
    char *a = tu_replace(orig, "\"pid\":5180", "\"pid\":5190");
    char *b = tu_replace(a, "\"tid\":5182", "\"tid\":6182");
    char p1[4200], p2[4200];
    snprintf(p1, sizeof p1, "%s/poolguard.server.5180.jsonl", dir);
    snprintf(p2, sizeof p2, "%s/poolguard.server.5190.jsonl", dir);
    tu_write(p1, orig);
    tu_write(p2, b);
    pg_report *r = ru_load(dir, order_syms);
    char *t = ru_render(r, PG_FMT_TEXT);
    ck_assert_ptr_nonnull(strstr(t, "seen 2 times, in pid 5180, 5190"));
    ck_assert_ptr_nonnull(strstr(t, "2 findings (0 errors, 2 warnings), 2 repeats folded"));
    free(t);
    report_free(r);
    free(orig);
    free(a);
    free(b);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

Suite *render_order_suite(void)
{
    Suite *s = suite_create("render_order");
    TCase *tc = tcase_create("lock_order");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_render_order_text_draws_the_cycle_and_every_edge);
    tcase_add_test(tc, test_render_order_json_has_the_symbolized_edges);
    tcase_add_test(tc, test_render_order_sarif_has_a_thread_flow_per_edge);
    tcase_add_test(tc, test_render_order_junit_and_dot);
    tcase_add_test(tc, test_render_order_suppressed_by_an_edge_function);
    tcase_add_test(tc, test_render_order_same_cycle_from_two_runs_is_one_finding);
    suite_add_tcase(s, tc);
    return s;
}

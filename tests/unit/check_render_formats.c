/*
 * The machine and graph formats, checked by structure: SARIF read back with jansson, JUnit parsed
 * as XML (python3's parser, a build dependency), DOT's cycle edges, SVG from Graphviz, HTML with
 * the graph inlined and every stack.
 */
#include <check.h>
#include <jansson.h>

#include "render_util.h"
#include "testlib.h"

static size_t count(const char *hay, const char *needle)
{
    size_t k = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        k++;
    return k;
}

/* A real, symbolized report: the symbolizer fixture's output. */
static pg_report *symtest_report(char **dir)
{
    *dir = tu_tmpdir();
    char out[4200];
    snprintf(out, sizeof out, "%s/symtest.jsonl", *dir);
    char *prog = tu_build_path("fixtures/symtest");
    char *argv[] = { prog, NULL };
    ck_assert_int_eq(tu_run(argv, out, NULL, NULL, 20), 0);
    free(prog);
    return ru_load_symbolized(out);
}

START_TEST(test_render_sarif_locates_results_in_own_code)
{
    char *dir;
    pg_report *r = symtest_report(&dir);
    char *t = ru_render(r, PG_FMT_SARIF);
    json_error_t err;
    json_t *doc = json_loads(t, 0, &err);
    ck_assert_msg(doc != NULL, "%s", err.text);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "version")), "2.1.0");
    json_t *run = json_array_get(json_object_get(doc, "runs"), 0);
    ck_assert_str_eq(json_string_value(
                         json_object_get(json_object_get(json_object_get(run, "tool"), "driver"),
                                         "name")),
                     "poolguard");
    json_t *results = json_object_get(run, "results");
    ck_assert_uint_eq(json_array_size(results), 1);
    json_t *res = json_array_get(results, 0);
    ck_assert_str_eq(json_string_value(json_object_get(res, "ruleId")), "deadlock");
    ck_assert_str_eq(json_string_value(json_object_get(res, "level")), "error");
    json_t *phys =
        json_object_get(json_array_get(json_object_get(res, "locations"), 0), "physicalLocation");
    const char *uri =
        json_string_value(json_object_get(json_object_get(phys, "artifactLocation"), "uri"));
    ck_assert_ptr_nonnull(uri);
    ck_assert_ptr_nonnull(strstr(uri, "tests/fixtures/symtest.c"));
    ck_assert_int_gt(json_integer_value(
                         json_object_get(json_object_get(phys, "region"), "startLine")),
                     0);
    json_t *flows =
        json_object_get(json_array_get(json_object_get(res, "codeFlows"), 0), "threadFlows");
    ck_assert_uint_eq(json_array_size(flows), 1);
    json_t *locs = json_object_get(json_array_get(flows, 0), "locations");
    ck_assert_uint_ge(json_array_size(locs), 4);
    ck_assert_ptr_nonnull(
        json_object_get(json_object_get(res, "partialFingerprints"), "poolguardSignature/v1"));
    json_decref(doc);
    free(t);
    report_free(r);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

static void assert_well_formed_xml(const char *text)
{
    char *dir = tu_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/doc.xml", dir);
    tu_write(path, text);
    char *argv[] = { "/usr/bin/python3", "-c",
                     "import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])", path,
                     NULL };
    tu_need_program(argv[0], "python3");
    ck_assert_msg(tu_run(argv, NULL, NULL, NULL, 20) == 0, "not well-formed XML:\n%s", text);
    tu_rmtree(dir);
    free(dir);
}

START_TEST(test_render_junit_one_testcase_per_finding)
{
    pg_report *r = ru_load_symbolized("tests/data/badlines.jsonl");
    char *t = ru_render(r, PG_FMT_JUNIT);
    assert_well_formed_xml(t);
    ck_assert_uint_eq(count(t, "<testcase "), 1);
    ck_assert_uint_eq(count(t, "<failure "), 1);
    ck_assert_ptr_nonnull(strstr(t, "classname=\"poolguard.pool_exhaustion\""));
    free(t);
    report_free(r);
    /* Two different findings: two testcases. */
    r = report_new();
    report_set_diagnostics(r, NULL);
    report_add_path(r, "tests/data/deadlock.jsonl");
    report_add_path(r, "tests/data/truncated.jsonl");
    analyze_dedup(r);
    t = ru_render(r, PG_FMT_JUNIT);
    assert_well_formed_xml(t);
    ck_assert_uint_eq(count(t, "<testcase "), 2);
    ck_assert_uint_eq(count(t, "<failure "), 2);
    free(t);
    report_free(r);
}
END_TEST

START_TEST(test_render_junit_passes_when_nothing_found)
{
    pg_report *r = ru_load_symbolized("tests/data/snapshot.jsonl");
    char *t = ru_render(r, PG_FMT_JUNIT);
    assert_well_formed_xml(t);
    ck_assert_uint_eq(count(t, "<testcase "), 1);
    ck_assert_uint_eq(count(t, "<failure"), 0);
    free(t);
    report_free(r);
}
END_TEST

START_TEST(test_render_dot_highlights_the_cycle)
{
    pg_report *r = ru_load_symbolized("tests/data/deadlock.jsonl");
    char *t = ru_render(r, PG_FMT_DOT);
    ck_assert_ptr_nonnull(strstr(t, "digraph poolguard {"));
    ck_assert_ptr_nonnull(strstr(t, "t0_11 -> o0_55d0c0a04040 [label=\"waits 812 ms\", color=red"));
    ck_assert_ptr_nonnull(strstr(t, "o0_55d0c0a04040 -> t0_12 [label=\"held by\", color=red"));
    ck_assert_ptr_nonnull(strstr(t, "t0_12 -> o0_55d0c0a04080 [label=\"waits 790 ms\", color=red"));
    ck_assert_ptr_nonnull(strstr(t, "o0_55d0c0a04080 -> t0_11 [label=\"held by\", color=red"));
    free(t);
    report_free(r);
}
END_TEST

START_TEST(test_render_svg_and_html_stand_alone)
{
    tu_need_program("/usr/bin/dot", "graphviz");
    pg_report *r = ru_load_symbolized("tests/data/deadlock.jsonl");
    char *svg = ru_render(r, PG_FMT_SVG);
    ck_assert_ptr_nonnull(strstr(svg, "<svg"));
    ck_assert_ptr_nonnull(strstr(svg, "worker&#45;1 (tid 11)")); /* dot escapes "-" */
    ck_assert_ptr_nonnull(strstr(svg, "fill=\"red\">waits 812 ms"));
    free(svg);
    char *html = ru_render(r, PG_FMT_HTML);
    ck_assert_ptr_nonnull(strstr(html, "<!DOCTYPE html>"));
    /* One graph per finding, inline, its thread nodes linked to the thread sections. */
    ck_assert_ptr_nonnull(strstr(html, "<div class=\"viewport\"><svg"));
    ck_assert_ptr_nonnull(strstr(html, "xlink:href=\"#f1-t11\""));
    ck_assert_ptr_nonnull(strstr(html, "<section class=\"thread\" id=\"f1-t11\">"));
    ck_assert_ptr_nonnull(
        strstr(html, "on <b>mutex 0x55d0c0a04040</b>, held by <a href=\"#f1-t12\">"));
    ck_assert_ptr_nonnull(strstr(html, " &mdash; for <b>812 ms</b>"));
    ck_assert_ptr_nonnull(strstr(html, "<code class=\"fn\">app+0x1400</code>"));
    /* Shim and libc frames are folded in <details>. */
    ck_assert_ptr_nonnull(strstr(html, "<details class=\"fold\"><summary>&hellip; "));
    ck_assert_ptr_nonnull(strstr(html, "</summary><ol id=\"f1-t11-fold0\">"));
    /* Self-contained: nothing is loaded from elsewhere. */
    ck_assert_ptr_null(strstr(html, "<script src"));
    ck_assert_ptr_null(strstr(html, "<link"));
    ck_assert_ptr_null(strstr(html, "<?xml"));
    free(html);
    report_free(r);
}
END_TEST

Suite *render_formats_suite(void)
{
    Suite *s = suite_create("render_formats");
    TCase *tc = tcase_create("formats");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_render_sarif_locates_results_in_own_code);
    tcase_add_test(tc, test_render_junit_one_testcase_per_finding);
    tcase_add_test(tc, test_render_junit_passes_when_nothing_found);
    tcase_add_test(tc, test_render_dot_highlights_the_cycle);
    tcase_add_test(tc, test_render_svg_and_html_stand_alone);
    suite_add_tcase(s, tc);
    return s;
}

/*
 * The `poolguard` command line as users meet it: `report`'s exit codes, git-style errors for bad
 * input and options, --output, --fail-on, baselines through the CLI, help texts.
 */
#include <check.h>

#include <jansson.h>

#include "testlib.h"

typedef struct res {
    int code;
    char *out, *err;
} res;

static char *extra_env;

static res pg(const char *const *args)
{
    char *argv[32];
    size_t n = 0;
    argv[n++] = tu_build_path("poolguard");
    for (size_t i = 0; args[i] && n < 30; i++)
        argv[n++] = strdup(args[i]);
    argv[n] = NULL;
    char *env[] = { "NO_COLOR=1", extra_env, NULL };
    res r;
    r.code = tu_run_capture(argv, env, 20, &r.out, &r.err);
    return r;
}

static void res_free(res *r)
{
    free(r->out);
    free(r->err);
}

START_TEST(test_cli_report_exit_66_on_error_findings)
{
    res r = pg((const char *[]){ "report", "tests/data/deadlock.jsonl", NULL });
    ck_assert_int_eq(r.code, 66);
    ck_assert_ptr_nonnull(strstr(r.out, "error: deadlock in app"));
    res_free(&r);
}
END_TEST

/* A directory without reports is a warning, not a crash: no findings, exit 0, and the warning
 * names the directory (under check-asan, the sanitizers watch the empty directory listing too). */
START_TEST(test_cli_report_on_a_directory_without_reports)
{
    char *dir = tu_tmpdir();
    res r = pg((const char *[]){ "report", dir, NULL });
    ck_assert_int_eq(r.code, 0);
    ck_assert_ptr_nonnull(strstr(r.err, "holds no poolguard reports"));
    ck_assert_ptr_nonnull(strstr(r.out, "0 findings"));
    res_free(&r);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_cli_fail_on_levels)
{
    res r =
        pg((const char *[]){ "report", "--fail-on", "none", "tests/data/deadlock.jsonl", NULL });
    ck_assert_int_eq(r.code, 0);
    res_free(&r);
    r = pg((const char *[]){ "report", "tests/data/truncated.jsonl", NULL });
    ck_assert_int_eq(r.code, 0); /* a warning, and a cut-short line: not an error */
    ck_assert_ptr_nonnull(strstr(r.err, "poolguard: warning: "));
    res_free(&r);
    r = pg(
        (const char *[]){ "report", "--fail-on", "warning", "tests/data/truncated.jsonl", NULL });
    ck_assert_int_eq(r.code, 66);
    res_free(&r);
    /* A stall (info) is hidden by default, shown with --fail-on info, and fails nothing. */
    char *dir = tu_tmpdir();
    char stall[4200];
    snprintf(stall, sizeof stall, "%s/stall.jsonl", dir);
    tu_write(stall,
             "{\"type\":\"header\",\"format\":\"poolguard-report\",\"version\":1,\"pid\":3}\n"
             "{\"type\":\"finding\",\"kind\":\"stall\",\"severity\":\"info\",\"summary\":\"slow\"}"
             "\n");
    r = pg((const char *[]){ "report", stall, NULL });
    ck_assert_int_eq(r.code, 0);
    ck_assert_ptr_null(strstr(r.out, "info: stall"));
    res_free(&r);
    r = pg((const char *[]){ "report", "--fail-on", "info", stall, NULL });
    ck_assert_int_eq(r.code, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "info: stall"));
    res_free(&r);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_cli_bad_inputs_exit_125_with_git_style_errors)
{
    static const char *const bad[] = { "tests/data/empty.jsonl", "tests/data/garbage.jsonl",
                                       "tests/data/binary.jsonl", "tests/data/v3.jsonl",
                                       "tests/data/nonexistent.jsonl" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        res r = pg((const char *[]){ "report", bad[i], NULL });
        ck_assert_int_eq(r.code, 125);
        ck_assert_msg(strncmp(r.err, "poolguard: error: ", 18) == 0, "%s: %s", bad[i], r.err);
        res_free(&r);
    }
}
END_TEST

START_TEST(test_cli_bad_input_does_not_hide_good_ones)
{
    res r = pg((const char *[]){ "report", "tests/data/garbage.jsonl", "tests/data/deadlock.jsonl",
                                 NULL });
    ck_assert_int_eq(r.code, 125);
    ck_assert_ptr_nonnull(strstr(r.out, "error: deadlock in app"));
    res_free(&r);
}
END_TEST

START_TEST(test_cli_usage_errors)
{
    const char *const *cases[] = {
        (const char *[]){ NULL },
        (const char *[]){ "frobnicate", NULL },
        (const char *[]){ "report", NULL },
        (const char *[]){ "report", "--format", "pdf", "tests/data/deadlock.jsonl", NULL },
        (const char *[]){ "report", "--color", "sometimes", "tests/data/deadlock.jsonl", NULL },
        (const char *[]){ "report", "--nope", "tests/data/deadlock.jsonl", NULL },
        (const char *[]){ "report", "--suppressions", "tests/data/garbage.jsonl",
                          "tests/data/deadlock.jsonl", NULL },
        (const char *[]){ "report", "--output", "/nonexistent/dir/out.txt",
                          "tests/data/deadlock.jsonl", NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        res r = pg(cases[i]);
        ck_assert_msg(r.code == 125, "case %zu: %d", i, r.code);
        ck_assert_msg(strstr(r.err, "poolguard: error: ") || strstr(r.err, "usage:"),
                      "case %zu: %s", i, r.err);
        res_free(&r);
    }
}
END_TEST

START_TEST(test_cli_output_file_and_json)
{
    char *dir = tu_tmpdir();
    char out[4200];
    snprintf(out, sizeof out, "%s/report.json", dir);
    res r = pg((const char *[]){ "report", "--format", "json", "--output", out,
                                 "tests/data/deadlock.jsonl", NULL });
    ck_assert_int_eq(r.code, 66);
    ck_assert_str_eq(r.out, "");
    char *text = tu_slurp(out);
    json_t *doc = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(doc);
    ck_assert_uint_eq(json_array_size(json_object_get(doc, "findings")), 1);
    json_decref(doc);
    free(text);
    res_free(&r);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_cli_baseline_round_trip)
{
    char *dir = tu_tmpdir();
    char base[4200];
    snprintf(base, sizeof base, "%s/baseline.json", dir);
    res r = pg((const char *[]){ "report", "--write-baseline", base, "tests/data/dir", NULL });
    ck_assert_int_eq(r.code, 66);
    res_free(&r);
    r = pg((const char *[]){ "report", "--baseline", base, "tests/data/dir", NULL });
    ck_assert_int_eq(r.code, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "0 findings"));
    ck_assert_ptr_nonnull(strstr(r.out, "in the baseline"));
    res_free(&r);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_cli_repeats_are_counted)
{
    res r = pg((const char *[]){ "report", "tests/data/dir", NULL });
    ck_assert_int_eq(r.code, 66);
    ck_assert_ptr_nonnull(strstr(r.out, "seen 2 times, in pid 4242, 4343"));
    ck_assert_ptr_nonnull(strstr(r.out, "1 finding (1 error, 0 warnings), 1 repeat folded"));
    res_free(&r);
}
END_TEST

START_TEST(test_cli_help_everywhere)
{
    const char *const *cases[] = {
        (const char *[]){ "--help", NULL },
        (const char *[]){ "report", "--help", NULL },
        (const char *[]){ "run", "--help", NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        res r = pg(cases[i]);
        ck_assert_int_eq(r.code, 0);
        ck_assert_ptr_nonnull(strstr(r.out, "usage: poolguard"));
        ck_assert_ptr_nonnull(strstr(r.out, "125"));
        res_free(&r);
    }
}
END_TEST

START_TEST(test_cli_svg_without_graphviz_is_a_clear_error)
{
    extra_env = "PATH=/nonexistent";
    res r = pg((const char *[]){ "report", "--format", "svg", "tests/data/deadlock.jsonl", NULL });
    extra_env = NULL;
    ck_assert_int_eq(r.code, 125);
    ck_assert_ptr_nonnull(
        strstr(r.err, "poolguard: error: cannot render SVG: Graphviz 'dot' was not found"));
    res_free(&r);
}
END_TEST

START_TEST(test_cli_svg_file_beside_the_text_report)
{
    tu_need_program("/usr/bin/dot", "graphviz");
    char *dir = tu_tmpdir();
    char svg[4200];
    snprintf(svg, sizeof svg, "%s/graph.svg", dir);
    res r = pg((const char *[]){ "report", "--svg", svg, "tests/data/deadlock.jsonl", NULL });
    ck_assert_int_eq(r.code, 66);
    ck_assert_ptr_nonnull(strstr(r.out, "error: deadlock in app"));
    char *text = tu_slurp(svg);
    ck_assert_ptr_nonnull(strstr(text, "<svg"));
    free(text);
    res_free(&r);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_cli_colour_only_on_request_or_terminal)
{
    /* stdout is a file here: no colour by default, even without NO_COLOR... */
    extra_env = "NO_COLOR=";
    res r = pg((const char *[]){ "report", "tests/data/deadlock.jsonl", NULL });
    ck_assert_ptr_null(strchr(r.out, '\033'));
    res_free(&r);
    /* ...and colour when asked for. */
    r = pg((const char *[]){ "report", "--color", "always", "tests/data/deadlock.jsonl", NULL });
    extra_env = NULL;
    ck_assert_ptr_nonnull(strchr(r.out, '\033'));
    res_free(&r);
}
END_TEST

START_TEST(test_cli_endless_input_is_rejected_quickly)
{
    /* No newline, ever: must be rejected after the first capped line, not read forever. */
    res r = pg((const char *[]){ "report", "/dev/zero", NULL });
    ck_assert_int_eq(r.code, 125);
    ck_assert_ptr_nonnull(
        strstr(r.err, "poolguard: error: /dev/zero: not a poolguard report (binary data)"));
    res_free(&r);
    r = pg((const char *[]){ "report", "/dev/urandom", NULL });
    ck_assert_int_eq(r.code, 125);
    res_free(&r);
}
END_TEST

Suite *cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("report");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_cli_report_exit_66_on_error_findings);
    tcase_add_test(tc, test_cli_fail_on_levels);
    tcase_add_test(tc, test_cli_report_on_a_directory_without_reports);
    tcase_add_test(tc, test_cli_bad_inputs_exit_125_with_git_style_errors);
    tcase_add_test(tc, test_cli_bad_input_does_not_hide_good_ones);
    tcase_add_test(tc, test_cli_usage_errors);
    tcase_add_test(tc, test_cli_output_file_and_json);
    tcase_add_test(tc, test_cli_baseline_round_trip);
    tcase_add_test(tc, test_cli_repeats_are_counted);
    tcase_add_test(tc, test_cli_help_everywhere);
    tcase_add_test(tc, test_cli_endless_input_is_rejected_quickly);
    tcase_add_test(tc, test_cli_colour_only_on_request_or_terminal);
    tcase_add_test(tc, test_cli_svg_without_graphviz_is_a_clear_error);
    tcase_add_test(tc, test_cli_svg_file_beside_the_text_report);
    suite_add_tcase(s, tc);
    return s;
}

/*
 * Noise control: the same finding from several processes shown once with a count, suppressions
 * and baselines. Uses two real runs of the symbolizer fixture (same code, different pids and
 * load addresses), so signatures are tested on what changes between runs.
 */
#include <check.h>

#include "render_util.h"
#include "testlib.h"

static char *dir;

static void setup(void)
{
    dir = tu_tmpdir();
    char *prog = tu_build_path("fixtures/symtest");
    for (int i = 0; i < 2; i++) {
        char out[4200];
        snprintf(out, sizeof out, "%s/run%d.jsonl", dir, i);
        char *argv[] = { prog, NULL };
        ck_assert_int_eq(tu_run(argv, out, NULL, NULL, 20), 0);
    }
    free(prog);
}

static void teardown(void)
{
    tu_rmtree(dir);
    free(dir);
}

static size_t shown(pg_report *r, pg_finding **first)
{
    size_t n, k = 0;
    pg_finding **f = report_findings(r, &n);
    for (size_t i = 0; i < n; i++)
        if (pg_finding_shown(f[i])) {
            if (k++ == 0 && first)
                *first = f[i];
        }
    return k;
}

START_TEST(test_noise_same_finding_in_two_processes_is_shown_once)
{
    pg_report *r = ru_load_symbolized(dir);
    size_t n;
    pg_finding **f = report_findings(r, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_ne(f[0]->proc->pid, f[1]->proc->pid);
    pg_finding *first = NULL;
    ck_assert_uint_eq(shown(r, &first), 1);
    ck_assert_uint_eq(first->count, 2);
    ck_assert_uint_eq(first->npids, 2);
    ck_assert_str_eq(f[0]->signature, f[1]->signature);
    ck_assert_ptr_nonnull(strstr(first->signature, "deadlock|"));
    ck_assert_ptr_nonnull(strstr(first->signature, "symtest_plain"));
    report_free(r);
}
END_TEST

START_TEST(test_noise_different_kinds_are_not_folded)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/run1.jsonl", dir);
    char *text = tu_slurp(path);
    char *changed = tu_replace(text, "\"kind\":\"deadlock\"", "\"kind\":\"lock_order\"");
    tu_write(path, changed);
    pg_report *r = ru_load_symbolized(dir);
    ck_assert_uint_eq(shown(r, NULL), 2);
    report_free(r);
    free(text);
    free(changed);
}
END_TEST

static suppressions *supp(const char *rules, int *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/supp.txt", dir);
    tu_write(path, rules);
    return suppressions_load(path, NULL, err);
}

START_TEST(test_noise_suppression_by_function_glob)
{
    int err;
    suppressions *s = supp("# known\n\ndeadlock:pgtest::lib_*\n", &err);
    ck_assert_ptr_nonnull(s);
    pg_report *r = ru_load_symbolized(dir);
    ck_assert_uint_eq(suppressions_apply(s, r), 2);
    ck_assert_uint_eq(shown(r, NULL), 0);
    suppressions_free(s);
    report_free(r);
}
END_TEST

START_TEST(test_noise_suppression_needs_matching_kind_and_function)
{
    int err;
    suppressions *s = supp("lock_order:pgtest::*\ndeadlock:no_such_function\n", &err);
    ck_assert_ptr_nonnull(s);
    pg_report *r = ru_load_symbolized(dir);
    ck_assert_uint_eq(suppressions_apply(s, r), 0);
    ck_assert_uint_eq(shown(r, NULL), 1);
    suppressions_free(s);
    report_free(r);
}
END_TEST

START_TEST(test_noise_suppression_by_module_and_any_kind)
{
    int err;
    suppressions *s = supp("module:libsymlib*\n", &err);
    pg_report *r = ru_load_symbolized(dir);
    ck_assert_uint_eq(suppressions_apply(s, r), 2);
    suppressions_free(s);
    s = supp("*:symtest_outer\n", &err);
    ck_assert_uint_eq(suppressions_apply(s, r), 2);
    suppressions_free(s);
    report_free(r);
}
END_TEST

START_TEST(test_noise_bad_suppression_file_is_rejected)
{
    int err;
    ck_assert_ptr_null(supp("deadlock pgtest\n", &err));
    ck_assert_int_eq(err, -EINVAL);
    ck_assert_ptr_null(supp("deadlocks:foo\n", &err));
    ck_assert_int_eq(err, -EINVAL);
    ck_assert_ptr_null(supp("deadlock:\n", &err));
    ck_assert_int_eq(err, -EINVAL);
    ck_assert_ptr_null(suppressions_load("/nonexistent/supp", NULL, &err));
    ck_assert_int_eq(err, -ENOENT);
}
END_TEST

START_TEST(test_noise_baseline_hides_known_findings_of_another_run)
{
    char one[4200], two[4200], base[4200];
    snprintf(one, sizeof one, "%s/run0.jsonl", dir);
    snprintf(two, sizeof two, "%s/run1.jsonl", dir);
    snprintf(base, sizeof base, "%s/baseline.json", dir);
    pg_report *r1 = ru_load_symbolized(one);
    ck_assert_int_eq(baseline_write(r1, base), 0);
    report_free(r1);
    int err;
    baseline *b = baseline_load(base, NULL, &err);
    ck_assert_ptr_nonnull(b);
    pg_report *r2 = ru_load_symbolized(two);
    ck_assert_uint_eq(baseline_apply(b, r2), 1);
    ck_assert_uint_eq(shown(r2, NULL), 0);
    report_free(r2);
    /* A different finding is new. */
    pg_report *r3 = ru_load_symbolized("tests/data/deadlock.jsonl");
    ck_assert_uint_eq(baseline_apply(b, r3), 0);
    ck_assert_uint_eq(shown(r3, NULL), 1);
    report_free(r3);
    baseline_free(b);
}
END_TEST

START_TEST(test_noise_bad_baseline_is_rejected)
{
    int err;
    ck_assert_ptr_null(baseline_load("tests/data/deadlock.jsonl", NULL, &err));
    ck_assert_int_eq(err, -EINVAL);
    ck_assert_ptr_null(baseline_load("/nonexistent/baseline.json", NULL, &err));
    ck_assert_int_eq(err, -ENOENT);
}
END_TEST

Suite *report_noise_suite(void)
{
    Suite *s = suite_create("report_noise");
    TCase *tc = tcase_create("noise");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_noise_same_finding_in_two_processes_is_shown_once);
    tcase_add_test(tc, test_noise_different_kinds_are_not_folded);
    tcase_add_test(tc, test_noise_suppression_by_function_glob);
    tcase_add_test(tc, test_noise_suppression_needs_matching_kind_and_function);
    tcase_add_test(tc, test_noise_suppression_by_module_and_any_kind);
    tcase_add_test(tc, test_noise_bad_suppression_file_is_rejected);
    tcase_add_test(tc, test_noise_baseline_hides_known_findings_of_another_run);
    tcase_add_test(tc, test_noise_bad_baseline_is_rejected);
    suite_add_tcase(s, tc);
    return s;
}

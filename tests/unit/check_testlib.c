/*
 * The test helper library's own checks (tests/lib/testlib*.c): the helpers that decide what other
 * tests see (symbol names, "poolguard:" lines, half-written reports, raw stacks, a child's
 * environment and exit status) must themselves be right. Nothing runs under the shim here.
 */
#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testlib.h"

START_TEST(test_names_function_accepts_c_cxx_and_clone_names)
{
    ck_assert(e2e_names_function("thread_a", "thread_a"));
    ck_assert(e2e_names_function("waits_on_future(std::future<int>&)", "waits_on_future"));
    ck_assert(e2e_names_function("lock_second.isra.0", "lock_second"));
    ck_assert(!e2e_names_function("thread_ab", "thread_a"));
    ck_assert(!e2e_names_function(NULL, "thread_a"));
}
END_TEST

START_TEST(test_poolguard_line_must_start_the_line)
{
    ck_assert(
        e2e_has_poolguard_line("x\npoolguard: warning: POOLGUARD_INTERVAL_MS bad\n", "INTERVAL"));
    ck_assert(!e2e_has_poolguard_line("x poolguard: POOLGUARD_INTERVAL_MS\n", "INTERVAL"));
    ck_assert(!e2e_has_poolguard_line("poolguard: other\nPOOLGUARD_INTERVAL_MS\n", "INTERVAL"));
    ck_assert(e2e_has_poolguard_line("poolguard: deadlock", ""));
}
END_TEST

START_TEST(test_reports_load_ignores_a_line_still_being_written)
{
    struct e2e_run r;
    e2e_run_init(&r, "util");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/poolguard.x.1.jsonl", r.reports);
    FILE *f = fopen(path, "w");
    ck_assert(f != NULL);
    fputs("{\"type\":\"header\",\"version\":1}\n"
          "{\"type\":\"module\",\"path\":\"/"
          "x\",\"base\":\"0x1000\",\"start\":\"0x1000\",\"end\":\"0x2000\"}\n"
          "{\"type\":\"finding\",\"kind\":\"deadlock\"}\n"
          "{\"type\":\"finding\",\"ki",
          f);
    fclose(f);
    struct e2e_reports rs;
    e2e_reports_load(&rs, r.reports);
    ck_assert_int_eq(rs.n, 1);
    ck_assert(rs.r[0].first_is_header);
    ck_assert_int_eq(rs.r[0].bad_lines, 0);
    ck_assert_uint_eq(json_array_size(rs.r[0].modules), 1);
    ck_assert_uint_eq(e2e_reports_count_findings(&rs), 1);
    e2e_reports_free(&rs);
    tu_rmtree_unchecked(r.work); /* a minimal report, not in the format on purpose */
}
END_TEST

START_TEST(test_raw_stack_symbolized_at_return_address_minus_one)
{
    struct e2e_sym syms[] = { { 0x100, 0x20, "caller" }, { 0x120, 0x10, "next" } };
    struct e2e_symtab st = { syms, 2 };
    json_t *modules = json_pack("[{s:s, s:s, s:s, s:s}]", "path", "/bin/prog", "base", "0x5000",
                                "start", "0x5000", "end", "0x6000");
    /* 0x5120 returns into the end of "caller" (a call as its last instruction), not into "next". */
    json_t *stack = json_pack("[s, s, s]", "0x5120", "0x5125", "0x9999");
    json_t *names = e2e_raw_stack_functions(modules, stack, "prog", &st);
    ck_assert_uint_eq(json_array_size(names), 2);
    ck_assert_str_eq(json_string_value(json_array_get(names, 0)), "caller");
    ck_assert_str_eq(json_string_value(json_array_get(names, 1)), "next");
    json_decref(names);
    json_decref(stack);
    json_decref(modules);
}
END_TEST

/* A child sees the test's environment without the caller's POOLGUARD_* and LD_PRELOAD, and the
 * variables a test passes replace the test's own. */
START_TEST(test_run_child_environment_is_ours_cleaned_and_overridden)
{
    setenv("POOLGUARD_INTERVAL_MS", "7", 1);
    setenv("PGTEST_KEPT", "yes", 1);
    setenv("PGTEST_REPLACED", "old", 1);
    char *argv[] = { strdup("/usr/bin/env"), NULL };
    char *env[] = { "PGTEST_REPLACED=new", NULL };
    char *out, *err;
    ck_assert_int_eq(tu_run_capture(argv, env, 20, &out, &err), 0);
    ck_assert_msg(strstr(out, "\nPGTEST_KEPT=yes\n") || tu_starts_with(out, "PGTEST_KEPT=yes\n"),
                  "%s", out);
    ck_assert_msg(strstr(out, "PGTEST_REPLACED=new\n") && !strstr(out, "PGTEST_REPLACED=old"), "%s",
                  out);
    ck_assert_msg(!strstr(out, "POOLGUARD_INTERVAL_MS"), "%s", out);
    unsetenv("POOLGUARD_INTERVAL_MS");
    unsetenv("PGTEST_KEPT");
    unsetenv("PGTEST_REPLACED");
    free(out);
    free(err);
}
END_TEST

START_TEST(test_run_reports_exit_status_and_signal)
{
    char *argv[] = { "/bin/sh", "-c", "exit 3", NULL };
    ck_assert_int_eq(tu_run(argv, NULL, NULL, NULL, 20), 3);
    char *argv2[] = { "/bin/sh", "-c", "kill -TERM $$", NULL };
    ck_assert_int_eq(tu_run(argv2, NULL, NULL, NULL, 20), 128 + 15);
}
END_TEST

START_TEST(test_rmtree_removes_nested_directories)
{
    char *dir = tu_tmpdir();
    char sub[PATH_MAX], file[PATH_MAX];
    snprintf(sub, sizeof sub, "%s/a", dir);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    snprintf(file, sizeof file, "%s/a/f", dir);
    tu_write(file, "x");
    tu_rmtree(dir);
    ck_assert_int_ne(access(dir, F_OK), 0);
    free(dir);
}
END_TEST

Suite *testlib_suite(void)
{
    Suite *s = suite_create("testlib");
    TCase *tc = tcase_create("helpers");
    tcase_add_test(tc, test_names_function_accepts_c_cxx_and_clone_names);
    tcase_add_test(tc, test_poolguard_line_must_start_the_line);
    tcase_add_test(tc, test_reports_load_ignores_a_line_still_being_written);
    tcase_add_test(tc, test_raw_stack_symbolized_at_return_address_minus_one);
    tcase_add_test(tc, test_run_child_environment_is_ours_cleaned_and_overridden);
    tcase_add_test(tc, test_run_reports_exit_status_and_signal);
    tcase_add_test(tc, test_rmtree_removes_nested_directories);
    suite_add_tcase(s, tc);
    return s;
}

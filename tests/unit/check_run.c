/*
 * `poolguard run` as a CI gate, end to end through the real binary: the fake program plays the
 * shim (it writes report lines into $POOLGUARD_DIR itself), so these tests pin down the gate's
 * side of the contract: environment, stopping on findings, time-outs, exit codes, directories.
 * Every child runs under a time limit (tu_run).
 */
#include <check.h>
#include <dirent.h>
#include <jansson.h>

#include "testlib.h"

typedef struct runres {
    int code;
    char *out, *err;
} runres;

/* A preload the program is started with ("LD_PRELOAD=..."), or NULL: the tests' children start
 * without the test's own (tu_run). */
static char *preload_env;

/* Runs build/poolguard with args; POOLGUARD_SHIM points at a harmless library. */
static runres run_pg(const char *const *args, int timeout_s)
{
    char *argv[32];
    size_t n = 0;
    argv[n++] = tu_build_path("poolguard");
    for (size_t i = 0; args[i] && n < 30; i++) {
        if (strcmp(args[i], "FAKEAPP") == 0)
            argv[n++] = tu_build_path("fixtures/fakeapp");
        else
            argv[n++] = strdup(args[i]);
    }
    argv[n] = NULL;
    static char shim_env[8300];
    char *shim = tu_build_path("fixtures/libsymlib.so");
    snprintf(shim_env, sizeof shim_env, "POOLGUARD_SHIM=%s", shim);
    free(shim);
    char *env[] = { shim_env, "NO_COLOR=1", preload_env, NULL };
    runres r;
    r.code = tu_run_capture(argv, env, timeout_s, &r.out, &r.err);
    return r;
}

static void runres_free(runres *r)
{
    free(r->out);
    free(r->err);
}

START_TEST(test_run_passes_the_program_exit_status_through)
{
    runres r = run_pg((const char *[]){ "run", "--", "FAKEAPP", "exit", "3", NULL }, 20);
    ck_assert_int_eq(r.code, 3);
    runres_free(&r);
    r = run_pg((const char *[]){ "run", "--", "FAKEAPP", "exit", "0", NULL }, 20);
    ck_assert_int_eq(r.code, 0);
    runres_free(&r);
}
END_TEST

START_TEST(test_run_reports_death_by_signal_as_128_plus_signal)
{
    runres r = run_pg((const char *[]){ "run", "--", "FAKEAPP", "signal", NULL }, 20);
    ck_assert_int_eq(r.code, 128 + 15);
    runres_free(&r);
}
END_TEST

START_TEST(test_run_sets_preload_and_a_private_dir)
{
    runres r = run_pg((const char *[]){ "run", "--", "FAKEAPP", "env", NULL }, 20);
    ck_assert_int_eq(r.code, 0);
    ck_assert_msg(strstr(r.out, "LD_PRELOAD=/") && strstr(r.out, "fixtures/libsymlib.so\n"), "%s",
                  r.out);
    const char *d = strstr(r.out, "POOLGUARD_DIR=");
    ck_assert_ptr_nonnull(d);
    char dir[4096];
    sscanf(d + strlen("POOLGUARD_DIR="), "%4095s", dir);
    ck_assert_int_eq(dir[0], '/');
    /* Without --keep or --dir the directory is gone afterwards. */
    ck_assert_int_ne(access(dir, F_OK), 0);
    runres_free(&r);
}
END_TEST

START_TEST(test_run_prepends_the_shim_to_an_existing_preload)
{
    /* A real library, so that nothing else this test runs complains about the preload. */
    char *existing = tu_build_path("fixtures/libsymlib-nodebug.so");
    char var[8300];
    snprintf(var, sizeof var, "LD_PRELOAD=%s", existing);
    preload_env = var;
    runres r = run_pg((const char *[]){ "run", "--", "FAKEAPP", "env", NULL }, 20);
    preload_env = NULL;
    char want[8300];
    snprintf(want, sizeof want, "libsymlib.so:%s\n", existing);
    ck_assert_msg(strstr(r.out, want) != NULL, "%s", r.out);
    free(existing);
    runres_free(&r);
}
END_TEST

START_TEST(test_run_stops_the_program_at_a_deadlock_finding)
{
    /* fakeapp would sleep 30 s after writing the finding; the limit here is 10 s. */
    runres r = run_pg((const char *[]){ "run", "--", "FAKEAPP", "finding", NULL }, 10);
    ck_assert_int_eq(r.code, 66);
    ck_assert_msg(strstr(r.err, "error: deadlock in fakeapp") != NULL, "%s", r.err);
    ck_assert(strstr(r.err, "worker-1 (tid 11)") != NULL);
    ck_assert(strstr(r.err, "stopped the program") != NULL);
    /* The report goes to stderr; the program's stdout stays its own. */
    ck_assert_str_eq(r.out, "");
    runres_free(&r);
}
END_TEST

START_TEST(test_run_follows_forked_children)
{
    runres r = run_pg((const char *[]){ "run", "--", "FAKEAPP", "child-finding", NULL }, 10);
    ck_assert_int_eq(r.code, 66);
    ck_assert(strstr(r.err, "error: deadlock") != NULL);
    runres_free(&r);
}
END_TEST

START_TEST(test_run_warning_findings_fail_only_with_fail_on_warning)
{
    runres r = run_pg((const char *[]){ "run", "--timeout", "0.3", "--", "FAKEAPP", "finding",
                                        "warning", NULL },
                      10);
    ck_assert_int_eq(r.code, 124);
    runres_free(&r);
    r = run_pg((const char *[]){ "run", "--fail-on", "warning", "--timeout", "0.3", "--", "FAKEAPP",
                                 "finding", "warning", NULL },
               10);
    ck_assert_int_eq(r.code, 66);
    runres_free(&r);
}
END_TEST

START_TEST(test_run_timeout_shows_a_snapshot_and_exits_124)
{
    runres r =
        run_pg((const char *[]){ "run", "--timeout", "0.3", "--", "FAKEAPP", "hang", NULL }, 10);
    ck_assert_int_eq(r.code, 124);
    ck_assert_msg(strstr(r.err, "time-out snapshot of fakeapp") != NULL, "%s", r.err);
    ck_assert(strstr(r.err, "waits 900 ms on condition variable 0x3000") != NULL);
    ck_assert(strstr(r.err, "spinner") != NULL);
    runres_free(&r);
}
END_TEST

START_TEST(test_run_timeout_without_answer_still_stops)
{
    runres r =
        run_pg((const char *[]){ "run", "--timeout", "0.2", "--", "FAKEAPP", "deaf", NULL }, 10);
    ck_assert_int_eq(r.code, 124);
    /* The snapshot comes from attach instead; where ptrace is refused, there is none. */
    ck_assert_msg(strstr(r.err, "process ") && strstr(r.err, "did not answer the snapshot request"),
                  "%s", r.err);
    ck_assert_msg(strstr(r.err, "snapshot of fakeapp") || strstr(r.err, "no process answered"),
                  "%s", r.err);
    runres_free(&r);
}
END_TEST

START_TEST(test_run_keeps_reports_in_dir)
{
    char *dir = tu_tmpdir();
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/reports", dir);
    runres r = run_pg((const char *[]){ "run", "--dir", sub, "--format", "json", "--output", "-",
                                        "--", "FAKEAPP", "finding", NULL },
                      10);
    ck_assert_int_eq(r.code, 66);
    json_t *doc = json_loads(r.out, 0, NULL);
    ck_assert_ptr_nonnull(doc);
    ck_assert_str_eq(json_string_value(
                         json_object_get(json_array_get(json_object_get(doc, "findings"), 0),
                                         "kind")),
                     "deadlock");
    json_decref(doc);
    ck_assert(strstr(r.err, "raw reports kept in") != NULL);
    DIR *d = opendir(sub);
    ck_assert_ptr_nonnull(d);
    int files = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        files += strstr(de->d_name, ".jsonl") != NULL;
    closedir(d);
    ck_assert_int_eq(files, 1);
    runres_free(&r);
    /* The same directory again: its old reports would stop the new run at once. */
    r = run_pg((const char *[]){ "run", "--dir", sub, "--", "FAKEAPP", "exit", "0", NULL }, 10);
    ck_assert_int_eq(r.code, 125);
    ck_assert_ptr_nonnull(strstr(r.err, "already holds poolguard reports"));
    runres_free(&r);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_run_exec_failures_use_126_and_127)
{
    runres r = run_pg((const char *[]){ "run", "--", "/nonexistent/program", NULL }, 10);
    ck_assert_int_eq(r.code, 127);
    ck_assert(strstr(r.err, "poolguard: error: cannot run") != NULL);
    runres_free(&r);
    /* A file that exists but is not executable. */
    char *data = realpath("tests/data/deadlock.jsonl", NULL);
    ck_assert_ptr_nonnull(data);
    r = run_pg((const char *[]){ "run", "--", data, NULL }, 10);
    free(data);
    ck_assert_int_eq(r.code, 126);
    runres_free(&r);
}
END_TEST

START_TEST(test_run_usage_errors_exit_125)
{
    const char *const *cases[] = {
        (const char *[]){ "run", NULL },
        (const char *[]){ "run", "--bogus", "--", "FAKEAPP", NULL },
        (const char *[]){ "run", "--timeout", "soon", "--", "FAKEAPP", NULL },
        (const char *[]){ "run", "--format", "pdf", "--", "FAKEAPP", NULL },
        (const char *[]){ "run", "--fail-on", "sometimes", "--", "FAKEAPP", NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        runres r = run_pg(cases[i], 10);
        ck_assert_int_eq(r.code, 125);
        ck_assert_msg(strncmp(r.err, "poolguard: error: ", 18) == 0, "%s", r.err);
        runres_free(&r);
    }
}
END_TEST

START_TEST(test_run_help_documents_exit_codes)
{
    runres r = run_pg((const char *[]){ "run", "--help", NULL }, 10);
    ck_assert_int_eq(r.code, 0);
    ck_assert(strstr(r.out, "usage: poolguard run") != NULL);
    ck_assert(strstr(r.out, "66") && strstr(r.out, "124") && strstr(r.out, "125"));
    runres_free(&r);
}
END_TEST

Suite *run_suite(void)
{
    Suite *s = suite_create("run");
    TCase *tc = tcase_create("gate");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_run_passes_the_program_exit_status_through);
    tcase_add_test(tc, test_run_reports_death_by_signal_as_128_plus_signal);
    tcase_add_test(tc, test_run_sets_preload_and_a_private_dir);
    tcase_add_test(tc, test_run_prepends_the_shim_to_an_existing_preload);
    tcase_add_test(tc, test_run_stops_the_program_at_a_deadlock_finding);
    tcase_add_test(tc, test_run_follows_forked_children);
    tcase_add_test(tc, test_run_warning_findings_fail_only_with_fail_on_warning);
    tcase_add_test(tc, test_run_timeout_shows_a_snapshot_and_exits_124);
    tcase_add_test(tc, test_run_timeout_without_answer_still_stops);
    tcase_add_test(tc, test_run_keeps_reports_in_dir);
    tcase_add_test(tc, test_run_exec_failures_use_126_and_127);
    tcase_add_test(tc, test_run_usage_errors_exit_125);
    tcase_add_test(tc, test_run_help_documents_exit_codes);
    suite_add_tcase(s, tc);
    return s;
}

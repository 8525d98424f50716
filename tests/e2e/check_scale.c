/*
 * The shim at scale and over time: thousands of live threads, 100k thread lifetimes, millions of
 * mutexes, a full thread table, a bounded soak of random workloads, and the corpus of healthy
 * programs (every tests/progs/ok_* program no other suite names). Each runs with and without the
 * shim: the same output and status, no finding, and memory compared as peak RSS (VmHWM, printed by
 * the program on stderr) against the budget of docs/performance.md: 8 MiB + 4 KiB per live thread.
 *
 * Programs are in tests/progs (ok_rel_*.c). Every program runs under a hard time limit and is
 * killed (its whole process group) and reaped before any assertion may end a test. The helpers
 * are shared with the reliability and security suites (reliability_util.h).
 *
 * POOLGUARD_SOAK_SECONDS sets the soak's length (default 8 s, for `make check`).
 */
#include "reliability_util.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------------------------------------ */
/* Scale and churn                                                                            */

START_TEST(test_2000_live_threads_same_output_and_memory_within_budget)
{
    static const char *const args[] = { "2000", NULL };
    struct pair p;
    run_pair(&p, "ok_rel_threads", args, true, NULL, NULL, RUN_MS);
    assert_pair_healthy(&p, "ok_rel_threads", 0);
    assert_memory_budget(&p, "ok_rel_threads 2000", 2001);
    ck_assert_msg(count_poolguard_lines(p.serr) == 0, "unexpected poolguard: lines: %.500s",
                  p.serr);
    pair_free(&p);
}
END_TEST

START_TEST(test_100k_thread_lifetimes_same_output_and_bounded_memory)
{
    /* 100k lifetimes under the shim; the native baseline for memory needs only 10k. */
    static const char *const args[] = { "100000", NULL }, *const nargs[] = { "10000", NULL };
    struct pair p;
    run_pair(&p, "ok_rel_churn", args, true, nargs, NULL, RUN_MS);
    ck_assert_msg(strcmp(p.nout, "ok_rel_churn: 10000 threads, total 5000\n") == 0,
                  "native run printed: %s", p.nout);
    ck_assert_msg(strcmp(p.sout, "ok_rel_churn: 100000 threads, total 50000\n") == 0,
                  "under the shim it printed: %s (stderr: %.300s)", p.sout, p.serr);
    free(p.nout);
    p.nout = NULL; /* outputs differ by design: compare status and findings only */
    assert_pair_healthy(&p, "ok_rel_churn", 0);
    assert_memory_budget(&p, "ok_rel_churn", 9);
    pair_free(&p);
}
END_TEST

START_TEST(test_millions_of_mutexes_reused_after_free_give_no_finding_and_bounded_memory)
{
    struct pair p;
    run_pair(&p, "ok_rel_mutex_churn", NULL, true, NULL, NULL, RUN_MS);
    assert_pair_healthy(&p, "ok_rel_mutex_churn", 0);
    assert_memory_budget(&p, "ok_rel_mutex_churn", 3);
    pair_free(&p);
}
END_TEST

START_TEST(test_full_thread_table_warns_once_and_program_runs_normally)
{
    static const char *const args[] = { "64", NULL };
    static const char *const env[] = { "POOLGUARD_MAX_THREADS=16", NULL };
    struct pair p;
    run_pair(&p, "ok_rel_threads", args, true, NULL, env, RUN_MS);
    assert_pair_healthy(&p, "ok_rel_threads", 0);
    ck_assert_msg(
        count_poolguard_lines(p.serr) == 1 && e2e_has_poolguard_line(p.serr, "table is full"),
        "expected exactly one poolguard: line, about the full thread table; stderr: %.800s",
        p.serr);
    pair_free(&p);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Soak                                                                                       */

static long soak_seconds(void)
{
    const char *s = getenv("POOLGUARD_SOAK_SECONDS");
    long v = s ? atol(s) : 0;
    return v > 0 ? v : 8;
}

START_TEST(test_soak_of_random_workloads_no_crash_no_finding_no_memory_growth)
{
    long secs = soak_seconds();
    char arg[32];
    snprintf(arg, sizeof arg, "%ld", secs);
    const char *const args[] = { arg, NULL };
    struct pair p;
    run_pair(&p, "ok_rel_soak", args, false, NULL, NULL, secs * 1000 + RUN_MS);
    assert_pair_healthy(&p, "ok_rel_soak", 0);
    ck_assert_str_eq(p.sout, "ok_rel_soak: ok\n");
    ck_assert_msg(count_poolguard_lines(p.serr) == 0, "poolguard: lines during the soak: %.800s",
                  p.serr);

    /* RSS samples: after the first quarter (warm-up), growth must stay under 2 MiB. */
    long t[4096], kb[4096];
    int n = 0;
    for (const char *s = p.serr; (s = strstr(s, "rel_rss: ")) != NULL && n < 4096; s++)
        if (sscanf(s, "rel_rss: %ld %ld", &t[n], &kb[n]) == 2)
            n++;
    ck_assert_msg(n >= 8, "too few RSS samples (%d) on stderr: %.300s", n, p.serr);
    long base = kb[n / 4], peak = 0;
    for (int i = n / 4; i < n; i++)
        peak = kb[i] > peak ? kb[i] : peak;
    ck_assert_msg(peak - base <= 2048, "RSS grew from %ld kB (at %ld ms) to %ld kB during the soak",
                  base, t[n / 4], peak);
    pair_free(&p);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Unchanged behaviour: every healthy program                                                 */

/* Does some tests/{e2e,unit}/check_*.c other than this one name "prog" as a string literal? */
static bool named_in_a_suite(const char *prog)
{
    char quoted[256];
    snprintf(quoted, sizeof quoted, "\"%.200s\"", prog);
    bool found = false;
    static const char *const dirs[] = { "tests/e2e", "tests/unit" };
    for (size_t k = 0; !found && k < sizeof dirs / sizeof dirs[0]; k++) {
        DIR *d = opendir(dirs[k]);
        ck_assert_msg(d != NULL, "run the tests from the repository root (%s not found)", dirs[k]);
        struct dirent *e;
        while (!found && (e = readdir(d)) != NULL) {
            size_t len = strlen(e->d_name);
            if (!tu_starts_with(e->d_name, "check_") || len < 3 ||
                strcmp(e->d_name + len - 2, ".c") != 0 || strcmp(e->d_name, "check_scale.c") == 0)
                continue;
            char p[PATH_MAX];
            snprintf(p, sizeof p, "%s/%s", dirs[k], e->d_name);
            char *text = tu_slurp_maybe(p, NULL);
            found = text && strstr(text, quoted);
            free(text);
        }
        closedir(d);
    }
    return found;
}

/*
 * Every tests/progs/ok_* program must run with and without the shim with the same output and
 * status somewhere: the ok_rel_* ones here, the others in their suites. Any other ok_* program
 * no suite names is compared here, expecting the status it has without the shim.
 */
START_TEST(test_every_healthy_program_gives_same_output_and_status_under_the_shim)
{
    DIR *d = opendir("tests/progs");
    ck_assert_msg(d != NULL, "run the tests from the repository root (tests/progs not found)");
    char names[128][64];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 128) {
        if (!tu_starts_with(e->d_name, "ok_") || tu_starts_with(e->d_name, "ok_rel_"))
            continue;
        char *dot = strrchr(e->d_name, '.');
        if (!dot || (strcmp(dot, ".c") != 0 && strcmp(dot, ".cpp") != 0))
            continue;
        snprintf(names[n], sizeof names[n], "%.*s", (int)(dot - e->d_name), e->d_name);
        n++;
    }
    closedir(d);
    ck_assert_msg(n > 0, "no ok_* programs found");
    int compared = 0;
    for (int i = 0; i < n; i++) {
        if (named_in_a_suite(names[i]))
            continue;
        struct pair p;
        run_pair(&p, names[i], NULL, true, NULL, NULL, E2E_HEALTHY_EXIT_MS);
        int status = WIFEXITED(p.native.status) ? WEXITSTATUS(p.native.status) : -1;
        assert_pair_healthy(&p, names[i], status);
        pair_free(&p);
        compared++;
    }
    (void)compared;
}
END_TEST

Suite *scale_suite(void)
{
    Suite *s = suite_create("scale");

    TCase *tc = tcase_create("scale");
    tcase_set_timeout(tc, 150);
    tcase_add_test(tc, test_2000_live_threads_same_output_and_memory_within_budget);
    tcase_add_test(tc, test_100k_thread_lifetimes_same_output_and_bounded_memory);
    tcase_add_test(tc,
                   test_millions_of_mutexes_reused_after_free_give_no_finding_and_bounded_memory);
    tcase_add_test(tc, test_full_thread_table_warns_once_and_program_runs_normally);
    suite_add_tcase(s, tc);

    tc = tcase_create("soak");
    tcase_set_timeout(tc, (double)soak_seconds() + 90);
    tcase_add_test(tc, test_soak_of_random_workloads_no_crash_no_finding_no_memory_growth);
    suite_add_tcase(s, tc);

    tc = tcase_create("corpus");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_every_healthy_program_gives_same_output_and_status_under_the_shim);
    suite_add_tcase(s, tc);
    return s;
}

/*
 * End-to-end tests of the shim on programs that deadlock on purpose (dl_*): each runs under
 * LD_PRELOAD=libpoolguard.so with a fresh POOLGUARD_DIR, its stdout and stderr captured to files,
 * always under a hard time limit of our own (Check's time-out is only the last resort). We wait
 * for a raw report with a finding, wait a little longer (a finding must be reported once, not once
 * per scan), kill the program's process group, then check the raw report and the analyzer's
 * rendering of it against what the case expects (deadlock_check.h). The contract case: what a bad
 * setting and POOLGUARD_ON_FINDING do around a finding.
 *
 * Healthy programs are in check_e2e_healthy.c, the shim's exported symbols in check_exports.c.
 * Helpers (running programs, reading reports, symbolizing) are in tests/lib/testlib*.c. Processes
 * are always killed and reaped before any assertion runs. Report directories of failed tests are
 * left in /tmp for inspection; their paths are in the failure messages.
 */
#include "deadlock_check.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

enum {
    STARTUP_MS = 10000,        /* a deadlocking program must print its first lines this soon */
    DEADLOCK_REPORT_MS = 3000, /* then a finding must be on disk this soon */
    SETTLE_MS = 500,           /* then we watch this long for duplicate findings */
};

/* ------------------------------------------------------------------------------------------ */
/* The programs and what their findings must show                                             */

static const struct dl_case lock_inversion = {
    .label = "lock_inversion",
    .prog = "dl_lock_inversion",
    .first_line = "dl_lock_inversion: start\n",
    .cycle_len = 2,
    .kinds = "mutex,mutex",
    .stacks = { { "thread_a", "lock_second" }, { "thread_b", "lock_second" } },
    .names = { "inv-a", "inv-b" },
    .main_role = "blocked",
};

static const struct dl_case ring3 = {
    .label = "ring3",
    .prog = "dl_ring3",
    .first_line = "dl_ring3: start\n",
    .cycle_len = 3,
    .kinds = "mutex,mutex,mutex",
    .stacks = { { "ring_thread_0", "ring_lock_next" },
                { "ring_thread_1", "ring_lock_next" },
                { "ring_thread_2", "ring_lock_next" } },
    .names = { "ring-0", "ring-1", "ring-2" },
    .main_role = "blocked",
};

static const struct dl_case rwlock = {
    .label = "rwlock",
    .prog = "dl_rwlock",
    .first_line = "dl_rwlock: start\n",
    .cycle_len = 2,
    .kinds = "mutex,rwlock_write",
    .stacks = { { "reader_thread", "reader_wants_mutex" },
                { "writer_thread", "writer_wants_write_lock" } },
    .main_role = "blocked",
};

static const struct dl_case join_holding = {
    .label = "join_holding",
    .prog = "dl_join_holding",
    .first_line = "dl_join_holding: start\n",
    .cycle_len = 2,
    .kinds = "join,mutex",
    .stacks = { { "main", "join_while_holding" }, { "worker_needs_lock" } },
    .main_role = "cycle",
};

static const struct dl_case self_relock = {
    .label = "self_relock",
    .prog = "dl_self_relock",
    .first_line = "dl_self_relock: start\n",
    .cycle_len = 1,
    .kinds = "mutex",
    .stacks = { { "main", "update_state", "relock_again" } },
    .main_role = "cycle",
};

static const struct dl_case self_relock_threaded = {
    .label = "self_relock_threaded",
    .prog = "dl_self_relock",
    .arg = "threaded",
    .first_line = "dl_self_relock: start threaded\n",
    .cycle_len = 1,
    .kinds = "mutex",
    .stacks = { { "self_relock_thread", "update_state", "relock_again" } },
    .main_role = "blocked",
};

static const struct dl_case cond_hang = {
    .label = "cond_hang",
    .prog = "dl_cond_hang",
    .first_line = "dl_cond_hang: start\n",
    .cycle_len = 0,
    .kinds = "cond,cond,cond,sem",
    .stacks = { { "cond_waiter_thread", "wait_for_work" },
                { "sem_waiter_thread", "wait_for_token" },
                { "main", "wait_for_shutdown" } },
    .main_role = "hang",
};

static const struct dl_case future_promise = {
    .label = "future_promise",
    .prog = "dl_future",
    .first_line = "dl_future: start promise\n",
    .cycle_len = 2,
    .may_be_hang = true,
    .kinds = "futex,mutex",
    .stacks = { { "main", "waits_on_future" }, { "fulfil_promise_thread" } },
};

static const struct dl_case future_async = {
    .label = "future_async",
    .prog = "dl_future",
    .arg = "async",
    .first_line = "dl_future: start async\n",
    .cycle_len = 2,
    .kinds = "join,mutex",
    .stacks = { { "main", "waits_on_future" }, { "async_task_needs_lock" } },
    .main_role = "cycle",
};

static const struct dl_case fork_child = {
    .label = "fork_child",
    .prog = "dl_fork_child",
    .first_line = "dl_fork_child: start\n",
    .cycle_len = 2,
    .kinds = "mutex,mutex",
    .stacks = { { "child_thread_a", "child_lock_second" },
                { "child_thread_b", "child_lock_second" } },
    .main_role = "blocked",
    .forks = true,
};

static const struct dl_case after_churn = {
    .label = "after_churn",
    .prog = "dl_after_churn",
    .first_line = "dl_after_churn: start\nchurned 3000 threads\n",
    .cycle_len = 2,
    .kinds = "mutex,mutex",
    .stacks = { { "churn_thread_a", "churn_lock_second" },
                { "churn_thread_b", "churn_lock_second" } },
    .main_role = "blocked",
};

/* ------------------------------------------------------------------------------------------ */
/* The two kinds of test                                                                      */

/* Variations on a deadlock test; NULL means none. */
struct dl_opts {
    const char *const *env; /* extra environment, "NAME=value", NULL-terminated */
    const char *warning;    /* must appear on a "poolguard:" line of stderr */
    long interval_ms;       /* the header's interval_ms must be this (0: not checked) */
};

/* Runs a deadlocking program under the shim and checks its raw report and the analyzer's view. */
static void run_deadlock_case(const struct dl_case *c, const struct dl_opts *o)
{
    struct e2e_run r;
    e2e_run_init(&r, c->label);
    char path[PATH_MAX];
    tu_prog_path(path, sizeof path, c->prog);
    char *argv[] = { (char *)c->prog, (char *)c->arg, NULL };
    e2e_run_start(&r, path, argv, true, o ? o->env : NULL);

    bool started = e2e_wait_for_output(&r, c->first_line, STARTUP_MS);
    bool found = started && e2e_wait_for_finding(&r, DEADLOCK_REPORT_MS);
    bool exited_early = r.exited;
    if (found)
        tu_sleep_ms(SETTLE_MS); /* any duplicate would be written by now */
    bool exited_after = e2e_run_wait(&r, 0);
    e2e_run_kill(&r);
    pid_t pid = r.pid;

    /* Only now, with the program gone, may assertions end the test. */
    char *out = e2e_run_stdout(&r), *err = e2e_run_stderr(&r);
    ck_assert_msg(!exited_early,
                  "%s: the program exited (status 0x%x) instead of deadlocking; "
                  "stderr: %.500s",
                  c->label, r.status, err);
    ck_assert_msg(started, "%s: the program did not print \"%s\" within %d ms; stdout: \"%s\"",
                  c->label, c->first_line, STARTUP_MS, out);
    ck_assert_msg(found,
                  "%s: no finding within %d ms of the deadlock (reports in %s); stderr: %.500s",
                  c->label, DEADLOCK_REPORT_MS, r.reports, err);
    ck_assert_msg(!exited_after,
                  "%s: the program exited after the finding (the shim must keep it "
                  "running by default)",
                  c->label);
    ck_assert_msg(strcmp(out, c->first_line) == 0, "%s: stdout is \"%s\", expected \"%s\"",
                  c->label, out, c->first_line);
    ck_assert_msg(e2e_has_poolguard_line(err, ""),
                  "%s: no \"poolguard:\" line on stderr for the "
                  "finding; stderr: %.500s",
                  c->label, err);
    if (o && o->warning)
        ck_assert_msg(e2e_has_poolguard_line(err, o->warning),
                      "%s: no \"poolguard:\" warning mentioning "
                      "%s on stderr: %.500s",
                      c->label, o->warning, err);
    free(out);
    free(err);

    struct e2e_reports rs;
    e2e_reports_load(&rs, r.reports);
    check_raw_report(c, &rs, pid, r.reports);
    if (o && o->interval_ms) {
        json_t *h = e2e_reports_with_finding(&rs)->header;
        ck_assert_msg(json_integer_value(json_object_get(h, "interval_ms")) == o->interval_ms,
                      "%s: header interval_ms is %lld, expected %ld", c->label,
                      (long long)json_integer_value(json_object_get(h, "interval_ms")),
                      o->interval_ms);
    }
    e2e_reports_free(&rs);

    check_rendered(c, pid, &r);
    tu_rmtree(r.work);
}

/* ------------------------------------------------------------------------------------------ */
/* Tests                                                                                      */

START_TEST(test_lock_inversion_reports_two_thread_mutex_cycle)
{
    run_deadlock_case(&lock_inversion, NULL);
}
END_TEST

START_TEST(test_ring_of_three_reports_three_thread_cycle)
{
    run_deadlock_case(&ring3, NULL);
}
END_TEST

START_TEST(test_reader_vs_writer_reports_rwlock_mutex_cycle)
{
    run_deadlock_case(&rwlock, NULL);
}
END_TEST

START_TEST(test_join_while_holding_reports_join_mutex_cycle)
{
    run_deadlock_case(&join_holding, NULL);
}
END_TEST

START_TEST(test_self_relock_reports_cycle_of_one)
{
    run_deadlock_case(&self_relock, NULL);
}
END_TEST

START_TEST(test_self_relock_in_thread_reports_cycle_of_one)
{
    run_deadlock_case(&self_relock_threaded, NULL);
}
END_TEST

START_TEST(test_condvar_and_semaphore_hang_reports_whole_program_hang)
{
    run_deadlock_case(&cond_hang, NULL);
}
END_TEST

START_TEST(test_future_wait_through_futex_syscall_reports_deadlock)
{
    run_deadlock_case(&future_promise, NULL);
}
END_TEST

START_TEST(test_async_future_wait_reports_join_mutex_cycle)
{
    run_deadlock_case(&future_async, NULL);
}
END_TEST

START_TEST(test_deadlock_in_forked_child_is_reported_in_childs_report)
{
    run_deadlock_case(&fork_child, NULL);
}
END_TEST

START_TEST(test_deadlock_after_3000_ended_threads_is_still_found)
{
    run_deadlock_case(&after_churn, NULL);
}
END_TEST

/*
 * POOLGUARD_ON_FINDING=exit:N / abort: the program ends by itself once the finding is on disk.
 * Returns the program's wait status; the report must hold the (complete) deadlock finding.
 */
static int run_until_shim_ends_it(const char *setting, const char *label)
{
    char var[64];
    snprintf(var, sizeof var, "POOLGUARD_ON_FINDING=%s", setting);
    const char *const env[] = { var, NULL };
    struct e2e_run r;
    e2e_run_init(&r, label);
    char path[PATH_MAX];
    tu_prog_path(path, sizeof path, lock_inversion.prog);
    char *argv[] = { (char *)lock_inversion.prog, NULL };
    e2e_run_start(&r, path, argv, true, env);
    bool ended = e2e_run_wait(&r, STARTUP_MS + DEADLOCK_REPORT_MS);
    e2e_run_kill(&r);

    char *err = e2e_run_stderr(&r);
    ck_assert_msg(ended, "%s: the program was still running %d ms after start; stderr: %.500s", var,
                  STARTUP_MS + DEADLOCK_REPORT_MS, err);
    struct e2e_reports rs;
    e2e_reports_load(&rs, r.reports);
    struct e2e_report *rp = e2e_reports_with_finding(&rs);
    ck_assert_msg(rp != NULL,
                  "%s: the program ended (status 0x%x) without a finding on disk; "
                  "stderr: %.500s",
                  var, r.status, err);
    const char *kind = json_string_value(json_object_get(json_array_get(rp->findings, 0), "kind"));
    ck_assert_msg(kind && strcmp(kind, "deadlock") == 0, "%s: finding kind %s", var,
                  kind ? kind : "?");
    ck_assert_msg(rp->bad_lines == 0, "%s: the report has %d broken lines", var, rp->bad_lines);
    e2e_reports_free(&rs);
    free(err);
    tu_rmtree(r.work);
    return r.status;
}

START_TEST(test_on_finding_exit_code_ends_program_with_that_code)
{
    int status = run_until_shim_ends_it("exit:42", "on_finding_exit");
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 42,
                  "POOLGUARD_ON_FINDING=exit:42: "
                  "wait status 0x%x, expected exit 42",
                  status);
}
END_TEST

START_TEST(test_on_finding_abort_aborts_after_writing_report)
{
    int status = run_until_shim_ends_it("abort", "on_finding_abort");
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
                  "POOLGUARD_ON_FINDING=abort: "
                  "wait status 0x%x, expected death by SIGABRT",
                  status);
}
END_TEST

START_TEST(test_bad_interval_warns_and_still_detects)
{
    /* A bad value gets a warning and the default, 100 ms (DESIGN.md), which the header shows. */
    static const char *const env[] = { "POOLGUARD_INTERVAL_MS=abc", NULL };
    static const struct dl_opts o = { .env = env,
                                      .warning = "POOLGUARD_INTERVAL_MS",
                                      .interval_ms = 100 };
    run_deadlock_case(&lock_inversion, &o);
}
END_TEST

START_TEST(test_bad_interval_warns_and_healthy_program_runs_normally)
{
    static const char *const env[] = { "POOLGUARD_INTERVAL_MS=abc", NULL };
    static const struct e2e_ok_case c = { "ok_barrier", 3 };
    e2e_check_healthy(&c, env, "POOLGUARD_INTERVAL_MS");
}
END_TEST

Suite *e2e_suite(void)
{
    Suite *s = suite_create("e2e");

    TCase *tc = tcase_create("deadlocks");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_lock_inversion_reports_two_thread_mutex_cycle);
    tcase_add_test(tc, test_ring_of_three_reports_three_thread_cycle);
    tcase_add_test(tc, test_reader_vs_writer_reports_rwlock_mutex_cycle);
    tcase_add_test(tc, test_join_while_holding_reports_join_mutex_cycle);
    tcase_add_test(tc, test_self_relock_reports_cycle_of_one);
    tcase_add_test(tc, test_self_relock_in_thread_reports_cycle_of_one);
    tcase_add_test(tc, test_condvar_and_semaphore_hang_reports_whole_program_hang);
    tcase_add_test(tc, test_future_wait_through_futex_syscall_reports_deadlock);
    tcase_add_test(tc, test_async_future_wait_reports_join_mutex_cycle);
    tcase_add_test(tc, test_deadlock_in_forked_child_is_reported_in_childs_report);
    tcase_add_test(tc, test_deadlock_after_3000_ended_threads_is_still_found);
    suite_add_tcase(s, tc);

    tc = tcase_create("contract");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_bad_interval_warns_and_still_detects);
    tcase_add_test(tc, test_bad_interval_warns_and_healthy_program_runs_normally);
    tcase_add_test(tc, test_on_finding_exit_code_ends_program_with_that_code);
    tcase_add_test(tc, test_on_finding_abort_aborts_after_writing_report);
    suite_add_tcase(s, tc);
    return s;
}

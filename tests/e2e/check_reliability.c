/*
 * Reliability of the shim: real programs that do awkward things (fork without exec from a
 * multithreaded parent, exec, posix_spawn, vfork, daemons that close every descriptor, chdir,
 * threads from .preinit_array, sem_post from signal handlers, cancellation in timed waits, exit and
 * pthread_exit with threads still blocked, locks in atexit handlers, every mutex type and
 * process-shared objects, a glibc whose lock layouts were not verified). Scale, churn, the soak and
 * the corpus of healthy programs are in check_scale.c; the security contract in check_security.c.
 *
 * Programs are in tests/progs (rel_*.c deadlock on purpose, ok_rel_*.c are healthy). Every
 * program runs under a hard time limit and is killed (its whole process group) and reaped before
 * any assertion may end a test. The helpers the three suites share are in reliability_util.h.
 */
#include "reliability_util.h"

#include <check.h>
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
/* fork, exec, posix_spawn, vfork                                                             */

START_TEST(test_fork_child_waiting_on_lock_held_by_parent_thread_reports_exited_owner)
{
    char path[PATH_MAX];
    tu_prog_path(path, sizeof path, "rel_fork");
    char *argv[] = { "rel_fork", "held", NULL };
    struct dl_run d;
    run_to_finding(&d, "rel_fork_held", path, argv, true, NULL, "rel_fork: held", NULL, 1);
    int parent = (int)field_after(d.first, "parent="),
        holder = (int)field_after(d.first, "holder=");
    ck_assert_int_eq(parent, d.r.pid);

    struct e2e_reports rs;
    e2e_reports_load(&rs, d.r.reports);
    char all[4096];
    e2e_describe_findings(&rs, all, sizeof all);
    ck_assert_msg(e2e_reports_count_findings(&rs) == 1,
                  "expected one finding (the child's), got %zu: %s",
                  e2e_reports_count_findings(&rs), all);
    struct e2e_report *rp = e2e_reports_with_finding(&rs);
    json_int_t hpid = json_integer_value(json_object_get(rp->header, "pid"));
    ck_assert_msg(
        hpid != parent && json_integer_value(json_object_get(rp->header, "ppid")) == parent,
        "the finding must be in the child's report (header pid %lld, ppid %lld; parent %d)",
        (long long)hpid, (long long)json_integer_value(json_object_get(rp->header, "ppid")),
        parent);
    json_t *f = json_array_get(rp->findings, 0);
    const char *summary = json_string_value(json_object_get(f, "summary"));
    ck_assert_msg(json_is_true(json_object_get(f, "abandoned")) && summary &&
                      strstr(summary, "exited"),
                  "expected \"a lock whose owner has exited\" (abandoned: true), got: %s", all);
    json_t *threads = json_object_get(f, "threads");
    ck_assert_msg(json_array_size(threads) == 1,
                  "the child has one thread; the finding lists %zu "
                  "(a thread of the parent left in the child's table?)",
                  json_array_size(threads));
    json_t *t = json_array_get(threads, 0);
    json_t *b = json_object_get(t, "blocked_on");
    ck_assert_msg(json_is_true(json_object_get(t, "main")) &&
                      json_integer_value(json_object_get(t, "tid")) == hpid,
                  "the blocked thread must be the child's main thread (%lld)", (long long)hpid);
    ck_assert_msg(strcmp(json_string_value(json_object_get(b, "kind")), "mutex") == 0 &&
                      json_integer_value(json_object_get(b, "owner")) == holder,
                  "the child waits on a mutex owned by the parent's holder thread %d; blocked_on: "
                  "%s",
                  holder, json_dumps(b, JSON_COMPACT));
    json_t *per = stack_names(rp, f, "rel_fork");
    const char *g[] = { "fork_child_wants_held_lock", "main", NULL };
    assert_some_stack_has(per, g, "rel_fork held");
    json_decref(per);
    e2e_reports_free(&rs);
    dl_run_free(&d);
}
END_TEST

START_TEST(test_fork_from_busy_multithreaded_parent_reports_only_the_childs_cycle)
{
    char path[PATH_MAX];
    tu_prog_path(path, sizeof path, "rel_fork");
    char *argv[] = { "rel_fork", "inversion", NULL };
    struct dl_run d;
    run_to_finding(&d, "rel_fork_inv", path, argv, true, NULL, "rel_fork: inversion", NULL, 1);
    struct e2e_reports rs;
    e2e_reports_load(&rs, d.r.reports);
    char all[4096];
    e2e_describe_findings(&rs, all, sizeof all);
    ck_assert_msg(e2e_reports_count_findings(&rs) == 1, "expected one finding, got %zu: %s",
                  e2e_reports_count_findings(&rs), all);
    struct e2e_report *rp = e2e_reports_with_finding(&rs);
    ck_assert_msg(json_integer_value(json_object_get(rp->header, "ppid")) == d.r.pid,
                  "the finding must be in the child's report (header ppid = parent %d)",
                  (int)d.r.pid);
    json_t *f = json_array_get(rp->findings, 0);
    assert_mutex_cycle(rp, f, "rel_fork", "fork_child_a", "fork_child_b", "fork_child_lock_second",
                       "rel_fork inversion");
    /* The two cycle threads and the child's main thread joining them: none of the parent's. */
    json_t *threads = json_object_get(f, "threads");
    ck_assert_msg(json_array_size(threads) == 3,
                  "expected 3 threads (2 in the cycle, main joining), "
                  "got %zu: %.1500s",
                  json_array_size(threads), json_dumps(threads, JSON_COMPACT));
    e2e_reports_free(&rs);
    dl_run_free(&d);
}
END_TEST

START_TEST(test_forks_from_busy_multithreaded_parent_run_normally)
{
    check_healthy("ok_rel_fork", NULL, NULL, 0);
}
END_TEST

/* rel_spawn <mode>: the new image (mode "deadlock") writes its own report with its pid. */
static void check_spawned(const char *mode, bool same_pid)
{
    char path[PATH_MAX], label[64], first[64];
    tu_prog_path(path, sizeof path, "rel_spawn");
    snprintf(label, sizeof label, "rel_spawn_%s", mode);
    char *argv[] = { "rel_spawn", (char *)mode, NULL };
    struct dl_run d;
    snprintf(first, sizeof first, "rel_spawn: %s", mode);
    run_to_finding(&d, label, path, argv, true, NULL, first, NULL, 1);
    char *child_line = wait_for_line(&d.r, "rel_spawn: deadlock", 0);
    ck_assert_msg(child_line != NULL, "%s: the new image did not start", label);
    int child = (int)field_after(child_line, "pid=");
    free(child_line);

    struct e2e_reports rs;
    e2e_reports_load(&rs, d.r.reports);
    char all[4096];
    e2e_describe_findings(&rs, all, sizeof all);
    ck_assert_msg(e2e_reports_count_findings(&rs) == 1, "%s: expected one finding, got %zu: %s",
                  label, e2e_reports_count_findings(&rs), all);
    struct e2e_report *rp = e2e_reports_with_finding(&rs);
    json_t *h = rp->header;
    ck_assert_msg(json_integer_value(json_object_get(h, "pid")) == child,
                  "%s: report of pid %lld, "
                  "the deadlocked image is pid %d",
                  label, (long long)json_integer_value(json_object_get(h, "pid")), child);
    if (same_pid)
        ck_assert_msg(child == d.r.pid, "%s: exec must keep the pid", label);
    else
        ck_assert_msg(json_integer_value(json_object_get(h, "ppid")) == d.r.pid,
                      "%s: the child's report must name the parent %d as ppid", label,
                      (int)d.r.pid);
    const char *argv1 = json_string_value(json_array_get(json_object_get(h, "argv"), 1));
    ck_assert_msg(argv1 && strcmp(argv1, "deadlock") == 0,
                  "%s: header argv[1] is %s, expected the new "
                  "image's \"deadlock\"",
                  label, argv1 ? argv1 : "?");
    assert_mutex_cycle(rp, json_array_get(rp->findings, 0), "rel_spawn", "spawn_thread_a",
                       "spawn_thread_b", "spawn_lock_second", label);
    e2e_reports_free(&rs);
    dl_run_free(&d);
}

START_TEST(test_exec_from_threaded_program_keeps_watching_the_new_image)
{
    check_spawned("exec", true);
}
END_TEST

START_TEST(test_posix_spawn_child_is_watched_with_its_own_report)
{
    check_spawned("spawn", false);
}
END_TEST

START_TEST(test_vfork_exec_child_is_watched_with_its_own_report)
{
    check_spawned("vfork", false);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Daemons and chdir                                                                          */

START_TEST(test_daemon_closing_all_descriptors_keeps_both_findings_in_one_report)
{
    char path[PATH_MAX], log[PATH_MAX + 16];
    tu_prog_path(path, sizeof path, "rel_daemon");
    struct dl_run d;
    memset(&d, 0, sizeof d);
    e2e_run_init(&d.r, "rel_daemon");
    snprintf(log, sizeof log, "%s/daemon.log", d.r.work);
    char *argv[] = { "rel_daemon", log, NULL };
    e2e_run_start(&d.r, path, argv, true, NULL);
    d.first = wait_for_line(&d.r, "rel_daemon: start", STARTUP_MS);
    d.found = d.first && wait_for_findings(&d.r, d.r.reports, 2, 2 * REPORT_MS);
    d.exited_early = d.r.exited;
    if (d.found)
        tu_sleep_ms(SETTLE_MS);
    e2e_run_kill(&d.r);
    char *logtext = tu_slurp_maybe(log, NULL);
    ck_assert_msg(d.first != NULL && !d.exited_early, "rel_daemon did not start or exited (0x%x)",
                  d.r.status);

    struct e2e_reports rs;
    e2e_reports_load(&rs, d.r.reports);
    char all[4096];
    e2e_describe_findings(&rs, all, sizeof all);
    ck_assert_msg(d.found && e2e_reports_count_findings(&rs) == 2,
                  "expected both deadlocks reported "
                  "after the daemon closed and dup2()ed over every descriptor, got %zu: %s "
                  "(reports in "
                  "%s; log: %.500s)",
                  e2e_reports_count_findings(&rs), all, d.r.reports, logtext ? logtext : "(none)");
    ck_assert_msg(rs.n == 1, "expected one report file (reopened per finding), found %d", rs.n);
    struct e2e_report *rp = &rs.r[0];
    ck_assert_msg(rp->first_is_header && rp->headers == 1 && rp->bad_lines == 0,
                  "the report must have one header first and no broken line (headers %d, bad lines "
                  "%d)",
                  rp->headers, rp->bad_lines);
    assert_mutex_cycle(rp, json_array_get(rp->findings, 0), "rel_daemon", "daemon_first_a",
                       "daemon_first_b", "daemon_lock_second", "rel_daemon first");
    assert_mutex_cycle(rp, json_array_get(rp->findings, 1), "rel_daemon", "daemon_second_a",
                       "daemon_second_b", "daemon_lock_second", "rel_daemon second");
    ck_assert_msg(logtext && strstr(logtext, "daemon: first\n") &&
                      strstr(logtext, "daemon: second\n"),
                  "the daemon's log lost its own lines: %.500s", logtext ? logtext : "(none)");
    ck_assert_msg(!strstr(logtext, "\"type\""),
                  "report lines were written into the daemon's log "
                  "(a descriptor the program reused): %.800s",
                  logtext);
    free(logtext);
    e2e_reports_free(&rs);
    dl_run_free(&d);
}
END_TEST

START_TEST(test_relative_report_dir_stays_where_the_program_started_after_chdir)
{
    struct dl_run d;
    char start_dir[PATH_MAX], elsewhere[PATH_MAX], want[PATH_MAX + 16], wrong[PATH_MAX + 16];
    char prog[PATH_MAX], prog_abs[PATH_MAX], preload[PATH_MAX + 16];
    tu_prog_path(prog, sizeof prog, "rel_chdir");
    ck_assert(realpath(prog, prog_abs) != NULL);
    memset(&d, 0, sizeof d);
    e2e_run_init(&d.r, "rel_chdir");
    snprintf(start_dir, sizeof start_dir, "%s/start", d.r.work);
    snprintf(elsewhere, sizeof elsewhere, "%s/elsewhere", d.r.work);
    ck_assert(mkdir(start_dir, 0700) == 0 && mkdir(elsewhere, 0700) == 0);
    snprintf(want, sizeof want, "%s/rel-reports", start_dir);
    snprintf(wrong, sizeof wrong, "%s/rel-reports", elsewhere);
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", shim_abs());
    const char *env[] = { preload, "POOLGUARD_DIR=rel-reports", NULL };
    /* env -C starts the program in start_dir. */
    char *argv[] = { "env", "-C", start_dir, prog_abs, elsewhere, NULL };
    e2e_run_start(&d.r, "/usr/bin/env", argv, false, env);
    d.first = wait_for_line(&d.r, "rel_chdir: start", STARTUP_MS);
    long deadline = tu_now_ms() + REPORT_MS;
    size_t in_want = 0, in_wrong = 0;
    while (d.first && tu_now_ms() < deadline && !e2e_run_wait(&d.r, 0)) {
        struct e2e_reports a, b;
        e2e_reports_load(&a, want);
        e2e_reports_load(&b, wrong);
        in_want = e2e_reports_count_findings(&a);
        in_wrong = e2e_reports_count_findings(&b);
        e2e_reports_free(&a);
        e2e_reports_free(&b);
        if (in_want + in_wrong > 0)
            break;
        tu_sleep_ms(E2E_POLL_MS);
    }
    e2e_run_kill(&d.r);
    d.err = e2e_run_stderr(&d.r);
    ck_assert_msg(d.first != NULL, "rel_chdir did not start; stderr: %.500s", d.err);
    ck_assert_msg(in_want + in_wrong > 0, "no finding in %s or %s; stderr: %.500s", want, wrong,
                  d.err);
    ck_assert_msg(in_want == 1 && in_wrong == 0,
                  "POOLGUARD_DIR=rel-reports, program started in %s and "
                  "then chdir()ed to %s: the report must be in %s, but %zu finding(s) are there "
                  "and "
                  "%zu in %s; stderr: %.500s",
                  start_dir, elsewhere, want, in_want, in_wrong, wrong, d.err);
    dl_run_free(&d);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Constructors, signals, cancellation, exit paths                                            */

START_TEST(test_pthread_calls_before_the_shims_constructor_work)
{
    check_healthy("ok_rel_preinit", NULL, NULL, 0);
}
END_TEST

START_TEST(test_deadlock_with_thread_started_before_the_shim_is_found)
{
    char *argv[] = { "rel_preinit", NULL };
    check_mutex_inversion("rel_preinit", argv, "rel_preinit: start", "preinit_thread",
                          "preinit_lock_second", "main", "main_lock_second");
}
END_TEST

START_TEST(test_sem_post_from_signal_handlers_works_and_caught_signals_prevent_a_hang_report)
{
    check_healthy("ok_rel_sigpost", NULL, NULL, 0);
}
END_TEST

START_TEST(test_threads_cancelled_in_timed_waits_leave_no_stale_state)
{
    check_healthy("ok_rel_cancel", NULL, NULL, 0);
}
END_TEST

START_TEST(test_exit_with_threads_blocked_keeps_the_exit_status)
{
    static const char *const env[] = { "POOLGUARD_INTERVAL_MS=10", NULL };
    check_healthy("ok_rel_exit", NULL, env, 6);
}
END_TEST

START_TEST(test_pthread_exit_from_main_ends_the_process_normally)
{
    check_healthy("ok_rel_main_exit", NULL, NULL, 0);
}
END_TEST

START_TEST(test_locks_in_atexit_handlers_work)
{
    check_healthy("ok_rel_atexit", NULL, NULL, 9);
}
END_TEST

START_TEST(test_deadlock_inside_an_atexit_handler_is_found)
{
    char *argv[] = { "rel_atexit", NULL };
    check_mutex_inversion("rel_atexit", argv, "rel_atexit: start", "atexit_worker",
                          "atexit_lock_second", "exit_handler", "atexit_lock_second");
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Mutex types                                                                                */

START_TEST(test_every_mutex_type_and_process_shared_objects_give_no_finding)
{
    check_healthy("ok_rel_mutex_types", NULL, NULL, 0);
}
END_TEST

static const char *const mutex_kinds[] = { "recursive", "errorcheck", "inherit", "robust" };

START_TEST(test_lock_inversion_through_each_mutex_type_is_found)
{
    const char *kind = mutex_kinds[_i];
    char label[64], first[64];
    snprintf(label, sizeof label, "rel_mutex_kinds_%s", kind);
    snprintf(first, sizeof first, "rel_mutex_kinds: start %s", kind);
    char *argv[] = { "rel_mutex_kinds", (char *)kind, NULL };
    check_mutex_inversion(label, argv, first, "kinds_thread_a", "kinds_lock_second",
                          "kinds_thread_b", "kinds_lock_second");
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* A glibc whose lock layouts were not verified                                               */

/* Under a glibc outside the verified range (POOLGUARD_GLIBC_VERSION stands in for one) the shim
 * reads no lock word: a real mutex deadlock runs on with no finding (none may rest on a misread
 * owner), one warning names the version, and healthy programs with every mutex type run as they
 * do natively. Under the real glibc the same deadlock is proven. */
START_TEST(test_unverified_glibc_reads_no_lock_word_and_warns_once)
{
    char path[PATH_MAX];
    tu_prog_path(path, sizeof path, "dl_lock_inversion");
    char *argv[] = { "dl_lock_inversion", NULL };
    struct e2e_run r;
    e2e_run_init(&r, "glibc_unverified");
    const char *env[] = { "POOLGUARD_GLIBC_VERSION=2.99", NULL };
    e2e_run_start(&r, path, argv, true, env);
    char *first = wait_for_line(&r, "dl_lock_inversion: start", STARTUP_MS);
    /* Twice the time the real glibc's proof takes (REPORT_MS): nothing may be found. */
    bool found = first && wait_for_findings(&r, r.reports, 1, 2 * REPORT_MS);
    bool exited = r.exited || e2e_run_wait(&r, 0);
    e2e_run_kill(&r);
    char *err = e2e_run_stderr(&r);
    struct e2e_reports rs;
    e2e_reports_load(&rs, r.reports);
    char all[4096];
    e2e_describe_findings(&rs, all, sizeof all);
    ck_assert_msg(first != NULL, "the program did not start; stderr: %.500s", err);
    ck_assert_msg(!exited, "the program ended instead of staying deadlocked; stderr: %.500s", err);
    ck_assert_msg(!found && e2e_reports_count_findings(&rs) == 0,
                  "a finding under an unverified "
                  "glibc: %s",
                  all);
    ck_assert_msg(count_poolguard_lines(err) == 1 && e2e_has_poolguard_line(err, "glibc 2.99"),
                  "expected exactly one poolguard: warning naming glibc 2.99; stderr: %.800s", err);
    e2e_reports_free(&rs);
    free(first);
    free(err);
    tu_rmtree(r.work);

    struct pair p;
    run_pair(&p, "ok_rel_mutex_types", NULL, true, NULL, env, E2E_HEALTHY_EXIT_MS);
    assert_pair_healthy(&p, "ok_rel_mutex_types", 0);
    ck_assert_msg(count_poolguard_lines(p.serr) == 1 &&
                      e2e_has_poolguard_line(p.serr, "glibc 2.99"),
                  "ok_rel_mutex_types: expected one warning naming glibc 2.99; stderr: %.500s",
                  p.serr);
    pair_free(&p);

    check_mutex_inversion("glibc_verified", argv, "dl_lock_inversion: start", "thread_a",
                          "lock_second", "thread_b", "lock_second");
}
END_TEST

Suite *reliability_suite(void)
{
    Suite *s = suite_create("reliability");

    TCase *tc = tcase_create("real_programs");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_fork_child_waiting_on_lock_held_by_parent_thread_reports_exited_owner);
    tcase_add_test(tc, test_fork_from_busy_multithreaded_parent_reports_only_the_childs_cycle);
    tcase_add_test(tc, test_forks_from_busy_multithreaded_parent_run_normally);
    tcase_add_test(tc, test_exec_from_threaded_program_keeps_watching_the_new_image);
    tcase_add_test(tc, test_posix_spawn_child_is_watched_with_its_own_report);
    tcase_add_test(tc, test_vfork_exec_child_is_watched_with_its_own_report);
    tcase_add_test(tc, test_daemon_closing_all_descriptors_keeps_both_findings_in_one_report);
    tcase_add_test(tc, test_relative_report_dir_stays_where_the_program_started_after_chdir);
    tcase_add_test(tc, test_pthread_calls_before_the_shims_constructor_work);
    tcase_add_test(tc, test_deadlock_with_thread_started_before_the_shim_is_found);
    tcase_add_test(
        tc, test_sem_post_from_signal_handlers_works_and_caught_signals_prevent_a_hang_report);
    tcase_add_test(tc, test_threads_cancelled_in_timed_waits_leave_no_stale_state);
    tcase_add_test(tc, test_exit_with_threads_blocked_keeps_the_exit_status);
    tcase_add_test(tc, test_pthread_exit_from_main_ends_the_process_normally);
    tcase_add_test(tc, test_locks_in_atexit_handlers_work);
    tcase_add_test(tc, test_deadlock_inside_an_atexit_handler_is_found);
    tcase_add_test(tc, test_every_mutex_type_and_process_shared_objects_give_no_finding);
    tcase_add_test(tc, test_unverified_glibc_reads_no_lock_word_and_warns_once);
    tcase_add_loop_test(tc, test_lock_inversion_through_each_mutex_type_is_found, 0,
                        (int)(sizeof mutex_kinds / sizeof mutex_kinds[0]));
    suite_add_tcase(s, tc);
    return s;
}

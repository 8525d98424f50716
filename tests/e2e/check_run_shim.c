/*
 * `poolguard run` with the real shim (build/libpoolguard.so) on the end-to-end test programs
 * (build/progs): the gate stops a real deadlock and names the functions, lets a healthy program
 * through with its own status, and a time-out shows the shim's snapshot. `make check` builds the
 * shim and the programs first; a missing one is a failure, never a silent pass. Pool
 * and lock-order findings of real programs: the sentences and lines a user reads, with the
 * programs' own function names (addresses change with every build, so only here).
 */
#include <check.h>
#include <jansson.h>
#include <stdbool.h>

#include "testlib.h"

static int run_prog_env(const char *prog, const char *const *opts, char *extra_env, char **out,
                        char **err)
{
    char *argv[32];
    size_t n = 0;
    argv[n++] = tu_build_path("poolguard");
    argv[n++] = strdup("run");
    for (size_t i = 0; opts[i]; i++)
        argv[n++] = strdup(opts[i]);
    argv[n++] = strdup("--");
    /* "name arg": the program and one argument. */
    char rel[256];
    const char *sp = strchr(prog, ' ');
    snprintf(rel, sizeof rel, "progs/%.*s", sp ? (int)(sp - prog) : (int)strlen(prog), prog);
    argv[n++] = tu_build_path(rel);
    if (sp)
        argv[n++] = strdup(sp + 1);
    argv[n] = NULL;
    /* The shim is found next to the poolguard binary: no POOLGUARD_SHIM. */
    char *env[] = { "POOLGUARD_SHIM=", "NO_COLOR=1", extra_env, NULL };
    return tu_run_capture(argv, env, 60, out, err);
}

static int run_prog(const char *prog, const char *const *opts, char **out, char **err)
{
    return run_prog_env(prog, opts, NULL, out, err);
}

/* The text report's finding for prog, run under the gate (a test failure when the shim or the
 * program is not built). */
static char *run_text(const char *prog, char *extra_env, int want_code)
{
    char rel[256];
    const char *sp = strchr(prog, ' ');
    snprintf(rel, sizeof rel, "progs/%.*s", sp ? (int)(sp - prog) : (int)strlen(prog), prog);
    tu_need_built("libpoolguard.so");
    tu_need_built(rel);
    char *out, *err;
    int code =
        run_prog_env(prog, (const char *[]){ "--timeout", "40", "--fail-on", "warning", NULL },
                     extra_env, &out, &err);
    ck_assert_msg(code == want_code, "%s: exit %d, wanted %d:\n%s", prog, code, want_code, err);
    free(out);
    return err;
}

START_TEST(test_run_shim_pool_exhaustion_names_the_pool_and_the_task)
{
    /* main waits for the parents' results too: the wait-for graph proves the pool stuck. */
    char *t = run_text("pool_cond_flood mainwait", NULL, 66);
    const char *needles[] = {
        "error: pool_exhaustion in pool_cond_flood",
        "all 2 workers of the pool created in pool_start() "
        "(thread routine pool_worker) are waiting for tasks queued behind them in the same pool",
        "the pool: 2 workers, created in pool_start at ",
        "thread routine: pool_worker",
        "proof: the wait-for graph",
        "idle wait: condition variable 0x",
        "queued: about ",
        "estimated from",
        "created at:",
        "pool_start at ",
        "main at ",
        "worker of the pool",
        "runs parent_task at ",
        "pool_cond_flood.c:",
        "blocks in future_get at ",
        NULL
    };
    tu_assert_in_order(t, needles);
    free(t);
}
END_TEST

/* main keeps running: the same pool is only inferred stuck. A warning; the gate does not stop
 * the program (it runs to the time-out) unless asked to fail on warnings. */
START_TEST(test_run_shim_inferred_pool_with_main_running_is_a_warning_and_not_stopped)
{
    tu_need_built("libpoolguard.so");
    tu_need_built("progs/pool_cond_flood");
    char *out, *err;
    int code = run_prog("pool_cond_flood", (const char *[]){ "--timeout", "3", NULL }, &out, &err);
    ck_assert_msg(code == 124, "exit %d, wanted 124 (the time-out):\n%s", code, err);
    const char *needles[] = { "warning: pool_exhaustion in pool_cond_flood",
                              "it is inferred from how the threads wait, not proven",
                              "proof: none, inferred", NULL };
    tu_assert_in_order(err, needles);
    ck_assert_msg(!strstr(err, "error: pool_exhaustion"), "%s", err);
    free(out);
    free(err);
}
END_TEST

START_TEST(test_run_shim_annotated_pool_says_the_task_is_still_queued)
{
    char *t = run_text("pool_annotated", NULL, 66);
    ck_assert_msg(strstr(t, "of the pool \"minipool\" are waiting for tasks queued behind them"),
                  "%s", t);
    ck_assert_msg(strstr(t, "queued: 2 tasks, counted exactly by the pool's annotations"), "%s", t);
    ck_assert_msg(strstr(t, "runs task 0x"), "%s", t);
    ck_assert_msg(strstr(t, ": parent_task at "), "%s", t);
    ck_assert_msg(strstr(t, "which is still queued (pool 0x"), "%s", t);
    free(t);
}
END_TEST

START_TEST(test_run_shim_queue_growth_shows_rates_and_the_submitter)
{
    char *t = run_text("pool_growth", "POOLGUARD_QUEUE_LIMIT=500", 66);
    const char *needles[] = {
        "warning: queue_growth in pool_growth",
        "tasks were queued on the pool created in pool_start() "
        "(thread routine pool_worker), which has 2 workers, while no worker was free",
        "queued: about ",
        "the queue grows: +",
        " tasks per second over ",
        "submits work to the pool",
        "running; the stack below is where it last queued work",
        "pool_submit at ",
        "produce_forever at ",
        NULL
    };
    tu_assert_in_order(t, needles);
    free(t);
}
END_TEST

START_TEST(test_run_shim_lock_order_names_both_edges)
{
    char *t = run_text("lo_inversion", NULL, 66);
    const char *needles[] = { "warning: lock_order in lo_inversion",
                              "2 locks are taken in opposite orders by 2 threads (in "
                              "take_b_while_holding_a() and take_a_while_holding_b()); a deadlock "
                              "that did not happen this run",
                              "the cycle of lock orders:",
                              "lock A: mutex lock_a (lo_inversion.c:8, 0x",
                              "| then lock B, taken by ",
                              "in take_b_while_holding_a",
                              "lock B: mutex lock_b (lo_inversion.c:9, 0x",
                              "| then lock A, taken by ",
                              "in take_a_while_holding_b",
                              "lock A  (back to the start)",
                              "took lock A, then lock B",
                              "took lock A in take_b_while_holding_a at ",
                              "lo_inversion.c:15",
                              "then took lock B:",
                              "take_b_while_holding_a at ",
                              "lo_inversion.c:16",
                              "took lock B, then lock A",
                              "took lock B in take_a_while_holding_b at ",
                              "lo_inversion.c:24",
                              "then took lock A:",
                              "take_a_while_holding_b at ",
                              "lo_inversion.c:25",
                              NULL };
    tu_assert_in_order(t, needles);
    free(t);
}
END_TEST

START_TEST(test_run_shim_stops_a_lock_inversion_and_names_the_functions)
{
    tu_need_built("libpoolguard.so");
    tu_need_built("progs/dl_lock_inversion");
    char *out, *err;
    int code =
        run_prog("dl_lock_inversion",
                 (const char *[]){ "--timeout", "30", "--format", "json", "--output", "-", NULL },
                 &out, &err);
    ck_assert_int_eq(code, 66);
    /* The program's own stdout comes first: the report starts at the first line that is '{'. */
    const char *start = out[0] == '{' ? out : strstr(out, "\n{");
    ck_assert_ptr_nonnull(start);
    json_t *doc = json_loads(start, JSON_DISABLE_EOF_CHECK, NULL);
    ck_assert_ptr_nonnull(doc);
    json_t *f = json_array_get(json_object_get(doc, "findings"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(f, "kind")), "deadlock");
    ck_assert_uint_eq(json_array_size(json_object_get(f, "cycle")), 2);
    /* Somewhere in the cycle's stacks: the program's own function, with a line. */
    bool named = false;
    json_t *threads = json_object_get(f, "threads");
    for (size_t i = 0; i < json_array_size(threads); i++) {
        json_t *st = json_object_get(json_array_get(threads, i), "stack");
        for (size_t k = 0; k < json_array_size(st); k++) {
            json_t *fr = json_array_get(st, k);
            const char *fn = json_string_value(json_object_get(fr, "function"));
            if (fn && strcmp(fn, "thread_a") == 0 &&
                json_integer_value(json_object_get(fr, "line")) > 0)
                named = true;
        }
    }
    ck_assert_msg(named, "no frame thread_a with a line in:\n%s", out);
    json_decref(doc);
    free(out);
    free(err);
}
END_TEST

START_TEST(test_run_shim_lets_a_healthy_program_through)
{
    tu_need_built("libpoolguard.so");
    tu_need_built("progs/ok_contended");
    char *out, *err;
    int code = run_prog("ok_contended", (const char *[]){ "--timeout", "50", NULL }, &out, &err);
    ck_assert_msg(code == 0, "exit %d:\n%s", code, err);
    ck_assert_ptr_nonnull(strstr(err, "poolguard: 0 findings"));
    free(out);
    free(err);
}
END_TEST

/* A deadlock in a forked child (the parent only waits for it): the gate follows the child, stops
 * the whole process group and names the child's functions. */
START_TEST(test_run_shim_stops_a_deadlock_in_a_forked_child)
{
    char *err = run_text("dl_fork_child", NULL, 66);
    ck_assert_msg(strstr(err, "deadlock"), "%s", err);
    ck_assert_msg(strstr(err, "child_thread_a") && strstr(err, "child_lock_second"),
                  "no child function in:\n%s", err);
    free(err);
}
END_TEST

/* A pool whose queued work the shim cannot see (libuv) gets only a warning: the gate lets it run,
 * and at the time-out shows what every thread is blocked on, with the task in the worker's stack. */
START_TEST(test_run_shim_timeout_snapshot_shows_blocked_threads)
{
    tu_need_built("libpoolguard.so");
    tu_need_built("progs/pool_uv");
    char *out, *err;
    int code = run_prog("pool_uv", (const char *[]){ "--timeout", "2", NULL }, &out, &err);
    ck_assert_msg(code == 124, "exit %d:\n%s", code, err);
    ck_assert_msg(strstr(err, "wait_for_release"), "no task function in the snapshot:\n%s", err);
    ck_assert_msg(strstr(err, "semaphore"), "no blocked wait in the snapshot:\n%s", err);
    free(out);
    free(err);
}
END_TEST

/* A program that runs outside the shim deadlocks on two mutexes: nothing stops it, and at the
 * time-out it does not answer the snapshot request, so the gate attaches to it before killing it.
 * The deadlock attach proves fails the gate (66), with the program's own function names: worker_a
 * and worker_b in the cycle, main waiting behind it. */
static void check_timeout_attach(const char *prog, const char *worker_a, const char *worker_b)
{
    char rel[128];
    snprintf(rel, sizeof rel, "progs/%s", prog);
    tu_need_built("libpoolguard.so");
    tu_need_built(rel);
    char *out, *err;
    long t0 = tu_now_ms();
    int code =
        run_prog(prog,
                 (const char *[]){ "--timeout", "3", "--format", "json", "--output", "-", NULL },
                 &out, &err);
    long took = tu_now_ms() - t0;
    if (strstr(err, "not permitted"))
        tu_skip("ptrace is not permitted here: %s", err);
    ck_assert_msg(strstr(err, "did not answer the snapshot request"), "%s", err);
    ck_assert_msg(code == 66, "exit %d:\n%s", code, err);
    ck_assert_msg(took >= 3000 && took < 30000, "took %ld ms", took);
    const char *start = out[0] == '{' ? out : strstr(out, "\n{");
    ck_assert_msg(start != NULL, "no JSON report in:\n%s", out);
    json_t *doc = json_loads(start, JSON_DISABLE_EOF_CHECK, NULL);
    ck_assert_ptr_nonnull(doc);
    ck_assert(json_is_true(json_object_get(doc, "timed_out")));
    json_t *fs = json_object_get(doc, "findings");
    ck_assert_uint_eq(json_array_size(fs), 1);
    json_t *f = json_array_get(fs, 0);
    ck_assert_str_eq(json_string_value(json_object_get(f, "kind")), "deadlock");
    ck_assert_str_eq(json_string_value(json_object_get(f, "summary")),
                     "2 threads wait on each other through 2 mutexes");
    ck_assert_uint_eq(json_array_size(json_object_get(f, "cycle")), 2);
    /* The two workers are the cycle, main waits behind it; each with its own function. */
    const char *want[] = { worker_a, worker_b, "main" };
    const char *role[] = { "cycle", "cycle", NULL };
    json_t *threads = json_object_get(f, "threads");
    ck_assert_uint_eq(json_array_size(threads), 3);
    for (size_t w = 0; w < 3; w++) {
        json_t *found = NULL;
        for (size_t i = 0; i < json_array_size(threads) && !found; i++) {
            json_t *t = json_array_get(threads, i);
            json_t *names = e2e_stack_function_names(json_object_get(t, "stack"));
            if (e2e_names_have(names, want[w]))
                found = t;
            json_decref(names);
        }
        ck_assert_msg(found != NULL, "no thread in %s:\n%s", want[w], out);
        if (role[w])
            ck_assert_str_eq(json_string_value(json_object_get(found, "role")), role[w]);
        else
            ck_assert_str_ne(json_string_value(json_object_get(found, "role")), "cycle");
    }
    json_decref(doc);
    free(out);
    free(err);
}

/* It clears LD_PRELOAD and re-execs itself. */
START_TEST(test_run_shim_timeout_attaches_to_a_program_that_dropped_the_shim)
{
    check_timeout_attach("att_reexec_cycle", "ship_worker", "bill_worker");
}
END_TEST

/* Linked statically: the shim never loads. */
START_TEST(test_run_shim_timeout_attaches_to_a_static_program)
{
    check_timeout_attach("att_static_cycle", "pack_worker", "label_worker");
}
END_TEST

/* The shim's header holds the command line: a long one makes a first line of several KiB, and
 * the report is still read (it was once taken for a file cut short). */
START_TEST(test_run_shim_reads_a_report_whose_header_holds_a_long_command_line)
{
    char prog[8192] = "dl_lock_inversion ";
    size_t n = strlen(prog);
    memset(prog + n, 'y', 6000);
    prog[n + 6000] = '\0';
    char *err = run_text(prog, NULL, 66);
    if (!err)
        return;
    ck_assert_msg(strstr(err, "error: deadlock in dl_lock_inversion"), "%s", err);
    ck_assert_msg(!strstr(err, "not a report"), "%s", err);
    free(err);
}
END_TEST

Suite *run_shim_suite(void)
{
    Suite *s = suite_create("run_shim");
    TCase *tc = tcase_create("shim");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_run_shim_stops_a_lock_inversion_and_names_the_functions);
    tcase_add_test(tc, test_run_shim_lets_a_healthy_program_through);
    tcase_add_test(tc, test_run_shim_pool_exhaustion_names_the_pool_and_the_task);
    tcase_add_test(tc, test_run_shim_annotated_pool_says_the_task_is_still_queued);
    tcase_add_test(tc, test_run_shim_queue_growth_shows_rates_and_the_submitter);
    tcase_add_test(tc, test_run_shim_inferred_pool_with_main_running_is_a_warning_and_not_stopped);
    tcase_add_test(tc, test_run_shim_lock_order_names_both_edges);
    tcase_add_test(tc, test_run_shim_stops_a_deadlock_in_a_forked_child);
    tcase_add_test(tc, test_run_shim_timeout_snapshot_shows_blocked_threads);
    tcase_add_test(tc, test_run_shim_timeout_attaches_to_a_program_that_dropped_the_shim);
    tcase_add_test(tc, test_run_shim_timeout_attaches_to_a_static_program);
    tcase_add_test(tc, test_run_shim_reads_a_report_whose_header_holds_a_long_command_line);
    suite_add_tcase(s, tc);
    return s;
}

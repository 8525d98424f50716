/*
 * Lock-order validation end to end: inversions that did not deadlock are reported when the program
 * ends normally, with every edge's threads and stacks; cycles taken by one thread are reported as
 * such; orders that cannot deadlock (a gate lock, a trylock, ordered by thread creation or join)
 * are not; a million distinct pairs are checked within the budget.
 */
#include "testlib.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* Runs prog to its end under the shim; returns its reports (caller frees) and checks its exit. */
static void run_to_end(const char *prog, struct e2e_run *r, struct e2e_reports *rs,
                       const char *const env[], const char *expect_out)
{
    e2e_run_init(r, prog);
    char path[PATH_MAX];
    tu_prog_path(path, sizeof path, prog);
    char *argv[] = { (char *)prog, NULL };
    e2e_run_start(r, path, argv, true, env);
    bool done = e2e_run_wait(r, 10000);
    e2e_run_kill(r);
    char *out = e2e_run_stdout(r);
    ck_assert_msg(done, "%s did not end by itself", prog);
    ck_assert_msg(WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0, "%s: status 0x%x", prog,
                  r->status);
    ck_assert_msg(strncmp(out, expect_out, strlen(expect_out)) == 0, "%s: stdout \"%s\"", prog,
                  out);
    free(out);
    e2e_reports_load(rs, r->reports);
}

/* One lock_order finding's order edges: each names two locks, a thread, where the first was taken,
 * and a stack holding one of `fns` (NULL-terminated); together the edges use every one of `fns`,
 * and come from `nthreads` threads; `single` is what its single_thread member must say. */
static void check_finding(const char *prog, struct e2e_report *rp, json_t *f, size_t nedges,
                          int nthreads, bool single, const char *const fns[])
{
    ck_assert_str_eq(json_string_value(json_object_get(f, "kind")), "lock_order");
    ck_assert_str_eq(json_string_value(json_object_get(f, "severity")), "warning");
    ck_assert_msg(json_is_boolean(json_object_get(f, "single_thread")) &&
                      json_is_true(json_object_get(f, "single_thread")) == single,
                  "%s: single_thread should be %d", prog, single);
    json_t *order = json_object_get(f, "order");
    ck_assert_uint_eq(json_array_size(order), nedges);
    char bin[PATH_MAX];
    tu_prog_path(bin, sizeof bin, prog);
    struct e2e_symtab st;
    e2e_symtab_load(&st, bin);
    json_int_t tids[8];
    int ntids = 0;
    unsigned used = 0;
    size_t i;
    json_t *e;
    json_array_foreach (order, i, e) {
        const char *a = json_string_value(json_object_get(json_object_get(e, "first"), "address"));
        const char *b = json_string_value(json_object_get(json_object_get(e, "then"), "address"));
        ck_assert_msg(a && b && strcmp(a, b), "%s: edge %zu has no two distinct locks", prog, i);
        /* Edges chain: each edge's second lock is the next edge's first. */
        json_t *next = json_array_get(order, (i + 1) % json_array_size(order));
        ck_assert_str_eq(b, json_string_value(
                                json_object_get(json_object_get(next, "first"), "address")));
        json_int_t tid = json_integer_value(json_object_get(e, "tid"));
        int dup = 0;
        for (int k = 0; k < ntids; k++)
            dup |= tids[k] == tid;
        if (!dup && ntids < 8)
            tids[ntids++] = tid;
        json_t *names =
            e2e_raw_stack_functions(rp->modules, json_object_get(e, "stack"), prog, &st);
        bool has = false;
        size_t j;
        json_t *n;
        json_array_foreach (names, j, n) {
            for (int k = 0; fns[k]; k++) {
                if (e2e_names_function(json_string_value(n), fns[k])) {
                    has = true;
                    used |= 1u << k;
                }
            }
        }
        char *dump = json_dumps(names, JSON_COMPACT);
        ck_assert_msg(has, "%s: edge %zu's stack has none of the expected functions: %s", prog, i,
                      dump);
        free(dump);
        json_decref(names);
        ck_assert_msg(json_string_value(json_object_get(e, "first_pc")), "%s: no first_pc", prog);
        /* Where each lock was first taken in a pair is known to the shim. */
        ck_assert_msg(json_string_value(
                          json_object_get(json_object_get(e, "first"), "first_taken_pc")),
                      "%s: edge %zu: no first_taken_pc", prog, i);
    }
    ck_assert_int_eq(ntids, nthreads);
    for (int k = 0; fns[k]; k++)
        ck_assert_msg(used & (1u << k), "%s: no edge's stack shows %s", prog, fns[k]);
    e2e_symtab_free(&st);
}

/* The run's only finding is a lock_order one as check_finding describes. */
static void check_order(const char *prog, struct e2e_reports *rs, size_t nedges, int nthreads,
                        const char *const fns[])
{
    char all[2048];
    e2e_describe_findings(rs, all, sizeof all);
    ck_assert_msg(e2e_reports_count_findings(rs) == 1, "%s: %zu findings: %s", prog,
                  e2e_reports_count_findings(rs), all);
    struct e2e_report *rp = e2e_reports_with_finding(rs);
    check_finding(prog, rp, json_array_get(rp->findings, 0), nedges, nthreads, nthreads == 1, fns);
}

static void check_silent(const char *prog, const char *const env[], const char *out)
{
    struct e2e_run r;
    struct e2e_reports rs;
    run_to_end(prog, &r, &rs, env, out);
    char all[2048];
    e2e_describe_findings(&rs, all, sizeof all);
    ck_assert_msg(e2e_reports_count_findings(&rs) == 0, "%s: findings: %s", prog, all);
    e2e_reports_free(&rs);
    tu_rmtree(r.work);
}

START_TEST(test_lockorder_inversion_without_deadlock_is_reported_with_both_stacks)
{
    struct e2e_run r;
    struct e2e_reports rs;
    run_to_end("lo_inversion", &r, &rs, NULL, "lo_inversion: balance 0\n");
    static const char *const fns[] = { "take_b_while_holding_a", "take_a_while_holding_b", NULL };
    check_order("lo_inversion", &rs, 2, 2, fns);
    e2e_reports_free(&rs);
    tu_rmtree(r.work);
}
END_TEST

/* A spin lock and a mutex in opposite orders (TSan's deadlock stress test, spin-lock build). */
START_TEST(test_lockorder_spin_locks_are_ordered_like_mutexes)
{
    struct e2e_run r;
    struct e2e_reports rs;
    run_to_end("lo_spin", &r, &rs, NULL, "lo_spin: counter 0\n");
    static const char *const fns[] = { "take_mutex_while_spinning", "take_spin_while_holding_mutex",
                                       NULL };
    check_order("lo_spin", &rs, 2, 2, fns);
    char *dump =
        json_dumps(json_array_get(e2e_reports_with_finding(&rs)->findings, 0), JSON_COMPACT);
    ck_assert_msg(strstr(dump, "\"spinlock\""), "no spinlock kind in the finding: %.1500s", dump);
    free(dump);
    e2e_reports_free(&rs);
    tu_rmtree(r.work);
}
END_TEST

START_TEST(test_lockorder_three_lock_cycle_across_three_threads)
{
    struct e2e_run r;
    struct e2e_reports rs;
    run_to_end("lo_ring3", &r, &rs, NULL, "lo_ring3: done\n");
    static const char *const fns[] = { "take_next_while_holding", NULL };
    check_order("lo_ring3", &rs, 3, 3, fns);
    e2e_reports_free(&rs);
    tu_rmtree(r.work);
}
END_TEST

/* A three-lock ring, then a two-lock inversion whose locks the ring's pairs had placed in the
 * graph's order: both are reported. */
START_TEST(test_lockorder_inversion_after_a_ring_is_still_reported)
{
    struct e2e_run r;
    struct e2e_reports rs;
    run_to_end("lo_after_merge", &r, &rs, NULL, "lo_after_merge: done\n");
    char all[2048];
    e2e_describe_findings(&rs, all, sizeof all);
    ck_assert_msg(e2e_reports_count_findings(&rs) == 2, "%zu findings: %s",
                  e2e_reports_count_findings(&rs), all);
    struct e2e_report *rp = e2e_reports_with_finding(&rs);
    static const char *const fns[] = { "take_second_while_holding_first", NULL };
    check_finding("lo_after_merge", rp, json_array_get(rp->findings, 0), 3, 3, false, fns);
    check_finding("lo_after_merge", rp, json_array_get(rp->findings, 1), 2, 2, false, fns);
    e2e_reports_free(&rs);
    tu_rmtree(r.work);
}
END_TEST

START_TEST(test_lockorder_gate_trylock_and_reuse_are_not_reported)
{
    const char *env[] = { "POOLGUARD_LOCK_ORDER_SINGLE_THREAD=0", NULL };
    check_silent("ok_lo_orders", env, "ok_lo_orders: ");
}
END_TEST

/* The same program by default: exactly the one-thread phase shows, as a one-thread finding, which
 * also proves the other phases are silenced by their own rule, not by chance. */
START_TEST(test_lockorder_single_thread_orders_are_reported_by_default)
{
    struct e2e_run r;
    struct e2e_reports rs;
    run_to_end("ok_lo_orders", &r, &rs, NULL, "ok_lo_orders: ");
    static const char *const fns[] = { "one_thread_both_orders", NULL };
    check_order("ok_lo_orders", &rs, 2, 1, fns);
    e2e_reports_free(&rs);
    tu_rmtree(r.work);
}
END_TEST

/* Rings of 2, 5 and 20 locks taken by one thread (Helgrind tc13/tc15, TSan mutex_cycle_long). */
START_TEST(test_lockorder_one_thread_rings_of_2_5_and_20_locks)
{
    struct e2e_run r;
    struct e2e_reports rs;
    run_to_end("lo_single_cycles", &r, &rs, NULL, "lo_single_cycles: done\n");
    char all[2048];
    e2e_describe_findings(&rs, all, sizeof all);
    ck_assert_msg(e2e_reports_count_findings(&rs) == 3, "%zu findings: %s",
                  e2e_reports_count_findings(&rs), all);
    struct e2e_report *rp = e2e_reports_with_finding(&rs);
    static const char *const f2[] = { "ring_of_2", NULL }, *const f5[] = { "ring_of_5", NULL },
                             *const f20[] = { "ring_of_20", NULL };
    const char *const *want[] = { f2, f5, f20 };
    size_t sizes[] = { 2, 5, 20 };
    bool seen[3] = { false, false, false };
    size_t i;
    json_t *f;
    json_array_foreach (rp->findings, i, f) {
        size_t n = json_array_size(json_object_get(f, "order"));
        for (int k = 0; k < 3; k++) {
            if (n != sizes[k])
                continue;
            check_finding("lo_single_cycles", rp, f, n, 1, true, want[k]);
            seen[k] = true;
        }
    }
    ck_assert_msg(seen[0] && seen[1] && seen[2], "rings found: %d %d %d: %s", seen[0], seen[1],
                  seen[2], all);
    e2e_reports_free(&rs);
    tu_rmtree(r.work);
}
END_TEST

/* A cycle first seen in one thread (dismissed: one-thread findings off) is looked at again when a
 * second thread takes one of its orders 300 ms later. */
START_TEST(test_lockorder_late_second_thread_is_reported)
{
    struct e2e_run r;
    struct e2e_reports rs;
    const char *env[] = { "POOLGUARD_LOCK_ORDER_SINGLE_THREAD=0", NULL };
    run_to_end("lo_late_thread", &r, &rs, env, "lo_late_thread: done\n");
    static const char *const fns[] = { "main_takes_both_orders", "worker_takes_a_then_b_late",
                                       NULL };
    check_order("lo_late_thread", &rs, 2, 2, fns);
    e2e_reports_free(&rs);
    tu_rmtree(r.work);
}
END_TEST

/* By default the same run says both: the one-thread cycle first, the two-thread one later. */
START_TEST(test_lockorder_late_second_thread_follows_one_thread_finding)
{
    struct e2e_run r;
    struct e2e_reports rs;
    run_to_end("lo_late_thread", &r, &rs, NULL, "lo_late_thread: done\n");
    char all[2048];
    e2e_describe_findings(&rs, all, sizeof all);
    ck_assert_msg(e2e_reports_count_findings(&rs) == 2, "%zu findings: %s",
                  e2e_reports_count_findings(&rs), all);
    struct e2e_report *rp = e2e_reports_with_finding(&rs);
    static const char *const one[] = { "main_takes_both_orders", NULL };
    static const char *const two[] = { "main_takes_both_orders", "worker_takes_a_then_b_late",
                                       NULL };
    check_finding("lo_late_thread", rp, json_array_get(rp->findings, 0), 2, 1, true, one);
    check_finding("lo_late_thread", rp, json_array_get(rp->findings, 1), 2, 2, false, two);
    e2e_reports_free(&rs);
    tu_rmtree(r.work);
}
END_TEST

START_TEST(test_lockorder_inversion_ordered_by_join_is_not_reported)
{
    check_silent("ok_lo_join_ordered", NULL, "ok_lo_join_ordered: done\n");
}
END_TEST

START_TEST(test_lockorder_inversion_ordered_by_create_is_not_reported)
{
    check_silent("ok_lo_create_ordered", NULL, "ok_lo_create_ordered: done\n");
}
END_TEST

/* 1,000,405 distinct pairs in one order, then one inversion: found, and nothing dropped. */
START_TEST(test_lockorder_million_pairs_are_all_checked)
{
    struct e2e_run r;
    struct e2e_reports rs;
    run_to_end("lo_million", &r, &rs, NULL, "lo_million: 1000405 pairs\n");
    char *err = e2e_run_stderr(&r);
    ck_assert_msg(!strstr(err, "budget") && !strstr(err, "full"), "stderr: %s", err);
    free(err);
    static const char *const fns[] = { "take_every_pair_in_order", "take_first_while_holding_last",
                                       NULL };
    check_order("lo_million", &rs, 2, 2, fns);
    e2e_reports_free(&rs);
    tu_rmtree(r.work);
}
END_TEST

START_TEST(test_lockorder_switch_off_reports_nothing)
{
    struct e2e_run r;
    struct e2e_reports rs;
    const char *env[] = { "POOLGUARD_LOCK_ORDER=0", NULL };
    run_to_end("lo_inversion", &r, &rs, env, "lo_inversion: balance 0\n");
    ck_assert_uint_eq(e2e_reports_count_findings(&rs), 0);
    e2e_reports_free(&rs);
    tu_rmtree(r.work);
}
END_TEST

/* ----- blocked for ever: programs run under a time limit and killed once reported ----- */

/* Runs prog until a report holds a finding (5 s at most), kills it, loads its reports. */
static void run_to_finding(const char *prog, struct e2e_run *r, struct e2e_reports *rs,
                           const char *first)
{
    e2e_run_init(r, prog);
    char path[PATH_MAX];
    tu_prog_path(path, sizeof path, prog);
    char *argv[] = { (char *)prog, NULL };
    e2e_run_start(r, path, argv, true, NULL);
    ck_assert_msg(e2e_wait_for_output(r, first, 5000), "%s did not start", prog);
    bool found = e2e_wait_for_finding(r, 5000);
    e2e_run_kill(r);
    ck_assert_msg(found, "%s: no finding within 5 s", prog);
    e2e_reports_load(rs, r->reports);
}

/* Does the raw stack name fn? */
static bool stack_has(struct e2e_report *rp, json_t *stack, const char *prog, const char *fn)
{
    char bin[PATH_MAX];
    tu_prog_path(bin, sizeof bin, prog);
    struct e2e_symtab st;
    e2e_symtab_load(&st, bin);
    json_t *names = e2e_raw_stack_functions(rp->modules, stack, prog, &st);
    bool has = e2e_names_have(names, fn);
    json_decref(names);
    e2e_symtab_free(&st);
    return has;
}

START_TEST(test_blocked_cond_destroy_is_part_of_the_hang)
{
    struct e2e_run r;
    struct e2e_reports rs;
    run_to_finding("dl_cond_destroy", &r, &rs, "dl_cond_destroy: start\n");
    char all[2048];
    e2e_describe_findings(&rs, all, sizeof all);
    ck_assert_msg(e2e_reports_count_findings(&rs) == 1, "findings: %s", all);
    struct e2e_report *rp = e2e_reports_with_finding(&rs);
    json_t *f = json_array_get(rp->findings, 0);
    ck_assert_str_eq(json_string_value(json_object_get(f, "kind")), "deadlock");
    ck_assert_str_eq(json_string_value(json_object_get(f, "severity")), "error");
    json_t *threads = json_object_get(f, "threads");
    ck_assert_uint_eq(json_array_size(threads), 2);
    bool destroyer = false, waiter = false;
    size_t i;
    json_t *t;
    json_array_foreach (threads, i, t) {
        const char *kind =
            json_string_value(json_object_get(json_object_get(t, "blocked_on"), "kind"));
        json_t *stack = json_object_get(t, "stack");
        if (kind && strcmp(kind, "cond_destroy") == 0) {
            destroyer = json_is_true(json_object_get(t, "main")) &&
                        stack_has(rp, stack, "dl_cond_destroy", "destroy_while_waited_on");
        } else if (kind && strcmp(kind, "cond") == 0) {
            waiter = stack_has(rp, stack, "dl_cond_destroy", "wait_for_nothing");
        }
    }
    ck_assert_msg(destroyer && waiter, "destroyer %d waiter %d: %s", destroyer, waiter, all);
    e2e_reports_free(&rs);
    tu_rmtree(r.work);
}
END_TEST

START_TEST(test_abandoned_lock_names_the_exited_owner_and_where_it_took_it)
{
    struct e2e_run r;
    struct e2e_reports rs;
    run_to_finding("dl_owner_exited", &r, &rs, "dl_owner_exited: start\n");
    char all[2048];
    e2e_describe_findings(&rs, all, sizeof all);
    ck_assert_msg(e2e_reports_count_findings(&rs) == 1, "findings: %s", all);
    struct e2e_report *rp = e2e_reports_with_finding(&rs);
    json_t *f = json_array_get(rp->findings, 0);
    ck_assert_str_eq(json_string_value(json_object_get(f, "kind")), "deadlock");
    ck_assert_str_eq(json_string_value(json_object_get(f, "severity")), "error");
    ck_assert(json_is_true(json_object_get(f, "abandoned")));
    json_t *owner = json_object_get(f, "owner");
    ck_assert_msg(owner, "no owner: %s", all);
    json_t *t = json_array_get(json_object_get(f, "threads"), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(owner, "tid")),
                     json_integer_value(
                         json_object_get(json_object_get(t, "blocked_on"), "owner")));
    ck_assert_str_eq(json_string_value(json_object_get(owner, "name")), "locker");
    ck_assert(json_is_true(json_object_get(owner, "exited")));
    json_t *sr = json_array(), *start = json_object_get(owner, "start_routine");
    json_array_append(sr, start);
    /* A start routine is a function's address, not a return address: look up addr + 1. */
    unsigned long a = 0;
    ck_assert(e2e_parse_addr(start, &a));
    char plus1[32];
    snprintf(plus1, sizeof plus1, "0x%lx", a + 1);
    json_array_set_new(sr, 0, json_string(plus1));
    ck_assert_msg(stack_has(rp, sr, "dl_owner_exited", "locker"), "start routine is not locker");
    json_decref(sr);
    ck_assert_msg(stack_has(rp, json_object_get(owner, "stack"), "dl_owner_exited",
                            "take_lock_and_return"),
                  "the owner's stack does not show where it took the lock: %s", all);
    ck_assert(
        stack_has(rp, json_object_get(t, "stack"), "dl_owner_exited", "wait_for_abandoned_lock"));
    e2e_reports_free(&rs);
    tu_rmtree(r.work);
}
END_TEST

Suite *lockorder_suite(void)
{
    Suite *s = suite_create("lockorder");
    TCase *tc = tcase_create("orders");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_lockorder_inversion_without_deadlock_is_reported_with_both_stacks);
    tcase_add_test(tc, test_lockorder_three_lock_cycle_across_three_threads);
    tcase_add_test(tc, test_lockorder_inversion_after_a_ring_is_still_reported);
    tcase_add_test(tc, test_lockorder_spin_locks_are_ordered_like_mutexes);
    tcase_add_test(tc, test_lockorder_gate_trylock_and_reuse_are_not_reported);
    tcase_add_test(tc, test_lockorder_single_thread_orders_are_reported_by_default);
    tcase_add_test(tc, test_lockorder_one_thread_rings_of_2_5_and_20_locks);
    tcase_add_test(tc, test_lockorder_late_second_thread_is_reported);
    tcase_add_test(tc, test_lockorder_late_second_thread_follows_one_thread_finding);
    tcase_add_test(tc, test_lockorder_inversion_ordered_by_join_is_not_reported);
    tcase_add_test(tc, test_lockorder_inversion_ordered_by_create_is_not_reported);
    tcase_add_test(tc, test_lockorder_million_pairs_are_all_checked);
    tcase_add_test(tc, test_lockorder_switch_off_reports_nothing);
    suite_add_tcase(s, tc);
    TCase *bl = tcase_create("blocked");
    tcase_set_timeout(bl, 30);
    tcase_add_test(bl, test_blocked_cond_destroy_is_part_of_the_hang);
    tcase_add_test(bl, test_abandoned_lock_names_the_exited_owner_and_where_it_took_it);
    suite_add_tcase(s, bl);
    return s;
}

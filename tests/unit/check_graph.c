/*
 * The wait-for graph solver (shim/detect/graph.c): what it proves stuck, how it groups findings, and,
 * as importantly, what it refuses to prove.
 */
#include <check.h>
#include <string.h>

#include "graph.h"

#define N 64
static struct pg_gnode nodes[N];
static struct pg_gfinding out[16];

static void reset(void)
{
    memset(nodes, 0, sizeof nodes);
}

/* Thread a waits for the specific thread(s) listed (node indices or PG_GW_*). */
static void waits(int a, int w)
{
    nodes[a].blocked = 1;
    nodes[a].wakers[nodes[a].nwakers++] = w;
}

static void waits_any(int a)
{
    nodes[a].blocked = 1;
    nodes[a].any = 1;
}

START_TEST(test_graph_finds_two_thread_cycle)
{
    reset();
    waits(0, 1);
    waits(1, 0);
    int nf = pg_graph_solve(nodes, 2, 0, out, 16);
    ck_assert_int_eq(nf, 1);
    ck_assert_int_eq(out[0].kind, PG_GF_CYCLE);
    ck_assert_int_eq(out[0].ncycle, 2);
    ck_assert_int_eq(out[0].nmembers, 2);
    ck_assert_int_eq(nodes[0].cycle_next, 1);
    ck_assert_int_eq(nodes[1].cycle_next, 0);
}
END_TEST

START_TEST(test_graph_finds_three_thread_cycle_with_a_running_bystander)
{
    reset();
    waits(0, 1);
    waits(1, 2);
    waits(2, 0);
    /* Node 3 runs: it has nothing to do with the ring and must not prevent its proof. */
    int nf = pg_graph_solve(nodes, 4, 0, out, 16);
    ck_assert_int_eq(nf, 1);
    ck_assert_int_eq(out[0].ncycle, 3);
    ck_assert_int_eq(nodes[3].stuck, 0);
    ck_assert_int_eq(nodes[3].finding, -1);
}
END_TEST

START_TEST(test_graph_finds_long_cycle)
{
    reset();
    for (int i = 0; i < 50; i++)
        waits(i, (i + 1) % 50);
    int nf = pg_graph_solve(nodes, 50, 0, out, 16);
    ck_assert_int_eq(nf, 1);
    ck_assert_int_eq(out[0].ncycle, 50);
    int x = out[0].start, len = 0;
    do {
        x = nodes[x].cycle_next;
        len++;
    } while (x != out[0].start && len <= 50);
    ck_assert_int_eq(len, 50);
}
END_TEST

START_TEST(test_graph_self_wait_is_a_cycle_of_one)
{
    reset();
    waits(0, 0);
    int nf = pg_graph_solve(nodes, 2, 0, out, 16);
    ck_assert_int_eq(nf, 1);
    ck_assert_int_eq(out[0].kind, PG_GF_CYCLE);
    ck_assert_int_eq(out[0].ncycle, 1);
}
END_TEST

START_TEST(test_graph_no_cycle_while_an_owner_runs)
{
    reset();
    waits(0, 1);
    waits(1, 2); /* 2 is running: it will release, and the chain unwinds */
    int nf = pg_graph_solve(nodes, 3, 1, out, 16);
    ck_assert_int_eq(nf, 0);
    ck_assert_int_eq(nodes[0].stuck, 0);
    ck_assert_int_eq(nodes[1].stuck, 0);
}
END_TEST

START_TEST(test_graph_untracked_waker_prevents_proof)
{
    reset();
    waits(0, 1);
    waits(1, PG_GW_UNTRACKED);
    ck_assert_int_eq(pg_graph_solve(nodes, 2, 0, out, 16), 0);
}
END_TEST

START_TEST(test_graph_writer_waits_for_every_reader)
{
    reset();
    /* 0 waits to write; 1 and 2 hold it for reading. 1 waits for 0 (a cycle), 2 runs. */
    waits(0, 1);
    nodes[0].wakers[nodes[0].nwakers++] = 2;
    waits(1, 0);
    ck_assert_int_eq(pg_graph_solve(nodes, 3, 0, out, 16), 0);
    /* Now 2 blocks on 1 as well: everything is stuck. */
    waits(2, 1);
    int nf = pg_graph_solve(nodes, 3, 0, out, 16);
    ck_assert_int_eq(nf, 1);
    ck_assert_int_eq(out[0].nmembers, 3);
}
END_TEST

START_TEST(test_graph_threads_behind_a_cycle_join_it)
{
    reset();
    waits(0, 1);
    waits(1, 0);
    waits(2, 0); /* waits on a lock held by a deadlocked thread */
    waits(3, 2);
    int nf = pg_graph_solve(nodes, 4, 0, out, 16);
    ck_assert_int_eq(nf, 1);
    ck_assert_int_eq(out[0].nmembers, 4);
    ck_assert_int_eq(nodes[2].finding, 0);
    ck_assert_int_eq(nodes[2].cycle_next, -1);
    ck_assert_int_eq(nodes[2].waits_for, 0);
    ck_assert_int_eq(nodes[3].waits_for, 2);
}
END_TEST

START_TEST(test_graph_two_separate_cycles_are_two_findings)
{
    reset();
    waits(0, 1);
    waits(1, 0);
    waits(2, 3);
    waits(3, 2);
    ck_assert_int_eq(pg_graph_solve(nodes, 5, 0, out, 16), 2);
    ck_assert_int_ne(nodes[0].finding, nodes[2].finding);
}
END_TEST

START_TEST(test_graph_dead_owner_is_abandoned_lock)
{
    reset();
    waits(0, PG_GW_DEAD);
    waits(1, 0);
    int nf = pg_graph_solve(nodes, 3, 0, out, 16);
    ck_assert_int_eq(nf, 1);
    ck_assert_int_eq(out[0].kind, PG_GF_ABANDONED);
    ck_assert_int_eq(out[0].start, 0);
    ck_assert_int_eq(out[0].nmembers, 2);
}
END_TEST

START_TEST(test_graph_hang_needs_every_thread_and_a_complete_view)
{
    reset();
    waits_any(0);
    waits_any(1);
    waits(2, 0); /* joins a hung thread */
    /* The caller could not prove it sees every thread: nothing. */
    ck_assert_int_eq(pg_graph_solve(nodes, 3, 0, out, 16), 0);
    int nf = pg_graph_solve(nodes, 3, 1, out, 16);
    ck_assert_int_eq(nf, 1);
    ck_assert_int_eq(out[0].kind, PG_GF_HANG);
    ck_assert_int_eq(out[0].nmembers, 3);
}
END_TEST

START_TEST(test_graph_condvar_waiters_with_one_runner_are_fine)
{
    reset();
    for (int i = 0; i < 10; i++)
        waits_any(i);
    /* Node 10 runs (a producer): every waiter may be signalled. */
    ck_assert_int_eq(pg_graph_solve(nodes, 11, 1, out, 16), 0);
    for (int i = 0; i < 11; i++)
        ck_assert_int_eq(nodes[i].stuck, 0);
}
END_TEST

START_TEST(test_graph_cycle_explains_a_hang_in_one_finding)
{
    reset();
    waits(0, 1);
    waits(1, 0);
    waits_any(2); /* a condvar waiter the cycle threads would have signalled */
    int nf = pg_graph_solve(nodes, 3, 1, out, 16);
    ck_assert_int_eq(nf, 1);
    ck_assert_int_eq(out[0].kind, PG_GF_CYCLE);
    ck_assert_int_eq(nodes[2].finding, 0);
}
END_TEST

START_TEST(test_graph_respects_max_findings)
{
    reset();
    for (int i = 0; i < 20; i += 2) {
        waits(i, i + 1);
        waits(i + 1, i);
    }
    ck_assert_int_eq(pg_graph_solve(nodes, 20, 0, out, 3), 3);
}
END_TEST

Suite *graph_suite(void)
{
    Suite *s = suite_create("graph");
    TCase *tc = tcase_create("solve");
    tcase_add_test(tc, test_graph_finds_two_thread_cycle);
    tcase_add_test(tc, test_graph_finds_three_thread_cycle_with_a_running_bystander);
    tcase_add_test(tc, test_graph_finds_long_cycle);
    tcase_add_test(tc, test_graph_self_wait_is_a_cycle_of_one);
    tcase_add_test(tc, test_graph_no_cycle_while_an_owner_runs);
    tcase_add_test(tc, test_graph_untracked_waker_prevents_proof);
    tcase_add_test(tc, test_graph_writer_waits_for_every_reader);
    tcase_add_test(tc, test_graph_threads_behind_a_cycle_join_it);
    tcase_add_test(tc, test_graph_two_separate_cycles_are_two_findings);
    tcase_add_test(tc, test_graph_dead_owner_is_abandoned_lock);
    tcase_add_test(tc, test_graph_hang_needs_every_thread_and_a_complete_view);
    tcase_add_test(tc, test_graph_condvar_waiters_with_one_runner_are_fine);
    tcase_add_test(tc, test_graph_cycle_explains_a_hang_in_one_finding);
    tcase_add_test(tc, test_graph_respects_max_findings);
    suite_add_tcase(s, tc);
    return s;
}

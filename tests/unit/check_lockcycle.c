/*
 * The lock-order graph (shim/detect/lockcycle.c), driven directly with pairs made up by hand
 * (lockcycle_util.h): what is a cycle and how it is read (from the pair recorded first, along the
 * order), down to a brute-force search over random orders. Which cycles are reported, once, and
 * within which limits is check_lockcycle_judge.c (docs/lock-order.md, "When a cycle is reported").
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "lockcycle_util.h"

/* ----- what is a cycle ----- */

START_TEST(test_lockcycle_two_lock_inversion_by_two_threads_is_reported)
{
    uint32_t ab = pair_by(A, B, 1, 1), ba = pair_by(B, A, 2, 2);
    ck_assert_int_eq(see(ab), PG_LC_NO_CYCLE);
    ck_assert_int_eq(see(ba), PG_LC_MULTI);
    assert_chain(2);
    ck_assert_uint_eq(lc.edge[0], ab); /* from the pair recorded first */
    ck_assert_uint_eq(lc.edge[1], ba);
    ck_assert_uint_eq(picked_thread(0), 1);
    ck_assert_uint_eq(picked_thread(1), 2);
}
END_TEST

START_TEST(test_lockcycle_three_lock_cycle_reads_from_the_first_pair_recorded)
{
    /* C -> A recorded first, but the cycle is closed by B -> C, the last one. */
    uint32_t ca = pair_by(C, A, 3, 3), ab = pair_by(A, B, 1, 1), bc = pair_by(B, C, 2, 2);
    ck_assert_int_eq(see(ca), PG_LC_NO_CYCLE);
    ck_assert_int_eq(see(ab), PG_LC_NO_CYCLE);
    ck_assert_int_eq(see(bc), PG_LC_MULTI);
    assert_chain(3);
    ck_assert_uint_eq(lc.edge[0], ca);
    ck_assert_uint_eq(lc.edge[1], ab);
    ck_assert_uint_eq(lc.edge[2], bc);
}
END_TEST

START_TEST(test_lockcycle_shortest_cycle_through_the_new_pair_is_chosen)
{
    /* A -> B -> C -> D, and A -> D; then D -> A closes both A -> D -> A (2 pairs) and
     * A -> B -> C -> D -> A (4). */
    uint32_t e[] = { pair_by(A, B, 1, 1), pair_by(B, C, 1, 1), pair_by(C, D, 1, 1),
                     pair_by(A, D, 1, 1) };
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(see(e[i]), PG_LC_NO_CYCLE);
    uint32_t da = pair_by(D, A, 2, 2);
    ck_assert_int_eq(see(da), PG_LC_MULTI);
    assert_chain(2);
    ck_assert_uint_eq(lc.edge[0], e[3]);
    ck_assert_uint_eq(lc.edge[1], da);
}
END_TEST

START_TEST(test_lockcycle_orders_consistent_with_one_order_are_never_a_cycle)
{
    /* Every pair i -> j with i < j among 12 locks, from many threads, in a scrambled order: the
     * graph has to keep reordering its locks (each is placed where first seen) and find nothing. */
    uint32_t n = 0;
    for (uintptr_t i = 0; i < 12; i++)
        for (uintptr_t j = i + 1; j < 12; j++, n++) {
            uint32_t thr = (uint32_t)(i + j) % 5 + 1;
            pair_by(0x100 * (i + 1), 0x100 * (j + 1), thr, thr);
        }
    ck_assert_uint_eq(n, 66);
    for (uint32_t k = 0; k < n; k++)
        ck_assert_int_eq(see((k * 37 + 5) % n), PG_LC_NO_CYCLE); /* 37, 66 coprime: each once */
    /* Looked at again (new threads on known pairs): still nothing. */
    for (uint32_t k = 0; k < n; k++)
        ck_assert_int_eq(see(k), PG_LC_NO_CYCLE);
    /* One pair against that order: a cycle, found. */
    uint32_t back = pair_by(0x100 * 12, 0x100 * 1, 9, 9);
    ck_assert_int_eq(see(back), PG_LC_MULTI);
    assert_chain(2);
}
END_TEST

START_TEST(test_lockcycle_pairs_added_against_the_order_reorder_it)
{
    /* L5 -> L6 first, then L4 -> L5, ..., L1 -> L2 (threads 5 .. 1): each new pair goes against
     * the order the locks were first seen in, so each one reorders. L2 -> L4 then agrees with the
     * order; L6 -> L1 closes L1 -> L2 -> L4 -> L5 -> L6 -> L1, the shortest way round. */
    uint32_t chain[5];
    for (int i = 4; i >= 0; i--) {
        uint32_t thr = (uint32_t)i + 1;
        chain[i] = pair_by(0x100 * (uintptr_t)(i + 1), 0x100 * (uintptr_t)(i + 2), thr, thr);
        ck_assert_int_eq(see(chain[i]), PG_LC_NO_CYCLE);
    }
    uint32_t skip = pair_by(0x200, 0x400, 7, 7);
    ck_assert_int_eq(see(skip), PG_LC_NO_CYCLE);
    uint32_t back = pair_by(0x600, 0x100, 6, 6);
    ck_assert_int_eq(see(back), PG_LC_MULTI);
    assert_chain(5);
    ck_assert_uint_eq(lc.edge[0], chain[4]); /* the first recorded: L5 -> L6 */
    ck_assert_uint_eq(lc.edge[1], back);
    ck_assert_uint_eq(lc.edge[2], chain[0]);
    ck_assert_uint_eq(lc.edge[3], skip);
    ck_assert_uint_eq(lc.edge[4], chain[3]);
}
END_TEST

START_TEST(test_lockcycle_two_cycles_merged_then_a_third_through_both)
{
    /* A <-> B (thread 1) and C <-> D (thread 4) are two components (two one-thread cycles,
     * reported); B -> C then joins them in order; D -> A closes A -> B -> C -> D -> A across
     * them. */
    ck_assert_int_eq(see(pair_by(A, B, 1, 1)), PG_LC_NO_CYCLE);
    ck_assert_int_eq(see(pair_by(B, A, 1, 1)), PG_LC_SINGLE);
    ck_assert_int_eq(see(pair_by(D, C, 4, 4)), PG_LC_NO_CYCLE);
    ck_assert_int_eq(see(pair_by(C, D, 4, 4)), PG_LC_SINGLE);
    ck_assert_int_eq(see(pair_by(B, C, 2, 2)), PG_LC_NO_CYCLE);
    ck_assert_int_eq(see(pair_by(D, A, 3, 3)), PG_LC_MULTI);
    assert_chain(4);
}
END_TEST

START_TEST(test_lockcycle_merging_a_cycle_keeps_the_order_of_the_locks_after_it)
{
    /* B -> A closes A -> C -> B -> A; D comes after C, and E before D. The merge must not move D
     * before E: then D -> E would look like it follows the order, and the E / D inversion would
     * never be found. */
    uint32_t e[] = { pair_by(A, C, 1, 1), pair_by(0x5000, D, 2, 2), pair_by(C, D, 3, 3),
                     pair_by(C, B, 4, 4) };
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(see(e[i]), PG_LC_NO_CYCLE);
    ck_assert_int_eq(see(pair_by(B, A, 5, 5)), PG_LC_MULTI);
    assert_chain(3);
    uint32_t de = pair_by(D, 0x5000, 6, 6);
    ck_assert_int_eq(see(de), PG_LC_MULTI);
    assert_chain(2);
    ck_assert_uint_eq(lc.edge[0], e[1]);
    ck_assert_uint_eq(lc.edge[1], de);
}
END_TEST

/* Pairs (b, a) reachable in the pairs made so far: the length of the shortest path from b to a,
 * or -1. By brute force, over a matrix. */
#define RN 24
static int reach_dist(const uint8_t adj[RN][RN], int from, int to)
{
    int dist[RN], queue[RN], qh = 0, qt = 0;
    for (int i = 0; i < RN; i++)
        dist[i] = -1;
    dist[from] = 0;
    queue[qt++] = from;
    while (qh < qt) {
        int u = queue[qh++];
        for (int v = 0; v < RN; v++)
            if (adj[u][v] && dist[v] < 0) {
                dist[v] = dist[u] + 1;
                queue[qt++] = v;
            }
    }
    return dist[to];
}

START_TEST(test_lockcycle_random_orders_agree_with_a_brute_force_search)
{
    /* Rounds of random pairs among 24 locks, mostly along a hidden order (so the graph has to keep
     * reordering without finding anything), now and then against it. After each pair: a cycle is
     * found exactly when the pair's second lock leads back to its first, and it is a shortest
     * one. */
    uint32_t x = 12345;
#define RND(n) ((x = x * 1103515245u + 12345u) >> 16) % (n)
    for (int round = 0; round < 50; round++) {
        setup();
        uint8_t adj[RN][RN];
        memset(adj, 0, sizeof adj);
        int rank[RN];
        for (int i = 0; i < RN; i++)
            rank[i] = i;
        for (int i = RN - 1; i > 0; i--) {
            int j = (int)RND((uint32_t)i + 1), t = rank[i];
            rank[i] = rank[j];
            rank[j] = t;
        }
        for (int k = 0; k < 150; k++) {
            int a = (int)RND(RN), b = (int)RND(RN);
            if (a == b || adj[a][b] || ((rank[a] > rank[b]) != (RND(16) == 0)))
                continue;
            uint32_t thr = npairs + 1; /* a thread per pair, each in a segment of its own */
            uint32_t e = pair_by(0x40 * (uintptr_t)(a + 1), 0x40 * (uintptr_t)(b + 1), thr, thr);
            adj[a][b] = 1;
            int r = see(e), d = reach_dist(adj, b, a);
            if (d < 0) {
                ck_assert_msg(r == PG_LC_NO_CYCLE, "round %d pair %u: %d, no cycle", round, e, r);
                continue;
            }
            ck_assert_msg(r == PG_LC_MULTI || r == PG_LC_KNOWN, "round %d pair %u: %d, a cycle",
                          round, e, r);
            assert_chain(d + 1);
            int has = 0;
            for (int i = 0; i < lc.len; i++)
                has |= lc.edge[i] == e;
            ck_assert(has);
        }
    }
#undef RND
}
END_TEST

Suite *lockcycle_suite(void)
{
    Suite *s = suite_create("lockcycle");
    TCase *tc = tcase_create("cycles");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_lockcycle_two_lock_inversion_by_two_threads_is_reported);
    tcase_add_test(tc, test_lockcycle_three_lock_cycle_reads_from_the_first_pair_recorded);
    tcase_add_test(tc, test_lockcycle_shortest_cycle_through_the_new_pair_is_chosen);
    tcase_add_test(tc, test_lockcycle_orders_consistent_with_one_order_are_never_a_cycle);
    tcase_add_test(tc, test_lockcycle_pairs_added_against_the_order_reorder_it);
    tcase_add_test(tc, test_lockcycle_two_cycles_merged_then_a_third_through_both);
    tcase_add_test(tc, test_lockcycle_merging_a_cycle_keeps_the_order_of_the_locks_after_it);
    tcase_add_test(tc, test_lockcycle_random_orders_agree_with_a_brute_force_search);
    suite_add_tcase(s, tc);
    return s;
}

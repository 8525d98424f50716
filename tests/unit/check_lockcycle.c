/*
 * The lock-order graph (shim/detect/lockcycle.c), driven directly: pairs, threads, segments and
 * gates made up by hand, as the hooks would have recorded them. What is a cycle, how it is read
 * (from the pair recorded first, along the order), and which cycles are reported, once, and which
 * are not (docs/lock-order.md, "When a cycle is reported").
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "lockcycle.h"

#define MAX_EDGES 1024
#define MAX_NODES 1024
#define MAX_SEGS 1024

/* Locks by letter: any distinct addresses do. */
#define A 0x1000
#define B 0x2000
#define C 0x3000
#define D 0x4000
#define G 0x9000

static struct pg_lc lc;
static _Alignas(64) unsigned char mem[256 << 10];

/* The segments, as the hooks record them: predecessors by id, 0 for none; and the thread each
 * belongs to, to keep the tests' made-up histories possible. */
static uint32_t seg_pred[MAX_SEGS][2];
static uint32_t seg_thr[MAX_SEGS];

/* The pairs, as the hooks record them: locks, occurrences, gates. */
static struct {
    uintptr_t a, b;
    struct pg_lc_pair p;
} pairs[MAX_EDGES];
static uint32_t npairs;
static int single_wanted;

static void preds(void *arg, uint32_t seg, uint32_t *pred1, uint32_t *pred2)
{
    ck_assert_ptr_eq(arg, seg_pred);
    ck_assert_uint_lt(seg, MAX_SEGS);
    *pred1 = seg_pred[seg][0];
    *pred2 = seg_pred[seg][1];
}

static void setup_limits(uint32_t max_edges, uint32_t max_nodes, uint32_t max_segs)
{
    ck_assert_uint_le(pg_lc_mem_size(max_edges, max_nodes, max_segs), sizeof mem);
    memset(mem, 0, sizeof mem);
    memset(seg_pred, 0, sizeof seg_pred);
    memset(seg_thr, 0, sizeof seg_thr);
    memset(pairs, 0, sizeof pairs);
    npairs = 0;
    single_wanted = 1;
    ck_assert_int_eq(
        pg_lc_init(&lc, mem, sizeof mem, max_edges, max_nodes, max_segs, preds, seg_pred), 0);
}

static void setup(void)
{
    setup_limits(MAX_EDGES, MAX_NODES, MAX_SEGS);
}

/* A new pair: b taken while holding a. */
static uint32_t pair(uintptr_t a, uintptr_t b)
{
    ck_assert_uint_lt(npairs, MAX_EDGES);
    pairs[npairs].a = a;
    pairs[npairs].b = b;
    return npairs++;
}

/* Thread thr (0: "some other thread") took pair e in segment seg. */
static void took(uint32_t e, uint32_t thr, uint32_t seg)
{
    struct pg_lc_pair *p = &pairs[e].p;
    ck_assert_int_lt(p->ncand, PG_LC_CANDS);
    if (thr && seg < MAX_SEGS) {
        ck_assert_msg(!seg_thr[seg] || seg_thr[seg] == thr, "segment %u is thread %u's", seg,
                      seg_thr[seg]);
        seg_thr[seg] = thr;
    }
    p->cand[p->ncand++] = (struct pg_lc_cand){seg, thr};
}

/* A pair, taken once, by thread thr in segment seg. */
static uint32_t pair_by(uintptr_t a, uintptr_t b, uint32_t thr, uint32_t seg)
{
    uint32_t e = pair(a, b);
    took(e, thr, seg);
    return e;
}

static void gate(uint32_t e, uintptr_t lock)
{
    for (int g = 0; g < PG_LC_GATES; g++)
        if (!pairs[e].p.gates[g]) {
            pairs[e].p.gates[g] = lock;
            return;
        }
    ck_abort_msg("no room for a gate");
}

/* What the watchdog does with a pair to look at: add it, and judge the cycle it closes. */
static int see(uint32_t e)
{
    int r = pg_lc_add(&lc, e, pairs[e].a, 0, pairs[e].b, 0);
    if (r != PG_LC_CYCLE)
        return r;
    ck_assert_int_ge(lc.len, 2);
    for (int i = 0; i < lc.len; i++)
        lc.pair[i] = pairs[lc.edge[i]].p;
    return pg_lc_judge(&lc, single_wanted);
}

/* The cycle found reads as a chain: each pair's second lock is the next pair's first. */
static void assert_chain(int len)
{
    ck_assert_int_eq(lc.len, len);
    for (int i = 0; i < len; i++)
        ck_assert_uint_eq(pairs[lc.edge[i]].b, pairs[lc.edge[(i + 1) % len]].a);
}

static uint32_t picked_thread(int i)
{
    return lc.pair[i].cand[lc.pick[i]].thr;
}

/* ----- what is a cycle ----- */

START_TEST(test_lockcycle_two_lock_inversion_by_two_threads_is_reported)
{
    uint32_t ab = pair_by(A, B, 1, 1), ba = pair_by(B, A, 2, 2);
    ck_assert_int_eq(see(ab), PG_LC_NO_CYCLE);
    ck_assert_int_eq(see(ba), PG_LC_MULTI);
    assert_chain(2);
    ck_assert_uint_eq(lc.edge[0], ab);   /* from the pair recorded first */
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
    uint32_t e[] = {pair_by(A, B, 1, 1), pair_by(B, C, 1, 1), pair_by(C, D, 1, 1),
                    pair_by(A, D, 1, 1)};
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
        ck_assert_int_eq(see((k * 37 + 5) % n), PG_LC_NO_CYCLE);   /* 37, 66 coprime: each once */
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
    ck_assert_uint_eq(lc.edge[0], chain[4]);   /* the first recorded: L5 -> L6 */
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
    uint32_t e[] = {pair_by(A, C, 1, 1), pair_by(0x5000, D, 2, 2), pair_by(C, D, 3, 3),
                    pair_by(C, B, 4, 4)};
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
            uint32_t thr = npairs + 1;   /* a thread per pair, each in a segment of its own */
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

/* ----- which cycles are reported ----- */

START_TEST(test_lockcycle_gate_held_by_both_sides_suppresses_the_cycle)
{
    uint32_t ab = pair_by(A, B, 1, 1), ba = pair_by(B, A, 2, 2);
    gate(ab, C);
    gate(ab, G);
    gate(ba, G);
    ck_assert_int_eq(see(ab), PG_LC_NO_CYCLE);
    ck_assert_int_eq(see(ba), PG_LC_GATED);
}
END_TEST

START_TEST(test_lockcycle_gate_on_one_side_only_does_not)
{
    uint32_t ab = pair_by(A, B, 1, 1), ba = pair_by(B, A, 2, 2);
    gate(ab, G);
    gate(ba, C);
    ck_assert_int_eq(see(ab), PG_LC_NO_CYCLE);
    ck_assert_int_eq(see(ba), PG_LC_MULTI);
}
END_TEST

START_TEST(test_lockcycle_inversion_after_a_join_is_ordered)
{
    /* Thread 1 (segment 1) creates thread 2 (segment 2) and goes on in segment 3; thread 2 takes
     * B then A; thread 1 joins it, and in its next segment (4: after 3, and after 2 by the join)
     * takes A then B. */
    seg_pred[2][0] = 1;
    seg_pred[3][0] = 1;
    seg_pred[4][0] = 3;
    seg_pred[4][1] = 2;
    uint32_t ba = pair_by(B, A, 2, 2), ab = pair_by(A, B, 1, 4);
    ck_assert_int_eq(see(ba), PG_LC_NO_CYCLE);
    ck_assert_int_eq(see(ab), PG_LC_ORDERED);
}
END_TEST

START_TEST(test_lockcycle_inversion_before_a_creation_is_ordered)
{
    /* Thread 1 takes A then B in segment 1, then creates thread 2 (first segment 2, after 1),
     * which takes B then A. Through two creations (segment 4 after 3 after 1) as well. */
    seg_pred[2][0] = 1;
    seg_pred[3][0] = 1;
    seg_pred[4][0] = 3;
    uint32_t ab = pair_by(A, B, 1, 1), ba = pair_by(B, A, 2, 2), cd = pair_by(C, D, 1, 1),
             dc = pair_by(D, C, 3, 4);
    ck_assert_int_eq(see(ab), PG_LC_NO_CYCLE);
    ck_assert_int_eq(see(ba), PG_LC_ORDERED);
    ck_assert_int_eq(see(cd), PG_LC_NO_CYCLE);
    ck_assert_int_eq(see(dc), PG_LC_ORDERED);
}
END_TEST

START_TEST(test_lockcycle_siblings_of_one_creator_are_not_ordered)
{
    /* Thread 1 creates thread 2 (segment 2 after 1) and goes on in segment 3 (after 1): what each
     * does next can overlap. */
    seg_pred[2][0] = 1;
    seg_pred[3][0] = 1;
    uint32_t ab = pair_by(A, B, 1, 3), ba = pair_by(B, A, 2, 2);
    ck_assert_int_eq(see(ab), PG_LC_NO_CYCLE);
    ck_assert_int_eq(see(ba), PG_LC_MULTI);
}
END_TEST

START_TEST(test_lockcycle_one_thread_taking_both_orders_is_a_single_thread_cycle)
{
    uint32_t ab = pair_by(A, B, 1, 1), ba = pair_by(B, A, 1, 1);
    ck_assert_int_eq(see(ab), PG_LC_NO_CYCLE);
    ck_assert_int_eq(see(ba), PG_LC_SINGLE);
    assert_chain(2);
    ck_assert_uint_eq(picked_thread(0), 1);
    ck_assert_uint_eq(picked_thread(1), 1);
}
END_TEST

START_TEST(test_lockcycle_single_thread_cycles_can_be_turned_off)
{
    single_wanted = 0;
    uint32_t ab = pair_by(A, B, 1, 1), ba = pair_by(B, A, 1, 1);
    ck_assert_int_eq(see(ab), PG_LC_NO_CYCLE);
    ck_assert_int_eq(see(ba), PG_LC_ORDERED);
}
END_TEST

START_TEST(test_lockcycle_orders_by_different_threads_are_picked_over_one_thread)
{
    /* Thread 1 took both orders; thread 2 took A -> B too: two threads can deadlock. */
    uint32_t ab = pair_by(A, B, 1, 1), ba = pair_by(B, A, 1, 1);
    took(ab, 2, 2);
    ck_assert_int_eq(see(ab), PG_LC_NO_CYCLE);
    ck_assert_int_eq(see(ba), PG_LC_MULTI);
    ck_assert_uint_eq(picked_thread(0), 2);
    ck_assert_uint_eq(picked_thread(1), 1);
}
END_TEST

START_TEST(test_lockcycle_threads_beyond_those_remembered_are_unordered)
{
    /* B -> A was taken by thread 1 and by more threads than a pair remembers (thread 0): those
     * may be anyone, at any time. */
    uint32_t ab = pair_by(A, B, 1, 1), ba = pair_by(B, A, 1, 1);
    took(ba, 0, PG_LC_SEG_NONE);
    ck_assert_int_eq(see(ab), PG_LC_NO_CYCLE);
    ck_assert_int_eq(see(ba), PG_LC_MULTI);
    ck_assert_uint_eq(picked_thread(0), 1);
    ck_assert_uint_eq(picked_thread(1), 0);
}
END_TEST

START_TEST(test_lockcycle_threads_past_the_segment_table_are_unordered)
{
    /* Two threads started once the segment table was full: neither has a segment recorded, and
     * nothing orders them. */
    uint32_t ab = pair_by(A, B, 1, PG_LC_SEG_NONE), ba = pair_by(B, A, 2, PG_LC_SEG_NONE);
    ck_assert_int_eq(see(ab), PG_LC_NO_CYCLE);
    ck_assert_int_eq(see(ba), PG_LC_MULTI);
}
END_TEST

/* ----- once, and again when there is something new ----- */

START_TEST(test_lockcycle_cycle_is_reported_once)
{
    uint32_t ab = pair_by(A, B, 1, 1), ba = pair_by(B, A, 2, 2);
    see(ab);
    ck_assert_int_eq(see(ba), PG_LC_MULTI);
    /* The next scans: the same pairs, each taken by yet another thread. */
    took(ab, 3, 3);
    took(ba, 4, 4);
    ck_assert_int_eq(see(ba), PG_LC_KNOWN);
    ck_assert_int_eq(see(ab), PG_LC_KNOWN);
}
END_TEST

START_TEST(test_lockcycle_one_thread_cycle_is_reported_again_for_a_second_thread)
{
    uint32_t ab = pair_by(A, B, 1, 1), ba = pair_by(B, A, 1, 1);
    see(ab);
    ck_assert_int_eq(see(ba), PG_LC_SINGLE);
    ck_assert_int_eq(see(ba), PG_LC_KNOWN);
    took(ba, 2, 2);
    ck_assert_int_eq(see(ba), PG_LC_MULTI);
    ck_assert_int_eq(see(ab), PG_LC_KNOWN);
}
END_TEST

START_TEST(test_lockcycle_ordered_cycle_is_looked_at_again_for_a_new_thread)
{
    seg_pred[2][0] = 1;
    uint32_t ab = pair_by(A, B, 1, 1), ba = pair_by(B, A, 2, 2);
    see(ab);
    ck_assert_int_eq(see(ba), PG_LC_ORDERED);
    took(ab, 3, 3);   /* a thread of its own, ordered with neither */
    ck_assert_int_eq(see(ab), PG_LC_MULTI);
    ck_assert_uint_eq(picked_thread(0), 3);
    ck_assert_uint_eq(picked_thread(1), 2);
}
END_TEST

/* ----- limits ----- */

START_TEST(test_lockcycle_full_lock_table_leaves_new_pairs_unchecked)
{
    setup_limits(16, 3, 8);
    uint32_t ab = pair_by(A, B, 1, 1), bc = pair_by(B, C, 3, 3);
    ck_assert_int_eq(see(ab), PG_LC_NO_CYCLE);
    ck_assert_int_eq(see(bc), PG_LC_NO_CYCLE);
    /* A fourth lock does not fit: its pairs are not checked, and not half-added. */
    uint32_t cd = pair_by(C, D, 1, 1), da = pair_by(D, A, 2, 2);
    ck_assert_int_eq(see(cd), PG_LC_FULL);
    ck_assert_int_eq(see(da), PG_LC_FULL);
    /* Pairs between the locks already there still are. */
    uint32_t ca = pair_by(C, A, 2, 2);
    ck_assert_int_eq(see(ca), PG_LC_MULTI);
    assert_chain(3);
}
END_TEST

START_TEST(test_lockcycle_pair_ids_past_the_table_are_not_checked)
{
    setup_limits(2, 8, 8);
    uint32_t ab = pair_by(A, B, 1, 1), bc = pair_by(B, C, 1, 1), ba = pair_by(B, A, 2, 2);
    ck_assert_int_eq(see(ab), PG_LC_NO_CYCLE);
    ck_assert_int_eq(see(bc), PG_LC_NO_CYCLE);
    ck_assert_int_eq(see(ba), PG_LC_FULL);
}
END_TEST

START_TEST(test_lockcycle_cycles_longer_than_a_report_are_not_reported)
{
    /* One thread takes a ring of PG_LC_MAX_CYCLE locks: reported. A ring one longer: not. */
    for (int ring = 0; ring < 2; ring++) {
        uint32_t n = PG_LC_MAX_CYCLE + (uint32_t)ring;
        uintptr_t base = ring ? 0x100000 : 0x10;
        for (uint32_t i = 0; i + 1 < n; i++)
            ck_assert_int_eq(see(pair_by(base + 8 * i, base + 8 * (i + 1), 1, 1)), PG_LC_NO_CYCLE);
        int r = see(pair_by(base + 8 * (n - 1), base, 1, 1));
        ck_assert_int_eq(r, ring ? PG_LC_TOO_LONG : PG_LC_SINGLE);
        if (!ring)
            assert_chain(PG_LC_MAX_CYCLE);
    }
}
END_TEST

START_TEST(test_lockcycle_init_refuses_too_little_memory)
{
    size_t need = pg_lc_mem_size(64, 32, 16);
    ck_assert_uint_gt(need, 0);
    ck_assert_int_eq(pg_lc_init(&lc, mem, need - 1, 64, 32, 16, preds, seg_pred), -EINVAL);
    ck_assert_int_eq(pg_lc_init(&lc, mem, need, 64, 0, 16, preds, seg_pred), -EINVAL);
    ck_assert_int_eq(pg_lc_init(&lc, mem, need, 64, 32, 16, NULL, seg_pred), -EINVAL);
    ck_assert_int_eq(pg_lc_init(&lc, mem, need, 64, 32, 16, preds, seg_pred), 0);
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
    TCase *judge = tcase_create("judge");
    tcase_add_checked_fixture(judge, setup, NULL);
    tcase_add_test(judge, test_lockcycle_gate_held_by_both_sides_suppresses_the_cycle);
    tcase_add_test(judge, test_lockcycle_gate_on_one_side_only_does_not);
    tcase_add_test(judge, test_lockcycle_inversion_after_a_join_is_ordered);
    tcase_add_test(judge, test_lockcycle_inversion_before_a_creation_is_ordered);
    tcase_add_test(judge, test_lockcycle_siblings_of_one_creator_are_not_ordered);
    tcase_add_test(judge, test_lockcycle_one_thread_taking_both_orders_is_a_single_thread_cycle);
    tcase_add_test(judge, test_lockcycle_single_thread_cycles_can_be_turned_off);
    tcase_add_test(judge, test_lockcycle_orders_by_different_threads_are_picked_over_one_thread);
    tcase_add_test(judge, test_lockcycle_threads_beyond_those_remembered_are_unordered);
    tcase_add_test(judge, test_lockcycle_threads_past_the_segment_table_are_unordered);
    suite_add_tcase(s, judge);
    TCase *once = tcase_create("once");
    tcase_add_checked_fixture(once, setup, NULL);
    tcase_add_test(once, test_lockcycle_cycle_is_reported_once);
    tcase_add_test(once, test_lockcycle_one_thread_cycle_is_reported_again_for_a_second_thread);
    tcase_add_test(once, test_lockcycle_ordered_cycle_is_looked_at_again_for_a_new_thread);
    suite_add_tcase(s, once);
    TCase *lim = tcase_create("limits");
    tcase_add_checked_fixture(lim, setup, NULL);
    tcase_add_test(lim, test_lockcycle_full_lock_table_leaves_new_pairs_unchecked);
    tcase_add_test(lim, test_lockcycle_pair_ids_past_the_table_are_not_checked);
    tcase_add_test(lim, test_lockcycle_cycles_longer_than_a_report_are_not_reported);
    tcase_add_test(lim, test_lockcycle_init_refuses_too_little_memory);
    suite_add_tcase(s, lim);
    return s;
}

/*
 * The lock-order graph (shim/detect/lockcycle.c), driven directly with pairs, threads, segments
 * and gates made up by hand (lockcycle_util.h): which cycles are reported and which are not (gates,
 * joins and creations, one thread), that a cycle is reported once and again only when there is
 * something new, and the tables' limits (docs/lock-order.md, "When a cycle is reported").
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "lockcycle_util.h"

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
    took(ab, 3, 3); /* a thread of its own, ordered with neither */
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

Suite *lockcycle_judge_suite(void)
{
    Suite *s = suite_create("lockcycle_judge");
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

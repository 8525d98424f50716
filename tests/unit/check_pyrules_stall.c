/*
 * The Python rules (shim/detect/pyrules.c), driven directly with readings built by hand
 * (pyrules_util.h): which pools are only a stall (or an error, when the graph holds the workers),
 * that process stops do not count as stall time, and which queues grow past the limit for long
 * enough (docs/python.md, "When the watchdog asks, and what it reports"). Exhaustion and what must
 * never be reported are check_pyrules.c.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "pyrules_util.h"

/* tests/py/app_event.py: two consumers wait on an Event the producer queued behind them would
 * set. Nothing names the waker: a stall (info) once the stall time has passed, never before. */
START_TEST(test_pyrules_workers_in_event_wait_with_work_queued_are_a_stall)
{
    int e = executor(E1, 2, 1);
    int main_t = thread("MainThread", -1, PG_PY_B_FUTURE_RESULT);
    waits_on(main_t, PG_PY_F_RUNNING, 0, 0);
    int w0 = thread("ThreadPoolExecutor-0_0", e, PG_PY_B_EVENT_WAIT);
    int w1 = thread("ThreadPoolExecutor-0_1", e, PG_PY_B_EVENT_WAIT);
    judge(T0 + 700 * MSEC);
    ck_assert_int_eq(out.n, 0);
    ck_assert_uint_eq(out.recheck_at, T0 + STALL_MS * MSEC);
    judge(T0 + STALL_MS * MSEC);
    ck_assert_int_eq(out.n, 1);
    assert_verdict(0, PG_PR_STALL, PG_PR_INFO, PG_PR_PROOF_NONE, e);
    ck_assert_int_eq(out.v[0].blocked_kind, PG_PY_B_EVENT_WAIT);
    ck_assert_int_eq(out.v[0].own_thread, -1);
    ck_assert_uint_eq(out.v[0].workers, BIT(w0) | BIT(w1));
    judge(T0 + 2 * STALL_MS * MSEC);
    ck_assert_int_eq(out.n, 0);
}
END_TEST

/* The same when the wait-for graph holds every worker stuck (no thread left to wake them): an
 * error at once, on the graph's proof. One worker the graph does not hold is enough to stay a
 * stall. */
START_TEST(test_pyrules_workers_in_event_wait_held_by_the_graph_are_an_error)
{
    int e = executor(E1, 2, 1);
    int w0 = thread("ThreadPoolExecutor-0_0", e, PG_PY_B_EVENT_WAIT);
    int w1 = thread("ThreadPoolExecutor-0_1", e, PG_PY_B_EVENT_WAIT);
    nat[w0].stuck = 1;
    judge(T0 + 700 * MSEC);
    ck_assert_int_eq(out.n, 0);
    nat[w1].stuck = 1;
    judge(T0 + 700 * MSEC);
    ck_assert_int_eq(out.n, 1);
    assert_verdict(0, PG_PR_EXHAUSTION, PG_PR_ERROR, PG_PR_PROOF_GRAPH, e);
}
END_TEST

/* A stopped process (SIGSTOP, a debugger) is not a blocked one: the stall time leaves it out. */
START_TEST(test_pyrules_stall_time_leaves_out_process_stops)
{
    int e = executor(E1, 2, 1);
    thread("ThreadPoolExecutor-0_0", e, PG_PY_B_CONDITION_WAIT);
    thread("ThreadPoolExecutor-0_1", e, PG_PY_B_CONDITION_WAIT);
    stopped_ns = 6 * SEC;
    judge(T0 + (STALL_MS + 5000) * MSEC);
    ck_assert_int_eq(out.n, 0);
    judge(T0 + (STALL_MS + 6000) * MSEC);
    ck_assert_int_eq(out.n, 1);
    assert_verdict(0, PG_PR_STALL, PG_PR_INFO, PG_PR_PROOF_NONE, e);
}
END_TEST

/* tests/py/app_growth.py: `while True: submit()` on one busy worker. queue_growth once the queue
 * is past the limit and has kept growing for the window; once. */
START_TEST(test_pyrules_queue_past_the_limit_growing_for_the_window_is_growth)
{
    int e = executor(E1, 1, 12000);
    thread("ThreadPoolExecutor-0_0", e, PG_PY_B_NONE);
    judge(T0);
    ck_assert_int_eq(out.n, 0);
    ck_assert_int_eq(out.watch_growth, 1);
    py.executors[e].queue_len = 14000;
    judge(T0 + 1 * SEC);
    ck_assert_int_eq(out.n, 0);
    py.executors[e].queue_len = 16000;
    judge(T0 + PG_PR_GROWTH_WINDOW_MS * MSEC);
    ck_assert_int_eq(out.n, 1);
    assert_verdict(0, PG_PR_GROWTH, PG_PR_WARNING, PG_PR_PROOF_EXACT, e);
    ck_assert(out.v[0].rate > 1999.0 && out.v[0].rate < 2001.0);
    py.executors[e].queue_len = 30000;
    judge(T0 + 10 * SEC);
    ck_assert_int_eq(out.n, 0);
}
END_TEST

/* POOLGUARD_QUEUE_LIMIT is the bar: the same growth below it is no finding. */
START_TEST(test_pyrules_queue_growth_below_the_limit_is_not_reported)
{
    queue_limit = 100000;
    int e = executor(E1, 1, 12000);
    thread("ThreadPoolExecutor-0_0", e, PG_PY_B_NONE);
    for (int s = 0; s <= 5; s++) {
        py.executors[e].queue_len = 12000 + 2000 * s;
        judge(T0 + (uint64_t)s * SEC);
        ck_assert_int_eq(out.n, 0);
    }
}
END_TEST

START_TEST(test_pyrules_queue_growth_past_a_lower_limit_is_reported)
{
    queue_limit = 100;
    int e = executor(E1, 1, 150);
    thread("ThreadPoolExecutor-0_0", e, PG_PY_B_NONE);
    judge(T0);
    ck_assert_int_eq(out.n, 0);
    py.executors[e].queue_len = 300;
    judge(T0 + PG_PR_GROWTH_WINDOW_MS * MSEC);
    ck_assert_int_eq(out.n, 1);
    assert_verdict(0, PG_PR_GROWTH, PG_PR_WARNING, PG_PR_PROOF_EXACT, e);
}
END_TEST

/* A queue long but no longer growing, or one that drained for a while, is not growth: the
 * window starts again from the shorter queue. */
START_TEST(test_pyrules_queue_growth_must_be_sustained)
{
    int e = executor(E1, 1, 15000);
    thread("ThreadPoolExecutor-0_0", e, PG_PY_B_NONE);
    judge(T0);
    judge(T0 + 5 * SEC);
    ck_assert_int_eq(out.n, 0);
    py.executors[e].queue_len = 11000;
    judge(T0 + 6 * SEC);
    ck_assert_int_eq(out.n, 0);
    py.executors[e].queue_len = 13000;
    judge(T0 + 7 * SEC);
    ck_assert_int_eq(out.n, 0);
    py.executors[e].queue_len = 14000;
    judge(T0 + 8 * SEC);
    ck_assert_int_eq(out.n, 1);
    ck_assert(out.v[0].rate > 1499.0 && out.v[0].rate < 1501.0);
}
END_TEST

/* A queue of unknown length (not a SimpleQueue) is never growth; a short one is not watched. */
START_TEST(test_pyrules_unknown_or_short_queues_are_not_growth)
{
    int e = executor(E1, 1, -1);
    thread("ThreadPoolExecutor-0_0", e, PG_PY_B_NONE);
    judge(T0);
    judge(T0 + 10 * SEC);
    ck_assert_int_eq(out.n, 0);
    ck_assert_int_eq(out.watch_growth, 0);
    py.executors[e].queue_len = 20;
    judge(T0 + 11 * SEC);
    ck_assert_int_eq(out.watch_growth, 0);
}
END_TEST

Suite *pyrules_stall_suite(void)
{
    Suite *s = suite_create("pyrules_stall");
    TCase *stall = tcase_create("stall");
    tcase_add_checked_fixture(stall, setup, NULL);
    tcase_add_test(stall, test_pyrules_workers_in_event_wait_with_work_queued_are_a_stall);
    tcase_add_test(stall, test_pyrules_workers_in_event_wait_held_by_the_graph_are_an_error);
    tcase_add_test(stall, test_pyrules_stall_time_leaves_out_process_stops);
    suite_add_tcase(s, stall);
    TCase *growth = tcase_create("growth");
    tcase_add_checked_fixture(growth, setup, NULL);
    tcase_add_test(growth, test_pyrules_queue_past_the_limit_growing_for_the_window_is_growth);
    tcase_add_test(growth, test_pyrules_queue_growth_below_the_limit_is_not_reported);
    tcase_add_test(growth, test_pyrules_queue_growth_past_a_lower_limit_is_reported);
    tcase_add_test(growth, test_pyrules_queue_growth_must_be_sustained);
    tcase_add_test(growth, test_pyrules_unknown_or_short_queues_are_not_growth);
    suite_add_tcase(s, growth);
    return s;
}

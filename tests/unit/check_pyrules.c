/*
 * The Python rules (shim/detect/pyrules.c), driven directly: readings of the interpreter built by
 * hand (pyrules_util.h) as the Python layer would have made them of the programs in tests/py, with
 * what the native scan says of each worker's thread. Which pools are exhausted (error, exact or by
 * the graph), and what must never be reported: workers waiting on another executor, on running
 * futures, with a timeout, healthy sleeps and GIL contention (docs/python.md, "When the watchdog
 * asks, and what it reports"). Stalls and growing queues are check_pyrules_stall.c.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "pyrules_util.h"

/* tests/py/app_one_worker.py: max_workers=1, the parent waits on the child it queued. */
START_TEST(test_pyrules_one_worker_waiting_on_its_queued_child_is_an_exact_error)
{
    int e = executor(E1, 1, 1);
    int main_t = thread("MainThread", -1, PG_PY_B_FUTURE_RESULT);
    waits_on(main_t, PG_PY_F_RUNNING, 0, 0)->run_by = 0x7f00aa001000u;
    int w = thread("ThreadPoolExecutor-0_0", e, PG_PY_B_FUTURE_RESULT);
    waits_on(w, PG_PY_F_PENDING, E1, 0);
    judge(T0 + 700 * MSEC);
    ck_assert_int_eq(out.n, 1);
    assert_verdict(0, PG_PR_EXHAUSTION, PG_PR_ERROR, PG_PR_PROOF_EXACT, e);
    ck_assert_int_eq(out.v[0].nworkers, 1);
    ck_assert_uint_eq(out.v[0].workers, BIT(w));
    ck_assert_uint_eq(out.v[0].waiting_own, BIT(w));
    ck_assert_int_eq(out.v[0].own_thread, w);
    ck_assert_int_eq(out.v[0].own_wait, 0);
    ck_assert_uint_eq(out.recheck_at, 0);
}
END_TEST

/* An exact proof needs nobody else to be idle: a thread still running Python (a heartbeat, main
 * in a loop) cannot start work queued on the pool either. */
START_TEST(test_pyrules_exact_exhaustion_stands_while_other_threads_run)
{
    int e = executor(E1, 1, 1);
    thread("MainThread", -1, PG_PY_B_NONE);
    thread("heartbeat", -1, PG_PY_B_NONE);
    int w = thread("ThreadPoolExecutor-0_0", e, PG_PY_B_FUTURE_RESULT);
    waits_on(w, PG_PY_F_PENDING, E1, 0);
    judge(T0 + 700 * MSEC);
    ck_assert_int_eq(out.n, 1);
    assert_verdict(0, PG_PR_EXHAUSTION, PG_PR_ERROR, PG_PR_PROOF_EXACT, e);
}
END_TEST

/* A reading every time the blocked threads change: the same waits are not reported twice, new
 * ones are. */
START_TEST(test_pyrules_the_same_waits_are_reported_once)
{
    int e = executor(E1, 1, 1);
    int w = thread("ThreadPoolExecutor-0_0", e, PG_PY_B_FUTURE_RESULT);
    waits_on(w, PG_PY_F_PENDING, E1, 0);
    judge(T0 + 700 * MSEC);
    ck_assert_int_eq(out.n, 1);
    judge(T0 + 5 * SEC);
    ck_assert_int_eq(out.n, 0);
    waits_anew(w, T0 + 6 * SEC);
    judge(T0 + 7 * SEC);
    ck_assert_int_eq(out.n, 1);
    assert_verdict(0, PG_PR_EXHAUSTION, PG_PR_ERROR, PG_PR_PROOF_EXACT, e);
}
END_TEST

/* tests/py/app_flood.py: 200 parents on 2 workers, each running one waits on its child, queued
 * behind the other parents; a heartbeat thread keeps running. */
START_TEST(test_pyrules_flood_of_parents_on_two_workers_is_an_exact_error)
{
    int e = executor(E1, 2, 198);
    int main_t = thread("MainThread", -1, PG_PY_B_FUTURE_RESULT);
    waits_on(main_t, PG_PY_F_RUNNING, 0, 0);
    thread("heartbeat", -1, PG_PY_B_NONE);
    int w0 = thread("ThreadPoolExecutor-0_0", e, PG_PY_B_FUTURE_RESULT);
    int w1 = thread("ThreadPoolExecutor-0_1", e, PG_PY_B_FUTURE_RESULT);
    waits_on(w0, PG_PY_F_PENDING, E1, 196);
    waits_on(w1, PG_PY_F_PENDING, E1, 197);
    judge(T0 + 700 * MSEC);
    ck_assert_int_eq(out.n, 1);
    assert_verdict(0, PG_PR_EXHAUSTION, PG_PR_ERROR, PG_PR_PROOF_EXACT, e);
    ck_assert_int_eq(out.v[0].nworkers, 2);
    ck_assert_uint_eq(out.v[0].workers, BIT(w0) | BIT(w1));
    ck_assert_uint_eq(out.v[0].waiting_own, BIT(w0) | BIT(w1));
    ck_assert_int_eq(out.v[0].own_thread, w0);
}
END_TEST

/* One worker waits on its own queue, the other on an Event someone might still set: an error
 * only once the state has lasted a second, and the watchdog is told when to look again. */
START_TEST(test_pyrules_some_workers_on_their_own_queue_must_last_a_second)
{
    int e = executor(E1, 2, 3);
    int w0 = thread("ThreadPoolExecutor-0_0", e, PG_PY_B_FUTURE_RESULT);
    int w1 = thread("ThreadPoolExecutor-0_1", e, PG_PY_B_EVENT_WAIT);
    waits_on(w0, PG_PY_F_PENDING, E1, 2);
    judge(T0 + 700 * MSEC);
    ck_assert_int_eq(out.n, 0);
    ck_assert_uint_eq(out.recheck_at, T0 + PG_PR_CONFIRM_MS * MSEC);
    judge(T0 + PG_PR_CONFIRM_MS * MSEC);
    ck_assert_int_eq(out.n, 1);
    assert_verdict(0, PG_PR_EXHAUSTION, PG_PR_ERROR, PG_PR_PROOF_EXACT, e);
    ck_assert_uint_eq(out.v[0].waiting_own, BIT(w0));
    ck_assert_int_eq(out.v[0].own_thread, w0);
    (void)w1;
}
END_TEST

/* The same, but the second worker's wait is newer: the second counts from the newest wait. */
START_TEST(test_pyrules_the_second_counts_from_the_newest_wait)
{
    int e = executor(E1, 2, 3);
    int w0 = thread("ThreadPoolExecutor-0_0", e, PG_PY_B_FUTURE_RESULT);
    int w1 = thread("ThreadPoolExecutor-0_1", e, PG_PY_B_CONDITION_WAIT);
    waits_on(w0, PG_PY_F_PENDING, E1, 2);
    waits_anew(w1, T0 + 3 * SEC);
    judge(T0 + 3 * SEC + 700 * MSEC);
    ck_assert_int_eq(out.n, 0);
    ck_assert_uint_eq(out.recheck_at, T0 + 4 * SEC);
    judge(T0 + 4 * SEC);
    ck_assert_int_eq(out.n, 1);
}
END_TEST

/* A worker the native scan does not see blocked (just woken, or running) keeps the pool alive,
 * whatever the interpreter last said; so does one the native scan does not know. */
START_TEST(test_pyrules_a_worker_not_blocked_natively_keeps_the_pool_alive)
{
    int e = executor(E1, 2, 3);
    int w0 = thread("ThreadPoolExecutor-0_0", e, PG_PY_B_FUTURE_RESULT);
    int w1 = thread("ThreadPoolExecutor-0_1", e, PG_PY_B_FUTURE_RESULT);
    waits_on(w0, PG_PY_F_PENDING, E1, 1);
    waits_on(w1, PG_PY_F_PENDING, E1, 2);
    nat[w1].blocked = 0;
    judge(T0 + 60 * SEC);
    ck_assert_int_eq(out.n, 0);
    nat[w1].blocked = 1;
    nat[w1].found = 0;
    judge(T0 + 60 * SEC);
    ck_assert_int_eq(out.n, 0);
    nat[w1].found = 1;
    judge(T0 + 60 * SEC);
    ck_assert_int_eq(out.n, 1);
}
END_TEST

/* tests/py/ok_nested.py, ok_two_executors.py: parents on one executor wait on children of
 * another, which run or are queued there: the parents' pool is only busy, however long. */
START_TEST(test_pyrules_workers_waiting_on_another_executor_are_not_reported)
{
    int parents = executor(E1, 2, 10);
    int children = executor(E2, 2, 5);
    int p0 = thread("parents_0", parents, PG_PY_B_FUTURE_RESULT);
    int p1 = thread("parents_1", parents, PG_PY_B_FUTURE_RESULT);
    thread("children_0", children, PG_PY_B_NONE);
    thread("children_1", children, PG_PY_B_NONE);
    waits_on(p0, PG_PY_F_PENDING, E2, 3);
    waits_on(p1, PG_PY_F_PENDING, E2, 4);
    judge(T0 + 700 * MSEC);
    ck_assert_int_eq(out.n, 0);
    judge(T0 + 2 * STALL_MS * MSEC);
    ck_assert_int_eq(out.n, 0);
    ck_assert_uint_eq(out.recheck_at, 0);
}
END_TEST

/* A future whose work a worker runs (or that no queue holds: a hand-made Future()) is not queued
 * work: nothing, even with more work in the queue and the stall time long past. */
START_TEST(test_pyrules_workers_waiting_on_running_futures_are_not_reported)
{
    int e = executor(E1, 2, 7);
    int w0 = thread("ThreadPoolExecutor-0_0", e, PG_PY_B_FUTURE_RESULT);
    int w1 = thread("ThreadPoolExecutor-0_1", e, PG_PY_B_FUTURES_WAIT);
    waits_on(w0, PG_PY_F_RUNNING, 0, 0)->run_by = py.threads[w1].ident;
    waits_on(w1, PG_PY_F_PENDING, 0, 0);
    nat[w0].stuck = nat[w1].stuck = 1;
    judge(T0 + 2 * STALL_MS * MSEC);
    ck_assert_int_eq(out.n, 0);
    ck_assert_uint_eq(out.recheck_at, 0);
}
END_TEST

/* future.result(timeout=...) is a retry, not a hang. */
START_TEST(test_pyrules_timed_waits_are_not_reported)
{
    int e = executor(E1, 1, 1);
    int w = thread("ThreadPoolExecutor-0_0", e, PG_PY_B_FUTURE_RESULT);
    waits_on(w, PG_PY_F_PENDING, E1, 0);
    py.threads[w].timed = 1;
    judge(T0 + 2 * STALL_MS * MSEC);
    ck_assert_int_eq(out.n, 0);
}
END_TEST

/* Workers blocked in their tasks with nothing queued: nothing waits for them, nothing to say. */
START_TEST(test_pyrules_blocked_workers_with_an_empty_queue_are_not_reported)
{
    int e = executor(E1, 2, 0);
    int w0 = thread("ThreadPoolExecutor-0_0", e, PG_PY_B_SEMAPHORE);
    int w1 = thread("ThreadPoolExecutor-0_1", e, PG_PY_B_QUEUE_GET);
    nat[w0].stuck = nat[w1].stuck = 1;
    judge(T0 + 2 * STALL_MS * MSEC);
    ck_assert_int_eq(out.n, 0);
}
END_TEST

/* tests/py/app_mp_one.py: a ThreadPool(1) task calls apply_async(child).get(). */
START_TEST(test_pyrules_thread_pool_of_one_waiting_on_its_async_result_is_an_exact_error)
{
    int p = pool(E1, PG_PY_POOL_MP_THREADPOOL, 1, 1);
    int w = thread("Thread-1 (worker)", p, PG_PY_B_ASYNC_RESULT);
    struct pg_py_wait *x = waits_on(w, PG_PY_F_PENDING, E1, 0);
    x->kind = PG_PY_W_ASYNC_RESULT;
    x->job = 1;
    judge(T0 + 700 * MSEC);
    ck_assert_int_eq(out.n, 1);
    assert_verdict(0, PG_PR_EXHAUSTION, PG_PR_ERROR, PG_PR_PROOF_EXACT, p);
    ck_assert_int_eq(out.v[0].own_thread, w);
}
END_TEST

/* tests/py/app_mp_two.py: parents flood a ThreadPool(2), one waits with get(), one with wait(). */
START_TEST(test_pyrules_thread_pool_of_two_flooded_with_parents_is_an_exact_error)
{
    int p = pool(E1, PG_PY_POOL_MP_THREADPOOL, 2, 40);
    int w0 = thread("Thread-1 (worker)", p, PG_PY_B_ASYNC_RESULT);
    int w1 = thread("Thread-2 (worker)", p, PG_PY_B_ASYNC_RESULT);
    thread("Thread-3 (_handle_workers)", -1, PG_PY_B_NONE);
    thread("Thread-4 (_handle_tasks)", -1, PG_PY_B_QUEUE_GET);
    thread("Thread-5 (_handle_results)", -1, PG_PY_B_QUEUE_GET);
    struct pg_py_wait *x0 = waits_on(w0, PG_PY_F_PENDING, E1, 30);
    struct pg_py_wait *x1 = waits_on(w1, PG_PY_F_PENDING, E1, 31);
    x0->kind = x1->kind = PG_PY_W_ASYNC_RESULT;
    x0->job = 40;
    x1->job = 41;
    judge(T0 + 700 * MSEC);
    ck_assert_int_eq(out.n, 1);
    assert_verdict(0, PG_PR_EXHAUSTION, PG_PR_ERROR, PG_PR_PROOF_EXACT, p);
    ck_assert_uint_eq(out.v[0].waiting_own, BIT(w0) | BIT(w1));
}
END_TEST

/* tests/py/app_asyncio_threadsafe.py: the default executor's only worker waits on a
 * run_coroutine_threadsafe future whose coroutine awaits run_in_executor work queued on that
 * executor. The future itself is PENDING and in no queue: what counts is the job it needs. */
static int threadsafe_reading(void)
{
    int e = executor(E1, 1, 1);
    py.executors[e].loop = LOOP;
    int loop_t = thread("MainThread", -1, PG_PY_B_NONE);
    py.executors[e].loop_thread = py.threads[loop_t].ident;
    snprintf(py.executors[e].prefix, sizeof py.executors[e].prefix, "asyncio");
    int w = thread("asyncio_0", e, PG_PY_B_FUTURE_RESULT);
    struct pg_py_wait *x = waits_on(w, PG_PY_F_PENDING, E1, 0);
    x->via_task = 0x7f00cc000000u;
    x->needs = 0x7f00cc001000u;
    x->needs_state = PG_PY_F_PENDING;
    x->has_coro = 1;
    snprintf(x->coro.name, sizeof x->coro.name, "fetch");
    return w;
}

START_TEST(test_pyrules_default_executor_starved_through_run_coroutine_threadsafe_is_an_error)
{
    int w = threadsafe_reading();
    judge(T0 + 700 * MSEC);
    ck_assert_int_eq(out.n, 1);
    assert_verdict(0, PG_PR_EXHAUSTION, PG_PR_ERROR, PG_PR_PROOF_EXACT, 0);
    ck_assert_int_eq(out.v[0].own_thread, w);
}
END_TEST

/* An asyncio timeout over the coroutine may cancel it and so complete the future; an executor
 * job already running will end: neither proves anything. */
START_TEST(test_pyrules_run_coroutine_threadsafe_under_a_timeout_or_running_is_not_reported)
{
    int w = threadsafe_reading();
    py.threads[w].waits[0].needs_timed = 1;
    judge(T0 + 2 * STALL_MS * MSEC);
    ck_assert_int_eq(out.n, 0);
    py.threads[w].waits[0].needs_timed = 0;
    py.threads[w].waits[0].needs_state = PG_PY_F_RUNNING;
    judge(T0 + 2 * STALL_MS * MSEC);
    ck_assert_int_eq(out.n, 0);
}
END_TEST

/* tests/py/ok_sleep.py, ok_gil.py, ok_many_tasks.py: workers in time.sleep or running Python
 * (the GIL is taken with a time limit), with work queued; idle workers of an empty pool. */
START_TEST(test_pyrules_sleeping_running_and_idle_workers_are_healthy)
{
    int sleepy = executor(E1, 4, 20);
    for (int k = 0; k < 4; k++)
        thread("sleeper", sleepy, PG_PY_B_NONE);
    int idle = executor(E2, 2, 0);
    thread("idle_0", idle, PG_PY_B_WORKER_IDLE);
    thread("idle_1", idle, PG_PY_B_WORKER_IDLE);
    thread("MainThread", -1, PG_PY_B_THREAD_JOIN);
    judge(T0 + 700 * MSEC);
    ck_assert_int_eq(out.n, 0);
    judge(T0 + 3 * STALL_MS * MSEC);
    ck_assert_int_eq(out.n, 0);
    ck_assert_uint_eq(out.recheck_at, 0);
}
END_TEST

/* Each pool is judged on its own workers: a stuck pool is reported beside a healthy one, and the
 * verdicts come in the order of the pools, growth before exhaustion. */
START_TEST(test_pyrules_each_pool_is_judged_on_its_own_workers)
{
    int healthy = executor(E1, 2, 0);
    thread("healthy_0", healthy, PG_PY_B_WORKER_IDLE);
    thread("healthy_1", healthy, PG_PY_B_NONE);
    int stuck = executor(E2, 1, 12000);
    int w = thread("stuck_0", stuck, PG_PY_B_FUTURE_RESULT);
    waits_on(w, PG_PY_F_PENDING, E2, 11999);
    judge(T0 + 700 * MSEC);
    ck_assert_int_eq(out.n, 1);
    assert_verdict(0, PG_PR_EXHAUSTION, PG_PR_ERROR, PG_PR_PROOF_EXACT, stuck);
    py.executors[stuck].queue_len = 20000;
    waits_anew(w, T0 + 3 * SEC);
    judge(T0 + 4 * SEC);
    ck_assert_int_eq(out.n, 2);
    assert_verdict(0, PG_PR_GROWTH, PG_PR_WARNING, PG_PR_PROOF_EXACT, stuck);
    assert_verdict(1, PG_PR_EXHAUSTION, PG_PR_ERROR, PG_PR_PROOF_EXACT, stuck);
}
END_TEST

/* What each pool looked like is remembered by its address, not its place in the reading. */
START_TEST(test_pyrules_pools_are_remembered_by_address)
{
    int e = executor(E1, 1, 1);
    int w = thread("ThreadPoolExecutor-0_0", e, PG_PY_B_FUTURE_RESULT);
    waits_on(w, PG_PY_F_PENDING, E1, 0);
    judge(T0 + 700 * MSEC);
    ck_assert_int_eq(out.n, 1);
    /* The next reading finds another pool first: the reported one is still known. */
    struct pg_py_executor first = py.executors[0];
    py.executors[0] = (struct pg_py_executor){ .addr = E2, .queue_len = 0 };
    py.executors[1] = first;
    py.nexecutors = 2;
    py.threads[w].executor = 1;
    judge(T0 + 2 * SEC);
    ck_assert_int_eq(out.n, 0);
}
END_TEST

Suite *pyrules_suite(void)
{
    Suite *s = suite_create("pyrules");
    TCase *ex = tcase_create("exhaustion");
    tcase_add_checked_fixture(ex, setup, NULL);
    tcase_add_test(ex, test_pyrules_one_worker_waiting_on_its_queued_child_is_an_exact_error);
    tcase_add_test(ex, test_pyrules_exact_exhaustion_stands_while_other_threads_run);
    tcase_add_test(ex, test_pyrules_the_same_waits_are_reported_once);
    tcase_add_test(ex, test_pyrules_flood_of_parents_on_two_workers_is_an_exact_error);
    tcase_add_test(ex, test_pyrules_some_workers_on_their_own_queue_must_last_a_second);
    tcase_add_test(ex, test_pyrules_the_second_counts_from_the_newest_wait);
    tcase_add_test(ex, test_pyrules_a_worker_not_blocked_natively_keeps_the_pool_alive);
    tcase_add_test(ex,
                   test_pyrules_thread_pool_of_one_waiting_on_its_async_result_is_an_exact_error);
    tcase_add_test(ex, test_pyrules_thread_pool_of_two_flooded_with_parents_is_an_exact_error);
    tcase_add_test(
        ex, test_pyrules_default_executor_starved_through_run_coroutine_threadsafe_is_an_error);
    tcase_add_test(ex, test_pyrules_each_pool_is_judged_on_its_own_workers);
    tcase_add_test(ex, test_pyrules_pools_are_remembered_by_address);
    suite_add_tcase(s, ex);
    TCase *none = tcase_create("healthy");
    tcase_add_checked_fixture(none, setup, NULL);
    tcase_add_test(none, test_pyrules_workers_waiting_on_another_executor_are_not_reported);
    tcase_add_test(none, test_pyrules_workers_waiting_on_running_futures_are_not_reported);
    tcase_add_test(none, test_pyrules_timed_waits_are_not_reported);
    tcase_add_test(none, test_pyrules_blocked_workers_with_an_empty_queue_are_not_reported);
    tcase_add_test(
        none, test_pyrules_run_coroutine_threadsafe_under_a_timeout_or_running_is_not_reported);
    tcase_add_test(none, test_pyrules_sleeping_running_and_idle_workers_are_healthy);
    suite_add_tcase(s, none);
    return s;
}

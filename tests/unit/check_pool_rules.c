/*
 * The pool rules (shim/detect/poolinfer.c) driven by hand-made scans, for the edge rules the
 * recorded traces of check_pool_trace.c do not reach: grouping, idle waits, the queue, growth,
 * exact pools, run states, stopped time. No program runs: the suite takes milliseconds.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "poolinfer.h"

#define MAXT 512

/* One scan's input, the rules' state across scans and their verdicts, as check_pool_trace.c
 * keeps them. */
static struct pg_pi_thread th[MAXT];
static struct pg_pi_pool pools[256];
static struct pg_pi_in in;
static struct pg_pi_state state;
static struct pg_pi_out out;

/* Hand-made scans. */

#define SEC 1000000000ull

static void scan_reset(int n)
{
    memset(th, 0, sizeof th);
    memset(&in, 0, sizeof in);
    memset(&state, 0, sizeof state);
    in.scan = 1;
    in.now_ns = 100 * SEC;
    in.interval_ms = 100;
    in.stall_ms = 10000;
    in.queue_limit = 10000;
    in.threads = th;
    in.nthreads = n;
    in.pools = pools;
    for (int i = 0; i < n; i++) {
        th[i].tid = 100 + i;
        th[i].gen = 1;
        th[i].finding = -1;
        th[i].runnable = 0;
        th[i].seq = 2;
    }
}

/* Thread i, started by routine key, blocked untimed on a condition variable since 90 s. */
static void worker(int i, uint64_t key, uintptr_t waits_on)
{
    th[i].key = key;
    th[i].cls = PG_PI_CLASS_PLAIN;
    th[i].waiting = 1;
    th[i].wkind = 5;
    th[i].wobj = waits_on;
    th[i].seq = 7;
    th[i].since_ns = 90 * SEC;
}

static void stuck(int i)
{
    th[i].stuck = th[i].confirmed = 1;
}

/* Runs the same scan twice (an error needs the same waits at two scans); the verdicts of the
 * second. */
static void scan_twice(void)
{
    pg_pi_scan(&in, &state, &out);
    in.scan++;
    in.now_ns += SEC / 10;
    pg_pi_scan(&in, &state, &out);
}

static int grouped(void)
{
    int n = 0;
    for (int g = 0; g < out.ngroups; g++)
        n += out.groups[g].n > 0;
    return n;
}

START_TEST(test_pool_trace_two_stuck_workers_are_a_proven_pool)
{
    scan_reset(2);
    worker(0, 0x11, 0xa0);
    worker(1, 0x11, 0xa8);
    stuck(0), stuck(1);
    scan_twice();
    ck_assert_int_eq(grouped(), 1);
    ck_assert_int_eq(out.nverdicts, 1);
    ck_assert_int_eq(out.verdicts[0].severity, PG_PI_ERROR);
    ck_assert_int_eq(out.verdicts[0].proof, PG_PI_PROOF_GRAPH);
    ck_assert(th[0].mark && th[1].mark);
}
END_TEST

/* Each thread alone with its routine: never an inferred pool on inference alone, however long it
 * blocks and whatever its history: no warning, no stall. */
START_TEST(test_pool_trace_single_thread_is_never_an_inferred_pool)
{
    scan_reset(2);
    worker(0, 0x11, 0xa0);
    worker(1, 0x22, 0xa8); /* another routine */
    th[0].lost[0].obj = 0xb0, th[0].lost[0].count = 5, th[0].lost[0].seq = 6;
    th[0].hist[0].obj = 0xb0, th[0].hist[0].count = 9, th[0].hist[0].kind = 5;
    scan_twice();
    ck_assert_int_eq(out.nverdicts, 0);
    for (int g = 0; g < out.ngroups; g++)
        ck_assert(out.groups[g].n == 0 || out.groups[g].single);
    in.now_ns += 200 * SEC;
    scan_twice();
    ck_assert_int_eq(out.nverdicts, 0);
    /* Proven stuck, it is an error, described as its pool's: it queued work on its own idle
     * object, then blocked on another (the one-worker pool waiting for its own subtask). */
    stuck(0), stuck(1);
    in.scan++;
    in.now_ns += SEC;
    pg_pi_scan(&in, &state, &out); /* the same waits were seen before: no second look needed */
    ck_assert_int_eq(out.nverdicts, 1);
    ck_assert_int_eq(out.verdicts[0].proof, PG_PI_PROOF_GRAPH);
    ck_assert_int_eq(out.verdicts[0].queued, 5);
}
END_TEST

/* Two busy workers that never go idle while main keeps signalling their work condition: the
 * inferred depth climbs past the limit either way; only a process that grows with it is a queue
 * that really grows. */
static int saturated_pool_growth_of(uint64_t rss_growth_kb, int went_idle, int pools)
{
    scan_reset(1 + 2 * pools);
    for (int i = 0; i < 2 * pools; i++) {
        th[i + 1].key = 0x11 + (uint64_t)(i / 2); /* pools of two workers */
        th[i + 1].cls = PG_PI_CLASS_PLAIN;
        th[i + 1].waiting = 0; /* running tasks */
        if (went_idle)
            th[i + 1].hist[0].obj = 0xa0, th[i + 1].hist[0].count = 3, th[i + 1].hist[0].kind = 5;
    }
    struct pg_pi_thread *main_th = &th[0];
    main_th->waiting = 0; /* main, submitting */
    main_th->lost[0].obj = 0xa0, main_th->lost[0].kind = 5;
    in.queue_limit = 1000;
    in.rss_kb = 50000;
    int found = 0;
    for (int k = 0; k <= 40; k++) { /* 4 s, 500 more signals a scan */
        main_th->lost[0].count = 500 * (uint32_t)k;
        in.rss_kb = 50000 + rss_growth_kb * (uint64_t)k / 40;
        pg_pi_scan(&in, &state, &out);
        for (int v = 0; v < out.nverdicts; v++)
            found += out.verdicts[v].kind == PG_PI_GROWTH;
        in.scan++;
        in.now_ns += SEC / 10;
    }
    return found;
}

static int saturated_pool_growth(uint64_t rss_growth_kb)
{
    return saturated_pool_growth_of(rss_growth_kb, 1, 1);
}

START_TEST(test_pool_trace_inferred_growth_needs_the_process_to_grow)
{
    ck_assert_int_eq(saturated_pool_growth(0), 0);
    ck_assert_int_eq(saturated_pool_growth(200), 0);
    ck_assert_int_eq(saturated_pool_growth(8192), 1);
}
END_TEST

/* Workers flooded before they ever waited: the object main keeps signalling unheard feeds the one
 * pool whose workers are all busy; with two such pools nothing says which, and nothing is said. */
START_TEST(test_pool_trace_never_idle_pool_grows_through_the_object_main_feeds)
{
    ck_assert_int_eq(saturated_pool_growth_of(8192, 0, 1), 1);
    ck_assert_int_eq(saturated_pool_growth_of(0, 0, 1), 0);
    ck_assert_int_eq(saturated_pool_growth_of(8192, 0, 2), 0);
}
END_TEST

/* A thread the graph proves stuck, whose usual wait object other threads fed work to while it was
 * busy: the proven hang is described as that one-thread pool's exhaustion. */
START_TEST(test_pool_trace_proven_single_consumer_with_queued_work_is_its_pool)
{
    scan_reset(2);
    worker(0, 0x11, 0xa0);
    stuck(0);
    th[0].hist[0].obj = 0xb0, th[0].hist[0].count = 9, th[0].hist[0].kind = 5;
    th[1].waiting = 0; /* the producer, running, with two signals nobody heard */
    th[1].lost[0].obj = 0xb0, th[1].lost[0].count = 2, th[1].lost[0].seq = 1,
    th[1].lost[0].kind = 5;
    scan_twice();
    ck_assert_int_eq(out.nverdicts, 1);
    ck_assert_int_eq(out.verdicts[0].kind, PG_PI_EXHAUSTION);
    ck_assert_int_eq(out.verdicts[0].severity, PG_PI_ERROR);
    ck_assert_int_eq(out.verdicts[0].proof, PG_PI_PROOF_GRAPH);
    ck_assert_int_eq(out.verdicts[0].queued, 2);
    /* Without the graph's proof, nothing. */
    scan_reset(2);
    worker(0, 0x11, 0xa0);
    th[0].hist[0].obj = 0xb0, th[0].hist[0].count = 9, th[0].hist[0].kind = 5;
    th[1].waiting = 0;
    th[1].lost[0].obj = 0xb0, th[1].lost[0].count = 2, th[1].lost[0].seq = 1,
    th[1].lost[0].kind = 5;
    in.now_ns += 200 * SEC;
    scan_twice();
    ck_assert_int_eq(out.nverdicts, 0);
}
END_TEST

/* A worker that signals its task's completion (nobody waits yet) and goes back to its idle wait is
 * not submitting work: its wait is on the object every worker always waits on. */
START_TEST(test_pool_trace_completion_signal_before_the_idle_wait_is_not_a_submission)
{
    scan_reset(3);
    for (int i = 0; i < 2; i++) {
        worker(i, 0x11, 0xa0); /* the pool's work condition */
        th[i].hist[0].obj = 0xa0, th[i].hist[0].count = 2, th[i].hist[0].kind = 5;
        th[i].lost[0].obj =
            0xc0 + 8 * (uintptr_t)i; /* the task's done condition, signalled unheard */
        th[i].lost[0].count = 1, th[i].lost[0].seq = 6, th[i].lost[0].kind = 5;
    }
    th[2].waiting = 0; /* main signals them again, unheard */
    th[2].lost[0].obj = 0xc0, th[2].lost[0].count = 1, th[2].lost[0].kind = 5;
    th[2].lost[1].obj = 0xc8, th[2].lost[1].count = 1, th[2].lost[1].kind = 5;
    in.now_ns += 200 * SEC;
    scan_twice();
    ck_assert_int_eq(out.nverdicts, 0);
}
END_TEST

START_TEST(test_pool_trace_runtime_threads_are_never_grouped)
{
    scan_reset(3);
    for (int i = 0; i < 3; i++) {
        worker(i, 0x33, 0xa0 + 8 * (uintptr_t)i);
        th[i].cls = PG_PI_CLASS_RUNTIME;
        stuck(i);
    }
    scan_twice();
    ck_assert_int_eq(grouped(), 0);
    ck_assert_int_eq(out.nverdicts, 0);
}
END_TEST

START_TEST(test_pool_trace_a_runnable_worker_blocks_an_error)
{
    scan_reset(2);
    worker(0, 0x11, 0xa0);
    worker(1, 0x11, 0xa8);
    stuck(0), stuck(1);
    th[1].runnable = 1; /* woken: not stuck, however long it takes to run */
    scan_twice();
    ck_assert_int_eq(out.nverdicts, 0);
    /* Once it is asleep again in the very same wait, the proof holds. */
    th[1].runnable = 0;
    in.scan++;
    pg_pi_scan(&in, &state, &out);
    ck_assert_int_eq(out.nverdicts, 1);
    ck_assert_int_eq(out.verdicts[0].severity, PG_PI_ERROR);
}
END_TEST

START_TEST(test_pool_trace_unread_run_state_is_asked_for_once)
{
    scan_reset(2);
    worker(0, 0x11, 0xa0);
    worker(1, 0x11, 0xa8);
    stuck(0), stuck(1);
    th[0].runnable = th[1].runnable = PG_PI_UNREAD;
    pg_pi_scan(&in, &state, &out);
    /* First scan: the waits were not seen before, so nobody asks. */
    ck_assert_int_eq(th[0].runnable, PG_PI_UNREAD);
    in.scan++;
    pg_pi_scan(&in, &state, &out);
    /* No reader (a replay): unknown, which is not runnable. */
    ck_assert_int_eq(th[0].runnable, -1);
    ck_assert_int_eq(out.nverdicts, 1);
}
END_TEST

/* An inferred semaphore pool: workers wait on their own objects after posting the queue
 * semaphore 0xc0, where they used to wait for work. */
static void sem_pool(long sem_value, uint32_t posts)
{
    scan_reset(3);
    for (int i = 0; i < 2; i++) {
        worker(i, 0x44, 0xa0 + 8 * (uintptr_t)i);
        th[i].hist[0].obj = 0xc0, th[i].hist[0].count = 3, th[i].hist[0].kind = PG_PI_W_SEM;
    }
    th[0].lost[0].obj = 0xc0, th[0].lost[0].count = posts, th[0].lost[0].kind = PG_PI_W_SEM;
    th[0].lost[0].seq = th[0].seq - 1; /* posted, then blocked: submit then wait */
    in.nsems = 1;
    in.sems[0].obj = 0xc0;
    in.sems[0].value = sem_value;
}

START_TEST(test_pool_trace_semaphore_queue_never_exceeds_lost_posts)
{
    sem_pool(100, 3); /* memory that is no longer the semaphore says 100 */
    scan_twice();
    ck_assert_int_eq(grouped(), 1);
    ck_assert_int_eq(out.groups[0].queued, 3);
    ck_assert_int_eq(out.groups[0].submit_wait, 1);
    ck_assert_int_eq(out.nverdicts, 1);
    ck_assert_int_eq(out.verdicts[0].severity, PG_PI_WARNING);
    ck_assert_int_eq(out.verdicts[0].proof, PG_PI_PROOF_INFERRED);
    ck_assert_int_eq(out.verdicts[0].evidence, PG_PI_EV_SEMCOUNT);
    ck_assert_int_eq(out.verdicts[0].queued, 3);

    sem_pool(1, 3); /* two of the three posts were taken */
    scan_twice();
    ck_assert_int_eq(out.groups[0].queued, 1);

    sem_pool(-1, 3); /* unreadable: no queue known, no warning */
    scan_twice();
    ck_assert_int_eq(out.groups[0].queued, -1);
    ck_assert_int_eq(out.nverdicts, 0);
}
END_TEST

START_TEST(test_pool_trace_an_object_others_wait_on_is_not_the_queue)
{
    /* Workers post 0xc0 and block: "submit then wait". But main waits on 0xc0 too: the workers
     * are announcing something to main, not queueing work for themselves. */
    sem_pool(3, 3);
    th[2].hist[0].obj = 0xc0, th[2].hist[0].count = 1, th[2].hist[0].kind = PG_PI_W_SEM;
    th[1].hist[0].obj = 0;
    scan_twice();
    ck_assert_int_eq(out.groups[0].submit_wait, 0);
    ck_assert_int_eq(out.nverdicts, 0);
}
END_TEST

/* An exact pool with two busy workers, each waiting for a task still queued in it. */
static void exact_pool(int declared)
{
    scan_reset(2);
    in.npools = 1;
    memset(pools, 0, sizeof pools[0]);
    pools[0].handle = 0x9000;
    pools[0].workers = declared;
    pools[0].submitted = 4;
    pools[0].started = 2;
    for (int i = 0; i < 2; i++) {
        worker(i, 0, 0xa0 + 8 * (uintptr_t)i);
        th[i].pool = 0x9000;
        th[i].ann_task = 0x100 + (uintptr_t)i;
        th[i].ann_wait_task = 0x200 + (uintptr_t)i;
        th[i].wait_task_queued_in = 0x9000;
    }
}

START_TEST(test_pool_trace_exact_pool_needs_every_worker_busy)
{
    exact_pool(3); /* a third worker could still start the queued tasks */
    scan_twice();
    ck_assert_int_eq(out.nverdicts, 0);

    exact_pool(0); /* workers unknown: nothing proven */
    scan_twice();
    ck_assert_int_eq(out.nverdicts, 0);

    exact_pool(2);
    scan_twice();
    ck_assert_int_eq(out.nverdicts, 1);
    ck_assert_int_eq(out.verdicts[0].severity, PG_PI_ERROR);
    ck_assert_int_eq(out.verdicts[0].proof, PG_PI_PROOF_EXACT);
    ck_assert_int_eq(out.verdicts[0].queued, 2);
}
END_TEST

START_TEST(test_pool_trace_exact_worker_waiting_for_a_running_task_needs_its_runner_held)
{
    exact_pool(2);
    /* Worker 1 waits for worker 0's task; worker 0 waits for something no task explains. */
    th[1].ann_wait_task = th[0].ann_task;
    th[1].wait_task_queued_in = 0;
    th[0].ann_wait_task = 0;
    th[0].wait_task_queued_in = 0;
    scan_twice();
    ck_assert_int_eq(out.nverdicts, 0);
    ck_assert_int_eq(out.groups[0].stuck, 0);
    /* Worker 0 submitted to its own pool and blocked before that task started: both are held. */
    th[0].sub_pool = 0x9000;
    th[0].sub_task = 0x300;
    th[0].sub_seq = th[0].seq - 1;
    th[0].sub_task_queued_in = 0x9000;
    in.scan++;
    pg_pi_scan(&in, &state, &out); /* the same waits as at the scans before */
    ck_assert_int_eq(out.groups[0].stuck, 2);
    ck_assert_int_eq(out.nverdicts, 1);
    ck_assert_int_eq(out.verdicts[0].proof, PG_PI_PROOF_EXACT);
}
END_TEST

START_TEST(test_pool_trace_workers_already_reported_are_not_reported_again)
{
    scan_reset(2);
    worker(0, 0x11, 0xa0);
    worker(1, 0x11, 0xa8);
    stuck(0), stuck(1);
    th[0].reported = th[1].reported = 1;
    scan_twice();
    ck_assert_int_eq(out.nverdicts, 0);
}
END_TEST

START_TEST(test_pool_trace_stopped_process_time_is_not_blocked_time)
{
    scan_reset(1);
    in.ngaps = 1;
    in.gaps[0].start = 91 * SEC;
    in.gaps[0].len = 5 * SEC;
    ck_assert_uint_eq(pg_pi_blocked_ns(&in, 90 * SEC), 5 * SEC);
    ck_assert_uint_eq(pg_pi_blocked_ns(&in, 97 * SEC), 3 * SEC);
    ck_assert_uint_eq(pg_pi_blocked_ns(&in, 200 * SEC), 0);
}
END_TEST

Suite *pool_rules_suite(void)
{
    Suite *s = suite_create("pool_rules");
    TCase *r = tcase_create("rules");
    tcase_add_test(r, test_pool_trace_two_stuck_workers_are_a_proven_pool);
    tcase_add_test(r, test_pool_trace_single_thread_is_never_an_inferred_pool);
    tcase_add_test(r, test_pool_trace_inferred_growth_needs_the_process_to_grow);
    tcase_add_test(r, test_pool_trace_never_idle_pool_grows_through_the_object_main_feeds);
    tcase_add_test(r, test_pool_trace_proven_single_consumer_with_queued_work_is_its_pool);
    tcase_add_test(r, test_pool_trace_completion_signal_before_the_idle_wait_is_not_a_submission);
    tcase_add_test(r, test_pool_trace_runtime_threads_are_never_grouped);
    tcase_add_test(r, test_pool_trace_a_runnable_worker_blocks_an_error);
    tcase_add_test(r, test_pool_trace_unread_run_state_is_asked_for_once);
    tcase_add_test(r, test_pool_trace_semaphore_queue_never_exceeds_lost_posts);
    tcase_add_test(r, test_pool_trace_an_object_others_wait_on_is_not_the_queue);
    tcase_add_test(r, test_pool_trace_exact_pool_needs_every_worker_busy);
    tcase_add_test(r,
                   test_pool_trace_exact_worker_waiting_for_a_running_task_needs_its_runner_held);
    tcase_add_test(r, test_pool_trace_workers_already_reported_are_not_reported_again);
    tcase_add_test(r, test_pool_trace_stopped_process_time_is_not_blocked_time);
    suite_add_tcase(s, r);
    return s;
}

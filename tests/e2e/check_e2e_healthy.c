/*
 * End-to-end tests of the shim on healthy programs that block a lot (ok_*): each runs once
 * natively and once under LD_PRELOAD=libpoolguard.so with a fresh POOLGUARD_DIR, always under a
 * hard time limit; it must exit by itself, with the same stdout and exit status, and leave no
 * finding (e2e_check_healthy, tests/lib/testlib_run.c). Programs that deadlock on purpose are in
 * check_e2e.c.
 */
#include "testlib.h"

#include <check.h>

static const struct e2e_ok_case healthy[] = {
    { "ok_contended", 0 }, { "ok_prodcons", 0 }, { "ok_timed_poll", 0 }, { "ok_rwlock", 0 },
    { "ok_barrier", 3 },   { "ok_future", 0 },   { "ok_long_wait", 0 },  { "ok_cancel", 0 },
    { "ok_syscall", 5 },   { "ok_errno", 0 },    { "ok_ctor", 4 },
};

#define HEALTHY_TEST(name, index)                                                                  \
    START_TEST(name)                                                                               \
    {                                                                                              \
        e2e_check_healthy(&healthy[index], NULL, NULL);                                            \
    }                                                                                              \
    END_TEST

HEALTHY_TEST(test_contended_mutexes_give_no_finding_and_same_output, 0)
HEALTHY_TEST(test_producer_consumer_gives_no_finding_and_same_output, 1)
HEALTHY_TEST(test_timed_polling_gives_no_finding_and_same_output, 2)
HEALTHY_TEST(test_readers_and_writers_give_no_finding_and_same_output, 3)
HEALTHY_TEST(test_barrier_phases_give_no_finding_and_keep_exit_status, 4)
HEALTHY_TEST(test_completing_futures_give_no_finding_and_same_output, 5)
HEALTHY_TEST(test_long_wait_for_live_producer_gives_no_finding, 6)
HEALTHY_TEST(test_cancelled_waits_give_no_finding_and_same_output, 7)
HEALTHY_TEST(test_syscall_passes_other_calls_and_futex_results_through, 8)
HEALTHY_TEST(test_errno_and_eintr_are_preserved, 9)
HEALTHY_TEST(test_threads_in_constructors_and_at_exit_work, 10)

Suite *e2e_healthy_suite(void)
{
    Suite *s = suite_create("e2e_healthy");

    TCase *tc = tcase_create("healthy");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_contended_mutexes_give_no_finding_and_same_output);
    tcase_add_test(tc, test_producer_consumer_gives_no_finding_and_same_output);
    tcase_add_test(tc, test_timed_polling_gives_no_finding_and_same_output);
    tcase_add_test(tc, test_readers_and_writers_give_no_finding_and_same_output);
    tcase_add_test(tc, test_barrier_phases_give_no_finding_and_keep_exit_status);
    tcase_add_test(tc, test_completing_futures_give_no_finding_and_same_output);
    tcase_add_test(tc, test_long_wait_for_live_producer_gives_no_finding);
    tcase_add_test(tc, test_cancelled_waits_give_no_finding_and_same_output);
    tcase_add_test(tc, test_syscall_passes_other_calls_and_futex_results_through);
    tcase_add_test(tc, test_errno_and_eintr_are_preserved);
    tcase_add_test(tc, test_threads_in_constructors_and_at_exit_work);
    suite_add_tcase(s, tc);
    return s;
}

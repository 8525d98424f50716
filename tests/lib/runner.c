/*
 * The one Check runner: every tests/check_<module>.c exports `Suite *<module>_suite(void)`, and the
 * Makefile lists them in build/suites.inc, so adding a test file needs no edit here.
 * Set CK_RUN_SUITE / CK_RUN_CASE to run a part; CK_VERBOSITY=verbose to see each test.
 */
#include <check.h>
#include <stdlib.h>

#define SUITE(name) Suite *name##_suite(void);
#include "suites.inc"
#undef SUITE

int main(void)
{
    SRunner *sr = srunner_create(NULL);
#define SUITE(name) srunner_add_suite(sr, name##_suite());
#include "suites.inc"
#undef SUITE
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

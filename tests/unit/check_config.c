/*
 * POOLGUARD_* parsing (shim/core/config.c): good values are taken, bad ones keep the default and
 * produce one clear `poolguard:` warning naming the variable.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "config.h"

static const char *env_names[16], *env_values[16];
static int nenv;
static char warnings[8][512];
static int nwarn;

static void set(const char *k, const char *v)
{
    env_names[nenv] = k;
    env_values[nenv++] = v;
}

static const char *get(const char *k)
{
    for (int i = 0; i < nenv; i++)
        if (!strcmp(env_names[i], k))
            return env_values[i];
    return NULL;
}

static void warn(const char *msg)
{
    if (nwarn < 8)
        snprintf(warnings[nwarn], sizeof warnings[0], "%s", msg);
    nwarn++;
}

static void setup(void)
{
    nenv = 0;
    nwarn = 0;
}

START_TEST(test_config_defaults_without_environment)
{
    struct pg_config c;
    pg_config_defaults(&c);
    ck_assert_int_eq(pg_config_parse(&c, get, warn), 0);
    ck_assert_int_eq(c.interval_ms, 100);
    ck_assert_int_eq(c.stall_ms, 10000);
    ck_assert_int_eq(c.on_finding, PG_ON_CONTINUE);
    ck_assert_str_eq(c.dir, "");
    ck_assert_int_eq(nwarn, 0);
}
END_TEST

START_TEST(test_config_takes_good_values)
{
    set("POOLGUARD_INTERVAL_MS", "25");
    set("POOLGUARD_ON_FINDING", "exit:42");
    set("POOLGUARD_DIR", "/var/tmp/reports");
    set("POOLGUARD_QUIET", "yes");
    set("POOLGUARD_MAX_THREADS", "10000");
    struct pg_config c;
    pg_config_defaults(&c);
    ck_assert_int_eq(pg_config_parse(&c, get, warn), 0);
    ck_assert_int_eq(c.interval_ms, 25);
    ck_assert_int_eq(c.on_finding, PG_ON_EXIT);
    ck_assert_int_eq(c.exit_code, 42);
    ck_assert_str_eq(c.dir, "/var/tmp/reports");
    ck_assert_int_eq(c.quiet, 1);
    ck_assert_int_eq(c.max_threads, 10000);
}
END_TEST

START_TEST(test_config_bad_values_warn_and_keep_defaults)
{
    set("POOLGUARD_INTERVAL_MS", "abc");
    set("POOLGUARD_STALL_MS", "-5");
    set("POOLGUARD_STACK_DEPTH", "99999999999999999999");
    set("POOLGUARD_ON_FINDING", "exit:300");
    set("POOLGUARD_QUIET", "maybe");
    struct pg_config c;
    pg_config_defaults(&c);
    ck_assert_int_eq(pg_config_parse(&c, get, warn), 5);
    ck_assert_int_eq(nwarn, 5);
    ck_assert_int_eq(c.interval_ms, 100);
    ck_assert_int_eq(c.stall_ms, 10000);
    ck_assert_int_eq(c.stack_depth, 64);
    ck_assert_int_eq(c.on_finding, PG_ON_CONTINUE);
    ck_assert_ptr_nonnull(strstr(warnings[0], "poolguard: warning: POOLGUARD_INTERVAL_MS='abc'"));
    ck_assert_ptr_nonnull(strstr(warnings[0], "using the default"));
    ck_assert_ptr_nonnull(strstr(warnings[4], "POOLGUARD_ON_FINDING"));
}
END_TEST

START_TEST(test_config_interval_out_of_range_is_refused)
{
    set("POOLGUARD_INTERVAL_MS", "0");
    struct pg_config c;
    pg_config_defaults(&c);
    ck_assert_int_eq(pg_config_parse(&c, get, warn), 1);
    ck_assert_int_eq(c.interval_ms, 100);
    ck_assert_ptr_nonnull(strstr(warnings[0], "from 10 to 60000"));
}
END_TEST

START_TEST(test_config_long_value_is_cut_in_the_warning_and_dir_refused)
{
    static char longdir[4096];
    memset(longdir, 'd', sizeof longdir - 1);
    longdir[0] = '/';
    set("POOLGUARD_DIR", longdir);
    struct pg_config c;
    pg_config_defaults(&c);
    ck_assert_int_eq(pg_config_parse(&c, get, warn), 1);
    ck_assert_str_eq(c.dir, "");
    ck_assert_uint_lt(strlen(warnings[0]), 200);
}
END_TEST

START_TEST(test_config_abort_mode)
{
    set("POOLGUARD_ON_FINDING", "abort");
    struct pg_config c;
    pg_config_defaults(&c);
    ck_assert_int_eq(pg_config_parse(&c, get, warn), 0);
    ck_assert_int_eq(c.on_finding, PG_ON_ABORT);
}
END_TEST

Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("parse");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_config_defaults_without_environment);
    tcase_add_test(tc, test_config_takes_good_values);
    tcase_add_test(tc, test_config_bad_values_warn_and_keep_defaults);
    tcase_add_test(tc, test_config_interval_out_of_range_is_refused);
    tcase_add_test(tc, test_config_long_value_is_cut_in_the_warning_and_dir_refused);
    tcase_add_test(tc, test_config_abort_mode);
    suite_add_tcase(s, tc);
    return s;
}

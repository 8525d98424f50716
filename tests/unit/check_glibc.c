/*
 * glibc's lock words (shim/core/glibc.h): the version gate's parsing and range, and the decoders
 * read against the glibc the tests run on, with real locks in known states, so that a layout the
 * compile-time checks let through but the running library does not share shows here.
 */
#include <check.h>
#include <gnu/libc-version.h>
#include <string.h>
#include <unistd.h>

#include "glibc.h"

START_TEST(test_glibc_version_parsing)
{
    int major = -1, minor = -1;
    ck_assert_int_eq(pg_glibc_parse_version("2.36", &major, &minor), 0);
    ck_assert_int_eq(major, 2);
    ck_assert_int_eq(minor, 36);
    ck_assert_int_eq(pg_glibc_parse_version("2.40.9000", &major, &minor), 0);
    ck_assert_int_eq(minor, 40);
    ck_assert_int_eq(pg_glibc_parse_version("2.39-13", &major, &minor), 0);
    ck_assert_int_eq(minor, 39);
    ck_assert_int_eq(pg_glibc_parse_version("3.0", &major, &minor), 0);
    ck_assert_int_eq(major, 3);
    static const char *const bad[] = { "",    "2",   "2.",    ".36",           "x2.36",
                                       "2.x", "236", " 2.36", "99999999999.1", "2.99999999999" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(pg_glibc_parse_version(bad[i], &major, &minor) < 0, "\"%s\" was accepted",
                      bad[i]);
    ck_assert_int_lt(pg_glibc_parse_version(NULL, &major, &minor), 0);
}
END_TEST

START_TEST(test_glibc_verified_range)
{
    static const char *const in[] = {
        "2.34", "2.35", "2.36", "2.38", "2.40", "2.36.9000", "2.40-1"
    };
    static const char *const out[] = { "2.33", "2.25",  "2.41", "2.42",    "3.36", "1.36",
                                       "2.4",  "2.340", "",     "unknown", "2.99" };
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
        ck_assert_msg(pg_glibc_version_verified(in[i]) == PG_GLIBC_ARCH_VERIFIED,
                      "%s: verified %d on this architecture", in[i],
                      pg_glibc_version_verified(in[i]));
    for (size_t i = 0; i < sizeof out / sizeof out[0]; i++)
        ck_assert_msg(!pg_glibc_version_verified(out[i]), "\"%s\" counted as verified", out[i]);
    ck_assert(!pg_glibc_version_verified(NULL));
}
END_TEST

/* The library the tests run on: if it is in the range, the decoders below must read it right. */
START_TEST(test_glibc_decoders_read_real_locks)
{
    if (!pg_glibc_version_verified(gnu_get_libc_version()))
        return; /* the gate would keep the shim from decoding anything here */
    pid_t me = gettid();

    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    struct pg_glibc_mutex dm;
    ck_assert_int_eq(pg_glibc_mutex_decode(&m, 1, &dm), 0);
    ck_assert(!pg_glibc_mutex_held(dm.owner));
    ck_assert_int_eq(dm.kind, 0);
    pthread_mutex_lock(&m);
    ck_assert_int_eq(pg_glibc_mutex_decode(&m, 1, &dm), 0);
    ck_assert_int_eq(dm.owner, me);
    ck_assert(pg_glibc_mutex_held(dm.owner));
    ck_assert_int_eq(*pg_glibc_mutex_word(&m), 1);
    pthread_mutex_unlock(&m);
    ck_assert_int_lt(pg_glibc_mutex_decode(&m, 0, &dm), 0); /* the gate shut: unknown */

    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_mutex_t rm;
    pthread_mutex_init(&rm, &ma);
    ck_assert_int_eq(pg_glibc_mutex_decode(&rm, 1, &dm), 0);
    ck_assert(dm.kind & PG_GLIBC_MUTEX_ROBUST);
    ck_assert(dm.kind & PG_GLIBC_MUTEX_PSHARED);
    pthread_mutex_destroy(&rm);
    pthread_mutexattr_destroy(&ma);

    pthread_rwlock_t l = PTHREAD_RWLOCK_INITIALIZER;
    struct pg_glibc_rwlock dl;
    pthread_rwlock_rdlock(&l);
    pthread_rwlock_rdlock(&l);
    ck_assert_int_eq(pg_glibc_rwlock_decode(&l, 1, &dl), 0);
    ck_assert_uint_eq(dl.readers, 2);
    ck_assert_int_eq(dl.writer, 0);
    ck_assert(!dl.shared);
    pthread_rwlock_unlock(&l);
    pthread_rwlock_unlock(&l);
    pthread_rwlock_wrlock(&l);
    ck_assert_int_eq(pg_glibc_rwlock_decode(&l, 1, &dl), 0);
    ck_assert_int_eq(dl.writer, me);
    ck_assert_uint_eq(dl.readers, 0);
    pthread_rwlock_unlock(&l);
    ck_assert_int_lt(pg_glibc_rwlock_decode(&l, 0, &dl), 0);

    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
    pthread_cond_t c;
    pthread_cond_init(&c, &ca);
    unsigned wrefs;
    memcpy(&wrefs, (const char *)&c + PG_GLIBC_COND_WREFS_OFF, sizeof wrefs);
    ck_assert(pg_glibc_cond_shared_of(wrefs));
    ck_assert_uint_eq(pg_glibc_cond_waiters_of(wrefs), 0);
    pthread_cond_destroy(&c);
    pthread_condattr_destroy(&ca);
    pthread_cond_t pc = PTHREAD_COND_INITIALIZER;
    memcpy(&wrefs, (const char *)&pc + PG_GLIBC_COND_WREFS_OFF, sizeof wrefs);
    ck_assert(!pg_glibc_cond_shared_of(wrefs));

    for (int pshared = 0; pshared <= 1; pshared++) {
        sem_t s;
        sem_init(&s, pshared, 3);
        sem_post(&s);
        struct pg_glibc_sem ds;
        memcpy(&ds, &s, sizeof ds);
        ck_assert_int_eq(pg_glibc_sem_value_of(ds.data), 4);
        ck_assert_uint_eq(pg_glibc_sem_nwaiters_of(ds.data), 0);
        ck_assert_int_eq(pg_glibc_sem_shared_of(ds.private), pshared);
        sem_destroy(&s);
    }
}
END_TEST

Suite *glibc_suite(void)
{
    Suite *s = suite_create("glibc");
    TCase *tc = tcase_create("layouts");
    tcase_add_test(tc, test_glibc_version_parsing);
    tcase_add_test(tc, test_glibc_verified_range);
    tcase_add_test(tc, test_glibc_decoders_read_real_locks);
    suite_add_tcase(s, tc);
    return s;
}

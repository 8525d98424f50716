/*
 * pthread_rwlock_* hooks. Same shape as the mutex hooks: the real try-variant first, the wait
 * published only when it fails with EBUSY. Read locks are recorded in the reader's slot: the C
 * library keeps no list of readers, and a writer blocked behind readers waits for every one of them.
 * Unlock does not say which mode it releases; the slot's own record does.
 */
#include "lockorder.h"
#include "pg.h"

#include <errno.h>

enum { MODE_PLAIN, MODE_TIMED, MODE_CLOCK };

static int rw_acquire(pthread_rwlock_t *l, int write, int mode, clockid_t clk,
                      const struct timespec *ts, uintptr_t caller)
{
    if (PG_UNLIKELY(!pg_real.rw_unlock))
        pg_real_resolve();
    struct pg_thread *t = pg_self();
    int (*plain)(pthread_rwlock_t *) = write ? pg_real.rw_wrlock : pg_real.rw_rdlock;
    int (*timed)(pthread_rwlock_t *, const struct timespec *) =
        write ? pg_real.rw_timedwrlock : pg_real.rw_timedrdlock;
    int (*clocked)(pthread_rwlock_t *, clockid_t, const struct timespec *) =
        write ? pg_real.rw_clockwrlock : pg_real.rw_clockrdlock;
    if (mode == MODE_CLOCK && !clocked)
        return ENOSYS;
#define REAL_CALL()                                                                                \
    (mode == MODE_PLAIN ? plain(l) : mode == MODE_TIMED ? timed(l, ts) : clocked(l, clk, ts))
    if (!t)
        return REAL_CALL();
    int r = write ? pg_real.rw_trywrlock(l) : pg_real.rw_tryrdlock(l);
    if (r == EBUSY) {
        struct pg_waitscope ws __attribute__((cleanup(pg_wait_end)));
        PG_WAIT_BEGIN(ws, t, write ? PG_W_RWLOCK_WRITE : PG_W_RWLOCK_READ, l, mode != MODE_PLAIN,
                      0);
        pg_watchdog_ensure();
        r = REAL_CALL();
        pg_wait_end(&ws);
    }
#undef REAL_CALL
    if (r == 0) {
        pg_lo_acquired(t, l, write ? PG_H_RWLOCK_WRITE : PG_H_RWLOCK_READ, caller);
        pg_held_push(t, l, write ? PG_H_RWLOCK_WRITE : PG_H_RWLOCK_READ, caller);
    }
    return r;
}

PG_EXPORT int pthread_rwlock_rdlock(pthread_rwlock_t *l)
{
    return rw_acquire(l, 0, MODE_PLAIN, 0, NULL, PG_CALLER);
}

PG_EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t *l)
{
    return rw_acquire(l, 1, MODE_PLAIN, 0, NULL, PG_CALLER);
}

PG_EXPORT int pthread_rwlock_timedrdlock(pthread_rwlock_t *l, const struct timespec *ts)
{
    return rw_acquire(l, 0, MODE_TIMED, 0, ts, PG_CALLER);
}

PG_EXPORT int pthread_rwlock_timedwrlock(pthread_rwlock_t *l, const struct timespec *ts)
{
    return rw_acquire(l, 1, MODE_TIMED, 0, ts, PG_CALLER);
}

PG_EXPORT int pthread_rwlock_clockrdlock(pthread_rwlock_t *l, clockid_t clk,
                                         const struct timespec *ts)
{
    return rw_acquire(l, 0, MODE_CLOCK, clk, ts, PG_CALLER);
}

PG_EXPORT int pthread_rwlock_clockwrlock(pthread_rwlock_t *l, clockid_t clk,
                                         const struct timespec *ts)
{
    return rw_acquire(l, 1, MODE_CLOCK, clk, ts, PG_CALLER);
}

static int rw_try(pthread_rwlock_t *l, int write, uintptr_t caller)
{
    if (PG_UNLIKELY(!pg_real.rw_unlock))
        pg_real_resolve();
    struct pg_thread *t = pg_self();
    int r = write ? pg_real.rw_trywrlock(l) : pg_real.rw_tryrdlock(l);
    if (t && r == 0)
        pg_held_push(t, l, write ? PG_H_RWLOCK_WRITE : PG_H_RWLOCK_READ, caller);
    return r;
}

PG_EXPORT int pthread_rwlock_tryrdlock(pthread_rwlock_t *l)
{
    return rw_try(l, 0, PG_CALLER);
}

PG_EXPORT int pthread_rwlock_trywrlock(pthread_rwlock_t *l)
{
    return rw_try(l, 1, PG_CALLER);
}

PG_EXPORT int pthread_rwlock_unlock(pthread_rwlock_t *l)
{
    if (PG_UNLIKELY(!pg_real.rw_unlock))
        pg_real_resolve();
    struct pg_thread *t = pg_self();
    int r = pg_real.rw_unlock(l);
    if (t && r == 0)
        pg_held_drop(t, l);
    return r;
}

PG_EXPORT int pthread_rwlock_init(pthread_rwlock_t *l, const pthread_rwlockattr_t *a)
{
    if (PG_UNLIKELY(!pg_real.rw_init))
        pg_real_resolve();
    int r = pg_real.rw_init(l, a);
    if (r == 0)
        pg_lo_made((uintptr_t)l, PG_CALLER);
    return r;
}

PG_EXPORT int pthread_rwlock_destroy(pthread_rwlock_t *l)
{
    if (PG_UNLIKELY(!pg_real.rw_destroy))
        pg_real_resolve();
    int r = pg_real.rw_destroy(l);
    if (r == 0)
        pg_lo_forget((uintptr_t)l);
    return r;
}

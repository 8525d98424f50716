/*
 * pthread_mutex_* hooks. Runs inside the program's lock calls: no allocation, no locks of its own,
 * errno untouched, the real function's return value passed through unchanged.
 *
 * The fast path is the real trylock: when it succeeds the hook only records the lock as held (a few
 * stores into the thread's own slot). Only when it fails with EBUSY does the thread publish "about
 * to wait on this mutex" and call the real lock. trylock and lock agree on every other outcome
 * (EOWNERDEAD, ENOTRECOVERABLE, EINVAL, EAGAIN for a recursion count overflow), so the program
 * sees what it would have seen without the shim; an error-checking mutex relocked by its owner
 * fails trylock with EBUSY and then lock with EDEADLK, as it should.
 */
#include "pg.h"

#include <errno.h>

#define PG_EXPORT __attribute__((visibility("default")))
#define CALLER ((uintptr_t)__builtin_return_address(0))

static inline int took(int r)
{
    return r == 0 || r == EOWNERDEAD;
}

PG_EXPORT int pthread_mutex_lock(pthread_mutex_t *m)
{
    struct pg_thread *t = pg_self();
    if (PG_UNLIKELY(!t)) {
        if (PG_UNLIKELY(!pg_real.mutex_lock))
            pg_real_resolve();
        return pg_real.mutex_lock(m);
    }
    int r = pg_real.mutex_trylock(m);
    if (r == EBUSY) {
        struct pg_waitscope ws __attribute__((cleanup(pg_wait_end)));
        PG_WAIT_BEGIN(ws, t, PG_W_MUTEX, m, 0, 0);
        pg_watchdog_ensure();
        r = pg_real.mutex_lock(m);
        pg_wait_end(&ws);
    }
    if (took(r))
        pg_held_push(t, m, PG_H_MUTEX, CALLER);
    return r;
}

PG_EXPORT int pthread_mutex_trylock(pthread_mutex_t *m)
{
    struct pg_thread *t = pg_self();
    if (PG_UNLIKELY(!pg_real.mutex_trylock))
        pg_real_resolve();
    int r = pg_real.mutex_trylock(m);
    if (t && took(r))
        pg_held_push(t, m, PG_H_MUTEX, CALLER);
    return r;
}

static int timed_lock(pthread_mutex_t *m, int clocked, clockid_t clk, const struct timespec *ts,
                      uintptr_t caller)
{
    struct pg_thread *t = pg_self();
    if (PG_UNLIKELY(!pg_real.mutex_timedlock))
        pg_real_resolve();
    if (clocked && !pg_real.mutex_clocklock)
        return ENOSYS;
    int r;
    if (!t) {
        return clocked ? pg_real.mutex_clocklock(m, clk, ts) : pg_real.mutex_timedlock(m, ts);
    }
    r = pg_real.mutex_trylock(m);
    if (r == EBUSY) {
        struct pg_waitscope ws __attribute__((cleanup(pg_wait_end)));
        PG_WAIT_BEGIN(ws, t, PG_W_MUTEX, m, 1, 0);
        pg_watchdog_ensure();
        r = clocked ? pg_real.mutex_clocklock(m, clk, ts) : pg_real.mutex_timedlock(m, ts);
        pg_wait_end(&ws);
    }
    if (took(r))
        pg_held_push(t, m, PG_H_MUTEX, caller);
    return r;
}

PG_EXPORT int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *ts)
{
    return timed_lock(m, 0, 0, ts, CALLER);
}

PG_EXPORT int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t clk, const struct timespec *ts)
{
    return timed_lock(m, 1, clk, ts, CALLER);
}

PG_EXPORT int pthread_mutex_unlock(pthread_mutex_t *m)
{
    struct pg_thread *t = pg_self();
    if (PG_UNLIKELY(!pg_real.mutex_unlock))
        pg_real_resolve();
    int r = pg_real.mutex_unlock(m);
    if (t && r == 0)
        pg_held_drop(t, m);
    return r;
}

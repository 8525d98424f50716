/*
 * sem_* and pthread_barrier_wait hooks. sem_wait and sem_timedwait are cancellation points that
 * act on a pending cancellation even when the semaphore is free, so the hook tests for it first,
 * then tries the semaphore, and publishes a wait only when that fails. sem_trywait's EAGAIN on that
 * first try is the shim's own business: errno is put back. sem_post must stay async-signal-safe:
 * it only calls the real function.
 */
#include "glibc.h"
#include "pg.h"

#include <errno.h>

enum { MODE_PLAIN, MODE_TIMED, MODE_CLOCK };

static int sem_wait_any(sem_t *s, int mode, clockid_t clk, const struct timespec *ts)
{
    if (PG_UNLIKELY(!pg_real.sem_wait))
        pg_real_resolve();
    if (mode == MODE_CLOCK && !pg_real.sem_clockwait) {
        errno = ENOSYS;
        return -1;
    }
#define REAL_CALL()                                                                                \
    (mode == MODE_PLAIN   ? pg_real.sem_wait(s)                                                    \
     : mode == MODE_TIMED ? pg_real.sem_timedwait(s, ts)                                           \
                          : pg_real.sem_clockwait(s, clk, ts))
    struct pg_thread *t = pg_self();
    if (!t)
        return REAL_CALL();
    int saved = errno;
    pthread_testcancel();
    if (pg_real.sem_trywait(s) == 0) {
        errno = saved;
        return 0;
    }
    errno = saved;
    struct pg_waitscope ws __attribute__((cleanup(pg_wait_end)));
    PG_WAIT_BEGIN(ws, t, PG_W_SEM, s, mode != MODE_PLAIN, 0);
    pg_watchdog_ensure();
    int r = REAL_CALL();
#undef REAL_CALL
    pg_wait_end(&ws);
    return r;
}

PG_EXPORT int sem_wait(sem_t *s)
{
    return sem_wait_any(s, MODE_PLAIN, 0, NULL);
}

PG_EXPORT int sem_timedwait(sem_t *s, const struct timespec *ts)
{
    return sem_wait_any(s, MODE_TIMED, 0, ts);
}

PG_EXPORT int sem_clockwait(sem_t *s, clockid_t clk, const struct timespec *ts)
{
    return sem_wait_any(s, MODE_CLOCK, clk, ts);
}

PG_EXPORT int sem_trywait(sem_t *s)
{
    if (PG_UNLIKELY(!pg_real.sem_trywait))
        pg_real_resolve();
    return pg_real.sem_trywait(s);
}

/* Async-signal-safe: no lazy slot claim here, only the calling thread's own slot if it has one.
 * A post with no waiter (glibc keeps the count, glibc.h) queues a token: for a semaphore-counted
 * work queue, a task nobody is free to take. With the count unknown, nothing is noted. */
PG_EXPORT int sem_post(sem_t *s)
{
    if (PG_UNLIKELY(!pg_real.sem_post))
        pg_real_resolve();
    struct pg_thread *t = pg_cur;
    if ((uintptr_t)t > 1 && !t->in_shim) {
        if (pg_glibc_sem_waiters_now(s) == 0)
            pg_lost_note(t, (uintptr_t)s, PG_W_SEM, 0);
    }
    return pg_real.sem_post(s);
}

PG_EXPORT int pthread_barrier_wait(pthread_barrier_t *b)
{
    if (PG_UNLIKELY(!pg_real.barrier_wait))
        pg_real_resolve();
    struct pg_thread *t = pg_self();
    if (!t)
        return pg_real.barrier_wait(b);
    struct pg_waitscope ws __attribute__((cleanup(pg_wait_end)));
    PG_WAIT_BEGIN(ws, t, PG_W_BARRIER, b, 0, 0);
    pg_watchdog_ensure();
    int r = pg_real.barrier_wait(b);
    pg_wait_end(&ws);
    return r;
}

/*
 * pthread_cond_* hooks, interposing the GLIBC_2.3.2 functions that programs link against. A wait
 * on a condition variable always blocks, so there is no fast path to keep: the hook publishes the
 * wait, and while the thread sleeps its mutex is recorded as released (it is). If the thread is
 * cancelled inside the wait, the C library re-acquires the mutex before running cleanup handlers;
 * the cleanup attribute below (the shim is built with -fexceptions, so cancellation unwinding runs
 * it) records the same, keeping the slot consistent with the real state.
 */
#include "pg.h"

#include <errno.h>

#define PG_EXPORT __attribute__((visibility("default")))
#define CALLER ((uintptr_t)__builtin_return_address(0))

struct cond_scope {
    struct pg_waitscope ws;
    pthread_mutex_t *m;
    uintptr_t caller;
};

static void cond_end(struct cond_scope *cs)
{
    if (!cs->ws.t)
        return;
    struct pg_thread *t = cs->ws.t;
    pg_wait_end(&cs->ws);
    pg_held_push(t, cs->m, PG_H_MUTEX, cs->caller);
}

enum { MODE_PLAIN, MODE_TIMED, MODE_CLOCK };

static int cond_wait_any(pthread_cond_t *c, pthread_mutex_t *m, int mode, clockid_t clk,
                         const struct timespec *ts, uintptr_t caller)
{
    if (PG_UNLIKELY(!pg_real.cond_wait))
        pg_real_resolve();
    if (mode == MODE_CLOCK && !pg_real.cond_clockwait)
        return ENOSYS;
#define REAL_CALL()                                                                               \
    (mode == MODE_PLAIN   ? pg_real.cond_wait(c, m)                                               \
     : mode == MODE_TIMED ? pg_real.cond_timedwait(c, m, ts)                                      \
                          : pg_real.cond_clockwait(c, m, clk, ts))
    struct pg_thread *t = pg_self();
    if (!t)
        return REAL_CALL();
    struct cond_scope cs __attribute__((cleanup(cond_end))) = {.m = m, .caller = caller};
    pg_held_drop(t, m);
    PG_WAIT_BEGIN(cs.ws, t, PG_W_COND, c, mode != MODE_PLAIN, m);
    pg_watchdog_ensure();
    int r = REAL_CALL();
#undef REAL_CALL
    cond_end(&cs);
    return r;
}

PG_EXPORT int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
    return cond_wait_any(c, m, MODE_PLAIN, 0, NULL, CALLER);
}

PG_EXPORT int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *ts)
{
    return cond_wait_any(c, m, MODE_TIMED, 0, ts, CALLER);
}

PG_EXPORT int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clk,
                                     const struct timespec *ts)
{
    return cond_wait_any(c, m, MODE_CLOCK, clk, ts, CALLER);
}

/* A signal with no waiter is lost: for a pool's "work available" condition it means the work was
 * queued while every worker was busy. glibc counts a condition variable's waiters in __wrefs above
 * its three flag bits; the C library reads the same word to decide whether to wake anyone. */
static inline void note_if_lost(pthread_cond_t *c)
{
    struct pg_thread *t = pg_self();
    if (t && (__atomic_load_n(&c->__data.__wrefs, __ATOMIC_RELAXED) >> 3) == 0)
        pg_lost_note(t, (uintptr_t)c, PG_W_COND, 1);
}

PG_EXPORT int pthread_cond_signal(pthread_cond_t *c)
{
    if (PG_UNLIKELY(!pg_real.cond_signal))
        pg_real_resolve();
    note_if_lost(c);
    return pg_real.cond_signal(c);
}

PG_EXPORT int pthread_cond_broadcast(pthread_cond_t *c)
{
    if (PG_UNLIKELY(!pg_real.cond_broadcast))
        pg_real_resolve();
    note_if_lost(c);
    return pg_real.cond_broadcast(c);
}

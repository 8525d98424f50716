/*
 * pthread_cond_* hooks, interposing the GLIBC_2.3.2 functions that programs link against. A wait
 * on a condition variable always blocks, so there is no fast path to keep: the hook publishes the
 * wait, and while the thread sleeps its mutex is recorded as released (it is). If the thread is
 * cancelled inside the wait, the C library re-acquires the mutex before running cleanup handlers;
 * the cleanup attribute below (the shim is built with -fexceptions, so cancellation unwinding runs
 * it) records the same, keeping the slot consistent with the real state.
 */
#include "glibc.h"
#include "pg.h"

#include <errno.h>

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
#define REAL_CALL()                                                                                \
    (mode == MODE_PLAIN   ? pg_real.cond_wait(c, m)                                                \
     : mode == MODE_TIMED ? pg_real.cond_timedwait(c, m, ts)                                       \
                          : pg_real.cond_clockwait(c, m, clk, ts))
    struct pg_thread *t = pg_self();
    if (!t)
        return REAL_CALL();
    struct cond_scope cs __attribute__((cleanup(cond_end))) = { .m = m, .caller = caller };
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
    return cond_wait_any(c, m, MODE_PLAIN, 0, NULL, PG_CALLER);
}

PG_EXPORT int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
                                     const struct timespec *ts)
{
    return cond_wait_any(c, m, MODE_TIMED, 0, ts, PG_CALLER);
}

PG_EXPORT int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clk,
                                     const struct timespec *ts)
{
    return cond_wait_any(c, m, MODE_CLOCK, clk, ts, PG_CALLER);
}

/* A signal with no waiter is lost: for a pool's "work available" condition it means the work was
 * queued while every worker was busy. glibc counts a condition variable's waiters in a word it
 * reads itself to decide whether to wake anyone (glibc.h); with that word unknown, nothing is
 * noted. */
static inline void note_if_lost(pthread_cond_t *c)
{
    struct pg_thread *t = pg_self();
    if (t && pg_glibc_cond_waiters_now(c) == 0)
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

/* glibc 2.36 makes pthread_cond_destroy wait until every thread still inside a wait on the
 * condition has left it, so a destroy racing with (or forgetting) a waiter blocks: a wait for those
 * waiters. Only then is it published; with no waiter it cannot block and goes straight through. */
PG_EXPORT int pthread_cond_destroy(pthread_cond_t *c)
{
    if (PG_UNLIKELY(!pg_real.cond_destroy))
        pg_real_resolve();
    struct pg_thread *t = pg_self();
    if (!t || pg_glibc_cond_waiters_now(c) == 0)
        return pg_real.cond_destroy(c); /* with the count unknown, the wait is published */
    struct pg_waitscope ws __attribute__((cleanup(pg_wait_end)));
    PG_WAIT_BEGIN(ws, t, PG_W_COND_DESTROY, c, 0, 0);
    pg_watchdog_ensure();
    int r = pg_real.cond_destroy(c);
    pg_wait_end(&ws);
    return r;
}

/* pthread_once blocks a caller while another thread runs the init routine. The caller that runs
 * the routine itself must not look blocked while it does (the routine may lock and wait like any
 * code), so the real call gets a trampoline that ends the published wait before the program's
 * routine runs; the routine and the wait to end travel in the thread's own variables, saved and
 * restored around nested calls. A once already done is one load and the real call. */
static __thread void (*once_routine)(void);
static __thread struct pg_waitscope *once_wait;

static void once_trampoline(void)
{
    void (*fn)(void) = once_routine;
    if (once_wait)
        pg_wait_end(once_wait);
    fn();
}

PG_EXPORT int pthread_once(pthread_once_t *o, void (*fn)(void))
{
    if (PG_UNLIKELY(!pg_real.once))
        pg_real_resolve();
    /* glibc: bit 1 of the control word says the routine has run. */
    if (__atomic_load_n(o, __ATOMIC_ACQUIRE) & 2)
        return pg_real.once(o, fn);
    struct pg_thread *t = pg_self();
    if (!t)
        return pg_real.once(o, fn);
    void (*saved_fn)(void) = once_routine;
    struct pg_waitscope *saved_wait = once_wait;
    struct pg_waitscope ws __attribute__((cleanup(pg_wait_end)));
    PG_WAIT_BEGIN(ws, t, PG_W_ONCE, o, 0, 0);
    once_routine = fn;
    once_wait = &ws;
    int r = pg_real.once(o, once_trampoline);
    pg_wait_end(&ws);
    once_routine = saved_fn;
    once_wait = saved_wait;
    return r;
}

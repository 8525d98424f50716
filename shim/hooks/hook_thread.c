/*
 * pthread_create and the pthread_join family. A thread created through the hook gets its slot
 * before it exists: the creator claims it, stores the start routine and its own stack there, and
 * starts the thread on a trampoline that fills in the thread id and releases the slot on every way
 * out (return, pthread_exit, cancellation: the cleanup attribute runs during the unwinding that
 * the C library performs for the latter two). If the table is full, or the creation fails, the
 * program gets exactly what the real pthread_create gives it.
 */
#include "lockorder.h"
#include "pg.h"

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

static void slot_exit(struct pg_thread **tp)
{
    if (*tp)
        pg_slot_release(*tp);
}

static void *trampoline(void *arg)
{
    struct pg_thread *t __attribute__((cleanup(slot_exit))) = arg;
    t->self = pthread_self();
    atomic_store_explicit(&t->tid, (pid_t)syscall(SYS_gettid), memory_order_relaxed);
    atomic_store_explicit(&t->state, PG_SLOT_LIVE, memory_order_release);
    pg_cur = t;
    return t->start(t->arg);
}

PG_EXPORT int pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *),
                             void *arg)
{
    if (PG_UNLIKELY(!pg_real.pthread_create))
        pg_real_resolve();
    struct pg_thread *me = pg_self();
    if (!me && !atomic_load_explicit(&pg_ready, memory_order_acquire))
        return pg_real.pthread_create(th, attr, fn, arg);
    struct pg_thread *t = pg_slot_claim();
    if (!t)
        return pg_real.pthread_create(th, attr, fn, arg);
    t->start = fn;
    t->arg = arg;
    t->start_routine = (uintptr_t)fn;
    if (me)
        me->in_shim = 1;
    /* Unwinding and starting the watchdog may leave errno changed; the program must not see it. */
    int saved = errno;
    /* A thread that creates threads again and again (a pool manager, a thread per request) moves
     * to the unwinder without per-frame signal masking, which costs it a cache of its own. */
    if (me && ++me->ncreated > 8)
        t->ncreate = (uint32_t)pg_stack_here_fast(t->create_stack, PG_CREATE_DEPTH, 0);
    else
        t->ncreate = (uint32_t)pg_stack_here(t->create_stack, PG_CREATE_DEPTH, 0);
    pg_lo_thread_create(me, t);
    pg_watchdog_ensure();
    errno = saved;
    int r = pg_real.pthread_create(th, attr, trampoline, t);
    if (r == 0)
        pg_lo_thread_created(t, *th);
    if (me)
        me->in_shim = 0;
    if (r != 0)
        pg_slot_release(t);
    return r;
}

enum { MODE_PLAIN, MODE_TIMED, MODE_CLOCK };

static int join_any(pthread_t th, void **ret, int mode, clockid_t clk, const struct timespec *ts)
{
    if (PG_UNLIKELY(!pg_real.pthread_join))
        pg_real_resolve();
    if (mode == MODE_CLOCK && !pg_real.pthread_clockjoin_np)
        return ENOSYS;
#define REAL_CALL()                                                                                \
    (mode == MODE_PLAIN   ? pg_real.pthread_join(th, ret)                                          \
     : mode == MODE_TIMED ? pg_real.pthread_timedjoin_np(th, ret, ts)                              \
                          : pg_real.pthread_clockjoin_np(th, ret, clk, ts))
    struct pg_thread *t = pg_self();
    if (!t)
        return REAL_CALL();
    struct pg_waitscope ws __attribute__((cleanup(pg_wait_end)));
    PG_WAIT_BEGIN(ws, t, PG_W_JOIN, th, mode != MODE_PLAIN, th);
    pg_watchdog_ensure();
    int r = REAL_CALL();
#undef REAL_CALL
    pg_wait_end(&ws);
    if (r == 0)
        pg_lo_thread_joined(t, th);
    return r;
}

PG_EXPORT int pthread_join(pthread_t th, void **ret)
{
    return join_any(th, ret, MODE_PLAIN, 0, NULL);
}

PG_EXPORT int pthread_timedjoin_np(pthread_t th, void **ret, const struct timespec *ts)
{
    return join_any(th, ret, MODE_TIMED, 0, ts);
}

PG_EXPORT int pthread_clockjoin_np(pthread_t th, void **ret, clockid_t clk,
                                   const struct timespec *ts)
{
    return join_any(th, ret, MODE_CLOCK, clk, ts);
}

/* Never blocks: nothing to record. Interposed so that every join goes through one place. */
PG_EXPORT int pthread_tryjoin_np(pthread_t th, void **ret)
{
    if (PG_UNLIKELY(!pg_real.pthread_tryjoin_np))
        pg_real_resolve();
    int r = pg_real.pthread_tryjoin_np(th, ret);
    struct pg_thread *t = r == 0 ? pg_self() : NULL;
    if (t)
        pg_lo_thread_joined(t, th);
    return r;
}

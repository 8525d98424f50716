/*
 * pthread_mutex_* hooks. Runs inside the program's lock calls: no allocation, no locks of its own,
 * errno untouched, the real function's return value passed through unchanged.
 *
 * The fast path is what makes the shim cheap enough to leave on. For the default mutex type
 * (__kind == 0: not recursive, not error-checking, not robust, not process-shared, no elision) the
 * hook does what the C library's own fast path does, inline: lock is a compare-and-swap of the lock
 * word from 0 to 1 followed by recording the owner and user count; unlock clears them and swaps the
 * word back to 0, waking one waiter if the old value said there were waiters (2). These fields are
 * glibc's public ABI (bits/struct_mutex.h), read and written through glibc.h; on a glibc whose
 * layout was not verified there is no fast path. Every other type, and every lock that is already
 * taken, goes to the real functions. Only when a lock is taken does the thread publish "about to wait on
 * this mutex" and call the real lock, in a separate cold function.
 *
 * trylock and lock agree on every outcome but EBUSY (EOWNERDEAD, ENOTRECOVERABLE, EINVAL, EAGAIN for
 * a recursion count overflow), so for the other types trying first changes nothing the program can
 * see; an error-checking mutex relocked by its owner fails trylock with EBUSY and then lock with
 * EDEADLK, as it should.
 */
#include "glibc.h"
#include "lockorder.h"
#include "pg.h"

#include <errno.h>
#include <linux/futex.h>
#include <sys/single_threaded.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline int took(int r)
{
    return r == 0 || r == EOWNERDEAD;
}

/* The default type's lock, or EBUSY to go the long way. */
static inline int fast_trylock(struct pg_thread *t, pthread_mutex_t *m)
{
    if (!pg_glibc_mutex_plain(m))
        return pg_real.mutex_trylock(m);
    int *word = pg_glibc_mutex_word(m);
    /* Like the C library, a process that has only ever had one thread needs no atomic operation. */
    if (__libc_single_threaded) {
        if (*word != 0)
            return EBUSY;
        *word = 1;
    } else {
        int zero = 0;
        if (!__atomic_compare_exchange_n(word, &zero, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            return EBUSY;
    }
    pg_glibc_mutex_took(m, atomic_load_explicit(&t->tid, memory_order_relaxed));
    return 0;
}

__attribute__((noinline, cold)) static int lock_untracked(pthread_mutex_t *m)
{
    if (PG_UNLIKELY(!pg_real.mutex_lock))
        pg_real_resolve();
    return pg_real.mutex_lock(m);
}

__attribute__((noinline, cold)) static int lock_wait(struct pg_thread *t, pthread_mutex_t *m,
                                                     uintptr_t caller)
{
    struct pg_waitscope ws __attribute__((cleanup(pg_wait_end)));
    PG_WAIT_BEGIN(ws, t, PG_W_MUTEX, m, 0, 0);
    pg_watchdog_ensure();
    int r = pg_real.mutex_lock(m);
    pg_wait_end(&ws);
    if (took(r)) {
        pg_lo_acquired(t, m, PG_H_MUTEX, caller);
        pg_held_push(t, m, PG_H_MUTEX, caller);
    }
    return r;
}

PG_EXPORT int pthread_mutex_lock(pthread_mutex_t *m)
{
    struct pg_thread *t = pg_cur;
    if (PG_UNLIKELY((uintptr_t)t <= 1 || t->in_shim)) {
        t = pg_self();
        if (!t)
            return lock_untracked(m);
    }
    int r = fast_trylock(t, m);
    if (PG_LIKELY(r == 0)) {
        pg_lo_acquired(t, m, PG_H_MUTEX, PG_CALLER);
        pg_held_push(t, m, PG_H_MUTEX, PG_CALLER);
        return 0;
    }
    if (r != EBUSY) {
        if (took(r)) {
            pg_lo_acquired(t, m, PG_H_MUTEX, PG_CALLER);
            pg_held_push(t, m, PG_H_MUTEX, PG_CALLER);
        }
        return r;
    }
    return lock_wait(t, m, PG_CALLER);
}

PG_EXPORT int pthread_mutex_trylock(pthread_mutex_t *m)
{
    if (PG_UNLIKELY(!pg_real.mutex_trylock))
        pg_real_resolve();
    struct pg_thread *t = pg_self();
    if (!t)
        return pg_real.mutex_trylock(m);
    int r = fast_trylock(t, m);
    if (took(r))
        pg_held_push(t, m, PG_H_MUTEX, PG_CALLER);
    return r;
}

static int timed_lock(pthread_mutex_t *m, int clocked, clockid_t clk, const struct timespec *ts,
                      uintptr_t caller)
{
    if (PG_UNLIKELY(!pg_real.mutex_timedlock))
        pg_real_resolve();
    if (clocked && !pg_real.mutex_clocklock)
        return ENOSYS;
    struct pg_thread *t = pg_self();
    if (!t)
        return clocked ? pg_real.mutex_clocklock(m, clk, ts) : pg_real.mutex_timedlock(m, ts);
    int r = fast_trylock(t, m);
    if (r == EBUSY) {
        struct pg_waitscope ws __attribute__((cleanup(pg_wait_end)));
        PG_WAIT_BEGIN(ws, t, PG_W_MUTEX, m, 1, 0);
        pg_watchdog_ensure();
        r = clocked ? pg_real.mutex_clocklock(m, clk, ts) : pg_real.mutex_timedlock(m, ts);
        pg_wait_end(&ws);
    }
    if (took(r)) {
        pg_lo_acquired(t, m, PG_H_MUTEX, caller);
        pg_held_push(t, m, PG_H_MUTEX, caller);
    }
    return r;
}

PG_EXPORT int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *ts)
{
    return timed_lock(m, 0, 0, ts, PG_CALLER);
}

PG_EXPORT int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t clk, const struct timespec *ts)
{
    return timed_lock(m, 1, clk, ts, PG_CALLER);
}

__attribute__((noinline, cold)) static int unlock_real(struct pg_thread *t, pthread_mutex_t *m)
{
    if (PG_UNLIKELY(!pg_real.mutex_unlock))
        pg_real_resolve();
    int r = pg_real.mutex_unlock(m);
    if (t && r == 0)
        pg_held_drop(t, m);
    return r;
}

PG_EXPORT int pthread_mutex_unlock(pthread_mutex_t *m)
{
    struct pg_thread *t = pg_cur;
    if (PG_UNLIKELY((uintptr_t)t <= 1 || t->in_shim))
        return unlock_real(pg_self(), m);
    /* The default type held by this thread: glibc's own unlock, inline. Anything else (another
     * type, a mutex this thread does not own, which the default type permits) goes the real way. */
    if (!pg_glibc_mutex_plain(m) ||
        !pg_glibc_mutex_owned_by(m, atomic_load_explicit(&t->tid, memory_order_relaxed)))
        return unlock_real(t, m);
    pg_glibc_mutex_releasing(m);
    pg_held_drop(t, m);
    int *word = pg_glibc_mutex_word(m);
    if (__libc_single_threaded) {
        *word = 0; /* no other thread: nobody to wake */
        return 0;
    }
    if (PG_UNLIKELY(__atomic_exchange_n(word, 0, __ATOMIC_RELEASE) > 1)) {
        int e = errno;
        pg_real.syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
        errno = e;
    }
    return 0;
}

/* A mutex made or unmade at an address: for lock-order purposes, a new lock from now on. */
PG_EXPORT int pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *a)
{
    if (PG_UNLIKELY(!pg_real.mutex_init))
        pg_real_resolve();
    int r = pg_real.mutex_init(m, a);
    if (r == 0)
        pg_lo_made((uintptr_t)m, PG_CALLER);
    return r;
}

PG_EXPORT int pthread_mutex_destroy(pthread_mutex_t *m)
{
    if (PG_UNLIKELY(!pg_real.mutex_destroy))
        pg_real_resolve();
    int r = pg_real.mutex_destroy(m);
    if (r == 0)
        pg_lo_forget((uintptr_t)m);
    return r;
}

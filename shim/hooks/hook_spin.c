/*
 * pthread_spin_* hooks, for lock order. A spin lock never sleeps in the kernel, so a thread that
 * spins on one is running as far as the wait-for graph can tell and its deadlocks are not proven
 * here (the threads burn CPU instead of sleeping); but the orders spin locks are taken in, with
 * each other and with mutexes, are orders like any other, and a thread holding one is holding a
 * lock. So the hooks record acquisitions and releases and nothing else: no wait is published.
 * Runs inside the program's lock calls: no allocation, no locks, errno untouched.
 */
#include "lockorder.h"
#include "pg.h"

PG_EXPORT int pthread_spin_lock(pthread_spinlock_t *l)
{
    if (PG_UNLIKELY(!pg_real.spin_lock))
        pg_real_resolve();
    int r = pg_real.spin_lock(l);
    struct pg_thread *t;
    if (r == 0 && (t = pg_self())) {
        pg_lo_acquired(t, (const void *)l, PG_H_SPIN, PG_CALLER);
        pg_held_push(t, (const void *)l, PG_H_SPIN, PG_CALLER);
    }
    return r;
}

/* A trylock cannot block, so it orders nothing; what it takes is held all the same. */
PG_EXPORT int pthread_spin_trylock(pthread_spinlock_t *l)
{
    if (PG_UNLIKELY(!pg_real.spin_trylock))
        pg_real_resolve();
    int r = pg_real.spin_trylock(l);
    struct pg_thread *t;
    if (r == 0 && (t = pg_self()))
        pg_held_push(t, (const void *)l, PG_H_SPIN, PG_CALLER);
    return r;
}

PG_EXPORT int pthread_spin_unlock(pthread_spinlock_t *l)
{
    if (PG_UNLIKELY(!pg_real.spin_unlock))
        pg_real_resolve();
    struct pg_thread *t = pg_self();
    if (t)
        pg_held_drop(t, (const void *)l);
    return pg_real.spin_unlock(l);
}

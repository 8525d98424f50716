/*
 * Lock-order validation: "B taken while holding A" pairs, recorded by the threads that take locks
 * (lockorder.c), checked for cycles by the watchdog (lockorder_scan.c, over the graph of the pure
 * module lockcycle.c). Thread creations and joins are recorded too, so that orders that can never
 * overlap (one taken only after the other's thread was joined, or before it was created) are not
 * reported. docs/lock-order.md says what a finding guarantees.
 */
#ifndef POOLGUARD_LOCKORDER_H
#define POOLGUARD_LOCKORDER_H

#include "jsonw.h"
#include "pg.h"

#define PG_LO_STACK 12
#define PG_LO_GATES 4

PG_HIDDEN extern int pg_lo_enabled;
PG_HIDDEN extern _Atomic uint32_t pg_lo_epoch;

PG_HIDDEN int pg_lo_init(void);
/* Records pairs from every lock t holds to b, which t has just taken with a call that could have
 * blocked. Called before b is pushed on t's held list. Out of line: only nested locking pays. */
PG_HIDDEN void pg_lo_note(struct pg_thread *t, uintptr_t b, uint32_t kind, uintptr_t pc);
/* A lock at this address was destroyed: whatever comes next there is a new lock. */
PG_HIDDEN void pg_lo_forget(uintptr_t addr);
/* A lock was initialized at addr by the call returning to pc: a new lock, made there. */
PG_HIDDEN void pg_lo_made(uintptr_t addr, uintptr_t pc);

/* Happens-before. me (NULL if untracked) is about to create the thread whose slot is child. */
PG_HIDDEN void pg_lo_thread_create(struct pg_thread *me, struct pg_thread *child);
/* The creation succeeded: th names child from now on, for a later join. */
PG_HIDDEN void pg_lo_thread_created(struct pg_thread *child, pthread_t th);
/* me has joined th: everything th did happens before what me does next. */
PG_HIDDEN void pg_lo_thread_joined(struct pg_thread *me, pthread_t th);

/* Watchdog: looks for cycles among pairs added (or taken by a new thread) since the last call. */
PG_HIDDEN void pg_lo_scan(void);
/* Report writer: the members that say where the lock at addr was made ("init_pc") and first
 * taken in a pair ("first_taken_pc"), when known; nothing otherwise. */
PG_HIDDEN void pg_lo_write_sites(struct pg_jw *w, uintptr_t addr);

/* The hooks' entry: nothing at all unless the thread already holds a lock; nothing but a few
 * compares of its own slot when it takes the same pair again (one lock held, same segment, no lock
 * re-made since: the epoch). */
static inline void pg_lo_acquired(struct pg_thread *t, const void *b, uint32_t kind, uintptr_t pc)
{
    uint32_t n = atomic_load_explicit(&t->nheld, memory_order_relaxed);
    if (PG_LIKELY(n == 0) || !pg_lo_enabled)
        return;
    if (n == 1 && t->lo_last_b == (uintptr_t)b && t->lo_last_a == t->held[0].obj &&
        t->lo_last_seg == t->lo_seg &&
        t->lo_last_epoch == atomic_load_explicit(&pg_lo_epoch, memory_order_acquire))
        return;
    pg_lo_note(t, (uintptr_t)b, kind, pc);
}

#endif

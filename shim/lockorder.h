/*
 * Lock-order validation (lockorder.c): "B taken while holding A" edges, recorded by the threads
 * that take locks, checked for cycles by the watchdog.
 */
#ifndef POOLGUARD_LOCKORDER_H
#define POOLGUARD_LOCKORDER_H

#include "pg.h"

#define PG_LO_STACK 12
#define PG_LO_GATES 4

PG_HIDDEN extern int pg_lo_enabled;
PG_HIDDEN extern _Atomic uint32_t pg_lo_epoch;

PG_HIDDEN int pg_lo_init(void);
/* Records edges from every lock t holds to b, which t has just taken with a call that could have
 * blocked. Called before b is pushed on t's held list. Out of line: only nested locking pays. */
PG_HIDDEN void pg_lo_note(struct pg_thread *t, uintptr_t b, uint32_t kind, uintptr_t pc);
/* A lock at this address was initialized or destroyed: whatever comes next there is a new lock. */
PG_HIDDEN void pg_lo_forget(uintptr_t addr);
/* Watchdog: looks for cycles among edges added since the last call and reports them. */
PG_HIDDEN void pg_lo_scan(void);

/* The hooks' entry: nothing at all unless the thread already holds a lock. */
static inline void pg_lo_acquired(struct pg_thread *t, const void *b, uint32_t kind, uintptr_t pc)
{
    if (PG_UNLIKELY(atomic_load_explicit(&t->nheld, memory_order_relaxed) != 0) && pg_lo_enabled)
        pg_lo_note(t, (uintptr_t)b, kind, pc);
}

#endif

/*
 * Pools that describe themselves through poolguard.h (annotate.c), read by the watchdog (pool.c).
 */
#ifndef POOLGUARD_ANNOTATE_H
#define POOLGUARD_ANNOTATE_H

#include "pg.h"

#define PG_MAX_APOOLS 256
#define PG_TASKSET 65536          /* queued (submitted, not started) tasks tracked exactly */
#define PG_APOOL_TOMB ((uintptr_t)1)

struct pg_apool {
    _Atomic uintptr_t handle;     /* 0: free; PG_APOOL_TOMB: destroyed */
    char name[48];
    int workers;                  /* declared size, 0 if not said */
    _Atomic uint64_t submitted, started, done;
    int ncreate;
    uintptr_t create_stack[8];
};

PG_HIDDEN extern struct pg_apool pg_apools[PG_MAX_APOOLS];
/* The pool a queued task was submitted to, or 0 if the task is not queued (running, done, or
 * never submitted). */
PG_HIDDEN uintptr_t pg_task_queued_in(uintptr_t task);
PG_HIDDEN struct pg_apool *pg_apool_find(uintptr_t handle);

#endif

/*
 * What the two files of the pool analysis share (pool.c: the scan's input and the verdicts;
 * pool_class.c: which inferred pool a thread belongs to). Watchdog thread only.
 */
#ifndef POOLGUARD_POOL_INT_H
#define POOLGUARD_POOL_INT_H

#include "pg.h"

struct pg_pool_class {
    uint32_t cls, gen;
};

/* One entry per slot of pg_table, mapped by pg_pool_init. */
PG_HIDDEN extern struct pg_pool_class *pg_pool_slot_class;

/* Looks for the language runtimes' modules and the C++ library's, every 50th call at most. */
PG_HIDDEN void pg_pool_find_bases(void);
/* t's class (PG_PI_CLASS_*), cached per slot; gen is the slot's generation in the snapshot. */
PG_HIDDEN uint32_t pg_pool_thread_class(struct pg_thread *t, uint32_t gen);
/* The key that groups t with the other workers of its inferred pool; 0 when nothing identifies it. */
PG_HIDDEN uint64_t pg_pool_group_key(struct pg_thread *t, uint32_t cls);

#endif

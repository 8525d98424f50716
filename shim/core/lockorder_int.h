/*
 * What the two halves of lock-order validation share: the tables the hooks fill (lockorder.c)
 * and the watchdog reads (lockorder_scan.c). Every table is one region of address space reserved
 * at start-up (MAP_NORESERVE) and filled from the front or at hashed places, so memory follows the
 * pairs, locks and threads the program really has, up to the budget below; nothing is ever moved
 * or resized, so neither side needs a lock.
 *
 * The budget (docs/lock-order.md): 2,097,152 distinct pairs at most. A pair costs about 200 bytes
 * once seen (its record, its index slot, the watchdog's graph); the whole region reserved is
 * about 700 MiB of address space, of which a program with a few hundred pairs touches well under
 * one MiB.
 */
#ifndef POOLGUARD_LOCKORDER_INT_H
#define POOLGUARD_LOCKORDER_INT_H

#include "lockorder.h"

#define LO_MAX_EDGES (2u << 20)       /* pairs */
#define LO_INDEX_SLOTS (4u << 20)     /* hash index over pairs: power of two, load <= 1/2 */
#define LO_LOG_MAX (4 * LO_MAX_EDGES) /* log entries: a pair's first sighting and its new threads */
#define LO_NODE_SLOTS (4u << 20)      /* locks (address, generation, where made): power of two */
#define LO_MAX_STACKS (1u << 18)      /* distinct acquisition stacks */
#define LO_STACK_SLOTS (1u << 19)
#define LO_MAX_SEGS (8u << 20)  /* thread segments (happens-before) */
#define LO_OCC 3                /* threads (and segments) remembered per pair */
#define LO_SEG_NONE 0xffffffffu /* a segment that could not be recorded: ordered with nothing */

/* One thread's taking of a pair: which thread (a serial number never reused, and its tid for the
 * report) in which segment of its life. seg is written last; 0 means not filled in yet. */
struct lo_occ {
    _Atomic uint32_t seg;
    uint32_t thr;
    pid_t tid;
    uint32_t stack; /* depot index + 1 of where b was taken while a was held; 0: none */
    uintptr_t pc_a; /* where a was taken */
};

struct lo_edge {
    _Atomic uint64_t key;   /* a hash of (a, ga, b, gb), never 0 */
    _Atomic uint32_t ready; /* the fields below are filled in */
    uint8_t kind_a, kind_b;
    uintptr_t a, b;
    uint32_t ga, gb;
    _Atomic uint32_t nocc;
    struct lo_occ occ[LO_OCC];
    _Atomic uint32_t overflow;            /* more threads took it than occ holds */
    _Atomic uintptr_t gates[PG_LO_GATES]; /* locks held across a and b every time */
};

struct lo_stack {
    _Atomic uint64_t hash;
    uint32_t n;
    uintptr_t pcs[PG_LO_STACK];
};

/* A segment: a stretch of one thread's life between two of its thread creations or joins.
 * pred1 is the segment before it in the same thread (or, for a thread's first, the creator's
 * segment at the creation); pred2 the last segment of a thread it joined. Both are older, so
 * their ids are smaller. */
struct lo_seg {
    uint32_t thr;
    uint32_t pred1, pred2;
};

PG_HIDDEN extern struct lo_edge *pg_lo_edges;
PG_HIDDEN extern _Atomic uint32_t *pg_lo_log;
PG_HIDDEN extern _Atomic uint32_t pg_lo_nlog;
PG_HIDDEN extern struct lo_stack *pg_lo_stacks;
PG_HIDDEN extern struct lo_seg *pg_lo_segs;
PG_HIDDEN extern _Atomic uint32_t pg_lo_nsegs;

PG_HIDDEN uint64_t pg_lo_mix(uint64_t x);
/* Where the lock at addr was initialized and first taken in a pair, for generation gen; 0 when
 * not known. */
PG_HIDDEN void pg_lo_sites(uintptr_t addr, uint32_t gen, uintptr_t *init_pc, uintptr_t *first_pc);

#endif

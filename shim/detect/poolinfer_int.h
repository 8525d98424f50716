/*
 * What the files of the pool rules share, and nothing else includes: the watchdog (pool.c) and
 * the tests see poolinfer.h only. The rules are split by the question each part answers:
 *   poolinfer.c          one scan: which threads form a pool, and the order pools are analyzed in;
 *                        blocked time, and the names of the verdicts' fields
 *   poolinfer_queue.c    an inferred pool's idle wait and queue: wait histories, signals and posts
 *                        that found no waiter, semaphore counts
 *   poolinfer_verdict.c  the verdicts (exhaustion, stall, growth), each reported once per set of
 *                        waits, with the per-pool state kept across scans
 *
 * Pure, all of it: no globals, no allocation, no system calls. One scan's working context (struct
 * ctx) lives on pg_pi_scan's stack and is handed down; the two live readers are reached only
 * through it, in the file that needs each (is_runnable in poolinfer_verdict.c, sem_value in
 * poolinfer_queue.c).
 */
#ifndef POOLGUARD_POOLINFER_INT_H
#define POOLGUARD_POOLINFER_INT_H

#include "poolinfer.h"

/* One scan's working context. */
struct ctx {
    struct pg_pi_in *in;
    struct pg_pi_state *st;
    struct pg_pi_out *out;
    int busy_group; /* the one inferred pool whose workers all run, or -1 (see pg_pi_feed_of) */
};

/* NOLINTBEGIN(bugprone-macro-parentheses): i is the loop variable the macro declares */
#define FOR_MEMBERS(c, g, i)                                                                       \
    for (int i = (c)->out->groups[(g)].first; i >= 0; i = (c)->in->threads[i].next)
/* NOLINTEND(bugprone-macro-parentheses) */

/* poolinfer_queue.c: the idle wait and the queue. */

/* Learns the group's idle object into ps; *submit_wait: a member waits right after submitting. */
void pg_pi_learn_idle(struct ctx *c, int g, struct pg_pi_pstate *ps, int *submit_wait);
/* Signals and posts that found no waiter on obj, by every thread. */
uint64_t pg_pi_lost_total(struct ctx *c, uintptr_t obj);
/* Has a thread outside the group queued work on obj while nobody waited? */
int pg_pi_lost_by_others(struct ctx *c, int g, uintptr_t obj);
/* The object work reaches a pool through when its workers never went idle, or 0. */
uintptr_t pg_pi_feed_of(struct ctx *c, int g, uint32_t *kind);
/* The queue of a semaphore-counted pool, -1 if the semaphore cannot be read. */
long pg_pi_sem_queue(struct ctx *c, uintptr_t sem, uint64_t lost_since_idle);

/* poolinfer_verdict.c: the verdicts on one group, and its state across scans. */
void pg_pi_analyze_group(struct ctx *c, int g);

#endif

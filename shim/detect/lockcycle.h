/*
 * Lock-order cycles as a pure module (lockcycle.c): the graph of "B taken while holding A" pairs,
 * kept between scans with a topological order of its components, the shortest cycle through a
 * pair, and the judgement of that cycle (a gate lock, threads that can overlap, one thread, or
 * orders kept apart by thread creation and join), held to docs/lock-order.md. No globals, no
 * system calls, no allocation: every array is carved at pg_lc_init from one zero-filled region
 * the caller provides. The watchdog (lockorder_scan.c) reserves it as address space once and
 * feeds the pairs the hooks record; the unit tests (check_lockcycle.c) pass a small buffer and
 * make up pairs, threads and segments by hand.
 *
 * Use: for each pair to look at (new, or taken by a new thread), pg_lc_add(). When it answers
 * PG_LC_CYCLE, the cycle's pairs are in edge[0..len); the caller fills pair[i] for each (its
 * occurrences and gates) and calls pg_lc_judge(), which says whether to report it and, when
 * it does, which occurrence of each pair to show (pick[]). A cycle is reported once as a
 * multi-thread finding, or once as a one-thread finding and once more if it later becomes a
 * multi-thread one.
 */
#ifndef POOLGUARD_LOCKCYCLE_H
#define POOLGUARD_LOCKCYCLE_H

#include <stddef.h>
#include <stdint.h>

#define PG_LC_CANDS 4       /* occurrences of a pair judged: the threads remembered + "others" */
#define PG_LC_GATES 4       /* gate locks remembered per pair */
#define PG_LC_MAX_CYCLE 256 /* pairs in a cycle: longer ones are not reported */
#define PG_LC_SEG_NONE 0xffffffffu /* a segment not recorded: ordered with nothing */

/* One thread's taking of a pair. thr: a serial number per thread, never reused; 0 for "some
 * thread beyond those remembered", which is ordered with nothing. seg: the segment of that
 * thread's life it was in (0 or PG_LC_SEG_NONE: ordered with nothing). */
struct pg_lc_cand {
    uint32_t seg, thr;
};

/* What the caller knows of one pair of a cycle when judging it. */
struct pg_lc_pair {
    int ncand;
    struct pg_lc_cand cand[PG_LC_CANDS];
    uintptr_t gates[PG_LC_GATES]; /* locks held across the pair every time; 0: unused slot */
};

/* The segments right before seg (thread creation and join: docs/lock-order.md): pred1 the one
 * before it in its thread (or the creator's, for a thread's first), pred2 the last one of a
 * thread it joined; 0 for none. Both are smaller ids than seg. */
typedef void pg_lc_seg_preds_fn(void *arg, uint32_t seg, uint32_t *pred1, uint32_t *pred2);

enum pg_lc_outcome {
    PG_LC_NO_CYCLE, /* the pair closes no cycle (yet) */
    PG_LC_FULL,     /* its locks do not fit (or its id is past max_edges): not checked */
    PG_LC_TOO_LONG, /* its shortest cycle has more than PG_LC_MAX_CYCLE pairs: not reported */
    PG_LC_KNOWN,    /* the cycle was reported already, and nothing new would be said */
    PG_LC_CYCLE,    /* a cycle to judge: fill pair[0..len), call pg_lc_judge() */
    PG_LC_GATED,    /* one lock was held across every pair: it cannot deadlock */
    PG_LC_ORDERED,  /* no threads that can overlap took it, and no one-thread finding to make */
    PG_LC_MULTI,    /* report: distinct threads, none ordered before another (pick[]) */
    PG_LC_SINGLE,   /* report: one thread took every pair (pick[]) */
};

/* The state of one graph. Callers read len, edge[], pair[] and pick[]; the rest is the module's. */
struct pg_lc {
    /* The cycle last found by pg_lc_add (PG_LC_CYCLE) and judged by pg_lc_judge. It starts at the
     * pair with the smallest id (recorded first) and follows the order: edge[i]'s second lock is
     * edge[i + 1]'s first. */
    int len;
    uint32_t edge[PG_LC_MAX_CYCLE];
    struct pg_lc_pair pair[PG_LC_MAX_CYCLE]; /* filled by the caller */
    int pick[PG_LC_MAX_CYCLE];               /* the occurrence shown, per pair */

    /* Capacities and the happens-before source. */
    uint32_t max_edges, max_nodes, max_segs, nslots;
    pg_lc_seg_preds_fn *seg_preds;
    void *seg_arg;
    /* Nodes (locks: address and generation) and their components. */
    uint32_t *nslot;
    uintptr_t *n_addr;
    uint32_t *n_gen, *n_uf, *n_ord, *n_out, *n_in, *n_mnext, *n_mtail, *n_fst, *n_bst, *n_prev;
    uint32_t nnodes, next_ord, fstamp, bstamp;
    /* Edges (pairs), indexed by the caller's ids. */
    uint32_t *e_from, *e_to, *e_nout, *e_nin;
    uint8_t *e_flags;
    /* Scratch. */
    uint32_t *work, *listf, *listb, *pool;
    uint32_t *seg_stamp, segstamp;
    long pick_budget;
};

/* Bytes of zero-filled memory pg_lc_init needs: pair ids below max_edges, at most max_nodes
 * locks, segment ids below max_segs (SIZE_MAX when max_nodes is past 2^30). */
size_t pg_lc_mem_size(uint32_t max_edges, uint32_t max_nodes, uint32_t max_segs);
/* Sets lc up over mem (size bytes, zero-filled, at least pg_lc_mem_size; never written by anyone
 * else afterwards). seg_preds(seg_arg, ...) answers happens-before questions. Returns 0, or
 * -EINVAL when mem is too small or a capacity is 0. */
int pg_lc_init(struct pg_lc *lc, void *mem, size_t size, uint32_t max_edges, uint32_t max_nodes,
               uint32_t max_segs, pg_lc_seg_preds_fn *seg_preds, void *seg_arg);

/* Pair e: lock (a, ga) taken before lock (b, gb). Adds it to the graph the first time (the locks
 * are only read then), and looks for the shortest cycle through it: PG_LC_CYCLE (with len and
 * edge[] set), or why there is nothing to judge. */
int pg_lc_add(struct pg_lc *lc, uint32_t e, uintptr_t a, uint32_t ga, uintptr_t b, uint32_t gb);
/* Judges the cycle pg_lc_add found, once pair[0..len) are filled. single: one-thread findings are
 * wanted. PG_LC_MULTI and PG_LC_SINGLE set pick[] and remember the cycle as reported. */
int pg_lc_judge(struct pg_lc *lc, int single);

#endif

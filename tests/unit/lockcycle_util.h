/*
 * What the lock-order graph's suites (check_lockcycle.c, check_lockcycle_judge.c) share: the graph
 * under test in a buffer of its own, and pairs, threads, segments and gates made up by hand as the
 * hooks would have recorded them; `see` does with a pair what the watchdog does. Header-only: each
 * suite has its own copy of the state, reset by `setup` before every test.
 */
#ifndef POOLGUARD_LOCKCYCLE_UTIL_H
#define POOLGUARD_LOCKCYCLE_UTIL_H

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "lockcycle.h"

#define MAX_EDGES 1024
#define MAX_NODES 1024
#define MAX_SEGS 1024

/* Locks by letter: any distinct addresses do. */
#define A 0x1000
#define B 0x2000
#define C 0x3000
#define D 0x4000
#define G 0x9000

static struct pg_lc lc;
static _Alignas(64) unsigned char mem[256 << 10];

/* The segments, as the hooks record them: predecessors by id, 0 for none; and the thread each
 * belongs to, to keep the tests' made-up histories possible. */
static uint32_t seg_pred[MAX_SEGS][2];
static uint32_t seg_thr[MAX_SEGS];

/* The pairs, as the hooks record them: locks, occurrences, gates. */
static struct {
    uintptr_t a, b;
    struct pg_lc_pair p;
} pairs[MAX_EDGES];
static uint32_t npairs;
static int single_wanted;

static inline void preds(void *arg, uint32_t seg, uint32_t *pred1, uint32_t *pred2)
{
    ck_assert_ptr_eq(arg, seg_pred);
    ck_assert_uint_lt(seg, MAX_SEGS);
    *pred1 = seg_pred[seg][0];
    *pred2 = seg_pred[seg][1];
}

static inline void setup_limits(uint32_t max_edges, uint32_t max_nodes, uint32_t max_segs)
{
    ck_assert_uint_le(pg_lc_mem_size(max_edges, max_nodes, max_segs), sizeof mem);
    memset(mem, 0, sizeof mem);
    memset(seg_pred, 0, sizeof seg_pred);
    memset(seg_thr, 0, sizeof seg_thr);
    memset(pairs, 0, sizeof pairs);
    npairs = 0;
    single_wanted = 1;
    ck_assert_int_eq(pg_lc_init(&lc, mem, sizeof mem, max_edges, max_nodes, max_segs, preds,
                                seg_pred),
                     0);
}

static inline void setup(void)
{
    setup_limits(MAX_EDGES, MAX_NODES, MAX_SEGS);
}

/* A new pair: b taken while holding a. */
static inline uint32_t pair(uintptr_t a, uintptr_t b)
{
    ck_assert_uint_lt(npairs, MAX_EDGES);
    pairs[npairs].a = a;
    pairs[npairs].b = b;
    return npairs++;
}

/* Thread thr (0: "some other thread") took pair e in segment seg. */
static inline void took(uint32_t e, uint32_t thr, uint32_t seg)
{
    struct pg_lc_pair *p = &pairs[e].p;
    ck_assert_int_lt(p->ncand, PG_LC_CANDS);
    if (thr && seg < MAX_SEGS) {
        ck_assert_msg(!seg_thr[seg] || seg_thr[seg] == thr, "segment %u is thread %u's", seg,
                      seg_thr[seg]);
        seg_thr[seg] = thr;
    }
    p->cand[p->ncand++] = (struct pg_lc_cand){ seg, thr };
}

/* A pair, taken once, by thread thr in segment seg. */
static inline uint32_t pair_by(uintptr_t a, uintptr_t b, uint32_t thr, uint32_t seg)
{
    uint32_t e = pair(a, b);
    took(e, thr, seg);
    return e;
}

static inline void gate(uint32_t e, uintptr_t lock)
{
    for (int g = 0; g < PG_LC_GATES; g++)
        if (!pairs[e].p.gates[g]) {
            pairs[e].p.gates[g] = lock;
            return;
        }
    ck_abort_msg("no room for a gate");
}

/* What the watchdog does with a pair to look at: add it, and judge the cycle it closes. */
static inline int see(uint32_t e)
{
    int r = pg_lc_add(&lc, e, pairs[e].a, 0, pairs[e].b, 0);
    if (r != PG_LC_CYCLE)
        return r;
    ck_assert_int_ge(lc.len, 2);
    for (int i = 0; i < lc.len; i++)
        lc.pair[i] = pairs[lc.edge[i]].p;
    return pg_lc_judge(&lc, single_wanted);
}

/* The cycle found reads as a chain: each pair's second lock is the next pair's first. */
static inline void assert_chain(int len)
{
    ck_assert_int_eq(lc.len, len);
    for (int i = 0; i < len; i++)
        ck_assert_uint_eq(pairs[lc.edge[i]].b, pairs[lc.edge[(i + 1) % len]].a);
}

static inline uint32_t picked_thread(int i)
{
    return lc.pair[i].cand[lc.pick[i]].thr;
}

#endif

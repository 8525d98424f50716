/*
 * What the Python rules' suites (check_pyrules.c, check_pyrules_stall.c) share: a reading of the
 * interpreter built by hand, as the Python layer would have made it, with what the native scan says
 * of each worker's thread, and the rules run on it. Header-only: each suite has its own copy of
 * the state, reset by `setup` before every test.
 */
#ifndef POOLGUARD_PYRULES_UTIL_H
#define POOLGUARD_PYRULES_UTIL_H

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "pyrules.h"

#define MSEC 1000000ull
#define SEC 1000000000ull
#define T0 (100 * SEC)    /* when the workers' waits began */
#define STALL_MS 10000    /* POOLGUARD_STALL_MS's default */
#define QUEUE_LIMIT 10000 /* POOLGUARD_QUEUE_LIMIT's default */

/* Pool objects: any distinct addresses do. */
#define E1 0x7f0000001000u
#define E2 0x7f0000002000u
#define LOOP 0x7f0000009000u

static struct pg_py_state py;
static struct pg_pr_native nat[PG_PY_MAX_THREADS];
static struct pg_pr_memory mem;
static struct pg_pr_out out;
static uint64_t stopped_ns; /* time the whole process was stopped while the workers waited */
static long queue_limit;

static inline void setup(void)
{
    memset(&py, 0, sizeof py);
    memset(nat, 0, sizeof nat);
    memset(&mem, 0, sizeof mem);
    memset(&out, 0, sizeof out);
    stopped_ns = 0;
    queue_limit = QUEUE_LIMIT;
}

/* A pool of the reading, with its queue's length; returns its index. */
static inline int pool(uintptr_t addr, int kind, int max_workers, long queued)
{
    ck_assert_int_lt(py.nexecutors, PG_PY_MAX_EXECUTORS);
    struct pg_py_executor *e = &py.executors[py.nexecutors];
    e->addr = addr;
    e->kind = kind;
    e->max_workers = max_workers;
    e->queue_len = queued;
    if (kind == PG_PY_POOL_EXECUTOR)
        snprintf(e->prefix, sizeof e->prefix, "ThreadPoolExecutor-%d", py.nexecutors);
    return py.nexecutors++;
}

static inline int executor(uintptr_t addr, int max_workers, long queued)
{
    return pool(addr, PG_PY_POOL_EXECUTOR, max_workers, queued);
}

/*
 * A Python thread: a worker of pool ei (-1: not a worker), in the wait blocked says. The native
 * scan sees it blocked without a time limit since T0 when it is in a wait of the standard library
 * or an idle worker; a thread running Python, sleeping or taking the GIL waits with a time limit
 * natively, or not at all.
 */
static inline int thread(const char *name, int ei, int blocked)
{
    int k = py.nthreads++;
    ck_assert_int_lt(k, PG_PY_MAX_THREADS);
    struct pg_py_thread *pt = &py.threads[k];
    pt->ident = 0x7f00aa000000u + (unsigned long)k * 0x1000;
    pt->native_id = 4000 + k;
    snprintf(pt->name, sizeof pt->name, "%s", name);
    pt->blocked = blocked;
    pt->executor = ei;
    pt->work_job = -1;
    if (ei >= 0) {
        struct pg_py_executor *e = &py.executors[ei];
        pt->executor_addr = e->addr;
        e->nthreads++;
        e->nworkers_seen++;
        pt->has_task = 1;
        snprintf(pt->task.name, sizeof pt->task.name, "parent_task");
        snprintf(pt->task.file, sizeof pt->task.file, "/srv/app.py");
        pt->task.line = 8;
    }
    struct pg_pr_native *nt = &nat[k];
    nt->found = 1;
    nt->tid = 4000 + k;
    if (blocked != PG_PY_B_NONE) {
        nt->blocked = 1;
        nt->seq = 10 + k;
        nt->since_ns = T0;
    }
    return k;
}

/* Thread k waits on a future in the given state; queued_in: the pool whose queue holds its work
 * item (at pos), or 0. */
static inline struct pg_py_wait *waits_on(int k, int state, uintptr_t queued_in, long pos)
{
    struct pg_py_thread *pt = &py.threads[k];
    ck_assert_int_lt(pt->nwaits, PG_PY_MAX_WAITS);
    struct pg_py_wait *w = &pt->waits[pt->nwaits++];
    w->future = 0x7f00bb000000u + (uintptr_t)k * 0x100 + (uintptr_t)pt->nwaits;
    w->kind = PG_PY_W_FUTURE;
    w->state = state;
    w->job = -1;
    w->queued_in = queued_in;
    w->queue_pos = queued_in ? pos : -1;
    w->has_fn = 1;
    snprintf(w->fn.name, sizeof w->fn.name, "dependent_task");
    return w;
}

/* A new wait of thread k, begun at since (the native scan's sequence number changes). */
static inline void waits_anew(int k, uint64_t since)
{
    nat[k].seq += 100;
    nat[k].since_ns = since;
}

/* The rules, on the reading as it stands, at time now. */
static inline void judge(uint64_t now)
{
    for (int k = 0; k < py.nthreads; k++)
        if (nat[k].blocked)
            nat[k].blocked_ns =
                now - nat[k].since_ns > stopped_ns ? now - nat[k].since_ns - stopped_ns : 0;
    struct pg_pr_in in = {
        .py = &py, .native = nat, .now = now, .queue_limit = queue_limit, .stall_ms = STALL_MS
    };
    pg_pr_judge(&in, &mem, &out);
}

static inline void assert_verdict(int i, int kind, int severity, int proof, int ei)
{
    ck_assert_int_gt(out.n, i);
    const struct pg_pr_verdict *v = &out.v[i];
    ck_assert_str_eq(pg_pr_kind_name(v->kind), pg_pr_kind_name(kind));
    ck_assert_str_eq(pg_pr_severity_name(v->severity), pg_pr_severity_name(severity));
    ck_assert_str_eq(pg_pr_proof_name(v->proof), pg_pr_proof_name(proof));
    ck_assert_int_eq(v->executor, ei);
}

#define BIT(k) (1ull << (k))

#endif

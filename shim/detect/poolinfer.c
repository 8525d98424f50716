/*
 * The pool rules (poolinfer.h), as a pure function of one scan's input and the per-pool state
 * kept across scans. What it decides, and on what evidence, is the proof standard of
 * docs/design.md ("Findings and their proof"); in short, an error is a proof, a guess is at most
 * a warning.
 *
 * Pools known exactly (annotations and library adapters) are the threads running one of their
 * tasks. pool_exhaustion (error) when the pool runs as many tasks as it has workers, its queue is
 * not empty, and every one of those workers is stuck for the pool: it waits for a task still
 * queued in it (an annotated wait; or, having submitted a task to its own pool, it blocked without
 * a time limit before that task started), or for a task running on another stuck worker, or the
 * wait-for graph proves it stuck. Nothing but a worker of the same pool can start a queued task,
 * and every worker is held: the pool cannot move.
 *
 * Pools nobody describes are inferred: threads with the same key (start routine; for std::thread
 * also the callable's type), at least two of them, none belonging to a language runtime. Their
 * idle wait is learned from where they waited before, or from "submit then wait". An inferred
 * pool gives an error only when the wait-for graph proves its workers stuck; a worker that queued
 * work on its own pool and then blocked while every worker is blocked is a warning. Either kind
 * of pool blocked long with nothing proven is a stall (info). queue_growth (warning): the backlog
 * grew past the queue limit and kept growing.
 *
 * No warning or error while one of its threads is runnable, nor unless the same waits were seen
 * at the previous scan: a thread that has been woken is not stuck, however long the scheduler
 * takes to run it, and a state seen in passing proves nothing.
 *
 * Pure: no globals, no allocation, no system calls; the caller passes every array.
 *
 * This file is the scan: it groups the threads into pools and hands each group to the verdicts
 * (poolinfer_verdict.c), which learn an inferred pool's idle wait and queue from
 * poolinfer_queue.c; poolinfer_int.h is what the three share.
 */
#include "pg_format.h"
#include "poolinfer_int.h"

#include <string.h>

uint64_t pg_pi_blocked_ns(const struct pg_pi_in *in, uint64_t since)
{
    uint64_t now = in->now_ns;
    if (now <= since)
        return 0;
    uint64_t t = now - since;
    int n = in->ngaps < PG_PI_MAX_GAPS ? in->ngaps : PG_PI_MAX_GAPS;
    for (int k = 0; k < n; k++) {
        uint64_t a = in->gaps[k].start, b = in->gaps[k].start + in->gaps[k].len;
        if (a < since)
            a = since;
        if (b > now)
            b = now;
        if (b > a)
            t -= b - a < t ? b - a : t;
    }
    return t;
}

static int pool_index(const struct pg_pi_in *in, uintptr_t handle)
{
    for (int k = 0; k < in->npools; k++)
        if (in->pools[k].handle == handle)
            return k;
    return -1;
}

/* Threads with one key are one pool; a thread running a task of an exactly known pool belongs to
 * that pool. One thread is not an inferred pool: nothing tells its idle wait from a task's wait.
 * Its group is kept, marked single, for one purpose only: when the wait-for graph proves it stuck
 * (an error on its own), work that other threads queued on the object it waits on between tasks
 * explains the hang better than "every thread is blocked" (see analyze_inferred, in
 * poolinfer_verdict.c). */
static void build_groups(struct ctx *c)
{
    struct pg_pi_in *in = c->in;
    struct pg_pi_out *out = c->out;
    out->ngroups = 0;
    for (int i = 0; i < in->nthreads; i++) {
        struct pg_pi_thread *t = &in->threads[i];
        t->group = -1;
        t->next = -1;
        t->mark = 0;
        int pool = t->pool ? pool_index(in, t->pool) : -1;
        uint64_t key;
        if (pool >= 0)
            key = pg_pi_mix(0x616e6e6f74ull, t->pool); /* known exactly: the pool is what it says */
        else if (t->pool || t->exact_idle)
            continue; /* a worker of a pool known exactly, between tasks: never inferred */
        else if (t->cls == PG_PI_CLASS_RUNTIME)
            continue; /* a runtime's threads are the runtime's business */
        else
            key = t->key;
        if (!key)
            continue;
        int g;
        for (g = 0; g < out->ngroups && out->groups[g].key != key; g++)
            ;
        if (g == out->ngroups) {
            if (out->ngroups == PG_PI_MAX_GROUPS)
                continue;
            memset(&out->groups[g], 0, sizeof out->groups[g]);
            out->groups[g].key = key;
            out->groups[g].first = -1;
            out->groups[g].pool = pool;
            out->groups[g].state = -1;
            out->groups[g].queued = -1;
            out->ngroups++;
        }
        t->group = g;
        t->next = out->groups[g].first;
        out->groups[g].first = i;
        out->groups[g].n++;
    }
    for (int g = 0; g < out->ngroups; g++)
        out->groups[g].single = out->groups[g].pool < 0 && out->groups[g].n < 2;
}

void pg_pi_scan(struct pg_pi_in *in, struct pg_pi_state *state, struct pg_pi_out *out)
{
    struct ctx c = { in, state, out, -1 };
    out->nverdicts = 0;
    build_groups(&c);
    /* The one inferred pool (if only one) whose workers are all running, none waiting. */
    int nbusy = 0;
    for (int g = 0; g < out->ngroups; g++) {
        if (out->groups[g].pool >= 0 || out->groups[g].single || out->groups[g].n == 0)
            continue;
        int waiting = 0;
        FOR_MEMBERS (&c, g, i)
            waiting |= in->threads[i].waiting;
        if (!waiting) {
            nbusy++;
            c.busy_group = g;
        }
    }
    if (nbusy != 1)
        c.busy_group = -1;
    for (int g = 0; g < out->ngroups; g++)
        pg_pi_analyze_group(&c, g);
}

/* Verdicts in the report format's terms (pg_format.h): proofs and evidence are its values. */
_Static_assert((int)PG_PI_PROOF_NONE == PG_PROOF_NONE && (int)PG_PI_PROOF_GRAPH == PG_PROOF_GRAPH &&
                   (int)PG_PI_PROOF_EXACT == PG_PROOF_EXACT &&
                   (int)PG_PI_PROOF_INFERRED == PG_PROOF_INFERRED,
               "poolinfer's proofs and the format's differ");
_Static_assert((int)PG_PI_EV_STALL == PG_EV_STALL && (int)PG_PI_EV_SIGNALS == PG_EV_IDLE_SIGNALS &&
                   (int)PG_PI_EV_SEMCOUNT == PG_EV_SEMAPHORE &&
                   (int)PG_PI_EV_ADAPTER == PG_EV_ADAPTER &&
                   (int)PG_PI_EV_ANNOTATION == PG_EV_ANNOTATION,
               "poolinfer's evidence and the format's differ");

int pg_pi_kind_format(int kind)
{
    switch (kind) {
    case PG_PI_EXHAUSTION: return PG_KIND_POOL_EXHAUSTION;
    case PG_PI_STALL: return PG_KIND_STALL;
    case PG_PI_GROWTH: return PG_KIND_QUEUE_GROWTH;
    }
    return PG_KIND_NONE;
}

int pg_pi_severity_format(int severity)
{
    return severity >= PG_PI_INFO && severity <= PG_PI_ERROR ? PG_SEV_INFO + severity : PG_SEV_NONE;
}

static const char *or_unknown(const char *s)
{
    return s ? s : "?";
}

const char *pg_pi_kind_name(int kind)
{
    return or_unknown(pg_kind_name(pg_pi_kind_format(kind)));
}

const char *pg_pi_severity_name(int severity)
{
    return or_unknown(pg_sev_name(pg_pi_severity_format(severity)));
}

const char *pg_pi_proof_name(int proof)
{
    return proof <= PG_PI_PROOF_INFERRED ? or_unknown(pg_proof_name(proof)) : "?";
}

const char *pg_pi_evidence_name(int evidence)
{
    return evidence <= PG_PI_EV_ANNOTATION ? or_unknown(pg_evidence_name(evidence)) : "?";
}

/*
 * The Python rules (pyrules.h), as a pure function of one reading of the interpreter, the native
 * facts about each worker's thread, and what each pool looked like at earlier readings.
 *
 * For each pool of the reading, in order:
 * - queue_growth (warning, exact): its queue, read exactly, is past the queue limit and has kept
 *   getting longer for PG_PR_GROWTH_WINDOW_MS since it was last seen shorter. Once per pool.
 * - pool_exhaustion (error, exact): every worker is blocked without a time limit, in Python and
 *   natively, and one waits on a future (an AsyncResult; a run_coroutine_threadsafe future whose
 *   coroutine awaits an executor job, with no asyncio timeout over it) whose work is still queued
 *   on the same pool. Only a worker of that pool can start that work, and each is held: final at
 *   once when every worker waits so; when only some do, the others might still be woken from
 *   outside, and the state must last PG_PR_CONFIRM_MS.
 * - With work queued, every worker blocked and none waiting on a future: pool_exhaustion (error,
 *   graph) when the wait-for graph holds every worker stuck; otherwise, once the newest wait is
 *   POOLGUARD_STALL_MS old, a stall (info, nothing proven: main may set the Event they wait for).
 *   A worker waiting on a future is exactly known: if that future is not queued here, it runs
 *   or waits elsewhere, and this pool is only busy.
 * The same waits (the workers' native waits, hashed) are reported once.
 *
 * Pure: no globals, no allocation, no system calls.
 */
#include "pyrules.h"
#include "pg_format.h"

#include <string.h>

_Static_assert(PG_PY_MAX_THREADS <= 64, "pg_pr_verdict's thread masks hold 64 threads");

uint64_t pg_pr_mix(uint64_t h, uint64_t v)
{
    return (h ^ (v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2))) * 0x100000001b3ull;
}

int pg_pr_blocking(int b)
{
    return b != PG_PY_B_NONE && b != PG_PY_B_WORKER_IDLE;
}

/* Waits whose object is exactly known: what completes them is in the reading. */
static int is_exact_wait(int b)
{
    return b == PG_PY_B_FUTURE_RESULT || b == PG_PY_B_FUTURES_WAIT || b == PG_PY_B_AS_COMPLETED ||
           b == PG_PY_B_ASYNC_RESULT;
}

/* The work a future or AsyncResult needs is not taken, or the coroutine behind a
 * run_coroutine_threadsafe future awaits an executor job not taken, and no asyncio timeout can
 * cancel that coroutine. */
int pg_pr_queued_on(const struct pg_py_wait *w, uintptr_t pool)
{
    if (w->queued_in != pool)
        return 0;
    if (w->needs)
        return w->needs_state == PG_PY_F_PENDING && !w->needs_timed;
    return w->state == PG_PY_F_PENDING;
}

/* The pool's entry in mem, made when new; when the table is full, the first entry is given up. */
static struct pg_pr_pool *pool_memory(struct pg_pr_memory *mem, uintptr_t addr)
{
    struct pg_pr_pool *free_one = NULL;
    for (size_t i = 0; i < sizeof mem->pools / sizeof mem->pools[0]; i++) {
        if (mem->pools[i].addr == addr)
            return &mem->pools[i];
        if (!mem->pools[i].addr && !free_one)
            free_one = &mem->pools[i];
    }
    if (!free_one)
        free_one = &mem->pools[0];
    memset(free_one, 0, sizeof *free_one);
    free_one->addr = addr;
    return free_one;
}

static struct pg_pr_verdict *add(struct pg_pr_out *out, int kind, int severity, int proof, int ei)
{
    struct pg_pr_verdict *v = &out->v[out->n++];
    memset(v, 0, sizeof *v);
    v->kind = kind;
    v->severity = severity;
    v->proof = proof;
    v->executor = ei;
    v->own_thread = v->own_wait = -1;
    return v;
}

static void judge_pool(const struct pg_pr_in *in, struct pg_pr_memory *mem, int ei,
                       struct pg_pr_out *out)
{
    const struct pg_py_state *py = in->py;
    const struct pg_py_executor *e = &py->executors[ei];
    struct pg_pr_pool *ps = pool_memory(mem, e->addr);
    uint64_t now = in->now;
    int nworkers = 0, blocked = 0, natively_blocked = 0, nown = 0, graph_stuck = 0;
    uint64_t newest = 0, newest_blocked_ns = 0, workers = 0, waiting_own = 0;
    int own = -1, own_wait = -1;
    uint64_t sig = 0x5a17;
    int blocked_kind = PG_PY_B_NONE, future_waits = 0;
    for (int k = 0; k < py->nthreads; k++) {
        const struct pg_py_thread *pt = &py->threads[k];
        const struct pg_pr_native *nt = &in->native[k];
        if (pt->executor != ei)
            continue;
        nworkers++;
        workers |= 1ull << k;
        if (pg_pr_blocking(pt->blocked) && !pt->timed) {
            blocked++;
            blocked_kind = pt->blocked;
            future_waits += is_exact_wait(pt->blocked);
        }
        if (nt->found && nt->blocked) {
            natively_blocked++;
            graph_stuck += nt->stuck != 0;
            sig = pg_pr_mix(sig, nt->seq * 131 + (uint64_t)nt->tid);
            if (nt->since_ns > newest) {
                newest = nt->since_ns;
                newest_blocked_ns = nt->blocked_ns;
            }
        }
        int waits_own = 0;
        for (int q = 0; q < pt->nwaits; q++) {
            if (pg_pr_queued_on(&pt->waits[q], e->addr)) {
                waits_own = 1;
                if (own < 0) {
                    own = k;
                    own_wait = q;
                }
            }
        }
        nown += waits_own;
        if (waits_own)
            waiting_own |= 1ull << k;
    }

    /* Growth: the queue keeps getting longer across readings. */
    if (e->queue_len >= 0 && !ps->growth_reported) {
        if (!ps->t0 || e->queue_len < ps->depth0) {
            ps->t0 = now;
            ps->depth0 = e->queue_len;
        } else if (e->queue_len > in->queue_limit && e->queue_len > ps->depth0 &&
                   now - ps->t0 >= (uint64_t)PG_PR_GROWTH_WINDOW_MS * 1000000u) {
            struct pg_pr_verdict *v = add(out, PG_PR_GROWTH, PG_PR_WARNING, PG_PR_PROOF_EXACT, ei);
            v->nworkers = nworkers;
            v->workers = workers;
            v->rate = (double)(e->queue_len - ps->depth0) * 1e9 / (double)(now - ps->t0);
            ps->growth_reported = 1;
        }
    }
    if (e->queue_len > in->queue_limit / 2 || e->queue_len > 500)
        out->watch_growth = 1;

    if (!nworkers || blocked < nworkers || natively_blocked < nworkers || ps->reported_sig == sig)
        return;
    /* Every worker waiting on work queued behind it is a proof in itself: none can ever free up.
     * When only some do, the others might still be woken from outside: the state must last. */
    if (own >= 0 && nown < nworkers && now - newest < (uint64_t)PG_PR_CONFIRM_MS * 1000000u) {
        out->recheck_at = newest + (uint64_t)PG_PR_CONFIRM_MS * 1000000u;
        return;
    }
    int kind = PG_PR_EXHAUSTION, severity = PG_PR_ERROR, proof = PG_PR_PROOF_EXACT;
    if (own < 0 && e->queue_len > 0 && !future_waits) {
        /* Queued work and every worker blocked; who would wake them is not named. That is a
         * proof only when the wait-for graph holds every worker stuck (nothing in the process can
         * wake them); otherwise another thread may (main setting an event the workers wait for),
         * and a long wait is a stall (info), never a warning or an error. */
        proof = PG_PR_PROOF_GRAPH;
        if (graph_stuck != nworkers) {
            uint64_t stall_ns = (uint64_t)in->stall_ms * 1000000u;
            if (newest_blocked_ns < stall_ns) {
                out->recheck_at = newest + stall_ns;
                return;
            }
            kind = PG_PR_STALL;
            severity = PG_PR_INFO;
            proof = PG_PR_PROOF_NONE;
        }
    } else if (own < 0) {
        return;
    }
    ps->reported_sig = sig;
    struct pg_pr_verdict *v = add(out, kind, severity, proof, ei);
    v->nworkers = nworkers;
    v->workers = workers;
    v->waiting_own = waiting_own;
    v->own_thread = own;
    v->own_wait = own_wait;
    v->blocked_kind = blocked_kind;
    v->sig = sig;
}

void pg_pr_judge(const struct pg_pr_in *in, struct pg_pr_memory *mem, struct pg_pr_out *out)
{
    out->n = 0;
    out->recheck_at = 0;
    out->watch_growth = 0;
    for (int ei = 0; ei < in->py->nexecutors; ei++)
        judge_pool(in, mem, ei, out);
}

/* Verdicts in the report format's terms (pg_format.h). */
int pg_pr_kind_format(int kind)
{
    switch (kind) {
    case PG_PR_EXHAUSTION: return PG_KIND_POOL_EXHAUSTION;
    case PG_PR_STALL: return PG_KIND_STALL;
    case PG_PR_GROWTH: return PG_KIND_QUEUE_GROWTH;
    }
    return PG_KIND_NONE;
}

int pg_pr_severity_format(int severity)
{
    return severity >= PG_PR_INFO && severity <= PG_PR_ERROR ? PG_SEV_INFO + severity : PG_SEV_NONE;
}

int pg_pr_proof_format(int proof)
{
    return proof >= PG_PR_PROOF_NONE && proof <= PG_PR_PROOF_EXACT ? proof : -1;
}

static const char *or_unknown(const char *s)
{
    return s ? s : "?";
}

const char *pg_pr_kind_name(int kind)
{
    return or_unknown(pg_kind_name(pg_pr_kind_format(kind)));
}

const char *pg_pr_severity_name(int severity)
{
    return or_unknown(pg_sev_name(pg_pr_severity_format(severity)));
}

const char *pg_pr_proof_name(int proof)
{
    return or_unknown(pg_proof_name(pg_pr_proof_format(proof)));
}

_Static_assert(PG_SEV_INFO + PG_PR_WARNING == PG_SEV_WARNING &&
                   PG_SEV_INFO + PG_PR_ERROR == PG_SEV_ERROR,
               "the rules' severities and the format's differ");
_Static_assert((int)PG_PR_PROOF_NONE == PG_PROOF_NONE && (int)PG_PR_PROOF_GRAPH == PG_PROOF_GRAPH &&
                   (int)PG_PR_PROOF_EXACT == PG_PROOF_EXACT,
               "the rules' proofs and the format's differ");

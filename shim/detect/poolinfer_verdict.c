/*
 * The pool rules (poolinfer_int.h says which file does what): the verdicts on one group, as
 * poolinfer.c's head sums them up and docs/design.md ("Findings and their proof") demands. A
 * pool known exactly is exhausted when every worker it runs is held for the pool (a fixed point
 * over the workers' waits), an inferred one only on the wait-for graph's proof (an error) or
 * "submit, then wait" with every worker blocked (a warning); either blocked long with nothing
 * proven is a stall, and a backlog past the limit that keeps growing is queue_growth.
 *
 * Each verdict is given once per set of waits and severity, and a warning or an error only when
 * the same waits were seen at the previous scan and no thread the proof rests on is runnable: the
 * per-pool state (struct pg_pi_pstate, kept across scans by the group's key) remembers what was
 * seen and said.
 *
 * Pure: no globals, no allocation, no system calls; whether a thread is runnable is read through
 * the caller's callback the first time it is needed and kept in the input.
 */
#include "poolinfer_int.h"

#include <string.h>

#define POOL_CONFIRM_MS 1000
#define GROWTH_WINDOW_MS 2000
#define GROWTH_MIN_RSS_KB 1024

static int is_runnable(struct ctx *c, int i)
{
    struct pg_pi_thread *t = &c->in->threads[i];
    if (t->runnable == PG_PI_UNREAD)
        t->runnable = c->in->runnable ? c->in->runnable(c->in->ctx, i) : -1;
    return t->runnable == 1;
}

static struct pg_pi_pstate *pstate_for(struct ctx *c, uint64_t key, int *index)
{
    struct pg_pi_pstate *ps = c->st->ps;
    int victim = 0;
    for (int i = 0; i < PG_PI_MAX_GROUPS; i++) {
        if (ps[i].key == key) {
            *index = i;
            return &ps[i];
        }
        if (ps[i].last_scan < ps[victim].last_scan)
            victim = i;
    }
    memset(&ps[victim], 0, sizeof ps[victim]);
    ps[victim].key = key;
    *index = victim;
    return &ps[victim];
}

static uint64_t waits_signature(struct ctx *c, int g)
{
    uint64_t h = 0x12345;
    FOR_MEMBERS (c, g, i)
        h = pg_pi_mix(h, c->in->threads[i].seq * 31 + (uint64_t)c->in->threads[i].tid);
    return h;
}

static int any_runnable(struct ctx *c, int g)
{
    FOR_MEMBERS (c, g, i)
        if (is_runnable(c, i))
            return 1;
    /* A proof from the graph rests on every thread it holds stuck, members or not: one of them
     * woken (runnable) can still wake the rest. */
    FOR_MEMBERS (c, g, i) {
        if (!c->in->threads[i].stuck)
            continue;
        for (int k = 0; k < c->in->nthreads; k++)
            if (c->in->threads[k].stuck && c->in->threads[k].group != g && is_runnable(c, k))
                return 1;
        break;
    }
    return 0;
}

/* Reports once per set of waits and severity; a warning or an error only when the same waits
 * were seen at the previous scan too and no worker is runnable. */
static int once(struct ctx *c, int g, struct pg_pi_pstate *ps, int level)
{
    uint64_t sig = waits_signature(c, g);
    if (ps->reported_sig[level] == sig)
        return 0;
    if (level > 0 && (ps->prev_sig != sig || any_runnable(c, g)))
        return 0;
    ps->reported_sig[level] = sig;
    return 1;
}

static struct pg_pi_verdict *add_verdict(struct ctx *c, int g, int kind, int severity, int proof,
                                         int evidence, long queued, int exact, uint64_t age_ms)
{
    struct pg_pi_out *out = c->out;
    if (out->nverdicts == PG_PI_MAX_VERDICTS)
        return NULL; /* two per group at most: cannot happen */
    struct pg_pi_verdict *v = &out->verdicts[out->nverdicts++];
    memset(v, 0, sizeof *v);
    v->kind = kind;
    v->severity = severity;
    v->proof = proof;
    v->evidence = evidence;
    v->group = g;
    v->queued = queued;
    v->exact = exact;
    v->age_ms = age_ms;
    return v;
}

/* The pool's workers, and threads stuck together with them in a hang, are now reported, so the
 * deadlock analysis does not report a second, vaguer finding for the same hang. */
static void mark_reported(struct ctx *c, int g)
{
    struct pg_pi_thread *th = c->in->threads;
    int fset[8], nfset = 0;
    FOR_MEMBERS (c, g, i) {
        th[i].mark = 1;
        int f = th[i].stuck ? th[i].finding : -1;
        if (f >= 0 && nfset < 8)
            fset[nfset++] = f;
    }
    for (int i = 0; i < c->in->nthreads; i++) {
        if (!th[i].stuck)
            continue;
        for (int k = 0; k < nfset; k++)
            if (th[i].finding == fset[k] && th[i].finding_hang)
                th[i].mark = 1;
    }
}

static void exhaustion(struct ctx *c, int g, int kind, int severity, int proof, int evidence,
                       long queued, int exact, uint64_t age_ms)
{
    add_verdict(c, g, kind, severity, proof, evidence, queued, exact, age_ms);
    if (severity != PG_PI_INFO)
        mark_reported(c, g);
}

static void check_growth(struct ctx *c, int g, struct pg_pi_pstate *ps, long depth, int exact,
                         int evidence)
{
    if (depth < 0 || ps->growth_reported)
        return;
    if (!ps->win_start_ns || depth < ps->win_start_depth) {
        /* The backlog shrank: the pool keeps up. Start a new window. */
        ps->win_start_ns = c->in->now_ns;
        ps->win_start_depth = depth;
        ps->rss_start_kb = c->in->rss_kb;
        return;
    }
    if (!ps->rss_start_kb)
        ps->rss_start_kb = c->in->rss_kb;
    uint64_t span = pg_pi_blocked_ns(c->in, ps->win_start_ns);
    if (depth <= c->in->queue_limit || span < (uint64_t)GROWTH_WINDOW_MS * 1000000u ||
        depth <= ps->win_start_depth)
        return;
    /* An inferred depth counts signals that found no idle worker since one was last idle: in a
     * pool that is saturated but keeps up (no worker ever idle, the real queue short) it climbs
     * all the same. A queue that really grows holds its tasks in memory: the process must have
     * grown too, or nothing is said. */
    if (!exact && (!c->in->rss_kb || !ps->rss_start_kb ||
                   c->in->rss_kb < ps->rss_start_kb + GROWTH_MIN_RSS_KB))
        return;
    struct pg_pi_verdict *v =
        add_verdict(c, g, PG_PI_GROWTH, PG_PI_WARNING,
                    exact ? PG_PI_PROOF_EXACT : PG_PI_PROOF_INFERRED, evidence, depth, exact, 0);
    if (v) {
        v->rate = (double)(depth - ps->win_start_depth) * 1e9 / (double)span;
        v->window_ms = span / 1000000u;
    }
    ps->growth_reported = 1;
}

/* Can this wait be a wait for a task's result? Only a wait whose waker nobody knows: a condition
 * variable, a semaphore, a futex word that is not a lock's. A worker that submitted a task and then
 * blocks on a mutex (or an rwlock, a join, a barrier, a once) waits for that lock's owner, whom
 * the wait-for graph knows: it is held only if the graph says it is stuck. (A task that queued
 * follow-up work and then contends for a lock main holds is busy, not starved.) */
static int can_wait_for_task(const struct pg_pi_thread *t)
{
    return (t->wkind == PG_PI_W_COND || t->wkind == PG_PI_W_SEM || t->wkind == PG_PI_W_FUTEX) &&
           !t->lockwait;
}

/* A pool known exactly (annotations, library adapters). */
static void analyze_exact(struct ctx *c, int g, struct pg_pi_pstate *ps)
{
    struct pg_pi_group *gr = &c->out->groups[g];
    const struct pg_pi_pool *ap = &c->in->pools[gr->pool];
    struct pg_pi_thread *th = c->in->threads;
    uintptr_t handle = ap->handle;
    long queued = ap->submitted > ap->started ? (long)(ap->submitted - ap->started) : 0;
    int declared = ap->workers;
    int busy = gr->n;
    int all_busy = declared > 0 && busy >= declared;
    int evidence = ap->adapter ? PG_PI_EV_ADAPTER : PG_PI_EV_ANNOTATION;
    gr->queued = queued;

    check_growth(c, g, ps, all_busy ? queued : 0, 1, evidence);

    /* Which workers are stuck for the pool: a fixed point, starting from every blocked worker. */
    int blocked = 0, graph_stuck = 0;
    uint64_t newest = 0;
    FOR_MEMBERS (c, g, i) {
        int b = th[i].waiting && !th[i].timed;
        blocked += b;
        graph_stuck += b && th[i].stuck;
        if (b && th[i].since_ns > newest)
            newest = th[i].since_ns;
        th[i].cand = b;
    }
    gr->blocked = blocked;
    gr->graph_stuck = graph_stuck;
    if (blocked < busy || busy == 0)
        return;
    for (int changed = 1; changed;) {
        changed = 0;
        FOR_MEMBERS (c, g, i) {
            const struct pg_pi_thread *t = &th[i];
            if (!t->cand)
                continue;
            int held = t->stuck;
            uintptr_t wt = t->ann_wait_task;
            if (!held && wt && t->wait_task_queued_in == handle)
                held = 1;
            if (!held && t->sub_task && t->sub_pool == handle && t->seq > t->sub_seq &&
                t->sub_task_queued_in == handle && can_wait_for_task(t))
                held = 1;
            if (!held && wt) {
                /* Waits for a task running on another worker: held if that worker is. */
                FOR_MEMBERS (c, g, j)
                    if (j != i && th[j].cand && th[j].ann_task == wt)
                        held = 1;
            }
            if (!held) {
                th[i].cand = 0;
                changed = 1;
            }
        }
    }
    int stuck = 0;
    FOR_MEMBERS (c, g, i)
        stuck += th[i].cand;
    gr->stuck = stuck;
    gr->analyzed = 1;
    uint64_t age_ms = pg_pi_blocked_ns(c->in, newest) / 1000000u;

    int settled = age_ms * 2 >= (uint64_t)c->in->interval_ms;
    uint64_t sig = waits_signature(c, g);
    if (queued > 0 && settled && ((all_busy && stuck == busy) || graph_stuck == busy)) {
        int proof = graph_stuck == busy ? PG_PI_PROOF_GRAPH : PG_PI_PROOF_EXACT;
        if (once(c, g, ps, PG_PI_ERROR))
            exhaustion(c, g, PG_PI_EXHAUSTION, PG_PI_ERROR, proof, evidence, queued, 1, age_ms);
    } else if (age_ms >= (uint64_t)c->in->stall_ms && once(c, g, ps, PG_PI_INFO)) {
        exhaustion(c, g, PG_PI_STALL, PG_PI_INFO, PG_PI_PROOF_NONE, evidence, queued, 1, age_ms);
    }
    ps->prev_sig = sig;
}

/* A pool inferred from its threads. */
static void analyze_inferred(struct ctx *c, int g, struct pg_pi_pstate *ps)
{
    struct pg_pi_group *gr = &c->out->groups[g];
    struct pg_pi_thread *th = c->in->threads;
    int submit_wait = 0;
    pg_pi_learn_idle(c, g, ps, &submit_wait);

    int idle = 0, blocked = 0, stuck = 0, confirmed = 1;
    uint64_t newest = 0;
    FOR_MEMBERS (c, g, i) {
        const struct pg_pi_thread *t = &th[i];
        if (t->waiting && ps->idle_obj && t->wobj == ps->idle_obj) {
            idle++;
            continue;
        }
        if (t->waiting && !t->timed) {
            blocked++;
            if (t->since_ns > newest)
                newest = t->since_ns;
            stuck += t->stuck;
            if (!t->confirmed)
                confirmed = 0;
        }
    }

    long queued = -1;
    int evidence = PG_PI_EV_STALL;
    if (ps->idle_obj) {
        uint64_t lost = pg_pi_lost_total(c, ps->idle_obj);
        if (idle > 0 || lost < ps->lost_base)
            ps->lost_base = lost; /* a worker waits for work: the queue is empty now */
        queued = (long)(lost - ps->lost_base);
        evidence = PG_PI_EV_SIGNALS;
        if (ps->idle_kind == PG_PI_W_SEM) {
            queued = pg_pi_sem_queue(c, ps->idle_obj, lost - ps->lost_base);
            evidence = PG_PI_EV_SEMCOUNT;
        }
    }

    if (!gr->single && ps->idle_obj) {
        check_growth(c, g, ps, idle ? 0 : queued, 0,
                     ps->idle_kind == PG_PI_W_SEM ? PG_PI_EV_SEMCOUNT : PG_PI_EV_SIGNALS);
    } else if (!gr->single && g == c->busy_group) {
        /* Workers that never went idle: work reaches them on an object nobody has waited on. */
        uint32_t kind = 0;
        uintptr_t feed = pg_pi_feed_of(c, g, &kind);
        if (feed) {
            uint64_t lost = pg_pi_lost_total(c, feed);
            long depth = kind == PG_PI_W_SEM ? pg_pi_sem_queue(c, feed, lost) : (long)lost;
            queued = depth; /* no worker waits in this branch: only growth reads it */
            check_growth(c, g, ps, depth, 0,
                         kind == PG_PI_W_SEM ? PG_PI_EV_SEMCOUNT : PG_PI_EV_SIGNALS);
        }
    }

    gr->analyzed = 1;
    gr->idle = idle;
    gr->blocked = blocked;
    gr->stuck = stuck;
    gr->submit_wait = submit_wait;
    gr->queued = queued;
    uint64_t sig = waits_signature(c, g);
    if (idle > 0 || blocked < gr->n || gr->n == 0) {
        ps->prev_sig = sig;
        return;
    }
    /* Every worker is blocked, none in the idle wait. */
    uint64_t age_ms = pg_pi_blocked_ns(c->in, newest) / 1000000u;
    if (gr->single) {
        /* Only a proven hang, with work queued where this thread takes its work: by others, or
         * by itself right before this wait (a task that queued its subtask and waits for it). */
        if (stuck == 1 && confirmed && queued > 0 &&
            (submit_wait || pg_pi_lost_by_others(c, g, ps->idle_obj)) &&
            once(c, g, ps, PG_PI_ERROR))
            exhaustion(c, g, PG_PI_EXHAUSTION, PG_PI_ERROR, PG_PI_PROOF_GRAPH, evidence, queued, 0,
                       age_ms);
    } else if (stuck == gr->n && confirmed) {
        /* The graph proves it: nothing can wake these workers. */
        if (once(c, g, ps, PG_PI_ERROR))
            exhaustion(c, g, PG_PI_EXHAUSTION, PG_PI_ERROR, PG_PI_PROOF_GRAPH, evidence, queued, 0,
                       age_ms);
    } else if (queued > 0 && submit_wait && age_ms >= POOL_CONFIRM_MS) {
        if (once(c, g, ps, PG_PI_WARNING))
            exhaustion(c, g, PG_PI_EXHAUSTION, PG_PI_WARNING, PG_PI_PROOF_INFERRED, evidence,
                       queued, 0, age_ms);
    } else if (age_ms >= (uint64_t)c->in->stall_ms && ps->idle_obj) {
        /* With the idle wait unknown, the wait called a stall could be the idle wait itself. */
        if (once(c, g, ps, PG_PI_INFO))
            exhaustion(c, g, PG_PI_STALL, PG_PI_INFO, PG_PI_PROOF_NONE, evidence, queued, 0,
                       age_ms);
    }
    ps->prev_sig = sig;
}

void pg_pi_analyze_group(struct ctx *c, int g)
{
    struct pg_pi_group *gr = &c->out->groups[g];
    if (gr->n == 0)
        return;
    struct pg_pi_pstate *ps = pstate_for(c, gr->key, &gr->state);
    ps->last_scan = c->in->scan;

    /* Workers already explained by a finding (the Python layer's, say) in these very waits. */
    int explained = 1;
    FOR_MEMBERS (c, g, i)
        explained &=
            c->in->threads[i].waiting && (c->in->threads[i].reported || c->in->threads[i].mark);
    if (explained)
        return;
    if (gr->pool >= 0)
        analyze_exact(c, g, ps);
    else
        analyze_inferred(c, g, ps);
}

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
 */
#include "poolinfer.h"
#include "pg_format.h"

#include <string.h>

#define POOL_CONFIRM_MS 1000
#define GROWTH_WINDOW_MS 2000
#define GROWTH_MIN_RSS_KB 1024

/* One scan's working context. */
struct ctx {
    struct pg_pi_in *in;
    struct pg_pi_state *st;
    struct pg_pi_out *out;
    int busy_group;     /* the only inferred pool with every worker running, or -1 (see feed_of) */
};

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h;
}

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

static int is_runnable(struct ctx *c, int i)
{
    struct pg_pi_thread *t = &c->in->threads[i];
    if (t->runnable == PG_PI_UNREAD)
        t->runnable = c->in->runnable ? c->in->runnable(c->in->ctx, i) : -1;
    return t->runnable == 1;
}

/* A semaphore's value, -1 if it cannot be read. */
static long sem_value(struct ctx *c, uintptr_t sem)
{
    struct pg_pi_in *in = c->in;
    for (int k = 0; k < in->nsems; k++)
        if (in->sems[k].obj == sem)
            return in->sems[k].value;
    long v = in->sem_value ? in->sem_value(in->ctx, sem) : -1;
    if (in->sem_value && in->nsems < PG_PI_MAX_SEMS) {
        in->sems[in->nsems].obj = sem;
        in->sems[in->nsems].value = v;
        in->nsems++;
    }
    return v;
}

#define FOR_MEMBERS(c, g, i) \
    for (int i = (c)->out->groups[g].first; i >= 0; i = (c)->in->threads[i].next)

/* Threads with one key are one pool; a thread running a task of an exactly known pool belongs to
 * that pool. One thread is not an inferred pool: nothing tells its idle wait from a task's wait.
 * Its group is kept, marked single, for one purpose only: when the wait-for graph proves it stuck
 * (an error on its own), work that other threads queued on the object it waits on between tasks
 * explains the hang better than "every thread is blocked" (see analyze_inferred). */
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
            key = mix(0x616e6e6f74ull, t->pool);   /* known exactly: the pool is what it says */
        else if (t->pool || t->exact_idle)
            continue;   /* a worker of a pool known exactly, between tasks: never inferred */
        else if (t->cls == PG_PI_CLASS_RUNTIME)
            continue;   /* a runtime's threads are the runtime's business */
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

/* Signals and posts that found no waiter on obj, by every thread. */
static uint64_t lost_total(struct ctx *c, uintptr_t obj)
{
    uint64_t sum = 0;
    for (int i = 0; i < c->in->nthreads; i++) {
        const struct pg_pi_thread *t = &c->in->threads[i];
        for (int k = 0; k < PG_PI_LOST; k++)
            if (t->lost[k].obj == obj)
                sum += t->lost[k].count;
    }
    return sum;
}

static int in_hist(const struct pg_pi_thread *t, uintptr_t obj)
{
    for (int k = 0; k < PG_PI_HIST; k++)
        if (t->hist[k].obj == obj && t->hist[k].count > 0)
            return 1;
    return 0;
}

/* Has a thread outside the group waited on obj? Then obj is not this pool's queue. */
static int waited_by_others(struct ctx *c, int g, uintptr_t obj)
{
    for (int i = 0; i < c->in->nthreads; i++)
        if (c->in->threads[i].group != g && in_hist(&c->in->threads[i], obj))
            return 1;
    return 0;
}

/* Has a thread outside the group queued work on obj while nobody waited? */
static int lost_by_others(struct ctx *c, int g, uintptr_t obj)
{
    for (int i = 0; i < c->in->nthreads; i++) {
        const struct pg_pi_thread *t = &c->in->threads[i];
        if (t->group == g)
            continue;
        for (int k = 0; k < PG_PI_LOST; k++)
            if (t->lost[k].obj == obj && t->lost[k].count)
                return 1;
    }
    return 0;
}

/* Member i's current wait began right after it queued work on an object nobody waited on: the
 * object, or 0. */
static uintptr_t submitted_then_waited(const struct pg_pi_thread *t, uint32_t *kind)
{
    if (!t->waiting)
        return 0;
    for (int k = 0; k < PG_PI_LOST; k++) {
        uintptr_t obj = t->lost[k].obj;
        if (obj && obj != t->wobj && t->lost[k].seq + 1 == t->seq && t->lost[k].count) {
            *kind = t->lost[k].kind;
            return obj;
        }
    }
    return 0;
}

/* The object work reaches a pool through when its workers never went idle: the object threads
 * outside the pool signalled or posted most often with nobody waiting, which no thread has ever
 * waited on. Used for queue growth only (a warning, and one that needs the process to grow):
 * nothing ties the object to this pool but that it is the only pool whose workers are all busy
 * (busy_group). */
static uintptr_t feed_of(struct ctx *c, int g, uint32_t *kind)
{
    uintptr_t best = 0;
    uint64_t best_count = 0;
    for (int i = 0; i < c->in->nthreads; i++) {
        const struct pg_pi_thread *t = &c->in->threads[i];
        if (t->group == g)
            continue;
        for (int k = 0; k < PG_PI_LOST; k++) {
            uintptr_t obj = t->lost[k].obj;
            if (!obj || t->lost[k].count <= best_count)
                continue;
            int waited = 0;
            for (int j = 0; j < c->in->nthreads && !waited; j++)
                waited = in_hist(&c->in->threads[j], obj);
            if (!waited) {
                best = obj;
                best_count = t->lost[k].count;
                *kind = t->lost[k].kind;
            }
        }
    }
    return best;
}

static int in_members_hist(struct ctx *c, int g, uintptr_t obj)
{
    FOR_MEMBERS(c, g, i)
        if (in_hist(&c->in->threads[i], obj))
            return 1;
    return 0;
}

/* Has obj been waited on like a pool's idle wait: by two members, or twice? A task's wait for its
 * subtask is on a fresh object (a future, a latch); a worker back in its idle wait after signalling
 * a task's completion waits on the same object as always. */
static int idle_like(struct ctx *c, int g, uintptr_t obj)
{
    int members = 0;
    uint64_t count = 0;
    FOR_MEMBERS(c, g, i) {
        const struct pg_pi_thread *t = &c->in->threads[i];
        for (int k = 0; k < PG_PI_HIST; k++)
            if (t->hist[k].obj == obj && t->hist[k].count) {
                members++;
                count += t->hist[k].count;
            }
    }
    return members >= 2 || count >= 2;
}

/* The idle object: learned from the members' wait history (the object most members waited on,
 * most often), confirmed or replaced by "submit then wait" evidence. */
static void learn_idle(struct ctx *c, int g, struct pg_pi_pstate *ps, int *submit_wait)
{
    *submit_wait = 0;
    FOR_MEMBERS(c, g, i) {
        uint32_t kind = 0;
        uintptr_t obj = submitted_then_waited(&c->in->threads[i], &kind);
        /* A pool's queue: its own workers wait on it, or (workers that never went idle) work
         * arrives on it from outside too. Threads that merely announce they are ready, on an
         * object nobody else waits for, are not submitting work. */
        if (obj && !waited_by_others(c, g, obj) && !idle_like(c, g, c->in->threads[i].wobj) &&
            (in_members_hist(c, g, obj) || lost_by_others(c, g, obj))) {
            if (ps->idle_obj != obj) {
                ps->idle_obj = obj;
                ps->idle_kind = kind;
                ps->lost_base = 0;
            }
            *submit_wait = 1;
            return;
        }
    }
    /* Count, for each object in the members' histories, how many members used it and how often. */
    enum { MAXOBJ = 64 };
    struct { uintptr_t obj; uint32_t kind; int members; uint64_t count; } objs[MAXOBJ];
    int nobjs = 0;
    FOR_MEMBERS(c, g, i) {
        const struct pg_pi_thread *t = &c->in->threads[i];
        for (int k = 0; k < PG_PI_HIST; k++) {
            uintptr_t obj = t->hist[k].obj;
            uint32_t n = t->hist[k].count;
            if (!obj || !n)
                continue;
            int j;
            for (j = 0; j < nobjs && objs[j].obj != obj; j++)
                ;
            if (j == nobjs) {
                if (nobjs == MAXOBJ)
                    continue;
                objs[nobjs].obj = obj;
                objs[nobjs].kind = t->hist[k].kind;
                objs[nobjs].members = 0;
                objs[nobjs].count = 0;
                nobjs++;
            }
            objs[j].members++;
            objs[j].count += n;
        }
    }
    uintptr_t best = 0;
    uint32_t best_kind = 0;
    int best_members = 0;
    uint64_t best_count = 0;
    for (int j = 0; j < nobjs; j++) {
        if (objs[j].members > best_members ||
            (objs[j].members == best_members && objs[j].count > best_count)) {
            best = objs[j].obj;
            best_kind = objs[j].kind;
            best_members = objs[j].members;
            best_count = objs[j].count;
        }
    }
    /* One waiter once proves nothing: it may be the task's own wait. Unless others have been
     * signalling that object while nobody waited on it: that is how work reaches a busy pool. */
    if (best && best_members < 2 && best_count < 2) {
        uintptr_t queue = 0;
        FOR_MEMBERS(c, g, i) {
            const struct pg_pi_thread *t = &c->in->threads[i];
            for (int k = 0; k < PG_PI_HIST && !queue; k++) {
                uintptr_t obj = t->hist[k].obj;
                if (obj && lost_by_others(c, g, obj) && !waited_by_others(c, g, obj)) {
                    queue = obj;
                    best_kind = t->hist[k].kind;
                }
            }
        }
        best = queue;
        best_count = 2;
    }
    if (best && (best_members >= 2 || best_count >= 2) && best != ps->idle_obj) {
        ps->idle_obj = best;
        ps->idle_kind = best_kind;
        ps->lost_base = 0;
    }
}

/* The queue of a semaphore-counted pool: the semaphore's value, but never more than the posts
 * that found no waiter (each queued task is one), so memory that is no longer the semaphore (it
 * was destroyed, its stack frame reused) cannot make up a queue. */
static long sem_queue(struct ctx *c, uintptr_t sem, uint64_t lost_since_idle)
{
    long v = sem_value(c, sem);
    if (v < 0)
        return -1;
    return v < (long)lost_since_idle ? v : (long)lost_since_idle;
}

static uint64_t waits_signature(struct ctx *c, int g)
{
    uint64_t h = 0x12345;
    FOR_MEMBERS(c, g, i)
        h = mix(h, c->in->threads[i].seq * 31 + (uint64_t)c->in->threads[i].tid);
    return h;
}

static int any_runnable(struct ctx *c, int g)
{
    FOR_MEMBERS(c, g, i)
        if (is_runnable(c, i))
            return 1;
    /* A proof from the graph rests on every thread it holds stuck, members or not: one of them
     * woken (runnable) can still wake the rest. */
    FOR_MEMBERS(c, g, i) {
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
        return NULL;   /* two per group at most: cannot happen */
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
    FOR_MEMBERS(c, g, i) {
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
    struct pg_pi_verdict *v = add_verdict(c, g, PG_PI_GROWTH, PG_PI_WARNING,
                                          exact ? PG_PI_PROOF_EXACT : PG_PI_PROOF_INFERRED,
                                          evidence, depth, exact, 0);
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
    FOR_MEMBERS(c, g, i) {
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
        FOR_MEMBERS(c, g, i) {
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
                FOR_MEMBERS(c, g, j)
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
    FOR_MEMBERS(c, g, i)
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
    learn_idle(c, g, ps, &submit_wait);

    int idle = 0, blocked = 0, stuck = 0, confirmed = 1;
    uint64_t newest = 0;
    FOR_MEMBERS(c, g, i) {
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
        uint64_t lost = lost_total(c, ps->idle_obj);
        if (idle > 0 || lost < ps->lost_base)
            ps->lost_base = lost;   /* a worker waits for work: the queue is empty now */
        queued = (long)(lost - ps->lost_base);
        evidence = PG_PI_EV_SIGNALS;
        if (ps->idle_kind == PG_PI_W_SEM) {
            queued = sem_queue(c, ps->idle_obj, lost - ps->lost_base);
            evidence = PG_PI_EV_SEMCOUNT;
        }
    }

    if (!gr->single && ps->idle_obj) {
        check_growth(c, g, ps, idle ? 0 : queued, 0,
                     ps->idle_kind == PG_PI_W_SEM ? PG_PI_EV_SEMCOUNT : PG_PI_EV_SIGNALS);
    } else if (!gr->single && g == c->busy_group) {
        /* Workers that never went idle: work reaches them on an object nobody has waited on. */
        uint32_t kind = 0;
        uintptr_t feed = feed_of(c, g, &kind);
        if (feed) {
            uint64_t lost = lost_total(c, feed);
            long depth = kind == PG_PI_W_SEM ? sem_queue(c, feed, lost) : (long)lost;
            queued = depth;   /* no worker waits in this branch: only growth reads it */
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
            (submit_wait || lost_by_others(c, g, ps->idle_obj)) &&
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
            exhaustion(c, g, PG_PI_STALL, PG_PI_INFO, PG_PI_PROOF_NONE, evidence, queued, 0, age_ms);
    }
    ps->prev_sig = sig;
}

static void analyze_group(struct ctx *c, int g)
{
    struct pg_pi_group *gr = &c->out->groups[g];
    if (gr->n == 0)
        return;
    struct pg_pi_pstate *ps = pstate_for(c, gr->key, &gr->state);
    ps->last_scan = c->in->scan;

    /* Workers already explained by a finding (the Python layer's, say) in these very waits. */
    int explained = 1;
    FOR_MEMBERS(c, g, i)
        explained &= c->in->threads[i].waiting &&
                     (c->in->threads[i].reported || c->in->threads[i].mark);
    if (explained)
        return;
    if (gr->pool >= 0)
        analyze_exact(c, g, ps);
    else
        analyze_inferred(c, g, ps);
}

void pg_pi_scan(struct pg_pi_in *in, struct pg_pi_state *state, struct pg_pi_out *out)
{
    struct ctx c = {in, state, out, -1};
    out->nverdicts = 0;
    build_groups(&c);
    /* The one inferred pool (if only one) whose workers are all running, none waiting. */
    int nbusy = 0;
    for (int g = 0; g < out->ngroups; g++) {
        if (out->groups[g].pool >= 0 || out->groups[g].single || out->groups[g].n == 0)
            continue;
        int waiting = 0;
        FOR_MEMBERS(&c, g, i)
            waiting |= in->threads[i].waiting;
        if (!waiting) {
            nbusy++;
            c.busy_group = g;
        }
    }
    if (nbusy != 1)
        c.busy_group = -1;
    for (int g = 0; g < out->ngroups; g++)
        analyze_group(&c, g);
}

/* Verdicts in the report format's terms (pg_format.h): proofs and evidence are its values. */
_Static_assert((int)PG_PI_PROOF_NONE == PG_PROOF_NONE && (int)PG_PI_PROOF_GRAPH == PG_PROOF_GRAPH &&
               (int)PG_PI_PROOF_EXACT == PG_PROOF_EXACT && (int)PG_PI_PROOF_INFERRED == PG_PROOF_INFERRED,
               "poolinfer's proofs and the format's differ");
_Static_assert((int)PG_PI_EV_STALL == PG_EV_STALL && (int)PG_PI_EV_SIGNALS == PG_EV_IDLE_SIGNALS &&
               (int)PG_PI_EV_SEMCOUNT == PG_EV_SEMAPHORE && (int)PG_PI_EV_ADAPTER == PG_EV_ADAPTER &&
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

/*
 * Pool analysis, run by the watchdog on every scan after the wait-for graph (scan.h).
 *
 * A pool is inferred without help: threads created by the same call stack with the same start
 * routine are one group; the object its workers wait on between tasks (the "idle object") is
 * learned from what they waited on before (the object most of them used most), or, for workers
 * that never went idle, from "submit then wait": a worker that signalled or posted an object
 * nobody was waiting on and then blocked. A signal or post that found no waiter on the idle object
 * is queued work (for a semaphore, its count is the queue).
 *
 * pool_exhaustion (error): every worker is blocked without a time limit outside the idle wait,
 * work is queued, and either the graph proves every worker stuck, or the state has lasted
 * POOL_CONFIRM_MS and a worker is waiting right after queueing work on its own pool: the problem's
 * "a task waits for a task queued behind it". Annotated pools (poolguard.h) are exact: a worker
 * waits for a task that is still queued in its own pool while every worker is blocked.
 * pool_exhaustion (warning): every worker blocked longer than the stall limit, queued work not
 * proven. queue_growth (warning): the backlog grew past POOLGUARD_QUEUE_LIMIT and kept growing.
 *
 * Runs in the watchdog: static tables only, sized once at start-up.
 */
#include "annotate.h"
#include "scan.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_GROUPS 256
#define POOL_CONFIRM_MS 1000
#define GROWTH_WINDOW_MS 2000

struct group {
    uint64_t key;
    int n;             /* live members */
    int first;         /* first member (snap index); the rest chained through next_member */
    int annotated;     /* index into pg_apools + 1, for annotated pools */
};

/* What a pool looked like over time, kept across scans. */
struct pstate {
    uint64_t key;
    uint64_t last_scan;
    uintptr_t idle_obj;
    uint32_t idle_kind;
    uint64_t lost_base;          /* lost signals on idle_obj when a worker was last seen idle */
    uint64_t reported_sig;       /* signature of the waits last reported */
    int growth_reported;
    uint64_t win_start_ns;
    long win_start_depth;
    long peak_depth;
    uint64_t rss_start_kb;
};

static struct group groups[MAX_GROUPS];
static int ngroups;
static struct pstate pstates[MAX_GROUPS];
static int *next_member;
static int *group_of;
static uint64_t scan_no;

int pg_pool_init(uint32_t size)
{
    size_t bytes = 2 * (size_t)size * sizeof(int);
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    next_member = p;
    group_of = next_member + size;
    return 0;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h;
}

/* Threads started by the same routine from the same call stack. Frame 0 is inside the shim's
 * pthread_create; frame 1, the call itself, is left out because a compiler that unrolls the loop
 * creating the workers gives each its own call instruction. Two pools started from one function
 * by the same routine then count as one, which can hide an exhausted pool but never invents one. */
static uint64_t group_key(const struct pg_thread *t)
{
    if (!t->start_routine || t->ncreate < 2)
        return 0;
    uint64_t h = mix(0xcbf29ce484222325ull, t->start_routine);
    uint32_t n = t->ncreate < 8 ? t->ncreate : 8;
    for (uint32_t k = 2; k < n; k++)
        h = mix(h, t->create_stack[k]);
    return h ? h : 1;
}

static void build_groups(int n)
{
    ngroups = 0;
    for (int i = 0; i < n; i++) {
        group_of[i] = -1;
        next_member[i] = -1;
        uint64_t key = group_key(pg_snaps[i].slot);
        uintptr_t apool = __atomic_load_n(&pg_snaps[i].slot->ann_pool, __ATOMIC_ACQUIRE);
        if (apool)
            key = mix(0x616e6e6f74ull, apool);   /* annotated: the pool is what the program says */
        if (!key)
            continue;
        int g;
        for (g = 0; g < ngroups && groups[g].key != key; g++)
            ;
        if (g == ngroups) {
            if (ngroups == MAX_GROUPS)
                continue;
            groups[g] = (struct group){key, 0, -1, 0};
            if (apool) {
                struct pg_apool *p = pg_apool_find(apool);
                groups[g].annotated = p ? (int)(p - pg_apools) + 1 : 0;
            }
            ngroups++;
        }
        group_of[i] = g;
        next_member[i] = groups[g].first;
        groups[g].first = i;
        groups[g].n++;
    }
}

static struct pstate *pstate_for(uint64_t key)
{
    struct pstate *victim = &pstates[0];
    for (int i = 0; i < MAX_GROUPS; i++) {
        if (pstates[i].key == key)
            return &pstates[i];
        if (pstates[i].last_scan < victim->last_scan)
            victim = &pstates[i];
    }
    memset(victim, 0, sizeof *victim);
    victim->key = key;
    return victim;
}

#define FOR_MEMBERS(g, i) for (int i = groups[g].first; i >= 0; i = next_member[i])

/* Signals and posts that found no waiter on obj, by every thread. */
static uint64_t lost_total(int n, uintptr_t obj)
{
    uint64_t sum = 0;
    for (int i = 0; i < n; i++) {
        const struct pg_thread *t = pg_snaps[i].slot;
        for (int k = 0; k < PG_LOST; k++)
            if (__atomic_load_n(&t->lost[k].obj, __ATOMIC_RELAXED) == obj)
                sum += __atomic_load_n(&t->lost[k].count, __ATOMIC_RELAXED);
    }
    return sum;
}

static int in_hist(const struct pg_thread *t, uintptr_t obj)
{
    for (int k = 0; k < PG_HIST; k++)
        if (__atomic_load_n(&t->hist[k].obj, __ATOMIC_RELAXED) == obj &&
            __atomic_load_n(&t->hist[k].count, __ATOMIC_RELAXED) > 0)
            return 1;
    return 0;
}

/* Has a thread outside the group waited on obj? Then obj is not this pool's queue. */
static int waited_by_others(int n, int g, uintptr_t obj)
{
    for (int i = 0; i < n; i++)
        if (group_of[i] != g && in_hist(pg_snaps[i].slot, obj))
            return 1;
    return 0;
}

/* Has a thread outside the group queued work on obj while nobody waited? */
static int lost_by_others(int n, int g, uintptr_t obj)
{
    for (int i = 0; i < n; i++) {
        if (group_of[i] == g)
            continue;
        const struct pg_thread *t = pg_snaps[i].slot;
        for (int k = 0; k < PG_LOST; k++)
            if (__atomic_load_n(&t->lost[k].obj, __ATOMIC_RELAXED) == obj && t->lost[k].count)
                return 1;
    }
    return 0;
}

static int in_members_hist(int g, uintptr_t obj);
/* Member i's current wait began right after it queued work on an object nobody waited on: the
 * object, or 0. */
static uintptr_t submitted_then_waited(int i, uint32_t *kind)
{
    const struct snap *s = &pg_snaps[i];
    if (!s->waiting)
        return 0;
    const struct pg_thread *t = s->slot;
    for (int k = 0; k < PG_LOST; k++) {
        uintptr_t obj = __atomic_load_n(&t->lost[k].obj, __ATOMIC_RELAXED);
        uint64_t seq = __atomic_load_n(&t->lost[k].seq, __ATOMIC_RELAXED);
        if (obj && obj != s->wobj && seq + 1 == s->seq && t->lost[k].count) {
            *kind = t->lost[k].kind;
            return obj;
        }
    }
    return 0;
}

static int in_members_hist(int g, uintptr_t obj)
{
    FOR_MEMBERS(g, i)
        if (in_hist(pg_snaps[i].slot, obj))
            return 1;
    return 0;
}

/* The idle object: learned from the members' wait history (the object most members waited on,
 * most often), confirmed or replaced by "submit then wait" evidence. */
static void learn_idle(int n, int g, struct pstate *ps, int *submit_wait)
{
    *submit_wait = 0;
    FOR_MEMBERS(g, i) {
        uint32_t kind = 0;
        uintptr_t obj = submitted_then_waited(i, &kind);
        /* A pool's queue: its own workers wait on it, or (workers that never went idle) work
         * arrives on it from outside too. Threads that merely announce they are ready, on an
         * object nobody else waits for, are not submitting work. */
        if (obj && !waited_by_others(n, g, obj) &&
            (in_members_hist(g, obj) || lost_by_others(n, g, obj))) {
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
    FOR_MEMBERS(g, i) {
        const struct pg_thread *t = pg_snaps[i].slot;
        for (int k = 0; k < PG_HIST; k++) {
            uintptr_t obj = __atomic_load_n(&t->hist[k].obj, __ATOMIC_RELAXED);
            uint32_t c = __atomic_load_n(&t->hist[k].count, __ATOMIC_RELAXED);
            if (!obj || !c)
                continue;
            int j;
            for (j = 0; j < nobjs && objs[j].obj != obj; j++)
                ;
            if (j == nobjs) {
                if (nobjs == MAXOBJ)
                    continue;
                objs[nobjs++] = (typeof(objs[0])){obj, t->hist[k].kind, 0, 0};
            }
            objs[j].members++;
            objs[j].count += c;
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
        FOR_MEMBERS(g, i) {
            const struct pg_thread *t = pg_snaps[i].slot;
            for (int k = 0; k < PG_HIST && !queue; k++) {
                uintptr_t obj = __atomic_load_n(&t->hist[k].obj, __ATOMIC_RELAXED);
                if (obj && lost_by_others(n, g, obj) && !waited_by_others(n, g, obj)) {
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

static long sem_value(uintptr_t sem)
{
    /* glibc: the low half of the semaphore's 64-bit word is its value. */
    uint64_t word;
    if (pg_peek(&word, sem, sizeof word) < 0)
        return -1;
    return (long)(word & 0x7fffffffu);
}

static void write_pool(struct pg_jw *w, int g, const struct pstate *ps, long queued, int exact,
                       const char *evidence)
{
    const struct pg_thread *t0 = pg_snaps[groups[g].first].slot;
    pg_jw_key(w, "pool");
    pg_jw_obj(w);
    pg_jw_key(w, "id"), pg_jw_hex(w, (uintptr_t)groups[g].key);
    struct pg_apool *ap = groups[g].annotated ? &pg_apools[groups[g].annotated - 1] : NULL;
    pg_jw_key(w, "annotated"), pg_jw_bool(w, ap != NULL);
    if (ap)
        pg_jw_key(w, "handle"), pg_jw_hex(w, atomic_load(&ap->handle));
    if (ap && ap->name[0])
        pg_jw_key(w, "name"), pg_jw_str(w, ap->name);
    pg_jw_key(w, "workers"), pg_jw_int(w, groups[g].n);
    if (ap && atomic_load(&ap->workers))
        pg_jw_key(w, "declared_workers"), pg_jw_int(w, atomic_load(&ap->workers));
    if (!ap && t0->start_routine)
        pg_jw_key(w, "start_routine"), pg_jw_hex(w, t0->start_routine);
    pg_jw_key(w, "create_stack");
    pg_jw_arr(w);
    if (ap) {
        for (int k = 0; k < ap->ncreate; k++)
            pg_jw_hex(w, ap->create_stack[k]);
    } else {
        for (uint32_t k = 1; k < t0->ncreate; k++)
            pg_jw_hex(w, t0->create_stack[k]);
    }
    pg_jw_arr_end(w);
    pg_jw_key(w, "idle");
    if (ps->idle_obj) {
        pg_jw_obj(w);
        pg_jw_key(w, "kind"), pg_jw_str(w, pg_wait_kind_name(ps->idle_kind));
        pg_jw_key(w, "address"), pg_jw_hex(w, ps->idle_obj);
        pg_jw_obj_end(w);
    } else {
        pg_jw_null(w);
    }
    pg_jw_key(w, "queued");
    if (queued >= 0)
        pg_jw_int(w, queued);
    else
        pg_jw_null(w);
    pg_jw_key(w, "queued_exact"), pg_jw_bool(w, exact);
    pg_jw_key(w, "evidence"), pg_jw_str(w, evidence);
    pg_jw_obj_end(w);
}

/* Writes a pool finding: the workers, then every other thread stuck with them. */
static void report_pool(int n, int g, struct pstate *ps, const char *kind, const char *severity,
                        const char *summary, long queued, int exact, const char *evidence,
                        uint64_t now, double rate)
{
    struct pg_jw *w = pg_report_finding(kind, severity, summary);
    if (w) {
        if (rate > 0) {
            pg_jw_key(w, "growth");
            pg_jw_obj(w);
            pg_jw_key(w, "per_second"), pg_jw_int(w, (long long)rate);
            pg_jw_key(w, "depth"), pg_jw_int(w, queued);
            pg_jw_key(w, "window_ms"), pg_jw_int(w, (long long)((now - ps->win_start_ns) / 1000000u));
            uint64_t rss = pg_rss_kb();
            if (rss && ps->rss_start_kb)
                pg_jw_key(w, "rss_growth_kb"), pg_jw_int(w, (long long)rss - (long long)ps->rss_start_kb);
            pg_jw_obj_end(w);
        }
        write_pool(w, g, ps, queued, exact, evidence);
        pg_jw_key(w, "threads");
        pg_jw_arr(w);
        FOR_MEMBERS(g, i) {
            struct pg_rthread rt;
            pg_fill_rthread(&rt, i, "worker", now);
            const struct pg_thread *t = pg_snaps[i].slot;
            rt.task = __atomic_load_n(&t->ann_task, __ATOMIC_RELAXED);
            rt.wait_task = __atomic_load_n(&t->ann_wait_task, __ATOMIC_RELAXED);
            if (rt.wait_task) {
                rt.wait_task_queued_in = pg_task_queued_in(rt.wait_task);
                for (int j = 0; j < n; j++)
                    if (__atomic_load_n(&pg_snaps[j].slot->ann_task, __ATOMIC_RELAXED) == rt.wait_task)
                        rt.wait_task_runner = pg_snaps[j].tid;
            }
            pg_report_thread(w, &rt);
        }
        /* Submitters and others stuck with the pool (e.g. main waiting for the results). */
        for (int i = 0; i < n; i++) {
            const struct pg_thread *t = pg_snaps[i].slot;
            if (group_of[i] != g && ps->idle_obj &&
                __atomic_load_n(&t->submit_obj, __ATOMIC_ACQUIRE) == ps->idle_obj &&
                !pg_nodes[i].stuck) {
                struct pg_rthread rt;
                pg_fill_rthread(&rt, i, "submitter", now);
                if (!rt.nstack) {
                    /* Running: its stack is the one it had when it last queued work here. */
                    rt.stack = t->submit_stack;
                    rt.nstack = (int)__atomic_load_n(&t->nsubmit, __ATOMIC_RELAXED);
                }
                pg_report_thread(w, &rt);
                continue;
            }
            if (group_of[i] == g || !pg_nodes[i].stuck)
                continue;
            struct pg_rthread rt;
            pg_fill_rthread(&rt, i, "blocked", now);
            pg_report_thread(w, &rt);
        }
        pg_jw_arr_end(w);
        pg_jw_obj_end(w);
        pg_report_end();
    }
    pg_note_finding(kind, summary);
}

/* Marks the pool's workers, and threads stuck together with them, as reported, so the deadlock
 * analysis does not report a second, vaguer finding for the same hang. */
static void mark_reported(int n, int g)
{
    int fset[8], nfset = 0;
    FOR_MEMBERS(g, i) {
        pg_snaps[i].slot->wd_reported_seq = pg_snaps[i].seq;
        int f = pg_nodes[i].stuck ? pg_nodes[i].finding : -1;
        if (f >= 0 && nfset < 8)
            fset[nfset++] = f;
    }
    for (int i = 0; i < n; i++) {
        if (!pg_nodes[i].stuck)
            continue;
        for (int k = 0; k < nfset; k++)
            if (pg_nodes[i].finding == fset[k] && pg_findings[fset[k]].kind == PG_GF_HANG)
                pg_snaps[i].slot->wd_reported_seq = pg_snaps[i].seq;
    }
}

static uint64_t waits_signature(int g)
{
    uint64_t h = 0x12345;
    FOR_MEMBERS(g, i)
        h = mix(h, pg_snaps[i].seq * 31 + (uint64_t)pg_snaps[i].tid);
    return h;
}

static void check_growth(int n, int g, struct pstate *ps, long depth, int exact, uint64_t now)
{
    if (depth < 0 || ps->growth_reported)
        return;
    if (!ps->win_start_ns || depth < ps->win_start_depth) {
        /* The backlog shrank: the pool keeps up. Start a new window. */
        ps->win_start_ns = now;
        ps->win_start_depth = depth;
        ps->rss_start_kb = 0;
        return;
    }
    if (!ps->rss_start_kb)
        ps->rss_start_kb = pg_rss_kb();
    uint64_t span = now - ps->win_start_ns;
    if (depth <= pg_cfg.queue_limit || span < (uint64_t)GROWTH_WINDOW_MS * 1000000u ||
        depth <= ps->win_start_depth)
        return;
    double rate = (double)(depth - ps->win_start_depth) * 1e9 / (double)span;
    char summary[320];
    int nw = groups[g].n;
    if (exact)
        snprintf(summary, sizeof summary,
                 "the queue of a pool of %d worker%s grew to %ld tasks (+%.0f per second) while every "
                 "worker was busy", nw, nw == 1 ? "" : "s", depth, rate);
    else
        snprintf(summary, sizeof summary,
                 "%ld tasks were queued on a pool of %d worker%s while no worker was free to take "
                 "them (+%.0f per second); its queue keeps growing", depth, nw, nw == 1 ? "" : "s",
                 rate);
    report_pool(n, g, ps, "queue_growth", "warning", summary, depth, exact,
                exact ? "annotation" : ps->idle_kind == PG_W_SEM ? "semaphore count"
                                                                 : "signals with no idle worker",
                now, rate > 1 ? rate : 1);
    ps->growth_reported = 1;
}

static void analyze_group(int n, int g, uint64_t now)
{
    struct pstate *ps = pstate_for(groups[g].key);
    ps->last_scan = scan_no;
    struct pg_apool *ap = groups[g].annotated ? &pg_apools[groups[g].annotated - 1] : NULL;

    /* Workers already explained by a finding (the Python layer's, say) in these very waits. */
    int explained = 1;
    FOR_MEMBERS(g, i)
        explained &= pg_snaps[i].waiting && pg_snaps[i].slot->wd_reported_seq == pg_snaps[i].seq;
    if (explained)
        return;

    int submit_wait = 0;
    if (!ap)
        learn_idle(n, g, ps, &submit_wait);

    /* Classify the workers. */
    int idle = 0, blocked = 0, stuck = 0, confirmed = 1, waits_own_task = 0;
    uint64_t newest = 0;
    FOR_MEMBERS(g, i) {
        const struct snap *s = &pg_snaps[i];
        if (s->waiting && ps->idle_obj && s->wobj == ps->idle_obj) {
            idle++;
            continue;
        }
        if (s->waiting && !s->timed) {
            blocked++;
            if (s->since_ns > newest)
                newest = s->since_ns;
            stuck += pg_nodes[i].stuck;
            if (!pg_node_confirmed(i))
                confirmed = 0;
        }
        if (ap) {
            uintptr_t wt = __atomic_load_n(&s->slot->ann_wait_task, __ATOMIC_RELAXED);
            if (wt && pg_task_queued_in(wt) == atomic_load(&ap->handle))
                waits_own_task = 1;
        }
    }

    /* Queued work. */
    long queued = -1;
    int exact = 0;
    const char *evidence = "stall";
    if (ap) {
        queued = (long)(atomic_load(&ap->submitted) - atomic_load(&ap->started));
        exact = 1;
        evidence = "annotation";
    } else if (ps->idle_obj) {
        uint64_t lost = lost_total(n, ps->idle_obj);
        if (idle > 0 || lost < ps->lost_base)
            ps->lost_base = lost;   /* a worker waits for work: the queue is empty now */
        queued = (long)(lost - ps->lost_base);
        evidence = "signals with no idle worker";
        if (ps->idle_kind == PG_W_SEM) {
            queued = sem_value(ps->idle_obj);
            evidence = "semaphore count";
        }
    }

    check_growth(n, g, ps, idle ? 0 : queued, exact, now);

    if (pg_cfg.debug)
        pg_warn("debug: pool %#llx: %d workers, %d idle, %d blocked (%d stuck), idle object %#lx "
                "(kind %u), queued %ld, submit-then-wait %d", (unsigned long long)groups[g].key,
                groups[g].n, idle, blocked, stuck, (unsigned long)ps->idle_obj, ps->idle_kind, queued,
                submit_wait);
    if (idle > 0 || blocked < groups[g].n || groups[g].n == 0)
        return;
    /* Every worker is blocked, none in the idle wait. */
    uint64_t age_ms = now > newest ? (now - newest) / 1000000u : 0;
    int all_stuck = stuck == groups[g].n && confirmed;
    const char *severity = NULL;
    if (queued > 0 && ((all_stuck && !ap) || ((submit_wait || waits_own_task) && age_ms >= POOL_CONFIRM_MS) ||
                       (ap && waits_own_task && all_stuck)))
        severity = "error";
    else if (age_ms >= (uint64_t)pg_cfg.stall_ms && (ps->idle_obj || ap))
        severity = "warning";   /* with the idle wait unknown, the wait we would call a stall
                                 * could be the idle wait itself */
    if (!severity)
        return;
    uint64_t sig = waits_signature(g);
    if (ps->reported_sig == sig)
        return;
    ps->reported_sig = sig;

    char summary[320];
    int nw = groups[g].n;
    const char *name = ap && ap->name[0] ? ap->name : NULL;
    char pool_desc[96];
    if (name)
        snprintf(pool_desc, sizeof pool_desc, "pool \"%.48s\"", name);
    else
        snprintf(pool_desc, sizeof pool_desc, "pool");
    if (!strcmp(severity, "error"))
        snprintf(summary, sizeof summary,
                 "%s %d worker%s of the %s %s waiting for tasks queued behind them in the same pool "
                 "(%ld queued)", nw == 1 ? "the only" : "all", nw, nw == 1 ? "" : "s", pool_desc,
                 nw == 1 ? "is" : "are", queued);
    else
        snprintf(summary, sizeof summary,
                 "%s %d worker%s of the %s %s been blocked for %llu ms outside the idle wait%s",
                 nw == 1 ? "the only" : "all", nw, nw == 1 ? "" : "s", pool_desc,
                 nw == 1 ? "has" : "have", (unsigned long long)age_ms,
                 queued > 0 ? "" : "; no queued work was seen, so nothing is proven");
    report_pool(n, g, ps, "pool_exhaustion", severity, summary, queued, exact, evidence, now, 0);
    mark_reported(n, g);
    if (!strcmp(severity, "error"))
        pg_act_on_finding();
}

void pg_pool_scan(int n, uint64_t now)
{
    scan_no++;
    build_groups(n);
    for (int g = 0; g < ngroups; g++)
        analyze_group(n, g, now);
}

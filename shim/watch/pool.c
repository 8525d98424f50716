/*
 * Pool analysis, run by the watchdog on every scan after the wait-for graph (scan.h). The rules
 * (which threads are a pool, its idle wait and queue, and what is exhausted, stalled or growing,
 * held to the proof standard of docs/design.md) are the pure module poolinfer.c; this file feeds
 * it and acts on what it decides. Per scan it:
 *   - reads, per thread, what the rules need from the live slot and the graph: the group key and
 *     the thread's class (pool_class.c), its wait, wait history, lost signals, annotations, and
 *     whether the tasks it waits for or submitted are still queued; and, per pool known exactly
 *     (annotate.h), its counters;
 *   - answers the two costly questions the rules ask only when they need the answer: whether a
 *     thread is runnable (/proc), and a semaphore's value (the program's memory);
 *   - appends the whole input to the POOLGUARD_TRACE file (trace.c) when a thread waits or work
 *     is queued;
 *   - writes each verdict as a report line, marks the threads reported so the deadlock analysis
 *     does not report the same hang again, and acts on errors (POOLGUARD_ON_FINDING).
 *
 * Runs in the watchdog: static tables only, sized once at start-up.
 */
#include "annotate.h"
#include "glibc.h"
#include "pool_int.h"
#include "poolinfer.h"
#include "scan.h"
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

_Static_assert(PG_PI_HIST == PG_HIST, "poolinfer.h mirrors PG_HIST");
_Static_assert(PG_PI_LOST == PG_LOST, "poolinfer.h mirrors PG_LOST");
_Static_assert(PG_PI_W_SEM == PG_W_SEM, "poolinfer.h mirrors PG_W_SEM");
_Static_assert(PG_PI_MAX_GROUPS >= PG_MAX_APOOLS, "every pool known exactly fits in the input");

#define QUEUE_SHOWN 8

static struct pg_pi_thread *threads;
static struct pg_pi_pool pools[PG_MAX_APOOLS];
static struct pg_apool *pool_ap[PG_MAX_APOOLS]; /* the live record of pools[k] */
static struct pg_pi_in in;
static struct pg_pi_state state;
static struct pg_pi_out out;
static uint64_t scan_no;
static const struct pg_scan *sc; /* the scan pg_pool_scan is analysing */

int pg_pool_init(uint32_t size)
{
    size_t bytes = (size_t)size * (sizeof(struct pg_pi_thread) + sizeof *pg_pool_slot_class);
    char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    threads = (struct pg_pi_thread *)p;
    pg_pool_slot_class = (void *)(p + (size_t)size * sizeof(struct pg_pi_thread));
    return 0;
}

static int input_pool(uintptr_t handle, struct pg_apool *ap)
{
    for (int k = 0; k < in.npools; k++)
        if (pools[k].handle == handle)
            return k;
    if (in.npools == PG_MAX_APOOLS)
        return -1;
    int k = in.npools++;
    pools[k].handle = handle;
    pools[k].adapter = ap->library[0] != 0;
    pools[k].workers = atomic_load(&ap->workers);
    pools[k].submitted = atomic_load(&ap->submitted);
    pools[k].started = atomic_load(&ap->started);
    pools[k].done = atomic_load(&ap->done);
    pool_ap[k] = ap;
    return k;
}

/* One thread's input, from its snapshot, its live slot and the graph. */
static void fill_thread(int i)
{
    const struct snap *s = &sc->snaps[i];
    struct pg_thread *t = s->slot;
    struct pg_pi_thread *p = &threads[i];
    memset(p, 0, sizeof *p);
    p->tid = s->tid;
    p->gen = s->gen;
    p->waiting = s->waiting;
    p->timed = s->timed;
    p->wkind = s->wkind;
    p->wobj = s->wobj;
    p->lockwait = s->wkind == PG_W_FUTEX && (s->wextra & PG_FUTEX_LOCK_WAIT);
    p->seq = s->seq;
    p->since_ns = s->since_ns;
    p->stuck = sc->nodes[i].stuck;
    p->confirmed = pg_node_confirmed(i);
    p->finding = sc->nodes[i].stuck ? sc->nodes[i].finding : -1;
    p->finding_hang = p->finding >= 0 && sc->findings[p->finding].kind == PG_GF_HANG;
    p->reported = pg_reported(s);
    p->runnable = PG_PI_UNREAD;

    uintptr_t apool = __atomic_load_n(&t->ann_pool, __ATOMIC_ACQUIRE);
    struct pg_apool *ap = apool ? pg_apool_find(apool) : NULL;
    if (ap && input_pool(apool, ap) >= 0)
        p->pool = apool;
    else if (apool || __atomic_load_n(&t->ann_ever, __ATOMIC_RELAXED))
        p->exact_idle = 1;
    if (!p->pool && !p->exact_idle && t->start_routine) {
        p->cls = pg_pool_thread_class(t, s->gen);
        p->key = pg_pool_group_key(t, p->cls);
    }

    for (int k = 0; k < PG_HIST; k++) {
        p->hist[k].obj = __atomic_load_n(&t->hist[k].obj, __ATOMIC_RELAXED);
        p->hist[k].count = __atomic_load_n(&t->hist[k].count, __ATOMIC_RELAXED);
        p->hist[k].kind = __atomic_load_n(&t->hist[k].kind, __ATOMIC_RELAXED);
    }
    for (int k = 0; k < PG_LOST; k++) {
        p->lost[k].obj = __atomic_load_n(&t->lost[k].obj, __ATOMIC_RELAXED);
        p->lost[k].count = __atomic_load_n(&t->lost[k].count, __ATOMIC_RELAXED);
        p->lost[k].kind = __atomic_load_n(&t->lost[k].kind, __ATOMIC_RELAXED);
        p->lost[k].seq = __atomic_load_n(&t->lost[k].seq, __ATOMIC_RELAXED);
    }
    p->ann_task = __atomic_load_n(&t->ann_task, __ATOMIC_RELAXED);
    p->ann_task_fn = __atomic_load_n(&t->ann_task_fn, __ATOMIC_RELAXED);
    p->ann_wait_task = __atomic_load_n(&t->ann_wait_task, __ATOMIC_RELAXED);
    p->sub_pool = __atomic_load_n(&t->sub_pool, __ATOMIC_RELAXED);
    p->sub_task = __atomic_load_n(&t->sub_task, __ATOMIC_RELAXED);
    p->sub_seq = __atomic_load_n(&t->sub_seq, __ATOMIC_ACQUIRE);
    if (p->ann_wait_task)
        p->wait_task_queued_in = pg_task_queued_in(p->ann_wait_task);
    if (p->sub_task)
        p->sub_task_queued_in = pg_task_queued_in(p->sub_task);
}

static int live_runnable(void *ctx, int i)
{
    (void)ctx;
    return pg_thread_runnable(sc->snaps[i].tid);
}

/* A semaphore's value (glibc.h), -1 if unknown. */
static long live_sem_value(void *ctx, uintptr_t sem)
{
    (void)ctx;
    uint64_t word;
    if (!pg_glibc_open() || pg_peek(&word, sem, sizeof word) < 0)
        return -1;
    return pg_glibc_sem_value_of(word);
}

static const char *source_name(const struct pg_apool *ap)
{
    return pg_source_name(!ap              ? PG_SRC_INFERRED
                          : ap->library[0] ? PG_SRC_ADAPTER
                                           : PG_SRC_ANNOTATION);
}

static struct pg_apool *group_ap(int g)
{
    return out.groups[g].pool >= 0 ? pool_ap[out.groups[g].pool] : NULL;
}

/* NOLINTNEXTLINE(bugprone-macro-parentheses): i is the loop variable the macro declares */
#define FOR_MEMBERS(g, i) for (int i = out.groups[(g)].first; i >= 0; i = threads[i].next)

static void write_pool(struct pg_jw *w, int g, const struct pg_pi_pstate *ps, long queued,
                       int exact, const char *evidence, const char *proof)
{
    const struct pg_thread *t0 = sc->snaps[out.groups[g].first].slot;
    struct pg_apool *ap = group_ap(g);
    uintptr_t handle = ap ? atomic_load(&ap->handle) : 0;
    pg_jw_key(w, PG_K_POOL);
    pg_jw_obj(w);
    pg_jw_key(w, PG_K_POOL_ID), pg_jw_hex(w, (uintptr_t)out.groups[g].key);
    pg_jw_key(w, "annotated"), pg_jw_bool(w, ap && !ap->library[0]);
    pg_jw_key(w, PG_K_SOURCE), pg_jw_str(w, source_name(ap));
    if (ap)
        pg_jw_key(w, "handle"), pg_jw_hex(w, handle);
    if (ap && ap->library[0])
        pg_jw_key(w, PG_K_POOL_LIBRARY), pg_jw_str(w, ap->library);
    if (ap && ap->name[0])
        pg_jw_key(w, PG_K_POOL_NAME), pg_jw_str(w, ap->name);
    pg_jw_key(w, PG_K_POOL_WORKERS), pg_jw_int(w, out.groups[g].n);
    int declared = ap ? atomic_load(&ap->workers) : 0;
    if (declared) {
        pg_jw_key(w, PG_K_POOL_DECLARED), pg_jw_int(w, declared);
        pg_jw_key(w, PG_K_POOL_MAX), pg_jw_int(w, declared);
    }
    if (ap) {
        uint64_t started = atomic_load(&ap->started), done = atomic_load(&ap->done);
        pg_jw_key(w, "active"), pg_jw_int(w, started > done ? (long long)(started - done) : 0);
    }
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
    pg_jw_key(w, PG_K_POOL_QUEUED);
    if (queued >= 0)
        pg_jw_int(w, queued);
    else
        pg_jw_null(w);
    pg_jw_key(w, "queued_exact"), pg_jw_bool(w, exact);
    if (ap && queued > 0) {
        static struct pg_qtask_ent q[QUEUE_SHOWN];
        int nq = pg_task_queue(handle, q, QUEUE_SHOWN);
        pg_jw_key(w, "queued_tasks");
        pg_jw_arr(w);
        for (int k = 0; k < nq; k++) {
            pg_jw_obj(w);
            pg_jw_key(w, "address"), pg_jw_hex(w, q[k].task);
            if (q[k].fn)
                pg_jw_key(w, "function"), pg_jw_hex(w, q[k].fn);
            pg_jw_key(w, "position"), pg_jw_int(w, k + 1);
            pg_jw_obj_end(w);
        }
        pg_jw_arr_end(w);
    }
    pg_jw_key(w, PG_K_POOL_EVIDENCE), pg_jw_str(w, evidence);
    pg_jw_key(w, PG_K_POOL_PROOF), pg_jw_str(w, proof);
    pg_jw_obj_end(w);
}

/* What a worker of an exactly known pool waits for, filled into its report entry. */
static void fill_task_waits(struct pg_rthread *rt, int i, int n, uintptr_t handle)
{
    const struct snap *s = &sc->snaps[i];
    const struct pg_thread *t = s->slot;
    rt->task = __atomic_load_n(&t->ann_task, __ATOMIC_RELAXED);
    rt->task_fn = __atomic_load_n(&t->ann_task_fn, __ATOMIC_RELAXED);
    rt->wait_task = __atomic_load_n(&t->ann_wait_task, __ATOMIC_RELAXED);
    if (rt->wait_task) {
        struct pg_qtask q;
        if (pg_task_lookup(rt->wait_task, &q)) {
            rt->wait_task_queued_in = q.pool;
            rt->wait_task_fn = q.fn;
        }
        for (int j = 0; j < n; j++)
            if (__atomic_load_n(&sc->snaps[j].slot->ann_task, __ATOMIC_RELAXED) == rt->wait_task) {
                rt->wait_task_runner = sc->snaps[j].tid;
                rt->wait_task_fn =
                    __atomic_load_n(&sc->snaps[j].slot->ann_task_fn, __ATOMIC_RELAXED);
            }
    }
    uintptr_t sub = __atomic_load_n(&t->sub_task, __ATOMIC_RELAXED);
    struct pg_qtask q;
    if (handle && s->waiting && __atomic_load_n(&t->sub_pool, __ATOMIC_RELAXED) == handle &&
        s->seq > __atomic_load_n(&t->sub_seq, __ATOMIC_ACQUIRE) && pg_task_lookup(sub, &q) &&
        q.pool == handle) {
        rt->sub_task = sub;
        rt->sub_fn = q.fn;
        rt->sub_pos = pg_task_position(handle, q.seq);
    }
}

/* Writes a pool finding: the workers, then every other thread stuck with them. */
static void report_pool(int n, const struct pg_pi_verdict *v, const char *summary, uint64_t now)
{
    int g = v->group;
    const struct pg_pi_pstate *ps = &state.ps[out.groups[g].state];
    struct pg_apool *ap = group_ap(g);
    uintptr_t handle = ap ? atomic_load(&ap->handle) : 0;
    const char *kind = pg_pi_kind_name(v->kind);
    struct pg_jw *w = pg_report_finding(pg_pi_kind_format(v->kind),
                                        pg_pi_severity_format(v->severity), v->proof, summary);
    if (w) {
        if (v->kind == PG_PI_GROWTH) {
            pg_jw_key(w, PG_K_GROWTH);
            pg_jw_obj(w);
            pg_jw_key(w, "per_second"), pg_jw_int(w, (long long)(v->rate > 1 ? v->rate : 1));
            pg_jw_key(w, "depth"), pg_jw_int(w, v->queued);
            pg_jw_key(w, "window_ms"), pg_jw_int(w, (long long)v->window_ms);
            if (in.rss_kb && ps->rss_start_kb) /* in.rss_kb: read for this scan */
                pg_jw_key(w, "rss_growth_kb"),
                    pg_jw_int(w, (long long)in.rss_kb - (long long)ps->rss_start_kb);
            pg_jw_obj_end(w);
        }
        write_pool(w, g, ps, v->queued, v->exact, pg_pi_evidence_name(v->evidence),
                   pg_pi_proof_name(v->proof));
        pg_jw_key(w, PG_K_THREADS);
        pg_jw_arr(w);
        FOR_MEMBERS (g, i) {
            struct pg_rthread rt;
            pg_fill_rthread(&rt, i, pg_role_name(PG_ROLE_WORKER), now);
            fill_task_waits(&rt, i, n, handle);
            pg_report_thread(w, &rt);
        }
        /* Submitters and others stuck with the pool (e.g. main waiting for the results). */
        for (int i = 0; i < n; i++) {
            const struct pg_thread *t = sc->snaps[i].slot;
            if (threads[i].group != g && ps->idle_obj &&
                __atomic_load_n(&t->submit_obj, __ATOMIC_ACQUIRE) == ps->idle_obj &&
                !sc->nodes[i].stuck) {
                struct pg_rthread rt;
                pg_fill_rthread(&rt, i, pg_role_name(PG_ROLE_SUBMITTER), now);
                if (!rt.nstack) {
                    /* Running: its stack is the one it had when it last queued work here. */
                    rt.stack = t->submit_stack;
                    rt.nstack = (int)__atomic_load_n(&t->nsubmit, __ATOMIC_RELAXED);
                }
                pg_report_thread(w, &rt);
                continue;
            }
            if (threads[i].group == g || !sc->nodes[i].stuck)
                continue;
            struct pg_rthread rt;
            pg_fill_rthread(&rt, i, pg_role_name(PG_ROLE_BLOCKED), now);
            pg_report_thread(w, &rt);
        }
        pg_jw_arr_end(w);
        pg_jw_obj_end(w);
        pg_report_end();
    }
    if (v->severity != PG_PI_INFO)
        pg_note_finding(kind, summary);
}

static void summarize(char *summary, size_t cap, const struct pg_pi_verdict *v)
{
    int nw = out.groups[v->group].n;
    const struct pg_apool *ap = group_ap(v->group);
    if (v->kind == PG_PI_GROWTH) {
        if (v->exact)
            snprintf(summary, cap,
                     "the queue of a pool of %d worker%s grew to %ld tasks (+%.0f per second) "
                     "while every "
                     "worker was busy",
                     nw, nw == 1 ? "" : "s", v->queued, v->rate);
        else
            snprintf(summary, cap,
                     "%ld tasks were queued on a pool of %d worker%s while no worker was free to "
                     "take "
                     "them (+%.0f per second); its queue keeps growing",
                     v->queued, nw, nw == 1 ? "" : "s", v->rate);
        return;
    }
    char pool_desc[96];
    if (ap && ap->name[0])
        snprintf(pool_desc, sizeof pool_desc, "pool \"%.48s\"", ap->name);
    else
        snprintf(pool_desc, sizeof pool_desc, "pool");
    if (v->kind == PG_PI_EXHAUSTION && v->severity == PG_PI_ERROR)
        snprintf(summary, cap,
                 "%s %d worker%s of the %s %s waiting for tasks queued behind them in the same "
                 "pool "
                 "(%ld queued)",
                 nw == 1 ? "the only" : "all", nw, nw == 1 ? "" : "s", pool_desc,
                 nw == 1 ? "is" : "are", v->queued);
    else if (v->kind == PG_PI_EXHAUSTION)
        snprintf(summary, cap,
                 "%s %d worker%s of the %s %s blocked with about %ld task%s queued behind them; "
                 "inferred, not proven",
                 nw == 1 ? "the only" : "all", nw, nw == 1 ? "" : "s", pool_desc,
                 nw == 1 ? "is" : "are", v->queued, v->queued == 1 ? "" : "s");
    else
        snprintf(summary, cap,
                 "%s %d worker%s of the %s %s been blocked for %llu ms; nothing shows that %s "
                 "stuck",
                 nw == 1 ? "the only" : "all", nw, nw == 1 ? "" : "s", pool_desc,
                 nw == 1 ? "has" : "have", (unsigned long long)v->age_ms,
                 nw == 1 ? "it is" : "they are");
}

/* POOLGUARD_DEBUG: what the analysis saw of a pool. */
static void debug_group(int g)
{
    const struct pg_pi_group *gr = &out.groups[g];
    if (!gr->analyzed)
        return;
    const struct pg_pi_pstate *ps = &state.ps[gr->state];
    if (gr->pool >= 0) {
        const struct pg_apool *ap = pool_ap[gr->pool];
        pg_warn("debug: %s pool %#lx: %d busy of %d, %d blocked, %d stuck for the pool, %d by the "
                "graph, queued %ld",
                ap->library[0] ? ap->library : "annotated", (unsigned long)pools[gr->pool].handle,
                gr->n, pools[gr->pool].workers, gr->blocked, gr->stuck, gr->graph_stuck,
                gr->queued);
    } else {
        pg_warn("debug: pool %#llx: %d workers, %d idle, %d blocked (%d stuck), idle object %#lx "
                "(kind %u), queued %ld, submit-then-wait %d",
                (unsigned long long)gr->key, gr->n, gr->idle, gr->blocked, gr->stuck,
                (unsigned long)ps->idle_obj, ps->idle_kind, gr->queued, gr->submit_wait);
    }
}

void pg_pool_scan(const struct pg_scan *scan)
{
    sc = scan;
    int n = sc->n;
    uint64_t now = sc->now;
    scan_no++;
    pg_pool_find_bases();
    in.scan = scan_no;
    in.now_ns = now;
    in.interval_ms = pg_cfg.interval_ms;
    in.stall_ms = pg_cfg.stall_ms;
    in.queue_limit = pg_cfg.queue_limit;
    in.rss_kb = pg_rss_kb();
    uint64_t gs[PG_PI_MAX_GAPS], gl[PG_PI_MAX_GAPS];
    in.ngaps = pg_stop_gaps(gs, gl, PG_PI_MAX_GAPS);
    for (int k = 0; k < in.ngaps; k++)
        in.gaps[k].start = gs[k], in.gaps[k].len = gl[k];
    in.nthreads = n;
    in.threads = threads;
    in.npools = 0;
    in.pools = pools;
    in.nsems = 0;
    in.runnable = live_runnable;
    in.sem_value = live_sem_value;
    in.ctx = NULL;
    int any_waiting = 0;
    for (int i = 0; i < n; i++) {
        fill_thread(i);
        any_waiting |= threads[i].waiting;
    }

    pg_pi_scan(&in, &state, &out);

    /* Traced: scans where a thread waits, or work is queued (the growth rule's scans). */
    int traced = any_waiting || out.nverdicts > 0;
    for (int g = 0; g < out.ngroups && !traced; g++)
        traced = out.groups[g].queued > 0;
    if (traced)
        pg_trace_scan(&in, &out);
    for (int i = 0; i < n; i++)
        if (threads[i].mark)
            pg_mark_reported(&sc->snaps[i]);
    int v = 0;
    for (int g = 0; g < out.ngroups; g++) {
        if (pg_cfg.debug)
            debug_group(g);
        for (; v < out.nverdicts && out.verdicts[v].group == g; v++) {
            const struct pg_pi_verdict *vd = &out.verdicts[v];
            char summary[320];
            summarize(summary, sizeof summary, vd);
            report_pool(n, vd, summary, now);
            if (vd->severity == PG_PI_ERROR && vd->kind == PG_PI_EXHAUSTION)
                pg_act_on_finding();
        }
    }
}

/*
 * Python findings: when the native layer sees threads stay blocked, the watchdog asks the
 * interpreter what they are doing (python.h), and turns the answer into pool_exhaustion and
 * queue_growth findings about ThreadPoolExecutors (asyncio's default executors among them) and
 * multiprocessing ThreadPools, with Python stacks, thread names and task functions.
 *
 * When to ask: the set of threads blocked without a time limit for at least PY_STABLE_MS has
 * changed since the last reading (a program that never stalls is never read); or the process's
 * memory grew by PY_RSS_STEP_KB since the last reading (a queue growing without bound), and then
 * every second while some executor's queue is long. The native report path is not held up: this
 * runs after the native analysis of the same scan, and the interpreter is given at most
 * PY_TIMEOUT_MS.
 *
 * What to report is decided by the Python rules (pyrules.c, pure): this file gathers their input
 * (the reading, and what the native scan says of each worker's thread), keeps their memory of
 * each pool across readings, and writes their verdicts as findings.
 *
 * Runs in the watchdog thread only; static state, no allocation.
 */
#include "pyrules.h"
#include "python.h"
#include "scan.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PY_STABLE_MS 700
#define PY_TIMEOUT_MS 500
#define PY_RSS_STEP_KB (8 * 1024)

static struct pg_py_state st;
static struct pg_pr_native native[PG_PY_MAX_THREADS]; /* native[k]: st.threads[k]'s thread */
static struct pg_pr_memory memory;                    /* the rules' memory of each pool */
static struct pg_pr_out verdicts;
static int absent;
static uint64_t last_sig, last_read_ns, last_rss_check_ns, rss_at_read;
static int watching_growth;
static uint64_t recheck_at;      /* a candidate needs another look after this time */
static const struct pg_scan *sc; /* the scan pg_pyscan is looking at */

static const char *base(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* The rules' own tests, as the finding's threads[] and tasks[] show them. */
static int is_blocking(int b)
{
    return pg_pr_blocking(b);
}

static int queued_on(const struct pg_py_wait *w, uintptr_t pool)
{
    return pg_pr_queued_on(w, pool);
}

static const struct pg_py_thread *py_thread(unsigned long ident)
{
    for (int k = 0; k < st.nthreads; k++)
        if (st.threads[k].ident == ident)
            return &st.threads[k];
    return NULL;
}

/* The pool's name, in the program's terms: a ThreadPoolExecutor's thread name prefix; for an
 * event loop's default executor, that; for a ThreadPool, the global that holds it. */
static const char *pool_name(const struct pg_py_executor *e, char *buf, size_t len)
{
    if (e->loop) {
        const struct pg_py_thread *lt = py_thread(e->loop_thread);
        if (lt && lt->name[0])
            snprintf(buf, len, "asyncio's default executor of the event loop in %s", lt->name);
        else
            snprintf(buf, len, "asyncio's default executor of the event loop at %#lx",
                     (unsigned long)e->loop);
    } else if (e->kind == PG_PY_POOL_MP_THREADPOOL) {
        snprintf(buf, len, "ThreadPool%s%s", e->global[0] ? " " : "", e->global);
    } else {
        snprintf(buf, len, "%s", e->prefix);
    }
    return buf;
}

static const char *pool_word(const struct pg_py_executor *e)
{
    return e->kind == PG_PY_POOL_MP_THREADPOOL ? "pool" : "executor";
}

/* pool.tasks[]: for each worker, the task it runs and what it waits on. */
static void write_tasks(struct pg_jw *w, int ei)
{
    uintptr_t addr = st.executors[ei].addr;
    pg_jw_key(w, "tasks");
    pg_jw_arr(w);
    for (int k = 0; k < st.nthreads; k++) {
        const struct pg_py_thread *pt = &st.threads[k];
        if (pt->executor != ei)
            continue;
        pg_jw_obj(w);
        pg_jw_key(w, "thread"), pg_jw_str(w, pt->name);
        pg_jw_key(w, "tid"), pg_jw_int(w, pt->native_id);
        pg_jw_key(w, "task");
        if (pt->has_task)
            pg_py_write_func(w, &pt->task);
        else
            pg_jw_null(w);
        pg_jw_key(w, "python_blocked"), pg_jw_str(w, pg_py_blocked_name(pt->blocked));
        const struct pg_py_wait *x = NULL;
        for (int q = 0; q < pt->nwaits && !x; q++)
            if (queued_on(&pt->waits[q], addr))
                x = &pt->waits[q];
        if (!x && pt->nwaits)
            x = &pt->waits[0];
        pg_jw_key(w, "waits_for");
        if (x) {
            pg_jw_obj(w);
            pg_jw_key(w, "kind"),
                pg_jw_str(w, x->needs ? "coroutine" : pg_py_wait_kind_name(x->kind));
            pg_jw_key(w, "function");
            if (x->has_fn)
                pg_py_write_func(w, &x->fn);
            else
                pg_jw_null(w);
            if (x->needs && x->has_coro)
                pg_jw_key(w, "coroutine"), pg_py_write_func(w, &x->coro);
            pg_jw_key(w, "queued_here"), pg_jw_bool(w, queued_on(x, addr));
            if (x->queued_in)
                pg_jw_key(w, "queue_pos"), pg_jw_int(w, x->queue_pos);
            pg_jw_obj_end(w);
        } else {
            pg_jw_null(w);
        }
        pg_jw_obj_end(w);
    }
    pg_jw_arr_end(w);
}

/* The snapshot index of the native thread behind a Python thread, or -1. */
static int native_of(int n, const struct pg_py_thread *pt)
{
    for (int i = 0; i < n; i++) {
        if ((unsigned long)sc->snaps[i].slot->self == pt->ident)
            return i;
        if (pt->native_id && sc->snaps[i].tid == (pid_t)pt->native_id)
            return i;
    }
    return -1;
}

static void write_thread(struct pg_jw *w, int n, const struct pg_py_thread *pt, const char *role,
                         uint64_t now)
{
    int i = native_of(n, pt);
    if (i < 0)
        return;
    struct pg_rthread rt;
    pg_fill_rthread(&rt, i, role, now);
    rt.name_override = pt->name[0] ? pt->name : NULL;
    rt.py = pt;
    pg_report_thread(w, &rt);
}

/* proof (docs/report-format.md, "pool"): how the finding is known. "exact": a worker waits on
 * work still queued in the same pool while every worker is blocked; "graph": the workers are
 * blocked with work queued and the wait-for graph holds every one of them stuck; "none": a
 * stall, nothing proven. A queue_growth finding's queue is read exactly ("exact"), as the
 * native layer says of exactly counted queues. */
static void report(int n, const struct pg_py_executor *e, int ei, pg_kind kind,
                   pg_severity severity, pg_proof proof, const char *summary, uint64_t now,
                   double rate)
{
    struct pg_jw *w = pg_report_finding(kind, severity, proof, summary);
    if (w) {
        if (rate > 0) {
            pg_jw_key(w, PG_K_GROWTH);
            pg_jw_obj(w);
            pg_jw_key(w, "per_second"), pg_jw_int(w, (long long)rate);
            pg_jw_key(w, "depth"), pg_jw_int(w, e->queue_len);
            pg_jw_obj_end(w);
        }
        pg_jw_key(w, PG_K_POOL);
        pg_jw_obj(w);
        pg_jw_key(w, PG_K_POOL_ID), pg_jw_hex(w, e->addr);
        pg_jw_key(w, "python"), pg_jw_bool(w, 1);
        pg_jw_key(w, PG_K_POOL_LIBRARY), pg_jw_str(w, pg_library_name(PG_LIB_PYTHON));
        pg_jw_key(w, "kind"), pg_jw_str(w, pg_py_pool_kind_name(e->kind));
        pg_jw_key(w, "annotated"), pg_jw_bool(w, 0);
        char name[160];
        pg_jw_key(w, PG_K_POOL_NAME), pg_jw_str(w, pool_name(e, name, sizeof name));
        if (e->kind == PG_PY_POOL_EXECUTOR)
            pg_jw_key(w, "prefix"), pg_jw_str(w, e->prefix);
        if (e->global[0])
            pg_jw_key(w, "global"), pg_jw_str(w, e->global);
        if (e->loop) {
            const struct pg_py_thread *lt = py_thread(e->loop_thread);
            pg_jw_key(w, "asyncio_loop");
            pg_jw_obj(w);
            pg_jw_key(w, "address"), pg_jw_hex(w, e->loop);
            pg_jw_key(w, "thread"), pg_jw_str(w, lt ? lt->name : "");
            pg_jw_key(w, "tid"), pg_jw_int(w, lt ? lt->native_id : 0);
            pg_jw_obj_end(w);
        }
        pg_jw_key(w, PG_K_POOL_WORKERS), pg_jw_int(w, e->nthreads);
        pg_jw_key(w, PG_K_POOL_MAX), pg_jw_int(w, e->max_workers);
        pg_jw_key(w, PG_K_POOL_QUEUED);
        if (e->queue_len >= 0)
            pg_jw_int(w, e->queue_len);
        else
            pg_jw_null(w);
        pg_jw_key(w, "queued_exact"), pg_jw_bool(w, e->queue_len >= 0);
        if (e->kind == PG_PY_POOL_MP_THREADPOOL)
            pg_jw_key(w, "inqueue_len"), pg_jw_int(w, e->inqueue_len),
                pg_jw_key(w, "taskqueue_len"), pg_jw_int(w, e->taskqueue_len);
        pg_jw_key(w, PG_K_POOL_EVIDENCE), pg_jw_str(w, pg_evidence_name(PG_EV_PYTHON));
        pg_jw_key(w, PG_K_SOURCE), pg_jw_str(w, pg_source_name(PG_SRC_PYTHON));
        pg_jw_key(w, PG_K_POOL_PROOF), pg_jw_str(w, pg_proof_name(proof));
        write_tasks(w, ei);
        pg_jw_obj_end(w);
        pg_jw_key(w, "python");
        pg_py_write_json(w, &st);
        pg_jw_key(w, PG_K_THREADS);
        pg_jw_arr(w);
        for (int k = 0; k < st.nthreads; k++)
            if (st.threads[k].executor == ei)
                write_thread(w, n, &st.threads[k], pg_role_name(PG_ROLE_WORKER), now);
        for (int k = 0; k < st.nthreads; k++) {
            const struct pg_py_thread *pt = &st.threads[k];
            if (pt->executor != ei && is_blocking(pt->blocked) && !pt->timed)
                write_thread(w, n, pt, pg_role_name(PG_ROLE_BLOCKED), now);
        }
        pg_jw_arr_end(w);
        pg_jw_obj_end(w);
        pg_report_end();
    }
    if (severity != PG_SEV_INFO)
        pg_note_finding(pg_kind_name(kind), summary);
}

/* Marks the native threads of an executor's workers, and the blocked threads with them, as
 * reported, so the native pool and deadlock analyses do not say the same thing again, vaguer. */
static void mark(int n, int ei)
{
    for (int k = 0; k < st.nthreads; k++) {
        const struct pg_py_thread *pt = &st.threads[k];
        if (pt->executor != ei && !(is_blocking(pt->blocked) && !pt->timed))
            continue;
        int i = native_of(n, pt);
        if (i >= 0)
            pg_mark_reported(&sc->snaps[i]);
    }
}

/* What the native scan says of each pool worker's thread, for the rules. */
static void gather_native(int n, uint64_t now)
{
    memset(native, 0, sizeof native);
    for (int k = 0; k < st.nthreads; k++) {
        const struct pg_py_thread *pt = &st.threads[k];
        if (pt->executor < 0)
            continue;
        int i = native_of(n, pt);
        if (i < 0)
            continue;
        const struct snap *s = &sc->snaps[i];
        struct pg_pr_native *nt = &native[k];
        nt->found = 1;
        nt->blocked = s->waiting && !s->timed;
        if (!nt->blocked)
            continue;
        /* Held by the graph at this scan and the one before, and asleep in the kernel. */
        nt->stuck = sc->nodes[i].stuck && pg_node_confirmed(i) && pg_thread_runnable(s->tid) != 1;
        nt->seq = s->seq;
        nt->tid = s->tid;
        nt->since_ns = s->since_ns;
        nt->blocked_ns = pg_blocked_ns(s->since_ns, now);
    }
}

/* Reports one verdict of the rules, in the words of the summary. */
static void report_verdict(int n, const struct pg_pr_verdict *v, uint64_t now)
{
    int ei = v->executor;
    const struct pg_py_executor *e = &st.executors[ei];
    char summary[1024], name[160];
    pool_name(e, name, sizeof name);
    if (v->kind == PG_PR_GROWTH) {
        snprintf(summary, sizeof summary,
                 "the queue of %s (%d worker%s) grew to %ld tasks (+%.0f per second) while every "
                 "worker was busy: submissions outpace the pool and memory grows with them",
                 name, e->nthreads, e->nthreads == 1 ? "" : "s", e->queue_len, v->rate);
        report(n, e, ei, PG_KIND_QUEUE_GROWTH, PG_SEV_WARNING, PG_PROOF_EXACT, summary, now,
               v->rate > 1 ? v->rate : 1);
        return;
    }
    if (v->own_thread >= 0) {
        const struct pg_py_thread *own = &st.threads[v->own_thread];
        const struct pg_py_wait *own_wait = &own->waits[v->own_wait];
        const struct pg_py_func *task = &own->task;
        const char *child = own_wait->has_fn ? own_wait->fn.name : "a task";
        const char *coro = own_wait->has_coro ? own_wait->coro.name : "a coroutine";
        const char *what = own_wait->kind == PG_PY_W_ASYNC_RESULT ? "result" : "future";
        char waited[200];
        if (own_wait->needs)
            snprintf(waited, sizeof waited,
                     "the future of coroutine %s (run_coroutine_threadsafe), which awaits %s", coro,
                     child);
        else
            snprintf(waited, sizeof waited, "the %s of %s", what, child);
        if (v->nworkers == 1)
            snprintf(summary, sizeof summary,
                     "worker %s, running %s (%s:%d), waits on %s, which is still queued on the "
                     "same "
                     "%s; its only worker is that thread",
                     own->name, own->has_task ? task->name : "a task", base(task->file), task->line,
                     waited, pool_word(e));
        else if (own_wait->needs)
            snprintf(
                summary, sizeof summary,
                "all %d workers of %s are waiting on futures whose completion needs tasks still "
                "queued on the same executor: worker %s, running %s (%s:%d), waits on coroutine "
                "%s, which awaits %s, queued at position %ld",
                v->nworkers, name, own->name, own->has_task ? task->name : "a task",
                base(task->file), task->line, coro, child, own_wait->queue_pos);
        else
            snprintf(summary, sizeof summary,
                     "all %d workers of %s are waiting on %ss of tasks still queued on the same "
                     "%s: worker %s, running %s (%s:%d), waits on %s, queued at position %ld",
                     v->nworkers, name, what, pool_word(e), own->name,
                     own->has_task ? task->name : "a task", base(task->file), task->line, child,
                     own_wait->queue_pos);
    } else {
        int proven = v->proof == PG_PR_PROOF_GRAPH;
        snprintf(summary, sizeof summary,
                 "all %d workers of %s are blocked in %s inside their tasks while %ld task%s "
                 "wait%s in "
                 "its queue%s",
                 v->nworkers, name, pg_py_blocked_name(v->blocked_kind), e->queue_len,
                 e->queue_len == 1 ? "" : "s", e->queue_len == 1 ? "s" : "",
                 proven ? "; no other thread is left to wake them"
                        : "; nothing shows that no other thread will wake them");
    }
    report(n, e, ei, pg_pr_kind_format(v->kind), pg_pr_severity_format(v->severity),
           pg_pr_proof_format(v->proof), summary, now, 0);
    if (v->severity != PG_PR_INFO)
        mark(n, ei);
    if (v->severity == PG_PR_ERROR)
        pg_act_on_finding();
}

void pg_pyscan(const struct pg_scan *scan)
{
    sc = scan;
    int n = sc->n;
    uint64_t now = sc->now;
    if (absent)
        return;
    /* The threads blocked without a time limit for a while, as a signature. */
    uint64_t sig = 0;
    int stable = 0;
    for (int i = 0; i < n; i++) {
        const struct snap *s = &sc->snaps[i];
        if (s->waiting && !s->timed && now - s->since_ns >= (uint64_t)PY_STABLE_MS * 1000000u &&
            !pg_reported(s)) {
            sig = pg_pr_mix(sig, s->seq * 131 + (uint64_t)s->tid);
            stable++;
        }
    }
    int want = stable > 0 && sig != last_sig;
    if (recheck_at && now >= recheck_at) {
        want = 1;
        recheck_at = 0;
    }
    if (!want && now - last_rss_check_ns >= 1000000000u) {
        last_rss_check_ns = now;
        uint64_t rss = pg_rss_kb();
        if (rss > rss_at_read + PY_RSS_STEP_KB)
            want = 1;
        else if (watching_growth && now - last_read_ns >= 1000000000u)
            want = 1;
    }
    if (!want)
        return;
    last_sig = sig;
    last_read_ns = now;
    rss_at_read = pg_rss_kb();
    int r = pg_py_inspect(&st, PY_TIMEOUT_MS);
    if (r == -ENOENT)
        absent = 1;
    if (r == -ENOTSUP) {
        absent = 1;
        pg_warn("this Python's interpreter is a version poolguard has not been verified on; "
                "Python threads are analysed as native threads only");
    }
    if (r < 0)
        return;
    gather_native(n, now);
    struct pg_pr_in in = { .py = &st,
                           .native = native,
                           .now = now,
                           .queue_limit = pg_cfg.queue_limit,
                           .stall_ms = pg_cfg.stall_ms };
    pg_pr_judge(&in, &memory, &verdicts);
    watching_growth = verdicts.watch_growth;
    if (verdicts.recheck_at)
        recheck_at = verdicts.recheck_at;
    for (int k = 0; k < verdicts.n; k++)
        report_verdict(n, &verdicts.v[k], now);
}

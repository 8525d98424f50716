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
#include "pyfind.h"
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
static void report(int n, int ei, pg_kind kind, pg_severity severity, pg_proof proof,
                   const char *summary, uint64_t now, double rate)
{
    struct pg_jw *w = pg_report_finding(kind, severity, proof, summary);
    if (w) {
        pg_pf_write_pool(w, &st, ei, proof, rate);
        int idx[PG_PY_MAX_THREADS], role[PG_PY_MAX_THREADS];
        int m = pg_pf_finding_threads(&st, ei, idx, role);
        pg_jw_key(w, PG_K_THREADS);
        pg_jw_arr(w);
        for (int j = 0; j < m; j++)
            write_thread(w, n, &st.threads[idx[j]], pg_role_name((pg_role)role[j]), now);
        pg_jw_arr_end(w);
        pg_jw_obj_end(w);
        pg_report_end();
    }
    if (severity != PG_SEV_INFO)
        pg_note_finding(pg_kind_name(kind), summary);
}

/* Marks the native threads the finding about pool ei lists (its workers, and the blocked threads
 * with them) as reported, so the native pool and deadlock analyses do not say the same thing
 * again, vaguer. */
static void mark(int n, int ei)
{
    int idx[PG_PY_MAX_THREADS], role[PG_PY_MAX_THREADS];
    int m = pg_pf_finding_threads(&st, ei, idx, role);
    for (int j = 0; j < m; j++) {
        int i = native_of(n, &st.threads[idx[j]]);
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
    char summary[1024];
    pg_pf_summary(&st, v, summary, sizeof summary);
    if (v->kind == PG_PR_GROWTH) {
        report(n, v->executor, PG_KIND_QUEUE_GROWTH, PG_SEV_WARNING, PG_PROOF_EXACT, summary, now,
               v->rate > 1 ? v->rate : 1);
        return;
    }
    report(n, v->executor, pg_pr_kind_format(v->kind), pg_pr_severity_format(v->severity),
           pg_pr_proof_format(v->proof), summary, now, 0);
    if (v->severity != PG_PR_INFO)
        mark(n, v->executor);
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

/*
 * What the deadlock analysis reports, and when. A finding of the wait-for graph (graph.c) is
 * reported only when the same threads were found stuck in the same waits (same wait sequence
 * numbers) by two consecutive scans, so a state seen mid-transition is never reported; none of its
 * threads may be runnable as the kernel sees it; and each is reported once. Owns the scan's findings
 * and the English summary of each; pg_note_finding and pg_act_on_finding are shared with the pool,
 * lock-order and Python analyses (the line on stderr, POOLGUARD_ON_FINDING).
 *
 * Runs in the watchdog thread only: static buffers, no allocation, no stdio streams.
 */
#include "exited.h"
#include "scan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_FINDINGS 64
static struct pg_gfinding findings[MAX_FINDINGS];
/* The scan being judged, set by pg_proof_solve (the arrays are snapshot.c's, mapped once). */
static const struct snap *snaps;
static const struct pg_gnode *nodes;
static int nblocked;
/* Per slot (index into pg_table), written by the watchdog only: the wait the thread was in when
 * the previous scan saw it stuck, and the wait already reported in a finding (by any analysis,
 * through pg_mark_reported). Each with the slot's gen, so a thread that reuses the slot matches
 * neither. Mapped by each watchdog, so a forked child starts with none. */
static struct mark {
    uint64_t seen_seq, reported_seq;
    uint32_t seen_gen, reported_gen;
} * marks;

int pg_proof_init(void)
{
    size_t bytes = (size_t)pg_table_size * sizeof *marks;
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    marks = p;
    return 0;
}

int pg_reported(const struct snap *s)
{
    const struct mark *m = &marks[s->slot - pg_table];
    return m->reported_seq == s->seq && m->reported_gen == s->gen;
}

void pg_mark_reported(const struct snap *s)
{
    struct mark *m = &marks[s->slot - pg_table];
    m->reported_seq = s->seq;
    m->reported_gen = s->gen;
}

void pg_proof_solve(struct pg_scan *sc, struct pg_gnode *g, int blocked, int any_blocked)
{
    int n = sc->n;
    snaps = sc->snaps;
    nodes = sc->nodes;
    nblocked = blocked;
    int nf = 0;
    if (nblocked > 0) {
        /* The process-wide checks cost system calls: only when a whole-program hang is possible. */
        int all_tracked = 0;
        if (any_blocked && nblocked == n)
            all_tracked = pg_count_tasks() == n && !pg_async_handlers_installed();
        nf = pg_graph_solve(g, n, all_tracked, findings, MAX_FINDINGS);
    } else {
        for (int i = 0; i < n; i++)
            g[i].stuck = 0, g[i].finding = -1, g[i].cycle_next = -1;
    }
    sc->findings = findings;
    sc->nf = nf;
}

static const char *plural(int n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

static void summarize(char *out, size_t cap, const struct pg_gfinding *f)
{
    if (f->kind == PG_GF_CYCLE) {
        if (f->ncycle == 1) {
            const struct snap *s = &snaps[f->start];
            snprintf(out, cap, "thread %d waits for a %s it already holds itself", (int)s->tid,
                     s->wkind == PG_W_JOIN ? "thread" : "lock");
            return;
        }
        int counts[PG_W_BARRIER + 1] = { 0 };
        int x = f->start;
        do {
            counts[snaps[x].wkind <= PG_W_BARRIER ? snaps[x].wkind : 0]++;
            x = nodes[x].cycle_next;
        } while (x != f->start);
        int len = snprintf(out, cap, "%d threads wait on each other through ", f->ncycle);
        static const struct {
            int kind;
            const char *one, *many;
        } names[] = {
            { PG_W_MUTEX, "mutex", "mutexes" },
            { PG_W_RWLOCK_READ, "rwlock (read)", "rwlocks (read)" },
            { PG_W_RWLOCK_WRITE, "rwlock (write)", "rwlocks (write)" },
            { PG_W_JOIN, "join", "joins" },
        };
        int parts = 0, total = 0;
        for (size_t k = 0; k < 4; k++)
            total += counts[names[k].kind] > 0;
        for (size_t k = 0; k < 4 && len > 0 && (size_t)len < cap; k++) {
            int c = counts[names[k].kind];
            if (!c)
                continue;
            parts++;
            const char *sep = parts == 1 ? "" : parts == total ? " and " : ", ";
            len += snprintf(out + len, cap - (size_t)len, "%s%d %s", sep, c,
                            plural(c, names[k].one, names[k].many));
        }
    } else if (f->kind == PG_GF_ABANDONED) {
        const struct snap *s = &snaps[f->start];
        snprintf(out, cap,
                 "thread %d waits for a %s held by thread %d, which has exited without "
                 "releasing it",
                 (int)s->tid, pg_wait_kind_name(s->wkind), (int)s->owner);
    } else {
        snprintf(out, cap,
                 "all %d threads are blocked with no time limit and none is left to wake "
                 "the others",
                 f->nmembers);
    }
}

void pg_act_on_finding(void)
{
    if (pg_cfg.on_finding == PG_ON_ABORT)
        abort();
    if (pg_cfg.on_finding == PG_ON_EXIT)
        _exit(pg_cfg.exit_code);
}

static void report_finding(int fi, int n, uint64_t now)
{
    const struct pg_gfinding *f = &findings[fi];
    char summary[256];
    summarize(summary, sizeof summary, f);
    struct pg_jw *w = pg_report_finding(PG_KIND_DEADLOCK, PG_SEV_ERROR, -1, summary);
    if (w) {
        if (f->kind == PG_GF_CYCLE) {
            pg_jw_key(w, PG_K_CYCLE);
            pg_jw_arr(w);
            int x = f->start;
            do {
                int y = nodes[x].cycle_next;
                pg_jw_obj(w);
                pg_jw_key(w, "tid"), pg_jw_int(w, snaps[x].tid);
                pg_jw_key(w, "waits_for"), pg_jw_int(w, snaps[y].tid);
                pg_jw_key(w, "kind"), pg_jw_str(w, pg_wait_kind_name(snaps[x].wkind));
                pg_jw_key(w, "address"), pg_jw_hex(w, snaps[x].wobj);
                pg_jw_obj_end(w);
                x = y;
            } while (x != f->start);
            pg_jw_arr_end(w);
        } else if (f->kind == PG_GF_HANG) {
            pg_jw_key(w, PG_K_HANG), pg_jw_bool(w, 1);
        } else {
            pg_jw_key(w, PG_K_ABANDONED), pg_jw_bool(w, 1);
            pg_exited_write_owner(w, snaps[f->start].owner, snaps[f->start].wobj);
        }
        pg_jw_key(w, PG_K_THREADS);
        pg_jw_arr(w);
        /* Cycle members first, in cycle order; then everyone stuck behind. */
        if (f->kind == PG_GF_CYCLE) {
            int x = f->start;
            do {
                struct pg_rthread rt;
                pg_fill_rthread(&rt, x, pg_role_name(PG_ROLE_CYCLE), now);
                pg_report_thread(w, &rt);
                x = nodes[x].cycle_next;
            } while (x != f->start);
        }
        for (int i = 0; i < n; i++) {
            if (!nodes[i].stuck || nodes[i].finding != fi || nodes[i].cycle_next >= 0)
                continue;
            struct pg_rthread rt;
            pg_fill_rthread(&rt, i,
                            pg_role_name(f->kind == PG_GF_HANG ? PG_ROLE_HANG : PG_ROLE_BLOCKED),
                            now);
            pg_report_thread(w, &rt);
        }
        pg_jw_arr_end(w);
        pg_jw_obj_end(w);
        pg_report_end();
    }
    pg_note_finding(pg_kind_name(PG_KIND_DEADLOCK), summary);
    for (int i = 0; i < n; i++)
        if (nodes[i].stuck && nodes[i].finding == fi)
            pg_mark_reported(&snaps[i]);
    pg_act_on_finding();
}

void pg_note_finding(const char *kind, const char *summary)
{
    if (pg_cfg.quiet)
        return;
    const char *p = pg_report_path();
    pg_warn("%s: %s%s%s%s", kind, summary, p ? " (report: " : "", p ? p : "", p ? ")" : "");
}

int pg_node_confirmed(int i)
{
    const struct mark *m = &marks[snaps[i].slot - pg_table];
    return m->seen_seq == snaps[i].seq && m->seen_gen == snaps[i].gen;
}

/* A finding is new when some thread at its core is in a wait not yet reported, and confirmed
 * when every thread at its core was stuck in the same wait at the previous scan. */
static void consider(int fi, int n, uint64_t now)
{
    const struct pg_gfinding *f = &findings[fi];
    int fresh = 0, confirmed = 1;
    for (int i = 0; i < n; i++) {
        if (!nodes[i].stuck || nodes[i].finding != fi)
            continue;
        int core = f->kind == PG_GF_HANG || nodes[i].cycle_next >= 0 || i == f->start;
        if (!core)
            continue;
        if (!pg_node_confirmed(i))
            confirmed = 0;
        if (!pg_reported(&snaps[i]))
            fresh = 1;
    }
    if (!fresh || !confirmed)
        return;
    for (int i = 0; i < n; i++)
        if (nodes[i].stuck && nodes[i].finding == fi && pg_thread_runnable(snaps[i].tid) == 1)
            return;
    report_finding(fi, n, now);
}

void pg_proof_report(const struct pg_scan *sc)
{
    int n = sc->n;
    for (int fi = 0; fi < sc->nf; fi++)
        consider(fi, n, sc->now);
    for (int i = 0; i < n; i++) {
        struct mark *m = &marks[snaps[i].slot - pg_table];
        int stuck = nblocked > 0 && nodes[i].stuck;
        m->seen_seq = stuck ? snaps[i].seq : 0;
        m->seen_gen = snaps[i].gen;
    }
}

/*
 * Lock-order validation, the watchdog's half: reads the pairs the hooks record (lockorder.c,
 * through the tables of lockorder_int.h), feeds each new one, and each known one taken by a new
 * thread, to the lock-order graph (lockcycle.c, pure: the order, the cycles and their judgement,
 * docs/lock-order.md), and reports the cycles it finds as lock_order warnings. Runs in the
 * watchdog thread only (and in the exit-time final scan, under the watchdog's lock): the graph's
 * memory is reserved once as address space (MAP_NORESERVE) and filled from the front, and nothing
 * is allocated.
 */
#include "lockcycle.h"
#include "lockorder_int.h"
#include "scan.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#define MAXN (2 * LO_MAX_EDGES) /* locks in the graph (two per pair at most) */
#define MAX_CYCLE PG_LC_MAX_CYCLE

_Static_assert(LO_OCC + 1 <= PG_LC_CANDS, "a pair's occurrences and its \"others\" fit the judge");
_Static_assert(PG_LO_GATES == PG_LC_GATES, "the judge sees every gate of a pair");
_Static_assert(LO_SEG_NONE == PG_LC_SEG_NONE, "one value for a segment not recorded");

static struct pg_lc graph;
static uint32_t checked; /* log entries handled */
static int ready = -1;

static void seg_preds(void *arg, uint32_t seg, uint32_t *pred1, uint32_t *pred2)
{
    (void)arg;
    *pred1 = pg_lo_segs[seg].pred1;
    *pred2 = pg_lo_segs[seg].pred2;
}

static int setup(void)
{
    size_t bytes = pg_lc_mem_size(LO_MAX_EDGES, MAXN, LO_MAX_SEGS);
    void *mem = pg_reserve(bytes);
    if (!mem)
        return -1;
    return pg_lc_init(&graph, mem, bytes, LO_MAX_EDGES, MAXN, LO_MAX_SEGS, seg_preds, NULL);
}

/* ----- one cycle: what the report shows of each pair ----- */

struct cand {
    uint32_t seg, thr; /* thr 0: some thread beyond those remembered, ordered with nothing */
    pid_t tid;
    uint32_t stack;
    uintptr_t pc_a;
};

struct cyc_edge {
    uint32_t e;
    int ncand;
    struct cand cand[LO_OCC + 1];
};

static struct cyc_edge cyc[MAX_CYCLE];
static int pick[MAX_CYCLE];

static void load_cands(struct cyc_edge *c, uint32_t e)
{
    const struct lo_edge *le = &pg_lo_edges[e];
    c->e = e;
    c->ncand = 0;
    uint32_t n = atomic_load_explicit(&le->nocc, memory_order_acquire);
    for (uint32_t i = 0; i < n && i < LO_OCC; i++) {
        uint32_t s = atomic_load_explicit(&le->occ[i].seg, memory_order_acquire);
        if (s)
            c->cand[c->ncand++] = (struct cand){ s, le->occ[i].thr, le->occ[i].tid,
                                                 le->occ[i].stack, le->occ[i].pc_a };
    }
    if (atomic_load_explicit(&le->overflow, memory_order_acquire))
        c->cand[c->ncand++] = (struct cand){ LO_SEG_NONE, 0, 0, le->occ[0].stack, le->occ[0].pc_a };
}

/* What the judge needs of pair e, from what the report shows (c): threads, segments, gates. */
static void judge_input(const struct cyc_edge *c, uint32_t e, struct pg_lc_pair *p)
{
    p->ncand = c->ncand;
    for (int k = 0; k < c->ncand; k++)
        p->cand[k] = (struct pg_lc_cand){ c->cand[k].seg, c->cand[k].thr };
    for (int g = 0; g < PG_LO_GATES; g++)
        p->gates[g] = atomic_load(&pg_lo_edges[e].gates[g]);
}

static void write_lock(struct pg_jw *w, const char *key, uintptr_t addr, uint32_t gen,
                       uint32_t kind)
{
    pg_jw_key(w, key);
    pg_jw_obj(w);
    pg_jw_key(w, "kind"), pg_jw_str(w, pg_held_kind_name(kind));
    pg_jw_key(w, "address"), pg_jw_hex(w, addr);
    uintptr_t init_pc, first_pc;
    pg_lo_sites(addr, gen, &init_pc, &first_pc);
    if (init_pc)
        pg_jw_key(w, "init_pc"), pg_jw_hex(w, init_pc);
    if (first_pc)
        pg_jw_key(w, "first_taken_pc"), pg_jw_hex(w, first_pc);
    pg_jw_obj_end(w);
}

static void thread_name(pid_t tid, char *out, size_t cap)
{
    char p[64];
    snprintf(p, sizeof p, "/proc/self/task/%d/comm", (int)tid);
    out[0] = 0;
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, out, cap - 1);
    close(fd);
    if (n <= 0)
        n = 0;
    while (n > 0 && (out[n - 1] == '\n'))
        n--;
    out[n] = 0;
}

static void report(int len, int single)
{
    uint32_t thrs[MAX_CYCLE];
    int nthreads = 0;
    for (int i = 0; i < len; i++) {
        uint32_t thr = cyc[i].cand[pick[i]].thr;
        int dup = 0;
        for (int k = 0; k < nthreads; k++)
            dup |= thr && thrs[k] == thr;
        if (!dup)
            thrs[nthreads++] = thr;
    }
    char summary[256];
    if (single)
        snprintf(summary, sizeof summary,
                 "%d locks are taken in inconsistent orders by one thread: two threads running "
                 "these paths at once would deadlock",
                 len);
    else
        snprintf(summary, sizeof summary,
                 "%d locks are taken in inconsistent orders by %d thread%s: a deadlock that did "
                 "not "
                 "happen this run",
                 len, nthreads, nthreads == 1 ? "" : "s");
    struct pg_jw *w = pg_report_finding(PG_KIND_LOCK_ORDER, PG_SEV_WARNING, -1, summary);
    if (w) {
        pg_jw_key(w, "single_thread"), pg_jw_bool(w, single);
        pg_jw_key(w, PG_K_ORDER);
        pg_jw_arr(w);
        for (int i = 0; i < len; i++) {
            const struct lo_edge *e = &pg_lo_edges[cyc[i].e];
            const struct cand *c = &cyc[i].cand[pick[i]];
            pg_jw_obj(w);
            write_lock(w, "first", e->a, e->ga, e->kind_a);
            write_lock(w, "then", e->b, e->gb, e->kind_b);
            pg_jw_key(w, "tid");
            if (c->thr)
                pg_jw_int(w, c->tid);
            else
                pg_jw_null(w);
            char name[32];
            name[0] = 0;
            if (c->thr)
                thread_name(c->tid, name, sizeof name);
            pg_jw_key(w, "name");
            if (name[0])
                pg_jw_str(w, name);
            else
                pg_jw_null(w);
            /* Every thread known to have taken this pair; "more_threads": others too. */
            pg_jw_key(w, "tids");
            pg_jw_arr(w);
            for (int k = 0; k < cyc[i].ncand; k++)
                if (cyc[i].cand[k].thr)
                    pg_jw_int(w, cyc[i].cand[k].tid);
            pg_jw_arr_end(w);
            if (atomic_load(&e->overflow))
                pg_jw_key(w, "more_threads"), pg_jw_bool(w, 1);
            pg_jw_key(w, "first_pc"), pg_jw_hex(w, c->pc_a);
            pg_jw_key(w, "stack");
            pg_jw_arr(w);
            if (c->stack) {
                const struct lo_stack *s = &pg_lo_stacks[c->stack - 1];
                for (uint32_t k = 0; k < s->n; k++)
                    pg_jw_hex(w, s->pcs[k]);
            }
            pg_jw_arr_end(w);
            pg_jw_obj_end(w);
        }
        pg_jw_arr_end(w);
        pg_jw_key(w, PG_K_THREADS);
        pg_jw_arr(w);
        pg_jw_arr_end(w);
        pg_jw_obj_end(w);
        pg_report_end();
    }
    pg_note_finding(pg_kind_name(PG_KIND_LOCK_ORDER), summary);
}

/* Pair e: into the graph if new, and the shortest cycle through it judged and maybe reported. */
static void examine(uint32_t e)
{
    const struct lo_edge *le = &pg_lo_edges[e];
    if (pg_lc_add(&graph, e, le->a, le->ga, le->b, le->gb) != PG_LC_CYCLE)
        return;
    int len = graph.len;
    for (int i = 0; i < len; i++) {
        load_cands(&cyc[i], graph.edge[i]);
        judge_input(&cyc[i], graph.edge[i], &graph.pair[i]);
    }
    int verdict = pg_lc_judge(&graph, pg_cfg.lock_order_single_thread);
    if (verdict != PG_LC_MULTI && verdict != PG_LC_SINGLE)
        return;
    for (int i = 0; i < len; i++)
        pick[i] = graph.pick[i];
    report(len, verdict == PG_LC_SINGLE);
}

void pg_lo_scan(void)
{
    if (!pg_lo_edges || !pg_lo_enabled)
        return;
    uint32_t total = atomic_load_explicit(&pg_lo_nlog, memory_order_acquire);
    if (total > LO_LOG_MAX)
        total = LO_LOG_MAX;
    if (total == checked)
        return;
    if (ready < 0)
        ready = setup() == 0;
    if (!ready)
        return;
    for (; checked < total; checked++) {
        uint32_t v = atomic_load_explicit(&pg_lo_log[checked], memory_order_acquire);
        if (!v)
            break; /* being written: the next scan takes it from here */
        examine(v - 1);
    }
}

/*
 * Lock-order validation, the watchdog's half: keeps the lock-order graph the hooks fill
 * (lockorder.c) and reports its cycles as lock_order warnings. Runs in the watchdog thread only
 * (and in the exit-time final scan, under the watchdog's lock): its tables are its own, reserved
 * once and filled from the front, and it allocates nothing.
 *
 * Cost. The graph is kept between scans, with a topological order of its strongly connected
 * components (Pearce and Kelly's dynamic topological sort, with the components on a new cycle
 * merged into one). A new pair A -> B whose locks are already in order costs a comparison; only a
 * pair against the current order searches, and only the part of the graph between the two
 * positions. A pair inside a component (it closes a cycle) is checked by a breadth-first search
 * inside that component, for the shortest cycle through it. So a million pairs in a consistent
 * order cost a million comparisons, and the search cost follows the cycles, not the graph.
 *
 * What is reported (docs/lock-order.md): a cycle, unless one "gate" lock was held across all its
 * pairs. Among its pairs' occurrences, threads pairwise distinct and not ordered by thread
 * creation and join make a multi-thread finding; failing that, one thread that took every pair
 * makes a single-thread finding (POOLGUARD_LOCK_ORDER_SINGLE_THREAD=0 turns those off); failing
 * both, the orders can never overlap in time and nothing is said. A pair taken by a new thread is
 * looked at again, so a cycle dismissed once is not dismissed for ever.
 */
#include "lockorder_int.h"
#include "scan.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAXN (2 * LO_MAX_EDGES)          /* locks in the graph (two per pair at most) */
#define NSLOTS (4 * LO_MAX_EDGES)        /* hash (address, generation) -> node: power of two */
#define NONE 0xffffffffu
#define MAX_CYCLE 256
#define HB_STEPS 65536                   /* segments visited per happens-before question */
#define PICK_STEPS 100000                /* tries per cycle when choosing threads */

enum { E_INSERTED = 1, E_REP_MULTI = 2, E_REP_SINGLE = 4 };

/* Nodes. */
static uint32_t *nslot;                  /* node id + 1 */
static uintptr_t *n_addr;
static uint32_t *n_gen, *n_uf, *n_ord, *n_out, *n_in, *n_mnext, *n_mtail, *n_fst, *n_bst, *n_prev;
static uint32_t nnodes, next_ord, fstamp, bstamp;
/* Edges: indexed like the hooks' records. */
static uint32_t *e_from, *e_to, *e_nout, *e_nin;
static uint8_t *e_flags;
/* Scratch. */
static uint32_t *work, *listf, *listb, *pool;
static uint32_t *seg_stamp, segstamp;
static uint32_t checked;                 /* log entries handled */
static int ready = -1;

static void *reserve(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static int setup(void)
{
    nslot = reserve((size_t)NSLOTS * 4);
    n_addr = reserve((size_t)MAXN * sizeof *n_addr);
    uint32_t **arrs[] = {&n_gen, &n_uf, &n_ord, &n_out, &n_in, &n_mnext, &n_mtail, &n_fst, &n_bst,
                         &n_prev, &work, &listf, &listb, &pool};
    for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++)
        if (!(*arrs[i] = reserve((size_t)MAXN * 4)))
            return -1;
    uint32_t **earrs[] = {&e_from, &e_to, &e_nout, &e_nin};
    for (size_t i = 0; i < sizeof earrs / sizeof earrs[0]; i++)
        if (!(*earrs[i] = reserve((size_t)LO_MAX_EDGES * 4)))
            return -1;
    e_flags = reserve(LO_MAX_EDGES);
    seg_stamp = reserve((size_t)LO_MAX_SEGS * 4);
    return nslot && n_addr && e_flags && seg_stamp ? 0 : -1;
}

static uint32_t node_of(uintptr_t addr, uint32_t gen)
{
    uint32_t h = (uint32_t)pg_lo_mix(addr * 7 + gen) & (NSLOTS - 1);
    for (;;) {
        uint32_t v = nslot[h];
        if (!v)
            break;
        if (n_addr[v - 1] == addr && n_gen[v - 1] == gen)
            return v - 1;
        h = (h + 1) & (NSLOTS - 1);
    }
    if (nnodes >= MAXN)
        return NONE;
    uint32_t id = nnodes++;
    n_addr[id] = addr;
    n_gen[id] = gen;
    n_uf[id] = id;
    n_ord[id] = next_ord++;
    n_out[id] = n_in[id] = n_mnext[id] = NONE;
    n_mtail[id] = id;
    nslot[h] = id + 1;
    return id;
}

static uint32_t find(uint32_t x)
{
    while (n_uf[x] != x) {
        n_uf[x] = n_uf[n_uf[x]];
        x = n_uf[x];
    }
    return x;
}

/* ----- the topological order of components ----- */

/* Components reachable from c (forward) or reaching it (backward), within [lb, ub] of the order. */
static uint32_t collect(uint32_t c, int forward, uint32_t lb, uint32_t ub, uint32_t *out)
{
    uint32_t *mark = forward ? n_fst : n_bst;
    uint32_t stamp = forward ? fstamp : bstamp;
    uint32_t nout = 0, sp = 0;
    mark[c] = stamp;
    work[sp++] = c;
    while (sp) {
        uint32_t r = work[--sp];
        out[nout++] = r;
        for (uint32_t m = r; m != NONE; m = n_mnext[m]) {
            for (uint32_t e = forward ? n_out[m] : n_in[m]; e != NONE; e = forward ? e_nout[e] : e_nin[e]) {
                uint32_t x = find(forward ? e_to[e] : e_from[e]);
                if (mark[x] == stamp || n_ord[x] < lb || n_ord[x] > ub)
                    continue;
                mark[x] = stamp;
                work[sp++] = x;
            }
        }
    }
    return nout;
}

static void sift(uint32_t *a, uint32_t n, uint32_t i, const uint32_t *key)
{
    for (;;) {
        uint32_t l = 2 * i + 1, big = i;
        if (l < n && (key ? key[a[l]] : a[l]) > (key ? key[a[big]] : a[big]))
            big = l;
        if (l + 1 < n && (key ? key[a[l + 1]] : a[l + 1]) > (key ? key[a[big]] : a[big]))
            big = l + 1;
        if (big == i)
            return;
        uint32_t t = a[i];
        a[i] = a[big];
        a[big] = t;
        i = big;
    }
}

/* Heapsort (no allocation), by key[a[i]] or by a[i] itself. */
static void sort_by(uint32_t *a, uint32_t n, const uint32_t *key)
{
    for (uint32_t i = n / 2; i-- > 0;)
        sift(a, n, i, key);
    for (uint32_t i = n; i-- > 1;) {
        uint32_t t = a[0];
        a[0] = a[i];
        a[i] = t;
        sift(a, i, 0, key);
    }
}

/* Pair ca -> cb against the order (ord[ca] > ord[cb]). Reorders the components in between so that
 * every pair goes forward again; when the pair closes a cycle, the components on it become one. */
static void reorder(uint32_t ca, uint32_t cb)
{
    uint32_t ub = n_ord[ca], lb = n_ord[cb];
    fstamp++, bstamp++;
    uint32_t nf = collect(cb, 1, 0, ub, listf);
    int cycle = n_fst[ca] == fstamp;
    uint32_t nb = collect(ca, 0, lb, NONE, listb);
    uint32_t np = 0;
    for (uint32_t i = 0; i < nb; i++)
        pool[np++] = n_ord[listb[i]];
    for (uint32_t i = 0; i < nf; i++)
        if (!cycle || n_bst[listf[i]] != bstamp)
            pool[np++] = n_ord[listf[i]];
    sort_by(pool, np, NULL);
    sort_by(listb, nb, n_ord);
    sort_by(listf, nf, n_ord);
    uint32_t k = 0, merged = NONE;
    /* Those that reach ca and are not on the cycle come first, then the cycle, then the rest. */
    for (uint32_t i = 0; i < nb; i++) {
        uint32_t c = listb[i];
        if (cycle && n_fst[c] == fstamp)
            continue;
        n_ord[c] = pool[k++];
    }
    if (cycle) {
        for (uint32_t i = 0; i < nb; i++) {
            uint32_t c = listb[i];
            if (n_fst[c] != fstamp)
                continue;
            if (merged == NONE) {
                merged = c;
                continue;
            }
            n_uf[c] = merged;
            n_mnext[n_mtail[merged]] = c;
            n_mtail[merged] = n_mtail[c];
        }
        n_ord[merged] = pool[k++];
    }
    for (uint32_t i = 0; i < nf; i++) {
        uint32_t c = listf[i];
        if (cycle && n_bst[c] == bstamp)
            continue;
        n_ord[c] = pool[k++];
    }
}

static void insert(uint32_t e, uint32_t from, uint32_t to)
{
    e_from[e] = from;
    e_to[e] = to;
    e_nout[e] = n_out[from];
    n_out[from] = e;
    e_nin[e] = n_in[to];
    n_in[to] = e;
    e_flags[e] |= E_INSERTED;
    uint32_t ca = find(from), cb = find(to);
    if (ca != cb && n_ord[ca] > n_ord[cb])
        reorder(ca, cb);
}

/* ----- happens-before ----- */

/* Is segment x an ancestor of segment y (or y itself): everything in x happened before y? */
static int seg_before(uint32_t x, uint32_t y)
{
    if (x == y)
        return 1;
    if (!x || !y || x == LO_SEG_NONE || y == LO_SEG_NONE || x > y)
        return 0;
    if (++segstamp == 0)
        segstamp = 1;
    uint32_t sp = 0, steps = 0;
    work[sp++] = y;
    seg_stamp[y] = segstamp;
    while (sp) {
        uint32_t s = work[--sp];
        if (s == x)
            return 1;
        if (++steps > HB_STEPS)
            return 0;   /* undecided: taken as unordered, so the cycle is reported */
        uint32_t p[2] = {pg_lo_segs[s].pred1, pg_lo_segs[s].pred2};
        for (int k = 0; k < 2; k++) {
            if (p[k] && p[k] >= x && seg_stamp[p[k]] != segstamp) {
                seg_stamp[p[k]] = segstamp;
                work[sp++] = p[k];
            }
        }
    }
    return 0;
}

/* ----- one cycle ----- */

struct cand {
    uint32_t seg, thr;   /* thr 0: some thread beyond those remembered, ordered with nothing */
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
static long pick_budget;

static int compatible(const struct cand *x, const struct cand *y)
{
    if (!x->thr || !y->thr)
        return 1;
    return x->thr != y->thr && !seg_before(x->seg, y->seg) && !seg_before(y->seg, x->seg);
}

/* Chooses, for pairs i.. of the cycle, an occurrence each: distinct threads, none ordered before
 * another by creation or join. Such a choice is a schedule that can deadlock. */
static int choose(int i, int len)
{
    if (i == len)
        return 1;
    for (int k = 0; k < cyc[i].ncand; k++) {
        if (--pick_budget < 0) {
            pick[i] = k;
            return 1;   /* undecided: reported */
        }
        int ok = 1;
        for (int j = 0; j < i && ok; j++)
            ok = compatible(&cyc[j].cand[pick[j]], &cyc[i].cand[k]);
        if (!ok)
            continue;
        pick[i] = k;
        if (choose(i + 1, len))
            return 1;
    }
    return 0;
}

static void load_cands(struct cyc_edge *c, uint32_t e)
{
    const struct lo_edge *le = &pg_lo_edges[e];
    c->e = e;
    c->ncand = 0;
    uint32_t n = atomic_load_explicit(&le->nocc, memory_order_acquire);
    for (uint32_t i = 0; i < n && i < LO_OCC; i++) {
        uint32_t s = atomic_load_explicit(&le->occ[i].seg, memory_order_acquire);
        if (s)
            c->cand[c->ncand++] = (struct cand){s, le->occ[i].thr, le->occ[i].tid, le->occ[i].stack,
                                                 le->occ[i].pc_a};
    }
    if (atomic_load_explicit(&le->overflow, memory_order_acquire))
        c->cand[c->ncand++] = (struct cand){LO_SEG_NONE, 0, 0, le->occ[0].stack, le->occ[0].pc_a};
}

static int gated(int len)
{
    for (int g = 0; g < PG_LO_GATES; g++) {
        uintptr_t gate = atomic_load(&pg_lo_edges[cyc[0].e].gates[g]);
        if (!gate)
            continue;
        int everywhere = 1;
        for (int i = 1; i < len && everywhere; i++) {
            int has = 0;
            for (int k = 0; k < PG_LO_GATES; k++)
                has |= atomic_load(&pg_lo_edges[cyc[i].e].gates[k]) == gate;
            everywhere = has;
        }
        if (everywhere)
            return 1;
    }
    return 0;
}

/* A thread that took every pair of the cycle; 0 if none. Sets pick[] to its occurrences. */
static uint32_t one_thread(int len)
{
    for (int k = 0; k < cyc[0].ncand; k++) {
        uint32_t thr = cyc[0].cand[k].thr;
        if (!thr)
            continue;
        pick[0] = k;
        int all = 1;
        for (int i = 1; i < len && all; i++) {
            all = 0;
            for (int j = 0; j < cyc[i].ncand && !all; j++)
                if (cyc[i].cand[j].thr == thr)
                    pick[i] = j, all = 1;
        }
        if (all)
            return thr;
    }
    return 0;
}

static void write_lock(struct pg_jw *w, const char *key, uintptr_t addr, uint32_t gen, uint32_t kind)
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
                 "these paths at once would deadlock", len);
    else
        snprintf(summary, sizeof summary,
                 "%d locks are taken in inconsistent orders by %d thread%s: a deadlock that did not "
                 "happen this run", len, nthreads, nthreads == 1 ? "" : "s");
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

/* The shortest cycle through pair e (both ends in one component), judged and maybe reported. */
static void examine(uint32_t e)
{
    uint32_t a = e_from[e], b = e_to[e], comp = find(a);
    if (find(b) != comp)
        return;
    int len = 0;
    if (a != b) {
        /* Breadth-first from b to a inside the component; n_fst doubles as the visited mark. */
        fstamp++;
        uint32_t qh = 0, qt = 0;
        work[qt++] = b;
        n_fst[b] = fstamp;
        int found = 0;
        while (qh < qt && !found) {
            uint32_t u = work[qh++];
            for (uint32_t x = n_out[u]; x != NONE; x = e_nout[x]) {
                uint32_t v = e_to[x];
                if (n_fst[v] == fstamp || !(e_flags[x] & E_INSERTED) || find(v) != comp)
                    continue;
                n_fst[v] = fstamp;
                n_prev[v] = x;
                if (v == a) {
                    found = 1;
                    break;
                }
                work[qt++] = v;
            }
        }
        if (!found)
            return;
        uint32_t path[MAX_CYCLE];
        int np = 0;
        for (uint32_t v = a; v != b; v = e_from[n_prev[v]]) {
            if (np == MAX_CYCLE - 1)
                return;   /* longer than a report can show */
            path[np++] = n_prev[v];
        }
        load_cands(&cyc[len++], e);
        while (np > 0)
            load_cands(&cyc[len++], path[--np]);
    }
    if (len < 2 || gated(len))
        return;
    /* Reported from the pair recorded first, so the chain reads in the order things happened. */
    int first = 0;
    for (int i = 1; i < len; i++)
        if (cyc[i].e < cyc[first].e)
            first = i;
    for (int r = 0; r < first; r++) {
        struct cyc_edge head = cyc[0];
        memmove(&cyc[0], &cyc[1], (size_t)(len - 1) * sizeof cyc[0]);
        cyc[len - 1] = head;
    }
    int rep_multi = 1, rep_single = 1;
    for (int i = 0; i < len; i++) {
        rep_multi &= (e_flags[cyc[i].e] & E_REP_MULTI) != 0;
        rep_single &= (e_flags[cyc[i].e] & E_REP_SINGLE) != 0;
    }
    if (rep_multi)
        return;
    pick_budget = PICK_STEPS;
    if (choose(0, len)) {
        report(len, 0);
        for (int i = 0; i < len; i++)
            e_flags[cyc[i].e] |= E_REP_MULTI | E_REP_SINGLE;
        return;
    }
    if (rep_single || !pg_cfg.lock_order_single_thread || !one_thread(len))
        return;
    report(len, 1);
    for (int i = 0; i < len; i++)
        e_flags[cyc[i].e] |= E_REP_SINGLE;
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
            break;   /* being written: the next scan takes it from here */
        uint32_t e = v - 1;
        if (!(e_flags[e] & E_INSERTED)) {
            const struct lo_edge *le = &pg_lo_edges[e];
            uint32_t from = node_of(le->a, le->ga), to = node_of(le->b, le->gb);
            if (from == NONE || to == NONE)
                continue;
            insert(e, from, to);
        }
        examine(e);
    }
}

/*
 * Lock-order cycles (see lockcycle.h): the graph, its order and the judgement of a cycle. Pure:
 * no globals, no system calls, no allocation; everything lives in the caller's struct pg_lc and
 * the region it handed to pg_lc_init, and arrays are filled from the front, so memory touched
 * follows the locks and pairs seen. Runs in the watchdog thread (and in the unit tests).
 *
 * Cost. The graph is kept between calls, with a topological order of its strongly connected
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
 * makes a single-thread finding (when the caller wants those); failing both, the orders can never
 * overlap in time and nothing is said. A pair taken by a new thread is looked at again by the
 * caller, so a cycle dismissed once is not dismissed for ever.
 */
#include "lockcycle.h"

#include <errno.h>

#define NONE 0xffffffffu
#define HB_STEPS 65536    /* segments visited per happens-before question */
#define PICK_STEPS 100000 /* tries per cycle when choosing threads */

enum { E_INSERTED = 1, E_REP_MULTI = 2, E_REP_SINGLE = 4 };

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* Slots of the (address, generation) -> node hash: a power of two, at most half full. */
static uint32_t slots_for(uint32_t max_nodes)
{
    uint64_t s = 1;
    while (s < 2 * (uint64_t)max_nodes)
        s <<= 1;
    return s > 0x80000000u ? 0 : (uint32_t)s;
}

/* The region's layout: measured with lc NULL, carved into lc's arrays otherwise. */
static size_t layout(struct pg_lc *lc, char *base, uint32_t max_edges, uint32_t max_nodes,
                     uint32_t max_segs)
{
    size_t off = 0;
#define CARVE(field, n)                                                                            \
    do {                                                                                           \
        off = (off + 63) & ~(size_t)63;                                                            \
        if (lc)                                                                                    \
            lc->field = (void *)(base + off);                                                      \
        off += (size_t)(n) * sizeof *lc->field;                                                    \
    } while (0)
    CARVE(nslot, slots_for(max_nodes));
    CARVE(n_addr, max_nodes);
    CARVE(n_gen, max_nodes);
    CARVE(n_uf, max_nodes);
    CARVE(n_ord, max_nodes);
    CARVE(n_out, max_nodes);
    CARVE(n_in, max_nodes);
    CARVE(n_mnext, max_nodes);
    CARVE(n_mtail, max_nodes);
    CARVE(n_fst, max_nodes);
    CARVE(n_bst, max_nodes);
    CARVE(n_prev, max_nodes);
    CARVE(work, max_nodes);
    CARVE(listf, max_nodes);
    CARVE(listb, max_nodes);
    CARVE(pool, max_nodes);
    CARVE(e_from, max_edges);
    CARVE(e_to, max_edges);
    CARVE(e_nout, max_edges);
    CARVE(e_nin, max_edges);
    CARVE(e_flags, max_edges);
    CARVE(seg_stamp, max_segs);
#undef CARVE
    return off;
}

size_t pg_lc_mem_size(uint32_t max_edges, uint32_t max_nodes, uint32_t max_segs)
{
    if (!slots_for(max_nodes))
        return SIZE_MAX;
    return layout(NULL, NULL, max_edges, max_nodes, max_segs);
}

int pg_lc_init(struct pg_lc *lc, void *mem, size_t size, uint32_t max_edges, uint32_t max_nodes,
               uint32_t max_segs, pg_lc_seg_preds_fn *seg_preds, void *seg_arg)
{
    if (!lc || !mem || !seg_preds || !max_edges || !max_nodes || !max_segs ||
        size < pg_lc_mem_size(max_edges, max_nodes, max_segs))
        return -EINVAL;
    *lc = (struct pg_lc){ 0 };
    layout(lc, mem, max_edges, max_nodes, max_segs);
    lc->max_edges = max_edges;
    lc->max_nodes = max_nodes;
    lc->max_segs = max_segs;
    lc->nslots = slots_for(max_nodes);
    lc->seg_preds = seg_preds;
    lc->seg_arg = seg_arg;
    return 0;
}

static uint32_t node_of(struct pg_lc *lc, uintptr_t addr, uint32_t gen)
{
    uint32_t mask = lc->nslots - 1;
    uint32_t h = (uint32_t)mix(addr * 7 + gen) & mask;
    for (;;) {
        uint32_t v = lc->nslot[h];
        if (!v)
            break;
        if (lc->n_addr[v - 1] == addr && lc->n_gen[v - 1] == gen)
            return v - 1;
        h = (h + 1) & mask;
    }
    if (lc->nnodes >= lc->max_nodes)
        return NONE;
    uint32_t id = lc->nnodes++;
    lc->n_addr[id] = addr;
    lc->n_gen[id] = gen;
    lc->n_uf[id] = id;
    lc->n_ord[id] = lc->next_ord++;
    lc->n_out[id] = lc->n_in[id] = lc->n_mnext[id] = NONE;
    lc->n_mtail[id] = id;
    lc->nslot[h] = id + 1;
    return id;
}

static uint32_t find(struct pg_lc *lc, uint32_t x)
{
    uint32_t *uf = lc->n_uf;
    while (uf[x] != x) {
        uf[x] = uf[uf[x]];
        x = uf[x];
    }
    return x;
}

/* ----- the topological order of components ----- */

/* Components reachable from c (forward) or reaching it (backward), within [lb, ub] of the order. */
static uint32_t collect(struct pg_lc *lc, uint32_t c, int forward, uint32_t lb, uint32_t ub,
                        uint32_t *out)
{
    uint32_t *mark = forward ? lc->n_fst : lc->n_bst;
    uint32_t stamp = forward ? lc->fstamp : lc->bstamp;
    uint32_t nout = 0, sp = 0;
    mark[c] = stamp;
    lc->work[sp++] = c;
    while (sp) {
        uint32_t r = lc->work[--sp];
        out[nout++] = r;
        for (uint32_t m = r; m != NONE; m = lc->n_mnext[m]) {
            for (uint32_t e = forward ? lc->n_out[m] : lc->n_in[m]; e != NONE;
                 e = forward ? lc->e_nout[e] : lc->e_nin[e]) {
                uint32_t x = find(lc, forward ? lc->e_to[e] : lc->e_from[e]);
                if (mark[x] == stamp || lc->n_ord[x] < lb || lc->n_ord[x] > ub)
                    continue;
                mark[x] = stamp;
                lc->work[sp++] = x;
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
static void reorder(struct pg_lc *lc, uint32_t ca, uint32_t cb)
{
    uint32_t *ord = lc->n_ord, *listf = lc->listf, *listb = lc->listb, *pool = lc->pool;
    uint32_t ub = ord[ca], lb = ord[cb];
    lc->fstamp++, lc->bstamp++;
    uint32_t fstamp = lc->fstamp, bstamp = lc->bstamp;
    uint32_t nf = collect(lc, cb, 1, 0, ub, listf);
    int cycle = lc->n_fst[ca] == fstamp;
    uint32_t nb = collect(lc, ca, 0, lb, NONE, listb);
    uint32_t np = 0;
    for (uint32_t i = 0; i < nb; i++)
        pool[np++] = ord[listb[i]];
    for (uint32_t i = 0; i < nf; i++)
        if (!cycle || lc->n_bst[listf[i]] != bstamp)
            pool[np++] = ord[listf[i]];
    sort_by(pool, np, NULL);
    sort_by(listb, nb, ord);
    sort_by(listf, nf, ord);
    uint32_t k = 0, merged = NONE;
    /* Those that reach ca and are not on the cycle come first, then the cycle, then the rest. */
    for (uint32_t i = 0; i < nb; i++) {
        uint32_t c = listb[i];
        if (cycle && lc->n_fst[c] == fstamp)
            continue;
        ord[c] = pool[k++];
    }
    if (cycle) {
        for (uint32_t i = 0; i < nb; i++) {
            uint32_t c = listb[i];
            if (lc->n_fst[c] != fstamp)
                continue;
            if (merged == NONE) {
                merged = c;
                continue;
            }
            lc->n_uf[c] = merged;
            lc->n_mnext[lc->n_mtail[merged]] = c;
            lc->n_mtail[merged] = lc->n_mtail[c];
        }
        ord[merged] = pool[k++];
        /* The rest take the highest places, as without a cycle, so that each of them only moves
         * up the order: a component outside both sets that came before one of them still does.
         * The places of the cycle's other components are left empty. */
        k = nb;
    }
    for (uint32_t i = 0; i < nf; i++) {
        uint32_t c = listf[i];
        if (cycle && lc->n_bst[c] == bstamp)
            continue;
        ord[c] = pool[k++];
    }
}

static void insert(struct pg_lc *lc, uint32_t e, uint32_t from, uint32_t to)
{
    lc->e_from[e] = from;
    lc->e_to[e] = to;
    lc->e_nout[e] = lc->n_out[from];
    lc->n_out[from] = e;
    lc->e_nin[e] = lc->n_in[to];
    lc->n_in[to] = e;
    lc->e_flags[e] |= E_INSERTED;
    uint32_t ca = find(lc, from), cb = find(lc, to);
    if (ca != cb && lc->n_ord[ca] > lc->n_ord[cb])
        reorder(lc, ca, cb);
}

/* ----- the shortest cycle through a pair ----- */

/* Breadth-first from e's second lock back to its first, inside their component; n_fst doubles as
 * the visited mark. Leaves the cycle in edge[0..len), from the pair recorded first (the smallest
 * id), so the chain reads in the order things happened. */
static int shortest_cycle(struct pg_lc *lc, uint32_t e)
{
    uint32_t a = lc->e_from[e], b = lc->e_to[e], comp = find(lc, a);
    lc->len = 0;
    if (find(lc, b) != comp || a == b)
        return PG_LC_NO_CYCLE;
    uint32_t *work = lc->work, *prev = lc->n_prev, *seen = lc->n_fst;
    uint32_t stamp = ++lc->fstamp;
    uint32_t qh = 0, qt = 0;
    work[qt++] = b;
    seen[b] = stamp;
    int found = 0;
    while (qh < qt && !found) {
        uint32_t u = work[qh++];
        for (uint32_t x = lc->n_out[u]; x != NONE; x = lc->e_nout[x]) {
            uint32_t v = lc->e_to[x];
            if (seen[v] == stamp || !(lc->e_flags[x] & E_INSERTED) || find(lc, v) != comp)
                continue;
            seen[v] = stamp;
            prev[v] = x;
            if (v == a) {
                found = 1;
                break;
            }
            work[qt++] = v;
        }
    }
    if (!found)
        return PG_LC_NO_CYCLE;
    /* The path b .. a, read backwards from a; with e it makes the cycle. */
    uint32_t path[PG_LC_MAX_CYCLE];
    int np = 0;
    for (uint32_t v = a; v != b; v = lc->e_from[prev[v]]) {
        if (np == PG_LC_MAX_CYCLE - 1)
            return PG_LC_TOO_LONG;
        path[np++] = prev[v];
    }
    int len = 0, first = 0;
    lc->edge[len++] = e;
    while (np > 0)
        lc->edge[len++] = path[--np];
    for (int i = 1; i < len; i++)
        if (lc->edge[i] < lc->edge[first])
            first = i;
    for (int i = 0; i < len; i++)
        path[i] = lc->edge[(first + i) % len];
    for (int i = 0; i < len; i++)
        lc->edge[i] = path[i];
    lc->len = len;
    return PG_LC_CYCLE;
}

int pg_lc_add(struct pg_lc *lc, uint32_t e, uintptr_t a, uint32_t ga, uintptr_t b, uint32_t gb)
{
    lc->len = 0;
    if (e >= lc->max_edges)
        return PG_LC_FULL;
    if (!(lc->e_flags[e] & E_INSERTED)) {
        uint32_t from = node_of(lc, a, ga), to = node_of(lc, b, gb);
        if (from == NONE || to == NONE)
            return PG_LC_FULL;
        insert(lc, e, from, to);
    }
    int r = shortest_cycle(lc, e);
    if (r != PG_LC_CYCLE)
        return r;
    /* Already reported as a multi-thread finding: nothing can be added to it. */
    int rep_multi = 1;
    for (int i = 0; i < lc->len; i++)
        rep_multi &= (lc->e_flags[lc->edge[i]] & E_REP_MULTI) != 0;
    return rep_multi ? PG_LC_KNOWN : PG_LC_CYCLE;
}

/* ----- happens-before ----- */

/* Is segment x an ancestor of segment y (or y itself): everything in x happened before y? A
 * segment not recorded (0, PG_LC_SEG_NONE: the table was full) is ordered with nothing, not even
 * with another one not recorded: those are the segments of any threads. */
static int seg_before(struct pg_lc *lc, uint32_t x, uint32_t y)
{
    if (!x || !y || x == PG_LC_SEG_NONE || y == PG_LC_SEG_NONE)
        return 0;
    if (x == y)
        return 1;
    if (x > y || y >= lc->max_segs)
        return 0;
    if (++lc->segstamp == 0)
        lc->segstamp = 1;
    uint32_t stamp = lc->segstamp, *seen = lc->seg_stamp, *work = lc->work;
    uint32_t sp = 0, steps = 0;
    work[sp++] = y;
    seen[y] = stamp;
    while (sp) {
        uint32_t s = work[--sp];
        if (s == x)
            return 1;
        if (++steps > HB_STEPS)
            return 0; /* undecided: taken as unordered, so the cycle is reported */
        uint32_t p[2];
        lc->seg_preds(lc->seg_arg, s, &p[0], &p[1]);
        for (int k = 0; k < 2; k++) {
            /* Predecessors are older (smaller) than s; a table that says otherwise is not
             * followed. Pushes are bounded by the segments in [x, y], and by the stack. */
            if (p[k] && p[k] >= x && p[k] < s && seen[p[k]] != stamp) {
                if (sp == lc->max_nodes)
                    return 0; /* undecided, as above */
                seen[p[k]] = stamp;
                work[sp++] = p[k];
            }
        }
    }
    return 0;
}

/* ----- judging one cycle ----- */

static int compatible(struct pg_lc *lc, const struct pg_lc_cand *x, const struct pg_lc_cand *y)
{
    if (!x->thr || !y->thr)
        return 1;
    return x->thr != y->thr && !seg_before(lc, x->seg, y->seg) && !seg_before(lc, y->seg, x->seg);
}

/* Chooses, for pairs i.. of the cycle, an occurrence each: distinct threads, none ordered before
 * another by creation or join. Such a choice is a schedule that can deadlock. */
static int choose(struct pg_lc *lc, int i)
{
    if (i == lc->len)
        return 1;
    const struct pg_lc_pair *p = &lc->pair[i];
    for (int k = 0; k < p->ncand; k++) {
        if (--lc->pick_budget < 0) {
            lc->pick[i] = k;
            return 1; /* undecided: reported */
        }
        int ok = 1;
        for (int j = 0; j < i && ok; j++)
            ok = compatible(lc, &lc->pair[j].cand[lc->pick[j]], &p->cand[k]);
        if (!ok)
            continue;
        lc->pick[i] = k;
        if (choose(lc, i + 1))
            return 1;
    }
    return 0;
}

/* One lock held across every pair of the cycle. */
static int gated(const struct pg_lc *lc)
{
    for (int g = 0; g < PG_LC_GATES; g++) {
        uintptr_t gate = lc->pair[0].gates[g];
        if (!gate)
            continue;
        int everywhere = 1;
        for (int i = 1; i < lc->len && everywhere; i++) {
            int has = 0;
            for (int k = 0; k < PG_LC_GATES; k++)
                has |= lc->pair[i].gates[k] == gate;
            everywhere = has;
        }
        if (everywhere)
            return 1;
    }
    return 0;
}

/* A thread that took every pair of the cycle; 0 if none. Sets pick[] to its occurrences. */
static uint32_t one_thread(struct pg_lc *lc)
{
    const struct pg_lc_pair *p0 = &lc->pair[0];
    for (int k = 0; k < p0->ncand; k++) {
        uint32_t thr = p0->cand[k].thr;
        if (!thr)
            continue;
        lc->pick[0] = k;
        int all = 1;
        for (int i = 1; i < lc->len && all; i++) {
            all = 0;
            for (int j = 0; j < lc->pair[i].ncand && !all; j++)
                if (lc->pair[i].cand[j].thr == thr)
                    lc->pick[i] = j, all = 1;
        }
        if (all)
            return thr;
    }
    return 0;
}

int pg_lc_judge(struct pg_lc *lc, int single)
{
    int len = lc->len;
    if (len < 2)
        return PG_LC_NO_CYCLE;
    for (int i = 0; i < len; i++)
        if (lc->pair[i].ncand < 0 || lc->pair[i].ncand > PG_LC_CANDS)
            lc->pair[i].ncand = lc->pair[i].ncand < 0 ? 0 : PG_LC_CANDS;
    if (gated(lc))
        return PG_LC_GATED;
    int rep_single = 1;
    for (int i = 0; i < len; i++)
        rep_single &= (lc->e_flags[lc->edge[i]] & E_REP_SINGLE) != 0;
    lc->pick_budget = PICK_STEPS;
    if (choose(lc, 0)) {
        for (int i = 0; i < len; i++)
            lc->e_flags[lc->edge[i]] |= E_REP_MULTI | E_REP_SINGLE;
        return PG_LC_MULTI;
    }
    if (rep_single)
        return PG_LC_KNOWN;
    if (!single || !one_thread(lc))
        return PG_LC_ORDERED;
    for (int i = 0; i < len; i++)
        lc->e_flags[lc->edge[i]] |= E_REP_SINGLE;
    return PG_LC_SINGLE;
}

/*
 * Stuck-thread analysis over the wait-for graph (see graph.h). Runs in the watchdog on every scan,
 * so it is written for small, cheap inputs: a fixed-point over the blocked nodes, then cycle
 * extraction by walking waker edges inside the stuck set. Quadratic in the worst case (long
 * chains), linear in the common case where few threads are blocked at once.
 */
#include "graph.h"

static int waker_stuck(const struct pg_gnode *nodes, int w)
{
    if (w == PG_GW_DEAD)
        return 1;
    if (w < 0)
        return 0;
    return nodes[w].stuck;
}

static void fixpoint(struct pg_gnode *nodes, int n, int all_tracked)
{
    int nstuck = 0;
    for (int i = 0; i < n; i++) {
        struct pg_gnode *g = &nodes[i];
        g->stuck = g->blocked && (g->any || g->nwakers > 0);
        g->finding = -1;
        g->cycle_next = -1;
        g->waits_for = -1;
        nstuck += g->stuck;
    }
    for (int changed = 1; changed;) {
        changed = 0;
        int everyone = all_tracked && nstuck == n;
        for (int i = 0; i < n; i++) {
            struct pg_gnode *g = &nodes[i];
            if (!g->stuck)
                continue;
            int keep = 1;
            if (g->any)
                keep = everyone;
            for (int k = 0; keep && k < g->nwakers; k++)
                keep = waker_stuck(nodes, g->wakers[k]);
            if (!keep) {
                g->stuck = 0;
                nstuck--;
                changed = 1;
            }
        }
    }
}

/* The first stuck node g waits for, as an index, or -1. */
static int first_stuck_waker(const struct pg_gnode *nodes, const struct pg_gnode *g)
{
    for (int k = 0; k < g->nwakers; k++)
        if (g->wakers[k] >= 0 && nodes[g->wakers[k]].stuck)
            return g->wakers[k];
    return -1;
}

/* Follows waker edges from start. Every stuck node with specific wakers has a stuck waker, so the
 * walk either reaches a node already assigned to a finding, a node with no node to follow (dead
 * owner or "any"), or closes a cycle. Nodes on the walk are marked with -2 - start while walking. */
static int walk_for_cycle(struct pg_gnode *nodes, int start, struct pg_gfinding *f)
{
    int mark = -2 - start;
    int cur = start;
    for (;;) {
        struct pg_gnode *g = &nodes[cur];
        if (g->finding == mark) {
            /* Closed a cycle at cur: link it up. */
            int len = 0, x = cur;
            do {
                int nx = first_stuck_waker(nodes, &nodes[x]);
                nodes[x].cycle_next = nx;
                nodes[x].waits_for = nx;
                x = nx;
                len++;
            } while (x != cur);
            f->kind = PG_GF_CYCLE;
            f->start = cur;
            f->ncycle = len;
            f->nmembers = 0;
            return 1;
        }
        if (g->finding >= 0 || g->any)
            return 0;
        int nx = first_stuck_waker(nodes, g);
        if (nx < 0)
            return 0;
        g->finding = mark;
        cur = nx;
    }
}

int pg_graph_solve(struct pg_gnode *nodes, int n, int all_tracked, struct pg_gfinding *out,
                   int max_out)
{
    fixpoint(nodes, n, all_tracked);
    int nf = 0;

    /* Cycles. */
    for (int i = 0; i < n && nf < max_out; i++) {
        if (!nodes[i].stuck || nodes[i].finding != -1)
            continue;
        struct pg_gfinding f;
        int found = walk_for_cycle(nodes, i, &f);
        /* Clear the walk's marks. */
        for (int k = 0; k < n; k++)
            if (nodes[k].finding == -2 - i)
                nodes[k].finding = -1;
        if (found) {
            int x = f.start;
            do {
                nodes[x].finding = nf;
                x = nodes[x].cycle_next;
            } while (x != f.start);
            out[nf++] = f;
        }
    }

    /* Locks whose owner exited. */
    for (int i = 0; i < n && nf < max_out; i++) {
        struct pg_gnode *g = &nodes[i];
        if (!g->stuck || g->finding != -1)
            continue;
        for (int k = 0; k < g->nwakers; k++) {
            if (g->wakers[k] == PG_GW_DEAD) {
                g->finding = nf;
                out[nf++] = (struct pg_gfinding){ PG_GF_ABANDONED, i, 0, 0 };
                break;
            }
        }
    }

    /* Threads stuck behind a finding join it, along the edge they wait on. */
    for (int changed = 1; changed;) {
        changed = 0;
        for (int i = 0; i < n; i++) {
            struct pg_gnode *g = &nodes[i];
            if (!g->stuck || g->finding != -1)
                continue;
            for (int k = 0; k < g->nwakers; k++) {
                int w = g->wakers[k];
                if (w >= 0 && nodes[w].finding >= 0) {
                    g->finding = nodes[w].finding;
                    g->waits_for = w;
                    changed = 1;
                    break;
                }
            }
        }
    }

    /* Whatever is left is stuck only because everything is: a whole-program hang. When a cycle
     * explains the hang, the rest are listed with the first finding rather than as a second one. */
    int rest = -1;
    for (int i = 0; i < n; i++) {
        struct pg_gnode *g = &nodes[i];
        if (!g->stuck || g->finding != -1)
            continue;
        if (rest < 0) {
            if (nf > 0) {
                rest = 0;
            } else if (nf < max_out) {
                rest = nf;
                out[nf++] = (struct pg_gfinding){ PG_GF_HANG, i, 0, 0 };
            } else {
                break;
            }
        }
        g->finding = rest;
        g->waits_for = first_stuck_waker(nodes, g);
    }

    for (int i = 0; i < n; i++)
        if (nodes[i].stuck && nodes[i].finding >= 0)
            out[nodes[i].finding].nmembers++;
    return nf;
}

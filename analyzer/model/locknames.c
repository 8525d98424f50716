/*
 * The lock table of a finding or snapshot (pg_locknames, model.h): one entry per lock or object
 * address its threads, cycle and lock orders mention, with what the report says of its sites
 * merged, and every mention pointed at its entry, so the symbolizer names each lock once. Built
 * by the parser (report_parse.c) once the mentions are read; sized before it is filled, so the
 * pointers into it stay valid. Freed with its finding or snapshot (model_free.c).
 */
#include "report_parse_int.h"

#include <errno.h>
#include <stdlib.h>

/* Addresses worth naming: objects in memory. A join's address is a thread; a task or future
 * has its own words. */
static bool nameable(const char *kind, uint64_t address)
{
    int k = pg_wait_parse(kind);
    return address != 0 && k != PG_WAIT_JOIN && k != PG_WAIT_TASK && k != PG_WAIT_FUTURE;
}

/* Adds address to t (which has room for it), or merges what s says into its entry. */
static void locknames_add(pg_locknames *t, uint64_t address, const char *kind,
                          const pg_lock_sites *s)
{
    pg_lockname *n = NULL;
    for (size_t i = 0; i < t->n && !n; i++)
        if (t->v[i].address == address)
            n = &t->v[i];
    if (!n) {
        n = &t->v[t->n++];
        n->address = address;
    }
    if (!n->kind)
        n->kind = kind;
    if (s && !n->init_pc)
        n->init_pc = s->init_pc;
    if (s && !n->first_taken_pc)
        n->first_taken_pc = s->first_taken_pc;
}

static const pg_lockname *locknames_find(const pg_locknames *t, const char *kind, uint64_t address)
{
    if (!nameable(kind, address))
        return NULL;
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].address == address)
            return &t->v[i];
    return NULL;
}

/* One entry per lock or object address of a finding or snapshot (threads' waits and holds, the
 * cycle, the lock orders), sites merged, and every mention pointed at its entry. The table is
 * sized once, so the pointers stay valid. */
int rp_locknames_build(pg_locknames *t, pg_mthread *th, size_t nth, pg_edge *cyc, size_t ncyc,
                       pg_order_edge *ord, size_t nord)
{
    size_t cap = ncyc + 2 * nord;
    for (size_t i = 0; i < nth; i++)
        cap += 1 + th[i].nholds;
    if (cap == 0)
        return 0;
    t->v = calloc(cap, sizeof *t->v);
    if (!t->v)
        return -ENOMEM;
    for (size_t i = 0; i < nth; i++)
        for (size_t h = 0; h < th[i].nholds; h++)
            if (nameable(th[i].holds[h].kind, th[i].holds[h].address))
                locknames_add(t, th[i].holds[h].address, th[i].holds[h].kind,
                              &th[i].holds[h].sites);
    for (size_t i = 0; i < nord; i++) {
        if (nameable(ord[i].first_kind, ord[i].first))
            locknames_add(t, ord[i].first, ord[i].first_kind, &ord[i].first_sites);
        if (nameable(ord[i].then_kind, ord[i].then))
            locknames_add(t, ord[i].then, ord[i].then_kind, &ord[i].then_sites);
    }
    for (size_t i = 0; i < nth; i++)
        if (th[i].blocked.present && nameable(th[i].blocked.kind, th[i].blocked.address))
            locknames_add(t, th[i].blocked.address, th[i].blocked.kind, NULL);
    for (size_t i = 0; i < ncyc; i++)
        if (nameable(cyc[i].kind, cyc[i].address))
            locknames_add(t, cyc[i].address, cyc[i].kind, NULL);
    for (size_t i = 0; i < nth; i++) {
        if (th[i].blocked.present)
            th[i].blocked.name = locknames_find(t, th[i].blocked.kind, th[i].blocked.address);
        for (size_t h = 0; h < th[i].nholds; h++)
            th[i].holds[h].name = locknames_find(t, th[i].holds[h].kind, th[i].holds[h].address);
    }
    for (size_t i = 0; i < ncyc; i++)
        cyc[i].name = locknames_find(t, cyc[i].kind, cyc[i].address);
    for (size_t i = 0; i < nord; i++) {
        ord[i].first_name = locknames_find(t, ord[i].first_kind, ord[i].first);
        ord[i].then_name = locknames_find(t, ord[i].then_kind, ord[i].then);
    }
    return 0;
}

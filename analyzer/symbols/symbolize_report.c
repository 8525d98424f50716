/*
 * Symbolizing a whole report (symbolizer_run in symbolize.h): every stack, thread start routine,
 * task function, lock-order edge and lock of every finding and snapshot, through the symbolizer's
 * public calls. Stacks are return addresses (the call before each is looked up); start routines
 * and task functions are exact function addresses.
 */
#include "symbolize.h"

static int symbolize_stack(symbolizer *s, const pg_process *p, pg_stack *st, bool is_return)
{
    if (st->frames)
        return 0;
    for (size_t i = 0; i < st->npcs; i++) {
        int r = symbolizer_lookup(s, p, st->pcs[i], is_return, &st->frames, &st->nframes);
        if (r < 0)
            return r;
    }
    return 0;
}

/* A task function is an exact function address, like a start routine: no -1. */
static int symbolize_fn(symbolizer *s, const pg_process *p, pg_fn *fn)
{
    if (!fn->present || fn->sym.frames)
        return 0;
    return symbolizer_lookup(s, p, fn->address, false, &fn->sym.frames, &fn->sym.nframes);
}

static int symbolize_threads(symbolizer *s, const pg_process *p, pg_mthread *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int r = symbolize_stack(s, p, &t[i].stack, true);
        if (!r)
            r = symbolize_fn(s, p, &t[i].task_function);
        if (!r)
            r = symbolize_fn(s, p, &t[i].waits_for_task.function);
        if (!r)
            r = symbolize_fn(s, p, &t[i].submitted_task.function);
        if (!r)
            r = symbolize_stack(s, p, &t[i].create_stack, true);
        if (!r && t[i].has_start && !t[i].start.frames)
            r = symbolizer_lookup(s, p, t[i].start_routine, false, &t[i].start.frames,
                                  &t[i].start.nframes);
        for (size_t h = 0; !r && h < t[i].nholds; h++)
            if (t[i].holds[h].has_pc && !t[i].holds[h].where.frames)
                r = symbolizer_lookup(s, p, t[i].holds[h].pc, true, &t[i].holds[h].where.frames,
                                      &t[i].holds[h].where.nframes);
        if (r)
            return r;
    }
    return 0;
}

int symbolizer_run(symbolizer *s, pg_report *r)
{
    size_t n;
    pg_finding **f = report_findings(r, &n);
    for (size_t i = 0; i < n; i++) {
        int e = symbolize_threads(s, f[i]->proc, f[i]->threads, f[i]->nthreads);
        pg_pool *pl = &f[i]->pool_info;
        if (!e)
            e = symbolize_stack(s, f[i]->proc, &pl->create_stack, true);
        if (!e && pl->has_start && !pl->start.frames)
            e = symbolizer_lookup(s, f[i]->proc, pl->start_routine, false, &pl->start.frames,
                                  &pl->start.nframes);
        for (size_t k = 0; !e && k < pl->nqueued_tasks; k++)
            e = symbolize_fn(s, f[i]->proc, &pl->queued_tasks[k].function);
        if (!e)
            e = symbolizer_name_locks(s, f[i]->proc, &f[i]->locks);
        for (size_t k = 0; !e && k < f[i]->norder; k++) {
            pg_order_edge *ed = &f[i]->order[k];
            e = symbolize_stack(s, f[i]->proc, &ed->stack, true);
            if (!e && ed->has_first_pc && !ed->first_at.frames)
                e = symbolizer_lookup(s, f[i]->proc, ed->first_pc, true, &ed->first_at.frames,
                                      &ed->first_at.nframes);
        }
        if (e)
            return e;
    }
    pg_snapshot **sn = report_snapshots(r, &n);
    for (size_t i = 0; i < n; i++) {
        int e = symbolize_threads(s, sn[i]->proc, sn[i]->threads, sn[i]->nthreads);
        if (!e)
            e = symbolizer_name_locks(s, sn[i]->proc, &sn[i]->locks);
        if (e)
            return e;
    }
    return 0;
}

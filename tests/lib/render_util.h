/*
 * Helpers of the renderer and noise tests: loading a raw report either with the real symbolizer
 * or, for committed fixtures that need named frames, with a fake symbolizer that names raw
 * addresses from a table (the fixtures' modules do not exist, and real binaries' addresses change
 * with every build); rendering to a string; suppressions from rules. Header-only: these are the
 * render tests' fixtures, on top of the helper library (testlib.h).
 */
#ifndef POOLGUARD_RENDER_UTIL_H
#define POOLGUARD_RENDER_UTIL_H

#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "render.h"
#include "symbolize.h"
#include "testlib.h"

typedef struct ru_sym {
    uint64_t pc;
    const char *function;
    const char *file;
    unsigned line;
} ru_sym;

/* Names each address of st from syms (addresses not listed stay module+offset), as the real
 * symbolizer would: module, offset, folded for the shim and libc, own for the executable. */
static inline void ru_fill(pg_stack *st, const pg_process *p, const ru_sym *syms)
{
    if (st->frames || st->npcs == 0)
        return;
    st->frames = calloc(st->npcs, sizeof *st->frames);
    ck_assert_ptr_nonnull(st->frames);
    for (size_t i = 0; i < st->npcs; i++) {
        pg_frame *f = &st->frames[st->nframes++];
        f->pc = st->pcs[i];
        const pg_module *m = module_for_pc(p, f->pc);
        if (m) {
            f->module = m->path;
            f->offset = f->pc - m->base;
            f->folded = module_is_folded(m->path);
            f->own = p->exe && strcmp(p->exe, m->path) == 0;
        }
        for (size_t k = 0; syms[k].pc; k++)
            if (syms[k].pc == f->pc) {
                f->function = strdup(syms[k].function);
                f->file = syms[k].file ? strdup(syms[k].file) : NULL;
                f->line = syms[k].line;
            }
    }
}

static inline void ru_fill_addr(pg_stack *st, bool has, uint64_t pc, const pg_process *p,
                                const ru_sym *syms)
{
    if (!has || st->frames)
        return;
    st->pcs = calloc(1, sizeof *st->pcs);
    st->pcs[0] = pc;
    st->npcs = 1;
    ru_fill(st, p, syms);
}

static inline void ru_fill_thread(pg_mthread *t, const pg_process *p, const ru_sym *syms)
{
    ru_fill(&t->stack, p, syms);
    ru_fill(&t->create_stack, p, syms);
    ru_fill_addr(&t->start, t->has_start, t->start_routine, p, syms);
    for (size_t h = 0; h < t->nholds; h++)
        ru_fill_addr(&t->holds[h].where, t->holds[h].has_pc, t->holds[h].pc, p, syms);
    /* Task functions are exact addresses, named like start routines. */
    ru_fill_addr(&t->task_function.sym, t->task_function.present, t->task_function.address, p,
                 syms);
    ru_fill_addr(&t->waits_for_task.function.sym, t->waits_for_task.function.present,
                 t->waits_for_task.function.address, p, syms);
    ru_fill_addr(&t->submitted_task.function.sym, t->submitted_task.function.present,
                 t->submitted_task.function.address, p, syms);
}

/* Reads a fixture, names its addresses from syms, and analyses it as `poolguard report` does. */
static inline pg_report *ru_load(const char *path, const ru_sym *syms)
{
    pg_report *r = report_new();
    report_set_diagnostics(r, NULL);
    ck_assert_int_eq(report_add_path(r, path), 0);
    size_t n;
    pg_finding **f = report_findings(r, &n);
    for (size_t i = 0; i < n; i++) {
        const pg_process *p = f[i]->proc;
        for (size_t t = 0; t < f[i]->nthreads; t++)
            ru_fill_thread(&f[i]->threads[t], p, syms);
        pg_pool *pl = &f[i]->pool_info;
        ru_fill(&pl->create_stack, p, syms);
        ru_fill_addr(&pl->start, pl->has_start, pl->start_routine, p, syms);
        for (size_t q = 0; q < pl->nqueued_tasks; q++)
            ru_fill_addr(&pl->queued_tasks[q].function.sym, pl->queued_tasks[q].function.present,
                         pl->queued_tasks[q].function.address, p, syms);
        for (size_t e = 0; e < f[i]->norder; e++) {
            ru_fill(&f[i]->order[e].stack, p, syms);
            ru_fill_addr(&f[i]->order[e].first_at, f[i]->order[e].has_first_pc,
                         f[i]->order[e].first_pc, p, syms);
        }
    }
    ck_assert_int_eq(analyze_dedup(r), 0);
    return r;
}

/* Reads a raw report and analyses it as `poolguard report` does, with the real symbolizer. */
static inline pg_report *ru_load_symbolized(const char *path)
{
    pg_report *r = report_new();
    report_set_diagnostics(r, NULL);
    ck_assert_int_eq(report_add_path(r, path), 0);
    symbolizer *s = symbolizer_new(NULL);
    ck_assert_int_eq(symbolizer_run(s, r), 0);
    symbolizer_free(s);
    ck_assert_int_eq(analyze_dedup(r), 0);
    return r;
}

/* r rendered in fmt, warnings and errors, with colour only when asked; the caller frees it. */
__attribute__((noinline)) static char *ru_render_color(pg_report *r, pg_format fmt, bool color)
{
    render_opts o = { .format = fmt, .color = color, .min_severity = PG_SEV_WARNING };
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    ck_assert_int_eq(render(r, &o, m), 0);
    fclose(m);
    return buf;
}

static inline char *ru_render(pg_report *r, pg_format fmt)
{
    return ru_render_color(r, fmt, false);
}

/* r rendered in fmt with these options (format and colour off aside); the caller frees it. */
static inline char *ru_render_opts(pg_report *r, pg_format fmt, pg_severity min, bool timed_out)
{
    render_opts o = { .format = fmt, .min_severity = min, .timed_out = timed_out };
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    ck_assert_int_eq(render(r, &o, m), 0);
    fclose(m);
    return buf;
}

/* r rendered as JSON and read back into *doc (the caller frees it); returns its first finding. */
static inline json_t *ru_first_finding(pg_report *r, json_t **doc)
{
    char *j = ru_render(r, PG_FMT_JSON);
    json_error_t err;
    *doc = json_loads(j, 0, &err);
    ck_assert_msg(*doc != NULL, "%s", err.text);
    free(j);
    return json_array_get(json_object_get(*doc, "findings"), 0);
}

/* Suppressions loaded from a file holding rules (asserts that they load). */
static inline suppressions *ru_suppressions(const char *rules)
{
    char *dir = tu_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/supp", dir);
    tu_write(path, rules);
    int err = 0;
    suppressions *s = suppressions_load(path, NULL, &err);
    ck_assert_ptr_nonnull(s);
    tu_rmtree(dir);
    free(dir);
    return s;
}

#endif

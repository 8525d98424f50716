/*
 * The wait-for graph in Graphviz DOT (render_svg.c runs `dot -Tsvg` on it). Threads are boxes,
 * locks and other objects ellipses; an edge from a thread to an object says it waits there, an
 * edge from an object to a thread says that thread holds it (or is who would wake it). The edges
 * of a deadlock's cycle are drawn first, red and bold. A lock-order cycle is drawn as its order
 * graph (locks as nodes, an edge per "took this, then that", labelled with thread and function).
 * A pool is drawn with its tasks where the report knows them (render_dot_pool.c). In the
 * whole-report graph each finding (and time-out snapshot) is one cluster, and the number drawn
 * is capped: a graph nobody can read helps nobody. The HTML page draws one graph per finding,
 * thread nodes linked to the page's thread sections.
 */
#include "render_dot_int.h"

#include "analyze.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_DRAWN = 50 };

void dot_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (; s && *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', out);
        if (*s == '\n')
            fputs("\\n", out);
        else if ((unsigned char)*s >= 0x20)
            fputc(*s, out);
    }
    fputc('"', out);
}

/* An object node's label: its kind, its name when something names it, its address. */
static void object_label(const char *kind, uint64_t address, const pg_lockname *n, char *buf,
                         size_t len)
{
    char name[3 * PG_MAX_STRING];
    describe_lock_name(n, kind, name, sizeof name);
    snprintf(buf, len, "%s\n%s%s0x%" PRIx64, render_wait_words(kind), name, *name ? "\n" : "",
             address);
}

static bool in_cycle_wait(const pg_edge *cyc, size_t n, long tid, uint64_t addr)
{
    for (size_t i = 0; i < n; i++)
        if (cyc[i].tid == tid && cyc[i].address == addr)
            return true;
    return false;
}

static bool in_cycle_hold(const pg_edge *cyc, size_t n, long holder, uint64_t addr)
{
    for (size_t i = 0; i < n; i++)
        if (cyc[i].waits_for == holder && cyc[i].address == addr)
            return true;
    return false;
}

static void node_link(const dctx *d, long tid)
{
    if (d->anchor)
        fprintf(d->out, ", href=\"#%s-t%ld\", target=\"_self\"", d->anchor, tid);
}

/* A worker whose wait is explained by a task (it waits on a task, submitted one it waits
 * behind, or the Python layer names the future): the graph shows the task, not the raw
 * semaphore or condition variable the task's future happens to use. */
static bool waits_through_task(const pg_pool *pool, const pg_mthread *t)
{
    if (!pool)
        return false;
    if (t->waits_for_task.present || t->submitted_task.present)
        return true;
    const pg_py_task *py = t->role_id == PG_ROLE_WORKER ? describe_py_task(pool, t) : NULL;
    return py && py->waits;
}

static bool in_cycle(const pg_edge *cyc, size_t n, long tid)
{
    for (size_t c = 0; c < n; c++)
        if (cyc[c].tid == tid)
            return true;
    return false;
}

static void draw_thread_node(const dctx *d, const pg_pool *pool, const pg_mthread *t,
                             bool cyc_thread)
{
    char label[4 * PG_MAX_STRING], name[128];
    render_thread_label(t, name, sizeof name);
    const pg_frame *fr = render_first_own_frame(t);
    int n;
    if (fr && fr->function && fr->file)
        n = snprintf(label, sizeof label, "%s\n%s\n%s:%u", name, fr->function,
                     render_short_path(fr->file), fr->line);
    else if (fr && fr->function)
        n = snprintf(label, sizeof label, "%s\n%s", name, fr->function);
    else
        n = snprintf(label, sizeof label, "%s", name);
    const char *runs = describe_function(&t->task_function);
    /* A Python worker's task, named by the interpreter. */
    const pg_py_task *py = t->role_id == PG_ROLE_WORKER ? describe_py_task(pool, t) : NULL;
    if (!runs && py)
        runs = py->task.function;
    /* Said once: a task blocked in its own frame is already the frame the node shows. */
    if (runs && !(fr && fr->function && strcmp(fr->function, runs) == 0) && n >= 0 &&
        (size_t)n < sizeof label)
        snprintf(label + n, sizeof label - (size_t)n, "\nruns %s", runs);
    fprintf(d->out,
            "    t%d_%ld [shape=box, style=\"rounded,filled\", fillcolor=%s%s, label=", d->k,
            t->tid,
            cyc_thread           ? "\"#ffe0e0\""
            : t->blocked.present ? "\"#fff4d0\""
                                 : "white",
            cyc_thread ? ", color=red, penwidth=2" : "");
    dot_str(d->out, label);
    node_link(d, t->tid);
    fprintf(d->out, "];\n");
}

static void draw_object_node(const dctx *d, const char *kind, uint64_t address,
                             const pg_lockname *n, bool hot)
{
    char label[4 * PG_MAX_STRING];
    object_label(kind, address, n, label, sizeof label);
    fprintf(d->out, "    o%d_%" PRIx64 " [shape=ellipse%s, label=", d->k, address,
            hot ? ", style=filled, fillcolor=\"#ffe0e0\", color=red, penwidth=2" : "");
    dot_str(d->out, label);
    fprintf(d->out, "];\n");
}

/* The threads of one finding or snapshot, and the objects they wait on and hold. The cycle is
 * drawn first (Graphviz places what it reads first first), its edges red, bold and heavy. */
static void draw_threads(const dctx *d, const pg_pool *pool, const pg_mthread *t, size_t nt,
                         const pg_edge *cyc, size_t ncyc)
{
    FILE *out = d->out;
    int k = d->k;
    for (size_t c = 0; c < ncyc; c++)
        for (size_t i = 0; i < nt; i++)
            if (t[i].tid == cyc[c].tid)
                draw_thread_node(d, pool, &t[i], true);
    for (size_t c = 0; c < ncyc; c++)
        draw_object_node(d, cyc[c].kind, cyc[c].address, cyc[c].name, true);
    for (size_t i = 0; i < nt; i++)
        if (!in_cycle(cyc, ncyc, t[i].tid))
            draw_thread_node(d, pool, &t[i], false);
    /* Objects: every address waited on or held, once (Graphviz merges repeated statements). */
    for (size_t i = 0; i < nt; i++) {
        const pg_wait *w = &t[i].blocked;
        if (w->present && pg_wait_parse(w->kind) != PG_WAIT_JOIN &&
            !waits_through_task(pool, &t[i]))
            draw_object_node(d, w->kind, w->address, w->name, false);
        for (size_t h = 0; h < t[i].nholds; h++)
            draw_object_node(d, t[i].holds[h].kind, t[i].holds[h].address, t[i].holds[h].name,
                             false);
    }
    for (size_t i = 0; i < nt; i++) {
        const pg_wait *w = &t[i].blocked;
        if (w->present && !waits_through_task(pool, &t[i])) {
            char el[64] = "waits";
            if (w->since_ms >= 0)
                snprintf(el, sizeof el, "waits %" PRId64 " ms%s", w->since_ms,
                         w->timed ? " (timed)" : "");
            bool hot = in_cycle_wait(cyc, ncyc, t[i].tid, w->address);
            if (pg_wait_parse(w->kind) == PG_WAIT_JOIN && w->target >= 0)
                fprintf(out, "    t%d_%ld -> t%d_%ld [label=\"joins\"%s];\n", k, t[i].tid, k,
                        w->target, hot ? ", color=red, penwidth=2.5, weight=10" : "");
            else
                fprintf(out, "    t%d_%ld -> o%d_%" PRIx64 " [label=\"%s\"%s];\n", k, t[i].tid, k,
                        w->address, el,
                        hot ? ", color=red, penwidth=2.5, fontcolor=red, weight=10" : "");
        }
        for (size_t h = 0; h < t[i].nholds; h++) {
            const pg_lock *l = &t[i].holds[h];
            bool hot = in_cycle_hold(cyc, ncyc, t[i].tid, l->address);
            char el[512] = "held by";
            const pg_frame *fr = l->where.nframes ? &l->where.frames[0] : NULL;
            if (fr && fr->function)
                snprintf(el, sizeof el, "held by (taken in %s)", fr->function);
            fprintf(out, "    o%d_%" PRIx64 " -> t%d_%ld [label=", k, l->address, k, t[i].tid);
            dot_str(out, el);
            fprintf(out, "%s];\n",
                    hot ? ", color=red, penwidth=2.5, fontcolor=red, weight=10" : "");
        }
    }
}

/* A lock-order cycle: the locks are the nodes, each edge "first -> then" is labelled with the
 * thread that took them in that order and the function where it took the second. */
static void draw_order(const dctx *d, const pg_finding *f)
{
    FILE *out = d->out;
    int k = d->k;
    char label[4 * PG_MAX_STRING], name[128];
    for (size_t i = 0; i < f->norder; i++) {
        const pg_order_edge *e = &f->order[i];
        object_label(e->first_kind, e->first, e->first_name, label, sizeof label);
        fprintf(out,
                "    l%d_%" PRIx64 " [shape=ellipse, style=filled, fillcolor=\"#ffe0e0\", label=",
                k, e->first);
        dot_str(out, label);
        fprintf(out, "];\n");
    }
    for (size_t i = 0; i < f->norder; i++) {
        const pg_order_edge *e = &f->order[i];
        pg_mthread t = { .tid = e->tid, .name = e->name };
        render_thread_label(&t, name, sizeof name);
        const pg_frame *fr = stack_first_own_frame(&e->stack);
        snprintf(label, sizeof label, "%s%s%s", name, fr ? "\n" : "", fr ? fr->function : "");
        fprintf(out, "    l%d_%" PRIx64 " -> l%d_%" PRIx64 " [label=", k, e->first, k, e->then);
        dot_str(out, label);
        fprintf(out, ", color=red, penwidth=2.5, fontcolor=red];\n");
    }
}

static const char *sev_colour_name(pg_severity s)
{
    return s == PG_SEV_ERROR ? "red" : s == PG_SEV_WARNING ? "orange" : "steelblue";
}

static void draw_finding(const dctx *d, const pg_finding *f, bool cluster)
{
    FILE *out = d->out;
    if (cluster) {
        char label[PG_MAX_STRING + 256];
        snprintf(label, sizeof label, "%s: %s in %s (pid %ld): %s", severity_name(f->sev), f->kind,
                 render_exe_name(f->proc), f->proc ? f->proc->pid : -1L,
                 f->summary ? f->summary : "");
        fprintf(out, "  subgraph cluster_%d {\n    label=", d->k);
        dot_str(out, label);
        fprintf(out, ";\n    color=%s;\n", sev_colour_name(f->sev));
    }
    draw_threads(d, f->pool_info.present ? &f->pool_info : NULL, f->threads, f->nthreads, f->cycle,
                 f->ncycle);
    if (f->norder)
        draw_order(d, f);
    if (f->pool_info.present)
        dot_draw_pool(d, f);
    if (cluster)
        fprintf(out, "  }\n");
}

static void draw_snapshot(const dctx *d, const pg_snapshot *s, bool cluster)
{
    if (cluster) {
        char label[256];
        snprintf(label, sizeof label, "snapshot of %s (pid %ld)", render_exe_name(s->proc),
                 s->proc ? s->proc->pid : -1L);
        fprintf(d->out, "  subgraph cluster_%d {\n    label=", d->k);
        dot_str(d->out, label);
        fprintf(d->out, ";\n    color=gray;\n");
    }
    draw_threads(d, NULL, s->threads, s->nthreads, NULL, 0);
    if (cluster)
        fprintf(d->out, "  }\n");
}

static void graph_open(FILE *out, const char *rankdir)
{
    fprintf(out,
            "digraph poolguard {\n  rankdir=%s;\n  node [fontname=\"Helvetica\", fontsize=10];\n"
            "  edge [fontname=\"Helvetica\", fontsize=9];\n",
            rankdir);
}

static void draw(FILE *out, pg_report *r, const render_opts *o)
{
    graph_open(out, "LR");
    size_t n, drawn = 0;
    pg_finding **f = report_findings(r, &n);
    for (size_t i = 0; i < n && drawn < MAX_DRAWN; i++) {
        if (!render_finding_visible(f[i], o))
            continue;
        dctx d = { .out = out, .k = (int)drawn++ };
        draw_finding(&d, f[i], true);
    }
    size_t ns;
    pg_snapshot **s = report_snapshots(r, &ns);
    for (size_t i = 0; i < ns && drawn < MAX_DRAWN; i++) {
        dctx d = { .out = out, .k = (int)drawn++ };
        draw_snapshot(&d, s[i], true);
    }
    if (drawn == 0)
        fprintf(out, "  empty [shape=plaintext, label=\"no findings\"];\n");
    fprintf(out, "}\n");
}

char *render_dot_string(pg_report *r, const render_opts *o)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return NULL;
    draw(m, r, o);
    fclose(m);
    return buf;
}

/* One finding (or snapshot) alone, its thread nodes linked to "#ANCHOR-tTID". */
static char *one_graph(const pg_finding *f, const pg_snapshot *s, const char *anchor)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return NULL;
    /* Alone on a page, a graph runs down it: a cycle drawn left to right is a row as wide as
     * all its threads and locks, which a page can only show shrunk. */
    graph_open(m, "TB");
    dctx d = { .out = m, .k = 0, .anchor = anchor };
    if (f)
        draw_finding(&d, f, false);
    else if (s)
        draw_snapshot(&d, s, false);
    fprintf(m, "}\n");
    fclose(m);
    return buf;
}

char *render_dot_finding(const pg_finding *f, const char *anchor)
{
    return one_graph(f, NULL, anchor);
}

char *render_dot_snapshot(const pg_snapshot *s, const char *anchor)
{
    return one_graph(NULL, s, anchor);
}

int render_dot(pg_report *r, const render_opts *o, FILE *out)
{
    draw(out, r, o);
    return ferror(out) ? -EIO : 0;
}

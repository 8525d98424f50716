/*
 * The wait-for graph in Graphviz DOT, and as SVG by running `dot -Tsvg` on it. Threads are boxes,
 * locks and other objects ellipses; an edge from a thread to an object says it waits there, an
 * edge from an object to a thread says that thread holds it (or is who would wake it). The edges
 * of a deadlock's cycle are drawn first, red and bold. A lock-order cycle is drawn as its order
 * graph (locks as nodes, an edge per "took this, then that", labelled with thread and function).
 * A pool is drawn with its tasks where the report knows them: a worker waits for a task, the
 * task is queued in the pool at position N, the pool waits for a worker and every worker is
 * busy; the raw semaphore behind a task's future is left out. In the whole-report graph each
 * finding (and time-out snapshot) is one cluster, and the number drawn is capped: a graph nobody
 * can read helps nobody. The HTML page draws one graph per finding, thread nodes linked to the
 * page's thread sections.
 */
#include "render.h"

#include "analyze.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { MAX_DRAWN = 50 };

static void dot_str(FILE *out, const char *s)
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
    snprintf(buf, len, "%s\n%s%s0x%" PRIx64, render_wait_words(kind), name, *name ? "\n" : "", address);
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

/* Graph-wide state of one drawing: the finding's number (node names are prefixed with it, so
 * clusters of one graph never share a node) and, for the HTML page, the anchor prefix each
 * thread node links to ("f1" links thread 11 to "#f1-t11"); NULL draws no links. */
typedef struct dctx {
    FILE *out;
    int k;
    const char *anchor;
} dctx;

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

static void draw_thread_node(const dctx *d, const pg_pool *pool, const pg_mthread *t, bool cyc_thread)
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
    fprintf(d->out, "    t%d_%ld [shape=box, style=\"rounded,filled\", fillcolor=%s%s, label=", d->k,
            t->tid, cyc_thread ? "\"#ffe0e0\"" : t->blocked.present ? "\"#fff4d0\"" : "white",
            cyc_thread ? ", color=red, penwidth=2" : "");
    dot_str(d->out, label);
    node_link(d, t->tid);
    fprintf(d->out, "];\n");
}

static void draw_object_node(const dctx *d, const char *kind, uint64_t address, const pg_lockname *n,
                             bool hot)
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
        if (w->present && pg_wait_parse(w->kind) != PG_WAIT_JOIN && !waits_through_task(pool, &t[i]))
            draw_object_node(d, w->kind, w->address, w->name, false);
        for (size_t h = 0; h < t[i].nholds; h++)
            draw_object_node(d, t[i].holds[h].kind, t[i].holds[h].address, t[i].holds[h].name, false);
    }
    for (size_t i = 0; i < nt; i++) {
        const pg_wait *w = &t[i].blocked;
        if (w->present && !waits_through_task(pool, &t[i])) {
            char el[64] = "waits";
            if (w->since_ms >= 0)
                snprintf(el, sizeof el, "waits %" PRId64 " ms%s", w->since_ms, w->timed ? " (timed)" : "");
            bool hot = in_cycle_wait(cyc, ncyc, t[i].tid, w->address);
            if (pg_wait_parse(w->kind) == PG_WAIT_JOIN && w->target >= 0)
                fprintf(out, "    t%d_%ld -> t%d_%ld [label=\"joins\"%s];\n", k, t[i].tid, k, w->target,
                        hot ? ", color=red, penwidth=2.5, weight=10" : "");
            else
                fprintf(out, "    t%d_%ld -> o%d_%" PRIx64 " [label=\"%s\"%s];\n", k, t[i].tid, k,
                        w->address, el, hot ? ", color=red, penwidth=2.5, fontcolor=red, weight=10" : "");
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
            fprintf(out, "%s];\n", hot ? ", color=red, penwidth=2.5, fontcolor=red, weight=10" : "");
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
        fprintf(out, "    l%d_%" PRIx64 " [shape=ellipse, style=filled, fillcolor=\"#ffe0e0\", label=", k,
                e->first);
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

/* A task node: its function and where it stands ("queued 2nd"). Named by the task's identity
 * (C pools) or by the worker waiting on it (Python work has no identity the report gives). */
static void draw_task_node(const dctx *d, const char *id, const char *name, const char *state)
{
    char label[PG_MAX_STRING + 128];
    snprintf(label, sizeof label, "task %s\n%s", name ? name : "(function not known)", state);
    fprintf(d->out, "    %s [shape=note, style=filled, fillcolor=\"#eef4ff\", label=", id);
    dot_str(d->out, label);
    fprintf(d->out, "];\n");
}

static const char *const HOT = ", color=red, penwidth=2.5, fontcolor=red";

/*
 * A pool drawn as the loop that stops it: a worker waits for a task, the task is queued in the
 * pool at position N, and the pool waits for a free worker while all of them are busy (the edge
 * from the pool to each worker). The loop is red when the finding is proven.
 */
static void draw_pool(const dctx *d, const pg_finding *f)
{
    FILE *out = d->out;
    int k = d->k;
    const pg_pool *p = &f->pool_info;
    bool proven = p->proof == PG_PROOF_EXACT || p->proof == PG_PROOF_GRAPH;
    const char *hot = proven ? HOT : "";
    char desc[1200], label[1400 + 4 * 160];
    describe_pool(p, desc, sizeof desc);
    int n = snprintf(label, sizeof label, "%s", desc);
    if (p->workers >= 0 && n >= 0 && (size_t)n < sizeof label)
        n += snprintf(label + n, sizeof label - (size_t)n, "\n%ld worker%s", p->workers,
                      p->workers == 1 ? "" : "s");
    if (p->queued >= 0 && n >= 0 && (size_t)n < sizeof label)
        n += snprintf(label + n, sizeof label - (size_t)n, ", %s%ld queued", p->queued_exact ? "" : "about ",
                      p->queued);
    if (p->proof >= 0 && n >= 0 && (size_t)n < sizeof label)
        n += snprintf(label + n, sizeof label - (size_t)n, "\nproof: %s", pg_proof_name(p->proof));
    /* The queue's first tasks by function, next to run first. */
    for (size_t i = 0; i < p->nqueued_tasks && i < 4 && n >= 0 && (size_t)n < sizeof label; i++) {
        const char *name = describe_function(&p->queued_tasks[i].function);
        n += snprintf(label + n, sizeof label - (size_t)n, "%s%s", i ? ", " : "\nqueued: ",
                      name ? name : "?");
    }
    if (p->nqueued_tasks > 4 && n >= 0 && (size_t)n < sizeof label)
        snprintf(label + n, sizeof label - (size_t)n, ", ...");
    fprintf(out, "    p%d [shape=box3d, style=filled, fillcolor=%s, label=", k,
            f->sev == PG_SEV_ERROR ? "\"#ffe0e0\"" : f->sev == PG_SEV_WARNING ? "\"#fff4d0\"" : "\"#e0f0ff\"");
    dot_str(out, label);
    fprintf(out, "];\n");
    for (size_t i = 0; i < f->nthreads; i++) {
        const pg_mthread *t = &f->threads[i];
        if (!t->role)
            continue;
        bool worker = t->role_id == PG_ROLE_WORKER;
        char el[PG_MAX_STRING + 64], pos[32], id[64], state[96];
        const pg_py_task *py = worker ? describe_py_task(p, t) : NULL;
        if (worker) {
            /* The pool needs a free worker, and this one is busy (with its task, when known). */
            const char *runs = describe_function(&t->task_function);
            if (!runs && py)
                runs = py->task.function;
            snprintf(el, sizeof el, "busy%s%s", runs ? ": runs " : "", runs ? runs : "");
            fprintf(out, "    p%d -> t%d_%ld [label=", k, k, t->tid);
            dot_str(out, el);
            fprintf(out, ", style=dashed%s];\n", t->blocked.present ? hot : "");
        } else if (t->role_id == PG_ROLE_SUBMITTER) {
            fprintf(out, "    t%d_%ld -> p%d [label=\"submits to\", style=dashed];\n", k, t->tid, k);
        }
        const pg_task_wait *w = &t->waits_for_task;
        const pg_task_ref *sub = &t->submitted_task;
        if (py && py->waits) {
            /* A Python worker waiting on work: the future's function is the task. */
            snprintf(id, sizeof id, "q%d_t%ld", k, t->tid);
            bool here = py->queued_here;
            if (here && py->queue_pos >= 0)
                snprintf(state, sizeof state, "queued %s", describe_ordinal(py->queue_pos + 1, pos, sizeof pos));
            else
                snprintf(state, sizeof state, "%s", here ? "still queued" : "not queued here");
            char fnname[PG_MAX_STRING + 64];
            if (py->coroutine.function)
                snprintf(fnname, sizeof fnname, "%s\nvia coroutine %s()", py->wait_fn.function ? py->wait_fn.function : "?",
                         py->coroutine.function);
            draw_task_node(d, id, py->coroutine.function ? fnname : py->wait_fn.function, state);
            const char *what = py->wait_kind && strcmp(py->wait_kind, "coroutine") == 0 ? "waits on (coroutine)"
                               : py->wait_kind && strcmp(py->wait_kind, "async_result") == 0 ? "waits on the result"
                                                                                            : "waits on the future";
            fprintf(out, "    t%d_%ld -> %s [label=\"%s\"%s];\n", k, t->tid, id, what, here ? hot : "");
            if (here)
                fprintf(out, "    %s -> p%d [label=\"%s in\"%s];\n", id, k, state, hot);
        } else if (w->present) {
            const char *name = describe_task_name(p, &w->function, w->address);
            snprintf(id, sizeof id, "q%d_%" PRIx64, k, w->address);
            bool queued = w->state && strcmp(w->state, "queued") == 0;
            long at = describe_task_position(p, t, w->address);
            if (queued && at > 0)
                snprintf(state, sizeof state, "queued %s", describe_ordinal(at, pos, sizeof pos));
            else if (queued)
                snprintf(state, sizeof state, "still queued");
            else if (w->state && strcmp(w->state, "running") == 0)
                snprintf(state, sizeof state, "running");
            else
                snprintf(state, sizeof state, "state not known");
            draw_task_node(d, id, name, state);
            fprintf(out, "    t%d_%ld -> %s [label=\"waits for\"%s];\n", k, t->tid, id, queued ? hot : "");
            if (queued)
                fprintf(out, "    %s -> p%d [label=\"%s in\"%s];\n", id, k, state, hot);
            else if (w->runner >= 0)
                fprintf(out, "    %s -> t%d_%ld [label=\"runs on\"];\n", id, k, w->runner);
        } else if (sub->present) {
            const char *name = describe_task_name(p, &sub->function, sub->address);
            snprintf(id, sizeof id, "q%d_%" PRIx64, k, sub->address);
            if (sub->position > 0)
                snprintf(state, sizeof state, "queued %s", describe_ordinal(sub->position, pos, sizeof pos));
            else
                snprintf(state, sizeof state, "still queued");
            draw_task_node(d, id, name, state);
            fprintf(out, "    t%d_%ld -> %s [label=\"submitted, waits after\"%s];\n", k, t->tid, id, hot);
            fprintf(out, "    %s -> p%d [label=\"%s in\"%s];\n", id, k, state, hot);
        }
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
                 render_exe_name(f->proc), f->proc ? f->proc->pid : -1L, f->summary ? f->summary : "");
        fprintf(out, "  subgraph cluster_%d {\n    label=", d->k);
        dot_str(out, label);
        fprintf(out, ";\n    color=%s;\n", sev_colour_name(f->sev));
    }
    draw_threads(d, f->pool_info.present ? &f->pool_info : NULL, f->threads, f->nthreads, f->cycle,
                 f->ncycle);
    if (f->norder)
        draw_order(d, f);
    if (f->pool_info.present)
        draw_pool(d, f);
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
    fprintf(out, "digraph poolguard {\n  rankdir=%s;\n  node [fontname=\"Helvetica\", fontsize=10];\n"
                 "  edge [fontname=\"Helvetica\", fontsize=9];\n", rankdir);
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

/* Runs `dot -Tsvg` with the graph on its stdin (a temporary file, so no pipe deadlock). */
int render_svg_from_dot(const char *graph, char **svg)
{
    *svg = NULL;
    const char *tmp = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/poolguard-dot.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int in = mkstemp(path);
    if (in < 0)
        return -errno;
    unlink(path);
    size_t len = strlen(graph);
    bool ok = write(in, graph, len) == (ssize_t)len && lseek(in, 0, SEEK_SET) == 0;
    if (!ok) {
        close(in);
        return -EIO;
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        close(in);
        return -EIO;
    }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in, 0);
        dup2(p[1], 1);
        execlp("dot", "dot", "-Tsvg", (char *)NULL);
        _exit(127);
    }
    close(in);
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        return -errno;
    }
    char *buf = NULL;
    size_t blen = 0;
    FILE *m = open_memstream(&buf, &blen);
    char chunk[65536];
    ssize_t k;
    while ((k = read(p[0], chunk, sizeof chunk)) > 0 || (k < 0 && errno == EINTR))
        if (k > 0 && m)
            fwrite(chunk, 1, (size_t)k, m);
    close(p[0]);
    if (m)
        fclose(m);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        free(buf);
        return WIFEXITED(status) && WEXITSTATUS(status) == 127 ? -ENOENT : -EIO;
    }
    *svg = buf;
    return 0;
}

int render_svg_string(pg_report *r, const render_opts *o, char **svg)
{
    *svg = NULL;
    char *graph = render_dot_string(r, o);
    if (!graph)
        return -ENOMEM;
    int ret = render_svg_from_dot(graph, svg);
    free(graph);
    return ret;
}

int render_svg(pg_report *r, const render_opts *o, FILE *out)
{
    char *svg;
    int ret = render_svg_string(r, o, &svg);
    if (ret < 0)
        return ret;
    fputs(svg, out);
    free(svg);
    return ferror(out) ? -EIO : 0;
}

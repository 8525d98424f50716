/*
 * The wait-for graph in Graphviz DOT, and as SVG by running `dot -Tsvg` on it. Threads are boxes,
 * locks and other objects ellipses; an edge from a thread to an object says it waits there, an
 * edge from an object to a thread says that thread holds it (or is who would wake it). The edges
 * of a deadlock's cycle are red and bold. A lock-order cycle is drawn as its order graph (locks
 * as nodes, an edge per "took this, then that", labelled with thread and function); a pool is a
 * node its workers and submitters point at. Each finding (and time-out snapshot) is one cluster.
 * The number of findings drawn is capped: a graph nobody can read helps nobody.
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

static void draw_threads(FILE *out, int k, const pg_pool *pool, const pg_thread *t, size_t nt,
                         const pg_edge *cyc, size_t ncyc)
{
    char label[4 * PG_MAX_STRING], name[128];
    for (size_t i = 0; i < nt; i++) {
        render_thread_label(&t[i], name, sizeof name);
        const pg_frame *fr = render_first_own_frame(&t[i]);
        int n;
        if (fr && fr->function && fr->file)
            n = snprintf(label, sizeof label, "%s\n%s\n%s:%u", name, fr->function,
                         render_short_path(fr->file), fr->line);
        else if (fr && fr->function)
            n = snprintf(label, sizeof label, "%s\n%s", name, fr->function);
        else
            n = snprintf(label, sizeof label, "%s", name);
        const char *runs = describe_function(&t[i].task_function);
        /* A Python worker's task, named by the interpreter. */
        const pg_py_task *py = t[i].role && strcmp(t[i].role, "worker") == 0
                                   ? describe_py_task(pool, &t[i]) : NULL;
        if (!runs && py)
            runs = py->task.function;
        if (runs && n >= 0 && (size_t)n < sizeof label)
            snprintf(label + n, sizeof label - (size_t)n, "\nruns %s", runs);
        bool cyc_thread = false;
        for (size_t c = 0; c < ncyc; c++)
            cyc_thread |= cyc[c].tid == t[i].tid;
        fprintf(out, "    t%d_%ld [shape=box, style=\"rounded,filled\", fillcolor=%s, label=", k,
                t[i].tid, cyc_thread ? "\"#ffe0e0\"" : t[i].blocked.present ? "\"#fff4d0\"" : "white");
        dot_str(out, label);
        fprintf(out, "];\n");
    }
    /* Objects: every address waited on or held, once. */
    for (size_t i = 0; i < nt; i++) {
        const pg_wait *w = &t[i].blocked;
        if (w->present && !(w->kind && strcmp(w->kind, "join") == 0)) {
            object_label(w->kind, w->address, w->name, label, sizeof label);
            fprintf(out, "    o%d_%" PRIx64 " [shape=ellipse, label=", k, w->address);
            dot_str(out, label);
            fprintf(out, "];\n");
        }
        for (size_t h = 0; h < t[i].nholds; h++) {
            object_label(t[i].holds[h].kind, t[i].holds[h].address, t[i].holds[h].name, label,
                         sizeof label);
            fprintf(out, "    o%d_%" PRIx64 " [shape=ellipse, label=", k, t[i].holds[h].address);
            dot_str(out, label);
            fprintf(out, "];\n");
        }
    }
    for (size_t i = 0; i < nt; i++) {
        const pg_wait *w = &t[i].blocked;
        if (w->present) {
            char el[64] = "waits";
            if (w->since_ms >= 0)
                snprintf(el, sizeof el, "waits %" PRId64 " ms%s", w->since_ms, w->timed ? " (timed)" : "");
            bool hot = in_cycle_wait(cyc, ncyc, t[i].tid, w->address);
            if (w->kind && strcmp(w->kind, "join") == 0 && w->target >= 0)
                fprintf(out, "    t%d_%ld -> t%d_%ld [label=\"joins\"%s];\n", k, t[i].tid, k, w->target,
                        hot ? ", color=red, penwidth=2.5" : "");
            else
                fprintf(out, "    t%d_%ld -> o%d_%" PRIx64 " [label=\"%s\"%s];\n", k, t[i].tid, k,
                        w->address, el, hot ? ", color=red, penwidth=2.5, fontcolor=red" : "");
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
            fprintf(out, "%s];\n", hot ? ", color=red, penwidth=2.5, fontcolor=red" : "");
        }
    }
}

/* A lock-order cycle: the locks are the nodes, each edge "first -> then" is labelled with the
 * thread that took them in that order and the function where it took the second. */
static void draw_order(FILE *out, int k, const pg_finding *f)
{
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
        pg_thread t = { .tid = e->tid, .name = e->name };
        render_thread_label(&t, name, sizeof name);
        const pg_frame *fr = stack_first_own_frame(&e->stack);
        snprintf(label, sizeof label, "%s%s%s", name, fr ? "\n" : "", fr ? fr->function : "");
        fprintf(out, "    l%d_%" PRIx64 " -> l%d_%" PRIx64 " [label=", k, e->first, k, e->then);
        dot_str(out, label);
        fprintf(out, ", color=red, penwidth=2.5, fontcolor=red];\n");
    }
}

/* A pool: one node, its workers and submitters pointing at it. */
static void draw_pool(FILE *out, int k, const pg_finding *f)
{
    const pg_pool *p = &f->pool_info;
    char desc[1200], label[1400 + 4 * 160];
    describe_pool(p, desc, sizeof desc);
    int n = snprintf(label, sizeof label, "%s", desc);
    if (p->workers >= 0 && n >= 0 && (size_t)n < sizeof label)
        n += snprintf(label + n, sizeof label - (size_t)n, "\n%ld worker%s", p->workers,
                      p->workers == 1 ? "" : "s");
    if (p->queued >= 0 && n >= 0 && (size_t)n < sizeof label)
        n += snprintf(label + n, sizeof label - (size_t)n, ", %s%ld queued", p->queued_exact ? "" : "about ",
                      p->queued);
    if (p->proof && n >= 0 && (size_t)n < sizeof label)
        n += snprintf(label + n, sizeof label - (size_t)n, "\nproof: %s", p->proof);
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
        const pg_thread *t = &f->threads[i];
        if (!t->role)
            continue;
        if (strcmp(t->role, "worker") == 0)
            fprintf(out, "    t%d_%ld -> p%d [label=\"worker of\", style=dashed];\n", k, t->tid, k);
        else if (strcmp(t->role, "submitter") == 0)
            fprintf(out, "    t%d_%ld -> p%d [label=\"submits to\", style=dashed];\n", k, t->tid, k);
        char el[PG_MAX_STRING + 64], pos[32];
        const pg_task_wait *w = &t->waits_for_task;
        const pg_task_ref *sub = &t->submitted_task;
        const pg_py_task *py = strcmp(t->role, "worker") == 0 ? describe_py_task(p, t) : NULL;
        if (py && py->waits && py->queued_here) {
            /* A Python worker waiting on work queued here: the edge that closes the loop. */
            char words[3 * PG_MAX_STRING + 128];
            fprintf(out, "    t%d_%ld -> p%d [label=", k, t->tid, k);
            dot_str(out, describe_py_wait(p, py, words, sizeof words));
            fprintf(out, ", color=red, penwidth=2.5, fontcolor=red];\n");
        } else if (w->present && w->state && strcmp(w->state, "queued") == 0) {
            const char *name = describe_task_name(p, &w->function, w->address);
            snprintf(el, sizeof el, "waits for %s queued here", name ? name : "a task");
            fprintf(out, "    t%d_%ld -> p%d [label=", k, t->tid, k);
            dot_str(out, el);
            fprintf(out, ", color=red, penwidth=2.5, fontcolor=red];\n");
        } else if (sub->present) {
            const char *name = describe_task_name(p, &sub->function, sub->address);
            if (sub->position > 0)
                snprintf(el, sizeof el, "submitted %s, queued %s", name ? name : "a task",
                         describe_ordinal(sub->position, pos, sizeof pos));
            else
                snprintf(el, sizeof el, "submitted %s, still queued", name ? name : "a task");
            fprintf(out, "    t%d_%ld -> p%d [label=", k, t->tid, k);
            dot_str(out, el);
            fprintf(out, ", color=red, penwidth=2.5, fontcolor=red];\n");
        }
    }
}

static void draw(FILE *out, pg_report *r, const render_opts *o)
{
    fprintf(out, "digraph poolguard {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n"
                 "  edge [fontname=\"Helvetica\", fontsize=9];\n");
    size_t n, drawn = 0;
    pg_finding **f = report_findings(r, &n);
    for (size_t i = 0; i < n && drawn < MAX_DRAWN; i++) {
        if (!render_finding_visible(f[i], o))
            continue;
        int k = (int)drawn++;
        char label[PG_MAX_STRING + 256];
        snprintf(label, sizeof label, "%s: %s in %s (pid %ld): %s", severity_name(f[i]->sev),
                 f[i]->kind, render_exe_name(f[i]->proc), f[i]->proc ? f[i]->proc->pid : -1L,
                 f[i]->summary ? f[i]->summary : "");
        fprintf(out, "  subgraph cluster_%d {\n    label=", k);
        dot_str(out, label);
        fprintf(out, ";\n    color=%s;\n", f[i]->sev == PG_SEV_ERROR     ? "red"
                                            : f[i]->sev == PG_SEV_WARNING ? "orange"
                                                                          : "steelblue");
        draw_threads(out, k, f[i]->pool_info.present ? &f[i]->pool_info : NULL, f[i]->threads,
                     f[i]->nthreads, f[i]->cycle, f[i]->ncycle);
        if (f[i]->norder)
            draw_order(out, k, f[i]);
        if (f[i]->pool_info.present)
            draw_pool(out, k, f[i]);
        fprintf(out, "  }\n");
    }
    size_t ns;
    pg_snapshot **s = report_snapshots(r, &ns);
    for (size_t i = 0; i < ns && drawn < MAX_DRAWN; i++) {
        int k = (int)drawn++;
        char label[256];
        snprintf(label, sizeof label, "snapshot of %s (pid %ld)", render_exe_name(s[i]->proc),
                 s[i]->proc ? s[i]->proc->pid : -1L);
        fprintf(out, "  subgraph cluster_%d {\n    label=", k);
        dot_str(out, label);
        fprintf(out, ";\n    color=gray;\n");
        draw_threads(out, k, NULL, s[i]->threads, s[i]->nthreads, NULL, 0);
        fprintf(out, "  }\n");
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

int render_dot(pg_report *r, const render_opts *o, FILE *out)
{
    draw(out, r, o);
    return ferror(out) ? -EIO : 0;
}

/* Runs `dot -Tsvg` with the graph on its stdin (a temporary file, so no pipe deadlock). */
int render_svg_string(pg_report *r, const render_opts *o, char **svg)
{
    *svg = NULL;
    char *graph = render_dot_string(r, o);
    if (!graph)
        return -ENOMEM;
    const char *tmp = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/poolguard-dot.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int in = mkstemp(path);
    if (in < 0) {
        free(graph);
        return -errno;
    }
    unlink(path);
    size_t len = strlen(graph);
    bool ok = write(in, graph, len) == (ssize_t)len && lseek(in, 0, SEEK_SET) == 0;
    free(graph);
    int p[2];
    if (!ok || pipe2(p, O_CLOEXEC) < 0) {
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

/*
 * The HTML report (render_html_int.h says which file writes what): each finding's section, its
 * sentence, its chain (cycle, lock orders) and pool, and its own wait-for graph (inline SVG from
 * Graphviz, thread nodes linked to the thread sections), at most MAX_GRAPHS graphs per page;
 * and each snapshot's section. Reads the model only; runs dot(1) through render_svg.c.
 */
#include "render_html_int.h"

#include "analyze.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ----- Findings ----- */

static void graph_figure(hctx *c, char *dot, const char *caption)
{
    if (!dot)
        return;
    if (c->no_dot || c->graphs >= MAX_GRAPHS) {
        if (!c->no_dot)
            fputs("<p class=\"meta\">(Only the first findings' graphs are drawn.)</p>\n", c->out);
        free(dot);
        return;
    }
    char *svg = NULL;
    int ret = render_svg_from_dot(dot, &svg);
    free(dot);
    if (ret == -ENOENT) {
        c->no_dot = true;
        fputs("<p class=\"meta\">(The wait-for graph needs Graphviz <code>dot</code>, which was "
              "not "
              "found.)</p>\n",
              c->out);
        return;
    }
    const char *start = svg ? strstr(svg, "<svg") : NULL;
    if (!start) {
        free(svg);
        return;
    }
    c->graphs++;
    /* Inline SVG in HTML5 starts at the <svg> element: the XML prolog and doctype are dropped. */
    fputs("<figure class=\"graph\"><div class=\"tools\" hidden>zoom: "
          "<button type=\"button\" data-zoom=\"1.25\">+</button>"
          "<button type=\"button\" data-zoom=\"0.8\">&minus;</button>"
          "<button type=\"button\" data-zoom=\"fit\">fit width</button>"
          "<button type=\"button\" data-zoom=\"1\">100%</button> "
          "(or ctrl+wheel; drag to pan)</div>\n<div class=\"viewport\">",
          c->out);
    fputs(start, c->out);
    fputs("</div><figcaption>", c->out);
    esc(c, caption);
    fputs("</figcaption></figure>\n", c->out);
    free(svg);
}

static void cycle_chain(hctx *c, const pg_finding *f, const char *anchor)
{
    char lock[3 * PG_MAX_STRING + 800];
    fputs("<h4>the cycle</h4>\n<ol class=\"chain\">\n", c->out);
    for (size_t i = 0; i < f->ncycle; i++) {
        const pg_edge *e = &f->cycle[i];
        fputs("<li>", c->out);
        html_thread_link(c, anchor, f->threads, f->nthreads, e->tid);
        fputs("</li>\n<li><span class=\"arrow\">&darr;</span>waits on <b>", c->out);
        esc(c, describe_lock(e->name, e->kind, e->address, lock, sizeof lock));
        fputs("</b>, held by</li>\n", c->out);
    }
    fputs("<li>", c->out);
    html_thread_link(c, anchor, f->threads, f->nthreads, f->cycle[0].tid);
    fputs(" <span class=\"meta\">(back to the start)</span></li>\n</ol>\n", c->out);
}

static void order_section(hctx *c, const pg_finding *f, const char *anchor)
{
    char lock[3 * PG_MAX_STRING + 800], label[128], where[PG_MAX_STRING + 600], id[96];
    fputs("<h4>the cycle of lock orders</h4>\n<ol class=\"chain\">\n", c->out);
    for (size_t i = 0; i < f->norder; i++) {
        const pg_order_edge *e = &f->order[i];
        pg_mthread t = { .tid = e->tid, .name = e->name };
        fprintf(c->out, "<li><b>lock %c</b>: ", (char)('A' + (i % 26)));
        esc(c, describe_lock(e->first_name, e->first_kind, e->first, lock, sizeof lock));
        fprintf(c->out,
                "</li>\n<li><span class=\"arrow\">&darr;</span>then lock %c, taken by "
                "<a href=\"#%s-e%zu\">",
                (char)('A' + ((i + 1) % f->norder % 26)), anchor, i + 1);
        esc(c, render_thread_label(&t, label, sizeof label));
        fputs("</a></li>\n", c->out);
    }
    fputs("<li><b>lock A</b> <span class=\"meta\">(back to the start)</span></li>\n</ol>\n",
          c->out);
    for (size_t i = 0; i < f->norder; i++) {
        const pg_order_edge *e = &f->order[i];
        pg_mthread t = { .tid = e->tid, .name = e->name };
        snprintf(id, sizeof id, "%s-e%zu", anchor, i + 1);
        fprintf(c->out, "<section class=\"thread edge\" id=\"%s\">\n<h3>", id);
        esc(c, render_thread_label(&t, label, sizeof label));
        fprintf(c->out,
                " <span class=\"role\">&mdash; took lock %c, then lock %c</span></h3>\n"
                "<dl class=\"facts\">\n",
                (char)('A' + (i % 26)), (char)('A' + ((i + 1) % f->norder % 26)));
        const pg_frame *fa = e->first_at.nframes ? &e->first_at.frames[0] : NULL;
        fputs("<dt>first</dt><dd><b>", c->out);
        esc(c, describe_lock(e->first_name, e->first_kind, e->first, lock, sizeof lock));
        fputs("</b>", c->out);
        if (fa && fa->function) {
            fputs(", taken in ", c->out);
            esc(c, describe_frame(fa, where, sizeof where));
        }
        fputs("</dd>\n<dt>then</dt><dd><b>", c->out);
        esc(c, describe_lock(e->then_name, e->then_kind, e->then, lock, sizeof lock));
        fputs("</b>, taken here:</dd>\n</dl>\n", c->out);
        html_stack_list(c, &e->stack, id);
        fputs("</section>\n", c->out);
    }
}

static void pool_facts(hctx *c, const pg_finding *f)
{
    const pg_pool *p = &f->pool_info;
    char desc[1200], where[PG_MAX_STRING + 600];
    fputs("<h4>the pool</h4>\n<dl class=\"facts\">\n<dt>pool</dt><dd><b>", c->out);
    esc(c, describe_pool(p, desc, sizeof desc));
    fputs("</b></dd>\n", c->out);
    if (p->workers >= 0) {
        fprintf(c->out, "<dt>workers</dt><dd>%ld", p->workers);
        if (p->declared_workers >= 0 && p->declared_workers != p->workers)
            fprintf(c->out, " (%ld declared)", p->declared_workers);
        if (p->max_workers >= 0)
            fprintf(c->out, ", at most %ld at once", p->max_workers);
        fputs("</dd>\n", c->out);
    }
    if (p->queued >= 0)
        fprintf(c->out, "<dt>queued</dt><dd>%s%ld task%s%s</dd>\n", p->queued_exact ? "" : "about ",
                p->queued, p->queued == 1 ? "" : "s",
                p->queued_exact ? " (counted exactly)" : " (estimated)");
    if (p->proof >= 0)
        fprintf(c->out, "<dt>proof</dt><dd>%s</dd>\n",
                p->proof == PG_PROOF_GRAPH
                    ? "the wait-for graph: every worker is stuck and no thread "
                      "outside can wake one"
                : p->proof == PG_PROOF_EXACT
                    ? "exact: a worker waits on a task still queued in this "
                      "pool while every worker is blocked"
                : p->proof == PG_PROOF_INFERRED
                    ? "none, inferred from how the threads wait (a warning at most)"
                    : "none: the workers have only been blocked for long");
    if (p->source >= 0) {
        fputs("<dt>known from</dt><dd>", c->out);
        esc(c, p->source == PG_SRC_ANNOTATION ? "the program's annotations (poolguard.h)"
               : p->source == PG_SRC_ADAPTER  ? "poolguard's library adapter"
               : p->source == PG_SRC_PYTHON   ? "the Python interpreter"
                                              : "inference from how its threads wait");
        fputs("</dd>\n", c->out);
    }
    if (p->nqueued_tasks) {
        fputs("<dt>next to run</dt><dd><ol class=\"queue\">", c->out);
        for (size_t i = 0; i < p->nqueued_tasks; i++) {
            const pg_task_ref *q = &p->queued_tasks[i];
            const char *name = describe_function(&q->function);
            if (q->position > 0)
                fprintf(c->out, "<li value=\"%ld\">", q->position);
            else
                fputs("<li>", c->out);
            if (name)
                esc(c, describe_frame(&q->function.sym.frames[q->function.sym.nframes - 1], where,
                                      sizeof where));
            else
                fputs("(function not known)", c->out);
            fprintf(c->out, " <span class=\"mono meta\">task 0x%" PRIx64 "</span></li>",
                    q->address);
        }
        fputs("</ol></dd>\n", c->out);
    }
    const pg_frame *created = stack_first_own_frame(&p->create_stack);
    if (created) {
        fputs("<dt>created</dt><dd>in ", c->out);
        esc(c, describe_frame(created, where, sizeof where));
        fputs("</dd>\n", c->out);
    }
    if (f->growth.present && f->growth.per_second >= 0)
        fprintf(c->out, "<dt>growth</dt><dd>+%" PRId64 " tasks per second</dd>\n",
                f->growth.per_second);
    fputs("</dl>\n", c->out);
}

void html_finding_section(hctx *c, const pg_finding *f, size_t no)
{
    char anchor[32], when[64];
    snprintf(anchor, sizeof anchor, "f%zu", no);
    const char *sev = severity_name(f->sev);
    fprintf(c->out, "<section class=\"finding sev-%s\" id=\"%s\" data-kind=\"", sev, anchor);
    esc(c, f->kind);
    fprintf(c->out, "\" data-severity=\"%s\">\n<h2><span class=\"badge %s\">%s</span> ", sev, sev,
            sev);
    esc(c, f->kind);
    fputs(" <span class=\"role\">in ", c->out);
    esc(c, render_exe_name(f->proc));
    fprintf(c->out, " (pid %ld)</span></h2>\n<p class=\"sentence\">", f->proc ? f->proc->pid : -1L);
    esc(c, f->summary ? f->summary : "(no summary)");
    fputs("</p>\n", c->out);
    html_clock_time(f->time_unix_ms, when, sizeof when);
    fputs("<p class=\"meta\">", c->out);
    if (*when)
        fprintf(c->out, "reported at %s; ", when);
    if (f->proc && f->proc->exe) {
        esc(c, f->proc->exe);
        fputs("; ", c->out);
    }
    fprintf(c->out, "%zu thread%s", f->nthreads, f->nthreads == 1 ? "" : "s");
    if (f->count > 1)
        fprintf(c->out, "; seen %u times", f->count);
    fputs("</p>\n", c->out);
    if (f->ncycle)
        cycle_chain(c, f, anchor);
    else if (f->hang)
        fputs("<p>Every thread is blocked and none is left to wake the others.</p>\n", c->out);
    if (f->pool_info.present)
        pool_facts(c, f);
    graph_figure(c, render_dot_finding(f, anchor),
                 f->norder
                     ? "The cycle of lock orders: each edge is one thread taking the next lock "
                       "while holding the one before."
                 : f->ncycle
                     ? "The wait-for graph: an edge points from who waits to what it "
                       "waits for; the cycle is red. Thread nodes link to their sections below."
                     : "The wait-for graph: an edge points from who waits to what it "
                       "waits for; what proves the finding is red. Thread nodes link to "
                       "their sections below.");
    if (f->norder)
        order_section(c, f, anchor);
    for (size_t i = 0; i < f->nthreads; i++)
        html_thread_section(c, f, &f->threads[i], anchor, f->threads, f->nthreads, f->time_unix_ms);
    if (f->threads_dropped)
        fprintf(c->out, "<p class=\"meta\">&hellip; %zu more threads not shown</p>\n",
                f->threads_dropped);
    fputs("</section>\n", c->out);
}

void html_snapshot_section(hctx *c, const pg_snapshot *s, size_t no)
{
    char anchor[32];
    snprintf(anchor, sizeof anchor, "s%zu", no);
    size_t blocked = 0;
    for (size_t i = 0; i < s->nthreads; i++)
        blocked += s->threads[i].blocked.present;
    bool timeout = s->reason && strcmp(s->reason, "request") == 0;
    fprintf(c->out,
            "<section class=\"snapshot\" id=\"%s\" data-kind=\"snapshot\" data-severity=\"info\">\n"
            "<h2><span class=\"badge info\">%s</span> <span class=\"role\">of ",
            anchor, timeout ? "time-out snapshot" : "snapshot");
    esc(c, render_exe_name(s->proc));
    fprintf(c->out,
            " (pid %ld)</span></h2>\n<p class=\"sentence\">%zu thread%s, %zu blocked: where each "
            "thread was when the program was stopped.</p>\n",
            s->proc ? s->proc->pid : -1L, s->nthreads, s->nthreads == 1 ? "" : "s", blocked);
    graph_figure(c, render_dot_snapshot(s, anchor),
                 "What each thread waited on when the snapshot was taken. Thread nodes link to "
                 "their sections below.");
    for (size_t i = 0; i < s->nthreads; i++)
        html_thread_section(c, NULL, &s->threads[i], anchor, s->threads, s->nthreads,
                            s->time_unix_ms);
    fputs("</section>\n", c->out);
}

/*
 * What the HTML page's files share, and nothing else includes: the other renderers see render.h
 * only. The page is split by what each part writes:
 *   render_html.c          the page: its style and script, the summary table, the filters
 *   render_html_finding.c  each finding's (and snapshot's) section: its sentence, its chain,
 *                          its pool, its wait-for graph
 *   render_html_thread.c   each thread's section: its facts, its stacks with source excerpts
 *
 * Read-only over the model; the context counts what a page may hold at most.
 */
#ifndef POOLGUARD_RENDER_HTML_INT_H
#define POOLGUARD_RENDER_HTML_INT_H

#include "render.h"

#include "xml_escape.h"

enum {
    MAX_SNIPPETS = 200, /* source excerpts per page: a page of thousands of threads stays small */
    SNIPPET_RADIUS = 2, /* lines shown before and after the frame's line */
    MAX_SOURCE_BYTES = 4 << 20,
    MAX_GRAPHS = 50, /* findings drawn; the rest say why they have no graph */
};

typedef struct hctx {
    FILE *out;
    const render_opts *o;
    size_t snippets;
    size_t graphs;
    bool no_dot; /* Graphviz is missing: said once, not tried again */
} hctx;

static inline void esc(hctx *c, const char *s)
{
    xml_escape(c->out, s);
}

/* render_html_thread.c: stacks and threads. */

/* A stack as a list, the runtime's frames folded in <details> with ids FOLD_ID-foldN. */
void html_stack_list(hctx *c, const pg_stack *s, const char *fold_id);
/* A link to thread tid's section under anchor, or "tid N" when it is not among threads. */
void html_thread_link(hctx *c, const char *anchor, const pg_mthread *threads, size_t n, long tid);
/* Local time "YYYY-MM-DD HH:MM:SS.mmm" into buf; empty when unix_ms is not a time. */
void html_clock_time(int64_t unix_ms, char *buf, size_t len);
/* One thread's section, id ANCHOR-tTID, of finding f (NULL: of a snapshot). */
void html_thread_section(hctx *c, const pg_finding *f, const pg_mthread *t, const char *anchor,
                         const pg_mthread *threads, size_t n, int64_t report_ms);

/* render_html_finding.c: the sections of finding number no ("f1") and snapshot no ("s1"). */
void html_finding_section(hctx *c, const pg_finding *f, size_t no);
void html_snapshot_section(hctx *c, const pg_snapshot *s, size_t no);

#endif

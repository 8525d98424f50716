/*
 * What the DOT graph's files share, and nothing else includes: the other renderers see render.h
 * only. render_dot.c draws the graph (threads, the objects they wait on and hold, a lock-order
 * cycle, the clusters) and render_dot_pool.c a finding's pool with its tasks. Read-only over the
 * model; they write to a stream, often an in-memory one.
 */
#ifndef POOLGUARD_RENDER_DOT_INT_H
#define POOLGUARD_RENDER_DOT_INT_H

#include "render.h"

/* Graph-wide state of one drawing: the finding's number (node names are prefixed with it, so
 * clusters of one graph never share a node) and, for the HTML page, the anchor prefix each
 * thread node links to ("f1" links thread 11 to "#f1-t11"); NULL draws no links. */
typedef struct dctx {
    FILE *out;
    int k;
    const char *anchor;
} dctx;

/* render_dot.c: a DOT string literal, quotes and backslashes escaped, control characters
 * dropped. */
void dot_str(FILE *out, const char *s);

/* render_dot_pool.c: the pool of finding f (f->pool_info.present) and its tasks. */
void dot_draw_pool(const dctx *d, const pg_finding *f);

#endif

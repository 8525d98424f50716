/*
 * The solved wait-for graph that ext_analyze (attach.c) leaves in ext_proc.graph and
 * ext_write_report (attach_report.c) writes from: one node per thread, in the order of
 * ext_proc.threads, and the findings of shim/detect/graph.c. Private to analyzer/attach/.
 */
#ifndef POOLGUARD_ATTACH_GRAPH_H
#define POOLGUARD_ATTACH_GRAPH_H

#include "graph.h"

enum { MAX_FINDINGS = 64 };

typedef struct graph {
    struct pg_gnode *nodes;
    struct pg_gfinding findings[MAX_FINDINGS];
    int nfindings;
} graph;

#endif

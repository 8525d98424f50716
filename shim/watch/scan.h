/*
 * One watchdog scan's snapshot of the thread table, shared by the deadlock analysis (watchdog.c)
 * and the pool analysis (pool.c). Owned by the watchdog thread: nothing else touches it.
 */
#ifndef POOLGUARD_SCAN_H
#define POOLGUARD_SCAN_H

#include "graph.h"
#include "report_file.h"

struct snap {
    struct pg_thread *slot;
    uint32_t gen;
    uint64_t seq;
    pid_t tid;
    int waiting;
    uint32_t wkind;
    int timed;
    uintptr_t wobj, wextra;
    uint64_t since_ns;
    pid_t owner, target;
};

PG_HIDDEN extern struct snap *pg_snaps;
PG_HIDDEN extern struct pg_gnode *pg_nodes;
PG_HIDDEN extern struct pg_gfinding pg_findings[];

PG_HIDDEN void pg_fill_rthread(struct pg_rthread *rt, int i, const char *role, uint64_t now);
PG_HIDDEN int pg_node_confirmed(int i);
/* 1 if the kernel has the thread runnable (woken or running), 0 if asleep, -1 if unknown. */
PG_HIDDEN int pg_thread_runnable(pid_t tid);
/* Nanoseconds from since to now, less the time the whole process was stopped. */
PG_HIDDEN uint64_t pg_blocked_ns(uint64_t since, uint64_t now);
/* The times the whole process was stopped that pg_blocked_ns leaves out: at most max. */
PG_HIDDEN int pg_stop_gaps(uint64_t *start, uint64_t *len, int max);
PG_HIDDEN void pg_act_on_finding(void);
PG_HIDDEN void pg_note_finding(const char *kind, const char *summary);

/* pool.c: finds exhausted and growing pools in this scan; reports them and marks the threads it
 * reported, so the deadlock analysis does not report the same threads again. */
PG_HIDDEN int pg_pool_init(uint32_t size);
PG_HIDDEN void pg_pool_scan(int n, uint64_t now);

/* pyscan.c: asks a Python interpreter in the process about threads that stay blocked. */
PG_HIDDEN void pg_pyscan(int n, uint64_t now);

#endif

/*
 * The watchdog's scan, as its parts see each other. Every POOLGUARD_INTERVAL_MS the scan loop
 * (watchdog.c) takes a snapshot of the thread table and builds the wait-for graph's nodes
 * (snapshot.c), solves the graph into findings (proof.c), hands the whole scan to the pool and
 * Python analyses (pool.c, pyscan.c) as a read-only struct pg_scan, then reports the deadlock
 * findings proven (proof.c). Each array belongs to the module that fills it; the others read it
 * through struct pg_scan. Everything here runs in the watchdog thread only.
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

/* One scan, read-only for the analyses it is handed to. Index i is the same thread in every array. */
struct pg_scan {
    int n;                              /* live threads snapshotted */
    uint64_t now;                       /* CLOCK_MONOTONIC at the scan's start */
    const struct snap *snaps;           /* snapshot.c */
    const struct pg_gnode *nodes;       /* snapshot.c builds them, the graph solver marks them */
    const struct pg_gfinding *findings; /* proof.c: the graph's findings, nf of them */
    int nf;
};

/* snapshot.c: maps the scan's arrays for the whole table (once, at start-up); 0 or -errno. */
PG_HIDDEN int pg_snapshot_init(void);
/* Snapshots the live threads and builds their nodes; fills sc and counts the nodes blocked (and
 * those woken by anyone). Returns the nodes, for the solver to mark. */
PG_HIDDEN struct pg_gnode *pg_snapshot_take(struct pg_scan *sc, uint64_t now, int *nblocked,
                                            int *any_blocked);
/* Thread i of the current scan as the report shows it (its stack unwound if it still waits). */
PG_HIDDEN void pg_fill_rthread(struct pg_rthread *rt, int i, const char *role, uint64_t now);

/* proof.c: solves the scan's graph into findings (sc->findings); then, once the other analyses
 * have run, reports those confirmed over two scans and remembers which threads were stuck. */
PG_HIDDEN void pg_proof_solve(struct pg_scan *sc, struct pg_gnode *g, int nblocked,
                              int any_blocked);
PG_HIDDEN void pg_proof_report(const struct pg_scan *sc);
PG_HIDDEN int pg_proof_init(void);
/* Thread i of the current scan was stuck in the same wait at the previous scan. */
PG_HIDDEN int pg_node_confirmed(int i);
/* The thread's wait in s was reported in a finding already; mark it so (every analysis does, so
 * that no other analysis reports the same threads again). */
PG_HIDDEN int pg_reported(const struct snap *s);
PG_HIDDEN void pg_mark_reported(const struct snap *s);
/* procfs.c. 1 if the kernel has the thread runnable (woken or running), 0 if asleep, -1 if unknown. */
PG_HIDDEN int pg_thread_runnable(pid_t tid);
/* The process's threads other than the shim's own; -1 if unknown. */
PG_HIDDEN int pg_count_tasks(void);
/* The program's threads still alive (not zombies), the shim's left out; -1 if unknown. */
PG_HIDDEN int pg_live_program_threads(void);
/* The program catches a signal that could arrive from outside and wake a thread. */
PG_HIDDEN int pg_async_handlers_installed(void);

/* stopgap.c. The scan loop notes the time of each scan, so that a stop of the process is seen. */
PG_HIDDEN void pg_note_gap(uint64_t now);
/* Nanoseconds from since to now, less the time the whole process was stopped. */
PG_HIDDEN uint64_t pg_blocked_ns(uint64_t since, uint64_t now);
/* The times the whole process was stopped that pg_blocked_ns leaves out: at most max. */
PG_HIDDEN int pg_stop_gaps(uint64_t *start, uint64_t *len, int max);
/* proof.c, for every analysis: POOLGUARD_ON_FINDING after an error; the finding's line on stderr. */
PG_HIDDEN void pg_act_on_finding(void);
PG_HIDDEN void pg_note_finding(const char *kind, const char *summary);

/* pool.c: finds exhausted and growing pools in this scan; reports them and marks the threads it
 * reported, so the deadlock analysis does not report the same threads again. */
PG_HIDDEN int pg_pool_init(uint32_t size);
PG_HIDDEN void pg_pool_scan(const struct pg_scan *sc);

/* pyscan.c: asks a Python interpreter in the process about threads that stay blocked. */
PG_HIDDEN void pg_pyscan(const struct pg_scan *sc);

#endif

/*
 * The wait-for graph and what can be proven from it. Pure: the watchdog fills an array of nodes
 * from a snapshot of the thread table, this module decides which threads can never run again and
 * groups them into findings. No allocation: the caller passes every array.
 *
 * A node is a thread. A blocked node names the threads that could wake it (a mutex's owner, the
 * readers a writer waits for, a joined thread) or says "any": a condition variable, semaphore or
 * futex that any thread might signal. A thread is stuck when it is blocked without a time limit
 * and every thread that could wake it is stuck too (the greatest such set); "any" is satisfied
 * only when every thread of the process is stuck and the caller has proven it sees them all.
 */
#ifndef POOLGUARD_GRAPH_H
#define POOLGUARD_GRAPH_H

#define PG_GW_UNTRACKED (-1) /* a live thread outside the table: it may run, so it may wake */
#define PG_GW_DEAD (-2)      /* a thread that has exited: it will never wake anyone */
#define PG_GRAPH_MAX_WAKERS 16

struct pg_gnode {
    /* Input. */
    int blocked; /* in an untimed wait */
    int any;     /* woken by whoever signals: no specific waker known */
    int nwakers;
    int wakers[PG_GRAPH_MAX_WAKERS]; /* node indices, or PG_GW_* */
    /* Output. */
    int stuck;
    int finding;    /* index into the findings, or -1 */
    int cycle_next; /* in a cycle: the node it waits for along the cycle; else -1 */
    int waits_for;  /* a stuck node it waits for (the edge a report draws); else -1 */
};

enum pg_gfinding_kind {
    PG_GF_CYCLE,     /* threads waiting on each other in a ring */
    PG_GF_ABANDONED, /* waiting for a lock whose owner has exited */
    PG_GF_HANG,      /* every thread blocked and nobody left to wake anyone */
};

struct pg_gfinding {
    int kind;
    int start;    /* a cycle member; the waiter on the abandoned lock; the first hung node */
    int ncycle;   /* length of the cycle */
    int nmembers; /* threads in the finding, cycle included */
};

/* Solves the graph. all_tracked: the caller has checked that the nodes are every thread of the
 * process that could run. Returns the number of findings written to out (at most max_out). */
int pg_graph_solve(struct pg_gnode *nodes, int n, int all_tracked, struct pg_gfinding *out,
                   int max_out);

#endif

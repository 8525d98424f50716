/*
 * The Python rules (pyrules.c) as a pure function of one reading of the interpreter: which
 * ThreadPoolExecutors and multiprocessing ThreadPools are exhausted, stalled or growing, held to
 * the proof standard of docs/design.md ("Findings and their proof") and docs/python.md ("When the
 * watchdog asks, and what it reports"). No globals, no allocation, no system calls: the watchdog
 * (pyscan.c) reads the interpreter (python.h), adds what the native scan knows of each worker's
 * thread, calls pg_pr_judge() and writes the findings from the verdicts; the unit tests
 * (check_pyrules.c) build the reading by hand and run it in microseconds.
 *
 * Use: keep one zero-filled struct pg_pr_memory for the life of the process (what each pool
 * looked like at earlier readings, and what was reported of it); for each reading, fill a
 * struct pg_pr_in and call pg_pr_judge(). Every verdict it returns must be reported: the memory
 * already counts it as reported.
 */
#ifndef POOLGUARD_PYRULES_H
#define POOLGUARD_PYRULES_H

#include <stdint.h>

#include "python.h"

#define PG_PR_CONFIRM_MS                                                                           \
    1000                            /* how long a state must last when only some workers wait
                                        * on their own queue */
#define PG_PR_GROWTH_WINDOW_MS 2000 /* how long a queue past the limit must keep growing */
#define PG_PR_MAX_POOLS (PG_PY_MAX_EXECUTORS * 2)    /* pools remembered across readings */
#define PG_PR_MAX_VERDICTS (PG_PY_MAX_EXECUTORS * 2) /* a growth and an exhaustion per pool */

/*
 * What the native scan says of the thread behind a Python thread. Read only for pool workers
 * (pg_py_thread.executor >= 0); found == 0 when the thread is not in the scan.
 */
struct pg_pr_native {
    int found;
    int blocked;  /* in a wait without a time limit */
    int stuck;    /* the wait-for graph holds it stuck at this scan and the
                                        * one before, and the kernel has it asleep */
    uint64_t seq; /* its wait's sequence number: a new wait, a new number */
    int32_t tid;
    uint64_t since_ns;   /* when that wait began (CLOCK_MONOTONIC) */
    uint64_t blocked_ns; /* how long it has waited, less the time the whole process
                                        * was stopped (the watchdog's pg_blocked_ns) */
};

struct pg_pr_in {
    const struct pg_py_state *py;      /* the reading */
    const struct pg_pr_native *native; /* native[k] for py->threads[k] */
    uint64_t now;                      /* CLOCK_MONOTONIC, the scan's */
    long queue_limit;                  /* POOLGUARD_QUEUE_LIMIT */
    int stall_ms;                      /* POOLGUARD_STALL_MS */
};

/* What a pool looked like at earlier readings, and what was reported of it. */
struct pg_pr_pool {
    uintptr_t addr;        /* the pool object; 0: a free entry */
    uint64_t reported_sig; /* the workers' waits last reported (pg_pr_verdict.sig) */
    int growth_reported;   /* queue_growth is reported once per pool */
    long depth0;           /* the growth window: queue length and time at its start */
    uint64_t t0;
};

struct pg_pr_memory {
    struct pg_pr_pool pools[PG_PR_MAX_POOLS];
};

enum pg_pr_kind { PG_PR_EXHAUSTION = 1, PG_PR_STALL, PG_PR_GROWTH };
enum pg_pr_severity { PG_PR_INFO = 0, PG_PR_WARNING, PG_PR_ERROR };
enum pg_pr_proof { PG_PR_PROOF_NONE = 0, PG_PR_PROOF_GRAPH, PG_PR_PROOF_EXACT };

struct pg_pr_verdict {
    int kind, severity, proof;
    int executor;             /* index in py->executors */
    int nworkers;             /* its workers in the reading */
    uint64_t workers;         /* bit k: py->threads[k] is one of them */
    uint64_t waiting_own;     /* bit k: that worker waits on work queued on this pool */
    int own_thread, own_wait; /* the first such worker and its wait (index in waits[]),
                                        * or -1: the worker and work the summary names */
    int blocked_kind;         /* enum pg_py_blocked: the last blocked worker's wait */
    uint64_t sig;             /* the workers' native waits (seq, tid) hashed */
    double rate;              /* growth: tasks per second over the window */
};

struct pg_pr_out {
    int n;
    struct pg_pr_verdict v[PG_PR_MAX_VERDICTS];
    uint64_t recheck_at; /* when a candidate needs another reading; 0: none */
    int watch_growth;    /* a queue is long: read again every second */
};

/* Judges one reading: fills out with the verdicts, in the order to report them, and updates
 * mem. */
void pg_pr_judge(const struct pg_pr_in *in, struct pg_pr_memory *mem, struct pg_pr_out *out);

/* A thread blocked in a recognised wait of the standard library (not an idle pool worker). */
int pg_pr_blocking(int blocked);
/* The waited work is queued on pool and nothing else can complete the wait. */
int pg_pr_queued_on(const struct pg_py_wait *w, uintptr_t pool);
/* The hash the signatures are made with. */
uint64_t pg_pr_mix(uint64_t h, uint64_t v);

/* A verdict's kind, severity and proof as the report format's values (pg_format.h's pg_kind,
 * pg_severity, pg_proof), and their names there ("?" for a value outside the rules'). */
int pg_pr_kind_format(int kind);
int pg_pr_severity_format(int severity);
int pg_pr_proof_format(int proof);
const char *pg_pr_kind_name(int kind);         /* "pool_exhaustion", "stall", "queue_growth" */
const char *pg_pr_severity_name(int severity); /* "info", "warning", "error" */
const char *pg_pr_proof_name(int proof);       /* "none", "graph", "exact" */

#endif

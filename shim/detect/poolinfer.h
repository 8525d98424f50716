/*
 * Pool analysis as a pure function of one scan (poolinfer.c, poolinfer_queue.c and
 * poolinfer_verdict.c; poolinfer_int.h says which does what): which threads form a pool, what a
 * pool's idle wait and queue are, and which pools are exhausted, stalled or growing, held to the
 * proof standard of docs/design.md ("Findings and their proof"). No globals, no allocation, no
 * system calls: the watchdog (pool.c) fills the input from the thread table and writes the
 * report lines from the verdicts; the unit tests fill it from recorded traces (POOLGUARD_TRACE,
 * trace.c) or by hand, and run it in microseconds.
 *
 * Two live facts are costly to read (a thread's run state from /proc, a semaphore's value from
 * the program's memory) and needed only in rare cases, so the input carries them as lazily filled
 * caches: the module reads a value through the caller's callback the first time it needs it and
 * keeps the answer in the input, where the recorder finds it. Without a callback (a replay) what
 * is not in the cache is unknown.
 */
#ifndef POOLGUARD_POOLINFER_H
#define POOLGUARD_POOLINFER_H

#include <stdint.h>

/* Mirrors of the shim's constants (pg.h), checked at build time in pool.c. */
#define PG_PI_HIST 4
#define PG_PI_LOST 2
#define PG_PI_W_COND 5  /* PG_W_COND */
#define PG_PI_W_SEM 6   /* PG_W_SEM */
#define PG_PI_W_FUTEX 7 /* PG_W_FUTEX */

#define PG_PI_MAX_GROUPS 256 /* pools analyzed at once; state kept for as many */
#define PG_PI_MAX_VERDICTS (2 * PG_PI_MAX_GROUPS)
#define PG_PI_MAX_SEMS 32
#define PG_PI_MAX_GAPS 32
#define PG_PI_UNREAD (-2) /* a lazily read fact not read yet */

/* What kind of thread it is, as pool.c works it out from the module its start routine is in. */
enum pg_pi_class {
    PG_PI_CLASS_NONE = 0, /* no start routine known (the main thread) */
    PG_PI_CLASS_PLAIN,
    PG_PI_CLASS_RUNTIME,   /* a language runtime's thread (CPython, a JVM, .NET) */
    PG_PI_CLASS_STDTHREAD, /* std::thread: the key includes the callable's type */
};

struct pg_pi_thread {
    /* Input. */
    int32_t tid;
    uint32_t gen;   /* the slot's generation */
    uint64_t key;   /* hash of the start routine (and callable type); 0: none */
    uint32_t cls;   /* pg_pi_class */
    uintptr_t pool; /* runs a task of this exactly known pool (in pools[]) */
    int exact_idle; /* a worker of an exactly known pool between tasks (or of
                                        * one no longer known): never in an inferred pool */
    int waiting, timed;
    uint32_t wkind;
    uintptr_t wobj;
    int lockwait; /* a futex wait inside a library's lock (GLib's GMutex) */
    uint64_t seq, since_ns;
    int stuck, confirmed;      /* the wait-for graph: stuck, and so at the previous scan */
    int finding, finding_hang; /* its graph finding (-1 none), and whether that is a hang */
    int reported;              /* its current wait is already in a finding */
    int runnable;              /* 1, 0, -1 unknown; PG_PI_UNREAD: ask in->runnable */
    struct {
        uintptr_t obj;
        uint32_t count, kind;
    } hist[PG_PI_HIST];
    struct {
        uintptr_t obj;
        uint32_t count, kind;
        uint64_t seq;
    } lost[PG_PI_LOST];
    uintptr_t ann_task, ann_task_fn, ann_wait_task;
    uintptr_t sub_pool, sub_task;
    uint64_t sub_seq;
    /* Derived by the caller from the task table: the pool each task is still queued in, or 0. */
    uintptr_t wait_task_queued_in, sub_task_queued_in;

    /* Output. */
    int group; /* index into out->groups, or -1 */
    int next;  /* next member of the same group, or -1 */
    int mark;  /* put in a finding by this scan: its wait is now reported */
    int cand;  /* scratch */
};

/* A pool known exactly (annotations, a library adapter). */
struct pg_pi_pool {
    uintptr_t handle;
    int adapter; /* 1: a library adapter; 0: the program's annotations */
    int workers; /* declared; 0 if not known */
    uint64_t submitted, started, done;
};

struct pg_pi_in {
    uint64_t scan;   /* scan number, increasing */
    uint64_t now_ns; /* CLOCK_MONOTONIC */
    int interval_ms, stall_ms;
    long queue_limit;
    uint64_t rss_kb; /* the process's resident memory now; 0: unknown */
    /* Times the whole process was stopped: left out of every blocked time. */
    int ngaps;
    struct {
        uint64_t start, len;
    } gaps[PG_PI_MAX_GAPS];
    int nthreads;
    struct pg_pi_thread *threads;
    int npools;
    struct pg_pi_pool *pools;
    /* Semaphore values read so far (-1: unreadable). */
    int nsems;
    struct {
        uintptr_t obj;
        long value;
    } sems[PG_PI_MAX_SEMS];
    /* Live readers, NULL in a replay. */
    int (*runnable)(void *ctx, int i);
    long (*sem_value)(void *ctx, uintptr_t sem);
    void *ctx;
};

/* What a pool looked like over time, kept across scans. */
struct pg_pi_pstate {
    uint64_t key;
    uint64_t last_scan;
    uintptr_t idle_obj;
    uint32_t idle_kind;
    uint64_t lost_base;       /* lost signals on idle_obj when a worker was last idle */
    uint64_t reported_sig[3]; /* signature of the waits last reported, per severity */
    uint64_t prev_sig;        /* signature of the waits at the previous scan */
    int growth_reported;
    uint64_t win_start_ns;
    long win_start_depth;
    uint64_t rss_start_kb; /* the resident size (in->rss_kb) when the window began */
};

struct pg_pi_state {
    struct pg_pi_pstate ps[PG_PI_MAX_GROUPS];
};

enum pg_pi_kind { PG_PI_EXHAUSTION = 1, PG_PI_STALL, PG_PI_GROWTH };
enum pg_pi_severity { PG_PI_INFO = 0, PG_PI_WARNING, PG_PI_ERROR };
enum pg_pi_proof {
    PG_PI_PROOF_NONE = 0,
    PG_PI_PROOF_GRAPH,
    PG_PI_PROOF_EXACT,
    PG_PI_PROOF_INFERRED
};
enum pg_pi_evidence {
    PG_PI_EV_STALL = 0, /* nothing but time */
    PG_PI_EV_SIGNALS,   /* signals with no idle worker */
    PG_PI_EV_SEMCOUNT,  /* semaphore count */
    PG_PI_EV_ADAPTER,
    PG_PI_EV_ANNOTATION,
};

struct pg_pi_group {
    uint64_t key;
    int n;      /* members */
    int first;  /* first member; the rest through threads[].next */
    int pool;   /* index into in->pools, or -1: inferred */
    int state;  /* index into state->ps, or -1: not analyzed */
    int single; /* an inferred group of one thread (see build_groups) */
    /* What the analysis saw, for POOLGUARD_DEBUG and the tests. */
    int analyzed;
    int idle, blocked, stuck, graph_stuck, submit_wait;
    long queued;
};

struct pg_pi_verdict {
    int kind, severity, proof, evidence;
    int group;
    long queued;
    int exact;          /* the queue depth is exact */
    uint64_t age_ms;    /* how long the newest blocked worker has been blocked */
    double rate;        /* growth: tasks per second */
    uint64_t window_ms; /* growth: the window the rate was measured over */
};

struct pg_pi_out {
    int ngroups;
    struct pg_pi_group groups[PG_PI_MAX_GROUPS];
    int nverdicts;
    struct pg_pi_verdict verdicts[PG_PI_MAX_VERDICTS];
};

/* The hash that makes pool keys: pool.c's thread keys (start routine, callable type) and the
 * rules' keys for pools known exactly are one space, so both mix with this one function. */
static inline uint64_t pg_pi_mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h;
}

/* Analyzes one scan: fills out, updates state and the threads' output fields. */
void pg_pi_scan(struct pg_pi_in *in, struct pg_pi_state *state, struct pg_pi_out *out);

/* Nanoseconds from since to now, less the gaps (the watchdog's pg_blocked_ns, over in->gaps). */
uint64_t pg_pi_blocked_ns(const struct pg_pi_in *in, uint64_t since);

/* A verdict's kind and severity as the report format's (pg_format.h) values. */
int pg_pi_kind_format(int kind);
int pg_pi_severity_format(int severity);
/* Names of a verdict's members: the report format's ("?" for a value outside the enum). */
const char *pg_pi_kind_name(int kind);
const char *pg_pi_severity_name(int severity);
const char *pg_pi_proof_name(int proof);
const char *pg_pi_evidence_name(int evidence);

#endif

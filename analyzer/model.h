/*
 * The analyzer's data model: what a raw report says, after parsing, plus what the analyzer adds
 * (symbolized frames, duplicate counts, suppression marks). Plain structs, because every renderer
 * walks them; the report that owns them (report.h) is opaque. Nothing here allocates.
 *
 * Limits: everything read from a report is capped (PG_MAX_*), so a hostile or runaway file costs
 * bounded memory. What is dropped is counted and reported as a warning, never silently.
 */
#ifndef POOLGUARD_MODEL_H
#define POOLGUARD_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum {
    PG_MAX_LINE = 1 << 20,      /* bytes in one raw-report line */
    PG_MAX_FINDINGS = 10000,    /* findings kept over all inputs */
    PG_MAX_SNAPSHOTS = 1000,
    PG_MAX_PROCESSES = 10000,
    PG_MAX_MODULES = 4096,      /* per process */
    PG_MAX_THREADS = 1024,      /* per finding or snapshot */
    PG_MAX_FRAMES = 256,        /* raw addresses per stack */
    PG_MAX_HOLDS = 64,
    PG_MAX_CYCLE = 1024,
    PG_MAX_ARGV = 64,
    PG_MAX_STRING = 4096,       /* any string member is cut to this many bytes */
};

/* One frame of a symbolized stack. One raw address may give several frames (inlined calls). */
typedef struct pg_frame {
    uint64_t pc;           /* the address as recorded */
    char *function;        /* demangled; NULL when unknown */
    char *file;            /* NULL when unknown */
    unsigned line;         /* 0 when unknown */
    const char *module;    /* owned by the process's module table; NULL when no module holds pc */
    uint64_t offset;       /* pc - module base */
    bool inlined;          /* this call was inlined into the next frame */
    bool folded;           /* in the shim, libc or the dynamic loader: hidden by default */
    bool own;              /* in the program's own code (not a system library) */
} pg_frame;

typedef struct pg_stack {
    uint64_t *pcs;
    size_t npcs;
    size_t dropped;        /* addresses beyond PG_MAX_FRAMES */
    pg_frame *frames;      /* filled by the symbolizer */
    size_t nframes;
} pg_stack;

typedef struct pg_lock {
    char *kind;
    uint64_t address;
    bool has_pc;
    uint64_t pc;           /* return address of the call that took the lock */
    pg_stack where;        /* pc symbolized (one address, maybe several inlined frames) */
} pg_lock;

typedef struct pg_wait {
    bool present;          /* false: the thread is running (snapshots) or nothing was said */
    char *kind;
    uint64_t address;
    bool timed;
    int64_t since_ms;      /* -1 when unknown */
    long owner;            /* -1 when unknown */
    long target;           /* -1 when unknown */
} pg_wait;

typedef struct pg_thread {
    long tid;
    char *name;
    char *role;
    bool is_main;
    bool has_start;
    uint64_t start_routine;
    pg_stack start;        /* start_routine symbolized (an exact address, not a return address) */
    pg_wait blocked;
    pg_lock *holds;
    size_t nholds;
    pg_stack stack;
    pg_stack create_stack;
    pg_stack python;       /* interpreter frames (no addresses), innermost first; may be empty */
} pg_thread;

typedef struct pg_edge {
    long tid;
    long waits_for;
    char *kind;
    uint64_t address;
} pg_edge;

typedef struct pg_module {
    char *path;
    uint64_t base, start, end;
    char *build_id;        /* lower-case hex; NULL when absent */
} pg_module;

typedef struct pg_process {
    char *source;          /* the raw report file */
    long pid, ppid;
    char *exe;
    char **argv;
    size_t nargv;
    int64_t start_unix_ms;
    pg_module *modules;
    size_t nmodules;
} pg_process;

typedef enum pg_severity { PG_SEV_NONE = 0, PG_SEV_INFO = 1, PG_SEV_WARNING = 2, PG_SEV_ERROR = 3 } pg_severity;

typedef struct pg_finding {
    pg_process *proc;
    long seq;
    char *kind;
    char *severity;
    pg_severity sev;
    int64_t time_unix_ms;
    char *summary;
    pg_edge *cycle;
    size_t ncycle;
    bool hang;
    json_t *pool;          /* passed through as written: its schema belongs to the shim */
    pg_thread *threads;
    size_t nthreads;
    size_t threads_dropped;

    /* Filled by analysis (analyze.h). */
    char *signature;       /* kind + blocked frames' function names; stable across runs */
    unsigned count;        /* occurrences folded into this one (1 when unique) */
    long *pids;            /* the processes it was seen in (first PG_MAX_THREADS) */
    size_t npids;
    bool duplicate;        /* folded into an earlier finding */
    bool suppressed;       /* matched a suppression */
    bool baselined;        /* listed in the baseline */
} pg_finding;

typedef struct pg_snapshot {
    pg_process *proc;
    int64_t time_unix_ms;
    char *reason;
    pg_thread *threads;
    size_t nthreads;
    size_t threads_dropped;
} pg_snapshot;

/* A finding is shown unless it was folded into another, suppressed or in the baseline. */
static inline bool pg_finding_shown(const pg_finding *f)
{
    return !f->duplicate && !f->suppressed && !f->baselined;
}

pg_severity severity_parse(const char *s);
const char *severity_name(pg_severity s);

#endif

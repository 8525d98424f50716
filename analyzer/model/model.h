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

#include "pg_format.h"

enum {
    PG_MAX_LINE = 1 << 20,   /* bytes in one raw-report line */
    PG_MAX_FINDINGS = 10000, /* findings kept over all inputs */
    PG_MAX_SNAPSHOTS = 1000,
    PG_MAX_PROCESSES = 10000,
    PG_MAX_MODULES = 4096, /* per process */
    PG_MAX_THREADS = 1024, /* per finding or snapshot */
    PG_MAX_FRAMES = 256,   /* raw addresses per stack */
    PG_MAX_HOLDS = 64,
    PG_MAX_CYCLE = 1024,
    PG_MAX_ARGV = 64,
    PG_MAX_STRING = 4096,    /* any string member is cut to this many bytes */
    PG_MAX_QUEUED_TASKS = 8, /* a pool's queued_tasks[] kept (the shim writes at most 8) */
};

/* One frame of a symbolized stack. One raw address may give several frames (inlined calls). */
typedef struct pg_frame {
    uint64_t pc;        /* the address as recorded */
    char *function;     /* demangled; NULL when unknown */
    char *file;         /* NULL when unknown */
    unsigned line;      /* 0 when unknown */
    const char *module; /* owned by the process's module table; NULL when no module holds pc */
    uint64_t offset;    /* pc - module base */
    bool inlined;       /* this call was inlined into the next frame */
    bool folded;        /* in the shim, libc or the dynamic loader: hidden by default */
    bool own;           /* in the program's own code (not a system library) */
} pg_frame;

typedef struct pg_stack {
    uint64_t *pcs;
    size_t npcs;
    size_t dropped;   /* addresses beyond PG_MAX_FRAMES */
    pg_frame *frames; /* filled by the symbolizer */
    size_t nframes;
} pg_stack;

/* What names a lock (a mutex, rwlock, or any object waited on), looked up once per distinct
 * address of a finding or snapshot (symbolize_locks.c) and worded by describe.c: the data symbol of a
 * module that holds it (global and static locks), else where it was initialized, else where it
 * was first taken in a pair (heap and stack locks; return addresses, as the shim recorded them). */
typedef enum pg_site_kind { PG_SITE_NONE, PG_SITE_INIT, PG_SITE_FIRST_TAKEN } pg_site_kind;

typedef struct pg_lockname {
    uint64_t address;
    const char *kind; /* as the first mention says it (owned by that mention); may be NULL */
    uint64_t init_pc; /* 0 when the report did not say */
    uint64_t first_taken_pc;
    bool looked_up;      /* the symbolizer has filled what follows */
    char *symbol;        /* the variable holding it: "accounts_lock", "app::registry"; NULL */
    char *member;        /* where in it, from DWARF: ".lock", "[3].mu"; NULL when not known */
    uint64_t sym_offset; /* address minus the variable's start */
    char *decl_file;     /* where the variable is defined (DWARF); NULL when not known */
    unsigned decl_line;
    const char *module;     /* owned by the process's module table; NULL when no module holds it */
    pg_site_kind site_kind; /* for a lock no symbol names */
    pg_stack site;          /* the site's pc symbolized (a return address) */
} pg_lockname;

/* The names of the locks of one finding or snapshot, one per address. Never reallocated once
 * the references into it (the name members below) are set. */
typedef struct pg_locknames {
    pg_lockname *v;
    size_t n;
} pg_locknames;

/* What the raw report says of where a lock was made and first taken (0: not said). */
typedef struct pg_lock_sites {
    uint64_t init_pc;
    uint64_t first_taken_pc;
} pg_lock_sites;

typedef struct pg_lock {
    char *kind;
    uint64_t address;
    bool has_pc;
    uint64_t pc;    /* return address of the call that took the lock */
    pg_stack where; /* pc symbolized (one address, maybe several inlined frames) */
    pg_lock_sites sites;
    const pg_lockname *name; /* in the finding's or snapshot's locks; NULL when not named */
} pg_lock;

typedef struct pg_wait {
    bool present; /* false: the thread is running (snapshots) or nothing was said */
    char *kind;
    uint64_t address;
    bool timed;
    int64_t since_ms;        /* -1 when unknown */
    long owner;              /* -1 when unknown */
    long target;             /* -1 when unknown */
    const pg_lockname *name; /* NULL when not named (joins, or nothing known) */
} pg_wait;

/* A task function: an exact function address (not a return address), and its name once
 * symbolized. */
typedef struct pg_fn {
    bool present;
    uint64_t address;
    pg_stack sym; /* address symbolized; the outermost frame is the function itself */
} pg_fn;

/* A task a thread waits for (annotated pools, library adapters, the Python layer): known
 * exactly, not inferred. */
typedef struct pg_task_wait {
    bool present;
    uint64_t address;
    char *state; /* "queued", "running" or "unknown" as written */
    bool has_pool;
    uint64_t pool;  /* the pool whose queue holds it (state queued) */
    long runner;    /* the tid running it (state running); -1 when unknown */
    pg_fn function; /* the task's function, when known */
} pg_task_wait;

/* A task still queued in a pool: one of the pool's queued_tasks[], or the task a worker
 * submitted to its own pool before its current wait (a thread's submitted_task). */
typedef struct pg_task_ref {
    bool present;
    uint64_t address; /* the task's identity, not an address to look up */
    pg_fn function;
    char *state;   /* submitted_task only: "queued" as written; NULL when absent */
    long position; /* in the queue, 1 = next to run; -1 when unknown */
} pg_task_ref;

typedef struct pg_mthread {
    long tid;
    char *name;
    char *role;
    int role_id; /* pg_role; -1 when absent or not one of the format's roles */
    bool is_main;
    bool has_start;
    uint64_t start_routine;
    pg_stack start; /* start_routine symbolized (an exact address, not a return address) */
    pg_wait blocked;
    pg_lock *holds;
    size_t nholds;
    pg_stack stack;
    pg_stack create_stack;
    pg_stack python;     /* interpreter frames (no addresses), innermost first; may be empty */
    json_t *python_info; /* the raw "python" object, passed through; NULL when absent */
    bool has_task;
    uint64_t task;       /* the task the thread runs (annotated pools) */
    pg_fn task_function; /* the function of the task the worker runs (exact pools) */
    pg_task_wait waits_for_task;
    pg_task_ref submitted_task; /* queued in its own pool before its current wait */
} pg_mthread;

typedef struct pg_edge {
    long tid;
    long waits_for;
    char *kind;
    uint64_t address;
    const pg_lockname *name;
} pg_edge;

/* One worker of a Python pool (the pool's tasks[]): the task it runs and what it waits on, as the
 * interpreter names them. Python functions have no addresses: a FUNC is a frame with function,
 * file and line (the function's first line), nothing to symbolize; function NULL when absent. */
typedef struct pg_py_task {
    char *thread;       /* threading's name for the worker; NULL when absent */
    long tid;           /* -1 when absent */
    pg_frame task;      /* the function of the task it runs */
    char *blocked;      /* python_blocked: "future_result", "event_wait", ...; NULL when absent */
    bool waits;         /* waits_for is an object */
    char *wait_kind;    /* "future", "async_result" or "coroutine"; NULL when another word */
    pg_frame wait_fn;   /* the function of the work waited on */
    pg_frame coroutine; /* wait_kind "coroutine": the coroutine run_coroutine_threadsafe runs */
    bool queued_here;   /* that work is still queued in this pool */
    long queue_pos;     /* its place in the queue, 0 = next to run; -1 when not said */
} pg_py_task;

/* The pool of a pool finding (pool_exhaustion, queue_growth), as the shim describes it. */
typedef struct pg_pool {
    bool present;
    uint64_t id;
    bool annotated;
    char *name;            /* annotated pools only; NULL when unnamed */
    long workers;          /* -1 when unknown */
    long declared_workers; /* -1 when not declared */
    bool has_start;
    uint64_t start_routine;
    pg_stack start;        /* start_routine symbolized (an exact address) */
    pg_stack create_stack; /* where the pool's threads (or the annotated pool) were created */
    bool has_idle;
    char *idle_kind;
    uint64_t idle_address;
    long queued; /* -1 when unknown */
    bool queued_exact;
    char *evidence;    /* as written: a code (pg_evidence), or an unknown writer's word */
    int evidence_code; /* pg_evidence (version 1's phrases mapped to theirs); -1 unknown */
    char *library;     /* "libuv", "glib", "python", ...; NULL for annotated and inferred pools */
    int library_id;    /* pg_library; -1 when absent or a library this analyzer does not know */
    int source;        /* pg_source; -1 when absent */
    int proof;         /* pg_proof; -1 when absent (older shims) */
    long max_workers;  /* the most workers the library runs at once; -1 when unknown */
    long active;       /* tasks running; -1 when unknown */
    pg_task_ref queued_tasks[PG_MAX_QUEUED_TASKS]; /* next to run first, as written */
    size_t nqueued_tasks;
    /* The Python layer's members (library "python"); NULL or -1 when absent. */
    char *py_kind;     /* the pool class: "concurrent.futures.ThreadPoolExecutor", ... */
    char *prefix;      /* an executor's thread name prefix */
    char *global;      /* the global of __main__ that holds the pool: "__main__.pool" */
    bool has_loop;     /* asyncio_loop: the pool is this event loop's default executor */
    char *loop_thread; /* the thread running that loop; NULL when not named */
    long loop_tid;
    long inqueue_len, taskqueue_len; /* a ThreadPool's two queues */
    bool has_py_tasks;    /* tasks[] is an array (the Python layer's structured members) */
    pg_py_task *py_tasks; /* one per worker, as written (at most PG_MAX_THREADS) */
    size_t npy_tasks;
} pg_pool;

/* How fast a pool's queue grows (queue_growth). Members are -1 when absent. */
typedef struct pg_growth {
    bool present;
    int64_t per_second, depth, window_ms, rss_growth_kb;
} pg_growth;

/* One edge of a lock_order cycle: thread tid took `then` while holding `first`. */
typedef struct pg_order_edge {
    char *first_kind;
    uint64_t first;
    char *then_kind;
    uint64_t then;
    long tid;
    char *name;
    bool has_first_pc;
    uint64_t first_pc; /* return address of the call that took `first` */
    pg_stack first_at; /* first_pc symbolized */
    pg_stack stack;    /* where `then` was taken */
    pg_lock_sites first_sites, then_sites;
    const pg_lockname *first_name, *then_name;
} pg_order_edge;

typedef struct pg_module {
    char *path;
    uint64_t base, start, end;
    char *build_id; /* lower-case hex; NULL when absent */
} pg_module;

typedef struct pg_process {
    char *source; /* the raw report file */
    long pid, ppid;
    char *exe;
    char **argv;
    size_t nargv;
    int64_t start_unix_ms;
    long version; /* the header's format version */
    pg_module *modules;
    size_t nmodules;
} pg_process;

typedef struct pg_finding {
    pg_process *proc;
    long seq;
    char *kind;      /* as written ("unknown" when absent) */
    pg_kind kind_id; /* PG_KIND_NONE when not one of the format's kinds */
    char *severity;
    pg_severity sev;
    int64_t time_unix_ms;
    char *summary;
    pg_edge *cycle;
    size_t ncycle;
    bool hang;
    json_t *pool;      /* the raw pool object: members the analyzer does not know pass through */
    pg_pool pool_info; /* the members it knows, parsed (present when pool is an object) */
    pg_growth growth;
    pg_order_edge *order; /* lock_order: the cycle of lock orders, in order */
    size_t norder;
    pg_mthread *threads;
    size_t nthreads;
    size_t threads_dropped;
    pg_locknames locks; /* every lock and object address above, once */

    /* Filled by analysis (analyze.h). */
    char *shim_summary; /* the shim's own sentence, when analysis rewrote summary */
    char *signature;    /* kind + blocked frames' function names; stable across runs */
    unsigned count;     /* occurrences folded into this one (1 when unique) */
    long *pids;         /* the processes it was seen in (first PG_MAX_THREADS) */
    size_t npids;
    bool duplicate;  /* folded into an earlier finding */
    bool suppressed; /* matched a suppression */
    bool baselined;  /* listed in the baseline */
} pg_finding;

typedef struct pg_snapshot {
    pg_process *proc;
    int64_t time_unix_ms;
    char *reason;
    pg_mthread *threads;
    size_t nthreads;
    size_t threads_dropped;
    pg_locknames locks;
} pg_snapshot;

/* A finding is shown unless it was folded into another, suppressed or in the baseline. */
static inline bool pg_finding_shown(const pg_finding *f)
{
    return !f->duplicate && !f->suppressed && !f->baselined;
}

pg_severity severity_parse(const char *s);
const char *severity_name(pg_severity s);

#endif

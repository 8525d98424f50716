/*
 * Pools known exactly (annotate.c), read by the watchdog (pool.c). Two kinds of source feed the
 * same model: the program's own annotations (poolguard.h) and the shim's library adapters
 * (adapt_*.c), which interpose a pool library's exported API on unmodified binaries. Either way
 * the shim learns each submission, each task's start and end, and so the exact queue depth, the
 * task each worker runs and whether a task is still queued.
 *
 * Every function here runs on the program's threads, often once per task: no allocation, no locks,
 * fixed tables. When a table is full the shim says so once and the pool counters go on.
 */
#ifndef POOLGUARD_ANNOTATE_H
#define POOLGUARD_ANNOTATE_H

#include "pg.h"

#define PG_MAX_APOOLS 256
#define PG_TASKSET 65536 /* queued (submitted, not started) tasks tracked exactly */
#define PG_APOOL_TOMB ((uintptr_t)1)

struct pg_apool {
    _Atomic uintptr_t handle; /* 0: free; PG_APOOL_TOMB: destroyed */
    char name[48];
    char library[16];    /* "libuv", "glib", ...; empty for annotations */
    _Atomic int workers; /* the most workers the pool runs at once; 0 if not known */
    /* Submitters and workers count on separate cache lines: on a busy pool they run at once. */
    _Atomic uint64_t submitted __attribute__((aligned(64)));
    _Atomic uint64_t started __attribute__((aligned(64)));
    _Atomic uint64_t done __attribute__((aligned(64)));
    int ncreate;
    uintptr_t create_stack[8];
};

PG_HIDDEN extern struct pg_apool pg_apools[PG_MAX_APOOLS];
PG_HIDDEN struct pg_apool *pg_apool_find(uintptr_t handle);

/* What the shim knows of a queued task. */
struct pg_qtask {
    uintptr_t pool; /* 0: not queued (running, done, or never submitted) */
    uintptr_t fn;   /* the task's function, 0 if not known */
    uint64_t seq;   /* its submission number in its pool (1 = the first) */
};
/* The pool a queued task was submitted to, or 0 if the task is not queued. */
PG_HIDDEN uintptr_t pg_task_queued_in(uintptr_t task);
PG_HIDDEN int pg_task_lookup(uintptr_t task, struct pg_qtask *out);
/* The queued tasks of a pool, oldest first, at most max (watchdog, at report time). */
struct pg_qtask_ent {
    uintptr_t task, fn;
    uint64_t seq;
};
PG_HIDDEN int pg_task_queue(uintptr_t pool, struct pg_qtask_ent *out, int max);
/* Where the task submitted as number seq stands in its pool's queue (1 = next to start). */
PG_HIDDEN long pg_task_position(uintptr_t pool, uint64_t seq);

/* For adapters and the public API alike. library NULL for annotations; skip: frames of the
 * caller's own to leave out of the creation stack (the adapter's wrapper). workers <= 0: unknown. */
PG_HIDDEN struct pg_apool *pg_apool_open(uintptr_t handle, const char *library, const char *name,
                                         int workers, int skip);
PG_HIDDEN void pg_apool_set_workers(uintptr_t handle, int workers);
PG_HIDDEN void pg_apool_close(uintptr_t handle);
PG_HIDDEN void pg_apool_submit(uintptr_t pool, uintptr_t task, uintptr_t fn);
PG_HIDDEN void pg_apool_start(uintptr_t pool, uintptr_t task, uintptr_t fn);
PG_HIDDEN void pg_apool_done(uintptr_t pool, uintptr_t task);

/* What the model knows of the calling thread (the task it runs, its last submission), saved by an
 * adapter before it starts a task inside another (a thread that runs a task while it waits) or
 * submits one that may never run, and put back afterwards. Claims the thread's slot if it has none,
 * as pg_apool_* would; t is NULL when the thread is not tracked. */
struct pg_apool_frame {
    struct pg_thread *t;
    uintptr_t ann_pool, ann_task, ann_task_fn, sub_pool, sub_task;
    uint64_t sub_seq;
};
PG_HIDDEN void pg_apool_frame_save(struct pg_apool_frame *f);
PG_HIDDEN void pg_apool_frame_restore(const struct pg_apool_frame *f);
/* A submission that will never run (the call failed, it was cancelled): it leaves the queue as
 * started and done at once, and the calling thread, which is not running it, gets back what the
 * model knew of it before (f, saved before the submission). */
PG_HIDDEN void pg_apool_unrun(uintptr_t pool, uintptr_t task, uintptr_t fn,
                              const struct pg_apool_frame *f);

/* Submissions made on other threads' behalf. A thread that cannot submit to a pool itself asks
 * another thread to (libuv: a task asks the loop thread through uv_async_send), then waits. While
 * the asked thread runs the callback that answers such requests, pg_attrib_cur points to the
 * senders, and every pg_apool_submit it makes is recorded on each sender's slot too (sub_pool,
 * sub_task, and as sub_seq the wait_seq the sender had when it asked), as if the sender had made
 * it: that is what links a worker to the queued task it waits for. A sender is only linked while
 * its slot is the same thread (gen) running the same task as when it asked. */
#define PG_ATTRIB_MAX 32
struct pg_sender {
    struct pg_thread *t;
    uint32_t gen;      /* t->gen when it asked */
    uintptr_t task;    /* the task t ran when it asked (never 0) */
    uint64_t wait_seq; /* t->wait_seq when it asked */
};
#define PG_ATTRIB_LIVE 0x61747472u /* in `live` while the callback that set it runs */
struct pg_attrib {
    /* PG_ATTRIB_LIVE from the callback's start to its end. A callback left by longjmp never
     * clears pg_attrib_cur: the frame it points to is then dead, and this word (cleared at a normal
     * end, or reused by later frames) tells so. */
    uint32_t live;
    /* Called before each submission, to add senders that asked since the callback began; or NULL. */
    void (*refresh)(struct pg_attrib *a);
    int n;
    struct pg_sender s[PG_ATTRIB_MAX];
};
PG_HIDDEN extern __thread struct pg_attrib *pg_attrib_cur
    __attribute__((tls_model("initial-exec")));
/* The calling thread as a sender: 1 and *out filled if it is tracked and runs a task of a pool
 * known exactly, else 0. Async-signal-safe (loads only). */
PG_HIDDEN int pg_sender_here(struct pg_sender *out);

#endif

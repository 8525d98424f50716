/*
 * The Python layer (python_*.c): when a CPython interpreter runs in the process, the watchdog can
 * ask it what the native layer cannot see: each Python thread's name and stack, each
 * concurrent.futures.ThreadPoolExecutor and multiprocessing.pool.ThreadPool with its workers and
 * queue (and, for an executor that is an asyncio event loop's default, that loop), and for a
 * worker blocked in Future.result() (or concurrent.futures.wait / as_completed) or in
 * AsyncResult.get()/wait() what it waits on, whether that work is still queued, and on which
 * pool; for a future of asyncio.run_coroutine_threadsafe, the executor job its coroutine awaits.
 * docs/python.md tells how and where the limits are.
 *
 * Nothing here links against libpython: every CPython function is looked up with
 * dlsym(RTLD_DEFAULT) on the first call. A process without an interpreter pays one failed look-up
 * per call (cached after the first: -ENOENT comes back at once).
 *
 * The state is plain data with fixed-size arrays: the watchdog may copy it, keep it and write it
 * out without allocating. Pointers in it (addresses of Python objects) are identities only, never
 * to be dereferenced: the objects may be gone by the time anyone reads them.
 */
#ifndef POOLGUARD_PYTHON_H
#define POOLGUARD_PYTHON_H

#include <stdint.h>
#include <sys/types.h>

#include "jsonw.h"

#define PG_PY_MAX_THREADS 64
#define PG_PY_MAX_FRAMES 32
#define PG_PY_MAX_EXECUTORS 16
#define PG_PY_MAX_WAITS 4 /* futures recorded per waiting thread (wait()/as_completed()) */
#define PG_PY_NAME 64
#define PG_PY_FILE 128 /* long paths keep their end: the file name matters most */

/* A Python function: qualified name and where it is defined, or where a frame is. */
struct pg_py_func {
    char name[PG_PY_NAME]; /* co_qualname (3.11+) or co_name; "" if unknown */
    char file[PG_PY_FILE];
    int line; /* frames: the current line; callables: the first line */
};

enum pg_py_future_state {
    PG_PY_F_UNKNOWN = 0,
    PG_PY_F_PENDING, /* not started: its work item has not been taken by a worker */
    PG_PY_F_RUNNING,
    PG_PY_F_CANCELLED,
    PG_PY_F_FINISHED, /* also CANCELLED_AND_NOTIFIED */
};

/* What the innermost recognised standard-library frames say a thread is doing. */
enum pg_py_blocked {
    PG_PY_B_NONE = 0,       /* running, or in a call of its own (time.sleep, lock.acquire...) */
    PG_PY_B_FUTURE_RESULT,  /* Future.result() or Future.exception() */
    PG_PY_B_FUTURES_WAIT,   /* concurrent.futures.wait() */
    PG_PY_B_AS_COMPLETED,   /* iterating concurrent.futures.as_completed() */
    PG_PY_B_EVENT_WAIT,     /* threading.Event.wait() */
    PG_PY_B_CONDITION_WAIT, /* threading.Condition.wait()/wait_for() */
    PG_PY_B_SEMAPHORE,      /* threading.Semaphore.acquire() */
    PG_PY_B_BARRIER,        /* threading.Barrier.wait() */
    PG_PY_B_THREAD_JOIN,    /* threading.Thread.join() */
    PG_PY_B_QUEUE_GET,      /* queue.Queue.get() */
    PG_PY_B_WORKER_IDLE,    /* a pool worker waiting for work */
    PG_PY_B_ASYNC_RESULT,   /* multiprocessing.pool AsyncResult.get()/wait() */
};

/* The kinds of pool the layer models. */
enum pg_py_pool_kind {
    PG_PY_POOL_EXECUTOR = 0,  /* concurrent.futures.ThreadPoolExecutor (or a subclass) */
    PG_PY_POOL_MP_THREADPOOL, /* multiprocessing.pool.ThreadPool (multiprocessing.dummy.Pool) */
};

/* What a waited object is. */
enum pg_py_wait_kind {
    PG_PY_W_FUTURE = 0,   /* a concurrent.futures.Future */
    PG_PY_W_ASYNC_RESULT, /* a multiprocessing.pool ApplyResult/MapResult */
};

/*
 * A future (or AsyncResult) a thread waits on. The work that completes it is, in order: its own
 * work item (a future of an executor, a job of a ThreadPool); or, for a future that an asyncio
 * Task completes (asyncio.run_coroutine_threadsafe), the executor future that Task awaits
 * (`needs`, e.g. loop.run_in_executor's). work_item, queued_in, queue_pos, run_by and fn are
 * about that work.
 */
struct pg_py_wait {
    uintptr_t future;   /* the Future / AsyncResult object's address */
    int kind;           /* enum pg_py_wait_kind */
    int state;          /* enum pg_py_future_state; for an AsyncResult: PENDING when a
                                    * task of its job is queued, RUNNING when one runs, FINISHED
                                    * when its event is set, UNKNOWN otherwise */
    long job;           /* an AsyncResult's job number, else -1 */
    uintptr_t via_task; /* the asyncio Task whose end completes this future, else 0 */
    int has_coro;
    struct pg_py_func coro; /* that Task's coroutine function */
    uintptr_t needs;        /* the executor future that Task awaits, else 0 */
    int needs_state;        /* its enum pg_py_future_state */
    int needs_timed;        /* that Task has an asyncio timeout running: it may be cancelled */
    uintptr_t work_item;    /* its _WorkItem / task tuple when found (queued or running) */
    uintptr_t queued_in;    /* the pool whose queue holds that work, else 0 */
    long queue_pos;         /* its position in that queue (0: next to run), -1 if not queued */
    unsigned long run_by;   /* ident of the worker running it, else 0 */
    int has_fn;
    struct pg_py_func fn; /* the function that work runs, when found */
};

struct pg_py_thread {
    unsigned long ident;   /* threading.get_ident() == pthread_self() of that thread */
    long native_id;        /* the kernel tid (Thread.native_id), 0 if unknown */
    char name[PG_PY_NAME]; /* threading's Thread.name, "" if the thread is not in threading */
    int daemon;
    int nframes; /* frames[0] is the innermost */
    int depth;   /* the whole stack's depth (may exceed nframes) */
    struct pg_py_func frames[PG_PY_MAX_FRAMES];
    int blocked; /* enum pg_py_blocked */
    int timed;   /* that wait has a timeout: a retry, not a hang */

    int executor; /* index in pg_py_state.executors if a pool worker, else -1 */
    uintptr_t executor_addr;
    uintptr_t work_item; /* the work item (task tuple) it runs now, 0 if idle or none */
    uintptr_t work_future;
    long work_job; /* ThreadPool workers: the job of the task it runs, else -1 */
    int has_task;
    struct pg_py_func task; /* the function of that work item */

    int nwaits;
    int waits_dropped; /* waited futures not recorded (array full) */
    struct pg_py_wait waits[PG_PY_MAX_WAITS];
};

/* A pool: a ThreadPoolExecutor, or a multiprocessing ThreadPool (kind). */
struct pg_py_executor {
    uintptr_t addr;            /* the ThreadPoolExecutor / ThreadPool object */
    int kind;                  /* enum pg_py_pool_kind */
    char prefix[PG_PY_NAME];   /* thread_name_prefix ("ThreadPoolExecutor-0" by default); "" for
                                    * a ThreadPool */
    char global[PG_PY_NAME];   /* "__main__.pool": a global of __main__ that refers to it, or "" */
    uintptr_t loop;            /* the asyncio event loop whose default executor this is, else 0 */
    unsigned long loop_thread; /* ident of the thread running that loop */
    int max_workers;           /* ThreadPool: its number of processes */
    int nthreads;              /* len(executor._threads) / len(pool._pool) */
    int nworkers_seen;         /* of those, how many are in threads[] */
    long queue_len;            /* work_queue.qsize(); ThreadPool: the two below added; -1 if
                                    * unknown */
    long inqueue_len;          /* ThreadPool: tasks handed to the workers' queue (_inqueue) */
    long taskqueue_len;        /* ThreadPool: submissions not yet handed over (_taskqueue); a
                                    * map() is one entry however many chunks it has */
    long queue_scanned;        /* queue entries looked at to place waited futures (0: no need) */
    int queue_scan_complete;   /* every entry was looked at */
    int shutdown;              /* executor.shutdown() was called; ThreadPool: closed/terminated */
    int broken;                /* BrokenThreadPool: a worker's initializer failed */
};

struct pg_py_state {
    char version[16];     /* "3.11.7" */
    unsigned hexversion;  /* 0x030b07f0-style, from Py_GetVersion */
    uint64_t gil_wait_ns; /* how long the inspector waited for the GIL */
    uint64_t read_ns;     /* how long it held the GIL */
    int nthreads;
    int threads_dropped; /* Python threads not recorded (array full) */
    struct pg_py_thread threads[PG_PY_MAX_THREADS];
    int nexecutors;
    int executors_dropped;
    struct pg_py_executor executors[PG_PY_MAX_EXECUTORS];
};

/*
 * Reads the interpreter. Called by the watchdog (one caller at a time: calls are serialised by a
 * lock of this module). Returns 0 and fills *out, or a negative errno:
 *   -ENOENT     no interpreter in this process (libpython's API is not there),
 *   -ENOTSUP    an interpreter of a version this module has not been verified on (see python.md),
 *   -EAGAIN     the interpreter is not initialised yet or is finalizing, or the inspector thread
 *               cannot be started,
 *   -ETIMEDOUT  the inspector did not get the GIL and finish within timeout_ms, or is still stuck
 *               from an earlier call (then it is not asked again until it comes back).
 * The work is done by an inspector thread of this module, started on the first call, which takes
 * the GIL; the caller only waits for it, at most timeout_ms. No Python code runs and no object of
 * the program is changed (see python_read.c and python_object.c).
 */
int pg_py_inspect(struct pg_py_state *out, int timeout_ms);

/* Kernel tid of the inspector thread, 0 if it does not run: the watchdog counts it as its own
 * (it is not in the thread table and never takes part in the program's waits). */
pid_t pg_py_inspector_tid(void);

/* Writes the state as one JSON object value (the caller writes the key or starts the line). */
void pg_py_write_json(struct pg_jw *w, const struct pg_py_state *st);
/* One Python function as {"function", "file", "line"}: in that JSON and in the findings. */
void pg_py_write_func(struct pg_jw *w, const struct pg_py_func *f);

const char *pg_py_blocked_name(int blocked);
const char *pg_py_future_state_name(int state);
const char *pg_py_pool_kind_name(int kind); /* "concurrent.futures.ThreadPoolExecutor" */
const char *pg_py_wait_kind_name(int kind); /* "future", "async_result" */

#endif

/*
 * The Python layer's internal interface, shared by its files and by nothing else (the rest of the
 * shim includes only python.h). The layer is split by concern:
 *   python_api.c        finding libpython and resolving its API with dlsym; the version check
 *   python_inspector.c  the inspector thread, the GIL, time-outs, fork; pg_py_inspect
 *   python_read.c       one reading with the GIL held: threads, stacks, the waits they are in
 *   python_executor.c   the pools' queues: lengths, and where waited work is queued
 *   python_mp.c         multiprocessing.pool.ThreadPool: pools, workers, tasks, AsyncResults
 *   python_asyncio.c    asyncio: loops' default executors, and the executor job a coroutine
 *                       behind a run_coroutine_threadsafe future awaits
 *   python_object.c     reading the program's objects without running any of its code
 *   python_gc.c         the cyclic collector, switched off while the inspector reads
 *   python_json.c       the state as JSON, and the names of its enums
 *   tests/lib/python_debug.c  POOLGUARD_PY_DEBUG, the test aid that calls pg_py_inspect (linked
 *                       only into build/libpoolguard-pydebug.so, never into the library users preload)
 *
 * Every name here is hidden (PG_HIDDEN) and prefixed pg_py_. The API table is resolved by the
 * caller of pg_py_inspect; everything declared after it runs in the inspector thread only, with
 * the GIL held, after a successful pg_py_resolve: no lock of its own, and no call into the
 * interpreter other than through pg_py_api.
 */
#ifndef POOLGUARD_PYTHON_INT_H
#define POOLGUARD_PYTHON_INT_H

#include "python.h"

#include "pg.h"

#include <stddef.h>
#include <sys/types.h>

typedef struct _object PyObject; /* opaque: no field of any Python object is read directly */
typedef ssize_t Py_ssize_t;

/* ---- The interpreter's API (python_api.c) -------------------------------------------------- */

/* The interpreter's API, resolved once by pg_py_resolve; after a successful resolve every member
 * except the optional ones is non-NULL. */
struct pg_py_api {
    int (*IsInitialized)(void);
    int (*IsFinalizing)(void); /* _Py_IsFinalizing (<3.13), Py_IsFinalizing */
    const char *(*GetVersion)(void);
    int (*GILState_Ensure)(void);
    void (*GILState_Release)(int);
    PyObject *(*Import_GetModuleDict)(void);
    PyObject *(*Module_GetDict)(PyObject *);
    PyObject *(*Dict_GetItemString)(PyObject *, const char *);
    PyObject *(*Dict_GetItem)(PyObject *, PyObject *);
    int (*Dict_Next)(PyObject *, Py_ssize_t *, PyObject **, PyObject **);
    PyObject *(*GetAttrString)(PyObject *, const char *);
    PyObject *(*CallObject)(PyObject *, PyObject *);
    PyObject *(*CallFunctionObjArgs)(PyObject *, ...);
    PyObject *(*Object_Type)(PyObject *);
    int (*Type_IsSubtype)(PyObject *, PyObject *);
    void (*IncRef)(PyObject *);
    void (*DecRef)(PyObject *);
    void (*Err_Clear)(void);
    const char *(*Unicode_AsUTF8AndSize)(PyObject *, Py_ssize_t *);
    unsigned long (*Long_AsUnsignedLong)(PyObject *);
    long (*Long_AsLong)(PyObject *);
    int (*Frame_GetLineNumber)(PyObject *);
    PyObject *(*Frame_GetVarString)(PyObject *, const char *); /* optional: 3.12+ */
    PyObject *(*GenericGetDict)(PyObject *, void *);
    PyObject *(*Weakref_GetObject)(PyObject *);
    PyObject *(*Object_GetIter)(PyObject *);
    PyObject *(*Iter_Next)(PyObject *);
    Py_ssize_t (*List_Size)(PyObject *);
    PyObject *(*List_GetItem)(PyObject *, Py_ssize_t);
    Py_ssize_t (*Tuple_Size)(PyObject *);
    PyObject *(*Tuple_GetItem)(PyObject *, Py_ssize_t);
    Py_ssize_t (*Set_Size)(PyObject *);
    int (*GC_Disable)(void); /* optional: 3.10+ */
    int (*GC_Enable)(void);
    void *(*Type_GetSlot)(PyObject *, int);
    PyObject *(*Tuple_Pack)(Py_ssize_t, ...);
    PyObject *(*Init_gc)(void); /* 3.8, 3.9: a module; later a module def */
    PyObject *(*Cell_Get)(PyObject *);
    PyObject *(*(*CFunction_GetFunction)(PyObject *))(PyObject *, PyObject *);
    int (*CFunction_GetFlags)(PyObject *);
    /* Built-in types and singletons: addresses of data symbols. */
    PyObject *t_frame, *t_code, *t_function, *t_method, *t_cfunction, *t_str, *t_int, *t_dict;
    PyObject *t_set, *t_list, *t_tuple, *t_weakref, *t_type, *t_module, *t_cell, *t_gen, *t_coro;
    PyObject *none, *py_true, *py_false;
};

PG_HIDDEN extern struct pg_py_api pg_py_api;
PG_HIDDEN extern char pg_py_version[16]; /* "3.11.7": valid once pg_py_resolve has run */
PG_HIDDEN extern unsigned pg_py_hexversion;

/* Resolves the API on the first call (and again after each -ENOENT: an interpreter may appear
 * later). Returns 0, -ENOENT (no libpython in the process) or -ENOTSUP (a version not verified). */
PG_HIDDEN int pg_py_resolve(void);

/* ---- One reading (python_read.c, python_executor.c) ---------------------------------------- */

/* Objects the inspection holds references to until it ends (released before the GIL is). */
#define PG_PY_MAX_KEPT 1024
#define PG_PY_MAX_PENDING (PG_PY_MAX_THREADS * PG_PY_MAX_WAITS)

/* The standard-library functions whose frames are recognised (code objects in pg_py_ctx.code). */
enum pg_py_code_kind {
    K_NONE = 0,
    K_RESULT,
    K_EXCEPTION,
    K_WAIT,
    K_AS_COMPLETED,
    K_EVENT_WAIT,
    K_COND_WAIT,
    K_COND_WAIT_FOR,
    K_SEM_ACQUIRE,
    K_BARRIER_WAIT,
    K_JOIN,
    K_QUEUE_GET,
    K_WORKER,
    K_RUN,
    K_APPLY_WAIT,
    K_APPLY_GET, /* multiprocessing.pool.ApplyResult.wait/get */
    K_MP_WORKER, /* multiprocessing.pool.worker */
    K_LOOP_RUN,  /* asyncio BaseEventLoop.run_forever */
    K_COUNT
};

#define PG_PY_MAX_LOOPS 8

/* One reading of the interpreter: what it found, and the references it holds until it ends. */
struct pg_py_ctx {
    PyObject *kept[PG_PY_MAX_KEPT];
    int nkept;
    PyObject *code[K_COUNT];
    PyObject *thread_cls, *mainthread_cls, *dummythread_cls, *active;
    PyObject *tpe_cls, *workitem_cls, *future_cls, *squeue_cls;
    PyObject *worker_fn, *partial_cls;
    /* multiprocessing.pool and multiprocessing.util (python_mp.c) */
    PyObject *mp_pool_cls, *mp_result_cls, *mp_worker_fn, *mapstar_fn, *starmapstar_fn;
    PyObject *mp_guarded_code, *finalize_cls, *event_cls;
    int nmp; /* ThreadPools found in the finalizer registry */
    PyObject *mp_obj[PG_PY_MAX_EXECUTORS], *mp_inq[PG_PY_MAX_EXECUTORS];
    /* asyncio (python_asyncio.c) */
    PyObject *loop_cls, *chain_cancel_code, *atask_cls, *apytask_cls, *afut_cls, *apyfut_cls;
    PyObject *timeout_cls, *timerhandle_cls;
    int nloops;
    PyObject *loop_obj[PG_PY_MAX_LOOPS];
    unsigned long loop_thread[PG_PY_MAX_LOOPS];
    /* The pools, in the order of pg_py_state.executors: the object, the workers' queue, and for a
     * ThreadPool the queue of submissions not yet handed to the workers. */
    PyObject *ex_obj[PG_PY_MAX_EXECUTORS];
    PyObject *ex_queue[PG_PY_MAX_EXECUTORS];
    PyObject *ex_taskq[PG_PY_MAX_EXECUTORS];
    /* Waited work, for placing it in queues and on running workers afterwards: a future (the
     * waited one, or the executor future a coroutine awaits: pend_needs), or a job number. */
    PyObject *pend_obj[PG_PY_MAX_PENDING];
    long pend_job[PG_PY_MAX_PENDING];
    int pend_needs[PG_PY_MAX_PENDING];
    struct pg_py_wait *pend[PG_PY_MAX_PENDING];
    int npend;
    PyObject *thread_obj[PG_PY_MAX_THREADS];
};

/* Reads the interpreter into *st (zeroed by the caller, version already set). Returns 0, or
 * -EAGAIN when the collector cannot be switched off (nothing is read then). */
PG_HIDDEN int pg_py_read_interpreter(struct pg_py_state *st);

/* The executors' settings and queue lengths; then the waited work's places in their queues;
 * then which worker runs each waited work. */
PG_HIDDEN void pg_py_read_executor(struct pg_py_ctx *c, struct pg_py_executor *e, PyObject *ex,
                                   PyObject *queue);
PG_HIDDEN long pg_py_qsize(struct pg_py_ctx *c, PyObject *queue);
PG_HIDDEN void pg_py_scan_queues(struct pg_py_ctx *c, struct pg_py_state *st);
PG_HIDDEN void pg_py_link_running(struct pg_py_state *st, struct pg_py_ctx *c);

/* python_read.c's helpers for the other readers. */
PG_HIDDEN PyObject *pg_py_code_of(struct pg_py_ctx *c, PyObject *fn); /* kept; or NULL */
/* The code (kept) of the Python function cls.name, read as pg_py_cattr reads; NULL when cls is
 * NULL or cls.name is not a Python function. */
PG_HIDDEN PyObject *pg_py_method_code(struct pg_py_ctx *c, PyObject *cls, const char *name);
PG_HIDDEN PyObject *pg_py_frame_local(PyObject *frame, const char *name);
PG_HIDDEN int pg_py_future_state(struct pg_py_ctx *c, PyObject *fut);
/* Registers a pool (kept referenced until the reading ends); its index, or -1. */
PG_HIDDEN int pg_py_pool_index(struct pg_py_ctx *c, struct pg_py_state *st, PyObject *pool,
                               PyObject *queue, int kind);
/* Records waited work for placement: a future (job < 0) or a job number. 0, or -1 when full. */
PG_HIDDEN int pg_py_add_pending(struct pg_py_ctx *c, struct pg_py_wait *w, PyObject *obj, long job,
                                int needs);

/* ---- multiprocessing.pool.ThreadPool (python_mp.c) ----------------------------------------- */

PG_HIDDEN void pg_py_mp_load(struct pg_py_ctx *c);
/* A thread whose target is multiprocessing.pool.worker: registers its pool. */
PG_HIDDEN void pg_py_mp_worker(struct pg_py_ctx *c, struct pg_py_state *st, struct pg_py_thread *th,
                               PyObject *target, PyObject *args);
/* The task a ThreadPool worker runs: `task` of its multiprocessing.pool.worker frame. */
PG_HIDDEN void pg_py_mp_task(struct pg_py_ctx *c, struct pg_py_thread *th, PyObject *frame);
/* A thread blocked in ApplyResult.get/wait: `self` of that frame. */
PG_HIDDEN void pg_py_mp_wait(struct pg_py_ctx *c, struct pg_py_thread *th, PyObject *result);
PG_HIDDEN void pg_py_mp_read_pool(struct pg_py_ctx *c, struct pg_py_state *st, int i);
/* The job of a queue entry: a task tuple (inqueue) or a submission (taskqueue); -1 if none. The
 * function it runs goes to *fn when fn is not NULL. */
PG_HIDDEN long pg_py_mp_entry_job(struct pg_py_ctx *c, PyObject *entry, int submission,
                                  struct pg_py_func *fn, int *has_fn);
PG_HIDDEN int pg_py_mp_describe_task(struct pg_py_ctx *c, PyObject *task, long *job,
                                     struct pg_py_func *fn);
/* Names pools after globals of __main__ that refer to them. */
PG_HIDDEN void pg_py_name_globals(struct pg_py_ctx *c, struct pg_py_state *st);

/* ---- asyncio (python_asyncio.c) ------------------------------------------------------------ */

PG_HIDDEN void pg_py_asyncio_load(struct pg_py_ctx *c);
/* A thread with a BaseEventLoop.run_forever frame: that loop runs in it. */
PG_HIDDEN void pg_py_asyncio_loop(struct pg_py_ctx *c, struct pg_py_thread *th, PyObject *frame);
/* Marks the executors that are a running loop's default executor. */
PG_HIDDEN void pg_py_asyncio_defaults(struct pg_py_ctx *c, struct pg_py_state *st);
/* For each waited PENDING future completed by an asyncio Task (run_coroutine_threadsafe): finds
 * the executor future that Task awaits, to be placed instead. */
PG_HIDDEN void pg_py_asyncio_chains(struct pg_py_ctx *c);

/* ---- Reading objects safely (python_object.c) ---------------------------------------------- */

/* Keeps a new reference until the reading ends; NULL (and the reference dropped) when full. */
PG_HIDDEN PyObject *pg_py_keep(struct pg_py_ctx *c, PyObject *o);
/* The object's exact type is `type` / is `type` or a subclass of it (NULL is neither). */
PG_HIDDEN int pg_py_is(PyObject *o, PyObject *type);
PG_HIDDEN int pg_py_is_sub(PyObject *o, PyObject *type);
/* Attribute readers: a new reference or NULL, never a pending exception. attr only for objects
 * of a checked exact type; iattr and tattr read subclasses' instances through their __dict__;
 * cattr reads a class whose metaclass is exactly type. */
PG_HIDDEN PyObject *pg_py_attr(PyObject *o, const char *name);
PG_HIDDEN PyObject *pg_py_iattr(PyObject *o, PyObject *exact, const char *name);
PG_HIDDEN PyObject *pg_py_tattr(struct pg_py_ctx *c, PyObject *t, const char *name);
PG_HIDDEN PyObject *pg_py_cattr(PyObject *cls, const char *name);
/* A loaded module's dict (borrowed), and a borrowed item of a dict; NULL if not there. */
PG_HIDDEN PyObject *pg_py_module_dict(const char *name);
PG_HIDDEN PyObject *pg_py_dget(PyObject *dict, const char *name);
PG_HIDDEN void pg_py_copy_str(char *dst, size_t cap, PyObject *s, int tail);
PG_HIDDEN long pg_py_long_of(PyObject *o, long dflt);
PG_HIDDEN void pg_py_code_names(PyObject *code, struct pg_py_func *f);
PG_HIDDEN int pg_py_describe(struct pg_py_ctx *c, PyObject *fn, struct pg_py_func *out, int depth);

/* ---- The cyclic collector (python_gc.c) ---------------------------------------------------- */

typedef PyObject *(*pg_py_cfunc)(PyObject *, PyObject *);

/* Switches the collector off for a reading; returns whether it was on, or -1 if it cannot be
 * switched off. pg_py_gc_restore takes that return value. */
PG_HIDDEN int pg_py_gc_off(void);
PG_HIDDEN void pg_py_gc_restore(int was);
/* 3.8 and 3.9: the C function of gc.get_referents, set by the first pg_py_gc_off; else NULL. */
PG_HIDDEN extern pg_py_cfunc pg_py_gc_referents;

#endif

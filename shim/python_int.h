/*
 * The Python layer's internal interface, shared by its files and by nothing else (the rest of the
 * shim includes only python.h). The layer is split by concern:
 *   python_api.c        finding libpython and resolving its API with dlsym; the version check
 *   python_inspector.c  the inspector thread, the GIL, time-outs, fork; pg_py_inspect
 *   python_read.c       one reading with the GIL held: threads, stacks, the waits they are in
 *   python_executor.c   ThreadPoolExecutors, their queues, and where waited futures are
 *   python_object.c     reading the program's objects without running any of its code
 *   python_gc.c         the cyclic collector, switched off while the inspector reads
 *   python_json.c       the state as JSON, and the names of its enums
 *   python_debug.c      POOLGUARD_PY_DEBUG, the test aid that calls pg_py_inspect
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

typedef struct _object PyObject;     /* opaque: no field of any Python object is read directly */
typedef ssize_t Py_ssize_t;

/* ---- The interpreter's API (python_api.c) -------------------------------------------------- */

/* The interpreter's API, resolved once by pg_py_resolve; after a successful resolve every member
 * except the optional ones is non-NULL. */
struct pg_py_api {
    int (*IsInitialized)(void);
    int (*IsFinalizing)(void);                       /* _Py_IsFinalizing (<3.13), Py_IsFinalizing */
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
    PyObject *(*Frame_GetVarString)(PyObject *, const char *);   /* optional: 3.12+ */
    PyObject *(*GenericGetDict)(PyObject *, void *);
    PyObject *(*Weakref_GetObject)(PyObject *);
    PyObject *(*Object_GetIter)(PyObject *);
    PyObject *(*Iter_Next)(PyObject *);
    Py_ssize_t (*List_Size)(PyObject *);
    PyObject *(*List_GetItem)(PyObject *, Py_ssize_t);
    Py_ssize_t (*Tuple_Size)(PyObject *);
    PyObject *(*Tuple_GetItem)(PyObject *, Py_ssize_t);
    Py_ssize_t (*Set_Size)(PyObject *);
    int (*GC_Disable)(void);                         /* optional: 3.10+ */
    int (*GC_Enable)(void);
    void *(*Type_GetSlot)(PyObject *, int);
    PyObject *(*Tuple_Pack)(Py_ssize_t, ...);
    PyObject *(*Init_gc)(void);                      /* 3.8, 3.9: a module; later a module def */
    PyObject *(*(*CFunction_GetFunction)(PyObject *))(PyObject *, PyObject *);
    int (*CFunction_GetFlags)(PyObject *);
    /* Built-in types and singletons: addresses of data symbols. */
    PyObject *t_frame, *t_code, *t_function, *t_method, *t_cfunction, *t_str, *t_int, *t_dict;
    PyObject *t_set, *t_list, *t_tuple, *t_weakref, *t_type, *t_module;
    PyObject *none, *py_true, *py_false;
};

PG_HIDDEN extern struct pg_py_api pg_py_api;
PG_HIDDEN extern char pg_py_version[16];     /* "3.11.7": valid once pg_py_resolve has run */
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
    K_RESULT, K_EXCEPTION, K_WAIT, K_AS_COMPLETED,
    K_EVENT_WAIT, K_COND_WAIT, K_COND_WAIT_FOR, K_SEM_ACQUIRE, K_BARRIER_WAIT, K_JOIN, K_QUEUE_GET,
    K_WORKER, K_RUN,
    K_COUNT
};

/* One reading of the interpreter: what it found, and the references it holds until it ends. */
struct pg_py_ctx {
    PyObject *kept[PG_PY_MAX_KEPT];
    int nkept;
    PyObject *code[K_COUNT];
    PyObject *thread_cls, *mainthread_cls, *dummythread_cls, *active;
    PyObject *tpe_cls, *workitem_cls, *future_cls, *squeue_cls;
    PyObject *worker_fn, *partial_cls;
    PyObject *ex_obj[PG_PY_MAX_EXECUTORS];
    PyObject *ex_queue[PG_PY_MAX_EXECUTORS];
    /* Waited futures, for placing them in queues and on running workers afterwards. */
    PyObject *pend_obj[PG_PY_MAX_PENDING];
    struct pg_py_wait *pend[PG_PY_MAX_PENDING];
    int npend;
    PyObject *thread_obj[PG_PY_MAX_THREADS];
};

/* Reads the interpreter into *st (zeroed by the caller, version already set). Returns 0, or
 * -EAGAIN when the collector cannot be switched off (nothing is read then). */
PG_HIDDEN int pg_py_read_interpreter(struct pg_py_state *st);

/* The executors' settings and queue lengths; then the waited futures' places in their queues;
 * then which worker runs each waited future. */
PG_HIDDEN void pg_py_read_executor(struct pg_py_ctx *c, struct pg_py_executor *e, PyObject *ex,
                                   PyObject *queue);
PG_HIDDEN void pg_py_scan_queues(struct pg_py_ctx *c, struct pg_py_state *st);
PG_HIDDEN void pg_py_link_running(struct pg_py_state *st, struct pg_py_ctx *c);

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

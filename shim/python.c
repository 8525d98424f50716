/*
 * The Python layer: reads a CPython interpreter running in this process (python.h says what comes
 * out, docs/python.md how and where the limits are).
 *
 * Threads. The watchdog never touches the interpreter itself: it hands a request to the inspector,
 * a thread of this module started on the first request (all signals blocked, not in the thread
 * table), and waits for the answer at most timeout_ms. The inspector takes the GIL with
 * PyGILState_Ensure, reads, and releases it. If the GIL does not come (a thread holds it and is
 * stuck in C code), the inspector stays blocked until it does; meanwhile every request is refused
 * with -ETIMEDOUT without starting anything new, so at most one inspector exists and it leaks
 * nothing. Lock order: call_lock, then ins_lock; the inspector holds neither while it waits for
 * the GIL or reads.
 *
 * What the inspector may do while it holds the GIL. It runs no Python code and changes no object
 * of the program: it calls only C functions of the interpreter (sys._current_frames,
 * gc.get_referents, SimpleQueue.qsize), reads attributes with PyObject_GetAttrString only of
 * objects whose exact type it checked first (frames, code objects, functions, and the standard
 * library's own Thread, ThreadPoolExecutor, _WorkItem, Future, SimpleQueue and classes whose
 * metaclass is exactly type), and reads instances of subclasses through their __dict__, so no
 * descriptor, __getattr__ or __repr__ of the program can run. The cyclic garbage collector is
 * switched off while it reads (and restored before the GIL is released: no program thread can
 * see the difference), because an allocation could otherwise start a collection, and a collection
 * runs finalizers, which are program code. It imports nothing: a module the program has not
 * imported is simply not there.
 *
 * Every CPython function is looked up at run time (dlsym), never linked: the shim must load into
 * every process. The look-ups live here, not in real.c, because they are of another kind: optional,
 * repeated until an interpreter appears, and never on the hook path.
 */
#include "python.h"

#include "pg.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef struct _object PyObject;     /* opaque: no field of any Python object is read directly */
typedef ssize_t Py_ssize_t;

/* The interpreter's API, resolved once; every member except the optional ones is non-NULL. */
static struct {
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
} py;

static int py_resolved;              /* 1 resolved, -ENOTSUP refused; 0 not yet */
static char py_version[16];
static unsigned py_hexversion;

static void *lib_handle;

static int find_libpython(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    const char *n = info->dlpi_name;
    const char *slash = n ? strrchr(n, '/') : NULL;
    const char *base = slash ? slash + 1 : n;
    if (base && strncmp(base, "libpython3.", 11) == 0) {
        *(void **)data = dlopen(n, RTLD_LAZY | RTLD_NOLOAD);
        return *(void **)data != NULL;
    }
    return 0;
}

static void *sym(const char *name)
{
    void *p = dlsym(RTLD_DEFAULT, name);
    if (!p && lib_handle)
        p = dlsym(lib_handle, name);
    return p;
}

/* "3.11.7 (main, ...)" -> 0x030b07f0; pre-releases get their level (a=0xa, b=0xb, rc=0xc). */
static unsigned parse_version(const char *v, char *out, size_t cap)
{
    unsigned part[3] = {0, 0, 0};
    int k = 0;
    const char *p = v;
    for (; *p && k < 3; p++) {
        if (*p >= '0' && *p <= '9')
            part[k] = part[k] * 10 + (unsigned)(*p - '0');
        else if (*p == '.')
            k++;
        else
            break;
    }
    unsigned level = 0xf, serial = 0;
    if (*p == 'a' || *p == 'b' || (*p == 'r' && p[1] == 'c')) {
        level = *p == 'a' ? 0xa : *p == 'b' ? 0xb : 0xc;
        p += *p == 'r' ? 2 : 1;
        while (*p >= '0' && *p <= '9')
            serial = serial * 10 + (unsigned)(*p++ - '0');
    }
    size_t n = (size_t)(p - v);
    if (n >= cap)
        n = cap - 1;
    memcpy(out, v, n);
    out[n] = 0;
    return part[0] << 24 | (part[1] & 0xff) << 16 | (part[2] & 0xff) << 8 | level << 4 | (serial & 0xf);
}

/* Versions whose concurrent.futures, threading and frame APIs this module was checked against. */
#define PY_MIN_VERSION 0x03080000u
#define PY_MAX_VERSION 0x030dfffful

static int resolve(void)
{
    if (py_resolved)
        return py_resolved < 0 ? py_resolved : 0;
    if (!dlsym(RTLD_DEFAULT, "Py_IsInitialized") && !lib_handle) {
        /* A libpython loaded with RTLD_LOCAL (a plugin embedding Python) is not in the global
         * scope; find it among the loaded objects without loading anything. */
        dl_iterate_phdr(find_libpython, &lib_handle);
        if (!lib_handle)
            return -ENOENT;
    }
#define NEED(field, name)                                                                          \
    do {                                                                                           \
        *(void **)&py.field = sym(name);                                                           \
        if (!py.field)                                                                             \
            return -ENOENT;                                                                        \
    } while (0)
#define MAYBE(field, name) (*(void **)&py.field = sym(name))
    NEED(IsInitialized, "Py_IsInitialized");
    NEED(GetVersion, "Py_GetVersion");
    py_hexversion = parse_version(py.GetVersion(), py_version, sizeof py_version);
    if (py_hexversion < PY_MIN_VERSION || py_hexversion > PY_MAX_VERSION) {
        py_resolved = -ENOTSUP;
        return py_resolved;
    }
    if (!MAYBE(IsFinalizing, "Py_IsFinalizing"))
        NEED(IsFinalizing, "_Py_IsFinalizing");
    NEED(GILState_Ensure, "PyGILState_Ensure");
    NEED(GILState_Release, "PyGILState_Release");
    NEED(Import_GetModuleDict, "PyImport_GetModuleDict");
    NEED(Module_GetDict, "PyModule_GetDict");
    NEED(Dict_GetItemString, "PyDict_GetItemString");
    NEED(Dict_GetItem, "PyDict_GetItem");
    NEED(Dict_Next, "PyDict_Next");
    NEED(GetAttrString, "PyObject_GetAttrString");
    NEED(CallObject, "PyObject_CallObject");
    NEED(CallFunctionObjArgs, "PyObject_CallFunctionObjArgs");
    NEED(Object_Type, "PyObject_Type");
    NEED(Type_IsSubtype, "PyType_IsSubtype");
    NEED(IncRef, "Py_IncRef");
    NEED(DecRef, "Py_DecRef");
    NEED(Err_Clear, "PyErr_Clear");
    NEED(Unicode_AsUTF8AndSize, "PyUnicode_AsUTF8AndSize");
    NEED(Long_AsUnsignedLong, "PyLong_AsUnsignedLong");
    NEED(Long_AsLong, "PyLong_AsLong");
    NEED(Frame_GetLineNumber, "PyFrame_GetLineNumber");
    MAYBE(Frame_GetVarString, "PyFrame_GetVarString");
    NEED(GenericGetDict, "PyObject_GenericGetDict");
    NEED(Weakref_GetObject, "PyWeakref_GetObject");
    NEED(Object_GetIter, "PyObject_GetIter");
    NEED(Iter_Next, "PyIter_Next");
    NEED(List_Size, "PyList_Size");
    NEED(List_GetItem, "PyList_GetItem");
    NEED(Tuple_Size, "PyTuple_Size");
    NEED(Tuple_GetItem, "PyTuple_GetItem");
    NEED(Set_Size, "PySet_Size");
    MAYBE(GC_Disable, "PyGC_Disable");
    MAYBE(GC_Enable, "PyGC_Enable");
    NEED(Type_GetSlot, "PyType_GetSlot");
    NEED(Tuple_Pack, "PyTuple_Pack");
    NEED(Init_gc, "PyInit_gc");
    NEED(CFunction_GetFunction, "PyCFunction_GetFunction");
    NEED(CFunction_GetFlags, "PyCFunction_GetFlags");
    NEED(t_frame, "PyFrame_Type");
    NEED(t_code, "PyCode_Type");
    NEED(t_function, "PyFunction_Type");
    NEED(t_method, "PyMethod_Type");
    NEED(t_cfunction, "PyCFunction_Type");
    NEED(t_str, "PyUnicode_Type");
    NEED(t_int, "PyLong_Type");
    NEED(t_dict, "PyDict_Type");
    NEED(t_set, "PySet_Type");
    NEED(t_list, "PyList_Type");
    NEED(t_tuple, "PyTuple_Type");
    NEED(t_weakref, "_PyWeakref_RefType");
    NEED(t_type, "PyType_Type");
    NEED(t_module, "PyModule_Type");
    NEED(none, "_Py_NoneStruct");
    NEED(py_true, "_Py_TrueStruct");
    NEED(py_false, "_Py_FalseStruct");
#undef NEED
#undef MAYBE
    if (!py.GC_Enable)
        py.GC_Disable = NULL;
    py_resolved = 1;
    return 0;
}

/* ---- Reading, with the GIL held ------------------------------------------------------------ */

/* Objects the inspection holds references to until it ends (released before the GIL is). */
#define MAX_KEPT 1024
/* Queue entries looked at per executor when placing waited futures. */
#define QUEUE_SCAN_MAX 250000
#define MAX_PENDING (PG_PY_MAX_THREADS * PG_PY_MAX_WAITS)

enum code_kind {
    K_NONE = 0,
    K_RESULT, K_EXCEPTION, K_WAIT, K_AS_COMPLETED,
    K_EVENT_WAIT, K_COND_WAIT, K_COND_WAIT_FOR, K_SEM_ACQUIRE, K_BARRIER_WAIT, K_JOIN, K_QUEUE_GET,
    K_WORKER, K_RUN,
    K_COUNT
};

struct ctx {
    PyObject *kept[MAX_KEPT];
    int nkept;
    PyObject *code[K_COUNT];
    PyObject *thread_cls, *mainthread_cls, *dummythread_cls, *active, *tpe_cls, *workitem_cls, *future_cls, *squeue_cls;
    PyObject *worker_fn, *partial_cls;
    PyObject *ex_obj[PG_PY_MAX_EXECUTORS];
    PyObject *ex_queue[PG_PY_MAX_EXECUTORS];
    /* Waited futures, for placing them in queues and on running workers afterwards. */
    PyObject *pend_obj[MAX_PENDING];
    struct pg_py_wait *pend[MAX_PENDING];
    int npend;
    PyObject *thread_obj[PG_PY_MAX_THREADS];
};

static PyObject *keep(struct ctx *c, PyObject *o)
{
    if (!o)
        return NULL;
    if (c->nkept == MAX_KEPT) {
        py.DecRef(o);
        return NULL;
    }
    c->kept[c->nkept++] = o;
    return o;
}

static PyObject *type_of(PyObject *o)
{
    PyObject *t = py.Object_Type(o);
    py.DecRef(t);    /* the object holds its type alive */
    return t;
}

static int is(PyObject *o, PyObject *type)
{
    return o && type && type_of(o) == type;
}

static int is_sub(PyObject *o, PyObject *type)
{
    return o && type && py.Type_IsSubtype(type_of(o), type);
}

/* A new reference or NULL, never a pending exception. Only for objects of checked exact type. */
static PyObject *attr(PyObject *o, const char *name)
{
    PyObject *r = py.GetAttrString(o, name);
    if (!r)
        py.Err_Clear();
    return r;
}

/* An instance attribute read from the object's __dict__, consulting no descriptor of its type. */
static PyObject *dict_attr(PyObject *o, const char *name)
{
    PyObject *d = py.GenericGetDict(o, NULL);
    if (!d) {
        py.Err_Clear();
        return NULL;
    }
    PyObject *r = is(d, py.t_dict) ? py.Dict_GetItemString(d, name) : NULL;
    if (r)
        py.IncRef(r);
    py.DecRef(d);
    return r;
}

/* An instance attribute of an object whose exact type is `exact`, or of a subclass of it: a
 * subclass is the program's and may override anything, so it is read from the __dict__. */
static PyObject *iattr(PyObject *o, PyObject *exact, const char *name)
{
    if (is(o, exact))
        return attr(o, name);
    return is_sub(o, exact) ? dict_attr(o, name) : NULL;
}

/* The same for threads: threading's own three classes, or the program's subclasses. */
static PyObject *tattr(struct ctx *c, PyObject *t, const char *name)
{
    PyObject *tt = type_of(t);
    if (tt == c->thread_cls || (c->mainthread_cls && tt == c->mainthread_cls) ||
        (c->dummythread_cls && tt == c->dummythread_cls))
        return attr(t, name);
    return is_sub(t, c->thread_cls) ? dict_attr(t, name) : NULL;
}

/* An attribute of a class, when its metaclass is exactly type (no descriptor of the program's). */
static PyObject *cattr(PyObject *cls, const char *name)
{
    return is(cls, py.t_type) ? attr(cls, name) : NULL;
}

static PyObject *module_dict(const char *name)
{
    PyObject *mods = py.Import_GetModuleDict();
    PyObject *m = mods && is(mods, py.t_dict) ? py.Dict_GetItemString(mods, name) : NULL;
    return m && is(m, py.t_module) ? py.Module_GetDict(m) : NULL;
}

/* Borrowed; the module holds it. */
static PyObject *dget(PyObject *dict, const char *name)
{
    return dict ? py.Dict_GetItemString(dict, name) : NULL;
}

static PyObject *func_code(struct ctx *c, PyObject *fn)
{
    return is(fn, py.t_function) ? keep(c, attr(fn, "__code__")) : NULL;
}

static PyObject *method_code(struct ctx *c, PyObject *cls, const char *name)
{
    PyObject *fn = cls ? cattr(cls, name) : NULL;
    PyObject *code = fn ? func_code(c, fn) : NULL;
    if (fn)
        py.DecRef(fn);
    return code;
}

static void load_known(struct ctx *c)
{
    PyObject *th = module_dict("threading");
    if (th) {
        c->thread_cls = dget(th, "Thread");
        c->mainthread_cls = dget(th, "_MainThread");
        c->dummythread_cls = dget(th, "_DummyThread");
        c->active = dget(th, "_active");
        if (c->active && !is(c->active, py.t_dict))
            c->active = NULL;
        c->code[K_EVENT_WAIT] = method_code(c, dget(th, "Event"), "wait");
        c->code[K_COND_WAIT] = method_code(c, dget(th, "Condition"), "wait");
        c->code[K_COND_WAIT_FOR] = method_code(c, dget(th, "Condition"), "wait_for");
        c->code[K_SEM_ACQUIRE] = method_code(c, dget(th, "Semaphore"), "acquire");
        c->code[K_BARRIER_WAIT] = method_code(c, dget(th, "Barrier"), "wait");
        c->code[K_JOIN] = method_code(c, c->thread_cls, "join");
    }
    PyObject *q = module_dict("queue");
    if (q)
        c->code[K_QUEUE_GET] = method_code(c, dget(q, "Queue"), "get");
    PyObject *cq = module_dict("_queue");
    if (cq)
        c->squeue_cls = dget(cq, "SimpleQueue");
    PyObject *base = module_dict("concurrent.futures._base");
    if (base) {
        c->future_cls = dget(base, "Future");
        c->code[K_RESULT] = method_code(c, c->future_cls, "result");
        c->code[K_EXCEPTION] = method_code(c, c->future_cls, "exception");
        c->code[K_WAIT] = func_code(c, dget(base, "wait"));
        c->code[K_AS_COMPLETED] = func_code(c, dget(base, "as_completed"));
    }
    PyObject *cft = module_dict("concurrent.futures.thread");
    if (cft) {
        c->tpe_cls = dget(cft, "ThreadPoolExecutor");
        c->workitem_cls = dget(cft, "_WorkItem");
        c->worker_fn = dget(cft, "_worker");
        c->code[K_WORKER] = func_code(c, c->worker_fn);
        c->code[K_RUN] = method_code(c, c->workitem_cls, "run");
    }
    PyObject *ft = module_dict("functools");
    if (ft)
        c->partial_cls = dget(ft, "partial");
}

/* Copies a str; a too long one keeps its end when tail is set (paths), its start otherwise. */
static void copy_str(char *dst, size_t cap, PyObject *s, int tail)
{
    dst[0] = 0;
    if (!is(s, py.t_str))
        return;
    Py_ssize_t n = 0;
    const char *u = py.Unicode_AsUTF8AndSize(s, &n);
    if (!u) {
        py.Err_Clear();
        return;
    }
    size_t len = (size_t)n;
    if (len < cap) {
        memcpy(dst, u, len + 1);
        return;
    }
    if (tail) {
        const char *from = u + len - (cap - 4);
        while ((*from & 0xc0) == 0x80)
            from++;
        memcpy(dst, "...", 3);
        memcpy(dst + 3, from, strlen(from) + 1);
    } else {
        size_t k = cap - 1;
        while (k > 0 && (u[k] & 0xc0) == 0x80)
            k--;
        memcpy(dst, u, k);
        dst[k] = 0;
    }
}

static long long_of(PyObject *o, long dflt)
{
    if (!is(o, py.t_int))
        return dflt;
    long v = py.Long_AsLong(o);
    if (v == -1)
        py.Err_Clear();
    return v;
}

static void code_names(PyObject *code, struct pg_py_func *f)
{
    PyObject *n = attr(code, py_hexversion >= 0x030b0000 ? "co_qualname" : "co_name");
    PyObject *file = attr(code, "co_filename");
    copy_str(f->name, sizeof f->name, n, 0);
    copy_str(f->file, sizeof f->file, file, 1);
    if (n)
        py.DecRef(n);
    if (file)
        py.DecRef(file);
}

/* What a callable is, without calling anything of it: functions, bound methods and partials are
 * followed to their function; anything else is named by its type. */
static int describe(struct ctx *c, PyObject *fn, struct pg_py_func *out, int depth)
{
    memset(out, 0, sizeof *out);
    if (!fn || depth > 4)
        return 0;
    PyObject *t = type_of(fn);
    if (t == py.t_function) {
        PyObject *code = attr(fn, "__code__");
        PyObject *qn = attr(fn, "__qualname__");
        if (is(code, py.t_code)) {
            code_names(code, out);
            PyObject *first = attr(code, "co_firstlineno");
            out->line = (int)long_of(first, 0);
            if (first)
                py.DecRef(first);
        }
        if (qn)
            copy_str(out->name, sizeof out->name, qn, 0), py.DecRef(qn);
        if (code)
            py.DecRef(code);
        return 1;
    }
    if (t == py.t_method || (c->partial_cls && t == c->partial_cls)) {
        PyObject *inner = attr(fn, t == py.t_method ? "__func__" : "func");
        int r = describe(c, inner, out, depth + 1);
        if (inner)
            py.DecRef(inner);
        return r;
    }
    PyObject *n = NULL;
    if (t == py.t_cfunction)
        n = attr(fn, "__name__");
    else
        n = cattr(t, "__qualname__");
    copy_str(out->name, sizeof out->name, n, 0);
    if (n)
        py.DecRef(n);
    if (t != py.t_cfunction && out->name[0] && strlen(out->name) + 8 < sizeof out->name)
        strcat(out->name, " object");
    return out->name[0] != 0;
}

/* A local variable of a frame blocked in a standard-library function: PyFrame_GetVarString
 * (3.12+) reads it in place; before 3.12 f_locals, which copies the frame's fast locals into
 * the frame's own locals dict (the same as locals() or a debugger would do). */
static PyObject *frame_local(PyObject *frame, const char *name)
{
    if (py.Frame_GetVarString) {
        PyObject *v = py.Frame_GetVarString(frame, name);
        if (!v)
            py.Err_Clear();
        return v;
    }
    PyObject *d = attr(frame, "f_locals");
    PyObject *v = d && is(d, py.t_dict) ? py.Dict_GetItemString(d, name) : NULL;
    if (v)
        py.IncRef(v);
    if (d)
        py.DecRef(d);
    return v;
}

static int future_state(struct ctx *c, PyObject *fut)
{
    PyObject *s = iattr(fut, c->future_cls, "_state");
    char b[32];
    copy_str(b, sizeof b, s, 0);
    if (s)
        py.DecRef(s);
    if (!strcmp(b, "PENDING"))
        return PG_PY_F_PENDING;
    if (!strcmp(b, "RUNNING"))
        return PG_PY_F_RUNNING;
    if (!strcmp(b, "CANCELLED"))
        return PG_PY_F_CANCELLED;
    if (!strcmp(b, "FINISHED") || !strcmp(b, "CANCELLED_AND_NOTIFIED"))
        return PG_PY_F_FINISHED;
    return PG_PY_F_UNKNOWN;
}

static void add_wait(struct ctx *c, struct pg_py_thread *th, PyObject *fut)
{
    if (!c->future_cls || !is_sub(fut, c->future_cls))
        return;
    if (th->nwaits == PG_PY_MAX_WAITS) {
        th->waits_dropped++;
        return;
    }
    struct pg_py_wait *w = &th->waits[th->nwaits++];
    w->future = (uintptr_t)fut;
    w->state = future_state(c, fut);
    w->queue_pos = -1;
    if (c->npend < MAX_PENDING) {
        py.IncRef(fut);
        if (keep(c, fut)) {
            c->pend_obj[c->npend] = fut;
            c->pend[c->npend++] = w;
        }
    }
}

static void add_waits_from_set(struct ctx *c, struct pg_py_thread *th, PyObject *set)
{
    if (!is(set, py.t_set))
        return;
    PyObject *it = py.Object_GetIter(set);
    if (!it) {
        py.Err_Clear();
        return;
    }
    PyObject *f;
    while ((f = py.Iter_Next(it)) != NULL) {
        add_wait(c, th, f);
        py.DecRef(f);
    }
    py.Err_Clear();
    py.DecRef(it);
}

static enum code_kind kind_of(struct ctx *c, PyObject *code)
{
    for (int k = 1; k < K_COUNT; k++)
        if (c->code[k] && c->code[k] == code)
            return (enum code_kind)k;
    return K_NONE;
}

static int blocked_of(enum code_kind k)
{
    switch (k) {
    case K_RESULT: case K_EXCEPTION: return PG_PY_B_FUTURE_RESULT;
    case K_WAIT: return PG_PY_B_FUTURES_WAIT;
    case K_AS_COMPLETED: return PG_PY_B_AS_COMPLETED;
    case K_EVENT_WAIT: return PG_PY_B_EVENT_WAIT;
    case K_COND_WAIT: case K_COND_WAIT_FOR: return PG_PY_B_CONDITION_WAIT;
    case K_SEM_ACQUIRE: return PG_PY_B_SEMAPHORE;
    case K_BARRIER_WAIT: return PG_PY_B_BARRIER;
    case K_JOIN: return PG_PY_B_THREAD_JOIN;
    case K_QUEUE_GET: return PG_PY_B_QUEUE_GET;
    default: return PG_PY_B_NONE;
    }
}

/* The work item a worker runs: `self` of its innermost _WorkItem.run frame. */
static void read_task(struct ctx *c, struct pg_py_thread *th, PyObject *runframe)
{
    PyObject *item = frame_local(runframe, "self");
    if (item && is(item, c->workitem_cls)) {
        th->work_item = (uintptr_t)item;
        PyObject *fut = attr(item, "future");
        th->work_future = (uintptr_t)fut;
        if (fut)
            py.DecRef(fut);
        PyObject *fn = attr(item, "fn");
        th->has_task = describe(c, fn, &th->task, 0);
        if (fn)
            py.DecRef(fn);
    }
    if (item)
        py.DecRef(item);
}

/* The wait a thread is in: the outermost of the chain of recognised standard-library frames that
 * starts at its innermost frame (Condition.wait called by Event.wait called by futures.wait). */
static void read_wait(struct ctx *c, struct pg_py_thread *th, PyObject *frame, enum code_kind k)
{
    PyObject *timeout = frame_local(frame, "timeout");
    th->timed = timeout && timeout != py.none;
    if (timeout)
        py.DecRef(timeout);
    if (k == K_QUEUE_GET || k == K_SEM_ACQUIRE) {
        /* get(block=False) / acquire(blocking=False) never block. */
        PyObject *b = frame_local(frame, k == K_QUEUE_GET ? "block" : "blocking");
        if (b == py.py_false)
            th->blocked = PG_PY_B_NONE;
        if (b)
            py.DecRef(b);
    }
    if (k == K_RESULT || k == K_EXCEPTION) {
        PyObject *fut = frame_local(frame, "self");
        if (fut)
            add_wait(c, th, fut), py.DecRef(fut);
    } else if (k == K_WAIT || k == K_AS_COMPLETED) {
        PyObject *set = frame_local(frame, k == K_WAIT ? "not_done" : "pending");
        if (set)
            add_waits_from_set(c, th, set), py.DecRef(set);
    }
}

static void walk_stack(struct ctx *c, struct pg_py_thread *th, PyObject *top)
{
    PyObject *f = top;
    py.IncRef(f);
    int chain = 1;
    PyObject *waitframe = NULL, *runframe = NULL;
    enum code_kind waitkind = K_NONE;
    while (f && is(f, py.t_frame) && th->depth < 4096) {
        PyObject *code = attr(f, "f_code");
        if (code && is(code, py.t_code)) {
            if (th->nframes < PG_PY_MAX_FRAMES) {
                struct pg_py_func *fr = &th->frames[th->nframes++];
                code_names(code, fr);
                fr->line = py.Frame_GetLineNumber(f);
            }
            enum code_kind k = kind_of(c, code);
            if (chain && blocked_of(k) != PG_PY_B_NONE) {
                th->blocked = blocked_of(k);
                waitkind = k;
                if (waitframe)
                    py.DecRef(waitframe);
                waitframe = f;
                py.IncRef(f);
            } else if (chain && k == K_WORKER && th->depth == 0) {
                th->blocked = PG_PY_B_WORKER_IDLE;
                chain = 0;
            } else {
                chain = 0;
            }
            if (k == K_RUN && !runframe) {
                runframe = f;
                py.IncRef(f);
            }
        }
        if (code)
            py.DecRef(code);
        th->depth++;
        PyObject *back = attr(f, "f_back");
        py.DecRef(f);
        f = back;
    }
    if (f)
        py.DecRef(f);
    if (waitframe) {
        read_wait(c, th, waitframe, waitkind);
        py.DecRef(waitframe);
    }
    if (runframe) {
        read_task(c, th, runframe);
        py.DecRef(runframe);
    }
}

static int executor_index(struct ctx *c, struct pg_py_state *st, PyObject *ex, PyObject *queue)
{
    for (int i = 0; i < st->nexecutors; i++)
        if (c->ex_obj[i] == ex)
            return i;
    if (st->nexecutors == PG_PY_MAX_EXECUTORS) {
        st->executors_dropped++;
        return -1;
    }
    py.IncRef(ex);
    py.IncRef(queue);
    if (!keep(c, ex) || !keep(c, queue))
        return -1;
    int i = st->nexecutors++;
    c->ex_obj[i] = ex;
    c->ex_queue[i] = queue;       /* the worker's _args tuple holds it; the executor too */
    st->executors[i].addr = (uintptr_t)ex;
    return i;
}

/* A ThreadPoolExecutor worker: an exact threading.Thread whose target is the module's _worker;
 * its args are (weakref to the executor, the work queue, ...). */
static void read_worker(struct ctx *c, struct pg_py_state *st, struct pg_py_thread *th, PyObject *t)
{
    th->executor = -1;
    if (!c->worker_fn || !c->tpe_cls || !is(t, c->thread_cls))
        return;
    PyObject *target = attr(t, "_target");
    PyObject *args = target == c->worker_fn ? attr(t, "_args") : NULL;
    if (is(args, py.t_tuple) && py.Tuple_Size(args) >= 2) {
        PyObject *ref = py.Tuple_GetItem(args, 0);
        PyObject *queue = py.Tuple_GetItem(args, 1);
        PyObject *ex = is(ref, py.t_weakref) ? py.Weakref_GetObject(ref) : NULL;
        if (ex && is_sub(ex, c->tpe_cls)) {
            th->executor = executor_index(c, st, ex, queue);
            if (th->executor >= 0) {
                th->executor_addr = (uintptr_t)ex;
                st->executors[th->executor].nworkers_seen++;
            }
        }
    }
    py.Err_Clear();
    if (args)
        py.DecRef(args);
    if (target)
        py.DecRef(target);
}

static void read_thread_obj(struct ctx *c, struct pg_py_state *st, struct pg_py_thread *th, PyObject *t)
{
    if (!c->thread_cls || !is_sub(t, c->thread_cls))
        return;
    PyObject *name = tattr(c, t, "_name");
    copy_str(th->name, sizeof th->name, name, 0);
    if (name)
        py.DecRef(name);
    PyObject *nid = tattr(c, t, "_native_id");
    th->native_id = long_of(nid, 0);
    if (nid)
        py.DecRef(nid);
    PyObject *d = tattr(c, t, "_daemonic");
    th->daemon = d == py.py_true;
    if (d)
        py.DecRef(d);
    read_worker(c, st, th, t);
}

static unsigned long ident_of(PyObject *k)
{
    if (!is(k, py.t_int))
        return 0;
    unsigned long v = py.Long_AsUnsignedLong(k);
    if (v == (unsigned long)-1)
        py.Err_Clear();
    return v;
}

static struct pg_py_thread *new_thread(struct pg_py_state *st, unsigned long ident)
{
    if (st->nthreads == PG_PY_MAX_THREADS) {
        st->threads_dropped++;
        return NULL;
    }
    struct pg_py_thread *th = &st->threads[st->nthreads++];
    th->ident = ident;
    th->executor = -1;
    return th;
}

static void read_threads(struct ctx *c, struct pg_py_state *st)
{
    PyObject *sys = module_dict("sys");
    PyObject *cf = dget(sys, "_current_frames");
    PyObject *frames = cf && is(cf, py.t_cfunction) ? py.CallObject(cf, NULL) : NULL;
    if (!frames)
        py.Err_Clear();
    else if (!is(frames, py.t_dict))
        py.DecRef(frames), frames = NULL;
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (frames && py.Dict_Next(frames, &pos, &k, &v)) {
        struct pg_py_thread *th = new_thread(st, ident_of(k));
        if (!th)
            continue;
        PyObject *t = c->active ? py.Dict_GetItem(c->active, k) : NULL;
        if (t)
            read_thread_obj(c, st, th, t);
        walk_stack(c, th, v);
    }
    /* Threads threading knows that run no Python code now (no frame). */
    pos = 0;
    while (c->active && py.Dict_Next(c->active, &pos, &k, &v)) {
        if (frames && py.Dict_GetItem(frames, k))
            continue;
        struct pg_py_thread *th = new_thread(st, ident_of(k));
        if (th)
            read_thread_obj(c, st, th, v);
    }
    if (frames)
        py.DecRef(frames);
}

static void read_executor(struct ctx *c, struct pg_py_executor *e, PyObject *ex, PyObject *queue)
{
    PyObject *o;
    if ((o = iattr(ex, c->tpe_cls, "_max_workers")))
        e->max_workers = (int)long_of(o, 0), py.DecRef(o);
    if ((o = iattr(ex, c->tpe_cls, "_threads"))) {
        if (is(o, py.t_set))
            e->nthreads = (int)py.Set_Size(o);
        py.DecRef(o);
    }
    if ((o = iattr(ex, c->tpe_cls, "_thread_name_prefix")))
        copy_str(e->prefix, sizeof e->prefix, o, 0), py.DecRef(o);
    if ((o = iattr(ex, c->tpe_cls, "_shutdown")))
        e->shutdown = o == py.py_true, py.DecRef(o);
    if ((o = iattr(ex, c->tpe_cls, "_broken")))
        e->broken = o != py.py_false && o != py.none, py.DecRef(o);
    e->queue_len = -1;
    if (c->squeue_cls && is(queue, c->squeue_cls)) {
        PyObject *qsize = attr(queue, "qsize");
        PyObject *n = qsize ? py.CallObject(qsize, NULL) : NULL;
        if (!n)
            py.Err_Clear();
        e->queue_len = long_of(n, -1);
        if (n)
            py.DecRef(n);
        if (qsize)
            py.DecRef(qsize);
    }
    py.Err_Clear();
}

/* Looks at one queue entry; returns the number of waited futures it placed. */
static int place_item(struct ctx *c, PyObject *item, int ex, long pos)
{
    if (!is(item, c->workitem_cls))
        return 0;
    PyObject *fut = attr(item, "future");
    int placed = 0;
    for (int i = 0; fut && i < c->npend; i++) {
        if (c->pend_obj[i] != fut || c->pend[i]->queued_in)
            continue;
        struct pg_py_wait *w = c->pend[i];
        w->work_item = (uintptr_t)item;
        w->queued_in = (uintptr_t)c->ex_obj[ex];
        w->queue_pos = pos;
        PyObject *fn = attr(item, "fn");
        w->has_fn = describe(c, fn, &w->fn, 0);
        if (fn)
            py.DecRef(fn);
        placed++;
    }
    if (fut)
        py.DecRef(fut);
    return placed;
}

/*
 * Finds the work items of waited PENDING futures in the executors' queues. SimpleQueue offers no
 * way to list its entries, but its GC traversal (its tp_traverse, C code: what gc.get_referents
 * calls) visits them: up to 3.12 it visits its internal list, whose entries before lst_pos are
 * already taken (and set to None); from 3.13 each entry of its ring buffer, oldest first, then
 * its type. A list is scanned from the newest entry back, because the futures a task waits on
 * were usually submitted last; the scan stops when every waited future is placed or after
 * QUEUE_SCAN_MAX entries.
 */
struct qscan {
    struct ctx *c;
    int ex;
    long qlen;
    long pos;
    long scanned;
    int want;
    PyObject *list;
};

static int queue_visit(PyObject *o, void *arg)
{
    struct qscan *s = arg;
    if (py_hexversion < 0x030d0000) {
        if (!s->list && is(o, py.t_list))
            s->list = o;
        return 0;
    }
    if (s->pos >= s->qlen || s->want <= 0 || s->scanned >= QUEUE_SCAN_MAX)
        return 1;          /* stops the traversal */
    s->scanned++;
    s->want -= place_item(s->c, o, s->ex, s->pos++);
    return 0;
}

/* 3.8 and 3.9 have neither PyGC_Disable nor PyType_GetSlot for static types: the C functions of
 * the gc module are taken from a module object made once by PyInit_gc (never put in sys.modules)
 * and called directly; they are static functions of libpython, valid for the process's life. */
typedef PyObject *(*cfunc)(PyObject *, PyObject *);
static cfunc gc_isenabled_c, gc_disable_c, gc_enable_c, gc_referents_c;

static cfunc gc_func(PyObject *dict, const char *name, int flags)
{
    PyObject *f = dget(dict, name);
    if (!is(f, py.t_cfunction) || py.CFunction_GetFlags(f) != flags)
        return NULL;
    return py.CFunction_GetFunction(f);
}

static int gc_funcs_3_8(void)
{
    if (gc_isenabled_c)
        return 0;
    PyObject *m = py.Init_gc();
    if (!m || !is(m, py.t_module)) {
        py.Err_Clear();
        if (m)
            py.DecRef(m);
        return -1;
    }
    PyObject *d = py.Module_GetDict(m);
    enum { METH_VARARGS = 1, METH_NOARGS = 4 };
    cfunc dis = gc_func(d, "disable", METH_NOARGS), en = gc_func(d, "enable", METH_NOARGS);
    cfunc refs = gc_func(d, "get_referents", METH_VARARGS);
    cfunc isen = gc_func(d, "isenabled", METH_NOARGS);
    py.DecRef(m);
    if (!dis || !en || !refs || !isen)
        return -1;
    gc_disable_c = dis, gc_enable_c = en, gc_referents_c = refs;
    gc_isenabled_c = isen;
    return 0;
}

static void scan_queues(struct ctx *c, struct pg_py_state *st)
{
    int want = 0;
    for (int i = 0; i < c->npend; i++)
        want += c->pend[i]->state == PG_PY_F_PENDING;
    if (!want || !c->workitem_cls || !c->squeue_cls)
        return;
    typedef int (*visitproc)(PyObject *, void *);
    typedef int (*traverseproc)(PyObject *, visitproc, void *);
    traverseproc trav = NULL;
    if (py_hexversion >= 0x030a0000) {
        enum { Py_tp_traverse = 71 };
        trav = (traverseproc)py.Type_GetSlot(c->squeue_cls, Py_tp_traverse);
        py.Err_Clear();
        if (!trav)
            return;
    } else if (!gc_referents_c) {
        return;
    }
    for (int e = 0; e < st->nexecutors && want > 0; e++) {
        struct pg_py_executor *ex = &st->executors[e];
        PyObject *q = c->ex_queue[e];
        if (!is(q, c->squeue_cls) || ex->queue_len <= 0)
            continue;
        struct qscan s = {.c = c, .ex = e, .qlen = ex->queue_len, .want = want};
        PyObject *refs = NULL;
        if (trav) {
            trav(q, queue_visit, &s);
        } else {
            PyObject *args = py.Tuple_Pack(1, q);
            refs = args ? gc_referents_c(NULL, args) : NULL;
            if (args)
                py.DecRef(args);
            for (Py_ssize_t i = 0; refs && is(refs, py.t_list) && i < py.List_Size(refs); i++)
                if (is(py.List_GetItem(refs, i), py.t_list))
                    s.list = py.List_GetItem(refs, i);
        }
        if (s.list) {
            /* Entries [len - qsize, len) are queued; index len - qsize is the next to run. */
            Py_ssize_t n = py.List_Size(s.list);
            long first = s.qlen <= n ? (long)(n - s.qlen) : 0;
            for (Py_ssize_t i = n - 1; i >= first && s.want > 0 && s.scanned < QUEUE_SCAN_MAX; i--) {
                s.scanned++;
                s.want -= place_item(c, py.List_GetItem(s.list, i), e, (long)i - first);
            }
        }
        if (refs)
            py.DecRef(refs);
        py.Err_Clear();
        want = s.want;
        ex->queue_scanned = s.scanned;
        ex->queue_scan_complete = s.scanned >= s.qlen;
    }
}

static void link_running(struct pg_py_state *st, struct ctx *c)
{
    for (int i = 0; i < c->npend; i++) {
        struct pg_py_wait *w = c->pend[i];
        for (int t = 0; t < st->nthreads && !w->run_by; t++)
            if (st->threads[t].work_future == w->future && w->future)
                w->run_by = st->threads[t].ident, w->work_item = st->threads[t].work_item;
        if (w->run_by && !w->has_fn) {
            for (int t = 0; t < st->nthreads; t++)
                if (st->threads[t].ident == w->run_by && st->threads[t].has_task)
                    w->fn = st->threads[t].task, w->has_fn = 1;
        }
    }
}

/* Switches the cyclic collector off for the inspection (see the file comment); returns whether
 * it was on, or -1 if it cannot be switched off. */
static int gc_off(void)
{
    if (py.GC_Disable)
        return py.GC_Disable();
    /* 3.8, 3.9. The first time, making the gc module allocates a few dozen objects while the
     * collector is still on: the one moment a collection (and finalizers) could run here. */
    if (gc_funcs_3_8() < 0)
        return -1;
    PyObject *r = gc_isenabled_c(NULL, NULL);
    int was = r == py.py_true;
    if (r)
        py.DecRef(r);
    if (was && (r = gc_disable_c(NULL, NULL)))
        py.DecRef(r);
    py.Err_Clear();
    return was;
}

static void gc_restore(int was)
{
    if (was <= 0)
        return;
    if (py.GC_Enable) {
        py.GC_Enable();
        return;
    }
    PyObject *r = gc_enable_c(NULL, NULL);
    if (r)
        py.DecRef(r);
    py.Err_Clear();
}

static struct ctx ictx;   /* inspector thread only */

static int read_interpreter(struct pg_py_state *st)
{
    struct ctx *c = &ictx;
    memset(c, 0, sizeof *c);
    int gc_was = gc_off();
    if (gc_was < 0)
        return -EAGAIN;    /* cannot make sure no finalizer runs: read nothing */
    load_known(c);
    read_threads(c, st);
    for (int i = 0; i < st->nexecutors; i++)
        read_executor(c, &st->executors[i], c->ex_obj[i], c->ex_queue[i]);
    scan_queues(c, st);
    link_running(st, c);
    /* Dropping our references frees nothing of the program's: each of these objects is also
     * referenced by the program, since no program thread ran while we held the GIL. */
    for (int i = c->nkept - 1; i >= 0; i--)
        py.DecRef(c->kept[i]);
    py.Err_Clear();
    gc_restore(gc_was);
    return 0;
}

/* ---- The inspector thread ------------------------------------------------------------------ */

static pthread_mutex_t call_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t ins_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ins_cond;          /* CLOCK_MONOTONIC; set up with the thread */
static pid_t ins_pid;                    /* the process the inspector state belongs to */
static int ins_started;
static _Atomic pid_t ins_tid;
static uint64_t ins_req, ins_done;
static int ins_busy;                     /* a request is out and not answered */
static int ins_result;
static struct pg_py_state ins_state;

static int interpreter_usable(void)
{
    return py.IsInitialized() && !py.IsFinalizing();
}

static int inspect_now(struct pg_py_state *st)
{
    memset(st, 0, sizeof *st);
    memcpy(st->version, py_version, sizeof st->version);
    st->hexversion = py_hexversion;
    if (!interpreter_usable())
        return -EAGAIN;
    uint64_t t0 = pg_now_ns();
    /* If finalization starts while this waits, CPython ends this thread inside the call
     * (3.8-3.13); the request then stays unanswered and the caller refuses from then on. */
    int g = py.GILState_Ensure();
    uint64_t t1 = pg_now_ns();
    int r = interpreter_usable() ? read_interpreter(st) : -EAGAIN;
    py.GILState_Release(g);
    st->gil_wait_ns = t1 - t0;
    st->read_ns = pg_now_ns() - t1;
    return r;
}

static void *inspector_main(void *arg)
{
    (void)arg;
    pg_cur = PG_NOSLOT;
    atomic_store(&ins_tid, (pid_t)syscall(SYS_gettid));
    pg_real.mutex_lock(&ins_lock);
    for (;;) {
        while (ins_done == ins_req)
            pg_real.cond_wait(&ins_cond, &ins_lock);
        uint64_t r = ins_req;
        pg_real.mutex_unlock(&ins_lock);
        int res = inspect_now(&ins_state);
        pg_real.mutex_lock(&ins_lock);
        ins_result = res;
        ins_done = r;
        ins_busy = 0;
        pg_real.cond_broadcast(&ins_cond);
    }
    return NULL;
}

/* After fork() the child has no inspector, whatever the parent's state said. */
static void reset_if_forked(void)
{
    pid_t me = getpid();
    if (ins_pid == me)
        return;
    pthread_mutex_init(&call_lock, NULL);
    pthread_mutex_init(&ins_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ins_cond, &ca);
    pthread_condattr_destroy(&ca);
    ins_started = 0;
    ins_busy = 0;
    ins_req = ins_done = 0;
    atomic_store(&ins_tid, 0);
    ins_pid = me;
}

static int start_inspector(void)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 512 * 1024);
    pthread_t th;
    int r = pg_real.pthread_create(&th, &attr, inspector_main, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0)
        return -r;
    pthread_setname_np(th, "poolguard-py");
    return 0;
}

pid_t pg_py_inspector_tid(void)
{
    return atomic_load(&ins_tid);
}

int pg_py_inspect(struct pg_py_state *out, int timeout_ms)
{
    int r = resolve();
    if (r < 0)
        return r;
    if (!interpreter_usable())
        return -EAGAIN;
    reset_if_forked();
    pg_real.mutex_lock(&call_lock);
    pg_real.mutex_lock(&ins_lock);
    if (ins_busy) {
        r = -ETIMEDOUT;
        goto out;
    }
    if (!ins_started) {
        if (start_inspector() < 0) {
            r = -EAGAIN;
            goto out;
        }
        ins_started = 1;
    }
    uint64_t mine = ++ins_req;
    ins_busy = 1;
    pg_real.cond_broadcast(&ins_cond);
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L)
        dl.tv_sec++, dl.tv_nsec -= 1000000000L;
    while (ins_done != mine)
        if (pg_real.cond_timedwait(&ins_cond, &ins_lock, &dl) == ETIMEDOUT)
            break;
    if (ins_done != mine) {
        r = -ETIMEDOUT;
    } else {
        r = ins_result;
        if (r == 0)
            memcpy(out, &ins_state, sizeof *out);
    }
out:
    pg_real.mutex_unlock(&ins_lock);
    pg_real.mutex_unlock(&call_lock);
    return r;
}

/* ---- Output -------------------------------------------------------------------------------- */

const char *pg_py_blocked_name(int b)
{
    static const char *const names[] = {"none", "future_result", "futures_wait", "as_completed",
                                        "event_wait", "condition_wait", "semaphore", "barrier",
                                        "thread_join", "queue_get", "worker_idle"};
    return b >= 0 && b < (int)(sizeof names / sizeof names[0]) ? names[b] : "none";
}

const char *pg_py_future_state_name(int s)
{
    static const char *const names[] = {"unknown", "PENDING", "RUNNING", "CANCELLED", "FINISHED"};
    return s >= 0 && s < (int)(sizeof names / sizeof names[0]) ? names[s] : "unknown";
}

static void write_func(struct pg_jw *w, const struct pg_py_func *f)
{
    pg_jw_obj(w);
    pg_jw_key(w, "function"), pg_jw_str(w, f->name);
    pg_jw_key(w, "file"), pg_jw_str(w, f->file);
    pg_jw_key(w, "line"), pg_jw_int(w, f->line);
    pg_jw_obj_end(w);
}

void pg_py_write_json(struct pg_jw *w, const struct pg_py_state *st)
{
    pg_jw_obj(w);
    pg_jw_key(w, "version"), pg_jw_str(w, st->version);
    pg_jw_key(w, "gil_wait_us"), pg_jw_int(w, (long long)(st->gil_wait_ns / 1000));
    pg_jw_key(w, "read_us"), pg_jw_int(w, (long long)(st->read_ns / 1000));
    pg_jw_key(w, "executors");
    pg_jw_arr(w);
    for (int i = 0; i < st->nexecutors; i++) {
        const struct pg_py_executor *e = &st->executors[i];
        pg_jw_obj(w);
        pg_jw_key(w, "address"), pg_jw_hex(w, e->addr);
        pg_jw_key(w, "prefix"), pg_jw_str(w, e->prefix);
        pg_jw_key(w, "max_workers"), pg_jw_int(w, e->max_workers);
        pg_jw_key(w, "threads"), pg_jw_int(w, e->nthreads);
        pg_jw_key(w, "workers_seen"), pg_jw_int(w, e->nworkers_seen);
        pg_jw_key(w, "queue_len"), pg_jw_int(w, e->queue_len);
        if (e->queue_scanned)
            pg_jw_key(w, "queue_scanned"), pg_jw_int(w, e->queue_scanned),
                pg_jw_key(w, "queue_scan_complete"), pg_jw_bool(w, e->queue_scan_complete);
        pg_jw_key(w, "shutdown"), pg_jw_bool(w, e->shutdown);
        pg_jw_key(w, "broken"), pg_jw_bool(w, e->broken);
        pg_jw_obj_end(w);
    }
    pg_jw_arr_end(w);
    if (st->executors_dropped)
        pg_jw_key(w, "executors_dropped"), pg_jw_int(w, st->executors_dropped);
    pg_jw_key(w, "threads");
    pg_jw_arr(w);
    for (int i = 0; i < st->nthreads; i++) {
        const struct pg_py_thread *t = &st->threads[i];
        pg_jw_obj(w);
        pg_jw_key(w, "ident"), pg_jw_hex(w, t->ident);
        pg_jw_key(w, "tid"), pg_jw_int(w, t->native_id);
        pg_jw_key(w, "name"), pg_jw_str(w, t->name);
        pg_jw_key(w, "blocked"), pg_jw_str(w, pg_py_blocked_name(t->blocked));
        pg_jw_key(w, "timed"), pg_jw_bool(w, t->timed);
        if (t->executor >= 0)
            pg_jw_key(w, "executor"), pg_jw_hex(w, t->executor_addr);
        if (t->has_task || t->work_item) {
            pg_jw_key(w, "task");
            write_func(w, &t->task);
            pg_jw_key(w, "task_future"), pg_jw_hex(w, t->work_future);
        }
        if (t->nwaits) {
            pg_jw_key(w, "waits_on");
            pg_jw_arr(w);
            for (int k = 0; k < t->nwaits; k++) {
                const struct pg_py_wait *x = &t->waits[k];
                pg_jw_obj(w);
                pg_jw_key(w, "future"), pg_jw_hex(w, x->future);
                pg_jw_key(w, "state"), pg_jw_str(w, pg_py_future_state_name(x->state));
                if (x->queued_in)
                    pg_jw_key(w, "queued_in"), pg_jw_hex(w, x->queued_in),
                        pg_jw_key(w, "queue_pos"), pg_jw_int(w, x->queue_pos);
                if (x->run_by)
                    pg_jw_key(w, "run_by"), pg_jw_hex(w, x->run_by);
                if (x->has_fn)
                    pg_jw_key(w, "fn"), write_func(w, &x->fn);
                pg_jw_obj_end(w);
            }
            pg_jw_arr_end(w);
        }
        pg_jw_key(w, "depth"), pg_jw_int(w, t->depth);
        pg_jw_key(w, "stack");
        pg_jw_arr(w);
        for (int k = 0; k < t->nframes; k++)
            write_func(w, &t->frames[k]);
        pg_jw_arr_end(w);
        pg_jw_obj_end(w);
    }
    pg_jw_arr_end(w);
    if (st->threads_dropped)
        pg_jw_key(w, "threads_dropped"), pg_jw_int(w, st->threads_dropped);
    pg_jw_obj_end(w);
}

/* ---- Debugging aid, until the watchdog calls pg_py_inspect --------------------------------- */

/*
 * POOLGUARD_PY_DEBUG=<delay_ms>[,<count>[,<period_ms>]] starts a thread that calls pg_py_inspect
 * (timeout 500 ms) after delay_ms, count times, period_ms apart, and appends one JSON line per
 * call to POOLGUARD_PY_DEBUG_OUT (a file name) or to stderr. tests/py/run.py uses it.
 */
static struct pg_py_state dbg_state;
static char dbg_buf[64 * 1024];
static int dbg_delay = 1000, dbg_count = 1, dbg_period = 1000;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
        ;
}

static void *debug_main(void *arg)
{
    (void)arg;
    pg_cur = PG_NOSLOT;
    const char *path = getenv("POOLGUARD_PY_DEBUG_OUT");
    sleep_ms(dbg_delay);
    for (int k = 0; k < dbg_count; k++) {
        if (k)
            sleep_ms(dbg_period);
        uint64_t t0 = pg_now_ns();
        int r = pg_py_inspect(&dbg_state, 500);
        uint64_t t1 = pg_now_ns();
        int fd = path ? open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) : 2;
        if (fd < 0)
            continue;
        struct pg_jw w;
        pg_jw_init(&w, fd, dbg_buf, sizeof dbg_buf);
        pg_jw_obj(&w);
        pg_jw_key(&w, "type"), pg_jw_str(&w, "python_debug");
        pg_jw_key(&w, "call"), pg_jw_int(&w, k);
        pg_jw_key(&w, "rc"), pg_jw_int(&w, r);
        pg_jw_key(&w, "elapsed_us"), pg_jw_int(&w, (long long)((t1 - t0) / 1000));
        if (r == 0)
            pg_jw_key(&w, "python"), pg_py_write_json(&w, &dbg_state);
        pg_jw_obj_end(&w);
        pg_jw_line(&w);
        if (path)
            close(fd);
    }
    return NULL;
}

__attribute__((constructor)) static void debug_start(void)
{
    const char *v = getenv("POOLGUARD_PY_DEBUG");
    if (!v || !*v)
        return;
    pg_init();
    if (pg_disabled)
        return;
    sscanf(v, "%d,%d,%d", &dbg_delay, &dbg_count, &dbg_period);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t th;
    if (pg_real.pthread_create(&th, &attr, debug_main, NULL) == 0)
        pthread_setname_np(th, "poolguard-pydbg");
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

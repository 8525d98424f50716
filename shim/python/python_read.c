/*
 * One reading of the interpreter, with the GIL held (python_inspector.c takes it): finds the
 * standard library's classes and functions the program has imported, then reads every Python
 * thread (name, stack, what it waits on, the work item it runs, its pool) and hands the pools
 * to python_executor.c (queues), python_mp.c (ThreadPools) and python_asyncio.c (event loops).
 *
 * It runs no Python code and changes no object of the program: the only callables it calls are
 * sys._current_frames and, before 3.12, sys.getrefcount (C code; see forget_locals for the copies
 * of a frame's locals that reading leaves behind and that it takes out again), and it reads
 * objects only through python_object.c. The cyclic collector is off while it reads
 * (python_gc.c), so no finalizer can run either. It imports nothing: a module the program has not
 * imported is simply not there. Inspector thread only; static state, no allocation of its own.
 */
#include "pyoffsets.h"
#include "python_int.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

PyObject *pg_py_code_of(struct pg_py_ctx *c, PyObject *fn)
{
    return pg_py_is(fn, pg_py_api.t_function) ? pg_py_keep(c, pg_py_attr(fn, "__code__")) : NULL;
}
#define func_code pg_py_code_of

PyObject *pg_py_method_code(struct pg_py_ctx *c, PyObject *cls, const char *name)
{
    PyObject *fn = cls ? pg_py_cattr(cls, name) : NULL;
    PyObject *code = fn ? func_code(c, fn) : NULL;
    if (fn)
        pg_py_api.DecRef(fn);
    return code;
}
#define method_code pg_py_method_code

static void load_known(struct pg_py_ctx *c)
{
    PyObject *th = pg_py_module_dict("threading");
    if (th) {
        c->thread_cls = pg_py_dget(th, "Thread");
        c->mainthread_cls = pg_py_dget(th, "_MainThread");
        c->dummythread_cls = pg_py_dget(th, "_DummyThread");
        c->active = pg_py_dget(th, "_active");
        if (c->active && !pg_py_is(c->active, pg_py_api.t_dict))
            c->active = NULL;
        c->code[K_EVENT_WAIT] = method_code(c, pg_py_dget(th, "Event"), "wait");
        c->code[K_COND_WAIT] = method_code(c, pg_py_dget(th, "Condition"), "wait");
        c->code[K_COND_WAIT_FOR] = method_code(c, pg_py_dget(th, "Condition"), "wait_for");
        c->code[K_SEM_ACQUIRE] = method_code(c, pg_py_dget(th, "Semaphore"), "acquire");
        c->code[K_BARRIER_WAIT] = method_code(c, pg_py_dget(th, "Barrier"), "wait");
        c->code[K_JOIN] = method_code(c, c->thread_cls, "join");
    }
    PyObject *q = pg_py_module_dict("queue");
    if (q)
        c->code[K_QUEUE_GET] = method_code(c, pg_py_dget(q, "Queue"), "get");
    PyObject *cq = pg_py_module_dict("_queue");
    if (cq)
        c->squeue_cls = pg_py_dget(cq, "SimpleQueue");
    PyObject *base = pg_py_module_dict("concurrent.futures._base");
    if (base) {
        c->future_cls = pg_py_dget(base, "Future");
        c->code[K_RESULT] = method_code(c, c->future_cls, "result");
        c->code[K_EXCEPTION] = method_code(c, c->future_cls, "exception");
        c->code[K_WAIT] = func_code(c, pg_py_dget(base, "wait"));
        c->code[K_AS_COMPLETED] = func_code(c, pg_py_dget(base, "as_completed"));
    }
    PyObject *cft = pg_py_module_dict("concurrent.futures.thread");
    if (cft) {
        c->tpe_cls = pg_py_dget(cft, "ThreadPoolExecutor");
        c->workitem_cls = pg_py_dget(cft, "_WorkItem");
        c->worker_fn = pg_py_dget(cft, "_worker");
        c->code[K_WORKER] = func_code(c, c->worker_fn);
        c->code[K_RUN] = method_code(c, c->workitem_cls, "run");
    }
    PyObject *ft = pg_py_module_dict("functools");
    if (ft)
        c->partial_cls = pg_py_dget(ft, "partial");
    pg_py_mp_load(c);
    pg_py_asyncio_load(c);
    if (c->mp_result_cls) {
        c->code[K_APPLY_WAIT] = method_code(c, c->mp_result_cls, "wait");
        c->code[K_APPLY_GET] = method_code(c, c->mp_result_cls, "get");
        c->code[K_MP_WORKER] = func_code(c, c->mp_worker_fn);
    }
    if (c->loop_cls)
        c->code[K_LOOP_RUN] = method_code(c, c->loop_cls, "run_forever");
}

/* Before 3.12 the C API reads a frame's local variables only through f_locals, which copies every
 * local into the frame's own locals dict and leaves the copies there. A copy outlives its
 * variable: _WorkItem.run's and Future.result's `self = None` then free nothing, and after a task
 * raised, its future, the worker's Thread and the executor stay alive until the next collection
 * (CPython's test_concurrent_futures counted them as dangling threads). Deleting the copies again
 * is worse: a Python-level tracer's call writes the dict back into the frame when it returns
 * (clearing what is missing), so a reading taken while a tracer has the frame would unbind the
 * program's variables. So the fast locals are read where they are, as the interpreter reads them:
 * by the name's index among the code's local names, in the frame's slots (3.8-3.10: the frame
 * object's f_localsplus; 3.11: its interpreter frame's localsplus), with the layouts of
 * pyoffsets.c, which a unit test checks against each version's headers. Nothing is written. */
static int fast_locals_usable(void)
{
    static int usable = -1; /* -1: not decided */
    if (usable < 0) {
        /* A Py_TRACE_REFS build has a larger object header than the table knows. */
        PyObject *getobjects = pg_py_dget(pg_py_module_dict("sys"), "getobjects");
        unsigned minor = (pg_py_hexversion >> 16) & 0xff;
        usable = !getobjects && pg_py_hexversion >> 24 == 3 && minor >= 8 && minor <= 11 &&
                 pyoff_for_minor((int)minor) != NULL;
        pg_py_api.Err_Clear();
    }
    return usable;
}

/* The index of name among names (a tuple of str), or -1. */
static Py_ssize_t name_index(PyObject *names, const char *name, Py_ssize_t limit)
{
    if (!pg_py_is(names, pg_py_api.t_tuple))
        return -1;
    Py_ssize_t n = pg_py_api.Tuple_Size(names);
    if (limit < n)
        n = limit;
    for (Py_ssize_t i = 0; i < n; i++) {
        char b[64];
        PyObject *k = pg_py_api.Tuple_GetItem(names, i);
        if (!pg_py_is(k, pg_py_api.t_str))
            continue;
        pg_py_copy_str(b, sizeof b, k, 0);
        if (!strcmp(b, name))
            return i;
    }
    pg_py_api.Err_Clear();
    return -1;
}

static PyObject *fast_local(PyObject *frame, const char *name)
{
    const struct pyoffs *o = pyoff_for_minor((int)((pg_py_hexversion >> 16) & 0xff));
    if (!pg_py_is(frame, pg_py_api.t_frame))
        return NULL;
    PyObject **slots;
    Py_ssize_t i;
    if (o->minor <= 10) {
        PyObject *code = pg_py_attr(frame, "f_code");
        PyObject *names = pg_py_is(code, pg_py_api.t_code) ? pg_py_attr(code, "co_varnames") : NULL;
        PyObject *nl = pg_py_is(code, pg_py_api.t_code) ? pg_py_attr(code, "co_nlocals") : NULL;
        long nlocals = pg_py_long_of(nl, 0);
        i = name_index(names, name, nlocals);
        slots = (PyObject **)(void *)((char *)frame + o->fr_localsplus);
        if (i >= 0 && !slots[i]) {
            /* An argument a closure captures lives in its cell, after the locals; its own
             * slot is empty. */
            PyObject *cells = pg_py_attr(code, "co_cellvars");
            Py_ssize_t j = name_index(cells, name, SSIZE_MAX);
            i = j >= 0 ? nlocals + j : -1;
            if (cells)
                pg_py_api.DecRef(cells);
        }
        if (nl)
            pg_py_api.DecRef(nl);
        if (names)
            pg_py_api.DecRef(names);
        if (code)
            pg_py_api.DecRef(code);
    } else {
        char *iframe = *(char **)(void *)((char *)frame + o->fobj_frame);
        if (!iframe)
            return NULL;
        PyObject *code = *(PyObject **)(void *)(iframe + o->fr_code);
        if (!pg_py_is(code, pg_py_api.t_code))
            return NULL;
        PyObject *names = *(PyObject **)(void *)((char *)code + o->co_varnames);
        int nlocalsplus = *(int *)(void *)((char *)code + o->co_nlocals);
        i = name_index(names, name, nlocalsplus);
        slots = (PyObject **)(void *)(iframe + o->fr_localsplus);
    }
    PyObject *v = i >= 0 ? slots[i] : NULL;
    if (!v)
        return NULL;
    if (pg_py_is(v, pg_py_api.t_cell)) {
        v = pg_py_api.Cell_Get(v); /* a new reference, or NULL for an empty cell */
        pg_py_api.Err_Clear();
        return v;
    }
    pg_py_api.IncRef(v);
    return v;
}

/* A local variable of a frame blocked in a standard-library function, read in place:
 * PyFrame_GetVarString from 3.12, the frame's slots before (fast_local). Where neither is
 * possible (a Py_TRACE_REFS build), f_locals, as a debugger would read it. */
PyObject *pg_py_frame_local(PyObject *frame, const char *name)
{
    if (pg_py_api.Frame_GetVarString) {
        PyObject *v = pg_py_api.Frame_GetVarString(frame, name);
        if (!v)
            pg_py_api.Err_Clear();
        return v;
    }
    if (fast_locals_usable())
        return fast_local(frame, name);
    PyObject *d = pg_py_attr(frame, "f_locals");
    PyObject *v = d && pg_py_is(d, pg_py_api.t_dict) ? pg_py_api.Dict_GetItemString(d, name) : NULL;
    if (v)
        pg_py_api.IncRef(v);
    if (d)
        pg_py_api.DecRef(d);
    return v;
}

int pg_py_future_state(struct pg_py_ctx *c, PyObject *fut)
{
    PyObject *s = pg_py_iattr(fut, c->future_cls, "_state");
    char b[32];
    pg_py_copy_str(b, sizeof b, s, 0);
    if (s)
        pg_py_api.DecRef(s);
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

static void add_wait(struct pg_py_ctx *c, struct pg_py_thread *th, PyObject *fut)
{
    if (!c->future_cls || !pg_py_is_sub(fut, c->future_cls))
        return;
    if (th->nwaits == PG_PY_MAX_WAITS) {
        th->waits_dropped++;
        return;
    }
    struct pg_py_wait *w = &th->waits[th->nwaits++];
    w->future = (uintptr_t)fut;
    w->kind = PG_PY_W_FUTURE;
    w->state = pg_py_future_state(c, fut);
    w->job = -1;
    w->queue_pos = -1;
    pg_py_add_pending(c, w, fut, -1, 0);
}

int pg_py_add_pending(struct pg_py_ctx *c, struct pg_py_wait *w, PyObject *obj, long job, int needs)
{
    if (c->npend == PG_PY_MAX_PENDING)
        return -1;
    if (obj) {
        pg_py_api.IncRef(obj);
        if (!pg_py_keep(c, obj))
            return -1;
    }
    c->pend_obj[c->npend] = obj;
    c->pend_job[c->npend] = job;
    c->pend_needs[c->npend] = needs;
    c->pend[c->npend++] = w;
    return 0;
}

static void add_waits_from_set(struct pg_py_ctx *c, struct pg_py_thread *th, PyObject *set)
{
    if (!pg_py_is(set, pg_py_api.t_set))
        return;
    PyObject *it = pg_py_api.Object_GetIter(set);
    if (!it) {
        pg_py_api.Err_Clear();
        return;
    }
    PyObject *f;
    while ((f = pg_py_api.Iter_Next(it)) != NULL) {
        add_wait(c, th, f);
        pg_py_api.DecRef(f);
    }
    pg_py_api.Err_Clear();
    pg_py_api.DecRef(it);
}

static enum pg_py_code_kind kind_of(struct pg_py_ctx *c, PyObject *code)
{
    for (int k = 1; k < K_COUNT; k++)
        if (c->code[k] && c->code[k] == code)
            return (enum pg_py_code_kind)k;
    return K_NONE;
}

static int blocked_of(enum pg_py_code_kind k)
{
    switch (k) {
    case K_RESULT:
    case K_EXCEPTION: return PG_PY_B_FUTURE_RESULT;
    case K_WAIT: return PG_PY_B_FUTURES_WAIT;
    case K_AS_COMPLETED: return PG_PY_B_AS_COMPLETED;
    case K_EVENT_WAIT: return PG_PY_B_EVENT_WAIT;
    case K_COND_WAIT:
    case K_COND_WAIT_FOR: return PG_PY_B_CONDITION_WAIT;
    case K_SEM_ACQUIRE: return PG_PY_B_SEMAPHORE;
    case K_BARRIER_WAIT: return PG_PY_B_BARRIER;
    case K_JOIN: return PG_PY_B_THREAD_JOIN;
    case K_QUEUE_GET: return PG_PY_B_QUEUE_GET;
    case K_APPLY_WAIT:
    case K_APPLY_GET: return PG_PY_B_ASYNC_RESULT;
    default: return PG_PY_B_NONE;
    }
}

/* The work item a worker runs: `self` of its innermost _WorkItem.run frame. */
static void read_task(struct pg_py_ctx *c, struct pg_py_thread *th, PyObject *runframe)
{
    PyObject *item = pg_py_frame_local(runframe, "self");
    if (item && pg_py_is(item, c->workitem_cls)) {
        th->work_item = (uintptr_t)item;
        PyObject *fut = pg_py_attr(item, "future");
        th->work_future = (uintptr_t)fut;
        if (fut)
            pg_py_api.DecRef(fut);
        PyObject *fn = pg_py_attr(item, "fn");
        th->has_task = pg_py_describe(c, fn, &th->task, 0);
        if (fn)
            pg_py_api.DecRef(fn);
    }
    if (item)
        pg_py_api.DecRef(item);
}

/* The wait a thread is in: the outermost of the chain of recognised standard-library frames that
 * starts at its innermost frame (Condition.wait called by Event.wait called by futures.wait). */
static void read_wait(struct pg_py_ctx *c, struct pg_py_thread *th, PyObject *frame,
                      enum pg_py_code_kind k)
{
    PyObject *timeout = pg_py_frame_local(frame, "timeout");
    th->timed = timeout && timeout != pg_py_api.none;
    if (timeout)
        pg_py_api.DecRef(timeout);
    if (k == K_QUEUE_GET || k == K_SEM_ACQUIRE) {
        /* get(block=False) / acquire(blocking=False) never block. */
        PyObject *b = pg_py_frame_local(frame, k == K_QUEUE_GET ? "block" : "blocking");
        if (b == pg_py_api.py_false)
            th->blocked = PG_PY_B_NONE;
        if (b)
            pg_py_api.DecRef(b);
    }
    if (k == K_RESULT || k == K_EXCEPTION) {
        PyObject *fut = pg_py_frame_local(frame, "self");
        if (fut)
            add_wait(c, th, fut), pg_py_api.DecRef(fut);
    } else if (k == K_WAIT || k == K_AS_COMPLETED) {
        PyObject *set = pg_py_frame_local(frame, k == K_WAIT ? "not_done" : "pending");
        if (set)
            add_waits_from_set(c, th, set), pg_py_api.DecRef(set);
    } else if (k == K_APPLY_WAIT || k == K_APPLY_GET) {
        PyObject *res = pg_py_frame_local(frame, "self");
        if (res)
            pg_py_mp_wait(c, th, res), pg_py_api.DecRef(res);
    }
}

static void walk_stack(struct pg_py_ctx *c, struct pg_py_thread *th, PyObject *top)
{
    PyObject *f = top;
    pg_py_api.IncRef(f);
    int chain = 1;
    PyObject *waitframe = NULL, *runframe = NULL, *mpframe = NULL;
    enum pg_py_code_kind waitkind = K_NONE;
    while (f && pg_py_is(f, pg_py_api.t_frame) && th->depth < 4096) {
        PyObject *code = pg_py_attr(f, "f_code");
        if (code && pg_py_is(code, pg_py_api.t_code)) {
            if (th->nframes < PG_PY_MAX_FRAMES) {
                struct pg_py_func *fr = &th->frames[th->nframes++];
                pg_py_code_names(code, fr);
                fr->line = pg_py_api.Frame_GetLineNumber(f);
            }
            enum pg_py_code_kind k = kind_of(c, code);
            if (chain && blocked_of(k) != PG_PY_B_NONE) {
                th->blocked = blocked_of(k);
                waitkind = k;
                if (waitframe)
                    pg_py_api.DecRef(waitframe);
                waitframe = f;
                pg_py_api.IncRef(f);
            } else if (chain && (k == K_WORKER || k == K_MP_WORKER) && th->depth == 0) {
                /* Waiting for work in C code (SimpleQueue.get), or between two tasks. */
                th->blocked = PG_PY_B_WORKER_IDLE;
                chain = 0;
            } else {
                chain = 0;
            }
            if (k == K_RUN && !runframe) {
                runframe = f;
                pg_py_api.IncRef(f);
            }
            if (k == K_MP_WORKER && th->depth > 0 && !mpframe) {
                mpframe = f;
                pg_py_api.IncRef(f);
            }
            if (k == K_LOOP_RUN)
                pg_py_asyncio_loop(c, th, f);
        }
        if (code)
            pg_py_api.DecRef(code);
        th->depth++;
        PyObject *back = pg_py_attr(f, "f_back");
        pg_py_api.DecRef(f);
        f = back;
    }
    if (f)
        pg_py_api.DecRef(f);
    if (waitframe) {
        read_wait(c, th, waitframe, waitkind);
        pg_py_api.DecRef(waitframe);
    }
    if (runframe) {
        read_task(c, th, runframe);
        pg_py_api.DecRef(runframe);
    }
    if (mpframe) {
        pg_py_mp_task(c, th, mpframe);
        pg_py_api.DecRef(mpframe);
    }
}

int pg_py_pool_index(struct pg_py_ctx *c, struct pg_py_state *st, PyObject *ex, PyObject *queue,
                     int kind)
{
    for (int i = 0; i < st->nexecutors; i++)
        if (c->ex_obj[i] == ex)
            return i;
    if (st->nexecutors == PG_PY_MAX_EXECUTORS) {
        st->executors_dropped++;
        return -1;
    }
    pg_py_api.IncRef(ex);
    pg_py_api.IncRef(queue);
    if (!pg_py_keep(c, ex) || !pg_py_keep(c, queue))
        return -1;
    int i = st->nexecutors++;
    c->ex_obj[i] = ex;
    c->ex_queue[i] = queue; /* the worker's _args tuple holds it; the executor too */
    st->executors[i].addr = (uintptr_t)ex;
    st->executors[i].kind = kind;
    return i;
}

/* A ThreadPoolExecutor worker: an exact threading.Thread whose target is the module's _worker;
 * its args are (weakref to the executor, the work queue, ...). A ThreadPool worker: a thread
 * (multiprocessing.dummy's DummyProcess) whose target is multiprocessing.pool.worker. */
static void read_worker(struct pg_py_ctx *c, struct pg_py_state *st, struct pg_py_thread *th,
                        PyObject *t)
{
    th->executor = -1;
    if (c->mp_worker_fn && pg_py_is_sub(t, c->thread_cls) && !pg_py_is(t, c->thread_cls)) {
        PyObject *target = pg_py_tattr(c, t, "_target");
        PyObject *args = target == c->mp_worker_fn ? pg_py_tattr(c, t, "_args") : NULL;
        if (args)
            pg_py_mp_worker(c, st, th, target, args), pg_py_api.DecRef(args);
        if (target)
            pg_py_api.DecRef(target);
        return;
    }
    if (!c->worker_fn || !c->tpe_cls || !pg_py_is(t, c->thread_cls))
        return;
    PyObject *target = pg_py_attr(t, "_target");
    PyObject *args = target == c->worker_fn ? pg_py_attr(t, "_args") : NULL;
    if (pg_py_is(args, pg_py_api.t_tuple) && pg_py_api.Tuple_Size(args) >= 2) {
        PyObject *ref = pg_py_api.Tuple_GetItem(args, 0);
        PyObject *queue = pg_py_api.Tuple_GetItem(args, 1);
        PyObject *ex = pg_py_is(ref, pg_py_api.t_weakref) ? pg_py_api.Weakref_GetObject(ref) : NULL;
        if (ex && pg_py_is_sub(ex, c->tpe_cls)) {
            th->executor = pg_py_pool_index(c, st, ex, queue, PG_PY_POOL_EXECUTOR);
            if (th->executor >= 0) {
                th->executor_addr = (uintptr_t)ex;
                st->executors[th->executor].nworkers_seen++;
            }
        }
    }
    pg_py_api.Err_Clear();
    if (args)
        pg_py_api.DecRef(args);
    if (target)
        pg_py_api.DecRef(target);
}

static void read_thread_obj(struct pg_py_ctx *c, struct pg_py_state *st, struct pg_py_thread *th,
                            PyObject *t)
{
    if (!c->thread_cls || !pg_py_is_sub(t, c->thread_cls))
        return;
    PyObject *name = pg_py_tattr(c, t, "_name");
    pg_py_copy_str(th->name, sizeof th->name, name, 0);
    if (name)
        pg_py_api.DecRef(name);
    PyObject *nid = pg_py_tattr(c, t, "_native_id");
    th->native_id = pg_py_long_of(nid, 0);
    if (nid)
        pg_py_api.DecRef(nid);
    PyObject *d = pg_py_tattr(c, t, "_daemonic");
    th->daemon = d == pg_py_api.py_true;
    if (d)
        pg_py_api.DecRef(d);
    read_worker(c, st, th, t);
}

static unsigned long ident_of(PyObject *k)
{
    if (!pg_py_is(k, pg_py_api.t_int))
        return 0;
    unsigned long v = pg_py_api.Long_AsUnsignedLong(k);
    if (v == (unsigned long)-1)
        pg_py_api.Err_Clear();
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
    th->work_job = -1;
    return th;
}

static void read_threads(struct pg_py_ctx *c, struct pg_py_state *st)
{
    PyObject *sys = pg_py_module_dict("sys");
    PyObject *cf = pg_py_dget(sys, "_current_frames");
    PyObject *frames =
        cf && pg_py_is(cf, pg_py_api.t_cfunction) ? pg_py_api.CallObject(cf, NULL) : NULL;
    if (!frames)
        pg_py_api.Err_Clear();
    else if (!pg_py_is(frames, pg_py_api.t_dict))
        pg_py_api.DecRef(frames), frames = NULL;
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (frames && pg_py_api.Dict_Next(frames, &pos, &k, &v)) {
        struct pg_py_thread *th = new_thread(st, ident_of(k));
        if (!th)
            continue;
        PyObject *t = c->active ? pg_py_api.Dict_GetItem(c->active, k) : NULL;
        if (t)
            read_thread_obj(c, st, th, t);
        walk_stack(c, th, v);
    }
    /* Threads threading knows that run no Python code now (no frame). */
    pos = 0;
    while (c->active && pg_py_api.Dict_Next(c->active, &pos, &k, &v)) {
        if (frames && pg_py_api.Dict_GetItem(frames, k))
            continue;
        struct pg_py_thread *th = new_thread(st, ident_of(k));
        if (th)
            read_thread_obj(c, st, th, v);
    }
    if (frames)
        pg_py_api.DecRef(frames);
}

static struct pg_py_ctx ictx; /* inspector thread only */

int pg_py_read_interpreter(struct pg_py_state *st)
{
    struct pg_py_ctx *c = &ictx;
    memset(c, 0, sizeof *c);
    int gc_was = pg_py_gc_off();
    if (gc_was < 0)
        return -EAGAIN; /* cannot make sure no finalizer runs: read nothing */
    load_known(c);
    read_threads(c, st);
    for (int i = 0; i < st->nexecutors; i++) {
        if (st->executors[i].kind == PG_PY_POOL_MP_THREADPOOL)
            pg_py_mp_read_pool(c, st, i);
        else
            pg_py_read_executor(c, &st->executors[i], c->ex_obj[i], c->ex_queue[i]);
    }
    pg_py_asyncio_defaults(c, st);
    pg_py_asyncio_chains(c);
    pg_py_scan_queues(c, st);
    pg_py_link_running(st, c);
    pg_py_name_globals(c, st);
    /* Dropping our references frees nothing of the program's: each of these objects is also
     * referenced by the program, since no program thread ran while we held the GIL. */
    for (int i = c->nkept - 1; i >= 0; i--)
        pg_py_api.DecRef(c->kept[i]);
    pg_py_api.Err_Clear();
    pg_py_gc_restore(gc_was);
    return 0;
}

/*
 * asyncio, during a reading: which executors are an event loop's default executor (the one
 * loop.run_in_executor(None, ...) uses), and, for a thread blocked on a concurrent future that an
 * asyncio Task completes (asyncio.run_coroutine_threadsafe), which executor future that Task
 * awaits (loop.run_in_executor's), so that python_executor.c can look for its work item.
 *
 * Both links are made by asyncio.futures._chain_future, which adds to the destination future a
 * callback, the closure _call_check_cancel, whose free variable `source` is the future it copies:
 * run_coroutine_threadsafe chains the Task to the concurrent future it returns; wrap_future (used
 * by run_in_executor) chains the executor's concurrent future to the asyncio future the coroutine
 * awaits. A Task's _fut_waiter is the future it is suspended on (another Task is followed, a few
 * levels at most). A Task inside an asyncio timeout (3.11+: a TimerHandle of the loop calls back
 * a Timeout of that Task) may be cancelled by it: such a link is marked needs_timed.
 *
 * Running loops are found by their BaseEventLoop.run_forever frames. Same rules as
 * python_read.c: the GIL is held, the collector is off, no Python code runs. The only attributes
 * read of asyncio's C types (Task, Future) are their getters, C code; the program's loop classes
 * are read through their __dict__. Inspector thread only.
 */
#include "python_int.h"

#include <string.h>

#define CHAIN_HOPS 4
#define CALLBACKS_SCAN_MAX 64
#define TIMERS_SCAN_MAX 10000

void pg_py_asyncio_load(struct pg_py_ctx *c)
{
    PyObject *be = pg_py_module_dict("asyncio.base_events");
    PyObject *fu = pg_py_module_dict("asyncio.futures");
    PyObject *ta = pg_py_module_dict("asyncio.tasks");
    if (!be || !fu || !ta)
        return;
    c->loop_cls = pg_py_dget(be, "BaseEventLoop");
    c->afut_cls = pg_py_dget(fu, "Future");
    c->apyfut_cls = pg_py_dget(fu, "_PyFuture");
    c->atask_cls = pg_py_dget(ta, "Task");
    c->apytask_cls = pg_py_dget(ta, "_PyTask");
    PyObject *ev = pg_py_module_dict("asyncio.events");
    c->timerhandle_cls = pg_py_dget(ev, "TimerHandle");
    PyObject *to = pg_py_module_dict("asyncio.timeouts");
    c->timeout_cls = pg_py_dget(to, "Timeout");
    /* _call_check_cancel's code object is a constant of _chain_future's code. */
    PyObject *chain = pg_py_dget(fu, "_chain_future");
    PyObject *code = pg_py_is(chain, pg_py_api.t_function) ? pg_py_attr(chain, "__code__") : NULL;
    PyObject *consts = pg_py_is(code, pg_py_api.t_code) ? pg_py_attr(code, "co_consts") : NULL;
    for (Py_ssize_t i = 0; pg_py_is(consts, pg_py_api.t_tuple) && i < pg_py_api.Tuple_Size(consts);
         i++) {
        PyObject *k = pg_py_api.Tuple_GetItem(consts, i);
        if (!pg_py_is(k, pg_py_api.t_code))
            continue;
        PyObject *n = pg_py_attr(k, "co_name");
        char b[32];
        pg_py_copy_str(b, sizeof b, n, 0);
        if (n)
            pg_py_api.DecRef(n);
        if (!strcmp(b, "_call_check_cancel")) {
            pg_py_api.IncRef(k);
            c->chain_cancel_code = pg_py_keep(c, k);
        }
    }
    if (consts)
        pg_py_api.DecRef(consts);
    if (code)
        pg_py_api.DecRef(code);
    pg_py_api.Err_Clear();
}

void pg_py_asyncio_loop(struct pg_py_ctx *c, struct pg_py_thread *th, PyObject *frame)
{
    if (c->nloops == PG_PY_MAX_LOOPS)
        return;
    PyObject *loop = pg_py_frame_local(frame, "self");
    if (loop && pg_py_is_sub(loop, c->loop_cls) && pg_py_keep(c, loop)) {
        c->loop_thread[c->nloops] = th->ident;
        c->loop_obj[c->nloops++] = loop;
    } else if (loop) {
        pg_py_api.DecRef(loop);
    }
}

void pg_py_asyncio_defaults(struct pg_py_ctx *c, struct pg_py_state *st)
{
    for (int l = 0; l < c->nloops; l++) {
        PyObject *ex = pg_py_iattr(c->loop_obj[l], c->loop_cls, "_default_executor");
        for (int i = 0; ex && i < st->nexecutors; i++) {
            if (c->ex_obj[i] == ex && st->executors[i].kind == PG_PY_POOL_EXECUTOR) {
                st->executors[i].loop = (uintptr_t)c->loop_obj[l];
                st->executors[i].loop_thread = c->loop_thread[l];
            }
        }
        if (ex)
            pg_py_api.DecRef(ex);
    }
}

static int is_task(struct pg_py_ctx *c, PyObject *o)
{
    return (c->atask_cls && pg_py_is(o, c->atask_cls)) ||
           (c->apytask_cls && pg_py_is(o, c->apytask_cls));
}

static int is_afuture(struct pg_py_ctx *c, PyObject *o)
{
    return (c->afut_cls && pg_py_is(o, c->afut_cls)) ||
           (c->apyfut_cls && pg_py_is(o, c->apyfut_cls));
}

/* `source` of a _call_check_cancel closure, or NULL (a new reference). */
static PyObject *closure_source(struct pg_py_ctx *c, PyObject *fn)
{
    if (!pg_py_is(fn, pg_py_api.t_function))
        return NULL;
    PyObject *code = pg_py_attr(fn, "__code__");
    PyObject *src = NULL;
    if (code && code == c->chain_cancel_code) {
        PyObject *names = pg_py_attr(code, "co_freevars");
        PyObject *cells = pg_py_attr(fn, "__closure__");
        if (pg_py_is(names, pg_py_api.t_tuple) && pg_py_is(cells, pg_py_api.t_tuple) &&
            pg_py_api.Tuple_Size(names) == pg_py_api.Tuple_Size(cells)) {
            for (Py_ssize_t i = 0; i < pg_py_api.Tuple_Size(names) && !src; i++) {
                char b[16];
                pg_py_copy_str(b, sizeof b, pg_py_api.Tuple_GetItem(names, i), 0);
                PyObject *cell = pg_py_api.Tuple_GetItem(cells, i);
                if (!strcmp(b, "source") && pg_py_is(cell, pg_py_api.t_cell))
                    src = pg_py_api.Cell_Get(cell);
            }
        }
        if (names)
            pg_py_api.DecRef(names);
        if (cells)
            pg_py_api.DecRef(cells);
    }
    if (code)
        pg_py_api.DecRef(code);
    pg_py_api.Err_Clear();
    return src;
}

/* The future a chain callback of `fut` copies: a concurrent future's _done_callbacks (a list of
 * callables), an asyncio future's _callbacks (a list of (callable, context) tuples). */
static PyObject *chained_source(struct pg_py_ctx *c, PyObject *fut, int asyncio_side)
{
    PyObject *cbs = asyncio_side ? pg_py_attr(fut, "_callbacks")
                                 : pg_py_iattr(fut, c->future_cls, "_done_callbacks");
    PyObject *src = NULL;
    for (Py_ssize_t i = 0; pg_py_is(cbs, pg_py_api.t_list) && i < pg_py_api.List_Size(cbs) &&
                           i < CALLBACKS_SCAN_MAX && !src;
         i++) {
        PyObject *cb = pg_py_api.List_GetItem(cbs, i);
        if (pg_py_is(cb, pg_py_api.t_tuple) && pg_py_api.Tuple_Size(cb) >= 1)
            cb = pg_py_api.Tuple_GetItem(cb, 0);
        src = closure_source(c, cb);
    }
    if (cbs)
        pg_py_api.DecRef(cbs);
    pg_py_api.Err_Clear();
    return src;
}

/* Is a Timeout (asyncio.timeout, wait_for from 3.12) of one of these tasks scheduled on the loop?
 * 1 yes or cannot tell, 0 no. */
static int task_timed(struct pg_py_ctx *c, PyObject *const *tasks, int ntasks)
{
    if (!c->timeout_cls || ntasks < 1)
        return 0; /* before 3.11: wait_for makes its own waiter future, which breaks the chain */
    PyObject *loop = pg_py_attr(tasks[0], "_loop");
    PyObject *timers = loop ? pg_py_iattr(loop, c->loop_cls, "_scheduled") : NULL;
    int timed =
        !pg_py_is(timers, pg_py_api.t_list) || pg_py_api.List_Size(timers) > TIMERS_SCAN_MAX;
    for (Py_ssize_t i = 0; !timed && i < pg_py_api.List_Size(timers); i++) {
        PyObject *h = pg_py_api.List_GetItem(timers, i);
        PyObject *cb = pg_py_is(h, c->timerhandle_cls) ? pg_py_attr(h, "_callback") : NULL;
        PyObject *self = pg_py_is(cb, pg_py_api.t_method) ? pg_py_attr(cb, "__self__") : NULL;
        if (self && pg_py_is(self, c->timeout_cls)) {
            PyObject *t = pg_py_attr(self, "_task");
            for (int k = 0; k < ntasks; k++)
                timed |= t == tasks[k];
            if (t)
                pg_py_api.DecRef(t);
        }
        if (self)
            pg_py_api.DecRef(self);
        if (cb)
            pg_py_api.DecRef(cb);
    }
    if (timers)
        pg_py_api.DecRef(timers);
    if (loop)
        pg_py_api.DecRef(loop);
    pg_py_api.Err_Clear();
    return timed;
}

/* A PENDING concurrent future completed by a Task: the executor future that Task awaits. */
static void follow(struct pg_py_ctx *c, int p)
{
    struct pg_py_wait *w = c->pend[p];
    PyObject *src = chained_source(c, c->pend_obj[p], 0);
    if (!src || !is_task(c, src)) {
        if (src)
            pg_py_api.DecRef(src);
        return;
    }
    w->via_task = (uintptr_t)src;
    PyObject *coro = pg_py_attr(src, "_coro");
    PyObject *code = pg_py_is(coro, pg_py_api.t_coro) ? pg_py_attr(coro, "cr_code") : NULL;
    if (pg_py_is(code, pg_py_api.t_code)) {
        pg_py_code_names(code, &w->coro);
        w->has_coro = w->coro.name[0] != 0;
        PyObject *first = pg_py_attr(code, "co_firstlineno");
        w->coro.line = (int)pg_py_long_of(first, 0);
        if (first)
            pg_py_api.DecRef(first);
    }
    if (code)
        pg_py_api.DecRef(code);
    if (coro)
        pg_py_api.DecRef(coro);
    PyObject *tasks[CHAIN_HOPS + 1];
    int ntasks = 0;
    PyObject *cur = src; /* owned */
    while (cur && is_task(c, cur) && ntasks <= CHAIN_HOPS) {
        tasks[ntasks++] = cur;
        cur = pg_py_attr(cur, "_fut_waiter");
        if (cur == pg_py_api.none)
            pg_py_api.DecRef(cur), cur = NULL;
    }
    PyObject *x = cur && is_afuture(c, cur) ? chained_source(c, cur, 1) : NULL;
    if (x && pg_py_is_sub(x, c->future_cls)) {
        w->needs = (uintptr_t)x;
        w->needs_state = pg_py_future_state(c, x);
        w->needs_timed = task_timed(c, tasks, ntasks);
        if (pg_py_keep(c, x)) {
            c->pend_obj[p] = x;
            c->pend_needs[p] = 1;
        }
        x = NULL;
    }
    if (x)
        pg_py_api.DecRef(x);
    if (cur)
        pg_py_api.DecRef(cur);
    for (int k = 0; k < ntasks; k++)
        pg_py_api.DecRef(tasks[k]);
    pg_py_api.Err_Clear();
}

void pg_py_asyncio_chains(struct pg_py_ctx *c)
{
    if (!c->chain_cancel_code || !c->future_cls || !c->loop_cls)
        return;
    for (int p = 0; p < c->npend; p++) {
        struct pg_py_wait *w = c->pend[p];
        if (c->pend_job[p] < 0 && !c->pend_needs[p] && w->kind == PG_PY_W_FUTURE &&
            w->state == PG_PY_F_PENDING && c->pend_obj[p])
            follow(c, p);
    }
}

/*
 * multiprocessing.pool.ThreadPool (and multiprocessing.dummy.Pool, which makes one), during a
 * reading: the pools, their workers, the task each worker runs, the AsyncResults threads wait on,
 * and the job numbers of queue entries (python_executor.c scans the queues).
 *
 * A ThreadPool has two queues, both SimpleQueues: _taskqueue takes submissions (apply_async puts
 * a list of one task, map a generator of chunks), and its task handler thread moves each task to
 * _inqueue, where the workers take them. A task is a tuple (job, i, func, args, kwds); an
 * ApplyResult (or MapResult) is known by its job number, unique in the process. The handler
 * threads (_handle_workers, _handle_tasks, _handle_results) are not workers. The pools are found
 * in multiprocessing.util's finalizer registry (each Pool registers a Finalize holding a weak
 * reference to it), and their workers by their target, multiprocessing.pool.worker, whose first
 * argument is the pool's _inqueue.
 *
 * Same rules as python_read.c: the GIL is held, the collector is off, no Python code runs; the
 * program's subclasses are read through their __dict__. Inspector thread only.
 */
#include "python_int.h"

#include <stdio.h>
#include <string.h>

#define REGISTRY_SCAN_MAX 4096
#define GLOBALS_SCAN_MAX 10000

/* The ThreadPools alive now: Finalize objects of the registry whose referent is one. */
static void find_pools(struct pg_py_ctx *c, PyObject *registry)
{
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    int seen = 0;
    while (pg_py_api.Dict_Next(registry, &pos, &k, &v) && seen++ < REGISTRY_SCAN_MAX &&
           c->nmp < PG_PY_MAX_EXECUTORS) {
        if (!pg_py_is(v, c->finalize_cls))
            continue;
        PyObject *ref = pg_py_attr(v, "_weakref");
        PyObject *pool =
            pg_py_is(ref, pg_py_api.t_weakref) ? pg_py_api.Weakref_GetObject(ref) : NULL;
        if (pool && pg_py_is_sub(pool, c->mp_pool_cls)) {
            PyObject *inq = pg_py_iattr(pool, c->mp_pool_cls, "_inqueue");
            pg_py_api.IncRef(pool);
            if (inq && pg_py_keep(c, pool) && pg_py_keep(c, inq)) {
                c->mp_obj[c->nmp] = pool;
                c->mp_inq[c->nmp++] = inq;
            } else if (inq) {
                pg_py_api.DecRef(inq);
            }
        }
        pg_py_api.Err_Clear();
        if (ref)
            pg_py_api.DecRef(ref);
    }
}

void pg_py_mp_load(struct pg_py_ctx *c)
{
    PyObject *th = pg_py_module_dict("threading");
    c->event_cls = pg_py_dget(th, "Event");
    PyObject *mp = pg_py_module_dict("multiprocessing.pool");
    PyObject *util = pg_py_module_dict("multiprocessing.util");
    if (!mp || !util)
        return;
    PyObject *worker = pg_py_dget(mp, "worker");
    if (!pg_py_is(worker, pg_py_api.t_function))
        return;
    c->mp_worker_fn = worker;
    c->mp_pool_cls = pg_py_dget(mp, "ThreadPool");
    c->mp_result_cls = pg_py_dget(mp, "ApplyResult");
    c->mapstar_fn = pg_py_dget(mp, "mapstar");
    c->starmapstar_fn = pg_py_dget(mp, "starmapstar");
    c->mp_guarded_code = pg_py_method_code(c, pg_py_dget(mp, "Pool"), "_guarded_task_generation");
    c->finalize_cls = pg_py_dget(util, "Finalize");
    PyObject *registry = pg_py_dget(util, "_finalizer_registry");
    if (c->mp_pool_cls && c->finalize_cls && pg_py_is(registry, pg_py_api.t_dict))
        find_pools(c, registry);
}

void pg_py_mp_worker(struct pg_py_ctx *c, struct pg_py_state *st, struct pg_py_thread *th,
                     PyObject *target, PyObject *args)
{
    (void)target;
    if (!pg_py_is(args, pg_py_api.t_tuple) || pg_py_api.Tuple_Size(args) < 1)
        return;
    PyObject *inq = pg_py_api.Tuple_GetItem(args, 0);
    for (int i = 0; i < c->nmp; i++) {
        if (c->mp_inq[i] != inq)
            continue;
        th->executor = pg_py_pool_index(c, st, c->mp_obj[i], inq, PG_PY_POOL_MP_THREADPOOL);
        if (th->executor >= 0) {
            th->executor_addr = (uintptr_t)c->mp_obj[i];
            st->executors[th->executor].nworkers_seen++;
        }
        break;
    }
    pg_py_api.Err_Clear();
}

/* (job, i, func, args, kwds): the job, and the function, looking through map()'s mapstar and
 * starmapstar (whose args are ((func, chunk),)). Returns whether fn was named. */
int pg_py_mp_describe_task(struct pg_py_ctx *c, PyObject *task, long *job, struct pg_py_func *fn)
{
    *job = -1;
    memset(fn, 0, sizeof *fn);
    if (!pg_py_is(task, pg_py_api.t_tuple) || pg_py_api.Tuple_Size(task) != 5)
        return 0;
    *job = pg_py_long_of(pg_py_api.Tuple_GetItem(task, 0), -1);
    PyObject *func = pg_py_api.Tuple_GetItem(task, 2);
    PyObject *args = pg_py_api.Tuple_GetItem(task, 3);
    if (func && (func == c->mapstar_fn || func == c->starmapstar_fn) &&
        pg_py_is(args, pg_py_api.t_tuple) && pg_py_api.Tuple_Size(args) == 1) {
        PyObject *pair = pg_py_api.Tuple_GetItem(args, 0);
        if (pg_py_is(pair, pg_py_api.t_tuple) && pg_py_api.Tuple_Size(pair) == 2)
            func = pg_py_api.Tuple_GetItem(pair, 0);
    }
    int r = pg_py_describe(c, func, fn, 0);
    pg_py_api.Err_Clear();
    return r;
}

long pg_py_mp_entry_job(struct pg_py_ctx *c, PyObject *entry, int submission, struct pg_py_func *fn,
                        int *has_fn)
{
    long job = -1;
    struct pg_py_func f = { 0 };
    int named = 0;
    if (!submission) {
        named = pg_py_mp_describe_task(c, entry, &job, &f);
    } else if (pg_py_is(entry, pg_py_api.t_tuple) && pg_py_api.Tuple_Size(entry) == 2) {
        /* (taskseq, set_length): apply_async's list of one task, or map's generator. */
        PyObject *seq = pg_py_api.Tuple_GetItem(entry, 0);
        if (pg_py_is(seq, pg_py_api.t_list) && pg_py_api.List_Size(seq) > 0) {
            named = pg_py_mp_describe_task(c, pg_py_api.List_GetItem(seq, 0), &job, &f);
        } else if (pg_py_is(seq, pg_py_api.t_gen) && c->mp_guarded_code) {
            PyObject *code = pg_py_attr(seq, "gi_code");
            PyObject *frame = code == c->mp_guarded_code ? pg_py_attr(seq, "gi_frame") : NULL;
            if (pg_py_is(frame, pg_py_api.t_frame)) {
                PyObject *j = pg_py_frame_local(frame, "result_job");
                job = pg_py_long_of(j, -1);
                if (j)
                    pg_py_api.DecRef(j);
            }
            if (frame)
                pg_py_api.DecRef(frame);
            if (code)
                pg_py_api.DecRef(code);
        }
        pg_py_api.Err_Clear();
    }
    if (fn && named)
        *fn = f;
    if (has_fn)
        *has_fn = named;
    return job;
}

void pg_py_mp_task(struct pg_py_ctx *c, struct pg_py_thread *th, PyObject *frame)
{
    if (th->executor < 0)
        return;
    PyObject *task = pg_py_frame_local(frame, "task");
    if (pg_py_is(task, pg_py_api.t_tuple)) {
        th->work_item = (uintptr_t)task;
        th->has_task = pg_py_mp_describe_task(c, task, &th->work_job, &th->task);
    }
    if (task)
        pg_py_api.DecRef(task);
}

void pg_py_mp_wait(struct pg_py_ctx *c, struct pg_py_thread *th, PyObject *res)
{
    if (!c->mp_result_cls || !pg_py_is_sub(res, c->mp_result_cls))
        return;
    if (th->nwaits == PG_PY_MAX_WAITS) {
        th->waits_dropped++;
        return;
    }
    struct pg_py_wait *w = &th->waits[th->nwaits++];
    w->future = (uintptr_t)res;
    w->kind = PG_PY_W_ASYNC_RESULT;
    w->queue_pos = -1;
    PyObject *job = pg_py_iattr(res, c->mp_result_cls, "_job");
    w->job = pg_py_long_of(job, -1);
    if (job)
        pg_py_api.DecRef(job);
    PyObject *ev = pg_py_iattr(res, c->mp_result_cls, "_event");
    PyObject *flag = ev ? pg_py_iattr(ev, c->event_cls, "_flag") : NULL;
    w->state = flag == pg_py_api.py_true ? PG_PY_F_FINISHED : PG_PY_F_UNKNOWN;
    if (flag)
        pg_py_api.DecRef(flag);
    if (ev)
        pg_py_api.DecRef(ev);
    if (w->job >= 0 && w->state != PG_PY_F_FINISHED)
        pg_py_add_pending(c, w, NULL, w->job, 0);
}

void pg_py_mp_read_pool(struct pg_py_ctx *c, struct pg_py_state *st, int i)
{
    struct pg_py_executor *e = &st->executors[i];
    PyObject *pool = c->ex_obj[i], *o;
    if ((o = pg_py_iattr(pool, c->mp_pool_cls, "_processes")))
        e->max_workers = (int)pg_py_long_of(o, 0), pg_py_api.DecRef(o);
    if ((o = pg_py_iattr(pool, c->mp_pool_cls, "_pool"))) {
        if (pg_py_is(o, pg_py_api.t_list))
            e->nthreads = (int)pg_py_api.List_Size(o);
        pg_py_api.DecRef(o);
    }
    if ((o = pg_py_iattr(pool, c->mp_pool_cls, "_state"))) {
        char b[16];
        pg_py_copy_str(b, sizeof b, o, 0);
        e->shutdown = strcmp(b, "RUN") != 0;
        pg_py_api.DecRef(o);
    }
    e->inqueue_len = pg_py_qsize(c, c->ex_queue[i]);
    PyObject *tq = pg_py_iattr(pool, c->mp_pool_cls, "_taskqueue");
    if (tq && pg_py_keep(c, tq))
        c->ex_taskq[i] = tq;
    e->taskqueue_len = pg_py_qsize(c, c->ex_taskq[i]);
    e->queue_len =
        e->inqueue_len >= 0 && e->taskqueue_len >= 0 ? e->inqueue_len + e->taskqueue_len : -1;
    pg_py_api.Err_Clear();
}

/* "__main__.pool" for a ThreadPool the program keeps in a global of its main module: the only
 * name such a pool has. */
void pg_py_name_globals(struct pg_py_ctx *c, struct pg_py_state *st)
{
    int want = 0;
    for (int i = 0; i < st->nexecutors; i++)
        want += st->executors[i].kind == PG_PY_POOL_MP_THREADPOOL;
    PyObject *main = want ? pg_py_module_dict("__main__") : NULL;
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    int seen = 0;
    while (main && want > 0 && pg_py_api.Dict_Next(main, &pos, &k, &v) &&
           seen++ < GLOBALS_SCAN_MAX) {
        for (int i = 0; i < st->nexecutors; i++) {
            struct pg_py_executor *e = &st->executors[i];
            if (c->ex_obj[i] != v || e->global[0] || !pg_py_is(k, pg_py_api.t_str))
                continue;
            char name[PG_PY_NAME - 9];
            pg_py_copy_str(name, sizeof name, k, 0);
            snprintf(e->global, sizeof e->global, "__main__.%s", name);
            want -= e->kind == PG_PY_POOL_MP_THREADPOOL;
        }
    }
}

/*
 * The Python layer's output: pg_py_write_json writes a pg_py_state (python.h) as one JSON
 * object, and the name functions give its enums their names in that JSON and in reports.
 *
 * Works on a copy of the state only: it never touches the interpreter, and the addresses in the
 * state are written as identities, never dereferenced. No allocation (pg_jw writes into the
 * caller's buffer).
 */
#include "python.h"

const char *pg_py_blocked_name(int b)
{
    static const char *const names[] = { "none",         "future_result", "futures_wait",
                                         "as_completed", "event_wait",    "condition_wait",
                                         "semaphore",    "barrier",       "thread_join",
                                         "queue_get",    "worker_idle",   "async_result" };
    return b >= 0 && b < (int)(sizeof names / sizeof names[0]) ? names[b] : "none";
}

const char *pg_py_future_state_name(int s)
{
    static const char *const names[] = { "unknown", "PENDING", "RUNNING", "CANCELLED", "FINISHED" };
    return s >= 0 && s < (int)(sizeof names / sizeof names[0]) ? names[s] : "unknown";
}

const char *pg_py_pool_kind_name(int k)
{
    return k == PG_PY_POOL_MP_THREADPOOL ? "multiprocessing.pool.ThreadPool"
                                         : "concurrent.futures.ThreadPoolExecutor";
}

const char *pg_py_wait_kind_name(int k)
{
    return k == PG_PY_W_ASYNC_RESULT ? "async_result" : "future";
}

void pg_py_write_func(struct pg_jw *w, const struct pg_py_func *f)
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
        pg_jw_key(w, "kind"), pg_jw_str(w, pg_py_pool_kind_name(e->kind));
        pg_jw_key(w, "prefix"), pg_jw_str(w, e->prefix);
        if (e->global[0])
            pg_jw_key(w, "global"), pg_jw_str(w, e->global);
        if (e->loop)
            pg_jw_key(w, "default_executor_of_loop"), pg_jw_hex(w, e->loop),
                pg_jw_key(w, "loop_thread"), pg_jw_hex(w, e->loop_thread);
        pg_jw_key(w, "max_workers"), pg_jw_int(w, e->max_workers);
        pg_jw_key(w, "threads"), pg_jw_int(w, e->nthreads);
        pg_jw_key(w, "workers_seen"), pg_jw_int(w, e->nworkers_seen);
        pg_jw_key(w, "queue_len"), pg_jw_int(w, e->queue_len);
        if (e->kind == PG_PY_POOL_MP_THREADPOOL)
            pg_jw_key(w, "inqueue_len"), pg_jw_int(w, e->inqueue_len),
                pg_jw_key(w, "taskqueue_len"), pg_jw_int(w, e->taskqueue_len);
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
            pg_py_write_func(w, &t->task);
            if (t->work_job >= 0)
                pg_jw_key(w, "task_job"), pg_jw_int(w, t->work_job);
            else
                pg_jw_key(w, "task_future"), pg_jw_hex(w, t->work_future);
        }
        if (t->nwaits) {
            pg_jw_key(w, "waits_on");
            pg_jw_arr(w);
            for (int k = 0; k < t->nwaits; k++) {
                const struct pg_py_wait *x = &t->waits[k];
                pg_jw_obj(w);
                pg_jw_key(w, "future"), pg_jw_hex(w, x->future);
                pg_jw_key(w, "kind"), pg_jw_str(w, pg_py_wait_kind_name(x->kind));
                pg_jw_key(w, "state"), pg_jw_str(w, pg_py_future_state_name(x->state));
                if (x->job >= 0)
                    pg_jw_key(w, "job"), pg_jw_int(w, x->job);
                if (x->via_task) {
                    pg_jw_key(w, "via_task"), pg_jw_hex(w, x->via_task);
                    if (x->has_coro)
                        pg_jw_key(w, "coroutine"), pg_py_write_func(w, &x->coro);
                }
                if (x->needs) {
                    pg_jw_key(w, "needs"), pg_jw_hex(w, x->needs);
                    pg_jw_key(w, "needs_state"),
                        pg_jw_str(w, pg_py_future_state_name(x->needs_state));
                    pg_jw_key(w, "needs_timed"), pg_jw_bool(w, x->needs_timed);
                }
                if (x->queued_in)
                    pg_jw_key(w, "queued_in"), pg_jw_hex(w, x->queued_in),
                        pg_jw_key(w, "queue_pos"), pg_jw_int(w, x->queue_pos);
                if (x->run_by)
                    pg_jw_key(w, "run_by"), pg_jw_hex(w, x->run_by);
                if (x->has_fn)
                    pg_jw_key(w, "fn"), pg_py_write_func(w, &x->fn);
                pg_jw_obj_end(w);
            }
            pg_jw_arr_end(w);
        }
        pg_jw_key(w, "depth"), pg_jw_int(w, t->depth);
        pg_jw_key(w, "stack");
        pg_jw_arr(w);
        for (int k = 0; k < t->nframes; k++)
            pg_py_write_func(w, &t->frames[k]);
        pg_jw_arr_end(w);
        pg_jw_obj_end(w);
    }
    pg_jw_arr_end(w);
    if (st->threads_dropped)
        pg_jw_key(w, "threads_dropped"), pg_jw_int(w, st->threads_dropped);
    pg_jw_obj_end(w);
}

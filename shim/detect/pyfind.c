/*
 * A Python rules verdict as a finding (pyfind.h): the words and the "pool" member, the same for a
 * reading taken inside the process (the shim's watchdog) and one taken from outside (attach, core).
 */
#include "pyfind.h"
#include "pg_format.h"

#include <stdio.h>
#include <string.h>

static const char *base(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

const struct pg_py_thread *pg_pf_thread(const struct pg_py_state *st, unsigned long ident)
{
    for (int k = 0; k < st->nthreads; k++)
        if (st->threads[k].ident == ident)
            return &st->threads[k];
    return NULL;
}

const char *pg_pf_pool_name(const struct pg_py_state *st, const struct pg_py_executor *e, char *buf,
                            size_t len)
{
    if (e->loop) {
        const struct pg_py_thread *lt = pg_pf_thread(st, e->loop_thread);
        if (lt && lt->name[0])
            snprintf(buf, len, "asyncio's default executor of the event loop in %s", lt->name);
        else
            snprintf(buf, len, "asyncio's default executor of the event loop at %#lx",
                     (unsigned long)e->loop);
    } else if (e->kind == PG_PY_POOL_MP_THREADPOOL) {
        snprintf(buf, len, "ThreadPool%s%s", e->global[0] ? " " : "", e->global);
    } else {
        snprintf(buf, len, "%s", e->prefix);
    }
    return buf;
}

static const char *pool_word(const struct pg_py_executor *e)
{
    return e->kind == PG_PY_POOL_MP_THREADPOOL ? "pool" : "executor";
}

/* pool.tasks[]: for each worker, the task it runs and what it waits on. */
static void write_tasks(struct pg_jw *w, const struct pg_py_state *st, int ei)
{
    uintptr_t addr = st->executors[ei].addr;
    pg_jw_key(w, "tasks");
    pg_jw_arr(w);
    for (int k = 0; k < st->nthreads; k++) {
        const struct pg_py_thread *pt = &st->threads[k];
        if (pt->executor != ei)
            continue;
        pg_jw_obj(w);
        pg_jw_key(w, "thread"), pg_jw_str(w, pt->name);
        pg_jw_key(w, "tid"), pg_jw_int(w, pt->native_id);
        pg_jw_key(w, "task");
        if (pt->has_task)
            pg_py_write_func(w, &pt->task);
        else
            pg_jw_null(w);
        pg_jw_key(w, "python_blocked"), pg_jw_str(w, pg_py_blocked_name(pt->blocked));
        const struct pg_py_wait *x = NULL;
        for (int q = 0; q < pt->nwaits && !x; q++)
            if (pg_pr_queued_on(&pt->waits[q], addr))
                x = &pt->waits[q];
        if (!x && pt->nwaits)
            x = &pt->waits[0];
        pg_jw_key(w, "waits_for");
        if (x) {
            pg_jw_obj(w);
            pg_jw_key(w, "kind"),
                pg_jw_str(w, x->needs ? "coroutine" : pg_py_wait_kind_name(x->kind));
            pg_jw_key(w, "function");
            if (x->has_fn)
                pg_py_write_func(w, &x->fn);
            else
                pg_jw_null(w);
            if (x->needs && x->has_coro)
                pg_jw_key(w, "coroutine"), pg_py_write_func(w, &x->coro);
            pg_jw_key(w, "queued_here"), pg_jw_bool(w, pg_pr_queued_on(x, addr));
            if (x->queued_in)
                pg_jw_key(w, "queue_pos"), pg_jw_int(w, x->queue_pos);
            pg_jw_obj_end(w);
        } else {
            pg_jw_null(w);
        }
        pg_jw_obj_end(w);
    }
    pg_jw_arr_end(w);
}

void pg_pf_write_pool(struct pg_jw *w, const struct pg_py_state *st, int ei, int proof, double rate)
{
    const struct pg_py_executor *e = &st->executors[ei];
    if (rate > 0) {
        pg_jw_key(w, PG_K_GROWTH);
        pg_jw_obj(w);
        pg_jw_key(w, "per_second"), pg_jw_int(w, (long long)rate);
        pg_jw_key(w, "depth"), pg_jw_int(w, e->queue_len);
        pg_jw_obj_end(w);
    }
    pg_jw_key(w, PG_K_POOL);
    pg_jw_obj(w);
    pg_jw_key(w, PG_K_POOL_ID), pg_jw_hex(w, e->addr);
    pg_jw_key(w, "python"), pg_jw_bool(w, 1);
    pg_jw_key(w, PG_K_POOL_LIBRARY), pg_jw_str(w, pg_library_name(PG_LIB_PYTHON));
    pg_jw_key(w, "kind"), pg_jw_str(w, pg_py_pool_kind_name(e->kind));
    pg_jw_key(w, "annotated"), pg_jw_bool(w, 0);
    char name[160];
    pg_jw_key(w, PG_K_POOL_NAME), pg_jw_str(w, pg_pf_pool_name(st, e, name, sizeof name));
    if (e->kind == PG_PY_POOL_EXECUTOR)
        pg_jw_key(w, "prefix"), pg_jw_str(w, e->prefix);
    if (e->global[0])
        pg_jw_key(w, "global"), pg_jw_str(w, e->global);
    if (e->loop) {
        const struct pg_py_thread *lt = pg_pf_thread(st, e->loop_thread);
        pg_jw_key(w, "asyncio_loop");
        pg_jw_obj(w);
        pg_jw_key(w, "address"), pg_jw_hex(w, e->loop);
        pg_jw_key(w, "thread"), pg_jw_str(w, lt ? lt->name : "");
        pg_jw_key(w, "tid"), pg_jw_int(w, lt ? lt->native_id : 0);
        pg_jw_obj_end(w);
    }
    pg_jw_key(w, PG_K_POOL_WORKERS), pg_jw_int(w, e->nthreads);
    pg_jw_key(w, PG_K_POOL_MAX), pg_jw_int(w, e->max_workers);
    pg_jw_key(w, PG_K_POOL_QUEUED);
    if (e->queue_len >= 0)
        pg_jw_int(w, e->queue_len);
    else
        pg_jw_null(w);
    pg_jw_key(w, "queued_exact"), pg_jw_bool(w, e->queue_len >= 0);
    if (e->kind == PG_PY_POOL_MP_THREADPOOL)
        pg_jw_key(w, "inqueue_len"), pg_jw_int(w, e->inqueue_len), pg_jw_key(w, "taskqueue_len"),
            pg_jw_int(w, e->taskqueue_len);
    pg_jw_key(w, PG_K_POOL_EVIDENCE), pg_jw_str(w, pg_evidence_name(PG_EV_PYTHON));
    pg_jw_key(w, PG_K_SOURCE), pg_jw_str(w, pg_source_name(PG_SRC_PYTHON));
    pg_jw_key(w, PG_K_POOL_PROOF), pg_jw_str(w, pg_proof_name((pg_proof)proof));
    write_tasks(w, st, ei);
    pg_jw_obj_end(w);
    pg_jw_key(w, "python");
    pg_py_write_json(w, st);
}

int pg_pf_finding_threads(const struct pg_py_state *st, int ei, int *idx, int *role)
{
    int n = 0;
    for (int k = 0; k < st->nthreads && n < PG_PY_MAX_THREADS; k++)
        if (st->threads[k].executor == ei)
            idx[n] = k, role[n++] = PG_ROLE_WORKER;
    for (int k = 0; k < st->nthreads && n < PG_PY_MAX_THREADS; k++) {
        const struct pg_py_thread *pt = &st->threads[k];
        if (pt->executor != ei && pg_pr_blocking(pt->blocked) && !pt->timed)
            idx[n] = k, role[n++] = PG_ROLE_BLOCKED;
    }
    return n;
}

void pg_pf_summary(const struct pg_py_state *st, const struct pg_pr_verdict *v, char *summary,
                   size_t len)
{
    const struct pg_py_executor *e = &st->executors[v->executor];
    char name[160];
    pg_pf_pool_name(st, e, name, sizeof name);
    if (v->kind == PG_PR_GROWTH) {
        snprintf(summary, len,
                 "the queue of %s (%d worker%s) grew to %ld tasks (+%.0f per second) while every "
                 "worker was busy: submissions outpace the pool and memory grows with them",
                 name, e->nthreads, e->nthreads == 1 ? "" : "s", e->queue_len, v->rate);
        return;
    }
    if (v->own_thread >= 0) {
        const struct pg_py_thread *own = &st->threads[v->own_thread];
        const struct pg_py_wait *own_wait = &own->waits[v->own_wait];
        const struct pg_py_func *task = &own->task;
        const char *child = own_wait->has_fn ? own_wait->fn.name : "a task";
        const char *coro = own_wait->has_coro ? own_wait->coro.name : "a coroutine";
        const char *what = own_wait->kind == PG_PY_W_ASYNC_RESULT ? "result" : "future";
        char waited[200];
        if (own_wait->needs)
            snprintf(waited, sizeof waited,
                     "the future of coroutine %s (run_coroutine_threadsafe), which awaits %s", coro,
                     child);
        else
            snprintf(waited, sizeof waited, "the %s of %s", what, child);
        if (v->nworkers == 1)
            snprintf(summary, len,
                     "worker %s, running %s (%s:%d), waits on %s, which is still queued on the "
                     "same %s; its only worker is that thread",
                     own->name, own->has_task ? task->name : "a task", base(task->file), task->line,
                     waited, pool_word(e));
        else if (own_wait->needs)
            snprintf(
                summary, len,
                "all %d workers of %s are waiting on futures whose completion needs tasks still "
                "queued on the same executor: worker %s, running %s (%s:%d), waits on coroutine "
                "%s, which awaits %s, queued at position %ld",
                v->nworkers, name, own->name, own->has_task ? task->name : "a task",
                base(task->file), task->line, coro, child, own_wait->queue_pos);
        else
            snprintf(summary, len,
                     "all %d workers of %s are waiting on %ss of tasks still queued on the same "
                     "%s: worker %s, running %s (%s:%d), waits on %s, queued at position %ld",
                     v->nworkers, name, what, pool_word(e), own->name,
                     own->has_task ? task->name : "a task", base(task->file), task->line, child,
                     own_wait->queue_pos);
        return;
    }
    int proven = v->proof == PG_PR_PROOF_GRAPH;
    snprintf(summary, len,
             "all %d workers of %s are blocked in %s inside their tasks while %ld task%s wait%s in "
             "its queue%s",
             v->nworkers, name, pg_py_blocked_name(v->blocked_kind), e->queue_len,
             e->queue_len == 1 ? "" : "s", e->queue_len == 1 ? "s" : "",
             proven ? "; no other thread is left to wake them"
                    : "; nothing shows that no other thread will wake them");
}

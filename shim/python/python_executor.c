/*
 * The pools' queues, during a reading (python_read.c found the pools through their workers):
 * ThreadPoolExecutors' settings and queue lengths, the queue entries that hold the work blocked
 * threads wait on (a future's _WorkItem; a ThreadPool job's task, python_mp.c), and the workers
 * that run such work.
 *
 * Same rules as python_read.c: the GIL is held, the collector is off, no Python code runs. The
 * only calls made are SimpleQueue.qsize and the queue's GC traversal (C code), and each queue is
 * looked at for at most QUEUE_SCAN_MAX entries. Inspector thread only.
 */
#include "python_int.h"

/* Queue entries looked at per executor when placing waited futures. */
#define QUEUE_SCAN_MAX 250000

void pg_py_read_executor(struct pg_py_ctx *c, struct pg_py_executor *e, PyObject *ex,
                         PyObject *queue)
{
    PyObject *o;
    if ((o = pg_py_iattr(ex, c->tpe_cls, "_max_workers")))
        e->max_workers = (int)pg_py_long_of(o, 0), pg_py_api.DecRef(o);
    if ((o = pg_py_iattr(ex, c->tpe_cls, "_threads"))) {
        if (pg_py_is(o, pg_py_api.t_set))
            e->nthreads = (int)pg_py_api.Set_Size(o);
        pg_py_api.DecRef(o);
    }
    if ((o = pg_py_iattr(ex, c->tpe_cls, "_thread_name_prefix")))
        pg_py_copy_str(e->prefix, sizeof e->prefix, o, 0), pg_py_api.DecRef(o);
    if ((o = pg_py_iattr(ex, c->tpe_cls, "_shutdown")))
        e->shutdown = o == pg_py_api.py_true, pg_py_api.DecRef(o);
    if ((o = pg_py_iattr(ex, c->tpe_cls, "_broken")))
        e->broken = o != pg_py_api.py_false && o != pg_py_api.none, pg_py_api.DecRef(o);
    e->queue_len = pg_py_qsize(c, queue);
    e->inqueue_len = e->taskqueue_len = -1;
}

/* SimpleQueue.qsize() (C code), -1 for anything else. */
long pg_py_qsize(struct pg_py_ctx *c, PyObject *queue)
{
    long len = -1;
    if (c->squeue_cls && pg_py_is(queue, c->squeue_cls)) {
        PyObject *qsize = pg_py_attr(queue, "qsize");
        PyObject *n = qsize ? pg_py_api.CallObject(qsize, NULL) : NULL;
        if (!n)
            pg_py_api.Err_Clear();
        len = pg_py_long_of(n, -1);
        if (n)
            pg_py_api.DecRef(n);
        if (qsize)
            pg_py_api.DecRef(qsize);
    }
    pg_py_api.Err_Clear();
    return len;
}

static void place(struct pg_py_wait *w, PyObject *item, PyObject *pool, long pos)
{
    w->work_item = (uintptr_t)item;
    w->queued_in = (uintptr_t)pool;
    w->queue_pos = pos;
}

/* Looks at one entry of a ThreadPool's queue (a task tuple; or a submission, in _taskqueue);
 * returns the number of waited jobs it placed. */
static int place_task(struct pg_py_ctx *c, PyObject *item, int ex, long pos, int submission)
{
    long job = pg_py_mp_entry_job(c, item, submission, NULL, NULL);
    int placed = 0;
    for (int i = 0; job >= 0 && i < c->npend; i++) {
        struct pg_py_wait *w = c->pend[i];
        if (c->pend_job[i] != job || w->queued_in)
            continue;
        place(w, item, c->ex_obj[ex], pos);
        w->state = PG_PY_F_PENDING;
        pg_py_mp_entry_job(c, item, submission, &w->fn, &w->has_fn);
        placed++;
    }
    return placed;
}

/* Looks at one queue entry; returns the number of waited futures it placed. */
static int place_item(struct pg_py_ctx *c, PyObject *item, int ex, long pos, int submission)
{
    if (c->ex_taskq[ex] || submission)
        return place_task(c, item, ex, pos, submission);
    if (!pg_py_is(item, c->workitem_cls))
        return 0;
    PyObject *fut = pg_py_attr(item, "future");
    int placed = 0;
    for (int i = 0; fut && i < c->npend; i++) {
        if (c->pend_obj[i] != fut || c->pend[i]->queued_in)
            continue;
        struct pg_py_wait *w = c->pend[i];
        place(w, item, c->ex_obj[ex], pos);
        PyObject *fn = pg_py_attr(item, "fn");
        w->has_fn = pg_py_describe(c, fn, &w->fn, 0);
        if (fn)
            pg_py_api.DecRef(fn);
        placed++;
    }
    if (fut)
        pg_py_api.DecRef(fut);
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
    struct pg_py_ctx *c;
    int ex;
    int submission; /* a ThreadPool's _taskqueue */
    long qlen;
    long base; /* positions of this queue start after the entries of the one before */
    long pos;
    long scanned;
    int want;
    PyObject *list;
};

static int queue_visit(PyObject *o, void *arg)
{
    struct qscan *s = arg;
    if (pg_py_hexversion < 0x030d0000) {
        if (!s->list && pg_py_is(o, pg_py_api.t_list))
            s->list = o;
        return 0;
    }
    if (s->pos >= s->qlen || s->want <= 0 || s->scanned >= QUEUE_SCAN_MAX)
        return 1; /* stops the traversal */
    s->scanned++;
    s->want -= place_item(s->c, o, s->ex, s->base + s->pos++, s->submission);
    return 0;
}

typedef int (*visitproc)(PyObject *, void *);
typedef int (*traverseproc)(PyObject *, visitproc, void *);

/* Scans one SimpleQueue; returns the number of waited items still unplaced. */
static int scan_queue(struct pg_py_ctx *c, traverseproc trav, struct qscan *s, PyObject *q)
{
    PyObject *refs = NULL;
    if (trav) {
        trav(q, queue_visit, s);
    } else {
        PyObject *args = pg_py_api.Tuple_Pack(1, q);
        refs = args ? pg_py_gc_referents(NULL, args) : NULL;
        if (args)
            pg_py_api.DecRef(args);
        for (Py_ssize_t i = 0;
             refs && pg_py_is(refs, pg_py_api.t_list) && i < pg_py_api.List_Size(refs); i++)
            if (pg_py_is(pg_py_api.List_GetItem(refs, i), pg_py_api.t_list))
                s->list = pg_py_api.List_GetItem(refs, i);
    }
    if (s->list) {
        /* Entries [len - qsize, len) are queued; index len - qsize is the next to run. */
        Py_ssize_t n = pg_py_api.List_Size(s->list);
        long first = s->qlen <= n ? (long)(n - s->qlen) : 0;
        for (Py_ssize_t i = n - 1; i >= first && s->want > 0 && s->scanned < QUEUE_SCAN_MAX; i--) {
            s->scanned++;
            s->want -= place_item(c, pg_py_api.List_GetItem(s->list, i), s->ex,
                                  s->base + (long)i - first, s->submission);
        }
    }
    if (refs)
        pg_py_api.DecRef(refs);
    pg_py_api.Err_Clear();
    return s->want;
}

void pg_py_scan_queues(struct pg_py_ctx *c, struct pg_py_state *st)
{
    int want = 0;
    for (int i = 0; i < c->npend; i++)
        want += c->pend_job[i] >= 0 ||
                (c->pend_needs[i] ? c->pend[i]->needs_state : c->pend[i]->state) == PG_PY_F_PENDING;
    if (!want || !c->squeue_cls)
        return;
    traverseproc trav = NULL;
    if (pg_py_hexversion >= 0x030a0000) {
        enum { Py_tp_traverse = 71 };
        trav = (traverseproc)pg_py_api.Type_GetSlot(c->squeue_cls, Py_tp_traverse);
        pg_py_api.Err_Clear();
        if (!trav)
            return;
    } else if (!pg_py_gc_referents) {
        return;
    }
    for (int e = 0; e < st->nexecutors && want > 0; e++) {
        struct pg_py_executor *ex = &st->executors[e];
        int mp = ex->kind == PG_PY_POOL_MP_THREADPOOL;
        if (!mp && !c->workitem_cls)
            continue;
        /* A ThreadPool: its workers' queue, then the submissions behind it. */
        long qlen = mp ? ex->inqueue_len : ex->queue_len;
        long scanned = 0, total = 0;
        int complete = 1;
        for (int part = 0; part < 1 + mp && want > 0; part++) {
            PyObject *q = part ? c->ex_taskq[e] : c->ex_queue[e];
            long len = part ? ex->taskqueue_len : qlen;
            if (!pg_py_is(q, c->squeue_cls) || len <= 0)
                continue;
            struct qscan s = { .c = c,
                               .ex = e,
                               .submission = part,
                               .qlen = len,
                               .base = part ? qlen : 0,
                               .want = want };
            want = scan_queue(c, trav, &s, q);
            scanned += s.scanned;
            total += len;
            complete &= s.scanned >= len;
        }
        ex->queue_scanned = scanned;
        ex->queue_scan_complete = scanned > 0 && complete && scanned >= total;
    }
}

void pg_py_link_running(struct pg_py_state *st, struct pg_py_ctx *c)
{
    for (int i = 0; i < c->npend; i++) {
        struct pg_py_wait *w = c->pend[i];
        uintptr_t fut = (uintptr_t)c->pend_obj[i];
        for (int t = 0; t < st->nthreads && !w->run_by; t++) {
            const struct pg_py_thread *th = &st->threads[t];
            if (c->pend_job[i] >= 0 ? th->work_job == c->pend_job[i] && th->executor >= 0
                                    : fut && th->work_future == fut) {
                w->run_by = th->ident;
                if (!w->queued_in)
                    w->work_item = th->work_item;
                if (c->pend_job[i] >= 0 && w->state != PG_PY_F_PENDING)
                    w->state = PG_PY_F_RUNNING;
            }
        }
        if (w->run_by && !w->has_fn) {
            for (int t = 0; t < st->nthreads; t++)
                if (st->threads[t].ident == w->run_by && st->threads[t].has_task)
                    w->fn = st->threads[t].task, w->has_fn = 1;
        }
    }
}

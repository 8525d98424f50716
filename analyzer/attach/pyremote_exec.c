/*
 * ThreadPoolExecutors read from outside (pyremote.c found them through their workers' _worker
 * frames): their settings and queue lengths, the place of each waited future's work item in a
 * queue, and the worker running it; the same meaning as the shim's python_executor.c.
 *
 * _queue.SimpleQueue's object is private to its module, so its fields are stated here, from
 * Modules/_queuemodule.c: to 3.12 {head, lock, locked, lst, lst_pos, weakreflist} (56 bytes),
 * the entries not yet taken being lst[lst_pos:]; 3.13 {head, has_threads_waiting, RingBuf
 * {put_idx, get_idx, items, items_cap, num_items}, weakreflist} (72 bytes). The type is checked
 * by name and size before either is trusted.
 */
#include "pyremote_int.h"

#include <string.h>

enum {
    SQ_SIZE_LIST = 56,
    SQ_LST = 32,
    SQ_LST_POS = 40,
    SQ_SIZE_RING = 72,
    SQ_RING_GET = 32,
    SQ_RING_ITEMS = 40,
    SQ_RING_CAP = 48,
    SQ_RING_NUM = 56,
};

static int is_squeue(struct pyr *r, uint64_t q)
{
    char b[64];
    uint64_t t = pyr_type(r, q);
    int64_t size = pyr_i64(r, t + (uint64_t)r->o->tp_basicsize, 0);
    if (!q || size != (r->minor >= 13 ? SQ_SIZE_RING : SQ_SIZE_LIST))
        return 0;
    if (pyr_type_name(r, t, b, sizeof b))
        return !strcmp(b, "_queue.SimpleQueue");
    /* The name of a static type lives in its module's read-only data, which a core may leave
     * out: then the fields themselves must make sense. */
    if (r->minor < 13)
        return pyr_is(r, pyr_ptr(r, q + SQ_LST), r->t_list);
    int64_t cap = pyr_i64(r, q + SQ_RING_CAP, -1), num = pyr_i64(r, q + SQ_RING_NUM, -1);
    int64_t get = pyr_i64(r, q + SQ_RING_GET, -1);
    return pyr_ptr(r, q + SQ_RING_ITEMS) && cap > 0 && num >= 0 && num <= cap && get >= 0 &&
           get < cap;
}

/* Entries waiting in a SimpleQueue, -1 when unknown. */
static long squeue_len(struct pyr *r, uint64_t q)
{
    if (!is_squeue(r, q))
        return -1;
    if (r->minor >= 13) {
        int64_t n = pyr_i64(r, q + SQ_RING_NUM, -1);
        return n < 0 || n > (1L << 40) ? -1 : (long)n;
    }
    uint64_t lst = pyr_ptr(r, q + SQ_LST);
    int64_t pos = pyr_i64(r, q + SQ_LST_POS, -1);
    if (!pyr_is(r, lst, r->t_list) || pos < 0)
        return -1;
    long n = pyr_seq_len(r, lst);
    return n >= pos ? n - (long)pos : -1;
}

/* The k-th entry waiting (0: the next to run). */
static uint64_t squeue_entry(struct pyr *r, uint64_t q, long k)
{
    if (r->minor >= 13) {
        uint64_t items = pyr_ptr(r, q + SQ_RING_ITEMS);
        int64_t cap = pyr_i64(r, q + SQ_RING_CAP, 0), get = pyr_i64(r, q + SQ_RING_GET, 0);
        if (!items || cap <= 0 || get < 0)
            return 0;
        return pyr_ptr(r, items + 8 * (uint64_t)((get + k) % cap));
    }
    int64_t pos = pyr_i64(r, q + SQ_LST_POS, 0);
    return pyr_seq_item(r, pyr_ptr(r, q + SQ_LST), (long)pos + k);
}

int pyr_executor_index(struct pyr *r, uint64_t ex, uint64_t queue)
{
    struct pg_py_state *st = r->st;
    for (int i = 0; i < st->nexecutors; i++)
        if (st->executors[i].addr == ex)
            return i;
    if (st->nexecutors == PG_PY_MAX_EXECUTORS) {
        st->executors_dropped++;
        return -1;
    }
    int i = st->nexecutors++;
    memset(&st->executors[i], 0, sizeof st->executors[i]);
    st->executors[i].addr = ex;
    st->executors[i].kind = PG_PY_POOL_EXECUTOR;
    r->ex_queue[i] = queue;
    return i;
}

void pyr_read_executor(struct pyr *r, int i)
{
    struct pg_py_executor *e = &r->st->executors[i];
    uint64_t ex = e->addr;
    e->max_workers = (int)pyr_long(r, pyr_attr(r, ex, "_max_workers"), 0);
    uint64_t threads = pyr_attr(r, ex, "_threads");
    if (pyr_is(r, threads, r->t_set))
        e->nthreads = (int)pyr_set_len(r, threads);
    pyr_str(r, pyr_attr(r, ex, "_thread_name_prefix"), e->prefix, sizeof e->prefix, 0);
    e->shutdown = pyr_attr(r, ex, "_shutdown") == r->py_true;
    uint64_t broken = pyr_attr(r, ex, "_broken");
    e->broken = broken && broken != r->py_false && broken != r->none;
    if (!r->ex_queue[i])
        r->ex_queue[i] = pyr_attr(r, ex, "_work_queue");
    e->queue_len = squeue_len(r, r->ex_queue[i]);
    e->inqueue_len = e->taskqueue_len = -1;
}

int pyr_future_state(struct pyr *r, uint64_t fut)
{
    char b[32];
    if (!pyr_str(r, pyr_attr(r, fut, "_state"), b, sizeof b, 0))
        return PG_PY_F_UNKNOWN;
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

void pyr_add_wait(struct pyr *r, struct pg_py_thread *th, uint64_t fut)
{
    if (!fut || !pyr_is_sub_named(r, fut, "Future"))
        return;
    if (th->nwaits == PG_PY_MAX_WAITS) {
        th->waits_dropped++;
        return;
    }
    struct pg_py_wait *w = &th->waits[th->nwaits++];
    memset(w, 0, sizeof *w);
    w->future = fut;
    w->kind = PG_PY_W_FUTURE;
    w->state = pyr_future_state(r, fut);
    w->job = -1;
    w->queue_pos = -1;
    if (r->npend < PYR_MAX_PENDING) {
        r->pend[r->npend] = w;
        r->pend_fut[r->npend++] = fut;
    }
}

/* Places waited PENDING futures in the executors' queues, as the shim does (newest entry first
 * up to 3.12: the futures a task waits on were usually submitted last). */
void pyr_scan_queues(struct pyr *r)
{
    int want = 0;
    for (int i = 0; i < r->npend; i++)
        want += r->pend[i]->state == PG_PY_F_PENDING;
    for (int e = 0; e < r->st->nexecutors && want > 0; e++) {
        struct pg_py_executor *ex = &r->st->executors[e];
        uint64_t q = r->ex_queue[e];
        long len = ex->queue_len, scanned = 0;
        /* The shim's order: a list from its newest entry back, 3.13's ring buffer oldest
         * first (the order of its GC traversal). */
        int forward = r->minor >= 13;
        for (long j = 0; j < len && want > 0 && scanned < PYR_QUEUE_SCAN_MAX; j++) {
            long k = forward ? j : len - 1 - j;
            scanned++;
            uint64_t item = squeue_entry(r, q, k);
            if (!item || item == r->none)
                continue;
            uint64_t fut = pyr_attr(r, item, "future");
            for (int i = 0; fut && i < r->npend; i++) {
                struct pg_py_wait *w = r->pend[i];
                if (r->pend_fut[i] != fut || w->queued_in)
                    continue;
                w->work_item = item;
                w->queued_in = ex->addr;
                w->queue_pos = k;
                w->has_fn = pyr_describe(r, pyr_attr(r, item, "fn"), &w->fn, 0);
                want--;
            }
        }
        ex->queue_scanned = scanned;
        ex->queue_scan_complete = scanned > 0 && scanned >= len;
    }
}

void pyr_link_running(struct pyr *r)
{
    struct pg_py_state *st = r->st;
    for (int i = 0; i < r->npend; i++) {
        struct pg_py_wait *w = r->pend[i];
        for (int t = 0; t < st->nthreads && !w->run_by; t++) {
            const struct pg_py_thread *th = &st->threads[t];
            if (th->work_future && th->work_future == r->pend_fut[i]) {
                w->run_by = th->ident;
                if (!w->queued_in)
                    w->work_item = th->work_item;
                if (!w->has_fn && th->has_task)
                    w->fn = th->task, w->has_fn = 1;
            }
        }
    }
}

/*
 * Pools known exactly: the public annotation API (include/poolguard.h) and the internal entry
 * points the library adapters use (annotate.h). Called on every task a pool runs, so it is built
 * like the hooks: no allocation, no locks, fixed tables. Pools live in a small open-addressed table
 * keyed by their handle; queued tasks in a larger one, inserted on submit and removed on start, so
 * the watchdog can say of a task a worker waits for whether it is still in the queue, and which
 * function it will run. When a table is full the shim says so once and the pool's counters (exact
 * queue depth) go on.
 */
#include "annotate.h"

#include <errno.h>
#include <string.h>

/* A removed task's slot. Task handles are any non-null value, small integers included (GLib's
 * GINT_TO_POINTER data): the tombstone is the one value no handle can be, an all-ones pointer. */
#define TASK_TOMB (~(uintptr_t)0)
#define TASK_LIVE(v) ((v) != 0 && (v) != TASK_TOMB)
#define PROBE 64

struct pg_apool pg_apools[PG_MAX_APOOLS];
static struct {
    _Atomic uintptr_t task;
    _Atomic uintptr_t pool;
    _Atomic uintptr_t fn;
    _Atomic uint64_t seq;
} tasks[PG_TASKSET];
static _Atomic int pools_full_warned, tasks_full_warned;

static uint32_t hash_ptr(uintptr_t p)
{
    uint64_t x = (uint64_t)p * 0x9e3779b97f4a7c15ull;
    return (uint32_t)(x >> 32);
}

struct pg_apool *pg_apool_find(uintptr_t handle)
{
    if (handle <= PG_APOOL_TOMB)
        return NULL;
    uint32_t h = hash_ptr(handle) % PG_MAX_APOOLS;
    for (int i = 0; i < PG_MAX_APOOLS; i++) {
        struct pg_apool *p = &pg_apools[(h + (uint32_t)i) % PG_MAX_APOOLS];
        uintptr_t v = atomic_load_explicit(&p->handle, memory_order_acquire);
        if (v == handle)
            return p;
        if (v == 0)
            return NULL;
    }
    return NULL;
}

static struct pg_apool *pool_get(uintptr_t handle, int create)
{
    if (handle <= PG_APOOL_TOMB)
        return NULL;
    struct pg_apool *p = pg_apool_find(handle);
    if (p || !create)
        return p;
    uint32_t h = hash_ptr(handle) % PG_MAX_APOOLS;
    for (int i = 0; i < PG_MAX_APOOLS; i++) {
        p = &pg_apools[(h + (uint32_t)i) % PG_MAX_APOOLS];
        uintptr_t v = atomic_load_explicit(&p->handle, memory_order_acquire);
        if (v == handle)
            return p;
        if (v != 0 && v != PG_APOOL_TOMB)
            continue;
        if (atomic_compare_exchange_strong(&p->handle, &v, handle)) {
            p->name[0] = 0;
            p->library[0] = 0;
            atomic_store(&p->workers, 0);
            atomic_store(&p->submitted, 0);
            atomic_store(&p->started, 0);
            atomic_store(&p->done, 0);
            p->ncreate = 0;
            return p;
        }
    }
    if (!atomic_exchange(&pools_full_warned, 1))
        pg_warn("more than %d known pools; further pools are not tracked", PG_MAX_APOOLS);
    return NULL;
}

static void task_insert(uintptr_t task, uintptr_t pool, uintptr_t fn, uint64_t seq)
{
    if (!TASK_LIVE(task))
        return;
    uint32_t h = hash_ptr(task) % PG_TASKSET;
    for (int i = 0; i < PROBE; i++) {
        uint32_t k = (h + (uint32_t)i) % PG_TASKSET;
        /* Write first (a compare-and-swap from 0), so that a page of the table is never first
         * mapped as the shared zero page and then replaced with a TLB shootdown. */
        uintptr_t v = 0;
        if (!atomic_compare_exchange_strong(&tasks[k].task, &v, task) &&
            (v != TASK_TOMB || !atomic_compare_exchange_strong(&tasks[k].task, &v, task)))
            continue;
        atomic_store_explicit(&tasks[k].fn, fn, memory_order_relaxed);
        atomic_store_explicit(&tasks[k].seq, seq, memory_order_relaxed);
        atomic_store_explicit(&tasks[k].pool, pool, memory_order_release);
        return;
    }
    if (!atomic_exchange(&tasks_full_warned, 1))
        pg_warn("too many queued tasks to track each one; queue depths stay exact");
}

static void task_remove(uintptr_t task)
{
    if (!TASK_LIVE(task))
        return;
    uint32_t h = hash_ptr(task) % PG_TASKSET;
    for (int i = 0; i < PROBE; i++) {
        uint32_t k = (h + (uint32_t)i) % PG_TASKSET;
        uintptr_t v = atomic_load_explicit(&tasks[k].task, memory_order_relaxed);
        if (v == task) {
            atomic_store_explicit(&tasks[k].pool, 0, memory_order_relaxed);
            atomic_store_explicit(&tasks[k].task, TASK_TOMB, memory_order_release);
            return;
        }
        if (v == 0)
            return;
    }
}

int pg_task_lookup(uintptr_t task, struct pg_qtask *out)
{
    memset(out, 0, sizeof *out);
    if (!TASK_LIVE(task))
        return 0;
    uint32_t h = hash_ptr(task) % PG_TASKSET;
    for (int i = 0; i < PROBE; i++) {
        uint32_t k = (h + (uint32_t)i) % PG_TASKSET;
        uintptr_t v = atomic_load_explicit(&tasks[k].task, memory_order_acquire);
        if (v == task) {
            out->pool = atomic_load_explicit(&tasks[k].pool, memory_order_acquire);
            out->fn = atomic_load_explicit(&tasks[k].fn, memory_order_relaxed);
            out->seq = atomic_load_explicit(&tasks[k].seq, memory_order_relaxed);
            /* Read again: a task started meanwhile is not queued, whatever was read. */
            if (atomic_load_explicit(&tasks[k].task, memory_order_acquire) != task)
                memset(out, 0, sizeof *out);
            return out->pool != 0;
        }
        if (v == 0)
            return 0;
    }
    return 0;
}

uintptr_t pg_task_queued_in(uintptr_t task)
{
    struct pg_qtask q;
    pg_task_lookup(task, &q);
    return q.pool;
}

static struct pg_thread *me(void)
{
    return atomic_load_explicit(&pg_ready, memory_order_acquire) ? pg_self() : NULL;
}

struct pg_apool *pg_apool_open(uintptr_t handle, const char *library, const char *name, int workers,
                               int skip)
{
    if (!atomic_load_explicit(&pg_ready, memory_order_acquire))
        return NULL;
    struct pg_apool *p = pool_get(handle, 1);
    if (!p)
        return NULL;
    if (name) {
        size_t n = strnlen(name, sizeof p->name - 1);
        memcpy(p->name, name, n);
        p->name[n] = 0;
    }
    if (library) {
        size_t n = strnlen(library, sizeof p->library - 1);
        memcpy(p->library, library, n);
        p->library[n] = 0;
    }
    atomic_store(&p->workers, workers > 0 ? workers : 0);
    struct pg_thread *t = me();
    if (t)
        t->in_shim++;
    int saved = errno;
    uintptr_t pcs[8 + 4];
    int want = 8 + 1 + skip;
    if (want > (int)(sizeof pcs / sizeof pcs[0]))
        want = (int)(sizeof pcs / sizeof pcs[0]);
    int n = pg_stack_here(pcs, want, 0);
    errno = saved;
    int drop = 1 + skip; /* this function's own frame, then the caller's wrappers */
    p->ncreate = n > drop ? n - drop : 0;
    if (p->ncreate > 8)
        p->ncreate = 8;
    memcpy(p->create_stack, pcs + drop, sizeof(uintptr_t) * (size_t)p->ncreate);
    if (t)
        t->in_shim--;
    return p;
}

void pg_apool_set_workers(uintptr_t handle, int workers)
{
    struct pg_apool *p = pg_apool_find(handle);
    if (p)
        atomic_store(&p->workers, workers > 0 ? workers : 0);
}

void pg_apool_close(uintptr_t handle)
{
    struct pg_apool *p = pg_apool_find(handle);
    if (!p)
        return;
    atomic_store_explicit(&p->handle, PG_APOOL_TOMB, memory_order_release);
    /* Tasks still queued die with the pool: a new pool at the same address must not inherit them.
     * One pass over the task table; pools are destroyed rarely. */
    for (uint32_t k = 0; k < PG_TASKSET; k++) {
        uintptr_t v = atomic_load_explicit(&tasks[k].task, memory_order_relaxed);
        if (TASK_LIVE(v) && atomic_load_explicit(&tasks[k].pool, memory_order_relaxed) == handle) {
            atomic_store_explicit(&tasks[k].pool, 0, memory_order_relaxed);
            atomic_compare_exchange_strong(&tasks[k].task, &v, TASK_TOMB);
        }
    }
}

/* Submissions made on other threads' behalf (annotate.h). */
__thread struct pg_attrib *pg_attrib_cur __attribute__((tls_model("initial-exec")));

int pg_sender_here(struct pg_sender *out)
{
    struct pg_thread *t = pg_cur;
    if ((uintptr_t)t <= 1 || atomic_load_explicit(&t->state, memory_order_relaxed) != PG_SLOT_LIVE)
        return 0;
    uintptr_t task = __atomic_load_n(&t->ann_task, __ATOMIC_RELAXED);
    if (!task)
        return 0;
    out->t = t;
    out->gen = atomic_load_explicit(&t->gen, memory_order_relaxed);
    out->task = task;
    out->wait_seq = atomic_load_explicit(&t->wait_seq, memory_order_relaxed);
    return 1;
}

/* Writes the submission on each sender's slot, which its own thread otherwise writes alone: the
 * sender is normally blocked (it asked, then waited), so the two do not race; if it submits
 * something itself meanwhile, the watchdog may read a mix of the two records for one scan, and an
 * error needs the same waits at two scans. A sender that finished the task it asked from, or
 * whose slot is another thread's now, is left alone. */
static __attribute__((noinline)) void submit_for_senders(struct pg_attrib *a, uintptr_t pool,
                                                         uintptr_t task)
{
    if (a->refresh)
        a->refresh(a);
    for (int k = 0; k < a->n; k++) {
        const struct pg_sender *s = &a->s[k];
        struct pg_thread *t = s->t;
        if (t == pg_cur || atomic_load_explicit(&t->state, memory_order_acquire) != PG_SLOT_LIVE ||
            atomic_load_explicit(&t->gen, memory_order_relaxed) != s->gen ||
            __atomic_load_n(&t->ann_task, __ATOMIC_RELAXED) != s->task)
            continue;
        __atomic_store_n(&t->sub_pool, pool, __ATOMIC_RELAXED);
        __atomic_store_n(&t->sub_task, task, __ATOMIC_RELAXED);
        __atomic_store_n(&t->sub_seq, s->wait_seq, __ATOMIC_RELEASE);
    }
}

void pg_apool_submit(uintptr_t pool, uintptr_t task, uintptr_t fn)
{
    if (!atomic_load_explicit(&pg_ready, memory_order_acquire))
        return;
    struct pg_apool *p = pool_get(pool, 1);
    if (!p)
        return;
    uint64_t seq = atomic_fetch_add_explicit(&p->submitted, 1, memory_order_relaxed) + 1;
    task_insert(task, pool, fn, seq);
    struct pg_thread *t = me();
    if (t) {
        /* Published before the thread's next wait can begin: the watchdog compares sub_seq with
         * the wait_seq of that wait. */
        __atomic_store_n(&t->sub_pool, pool, __ATOMIC_RELAXED);
        __atomic_store_n(&t->sub_task, task, __ATOMIC_RELAXED);
        __atomic_store_n(&t->sub_seq, atomic_load_explicit(&t->wait_seq, memory_order_relaxed),
                         __ATOMIC_RELEASE);
    }
    if (PG_UNLIKELY(pg_attrib_cur != NULL)) {
        /* The attribution lives in an ancestor frame, so above this one on the (downward) stack,
         * and says so; anything else is a frame a longjmp left behind: forget it. */
        struct pg_attrib *a = pg_attrib_cur;
        if ((uintptr_t)a > (uintptr_t)__builtin_frame_address(0) && a->live == PG_ATTRIB_LIVE)
            submit_for_senders(a, pool, task);
        else
            pg_attrib_cur = NULL;
    }
}

void pg_apool_start(uintptr_t pool, uintptr_t task, uintptr_t fn)
{
    if (!atomic_load_explicit(&pg_ready, memory_order_acquire))
        return;
    struct pg_apool *p = pool_get(pool, 1);
    if (p)
        atomic_fetch_add_explicit(&p->started, 1, memory_order_relaxed);
    task_remove(task);
    struct pg_thread *t = me();
    if (t) {
        if (!t->ann_ever)
            __atomic_store_n(&t->ann_ever, 1, __ATOMIC_RELAXED);
        __atomic_store_n(&t->ann_pool, pool, __ATOMIC_RELAXED);
        __atomic_store_n(&t->ann_task_fn, fn, __ATOMIC_RELAXED);
        __atomic_store_n(&t->ann_task, task, __ATOMIC_RELEASE);
    }
}

void pg_apool_done(uintptr_t pool, uintptr_t task)
{
    (void)task;
    struct pg_apool *p = pg_apool_find(pool);
    if (p)
        atomic_fetch_add_explicit(&p->done, 1, memory_order_relaxed);
    struct pg_thread *t = me();
    if (t) {
        __atomic_store_n(&t->ann_task, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&t->ann_task_fn, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&t->ann_pool, 0, __ATOMIC_RELEASE);
    }
}

void pg_apool_frame_save(struct pg_apool_frame *f)
{
    (void)pg_self();
    struct pg_thread *t = pg_cur;
    f->t = (uintptr_t)t > 1 ? t : NULL;
    if (!f->t)
        return;
    f->ann_pool = __atomic_load_n(&t->ann_pool, __ATOMIC_RELAXED);
    f->ann_task = __atomic_load_n(&t->ann_task, __ATOMIC_RELAXED);
    f->ann_task_fn = __atomic_load_n(&t->ann_task_fn, __ATOMIC_RELAXED);
    f->sub_pool = __atomic_load_n(&t->sub_pool, __ATOMIC_RELAXED);
    f->sub_task = __atomic_load_n(&t->sub_task, __ATOMIC_RELAXED);
    f->sub_seq = __atomic_load_n(&t->sub_seq, __ATOMIC_RELAXED);
}

void pg_apool_frame_restore(const struct pg_apool_frame *f)
{
    struct pg_thread *t = f->t;
    if (!t)
        return;
    __atomic_store_n(&t->ann_task_fn, f->ann_task_fn, __ATOMIC_RELAXED);
    __atomic_store_n(&t->ann_task, f->ann_task, __ATOMIC_RELAXED);
    __atomic_store_n(&t->ann_pool, f->ann_pool, __ATOMIC_RELEASE);
    __atomic_store_n(&t->sub_pool, f->sub_pool, __ATOMIC_RELAXED);
    __atomic_store_n(&t->sub_task, f->sub_task, __ATOMIC_RELAXED);
    __atomic_store_n(&t->sub_seq, f->sub_seq, __ATOMIC_RELEASE);
}

void pg_apool_unrun(uintptr_t pool, uintptr_t task, uintptr_t fn, const struct pg_apool_frame *f)
{
    pg_apool_start(pool, task, fn);
    pg_apool_done(pool, task);
    pg_apool_frame_restore(f);
}

/* The public API (poolguard.h). */

PG_EXPORT void poolguard_pool_create(const void *pool, const char *name, int workers)
{
    pg_apool_open((uintptr_t)pool, NULL, name, workers, 0);
}

PG_EXPORT void poolguard_pool_destroy(const void *pool)
{
    pg_apool_close((uintptr_t)pool);
}

PG_EXPORT void poolguard_task_submit(const void *pool, const void *task)
{
    pg_apool_submit((uintptr_t)pool, (uintptr_t)task, 0);
}

PG_EXPORT void poolguard_task_start(const void *pool, const void *task)
{
    pg_apool_start((uintptr_t)pool, (uintptr_t)task, 0);
}

PG_EXPORT void poolguard_task_done(const void *pool, const void *task)
{
    pg_apool_done((uintptr_t)pool, (uintptr_t)task);
}

PG_EXPORT void poolguard_task_wait(const void *task)
{
    struct pg_thread *t = me();
    if (t)
        __atomic_store_n(&t->ann_wait_task, (uintptr_t)task, __ATOMIC_RELEASE);
}

PG_EXPORT void poolguard_task_wait_done(const void *task)
{
    (void)task;
    struct pg_thread *t = me();
    if (t)
        __atomic_store_n(&t->ann_wait_task, 0, __ATOMIC_RELEASE);
}

/* The watchdog's view of a pool's queue: the tasks still queued, oldest first. One pass over the
 * task table, made only when a finding is written. */
int pg_task_queue(uintptr_t pool, struct pg_qtask_ent *out, int max)
{
    int n = 0;
    for (uint32_t k = 0; k < PG_TASKSET; k++) {
        uintptr_t task = atomic_load_explicit(&tasks[k].task, memory_order_acquire);
        if (!TASK_LIVE(task) || atomic_load_explicit(&tasks[k].pool, memory_order_acquire) != pool)
            continue;
        struct pg_qtask_ent e = { task, atomic_load_explicit(&tasks[k].fn, memory_order_relaxed),
                                  atomic_load_explicit(&tasks[k].seq, memory_order_relaxed) };
        /* Insertion into the sorted prefix; entries past max fall off the end. */
        int at = n < max ? n : max;
        while (at > 0 && out[at - 1].seq > e.seq)
            at--;
        if (at >= max)
            continue;
        int last = n < max ? n : max - 1;
        for (int j = last; j > at; j--)
            out[j] = out[j - 1];
        out[at] = e;
        if (n < max)
            n++;
    }
    return n;
}

long pg_task_position(uintptr_t pool, uint64_t seq)
{
    long before = 0;
    for (uint32_t k = 0; k < PG_TASKSET; k++) {
        uintptr_t task = atomic_load_explicit(&tasks[k].task, memory_order_acquire);
        if (TASK_LIVE(task) && atomic_load_explicit(&tasks[k].pool, memory_order_acquire) == pool &&
            atomic_load_explicit(&tasks[k].seq, memory_order_relaxed) < seq)
            before++;
    }
    return before + 1;
}

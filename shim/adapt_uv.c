/*
 * The libuv adapter: interposes uv_queue_work, the exported entry to libuv's one process-wide
 * thread pool, and feeds the exact-pool model (annotate.h). Each request is counted submitted
 * before libuv sees it, started and done around its work callback on the worker, and, when
 * uv_cancel took it off the queue before it ran, started and done at once when libuv reports the
 * cancellation on the loop thread, so submitted - started is the queue depth at every moment.
 *
 * libuv calls back with nothing but the request, so the user's two callbacks wait in a fixed-size
 * side table keyed by the request's address, from uv_queue_work until the after-work callback.
 * This runs on every request: no allocation, no locks, no stdio. A request that finds the table
 * full is handed to libuv untouched and is not tracked (one warning). libuv's own file-system and
 * resolver work goes through a hidden function and is not seen (docs/adapters.md).
 *
 * The shim does not include uv.h: the few libuv types needed are declared below, and only
 * pointers to them pass through.
 */
#include "annotate.h"

#include <errno.h>
#include <stdlib.h>

#define PG_EXPORT __attribute__((visibility("default")))

/* libuv 1.x (uv.h): the request and loop stay opaque; the callback types are the public ones. */
typedef struct uv_loop_s uv_loop_t;
typedef struct uv_work_s uv_work_t;
typedef void (*uv_work_cb)(uv_work_t *req);
typedef void (*uv_after_work_cb)(uv_work_t *req, int status);
typedef int (*queue_work_fn)(uv_loop_t *, uv_work_t *, uv_work_cb, uv_after_work_cb);
/* libuv's error codes are negated errno values on Unix (uv-errno.h). */
#define UV_ECANCELED_ (-ECANCELED)
#define UV_ENOSYS_ (-ENOSYS)

/* libuv 1.30 and later (1.44 in Debian 12): the pool has 4 threads unless UV_THREADPOOL_SIZE
 * says otherwise; the value is read once, with atoi, into an unsigned count, 0 becomes 1 and
 * anything above 1024 (negative numbers included, once unsigned) becomes 1024. */
#define UV_DEFAULT_THREADS 4u
#define UV_MAX_THREADS 1024u

/* Requests between uv_queue_work and their after-work callback. 24-byte entries: the whole table
 * is 6 MiB of address space, touched only where requests live. */
#define UV_SLOTS (1u << 18)
#define UV_PROBE 1024u
#define UV_TOMB ((uintptr_t)1)

struct uv_slot {
    _Atomic uintptr_t req;          /* 0: never used; UV_TOMB: free again */
    uv_work_cb work;
    uv_after_work_cb after;
};

static struct uv_slot slots[UV_SLOTS];
static _Atomic(queue_work_fn) real_queue_work;
static _Atomic int table_full_warned;

/* The pool's handle in the model. A forked child gets a fresh one (see after_fork_child): libuv
 * throws the parent's queue away in the child, and tasks recorded as queued under the old handle
 * must never be taken for the new pool's. */
static char handle_anchor[64];
static _Atomic uint32_t handle_gen;
static _Atomic int pool_opened;

static uintptr_t pool_handle(void)
{
    return (uintptr_t)&handle_anchor[atomic_load_explicit(&handle_gen, memory_order_relaxed) %
                                     sizeof handle_anchor];
}

/* Requests are usually array elements or heap blocks close together: the index keeps their order
 * (few pages touched), with the high bits folded in so blocks 1 MiB apart do not collide. */
static uint32_t slot_index(uintptr_t req)
{
    return (uint32_t)((req >> 4) ^ (req >> 20)) % UV_SLOTS;
}

/* The first free slot on the request's probe path, or its own slot if an earlier life of the same
 * request left one behind (a loop abandoned with work queued): either way the entry found first by
 * slot_find is the one written here. */
static struct uv_slot *slot_claim(uintptr_t req, uv_work_cb work, uv_after_work_cb after)
{
    uint32_t h = slot_index(req);
    for (uint32_t i = 0; i < UV_PROBE; i++) {
        struct uv_slot *s = &slots[(h + i) % UV_SLOTS];
        uintptr_t v = atomic_load_explicit(&s->req, memory_order_relaxed);
        if (v == req || ((v == 0 || v == UV_TOMB) &&
                         atomic_compare_exchange_strong(&s->req, &v, req))) {
            s->work = work;
            s->after = after;
            return s;
        }
    }
    return NULL;
}

/* Slots never return to 0, so a lookup may stop at the first 0. The caller's request is in the
 * table: it was claimed before libuv could run it, and libuv's queue lock orders the two. */
static struct uv_slot *slot_find(uintptr_t req)
{
    uint32_t h = slot_index(req);
    for (uint32_t i = 0; i < UV_PROBE; i++) {
        struct uv_slot *s = &slots[(h + i) % UV_SLOTS];
        uintptr_t v = atomic_load_explicit(&s->req, memory_order_acquire);
        if (v == req)
            return s;
        if (v == 0)
            break;
    }
    return NULL;
}

static void slot_release(struct uv_slot *s)
{
    atomic_store_explicit(&s->req, UV_TOMB, memory_order_release);
}

/* What libuv will use: computed at the first request, as libuv does at its first submission. */
static int pool_size(void)
{
    const char *v = getenv("UV_THREADPOOL_SIZE");
    unsigned n = UV_DEFAULT_THREADS;
    if (v)
        n = (unsigned)atoi(v);
    if (n == 0)
        n = 1;
    if (n > UV_MAX_THREADS)
        n = UV_MAX_THREADS;
    return (int)n;
}

/* Called from uv_queue_work itself, so its frame is the one to skip in the creation stack. */
static __attribute__((noinline)) int pool_open(void)
{
    if (atomic_load_explicit(&pool_opened, memory_order_acquire))
        return 1;
    if (!pg_apool_open(pool_handle(), "libuv", "uv threadpool", pool_size(), 2))
        return 0;
    atomic_store_explicit(&pool_opened, 1, memory_order_release);
    return 1;
}

/* What the model knows of the calling thread: the task it runs and its last submission. */
struct model_save {
    int valid;
    uintptr_t ann_pool, ann_task, ann_task_fn, sub_pool, sub_task;
    uint64_t sub_seq;
};

static void save_model(struct model_save *m)
{
    (void)pg_self();   /* claims the thread's slot now if it has none, as pg_apool_* would */
    struct pg_thread *t = pg_cur;
    m->valid = (uintptr_t)t > 1;
    if (!m->valid)
        return;
    m->ann_pool = __atomic_load_n(&t->ann_pool, __ATOMIC_RELAXED);
    m->ann_task = __atomic_load_n(&t->ann_task, __ATOMIC_RELAXED);
    m->ann_task_fn = __atomic_load_n(&t->ann_task_fn, __ATOMIC_RELAXED);
    m->sub_pool = __atomic_load_n(&t->sub_pool, __ATOMIC_RELAXED);
    m->sub_task = __atomic_load_n(&t->sub_task, __ATOMIC_RELAXED);
    m->sub_seq = __atomic_load_n(&t->sub_seq, __ATOMIC_RELAXED);
}

/* A submission that will never run (the call failed, or uv_cancel took it off the queue) leaves
 * the queue as started and done at once. The thread doing this is not running that task: what the
 * model knew of the thread before the submission is put back afterwards. */
static void account_unrun(uintptr_t pool, uintptr_t task, uintptr_t fn, const struct model_save *m)
{
    pg_apool_start(pool, task, fn);
    pg_apool_done(pool, task);
    struct pg_thread *t = pg_cur;
    if (!m->valid)
        return;
    __atomic_store_n(&t->ann_task_fn, m->ann_task_fn, __ATOMIC_RELAXED);
    __atomic_store_n(&t->ann_task, m->ann_task, __ATOMIC_RELAXED);
    __atomic_store_n(&t->ann_pool, m->ann_pool, __ATOMIC_RELEASE);
    __atomic_store_n(&t->sub_pool, m->sub_pool, __ATOMIC_RELAXED);
    __atomic_store_n(&t->sub_task, m->sub_task, __ATOMIC_RELAXED);
    __atomic_store_n(&t->sub_seq, m->sub_seq, __ATOMIC_RELEASE);
}

static void broken(const char *what)
{
    pg_warn("fatal: %s", what);
    abort();
}

/* Runs on a pool thread in place of the user's work callback. */
static void work_trampoline(uv_work_t *req)
{
    int e = errno;
    struct uv_slot *s = slot_find((uintptr_t)req);
    if (!s)
        broken("libuv work request not in the adapter's table");
    uv_work_cb work = s->work;
    uintptr_t pool = pool_handle();
    pg_apool_start(pool, (uintptr_t)req, (uintptr_t)work);
    errno = e;
    work(req);
    e = errno;
    pg_apool_done(pool, (uintptr_t)req);
    errno = e;
}

/* Runs on the loop thread in place of the user's after-work callback, also when the user gave
 * none (libuv then calls nothing: neither does this). The slot is freed before the user's
 * callback, which may queue the same request again. */
static void after_trampoline(uv_work_t *req, int status)
{
    int e = errno;
    struct uv_slot *s = slot_find((uintptr_t)req);
    if (!s)
        broken("libuv work request not in the adapter's table");
    uv_work_cb work = s->work;
    uv_after_work_cb after = s->after;
    if (status == UV_ECANCELED_) {
        /* libuv reports ECANCELED exactly when uv_cancel removed the request before it ran. */
        struct model_save m;
        save_model(&m);
        account_unrun(pool_handle(), (uintptr_t)req, (uintptr_t)work, &m);
    }
    slot_release(s);
    errno = e;
    if (after)
        after(req, status);
}

PG_EXPORT int uv_queue_work(uv_loop_t *loop, uv_work_t *req, uv_work_cb work_cb,
                            uv_after_work_cb after_work_cb)
{
    queue_work_fn real = atomic_load_explicit(&real_queue_work, memory_order_acquire);
    if (PG_UNLIKELY(!real)) {
        real = (queue_work_fn)pg_real_optional("uv_queue_work");
        if (!real)
            return UV_ENOSYS_;   /* unreachable: nothing links to uv_queue_work without libuv */
        atomic_store_explicit(&real_queue_work, real, memory_order_release);
    }
    /* libuv refuses a NULL work callback with UV_EINVAL and touches nothing: so does the shim. */
    if (!work_cb || !atomic_load_explicit(&pg_ready, memory_order_acquire))
        return real(loop, req, work_cb, after_work_cb);
    int e = errno;
    if (!pool_open()) {
        errno = e;
        return real(loop, req, work_cb, after_work_cb);
    }
    struct uv_slot *s = slot_claim((uintptr_t)req, work_cb, after_work_cb);
    if (!s) {
        if (!atomic_exchange(&table_full_warned, 1))
            pg_warn("more than %u libuv requests in flight; further ones are not tracked",
                    UV_SLOTS);
        errno = e;
        return real(loop, req, work_cb, after_work_cb);
    }
    struct model_save saved;
    save_model(&saved);
    uintptr_t pool = pool_handle();
    /* Counted before libuv sees it: a worker may start it before uv_queue_work returns. */
    pg_apool_submit(pool, (uintptr_t)req, (uintptr_t)work_cb);
    errno = e;
    int r = real(loop, req, work_trampoline, after_trampoline);
    if (r != 0) {
        e = errno;
        account_unrun(pool, (uintptr_t)req, (uintptr_t)work_cb, &saved);
        slot_release(s);
        errno = e;
    }
    return r;
}

/* libuv starts a new pool in a forked child and forgets the parent's queue (its own atfork
 * handler): the model does the same. */
static void after_fork_child(void)
{
    if (!atomic_load_explicit(&pool_opened, memory_order_relaxed))
        return;
    pg_apool_close(pool_handle());
    atomic_fetch_add_explicit(&handle_gen, 1, memory_order_relaxed);
    atomic_store_explicit(&pool_opened, 0, memory_order_relaxed);
}

/* A constructor, not a hook: registering may allocate. */
__attribute__((constructor(102))) static void adapt_uv_init(void)
{
    pthread_atfork(NULL, NULL, after_fork_child);
}

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
 * Async handles, by which a task asks the loop thread for a subtask, are followed by
 * adapt_uv_async.c; the libuv types both files need are declared in adapt_uv.h.
 */
#include "adapt_uv.h"
#include "annotate.h"
#include "pg_format.h"

#include <errno.h>
#include <stdlib.h>

/* libuv 1.30 and later (1.44 in Debian 12): the pool has 4 threads unless UV_THREADPOOL_SIZE
 * says otherwise; the value is read once, with atoi, into an unsigned count, 0 becomes 1 and
 * anything above 1024 (negative numbers included, once unsigned) becomes 1024. */
#define UV_DEFAULT_THREADS 4u
#define UV_MAX_THREADS 1024u

/* Requests between uv_queue_work and their after-work callback. 24-byte entries: the whole table
 * is 6 MiB of address space, touched only where requests live. */
#define UV_SLOTS (1u << 18)
#define UV_PROBE 1024u

struct uv_slot {
    _Atomic uintptr_t req; /* 0: never used; UV_TOMB: free again */
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
        /* Write first: a page of the table first read maps the shared zero page, and the write
         * that follows replaces it with a TLB shootdown of every CPU the program runs on. */
        uintptr_t v = 0;
        if (atomic_compare_exchange_strong(&s->req, &v, req) || v == req ||
            (v == UV_TOMB && atomic_compare_exchange_strong(&s->req, &v, req))) {
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
    if (!pg_apool_open(pool_handle(), pg_library_name(PG_LIB_LIBUV), "uv threadpool", pool_size(),
                       2))
        return 0;
    atomic_store_explicit(&pool_opened, 1, memory_order_release);
    return 1;
}

void pg_uv_broken(const char *what)
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
        pg_uv_broken("libuv work request not in the adapter's table");
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
        pg_uv_broken("libuv work request not in the adapter's table");
    uv_work_cb work = s->work;
    uv_after_work_cb after = s->after;
    if (status == UV_ECANCELED_) {
        /* libuv reports ECANCELED exactly when uv_cancel removed the request before it ran. */
        struct pg_apool_frame m;
        pg_apool_frame_save(&m);
        pg_apool_unrun(pool_handle(), (uintptr_t)req, (uintptr_t)work, &m);
    }
    slot_release(s);
    errno = e;
    if (after)
        after(req, status);
}

PG_EXPORT int uv_queue_work(uv_loop_t *loop, uv_work_t *req, uv_work_cb work_cb,
                            uv_after_work_cb after_work_cb)
{
    queue_work_fn real = PG_REAL_LAZY(real_queue_work, "uv_queue_work");
    if (!real)
        return UV_ENOSYS_; /* unreachable: nothing links to uv_queue_work without libuv */
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
    struct pg_apool_frame saved;
    pg_apool_frame_save(&saved);
    uintptr_t pool = pool_handle();
    /* Counted before libuv sees it: a worker may start it before uv_queue_work returns. */
    pg_apool_submit(pool, (uintptr_t)req, (uintptr_t)work_cb);
    errno = e;
    int r = real(loop, req, work_trampoline, after_trampoline);
    if (r != 0) {
        e = errno;
        pg_apool_unrun(pool, (uintptr_t)req, (uintptr_t)work_cb, &saved);
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

/*
 * The GLib adapter: interposes GThreadPool's exported API (g_thread_pool_new, _new_full, _push,
 * _set_max_threads, _free) and feeds the exact-pool model (annotate.h); and g_cond_signal and
 * g_cond_broadcast, so that the futex hook counts a signal that woke nobody as a lost signal.
 *
 * A tracked pool is created with the shim's trampoline as its function and a record of this file's
 * static table as its user data; the record holds the program's function and user data, and the
 * trampoline counts each task started and done around the program's function. Pushes are counted
 * before GLib sees them. A pool freed with immediate=TRUE drops its queued tasks: the pool is then
 * closed in the model, once no task of it is between start and done. Records are reused once GLib
 * can no longer call the trampoline with them (docs/adapters.md says when).
 *
 * Runs on every push and every task: no allocation, no locks, no stdio. A pool that finds the
 * table full is created untouched and not tracked (one warning). The shim does not include glib.h:
 * the few GLib types needed are declared below.
 */
#include "annotate.h"
#include "pg_format.h"

#include <errno.h>

/* GLib 2.x (gtypes.h, gthreadpool.h). GThreadPool's three public fields are part of GLib's ABI;
 * the rest of the pool is private and never read. GCond and GError stay opaque. */
typedef int gboolean;
typedef int gint;
typedef void (*GFunc)(void *data, void *user_data);
typedef void (*GDestroyNotify)(void *data);
typedef struct _GError GError;
typedef union _GCond GCond;
typedef struct {
    GFunc func;
    void *user_data;
    gboolean exclusive;
} GThreadPool;

typedef GThreadPool *(*pool_new_fn)(GFunc, void *, gint, gboolean, GError **);
typedef GThreadPool *(*pool_new_full_fn)(GFunc, void *, GDestroyNotify, gint, gboolean, GError **);
typedef gboolean (*pool_push_fn)(GThreadPool *, void *, GError **);
typedef gboolean (*pool_set_max_fn)(GThreadPool *, gint, GError **);
typedef void (*pool_free_fn)(GThreadPool *, gboolean, gboolean);
typedef void (*cond_fn)(GCond *);

/* A record's life, in the low byte of its state word; the rest counts reuses, so a late
 * compare-and-swap on a reused record fails. */
enum {
    R_FREE = 0,
    R_OPEN,      /* the pool runs */
    R_DRAIN,     /* freed without immediate: queued tasks still run; closed when the last is done */
    R_DROP,      /* freed with immediate and wait: queued tasks dropped; reused once closed */
    R_DROP_KEEP, /* freed with immediate, no wait: a task may still start; never reused */
    R_CLOSED,    /* closed in the model and kept */
};
#define R_MODE(s) ((unsigned)((s)&0xff))
#define R_GEN(s) ((s) & ~(uint64_t)0xff)

#define GP_RECORDS 1024

struct gp_rec {
    _Atomic uint64_t state;
    GFunc func;             /* the program's */
    void *user_data;        /* the program's */
    _Atomic uintptr_t pool; /* the GThreadPool, the pool's handle in the model */
    _Atomic gint max_threads;
    _Atomic long outstanding; /* pushes counted and not yet done */
    _Atomic int inflight;     /* trampolines between their look at the state and their end */
};

static struct gp_rec recs[GP_RECORDS];
static _Atomic int recs_full_warned;

/* The real functions (PG_REAL_LAZY), looked up on first use. NULL only if GLib is not loaded, and
 * then nothing calls these wrappers. */
static _Atomic(pool_new_fn) real_new;
static _Atomic(pool_new_full_fn) real_new_full;
static _Atomic(pool_push_fn) real_push;
static _Atomic(pool_set_max_fn) real_set_max;
static _Atomic(pool_free_fn) real_free;
static _Atomic(cond_fn) real_signal, real_broadcast;

static void trampoline(void *data, void *user_data);

static struct gp_rec *rec_claim(GFunc func, void *user_data)
{
    for (int i = 0; i < GP_RECORDS; i++) {
        struct gp_rec *r = &recs[i];
        uint64_t s = atomic_load_explicit(&r->state, memory_order_relaxed);
        if (R_MODE(s) != R_FREE)
            continue;
        if (atomic_compare_exchange_strong(&r->state, &s, R_GEN(s) + 0x100 + R_OPEN)) {
            r->func = func;
            r->user_data = user_data;
            atomic_store(&r->pool, 0);
            atomic_store(&r->outstanding, 0);
            return r;
        }
    }
    if (!atomic_exchange(&recs_full_warned, 1))
        pg_warn("more than %d GLib thread pools; further pools are not tracked", GP_RECORDS);
    return NULL;
}

static void rec_release(struct gp_rec *r)
{
    uint64_t s = atomic_load(&r->state);
    atomic_store(&r->state, R_GEN(s) + R_FREE);
}

/* The record of a pool this adapter created, or NULL. */
static struct gp_rec *rec_of(GThreadPool *pool)
{
    if (!pool || pool->func != trampoline)
        return NULL;
    struct gp_rec *r = pool->user_data;
    if (r < recs || r >= recs + GP_RECORDS)
        return NULL;
    return r;
}

/* Closes the pool in the model if the record is still in `mode` (of the same life). R_DRAIN and
 * R_DROP records are free again afterwards; R_DROP_KEEP ones stay, closed, because GLib may still
 * hand one more task to the trampoline. */
static void rec_close(struct gp_rec *r, uint64_t s)
{
    unsigned mode = R_MODE(s);
    uint64_t to = R_GEN(s) + (mode == R_DROP_KEEP ? R_CLOSED : R_FREE);
    uintptr_t pool = atomic_load(&r->pool);
    /* The model is closed before the record can be claimed again by another pool. */
    uint64_t expect = s;
    if (!atomic_compare_exchange_strong(&r->state, &expect, R_GEN(s) + R_CLOSED))
        return;
    pg_apool_close(pool);
    if (to != R_GEN(s) + R_CLOSED)
        atomic_store(&r->state, to);
}

/* After a change that may end a freed pool's life: the last task of a draining pool is done, or
 * no task of a dropping pool is between start and done. */
static void rec_maybe_close(struct gp_rec *r)
{
    uint64_t s = atomic_load(&r->state);
    unsigned mode = R_MODE(s);
    if ((mode == R_DRAIN && atomic_load(&r->outstanding) == 0) ||
        ((mode == R_DROP || mode == R_DROP_KEEP) && atomic_load(&r->inflight) == 0))
        rec_close(r, s);
}

/* GLib calls this in place of the program's function: user_data is the record. */
static void trampoline(void *data, void *user_data)
{
    int e = errno;
    struct gp_rec *r = user_data;
    GFunc func = r->func;
    void *ud = r->user_data;
    uintptr_t pool = atomic_load_explicit(&r->pool, memory_order_relaxed);
    /* inflight before the look at the state (both sequentially consistent): a closer that sees
     * inflight == 0 knows every later trampoline will see its state and not count. */
    atomic_fetch_add(&r->inflight, 1);
    unsigned mode = R_MODE(atomic_load(&r->state));
    int tracked = mode == R_OPEN || mode == R_DRAIN;
    if (tracked)
        pg_apool_start(pool, (uintptr_t)data, (uintptr_t)func);
    errno = e;
    func(data, ud);
    e = errno;
    if (tracked)
        pg_apool_done(pool, (uintptr_t)data);
    /* inflight first: the last outstanding task's decrement may let the record be reused. */
    atomic_fetch_sub(&r->inflight, 1);
    if (tracked)
        atomic_fetch_sub(&r->outstanding, 1);
    rec_maybe_close(r);
    errno = e;
}

/* Shared by both constructors: their own frame is one more to skip in the creation stack. */
static __attribute__((noinline)) GThreadPool *pool_create(GFunc func, void *user_data,
                                                          GDestroyNotify item_free, int full,
                                                          gint max_threads, gboolean exclusive,
                                                          GError **error)
{
    pool_new_full_fn nf = full ? PG_REAL_LAZY(real_new_full, "g_thread_pool_new_full") : NULL;
    pool_new_fn n = full ? NULL : PG_REAL_LAZY(real_new, "g_thread_pool_new");
#define CREATE(f, u)                                                                               \
    (full ? nf(f, u, item_free, max_threads, exclusive, error)                                     \
          : n(f, u, max_threads, exclusive, error))
    if (full ? !nf : !n)
        return NULL;
    /* Untracked: the shim not ready, a pool the adapter already wraps (a GLib that calls its own
     * exported constructor), or arguments GLib refuses (it then says so and returns NULL). */
    if (!atomic_load_explicit(&pg_ready, memory_order_acquire) || !func || func == trampoline ||
        max_threads < -1 || (exclusive && max_threads == -1))
        return CREATE(func, user_data);
    int e = errno;
    struct gp_rec *r = rec_claim(func, user_data);
    errno = e;
    if (!r)
        return CREATE(func, user_data);
    atomic_store(&r->max_threads, max_threads);
    GThreadPool *p = CREATE(trampoline, r);
#undef CREATE
    if (!p) {
        rec_release(r);
        return p;
    }
    /* Before the program has the pool, so before any push: the trampoline reads it after GLib's
     * queue lock has ordered the push. An exclusive pool that could not start all its threads is
     * still returned (with the error set): it runs with fewer workers than declared, which can
     * only hide an exhaustion, never invent one. */
    e = errno;
    atomic_store(&r->pool, (uintptr_t)p);
    pg_apool_open((uintptr_t)p, pg_library_name(PG_LIB_GLIB),
                  exclusive ? "GThreadPool (exclusive)" : "GThreadPool (shared)",
                  max_threads > 0 ? max_threads : 0, 2);
    errno = e;
    return p;
}

/* The empty asm keeps each constructor's own frame (no tail call), which pool_create skips. */
PG_EXPORT GThreadPool *g_thread_pool_new(GFunc func, void *user_data, gint max_threads,
                                         gboolean exclusive, GError **error)
{
    GThreadPool *p = pool_create(func, user_data, NULL, 0, max_threads, exclusive, error);
    __asm__ volatile("" ::: "memory");
    return p;
}

PG_EXPORT GThreadPool *g_thread_pool_new_full(GFunc func, void *user_data, GDestroyNotify item_free,
                                              gint max_threads, gboolean exclusive, GError **error)
{
    GThreadPool *p = pool_create(func, user_data, item_free, 1, max_threads, exclusive, error);
    __asm__ volatile("" ::: "memory");
    return p;
}

PG_EXPORT gboolean g_thread_pool_push(GThreadPool *pool, void *data, GError **error)
{
    pool_push_fn real = PG_REAL_LAZY(real_push, "g_thread_pool_push");
    if (!real)
        return 0;
    struct gp_rec *r = rec_of(pool);
    if (!r || R_MODE(atomic_load(&r->state)) != R_OPEN)
        return real(pool, data, error);
    /* Counted before GLib sees it: a worker may take it before the push returns. GLib queues the
     * data even when it returns FALSE for a thread it could not start (GLib 2.x: the push happens
     * whatever start_thread said), so a FALSE return is still a submission. Its only other FALSE,
     * a pool no longer running, cannot be reached: such a pool is not R_OPEN here. */
    int e = errno;
    atomic_fetch_add(&r->outstanding, 1);
    pg_apool_submit((uintptr_t)pool, (uintptr_t)data, (uintptr_t)r->func);
    errno = e;
    return real(pool, data, error);
}

PG_EXPORT gboolean g_thread_pool_set_max_threads(GThreadPool *pool, gint max_threads,
                                                 GError **error)
{
    pool_set_max_fn real = PG_REAL_LAZY(real_set_max, "g_thread_pool_set_max_threads");
    if (!real)
        return 0;
    struct gp_rec *r = rec_of(pool);
    /* The arguments GLib accepts; it sets the new limit even when starting a thread fails. */
    if (!r || R_MODE(atomic_load(&r->state)) != R_OPEN || max_threads < -1 ||
        (pool->exclusive && max_threads == -1))
        return real(pool, max_threads, error);
    /* The model must never count fewer workers than GLib may run: a raised limit is published
     * before GLib starts the new threads, a lowered one after. */
    int workers = max_threads > 0 ? max_threads : 0;
    int old = atomic_load(&r->max_threads);
    int raise = max_threads == -1 || (old != -1 && max_threads > old);
    int e = errno;
    if (raise)
        pg_apool_set_workers((uintptr_t)pool, workers);
    atomic_store(&r->max_threads, max_threads);
    errno = e;
    gboolean ok = real(pool, max_threads, error);
    if (!raise) {
        e = errno;
        pg_apool_set_workers((uintptr_t)pool, workers);
        errno = e;
    }
    return ok;
}

PG_EXPORT void g_thread_pool_free(GThreadPool *pool, gboolean immediate, gboolean wait_)
{
    pool_free_fn real = PG_REAL_LAZY(real_free, "g_thread_pool_free");
    if (!real)
        return;
    struct gp_rec *r = rec_of(pool);
    uint64_t s = r ? atomic_load(&r->state) : 0;
    if (!r || R_MODE(s) != R_OPEN) {
        real(pool, immediate, wait_);
        return;
    }
    int e = errno;
    if (!immediate && atomic_load(&r->max_threads) == 0) {
        /* GLib refuses to free a pool that may run no thread and still has work, without
         * immediate; it then changes nothing, and neither does the model. */
        struct pg_apool *ap = pg_apool_find((uintptr_t)pool);
        if (ap && atomic_load(&ap->submitted) != atomic_load(&ap->started)) {
            errno = e;
            real(pool, immediate, wait_);
            return;
        }
    }
    /* Before GLib stops the pool: a task GLib still starts under R_DROP* is not counted, which is
     * right, since the model is about to forget the pool. */
    unsigned mode = !immediate ? R_DRAIN : wait_ ? R_DROP : R_DROP_KEEP;
    atomic_store(&r->state, R_GEN(s) + mode);
    errno = e;
    real(pool, immediate, wait_);
    e = errno;
    /* The record may be free, or another pool's, from here on (the last task closed it). */
    rec_maybe_close(r);
    errno = e;
}

/* Around the real call, the futex hook treats a wake that found no waiter as a lost signal (work
 * queued while nobody waited), not as an unlock (hook_futex.c). Only the program's own calls
 * arrive here: GLib binds its internal calls directly (docs/adapters.md). */
static void signal_with(cond_fn real, GCond *cond)
{
    struct pg_thread *t = atomic_load_explicit(&pg_ready, memory_order_acquire) ? pg_self() : NULL;
    if (!t) {
        real(cond);
        return;
    }
    uint32_t was = t->wake_is_signal;
    t->wake_is_signal = 1;
    real(cond);
    t->wake_is_signal = was;
}

PG_EXPORT void g_cond_signal(GCond *cond)
{
    cond_fn real = PG_REAL_LAZY(real_signal, "g_cond_signal");
    if (real)
        signal_with(real, cond);
}

PG_EXPORT void g_cond_broadcast(GCond *cond)
{
    cond_fn real = PG_REAL_LAZY(real_broadcast, "g_cond_broadcast");
    if (real)
        signal_with(real, cond);
}

/* GLib's locks wait on raw futexes: around the program's own lock calls the futex hook publishes
 * such a wait as a lock wait (PG_FUTEX_LOCK_WAIT), which the pool rules never take for a task's
 * wait for a subtask (a worker contending for a lock is busy, not starved). GLib's internal lock
 * calls are bound directly and stay plain futex waits. The types are opaque here. */
typedef void (*lock_fn)(void *);
static _Atomic(lock_fn) real_mutex_lock, real_rec_mutex_lock, real_rw_writer_lock,
    real_rw_reader_lock;

static void lock_with(lock_fn real, void *lock)
{
    struct pg_thread *t = atomic_load_explicit(&pg_ready, memory_order_acquire) ? pg_self() : NULL;
    if (!t) {
        real(lock);
        return;
    }
    t->futex_is_lock++;
    real(lock);
    t->futex_is_lock--;
}

PG_EXPORT void g_mutex_lock(void *mutex)
{
    lock_fn real = PG_REAL_LAZY(real_mutex_lock, "g_mutex_lock");
    if (real)
        lock_with(real, mutex);
}

PG_EXPORT void g_rec_mutex_lock(void *mutex)
{
    lock_fn real = PG_REAL_LAZY(real_rec_mutex_lock, "g_rec_mutex_lock");
    if (real)
        lock_with(real, mutex);
}

PG_EXPORT void g_rw_lock_writer_lock(void *lock)
{
    lock_fn real = PG_REAL_LAZY(real_rw_writer_lock, "g_rw_lock_writer_lock");
    if (real)
        lock_with(real, lock);
}

PG_EXPORT void g_rw_lock_reader_lock(void *lock)
{
    lock_fn real = PG_REAL_LAZY(real_rw_reader_lock, "g_rw_lock_reader_lock");
    if (real)
        lock_with(real, lock);
}

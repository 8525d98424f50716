/*
 * The libuv adapter's async handles (adapt_uv.c has the thread pool's requests). Runs on the
 * program's threads, uv_async_send maybe in a signal handler: no allocation, no locks, no stdio.
 *
 * uv_queue_work may only be called on the loop thread, so a task that needs a subtask asks the loop
 * thread for it (uv_async_send) and waits; the submission is then the loop thread's, and nothing
 * would tie the waiting worker to the subtask. So the adapter also interposes uv_async_init (the
 * program's callback waits in a second side table, keyed by the handle, until uv_close),
 * uv_async_send (a worker running a task is noted as a pending sender of the handle: lock-free
 * stores only, as it may be called from a signal handler) and uv_close; the async callback takes
 * the pending senders, and what the loop thread submits during it is recorded as theirs too
 * (pg_attrib_cur, annotate.h).
 */
#include "adapt_uv.h"
#include "annotate.h"

#include <errno.h>

/*
 * Async handles. An entry lives from uv_async_init until uv_close of its handle; libuv's own
 * handle (the loop's wq_async, inside the uv_loop_t, which libuv never closes) is not wrapped.
 * 1,024 entries of about 1 KiB (room for 32 pending senders each): 1 MiB of address space,
 * touched only where handles live.
 *
 * Pending senders: each record is claimed by a CAS on its state word (phase in the low two bits,
 * a version above them, bumped whenever a sender starts writing), filled, then published FULL. The
 * loop thread takes a FULL record by reading it and setting it EMPTY with a CAS on the same state,
 * which fails if a sender rewrote the record meanwhile (the version moved). No step waits for
 * another thread, so uv_async_send stays async-signal-safe: a record found half-written (by a
 * handler that interrupted its own thread) is simply passed over.
 */
#define ASYNC_SLOTS 1024u
#define ASYNC_PROBE 64u
#define ASYNC_SENDERS PG_ATTRIB_MAX
#define SND_EMPTY 0u
#define SND_WRITING 1u
#define SND_FULL 2u
#define SND_PHASE(s) ((s)&3u)
#define SND_VER(s) ((s) & ~3u)

struct async_sender {
    _Atomic uint32_t state;
    uint32_t gen;
    struct pg_thread *t;
    uintptr_t task;
    uint64_t wait_seq;
};

struct async_slot {
    _Atomic uintptr_t handle; /* 0: never used; UV_TOMB: free again */
    _Atomic(uv_async_cb) cb;
    struct async_sender snd[ASYNC_SENDERS];
};

static struct async_slot async_slots[ASYNC_SLOTS];
static _Atomic int async_live; /* entries in use: uv_close skips the look-up while 0 */
static _Atomic int async_full_warned;
/* Resolved on first use, outside signal handlers (uv_async_init resolves uv_async_send). */
static _Atomic(async_init_fn) real_async_init;
static _Atomic(async_send_fn) real_async_send;
static _Atomic(close_fn) real_close;
static _Atomic(loop_size_fn) real_loop_size;

static uint32_t async_index(uintptr_t h)
{
    return (uint32_t)((h >> 4) ^ (h >> 20)) % ASYNC_SLOTS;
}

static struct async_slot *async_claim(uintptr_t h, uv_async_cb cb)
{
    uint32_t i0 = async_index(h);
    for (uint32_t i = 0; i < ASYNC_PROBE; i++) {
        struct async_slot *s = &async_slots[(i0 + i) % ASYNC_SLOTS];
        uintptr_t v = atomic_load_explicit(&s->handle, memory_order_relaxed);
        int again = v == h; /* initialised twice without uv_close: the entry is reused */
        if (again ||
            ((v == 0 || v == UV_TOMB) && atomic_compare_exchange_strong(&s->handle, &v, h))) {
            if (!again)
                atomic_fetch_add_explicit(&async_live, 1, memory_order_relaxed);
            for (int k = 0; k < ASYNC_SENDERS; k++) {
                uint32_t st = atomic_load_explicit(&s->snd[k].state, memory_order_relaxed);
                atomic_store_explicit(&s->snd[k].state, SND_VER(st) | SND_EMPTY,
                                      memory_order_relaxed);
            }
            atomic_store_explicit(&s->cb, cb, memory_order_release);
            return s;
        }
    }
    return NULL;
}

/* Stops at the first never-used entry: entries never return to 0. */
static struct async_slot *async_find(uintptr_t h)
{
    uint32_t i0 = async_index(h);
    for (uint32_t i = 0; i < ASYNC_PROBE; i++) {
        struct async_slot *s = &async_slots[(i0 + i) % ASYNC_SLOTS];
        uintptr_t v = atomic_load_explicit(&s->handle, memory_order_acquire);
        if (v == h)
            return s;
        if (v == 0)
            break;
    }
    return NULL;
}

static void async_release(struct async_slot *s)
{
    atomic_store_explicit(&s->handle, UV_TOMB, memory_order_release);
    atomic_fetch_sub_explicit(&async_live, 1, memory_order_relaxed);
}

/* On the sending thread, maybe in a signal handler. A thread that sends again before the loop
 * thread took its record rewrites that record (its latest send is the one it waits after). With
 * every record in use the send is not noted: no link, so at worst a finding is missed. */
static void sender_put(struct async_slot *e, const struct pg_sender *me)
{
    for (int pass = 0; pass < 2; pass++) {
        for (int k = 0; k < ASYNC_SENDERS; k++) {
            struct async_sender *r = &e->snd[k];
            uint32_t st = atomic_load_explicit(&r->state, memory_order_acquire);
            if (pass == 0
                    ? SND_PHASE(st) != SND_FULL || __atomic_load_n(&r->t, __ATOMIC_RELAXED) != me->t
                    : SND_PHASE(st) != SND_EMPTY)
                continue;
            uint32_t mine = SND_VER(st + 4u) | SND_WRITING;
            if (!atomic_compare_exchange_strong_explicit(&r->state, &st, mine, memory_order_acquire,
                                                         memory_order_relaxed))
                continue;
            __atomic_store_n(&r->t, me->t, __ATOMIC_RELAXED);
            __atomic_store_n(&r->gen, me->gen, __ATOMIC_RELAXED);
            __atomic_store_n(&r->task, me->task, __ATOMIC_RELAXED);
            __atomic_store_n(&r->wait_seq, me->wait_seq, __ATOMIC_RELAXED);
            atomic_store_explicit(&r->state, SND_VER(mine) | SND_FULL, memory_order_release);
            return;
        }
    }
}

/* On the loop thread: moves the handle's pending senders into a (a sender already there is
 * updated: its newer send counts). */
static void senders_take(struct async_slot *e, struct pg_attrib *a)
{
    for (int k = 0; k < ASYNC_SENDERS; k++) {
        struct async_sender *r = &e->snd[k];
        uint32_t st = atomic_load_explicit(&r->state, memory_order_acquire);
        if (SND_PHASE(st) != SND_FULL)
            continue;
        struct pg_sender s = { __atomic_load_n(&r->t, __ATOMIC_RELAXED),
                               __atomic_load_n(&r->gen, __ATOMIC_RELAXED),
                               __atomic_load_n(&r->task, __ATOMIC_RELAXED),
                               __atomic_load_n(&r->wait_seq, __ATOMIC_RELAXED) };
        /* Valid only if nobody started rewriting the record while it was read. */
        if (!atomic_compare_exchange_strong_explicit(&r->state, &st, SND_VER(st) | SND_EMPTY,
                                                     memory_order_acq_rel, memory_order_relaxed))
            continue;
        int j;
        for (j = 0; j < a->n && a->s[j].t != s.t; j++)
            ;
        if (j < PG_ATTRIB_MAX) {
            a->s[j] = s;
            if (j == a->n)
                a->n++;
        }
    }
}

/* The attribution of one async callback: the senders, and the entry, which is gone (NULL) once
 * the callback has closed its own handle. */
struct async_call {
    struct pg_attrib a;
    struct async_slot *entry;
};

/* Before each submission in the callback: senders whose record arrived while the callback ran
 * (their request may be among those it is answering) join the attribution. */
static void async_refresh(struct pg_attrib *a)
{
    struct async_call *c = (struct async_call *)a;
    if (c->entry)
        senders_take(c->entry, a);
}

/* Runs on the loop thread in place of the program's async callback. libuv has already cleared
 * the handle's pending flag, so a sender whose record is not taken here has a send still to come
 * or coalesced into a later callback. */
static void async_trampoline(uv_async_t *handle)
{
    int e = errno;
    struct async_slot *s = async_find((uintptr_t)handle);
    if (!s)
        pg_uv_broken("libuv async handle not in the adapter's table");
    uv_async_cb cb = atomic_load_explicit(&s->cb, memory_order_acquire);
    struct async_call call = { { PG_ATTRIB_LIVE, async_refresh, 0, { { 0 } } }, s };
    senders_take(s, &call.a);
    struct pg_attrib *prev = pg_attrib_cur;
    pg_attrib_cur = &call.a;
    errno = e;
    cb(handle);
    call.a.live = 0;
    pg_attrib_cur = prev;
}

/* libuv's own async handle lives inside its loop (uv_loop_t.wq_async); a program's never does. */
static int inside_loop(const uv_loop_t *loop, const uv_async_t *h)
{
    loop_size_fn size = PG_REAL_LAZY(real_loop_size, "uv_loop_size");
    return size && (uintptr_t)h >= (uintptr_t)loop && (uintptr_t)h - (uintptr_t)loop < size();
}

PG_EXPORT int uv_async_init(uv_loop_t *loop, uv_async_t *async, uv_async_cb async_cb)
{
    async_init_fn real = PG_REAL_LAZY(real_async_init, "uv_async_init");
    if (!real)
        return UV_ENOSYS_; /* unreachable: nothing links to uv_async_init without libuv */
    /* Resolved here, outside any signal handler, for the sends to come. */
    (void)PG_REAL_LAZY(real_async_send, "uv_async_send");
    /* A NULL callback is legal (libuv then calls nothing on a send): passed through, unwrapped. */
    if (!async_cb || !atomic_load_explicit(&pg_ready, memory_order_acquire))
        return real(loop, async, async_cb);
    int e = errno;
    if (inside_loop(loop, async)) {
        errno = e;
        return real(loop, async, async_cb);
    }
    struct async_slot *s = async_claim((uintptr_t)async, async_cb);
    if (!s) {
        if (!atomic_exchange(&async_full_warned, 1))
            pg_warn("more than %u libuv async handles open; further ones are not tracked",
                    ASYNC_SLOTS);
        errno = e;
        return real(loop, async, async_cb);
    }
    errno = e;
    int r = real(loop, async, async_trampoline);
    if (r != 0) {
        e = errno;
        async_release(s);
        errno = e;
    }
    return r;
}

/* May run in a signal handler: loads, lock-free stores and the real call, nothing else. A thread
 * that runs no task of a known pool (the main thread, libuv's workers between tasks signalling
 * their own loop) is not noted: only a pool's worker can be held by the pool. */
PG_EXPORT int uv_async_send(uv_async_t *async)
{
    /* A load: uv_async_init resolved it. Only a handle initialised before libuv was resolved
     * here looks it up, and not in a handler, then. */
    async_send_fn real = PG_REAL_LAZY(real_async_send, "uv_async_send");
    if (!real)
        return UV_ENOSYS_;
    struct pg_sender me;
    if (pg_sender_here(&me)) {
        int e = errno;
        struct async_slot *s = async_find((uintptr_t)async);
        if (s)
            sender_put(s, &me);
        errno = e;
    }
    return real(async);
}

/* The entry goes when libuv closes the handle: after the real uv_close, which has stopped the
 * handle (no callback comes after it) and waited for any send still inside libuv. */
PG_EXPORT void uv_close(uv_handle_t *handle, uv_close_cb close_cb)
{
    close_fn real = PG_REAL_LAZY(real_close, "uv_close");
    if (!real)
        return; /* unreachable: nothing links to uv_close without libuv */
    if (!atomic_load_explicit(&async_live, memory_order_relaxed)) {
        real(handle, close_cb);
        return;
    }
    int e = errno;
    struct async_slot *s = async_find((uintptr_t)handle);
    errno = e;
    real(handle, close_cb);
    if (!s || atomic_load_explicit(&s->handle, memory_order_relaxed) != (uintptr_t)handle)
        return;
    e = errno;
    struct pg_attrib *a = pg_attrib_cur;
    if (a && a->refresh == async_refresh && ((struct async_call *)a)->entry == s)
        ((struct async_call *)a)->entry = NULL;
    async_release(s);
    errno = e;
}

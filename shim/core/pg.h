/*
 * Internal declarations shared by the shim's modules (libpoolguard.so). Everything here is hidden
 * but the hooks' own declarations, made from hooks.def: the library exports only the functions it
 * interposes (hooks.def) and the public poolguard_* API.
 *
 * Threads and the watchdog meet in the thread table. Each slot is written by its own thread only
 * (wait state, held locks) and read by the watchdog, so the hook path never writes a shared cache
 * line and never takes a lock. The slot's wait state is published seqlock-style: wait_seq is odd
 * while the thread is in a wait, and the wait fields never change while it is odd.
 */
#ifndef POOLGUARD_PG_H
#define POOLGUARD_PG_H

#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/types.h>

#include "config.h"

#define PG_HIDDEN __attribute__((visibility("hidden")))
/* Exported: the interposed functions (hooks.def) and the public poolguard_* API, nothing else. */
#define PG_EXPORT __attribute__((visibility("default")))
/* Where the hook was called from (where the program took a lock): a macro, so that it reads the
 * return address of the hook's own frame. */
#define PG_CALLER ((uintptr_t)__builtin_return_address(0))
#define PG_LIKELY(x) __builtin_expect(!!(x), 1)
#define PG_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Locks one thread can be seen holding at once; deeper nesting is counted, not recorded. */
#define PG_MAX_HELD 32
/* Objects remembered per thread for pool inference. */
#define PG_HIST 4
#define PG_LOST 2
/* Frames kept of the stack that created a thread. */
#define PG_CREATE_DEPTH 16

enum pg_wait_kind {
    PG_W_NONE = 0,
    PG_W_MUTEX,
    PG_W_RWLOCK_READ,
    PG_W_RWLOCK_WRITE,
    PG_W_JOIN,
    PG_W_COND,
    PG_W_SEM,
    PG_W_FUTEX,
    PG_W_BARRIER,
    PG_W_COND_DESTROY, /* pthread_cond_destroy waiting for the condition's waiters to leave */
    PG_W_ONCE,         /* pthread_once waiting for another thread's init routine */
};

/* wextra of a futex wait made inside a library's lock call (the rest of wextra is the op). */
#define PG_FUTEX_LOCK_WAIT ((uintptr_t)1 << 62)

enum pg_held_kind { PG_H_MUTEX = 1, PG_H_RWLOCK_READ, PG_H_RWLOCK_WRITE, PG_H_SPIN };

struct pg_held {
    uintptr_t obj;
    uintptr_t pc; /* return address of the call that took it */
    uint32_t kind;
};

enum pg_slot_state { PG_SLOT_FREE = 0, PG_SLOT_CLAIMED, PG_SLOT_LIVE };

struct pg_thread {
    _Atomic uint32_t state;     /* pg_slot_state; claimed by CAS */
    _Atomic uint32_t gen;       /* bumped on every claim, so the watchdog tells reuse apart */
    _Atomic uint32_t free_next; /* free list link: index + 1 of the next free slot, 0 at the end */
    _Atomic pid_t tid;          /* 0 until the thread runs */
    pthread_t self;
    uintptr_t start_routine;
    void *(*start)(void *);
    void *arg;
    int is_main;
    int in_shim;       /* recursion guard: calls made by the shim itself go straight through */
    uint32_t ncreated; /* threads this thread has created */

    /* Wait state: fields written before wait_seq turns odd, left alone until it turns even again. */
    _Atomic uint64_t wait_seq;
    uint32_t wkind;
    uint32_t wtimed;
    uintptr_t wobj;
    uintptr_t wextra;   /* join: the pthread_t waited for */
    uint64_t wsince_ns; /* CLOCK_MONOTONIC */
    unw_context_t wctx; /* registers at the hook, so the watchdog can unwind the blocked thread */

    _Atomic uint32_t nheld;
    uint32_t held_dropped; /* acquisitions not recorded because the array was full */
    struct pg_held held[PG_MAX_HELD];

    uint32_t ncreate;
    uintptr_t create_stack[PG_CREATE_DEPTH];

    /* Pool inference, written by the thread itself on blocking paths only. hist: the condition
     * variables, semaphores and futex words it has waited on, most used kept. lost: the last
     * objects it signalled or posted while nobody waited on them (work queued for a busy pool). */
    struct {
        uintptr_t obj;
        uint32_t count;
        uint32_t kind;
    } hist[PG_HIST];
    struct {
        uintptr_t obj;
        uint32_t count;
        uint32_t kind;
        uint64_t seq;
    } lost[PG_LOST];
    /* Where it queued such work: captured at the 8th lost signal on an object, then every 4096th. */
    uintptr_t submit_obj;
    uint32_t nsubmit;
    uintptr_t submit_stack[PG_CREATE_DEPTH];

    /* Lock order: the "A then B" pairs this thread has already recorded (lockorder.c); its
     * serial number and current happens-before segment, valid while lo_gen equals gen. */
    struct {
        uintptr_t a, b;
        uint32_t epoch;
    } lo_cache[64];
    uint32_t lo_thr, lo_seg, lo_gen;
    /* The one pair (a lock held alone, then b) this thread recorded or found last, in segment seg
     * at lock-order epoch epoch: the hooks' inline check for nested locking that repeats itself. */
    uintptr_t lo_last_a, lo_last_b;
    uint32_t lo_last_seg, lo_last_epoch;

    /* Pools known exactly (annotate.h): the task this thread runs and its function, the task it
     * waits for; and the last task it submitted, with its wait_seq at that moment, so the watchdog
     * can tell a wait that began after the submission. */
    uintptr_t ann_pool, ann_task, ann_task_fn, ann_wait_task;
    uintptr_t sub_pool, sub_task;
    uint64_t sub_seq;
    uint32_t ann_ever; /* has run a task of a pool known exactly: never inferred */
    /* Set by an adapter around a library's condition signal (GLib's g_cond_signal) so that the
     * futex wake inside it, if it wakes nobody, counts as a lost signal. Any other FUTEX_WAKE
     * that wakes nobody is lock traffic (an unlock with no waiter), never queued work. */
    uint32_t wake_is_signal;
    /* Set by an adapter around a library's lock call (GLib's g_mutex_lock): a futex wait inside it
     * is published with PG_FUTEX_LOCK_WAIT in wextra, a lock wait, never a wait for a task. */
    uint32_t futex_is_lock;
} __attribute__((aligned(64)));

/* The thread table (thread_table.c). */
PG_HIDDEN extern struct pg_thread *pg_table;
PG_HIDDEN extern uint32_t pg_table_size;
PG_HIDDEN extern _Atomic uint32_t pg_table_high; /* slots [0, high) have ever been used */
PG_HIDDEN extern __thread struct pg_thread *pg_cur __attribute__((tls_model("initial-exec")));
#define PG_NOSLOT ((struct pg_thread *)1)

PG_HIDDEN struct pg_thread *pg_self_slow(void);
PG_HIDDEN struct pg_thread *pg_slot_claim(void);
PG_HIDDEN void pg_slot_release(struct pg_thread *t);
PG_HIDDEN void pg_table_after_fork_child(void);
PG_HIDDEN int pg_table_init(uint32_t size);

/* The calling thread's slot, or NULL when it is not tracked (the watchdog, a full table, shim not
 * ready, or a call the shim itself makes). */
static inline struct pg_thread *pg_self(void)
{
    struct pg_thread *t = pg_cur;
    if (PG_UNLIKELY((uintptr_t)t <= 1)) {
        if (t == PG_NOSLOT)
            return NULL;
        t = pg_self_slow();
        if (!t)
            return NULL;
    }
    return t->in_shim ? NULL : t;
}

PG_HIDDEN void pg_hist_note(struct pg_thread *t, uintptr_t obj, uint32_t kind);
PG_HIDDEN void pg_lost_note(struct pg_thread *t, uintptr_t obj, uint32_t kind, int may_unwind);
PG_HIDDEN void pg_held_drop_slow(struct pg_thread *t, const void *obj);

/* On every lock and unlock: inline, and only the thread's own slot is written. */
static inline void pg_held_push(struct pg_thread *t, const void *obj, uint32_t kind, uintptr_t pc)
{
    uint32_t n = atomic_load_explicit(&t->nheld, memory_order_relaxed);
    if (PG_UNLIKELY(n >= PG_MAX_HELD)) {
        t->held_dropped++;
        return;
    }
    t->held[n].obj = (uintptr_t)obj;
    t->held[n].pc = pc;
    t->held[n].kind = kind;
    atomic_store_explicit(&t->nheld, n + 1, memory_order_release);
}

/* Locks are usually released in reverse order: the top entry first, a search otherwise. */
static inline void pg_held_drop(struct pg_thread *t, const void *obj)
{
    uint32_t n = atomic_load_explicit(&t->nheld, memory_order_relaxed);
    if (PG_LIKELY(n > 0 && t->held[n - 1].obj == (uintptr_t)obj))
        atomic_store_explicit(&t->nheld, n - 1, memory_order_release);
    else
        pg_held_drop_slow(t, obj);
}

/* Wait bracketing (wait.c): record before calling the real function, undo after. */
struct pg_waitscope {
    struct pg_thread *t;
    int saved_errno;
};
PG_HIDDEN uint64_t pg_now_ns(void);
PG_HIDDEN void pg_wait_end(struct pg_waitscope *ws);

/* Must stay inline in the hook: the saved context describes the hook's own frame, which stays on
 * the stack for as long as the thread blocks below it. */
#define PG_WAIT_BEGIN(ws, thr, kind, obj, timed, extra)                                            \
    do {                                                                                           \
        (ws).t = (thr);                                                                            \
        if ((thr)) {                                                                               \
            (ws).saved_errno = errno;                                                              \
            uint64_t s_ = atomic_load_explicit(&(thr)->wait_seq, memory_order_relaxed);            \
            (thr)->wkind = (kind);                                                                 \
            (thr)->wtimed = (timed);                                                               \
            (thr)->wobj = (uintptr_t)(obj);                                                        \
            (thr)->wextra = (uintptr_t)(extra);                                                    \
            (thr)->wsince_ns = pg_now_ns();                                                        \
            unw_getcontext(&(thr)->wctx);                                                          \
            if ((kind) >= PG_W_COND && (kind) <= PG_W_FUTEX)                                       \
                pg_hist_note((thr), (uintptr_t)(obj), (kind));                                     \
            atomic_store_explicit(&(thr)->wait_seq, s_ + 1, memory_order_release);                 \
            errno = (ws).saved_errno;                                                              \
        }                                                                                          \
    } while (0)

/* Real functions (real.c): every dlsym/dlvsym lives there. One member per PG_HOOK entry of
 * hooks.def, the one list of interposed functions. */
struct pg_real {
// NOLINTNEXTLINE(bugprone-macro-parentheses): an X-macro that expands to a declaration
#define PG_HOOK(field, ret, name, params, version, how) ret(*field) params;
#define PG_ADAPTER(lib, name)
#include "hooks.def"
#undef PG_HOOK
#undef PG_ADAPTER
};
PG_HIDDEN extern struct pg_real pg_real;
PG_HIDDEN void pg_real_resolve(void);
PG_HIDDEN void *pg_real_optional(const char *name);
/* An adapter's real function (a PG_ADAPTER entry of hooks.def), looked up on first use and kept
 * in var, an _Atomic pointer of the adapter's own function type: NULL while no loaded library
 * defines it. Once found, a load; the look-up itself is not for a signal handler. */
#define PG_REAL_LAZY(var, name)                                                                    \
    ({                                                                                             \
        __typeof__(atomic_load(&(var))) f_ = atomic_load_explicit(&(var), memory_order_acquire);   \
        if (PG_UNLIKELY(!f_)) {                                                                    \
            f_ = (__typeof__(f_))pg_real_optional(name);                                           \
            atomic_store_explicit(&(var), f_, memory_order_release);                               \
        }                                                                                          \
        f_;                                                                                        \
    })

/* The hooks themselves (shim/hooks), declared from the same entries: a hook whose signature is
 * not its entry's does not compile. */
#define PG_HOOK(field, ret, name, params, version, how) PG_EXPORT ret name params;
#define PG_ADAPTER(lib, name)
#include "hooks.def"
#undef PG_HOOK
#undef PG_ADAPTER

/* Life cycle (init.c). */
PG_HIDDEN extern _Atomic int pg_ready; /* the table exists and hooks may track */
PG_HIDDEN extern int pg_disabled;      /* secure execution or POOLGUARD_DISABLE: pass through */
PG_HIDDEN extern struct pg_config pg_cfg;
PG_HIDDEN void pg_init(void);
PG_HIDDEN void pg_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
PG_HIDDEN int pg_spawn(void *(*fn)(void *), size_t stack, const char *name);

/* The watchdog (watchdog.c). */
PG_HIDDEN void pg_watchdog_ensure(void);
PG_HIDDEN void pg_watchdog_fork_prepare(void);
PG_HIDDEN void pg_watchdog_fork_parent(void);
PG_HIDDEN void pg_watchdog_fork_child(void);

/* Address space for a fixed table, zero-filled and never moved: pages cost nothing until touched,
 * so memory follows what the program really has. NULL, errno set, if none is left. */
static inline void *pg_reserve(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* Reads n bytes of the program's memory at src; -EFAULT if it is not there (peek.c). */
PG_HIDDEN int pg_peek(void *dst, uintptr_t src, size_t n);

/* Stacks (stack.c). */
PG_HIDDEN void pg_stack_init(void);
PG_HIDDEN void pg_stack_fork_prepare(void);
PG_HIDDEN void pg_stack_fork_done(void);
PG_HIDDEN int pg_stack_here(uintptr_t *pcs, int max, int skip);
PG_HIDDEN int pg_stack_here_fast(uintptr_t *pcs, int max, int skip);
PG_HIDDEN int pg_stack_from(unw_context_t *ctx, uintptr_t *pcs, int max);

#endif

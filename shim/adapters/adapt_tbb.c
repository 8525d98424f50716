/*
 * The oneTBB adapter: interposes the scheduler entry points libtbb.so.12 exports under C++ mangled
 * names (tbb::detail::r1::enqueue, spawn, execute, terminate) and feeds the exact-pool model
 * (annotate.h). A pool is a task_arena (its task_arena_base address); its workers are what
 * r1::max_concurrency says of it.
 *
 * A task starts through a virtual call the scheduler makes inside libtbb (d1::task::execute, or
 * d1::task::cancel when its group was cancelled), which nothing outside can wrap. So, at
 * submission, the task object's vtable pointer is pointed at a copy of its class's vtable made by
 * this file, one per (class, arena, arena life), in a fixed static table that is never freed: the
 * copy keeps the offset-to-top, the type_info and both destructors, and its execute and cancel
 * slots are trampolines. A trampoline finds its copy from the vtable pointer it was called
 * through, counts the task started, calls the original function and counts it done without
 * touching the task again (execute usually destroys it); a cleanup does the counting when an
 * exception leaves the original, so unwinding passes through unchanged. Vtables are never
 * written; the object's vtable pointer is the program's, written before libtbb sees the task.
 *
 * Only classes whose vtable layout is known are touched: tbb::detail::d1::enqueue_task<F>
 * (task_arena::enqueue, this_task_arena::enqueue), d1::function_task<F> and d2::function_task<F>
 * (task_group::run, with or without a task_handle), recognised by their type_info name, with the
 * task at offset 0 and exactly ~task, execute and cancel as virtual functions. Every other task
 * (the parallel algorithms', libtbb's own, a program's subclasses of the detail API) is passed
 * through untouched, as is a submission whose arena is not known: spawn, and enqueue without an
 * arena, name the calling thread's current arena, which is known only inside a tracked task or
 * task_arena::execute.
 * docs/adapters.md says what this assumes and what stays invisible.
 *
 * Runs on every submission and every task: no allocation, no locks, no stdio. A full table means
 * one warning and untracked submissions from then on. The shim does not include TBB's headers
 * (it is C); the few facts of TBB's ABI it needs are declared below.
 */
#include "annotate.h"
#include "pg_format.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* oneTBB's ABI (interface 12, oneTBB 2021.x; checked against 2021.8's headers): d1::task is
 * polymorphic with its vtable pointer first, and its virtual functions are, in order, the complete
 * and deleting destructors, execute(execution_data&) and cancel(execution_data&). Both take and
 * return pointers, so they are called as C functions of two pointers. The other types stay
 * opaque. */
typedef struct tbb_task tbb_task;
typedef struct tbb_arena_base tbb_arena_base;
typedef struct tbb_context tbb_context;
typedef struct tbb_delegate tbb_delegate;
typedef tbb_task *(*task_vfn)(tbb_task *self, void *execution_data);
typedef void (*enqueue_fn)(tbb_task *, tbb_arena_base *);
typedef void (*enqueue_ctx_fn)(tbb_task *, tbb_context *, tbb_arena_base *);
typedef void (*spawn_fn)(tbb_task *, tbb_context *);
typedef void (*spawn_slot_fn)(tbb_task *, tbb_context *, unsigned short);
typedef void (*execute_fn)(tbb_arena_base *, tbb_delegate *);
typedef void (*terminate_fn)(tbb_arena_base *);
typedef int (*max_conc_fn)(const tbb_arena_base *);
typedef int (*iface_fn)(void);

#define VT_DTOR 0 /* vtable slots, counted from where the vtable pointer points */
#define VT_EXECUTE 2
#define VT_CANCEL 3
#define VT_FUNCS 4 /* the whole virtual part of the classes handled here */
#define VT_HEAD 2  /* offset-to-top and type_info, before the vtable pointer */

/* The mangled names of the exported entry points (nm -D libtbb.so.12). */
#define N_ENQUEUE "_ZN3tbb6detail2r17enqueueERNS0_2d14taskEPNS2_15task_arena_baseE"
#define N_ENQUEUE_CTX                                                                              \
    "_ZN3tbb6detail2r17enqueueERNS0_2d14taskERNS2_18task_group_contextEPNS2_15task_arena_baseE"
#define N_SPAWN "_ZN3tbb6detail2r15spawnERNS0_2d14taskERNS2_18task_group_contextE"
#define N_SPAWN_SLOT "_ZN3tbb6detail2r15spawnERNS0_2d14taskERNS2_18task_group_contextEt"
#define N_EXECUTE "_ZN3tbb6detail2r17executeERNS0_2d115task_arena_baseERNS2_13delegate_baseE"
#define N_TERMINATE "_ZN3tbb6detail2r19terminateERNS0_2d115task_arena_baseE"
#define N_MAX_CONC "_ZN3tbb6detail2r115max_concurrencyEPKNS0_2d115task_arena_baseE"

/* Arenas ever seen, by task_arena_base address; a record is never freed, and its generation
 * counts terminate() calls, so a new arena at the same address is a new pool. */
#define TBB_ARENAS 1024
struct arena_rec {
    _Atomic uintptr_t ta;
    _Atomic uint32_t gen;
};

/* Vtable copies, one per (class, arena record, generation). words[] is what an object's vtable
 * pointer points into (at words + VT_HEAD); nothing in a ready entry changes again. */
#define VT_COPIES 8192
#define VT_PROBE 64
enum { C_FREE = 0, C_FILLING, C_READY };
struct vcopy {
    _Atomic int state;
    uint32_t gen;
    struct arena_rec *rec;
    void *const *vptr;        /* the class's own vtable pointer */
    task_vfn execute, cancel; /* the class's own */
    void *words[VT_HEAD + VT_FUNCS];
};

static struct arena_rec arenas[TBB_ARENAS];
static struct vcopy copies[VT_COPIES];
static _Atomic int arenas_full_warned, copies_full_warned, abi_state;

/* The arena whose tasks the calling thread runs: set while a tracked task or task_arena::execute
 * runs on it, NULL elsewhere (then spawn and enqueue without an arena are not tracked). */
static __thread struct arena_rec *cur_rec __attribute__((tls_model("initial-exec")));
static __thread uint32_t cur_gen __attribute__((tls_model("initial-exec")));

/* The real functions (PG_REAL_LAZY), looked up on first use. NULL only if libtbb is not loaded,
 * and then nothing calls these wrappers. */
static _Atomic(enqueue_fn) real_enqueue;
static _Atomic(enqueue_ctx_fn) real_enqueue_ctx;
static _Atomic(spawn_fn) real_spawn;
static _Atomic(spawn_slot_fn) real_spawn_slot;
static _Atomic(execute_fn) real_execute;
static _Atomic(terminate_fn) real_terminate;
static _Atomic(max_conc_fn) real_max_conc;

static tbb_task *execute_trampoline(tbb_task *self, void *ed);
static tbb_task *cancel_trampoline(tbb_task *self, void *ed);

static uint32_t hash_word(uintptr_t p)
{
    uint64_t x = (uint64_t)p * 0x9e3779b97f4a7c15ull;
    return (uint32_t)(x >> 32);
}

/* Tracking needs the interface this file was written for (12: oneTBB 2021.x); another libtbb
 * is left alone, with one warning. */
static int abi_ok(void)
{
    int s = atomic_load_explicit(&abi_state, memory_order_relaxed);
    if (PG_LIKELY(s != 0))
        return s > 0;
    iface_fn f = (iface_fn)pg_real_optional("TBB_runtime_interface_version");
    int v = f ? f() : 0;
    s = v / 1000 == 12 ? 1 : -1;
    if (s < 0 && atomic_load(&abi_state) == 0)
        pg_warn("oneTBB interface version %d is not 12xxx: its tasks are not tracked", v);
    atomic_store_explicit(&abi_state, s, memory_order_relaxed);
    return s > 0;
}

static struct arena_rec *arena_get(uintptr_t ta)
{
    uint32_t h = hash_word(ta) % TBB_ARENAS;
    for (uint32_t i = 0; i < TBB_ARENAS; i++) {
        struct arena_rec *r = &arenas[(h + i) % TBB_ARENAS];
        uintptr_t v = atomic_load_explicit(&r->ta, memory_order_acquire);
        if (v == ta)
            return r;
        if (v == 0 && atomic_compare_exchange_strong(&r->ta, &v, ta))
            return r;
        if (v == ta)
            return r;
    }
    if (!atomic_exchange(&arenas_full_warned, 1))
        pg_warn("more than %d oneTBB task arenas; further arenas are not tracked", TBB_ARENAS);
    return NULL;
}

static struct arena_rec *arena_find(uintptr_t ta)
{
    uint32_t h = hash_word(ta) % TBB_ARENAS;
    for (uint32_t i = 0; i < TBB_ARENAS; i++) {
        struct arena_rec *r = &arenas[(h + i) % TBB_ARENAS];
        uintptr_t v = atomic_load_explicit(&r->ta, memory_order_acquire);
        if (v == ta)
            return r;
        if (v == 0)
            return NULL;
    }
    return NULL;
}

/* The pool in the model, opened at the arena's first tracked submission of each life. The
 * arena is initialised by then (task_arena::enqueue and ::execute initialise it first, and a
 * current arena is a live one), so max_concurrency reads its slots: the reserved ones included,
 * which can only hide an exhaustion, never invent one. Its callers are two frames of this file
 * and the hook, skipped in the creation stack. */
static __attribute__((noinline)) int pool_open(uintptr_t ta)
{
    if (pg_apool_find(ta))
        return 1;
    max_conc_fn mc = PG_REAL_LAZY(real_max_conc, N_MAX_CONC);
    int workers = mc ? mc((const tbb_arena_base *)ta) : 0;
    return pg_apool_open(ta, pg_library_name(PG_LIB_TBB), "task_arena", workers, 3) != NULL;
}

/* The class's vtable pointer behind an object's: its own, or the original of a copy this file
 * made (a task submitted again). */
static void *const *class_vptr(void *const *vp)
{
    uintptr_t a = (uintptr_t)vp, lo = (uintptr_t)copies, hi = (uintptr_t)(copies + VT_COPIES);
    if (a < lo || a >= hi)
        return vp;
    const struct vcopy *c =
        (const struct vcopy *)(a - offsetof(struct vcopy, words) - VT_HEAD * sizeof(void *));
    return c->vptr;
}

/* The classes whose vtable is exactly ~task, execute, cancel, with the task at offset 0, by
 * their type_info name: d1::enqueue_task<F>, d1::function_task<F> (task_group::run) and
 * d2::function_task<F> (task_group with task_handle). A leading '*' marks a name GCC compares by
 * address (a lambda's closure type in the argument). */
static int class_known(void *const *vp)
{
    if ((intptr_t)vp[-2] != 0)
        return 0;
    void *const *ti = (void *const *)vp[-1];
    if (!ti)
        return 0; /* built without RTTI */
    const char *name = (const char *)ti[1];
    if (!name)
        return 0;
    if (*name == '*')
        name++;
    static const char enq[] = "N3tbb6detail2d112enqueue_taskI";
    static const char fun1[] = "N3tbb6detail2d113function_taskI";
    static const char fun2[] = "N3tbb6detail2d213function_taskI";
    return !strncmp(name, enq, sizeof enq - 1) || !strncmp(name, fun1, sizeof fun1 - 1) ||
           !strncmp(name, fun2, sizeof fun2 - 1);
}

/* The copy of the class's vtable for this arena life, made if need be; NULL when the class is
 * not one handled here or the table is full. An entry being filled by another thread is passed
 * over: the same class may then get two copies, which is harmless. */
static struct vcopy *copy_get(void *const *vp, struct arena_rec *rec, uint32_t gen)
{
    uint32_t h = hash_word((uintptr_t)vp ^ ((uintptr_t)rec * 31u) ^ gen) % VT_COPIES;
    int known = -1;
    for (uint32_t i = 0; i < VT_PROBE; i++) {
        struct vcopy *c = &copies[(h + i) % VT_COPIES];
        int s = atomic_load_explicit(&c->state, memory_order_acquire);
        if (s == C_READY) {
            if (c->vptr == vp && c->rec == rec && c->gen == gen)
                return c;
            continue;
        }
        if (s != C_FREE)
            continue;
        if (known < 0)
            known = class_known(vp);
        if (!known)
            return NULL;
        if (!atomic_compare_exchange_strong(&c->state, &s, C_FILLING))
            continue;
        c->gen = gen;
        c->rec = rec;
        c->vptr = vp;
        c->execute = (task_vfn)vp[VT_EXECUTE];
        c->cancel = (task_vfn)vp[VT_CANCEL];
        c->words[0] = vp[-2];
        c->words[1] = vp[-1];
        for (int k = 0; k < VT_FUNCS; k++)
            c->words[VT_HEAD + k] = vp[k];
        c->words[VT_HEAD + VT_EXECUTE] = (void *)execute_trampoline;
        c->words[VT_HEAD + VT_CANCEL] = (void *)cancel_trampoline;
        atomic_store_explicit(&c->state, C_READY, memory_order_release);
        return c;
    }
    if (known != 0 && !atomic_exchange(&copies_full_warned, 1))
        pg_warn("more than %d oneTBB task classes and arenas; further tasks are not tracked",
                VT_COPIES);
    return NULL;
}

/* One task between its start and its end on this thread. The end runs as a cleanup, so also when
 * an exception leaves the task (the scheduler catches it further up). */
struct run_scope {
    int tracked;
    uintptr_t pool, task;
    struct arena_rec *prev_rec;
    uint32_t prev_gen;
    struct pg_apool_frame saved;
};

static void run_end(struct run_scope *s)
{
    int e = errno;
    if (s->tracked) {
        /* A thread that ran this task inside another (waiting in task_group::wait, say) goes back
         * to being the outer task's worker, with the outer task's last submission. */
        pg_apool_done(s->pool, s->task);
        pg_apool_frame_restore(&s->saved);
    }
    cur_rec = s->prev_rec;
    cur_gen = s->prev_gen;
    errno = e;
}

static __attribute__((noinline)) tbb_task *run(tbb_task *self, void *ed, int cancel)
{
    int e = errno;
    void *const *vp = *(void *const *const *)self;
    uintptr_t a = (uintptr_t)vp - offsetof(struct vcopy, words) - VT_HEAD * sizeof(void *);
    if (a < (uintptr_t)copies || a >= (uintptr_t)(copies + VT_COPIES) ||
        (a - (uintptr_t)copies) % sizeof(struct vcopy) != 0) {
        pg_warn("fatal: a oneTBB task's vtable is not the adapter's copy");
        abort();
    }
    const struct vcopy *c = (const struct vcopy *)a;
    task_vfn f = cancel ? c->cancel : c->execute;
    struct run_scope s __attribute__((cleanup(run_end))) = {
        .tracked = 0,
        .pool = c->rec->ta,
        .task = (uintptr_t)self,
        .prev_rec = cur_rec,
        .prev_gen = cur_gen,
    };
    /* A task of an arena terminated since its submission runs untracked: the pool it was counted
     * in is closed, and the address may be another arena's now. */
    if (atomic_load_explicit(&c->rec->gen, memory_order_acquire) == c->gen &&
        atomic_load_explicit(&pg_ready, memory_order_acquire)) {
        pg_apool_frame_save(&s.saved);
        /* fn is the class's execute (the program's code) for a cancelled task too: the task it
         * names is the one that will not run. */
        pg_apool_start(s.pool, s.task, (uintptr_t)c->execute);
        s.tracked = 1;
        cur_rec = c->rec;
        cur_gen = c->gen;
    } else {
        cur_rec = NULL;
    }
    errno = e;
    return f(self, ed);
}

/* The trampolines in the copies' execute and cancel slots; `run` keeps their own frames small. */
static tbb_task *execute_trampoline(tbb_task *self, void *ed)
{
    tbb_task *next = run(self, ed, 0);
    __asm__ volatile("" ::: "memory");
    return next;
}

static tbb_task *cancel_trampoline(tbb_task *self, void *ed)
{
    tbb_task *next = run(self, ed, 1);
    __asm__ volatile("" ::: "memory");
    return next;
}

/* A submission until libtbb has it: if the real call throws (it allocates), the task never runs,
 * and leaves the queue as started and done at once. */
struct submit_scope {
    int pending;
    uintptr_t pool, task, fn;
    struct pg_apool_frame saved;
};

static void submit_end(struct submit_scope *s)
{
    if (!s->pending)
        return;
    int e = errno;
    pg_apool_unrun(s->pool, s->task, s->fn, &s->saved);
    errno = e;
}

/* Points the task at its class's copy for this arena life and counts it submitted; 0 and nothing
 * done when the task is not tracked. Runs before libtbb has the task, so before any thread can
 * run it. */
static __attribute__((noinline)) int track(tbb_task *task, struct arena_rec *rec, uint32_t gen,
                                           struct submit_scope *s)
{
    if (!task || !pool_open(atomic_load_explicit(&rec->ta, memory_order_relaxed)))
        return 0;
    void *const *vp = class_vptr(*(void *const *const *)task);
    struct vcopy *c = copy_get(vp, rec, gen);
    if (!c)
        return 0;
    s->pool = rec->ta;
    s->task = (uintptr_t)task;
    s->fn = (uintptr_t)c->execute;
    pg_apool_frame_save(&s->saved);
    *(void **)task = &c->words[VT_HEAD];
    pg_apool_submit(s->pool, s->task, s->fn);
    return 1;
}

/* The arena a submission goes to: the named one, else the calling thread's current one if known. */
static int submission_arena(tbb_arena_base *ta, struct arena_rec **rec, uint32_t *gen)
{
    if (!atomic_load_explicit(&pg_ready, memory_order_acquire) || !abi_ok())
        return 0;
    if (ta) {
        *rec = arena_get((uintptr_t)ta);
        if (!*rec)
            return 0;
        *gen = atomic_load_explicit(&(*rec)->gen, memory_order_acquire);
        return 1;
    }
    *rec = cur_rec;
    *gen = cur_gen;
    return *rec && atomic_load_explicit(&(*rec)->gen, memory_order_acquire) == *gen;
}

/* The hooks. Each counts the submission, calls libtbb, and forgets the submission only if libtbb
 * threw. The empty asm keeps each hook's own frame for the creation stack. */
#define SUBMIT(ta_, call_)                                                                         \
    do {                                                                                           \
        int e_ = errno;                                                                            \
        struct arena_rec *rec_;                                                                    \
        uint32_t gen_;                                                                             \
        struct submit_scope s_ __attribute__((cleanup(submit_end))) = { .pending = 0 };            \
        if (submission_arena((ta_), &rec_, &gen_))                                                 \
            s_.pending = track(t, rec_, gen_, &s_);                                                \
        errno = e_;                                                                                \
        call_;                                                                                     \
        s_.pending = 0;                                                                            \
        __asm__ volatile("" ::: "memory");                                                         \
    } while (0)

PG_EXPORT void tbb_enqueue(tbb_task *t, tbb_arena_base *ta) __asm__(N_ENQUEUE);
PG_EXPORT void tbb_enqueue(tbb_task *t, tbb_arena_base *ta)
{
    enqueue_fn real = PG_REAL_LAZY(real_enqueue, N_ENQUEUE);
    if (real)
        SUBMIT(ta, real(t, ta));
}

PG_EXPORT void tbb_enqueue_ctx(tbb_task *t, tbb_context *ctx,
                               tbb_arena_base *ta) __asm__(N_ENQUEUE_CTX);
PG_EXPORT void tbb_enqueue_ctx(tbb_task *t, tbb_context *ctx, tbb_arena_base *ta)
{
    enqueue_ctx_fn real = PG_REAL_LAZY(real_enqueue_ctx, N_ENQUEUE_CTX);
    if (real)
        SUBMIT(ta, real(t, ctx, ta));
}

PG_EXPORT void tbb_spawn(tbb_task *t, tbb_context *ctx) __asm__(N_SPAWN);
PG_EXPORT void tbb_spawn(tbb_task *t, tbb_context *ctx)
{
    spawn_fn real = PG_REAL_LAZY(real_spawn, N_SPAWN);
    if (!real)
        return;
    /* libtbb's own spawns come through here too (it calls spawn through its PLT); outside a
     * tracked task or execute they leave at the first test. */
    if (!cur_rec) {
        real(t, ctx);
        return;
    }
    SUBMIT(NULL, real(t, ctx));
}

PG_EXPORT void tbb_spawn_slot(tbb_task *t, tbb_context *ctx,
                              unsigned short slot) __asm__(N_SPAWN_SLOT);
PG_EXPORT void tbb_spawn_slot(tbb_task *t, tbb_context *ctx, unsigned short slot)
{
    spawn_slot_fn real = PG_REAL_LAZY(real_spawn_slot, N_SPAWN_SLOT);
    if (!real)
        return;
    if (!cur_rec) {
        real(t, ctx, slot);
        return;
    }
    SUBMIT(NULL, real(t, ctx, slot));
}

/* task_arena::execute: the functor runs in the arena (or waits for it), and what it spawns or
 * enqueues without naming an arena goes there. */
struct exec_scope {
    struct arena_rec *prev_rec;
    uint32_t prev_gen;
};

static void exec_end(struct exec_scope *s)
{
    cur_rec = s->prev_rec;
    cur_gen = s->prev_gen;
}

PG_EXPORT void tbb_execute(tbb_arena_base *ta, tbb_delegate *d) __asm__(N_EXECUTE);
PG_EXPORT void tbb_execute(tbb_arena_base *ta, tbb_delegate *d)
{
    execute_fn real = PG_REAL_LAZY(real_execute, N_EXECUTE);
    if (!real)
        return;
    // NOLINTNEXTLINE(clang-analyzer-deadcode.DeadStores): read by the cleanup function
    struct exec_scope s __attribute__((cleanup(exec_end))) = { cur_rec, cur_gen };
    if (ta && atomic_load_explicit(&pg_ready, memory_order_acquire)) {
        int e = errno;
        struct arena_rec *r = arena_get((uintptr_t)ta);
        cur_rec = r;
        cur_gen = r ? atomic_load_explicit(&r->gen, memory_order_acquire) : 0;
        errno = e;
    }
    real(ta, d);
}

/* task_arena::terminate (and its destructor): the arena's tasks still queued run later in libtbb,
 * untracked; the pool is closed in the model, and the next arena at this address is a new one. */
PG_EXPORT void tbb_terminate(tbb_arena_base *ta) __asm__(N_TERMINATE);
PG_EXPORT void tbb_terminate(tbb_arena_base *ta)
{
    terminate_fn real = PG_REAL_LAZY(real_terminate, N_TERMINATE);
    if (!real)
        return;
    real(ta);
    int e = errno;
    struct arena_rec *r = ta ? arena_find((uintptr_t)ta) : NULL;
    if (r) {
        atomic_fetch_add_explicit(&r->gen, 1, memory_order_acq_rel);
        pg_apool_close((uintptr_t)ta);
    }
    errno = e;
}

/*
 * The thread table: one fixed array of slots, mapped once at start-up and never resized, so that
 * hooks and the watchdog can use it without allocation or locks. A slot belongs to one thread from
 * claim to release; only that thread writes its wait and held-lock fields. Claiming is a CAS on
 * a lock-free free list (a Treiber stack whose head carries a tag against ABA), so freed slots are
 * reused first and the table stays as small as the most threads alive at once: memory and the
 * watchdog's scan follow the live threads, not the threads ever created. It happens at thread
 * creation (or at a thread's first hooked call), never on a lock's fast path.
 *
 * When the table is full the shim says so once and leaves further threads untracked: they run
 * normally, and the watchdog, which then cannot see every thread, proves no whole-program hang.
 */
#include "exited.h"
#include "pg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct pg_thread *pg_table;
uint32_t pg_table_size;
_Atomic uint32_t pg_table_high;
__thread struct pg_thread *pg_cur __attribute__((tls_model("initial-exec")));

static _Atomic uint64_t free_head; /* tag << 32 | (index + 1); 0 index: empty */
static _Atomic int full_warned;
static pthread_key_t lazy_key;
static int lazy_key_ok;

static void lazy_release(void *p)
{
    struct pg_thread *t = p;
    if (t && t == pg_cur)
        pg_slot_release(t);
}

int pg_table_init(uint32_t size)
{
    size_t bytes = (size_t)size * sizeof(struct pg_thread);
    /* Untouched pages cost nothing: memory grows with the number of threads actually seen. */
    void *p = pg_reserve(bytes);
    if (!p)
        return -errno;
    pg_table = p;
    pg_table_size = size;
    if (pthread_key_create(&lazy_key, lazy_release) == 0)
        lazy_key_ok = 1;
    return 0;
}

static struct pg_thread *pop_free(void)
{
    uint64_t head = atomic_load_explicit(&free_head, memory_order_acquire);
    for (;;) {
        uint32_t idx1 = (uint32_t)head;
        if (!idx1)
            return NULL;
        struct pg_thread *t = &pg_table[idx1 - 1];
        uint32_t next = atomic_load_explicit(&t->free_next, memory_order_relaxed);
        uint64_t want = ((head >> 32) + 1) << 32 | next;
        if (atomic_compare_exchange_weak_explicit(&free_head, &head, want, memory_order_acquire,
                                                  memory_order_acquire))
            return t;
    }
}

static void push_free(struct pg_thread *t)
{
    uint32_t idx1 = (uint32_t)(t - pg_table) + 1;
    uint64_t head = atomic_load_explicit(&free_head, memory_order_relaxed);
    for (;;) {
        atomic_store_explicit(&t->free_next, (uint32_t)head, memory_order_relaxed);
        uint64_t want = ((head >> 32) + 1) << 32 | idx1;
        if (atomic_compare_exchange_weak_explicit(&free_head, &head, want, memory_order_release,
                                                  memory_order_relaxed))
            return;
    }
}

struct pg_thread *pg_slot_claim(void)
{
    if (!pg_table)
        return NULL;
    struct pg_thread *t = pop_free();
    if (!t) {
        uint32_t k = atomic_fetch_add_explicit(&pg_table_high, 1, memory_order_relaxed);
        if (k >= pg_table_size) {
            atomic_fetch_sub_explicit(&pg_table_high, 1, memory_order_relaxed);
            if (!atomic_exchange(&full_warned, 1))
                pg_warn("the thread table is full (%u threads; POOLGUARD_MAX_THREADS raises it): "
                        "further threads are not tracked",
                        pg_table_size);
            return NULL;
        }
        t = &pg_table[k];
    }
    atomic_store_explicit(&t->state, PG_SLOT_CLAIMED, memory_order_relaxed);
    atomic_fetch_add_explicit(&t->gen, 1, memory_order_relaxed);
    atomic_store_explicit(&t->tid, 0, memory_order_relaxed);
    t->self = 0;
    t->start_routine = 0;
    t->start = NULL;
    t->arg = NULL;
    t->is_main = 0;
    t->in_shim = 0;
    t->ncreated = 0;
    atomic_store_explicit(&t->wait_seq, 0, memory_order_relaxed);
    atomic_store_explicit(&t->nheld, 0, memory_order_relaxed);
    t->held_dropped = 0;
    t->ncreate = 0;
    memset(t->hist, 0, sizeof t->hist);
    memset(t->lost, 0, sizeof t->lost);
    t->submit_obj = 0;
    t->nsubmit = 0;
    t->ann_pool = t->ann_task = t->ann_task_fn = t->ann_wait_task = 0;
    t->sub_pool = t->sub_task = 0;
    t->sub_seq = 0;
    t->wake_is_signal = 0;
    t->futex_is_lock = 0;
    t->ann_ever = 0;
    t->lo_last_a = t->lo_last_b = 0;
    atomic_thread_fence(memory_order_release);
    return t;
}

void pg_slot_release(struct pg_thread *t)
{
    pg_exited_note(t);
    if (pg_cur == t)
        pg_cur = PG_NOSLOT;
    atomic_store_explicit(&t->tid, 0, memory_order_relaxed);
    atomic_store_explicit(&t->state, PG_SLOT_FREE, memory_order_release);
    push_free(t);
}

/* First hooked call of a thread the shim did not create: the main thread, threads started before
 * the shim was ready. */
struct pg_thread *pg_self_slow(void)
{
    if (!atomic_load_explicit(&pg_ready, memory_order_acquire) || pg_disabled)
        return NULL; /* pg_cur stays NULL: try again once ready */
    struct pg_thread *t = pg_slot_claim();
    if (!t) {
        pg_cur = PG_NOSLOT;
        return NULL;
    }
    pid_t tid = (pid_t)syscall(SYS_gettid);
    t->self = pthread_self();
    t->is_main = tid == getpid();
    atomic_store_explicit(&t->tid, tid, memory_order_relaxed);
    atomic_store_explicit(&t->state, PG_SLOT_LIVE, memory_order_release);
    pg_cur = t;
    if (!t->is_main && lazy_key_ok) {
        t->in_shim = 1;
        pthread_setspecific(lazy_key, t);
        t->in_shim = 0;
    }
    return t;
}

/* An unlock out of order (or of a lock taken before tracking, or past the array's end). */
void pg_held_drop_slow(struct pg_thread *t, const void *obj)
{
    uint32_t n = atomic_load_explicit(&t->nheld, memory_order_relaxed);
    for (uint32_t i = n; i-- > 0;) {
        if (t->held[i].obj != (uintptr_t)obj)
            continue;
        for (uint32_t j = i; j + 1 < n; j++)
            t->held[j] = t->held[j + 1];
        atomic_store_explicit(&t->nheld, n - 1, memory_order_release);
        return;
    }
    if (t->held_dropped)
        t->held_dropped--;
}

/* After fork only the calling thread exists. Its slot keeps its held locks (they stay held in the
 * child); every other slot is freed. */
void pg_table_after_fork_child(void)
{
    if (!pg_table)
        return;
    struct pg_thread *me = (uintptr_t)pg_cur > 1 ? pg_cur : NULL;
    uint32_t high = atomic_load(&pg_table_high);
    atomic_store(&free_head, 0);
    for (uint32_t i = high; i-- > 0;) {
        struct pg_thread *t = &pg_table[i];
        if (t == me)
            continue;
        atomic_store_explicit(&t->tid, 0, memory_order_relaxed);
        atomic_store_explicit(&t->state, PG_SLOT_FREE, memory_order_relaxed);
        push_free(t);
    }
    if (me) {
        pid_t tid = (pid_t)syscall(SYS_gettid);
        atomic_store(&me->tid, tid);
        me->is_main = tid == getpid();
        me->self = pthread_self();
    }
}

/* A wait on a condition variable, semaphore or futex word: counted, and the least used entry
 * makes room, so a pool's idle object (waited on between every two tasks) stays. */
void pg_hist_note(struct pg_thread *t, uintptr_t obj, uint32_t kind)
{
    int victim = 0;
    for (int i = 0; i < PG_HIST; i++) {
        if (t->hist[i].obj == obj) {
            __atomic_store_n(&t->hist[i].count, t->hist[i].count + 1, __ATOMIC_RELAXED);
            return;
        }
        if (t->hist[i].count < t->hist[victim].count)
            victim = i;
    }
    __atomic_store_n(&t->hist[victim].count, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&t->hist[victim].obj, obj, __ATOMIC_RELAXED);
    __atomic_store_n(&t->hist[victim].kind, kind, __ATOMIC_RELAXED);
    __atomic_store_n(&t->hist[victim].count, 1, __ATOMIC_RELAXED);
}

/* A signal or post that found no waiter: work queued for a pool whose workers are all busy (or an
 * event nobody waits for yet). Remembered with the thread's wait sequence, so the watchdog can tell
 * "submitted, then waited" apart from older history. */
void pg_lost_note(struct pg_thread *t, uintptr_t obj, uint32_t kind, int may_unwind)
{
    uint64_t seq = atomic_load_explicit(&t->wait_seq, memory_order_relaxed);
    int slot = 0;
    for (int i = 0; i < PG_LOST; i++) {
        if (t->lost[i].obj == obj) {
            slot = i;
            goto found;
        }
    }
    /* Replace the older entry. */
    slot = t->lost[0].seq <= t->lost[1].seq ? 0 : 1;
    __atomic_store_n(&t->lost[slot].count, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&t->lost[slot].obj, obj, __ATOMIC_RELAXED);
    __atomic_store_n(&t->lost[slot].kind, kind, __ATOMIC_RELAXED);
found:
    __atomic_store_n(&t->lost[slot].seq, seq, __ATOMIC_RELAXED);
    uint32_t count = t->lost[slot].count + 1;
    __atomic_store_n(&t->lost[slot].count, count, __ATOMIC_RELEASE);
    /* A stack costs an unwind (and libunwind masks signals around every uncached look-up): taken
     * once a thread has queued work on the object eight times, then every 4096 times, so a thread
     * that signals now and then never pays, and a flooding submitter pays almost nothing. */
    if (may_unwind && (count == 8 || count % 4096 == 0)) {
        int saved = errno;
        t->in_shim++;
        int n = pg_stack_here(t->submit_stack, PG_CREATE_DEPTH, 0);
        t->in_shim--;
        __atomic_store_n(&t->nsubmit, (uint32_t)n, __ATOMIC_RELAXED);
        __atomic_store_n(&t->submit_obj, obj, __ATOMIC_RELEASE);
        errno = saved;
    }
}

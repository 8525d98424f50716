/*
 * Lock-order validation, the recording half: deadlocks that did not happen this run. Every time a
 * thread takes lock B with a call that could have blocked while it holds lock A, "A before B" is a
 * pair (an edge of the lock-order graph); a cycle in that graph is a set of orders that can
 * deadlock when the timing is unlucky, whether or not it was this time. The watchdog looks for
 * cycles (lockorder_scan.c, lockcycle.c); this file runs inside the hooks: no allocation, no
 * locks, errno kept.
 *
 * Cost. Only nested locking pays: a thread holding nothing records nothing. A thread holding locks
 * checks its own small cache of pairs already recorded (keyed by the pair, by the other locks it
 * holds, so each distinct context is recorded once, and by its happens-before segment) and touches
 * the shared tables only for a pair it has not seen. A pair is found by one hashed probe of an
 * index sized for the whole budget, whether the program has ten pairs or a million; a new pair
 * takes a record from the front of an append-only array and captures its stack (once per pair,
 * stored once per distinct stack). Memory grows as pairs appear; at the budget (lockorder_int.h),
 * one warning says what is no longer checked.
 *
 * Threads. Each pair remembers the first few threads that took it and in which segment of their
 * lives (between two thread creations or joins); a new thread taking a known pair logs it again,
 * so the watchdog looks at its cycles again. Segments are recorded at pthread_create and
 * pthread_join, never on a lock path.
 *
 * Noise that stays out: a trylock cannot block and makes no pair (the hooks do not call here for
 * it); a lock initialized or destroyed at an address starts a new node, so memory reused for
 * another lock makes no phantom pair; pairs are recorded only once the second lock is taken, so a
 * deadlock that does happen never completes its own cycle here: it is reported as the deadlock.
 */
#include "lockorder_int.h"

#include <errno.h>
#include <string.h>

#define PROBES 128
#define JOIN_SLOTS 65536
#define JOIN_TOMB ((uintptr_t)1)

struct lo_node {
    _Atomic uintptr_t addr;
    _Atomic uint32_t gen;
    _Atomic uintptr_t init_pc;  /* where this generation was initialized */
    _Atomic uintptr_t first_pc; /* where it was first taken in a pair */
};

/* pthread_t -> (thread serial << 32 | its latest segment), for joins. */
struct lo_join {
    _Atomic uintptr_t key;
    _Atomic uint64_t val;
};

int pg_lo_enabled = 1;
_Atomic uint32_t pg_lo_epoch = 1;
struct lo_edge *pg_lo_edges;
_Atomic uint32_t *pg_lo_log;
_Atomic uint32_t pg_lo_nlog;
struct lo_stack *pg_lo_stacks;
struct lo_seg *pg_lo_segs;
_Atomic uint32_t pg_lo_nsegs = 1; /* segment 0 means "none" */

static struct lo_node *nodes;
static _Atomic uint32_t *edge_index; /* edge index + 1 */
static _Atomic uint32_t nedges;
static _Atomic uint32_t *stack_index; /* stack index + 1 */
static _Atomic uint32_t nstacks;
static struct lo_join *joins;
static _Atomic uint32_t nthreads_seen;
static __thread uint32_t new_pairs __attribute__((tls_model("initial-exec")));
static _Atomic int budget_warned, stacks_warned, nodes_warned, segs_warned;

int pg_lo_init(void)
{
    nodes = pg_reserve((size_t)LO_NODE_SLOTS * sizeof(struct lo_node));
    pg_lo_edges = pg_reserve((size_t)LO_MAX_EDGES * sizeof(struct lo_edge));
    edge_index = pg_reserve((size_t)LO_INDEX_SLOTS * 4);
    pg_lo_log = pg_reserve((size_t)LO_LOG_MAX * 4);
    pg_lo_stacks = pg_reserve((size_t)LO_MAX_STACKS * sizeof(struct lo_stack));
    stack_index = pg_reserve((size_t)LO_STACK_SLOTS * 4);
    pg_lo_segs = pg_reserve((size_t)LO_MAX_SEGS * sizeof(struct lo_seg));
    joins = pg_reserve((size_t)JOIN_SLOTS * sizeof(struct lo_join));
    if (!nodes || !pg_lo_edges || !edge_index || !pg_lo_log || !pg_lo_stacks || !stack_index ||
        !pg_lo_segs || !joins) {
        pg_lo_edges = NULL;
        return -ENOMEM;
    }
    return 0;
}

uint64_t pg_lo_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* ----- locks: address -> generation and where it was made ----- */

/* The node of addr, created if create is set; NULL if the table has no room. */
static struct lo_node *node_find(uintptr_t addr, int create)
{
    uint32_t h = (uint32_t)pg_lo_mix(addr) & (LO_NODE_SLOTS - 1);
    for (int i = 0; i < PROBES; i++) {
        struct lo_node *n = &nodes[(h + (uint32_t)i) & (LO_NODE_SLOTS - 1)];
        uintptr_t a = atomic_load_explicit(&n->addr, memory_order_acquire);
        if (a == addr)
            return n;
        if (a == 0) {
            if (!create)
                return NULL;
            uintptr_t zero = 0;
            if (atomic_compare_exchange_strong(&n->addr, &zero, addr) || zero == addr)
                return n;
        }
    }
    if (create && !atomic_exchange(&nodes_warned, 1))
        pg_warn("the lock-order table of locks is full (%u locks): locks first seen from now on "
                "are not told apart when their memory is reused",
                LO_NODE_SLOTS / 2);
    return NULL;
}

/* A new generation: a lock destroyed, or one made again, at addr. */
static struct lo_node *node_renew(uintptr_t addr, int create)
{
    struct lo_node *n = node_find(addr, create);
    if (!n)
        return NULL;
    atomic_store_explicit(&n->init_pc, 0, memory_order_relaxed);
    atomic_store_explicit(&n->first_pc, 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&n->gen, 1, memory_order_release);
    atomic_fetch_add_explicit(&pg_lo_epoch, 1, memory_order_release);
    return n;
}

void pg_lo_forget(uintptr_t addr)
{
    if (pg_lo_edges && pg_lo_enabled)
        node_renew(addr, 0); /* a lock never in a pair and never made under the shim has none */
}

/* A lock initialized at addr: a new generation for a lock already known, with its init site.
 * A fresh address gets no node here: the node table is hashed by address, so a node per
 * pthread_mutex_init would touch a page of it per lock (a program with a mutex per object, or a
 * thread per connection, grew by megabytes). Such a lock is named by where it was first taken. */
void pg_lo_made(uintptr_t addr, uintptr_t pc)
{
    if (!pg_lo_edges || !pg_lo_enabled)
        return;
    struct lo_node *n = node_renew(addr, 0);
    if (n)
        atomic_store_explicit(&n->init_pc, pc, memory_order_release);
}

void pg_lo_sites(uintptr_t addr, uint32_t gen, uintptr_t *init_pc, uintptr_t *first_pc)
{
    *init_pc = *first_pc = 0;
    if (!pg_lo_edges)
        return;
    struct lo_node *n = node_find(addr, 0);
    if (!n || atomic_load_explicit(&n->gen, memory_order_acquire) != gen)
        return;
    *init_pc = atomic_load_explicit(&n->init_pc, memory_order_relaxed);
    *first_pc = atomic_load_explicit(&n->first_pc, memory_order_relaxed);
}

void pg_lo_write_sites(struct pg_jw *w, uintptr_t addr)
{
    struct lo_node *n = pg_lo_edges ? node_find(addr, 0) : NULL;
    if (!n)
        return;
    uintptr_t init_pc = atomic_load_explicit(&n->init_pc, memory_order_relaxed);
    uintptr_t first_pc = atomic_load_explicit(&n->first_pc, memory_order_relaxed);
    if (init_pc)
        pg_jw_key(w, "init_pc"), pg_jw_hex(w, init_pc);
    if (first_pc)
        pg_jw_key(w, "first_taken_pc"), pg_jw_hex(w, first_pc);
}

/* The lock's generation, and the first place it was taken in a pair. */
static uint32_t node_touch(uintptr_t addr, uintptr_t pc)
{
    struct lo_node *n = node_find(addr, 1);
    if (!n)
        return 0;
    uintptr_t zero = 0;
    if (pc && atomic_load_explicit(&n->first_pc, memory_order_relaxed) == 0)
        atomic_compare_exchange_strong(&n->first_pc, &zero, pc);
    return atomic_load_explicit(&n->gen, memory_order_acquire);
}

/* ----- happens-before: segments of threads' lives ----- */

static uint32_t seg_new(uint32_t thr, uint32_t pred1, uint32_t pred2)
{
    uint32_t id = atomic_fetch_add_explicit(&pg_lo_nsegs, 1, memory_order_relaxed);
    if (id >= LO_MAX_SEGS) {
        if (!atomic_exchange(&segs_warned, 1))
            pg_warn("the lock-order table of thread segments is full (%u): thread creations and "
                    "joins from now on order no lock pairs",
                    LO_MAX_SEGS);
        return LO_SEG_NONE;
    }
    pg_lo_segs[id].thr = thr;
    pg_lo_segs[id].pred1 = pred1 == LO_SEG_NONE ? 0 : pred1;
    pg_lo_segs[id].pred2 = pred2 == LO_SEG_NONE ? 0 : pred2;
    return id;
}

static struct lo_join *join_slot(uintptr_t th, int create)
{
    uint32_t h = (uint32_t)pg_lo_mix(th) & (JOIN_SLOTS - 1);
    for (int i = 0; i < PROBES; i++) {
        struct lo_join *j = &joins[(h + (uint32_t)i) & (JOIN_SLOTS - 1)];
        uintptr_t k = atomic_load_explicit(&j->key, memory_order_acquire);
        if (k == th)
            return j;
        if (k == 0)
            break;
    }
    if (!create)
        return NULL;
    for (int i = 0; i < PROBES; i++) {
        struct lo_join *j = &joins[(h + (uint32_t)i) & (JOIN_SLOTS - 1)];
        uintptr_t k = atomic_load_explicit(&j->key, memory_order_acquire);
        if ((k == 0 || k == JOIN_TOMB) && atomic_compare_exchange_strong(&j->key, &k, th))
            return j;
    }
    return NULL; /* full: that thread's join orders nothing */
}

/* Keeps the latest segment of thread thr under th; a different thread's entry is replaced. */
static void join_put(uintptr_t th, uint32_t thr, uint32_t seg, int create)
{
    struct lo_join *j = join_slot(th, create);
    if (!j)
        return;
    uint64_t want = (uint64_t)thr << 32 | seg;
    uint64_t old = atomic_load_explicit(&j->val, memory_order_relaxed);
    while (!((old >> 32) == thr && (uint32_t)old >= seg) &&
           !atomic_compare_exchange_weak(&j->val, &old, want))
        ;
}

/* The thread's current segment, starting its first if it has none (a thread the shim did not see
 * created: the main thread, threads started before the shim was ready). */
static uint32_t cur_seg(struct pg_thread *t)
{
    uint32_t gen = atomic_load_explicit(&t->gen, memory_order_relaxed);
    if (PG_LIKELY(t->lo_seg && t->lo_gen == gen))
        return t->lo_seg;
    t->lo_thr = atomic_fetch_add_explicit(&nthreads_seen, 1, memory_order_relaxed) + 1;
    t->lo_seg = seg_new(t->lo_thr, 0, 0);
    t->lo_gen = gen;
    if (t->self)
        join_put((uintptr_t)t->self, t->lo_thr, t->lo_seg, 1);
    return t->lo_seg;
}

/* t moves on to a new segment after a creation or a join. */
static void next_seg(struct pg_thread *t, uint32_t pred2)
{
    uint32_t prev = cur_seg(t);
    t->lo_seg = seg_new(t->lo_thr, prev, pred2);
    if (t->self)
        join_put((uintptr_t)t->self, t->lo_thr, t->lo_seg, 0);
}

void pg_lo_thread_create(struct pg_thread *me, struct pg_thread *child)
{
    if (!pg_lo_edges || !pg_lo_enabled)
        return;
    uint32_t parent = me ? cur_seg(me) : 0;
    child->lo_thr = atomic_fetch_add_explicit(&nthreads_seen, 1, memory_order_relaxed) + 1;
    child->lo_seg = seg_new(child->lo_thr, parent, 0);
    child->lo_gen = atomic_load_explicit(&child->gen, memory_order_relaxed);
    if (me)
        next_seg(me, 0);
}

void pg_lo_thread_created(struct pg_thread *child, pthread_t th)
{
    if (!pg_lo_edges || !pg_lo_enabled || child->lo_seg == 0)
        return;
    join_put((uintptr_t)th, child->lo_thr, child->lo_seg, 1);
}

void pg_lo_thread_joined(struct pg_thread *me, pthread_t th)
{
    if (!pg_lo_edges || !pg_lo_enabled)
        return;
    struct lo_join *j = join_slot((uintptr_t)th, 0);
    uint32_t last = 0;
    if (j) {
        last = (uint32_t)atomic_load_explicit(&j->val, memory_order_acquire);
        atomic_store_explicit(&j->val, 0, memory_order_relaxed);
        atomic_store_explicit(&j->key, JOIN_TOMB, memory_order_release);
    }
    if (me && last)
        next_seg(me, last);
}

/* ----- acquisition stacks, stored once each ----- */

static uint32_t stack_store(const uintptr_t *pcs, int n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < n; i++)
        h = pg_lo_mix(h ^ pcs[i]);
    h |= 1;
    uint32_t slot = (uint32_t)h & (LO_STACK_SLOTS - 1);
    uint32_t mine = 0;
    for (int i = 0; i < PROBES; i++) {
        _Atomic uint32_t *ix = &stack_index[(slot + (uint32_t)i) & (LO_STACK_SLOTS - 1)];
        uint32_t v = atomic_load_explicit(ix, memory_order_acquire);
        for (;;) {
            if (v) {
                struct lo_stack *s = &pg_lo_stacks[v - 1];
                if (atomic_load_explicit(&s->hash, memory_order_acquire) == h &&
                    s->n == (uint32_t)n && memcmp(s->pcs, pcs, (size_t)n * sizeof *pcs) == 0)
                    return v;
                break;
            }
            if (!mine) {
                uint32_t k = atomic_fetch_add_explicit(&nstacks, 1, memory_order_relaxed);
                if (k >= LO_MAX_STACKS) {
                    if (!atomic_exchange(&stacks_warned, 1))
                        pg_warn("the lock-order table of stacks is full (%u stacks): new lock "
                                "pairs are checked but reported without their stack",
                                LO_MAX_STACKS);
                    return 0;
                }
                mine = k + 1;
                struct lo_stack *s = &pg_lo_stacks[k];
                s->n = (uint32_t)n;
                memcpy(s->pcs, pcs, (size_t)n * sizeof *pcs);
                atomic_store_explicit(&s->hash, h, memory_order_release);
            }
            if (atomic_compare_exchange_strong(ix, &v, mine))
                return mine;
            /* Someone else took the slot: v is theirs; compare with it, then probe on. */
        }
    }
    return 0;
}

/* ----- pairs ----- */

static void warn_budget(void)
{
    if (!atomic_exchange(&budget_warned, 1))
        pg_warn(
            "the lock-order graph reached its budget (%u pairs of locks, see docs/lock-order.md): "
            "pairs of locks first taken from now on are not checked; pairs already seen still are",
            LO_MAX_EDGES);
}

static void log_edge(uint32_t idx)
{
    uint32_t slot = atomic_fetch_add_explicit(&pg_lo_nlog, 1, memory_order_acq_rel);
    if (slot < LO_LOG_MAX)
        atomic_store_explicit(&pg_lo_log[slot], idx + 1, memory_order_release);
    else
        warn_budget();
}

/* Locks held both when a was taken and when b was: what stays is a gate for this pair. */
static void intersect_gates(struct lo_edge *e, const uintptr_t *held, int nheld)
{
    for (int k = 0; k < PG_LO_GATES; k++) {
        uintptr_t g = atomic_load_explicit(&e->gates[k], memory_order_relaxed);
        if (!g)
            continue;
        int still = 0;
        for (int i = 0; i < nheld && !still; i++)
            still = held[i] == g;
        if (!still)
            atomic_store_explicit(&e->gates[k], 0, memory_order_relaxed);
    }
}

/* Where b is being taken while a is held, stored once per distinct stack. */
__attribute__((noinline)) static uint32_t capture(struct pg_thread *t)
{
    int saved = errno;
    t->in_shim++;
    uintptr_t pcs[PG_LO_STACK];
    /* A thread that keeps finding new pairs (a lock per object) moves to libunwind's fast path,
     * whose trace cache costs it 256 KiB once; the rest never pay for that cache. */
    int n = ++new_pairs > 64 ? pg_stack_here_fast(pcs, PG_LO_STACK, 2)
                             : pg_stack_here(pcs, PG_LO_STACK, 2);
    uint32_t id = n > 0 ? stack_store(pcs, n) : 0;
    t->in_shim--;
    errno = saved;
    return id;
}

/* One more thread (or segment of a thread) took a known pair: remembered with its own stack, and
 * logged again so that the watchdog looks at the pair's cycles with it. */
static void add_occurrence(struct pg_thread *t, struct lo_edge *e, uint32_t seg, pid_t tid,
                           uintptr_t pc_a)
{
    uint32_t n = atomic_load_explicit(&e->nocc, memory_order_acquire);
    int same_thread = 0;
    for (uint32_t i = 0; i < n && i < LO_OCC; i++) {
        uint32_t s = atomic_load_explicit(&e->occ[i].seg, memory_order_acquire);
        if (s == seg)
            return;
        same_thread |= s && e->occ[i].thr == t->lo_thr;
    }
    uint32_t k =
        n >= LO_OCC ? LO_OCC : atomic_fetch_add_explicit(&e->nocc, 1, memory_order_acq_rel);
    if (k >= LO_OCC) {
        if (!same_thread && !atomic_exchange(&e->overflow, 1))
            log_edge((uint32_t)(e - pg_lo_edges));
        return;
    }
    e->occ[k].thr = t->lo_thr;
    e->occ[k].tid = tid;
    e->occ[k].pc_a = pc_a;
    e->occ[k].stack = capture(t);
    atomic_store_explicit(&e->occ[k].seg, seg, memory_order_release);
    log_edge((uint32_t)(e - pg_lo_edges));
}

static void record(struct pg_thread *t, int ia, uintptr_t b, uint32_t kind_b, uintptr_t pc_b,
                   const uintptr_t *others, int nothers, uint32_t seg)
{
    uintptr_t a = t->held[ia].obj;
    uint32_t ga = node_touch(a, t->held[ia].pc), gb = node_touch(b, pc_b);
    uint64_t key = pg_lo_mix(pg_lo_mix(a) ^ ((uint64_t)ga << 1) ^ pg_lo_mix(b * 31 + gb)) | 1;
    uint32_t h = (uint32_t)key & (LO_INDEX_SLOTS - 1);
    pid_t tid = atomic_load_explicit(&t->tid, memory_order_relaxed);
    uint32_t mine = 0; /* a record taken for this pair, + 1 */
    for (int i = 0; i < PROBES; i++) {
        _Atomic uint32_t *ix = &edge_index[(h + (uint32_t)i) & (LO_INDEX_SLOTS - 1)];
        uint32_t v = atomic_load_explicit(ix, memory_order_acquire);
        for (;;) {
            if (v) {
                struct lo_edge *e = &pg_lo_edges[v - 1];
                if (atomic_load_explicit(&e->key, memory_order_acquire) != key)
                    break; /* another pair: probe on */
                if (mine)
                    atomic_store_explicit(&pg_lo_edges[mine - 1].key, 0, memory_order_relaxed);
                if (!atomic_load_explicit(&e->ready, memory_order_acquire))
                    return; /* another thread is filling it in */
                intersect_gates(e, others, nothers);
                add_occurrence(t, e, seg, tid, t->held[ia].pc);
                return;
            }
            if (!mine) {
                uint32_t k = atomic_fetch_add_explicit(&nedges, 1, memory_order_relaxed);
                if (k >= LO_MAX_EDGES) {
                    warn_budget();
                    return;
                }
                mine = k + 1;
                atomic_store_explicit(&pg_lo_edges[k].key, key, memory_order_release);
            }
            if (atomic_compare_exchange_strong(ix, &v, mine))
                goto fill;
            /* v was published meanwhile: is it this very pair? */
        }
    }
    if (mine)
        atomic_store_explicit(&pg_lo_edges[mine - 1].key, 0, memory_order_relaxed);
    warn_budget();
    return;

fill:;
    struct lo_edge *e = &pg_lo_edges[mine - 1];
    e->a = a;
    e->b = b;
    e->ga = ga;
    e->gb = gb;
    e->kind_a = (uint8_t)t->held[ia].kind;
    e->kind_b = (uint8_t)kind_b;
    for (int g = 0; g < PG_LO_GATES; g++)
        atomic_store_explicit(&e->gates[g], g < nothers ? others[g] : 0, memory_order_relaxed);
    e->occ[0].thr = t->lo_thr;
    e->occ[0].tid = tid;
    e->occ[0].pc_a = t->held[ia].pc;
    e->occ[0].stack = capture(t);
    atomic_store_explicit(&e->occ[0].seg, seg, memory_order_relaxed);
    atomic_store_explicit(&e->nocc, 1, memory_order_relaxed);
    atomic_store_explicit(&e->ready, 1, memory_order_release);
    log_edge(mine - 1);
}

/* The cache's hashing is a multiply and a shift: this runs on every nested acquisition. */
#define K1 0x9e3779b97f4a7c15ull
#define K2 0xc2b2ae3d27d4eb4full

void pg_lo_note(struct pg_thread *t, uintptr_t b, uint32_t kind, uintptr_t pc)
{
    if (!pg_lo_edges || t->in_shim)
        return;
    uint32_t n = atomic_load_explicit(&t->nheld, memory_order_relaxed);
    if (n > PG_MAX_HELD)
        n = PG_MAX_HELD;
    uint32_t epoch = atomic_load_explicit(&pg_lo_epoch, memory_order_acquire);
    uint32_t seg = cur_seg(t);
    uint64_t all = (uint64_t)seg * K2; /* the context: segment and every lock held */
    for (uint32_t j = 0; j < n; j++)
        all += t->held[j].obj * K1;
    for (uint32_t i = 0; i < n; i++) {
        uintptr_t a = t->held[i].obj;
        if (a == b)
            continue; /* a recursive relock orders nothing */
        /* The other locks held (and the segment): the context of this pair, for the cache. */
        uint64_t ctx = all - a * K1;
        unsigned slot = (unsigned)(((a * K1) ^ (b * K2) ^ ctx) >> 58);
        if (PG_LIKELY(t->lo_cache[slot].a == a && t->lo_cache[slot].b == (b ^ ctx) &&
                      t->lo_cache[slot].epoch == epoch))
            continue;
        t->lo_cache[slot].a = a;
        t->lo_cache[slot].b = b ^ ctx;
        t->lo_cache[slot].epoch = epoch;
        /* A pair not seen in this context: the others, for the gates. */
        uintptr_t others[PG_MAX_HELD];
        int nothers = 0;
        for (uint32_t j = 0; j < n; j++)
            if (j != i && t->held[j].obj != b)
                others[nothers++] = t->held[j].obj;
        record(t, (int)i, b, kind, pc, others, nothers, seg);
    }
    /* The inline check of pg_lo_acquired: valid for the segment as it is now (cur_seg may have
     * started one) and the epoch read above. */
    if (n == 1 && t->held[0].obj != b) {
        t->lo_last_a = t->held[0].obj;
        t->lo_last_b = b;
        t->lo_last_seg = t->lo_seg;
        t->lo_last_epoch = epoch;
    }
}

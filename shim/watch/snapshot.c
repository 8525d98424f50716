/*
 * The scan's input: each scan copies the thread table into its own arrays (a snapshot per live
 * thread), indexes them by tid, and builds each thread's node of the wait-for graph (graph.c): who
 * can wake it, read from the wait it is in and, for locks, from the lock word itself. It owns those
 * arrays; the rest of the watchdog reads them through the struct pg_scan it fills (scan.h), and the
 * report reads a thread's entry through pg_fill_rthread.
 *
 * Runs in the watchdog thread only: the arrays are mapped once, at start-up, and nothing here
 * allocates or takes a lock. Reading the program's lock words (a mutex's owner, an rwlock's writer
 * and reader count) is done only for waits that began at least half a scan earlier, when the waiter
 * is certainly still inside the lock call and the object is alive.
 */
#include "glibc.h"
#include "scan.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static struct snap *snaps;
static struct pg_gnode *nodes;
static int *tid_hash;                 /* open addressing: tid -> node index + 1 */
static uint32_t hash_cap, hash_alloc; /* in use this scan (2x the live threads), mapped */
static uintptr_t stackbuf[128];
/* Per slot (index into pg_table): whether the object of the wait with this gen and wait_seq is
 * process-shared (object_shared). A slot reused by a new thread has another gen. */
static struct shared_cache {
    uint64_t seq;
    uint32_t gen;
    int shared;
} * shared_cache;

int pg_snapshot_init(void)
{
    size_t n = pg_table_size;
    hash_alloc = 1;
    while (hash_alloc < 2 * n)
        hash_alloc <<= 1;
    hash_cap = hash_alloc;
    size_t cache = n * sizeof(struct shared_cache);
    size_t bytes =
        cache + n * sizeof(struct snap) + n * sizeof(struct pg_gnode) + hash_cap * sizeof(int);
    char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    shared_cache = (struct shared_cache *)p;
    p += cache;
    snaps = (struct snap *)p;
    nodes = (struct pg_gnode *)(p + n * sizeof(struct snap));
    tid_hash = (int *)(p + n * sizeof(struct snap) + n * sizeof(struct pg_gnode));
    return 0;
}

static void hash_put(pid_t tid, int idx)
{
    uint32_t h = ((uint32_t)tid * 2654435761u) & (hash_cap - 1);
    while (tid_hash[h])
        h = (h + 1) & (hash_cap - 1);
    tid_hash[h] = idx + 1;
}

static int hash_get(pid_t tid, int n)
{
    uint32_t h = ((uint32_t)tid * 2654435761u) & (hash_cap - 1);
    for (uint32_t k = 0; k < hash_cap && tid_hash[h]; k++) {
        int idx = tid_hash[h] - 1;
        if (idx < n && snaps[idx].tid == tid)
            return idx;
        h = (h + 1) & (hash_cap - 1);
    }
    return -1;
}

static int thread_alive(pid_t tid)
{
    return !(syscall(SYS_tgkill, getpid(), tid, 0) != 0 && errno == ESRCH);
}

/* Copies every live slot's state; a wait that changes while being read is taken as running. */
static int collect(void)
{
    int n = 0;
    uint32_t high = atomic_load_explicit(&pg_table_high, memory_order_acquire);
    for (uint32_t i = 0; i < high; i++) {
        struct pg_thread *t = &pg_table[i];
        if (atomic_load_explicit(&t->state, memory_order_acquire) != PG_SLOT_LIVE)
            continue;
        pid_t tid = atomic_load_explicit(&t->tid, memory_order_relaxed);
        if (!tid)
            continue;
        struct snap *s = &snaps[n];
        memset(s, 0, sizeof *s);
        s->slot = t;
        s->gen = atomic_load_explicit(&t->gen, memory_order_relaxed);
        s->tid = tid;
        uint64_t q = atomic_load_explicit(&t->wait_seq, memory_order_acquire);
        s->seq = q;
        if (q & 1) {
            s->wkind = __atomic_load_n(&t->wkind, __ATOMIC_RELAXED);
            s->timed = (int)__atomic_load_n(&t->wtimed, __ATOMIC_RELAXED);
            s->wobj = __atomic_load_n(&t->wobj, __ATOMIC_RELAXED);
            s->wextra = __atomic_load_n(&t->wextra, __ATOMIC_RELAXED);
            s->since_ns = __atomic_load_n(&t->wsince_ns, __ATOMIC_RELAXED);
            atomic_thread_fence(memory_order_acquire);
            s->waiting = atomic_load_explicit(&t->wait_seq, memory_order_relaxed) == q;
        }
        n++;
    }
    return n;
}

static void add_waker(struct pg_gnode *g, int w)
{
    for (int k = 0; k < g->nwakers; k++)
        if (g->wakers[k] == w)
            return;
    if (g->nwakers < PG_GRAPH_MAX_WAKERS)
        g->wakers[g->nwakers++] = w;
    else if (w == PG_GW_UNTRACKED)
        g->wakers[PG_GRAPH_MAX_WAKERS - 1] = w; /* an unknown waker must never be lost */
}

/* A tid as a waker: a node, an exited thread, or a live thread the table does not know. */
static int waker_of_tid(pid_t tid, int n)
{
    int idx = hash_get(tid, n);
    if (idx >= 0)
        return idx;
    return thread_alive(tid) ? PG_GW_UNTRACKED : PG_GW_DEAD;
}

/* Nodes holding lock obj in the given mode, from their own records. */
static int add_holders(struct pg_gnode *g, int n, uintptr_t obj, uint32_t kind)
{
    int found = 0;
    for (int i = 0; i < n; i++) {
        struct pg_thread *t = snaps[i].slot;
        uint32_t nh = atomic_load_explicit(&t->nheld, memory_order_acquire);
        if (nh > PG_MAX_HELD)
            nh = PG_MAX_HELD;
        for (uint32_t k = 0; k < nh; k++) {
            if (t->held[k].obj == obj && t->held[k].kind == kind) {
                add_waker(g, i);
                found++;
                break;
            }
        }
    }
    return found;
}

/* Is the condition variable or semaphore a wait is on process-shared? Read once per wait: it
 * cannot change while a thread waits on it. An object that cannot be read counts as shared. */
static int object_shared(const struct snap *s)
{
    struct shared_cache *c = &shared_cache[s->slot - pg_table];
    if (c->seq == s->seq && c->gen == s->gen)
        return c->shared;
    int shared = 1;
    if (!pg_glibc_open()) {
        /* glibc's layout unknown (glibc.h): no flag is read, so it counts as shared */
    } else if (s->wkind == PG_W_COND) {
        unsigned wrefs;
        if (pg_peek(&wrefs, s->wobj + PG_GLIBC_COND_WREFS_OFF, sizeof wrefs) == 0)
            shared = pg_glibc_cond_shared_of(wrefs);
    } else {
        int flag;
        if (pg_peek(&flag, s->wobj + PG_GLIBC_SEM_PRIVATE_OFF, sizeof flag) == 0)
            shared = pg_glibc_sem_shared_of(flag);
    }
    c->seq = s->seq;
    c->gen = s->gen;
    c->shared = shared;
    return shared;
}

/* The last mutex read in this scan: threads waiting on one mutex read it once per scan, not once
 * each (32,768 waiters on one lock made the watchdog a quarter of a core). A scan's reading of a
 * word is one moment either way. Reset by pg_snapshot_take. */
static struct {
    uintptr_t addr; /* 0: none */
    int ok;         /* read and decoded */
    struct pg_glibc_mutex m;
} last_mutex;

static int read_mutex(uintptr_t addr, struct pg_glibc_mutex *m)
{
    if (addr && addr == last_mutex.addr) {
        *m = last_mutex.m;
        return last_mutex.ok ? 0 : -1;
    }
    pthread_mutex_t copy;
    int ok = pg_peek(&copy, addr, sizeof copy) == 0 &&
             pg_glibc_mutex_decode(&copy, pg_glibc_open(), m) == 0;
    last_mutex.addr = addr;
    last_mutex.ok = ok;
    if (ok)
        last_mutex.m = *m;
    return ok ? 0 : -1;
}

static void build_node(int i, int n, uint64_t now)
{
    struct snap *s = &snaps[i];
    struct pg_gnode *g = &nodes[i];
    memset(g, 0, sizeof *g);
    if (!s->waiting || s->timed)
        return;
    /* A wait younger than half a scan is left for the next one (see the file comment). */
    int settled = now - s->since_ns >= (uint64_t)pg_cfg.interval_ms * 500000u;
    switch (s->wkind) {
    case PG_W_MUTEX: {
        if (!settled)
            return;
        struct pg_glibc_mutex m;
        if (read_mutex(s->wobj, &m) < 0)
            return; /* the mutex is gone, or glibc's layout unknown: no proof */
        int kind = m.kind;
        pid_t owner = m.owner;
        if (!pg_glibc_mutex_held(owner))
            return; /* free, or a robust mutex's special states: the lock call will return */
        s->owner = owner;
        int w = waker_of_tid(owner, n);
        /* glibc marks robust mutexes process-shared too (bit 128). For a shared mutex an owner
         * that is not a thread of ours may be alive in another process: no proof. */
        if ((kind & PG_GLIBC_MUTEX_PSHARED) && w == PG_GW_DEAD)
            return;
        if (w == PG_GW_DEAD && (kind & PG_GLIBC_MUTEX_ROBUST))
            return; /* robust: the waiter will get EOWNERDEAD */
        g->blocked = 1;
        add_waker(g, w);
        break;
    }
    case PG_W_RWLOCK_WRITE:
    case PG_W_RWLOCK_READ: {
        if (!settled)
            return;
        pthread_rwlock_t copy;
        struct pg_glibc_rwlock l;
        if (pg_peek(&copy, s->wobj, sizeof copy) < 0 ||
            pg_glibc_rwlock_decode(&copy, pg_glibc_open(), &l) < 0)
            return;
        if (l.shared)
            return;
        pid_t writer = l.writer;
        g->blocked = 1;
        if (writer) {
            s->owner = writer;
            add_waker(g, waker_of_tid(writer, n));
        }
        if (s->wkind == PG_W_RWLOCK_WRITE) {
            unsigned readers = l.readers;
            int known = add_holders(g, n, s->wobj, PG_H_RWLOCK_READ);
            if ((unsigned)known < readers)
                add_waker(g, PG_GW_UNTRACKED);
        } else if (!writer) {
            /* A reader kept out by waiting writers (writer-preferring locks). */
            for (int k = 0; k < n; k++)
                if (k != i && snaps[k].waiting && snaps[k].wkind == PG_W_RWLOCK_WRITE &&
                    snaps[k].wobj == s->wobj)
                    add_waker(g, k);
        }
        if (g->nwakers == 0)
            g->blocked = 0;
        break;
    }
    case PG_W_JOIN:
        for (int k = 0; k < n; k++) {
            if (k != i && snaps[k].slot->self == (pthread_t)s->wextra) {
                s->target = snaps[k].tid;
                g->blocked = 1;
                add_waker(g, k);
                break;
            }
        }
        break;
    case PG_W_COND:
    case PG_W_SEM:
        if (!settled || object_shared(s))
            return; /* another process could wake it */
        g->blocked = 1;
        g->any = 1;
        break;
    case PG_W_COND_DESTROY: {
        /* glibc 2.36 blocks the destroy until every waiter has left the wait: it waits for them.
         * Waiters glibc counts beyond those the shim sees could be anyone. */
        unsigned wrefs;
        if (!settled || !pg_glibc_open() ||
            pg_peek(&wrefs, s->wobj + PG_GLIBC_COND_WREFS_OFF, sizeof wrefs) < 0)
            return;
        int known = 0;
        for (int k = 0; k < n; k++)
            if (k != i && snaps[k].waiting && snaps[k].wkind == PG_W_COND &&
                snaps[k].wobj == s->wobj)
                add_waker(g, k), known++;
        if ((unsigned)known < pg_glibc_cond_waiters_of(wrefs) || known == 0)
            add_waker(g, PG_GW_UNTRACKED);
        g->blocked = 1;
        break;
    }
    case PG_W_FUTEX:
    case PG_W_BARRIER:
    case PG_W_ONCE:
        g->blocked = 1;
        g->any = 1;
        break;
    default: break;
    }
}

struct pg_gnode *pg_snapshot_take(struct pg_scan *sc, uint64_t now, int *nblocked_out,
                                  int *any_blocked_out)
{
    int n = collect();
    /* Sized for the threads alive now, not for the table: a scan costs what the program runs,
     * and the pages of the mapping beyond it are never touched. */
    hash_cap = 16;
    while (hash_cap < 2 * (uint32_t)n && hash_cap < hash_alloc)
        hash_cap <<= 1;
    memset(tid_hash, 0, hash_cap * sizeof(int));
    for (int i = 0; i < n; i++)
        hash_put(snaps[i].tid, i);
    int nblocked = 0, any_blocked = 0;
    last_mutex.addr = 0;
    for (int i = 0; i < n; i++) {
        build_node(i, n, now);
        nblocked += nodes[i].blocked;
        any_blocked |= nodes[i].blocked && nodes[i].any;
    }
    *nblocked_out = nblocked;
    *any_blocked_out = any_blocked;
    memset(sc, 0, sizeof *sc);
    sc->n = n;
    sc->now = now;
    sc->snaps = snaps;
    sc->nodes = nodes;
    return nodes;
}

void pg_fill_rthread(struct pg_rthread *rt, int i, const char *role, uint64_t now)
{
    struct snap *s = &snaps[i];
    struct pg_thread *t = s->slot;
    memset(rt, 0, sizeof *rt);
    rt->tid = s->tid;
    rt->is_main = t->is_main;
    rt->start_routine = t->start_routine;
    rt->role = role;
    rt->blocked = s->waiting;
    rt->wkind = s->wkind;
    rt->wobj = s->wobj;
    rt->timed = s->timed;
    rt->since_ms = s->waiting ? pg_blocked_ns(s->since_ns, now) / 1000000u : 0;
    rt->owner = s->owner;
    rt->target = s->target;
    rt->nheld = atomic_load_explicit(&t->nheld, memory_order_acquire);
    if (rt->nheld > PG_MAX_HELD)
        rt->nheld = PG_MAX_HELD;
    rt->held = t->held;
    rt->ncreate = (int)t->ncreate;
    rt->create = t->create_stack;
    rt->stack = stackbuf;
    rt->nstack = 0;
    if (s->waiting) {
        /* The context is copied and the wait re-checked, so a thread that woke meanwhile does not
         * get a stack unwound from a half-overwritten context. */
        static unw_context_t ctx;
        memcpy(&ctx, &t->wctx, sizeof ctx);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&t->wait_seq, memory_order_relaxed) == s->seq) {
            int depth = pg_cfg.stack_depth < 128 ? pg_cfg.stack_depth : 128;
            rt->nstack = pg_stack_from(&ctx, stackbuf, depth);
        }
    }
}

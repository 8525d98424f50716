/*
 * Lock-order validation: deadlocks that did not happen this run. Every time a thread takes lock B
 * with a call that could have blocked while it holds lock A, "A before B" is an edge of the lock
 * order graph; a cycle in that graph is a set of orders that can deadlock when the timing is
 * unlucky, whether or not it was this time.
 *
 * Cost. Only nested locking pays: a thread holding nothing records nothing. A thread holding locks
 * checks its own small cache of pairs already recorded (keyed by the pair and by the other locks it
 * holds, so each distinct context is recorded once) and touches the shared tables only for a pair
 * it has not seen. The shared tables are fixed arrays, written with compare-and-swap; the
 * acquisition stack is captured only for a new pair. When a table is full, one warning, and new
 * pairs are no longer recorded.
 *
 * Noise. An order seen only in one thread is not reported (POOLGUARD_LOCK_ORDER_SINGLE_THREAD=1
 * reports it); a cycle whose every edge was taken while holding one same "gate" lock cannot
 * deadlock and is not reported; a trylock cannot block and makes no edge (the hooks do not call
 * here for it); a lock initialized or destroyed at an address starts a new node, so memory reused
 * for another lock makes no phantom edge. Edges are recorded only once a lock is taken, so a
 * deadlock that does happen never completes its own cycle here: it is reported as the deadlock.
 *
 * The cycle search runs in the watchdog, over the edges added since its last look.
 */
#include "lockorder.h"
#include "scan.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define NODES 65536
#define EDGES 16384
#define PROBES 64

struct lo_node {
    _Atomic uintptr_t addr;
    _Atomic uint32_t gen;
};

struct lo_edge {
    _Atomic uint64_t key;        /* 0: free; otherwise a hash of (a, ga, b, gb) */
    _Atomic uint32_t ready;
    uintptr_t a, b;
    uint32_t ga, gb;
    uint32_t kind_a, kind_b;
    pid_t tid;
    _Atomic int multi;           /* recorded by more than one thread */
    uintptr_t pc_a;              /* where a was taken */
    int nstack;
    uintptr_t stack[PG_LO_STACK];   /* where b was taken while a was held */
    _Atomic uintptr_t gates[PG_LO_GATES];   /* locks held across a and b every time */
    int reported;
};

int pg_lo_enabled = 1;
_Atomic uint32_t pg_lo_epoch = 1;
static struct lo_node *nodes;
static struct lo_edge *edges;
static _Atomic uint32_t *edge_log;      /* indices of edges, in the order they were added */
static _Atomic uint32_t nlog;
static _Atomic int full_warned;
static uint32_t checked;                /* watchdog: edges of the log already searched */

int pg_lo_init(void)
{
    size_t bytes = NODES * sizeof(struct lo_node) + EDGES * sizeof(struct lo_edge) +
                   EDGES * sizeof(uint32_t);
    char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    nodes = (struct lo_node *)p;
    edges = (struct lo_edge *)(p + NODES * sizeof(struct lo_node));
    edge_log = (_Atomic uint32_t *)(p + NODES * sizeof(struct lo_node) + EDGES * sizeof(struct lo_edge));
    return 0;
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* A lock's generation: 0 for a lock never initialized or destroyed under the shim's eyes. */
static uint32_t node_gen(uintptr_t addr)
{
    uint32_t h = (uint32_t)mix64(addr) % NODES;
    for (int i = 0; i < PROBES; i++) {
        struct lo_node *n = &nodes[(h + (uint32_t)i) % NODES];
        uintptr_t a = atomic_load_explicit(&n->addr, memory_order_acquire);
        if (a == addr)
            return atomic_load_explicit(&n->gen, memory_order_relaxed);
        if (a == 0)
            return 0;
    }
    return 0;
}

void pg_lo_forget(uintptr_t addr)
{
    if (!nodes || !pg_lo_enabled)
        return;
    uint32_t h = (uint32_t)mix64(addr) % NODES;
    for (int i = 0; i < PROBES; i++) {
        struct lo_node *n = &nodes[(h + (uint32_t)i) % NODES];
        uintptr_t a = atomic_load_explicit(&n->addr, memory_order_acquire);
        if (a == 0) {
            /* Only locks that are part of some edge need a node; a fresh address has none. */
            return;
        }
        if (a == addr) {
            atomic_fetch_add_explicit(&n->gen, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&pg_lo_epoch, 1, memory_order_release);
            return;
        }
    }
}

static void node_touch(uintptr_t addr)
{
    uint32_t h = (uint32_t)mix64(addr) % NODES;
    for (int i = 0; i < PROBES; i++) {
        struct lo_node *n = &nodes[(h + (uint32_t)i) % NODES];
        uintptr_t a = atomic_load_explicit(&n->addr, memory_order_acquire);
        if (a == addr)
            return;
        if (a == 0) {
            uintptr_t zero = 0;
            if (atomic_compare_exchange_strong(&n->addr, &zero, addr) || zero == addr)
                return;
        }
    }
}

static void warn_full(void)
{
    if (!atomic_exchange(&full_warned, 1))
        pg_warn("the lock-order table is full (%d pairs of locks); new lock orders are no longer "
                "checked", EDGES);
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

static void record(struct pg_thread *t, int ia, uintptr_t b, uint32_t kind_b, const uintptr_t *others,
                   int nothers)
{
    uintptr_t a = t->held[ia].obj;
    node_touch(a);
    node_touch(b);
    uint32_t ga = node_gen(a), gb = node_gen(b);
    uint64_t key = mix64(mix64(a) ^ ((uint64_t)ga << 1) ^ mix64(b * 31 + gb)) | 1;
    uint32_t h = (uint32_t)key % EDGES;
    pid_t tid = atomic_load_explicit(&t->tid, memory_order_relaxed);
    for (int i = 0; i < PROBES; i++) {
        struct lo_edge *e = &edges[(h + (uint32_t)i) % EDGES];
        uint64_t k = atomic_load_explicit(&e->key, memory_order_acquire);
        if (k == key) {
            if (!atomic_load_explicit(&e->ready, memory_order_acquire))
                return;   /* another thread is filling it in */
            if (e->tid != tid)
                atomic_store_explicit(&e->multi, 1, memory_order_relaxed);
            intersect_gates(e, others, nothers);
            return;
        }
        if (k != 0)
            continue;
        uint64_t zero = 0;
        if (!atomic_compare_exchange_strong(&e->key, &zero, key)) {
            if (zero == key)
                return;
            continue;
        }
        e->a = a;
        e->b = b;
        e->ga = ga;
        e->gb = gb;
        e->kind_a = t->held[ia].kind;
        e->kind_b = kind_b;
        e->tid = tid;
        e->pc_a = t->held[ia].pc;
        e->reported = 0;
        for (int g = 0; g < PG_LO_GATES; g++)
            atomic_store_explicit(&e->gates[g], g < nothers ? others[g] : 0, memory_order_relaxed);
        int saved = errno;
        t->in_shim++;
        e->nstack = pg_stack_here(e->stack, PG_LO_STACK, 1);
        t->in_shim--;
        errno = saved;
        atomic_store_explicit(&e->ready, 1, memory_order_release);
        uint32_t slot = atomic_fetch_add_explicit(&nlog, 1, memory_order_acq_rel);
        if (slot < EDGES)
            atomic_store_explicit(&edge_log[slot], (uint32_t)(e - edges) + 1, memory_order_release);
        return;
    }
    warn_full();
}

void pg_lo_note(struct pg_thread *t, uintptr_t b, uint32_t kind, uintptr_t pc)
{
    (void)pc;
    if (!edges || t->in_shim)
        return;
    uint32_t n = atomic_load_explicit(&t->nheld, memory_order_relaxed);
    if (n > PG_MAX_HELD)
        n = PG_MAX_HELD;
    uint32_t epoch = atomic_load_explicit(&pg_lo_epoch, memory_order_acquire);
    uintptr_t held[PG_MAX_HELD];
    for (uint32_t i = 0; i < n; i++)
        held[i] = t->held[i].obj;
    for (uint32_t i = 0; i < n; i++) {
        uintptr_t a = held[i];
        if (a == b)
            continue;   /* a recursive relock orders nothing */
        /* The other locks held: the context of this pair, for the cache and the gates. */
        uintptr_t others[PG_MAX_HELD];
        int nothers = 0;
        uint64_t ctx = 0;
        for (uint32_t j = 0; j < n; j++) {
            if (j == i || held[j] == b)
                continue;
            others[nothers++] = held[j];
            ctx += mix64(held[j]);
        }
        uint64_t hk = mix64(a ^ mix64(b) ^ ctx);
        unsigned slot = (unsigned)(hk % 64);
        if (t->lo_cache[slot].a == a && t->lo_cache[slot].b == (b ^ ctx) &&
            t->lo_cache[slot].epoch == epoch)
            continue;
        t->lo_cache[slot].a = a;
        t->lo_cache[slot].b = b ^ ctx;
        t->lo_cache[slot].epoch = epoch;
        record(t, (int)i, b, kind, others, nothers);
    }
}

/* ----- the watchdog's side ----- */

/* Scratch for one search, in the watchdog only. */
static uint32_t *node_key_idx;     /* open addressing over (addr, gen) -> node id + 1 */
static uintptr_t *node_addr;
static uint32_t *node_genv;
static uint32_t *out_start, *out_edges, *parent_edge, *queue;
static int scratch_ok = -1;
#define NMAX (2 * EDGES)
#define HCAP (4 * EDGES)

static int alloc_scratch(void)
{
    size_t bytes = HCAP * 4 + NMAX * (8 + 4) + (NMAX + 1) * 4 + EDGES * 4 + NMAX * 4 + NMAX * 4;
    char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED)
        return -1;
    node_key_idx = (uint32_t *)p;
    p += HCAP * 4;
    node_addr = (uintptr_t *)p;
    p += NMAX * 8;
    node_genv = (uint32_t *)p;
    p += NMAX * 4;
    out_start = (uint32_t *)p;
    p += (NMAX + 1) * 4;
    out_edges = (uint32_t *)p;
    p += EDGES * 4;
    parent_edge = (uint32_t *)p;
    p += NMAX * 4;
    queue = (uint32_t *)p;
    return 0;
}

static int nnodes;

static int node_id(uintptr_t addr, uint32_t gen)
{
    uint32_t h = (uint32_t)mix64(addr * 7 + gen) % HCAP;
    for (;;) {
        uint32_t v = node_key_idx[h];
        if (!v) {
            if (nnodes >= NMAX)
                return -1;
            node_addr[nnodes] = addr;
            node_genv[nnodes] = gen;
            node_key_idx[h] = (uint32_t)++nnodes;
            return nnodes - 1;
        }
        if (node_addr[v - 1] == addr && node_genv[v - 1] == gen)
            return (int)v - 1;
        h = (h + 1) % HCAP;
    }
}

static const char *held_kind_name(uint32_t kind)
{
    return kind == PG_H_RWLOCK_READ ? "rwlock_read" : kind == PG_H_RWLOCK_WRITE ? "rwlock_write" : "mutex";
}

static void write_lock(struct pg_jw *w, const char *key, uintptr_t addr, uint32_t kind)
{
    pg_jw_key(w, key);
    pg_jw_obj(w);
    pg_jw_key(w, "kind"), pg_jw_str(w, held_kind_name(kind));
    pg_jw_key(w, "address"), pg_jw_hex(w, addr);
    pg_jw_obj_end(w);
}

static void thread_name(pid_t tid, char *out, size_t cap)
{
    char p[64];
    snprintf(p, sizeof p, "/proc/self/task/%d/comm", (int)tid);
    out[0] = 0;
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, out, cap - 1);
    close(fd);
    if (n <= 0)
        n = 0;
    while (n > 0 && (out[n - 1] == '\n'))
        n--;
    out[n] = 0;
}

static void report_cycle(const uint32_t *cyc, int len)
{
    char summary[256];
    int nthreads = 0;
    pid_t seen[16];
    for (int i = 0; i < len; i++) {
        pid_t tid = edges[cyc[i]].tid;
        int dup = 0;
        for (int k = 0; k < nthreads && k < 16; k++)
            dup |= seen[k] == tid;
        if (!dup && nthreads < 16)
            seen[nthreads++] = tid;
    }
    snprintf(summary, sizeof summary,
             "%d locks are taken in inconsistent orders by %d thread%s: a deadlock that did not "
             "happen this run", len, nthreads, nthreads == 1 ? "" : "s");
    struct pg_jw *w = pg_report_finding("lock_order", "warning", summary);
    if (w) {
        pg_jw_key(w, "order");
        pg_jw_arr(w);
        for (int i = 0; i < len; i++) {
            const struct lo_edge *e = &edges[cyc[i]];
            pg_jw_obj(w);
            write_lock(w, "first", e->a, e->kind_a);
            write_lock(w, "then", e->b, e->kind_b);
            pg_jw_key(w, "tid"), pg_jw_int(w, e->tid);
            char name[32];
            thread_name(e->tid, name, sizeof name);
            pg_jw_key(w, "name");
            if (name[0])
                pg_jw_str(w, name);
            else
                pg_jw_null(w);
            pg_jw_key(w, "first_pc"), pg_jw_hex(w, e->pc_a);
            pg_jw_key(w, "stack");
            pg_jw_arr(w);
            for (int k = 0; k < e->nstack; k++)
                pg_jw_hex(w, e->stack[k]);
            pg_jw_arr_end(w);
            pg_jw_obj_end(w);
        }
        pg_jw_arr_end(w);
        pg_jw_key(w, "threads");
        pg_jw_arr(w);
        pg_jw_arr_end(w);
        pg_jw_obj_end(w);
        pg_report_end();
    }
    pg_note_finding("lock_order", summary);
}

/* Is the cycle one that cannot deadlock, or already said? */
static int cycle_is_noise(const uint32_t *cyc, int len)
{
    int all_reported = 1, one_thread = 1;
    for (int i = 0; i < len; i++) {
        const struct lo_edge *e = &edges[cyc[i]];
        all_reported &= e->reported;
        if (e->tid != edges[cyc[0]].tid || atomic_load(&e->multi))
            one_thread = 0;
    }
    if (all_reported)
        return 1;
    if (one_thread && !pg_cfg.lock_order_single_thread)
        return 1;
    /* A gate: one lock held across every edge of the cycle. */
    for (int g = 0; g < PG_LO_GATES; g++) {
        uintptr_t gate = atomic_load(&edges[cyc[0]].gates[g]);
        if (!gate)
            continue;
        int everywhere = 1;
        for (int i = 1; i < len && everywhere; i++) {
            int has = 0;
            for (int k = 0; k < PG_LO_GATES; k++)
                has |= atomic_load(&edges[cyc[i]].gates[k]) == gate;
            everywhere = has;
        }
        if (everywhere)
            return 1;
    }
    return 0;
}

void pg_lo_scan(void)
{
    if (!edges || !pg_lo_enabled)
        return;
    uint32_t total = atomic_load_explicit(&nlog, memory_order_acquire);
    if (total > EDGES)
        total = EDGES;
    if (total == checked)
        return;
    if (scratch_ok < 0)
        scratch_ok = alloc_scratch() == 0;
    if (!scratch_ok)
        return;

    /* The graph of every ready edge, as adjacency arrays. */
    memset(node_key_idx, 0, HCAP * 4);
    nnodes = 0;
    static uint32_t eidx[EDGES], efrom[EDGES], eto[EDGES];
    uint32_t ne = 0;
    for (uint32_t i = 0; i < total; i++) {
        uint32_t v = atomic_load_explicit(&edge_log[i], memory_order_acquire);
        if (!v || !atomic_load_explicit(&edges[v - 1].ready, memory_order_acquire))
            continue;
        const struct lo_edge *e = &edges[v - 1];
        int f = node_id(e->a, e->ga), to = node_id(e->b, e->gb);
        if (f < 0 || to < 0)
            continue;
        eidx[ne] = v - 1;
        efrom[ne] = (uint32_t)f;
        eto[ne] = (uint32_t)to;
        ne++;
    }
    memset(out_start, 0, (size_t)(nnodes + 1) * 4);
    for (uint32_t i = 0; i < ne; i++)
        out_start[efrom[i] + 1]++;
    for (int k = 0; k < nnodes; k++)
        out_start[k + 1] += out_start[k];
    static uint32_t fill[NMAX];
    memcpy(fill, out_start, (size_t)nnodes * 4);
    for (uint32_t i = 0; i < ne; i++)
        out_edges[fill[efrom[i]]++] = i;

    /* For each new edge a->b: a path b ->* a closes a cycle. */
    for (uint32_t i = 0; i < ne; i++) {
        const struct lo_edge *e = &edges[eidx[i]];
        int is_new = 0;
        for (uint32_t k = checked; k < total && !is_new; k++)
            is_new = atomic_load(&edge_log[k]) == eidx[i] + 1;
        if (!is_new || e->reported)
            continue;
        uint32_t src = eto[i], dst = efrom[i];
        for (int k = 0; k < nnodes; k++)
            parent_edge[k] = UINT32_MAX;
        uint32_t qh = 0, qt = 0;
        queue[qt++] = src;
        parent_edge[src] = EDGES;   /* visited, no parent */
        int found = src == dst;
        while (qh < qt && !found) {
            uint32_t u = queue[qh++];
            for (uint32_t k = out_start[u]; k < out_start[u + 1]; k++) {
                uint32_t ed = out_edges[k];
                uint32_t v = eto[ed];
                if (parent_edge[v] != UINT32_MAX)
                    continue;
                parent_edge[v] = ed;
                if (v == dst) {
                    found = 1;
                    break;
                }
                queue[qt++] = v;
            }
        }
        if (!found)
            continue;
        uint32_t cyc[64];
        int len = 0;
        cyc[len++] = eidx[i];
        /* Walk back from dst to src; those edges, reversed, follow a->b. */
        uint32_t path[64];
        int np = 0;
        for (uint32_t v = dst; v != src && np < 63;) {
            uint32_t ed = parent_edge[v];
            path[np++] = eidx[ed];
            v = efrom[ed];
        }
        for (int k = np - 1; k >= 0 && len < 64; k--)
            cyc[len++] = path[k];
        if (cycle_is_noise(cyc, len))
            continue;
        report_cycle(cyc, len);
        for (int k = 0; k < len; k++)
            edges[cyc[k]].reported = 1;
    }
    checked = total;
}

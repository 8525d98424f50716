/*
 * Pool analysis, run by the watchdog on every scan after the wait-for graph (scan.h). What it
 * reports, and on what evidence, is the proof standard of docs/design.md ("Findings and their
 * proof"); in short, an error is a proof, a guess is at most a warning.
 *
 * Pools known exactly (annotate.h: the program's annotations and the library adapters) are the
 * threads running one of their tasks. pool_exhaustion (error) when the pool runs as many tasks as
 * it has workers, its queue is not empty, and every one of those workers is stuck for the pool:
 * it waits for a task still queued in it (an annotated wait; or, having submitted a task to its
 * own pool, it blocked without a time limit before that task started), or for a task running on
 * another stuck worker, or the wait-for graph proves it stuck. Nothing but a worker of the same
 * pool can start a queued task, and every worker is held: the pool cannot move.
 *
 * Pools nobody describes are inferred: threads started by the same routine (for std::thread, the
 * same callable type), at least two of them, none belonging to a language runtime (CPython, a
 * JVM: their threads are the runtime's business, and CPython's are the Python layer's). Their
 * idle wait is learned from where they waited before, or from "submit then wait". An inferred pool
 * gives an error only when the wait-for graph proves its workers stuck; a worker that queued work
 * on its own pool and then blocked while every worker is blocked is a warning. Either kind of
 * pool blocked long with nothing proven is a stall (info). queue_growth (warning): the backlog
 * grew past POOLGUARD_QUEUE_LIMIT and kept growing.
 *
 * No error is written while one of the threads in it is runnable: a thread that has been woken is
 * not stuck, however long the scheduler takes to run it.
 *
 * Runs in the watchdog: static tables only, sized once at start-up.
 */
#include "annotate.h"
#include "scan.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_GROUPS 256
#define POOL_CONFIRM_MS 1000
#define GROWTH_WINDOW_MS 2000
#define QUEUE_SHOWN 8

struct group {
    uint64_t key;
    int n;             /* live members */
    int first;         /* first member (snap index); the rest chained through next_member */
    int exact;         /* known exactly: index into pg_apools + 1 */
};

/* What a pool looked like over time, kept across scans. */
struct pstate {
    uint64_t key;
    uint64_t last_scan;
    uintptr_t idle_obj;
    uint32_t idle_kind;
    uint64_t lost_base;          /* lost signals on idle_obj when a worker was last seen idle */
    uint64_t reported_sig[3];    /* signature of the waits last reported, per severity */
    uint64_t prev_sig;           /* signature of the waits at the previous scan */
    int growth_reported;
    uint64_t win_start_ns;
    long win_start_depth;
    uint64_t rss_start_kb;
};

static struct group groups[MAX_GROUPS];
static int ngroups;
static struct pstate pstates[MAX_GROUPS];
static int *next_member;
static int *group_of;
static uint64_t scan_no;

int pg_pool_init(uint32_t size)
{
    size_t bytes = 2 * (size_t)size * sizeof(int);
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    next_member = p;
    group_of = next_member + size;
    return 0;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h;
}

/* Language runtimes whose threads are never an inferred pool: the module exporting one of these
 * names is the runtime. Looked up again while not found, since a JVM is loaded late. */
static const char *const runtime_syms[] = {
    "PyThread_start_new_thread",   /* CPython: its threads belong to the Python layer */
    "JNI_CreateJavaVM",            /* HotSpot */
    "coreclr_initialize",          /* .NET */
};
#define NRUNTIMES (sizeof runtime_syms / sizeof runtime_syms[0])
static void *runtime_base[NRUNTIMES];
static void *libstdcxx_base;
static int bases_tries;
static uint32_t bases_gen;       /* bumped whenever a module above is found */

static void *module_of(uintptr_t pc)
{
    Dl_info info;
    if (!pc || !dladdr((void *)pc, &info))
        return NULL;
    return info.dli_fbase;
}

static void find_bases(void)
{
    /* Every 50th scan at most: dlsym walks every loaded module. */
    if (bases_tries++ % 50 != 0)
        return;
    for (size_t k = 0; k < NRUNTIMES; k++)
        if (!runtime_base[k] &&
            (runtime_base[k] = module_of((uintptr_t)dlsym(RTLD_DEFAULT, runtime_syms[k]))))
            bases_gen++;
    if (!libstdcxx_base &&
        (libstdcxx_base = module_of((uintptr_t)dlsym(RTLD_DEFAULT, "_ZNSt6thread4joinEv"))))
        bases_gen++;
}

enum { CLASS_PLAIN = 1, CLASS_RUNTIME, CLASS_STDTHREAD };

/* What kind of thread t is, worked out once per thread and again when a runtime's module turns up
 * (cached in the slot: the generation of the slot and of the module list, and the class). */
static uint32_t thread_class(struct pg_thread *t, uint32_t gen)
{
    if (t->wd_class_gen == gen + 1 && t->wd_class >> 8 == bases_gen)
        return t->wd_class & 0xff;
    uint32_t c = CLASS_PLAIN;
    void *m = module_of(t->start_routine);
    void *caller = t->ncreate > 1 ? module_of(t->create_stack[1]) : NULL;
    for (size_t k = 0; k < NRUNTIMES; k++)
        if (runtime_base[k] && (m == runtime_base[k] || caller == runtime_base[k]))
            c = CLASS_RUNTIME;
    if (c == CLASS_PLAIN && m && m == libstdcxx_base)
        c = CLASS_STDTHREAD;
    t->wd_class = c | bases_gen << 8;
    t->wd_class_gen = gen + 1;
    return c;
}

/* Threads started by the same routine are one inferred pool. For std::thread the routine is the
 * C++ library's, and the callable's type (the vtable of the state it was handed) tells pools
 * apart. The creating call stack is left out on purpose: one pool's workers can be created from
 * different stacks (a vector that reallocates while they are created, a pool that grows on
 * demand), and splitting a pool invents an exhausted part of it, while merging two pools of one
 * kind can only hide a finding. */
static uint64_t group_key(struct pg_thread *t, uint32_t gen)
{
    if (!t->start_routine)
        return 0;
    uint32_t c = thread_class(t, gen);
    if (c == CLASS_RUNTIME)
        return 0;
    uint64_t h = mix(0xcbf29ce484222325ull, t->start_routine);
    if (c == CLASS_STDTHREAD) {
        uintptr_t vt = 0;
        if (!t->arg || pg_peek(&vt, (uintptr_t)t->arg, sizeof vt) < 0)
            return 0;
        h = mix(h, vt);
    }
    return h ? h : 1;
}

static void build_groups(int n)
{
    find_bases();
    ngroups = 0;
    for (int i = 0; i < n; i++) {
        group_of[i] = -1;
        next_member[i] = -1;
        struct pg_thread *t = pg_snaps[i].slot;
        uintptr_t apool = __atomic_load_n(&t->ann_pool, __ATOMIC_ACQUIRE);
        struct pg_apool *ap = apool ? pg_apool_find(apool) : NULL;
        uint64_t key;
        if (ap)
            key = mix(0x616e6e6f74ull, apool);   /* known exactly: the pool is what it says */
        else if (apool || __atomic_load_n(&t->ann_ever, __ATOMIC_RELAXED))
            continue;   /* a worker of a pool known exactly, between tasks: never inferred */
        else
            key = group_key(t, pg_snaps[i].gen);
        if (!key)
            continue;
        int g;
        for (g = 0; g < ngroups && groups[g].key != key; g++)
            ;
        if (g == ngroups) {
            if (ngroups == MAX_GROUPS)
                continue;
            groups[g] = (struct group){key, 0, -1, ap ? (int)(ap - pg_apools) + 1 : 0};
            ngroups++;
        }
        group_of[i] = g;
        next_member[i] = groups[g].first;
        groups[g].first = i;
        groups[g].n++;
    }
    /* One thread is not an inferred pool: nothing tells its idle wait from a task's wait. */
    for (int g = 0; g < ngroups; g++) {
        if (groups[g].exact || groups[g].n >= 2)
            continue;
        for (int i = groups[g].first; i >= 0; i = next_member[i])
            group_of[i] = -1;
        groups[g].n = 0;
        groups[g].first = -1;
    }
}

static struct pstate *pstate_for(uint64_t key)
{
    struct pstate *victim = &pstates[0];
    for (int i = 0; i < MAX_GROUPS; i++) {
        if (pstates[i].key == key)
            return &pstates[i];
        if (pstates[i].last_scan < victim->last_scan)
            victim = &pstates[i];
    }
    memset(victim, 0, sizeof *victim);
    victim->key = key;
    return victim;
}

#define FOR_MEMBERS(g, i) for (int i = groups[g].first; i >= 0; i = next_member[i])

/* Signals and posts that found no waiter on obj, by every thread. */
static uint64_t lost_total(int n, uintptr_t obj)
{
    uint64_t sum = 0;
    for (int i = 0; i < n; i++) {
        const struct pg_thread *t = pg_snaps[i].slot;
        for (int k = 0; k < PG_LOST; k++)
            if (__atomic_load_n(&t->lost[k].obj, __ATOMIC_RELAXED) == obj)
                sum += __atomic_load_n(&t->lost[k].count, __ATOMIC_RELAXED);
    }
    return sum;
}

static int in_hist(const struct pg_thread *t, uintptr_t obj)
{
    for (int k = 0; k < PG_HIST; k++)
        if (__atomic_load_n(&t->hist[k].obj, __ATOMIC_RELAXED) == obj &&
            __atomic_load_n(&t->hist[k].count, __ATOMIC_RELAXED) > 0)
            return 1;
    return 0;
}

/* Has a thread outside the group waited on obj? Then obj is not this pool's queue. */
static int waited_by_others(int n, int g, uintptr_t obj)
{
    for (int i = 0; i < n; i++)
        if (group_of[i] != g && in_hist(pg_snaps[i].slot, obj))
            return 1;
    return 0;
}

/* Has a thread outside the group queued work on obj while nobody waited? */
static int lost_by_others(int n, int g, uintptr_t obj)
{
    for (int i = 0; i < n; i++) {
        if (group_of[i] == g)
            continue;
        const struct pg_thread *t = pg_snaps[i].slot;
        for (int k = 0; k < PG_LOST; k++)
            if (__atomic_load_n(&t->lost[k].obj, __ATOMIC_RELAXED) == obj && t->lost[k].count)
                return 1;
    }
    return 0;
}

static int in_members_hist(int g, uintptr_t obj);
/* Member i's current wait began right after it queued work on an object nobody waited on: the
 * object, or 0. */
static uintptr_t submitted_then_waited(int i, uint32_t *kind)
{
    const struct snap *s = &pg_snaps[i];
    if (!s->waiting)
        return 0;
    const struct pg_thread *t = s->slot;
    for (int k = 0; k < PG_LOST; k++) {
        uintptr_t obj = __atomic_load_n(&t->lost[k].obj, __ATOMIC_RELAXED);
        uint64_t seq = __atomic_load_n(&t->lost[k].seq, __ATOMIC_RELAXED);
        if (obj && obj != s->wobj && seq + 1 == s->seq && t->lost[k].count) {
            *kind = t->lost[k].kind;
            return obj;
        }
    }
    return 0;
}

static int in_members_hist(int g, uintptr_t obj)
{
    FOR_MEMBERS(g, i)
        if (in_hist(pg_snaps[i].slot, obj))
            return 1;
    return 0;
}

/* The idle object: learned from the members' wait history (the object most members waited on,
 * most often), confirmed or replaced by "submit then wait" evidence. */
static void learn_idle(int n, int g, struct pstate *ps, int *submit_wait)
{
    *submit_wait = 0;
    FOR_MEMBERS(g, i) {
        uint32_t kind = 0;
        uintptr_t obj = submitted_then_waited(i, &kind);
        /* A pool's queue: its own workers wait on it, or (workers that never went idle) work
         * arrives on it from outside too. Threads that merely announce they are ready, on an
         * object nobody else waits for, are not submitting work. */
        if (obj && !waited_by_others(n, g, obj) &&
            (in_members_hist(g, obj) || lost_by_others(n, g, obj))) {
            if (ps->idle_obj != obj) {
                ps->idle_obj = obj;
                ps->idle_kind = kind;
                ps->lost_base = 0;
            }
            *submit_wait = 1;
            return;
        }
    }
    /* Count, for each object in the members' histories, how many members used it and how often. */
    enum { MAXOBJ = 64 };
    struct { uintptr_t obj; uint32_t kind; int members; uint64_t count; } objs[MAXOBJ];
    int nobjs = 0;
    FOR_MEMBERS(g, i) {
        const struct pg_thread *t = pg_snaps[i].slot;
        for (int k = 0; k < PG_HIST; k++) {
            uintptr_t obj = __atomic_load_n(&t->hist[k].obj, __ATOMIC_RELAXED);
            uint32_t c = __atomic_load_n(&t->hist[k].count, __ATOMIC_RELAXED);
            if (!obj || !c)
                continue;
            int j;
            for (j = 0; j < nobjs && objs[j].obj != obj; j++)
                ;
            if (j == nobjs) {
                if (nobjs == MAXOBJ)
                    continue;
                objs[nobjs++] = (typeof(objs[0])){obj, t->hist[k].kind, 0, 0};
            }
            objs[j].members++;
            objs[j].count += c;
        }
    }
    uintptr_t best = 0;
    uint32_t best_kind = 0;
    int best_members = 0;
    uint64_t best_count = 0;
    for (int j = 0; j < nobjs; j++) {
        if (objs[j].members > best_members ||
            (objs[j].members == best_members && objs[j].count > best_count)) {
            best = objs[j].obj;
            best_kind = objs[j].kind;
            best_members = objs[j].members;
            best_count = objs[j].count;
        }
    }
    /* One waiter once proves nothing: it may be the task's own wait. Unless others have been
     * signalling that object while nobody waited on it: that is how work reaches a busy pool. */
    if (best && best_members < 2 && best_count < 2) {
        uintptr_t queue = 0;
        FOR_MEMBERS(g, i) {
            const struct pg_thread *t = pg_snaps[i].slot;
            for (int k = 0; k < PG_HIST && !queue; k++) {
                uintptr_t obj = __atomic_load_n(&t->hist[k].obj, __ATOMIC_RELAXED);
                if (obj && lost_by_others(n, g, obj) && !waited_by_others(n, g, obj)) {
                    queue = obj;
                    best_kind = t->hist[k].kind;
                }
            }
        }
        best = queue;
        best_count = 2;
    }
    if (best && (best_members >= 2 || best_count >= 2) && best != ps->idle_obj) {
        ps->idle_obj = best;
        ps->idle_kind = best_kind;
        ps->lost_base = 0;
    }
}

/* The queue of a semaphore-counted pool: the semaphore's value, but never more than the posts
 * that found no waiter (each queued task is one), so memory that is no longer the semaphore (it
 * was destroyed, its stack frame reused) cannot make up a queue. */
static long sem_queue(int n, uintptr_t sem, uint64_t lost_since_idle)
{
    /* glibc: the low half of the semaphore's 64-bit word is its value. */
    uint64_t word;
    if (pg_peek(&word, sem, sizeof word) < 0)
        return -1;
    long v = (long)(word & 0x7fffffffu);
    (void)n;
    return v < (long)lost_since_idle ? v : (long)lost_since_idle;
}

static const char *source_name(const struct pg_apool *ap)
{
    if (!ap)
        return "inferred";
    return ap->library[0] ? "adapter" : "annotation";
}

static void write_pool(struct pg_jw *w, int g, const struct pstate *ps, long queued, int exact,
                       const char *evidence, const char *proof)
{
    const struct pg_thread *t0 = pg_snaps[groups[g].first].slot;
    struct pg_apool *ap = groups[g].exact ? &pg_apools[groups[g].exact - 1] : NULL;
    uintptr_t handle = ap ? atomic_load(&ap->handle) : 0;
    pg_jw_key(w, "pool");
    pg_jw_obj(w);
    pg_jw_key(w, "id"), pg_jw_hex(w, (uintptr_t)groups[g].key);
    pg_jw_key(w, "annotated"), pg_jw_bool(w, ap && !ap->library[0]);
    pg_jw_key(w, "source"), pg_jw_str(w, source_name(ap));
    if (ap)
        pg_jw_key(w, "handle"), pg_jw_hex(w, handle);
    if (ap && ap->library[0])
        pg_jw_key(w, "library"), pg_jw_str(w, ap->library);
    if (ap && ap->name[0])
        pg_jw_key(w, "name"), pg_jw_str(w, ap->name);
    pg_jw_key(w, "workers"), pg_jw_int(w, groups[g].n);
    int declared = ap ? atomic_load(&ap->workers) : 0;
    if (declared) {
        pg_jw_key(w, "declared_workers"), pg_jw_int(w, declared);
        pg_jw_key(w, "max_workers"), pg_jw_int(w, declared);
    }
    if (ap) {
        uint64_t started = atomic_load(&ap->started), done = atomic_load(&ap->done);
        pg_jw_key(w, "active"), pg_jw_int(w, started > done ? (long long)(started - done) : 0);
    }
    if (!ap && t0->start_routine)
        pg_jw_key(w, "start_routine"), pg_jw_hex(w, t0->start_routine);
    pg_jw_key(w, "create_stack");
    pg_jw_arr(w);
    if (ap) {
        for (int k = 0; k < ap->ncreate; k++)
            pg_jw_hex(w, ap->create_stack[k]);
    } else {
        for (uint32_t k = 1; k < t0->ncreate; k++)
            pg_jw_hex(w, t0->create_stack[k]);
    }
    pg_jw_arr_end(w);
    pg_jw_key(w, "idle");
    if (ps->idle_obj) {
        pg_jw_obj(w);
        pg_jw_key(w, "kind"), pg_jw_str(w, pg_wait_kind_name(ps->idle_kind));
        pg_jw_key(w, "address"), pg_jw_hex(w, ps->idle_obj);
        pg_jw_obj_end(w);
    } else {
        pg_jw_null(w);
    }
    pg_jw_key(w, "queued");
    if (queued >= 0)
        pg_jw_int(w, queued);
    else
        pg_jw_null(w);
    pg_jw_key(w, "queued_exact"), pg_jw_bool(w, exact);
    if (ap && queued > 0) {
        static struct pg_qtask_ent q[QUEUE_SHOWN];
        int nq = pg_task_queue(handle, q, QUEUE_SHOWN);
        pg_jw_key(w, "queued_tasks");
        pg_jw_arr(w);
        for (int k = 0; k < nq; k++) {
            pg_jw_obj(w);
            pg_jw_key(w, "address"), pg_jw_hex(w, q[k].task);
            if (q[k].fn)
                pg_jw_key(w, "function"), pg_jw_hex(w, q[k].fn);
            pg_jw_key(w, "position"), pg_jw_int(w, k + 1);
            pg_jw_obj_end(w);
        }
        pg_jw_arr_end(w);
    }
    pg_jw_key(w, "evidence"), pg_jw_str(w, evidence);
    pg_jw_key(w, "proof"), pg_jw_str(w, proof);
    pg_jw_obj_end(w);
}

/* What a worker of an exactly known pool waits for, filled into its report entry. */
static void fill_task_waits(struct pg_rthread *rt, int i, int n, uintptr_t handle)
{
    const struct snap *s = &pg_snaps[i];
    const struct pg_thread *t = s->slot;
    rt->task = __atomic_load_n(&t->ann_task, __ATOMIC_RELAXED);
    rt->task_fn = __atomic_load_n(&t->ann_task_fn, __ATOMIC_RELAXED);
    rt->wait_task = __atomic_load_n(&t->ann_wait_task, __ATOMIC_RELAXED);
    if (rt->wait_task) {
        struct pg_qtask q;
        if (pg_task_lookup(rt->wait_task, &q)) {
            rt->wait_task_queued_in = q.pool;
            rt->wait_task_fn = q.fn;
        }
        for (int j = 0; j < n; j++)
            if (__atomic_load_n(&pg_snaps[j].slot->ann_task, __ATOMIC_RELAXED) == rt->wait_task) {
                rt->wait_task_runner = pg_snaps[j].tid;
                rt->wait_task_fn = __atomic_load_n(&pg_snaps[j].slot->ann_task_fn, __ATOMIC_RELAXED);
            }
    }
    uintptr_t sub = __atomic_load_n(&t->sub_task, __ATOMIC_RELAXED);
    struct pg_qtask q;
    if (handle && s->waiting && __atomic_load_n(&t->sub_pool, __ATOMIC_RELAXED) == handle &&
        s->seq > __atomic_load_n(&t->sub_seq, __ATOMIC_ACQUIRE) && pg_task_lookup(sub, &q) &&
        q.pool == handle) {
        rt->sub_task = sub;
        rt->sub_fn = q.fn;
        rt->sub_pos = pg_task_position(handle, q.seq);
    }
}

/* Writes a pool finding: the workers, then every other thread stuck with them. */
static void report_pool(int n, int g, struct pstate *ps, const char *kind, const char *severity,
                        const char *summary, long queued, int exact, const char *evidence,
                        const char *proof, uint64_t now, double rate)
{
    struct pg_apool *ap = groups[g].exact ? &pg_apools[groups[g].exact - 1] : NULL;
    uintptr_t handle = ap ? atomic_load(&ap->handle) : 0;
    struct pg_jw *w = pg_report_finding(kind, severity, summary);
    if (w) {
        if (rate > 0) {
            pg_jw_key(w, "growth");
            pg_jw_obj(w);
            pg_jw_key(w, "per_second"), pg_jw_int(w, (long long)rate);
            pg_jw_key(w, "depth"), pg_jw_int(w, queued);
            pg_jw_key(w, "window_ms"), pg_jw_int(w, (long long)(pg_blocked_ns(ps->win_start_ns, now) / 1000000u));
            uint64_t rss = pg_rss_kb();
            if (rss && ps->rss_start_kb)
                pg_jw_key(w, "rss_growth_kb"), pg_jw_int(w, (long long)rss - (long long)ps->rss_start_kb);
            pg_jw_obj_end(w);
        }
        write_pool(w, g, ps, queued, exact, evidence, proof);
        pg_jw_key(w, "threads");
        pg_jw_arr(w);
        FOR_MEMBERS(g, i) {
            struct pg_rthread rt;
            pg_fill_rthread(&rt, i, "worker", now);
            fill_task_waits(&rt, i, n, handle);
            pg_report_thread(w, &rt);
        }
        /* Submitters and others stuck with the pool (e.g. main waiting for the results). */
        for (int i = 0; i < n; i++) {
            const struct pg_thread *t = pg_snaps[i].slot;
            if (group_of[i] != g && ps->idle_obj &&
                __atomic_load_n(&t->submit_obj, __ATOMIC_ACQUIRE) == ps->idle_obj &&
                !pg_nodes[i].stuck) {
                struct pg_rthread rt;
                pg_fill_rthread(&rt, i, "submitter", now);
                if (!rt.nstack) {
                    /* Running: its stack is the one it had when it last queued work here. */
                    rt.stack = t->submit_stack;
                    rt.nstack = (int)__atomic_load_n(&t->nsubmit, __ATOMIC_RELAXED);
                }
                pg_report_thread(w, &rt);
                continue;
            }
            if (group_of[i] == g || !pg_nodes[i].stuck)
                continue;
            struct pg_rthread rt;
            pg_fill_rthread(&rt, i, "blocked", now);
            pg_report_thread(w, &rt);
        }
        pg_jw_arr_end(w);
        pg_jw_obj_end(w);
        pg_report_end();
    }
    if (strcmp(severity, "info") != 0)
        pg_note_finding(kind, summary);
}

/* Marks the pool's workers, and threads stuck together with them, as reported, so the deadlock
 * analysis does not report a second, vaguer finding for the same hang. */
static void mark_reported(int n, int g)
{
    int fset[8], nfset = 0;
    FOR_MEMBERS(g, i) {
        pg_snaps[i].slot->wd_reported_seq = pg_snaps[i].seq;
        int f = pg_nodes[i].stuck ? pg_nodes[i].finding : -1;
        if (f >= 0 && nfset < 8)
            fset[nfset++] = f;
    }
    for (int i = 0; i < n; i++) {
        if (!pg_nodes[i].stuck)
            continue;
        for (int k = 0; k < nfset; k++)
            if (pg_nodes[i].finding == fset[k] && pg_findings[fset[k]].kind == PG_GF_HANG)
                pg_snaps[i].slot->wd_reported_seq = pg_snaps[i].seq;
    }
}

static uint64_t waits_signature(int g)
{
    uint64_t h = 0x12345;
    FOR_MEMBERS(g, i)
        h = mix(h, pg_snaps[i].seq * 31 + (uint64_t)pg_snaps[i].tid);
    return h;
}

static int any_runnable(int g)
{
    FOR_MEMBERS(g, i)
        if (pg_thread_runnable(pg_snaps[i].tid) == 1)
            return 1;
    return 0;
}

static void check_growth(int n, int g, struct pstate *ps, long depth, int exact, uint64_t now)
{
    if (depth < 0 || ps->growth_reported)
        return;
    if (!ps->win_start_ns || depth < ps->win_start_depth) {
        /* The backlog shrank: the pool keeps up. Start a new window. */
        ps->win_start_ns = now;
        ps->win_start_depth = depth;
        ps->rss_start_kb = 0;
        return;
    }
    if (!ps->rss_start_kb)
        ps->rss_start_kb = pg_rss_kb();
    uint64_t span = pg_blocked_ns(ps->win_start_ns, now);
    if (depth <= pg_cfg.queue_limit || span < (uint64_t)GROWTH_WINDOW_MS * 1000000u ||
        depth <= ps->win_start_depth)
        return;
    double rate = (double)(depth - ps->win_start_depth) * 1e9 / (double)span;
    char summary[320];
    int nw = groups[g].n;
    if (exact)
        snprintf(summary, sizeof summary,
                 "the queue of a pool of %d worker%s grew to %ld tasks (+%.0f per second) while every "
                 "worker was busy", nw, nw == 1 ? "" : "s", depth, rate);
    else
        snprintf(summary, sizeof summary,
                 "%ld tasks were queued on a pool of %d worker%s while no worker was free to take "
                 "them (+%.0f per second); its queue keeps growing", depth, nw, nw == 1 ? "" : "s",
                 rate);
    const struct pg_apool *ap = groups[g].exact ? &pg_apools[groups[g].exact - 1] : NULL;
    report_pool(n, g, ps, "queue_growth", "warning", summary, depth, exact,
                ap ? (ap->library[0] ? "adapter" : "annotation")
                   : ps->idle_kind == PG_W_SEM ? "semaphore count" : "signals with no idle worker",
                exact ? "exact" : "inferred", now, rate > 1 ? rate : 1);
    ps->growth_reported = 1;
}

static void write_exhaustion(int n, int g, struct pstate *ps, const char *kind, const char *severity,
                             long queued, int exact, const char *evidence, const char *proof,
                             uint64_t age_ms, uint64_t now)
{
    char summary[320];
    int nw = groups[g].n;
    const struct pg_apool *ap = groups[g].exact ? &pg_apools[groups[g].exact - 1] : NULL;
    char pool_desc[96];
    if (ap && ap->name[0])
        snprintf(pool_desc, sizeof pool_desc, "pool \"%.48s\"", ap->name);
    else
        snprintf(pool_desc, sizeof pool_desc, "pool");
    if (!strcmp(kind, "pool_exhaustion"))
        snprintf(summary, sizeof summary,
                 "%s %d worker%s of the %s %s waiting for tasks queued behind them in the same pool "
                 "(%ld queued)", nw == 1 ? "the only" : "all", nw, nw == 1 ? "" : "s", pool_desc,
                 nw == 1 ? "is" : "are", queued);
    else
        snprintf(summary, sizeof summary,
                 "%s %d worker%s of the %s %s been blocked for %llu ms; nothing shows that %s stuck",
                 nw == 1 ? "the only" : "all", nw, nw == 1 ? "" : "s", pool_desc,
                 nw == 1 ? "has" : "have", (unsigned long long)age_ms, nw == 1 ? "it is" : "they are");
    report_pool(n, g, ps, kind, severity, summary, queued, exact, evidence, proof, now, 0);
    if (strcmp(severity, "info") != 0)
        mark_reported(n, g);
    if (!strcmp(severity, "error"))
        pg_act_on_finding();
}

/* Reports once per set of waits and severity (info 0, warning 1, error 2); a warning or an error
 * only when the same waits were seen at the previous scan too and no worker is runnable. */
static int once(int g, struct pstate *ps, int level)
{
    uint64_t sig = waits_signature(g);
    if (ps->reported_sig[level] == sig)
        return 0;
    if (level > 0 && (ps->prev_sig != sig || any_runnable(g)))
        return 0;
    ps->reported_sig[level] = sig;
    return 1;
}

/* A pool known exactly (annotations, library adapters). */
static void analyze_exact(int n, int g, struct pstate *ps, uint64_t now)
{
    struct pg_apool *ap = &pg_apools[groups[g].exact - 1];
    uintptr_t handle = atomic_load(&ap->handle);
    uint64_t submitted = atomic_load(&ap->submitted), started = atomic_load(&ap->started);
    long queued = submitted > started ? (long)(submitted - started) : 0;
    int declared = atomic_load(&ap->workers);
    int busy = groups[g].n;
    int all_busy = declared > 0 && busy >= declared;

    check_growth(n, g, ps, all_busy ? queued : 0, 1, now);

    /* Which workers are stuck for the pool: a fixed point, starting from every blocked worker. */
    int blocked = 0, graph_stuck = 0;
    uint64_t newest = 0;
    static signed char cand[4096];
    int k = 0;
    FOR_MEMBERS(g, i) {
        const struct snap *s = &pg_snaps[i];
        int b = s->waiting && !s->timed;
        blocked += b;
        graph_stuck += b && pg_nodes[i].stuck;
        if (b && s->since_ns > newest)
            newest = s->since_ns;
        if (k < (int)sizeof cand)
            cand[k] = (signed char)b;
        k++;
    }
    if (busy > (int)sizeof cand || blocked < busy || busy == 0)
        return;
    for (int changed = 1; changed;) {
        changed = 0;
        k = 0;
        FOR_MEMBERS(g, i) {
            if (!cand[k]) {
                k++;
                continue;
            }
            const struct snap *s = &pg_snaps[i];
            const struct pg_thread *t = s->slot;
            int held = pg_nodes[i].stuck;
            uintptr_t wt = __atomic_load_n(&t->ann_wait_task, __ATOMIC_RELAXED);
            if (!held && wt && pg_task_queued_in(wt) == handle)
                held = 1;
            uintptr_t sub = __atomic_load_n(&t->sub_task, __ATOMIC_RELAXED);
            if (!held && sub && __atomic_load_n(&t->sub_pool, __ATOMIC_RELAXED) == handle &&
                s->seq > __atomic_load_n(&t->sub_seq, __ATOMIC_ACQUIRE) &&
                pg_task_queued_in(sub) == handle)
                held = 1;
            if (!held && wt) {
                /* Waits for a task running on another worker: held if that worker is. */
                int kk = 0;
                FOR_MEMBERS(g, j) {
                    if (j != i && cand[kk] &&
                        __atomic_load_n(&pg_snaps[j].slot->ann_task, __ATOMIC_RELAXED) == wt)
                        held = 1;
                    kk++;
                }
            }
            if (!held) {
                cand[k] = 0;
                changed = 1;
            }
            k++;
        }
    }
    int stuck = 0;
    for (k = 0; k < busy; k++)
        stuck += cand[k];
    uint64_t age_ms = pg_blocked_ns(newest, now) / 1000000u;
    if (pg_cfg.debug)
        pg_warn("debug: %s pool %#lx: %d busy of %d, %d blocked, %d stuck for the pool, %d by the "
                "graph, queued %ld", ap->library[0] ? ap->library : "annotated",
                (unsigned long)handle, busy, declared, blocked, stuck, graph_stuck, queued);

    int settled = age_ms * 2 >= (uint64_t)pg_cfg.interval_ms;
    uint64_t sig = waits_signature(g);
    if (queued > 0 && settled && ((all_busy && stuck == busy) || graph_stuck == busy)) {
        const char *proof = graph_stuck == busy ? "graph" : "exact";
        if (once(g, ps, 2))
            write_exhaustion(n, g, ps, "pool_exhaustion", "error", queued, 1,
                             ap->library[0] ? "adapter" : "annotation", proof, age_ms, now);
    } else if (age_ms >= (uint64_t)pg_cfg.stall_ms && once(g, ps, 0)) {
        write_exhaustion(n, g, ps, "stall", "info", queued, 1,
                         ap->library[0] ? "adapter" : "annotation", "none", age_ms, now);
    }
    ps->prev_sig = sig;
}

/* A pool inferred from its threads. */
static void analyze_inferred(int n, int g, struct pstate *ps, uint64_t now)
{
    int submit_wait = 0;
    learn_idle(n, g, ps, &submit_wait);

    int idle = 0, blocked = 0, stuck = 0, confirmed = 1;
    uint64_t newest = 0;
    FOR_MEMBERS(g, i) {
        const struct snap *s = &pg_snaps[i];
        if (s->waiting && ps->idle_obj && s->wobj == ps->idle_obj) {
            idle++;
            continue;
        }
        if (s->waiting && !s->timed) {
            blocked++;
            if (s->since_ns > newest)
                newest = s->since_ns;
            stuck += pg_nodes[i].stuck;
            if (!pg_node_confirmed(i))
                confirmed = 0;
        }
    }

    long queued = -1;
    const char *evidence = "stall";
    if (ps->idle_obj) {
        uint64_t lost = lost_total(n, ps->idle_obj);
        if (idle > 0 || lost < ps->lost_base)
            ps->lost_base = lost;   /* a worker waits for work: the queue is empty now */
        queued = (long)(lost - ps->lost_base);
        evidence = "signals with no idle worker";
        if (ps->idle_kind == PG_W_SEM) {
            queued = sem_queue(n, ps->idle_obj, lost - ps->lost_base);
            evidence = "semaphore count";
        }
    }

    check_growth(n, g, ps, idle ? 0 : queued, 0, now);

    if (pg_cfg.debug)
        pg_warn("debug: pool %#llx: %d workers, %d idle, %d blocked (%d stuck), idle object %#lx "
                "(kind %u), queued %ld, submit-then-wait %d", (unsigned long long)groups[g].key,
                groups[g].n, idle, blocked, stuck, (unsigned long)ps->idle_obj, ps->idle_kind, queued,
                submit_wait);
    uint64_t sig = waits_signature(g);
    if (idle > 0 || blocked < groups[g].n || groups[g].n == 0) {
        ps->prev_sig = sig;
        return;
    }
    /* Every worker is blocked, none in the idle wait. */
    uint64_t age_ms = pg_blocked_ns(newest, now) / 1000000u;
    if (stuck == groups[g].n && confirmed) {
        /* The graph proves it: nothing can wake these workers. */
        if (once(g, ps, 2))
            write_exhaustion(n, g, ps, "pool_exhaustion", "error", queued, 0, evidence, "graph",
                             age_ms, now);
    } else if (queued > 0 && submit_wait && age_ms >= POOL_CONFIRM_MS) {
        if (once(g, ps, 1))
            write_exhaustion(n, g, ps, "pool_exhaustion", "warning", queued, 0, evidence,
                             "inferred", age_ms, now);
    } else if (age_ms >= (uint64_t)pg_cfg.stall_ms && ps->idle_obj) {
        /* With the idle wait unknown, the wait called a stall could be the idle wait itself. */
        if (once(g, ps, 0))
            write_exhaustion(n, g, ps, "stall", "info", queued, 0, evidence, "none", age_ms, now);
    }
    ps->prev_sig = sig;
}

static void analyze_group(int n, int g, uint64_t now)
{
    if (groups[g].n == 0)
        return;
    struct pstate *ps = pstate_for(groups[g].key);
    ps->last_scan = scan_no;

    /* Workers already explained by a finding (the Python layer's, say) in these very waits. */
    int explained = 1;
    FOR_MEMBERS(g, i)
        explained &= pg_snaps[i].waiting && pg_snaps[i].slot->wd_reported_seq == pg_snaps[i].seq;
    if (explained)
        return;
    if (groups[g].exact)
        analyze_exact(n, g, ps, now);
    else
        analyze_inferred(n, g, ps, now);
}

void pg_pool_scan(int n, uint64_t now)
{
    scan_no++;
    build_groups(n);
    for (int g = 0; g < ngroups; g++)
        analyze_group(n, g, now);
}

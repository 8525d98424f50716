/*
 * The watchdog thread: every POOLGUARD_INTERVAL_MS it snapshots the thread table, builds the
 * wait-for graph (graph.c), and reports what it proves. A finding is reported only when the same
 * threads were found stuck in the same waits (same wait sequence numbers) by two consecutive scans,
 * so a state seen mid-transition is never reported; and each is reported once.
 *
 * It may allocate nothing the program could be holding locks for: it uses static buffers and
 * raw system calls, and takes only its own lock (wd_lock), which fork() also takes so that a child
 * never inherits a half-done scan. All its signals are blocked: they belong to the program.
 *
 * Reading the program's lock words (a mutex's owner, an rwlock's writer and reader count) is done
 * only for waits that began at least half a scan earlier, when the waiter is certainly still inside
 * the lock call and the object is alive.
 */
#include "exited.h"
#include "lockorder.h"
#include "scan.h"

#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static _Atomic int wd_state;          /* 0 not started, 1 starting/running */
static pthread_mutex_t wd_lock = PTHREAD_MUTEX_INITIALIZER;

struct snap *pg_snaps;
struct pg_gnode *pg_nodes;
#define snaps pg_snaps
#define nodes pg_nodes
static int *tid_hash;           /* open addressing: tid -> node index + 1 */
static uint32_t hash_cap, hash_alloc;   /* in use this scan (2x the live threads), mapped */
#define MAX_FINDINGS 64
struct pg_gfinding pg_findings[MAX_FINDINGS];
#define findings pg_findings
static uintptr_t stackbuf[128];
static struct timespec snapshot_mtime;

static int alloc_scan_arrays(void)
{
    size_t n = pg_table_size;
    hash_alloc = 1;
    while (hash_alloc < 2 * n)
        hash_alloc <<= 1;
    hash_cap = hash_alloc;
    size_t bytes = n * sizeof(struct snap) + n * sizeof(struct pg_gnode) + hash_cap * sizeof(int);
    char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    snaps = (struct snap *)p;
    nodes = (struct pg_gnode *)(p + n * sizeof(struct snap));
    tid_hash = (int *)(p + n * sizeof(struct snap) + n * sizeof(struct pg_gnode));
    return pg_pool_init((uint32_t)n);
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
        g->wakers[PG_GRAPH_MAX_WAKERS - 1] = w;   /* an unknown waker must never be lost */
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
    struct pg_thread *t = s->slot;
    if (t->wd_shared_seq == s->seq)
        return t->wd_shared;
    int shared = 1;
    if (s->wkind == PG_W_COND) {
        unsigned wrefs;   /* glibc: bit 0 of __wrefs marks a process-shared condition variable */
        if (pg_peek(&wrefs, s->wobj + offsetof(pthread_cond_t, __data.__wrefs), sizeof wrefs) == 0)
            shared = wrefs & 1;
    } else {
        /* glibc's sem_t: a 64-bit value word, then the futex flag to use: 0 for a private
         * semaphore, FUTEX_PRIVATE_FLAG's value for a process-shared one. */
        int flag;
        if (pg_peek(&flag, s->wobj + 8, sizeof flag) == 0)
            shared = flag != 0;
    }
    t->wd_shared_seq = s->seq;
    t->wd_shared = shared;
    return shared;
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
        pthread_mutex_t copy;
        if (pg_peek(&copy, s->wobj, sizeof copy) < 0)
            return;       /* the mutex is gone: whatever this is, it is no proof */
        const pthread_mutex_t *m = &copy;
        int kind = m->__data.__kind;
        pid_t owner = m->__data.__owner;
        if (owner == 0 || owner == 0x7fffffff || owner == 0x7ffffffe)
            return;       /* free, or a robust mutex's special states: the lock call will return */
        s->owner = owner;
        int w = waker_of_tid(owner, n);
        /* glibc marks robust mutexes process-shared too (bit 128). For a shared mutex an owner
         * that is not a thread of ours may be alive in another process: no proof. */
        if ((kind & 128) && w == PG_GW_DEAD)
            return;
        if (w == PG_GW_DEAD && (kind & 16))
            return;       /* robust: the waiter will get EOWNERDEAD */
        g->blocked = 1;
        add_waker(g, w);
        break;
    }
    case PG_W_RWLOCK_WRITE:
    case PG_W_RWLOCK_READ: {
        if (!settled)
            return;
        pthread_rwlock_t copy;
        if (pg_peek(&copy, s->wobj, sizeof copy) < 0)
            return;
        const pthread_rwlock_t *l = &copy;
        if (l->__data.__shared)
            return;
        pid_t writer = l->__data.__cur_writer;
        g->blocked = 1;
        if (writer) {
            s->owner = writer;
            add_waker(g, waker_of_tid(writer, n));
        }
        if (s->wkind == PG_W_RWLOCK_WRITE) {
            unsigned readers = l->__data.__readers >> 3;
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
            return;       /* another process could wake it */
        g->blocked = 1;
        g->any = 1;
        break;
    case PG_W_COND_DESTROY: {
        /* glibc 2.36 blocks the destroy until every waiter has left the wait: it waits for them.
         * Waiters glibc counts (__wrefs above its three flag bits) beyond those the shim sees
         * could be anyone. */
        unsigned wrefs;
        if (!settled || pg_peek(&wrefs, s->wobj + offsetof(pthread_cond_t, __data.__wrefs), sizeof wrefs) < 0)
            return;
        int known = 0;
        for (int k = 0; k < n; k++)
            if (k != i && snaps[k].waiting && snaps[k].wkind == PG_W_COND && snaps[k].wobj == s->wobj)
                add_waker(g, k), known++;
        if ((unsigned)known < (wrefs >> 3) || known == 0)
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
    default:
        break;
    }
}

/* Calls keep(tid) for each thread of the process but the shim's own, without allocating, and
 * counts those it keeps; -1 if the list cannot be read. */
static int count_threads(int (*keep)(pid_t tid))
{
    static char buf[8192];
    int d = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d < 0)
        return -1;
    pid_t me = (pid_t)syscall(SYS_gettid), inspector = pg_py_inspector_tid();
    int count = 0;
    for (;;) {
        long nread = syscall(SYS_getdents64, d, buf, sizeof buf);
        if (nread <= 0)
            break;
        for (long off = 0; off < nread;) {
            struct {
                uint64_t ino;
                int64_t off;
                unsigned short reclen;
                unsigned char type;
                char name[];
            } *e = (void *)(buf + off);
            off += e->reclen;
            if (e->name[0] < '1' || e->name[0] > '9')
                continue;
            pid_t tid = atoi(e->name);
            if (tid != me && tid != inspector && keep(tid))
                count++;
        }
    }
    close(d);
    return count;
}

static int any_thread(pid_t tid)
{
    (void)tid;
    return 1;
}

/* The process's threads other than the shim's own. */
static int count_tasks(void)
{
    return count_threads(any_thread);
}

/* True when a signal handler could still wake a thread: the program catches a signal that can
 * arrive from outside (SIGINT, SIGTERM, SIGALRM, SIGCHLD, SIGUSR1, real-time signals...). */
static int async_handlers_installed(void)
{
    static char buf[4096];
    ssize_t n;
    int f = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return 1;
    n = read(f, buf, sizeof buf - 1);
    close(f);
    if (n <= 0)
        return 1;
    buf[n] = 0;
    char *p = strstr(buf, "SigCgt:");
    if (!p)
        return 1;
    unsigned long long caught = strtoull(p + 7, NULL, 16);
    /* Synchronous faults, and signals nothing can raise while every thread sleeps; 32 and 33 are
     * the C library's own. Bit k-1 is signal k. */
    static const int sync_sigs[] = {SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGPIPE,
                                    SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGSYS, 32, 33};
    for (size_t k = 0; k < sizeof sync_sigs / sizeof sync_sigs[0]; k++)
        caught &= ~(1ull << (sync_sigs[k] - 1));
    return caught != 0;
}

/* The thread's state letter from /proc (R, S, D, Z, ...); 0 when the line cannot be parsed, -1
 * when it cannot be read (the thread is gone). */
static int thread_state(pid_t tid)
{
    char p[64], st[256];
    snprintf(p, sizeof p, "/proc/self/task/%d/stat", (int)tid);
    int f = open(p, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return -1;
    ssize_t r = read(f, st, sizeof st - 1);
    close(f);
    if (r <= 0)
        return -1;
    st[r] = 0;
    const char *paren = strrchr(st, ')');   /* the thread's name may hold anything */
    return paren && paren[1] == ' ' ? (unsigned char)paren[2] : 0;
}

/* Is the thread runnable (woken, or running) as the kernel sees it? A thread that was signalled,
 * posted or handed a lock is runnable from that moment, however long the scheduler takes to run
 * it, so a finding whose threads include a runnable one is not proven yet. -1 if unknown. */
int pg_thread_runnable(pid_t tid)
{
    int state = thread_state(tid);
    return state > 0 ? state == 'R' : -1;
}

/* Time the process spent stopped (SIGSTOP, a debugger, a suspended VM) is not time blocked. The
 * watchdog notices it as a scan that came far later than its interval; each such gap is kept, and
 * blocked times leave out the gaps they overlap. */
#define GAPS 32
static struct { uint64_t start, len; } gaps[GAPS];
static unsigned ngaps;
static uint64_t last_scan_ns;

static void note_gap(uint64_t now)
{
    uint64_t interval = (uint64_t)pg_cfg.interval_ms * 1000000u;
    if (last_scan_ns && now > last_scan_ns + 3 * interval + 200000000u) {
        unsigned k = ngaps++ % GAPS;
        gaps[k].start = last_scan_ns + interval;
        gaps[k].len = now - gaps[k].start;
    }
    last_scan_ns = now;
}

uint64_t pg_blocked_ns(uint64_t since, uint64_t now)
{
    if (now <= since)
        return 0;
    uint64_t t = now - since;
    unsigned n = ngaps < GAPS ? ngaps : GAPS;
    for (unsigned k = 0; k < n; k++) {
        uint64_t a = gaps[k].start, b = gaps[k].start + gaps[k].len;
        if (a < since)
            a = since;
        if (b > now)
            b = now;
        if (b > a)
            t -= b - a < t ? b - a : t;
    }
    return t;
}

int pg_stop_gaps(uint64_t *start, uint64_t *len, int max)
{
    int n = ngaps < GAPS ? (int)ngaps : GAPS;
    n = n < max ? n : max;
    for (int k = 0; k < n; k++)
        start[k] = gaps[k].start, len[k] = gaps[k].len;
    return n;
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

static const char *plural(int n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

static void summarize(char *out, size_t cap, const struct pg_gfinding *f)
{
    if (f->kind == PG_GF_CYCLE) {
        if (f->ncycle == 1) {
            struct snap *s = &snaps[f->start];
            snprintf(out, cap, "thread %d waits for a %s it already holds itself", (int)s->tid,
                     s->wkind == PG_W_JOIN ? "thread" : "lock");
            return;
        }
        int counts[PG_W_BARRIER + 1] = {0};
        int x = f->start;
        do {
            counts[snaps[x].wkind <= PG_W_BARRIER ? snaps[x].wkind : 0]++;
            x = nodes[x].cycle_next;
        } while (x != f->start);
        int len = snprintf(out, cap, "%d threads wait on each other through ", f->ncycle);
        static const struct { int kind; const char *one, *many; } names[] = {
            {PG_W_MUTEX, "mutex", "mutexes"},
            {PG_W_RWLOCK_READ, "rwlock (read)", "rwlocks (read)"},
            {PG_W_RWLOCK_WRITE, "rwlock (write)", "rwlocks (write)"},
            {PG_W_JOIN, "join", "joins"},
        };
        int parts = 0, total = 0;
        for (size_t k = 0; k < 4; k++)
            total += counts[names[k].kind] > 0;
        for (size_t k = 0; k < 4 && len > 0 && (size_t)len < cap; k++) {
            int c = counts[names[k].kind];
            if (!c)
                continue;
            parts++;
            const char *sep = parts == 1 ? "" : parts == total ? " and " : ", ";
            len += snprintf(out + len, cap - (size_t)len, "%s%d %s", sep, c,
                            plural(c, names[k].one, names[k].many));
        }
    } else if (f->kind == PG_GF_ABANDONED) {
        struct snap *s = &snaps[f->start];
        snprintf(out, cap, "thread %d waits for a %s held by thread %d, which has exited without "
                 "releasing it", (int)s->tid, pg_wait_kind_name(s->wkind), (int)s->owner);
    } else {
        snprintf(out, cap, "all %d threads are blocked with no time limit and none is left to wake "
                 "the others", f->nmembers);
    }
}

void pg_act_on_finding(void)
{
    if (pg_cfg.on_finding == PG_ON_ABORT)
        abort();
    if (pg_cfg.on_finding == PG_ON_EXIT)
        _exit(pg_cfg.exit_code);
}

static void report_finding(int fi, int n, uint64_t now)
{
    const struct pg_gfinding *f = &findings[fi];
    char summary[256];
    summarize(summary, sizeof summary, f);
    struct pg_jw *w = pg_report_finding(PG_KIND_DEADLOCK, PG_SEV_ERROR, -1, summary);
    if (w) {
        if (f->kind == PG_GF_CYCLE) {
            pg_jw_key(w, PG_K_CYCLE);
            pg_jw_arr(w);
            int x = f->start;
            do {
                int y = nodes[x].cycle_next;
                pg_jw_obj(w);
                pg_jw_key(w, "tid"), pg_jw_int(w, snaps[x].tid);
                pg_jw_key(w, "waits_for"), pg_jw_int(w, snaps[y].tid);
                pg_jw_key(w, "kind"), pg_jw_str(w, pg_wait_kind_name(snaps[x].wkind));
                pg_jw_key(w, "address"), pg_jw_hex(w, snaps[x].wobj);
                pg_jw_obj_end(w);
                x = y;
            } while (x != f->start);
            pg_jw_arr_end(w);
        } else if (f->kind == PG_GF_HANG) {
            pg_jw_key(w, PG_K_HANG), pg_jw_bool(w, 1);
        } else {
            pg_jw_key(w, PG_K_ABANDONED), pg_jw_bool(w, 1);
            pg_exited_write_owner(w, snaps[f->start].owner, snaps[f->start].wobj);
        }
        pg_jw_key(w, PG_K_THREADS);
        pg_jw_arr(w);
        /* Cycle members first, in cycle order; then everyone stuck behind. */
        if (f->kind == PG_GF_CYCLE) {
            int x = f->start;
            do {
                struct pg_rthread rt;
                pg_fill_rthread(&rt, x, pg_role_name(PG_ROLE_CYCLE), now);
                pg_report_thread(w, &rt);
                x = nodes[x].cycle_next;
            } while (x != f->start);
        }
        for (int i = 0; i < n; i++) {
            if (!nodes[i].stuck || nodes[i].finding != fi || nodes[i].cycle_next >= 0)
                continue;
            struct pg_rthread rt;
            pg_fill_rthread(&rt, i, pg_role_name(f->kind == PG_GF_HANG ? PG_ROLE_HANG : PG_ROLE_BLOCKED), now);
            pg_report_thread(w, &rt);
        }
        pg_jw_arr_end(w);
        pg_jw_obj_end(w);
        pg_report_end();
    }
    pg_note_finding(pg_kind_name(PG_KIND_DEADLOCK), summary);
    for (int i = 0; i < n; i++)
        if (nodes[i].stuck && nodes[i].finding == fi)
            snaps[i].slot->wd_reported_seq = snaps[i].seq;
    pg_act_on_finding();
}

void pg_note_finding(const char *kind, const char *summary)
{
    if (pg_cfg.quiet)
        return;
    const char *p = pg_report_path();
    pg_warn("%s: %s%s%s%s", kind, summary, p ? " (report: " : "", p ? p : "", p ? ")" : "");
}

int pg_node_confirmed(int i)
{
    struct pg_thread *t = snaps[i].slot;
    return t->wd_seen_seq == snaps[i].seq && t->wd_seen_gen == snaps[i].gen;
}

/* A finding is new when some thread at its core is in a wait not yet reported, and confirmed
 * when every thread at its core was stuck in the same wait at the previous scan. */
static void consider(int fi, int n, uint64_t now)
{
    const struct pg_gfinding *f = &findings[fi];
    int fresh = 0, confirmed = 1;
    for (int i = 0; i < n; i++) {
        if (!nodes[i].stuck || nodes[i].finding != fi)
            continue;
        int core = f->kind == PG_GF_HANG || nodes[i].cycle_next >= 0 || i == f->start;
        if (!core)
            continue;
        if (!pg_node_confirmed(i))
            confirmed = 0;
        if (snaps[i].slot->wd_reported_seq != snaps[i].seq)
            fresh = 1;
    }
    if (!fresh || !confirmed)
        return;
    for (int i = 0; i < n; i++)
        if (nodes[i].stuck && nodes[i].finding == fi && pg_thread_runnable(snaps[i].tid) == 1)
            return;
    report_finding(fi, n, now);
}

static void write_snapshot(int n, uint64_t now)
{
    struct pg_jw *w = pg_report_begin();
    if (!w)
        return;
    pg_jw_obj(w);
    pg_jw_key(w, "type"), pg_jw_str(w, "snapshot");
    pg_jw_key(w, "time_unix_ms"), pg_jw_int(w, (long long)pg_unix_ms());
    pg_jw_key(w, "reason"), pg_jw_str(w, "request");
    pg_jw_key(w, "threads");
    pg_jw_arr(w);
    for (int i = 0; i < n; i++) {
        struct pg_rthread rt;
        pg_fill_rthread(&rt, i, "snapshot", now);
        pg_report_thread(w, &rt);
    }
    pg_jw_arr_end(w);
    pg_jw_obj_end(w);
    pg_report_end();
}

/* `poolguard run --timeout` asks every process for a snapshot by touching a file in POOLGUARD_DIR. */
static int snapshot_requested(void)
{
    if (!pg_cfg.dir[0])
        return 0;
    char p[PG_PATH_MAX + 32];
    snprintf(p, sizeof p, "%s/snapshot.request", pg_cfg.dir);
    struct stat st;
    if (stat(p, &st) != 0)
        return 0;
    if (st.st_mtim.tv_sec == snapshot_mtime.tv_sec && st.st_mtim.tv_nsec == snapshot_mtime.tv_nsec)
        return 0;
    snapshot_mtime = st.st_mtim;
    return 1;
}

static void exit_if_alone(int n);

static void scan(void)
{
    uint64_t now = pg_now_ns();
    note_gap(now);
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
    for (int i = 0; i < n; i++) {
        build_node(i, n, now);
        nblocked += nodes[i].blocked;
        any_blocked |= nodes[i].blocked && nodes[i].any;
    }
    int nf = 0;
    if (nblocked > 0) {
        /* The process-wide checks cost system calls: only when a whole-program hang is possible. */
        int all_tracked = 0;
        if (any_blocked && nblocked == n)
            all_tracked = count_tasks() == n && !async_handlers_installed();
        nf = pg_graph_solve(nodes, n, all_tracked, findings, MAX_FINDINGS);
    } else {
        for (int i = 0; i < n; i++)
            nodes[i].stuck = 0, nodes[i].finding = -1, nodes[i].cycle_next = -1;
    }
    /* Pools first: an exhausted pool explains a hang better than "every thread is blocked". */
    pg_pool_scan(n, now);
    pg_pyscan(n, now);
    for (int fi = 0; fi < nf; fi++)
        consider(fi, n, now);
    for (int i = 0; i < n; i++) {
        struct pg_thread *t = snaps[i].slot;
        int stuck = nblocked > 0 && nodes[i].stuck;
        t->wd_seen_seq = stuck ? snaps[i].seq : 0;
        t->wd_seen_gen = snaps[i].gen;
    }
    pg_lo_scan();
    if (snapshot_requested())
        write_snapshot(n, now);
    exit_if_alone(n);
}

static int not_zombie(pid_t tid)
{
    int state = thread_state(tid);
    return state >= 0 && state != 'Z' && state != 'X';
}

/* Threads of the program still alive (not zombies), ours left out; -1 if unknown. Reads every
 * thread's state: call it only when the table says few threads are left. */
static int live_program_threads(void)
{
    return count_threads(not_zombie);
}

/* The C library ends a process when its last thread ends (pthread_exit from main, then the other
 * threads). The watchdog must not be that last thread: once it is alone, it ends the process as
 * the C library would have, with exit(0), which runs the program's atexit handlers. */
static void exit_if_alone(int n)
{
    static unsigned tick;
    if (n > 1 || ++tick % 10 != 0)
        return;
    if (live_program_threads() != 0)
        return;
    pg_real.mutex_unlock(&wd_lock);
    exit(0);
}

static void *watchdog_main(void *arg)
{
    (void)arg;
    pg_cur = PG_NOSLOT;
    pg_real.mutex_lock(&wd_lock);
    int ok = alloc_scan_arrays() == 0;
    pg_real.mutex_unlock(&wd_lock);
    if (!ok) {
        pg_warn("cannot allocate the watchdog's tables; deadlocks will not be detected");
        return NULL;
    }
    struct timespec ts = {pg_cfg.interval_ms / 1000, (long)(pg_cfg.interval_ms % 1000) * 1000000L};
    for (;;) {
        while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL) == EINTR)
            ;
        pg_real.mutex_lock(&wd_lock);
        scan();
        pg_real.mutex_unlock(&wd_lock);
    }
    return NULL;
}

static void start(void)
{
    int r = pg_spawn(watchdog_main, 256 * 1024, "poolguard");
    if (r < 0)
        pg_warn("cannot start the watchdog thread (%s); deadlocks will not be detected", strerror(-r));
}

void pg_watchdog_ensure(void)
{
    if (PG_LIKELY(atomic_load_explicit(&wd_state, memory_order_relaxed)))
        return;
    if (pg_disabled || !atomic_load(&pg_ready))
        return;
    int expect = 0;
    if (!atomic_compare_exchange_strong(&wd_state, &expect, 1))
        return;
    struct pg_thread *me = (uintptr_t)pg_cur > 1 ? pg_cur : NULL;
    if (me)
        me->in_shim++;
    start();
    if (me)
        me->in_shim--;
}

/* fork() takes the watchdog's lock so that a child never inherits a half-done scan; but never
 * for long. A scan can wait inside the C library's loader lock (dladdr, dlsym), which a thread in
 * dlopen may hold while it waits for a lock the forking thread holds: waiting here forever would
 * be a deadlock of the shim's making. After 200 ms the fork goes on without the lock, and the
 * child, which has no watchdog yet, starts with a fresh one. */
static int fork_locked;

void pg_watchdog_fork_prepare(void)
{
    fork_locked = 0;
    if (!pg_real.mutex_timedlock)
        return;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 200000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    fork_locked = pg_real.mutex_timedlock(&wd_lock, &until) == 0;
}

void pg_watchdog_fork_parent(void)
{
    if (fork_locked && pg_real.mutex_unlock)
        pg_real.mutex_unlock(&wd_lock);
}

void pg_watchdog_fork_child(void)
{
    if (fork_locked && pg_real.mutex_unlock)
        pg_real.mutex_unlock(&wd_lock);
    else
        wd_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
    /* The child has no watchdog: it starts one on its first blocking wait or thread creation. */
    atomic_store(&wd_state, 0);
    pg_report_fork_child();
}

/* At exit, one last look for lock-order cycles: a short program often ends before the watchdog's
 * next scan, and an order cycle it showed is the finding it came for. Bounded: if the watchdog is in
 * the middle of a scan that does not end within 200 ms, the exit goes on without it. */
__attribute__((destructor)) static void final_scan(void)
{
    if (pg_disabled || !atomic_load(&pg_ready) || !pg_real.mutex_timedlock)
        return;
    struct pg_thread *me = (uintptr_t)pg_cur > 1 ? pg_cur : NULL;
    if (me)
        me->in_shim++;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 200000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    if (pg_real.mutex_timedlock(&wd_lock, &until) == 0) {
        pg_lo_scan();
        pg_real.mutex_unlock(&wd_lock);
    }
    if (me)
        me->in_shim--;
}

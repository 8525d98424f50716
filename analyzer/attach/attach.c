/*
 * What attach and core share (see attach.h): unwinding, and deciding what each thread waits on from
 * its system call and the glibc words it names, then the wait-for graph proof
 * (shim/detect/graph.c). The raw report is written by attach_report.c, the shared command line
 * is attach_cli.c.
 *
 * A blocked thread is one stopped inside futex(2) with the call interrupted (-ERESTART*: it will
 * be restarted when the thread resumes) and whose futex word still holds the value it waits for:
 * the kernel would put it straight back to sleep. Every futex protocol changes the word before it
 * wakes, so a snapshot of stopped threads whose words still match is consistent even though the
 * threads were stopped one after the other. Any other system call (read, poll, sleep...) counts
 * as running: something outside the process may end it.
 */
#include "attach.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "attach_graph.h"
#include "glibc.h"

/* glibc's layouts are decoded by shim/core/glibc.h, the shim's own decoder, checked at build time
 * for the glibc this was built against. */
enum { HINT_FRAMES = 5, TID_SEARCH = 4096 };

/* Kernel return values of an interrupted call that will be restarted (include/linux/errno.h). */
enum {
    ERESTARTSYS_ = 512,
    ERESTARTNOINTR_ = 513,
    ERESTARTNOHAND_ = 514,
    ERESTART_RESTARTBLOCK_ = 516
};

/* ---------------------------------------------------------------------------------------- */
/* Stacks                                                                                   */

static int frame_cb(Dwfl_Frame *state, void *arg)
{
    ext_thread *t = arg;
    Dwarf_Addr pc;
    bool activation;
    if (!dwfl_frame_pc(state, &pc, &activation))
        return DWARF_CB_ABORT;
    t->pcs[t->npcs++] = pc;
    return t->npcs < EXT_MAX_FRAMES ? DWARF_CB_OK : DWARF_CB_ABORT;
}

int ext_unwind(ext_proc *p)
{
    for (size_t i = 0; i < p->nthreads; i++) {
        ext_thread *t = &p->threads[i];
        t->npcs = 0;
        if (!t->have_regs)
            continue;
        /* A stack cut short (no CFI for a frame) keeps the frames read so far. */
        dwfl_getthread_frames(p->dwfl, t->tid, frame_cb, t);
    }
    return 0;
}

/* The function holding frame k, from the modules' symbol tables: for libc only its exported
 * names, which is why the hints below use only exported functions that call out (not tail calls). */
static const char *frame_name(ext_proc *p, const ext_thread *t, int k)
{
    if (k >= t->npcs)
        return NULL;
    Dwarf_Addr pc = t->pcs[k] - (k > 0);
    Dwfl_Module *m = dwfl_addrmodule(p->dwfl, pc);
    return m ? dwfl_module_addrname(m, pc) : NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* What a thread waits on                                                                   */

enum hint { H_NONE, H_MUTEX, H_RDLOCK, H_WRLOCK, H_COND, H_SEM, H_BARRIER, H_ONCE, H_JOIN };

static enum hint name_hint(const char *n)
{
    if (!n)
        return H_NONE;
    while (*n == '_')
        n++;
    if (!strncmp(n, "pthread_mutex_", 14) || !strcmp(n, "mtx_lock") ||
        !strcmp(n, "mtx_timedlock") || !strncmp(n, "lll_lock_wait", 13))
        return strstr(n, "lock_wait_private") ? H_NONE : H_MUTEX;
    if (strstr(n, "rwlock_") && strstr(n, "rdlock"))
        return H_RDLOCK;
    if (strstr(n, "rwlock_") && strstr(n, "wrlock"))
        return H_WRLOCK;
    if (!strncmp(n, "pthread_cond_", 13) || !strncmp(n, "cnd_", 4))
        return H_COND;
    if (!strncmp(n, "sem_", 4) || strstr(n, "sem_wait"))
        return H_SEM;
    if (!strncmp(n, "pthread_barrier_wait", 20))
        return H_BARRIER;
    if (!strncmp(n, "pthread_once", 12) || !strncmp(n, "call_once", 9))
        return H_ONCE;
    if (strstr(n, "pthread_join") || strstr(n, "pthread_clockjoin") ||
        strstr(n, "pthread_timedjoin"))
        return H_JOIN;
    return H_NONE;
}

static enum hint stack_hint(ext_proc *p, const ext_thread *t)
{
    for (int k = 0; k < HINT_FRAMES && k < t->npcs; k++) {
        enum hint h = name_hint(frame_name(p, t, k));
        if (h != H_NONE)
            return h;
    }
    return H_NONE;
}

static int index_of_tid(const ext_proc *p, pid_t tid)
{
    for (size_t i = 0; i < p->nthreads; i++)
        if (p->threads[i].tid == tid)
            return (int)i;
    return -1;
}

/* The offset of the tid word in glibc's struct pthread (the thread pointer points at it): the
 * one offset at which every thread's descriptor holds that thread's tid. -1 when no offset fits
 * every thread (then joins are not decoded). */
static long find_tid_offset(ext_proc *p)
{
    static uint32_t block[TID_SEARCH / 4];
    static unsigned char ok[TID_SEARCH / 4];
    memset(ok, 1, sizeof ok);
    int seen = 0;
    for (size_t i = 0; i < p->nthreads; i++) {
        const ext_thread *t = &p->threads[i];
        if (!t->have_regs || !t->fs_base)
            continue;
        if (p->read(p->read_ctx, t->fs_base, block, sizeof block) < 0)
            continue;
        seen++;
        for (size_t k = 0; k < TID_SEARCH / 4; k++)
            if (block[k] != (uint32_t)t->tid)
                ok[k] = 0;
    }
    if (!seen)
        return -1;
    if (ok[PG_GLIBC_236_PTHREAD_TID_OFF / 4])
        return PG_GLIBC_236_PTHREAD_TID_OFF;
    /* With a single thread, a tid-valued word elsewhere proves nothing. */
    if (seen < 2)
        return -1;
    for (size_t k = 0; k < TID_SEARCH / 4; k++)
        if (ok[k])
            return (long)k * 4;
    return -1;
}

static bool interrupted(long ret)
{
    return ret == -ERESTARTSYS_ || ret == -ERESTARTNOINTR_ || ret == -ERESTARTNOHAND_ ||
           ret == -ERESTART_RESTARTBLOCK_;
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

/* A tid as a waker: a thread of the process, or one that has exited. Every thread of the process
 * is in p->threads, so a tid not there is gone. */
static int waker_of(const ext_proc *p, pid_t tid)
{
    int k = index_of_tid(p, tid);
    return k >= 0 ? k : PG_GW_DEAD;
}

static void mutex_wait(ext_proc *p, int i, uint64_t word, bool hinted, struct pg_gnode *g)
{
    ext_thread *t = &p->threads[i];
    pthread_mutex_t m;
    struct pg_glibc_mutex d;
    if (p->read(p->read_ctx, word, &m, sizeof m) < 0 || pg_glibc_mutex_decode(&m, 1, &d) < 0)
        return;
    pid_t owner = d.owner;
    int kind = d.kind;
    int w = owner > 0 ? waker_of(p, owner) : PG_GW_DEAD;
    /* Without a stack that says pthread_mutex_lock, a word waited on with 2 is only a mutex when
     * the owner field names a thread of the process: internal locks of libc look the same. */
    if (!hinted && w < 0)
        return;
    t->wait.kind = pg_wait_name(PG_WAIT_MUTEX);
    t->wait.address = word;
    if (!pg_glibc_mutex_held(owner))
        return; /* free, or a robust mutex's special states: the lock call will return */
    t->wait.owner = owner;
    if ((kind & PG_GLIBC_MUTEX_PSHARED) && w == PG_GW_DEAD)
        return; /* process-shared: the owner may live in another process */
    if (w == PG_GW_DEAD && (kind & PG_GLIBC_MUTEX_ROBUST))
        return; /* robust: the waiter will get EOWNERDEAD */
    if (t->wait.timed || t->wait.shared)
        return;
    g->blocked = 1;
    add_waker(g, w);
}

/* glibc 2.36's rwlock: readers wait on __wrphase_futex with 1|FUTEX_USED (3) or, when writers are
 * preferred, on __readers; writers wait on __writers_futex with 3 or on __wrphase_futex with
 * FUTEX_USED (2) while readers drain. */
static void rwlock_wait(ext_proc *p, int i, uint64_t word, uint32_t val, bool write)
{
    ext_thread *t = &p->threads[i];
    uint64_t base =
        write ? (val == 2 ? word - PG_GLIBC_RWLOCK_WRPHASE_OFF : word - PG_GLIBC_RWLOCK_WRITERS_OFF)
              : (val == 3 ? word - PG_GLIBC_RWLOCK_WRPHASE_OFF : word);
    t->wait.kind = pg_wait_name(write ? PG_WAIT_RWLOCK_WRITE : PG_WAIT_RWLOCK_READ);
    t->wait.address = base;
}

static void rwlock_edges(ext_proc *p, int i, struct pg_gnode *g)
{
    ext_thread *t = &p->threads[i];
    pthread_rwlock_t copy;
    struct pg_glibc_rwlock l;
    if (p->read(p->read_ctx, t->wait.address, &copy, sizeof copy) < 0 ||
        pg_glibc_rwlock_decode(&copy, 1, &l) < 0 || l.shared || l.flags > 2)
        return;
    bool write = t->wait.kind[7] == 'w';
    pid_t writer = l.writer;
    if (writer) {
        t->wait.owner = writer;
        add_waker(g, waker_of(p, writer));
    }
    if (write) {
        /* Who holds the read locks is not written anywhere glibc keeps: only the shim sees it. */
        if (l.readers)
            add_waker(g, PG_GW_UNTRACKED);
    } else if (!writer) {
        for (size_t k = 0; k < p->nthreads; k++) {
            const ext_thread *o = &p->threads[k];
            if ((int)k != i && pg_wait_parse(o->wait.kind) == PG_WAIT_RWLOCK_WRITE &&
                o->wait.address == t->wait.address)
                add_waker(g, (int)k);
        }
    }
    if (t->wait.timed || t->wait.shared || g->nwakers == 0) {
        g->nwakers = 0;
        return;
    }
    g->blocked = 1;
}

static void classify(ext_proc *p, int i, long tid_off, struct pg_gnode *g)
{
    ext_thread *t = &p->threads[i];
    memset(&t->wait, 0, sizeof t->wait);
    if (!t->have_regs || t->sysno != SYS_futex || !interrupted(t->sysret))
        return;
    uint64_t word = t->args[0];
    int op = (int)t->args[1];
    int cmd = op & FUTEX_CMD_MASK;
    uint32_t val = (uint32_t)t->args[2];
    t->wait.timed = t->args[3] != 0;
    t->wait.shared = !(op & FUTEX_PRIVATE_FLAG);
    if (cmd == FUTEX_LOCK_PI || cmd == 13 /* FUTEX_LOCK_PI2 */) {
        uint32_t w;
        if (p->read(p->read_ctx, word, &w, sizeof w) < 0)
            return;
        pid_t owner = (pid_t)(w & FUTEX_TID_MASK);
        t->wait.kind = pg_wait_name(PG_WAIT_MUTEX);
        t->wait.address = word;
        t->wait.owner = owner;
        if (owner && !t->wait.timed && !t->wait.shared && index_of_tid(p, owner) >= 0) {
            g->blocked = 1;
            add_waker(g, index_of_tid(p, owner));
        }
        return;
    }
    if (cmd != FUTEX_WAIT && cmd != FUTEX_WAIT_BITSET && cmd != FUTEX_WAIT_REQUEUE_PI)
        return;
    uint32_t now;
    if (p->read(p->read_ctx, word, &now, sizeof now) < 0 || now != val)
        return; /* the word moved on: the restarted call returns at once */
    /* A join waits on the joined thread's tid word in its descriptor, while it still holds the tid. */
    if (tid_off >= 0) {
        for (size_t k = 0; k < p->nthreads; k++) {
            const ext_thread *o = &p->threads[k];
            if (o->have_regs && o->fs_base && word == o->fs_base + (uint64_t)tid_off &&
                val == (uint32_t)o->tid) {
                t->wait.kind = pg_wait_name(PG_WAIT_JOIN);
                t->wait.address = o->fs_base;
                t->wait.target = o->tid;
                /* glibc waits on the tid word with a shared futex because the kernel's wake at
                 * thread exit is a shared one; only that exit ends the wait. */
                t->wait.shared = false;
                if (!t->wait.timed && !t->wait.shared) {
                    g->blocked = 1;
                    add_waker(g, (int)k);
                }
                return;
            }
        }
    }
    enum hint h = stack_hint(p, t);
    if ((h == H_MUTEX || h == H_NONE) && val == 2) {
        mutex_wait(p, i, word, h == H_MUTEX, g);
        if (t->wait.kind)
            return;
    }
    if (h == H_RDLOCK || h == H_WRLOCK) {
        rwlock_wait(p, i, word, val, h == H_WRLOCK);
        return; /* edges once every thread is classified (readers kept out by writers) */
    }
    static const pg_wait_kind_t kinds[] = {
        [H_NONE] = PG_WAIT_FUTEX, [H_MUTEX] = PG_WAIT_FUTEX,     [H_COND] = PG_WAIT_COND,
        [H_SEM] = PG_WAIT_SEM,    [H_BARRIER] = PG_WAIT_BARRIER, [H_ONCE] = PG_WAIT_ONCE,
        [H_JOIN] = PG_WAIT_FUTEX, [H_RDLOCK] = PG_WAIT_FUTEX,    [H_WRLOCK] = PG_WAIT_FUTEX,
    };
    t->wait.kind = pg_wait_name(kinds[h]);
    t->wait.address = word;
    /* Anyone may signal a condition variable, post a semaphore or wake a futex. */
    if (!t->wait.timed && !t->wait.shared) {
        g->blocked = 1;
        g->any = 1;
    }
}

int ext_analyze(ext_proc *p)
{
    graph *gr = calloc(1, sizeof *gr);
    int n = (int)p->nthreads;
    if (!gr || !(gr->nodes = calloc(n ? n : 1, sizeof *gr->nodes))) {
        free(gr);
        return -ENOMEM;
    }
    p->graph = gr;
    long tid_off = find_tid_offset(p);
    for (int i = 0; i < n; i++)
        classify(p, i, tid_off, &gr->nodes[i]);
    for (int i = 0; i < n; i++) {
        const char *k = p->threads[i].wait.kind;
        if (k && !strncmp(k, "rwlock_", 7))
            rwlock_edges(p, i, &gr->nodes[i]);
    }
    int nblocked = 0;
    for (int i = 0; i < n; i++)
        nblocked += gr->nodes[i].blocked;
    gr->nfindings = 0;
    if (nblocked > 0)
        gr->nfindings = pg_graph_solve(gr->nodes, n, p->can_prove_hang, gr->findings, MAX_FINDINGS);
    else
        for (int i = 0; i < n; i++)
            gr->nodes[i].finding = gr->nodes[i].cycle_next = gr->nodes[i].waits_for = -1;
    return 0;
}

void ext_proc_release(ext_proc *p)
{
    graph *gr = p->graph;
    if (gr)
        free(gr->nodes);
    free(gr);
    p->graph = NULL;
    free(p->py);
    p->py = NULL;
}

/*
 * A CPython interpreter read from outside, once pyremote_find.c has found it: walks
 * interpreters -> thread states -> frames with the layouts of pyoffsets.h. What each frame means
 * (the thread's name, the wait it is in, the pool it works for) follows the shim's Python layer
 * (shim/python/python_read.c), recognising the standard library's functions by qualified name
 * and file instead of by identity. Nothing is written to the target.
 */
#include "pyremote_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MAX_INTERPRETERS 16
#define MAX_TSTATES 4096
#define MAX_DEPTH 4096

enum frame_kind {
    F_NONE = 0,
    F_RESULT,
    F_WAIT,
    F_AS_COMPLETED,
    F_EVENT_WAIT,
    F_COND_WAIT,
    F_SEM_ACQUIRE,
    F_BARRIER_WAIT,
    F_JOIN,
    F_QUEUE_GET,
    F_WORKER,
    F_RUN,
    F_BOOTSTRAP_INNER,
};

/* The standard library's functions, by file and qualified name. */
static const struct {
    const char *file, *qualname;
    enum frame_kind kind;
    int blocked;
} known[] = {
    { "concurrent/futures/_base.py", "Future.result", F_RESULT, PG_PY_B_FUTURE_RESULT },
    { "concurrent/futures/_base.py", "Future.exception", F_RESULT, PG_PY_B_FUTURE_RESULT },
    { "concurrent/futures/_base.py", "wait", F_WAIT, PG_PY_B_FUTURES_WAIT },
    { "concurrent/futures/_base.py", "as_completed", F_AS_COMPLETED, PG_PY_B_AS_COMPLETED },
    { "threading.py", "Event.wait", F_EVENT_WAIT, PG_PY_B_EVENT_WAIT },
    { "threading.py", "Condition.wait", F_COND_WAIT, PG_PY_B_CONDITION_WAIT },
    { "threading.py", "Condition.wait_for", F_COND_WAIT, PG_PY_B_CONDITION_WAIT },
    { "threading.py", "Semaphore.acquire", F_SEM_ACQUIRE, PG_PY_B_SEMAPHORE },
    { "threading.py", "Barrier.wait", F_BARRIER_WAIT, PG_PY_B_BARRIER },
    { "threading.py", "Thread.join", F_JOIN, PG_PY_B_THREAD_JOIN },
    { "threading.py", "Thread._bootstrap_inner", F_BOOTSTRAP_INNER, PG_PY_B_NONE },
    { "queue.py", "Queue.get", F_QUEUE_GET, PG_PY_B_QUEUE_GET },
    { "concurrent/futures/thread.py", "_worker", F_WORKER, PG_PY_B_NONE },
    { "concurrent/futures/thread.py", "_WorkItem.run", F_RUN, PG_PY_B_NONE },
};

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix) && (a == b || s[a - b - 1] == '/');
}

/* One frame as the reader sees it. */
struct frame {
    uint64_t addr, code;
    struct pg_py_func f;
    enum frame_kind kind;
    int blocked;
};

/* A local of a frame by name (its fast locals: arguments and locals), 0 when unset. */
static uint64_t frame_local(struct pyr *r, const struct frame *fr, const char *name)
{
    const struct pyoffs *o = r->o;
    int32_t n = 0;
    if (pyr_read(r, fr->code + (uint64_t)o->co_nlocals, &n, sizeof n) < 0 || n <= 0 || n > 4096)
        return 0;
    uint64_t names = pyr_ptr(r, fr->code + (uint64_t)o->co_varnames);
    if (!pyr_is(r, names, r->t_tuple))
        return 0;
    long len = pyr_seq_len(r, names);
    for (long i = 0; i < n && i < len; i++)
        if (pyr_str_eq(r, pyr_seq_item(r, names, i), name))
            return pyr_ptr(r, fr->addr + (uint64_t)o->fr_localsplus + 8 * (uint64_t)i);
    return 0;
}

/* Names the frame's function, places it in the code, and recognises the standard library's. */
static int read_frame(struct pyr *r, uint64_t addr, struct frame *fr)
{
    const struct pyoffs *o = r->o;
    memset(fr, 0, sizeof *fr);
    fr->addr = addr;
    fr->code = pyr_ptr(r, addr + (uint64_t)o->fr_code);
    if (!pyr_is(r, fr->code, r->t_code))
        return -1;
    pyr_code_names(r, fr->code, &fr->f);
    long at = -1;
    if (r->minor >= 11) {
        uint64_t ip = pyr_ptr(r, addr + (uint64_t)o->fr_lasti);
        uint64_t start = fr->code + (uint64_t)o->co_code_adaptive;
        at = ip >= start ? (long)(ip - start) : -1;
    } else {
        int32_t lasti = -1;
        pyr_read(r, addr + (uint64_t)o->fr_lasti, &lasti, sizeof lasti);
        at = r->minor == 10 ? 2L * lasti : lasti;
    }
    fr->f.line = pyr_code_line(r, fr->code, at);
    /* Before 3.11 a code object has no qualified name: a method is known by its co_name and
     * the class of its `self` (or a subclass of it). */
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
        if (!ends_with(fr->f.file, known[k].file))
            continue;
        const char *dot = strchr(known[k].qualname, '.');
        int match;
        if (r->minor <= 10 && dot) {
            char cls[64];
            snprintf(cls, sizeof cls, "%.*s", (int)(dot - known[k].qualname), known[k].qualname);
            match = !strcmp(fr->f.name, dot + 1) &&
                    pyr_is_sub_named(r, frame_local(r, fr, "self"), cls);
        } else {
            match = !strcmp(fr->f.name, known[k].qualname);
        }
        if (match) {
            fr->kind = known[k].kind;
            fr->blocked = known[k].blocked;
            break;
        }
    }
    return 0;
}

/* The frame below: f_back (to 3.10) or previous (3.11+), skipping frames that run no Python
 * code yet or belong to C (3.11+: incomplete frames, the C stack's entry frames). */
static uint64_t next_frame(struct pyr *r, uint64_t addr)
{
    return pyr_ptr(r, addr + (uint64_t)r->o->fr_back);
}

static int skip_frame(struct pyr *r, uint64_t addr)
{
    if (r->minor < 11)
        return 0;
    const struct pyoffs *o = r->o;
    char owner = 0;
    pyr_read(r, addr + (uint64_t)o->fr_owner, &owner, 1);
    if (o->fo_cstack >= 0 && owner == o->fo_cstack)
        return 1;
    uint64_t code = pyr_ptr(r, addr + (uint64_t)o->fr_code);
    if (!pyr_is(r, code, r->t_code))
        return 1;
    if (owner == o->fo_generator)
        return 0;
    int32_t first = 0;
    pyr_read(r, code + (uint64_t)o->co_firsttraceable, &first, sizeof first);
    uint64_t ip = pyr_ptr(r, addr + (uint64_t)o->fr_lasti);
    return ip < code + (uint64_t)o->co_code_adaptive + 2u * (uint64_t)first;
}

/* Thread name, daemon flag and native id from a threading.Thread object. */
static void read_thread_obj(struct pyr *r, struct pg_py_thread *th, uint64_t t)
{
    pyr_str(r, pyr_attr(r, t, "_name"), th->name, sizeof th->name, 0);
    th->daemon = pyr_attr(r, t, "_daemonic") == r->py_true;
    long nid = pyr_long(r, pyr_attr(r, t, "_native_id"), 0);
    if (!th->native_id && nid > 0)
        th->native_id = nid;
}

/* A ThreadPoolExecutor worker: its _worker frame's executor_reference and work_queue. */
static void read_worker(struct pyr *r, struct pg_py_thread *th, const struct frame *fr)
{
    uint64_t ref = frame_local(r, fr, "executor_reference");
    uint64_t queue = frame_local(r, fr, "work_queue");
    uint64_t ex = pyr_is(r, ref, r->t_weakref) ? pyr_ptr(r, ref + (uint64_t)r->o->wr_object) : 0;
    if (!ex || ex == r->none || !pyr_is_sub_named(r, ex, "ThreadPoolExecutor"))
        return;
    th->executor = pyr_executor_index(r, ex, queue);
    if (th->executor >= 0) {
        th->executor_addr = ex;
        r->st->executors[th->executor].nworkers_seen++;
    }
}

static void read_task(struct pyr *r, struct pg_py_thread *th, const struct frame *fr)
{
    uint64_t item = frame_local(r, fr, "self");
    if (!item || !pyr_is_sub_named(r, item, "_WorkItem"))
        return;
    th->work_item = item;
    th->work_future = pyr_attr(r, item, "future");
    th->has_task = pyr_describe(r, pyr_attr(r, item, "fn"), &th->task, 0);
}

static void add_waits_cb(struct pyr *r, uint64_t fut, void *arg)
{
    pyr_add_wait(r, arg, fut);
}

static void read_wait(struct pyr *r, struct pg_py_thread *th, const struct frame *fr)
{
    uint64_t timeout = frame_local(r, fr, "timeout");
    th->timed = timeout && timeout != r->none;
    if (fr->kind == F_QUEUE_GET || fr->kind == F_SEM_ACQUIRE) {
        uint64_t b = frame_local(r, fr, fr->kind == F_QUEUE_GET ? "block" : "blocking");
        if (b == r->py_false)
            th->blocked = PG_PY_B_NONE;
    }
    if (fr->kind == F_RESULT) {
        pyr_add_wait(r, th, frame_local(r, fr, "self"));
    } else if (fr->kind == F_WAIT || fr->kind == F_AS_COMPLETED) {
        uint64_t set = frame_local(r, fr, fr->kind == F_WAIT ? "not_done" : "pending");
        if (pyr_is(r, set, r->t_set))
            pyr_set_each(r, set, 1024, add_waits_cb, th);
    }
}

static void walk_stack(struct pyr *r, struct pg_py_thread *th, uint64_t top)
{
    struct frame fr, waitfr = { 0 }, runfr = { 0 }, workerfr = { 0 };
    int chain = 1, have_wait = 0, have_run = 0, have_worker = 0;
    uint64_t slow = top;
    long steps = 0;
    for (uint64_t f = top; f && steps < MAX_DEPTH; f = next_frame(r, f)) {
        /* A cycle in a garbage chain: a second pointer follows at half speed. */
        if (++steps > 1 && f == slow)
            break;
        if (!(steps & 1))
            slow = next_frame(r, slow);
        if (skip_frame(r, f) || read_frame(r, f, &fr) < 0)
            continue;
        if (th->nframes < PG_PY_MAX_FRAMES)
            th->frames[th->nframes++] = fr.f;
        if (chain && fr.blocked != PG_PY_B_NONE) {
            th->blocked = fr.blocked;
            waitfr = fr;
            have_wait = 1;
        } else if (chain && fr.kind == F_WORKER && th->depth == 0) {
            th->blocked = PG_PY_B_WORKER_IDLE; /* waiting for work in SimpleQueue.get */
            chain = 0;
        } else {
            chain = 0;
        }
        if (fr.kind == F_RUN && !have_run)
            runfr = fr, have_run = 1;
        if (fr.kind == F_WORKER && !have_worker)
            workerfr = fr, have_worker = 1;
        if (fr.kind == F_BOOTSTRAP_INNER)
            read_thread_obj(r, th, frame_local(r, &fr, "self"));
        th->depth++;
    }
    if (have_worker)
        read_worker(r, th, &workerfr);
    if (have_wait)
        read_wait(r, th, &waitfr);
    if (have_run)
        read_task(r, th, &runfr);
}

/* The tid of the thread whose pthread_t is ident (glibc: its thread pointer). */
static pid_t tid_of(const ext_proc *p, unsigned long ident)
{
    for (size_t i = 0; i < p->nthreads; i++)
        if (p->threads[i].fs_base == ident)
            return p->threads[i].tid;
    return 0;
}

static void read_tstate(struct pyr *r, uint64_t ts, unsigned long main_ident)
{
    struct pg_py_state *st = r->st;
    const struct pyoffs *o = r->o;
    if (st->nthreads == PG_PY_MAX_THREADS) {
        st->threads_dropped++;
        return;
    }
    struct pg_py_thread *th = &st->threads[st->nthreads++];
    memset(th, 0, sizeof *th);
    th->executor = -1;
    th->work_job = -1;
    th->ident = (unsigned long)pyr_ptr(r, ts + (uint64_t)o->ts_thread_id);
    th->native_id = tid_of(r->p, th->ident);
    if (!th->native_id && o->ts_native_thread_id >= 0)
        th->native_id = (long)pyr_i64(r, ts + (uint64_t)o->ts_native_thread_id, 0);
    if (th->ident && th->ident == main_ident)
        snprintf(th->name, sizeof th->name, "MainThread");
    uint64_t top = pyr_ptr(r, ts + (uint64_t)o->ts_frame);
    if (r->minor == 11 || r->minor == 12)
        top = top ? pyr_ptr(r, top + (uint64_t)o->cframe_current_frame) : 0;
    walk_stack(r, th, top);
}

int pyr_read_runtime(struct pyr *r, uint64_t runtime)
{
    const struct pyoffs *o = r->o;
    uint64_t interp = pyr_ptr(r, runtime + (uint64_t)o->runtime_interp_head);
    unsigned long main_ident =
        (unsigned long)pyr_ptr(r, runtime + (uint64_t)o->runtime_main_thread);
    if (!interp)
        return -EAGAIN; /* not initialised yet, or finalized */
    for (int i = 0; interp && i < MAX_INTERPRETERS; i++) {
        /* The list is newest first: read it oldest first, so that the main thread and the
         * first workers are those kept when there are more threads than the state holds. */
        static uint64_t ts[MAX_TSTATES];
        int n = 0;
        for (uint64_t t = pyr_ptr(r, interp + (uint64_t)o->interp_threads_head);
             t && n < MAX_TSTATES; t = pyr_ptr(r, t + (uint64_t)o->ts_next)) {
            if (n > 0 && t == ts[n / 2])
                break; /* a cycle: garbage, or a list changing under a core */
            ts[n++] = t;
        }
        while (n > 0)
            read_tstate(r, ts[--n], main_ident);
        interp = pyr_ptr(r, interp + (uint64_t)o->interp_next);
    }
    for (int i = 0; i < r->st->nexecutors; i++)
        pyr_read_executor(r, i);
    pyr_scan_queues(r);
    pyr_link_running(r);
    return r->budget > 0 ? 0 : -E2BIG;
}

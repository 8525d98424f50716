/*
 * A CPython interpreter read from outside (pyremote.h). Finds _PyRuntime and the interpreter's
 * type objects among the exported symbols of the modules libdw knows (libpython3.X.so, or the
 * executable when it links libpython statically, as Debian's python3 does), takes the version
 * from Py_Version (3.11+) or the module's file name, and walks interpreters -> thread states ->
 * frames with the layouts of pyoffsets.h. What each frame means (the thread's name, the wait it
 * is in, the pool it works for) follows the shim's Python layer (shim/python/python_read.c),
 * recognising the standard library's functions by qualified name and file instead of by
 * identity. Nothing is written to the target.
 */
#include "pyremote_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_INTERPRETERS 16
#define MAX_TSTATES 4096
#define MAX_DEPTH 4096

/* --- finding the interpreter --- */

struct syms {
    uint64_t runtime, version, code, str, int_, tuple, dict, set, list, weakref, function, method,
        none, t, f;
    int minor_from_name;
};

static const struct {
    const char *name;
    size_t off;
} wanted[] = {
    { "_PyRuntime", offsetof(struct syms, runtime) },
    { "Py_Version", offsetof(struct syms, version) },
    { "PyCode_Type", offsetof(struct syms, code) },
    { "PyUnicode_Type", offsetof(struct syms, str) },
    { "PyLong_Type", offsetof(struct syms, int_) },
    { "PyTuple_Type", offsetof(struct syms, tuple) },
    { "PyDict_Type", offsetof(struct syms, dict) },
    { "PySet_Type", offsetof(struct syms, set) },
    { "PyList_Type", offsetof(struct syms, list) },
    { "_PyWeakref_RefType", offsetof(struct syms, weakref) },
    { "PyFunction_Type", offsetof(struct syms, function) },
    { "PyMethod_Type", offsetof(struct syms, method) },
    { "_Py_NoneStruct", offsetof(struct syms, none) },
    { "_Py_TrueStruct", offsetof(struct syms, t) },
    { "_Py_FalseStruct", offsetof(struct syms, f) },
};

static int minor_of_name(const char *path)
{
    const char *b = path ? strrchr(path, '/') : NULL;
    b = b ? b + 1 : path;
    int minor = 0;
    if (b && (sscanf(b, "libpython3.%d", &minor) == 1 || sscanf(b, "python3.%d", &minor) == 1))
        return minor;
    return 0;
}

static int sym_cb(Dwfl_Module *m, void **ud, const char *name, Dwarf_Addr start, void *arg)
{
    (void)ud, (void)start;
    struct syms *s = arg;
    const char *file = NULL;
    dwfl_module_info(m, NULL, NULL, NULL, NULL, NULL, &file, NULL);
    int minor = minor_of_name(name);
    if (!minor)
        minor = minor_of_name(file);
    /* libpython, or an executable that may carry it: only those are searched. */
    const char *b = name ? strrchr(name, '/') : NULL;
    b = b ? b + 1 : name;
    if (!minor && !(b && strstr(b, "python")) && !(file && strstr(file, "python")))
        return DWARF_CB_OK;
    int n = dwfl_module_getsymtab(m);
    int found = 0;
    for (int i = 0; i < n; i++) {
        GElf_Sym sym;
        GElf_Addr addr;
        const char *sn = dwfl_module_getsym_info(m, i, &sym, &addr, NULL, NULL, NULL);
        if (!sn || sym.st_shndx == SHN_UNDEF || addr == 0 || (sn[0] != '_' && sn[0] != 'P'))
            continue;
        for (size_t k = 0; k < sizeof wanted / sizeof wanted[0]; k++)
            if (!strcmp(sn, wanted[k].name)) {
                uint64_t *slot = (uint64_t *)((char *)s + wanted[k].off);
                if (!*slot)
                    *slot = addr;
                found = 1;
            }
    }
    if (found && s->runtime && minor)
        s->minor_from_name = minor;
    return s->runtime ? DWARF_CB_ABORT : DWARF_CB_OK;
}

/* --- frames --- */

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

/* The start of 3.13's _Py_DebugOffsets, at the start of _PyRuntime (Include/internal/
 * pycore_runtime.h): offsets the interpreter publishes for outside readers. Every field is a
 * uint64_t, so the layout is the order. */
struct debug_offsets {
    char cookie[8]; /* "xdebugpy" */
    uint64_t version, free_threaded;
    uint64_t rt_size, rt_finalizing, rt_interpreters_head;
    uint64_t is_size, is_id, is_next, is_threads_head, is_rest[9];
    uint64_t ts_size, ts_prev, ts_next, ts_interp, ts_current_frame, ts_thread_id,
        ts_native_thread_id, ts_rest[2];
    uint64_t fr_size, fr_previous, fr_executable, fr_instr_ptr, fr_localsplus, fr_owner;
    uint64_t co_size, co_filename, co_name, co_qualname, co_linetable, co_firstlineno;
};

/* 3.13+: the table's row agrees with what the interpreter publishes of itself, and the build
 * is not free-threaded (whose objects have another header). */
static int debug_offsets_agree(struct pyr *r, uint64_t runtime)
{
    struct debug_offsets d;
    const struct pyoffs *o = r->o;
    if (pyr_read(r, runtime, &d, sizeof d) < 0 || memcmp(d.cookie, "xdebugpy", 8) != 0)
        return 0;
    return !d.free_threaded && d.rt_interpreters_head == (uint64_t)o->runtime_interp_head &&
           d.is_next == (uint64_t)o->interp_next &&
           d.is_threads_head == (uint64_t)o->interp_threads_head &&
           d.ts_next == (uint64_t)o->ts_next && d.ts_current_frame == (uint64_t)o->ts_frame &&
           d.ts_thread_id == (uint64_t)o->ts_thread_id &&
           d.ts_native_thread_id == (uint64_t)o->ts_native_thread_id &&
           d.fr_previous == (uint64_t)o->fr_back && d.fr_executable == (uint64_t)o->fr_code &&
           d.fr_instr_ptr == (uint64_t)o->fr_lasti &&
           d.fr_localsplus == (uint64_t)o->fr_localsplus && d.fr_owner == (uint64_t)o->fr_owner &&
           d.co_filename == (uint64_t)o->co_filename && d.co_name == (uint64_t)o->co_name &&
           d.co_qualname == (uint64_t)o->co_qualname &&
           d.co_linetable == (uint64_t)o->co_linetable &&
           d.co_firstlineno == (uint64_t)o->co_firstlineno;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int ext_read_python(ext_proc *p, struct pg_py_state *out)
{
    memset(out, 0, sizeof *out);
    if (!p->dwfl || !p->read)
        return -ENOENT;
    uint64_t t0 = now_ns();
    struct syms s;
    memset(&s, 0, sizeof s);
    dwfl_getmodules(p->dwfl, sym_cb, &s, 0);
    if (!s.runtime)
        return -ENOENT;
    static struct pyr r;
    memset(&r, 0, sizeof r);
    r.p = p;
    r.budget = PYR_READ_BUDGET;
    r.st = out;
    int minor = s.minor_from_name, micro = -1;
    if (s.version) {
        uint64_t hex = 0;
        if (pyr_read(&r, s.version, &hex, 4) == 0 && (hex >> 24) == 3) {
            out->hexversion = (unsigned)hex;
            minor = (int)(hex >> 16 & 0xff);
            micro = (int)(hex >> 8 & 0xff);
        }
    }
    if (micro >= 0)
        snprintf(out->version, sizeof out->version, "3.%d.%d", minor, micro);
    else if (minor)
        snprintf(out->version, sizeof out->version, "3.%d", minor);
    if (!out->hexversion && minor)
        out->hexversion = 0x03000000u | (unsigned)minor << 16;
    r.o = pyoff_for_minor(minor);
    if (!r.o || !s.code || !s.str || !s.tuple || !s.dict)
        return -ENOTSUP;
    r.minor = minor;
    r.t_code = s.code, r.t_str = s.str, r.t_int = s.int_, r.t_tuple = s.tuple, r.t_dict = s.dict;
    r.t_set = s.set, r.t_list = s.list, r.t_weakref = s.weakref, r.t_function = s.function;
    r.t_method = s.method, r.none = s.none, r.py_true = s.t, r.py_false = s.f;
    if (minor >= 13 && !debug_offsets_agree(&r, s.runtime))
        return -ENOTSUP;
    int rc = pyr_read_runtime(&r, s.runtime);
    out->read_ns = now_ns() - t0;
    return rc == -E2BIG ? 0 : rc; /* out of budget: what was read stands */
}

/* A test aid: the whole reading as the shim's Python layer writes it (python_json.c), with the
 * reader's status, to the file $POOLGUARD_ATTACH_PYJSON names. */
static void dump_json(const char *path, int status, const struct pg_py_state *st)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    static char buf[1 << 16];
    struct pg_jw w;
    pg_jw_init(&w, fd, buf, sizeof buf);
    pg_jw_obj(&w);
    pg_jw_key(&w, "status"), pg_jw_int(&w, status);
    pg_jw_key(&w, "python");
    pg_py_write_json(&w, st);
    pg_jw_obj_end(&w);
    pg_jw_line(&w);
    close(fd);
}

void ext_python(ext_proc *p)
{
    free(p->py);
    p->py = calloc(1, sizeof *p->py);
    if (!p->py) {
        p->py_status = -ENOMEM;
        return;
    }
    p->py_status = ext_read_python(p, p->py);
    const char *dump = getenv("POOLGUARD_ATTACH_PYJSON");
    if (dump && dump[0])
        dump_json(dump, p->py_status, p->py);
    if (p->py_status == -ENOTSUP)
        fprintf(stderr,
                "poolguard: warning: %s: CPython %s is not read from outside (3.8 to 3.13 are): "
                "no Python threads in the report\n",
                p->source, p->py->version[0] ? p->py->version : "of an unknown version");
    else if (p->py_status < 0 && p->py_status != -ENOENT)
        fprintf(stderr, "poolguard: warning: %s: the CPython interpreter could not be read (%s)\n",
                p->source, strerror(-p->py_status));
    if (p->py_status < 0) {
        free(p->py);
        p->py = NULL;
    }
}

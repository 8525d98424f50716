/*
 * The text report, for people, read top-down like a kernel lockdep splat: a headline in the
 * user's words, the cycle drawn as a chain, then each thread: what it waits on and for how long,
 * what it holds and where it took it, its stack with file:line (shim/libc frames folded away).
 * In a Python thread the Python stack is the stack, the interpreter's native frames one line
 * (--native shows them). Colour and the width to wrap to are decided by the caller (a terminal,
 * NO_COLOR); here they are only applied.
 */
#include "render.h"

#include "analyze.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct tctx {
    FILE *out;
    const render_opts *o;
} tctx;

static void print_finding(tctx *c, const pg_finding *f);
static void print_snapshot(tctx *c, const pg_snapshot *s);

static const char *C(const tctx *c, const char *code)
{
    return c->o->color ? code : "";
}
#define RESET "\033[0m"
#define BOLD "\033[1m"
#define DIM "\033[2m"
#define RED "\033[31m"
#define YELLOW "\033[33m"
#define CYAN "\033[36m"

static const char *sev_colour(pg_severity s)
{
    return s == PG_SEV_ERROR ? RED BOLD : s == PG_SEV_WARNING ? YELLOW BOLD : CYAN;
}

static void print_frame(tctx *c, size_t idx, const pg_frame *f, const char *indent)
{
    fprintf(c->out, "%s#%-2zu ", indent, idx);
    /* C++ template names can run to kilobytes; the JSON report keeps them whole. */
    if (f->function && strlen(f->function) > 160)
        fprintf(c->out, "%s%.157s...%s", C(c, BOLD), f->function, C(c, RESET));
    else if (f->function)
        fprintf(c->out, "%s%s%s", C(c, BOLD), f->function, C(c, RESET));
    else if (f->module)
        fprintf(c->out, "%s+0x%" PRIx64, f->module, f->offset);
    else
        fprintf(c->out, "0x%" PRIx64, f->pc);
    if (f->file)
        fprintf(c->out, " at %s:%u", render_short_path(f->file), f->line);
    else if (f->function && f->module) {
        const char *b = strrchr(f->module, '/');
        fprintf(c->out, " in %s", b ? b + 1 : f->module);
    }
    if (f->inlined)
        fprintf(c->out, " (inlined)");
    fputc('\n', c->out);
}

/* Consecutive folded frames become one line naming their modules. */
static void print_folded(tctx *c, const pg_frame *fr, size_t n, const char *indent,
                         const char *what)
{
    char mods[256] = "";
    for (size_t i = 0; i < n; i++) {
        /* Python frames have no module: their file names the library. */
        const char *m = fr[i].module ? fr[i].module : fr[i].file;
        const char *b = m ? strrchr(m, '/') : NULL;
        b = b ? b + 1 : m ? m : "?";
        if (!strstr(mods, b) && strlen(mods) + strlen(b) + 3 < sizeof mods) {
            if (*mods)
                strcat(mods, ", ");
            strcat(mods, b);
        }
    }
    fprintf(c->out, "%s%s... %zu %sframe%s in %s%s\n", indent, C(c, DIM), n, what, n == 1 ? "" : "s",
            mods, C(c, RESET));
}

/* Hidden in the text report: shim/libc/loader frames always; library frames above the
 * program's first own frame (the program's own frames come first); and longer runs of library
 * frames between own frames. --all-frames shows everything. */
static bool hide_frame(const tctx *c, const pg_stack *s, size_t i, size_t first_own)
{
    const pg_frame *f = &s->frames[i];
    if (c->o->all_frames || f->own)
        return false;
    if (f->folded)
        return true;
    if (first_own == SIZE_MAX)
        return false; /* no own frame at all: show what there is */
    if (i < first_own)
        return true;
    size_t a = i, b = i;
    while (a > 0 && !s->frames[a - 1].own)
        a--;
    while (b + 1 < s->nframes && !s->frames[b + 1].own)
        b++;
    return b - a + 1 > 3;
}

static void print_stack(tctx *c, const pg_stack *s, const char *indent)
{
    if (s->nframes == 0) {
        fprintf(c->out, "%s(no stack recorded)\n", indent);
        return;
    }
    size_t first_own = 0;
    while (first_own < s->nframes && !s->frames[first_own].own)
        first_own++;
    if (first_own == s->nframes)
        first_own = SIZE_MAX;
    size_t i = 0, shown = 0;
    while (i < s->nframes) {
        if (hide_frame(c, s, i, first_own)) {
            size_t j = i;
            while (j < s->nframes && hide_frame(c, s, j, first_own))
                j++;
            print_folded(c, &s->frames[i], j - i, indent, "");
            i = j;
            continue;
        }
        print_frame(c, shown++, &s->frames[i], indent);
        i++;
    }
    if (s->dropped)
        fprintf(c->out, "%s... %zu more frames not recorded\n", indent, s->dropped);
}

static void print_wait(tctx *c, const pg_wait *w)
{
    if (!w->present) {
        fprintf(c->out, "    running (not blocked)\n");
        return;
    }
    fprintf(c->out, "    waits");
    if (w->since_ms >= 0)
        fprintf(c->out, " %s%" PRId64 " ms%s", C(c, BOLD), w->since_ms, C(c, RESET));
    char lock[3 * PG_MAX_STRING + 800];
    /* A join is identified by its target thread, not by an address. */
    if (pg_wait_parse(w->kind) == PG_WAIT_JOIN)
        snprintf(lock, sizeof lock, "%s", render_wait_words(w->kind));
    else
        describe_lock(w->name, w->kind, w->address, lock, sizeof lock);
    fprintf(c->out, " %s %s", w->timed ? "(timed, retrying) on" : "on", lock);
    if (w->owner >= 0)
        fprintf(c->out, ", held by tid %ld", w->owner);
    if (w->target >= 0)
        fprintf(c->out, ", for thread %ld to finish", w->target);
    fputc('\n', c->out);
}

/* " at file:line" or " in module" for a frame, into buf. */
static const char *frame_where(const pg_frame *f, char *buf, size_t len)
{
    if (f->file)
        snprintf(buf, len, " at %s:%u", render_short_path(f->file), f->line);
    else if (f->module) {
        const char *b = strrchr(f->module, '/');
        snprintf(buf, len, " in %s", b ? b + 1 : f->module);
    } else
        buf[0] = '\0';
    return buf;
}

/*
 * A pool worker: the task it runs is the program's own code below the frame where it blocks and
 * above its thread routine; say which task that is and where it blocks. A task that blocks in
 * its own frame (no helper between) is both.
 */
static void print_worker_task(tctx *c, const pg_pool *p, const pg_mthread *t, const char *routine)
{
    const pg_stack *st = t->python.nframes ? &t->python : &t->stack;
    const pg_frame *own[3];
    size_t nown = 0;
    for (size_t i = 0; i < st->nframes && nown < 3; i++) {
        const pg_frame *f = &st->frames[i];
        if (!f->own || f->folded || !f->function)
            continue;
        if (nown > 0 && routine && strcmp(f->function, routine) == 0)
            break;
        own[nown++] = f;
    }
    /* The exact layer names the task's function: that is the task, wherever the stack says
     * it blocks; its line is where the stack passes through it, else where it starts. */
    const char *fn = describe_function(&t->task_function);
    const pg_frame *task = nown > 1 ? own[1] : nown ? own[0] : NULL;
    const pg_py_task *py = describe_py_task(p, t);
    if (fn)
        task = &t->task_function.sym.frames[t->task_function.sym.nframes - 1];
    else if (py && py->task.function) {
        /* The interpreter names the task's function (a Python function has no address). */
        fn = py->task.function;
        task = &py->task;
    }
    if (fn) {
        for (size_t i = 0; i < st->nframes; i++)
            if (st->frames[i].function && strcmp(st->frames[i].function, fn) == 0) {
                task = &st->frames[i];
                break;
            }
    }
    if (!task)
        return;
    char where[PG_MAX_STRING + 32], addr[40] = "";
    if (t->has_task)
        snprintf(addr, sizeof addr, "task 0x%" PRIx64 ": ", t->task);
    fprintf(c->out, "    runs %s%s%s%s%s", addr, C(c, BOLD), task->function, C(c, RESET),
            frame_where(task, where, sizeof where));
    if (nown > 2 && !fn)
        fprintf(c->out, ", called from %s", own[2]->function);
    fputc('\n', c->out);
    if (nown == 0)
        return;
    if (t->blocked.present)
        fprintf(c->out, "    blocks in %s%s%s%s\n", C(c, BOLD), own[0]->function, C(c, RESET),
                frame_where(own[0], where, sizeof where));
}

/* "submitted task 0x... (child_task) to its own pool before this wait; it is still queued,
 * 2nd in line". */
static void print_submitted_task(tctx *c, const pg_pool *p, const pg_mthread *t)
{
    const pg_task_ref *s = &t->submitted_task;
    /* The task it waits for says the same, and more. */
    if (!s->present || (t->waits_for_task.present && t->waits_for_task.address == s->address))
        return;
    const char *name = describe_task_name(p, &s->function, s->address);
    char pos[32];
    fprintf(c->out, "    submitted task 0x%" PRIx64 "%s%s%s%s%s to its own pool before this wait; "
            "it is %sstill queued%s", s->address, name ? " (" : "", C(c, BOLD), name ? name : "",
            C(c, RESET), name ? ")" : "", C(c, BOLD), C(c, RESET));
    if (s->position > 0)
        fprintf(c->out, ", %s in line", describe_ordinal(s->position, pos, sizeof pos));
    fputc('\n', c->out);
}

static void print_task_wait(tctx *c, const pg_pool *p, const pg_mthread *t)
{
    const pg_task_wait *w = &t->waits_for_task;
    if (!w->present)
        return;
    const char *name = describe_task_name(p, &w->function, w->address);
    fprintf(c->out, "    waits for task 0x%" PRIx64, w->address);
    if (name)
        fprintf(c->out, " (%s%s%s)", C(c, BOLD), name, C(c, RESET));
    if (w->state && strcmp(w->state, "queued") == 0) {
        fprintf(c->out, ", which is %sstill queued%s", C(c, BOLD), C(c, RESET));
        char pos[32] = "";
        long at = describe_task_position(p, t, w->address);
        if (at > 0)
            describe_ordinal(at, pos, sizeof pos);
        if (w->has_pool)
            fprintf(c->out, " (pool 0x%" PRIx64 "%s%s%s)", w->pool, *pos ? ", " : "", pos,
                    *pos ? " in line" : "");
        else if (*pos)
            fprintf(c->out, " (%s in line)", pos);
        fprintf(c->out, " and has not started: it needs a free worker\n");
    } else if (w->state && strcmp(w->state, "running") == 0) {
        fprintf(c->out, ", which is running");
        if (w->runner >= 0)
            fprintf(c->out, " on tid %ld", w->runner);
        fputc('\n', c->out);
    } else {
        fprintf(c->out, " (its state is not known)\n");
    }
}

/* A Python worker: what it waits on, as the interpreter knows it ("waits on the future of
 * dependent_task, queued 1st in the same executor"), and where the waited functions are. */
static void print_py_task_wait(tctx *c, const pg_pool *p, const pg_mthread *t)
{
    const pg_py_task *py = describe_py_task(p, t);
    char words[3 * PG_MAX_STRING + 128], where[PG_MAX_STRING + 32];
    if (!py || !*describe_py_wait(p, py, words, sizeof words))
        return;
    fprintf(c->out, "    %s%s%s%s\n", C(c, BOLD), words, C(c, RESET),
            py->waits && py->queued_here ? ", and has not started: it needs a free worker" : "");
    if (py->waits && py->coroutine.function)
        fprintf(c->out, "      coroutine %s%s\n", py->coroutine.function,
                frame_where(&py->coroutine, where, sizeof where));
    if (py->waits && py->wait_fn.function)
        fprintf(c->out, "      %s %s%s\n", py->coroutine.function ? "which awaits" : "task",
                py->wait_fn.function, frame_where(&py->wait_fn, where, sizeof where));
}

static void print_thread_in(tctx *c, const pg_finding *f, const pg_mthread *t,
                            bool with_stack_when_running)
{
    char label[128];
    render_thread_label(t, label, sizeof label);
    bool pool = f && f->pool_info.present;
    const char *role = render_role_words(t, pool, f && f->kind_id == PG_KIND_STALL);
    fprintf(c->out, "\n  %s%s%s%s%s%s\n", C(c, BOLD), label, C(c, RESET), role ? ", " : "",
            role ? role : "", t->is_main && !(t->name && strcmp(t->name, "main") == 0) ? ", main thread" : "");
    if (t->start.nframes && t->start.frames[0].function)
        fprintf(c->out, "    started at %s\n", t->start.frames[t->start.nframes - 1].function);
    bool worker = pool && t->role_id == PG_ROLE_WORKER;
    bool submitter = pool && t->role_id == PG_ROLE_SUBMITTER;
    if (worker) {
        const char *routine = t->start.nframes ? t->start.frames[t->start.nframes - 1].function
                                               : describe_pool_routine(&f->pool_info);
        print_worker_task(c, &f->pool_info, t, routine);
    }
    if (submitter && !t->blocked.present)
        fprintf(c->out, "    running; the stack below is where it last queued work\n");
    else
        print_wait(c, &t->blocked);
    const pg_pool *p = pool ? &f->pool_info : NULL;
    print_submitted_task(c, p, t);
    print_task_wait(c, p, t);
    if (worker)
        print_py_task_wait(c, p, t);
    for (size_t i = 0; i < t->nholds; i++) {
        const pg_lock *l = &t->holds[i];
        char lock[3 * PG_MAX_STRING + 800];
        fprintf(c->out, "    holds %s", describe_lock(l->name, l->kind, l->address, lock, sizeof lock));
        /* The innermost frame of the taking call is the line the user wrote. */
        const pg_frame *f = l->where.nframes ? &l->where.frames[0] : NULL;
        if (f && f->function && f->file)
            fprintf(c->out, ", taken in %s at %s:%u", f->function, render_short_path(f->file), f->line);
        else if (f && f->function)
            fprintf(c->out, ", taken in %s", f->function);
        else if (f && f->module)
            fprintf(c->out, ", taken at %s+0x%" PRIx64, f->module, f->offset);
        fputc('\n', c->out);
    }
    if (t->python.nframes) {
        /* In a Python thread the Python stack is the program's; the native frames are the
         * interpreter running it, which no Python user acts on: one line unless --native. */
        fprintf(c->out, "    stack:\n");
        print_stack(c, &t->python, "      ");
        if (t->stack.nframes && !c->o->native && !c->o->all_frames) {
            print_folded(c, t->stack.frames, t->stack.nframes, "      ", "native ");
        } else if (t->blocked.present || with_stack_when_running) {
            fprintf(c->out, "    native stack:\n");
            print_stack(c, &t->stack, "      ");
        }
    } else if (t->blocked.present || with_stack_when_running) {
        fprintf(c->out, "    stack:\n");
        print_stack(c, &t->stack, "      ");
    }
}

static void print_thread(tctx *c, const pg_mthread *t, bool with_stack_when_running)
{
    print_thread_in(c, NULL, t, with_stack_when_running);
}

static const pg_mthread *find_thread(const pg_finding *f, long tid)
{
    for (size_t i = 0; i < f->nthreads; i++)
        if (f->threads[i].tid == tid)
            return &f->threads[i];
    return NULL;
}

static void print_cycle(tctx *c, const pg_finding *f)
{
    fprintf(c->out, "\n  the cycle:\n");
    char label[128], lock[3 * PG_MAX_STRING + 800];
    for (size_t i = 0; i < f->ncycle; i++) {
        const pg_edge *e = &f->cycle[i];
        const pg_mthread *t = find_thread(f, e->tid);
        if (t)
            render_thread_label(t, label, sizeof label);
        else
            snprintf(label, sizeof label, "tid %ld", e->tid);
        fprintf(c->out, "    %s%s%s\n", C(c, BOLD), label, C(c, RESET));
        fprintf(c->out, "      | waits on %s, held by\n",
                describe_lock(e->name, e->kind, e->address, lock, sizeof lock));
        fprintf(c->out, "      v\n");
    }
    const pg_mthread *t = find_thread(f, f->cycle[0].tid);
    if (t)
        render_thread_label(t, label, sizeof label);
    else
        snprintf(label, sizeof label, "tid %ld", f->cycle[0].tid);
    fprintf(c->out, "    %s%s%s  (back to the start)\n", C(c, BOLD), label, C(c, RESET));
}

/* How poolguard knows the pool, how sure the finding is, and what runs. */
static void print_pool_knowledge(tctx *c, const pg_pool *p)
{
    if (p->source >= 0) {
        fprintf(c->out, "    known from: ");
        if (p->source == PG_SRC_ANNOTATION)
            fprintf(c->out, "the program's annotations (poolguard.h)\n");
        else if (p->source == PG_SRC_ADAPTER)
            fprintf(c->out, "poolguard's %s adapter (the library's own bookkeeping)\n",
                    p->library ? p->library : "library");
        else if (p->source == PG_SRC_PYTHON)
            fprintf(c->out, "the Python interpreter\n");
        else
            fprintf(c->out, "inference from how its threads wait (no library or annotation "
                    "describes it)\n");
    }
    if (p->proof >= 0) {
        fprintf(c->out, "    proof: ");
        if (p->proof == PG_PROOF_GRAPH)
            fprintf(c->out, "%sthe wait-for graph%s: every worker is stuck and no thread outside "
                    "can wake one\n", C(c, BOLD), C(c, RESET));
        else if (p->proof == PG_PROOF_EXACT)
            fprintf(c->out, "%sexact%s: a worker waits on a task still queued in this pool while "
                    "every worker is blocked\n", C(c, BOLD), C(c, RESET));
        else if (p->proof == PG_PROOF_INFERRED)
            fprintf(c->out, "none, inferred from how the threads wait (a warning at most)\n");
        else
            fprintf(c->out, "none: the workers have only been blocked for long\n");
    }
    if (p->active >= 0 || p->max_workers >= 0) {
        fprintf(c->out, "    running:");
        if (p->active >= 0)
            fprintf(c->out, " %ld task%s", p->active, p->active == 1 ? "" : "s");
        if (p->max_workers >= 0)
            fprintf(c->out, "%sat most %ld worker%s at once%s", p->active >= 0 ? " (" : " ",
                    p->max_workers, p->max_workers == 1 ? "" : "s", p->active >= 0 ? ")" : "");
        fputc('\n', c->out);
    }
}

/* What the Python layer says of the pool besides the common members. */
static void print_python_pool(tctx *c, const pg_pool *p)
{
    if (p->py_kind)
        fprintf(c->out, "    class: %s\n", p->py_kind);
    if (p->prefix)
        fprintf(c->out, "    thread name prefix: %s\n", p->prefix);
    if (p->global)
        fprintf(c->out, "    held in: %s\n", p->global);
    if (p->has_loop) {
        fprintf(c->out, "    the default executor of the asyncio event loop running in ");
        if (p->loop_thread && p->loop_tid > 0)
            fprintf(c->out, "%s (tid %ld)\n", p->loop_thread, p->loop_tid);
        else if (p->loop_thread)
            fprintf(c->out, "%s\n", p->loop_thread);
        else if (p->loop_tid > 0)
            fprintf(c->out, "tid %ld\n", p->loop_tid);
        else
            fprintf(c->out, "an unnamed thread\n");
    }
    if (p->inqueue_len >= 0 || p->taskqueue_len >= 0) {
        fprintf(c->out, "    queues:");
        if (p->inqueue_len >= 0)
            fprintf(c->out, " %ld in _inqueue", p->inqueue_len);
        if (p->taskqueue_len >= 0)
            fprintf(c->out, "%s %ld in _taskqueue (a map() counts once)",
                    p->inqueue_len >= 0 ? "," : "", p->taskqueue_len);
        fputc('\n', c->out);
    }
}

/* The first tasks of the queue, next to run first, each by its function. */
static void print_queued_tasks(tctx *c, const pg_pool *p)
{
    if (!p->nqueued_tasks)
        return;
    fprintf(c->out, "    queued tasks, next to run first:\n");
    for (size_t i = 0; i < p->nqueued_tasks; i++) {
        const pg_task_ref *q = &p->queued_tasks[i];
        const char *name = describe_function(&q->function);
        char where[PG_MAX_STRING + 32] = "";
        if (name)
            frame_where(&q->function.sym.frames[q->function.sym.nframes - 1], where, sizeof where);
        if (q->position > 0)
            fprintf(c->out, "      %ld. ", q->position);
        else
            fprintf(c->out, "      -  ");
        if (name)
            fprintf(c->out, "%s%s%s%s (task 0x%" PRIx64 ")\n", C(c, BOLD), name, C(c, RESET), where,
                    q->address);
        else
            fprintf(c->out, "task 0x%" PRIx64 "\n", q->address);
    }
    long last = p->queued_tasks[p->nqueued_tasks - 1].position;
    if (p->queued > 0 && last > 0 && p->queued > last)
        fprintf(c->out, "      ... and %ld more\n", p->queued - last);
}

static void print_pool(tctx *c, const pg_finding *f)
{
    const pg_pool *p = &f->pool_info;
    char desc[1200], where[PG_MAX_STRING + 32];
    const pg_frame *created = stack_first_own_frame(&p->create_stack);
    /* "the pool: "name", 2 workers (4 declared), created in f at file:line": what is known. */
    const char *sep = " ";
    fprintf(c->out, "\n  the pool:");
    bool python = describe_is_python(p);
    if (python) {
        /* "ThreadPoolExecutor \"db\"", "asyncio's default executor (event loop in MainThread)":
         * the description names it already. */
        describe_pool(p, desc, sizeof desc);
        fprintf(c->out, " %s", strncmp(desc, "the ", 4) == 0 ? desc + 4 : desc);
        sep = ", ";
    } else if (p->library) {
        fprintf(c->out, "%s%s", sep, p->library_id == PG_LIB_LIBUV    ? "libuv threadpool"
                                     : p->library_id == PG_LIB_GLIB   ? "GThreadPool"
                                     : p->library_id == PG_LIB_PYTHON ? "ThreadPoolExecutor"
                                                                      : p->library);
        sep = ", ";
    }
    if (p->name && !python) {
        fprintf(c->out, "%s\"%s\"", sep, p->name);
        sep = ", ";
    }
    if (p->workers >= 0) {
        fprintf(c->out, "%s%ld worker%s", sep, p->workers, p->workers == 1 ? "" : "s");
        sep = ", ";
    }
    if (p->declared_workers >= 0 && p->declared_workers != p->workers)
        fprintf(c->out, " (%ld declared)", p->declared_workers);
    if (created)
        fprintf(c->out, "%screated in %s%s%s%s", sep, C(c, BOLD), created->function, C(c, RESET),
                frame_where(created, where, sizeof where));
    else if (!p->name && !p->library && strcmp(describe_pool(p, desc, sizeof desc), "the pool") != 0)
        fprintf(c->out, "%s%s", sep, desc);
    fputc('\n', c->out);
    const char *routine = describe_pool_routine(p);
    if (routine)
        fprintf(c->out, "    thread routine: %s\n", routine);
    print_pool_knowledge(c, p);
    if (python)
        print_python_pool(c, p);
    if (p->has_idle)
        fprintf(c->out, "    idle wait: %s 0x%" PRIx64 "\n", render_wait_words(p->idle_kind),
                p->idle_address);
    else if (p->annotated)
        fprintf(c->out, "    idle wait: not needed (the pool's annotations say when tasks start)\n");
    else if (p->source >= 0 && p->source != PG_SRC_INFERRED)
        fprintf(c->out, "    idle wait: not needed (the %s says when tasks start)\n",
                p->source == PG_SRC_PYTHON ? "interpreter" : "library adapter");
    else
        fprintf(c->out, "    idle wait: not known\n");
    bool exact = p->queued_exact;
    char adapter[128];
    snprintf(adapter, sizeof adapter, "poolguard's %.64s adapter", p->library ? p->library : "library");
    const char *ev = !p->evidence ? "unknown evidence"
                     : p->source == PG_SRC_ADAPTER || p->evidence_code == PG_EV_ADAPTER ? adapter
                     : p->evidence_code == PG_EV_ANNOTATION ? "the pool's annotations"
                     : p->evidence_code == PG_EV_SEMAPHORE ? "the semaphore's count"
                     : p->evidence_code == PG_EV_PYTHON ? "the interpreter"
                     : p->evidence_code == PG_EV_IDLE_SIGNALS ? "signals with no idle worker"
                     : p->evidence_code == PG_EV_STALL ? "nothing but how long the workers waited"
                     : p->evidence;
    if (p->queued > 0)
        fprintf(c->out, "    queued: %s%ld task%s, %s %s\n", exact ? "" : "about ", p->queued,
                p->queued == 1 ? "" : "s", exact ? "counted exactly by" : "estimated from", ev);
    else if (p->queued == 0)
        fprintf(c->out, "    queued: nothing%s\n", exact ? "" : " seen");
    else
        fprintf(c->out, "    queued: not known (evidence: %s)\n", ev);
    if (f->growth.present) {
        const pg_growth *g = &f->growth;
        fprintf(c->out, "    the queue grows:");
        if (g->per_second >= 0)
            fprintf(c->out, " %s+%" PRId64 " tasks per second%s", C(c, BOLD), g->per_second, C(c, RESET));
        if (g->window_ms >= 0)
            fprintf(c->out, " over %" PRId64 " ms", g->window_ms);
        if (g->depth >= 0 && g->depth != p->queued)
            fprintf(c->out, ", %s%" PRId64 " tasks deep", exact ? "" : "about ", g->depth);
        fputc('\n', c->out);
        if (g->rss_growth_kb >= 0)
            fprintf(c->out, "    the process's memory grew by %" PRId64 " kB meanwhile\n",
                    g->rss_growth_kb);
    }
    print_queued_tasks(c, p);
    /* Other members (another layer's pool description) are shown as they are. */
    const char *key;
    json_t *v;
    static const char *const known[] = { "id", "annotated", "name", "workers", "declared_workers",
                                         "start_routine", "create_stack", "idle", "queued",
                                         "queued_exact", "evidence", "library", "source", "proof",
                                         "max_workers", "active", "queued_tasks",
                                         /* The Python layer's, shown above. */
                                         "python", "kind", "prefix", "global", "asyncio_loop",
                                         "inqueue_len", "taskqueue_len", "tasks" };
    bool first = true;
    json_object_foreach(f->pool, key, v) {
        bool skip = false;
        for (size_t i = 0; i < sizeof known / sizeof *known; i++)
            skip |= strcmp(key, known[i]) == 0;
        if (skip || !(json_is_string(v) || json_is_integer(v) || json_is_boolean(v)))
            continue;
        fprintf(c->out, "%s %s=", first ? "    also:" : ",", key);
        if (json_is_string(v))
            fprintf(c->out, "%s", json_string_value(v));
        else if (json_is_integer(v))
            fprintf(c->out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        else
            fprintf(c->out, "%s", json_is_true(v) ? "yes" : "no");
        first = false;
    }
    if (!first)
        fputc('\n', c->out);
    if (p->create_stack.nframes) {
        fprintf(c->out, "    created at:\n");
        print_stack(c, &p->create_stack, "      ");
    }
}

/* Lock names in a cycle of lock orders: A, B, C, ... by first appearance. */
static void lock_name(const pg_finding *f, uint64_t addr, char *buf, size_t len)
{
    for (size_t i = 0; i < f->norder; i++)
        if (f->order[i].first == addr) {
            if (i < 26)
                snprintf(buf, len, "lock %c", (char)('A' + i));
            else
                snprintf(buf, len, "lock %zu", i + 1);
            return;
        }
    snprintf(buf, len, "lock 0x%" PRIx64, addr);
}

static void edge_label(const pg_order_edge *e, char *buf, size_t len)
{
    pg_mthread t = { .tid = e->tid, .name = e->name, .role_id = -1 };
    render_thread_label(&t, buf, len);
}

static void print_order(tctx *c, const pg_finding *f)
{
    char a[64], b[64], label[128], where[PG_MAX_STRING + 32], lock[3 * PG_MAX_STRING + 800];
    fprintf(c->out, "\n  the cycle of lock orders:\n");
    for (size_t i = 0; i < f->norder; i++) {
        const pg_order_edge *e = &f->order[i];
        lock_name(f, e->first, a, sizeof a);
        lock_name(f, e->then, b, sizeof b);
        edge_label(e, label, sizeof label);
        const pg_frame *fn = stack_first_own_frame(&e->stack);
        fprintf(c->out, "    %s%s%s: %s\n", C(c, BOLD), a, C(c, RESET),
                describe_lock(e->first_name, e->first_kind, e->first, lock, sizeof lock));
        fprintf(c->out, "      | then %s, taken by %s%s%s\n", b, label, fn ? " in " : "",
                fn ? fn->function : "");
        fprintf(c->out, "      v\n");
    }
    lock_name(f, f->order[0].first, a, sizeof a);
    fprintf(c->out, "    %s%s%s  (back to the start)\n", C(c, BOLD), a, C(c, RESET));
    for (size_t i = 0; i < f->norder; i++) {
        const pg_order_edge *e = &f->order[i];
        lock_name(f, e->first, a, sizeof a);
        lock_name(f, e->then, b, sizeof b);
        edge_label(e, label, sizeof label);
        fprintf(c->out, "\n  %s%s%s took %s, then %s\n", C(c, BOLD), label, C(c, RESET), a, b);
        /* The innermost frame of the locking call is the line the user wrote. */
        const pg_frame *fa = e->first_at.nframes ? &e->first_at.frames[0] : NULL;
        if (fa && fa->function)
            fprintf(c->out, "    took %s in %s%s%s%s\n", a, C(c, BOLD), fa->function, C(c, RESET),
                    frame_where(fa, where, sizeof where));
        else if (fa && fa->module)
            fprintf(c->out, "    took %s at %s+0x%" PRIx64 "\n", a, fa->module, fa->offset);
        fprintf(c->out, "    then took %s:\n", b);
        print_stack(c, &e->stack, "      ");
    }
}

void render_text_finding(const pg_finding *f, const render_opts *o, FILE *out)
{
    tctx c = { .out = out, .o = o };
    print_finding(&c, f);
}

static void print_finding(tctx *c, const pg_finding *f)
{
    const pg_process *p = f->proc;
    fprintf(c->out, "%s%s: %s%s in %s (pid %ld): %s\n", C(c, sev_colour(f->sev)),
            severity_name(f->sev), f->kind, C(c, RESET), render_exe_name(p), p ? p->pid : -1L,
            f->summary ? f->summary : "(no summary)");
    if (f->count > 1) {
        fprintf(c->out, "  seen %u times, in pid", f->count);
        for (size_t i = 0; i < f->npids; i++)
            fprintf(c->out, "%s %ld", i ? "," : "", f->pids[i]);
        fputc('\n', c->out);
    }
    if (f->ncycle > 0)
        print_cycle(c, f);
    else if (f->hang)
        fprintf(c->out, "\n  every thread is blocked and none is left to wake the others\n");
    if (f->norder > 0)
        print_order(c, f);
    if (f->pool_info.present)
        print_pool(c, f);
    for (size_t i = 0; i < f->nthreads; i++)
        print_thread_in(c, f, &f->threads[i], true);
    if (f->threads_dropped)
        fprintf(c->out, "\n  ... %zu more threads not shown\n", f->threads_dropped);
    fputc('\n', c->out);
}

void render_text_snapshot(const pg_snapshot *s, const render_opts *o, FILE *out)
{
    tctx c = { .out = out, .o = o };
    print_snapshot(&c, s);
}

static void print_snapshot(tctx *c, const pg_snapshot *s)
{
    size_t blocked = 0;
    for (size_t i = 0; i < s->nthreads; i++)
        blocked += s->threads[i].blocked.present;
    bool timeout = s->reason && strcmp(s->reason, "request") == 0;
    fprintf(c->out, "%s%s%s of %s (pid %ld): %zu thread%s, %zu blocked\n", C(c, CYAN BOLD),
            timeout ? "time-out snapshot" : "snapshot", C(c, RESET), render_exe_name(s->proc),
            s->proc ? s->proc->pid : -1L, s->nthreads, s->nthreads == 1 ? "" : "s", blocked);
    for (size_t i = 0; i < s->nthreads; i++)
        print_thread(c, &s->threads[i], false);
    fputc('\n', c->out);
}

/* Visible columns of s[0..n) (ANSI colour sequences take none). */
static size_t visible_len(const char *s, size_t n)
{
    size_t cols = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\033') {
            while (i < n && s[i] != 'm')
                i++;
            continue;
        }
        /* UTF-8 continuation bytes do not start a column. */
        cols += ((unsigned char)s[i] & 0xC0) != 0x80;
    }
    return cols;
}

/* One line wrapped at spaces to width columns; continuation lines are indented four more than
 * the line itself, so a wrapped sentence still reads as part of its thread or frame. A word
 * longer than the line is left whole. */
static void wrap_line(FILE *out, const char *s, size_t n, int width)
{
    size_t indent = 0;
    while (indent < n && s[indent] == ' ')
        indent++;
    size_t cont = indent + 4 < (size_t)width / 2 ? indent + 4 : indent;
    size_t room = (size_t)width, start = 0;
    bool first = true;
    while (visible_len(s + start, n - start) > room) {
        size_t brk = 0, cols = 0;
        for (size_t i = start; i < n && cols <= room; i++) {
            if (s[i] == '\033') {
                while (i < n && s[i] != 'm')
                    i++;
                continue;
            }
            if (s[i] == ' ' && i > start + (first ? indent : 0))
                brk = i;
            cols += ((unsigned char)s[i] & 0xC0) != 0x80;
        }
        if (!brk)
            break;
        fwrite(s + start, 1, brk - start, out);
        fprintf(out, "\n%*s", (int)cont, "");
        start = brk + 1;
        room = (size_t)width - cont;
        first = false;
    }
    fwrite(s + start, 1, n - start, out);
}

static int render_text_unwrapped(pg_report *r, const render_opts *o, FILE *out);

int render_text(pg_report *r, const render_opts *o, FILE *out)
{
    if (o->width <= 20)
        return render_text_unwrapped(r, o, out);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return -ENOMEM;
    int ret = render_text_unwrapped(r, o, m);
    fclose(m);
    for (size_t at = 0; at < len;) {
        const char *nl = memchr(buf + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - buf) : len;
        wrap_line(out, buf + at, end - at, o->width);
        if (nl)
            fputc('\n', out);
        at = end + 1;
    }
    free(buf);
    return ret;
}

static int render_text_unwrapped(pg_report *r, const render_opts *o, FILE *out)
{
    tctx c = { .out = out, .o = o };
    size_t n, shown = 0, dup = 0, supp = 0, base = 0, below = 0;
    unsigned errors = 0, warnings = 0, infos = 0;
    pg_finding **f = report_findings(r, &n);
    for (size_t i = 0; i < n; i++) {
        if (f[i]->duplicate)
            dup++;
        else if (f[i]->suppressed)
            supp++;
        else if (f[i]->baselined)
            base++;
        else if (render_finding_below(f[i], o))
            below++;
        if (!render_finding_visible(f[i], o))
            continue;
        print_finding(&c, f[i]);
        shown++;
        errors += f[i]->sev == PG_SEV_ERROR;
        warnings += f[i]->sev == PG_SEV_WARNING;
        infos += f[i]->sev == PG_SEV_INFO;
    }
    size_t ns;
    pg_snapshot **s = report_snapshots(r, &ns);
    for (size_t i = 0; i < ns; i++)
        print_snapshot(&c, s[i]);
    if (o->timed_out && ns > 0)
        fprintf(out, "poolguard: the program ran past its time-out without a proven deadlock; "
                "the snapshot above shows where each thread was\n");
    else if (o->timed_out)
        fprintf(out, "poolguard: the program ran past its time-out and no process answered the "
                "snapshot request (was the shim loaded?)\n");
    fprintf(out, "poolguard: %zu finding%s (%u error%s, %u warning%s", shown, shown == 1 ? "" : "s",
            errors, errors == 1 ? "" : "s", warnings, warnings == 1 ? "" : "s");
    /* Said only when there are some, so the line keeps its shape for the usual report. */
    if (infos)
        fprintf(out, ", %u info", infos);
    fputc(')', out);
    if (dup)
        fprintf(out, ", %zu repeat%s folded", dup, dup == 1 ? "" : "s");
    if (supp)
        fprintf(out, ", %zu suppressed", supp);
    if (base)
        fprintf(out, ", %zu in the baseline", base);
    if (below)
        fprintf(out, ", %zu below --min-severity", below);
    fputc('\n', out);
    return 0;
}

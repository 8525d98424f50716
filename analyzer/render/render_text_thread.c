/*
 * The text report (render_text_int.h says which file prints what): each thread, what it waits
 * on and for how long, its task when it works for a pool, what it holds and where it took it,
 * and its stack with file:line (shim/libc frames folded away). In a Python thread the Python
 * stack is the stack, the interpreter's native frames one line (--native shows them).
 * Read-only over the model.
 */
#include "render_text_int.h"

#include "analyze.h"

#include <inttypes.h>
#include <stdint.h>
#include <string.h>

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
    fprintf(c->out, "%s%s... %zu %sframe%s in %s%s\n", indent, C(c, DIM), n, what,
            n == 1 ? "" : "s", mods, C(c, RESET));
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

void text_print_stack(tctx *c, const pg_stack *s, const char *indent)
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
const char *text_frame_where(const pg_frame *f, char *buf, size_t len)
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
            text_frame_where(task, where, sizeof where));
    if (nown > 2 && !fn)
        fprintf(c->out, ", called from %s", own[2]->function);
    fputc('\n', c->out);
    if (nown == 0)
        return;
    if (t->blocked.present)
        fprintf(c->out, "    blocks in %s%s%s%s\n", C(c, BOLD), own[0]->function, C(c, RESET),
                text_frame_where(own[0], where, sizeof where));
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
    fprintf(c->out,
            "    submitted task 0x%" PRIx64 "%s%s%s%s%s to its own pool before this wait; "
            "it is %sstill queued%s",
            s->address, name ? " (" : "", C(c, BOLD), name ? name : "", C(c, RESET),
            name ? ")" : "", C(c, BOLD), C(c, RESET));
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
                text_frame_where(&py->coroutine, where, sizeof where));
    if (py->waits && py->wait_fn.function)
        fprintf(c->out, "      %s %s%s\n", py->coroutine.function ? "which awaits" : "task",
                py->wait_fn.function, text_frame_where(&py->wait_fn, where, sizeof where));
}

void text_print_thread_in(tctx *c, const pg_finding *f, const pg_mthread *t,
                          bool with_stack_when_running)
{
    char label[128];
    render_thread_label(t, label, sizeof label);
    bool pool = f && f->pool_info.present;
    const char *role = render_role_words(t, pool, f && f->kind_id == PG_KIND_STALL);
    fprintf(c->out, "\n  %s%s%s%s%s%s\n", C(c, BOLD), label, C(c, RESET), role ? ", " : "",
            role ? role : "",
            t->is_main && !(t->name && strcmp(t->name, "main") == 0) ? ", main thread" : "");
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
        fprintf(c->out, "    holds %s",
                describe_lock(l->name, l->kind, l->address, lock, sizeof lock));
        /* The innermost frame of the taking call is the line the user wrote. */
        const pg_frame *f = l->where.nframes ? &l->where.frames[0] : NULL;
        if (f && f->function && f->file)
            fprintf(c->out, ", taken in %s at %s:%u", f->function, render_short_path(f->file),
                    f->line);
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
        text_print_stack(c, &t->python, "      ");
        if (t->stack.nframes && !c->o->native && !c->o->all_frames) {
            print_folded(c, t->stack.frames, t->stack.nframes, "      ", "native ");
        } else if (t->blocked.present || with_stack_when_running) {
            fprintf(c->out, "    native stack:\n");
            text_print_stack(c, &t->stack, "      ");
        }
    } else if (t->blocked.present || with_stack_when_running) {
        fprintf(c->out, "    stack:\n");
        text_print_stack(c, &t->stack, "      ");
    }
}

void text_print_thread(tctx *c, const pg_mthread *t, bool with_stack_when_running)
{
    text_print_thread_in(c, NULL, t, with_stack_when_running);
}

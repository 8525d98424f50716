/*
 * Reads the threads of a finding or snapshot into the model: each one's stacks (native return
 * addresses; Python frames, which come named), what it is blocked on, the locks it holds with
 * their sites, and the tasks it runs, waits for or submitted. Defensive like the rest of the
 * parser (report_parse_int.h): a wrong type counts as absent, arrays are capped, and only memory
 * can fail.
 */
#include "report_parse_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A task function: an exact function address ("0x..."); absent, null or junk leaves it absent. */
static void parse_fn(json_t *v, pg_fn *fn)
{
    memset(fn, 0, sizeof *fn);
    fn->present = rp_parse_addr(v, &fn->address) && fn->address != 0;
}

/* {"address","function","state","position"}: a queued task (a pool's queued_tasks[] or a
 * thread's submitted_task). An object without a usable address is not a task. */
void rp_parse_task_ref(json_t *o, pg_task_ref *t)
{
    memset(t, 0, sizeof *t);
    t->position = -1;
    if (!json_is_object(o) || !rp_parse_addr(json_object_get(o, "address"), &t->address))
        return;
    t->present = true;
    parse_fn(json_object_get(o, "function"), &t->function);
    t->state = rp_get_str(o, "state");
    long pos = rp_get_long(o, "position", -1);
    t->position = pos >= 1 ? pos : -1;
}

/* "init_pc" and "first_taken_pc" of a lock (holds, order): absent or junk leaves them 0. */
void rp_parse_sites(json_t *o, pg_lock_sites *s)
{
    memset(s, 0, sizeof *s);
    if (!rp_parse_addr(json_object_get(o, "init_pc"), &s->init_pc))
        s->init_pc = 0;
    if (!rp_parse_addr(json_object_get(o, "first_taken_pc"), &s->first_taken_pc))
        s->first_taken_pc = 0;
}

int rp_parse_stack(json_t *arr, pg_stack *s)
{
    memset(s, 0, sizeof *s);
    if (!json_is_array(arr))
        return 0;
    size_t n = json_array_size(arr);
    size_t keep = n < PG_MAX_FRAMES ? n : PG_MAX_FRAMES;
    s->dropped = n - keep;
    if (keep == 0)
        return 0;
    s->pcs = calloc(keep, sizeof *s->pcs);
    if (!s->pcs)
        return -ENOMEM;
    for (size_t i = 0; i < keep; i++) {
        uint64_t pc;
        /* "..." or junk in a stack is skipped rather than shown as address 0. */
        if (rp_parse_addr(json_array_get(arr, i), &pc))
            s->pcs[s->npcs++] = pc;
    }
    return 0;
}

/* Is this Python file the interpreter's library or an installed package, not the program? The
 * standard library lives in <prefix>/lib/pythonX.Y/ wherever the interpreter is installed
 * (/usr, /usr/local, pyenv, a virtualenv's base); frozen modules have no path at all. */
bool rp_python_library_file(const char *file)
{
    if (file[0] == '<')
        return true;
    if (strstr(file, "/site-packages/") || strstr(file, "/dist-packages/"))
        return true;
    for (const char *p = strstr(file, "/lib/python"); p; p = strstr(p + 1, "/lib/python")) {
        const char *v = p + strlen("/lib/python");
        if (*v >= '0' && *v <= '9')
            return true;
    }
    return false;
}

/* Python frames come named already: {"function","file","line"}, innermost first. */
static int parse_python_stack(json_t *arr, pg_stack *s)
{
    memset(s, 0, sizeof *s);
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return 0;
    size_t n = json_array_size(arr);
    size_t keep = n < PG_MAX_FRAMES ? n : PG_MAX_FRAMES;
    s->dropped = n - keep;
    s->frames = calloc(keep, sizeof *s->frames);
    if (!s->frames)
        return -ENOMEM;
    for (size_t i = 0; i < keep; i++) {
        json_t *e = json_array_get(arr, i);
        if (!json_is_object(e))
            continue;
        pg_frame *f = &s->frames[s->nframes++];
        f->function = rp_get_str(e, "function");
        f->file = rp_get_str(e, "file");
        long line = rp_get_long(e, "line", 0);
        f->line = line > 0 ? (unsigned)line : 0;
        /* The standard library and installed packages are not the program's own code. */
        f->own = !f->file || !rp_python_library_file(f->file);
    }
    return 0;
}

static int parse_thread(json_t *o, pg_mthread *t)
{
    memset(t, 0, sizeof *t);
    t->tid = rp_get_long(o, "tid", -1);
    t->name = rp_get_str(o, "name");
    t->role = rp_get_str(o, PG_K_ROLE);
    t->role_id = pg_role_parse(t->role);
    t->is_main = json_is_true(json_object_get(o, "main"));
    t->has_start = rp_parse_addr(json_object_get(o, "start_routine"), &t->start_routine);
    t->blocked.since_ms = -1;
    t->blocked.owner = -1;
    t->blocked.target = -1;
    json_t *b = json_object_get(o, "blocked_on");
    if (json_is_object(b)) {
        t->blocked.present = true;
        t->blocked.kind = rp_get_str(b, "kind");
        t->blocked.address = rp_get_addr(b, "address");
        t->blocked.timed = json_is_true(json_object_get(b, "timed"));
        t->blocked.since_ms = rp_get_i64(b, "since_ms", -1);
        t->blocked.owner = rp_get_long(b, "owner", -1);
        t->blocked.target = rp_get_long(b, "target", -1);
    }
    json_t *h = json_object_get(o, "holds");
    if (json_is_array(h) && json_array_size(h) > 0) {
        size_t n = json_array_size(h);
        if (n > PG_MAX_HOLDS)
            n = PG_MAX_HOLDS;
        t->holds = calloc(n, sizeof *t->holds);
        if (!t->holds)
            return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_array_get(h, i);
            if (!json_is_object(e))
                continue;
            pg_lock *l = &t->holds[t->nholds++];
            l->kind = rp_get_str(e, "kind");
            l->address = rp_get_addr(e, "address");
            l->has_pc = rp_parse_addr(json_object_get(e, "pc"), &l->pc);
            rp_parse_sites(e, &l->sites);
        }
    }
    t->has_task = rp_parse_addr(json_object_get(o, "task"), &t->task);
    json_t *wt = json_object_get(o, "waits_for_task");
    t->waits_for_task.runner = -1;
    if (json_is_object(wt)) {
        pg_task_wait *w = &t->waits_for_task;
        w->present = true;
        w->address = rp_get_addr(wt, "address");
        w->state = rp_get_str(wt, "state");
        w->has_pool = rp_parse_addr(json_object_get(wt, "pool"), &w->pool);
        w->runner = rp_get_long(wt, "runner", -1);
        parse_fn(json_object_get(wt, "function"), &w->function);
    }
    parse_fn(json_object_get(o, "task_function"), &t->task_function);
    rp_parse_task_ref(json_object_get(o, "submitted_task"), &t->submitted_task);
    json_t *py = json_object_get(o, "python");
    if (json_is_object(py))
        t->python_info = json_incref(py);
    if (rp_parse_stack(json_object_get(o, "stack"), &t->stack) < 0 ||
        rp_parse_stack(json_object_get(o, "create_stack"), &t->create_stack) < 0 ||
        parse_python_stack(json_object_get(o, "python_stack"), &t->python) < 0)
        return -ENOMEM;
    return 0;
}

int rp_parse_threads(json_t *arr, pg_mthread **out, size_t *n, size_t *dropped)
{
    *out = NULL;
    *n = 0;
    *dropped = 0;
    if (!json_is_array(arr))
        return 0;
    size_t total = json_array_size(arr);
    size_t keep = total < PG_MAX_THREADS ? total : PG_MAX_THREADS;
    *dropped = total - keep;
    if (keep == 0)
        return 0;
    *out = calloc(keep, sizeof **out);
    if (!*out)
        return -ENOMEM;
    for (size_t i = 0; i < keep; i++) {
        json_t *e = json_array_get(arr, i);
        if (!json_is_object(e))
            continue;
        int r = parse_thread(e, &(*out)[*n]);
        (*n)++;
        if (r < 0)
            return r;
    }
    return 0;
}

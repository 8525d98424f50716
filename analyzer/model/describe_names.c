/*
 * The names a finding's sentence gives things (analyze.h): a frame or a call as the program
 * spells it, a task by its function, an ordinal, and a pool by its library and where the program
 * created it (or by the name its annotations gave it), a Python pool by its kind. Reads
 * symbolized frames; writes only into the caller's buffer.
 */
#include "analyze.h"

#include <string.h>

const pg_frame *stack_first_own_frame(const pg_stack *s)
{
    for (size_t i = 0; i < s->nframes; i++)
        if (s->frames[i].own && !s->frames[i].folded && s->frames[i].function)
            return &s->frames[i];
    return NULL;
}

/* "f()" for a C name, the demangled name as it is for C++ ("ns::Pool::start(int)"). */
const char *describe_call(const char *function, char *buf, size_t len)
{
    if (!function)
        snprintf(buf, len, "?");
    else if (strchr(function, '('))
        snprintf(buf, len, "%s", function);
    else
        snprintf(buf, len, "%s()", function);
    return buf;
}

const char *describe_pool_routine(const pg_pool *p)
{
    /* An address can give several frames (inlining): the outermost is the function itself. */
    if (!p->start.nframes)
        return NULL;
    return p->start.frames[p->start.nframes - 1].function;
}

const char *describe_function(const pg_fn *fn)
{
    if (!fn->present || !fn->sym.nframes)
        return NULL;
    return fn->sym.frames[fn->sym.nframes - 1].function;
}

const char *describe_ordinal(long n, char *buf, size_t len)
{
    const char *suffix = "th";
    if (n % 100 < 11 || n % 100 > 13)
        suffix = n % 10 == 1 ? "st" : n % 10 == 2 ? "nd" : n % 10 == 3 ? "rd" : "th";
    snprintf(buf, len, "%ld%s", n, suffix);
    return buf;
}

const char *describe_frame(const pg_frame *f, char *buf, size_t len)
{
    char call[512];
    describe_call(f->function, call, sizeof call);
    const char *base = f->file ? strrchr(f->file, '/') : NULL;
    base = base ? base + 1 : f->file;
    if (base && f->line)
        snprintf(buf, len, "%s at %s:%u", call, base, f->line);
    else if (base)
        snprintf(buf, len, "%s in %s", call, base);
    else
        snprintf(buf, len, "%s", call);
    return buf;
}

bool describe_is_python(const pg_pool *p)
{
    return p->library_id == PG_LIB_PYTHON;
}

static bool is_mp_threadpool(const pg_pool *p)
{
    return p->py_kind && strcmp(p->py_kind, "multiprocessing.pool.ThreadPool") == 0;
}

const char *describe_pool_word(const pg_pool *p)
{
    return is_mp_threadpool(p) ? "pool" : "executor";
}

/* A Python pool by its kind, in the program's terms: "the ThreadPoolExecutor \"db\"" (its thread
 * name prefix), "asyncio's default executor (event loop in MainThread)", "the multiprocessing
 * ThreadPool held in __main__.pool". The shim's own name is the fallback (older shims wrote only
 * that). */
static void describe_python_pool(const pg_pool *p, char *buf, size_t len)
{
    const char *name = p->prefix ? p->prefix : p->name;
    if (is_mp_threadpool(p) && p->global)
        snprintf(buf, len, "the multiprocessing ThreadPool held in %s", p->global);
    else if (is_mp_threadpool(p))
        snprintf(buf, len, "the multiprocessing ThreadPool");
    else if (p->has_loop && p->loop_thread)
        snprintf(buf, len, "asyncio's default executor (event loop in %s)", p->loop_thread);
    else if (p->has_loop && p->loop_tid > 0)
        snprintf(buf, len, "asyncio's default executor (event loop in thread %ld)", p->loop_tid);
    else if (p->has_loop)
        snprintf(buf, len, "asyncio's default executor (of a running event loop)");
    else if (name)
        snprintf(buf, len, "the ThreadPoolExecutor \"%s\"", name);
    else
        snprintf(buf, len, "the ThreadPoolExecutor");
}

/* A pool a library runs is named as its users know it: "the libuv threadpool", "the GThreadPool
 * created in main() at app.c:31", "the ThreadPoolExecutor \"io\"". */
static void describe_library_pool(const pg_pool *p, char *buf, size_t len)
{
    char at[1100] = "";
    const pg_frame *where = stack_first_own_frame(&p->create_stack);
    if (where)
        describe_frame(where, at, sizeof at);
    if (p->library_id == PG_LIB_LIBUV)
        snprintf(buf, len, "the libuv threadpool%s%s%s", *at ? " (created in " : "", at,
                 *at ? ")" : "");
    else if (p->library_id == PG_LIB_GLIB)
        snprintf(buf, len, "the GThreadPool%s%s", *at ? " created in " : "", at);
    else if (p->library_id == PG_LIB_PYTHON)
        describe_python_pool(p, buf, len);
    else
        snprintf(buf, len, "the %s pool%s%s", p->library, *at ? " created in " : "", at);
}

const char *describe_pool(const pg_pool *p, char *buf, size_t len)
{
    char call[512];
    const pg_frame *where = stack_first_own_frame(&p->create_stack);
    const char *routine = describe_pool_routine(p);
    if (p->library)
        describe_library_pool(p, buf, len);
    else if (p->name)
        snprintf(buf, len, "the pool \"%s\"", p->name);
    else if (where && routine && strcmp(routine, where->function) != 0)
        snprintf(buf, len, "the pool created in %s (thread routine %s)",
                 describe_call(where->function, call, sizeof call), routine);
    else if (where)
        snprintf(buf, len, "the pool created in %s",
                 describe_call(where->function, call, sizeof call));
    else if (routine)
        snprintf(buf, len, "the pool of threads started at %s",
                 describe_call(routine, call, sizeof call));
    else
        snprintf(buf, len, "the pool");
    return buf;
}

long describe_task_position(const pg_pool *p, const pg_mthread *t, uint64_t address)
{
    if (t->submitted_task.present && t->submitted_task.address == address)
        return t->submitted_task.position;
    for (size_t i = 0; p && i < p->nqueued_tasks; i++)
        if (p->queued_tasks[i].address == address)
            return p->queued_tasks[i].position;
    return -1;
}

const char *describe_task_name(const pg_pool *p, const pg_fn *fn, uint64_t address)
{
    const char *name = describe_function(fn);
    for (size_t i = 0; !name && p && i < p->nqueued_tasks; i++)
        if (p->queued_tasks[i].address == address)
            name = describe_function(&p->queued_tasks[i].function);
    return name;
}

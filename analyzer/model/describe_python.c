/*
 * The workers of a Python pool in the program's words (analyze.h): the function each one runs
 * and what it waits on (the future or result of another task, a coroutine on an event loop, a
 * blocking call such as Event.wait()), with that task's place in the same pool's queue. Reads
 * the pool's tasks[] as the Python layer wrote them; writes only into the caller's buffer.
 */
#include "describe_int.h"

#include <string.h>

const pg_py_task *describe_py_task(const pg_pool *p, const pg_mthread *t)
{
    if (!p || !t)
        return NULL;
    for (size_t i = 0; i < p->npy_tasks; i++)
        if (p->py_tasks[i].tid > 0 && p->py_tasks[i].tid == t->tid)
            return &p->py_tasks[i];
    return NULL;
}

const char *describe_py_func(const pg_frame *f, char *buf, size_t len)
{
    const char *b = f->file ? strrchr(f->file, '/') : NULL;
    b = b ? b + 1 : f->file;
    if (b && f->line)
        snprintf(buf, len, "%s (%s:%u)", f->function, b, f->line);
    else if (b)
        snprintf(buf, len, "%s (%s)", f->function, b);
    else
        snprintf(buf, len, "%s", f->function ? f->function : "?");
    return buf;
}

/* What a Python worker blocked in, in the words of the code it called. NULL for a worker that
 * is idle or running. */
const char *describe_py_blocked_words(const char *b)
{
    static const struct {
        const char *word, *words;
    } w[] = {
        { "future_result", "Future.result()" },   { "futures_wait", "concurrent.futures.wait()" },
        { "as_completed", "as_completed()" },     { "event_wait", "Event.wait()" },
        { "condition_wait", "Condition.wait()" }, { "semaphore", "a semaphore" },
        { "barrier", "Barrier.wait()" },          { "thread_join", "Thread.join()" },
        { "queue_get", "Queue.get()" },           { "async_result", "AsyncResult.get()" },
    };
    for (size_t i = 0; b && i < sizeof w / sizeof *w; i++)
        if (strcmp(b, w[i].word) == 0)
            return w[i].words;
    return NULL;
}

const char *describe_py_wait(const pg_pool *p, const pg_py_task *t, char *buf, size_t len)
{
    buf[0] = '\0';
    if (!t->waits) {
        const char *words = describe_py_blocked_words(t->blocked);
        if (words)
            snprintf(buf, len, "blocked in %s", words);
        return buf;
    }
    const char *child = t->wait_fn.function;
    int n;
    if (t->wait_kind && strcmp(t->wait_kind, "coroutine") == 0) {
        char coro[PG_MAX_STRING + 16] = "a coroutine";
        if (t->coroutine.function)
            snprintf(coro, sizeof coro, "coroutine %s()", t->coroutine.function);
        if (child)
            n = snprintf(buf, len,
                         "waits on %s (run_coroutine_threadsafe), which awaits "
                         "run_in_executor(%s)",
                         coro, child);
        else
            n = snprintf(buf, len,
                         "waits on %s (run_coroutine_threadsafe), which awaits an "
                         "executor job",
                         coro);
    } else {
        bool result = t->wait_kind && strcmp(t->wait_kind, "async_result") == 0;
        n = snprintf(buf, len, "waits on the %s of %s", result ? "result" : "future",
                     child ? child : "a task");
    }
    /* Queued elsewhere, or queued here but cancellable by an asyncio timeout: the shim does not
     * count it as queued here, and neither does the sentence. */
    if (!t->queued_here || n < 0 || (size_t)n >= len)
        return buf;
    char pos[32];
    if (t->queue_pos >= 0)
        snprintf(buf + n, len - (size_t)n, ", queued %s in the same %s",
                 describe_ordinal(t->queue_pos + 1, pos, sizeof pos), describe_pool_word(p));
    else
        snprintf(buf + n, len - (size_t)n, ", still queued in the same %s", describe_pool_word(p));
    return buf;
}

const char *describe_py_worker(const pg_pool *p, const pg_py_task *t, char *buf, size_t len)
{
    char fn[PG_MAX_STRING + 64], wait[3 * PG_MAX_STRING + 128];
    int n = t->thread    ? snprintf(buf, len, "worker %s", t->thread)
            : t->tid > 0 ? snprintf(buf, len, "worker %ld", t->tid)
                         : snprintf(buf, len, "a worker");
    if (t->task.function && n >= 0 && (size_t)n < len)
        n += snprintf(buf + n, len - (size_t)n, ", running %s",
                      describe_py_func(&t->task, fn, sizeof fn));
    if (*describe_py_wait(p, t, wait, sizeof wait) && n >= 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, ", %s", wait);
    return buf;
}

/*
 * Reads the pool of a finding into the model: what the shim knows of it (workers, idle wait,
 * queue, evidence and proof, the tasks still queued) and, for a pool the Python layer read, its
 * kind, event loop and the task of each worker (docs/python.md). Defensive like the rest of the
 * parser (report_parse_int.h); a word a vocabulary does not have counts as absent, so a renderer
 * never sees one.
 */
#include "report_parse_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A string member that must be one of a few known words; anything else counts as absent, so
 * a renderer never has to handle a value it does not know. */
static char *get_word(json_t *o, const char *key, const char *const *words)
{
    const char *v = json_string_value(json_object_get(o, key));
    for (size_t i = 0; v && words[i]; i++)
        if (strcmp(v, words[i]) == 0)
            return strdup(v);
    return NULL;
}

/* A count that cannot be negative: -1 (unknown) when absent, wrong-typed or negative. */
static long get_count(json_t *o, const char *key)
{
    long v = rp_get_long(o, key, -1);
    return v >= 0 ? v : -1;
}

/* A string member that says something: absent when empty. */
static char *get_nonempty(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v && *v ? rp_str_dup_capped(v) : NULL;
}

/* A Python FUNC, {"function","file","line"}: a frame with no address; absent (function NULL)
 * when it is not an object or has no function name. */
static void parse_py_func(json_t *o, pg_frame *f)
{
    memset(f, 0, sizeof *f);
    if (!json_is_object(o) || !(f->function = rp_get_str(o, "function")))
        return;
    f->file = rp_get_str(o, "file");
    long line = rp_get_long(o, "line", 0);
    f->line = line > 0 ? (unsigned)line : 0;
    f->own = !f->file || !rp_python_library_file(f->file);
}

/* The Python layer's pool members (docs/python.md): names, the event loop, the queues and
 * tasks[], one entry per worker. */
static int parse_py_pool(json_t *o, pg_pool *p)
{
    p->py_kind = get_nonempty(o, "kind");
    p->prefix = get_nonempty(o, "prefix");
    p->global = get_nonempty(o, "global");
    json_t *loop = json_object_get(o, "asyncio_loop");
    p->loop_tid = -1;
    if (json_is_object(loop)) {
        p->has_loop = true;
        p->loop_thread = get_nonempty(loop, "thread");
        long tid = rp_get_long(loop, "tid", -1);
        p->loop_tid = tid > 0 ? tid : -1;
    }
    p->inqueue_len = get_count(o, "inqueue_len");
    p->taskqueue_len = get_count(o, "taskqueue_len");
    json_t *tasks = json_object_get(o, "tasks");
    if (!json_is_array(tasks))
        return 0;
    p->has_py_tasks = true;
    size_t n = json_array_size(tasks);
    if (n > PG_MAX_THREADS)
        n = PG_MAX_THREADS;
    if (n == 0)
        return 0;
    p->py_tasks = calloc(n, sizeof *p->py_tasks);
    if (!p->py_tasks)
        return -ENOMEM;
    static const char *const kinds[] = { "future", "async_result", "coroutine", NULL };
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(tasks, i);
        if (!json_is_object(e))
            continue;
        pg_py_task *t = &p->py_tasks[p->npy_tasks++];
        t->thread = get_nonempty(e, "thread");
        long tid = rp_get_long(e, "tid", -1);
        t->tid = tid > 0 ? tid : -1;
        parse_py_func(json_object_get(e, "task"), &t->task);
        t->blocked = rp_get_str(e, "python_blocked");
        t->queue_pos = -1;
        json_t *w = json_object_get(e, "waits_for");
        if (!json_is_object(w))
            continue;
        t->waits = true;
        t->wait_kind = get_word(w, "kind", kinds);
        parse_py_func(json_object_get(w, "function"), &t->wait_fn);
        parse_py_func(json_object_get(w, "coroutine"), &t->coroutine);
        t->queued_here = json_is_true(json_object_get(w, "queued_here"));
        t->queue_pos = get_count(w, "queue_pos");
    }
    return 0;
}

/* A word of a vocabulary: its value, or -1 when absent, not a string or not in the list. */
static int get_code(json_t *o, const char *key, int (*parse)(const char *))
{
    return parse(json_string_value(json_object_get(o, key)));
}

int rp_parse_pool(json_t *o, pg_pool *p, long version)
{
    p->present = true;
    p->id = rp_get_addr(o, "id");
    p->annotated = json_is_true(json_object_get(o, "annotated"));
    p->name = rp_get_str(o, "name");
    if (p->name && !*p->name) {
        free(p->name);
        p->name = NULL;
    }
    p->workers = rp_get_long(o, "workers", -1);
    p->declared_workers = rp_get_long(o, "declared_workers", -1);
    p->has_start = rp_parse_addr(json_object_get(o, "start_routine"), &p->start_routine);
    json_t *idle = json_object_get(o, "idle");
    if (json_is_object(idle)) {
        p->has_idle = true;
        p->idle_kind = rp_get_str(idle, "kind");
        p->idle_address = rp_get_addr(idle, "address");
    }
    p->queued = rp_get_long(o, "queued", -1);
    p->queued_exact = json_is_true(json_object_get(o, "queued_exact"));
    p->evidence = rp_get_str(o, PG_K_POOL_EVIDENCE);
    p->evidence_code = version < 2 ? get_code(o, PG_K_POOL_EVIDENCE, pg_evidence_parse_v1)
                                   : get_code(o, PG_K_POOL_EVIDENCE, pg_evidence_parse);
    p->library = rp_get_str(o, PG_K_POOL_LIBRARY);
    if (p->library && !*p->library) {
        free(p->library);
        p->library = NULL;
    }
    p->library_id = pg_library_parse(p->library);
    p->source = get_code(o, PG_K_SOURCE, pg_source_parse);
    p->proof = get_code(o, PG_K_POOL_PROOF, pg_proof_parse);
    p->max_workers = get_count(o, "max_workers");
    p->active = get_count(o, "active");
    json_t *qt = json_object_get(o, "queued_tasks");
    for (size_t i = 0; i < json_array_size(qt) && p->nqueued_tasks < PG_MAX_QUEUED_TASKS; i++) {
        pg_task_ref *t = &p->queued_tasks[p->nqueued_tasks];
        rp_parse_task_ref(json_array_get(qt, i), t);
        if (t->present)
            p->nqueued_tasks++;
    }
    if (p->library_id == PG_LIB_PYTHON && parse_py_pool(o, p) < 0)
        return -ENOMEM;
    return rp_parse_stack(json_object_get(o, "create_stack"), &p->create_stack);
}

/*
 * Turns one JSON object of a raw report into the model (model.h). Members are read defensively:
 * a wrong type counts as absent, strings and arrays are capped, unknown members and types are
 * ignored (the format says so), and nothing here can fail except for memory.
 */
#include "report_parse_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

char *rp_str_dup_capped(const char *s)
{
    if (!s)
        return NULL;
    return strndup(s, PG_MAX_STRING);
}

char *rp_get_str(json_t *o, const char *key)
{
    return rp_str_dup_capped(json_string_value(json_object_get(o, key)));
}

long rp_get_long(json_t *o, const char *key, long dflt)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (long)json_integer_value(v) : dflt;
}

int64_t rp_get_i64(json_t *o, const char *key, int64_t dflt)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

/* Addresses are "0x..." strings; a plain integer is accepted too. Returns false when absent/bad. */
bool rp_parse_addr(json_t *v, uint64_t *out)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return true;
    }
    const char *s = json_string_value(v);
    if (!s || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || !s[2])
        return false;
    uint64_t x = 0;
    for (const char *p = s + 2; *p; p++) {
        int d;
        if (*p >= '0' && *p <= '9')
            d = *p - '0';
        else if (*p >= 'a' && *p <= 'f')
            d = *p - 'a' + 10;
        else if (*p >= 'A' && *p <= 'F')
            d = *p - 'A' + 10;
        else
            return false;
        if (x >> 60)
            return false;
        x = x << 4 | (uint64_t)d;
    }
    *out = x;
    return true;
}

uint64_t rp_get_addr(json_t *o, const char *key)
{
    uint64_t a = 0;
    rp_parse_addr(json_object_get(o, key), &a);
    return a;
}

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

static int parse_header(parse_state *ps, json_t *o)
{
    const char *format = json_string_value(json_object_get(o, "format"));
    if (!format || strcmp(format, PG_FORMAT_NAME) != 0) {
        report_diag(ps->report, true, "%s: not a poolguard report (format \"%s\")", ps->name,
                    format ? format : "missing");
        return -EINVAL;
    }
    json_t *v = json_object_get(o, PG_K_VERSION);
    if (!json_is_integer(v) || json_integer_value(v) < PG_FORMAT_OLDEST) {
        report_diag(ps->report, true, "%s: the header has no valid version", ps->name);
        return -EINVAL;
    }
    if (json_integer_value(v) > PG_FORMAT_VERSION) {
        report_diag(ps->report, true, "%s: report version %lld is newer than this poolguard reads "
                    "(%d); update poolguard", ps->name, (long long)json_integer_value(v),
                    PG_FORMAT_VERSION);
        return -ENOTSUP;
    }
    pg_process *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->source = strdup(ps->name);
    p->version = (long)json_integer_value(v);
    p->pid = rp_get_long(o, "pid", -1);
    p->ppid = rp_get_long(o, "ppid", -1);
    p->exe = rp_get_str(o, "exe");
    p->start_unix_ms = rp_get_i64(o, "start_unix_ms", 0);
    json_t *argv = json_object_get(o, "argv");
    if (json_is_array(argv) && json_array_size(argv) > 0) {
        size_t n = json_array_size(argv);
        if (n > PG_MAX_ARGV)
            n = PG_MAX_ARGV;
        p->argv = calloc(n, sizeof *p->argv);
        for (size_t i = 0; p->argv && i < n; i++) {
            const char *a = json_string_value(json_array_get(argv, i));
            if (a)
                p->argv[p->nargv++] = rp_str_dup_capped(a);
        }
    }
    int r = report_keep_process(ps->report, p);
    if (r < 0)
        return r == -E2BIG ? 0 : r;
    ps->proc = p;
    return 0;
}

static int parse_module(parse_state *ps, json_t *o)
{
    pg_process *p = ps->proc;
    if (p->nmodules >= PG_MAX_MODULES)
        return 0;
    if (p->nmodules % 16 == 0) {
        pg_module *m = realloc(p->modules, (p->nmodules + 16) * sizeof *m);
        if (!m)
            return -ENOMEM;
        p->modules = m;
    }
    pg_module *m = &p->modules[p->nmodules];
    memset(m, 0, sizeof *m);
    m->path = rp_get_str(o, "path");
    if (!m->path)
        return 0;
    m->base = rp_get_addr(o, "base");
    m->start = rp_get_addr(o, "start");
    m->end = rp_get_addr(o, "end");
    m->build_id = rp_get_str(o, "build_id");
    p->nmodules++;
    return 0;
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

static int parse_pool(json_t *o, pg_pool *p, long version)
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

static void parse_growth(json_t *o, pg_growth *g)
{
    g->present = true;
    g->per_second = rp_get_i64(o, "per_second", -1);
    g->depth = rp_get_i64(o, "depth", -1);
    g->window_ms = rp_get_i64(o, "window_ms", -1);
    g->rss_growth_kb = rp_get_i64(o, "rss_growth_kb", -1);
}

/* lock_order: [{first:{kind,address}, then:{kind,address}, tid, name, first_pc, stack[]}...]. */
static int parse_order(json_t *arr, pg_finding *f)
{
    size_t n = json_array_size(arr);
    if (n == 0)
        return 0;
    if (n > PG_MAX_CYCLE)
        n = PG_MAX_CYCLE;
    f->order = calloc(n, sizeof *f->order);
    if (!f->order)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i);
        if (!json_is_object(e))
            continue;
        pg_order_edge *ed = &f->order[f->norder++];
        json_t *a = json_object_get(e, "first"), *b = json_object_get(e, "then");
        ed->first_kind = rp_get_str(a, "kind");
        ed->first = rp_get_addr(a, "address");
        ed->then_kind = rp_get_str(b, "kind");
        ed->then = rp_get_addr(b, "address");
        rp_parse_sites(a, &ed->first_sites);
        rp_parse_sites(b, &ed->then_sites);
        ed->tid = rp_get_long(e, "tid", -1);
        ed->name = rp_get_str(e, "name");
        ed->has_first_pc = rp_parse_addr(json_object_get(e, "first_pc"), &ed->first_pc);
        if (rp_parse_stack(json_object_get(e, "stack"), &ed->stack) < 0)
            return -ENOMEM;
    }
    return 0;
}

static int parse_finding(parse_state *ps, json_t *o)
{
    pg_finding *f = calloc(1, sizeof *f);
    if (!f)
        return -ENOMEM;
    f->proc = ps->proc;
    f->pool_info.evidence_code = f->pool_info.library_id = f->pool_info.source = f->pool_info.proof = -1;
    f->seq = rp_get_long(o, "seq", 0);
    f->kind = rp_get_str(o, PG_K_KIND);
    if (!f->kind)
        f->kind = strdup("unknown");
    f->kind_id = pg_kind_parse(f->kind) > 0 ? (pg_kind)pg_kind_parse(f->kind) : PG_KIND_NONE;
    f->severity = rp_get_str(o, PG_K_SEVERITY);
    f->sev = severity_parse(f->severity);
    if (f->sev == PG_SEV_NONE) {
        /* An unknown severity is shown, but as the mildest: it must not fail a gate by surprise. */
        f->sev = PG_SEV_INFO;
    }
    f->time_unix_ms = rp_get_i64(o, "time_unix_ms", 0);
    f->summary = rp_get_str(o, "summary");
    f->hang = json_is_true(json_object_get(o, "hang"));
    json_t *pool = json_object_get(o, "pool");
    if (json_is_object(pool)) {
        f->pool = json_incref(pool);
        if (parse_pool(pool, &f->pool_info, ps->proc->version) < 0) {
            model_finding_free(f);
            return -ENOMEM;
        }
    }
    /* An error is a proof. A stall proves nothing, whatever severity its writer gave it: it is
     * info, so it never stops a program nor fails a gate at warning or error; a pool the shim
     * only inferred (or could not prove anything about) is a warning at most. run_watch.c
     * holds the gate to the same rule on the raw lines. */
    if (f->kind_id == PG_KIND_STALL)
        f->sev = PG_SEV_INFO;
    else if (f->sev == PG_SEV_ERROR &&
             (f->pool_info.proof == PG_PROOF_INFERRED || f->pool_info.proof == PG_PROOF_NONE))
        f->sev = PG_SEV_WARNING;
    json_t *growth = json_object_get(o, "growth");
    if (json_is_object(growth))
        parse_growth(growth, &f->growth);
    if (json_is_array(json_object_get(o, "order")) &&
        parse_order(json_object_get(o, "order"), f) < 0) {
        model_finding_free(f);
        return -ENOMEM;
    }
    f->count = 1;
    json_t *cyc = json_object_get(o, "cycle");
    if (json_is_array(cyc) && json_array_size(cyc) > 0) {
        size_t n = json_array_size(cyc);
        if (n > PG_MAX_CYCLE)
            n = PG_MAX_CYCLE;
        f->cycle = calloc(n, sizeof *f->cycle);
        for (size_t i = 0; f->cycle && i < n; i++) {
            json_t *e = json_array_get(cyc, i);
            if (!json_is_object(e))
                continue;
            pg_edge *ed = &f->cycle[f->ncycle++];
            ed->tid = rp_get_long(e, "tid", -1);
            ed->waits_for = rp_get_long(e, "waits_for", -1);
            ed->kind = rp_get_str(e, "kind");
            ed->address = rp_get_addr(e, "address");
        }
    }
    if (rp_parse_threads(json_object_get(o, "threads"), &f->threads, &f->nthreads,
                         &f->threads_dropped) < 0 ||
        rp_locknames_build(&f->locks, f->threads, f->nthreads, f->cycle, f->ncycle, f->order,
                           f->norder) < 0) {
        model_finding_free(f);
        return -ENOMEM;
    }
    return report_keep_finding(ps->report, f);
}

static int parse_snapshot(parse_state *ps, json_t *o)
{
    pg_snapshot *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->proc = ps->proc;
    s->time_unix_ms = rp_get_i64(o, "time_unix_ms", 0);
    s->reason = rp_get_str(o, "reason");
    if (rp_parse_threads(json_object_get(o, "threads"), &s->threads, &s->nthreads,
                         &s->threads_dropped) < 0 ||
        rp_locknames_build(&s->locks, s->threads, s->nthreads, NULL, 0, NULL, 0) < 0) {
        model_snapshot_free(s);
        return -ENOMEM;
    }
    return report_keep_snapshot(ps->report, s);
}

int report_parse_object(parse_state *ps, json_t *obj)
{
    int type = pg_record_parse(json_string_value(json_object_get(obj, PG_K_TYPE)));
    if (type == PG_REC_HEADER)
        return parse_header(ps, obj);
    if (!ps->proc)
        return 0;
    switch (type) {
    case PG_REC_MODULE: return parse_module(ps, obj);
    case PG_REC_FINDING: return parse_finding(ps, obj);
    case PG_REC_SNAPSHOT: return parse_snapshot(ps, obj);
    }
    return 0;
}

pg_severity severity_parse(const char *s)
{
    int v = pg_sev_parse(s);
    return v > 0 ? (pg_severity)v : PG_SEV_NONE;
}

const char *severity_name(pg_severity s)
{
    const char *n = pg_sev_name(s);
    return n ? n : "none";
}

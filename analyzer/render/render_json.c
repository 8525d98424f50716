/*
 * Rendered JSON: the versioned, documented schema for machines (docs/report-format.md, "Rendered
 * JSON"). Unlike the text report, stacks keep every frame and say which ones are folded, so a
 * consumer decides what to hide. Field names only ever get added within a version.
 */
#include "render.h"

#include "analyze.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

char *render_hex(uint64_t x, char buf[20])
{
    snprintf(buf, 20, "0x%" PRIx64, x);
    return buf;
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *hexj(uint64_t x)
{
    char b[20];
    return json_string(render_hex(x, b));
}

json_t *render_json_frame(const pg_frame *f)
{
    json_t *o = json_object();
    json_object_set_new(o, "function", str_or_null(f->function));
    json_object_set_new(o, "file", str_or_null(f->file));
    json_object_set_new(o, "line", f->line ? json_integer(f->line) : json_null());
    json_object_set_new(o, "module", str_or_null(f->module));
    json_object_set_new(o, "offset", f->module ? hexj(f->offset) : json_null());
    json_object_set_new(o, "address", hexj(f->pc));
    json_object_set_new(o, "inlined", json_boolean(f->inlined));
    json_object_set_new(o, "folded", json_boolean(f->folded));
    json_object_set_new(o, "own", json_boolean(f->own));
    return o;
}

/* What names a lock, beside its address: "name" (null when nothing does), then the data symbol
 * (symbol, member, symbol_offset, decl_file, decl_line, module) or the site ({kind, frame}). */
void render_json_lock_name(json_t *o, const pg_lockname *n, const char *kind)
{
    char name[3 * PG_MAX_STRING];
    describe_lock_name(n, kind, name, sizeof name);
    json_object_set_new(o, "name", *name ? json_string(name) : json_null());
    if (n && n->symbol) {
        json_object_set_new(o, "symbol", json_string(n->symbol));
        if (n->member)
            json_object_set_new(o, "member", json_string(n->member));
        json_object_set_new(o, "symbol_offset", json_integer((json_int_t)n->sym_offset));
        if (n->decl_file)
            json_object_set_new(o, "decl_file", json_string(n->decl_file));
        if (n->decl_line)
            json_object_set_new(o, "decl_line", json_integer(n->decl_line));
        if (n->module)
            json_object_set_new(o, "module", json_string(n->module));
        return;
    }
    const pg_frame *site = describe_lock_site(n);
    if (site && n) {
        json_t *so = json_object();
        json_object_set_new(so, "kind",
                            json_string(n->site_kind == PG_SITE_INIT ? "init" : "first_taken"));
        json_object_set_new(so, "frame", render_json_frame(site));
        json_object_set_new(o, "site", so);
    }
}

static json_t *stack_json(const pg_stack *s)
{
    json_t *a = json_array();
    for (size_t i = 0; i < s->nframes; i++)
        json_array_append_new(a, render_json_frame(&s->frames[i]));
    return a;
}

/* A task function as a FRAME: the function itself (the outermost of an inlined chain); an
 * address nothing names still gives a FRAME, with function null. */
json_t *render_json_fn(const pg_fn *fn)
{
    if (!fn->present)
        return json_null();
    if (fn->sym.nframes)
        return render_json_frame(&fn->sym.frames[fn->sym.nframes - 1]);
    pg_frame bare = { .pc = fn->address };
    return render_json_frame(&bare);
}

static json_t *task_ref_json(const pg_task_ref *t)
{
    json_t *o = json_object();
    json_object_set_new(o, "address", hexj(t->address));
    json_object_set_new(o, "function", render_json_fn(&t->function));
    if (t->state)
        json_object_set_new(o, "state", json_string(t->state));
    json_object_set_new(o, "position", t->position > 0 ? json_integer(t->position) : json_null());
    return o;
}

json_t *render_json_thread(const pg_mthread *t)
{
    json_t *o = json_object();
    json_object_set_new(o, "tid", json_integer(t->tid));
    json_object_set_new(o, "name", str_or_null(t->name));
    json_object_set_new(o, "role", str_or_null(t->role));
    json_object_set_new(o, "main", json_boolean(t->is_main));
    json_object_set_new(o, "start_function",
                        t->start.nframes
                            ? str_or_null(t->start.frames[t->start.nframes - 1].function)
                            : json_null());
    if (t->blocked.present) {
        const pg_wait *w = &t->blocked;
        json_t *b = json_object();
        json_object_set_new(b, "kind", str_or_null(w->kind));
        json_object_set_new(b, "address", hexj(w->address));
        if (pg_wait_parse(w->kind) != PG_WAIT_JOIN)
            render_json_lock_name(b, w->name, w->kind);
        json_object_set_new(b, "timed", json_boolean(w->timed));
        json_object_set_new(b, "since_ms",
                            w->since_ms >= 0 ? json_integer(w->since_ms) : json_null());
        if (w->owner >= 0)
            json_object_set_new(b, "owner", json_integer(w->owner));
        if (w->target >= 0)
            json_object_set_new(b, "target", json_integer(w->target));
        json_object_set_new(o, "blocked_on", b);
    } else {
        json_object_set_new(o, "blocked_on", json_null());
    }
    json_t *holds = json_array();
    for (size_t i = 0; i < t->nholds; i++) {
        const pg_lock *l = &t->holds[i];
        json_t *h = json_object();
        json_object_set_new(h, "kind", str_or_null(l->kind));
        json_object_set_new(h, "address", hexj(l->address));
        render_json_lock_name(h, l->name, l->kind);
        json_object_set_new(h, "taken_at",
                            l->where.nframes ? render_json_frame(&l->where.frames[0])
                                             : json_null());
        json_array_append_new(holds, h);
    }
    json_object_set_new(o, "holds", holds);
    json_object_set_new(o, "stack", stack_json(&t->stack));
    if (t->stack.dropped)
        json_object_set_new(o, "stack_frames_dropped", json_integer((json_int_t)t->stack.dropped));
    json_object_set_new(o, "create_stack", stack_json(&t->create_stack));
    if (t->python.nframes)
        json_object_set_new(o, "python_stack", stack_json(&t->python));
    if (t->python_info)
        json_object_set(o, "python", t->python_info);
    if (t->has_task)
        json_object_set_new(o, "task", hexj(t->task));
    if (t->task_function.present)
        json_object_set_new(o, "task_function", render_json_fn(&t->task_function));
    if (t->submitted_task.present)
        json_object_set_new(o, "submitted_task", task_ref_json(&t->submitted_task));
    if (t->waits_for_task.present) {
        const pg_task_wait *w = &t->waits_for_task;
        json_t *wt = json_object();
        json_object_set_new(wt, "address", hexj(w->address));
        json_object_set_new(wt, "state", json_string(w->state ? w->state : "unknown"));
        if (w->has_pool)
            json_object_set_new(wt, "pool", hexj(w->pool));
        if (w->runner >= 0)
            json_object_set_new(wt, "runner", json_integer(w->runner));
        if (w->function.present)
            json_object_set_new(wt, "function", render_json_fn(&w->function));
        json_object_set_new(o, "waits_for_task", wt);
    }
    return o;
}

/* A Python FUNC as the raw report has it: {"function","file","line"}; null when absent. */
static json_t *py_func_json(const pg_frame *f)
{
    if (!f->function)
        return json_null();
    json_t *o = json_object();
    json_object_set_new(o, "function", json_string(f->function));
    json_object_set_new(o, "file", str_or_null(f->file));
    json_object_set_new(o, "line", f->line ? json_integer(f->line) : json_null());
    return o;
}

/* A Python pool's tasks[] as the analyzer read them (members of the wrong type left out), each
 * with the worker's sentence and, for work queued here, its place in line from 1. */
static json_t *py_tasks_json(const pg_pool *p)
{
    json_t *a = json_array();
    for (size_t i = 0; i < p->npy_tasks; i++) {
        const pg_py_task *t = &p->py_tasks[i];
        json_t *o = json_object();
        json_object_set_new(o, "thread", str_or_null(t->thread));
        json_object_set_new(o, "tid", t->tid > 0 ? json_integer(t->tid) : json_null());
        json_object_set_new(o, "task", py_func_json(&t->task));
        json_object_set_new(o, "python_blocked", str_or_null(t->blocked));
        if (t->waits) {
            json_t *w = json_object();
            json_object_set_new(w, "kind", str_or_null(t->wait_kind));
            json_object_set_new(w, "function", py_func_json(&t->wait_fn));
            if (t->coroutine.function)
                json_object_set_new(w, "coroutine", py_func_json(&t->coroutine));
            json_object_set_new(w, "queued_here", json_boolean(t->queued_here));
            if (t->queue_pos >= 0)
                json_object_set_new(w, "queue_pos", json_integer(t->queue_pos));
            json_object_set_new(w, "position",
                                t->queued_here && t->queue_pos >= 0 ? json_integer(t->queue_pos + 1)
                                                                    : json_null());
            json_object_set_new(o, "waits_for", w);
        } else {
            json_object_set_new(o, "waits_for", json_null());
        }
        char words[5 * PG_MAX_STRING];
        json_object_set_new(o, "description",
                            json_string(describe_py_worker(p, t, words, sizeof words)));
        json_array_append_new(a, o);
    }
    return a;
}

/* The raw pool object with what the analyzer adds: its create stack symbolized, the thread
 * routine's name, the first own frame of the create stack and the pool's description. Members
 * the analyzer does not know (another layer's) pass through. */
static json_t *pool_json(const pg_finding *f)
{
    const pg_pool *p = &f->pool_info;
    json_t *o = json_deep_copy(f->pool);
    if (!o)
        return json_null();
    json_object_set_new(o, "create_stack", stack_json(&p->create_stack));
    const pg_frame *created = stack_first_own_frame(&p->create_stack);
    json_object_set_new(o, "created_in", created ? render_json_frame(created) : json_null());
    json_object_set_new(o, "start_function", str_or_null(describe_pool_routine(p)));
    char desc[1200];
    json_object_set_new(o, "description", json_string(describe_pool(p, desc, sizeof desc)));
    /* The exact layer's members as the analyzer read them: a value of the wrong type or an
     * unknown word is left out rather than passed on. */
    static const char *const words[] = { PG_K_POOL_LIBRARY, PG_K_SOURCE, PG_K_POOL_PROOF,
                                         PG_K_POOL_EVIDENCE };
    const char *const values[] = { p->library, pg_source_name(p->source), pg_proof_name(p->proof),
                                   p->evidence_code >= 0 ? pg_evidence_name(p->evidence_code)
                                                         : p->evidence };
    for (size_t i = 0; i < 4; i++)
        if (values[i])
            json_object_set_new(o, words[i], json_string(values[i]));
        else
            json_object_del(o, words[i]);
    if (p->max_workers >= 0)
        json_object_set_new(o, "max_workers", json_integer(p->max_workers));
    else
        json_object_del(o, "max_workers");
    if (p->active >= 0)
        json_object_set_new(o, "active", json_integer(p->active));
    else
        json_object_del(o, "active");
    if (p->nqueued_tasks) {
        json_t *q = json_array();
        for (size_t i = 0; i < p->nqueued_tasks; i++)
            json_array_append_new(q, task_ref_json(&p->queued_tasks[i]));
        json_object_set_new(o, "queued_tasks", q);
    } else {
        json_object_del(o, "queued_tasks");
    }
    if (p->has_py_tasks)
        json_object_set_new(o, "tasks", py_tasks_json(p));
    return o;
}

static json_t *lock_json(const char *kind, uint64_t address, const pg_lockname *name)
{
    json_t *o = json_object();
    json_object_set_new(o, "kind", str_or_null(kind));
    json_object_set_new(o, "address", hexj(address));
    render_json_lock_name(o, name, kind);
    return o;
}

static json_t *order_json(const pg_finding *f)
{
    json_t *a = json_array();
    for (size_t i = 0; i < f->norder; i++) {
        const pg_order_edge *e = &f->order[i];
        json_t *o = json_object();
        json_object_set_new(o, "first", lock_json(e->first_kind, e->first, e->first_name));
        json_object_set_new(o, "then", lock_json(e->then_kind, e->then, e->then_name));
        json_object_set_new(o, "tid", json_integer(e->tid));
        json_object_set_new(o, "name", str_or_null(e->name));
        json_object_set_new(o, "first_taken_at",
                            e->first_at.nframes ? render_json_frame(&e->first_at.frames[0])
                                                : json_null());
        json_object_set_new(o, "stack", stack_json(&e->stack));
        if (e->stack.dropped)
            json_object_set_new(o, "stack_frames_dropped",
                                json_integer((json_int_t)e->stack.dropped));
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *threads_json(const pg_mthread *t, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, render_json_thread(&t[i]));
    return a;
}

static json_t *finding_json(const pg_finding *f)
{
    json_t *o = json_object();
    json_object_set_new(o, "kind", json_string(f->kind));
    json_object_set_new(o, "severity", json_string(severity_name(f->sev)));
    json_object_set_new(o, "summary", str_or_null(f->summary));
    if (f->shim_summary)
        json_object_set_new(o, "shim_summary", json_string(f->shim_summary));
    json_object_set_new(o, "signature", str_or_null(f->signature));
    json_object_set_new(o, "count", json_integer(f->count));
    json_t *pids = json_array();
    for (size_t i = 0; i < f->npids; i++)
        json_array_append_new(pids, json_integer(f->pids[i]));
    json_object_set_new(o, "pids", pids);
    json_object_set_new(o, "pid", json_integer(f->proc ? f->proc->pid : -1));
    json_object_set_new(o, "exe", str_or_null(f->proc ? f->proc->exe : NULL));
    json_object_set_new(o, "source", str_or_null(f->proc ? f->proc->source : NULL));
    json_object_set_new(o, "seq", json_integer(f->seq));
    json_object_set_new(o, "time_unix_ms", json_integer(f->time_unix_ms));
    const pg_frame *loc = render_finding_location(f);
    json_object_set_new(o, "location", loc ? render_json_frame(loc) : json_null());
    if (f->ncycle) {
        json_t *c = json_array();
        for (size_t i = 0; i < f->ncycle; i++) {
            json_t *e = json_object();
            json_object_set_new(e, "tid", json_integer(f->cycle[i].tid));
            json_object_set_new(e, "waits_for", json_integer(f->cycle[i].waits_for));
            json_object_set_new(e, "kind", str_or_null(f->cycle[i].kind));
            json_object_set_new(e, "address", hexj(f->cycle[i].address));
            if (pg_wait_parse(f->cycle[i].kind) != PG_WAIT_JOIN)
                render_json_lock_name(e, f->cycle[i].name, f->cycle[i].kind);
            json_array_append_new(c, e);
        }
        json_object_set_new(o, "cycle", c);
    }
    if (f->hang)
        json_object_set_new(o, "hang", json_true());
    if (f->pool_info.present)
        json_object_set_new(o, "pool", pool_json(f));
    if (f->growth.present) {
        const pg_growth *g = &f->growth;
        json_t *go = json_object();
        json_object_set_new(go, "per_second",
                            g->per_second >= 0 ? json_integer(g->per_second) : json_null());
        json_object_set_new(go, "depth", g->depth >= 0 ? json_integer(g->depth) : json_null());
        json_object_set_new(go, "window_ms",
                            g->window_ms >= 0 ? json_integer(g->window_ms) : json_null());
        json_object_set_new(go, "rss_growth_kb",
                            g->rss_growth_kb >= 0 ? json_integer(g->rss_growth_kb) : json_null());
        json_object_set_new(o, "growth", go);
    }
    if (f->norder)
        json_object_set_new(o, "order", order_json(f));
    json_object_set_new(o, "threads", threads_json(f->threads, f->nthreads));
    if (f->threads_dropped)
        json_object_set_new(o, "threads_dropped", json_integer((json_int_t)f->threads_dropped));
    return o;
}

json_t *render_json_document(pg_report *r, const render_opts *o)
{
    json_t *doc = json_object();
    json_object_set_new(doc, "version", json_integer(PG_JSON_VERSION));
    json_t *tool = json_object();
    json_object_set_new(tool, "name", json_string("poolguard"));
    json_object_set_new(tool, "version", json_string(PG_TOOL_VERSION));
    json_object_set_new(doc, "tool", tool);
    json_t *findings = json_array();
    size_t n, dup = 0, supp = 0, base = 0, below = 0;
    pg_finding **f = report_findings(r, &n);
    for (size_t i = 0; i < n; i++) {
        dup += f[i]->duplicate;
        supp += !f[i]->duplicate && f[i]->suppressed;
        base += !f[i]->duplicate && !f[i]->suppressed && f[i]->baselined;
        below += render_finding_below(f[i], o);
        if (render_finding_visible(f[i], o))
            json_array_append_new(findings, finding_json(f[i]));
    }
    json_object_set_new(doc, "findings", findings);
    size_t ns;
    pg_snapshot **s = report_snapshots(r, &ns);
    if (ns) {
        json_t *snaps = json_array();
        for (size_t i = 0; i < ns; i++) {
            json_t *so = json_object();
            json_object_set_new(so, "pid", json_integer(s[i]->proc ? s[i]->proc->pid : -1));
            json_object_set_new(so, "exe", str_or_null(s[i]->proc ? s[i]->proc->exe : NULL));
            json_object_set_new(so, "time_unix_ms", json_integer(s[i]->time_unix_ms));
            json_object_set_new(so, "reason", str_or_null(s[i]->reason));
            json_object_set_new(so, "threads", threads_json(s[i]->threads, s[i]->nthreads));
            json_array_append_new(snaps, so);
        }
        json_object_set_new(doc, "snapshots", snaps);
    }
    json_t *hidden = json_object();
    json_object_set_new(hidden, "duplicates", json_integer((json_int_t)dup));
    json_object_set_new(hidden, "suppressed", json_integer((json_int_t)supp));
    json_object_set_new(hidden, "baseline", json_integer((json_int_t)base));
    json_object_set_new(hidden, "below_min_severity", json_integer((json_int_t)below));
    json_object_set_new(doc, "hidden", hidden);
    json_object_set_new(doc, "timed_out", json_boolean(o->timed_out));
    return doc;
}

int render_json(pg_report *r, const render_opts *o, FILE *out)
{
    json_t *doc = render_json_document(r, o);
    if (!doc)
        return -ENOMEM;
    int ret = json_dumpf(doc, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 ? 0 : -EIO;
    fputc('\n', out);
    json_decref(doc);
    return ret;
}

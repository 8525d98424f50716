/*
 * SARIF 2.1.0 for code-scanning tools: one result per shown finding, located at the first frame
 * in the program's own code (then each other thread's first own frame), its message naming the
 * locks, with each thread's stack as a threadFlow of one codeFlow. tests/e2e/check_sarif_schema.sh
 * holds the output to the SARIF 2.1.0 schema. The
 * signature is the result's partial fingerprint, so tools track a finding across runs the way
 * baselines do.
 */
#include "render.h"

#include "analyze.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* One rule per finding kind of the report format, in its order. */
static const char *const rule_text[] = {
    [PG_KIND_DEADLOCK] =
        "Threads wait on each other (or every thread is blocked) and nothing can wake them.",
    [PG_KIND_POOL_EXHAUSTION] =
        "Every worker of a thread pool is blocked, with work queued behind them.",
    [PG_KIND_QUEUE_GROWTH] = "A pool's backlog keeps growing while every worker is busy.",
    [PG_KIND_LOCK_ORDER] =
        "Locks taken in inconsistent orders: a deadlock that did not happen this run.",
    [PG_KIND_STALL] =
        "A thread or pool has been blocked for a long time; nothing proves it cannot continue.",
};

static json_t *json_string_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static const char *level(pg_severity s)
{
    return s == PG_SEV_ERROR ? "error" : s == PG_SEV_WARNING ? "warning" : "note";
}

/* SARIF wants URIs: percent-encode what is not unreserved or a path separator; absolute
 * paths become file:// URIs. */
static char *uri_encode(const char *path)
{
    size_t n = strlen(path);
    char *out = malloc(3 * n + 8);
    if (!out)
        return NULL;
    char *o = out;
    if (path[0] == '/')
        o += sprintf(o, "file://");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~/+", *p))
            *o++ = (char)*p;
        else
            o += sprintf(o, "%%%02X", *p);
    }
    *o = '\0';
    return out;
}

/* A SARIF location for one frame: physical when there is a file, logical always. */
static json_t *location(const pg_frame *f, const char *message)
{
    json_t *loc = json_object();
    if (f && f->file) {
        json_t *phys = json_object(), *art = json_object(), *region = json_object();
        const char *path = render_short_path(f->file);
        char *uri = uri_encode(path);
        json_object_set_new(art, "uri", json_string(uri ? uri : path));
        free(uri);
        /* Relative paths are relative to where poolguard ran: the source root, usually. */
        if (path[0] != '/')
            json_object_set_new(art, "uriBaseId", json_string("%SRCROOT%"));
        json_object_set_new(phys, "artifactLocation", art);
        if (f->line) {
            json_object_set_new(region, "startLine", json_integer(f->line));
            json_object_set_new(phys, "region", region);
        } else {
            json_decref(region);
        }
        json_object_set_new(loc, "physicalLocation", phys);
    }
    if (f && (f->function || f->module)) {
        json_t *ll = json_array(), *l = json_object();
        char buf[PG_MAX_STRING + 32];
        if (f->function)
            snprintf(buf, sizeof buf, "%s", f->function);
        else
            snprintf(buf, sizeof buf, "%s+0x%llx", f->module, (unsigned long long)f->offset);
        json_object_set_new(l, "fullyQualifiedName", json_string(buf));
        json_object_set_new(l, "kind", json_string(f->function ? "function" : "module"));
        json_array_append_new(ll, l);
        json_object_set_new(loc, "logicalLocations", ll);
    }
    if (message) {
        json_t *m = json_object();
        json_object_set_new(m, "text", json_string(message));
        json_object_set_new(loc, "message", m);
    }
    return loc;
}

/* One location of a thread flow. */
static void add_flow_location(json_t *locs, json_t *location, const char *importance)
{
    json_t *tfl = json_object();
    json_object_set_new(tfl, "location", location);
    if (importance)
        json_object_set_new(tfl, "importance", json_string(importance));
    json_array_append_new(locs, tfl);
}

/* A native stack's frames (folded ones left out unless asked), then, if the flow is still empty,
 * its message alone: a threadFlow needs at least one location. */
static void add_stack_and_close(json_t *tf, json_t *locs, const pg_stack *st, const char *msg,
                                const render_opts *o)
{
    for (size_t i = 0; i < st->nframes; i++) {
        const pg_frame *f = &st->frames[i];
        if (f->folded && !o->all_frames)
            continue;
        add_flow_location(locs, location(f, f->function), f->own ? "important" : "unimportant");
    }
    if (json_array_size(locs) == 0)
        add_flow_location(locs, location(NULL, msg), NULL);
    json_object_set_new(tf, "locations", locs);
}

static json_t *thread_flow(const pg_finding *f, const pg_mthread *t, const render_opts *o)
{
    json_t *tf = json_object(), *locs = json_array();
    char label[128], msg[2048 + 6 * PG_MAX_STRING];
    render_thread_label(t, label, sizeof label);
    json_object_set_new(tf, "id", json_string(label));
    int n;
    char lock[3 * PG_MAX_STRING + 800];
    if (t->blocked.present && pg_wait_parse(t->blocked.kind) == PG_WAIT_JOIN)
        n = snprintf(msg, sizeof msg, "%s waits on %s 0x%llx", label,
                     render_wait_words(t->blocked.kind), (unsigned long long)t->blocked.address);
    else if (t->blocked.present)
        n = snprintf(msg, sizeof msg, "%s waits on %s", label,
                     describe_lock(t->blocked.name, t->blocked.kind, t->blocked.address, lock,
                                   sizeof lock));
    else
        n = snprintf(msg, sizeof msg, "%s is running", label);
    /* What the exact layer knows of its task and the task it waits behind, by function. */
    const pg_pool *p = f && f->pool_info.present ? &f->pool_info : NULL;
    const char *runs = describe_function(&t->task_function);
    if (runs && n >= 0 && (size_t)n < sizeof msg)
        n += snprintf(msg + n, sizeof msg - (size_t)n, "; runs %s", runs);
    const pg_task_ref *sub = &t->submitted_task;
    if (sub->present && n >= 0 && (size_t)n < sizeof msg) {
        const char *name = describe_task_name(p, &sub->function, sub->address);
        char pos[32] = "";
        if (sub->position > 0)
            describe_ordinal(sub->position, pos, sizeof pos);
        n += snprintf(msg + n, sizeof msg - (size_t)n, "; submitted %s, still queued%s%s",
                      name ? name : "a task", *pos ? " " : "", pos);
    }
    const pg_task_wait *w = &t->waits_for_task;
    if (w->present && n >= 0 && (size_t)n < sizeof msg) {
        const char *name = describe_task_name(p, &w->function, w->address);
        n += snprintf(msg + n, sizeof msg - (size_t)n, "; waits for %s (%s)",
                      name ? name : "a task", w->state ? w->state : "unknown");
    }
    /* A Python worker: its task and what it waits on, as the interpreter names them. */
    const pg_py_task *py = t->role_id == PG_ROLE_WORKER ? describe_py_task(p, t) : NULL;
    if (py && n >= 0 && (size_t)n < sizeof msg) {
        char fn[PG_MAX_STRING + 64], words[3 * PG_MAX_STRING + 128];
        if (py->task.function)
            n += snprintf(msg + n, sizeof msg - (size_t)n, "; runs %s",
                          describe_py_func(&py->task, fn, sizeof fn));
        if (*describe_py_wait(p, py, words, sizeof words) && n >= 0 && (size_t)n < sizeof msg)
            snprintf(msg + n, sizeof msg - (size_t)n, "; %s", words);
    }
    json_t *m = json_object();
    json_object_set_new(m, "text", json_string(msg));
    json_object_set_new(tf, "message", m);
    /* Python frames (the program) before the native ones (the interpreter). */
    for (size_t i = 0; i < t->python.nframes; i++)
        add_flow_location(locs, location(&t->python.frames[i], t->python.frames[i].function),
                          "essential");
    add_stack_and_close(tf, locs, &t->stack, msg, o);
    return tf;
}

/* A lock-order edge as a thread flow: where the first lock was taken, then the stack where the
 * second one was taken while holding it. */
static json_t *edge_flow(const pg_order_edge *e, size_t idx, const render_opts *o)
{
    json_t *tf = json_object(), *locs = json_array();
    char label[128], msg[7 * PG_MAX_STRING + 2000], id[160];
    char a[3 * PG_MAX_STRING + 800], b[3 * PG_MAX_STRING + 800];
    pg_mthread t = { .tid = e->tid, .name = e->name, .role_id = -1 };
    render_thread_label(&t, label, sizeof label);
    snprintf(id, sizeof id, "edge %zu: %s", idx + 1, label);
    json_object_set_new(tf, "id", json_string(id));
    describe_lock(e->first_name, e->first_kind, e->first, a, sizeof a);
    describe_lock(e->then_name, e->then_kind, e->then, b, sizeof b);
    snprintf(msg, sizeof msg, "%s takes %s while holding %s", label, b, a);
    json_t *m = json_object();
    json_object_set_new(m, "text", json_string(msg));
    json_object_set_new(tf, "message", m);
    if (e->first_at.nframes) {
        char took[3 * PG_MAX_STRING + 808];
        snprintf(took, sizeof took, "takes %s", a);
        add_flow_location(locs, location(&e->first_at.frames[0], took), "essential");
    }
    add_stack_and_close(tf, locs, &e->stack, msg, o);
    return tf;
}

/* Where each named lock comes from: a global's definition (its declaration's file:line) or a
 * heap lock's init or first-taken site. */
static void add_lock_locations(json_t *rel, const pg_locknames *t)
{
    for (size_t i = 0; i < t->n; i++) {
        const pg_lockname *n = &t->v[i];
        char name[3 * PG_MAX_STRING], msg[3 * PG_MAX_STRING + 64];
        describe_lock_name(n, n->kind, name, sizeof name);
        const pg_frame *site = describe_lock_site(n);
        if (n->symbol && n->decl_file) {
            pg_frame decl = { .file = n->decl_file, .line = n->decl_line };
            snprintf(msg, sizeof msg, "%s %s is defined here (0x%llx)", render_wait_words(n->kind),
                     n->member || n->sym_offset ? name : n->symbol, (unsigned long long)n->address);
            json_array_append_new(rel, location(&decl, msg));
        } else if (site) {
            snprintf(msg, sizeof msg, "%s (0x%llx)", name, (unsigned long long)n->address);
            json_array_append_new(rel, location(site, msg));
        }
    }
}

static json_t *result(const pg_finding *f, const render_opts *o)
{
    json_t *res = json_object();
    json_object_set_new(res, "ruleId", json_string(f->kind));
    json_object_set_new(res, "level", json_string(level(f->sev)));
    char *msg = NULL;
    size_t mlen = 0;
    FILE *mm = open_memstream(&msg, &mlen);
    if (!mm)
        abort();
    fprintf(mm, "%s (in %s, pid %ld%s)", f->summary ? f->summary : f->kind,
            f->proc && f->proc->exe ? f->proc->exe : "?", f->proc ? f->proc->pid : -1L,
            f->count > 1 ? ", and more" : "");
    /* The locks by name, so an annotation on the user's line says which locks it is about. */
    size_t named = 0;
    for (size_t i = 0; i < f->locks.n; i++) {
        char name[3 * PG_MAX_STRING];
        const pg_lockname *n = &f->locks.v[i];
        if (!*describe_lock_name(n, n->kind, name, sizeof name))
            continue;
        fprintf(mm, "%s%s", named++ ? "; " : ". Locks: ", name);
    }
    fclose(mm);
    json_t *m = json_object();
    json_object_set_new(m, "text", json_string(msg ? msg : ""));
    free(msg);
    json_object_set_new(res, "message", m);
    /* Where each thread is in the program's own code, the finding's location first: code
     * scanning annotates every line a deadlock goes through, not only one. */
    json_t *locs = json_array();
    const pg_frame *at = render_finding_location(f);
    json_array_append_new(locs, location(at, NULL));
    for (size_t i = 0; i < f->nthreads && json_array_size(locs) < 10; i++) {
        const pg_frame *own = render_first_own_frame(&f->threads[i]);
        if (!own || !own->own || !own->file || own == at)
            continue;
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++) {
            const pg_frame *o2 = render_first_own_frame(&f->threads[k]);
            seen = o2 && o2->file && strcmp(o2->file, own->file) == 0 && o2->line == own->line;
        }
        if (at && at->file && strcmp(at->file, own->file) == 0 && at->line == own->line)
            seen = true;
        if (!seen) {
            char label[128], lm[256];
            snprintf(lm, sizeof lm, "%s is here",
                     render_thread_label(&f->threads[i], label, sizeof label));
            json_array_append_new(locs, location(own, lm));
        }
    }
    json_object_set_new(res, "locations", locs);
    if (f->signature) {
        json_t *fp = json_object();
        json_object_set_new(fp, "poolguardSignature/v1", json_string(f->signature));
        json_object_set_new(res, "partialFingerprints", fp);
    }
    /* Where a pool was created is where a reader goes next, then the functions of the tasks
     * queued in it. */
    const pg_pool *p = &f->pool_info;
    const pg_frame *created = stack_first_own_frame(&p->create_stack);
    json_t *rel = json_array();
    if (created) {
        char desc[1200];
        json_array_append_new(rel, location(created, describe_pool(p, desc, sizeof desc)));
    }
    for (size_t i = 0; i < p->nqueued_tasks; i++) {
        const pg_task_ref *q = &p->queued_tasks[i];
        if (!describe_function(&q->function))
            continue;
        char msg[64], pos[32];
        if (q->position > 0)
            snprintf(msg, sizeof msg, "queued task, %s in line",
                     describe_ordinal(q->position, pos, sizeof pos));
        else
            snprintf(msg, sizeof msg, "queued task");
        json_array_append_new(rel,
                              location(&q->function.sym.frames[q->function.sym.nframes - 1], msg));
    }
    /* A Python pool: the functions of the work its workers wait on, once each. */
    for (size_t i = 0; i < p->npy_tasks; i++) {
        const pg_py_task *t = &p->py_tasks[i];
        if (!t->queued_here || !t->wait_fn.function)
            continue;
        bool seen = false;
        for (size_t k = 0; k < i; k++)
            seen |= p->py_tasks[k].queued_here && p->py_tasks[k].wait_fn.function &&
                    strcmp(p->py_tasks[k].wait_fn.function, t->wait_fn.function) == 0;
        if (!seen)
            json_array_append_new(rel, location(&t->wait_fn,
                                                "waited-on task, still queued in the same pool"));
    }
    add_lock_locations(rel, &f->locks);
    if (json_array_size(rel))
        json_object_set_new(res, "relatedLocations", rel);
    else
        json_decref(rel);
    if (f->nthreads || f->norder) {
        json_t *flows = json_array();
        for (size_t i = 0; i < f->nthreads; i++)
            json_array_append_new(flows, thread_flow(f, &f->threads[i], o));
        for (size_t i = 0; i < f->norder; i++)
            json_array_append_new(flows, edge_flow(&f->order[i], i, o));
        json_t *cf = json_object();
        json_object_set_new(cf, "threadFlows", flows);
        json_t *cfs = json_array();
        json_array_append_new(cfs, cf);
        json_object_set_new(res, "codeFlows", cfs);
    }
    json_t *props = json_object();
    json_object_set_new(props, "count", json_integer(f->count));
    json_t *pids = json_array();
    for (size_t i = 0; i < f->npids; i++)
        json_array_append_new(pids, json_integer(f->pids[i]));
    json_object_set_new(props, "pids", pids);
    if (f->locks.n) {
        json_t *locks = json_array();
        for (size_t i = 0; i < f->locks.n; i++) {
            const pg_lockname *n = &f->locks.v[i];
            char name[3 * PG_MAX_STRING], hex[20];
            json_t *l = json_object();
            describe_lock_name(n, n->kind, name, sizeof name);
            json_object_set_new(l, "name", *name ? json_string(name) : json_null());
            json_object_set_new(l, "kind", json_string_or_null(n->kind));
            json_object_set_new(l, "address", json_string(render_hex(n->address, hex)));
            json_array_append_new(locks, l);
        }
        json_object_set_new(props, "locks", locks);
    }
    if (p->present) {
        /* How the pool is known and how sure the finding is, for tools that sort on it. */
        if (p->library)
            json_object_set_new(props, "library", json_string(p->library));
        if (p->source >= 0)
            json_object_set_new(props, "poolSource", json_string(pg_source_name(p->source)));
        if (p->proof >= 0)
            json_object_set_new(props, "proof", json_string(pg_proof_name(p->proof)));
        if (p->py_kind)
            json_object_set_new(props, "poolClass", json_string(p->py_kind));
        if (p->nqueued_tasks) {
            json_t *q = json_array();
            for (size_t i = 0; i < p->nqueued_tasks; i++) {
                json_t *e = json_object();
                json_object_set_new(e, "function",
                                    json_string_or_null(
                                        describe_function(&p->queued_tasks[i].function)));
                json_object_set_new(e, "position",
                                    p->queued_tasks[i].position > 0
                                        ? json_integer(p->queued_tasks[i].position)
                                        : json_null());
                json_array_append_new(q, e);
            }
            json_object_set_new(props, "queuedTasks", q);
        }
    }
    json_object_set_new(res, "properties", props);
    return res;
}

int render_sarif(pg_report *r, const render_opts *o, FILE *out)
{
    json_t *doc = json_object();
    json_object_set_new(doc, "$schema",
                        json_string("https://json.schemastore.org/sarif-2.1.0.json"));
    json_object_set_new(doc, "version", json_string("2.1.0"));
    json_t *driver = json_object(), *rules = json_array();
    json_object_set_new(driver, "name", json_string("poolguard"));
    json_object_set_new(driver, "version", json_string(PG_TOOL_VERSION));
    for (int k = PG_KIND_NONE + 1; pg_kind_name(k); k++) {
        json_t *rule = json_object(), *sd = json_object();
        json_object_set_new(rule, "id", json_string(pg_kind_name(k)));
        json_object_set_new(sd, "text",
                            json_string((size_t)k < sizeof rule_text / sizeof *rule_text &&
                                                rule_text[k]
                                            ? rule_text[k]
                                            : ""));
        json_object_set_new(rule, "shortDescription", sd);
        json_array_append_new(rules, rule);
    }
    json_object_set_new(driver, "rules", rules);
    json_t *tool = json_object();
    json_object_set_new(tool, "driver", driver);
    json_t *run = json_object(), *results = json_array();
    json_object_set_new(run, "tool", tool);
    size_t n;
    pg_finding **f = report_findings(r, &n);
    for (size_t i = 0; i < n; i++)
        if (render_finding_visible(f[i], o))
            json_array_append_new(results, result(f[i], o));
    json_object_set_new(run, "results", results);
    json_t *runs = json_array();
    json_array_append_new(runs, run);
    json_object_set_new(doc, "runs", runs);
    int ret = json_dumpf(doc, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 ? 0 : -EIO;
    fputc('\n', out);
    json_decref(doc);
    return ret;
}

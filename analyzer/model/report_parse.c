/*
 * Turns one JSON object of a raw report into the model (model.h): a header, a module, a finding
 * or a snapshot. Members are read defensively: a wrong type counts as absent, strings and arrays
 * are capped, unknown members and types are ignored (the format says so), and nothing here can
 * fail except for memory. Threads and pools are read in files of their own
 * (report_parse_int.h says which).
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
        report_diag(ps->report, true,
                    "%s: report version %lld is newer than this poolguard reads "
                    "(%d); update poolguard",
                    ps->name, (long long)json_integer_value(v), PG_FORMAT_VERSION);
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
    f->pool_info.evidence_code = f->pool_info.library_id = f->pool_info.source =
        f->pool_info.proof = -1;
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
        if (rp_parse_pool(pool, &f->pool_info, ps->proc->version) < 0) {
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

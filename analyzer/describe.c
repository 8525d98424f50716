/*
 * Findings in the user's words: a pool is named by where the program created it (or by the name
 * its annotations gave it), a lock-order cycle by the functions that take its locks. The shim
 * decides what happened and writes a sentence without symbols (it never symbolizes); this module
 * rewrites that sentence once frames are known, so every format shows the same one. Reads
 * symbolized stacks; writes only the summary of a finding (the shim's own is kept).
 */
#include "analyze.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
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

const char *describe_pool(const pg_pool *p, char *buf, size_t len)
{
    char call[512];
    const pg_frame *where = stack_first_own_frame(&p->create_stack);
    const char *routine = describe_pool_routine(p);
    if (p->name)
        snprintf(buf, len, "the pool \"%s\"", p->name);
    else if (where && routine && strcmp(routine, where->function) != 0)
        snprintf(buf, len, "the pool created in %s (thread routine %s)",
                 describe_call(where->function, call, sizeof call), routine);
    else if (where)
        snprintf(buf, len, "the pool created in %s", describe_call(where->function, call, sizeof call));
    else if (routine)
        snprintf(buf, len, "the pool of threads started at %s", describe_call(routine, call, sizeof call));
    else
        snprintf(buf, len, "the pool");
    return buf;
}

/* Appends to a growing string; a failed allocation leaves *out NULL. */
static void append(char **out, size_t *len, const char *fmt, ...)
{
    if (!*out)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *piece = NULL;
    int n = vasprintf(&piece, fmt, ap);
    va_end(ap);
    char *grown = n >= 0 ? realloc(*out, *len + (size_t)n + 1) : NULL;
    if (!grown) {
        free(piece);
        free(*out);
        *out = NULL;
        return;
    }
    memcpy(grown + *len, piece, (size_t)n + 1);
    *len += (size_t)n;
    *out = grown;
    free(piece);
}

/*
 * The shim names a pool in one of three ways: "a pool of N worker(s)", "the pool \"name\"" or
 * "the pool". The first one found is replaced by the pool's description; a sentence with none
 * (another layer's wording) is kept as it is.
 */
static char *pool_summary(const char *shim, const pg_pool *p)
{
    char desc[1200];
    describe_pool(p, desc, sizeof desc);
    if (strcmp(desc, "the pool") == 0)
        return NULL;
    const char *at, *end;
    char *out = strdup("");
    size_t len = 0;
    if ((at = strstr(shim, "a pool of ")) && isdigit((unsigned char)at[10])) {
        char *num_end;
        long n = strtol(at + 10, &num_end, 10);
        bool plural = strncmp(num_end, " workers", 8) == 0;
        if (!plural && strncmp(num_end, " worker", 7) != 0) {
            free(out);
            return NULL;
        }
        end = num_end + (plural ? 8 : 7);
        append(&out, &len, "%.*s%s, which has %ld worker%s,", (int)(at - shim), shim, desc, n,
               plural ? "s" : "");
        /* "..., which has 1 worker, while": no comma of ours before the shim's own. */
        if (*end == ',' && out)
            out[--len] = '\0';
    } else if ((at = strstr(shim, "the pool \"")) && (end = strchr(at + 10, '"'))) {
        end++;
        append(&out, &len, "%.*s%s", (int)(at - shim), shim, desc);
    } else if ((at = strstr(shim, "the pool")) && !isalnum((unsigned char)at[8]) && at[8] != '_') {
        end = at + 8;
        append(&out, &len, "%.*s%s", (int)(at - shim), shim, desc);
    } else {
        free(out);
        return NULL;
    }
    append(&out, &len, "%s", end);
    return out;
}

/* "2 locks are taken in opposite orders by 2 threads (in f() and g()); a deadlock that did not
 * happen this run". The functions are where each edge took its second lock. */
static char *order_summary(const pg_finding *f)
{
    size_t nthreads = 0;
    for (size_t i = 0; i < f->norder; i++) {
        bool seen = false;
        for (size_t k = 0; k < i; k++)
            seen |= f->order[k].tid == f->order[i].tid;
        nthreads += !seen;
    }
    const char *fns[4];
    size_t nfns = 0;
    bool more = false;
    for (size_t i = 0; i < f->norder; i++) {
        const pg_frame *fr = stack_first_own_frame(&f->order[i].stack);
        if (!fr)
            continue;
        bool seen = false;
        for (size_t k = 0; k < nfns; k++)
            seen |= strcmp(fns[k], fr->function) == 0;
        if (seen)
            continue;
        if (nfns < 4)
            fns[nfns++] = fr->function;
        else
            more = true;
    }
    char *out = strdup("");
    size_t len = 0;
    append(&out, &len, "%zu locks are taken in %s by %zu thread%s", f->norder,
           f->norder == 2 ? "opposite orders" : "a circular order", nthreads,
           nthreads == 1 ? "" : "s");
    for (size_t i = 0; i < nfns; i++) {
        char call[512];
        describe_call(fns[i], call, sizeof call);
        append(&out, &len, "%s%s", i == 0 ? " (in " : i + 1 == nfns && !more ? " and " : ", ", call);
    }
    if (nfns)
        append(&out, &len, "%s)", more ? ", ..." : "");
    append(&out, &len, "; a deadlock that did not happen this run");
    return out;
}

int analyze_describe(pg_report *r)
{
    size_t n;
    pg_finding **f = report_findings(r, &n);
    for (size_t i = 0; i < n; i++) {
        const char *shim = f[i]->shim_summary ? f[i]->shim_summary : f[i]->summary;
        char *better = NULL;
        if (f[i]->norder > 0 && strcmp(f[i]->kind, "lock_order") == 0)
            better = order_summary(f[i]);
        else if (f[i]->pool_info.present && shim)
            better = pool_summary(shim, &f[i]->pool_info);
        if (!better)
            continue;
        if (!f[i]->shim_summary)
            f[i]->shim_summary = f[i]->summary;
        else
            free(f[i]->summary);
        f[i]->summary = better;
    }
    return 0;
}

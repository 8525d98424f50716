/*
 * Suppressions: a file of rules, one a line, that hide findings people have decided to live with.
 *   # comment
 *   deadlock:worker_*       a finding of this kind (or * for any) with a frame whose function
 *                           matches the glob
 *   module:*libfoo.so*      a finding with a frame in a module whose path matches the glob
 * Globs are fnmatch(3) patterns. Any thread's stack counts, including inlined frames, and so do a
 * lock-order cycle's acquisition stacks and the stack where a pool was created.
 */
#include "analyze.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "lines.h"

#include <fcntl.h>
#include <unistd.h>

enum { MAX_RULES = 10000, MAX_RULE_LINE = 4096 };

typedef struct rule {
    char *kind; /* NULL: a module rule */
    char *glob;
} rule;

struct suppressions {
    rule *rules;
    size_t n;
};

/* A finding kind of the report format, or "*" (every kind). */
static bool known_kind(const char *k)
{
    return strcmp(k, "*") == 0 || pg_kind_parse(k) > PG_KIND_NONE;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

void suppressions_free(suppressions *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->rules[i].kind);
        free(s->rules[i].glob);
    }
    free(s->rules);
    free(s);
}

suppressions *suppressions_load(const char *path, FILE *diag, int *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *err = -errno;
        if (diag)
            fprintf(diag, "poolguard: error: cannot open suppressions '%s': %s\n", path,
                    strerror(errno));
        return NULL;
    }
    suppressions *s = calloc(1, sizeof *s);
    lines *l = lines_new(fd, MAX_RULE_LINE);
    *err = (!s || !l) ? -ENOMEM : 0;
    unsigned long lineno = 0;
    char *line;
    size_t len;
    int flags;
    int n = 0;
    while (*err == 0 && (n = lines_next(l, true, &line, &len, &flags)) > 0) {
        lineno++;
        char *t = trim(line);
        if (!*t || *t == '#')
            continue;
        char *colon = strchr(t, ':');
        const char *problem = NULL;
        if ((flags & LINES_TOO_LONG) || memchr(line, '\0', len))
            problem = "not a rule";
        else if (!colon)
            problem = "expected KIND:FUNCTION-GLOB or module:PATH-GLOB";
        else {
            *colon = '\0';
            char *k = trim(t), *g = trim(colon + 1);
            if (!*g)
                problem = "the glob is empty";
            else if (strcmp(k, "module") != 0 && !known_kind(k))
                problem = "unknown finding kind (deadlock, pool_exhaustion, queue_growth, "
                          "lock_order, stall, *, or module)";
            else if (s->n >= MAX_RULES)
                problem = "too many rules";
            else {
                rule *nr = realloc(s->rules, (s->n + 1) * sizeof *nr);
                if (!nr) {
                    *err = -ENOMEM;
                    break;
                }
                s->rules = nr;
                nr[s->n].kind = strcmp(k, "module") == 0 ? NULL : strdup(k);
                nr[s->n].glob = strdup(g);
                s->n++;
            }
        }
        if (problem) {
            if (diag)
                fprintf(diag, "poolguard: error: %s:%lu: %s\n", path, lineno, problem);
            *err = -EINVAL;
        }
    }
    if (*err == 0 && n < 0)
        *err = n;
    lines_free(l);
    close(fd);
    if (*err) {
        suppressions_free(s);
        return NULL;
    }
    return s;
}

static bool stack_matches(const rule *ru, const pg_stack *st)
{
    for (size_t i = 0; i < st->nframes; i++) {
        const pg_frame *f = &st->frames[i];
        if (ru->kind) {
            if (f->function && fnmatch(ru->glob, f->function, 0) == 0)
                return true;
        } else if (f->module) {
            const char *b = strrchr(f->module, '/');
            if (fnmatch(ru->glob, f->module, 0) == 0 || (b && fnmatch(ru->glob, b + 1, 0) == 0))
                return true;
        }
    }
    return false;
}

bool suppressions_match(const suppressions *s, const pg_finding *f)
{
    for (size_t r = 0; r < s->n; r++) {
        const rule *ru = &s->rules[r];
        if (ru->kind && strcmp(ru->kind, "*") != 0 && strcmp(ru->kind, f->kind) != 0)
            continue;
        for (size_t t = 0; t < f->nthreads; t++)
            if (stack_matches(ru, &f->threads[t].stack) || stack_matches(ru, &f->threads[t].python))
                return true;
        /* A lock-order cycle's edges are its threads; a pool is also where it was created. */
        for (size_t e = 0; e < f->norder; e++)
            if (stack_matches(ru, &f->order[e].stack) || stack_matches(ru, &f->order[e].first_at))
                return true;
        if (stack_matches(ru, &f->pool_info.create_stack))
            return true;
    }
    return false;
}

size_t suppressions_apply(const suppressions *s, pg_report *r)
{
    size_t n, hits = 0;
    pg_finding **f = report_findings(r, &n);
    for (size_t i = 0; i < n; i++)
        if (suppressions_match(s, f[i])) {
            f[i]->suppressed = true;
            hits++;
        }
    return hits;
}

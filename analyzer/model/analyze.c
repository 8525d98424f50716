/*
 * Signatures and folding of repeated findings (see analyze.h). A signature leaves out everything
 * that changes between runs (addresses, tids, pids, times) and keeps what a person would call
 * "the same bug": the kind and where each involved thread is blocked.
 */
#include "analyze.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { SIG_FRAMES = 6, SIG_MAX = 8192 };

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Function names of a stack's first frames that matter, joined by '>', appended to buf. */
static void stack_sig(const pg_stack *st, char *buf, size_t size)
{
    size_t len = strlen(buf), taken = 0;
    /* The program's own frames say where the bug is; library internals above them are the
     * same for every bug that blocks the same way. Without own frames, any unfolded frame. */
    bool have_own = false;
    for (size_t i = 0; i < st->nframes && !have_own; i++)
        have_own = st->frames[i].own;
    for (size_t i = 0; i < st->nframes && taken < SIG_FRAMES; i++) {
        const pg_frame *f = &st->frames[i];
        if (f->folded || (have_own && !f->own))
            continue;
        const char *name = f->function ? f->function : "?";
        int n = snprintf(buf + len, size - len, "%s%s", taken ? ">" : "", name);
        if (n < 0 || (size_t)n >= size - len)
            break;
        len += (size_t)n;
        taken++;
    }
}

static char *thread_sig(const pg_mthread *t)
{
    char buf[1024] = "";
    /* Python code, when there is any, is where the bug is: the native frames are the
     * interpreter's and the same for every Python bug. */
    stack_sig(t->python.nframes ? &t->python : &t->stack, buf, sizeof buf);
    return strdup(buf);
}

/* A lock-order edge: the function that took the first lock, '@', then where the second was
 * taken. Edges are sorted like threads, so the same cycle found from another lock is equal. */
static char *edge_sig(const pg_order_edge *e)
{
    char buf[1024] = "";
    const pg_frame *first = stack_first_own_frame(&e->first_at);
    if (!first && e->first_at.nframes)
        first = &e->first_at.frames[0];
    snprintf(buf, sizeof buf, "%s@", first && first->function ? first->function : "?");
    stack_sig(&e->stack, buf, sizeof buf);
    return strdup(buf);
}

static char *finding_sig(const pg_finding *f)
{
    /* A lock-order cycle has no threads (they may be long gone): its edges stand for them. */
    bool edges = f->nthreads == 0 && f->norder > 0;
    size_t n = edges ? f->norder : f->nthreads;
    char **parts = calloc(n ? n : 1, sizeof *parts);
    if (!parts)
        return NULL;
    size_t total = strlen(f->kind) + 2;
    for (size_t i = 0; i < n; i++) {
        parts[i] = edges ? edge_sig(&f->order[i]) : thread_sig(&f->threads[i]);
        if (!parts[i])
            parts[i] = strdup("");
        total += (parts[i] ? strlen(parts[i]) : 0) + 1;
    }
    qsort(parts, n, sizeof *parts, cmp_str);
    bool any = false;
    for (size_t i = 0; i < n; i++)
        any |= parts[i] && *parts[i];
    /* Without a single named frame, the shim's sentence is the best identity left. */
    const char *fallback = any || !f->summary ? "" : f->summary;
    total += strlen(fallback);
    if (total > SIG_MAX)
        total = SIG_MAX;
    char *sig = malloc(total + 1);
    if (sig) {
        size_t len = (size_t)snprintf(sig, total + 1, "%s|%s", f->kind, fallback);
        for (size_t i = 0; i < n && len < total; i++)
            len += (size_t)snprintf(sig + len, total + 1 - len, "%s%s", i ? "|" : "",
                                    parts[i] ? parts[i] : "");
    }
    for (size_t i = 0; i < n; i++)
        free(parts[i]);
    free(parts);
    return sig;
}

static int add_pid(pg_finding *into, long pid)
{
    for (size_t i = 0; i < into->npids; i++)
        if (into->pids[i] == pid)
            return 0;
    if (into->npids >= PG_MAX_THREADS)
        return 0;
    long *p = realloc(into->pids, (into->npids + 1) * sizeof *p);
    if (!p)
        return -ENOMEM;
    into->pids = p;
    p[into->npids++] = pid;
    return 0;
}

/* Signatures are hashed so folding stays linear in the number of findings. */
static unsigned long hash_str(const char *s)
{
    unsigned long h = 5381;
    while (*s)
        h = h * 33 ^ (unsigned char)*s++;
    return h;
}

int analyze_dedup(pg_report *r)
{
    analyze_describe(r);
    size_t n;
    pg_finding **f = report_findings(r, &n);
    size_t nb = 1;
    while (nb < 2 * n)
        nb <<= 1;
    pg_finding **table = calloc(nb, sizeof(pg_finding *));
    if (!table)
        return -ENOMEM;
    int ret = 0;
    for (size_t i = 0; i < n && !ret; i++) {
        if (!f[i]->signature) {
            f[i]->signature = finding_sig(f[i]);
            if (!f[i]->signature) {
                ret = -ENOMEM;
                break;
            }
        }
        f[i]->duplicate = false;
        f[i]->count = 1;
        free(f[i]->pids);
        f[i]->pids = NULL;
        f[i]->npids = 0;
        size_t h = hash_str(f[i]->signature) & (nb - 1);
        while (table[h] && strcmp(table[h]->signature, f[i]->signature) != 0)
            h = (h + 1) & (nb - 1);
        pg_finding *first = table[h];
        if (!first) {
            table[h] = f[i];
            first = f[i];
        } else {
            f[i]->duplicate = true;
            first->count++;
            /* The folded finding keeps the most severe severity of its repeats. */
            if (f[i]->sev > first->sev)
                first->sev = f[i]->sev;
        }
        ret = add_pid(first, f[i]->proc ? f[i]->proc->pid : -1);
    }
    free(table);
    return ret;
}

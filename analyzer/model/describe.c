/*
 * Findings in the user's words: the sentence of a finding, written from its structured members
 * once frames are known, so every format shows the same one. The shim decides what happened and
 * writes data; its own sentence (it never symbolizes) is shown only where this module has none
 * of its own (deadlocks, whose sentence names only counts and kinds), and it is never read.
 * Reads symbolized stacks; writes only the summary of a finding (the shim's own is kept). How
 * pools, tasks, locks and Python workers are named: the files describe_int.h lists.
 */
#include "describe_int.h"

#include "render.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

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
        append(&out, &len, "%s%s",
               i == 0                   ? " (in "
               : i + 1 == nfns && !more ? " and "
                                        : ", ",
               call);
    }
    if (nfns)
        append(&out, &len, "%s)", more ? ", ..." : "");
    append(&out, &len, "; a deadlock that did not happen this run");
    return out;
}

/* "worker 1234 runs parent_task and waits after submitting child_task, queued 2nd": what the
 * exact layer knows of one thread's task and the task it waits behind. False when it knows
 * nothing of the second. */
static bool worker_clause(const pg_pool *p, const pg_mthread *t, char **out, size_t *len)
{
    const char *runs = describe_function(&t->task_function);
    const pg_task_ref *sub = &t->submitted_task;
    const pg_task_wait *w = &t->waits_for_task;
    if (!sub->present && !w->present)
        return false;
    char pos[32];
    append(out, len, "%s %ld", t->role_id == PG_ROLE_WORKER ? "worker" : "thread", t->tid);
    if (runs)
        append(out, len, " runs %s and", runs);
    if (sub->present) {
        const char *name = describe_task_name(p, &sub->function, sub->address);
        append(out, len, " waits after submitting %s", name ? name : "a task");
        if (sub->position > 0)
            append(out, len, ", queued %s", describe_ordinal(sub->position, pos, sizeof pos));
        else
            append(out, len, ", still queued");
        return true;
    }
    const char *name = describe_task_name(p, &w->function, w->address);
    append(out, len, " waits for %s", name ? name : "a task");
    long at = describe_task_position(p, t, w->address);
    if (w->state && strcmp(w->state, "queued") == 0 && at > 0)
        append(out, len, ", queued %s", describe_ordinal(at, pos, sizeof pos));
    else if (w->state && strcmp(w->state, "queued") == 0)
        append(out, len, ", still queued");
    else if (w->state && strcmp(w->state, "running") == 0 && w->runner >= 0)
        append(out, len, ", running on thread %ld", w->runner);
    else if (w->state && strcmp(w->state, "running") == 0)
        append(out, len, ", which is running");
    return true;
}

enum { MAX_CLAUSES = 2 };

/* The Python workers' clauses: those waiting on work queued here first, next to run first, then
 * the others that are blocked; at most MAX_CLAUSES, then "and N more". */
static size_t py_worker_clauses(const pg_pool *p, char **out, size_t *len)
{
    size_t said = 0, more = 0;
    const pg_py_task *order[PG_MAX_THREADS];
    size_t n = 0;
    for (size_t i = 0; i < p->npy_tasks; i++) {
        const pg_py_task *t = &p->py_tasks[i];
        if (!t->waits && !describe_py_blocked_words(t->blocked))
            continue;
        /* Insertion by (queued here first, then queue position, unknown last), stable. */
        size_t at = n;
        while (at > 0) {
            const pg_py_task *o = order[at - 1];
            long a = t->queued_here && t->queue_pos >= 0 ? t->queue_pos : LONG_MAX;
            long b = o->queued_here && o->queue_pos >= 0 ? o->queue_pos : LONG_MAX;
            bool before =
                (t->queued_here && !o->queued_here) || (t->queued_here == o->queued_here && a < b);
            if (!before)
                break;
            order[at] = order[at - 1];
            at--;
        }
        order[at] = t;
        n++;
    }
    for (size_t i = 0; i < n; i++) {
        if (said == MAX_CLAUSES) {
            more++;
            continue;
        }
        char clause[5 * PG_MAX_STRING];
        append(out, len, "; %s", describe_py_worker(p, order[i], clause, sizeof clause));
        said++;
    }
    if (more)
        append(out, len, "; and %zu more", more);
    return said;
}

/* "; worker 1 ...; worker 2 ...; and 3 more": at most MAX_CLAUSES threads, workers first. */
static size_t worker_clauses(const pg_finding *f, char **out, size_t *len)
{
    size_t said = 0, more = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < f->nthreads; i++) {
            const pg_mthread *t = &f->threads[i];
            bool worker = t->role_id == PG_ROLE_WORKER;
            if (worker != (pass == 0) || !(t->submitted_task.present || t->waits_for_task.present))
                continue;
            if (said == MAX_CLAUSES) {
                more++;
                continue;
            }
            append(out, len, "; ");
            said += worker_clause(&f->pool_info, t, out, len);
        }
    if (more)
        append(out, len, "; and %zu more", more);
    return said;
}

/* "3 tasks queued (exact)", "about 2 tasks queued (estimated)", or "" when nothing says. */
static void queue_words(const pg_pool *p, char *buf, size_t len)
{
    if (p->queued > 0)
        snprintf(buf, len, "%s%ld task%s queued (%s)", p->queued_exact ? "" : "about ", p->queued,
                 p->queued == 1 ? "" : "s", p->queued_exact ? "exact" : "estimated");
    else if (p->queued < 0 && p->nqueued_tasks)
        snprintf(buf, len, "at least %zu task%s queued", p->nqueued_tasks,
                 p->nqueued_tasks == 1 ? "" : "s");
    else
        buf[0] = '\0';
}

/* The shortest blocked time among the threads that matter (a pool's workers, else all): how
 * long all of them have been blocked at least. -1 when none says. */
static int64_t blocked_at_least(const pg_finding *f, bool workers_only)
{
    int64_t least = -1;
    for (size_t i = 0; i < f->nthreads; i++) {
        const pg_mthread *t = &f->threads[i];
        if (workers_only && !(t->role_id == PG_ROLE_WORKER))
            continue;
        if (t->blocked.present && t->blocked.since_ms >= 0 &&
            (least < 0 || t->blocked.since_ms < least))
            least = t->blocked.since_ms;
    }
    return least;
}

/* A stall of threads outside any pool: "worker-1 (tid 11) has been blocked for 5000 ms on a
 * condition variable; nothing proves it cannot continue". */
static char *thread_stall_summary(const pg_finding *f)
{
    char *out = strdup("");
    size_t len = 0, blocked = 0;
    const pg_mthread *one = NULL;
    for (size_t i = 0; i < f->nthreads; i++)
        if (f->threads[i].blocked.present) {
            blocked++;
            one = &f->threads[i];
        }
    int64_t ms = blocked_at_least(f, false);
    if (blocked == 1) {
        char label[128];
        render_thread_label(one, label, sizeof label);
        append(&out, &len, "%s has been blocked", label);
        if (ms >= 0)
            append(&out, &len, " for %" PRId64 " ms", ms);
        const char *words = render_wait_words(one->blocked.kind);
        append(&out, &len, " on %s %s; nothing proves it cannot continue",
               strchr("aeiou", words[0]) ? "an" : "a", words);
    } else if (blocked > 1) {
        append(&out, &len, "%zu threads have been blocked", blocked);
        if (ms >= 0)
            append(&out, &len, " for at least %" PRId64 " ms", ms);
        append(&out, &len, "; nothing proves they cannot continue");
    } else {
        free(out);
        return NULL;
    }
    return out;
}

/*
 * The sentence of a pool_exhaustion or stall finding from the structured members (the pool's
 * proof, library, queue and tasks, each thread's task and submission). A pool without a proof
 * (an older shim's) is taken at its severity: an error was proven, a warning inferred. NULL when
 * the finding has no pool.
 */
static char *exact_summary(const pg_finding *f)
{
    const pg_pool *p = &f->pool_info;
    bool stall = f->kind_id == PG_KIND_STALL;
    if (stall && !p->present)
        return thread_stall_summary(f);
    if (!p->present || !(stall || f->kind_id == PG_KIND_POOL_EXHAUSTION))
        return NULL;
    int proof = p->proof >= 0              ? p->proof
                : f->sev == PG_SEV_ERROR   ? PG_PROOF_GRAPH
                : f->sev == PG_SEV_WARNING ? PG_PROOF_INFERRED
                                           : PG_PROOF_NONE;
    /* A Python pool without tasks[] (an older shim): its own sentence says more. */
    bool python = describe_is_python(p);
    if (python && !p->has_py_tasks)
        return NULL;
    bool waits_here = false;
    for (size_t i = 0; i < p->npy_tasks; i++)
        waits_here |= p->py_tasks[i].queued_here;
    long workers = p->workers;
    if (workers < 0) {
        workers = 0;
        for (size_t i = 0; i < f->nthreads; i++)
            workers += f->threads[i].role_id == PG_ROLE_WORKER;
    }
    bool one = workers == 1;
    char desc[1200], queue[128], who[64];
    describe_pool(p, desc, sizeof desc);
    queue_words(p, queue, sizeof queue);
    if (one)
        snprintf(who, sizeof who, "the only worker");
    else if (workers > 1)
        snprintf(who, sizeof who, "all %ld workers", workers);
    else
        snprintf(who, sizeof who, "the workers");
    char *out = strdup("");
    size_t len = 0;
    bool proven = proof == PG_PROOF_GRAPH || proof == PG_PROOF_EXACT;
    if (!stall && python && !waits_here && proof == PG_PROOF_GRAPH) {
        /* Workers blocked in their tasks (an Event, a queue) with work queued: nothing ties
         * their waits to that work, but nothing is left to wake them either. */
        append(&out, &len,
               "%s of %s %s blocked inside %s task%s with %s behind %s, and the "
               "wait-for graph shows no thread left to wake %s",
               who, desc, one ? "is" : "are", one ? "its" : "their", one ? "" : "s",
               *queue ? queue : "work queued", one ? "it" : "them", one ? "it" : "them");
    } else if (!stall && proven) {
        append(&out, &len, "%s of %s %s waiting for %s queued behind %s in the same %s", who, desc,
               one ? "is" : "are", one ? "a task" : "tasks", one ? "it" : "them",
               python ? describe_pool_word(p) : "pool");
        if (*queue)
            append(&out, &len, ": %s", queue);
    } else if (!stall && proof == PG_PROOF_INFERRED && p->queued > 0) {
        append(&out, &len,
               "%s of %s %s blocked outside the idle wait with %s behind %s; this looks "
               "like pool exhaustion, but it is inferred from how the threads wait, not proven",
               who, desc, one ? "is" : "are", queue, one ? "it" : "them");
    } else {
        int64_t ms = blocked_at_least(f, true);
        append(&out, &len, "%s of %s %s been blocked", who, desc, one ? "has" : "have");
        if (ms >= 0)
            append(&out, &len, " for %s%" PRId64 " ms", one ? "" : "at least ", ms);
        if (*queue)
            append(&out, &len, " (%s)", queue);
        append(&out, &len, "; nothing proves %s cannot continue", one ? "it" : "they");
    }
    if (python)
        py_worker_clauses(p, &out, &len);
    else if (worker_clauses(f, &out, &len) == 0 && p->nqueued_tasks) {
        const char *next = describe_function(&p->queued_tasks[0].function);
        if (next)
            append(&out, &len, "; next to run: %s", next);
    }
    return out;
}

/* A queue_growth: "the queue of the ThreadPoolExecutor \"io\" (2 workers) grew to 9874 tasks
 * (+4790 per second) while every worker was busy"; when the queue was only inferred (no exact
 * count), "9874 tasks were queued on the pool created in main(), which has 2 workers, while no
 * worker was free to take them". NULL without the numbers. */
static char *growth_summary(const pg_finding *f)
{
    const pg_pool *p = &f->pool_info;
    int64_t depth = f->growth.depth >= 0 ? f->growth.depth : p->queued;
    if (!p->present || !f->growth.present || depth < 0 || f->growth.per_second < 0)
        return NULL;
    char desc[1200], workers[64] = "";
    describe_pool(p, desc, sizeof desc);
    /* "the ThreadPoolExecutor \"io\" (2 workers)", "the pool created in f(), which has 2 workers," */
    if (p->workers >= 0)
        snprintf(workers, sizeof workers,
                 describe_is_python(p) ? " (%ld worker%s)" : ", which has %ld worker%s,",
                 p->workers, p->workers == 1 ? "" : "s");
    char *out = strdup("");
    size_t len = 0;
    if (p->proof == PG_PROOF_INFERRED ||
        (p->proof < 0 && !p->queued_exact && !describe_is_python(p))) {
        append(&out, &len,
               "%" PRId64 " task%s %s queued on %s%s while no worker was free to take "
               "them (+%" PRId64 " per second); its queue keeps growing",
               depth, depth == 1 ? "" : "s", depth == 1 ? "was" : "were", desc, workers,
               f->growth.per_second);
        return out;
    }
    append(&out, &len,
           "the queue of %s%s grew to %" PRId64 " task%s (+%" PRId64 " per second) "
           "while every worker was busy",
           desc, workers, depth, depth == 1 ? "" : "s", f->growth.per_second);
    if (describe_is_python(p))
        append(&out, &len, ": submissions outpace the %s and memory grows with them",
               describe_pool_word(p));
    return out;
}

int analyze_describe(pg_report *r)
{
    size_t n;
    pg_finding **f = report_findings(r, &n);
    for (size_t i = 0; i < n; i++) {
        char *better = NULL;
        if (f[i]->norder > 0 && f[i]->kind_id == PG_KIND_LOCK_ORDER)
            better = order_summary(f[i]);
        else if (f[i]->kind_id == PG_KIND_QUEUE_GROWTH)
            better = growth_summary(f[i]);
        else
            better = exact_summary(f[i]);
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

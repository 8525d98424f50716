/*
 * The wait-for graph in DOT (render_dot_int.h says which file draws what): a finding's pool with
 * its tasks where the report knows them. A worker waits for a task, the task is queued in the
 * pool at position N, the pool waits for a worker and every worker is busy; the raw semaphore
 * behind a task's future is left out (render_dot.c leaves it out of the threads' waits too).
 * Read-only over the model.
 */
#include "render_dot_int.h"

#include "analyze.h"

#include <inttypes.h>
#include <string.h>

/* A task node: its function and where it stands ("queued 2nd"). Named by the task's identity
 * (C pools) or by the worker waiting on it (Python work has no identity the report gives). */
static void draw_task_node(const dctx *d, const char *id, const char *name, const char *state)
{
    char label[PG_MAX_STRING + 128];
    snprintf(label, sizeof label, "task %s\n%s", name ? name : "(function not known)", state);
    fprintf(d->out, "    %s [shape=note, style=filled, fillcolor=\"#eef4ff\", label=", id);
    dot_str(d->out, label);
    fprintf(d->out, "];\n");
}

static const char *const HOT = ", color=red, penwidth=2.5, fontcolor=red";

/*
 * A pool drawn as the loop that stops it: a worker waits for a task, the task is queued in the
 * pool at position N, and the pool waits for a free worker while all of them are busy (the edge
 * from the pool to each worker). The loop is red when the finding is proven.
 */
void dot_draw_pool(const dctx *d, const pg_finding *f)
{
    FILE *out = d->out;
    int k = d->k;
    const pg_pool *p = &f->pool_info;
    bool proven = p->proof == PG_PROOF_EXACT || p->proof == PG_PROOF_GRAPH;
    const char *hot = proven ? HOT : "";
    char desc[1200], label[1400 + 4 * 160];
    describe_pool(p, desc, sizeof desc);
    int n = snprintf(label, sizeof label, "%s", desc);
    if (p->workers >= 0 && n >= 0 && (size_t)n < sizeof label)
        n += snprintf(label + n, sizeof label - (size_t)n, "\n%ld worker%s", p->workers,
                      p->workers == 1 ? "" : "s");
    if (p->queued >= 0 && n >= 0 && (size_t)n < sizeof label)
        n += snprintf(label + n, sizeof label - (size_t)n, ", %s%ld queued",
                      p->queued_exact ? "" : "about ", p->queued);
    if (p->proof >= 0 && n >= 0 && (size_t)n < sizeof label)
        n += snprintf(label + n, sizeof label - (size_t)n, "\nproof: %s", pg_proof_name(p->proof));
    /* The queue's first tasks by function, next to run first. */
    for (size_t i = 0; i < p->nqueued_tasks && i < 4 && n >= 0 && (size_t)n < sizeof label; i++) {
        const char *name = describe_function(&p->queued_tasks[i].function);
        n += snprintf(label + n, sizeof label - (size_t)n, "%s%s",
                      i ? ", " : "\nqueued: ", name ? name : "?");
    }
    if (p->nqueued_tasks > 4 && n >= 0 && (size_t)n < sizeof label)
        snprintf(label + n, sizeof label - (size_t)n, ", ...");
    fprintf(out, "    p%d [shape=box3d, style=filled, fillcolor=%s, label=", k,
            f->sev == PG_SEV_ERROR     ? "\"#ffe0e0\""
            : f->sev == PG_SEV_WARNING ? "\"#fff4d0\""
                                       : "\"#e0f0ff\"");
    dot_str(out, label);
    fprintf(out, "];\n");
    for (size_t i = 0; i < f->nthreads; i++) {
        const pg_mthread *t = &f->threads[i];
        if (!t->role)
            continue;
        bool worker = t->role_id == PG_ROLE_WORKER;
        char el[PG_MAX_STRING + 64], pos[32], id[64], state[96];
        const pg_py_task *py = worker ? describe_py_task(p, t) : NULL;
        if (worker) {
            /* The pool needs a free worker, and this one is busy (with its task, when known). */
            const char *runs = describe_function(&t->task_function);
            if (!runs && py)
                runs = py->task.function;
            snprintf(el, sizeof el, "busy%s%s", runs ? ": runs " : "", runs ? runs : "");
            fprintf(out, "    p%d -> t%d_%ld [label=", k, k, t->tid);
            dot_str(out, el);
            fprintf(out, ", style=dashed%s];\n", t->blocked.present ? hot : "");
        } else if (t->role_id == PG_ROLE_SUBMITTER) {
            fprintf(out, "    t%d_%ld -> p%d [label=\"submits to\", style=dashed];\n", k, t->tid,
                    k);
        }
        const pg_task_wait *w = &t->waits_for_task;
        const pg_task_ref *sub = &t->submitted_task;
        if (py && py->waits) {
            /* A Python worker waiting on work: the future's function is the task. */
            snprintf(id, sizeof id, "q%d_t%ld", k, t->tid);
            bool here = py->queued_here;
            if (here && py->queue_pos >= 0)
                snprintf(state, sizeof state, "queued %s",
                         describe_ordinal(py->queue_pos + 1, pos, sizeof pos));
            else
                snprintf(state, sizeof state, "%s", here ? "still queued" : "not queued here");
            char fnname[PG_MAX_STRING + 64];
            if (py->coroutine.function)
                snprintf(fnname, sizeof fnname, "%s\nvia coroutine %s()",
                         py->wait_fn.function ? py->wait_fn.function : "?", py->coroutine.function);
            draw_task_node(d, id, py->coroutine.function ? fnname : py->wait_fn.function, state);
            const char *what = py->wait_kind && strcmp(py->wait_kind, "coroutine") == 0
                                   ? "waits on (coroutine)"
                               : py->wait_kind && strcmp(py->wait_kind, "async_result") == 0
                                   ? "waits on the result"
                                   : "waits on the future";
            fprintf(out, "    t%d_%ld -> %s [label=\"%s\"%s];\n", k, t->tid, id, what,
                    here ? hot : "");
            if (here)
                fprintf(out, "    %s -> p%d [label=\"%s in\"%s];\n", id, k, state, hot);
        } else if (w->present) {
            const char *name = describe_task_name(p, &w->function, w->address);
            snprintf(id, sizeof id, "q%d_%" PRIx64, k, w->address);
            bool queued = w->state && strcmp(w->state, "queued") == 0;
            long at = describe_task_position(p, t, w->address);
            if (queued && at > 0)
                snprintf(state, sizeof state, "queued %s", describe_ordinal(at, pos, sizeof pos));
            else if (queued)
                snprintf(state, sizeof state, "still queued");
            else if (w->state && strcmp(w->state, "running") == 0)
                snprintf(state, sizeof state, "running");
            else
                snprintf(state, sizeof state, "state not known");
            draw_task_node(d, id, name, state);
            fprintf(out, "    t%d_%ld -> %s [label=\"waits for\"%s];\n", k, t->tid, id,
                    queued ? hot : "");
            if (queued)
                fprintf(out, "    %s -> p%d [label=\"%s in\"%s];\n", id, k, state, hot);
            else if (w->runner >= 0)
                fprintf(out, "    %s -> t%d_%ld [label=\"runs on\"];\n", id, k, w->runner);
        } else if (sub->present) {
            const char *name = describe_task_name(p, &sub->function, sub->address);
            snprintf(id, sizeof id, "q%d_%" PRIx64, k, sub->address);
            if (sub->position > 0)
                snprintf(state, sizeof state, "queued %s",
                         describe_ordinal(sub->position, pos, sizeof pos));
            else
                snprintf(state, sizeof state, "still queued");
            draw_task_node(d, id, name, state);
            fprintf(out, "    t%d_%ld -> %s [label=\"submitted, waits after\"%s];\n", k, t->tid, id,
                    hot);
            fprintf(out, "    %s -> p%d [label=\"%s in\"%s];\n", id, k, state, hot);
        }
    }
}

/*
 * The text report (render_text_int.h says which file prints what): a finding's pool, what it is
 * and where it was created, how poolguard knows it and how sure the finding is, what the Python
 * layer adds, its queue (counted or estimated, the next tasks by function, its growth), and what
 * another layer's description of it says besides. Read-only over the model.
 */
#include "render_text_int.h"

#include "analyze.h"

#include <inttypes.h>
#include <string.h>

/* How poolguard knows the pool, how sure the finding is, and what runs. */
static void print_pool_knowledge(tctx *c, const pg_pool *p)
{
    if (p->source >= 0) {
        fprintf(c->out, "    known from: ");
        if (p->source == PG_SRC_ANNOTATION)
            fprintf(c->out, "the program's annotations (poolguard.h)\n");
        else if (p->source == PG_SRC_ADAPTER)
            fprintf(c->out, "poolguard's %s adapter (the library's own bookkeeping)\n",
                    p->library ? p->library : "library");
        else if (p->source == PG_SRC_PYTHON)
            fprintf(c->out, "the Python interpreter\n");
        else
            fprintf(c->out, "inference from how its threads wait (no library or annotation "
                            "describes it)\n");
    }
    if (p->proof >= 0) {
        fprintf(c->out, "    proof: ");
        if (p->proof == PG_PROOF_GRAPH)
            fprintf(c->out,
                    "%sthe wait-for graph%s: every worker is stuck and no thread outside "
                    "can wake one\n",
                    C(c, BOLD), C(c, RESET));
        else if (p->proof == PG_PROOF_EXACT)
            fprintf(c->out,
                    "%sexact%s: a worker waits on a task still queued in this pool while "
                    "every worker is blocked\n",
                    C(c, BOLD), C(c, RESET));
        else if (p->proof == PG_PROOF_INFERRED)
            fprintf(c->out, "none, inferred from how the threads wait (a warning at most)\n");
        else
            fprintf(c->out, "none: the workers have only been blocked for long\n");
    }
    if (p->active >= 0 || p->max_workers >= 0) {
        fprintf(c->out, "    running:");
        if (p->active >= 0)
            fprintf(c->out, " %ld task%s", p->active, p->active == 1 ? "" : "s");
        if (p->max_workers >= 0)
            fprintf(c->out, "%sat most %ld worker%s at once%s", p->active >= 0 ? " (" : " ",
                    p->max_workers, p->max_workers == 1 ? "" : "s", p->active >= 0 ? ")" : "");
        fputc('\n', c->out);
    }
}

/* What the Python layer says of the pool besides the common members. */
static void print_python_pool(tctx *c, const pg_pool *p)
{
    if (p->py_kind)
        fprintf(c->out, "    class: %s\n", p->py_kind);
    if (p->prefix)
        fprintf(c->out, "    thread name prefix: %s\n", p->prefix);
    if (p->global)
        fprintf(c->out, "    held in: %s\n", p->global);
    if (p->has_loop) {
        fprintf(c->out, "    the default executor of the asyncio event loop running in ");
        if (p->loop_thread && p->loop_tid > 0)
            fprintf(c->out, "%s (tid %ld)\n", p->loop_thread, p->loop_tid);
        else if (p->loop_thread)
            fprintf(c->out, "%s\n", p->loop_thread);
        else if (p->loop_tid > 0)
            fprintf(c->out, "tid %ld\n", p->loop_tid);
        else
            fprintf(c->out, "an unnamed thread\n");
    }
    if (p->inqueue_len >= 0 || p->taskqueue_len >= 0) {
        fprintf(c->out, "    queues:");
        if (p->inqueue_len >= 0)
            fprintf(c->out, " %ld in _inqueue", p->inqueue_len);
        if (p->taskqueue_len >= 0)
            fprintf(c->out, "%s %ld in _taskqueue (a map() counts once)",
                    p->inqueue_len >= 0 ? "," : "", p->taskqueue_len);
        fputc('\n', c->out);
    }
}

/* The first tasks of the queue, next to run first, each by its function. */
static void print_queued_tasks(tctx *c, const pg_pool *p)
{
    if (!p->nqueued_tasks)
        return;
    fprintf(c->out, "    queued tasks, next to run first:\n");
    for (size_t i = 0; i < p->nqueued_tasks; i++) {
        const pg_task_ref *q = &p->queued_tasks[i];
        const char *name = describe_function(&q->function);
        char where[PG_MAX_STRING + 32] = "";
        if (name)
            text_frame_where(&q->function.sym.frames[q->function.sym.nframes - 1], where,
                             sizeof where);
        if (q->position > 0)
            fprintf(c->out, "      %ld. ", q->position);
        else
            fprintf(c->out, "      -  ");
        if (name)
            fprintf(c->out, "%s%s%s%s (task 0x%" PRIx64 ")\n", C(c, BOLD), name, C(c, RESET), where,
                    q->address);
        else
            fprintf(c->out, "task 0x%" PRIx64 "\n", q->address);
    }
    long last = p->queued_tasks[p->nqueued_tasks - 1].position;
    if (p->queued > 0 && last > 0 && p->queued > last)
        fprintf(c->out, "      ... and %ld more\n", p->queued - last);
}

void text_print_pool(tctx *c, const pg_finding *f)
{
    const pg_pool *p = &f->pool_info;
    char desc[1200], where[PG_MAX_STRING + 32];
    const pg_frame *created = stack_first_own_frame(&p->create_stack);
    /* "the pool: "name", 2 workers (4 declared), created in f at file:line": what is known. */
    const char *sep = " ";
    fprintf(c->out, "\n  the pool:");
    bool python = describe_is_python(p);
    if (python) {
        /* "ThreadPoolExecutor \"db\"", "asyncio's default executor (event loop in MainThread)":
         * the description names it already. */
        describe_pool(p, desc, sizeof desc);
        fprintf(c->out, " %s", strncmp(desc, "the ", 4) == 0 ? desc + 4 : desc);
        sep = ", ";
    } else if (p->library) {
        fprintf(c->out, "%s%s", sep,
                p->library_id == PG_LIB_LIBUV    ? "libuv threadpool"
                : p->library_id == PG_LIB_GLIB   ? "GThreadPool"
                : p->library_id == PG_LIB_PYTHON ? "ThreadPoolExecutor"
                                                 : p->library);
        sep = ", ";
    }
    if (p->name && !python) {
        fprintf(c->out, "%s\"%s\"", sep, p->name);
        sep = ", ";
    }
    if (p->workers >= 0) {
        fprintf(c->out, "%s%ld worker%s", sep, p->workers, p->workers == 1 ? "" : "s");
        sep = ", ";
    }
    if (p->declared_workers >= 0 && p->declared_workers != p->workers)
        fprintf(c->out, " (%ld declared)", p->declared_workers);
    if (created)
        fprintf(c->out, "%screated in %s%s%s%s", sep, C(c, BOLD), created->function, C(c, RESET),
                text_frame_where(created, where, sizeof where));
    else if (!p->name && !p->library &&
             strcmp(describe_pool(p, desc, sizeof desc), "the pool") != 0)
        fprintf(c->out, "%s%s", sep, desc);
    fputc('\n', c->out);
    const char *routine = describe_pool_routine(p);
    if (routine)
        fprintf(c->out, "    thread routine: %s\n", routine);
    print_pool_knowledge(c, p);
    if (python)
        print_python_pool(c, p);
    if (p->has_idle)
        fprintf(c->out, "    idle wait: %s 0x%" PRIx64 "\n", render_wait_words(p->idle_kind),
                p->idle_address);
    else if (p->annotated)
        fprintf(c->out,
                "    idle wait: not needed (the pool's annotations say when tasks start)\n");
    else if (p->source >= 0 && p->source != PG_SRC_INFERRED)
        fprintf(c->out, "    idle wait: not needed (the %s says when tasks start)\n",
                p->source == PG_SRC_PYTHON ? "interpreter" : "library adapter");
    else
        fprintf(c->out, "    idle wait: not known\n");
    bool exact = p->queued_exact;
    char adapter[128];
    snprintf(adapter, sizeof adapter, "poolguard's %.64s adapter",
             p->library ? p->library : "library");
    const char *ev = !p->evidence ? "unknown evidence"
                     : p->source == PG_SRC_ADAPTER || p->evidence_code == PG_EV_ADAPTER ? adapter
                     : p->evidence_code == PG_EV_ANNOTATION   ? "the pool's annotations"
                     : p->evidence_code == PG_EV_SEMAPHORE    ? "the semaphore's count"
                     : p->evidence_code == PG_EV_PYTHON       ? "the interpreter"
                     : p->evidence_code == PG_EV_IDLE_SIGNALS ? "signals with no idle worker"
                     : p->evidence_code == PG_EV_STALL ? "nothing but how long the workers waited"
                                                       : p->evidence;
    if (p->queued > 0)
        fprintf(c->out, "    queued: %s%ld task%s, %s %s\n", exact ? "" : "about ", p->queued,
                p->queued == 1 ? "" : "s", exact ? "counted exactly by" : "estimated from", ev);
    else if (p->queued == 0)
        fprintf(c->out, "    queued: nothing%s\n", exact ? "" : " seen");
    else
        fprintf(c->out, "    queued: not known (evidence: %s)\n", ev);
    if (f->growth.present) {
        const pg_growth *g = &f->growth;
        fprintf(c->out, "    the queue grows:");
        if (g->per_second >= 0)
            fprintf(c->out, " %s+%" PRId64 " tasks per second%s", C(c, BOLD), g->per_second,
                    C(c, RESET));
        if (g->window_ms >= 0)
            fprintf(c->out, " over %" PRId64 " ms", g->window_ms);
        if (g->depth >= 0 && g->depth != p->queued)
            fprintf(c->out, ", %s%" PRId64 " tasks deep", exact ? "" : "about ", g->depth);
        fputc('\n', c->out);
        if (g->rss_growth_kb >= 0)
            fprintf(c->out, "    the process's memory grew by %" PRId64 " kB meanwhile\n",
                    g->rss_growth_kb);
    }
    print_queued_tasks(c, p);
    /* Other members (another layer's pool description) are shown as they are. */
    const char *key;
    json_t *v;
    static const char *const known[] = { "id", "annotated", "name", "workers", "declared_workers",
                                         "start_routine", "create_stack", "idle", "queued",
                                         "queued_exact", "evidence", "library", "source", "proof",
                                         "max_workers", "active", "queued_tasks",
                                         /* The Python layer's, shown above. */
                                         "python", "kind", "prefix", "global", "asyncio_loop",
                                         "inqueue_len", "taskqueue_len", "tasks" };
    bool first = true;
    json_object_foreach (f->pool, key, v) {
        bool skip = false;
        for (size_t i = 0; i < sizeof known / sizeof *known; i++)
            skip |= strcmp(key, known[i]) == 0;
        if (skip || !(json_is_string(v) || json_is_integer(v) || json_is_boolean(v)))
            continue;
        fprintf(c->out, "%s %s=", first ? "    also:" : ",", key);
        if (json_is_string(v))
            fprintf(c->out, "%s", json_string_value(v));
        else if (json_is_integer(v))
            fprintf(c->out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        else
            fprintf(c->out, "%s", json_is_true(v) ? "yes" : "no");
        first = false;
    }
    if (!first)
        fputc('\n', c->out);
    if (p->create_stack.nframes) {
        fprintf(c->out, "    created at:\n");
        text_print_stack(c, &p->create_stack, "      ");
    }
}

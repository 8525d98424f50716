/*
 * The HTML report (render_html_int.h says which file writes what): each thread's section, its
 * role, what it waits on and since when, what it holds, its task, and its stack with the
 * program's own frames shown (with source lines around them when the file is readable now) and
 * runtime frames (interpreter, libc, the shim) folded in <details>. Reads the model only; reads
 * source files, at most MAX_SNIPPETS of them per page.
 */
#include "render_html_int.h"

#include "analyze.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* ----- Frames and stacks ----- */

static const char *base_name(const char *path)
{
    const char *b = path ? strrchr(path, '/') : NULL;
    return b ? b + 1 : path;
}

/* The lines around `line` of `path`, when the file is readable now: the program's own code,
 * shown where its frame is. Nothing is said when it is not (a CI artifact opened elsewhere). */
static void source_snippet(hctx *c, const pg_frame *f)
{
    if (!f->file || !f->line || c->snippets >= MAX_SNIPPETS)
        return;
    FILE *in = fopen(f->file, "re");
    if (!in)
        return;
    struct stat st;
    if (fstat(fileno(in), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_SOURCE_BYTES) {
        fclose(in);
        return;
    }
    unsigned from = f->line > SNIPPET_RADIUS ? f->line - SNIPPET_RADIUS : 1;
    unsigned to = f->line + SNIPPET_RADIUS;
    char *l = NULL;
    size_t cap = 0;
    unsigned no = 0;
    bool any = false;
    while (getline(&l, &cap, in) >= 0 && ++no <= to) {
        if (no < from)
            continue;
        if (!any)
            fputs("<pre class=\"src\">", c->out);
        any = true;
        l[strcspn(l, "\r\n")] = '\0';
        fprintf(c->out, "<span%s><span class=\"n\">%u</span>",
                no == f->line ? " class=\"here\"" : "", no);
        esc(c, l);
        fputs("</span>", c->out);
    }
    if (any) {
        fputs("</pre>", c->out);
        c->snippets++;
    }
    free(l);
    fclose(in);
}

static void frame_item(hctx *c, const pg_frame *f, size_t idx, bool snippet)
{
    fprintf(c->out, "<li value=\"%zu\" class=\"%s\"><code class=\"fn\">", idx,
            f->own      ? "own"
            : f->folded ? "runtime"
                        : "lib");
    if (f->function)
        esc(c, f->function);
    else if (f->module)
        fprintf(c->out, "%s+0x%" PRIx64, base_name(f->module), f->offset);
    else
        fprintf(c->out, "0x%" PRIx64, f->pc);
    fputs("</code>", c->out);
    if (f->file) {
        fputs(" <span class=\"loc\">at ", c->out);
        esc(c, render_short_path(f->file));
        fprintf(c->out, ":%u</span>", f->line);
    } else if (f->function && f->module) {
        fputs(" <span class=\"loc\">in ", c->out);
        esc(c, base_name(f->module));
        fputs("</span>", c->out);
    }
    if (f->inlined)
        fputs(" <span class=\"loc\">(inlined)</span>", c->out);
    if (snippet)
        source_snippet(c, f);
    fputs("</li>\n", c->out);
}

/* "… 20 frames in libpython3.11.so.1.0, libc.so.6": the modules (or, for Python frames, the
 * files) of a folded run, each once. */
static void fold_summary(hctx *c, const pg_frame *fr, size_t n, const char *what)
{
    char mods[256] = "";
    for (size_t i = 0; i < n; i++) {
        const char *b = base_name(fr[i].module ? fr[i].module : fr[i].file);
        b = b ? b : "?";
        if (!strstr(mods, b) && strlen(mods) + strlen(b) + 3 < sizeof mods) {
            if (*mods)
                strcat(mods, ", ");
            strcat(mods, b);
        }
    }
    fprintf(c->out, "<summary>&hellip; %zu %sframe%s in ", n, what, n == 1 ? "" : "s");
    esc(c, mods);
    fputs("</summary>", c->out);
}

/* Folded: the shim, libc and the loader always; other libraries' frames outside the program's
 * own (the runtime it calls into, or that calls it); --all-frames folds nothing. A stack with
 * no own frame at all shows what it has but the shim and libc. */
static bool fold_frame(const hctx *c, const pg_stack *s, size_t i, bool any_own)
{
    const pg_frame *f = &s->frames[i];
    if (c->o->all_frames || f->own)
        return false;
    return f->folded || any_own;
}

void html_stack_list(hctx *c, const pg_stack *s, const char *fold_id)
{
    if (s->nframes == 0) {
        fputs("<p class=\"meta\">(no stack recorded)</p>\n", c->out);
        return;
    }
    bool any_own = false;
    for (size_t i = 0; i < s->nframes; i++)
        any_own |= s->frames[i].own;
    size_t folds = 0;
    fputs("<ol class=\"stack\">\n", c->out);
    for (size_t i = 0; i < s->nframes;) {
        if (!fold_frame(c, s, i, any_own)) {
            frame_item(c, &s->frames[i], i, s->frames[i].own);
            i++;
            continue;
        }
        size_t j = i;
        while (j < s->nframes && fold_frame(c, s, j, any_own))
            j++;
        /* The id of its list lets a link (and the browser test) open the fold: browsers expand
         * a closed <details> that holds the fragment a page is opened at. */
        fputs("<li class=\"fold\"><details class=\"fold\">", c->out);
        fold_summary(c, &s->frames[i], j - i, "");
        fprintf(c->out, "<ol id=\"%s-fold%zu\">\n", fold_id, folds++);
        for (size_t k = i; k < j; k++)
            frame_item(c, &s->frames[k], k, false);
        fputs("</ol></details></li>\n", c->out);
        i = j;
    }
    fputs("</ol>\n", c->out);
    if (s->dropped)
        fprintf(c->out, "<p class=\"meta\">&hellip; %zu more frames not recorded</p>\n",
                s->dropped);
}

/* ----- Threads ----- */

void html_thread_link(hctx *c, const char *anchor, const pg_mthread *threads, size_t n, long tid)
{
    char label[128];
    const pg_mthread *t = NULL;
    for (size_t i = 0; i < n && !t; i++)
        if (threads[i].tid == tid)
            t = &threads[i];
    if (!t) {
        fprintf(c->out, "tid %ld", tid);
        return;
    }
    render_thread_label(t, label, sizeof label);
    fprintf(c->out, "<a href=\"#%s-t%ld\">", anchor, tid);
    esc(c, label);
    fputs("</a>", c->out);
}

void html_clock_time(int64_t unix_ms, char *buf, size_t len)
{
    time_t secs = (time_t)(unix_ms / 1000);
    struct tm tm;
    if (unix_ms <= 0 || !localtime_r(&secs, &tm)) {
        buf[0] = '\0';
        return;
    }
    size_t n = strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
    if (n && n + 5 < len)
        snprintf(buf + n, len - n, ".%03d", (int)(unix_ms % 1000));
}

static void wait_fact(hctx *c, const pg_wait *w, int64_t report_ms, const char *anchor,
                      const pg_mthread *threads, size_t n)
{
    fputs("<dt>waits</dt><dd>", c->out);
    if (!w->present) {
        fputs("running (not blocked)</dd>\n", c->out);
        return;
    }
    char lock[3 * PG_MAX_STRING + 800];
    if (pg_wait_parse(w->kind) == PG_WAIT_JOIN)
        snprintf(lock, sizeof lock, "%s", render_wait_words(w->kind));
    else
        describe_lock(w->name, w->kind, w->address, lock, sizeof lock);
    fputs(w->timed ? "(timed, retrying) on <b>" : "on <b>", c->out);
    esc(c, lock);
    fputs("</b>", c->out);
    if (w->owner >= 0) {
        fputs(", held by ", c->out);
        html_thread_link(c, anchor, threads, n, w->owner);
    }
    if (w->target >= 0) {
        fputs(", for ", c->out);
        html_thread_link(c, anchor, threads, n, w->target);
        fputs(" to finish", c->out);
    }
    if (w->since_ms >= 0) {
        char when[64];
        html_clock_time(report_ms - w->since_ms, when, sizeof when);
        fprintf(c->out, " &mdash; for <b>%" PRId64 " ms</b>", w->since_ms);
        if (*when && report_ms > 0)
            fprintf(c->out, " (since %s)", when);
    }
    fputs("</dd>\n", c->out);
}

/* What a pool's thread does with tasks: the task it runs, the task it waits for and where that
 * one is, as the adapters, the annotations or the interpreter say. */
static void task_facts(hctx *c, const pg_pool *p, const pg_mthread *t, const char *anchor,
                       const pg_mthread *threads, size_t n)
{
    char pos[32], words[3 * PG_MAX_STRING + 128], fn[PG_MAX_STRING + 64];
    const char *runs = describe_function(&t->task_function);
    const pg_py_task *py = t->role_id == PG_ROLE_WORKER ? describe_py_task(p, t) : NULL;
    if (runs || (py && py->task.function)) {
        fputs("<dt>runs</dt><dd>task <b>", c->out);
        if (runs)
            esc(c, runs);
        else
            esc(c, describe_py_func(&py->task, fn, sizeof fn));
        fputs("</b></dd>\n", c->out);
    }
    if (py && *describe_py_wait(p, py, words, sizeof words)) {
        fputs("<dt>task wait</dt><dd><b>", c->out);
        esc(c, words);
        fputs("</b>", c->out);
        if (py->waits && py->queued_here)
            fputs(", and has not started: it needs a free worker", c->out);
        if (py->waits && py->wait_fn.function && py->wait_fn.file) {
            fputs(" (", c->out);
            esc(c, describe_py_func(&py->wait_fn, fn, sizeof fn));
            fputs(")", c->out);
        }
        fputs("</dd>\n", c->out);
    }
    const pg_task_wait *w = &t->waits_for_task;
    if (w->present) {
        const char *name = describe_task_name(p, &w->function, w->address);
        fprintf(c->out,
                "<dt>task wait</dt><dd>waits for task <span class=\"mono\">0x%" PRIx64 "</span>",
                w->address);
        if (name) {
            fputs(" (<b>", c->out);
            esc(c, name);
            fputs("</b>)", c->out);
        }
        long at = describe_task_position(p, t, w->address);
        if (w->state && strcmp(w->state, "queued") == 0) {
            fputs(", which is <b>still queued</b>", c->out);
            if (at > 0)
                fprintf(c->out, ", %s in line", describe_ordinal(at, pos, sizeof pos));
            fputs(", and has not started: it needs a free worker", c->out);
        } else if (w->state && strcmp(w->state, "running") == 0) {
            fputs(", which is running", c->out);
            if (w->runner >= 0) {
                fputs(" on ", c->out);
                html_thread_link(c, anchor, threads, n, w->runner);
            }
        } else {
            fputs(" (its state is not known)", c->out);
        }
        fputs("</dd>\n", c->out);
    }
    const pg_task_ref *s = &t->submitted_task;
    if (s->present && !(w->present && w->address == s->address)) {
        const char *name = describe_task_name(p, &s->function, s->address);
        fprintf(c->out, "<dt>submitted</dt><dd>task <span class=\"mono\">0x%" PRIx64 "</span>",
                s->address);
        if (name) {
            fputs(" (<b>", c->out);
            esc(c, name);
            fputs("</b>)", c->out);
        }
        fputs(" to its own pool before this wait; it is <b>still queued</b>", c->out);
        if (s->position > 0)
            fprintf(c->out, ", %s in line", describe_ordinal(s->position, pos, sizeof pos));
        fputs("</dd>\n", c->out);
    }
}

void html_thread_section(hctx *c, const pg_finding *f, const pg_mthread *t, const char *anchor,
                         const pg_mthread *threads, size_t n, int64_t report_ms)
{
    char label[128], id[96];
    snprintf(id, sizeof id, "%s-t%ld", anchor, t->tid);
    render_thread_label(t, label, sizeof label);
    bool pool = f && f->pool_info.present;
    const char *role = render_role_words(t, pool, f && f->kind_id == PG_KIND_STALL);
    fprintf(c->out, "<section class=\"thread\" id=\"%s\">\n<h3>", id);
    esc(c, label);
    if (role || t->is_main) {
        fputs(" <span class=\"role\">&mdash; ", c->out);
        esc(c, role ? role : "");
        if (t->is_main && !(t->name && strcmp(t->name, "main") == 0))
            fprintf(c->out, "%smain thread", role ? ", " : "");
        fputs("</span>", c->out);
    }
    fputs("</h3>\n<dl class=\"facts\">\n", c->out);
    bool submitter = pool && t->role_id == PG_ROLE_SUBMITTER;
    if (submitter && !t->blocked.present)
        fputs("<dt>waits</dt><dd>running; the stack below is where it last queued work</dd>\n",
              c->out);
    else
        wait_fact(c, &t->blocked, report_ms, anchor, threads, n);
    if (pool)
        task_facts(c, &f->pool_info, t, anchor, threads, n);
    for (size_t i = 0; i < t->nholds; i++) {
        const pg_lock *l = &t->holds[i];
        char lock[3 * PG_MAX_STRING + 800], where[PG_MAX_STRING + 600];
        fputs("<dt>holds</dt><dd><b>", c->out);
        esc(c, describe_lock(l->name, l->kind, l->address, lock, sizeof lock));
        fputs("</b>", c->out);
        const pg_frame *fr = l->where.nframes ? &l->where.frames[0] : NULL;
        if (fr && fr->function) {
            fputs(", taken in ", c->out);
            esc(c, describe_frame(fr, where, sizeof where));
        }
        fputs("</dd>\n", c->out);
    }
    if (t->start.nframes && t->start.frames[t->start.nframes - 1].function) {
        fputs("<dt>started at</dt><dd><code>", c->out);
        esc(c, t->start.frames[t->start.nframes - 1].function);
        fputs("</code></dd>\n", c->out);
    }
    fputs("</dl>\n", c->out);
    char fold_id[128];
    if (t->python.nframes) {
        /* The Python stack is the program's; the native one is the interpreter running it. */
        fputs("<h4>stack (Python)</h4>\n", c->out);
        snprintf(fold_id, sizeof fold_id, "%s-py", id);
        html_stack_list(c, &t->python, fold_id);
        if (t->stack.nframes && !c->o->native && !c->o->all_frames) {
            fputs("<details class=\"fold native\">", c->out);
            fold_summary(c, t->stack.frames, t->stack.nframes, "native ");
            fprintf(c->out, "<ol class=\"stack\" id=\"%s-native\">\n", id);
            for (size_t i = 0; i < t->stack.nframes; i++)
                frame_item(c, &t->stack.frames[i], i, false);
            fputs("</ol></details>\n", c->out);
            return (void)fputs("</section>\n", c->out);
        }
        if (!t->stack.nframes)
            return (void)fputs("</section>\n", c->out);
        fputs("<h4>native stack</h4>\n", c->out);
    } else {
        fputs("<h4>stack</h4>\n", c->out);
    }
    html_stack_list(c, &t->stack, id);
    fputs("</section>\n", c->out);
}

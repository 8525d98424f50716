/*
 * Helpers shared by the renderers, and the dispatch from format to renderer. Read-only over the
 * model.
 */
#include "render.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

int format_parse(const char *s, pg_format *out)
{
    static const struct { const char *name; pg_format f; } names[] = {
        { "text", PG_FMT_TEXT }, { "json", PG_FMT_JSON }, { "sarif", PG_FMT_SARIF },
        { "junit", PG_FMT_JUNIT }, { "dot", PG_FMT_DOT }, { "svg", PG_FMT_SVG },
        { "html", PG_FMT_HTML },
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].f;
            return 0;
        }
    return -EINVAL;
}

int render(pg_report *r, const render_opts *o, FILE *out)
{
    int ret;
    switch (o->format) {
    case PG_FMT_TEXT: ret = render_text(r, o, out); break;
    case PG_FMT_JSON: ret = render_json(r, o, out); break;
    case PG_FMT_SARIF: ret = render_sarif(r, o, out); break;
    case PG_FMT_JUNIT: ret = render_junit(r, o, out); break;
    case PG_FMT_DOT: ret = render_dot(r, o, out); break;
    case PG_FMT_SVG: ret = render_svg(r, o, out); break;
    case PG_FMT_HTML: ret = render_html(r, o, out); break;
    default: return -EINVAL;
    }
    if (ret == 0 && (fflush(out) != 0 || ferror(out)))
        ret = -EIO;
    return ret;
}

bool render_finding_visible(const pg_finding *f, const render_opts *o)
{
    if (!pg_finding_shown(f))
        return false;
    /* When the program ran past its time-out, a stall is the best explanation there is: it is
     * shown beside the snapshots whatever --min-severity says. */
    return f->sev >= o->min_severity || (o->timed_out && f->kind_id == PG_KIND_STALL);
}

bool render_finding_below(const pg_finding *f, const render_opts *o)
{
    return pg_finding_shown(f) && !render_finding_visible(f, o);
}

const char *render_thread_label(const pg_mthread *t, char *buf, size_t len)
{
    if (t->name && *t->name)
        snprintf(buf, len, "%s (tid %ld)", t->name, t->tid);
    else
        snprintf(buf, len, "%s (tid %ld)", t->is_main ? "main thread" : "thread", t->tid);
    return buf;
}

const pg_frame *render_first_own_frame(const pg_mthread *t)
{
    /* In a Python program the Python code is the program; the native frames are the interpreter. */
    for (size_t i = 0; i < t->python.nframes; i++)
        if (t->python.frames[i].own)
            return &t->python.frames[i];
    if (t->python.nframes)
        return &t->python.frames[0];
    for (size_t i = 0; i < t->stack.nframes; i++)
        if (t->stack.frames[i].own)
            return &t->stack.frames[i];
    for (size_t i = 0; i < t->stack.nframes; i++)
        if (!t->stack.frames[i].folded)
            return &t->stack.frames[i];
    return NULL;
}

const pg_frame *render_finding_location(const pg_finding *f)
{
    /* A lock-order cycle has no threads: where its first edge took its second lock. */
    if (f->nthreads == 0 && f->norder > 0) {
        const pg_stack *st = &f->order[0].stack;
        for (size_t i = 0; i < st->nframes; i++)
            if (st->frames[i].own && !st->frames[i].folded)
                return &st->frames[i];
        for (size_t i = 0; i < st->nframes; i++)
            if (!st->frames[i].folded)
                return &st->frames[i];
        return f->order[0].first_at.nframes ? &f->order[0].first_at.frames[0] : NULL;
    }
    for (size_t i = 0; i < f->nthreads; i++) {
        const pg_frame *fr = render_first_own_frame(&f->threads[i]);
        if (fr && fr->own && fr->file)
            return fr;
    }
    for (size_t i = 0; i < f->nthreads; i++) {
        const pg_frame *fr = render_first_own_frame(&f->threads[i]);
        if (fr)
            return fr;
    }
    return NULL;
}

const char *render_short_path(const char *file)
{
    static char cwd[PATH_MAX];
    static bool have_cwd;
    if (!file)
        return NULL;
    if (!have_cwd) {
        if (!getcwd(cwd, sizeof cwd))
            cwd[0] = '\0';
        have_cwd = true;
    }
    size_t n = strlen(cwd);
    if (n > 1 && strncmp(file, cwd, n) == 0 && file[n] == '/')
        return file + n + 1;
    return file;
}

const char *render_exe_name(const pg_process *p)
{
    if (!p || !p->exe)
        return "?";
    const char *s = strrchr(p->exe, '/');
    s = s ? s + 1 : p->exe;
    /* For a script, the script is the program the user knows, not the interpreter. */
    if (strncmp(s, "python", 6) == 0 && p->nargv > 1 && p->argv[1][0] && p->argv[1][0] != '-') {
        const char *a = strrchr(p->argv[1], '/');
        return a ? a + 1 : p->argv[1];
    }
    return s;
}

const char *render_wait_words(const char *kind)
{
    static const struct { const char *kind, *words; } w[] = {
        { "mutex", "mutex" }, { "rwlock_read", "read lock" }, { "rwlock_write", "write lock" },
        { "join", "thread join" }, { "cond", "condition variable" }, { "sem", "semaphore" },
        { "futex", "futex" }, { "barrier", "barrier" }, { "task", "task" }, { "future", "future" },
        { "cond_destroy", "condition variable being destroyed" },
        { "once", "one-time initialization (pthread_once)" }, { "spinlock", "spin lock" },
    };
    if (!kind)
        return "unknown object";
    for (size_t i = 0; i < sizeof w / sizeof *w; i++)
        if (strcmp(kind, w[i].kind) == 0)
            return w[i].words;
    return kind;
}

const char *render_role_words(const pg_mthread *t, bool pool, bool stall)
{
    /* A stall has no cycle and proves nothing: its threads are only blocked for long. */
    if (stall && t->role_id == PG_ROLE_BLOCKED)
        return "blocked for long";
    switch (t->role_id) {
    /* In a snapshot every thread has the role "snapshot": saying so adds nothing. */
    case PG_ROLE_SNAPSHOT: return NULL;
    case PG_ROLE_CYCLE: return "in the cycle";
    case PG_ROLE_BLOCKED: return pool ? "stuck with the pool" : "stuck behind the cycle";
    case PG_ROLE_WORKER: return "worker of the pool";
    case PG_ROLE_SUBMITTER: return "submits work to the pool";
    case PG_ROLE_HANG: return "blocked, like every thread";
    }
    return t->role;   /* another writer's role, as it is (NULL: none) */
}

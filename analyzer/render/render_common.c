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
    static const struct {
        const char *name;
        pg_format f;
    } names[] = {
        { "text", PG_FMT_TEXT },   { "json", PG_FMT_JSON }, { "sarif", PG_FMT_SARIF },
        { "junit", PG_FMT_JUNIT }, { "dot", PG_FMT_DOT },   { "svg", PG_FMT_SVG },
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
    /* The format's wait kinds (blocked_on, cycle, idle) and lock kinds (holds, order). */
    static const char *const waits[] = {
        [PG_WAIT_MUTEX] = "mutex",
        [PG_WAIT_RWLOCK_READ] = "read lock",
        [PG_WAIT_RWLOCK_WRITE] = "write lock",
        [PG_WAIT_JOIN] = "thread join",
        [PG_WAIT_COND] = "condition variable",
        [PG_WAIT_SEM] = "semaphore",
        [PG_WAIT_FUTEX] = "futex",
        [PG_WAIT_BARRIER] = "barrier",
        [PG_WAIT_TASK] = "task",
        [PG_WAIT_FUTURE] = "future",
        [PG_WAIT_COND_DESTROY] = "condition variable being destroyed",
        [PG_WAIT_ONCE] = "one-time initialization (pthread_once)",
    };
    if (!kind)
        return "unknown object";
    int w = pg_wait_parse(kind);
    if (w >= 0 && (size_t)w < sizeof waits / sizeof *waits && waits[w])
        return waits[w];
    if (pg_lock_parse(kind) == PG_LOCK_SPINLOCK)
        return "spin lock";
    return kind; /* "none", or another writer's word, as it is */
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
    return t->role; /* another writer's role, as it is (NULL: none) */
}

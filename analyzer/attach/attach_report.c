/*
 * The raw report of a process read from outside (see attach.h): header, module map, one finding
 * per proof of the wait-for graph (attach_graph.h) and, when asked, a snapshot of every thread.
 * The report is the shim's format, so every renderer and exit code of `poolguard report` apply
 * unchanged; the summaries are the shim's own sentences. Reads only ext_proc: nothing here touches
 * the target.
 */
#include "attach.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "attach_graph.h"
#include "attach_json.h"
#include "python.h"

static json_t *hex(uint64_t v)
{
    char b[24];
    snprintf(b, sizeof b, "0x%llx", (unsigned long long)v);
    return json_string(b);
}

int ext_put_line(int fd, json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s)
        return -ENOMEM;
    size_t len = strlen(s);
    s[len] = '\n'; /* json_dumps leaves room for the NUL, which the newline replaces */
    int r = 0;
    for (size_t off = 0; off <= len;) {
        ssize_t w = write(fd, s + off, len + 1 - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            r = -errno;
            break;
        }
        off += (size_t)w;
    }
    free(s);
    return r;
}

uint64_t ext_unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int write_header(const ext_proc *p, int fd)
{
    json_t *h = json_object();
    json_object_set_new(h, PG_K_TYPE, json_string(pg_record_name(PG_REC_HEADER)));
    json_object_set_new(h, PG_K_FORMAT, json_string(PG_FORMAT_NAME));
    json_object_set_new(h, PG_K_VERSION, json_integer(PG_FORMAT_VERSION));
    json_object_set_new(h, "pid", json_integer(p->pid));
    if (p->ppid > 0)
        json_object_set_new(h, "ppid", json_integer(p->ppid));
    json_object_set_new(h, "exe", p->exe ? json_string(p->exe) : json_null());
    json_t *argv = json_array();
    for (char **a = p->argv; a && *a; a++)
        json_array_append_new(argv, json_string(*a));
    json_object_set_new(h, "argv", argv);
    json_object_set_new(h, "start_unix_ms", json_integer((json_int_t)ext_unix_ms()));
    json_object_set_new(h, PG_K_SHIM, json_string(PG_TOOL_VERSION));
    /* Not written by the shim: read from outside (docs/attach.md says what that cannot see). */
    json_object_set_new(h, PG_K_SOURCE, json_string(p->source));
    return ext_put_line(fd, h);
}

static int module_cb(Dwfl_Module *m, void **userdata, const char *name, Dwarf_Addr start, void *arg)
{
    (void)userdata;
    int fd = *(int *)arg;
    Dwarf_Addr end = 0, bias = 0;
    dwfl_module_getelf(m, &bias);
    /* A core names libraries by soname; the file found for them is the path to write. */
    const char *mainfile = NULL;
    dwfl_module_info(m, NULL, NULL, &end, NULL, NULL, &mainfile, NULL);
    if (mainfile && mainfile[0] == '/')
        name = mainfile;
    if (!name || name[0] != '/')
        return DWARF_CB_OK; /* the vDSO and the like: no file to symbolize from */
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string("module"));
    json_object_set_new(o, "path", json_string(name));
    json_object_set_new(o, "base", hex(bias));
    json_object_set_new(o, "start", hex(start));
    json_object_set_new(o, "end", hex(end));
    const unsigned char *bits;
    GElf_Addr vaddr;
    int len = dwfl_module_build_id(m, &bits, &vaddr);
    if (len > 0 && len <= 64) {
        char b[129];
        for (int k = 0; k < len; k++)
            snprintf(b + 2 * k, 3, "%02x", bits[k]);
        json_object_set_new(o, "build_id", json_string(b));
    }
    return ext_put_line(fd, o) < 0 ? DWARF_CB_ABORT : DWARF_CB_OK;
}

/* The Python thread (read by pyremote.c) behind thread i, or NULL. */
static const struct pg_py_thread *python_thread(const ext_proc *p, int i)
{
    for (int k = 0; p->py && k < p->py->nthreads; k++)
        if (ext_native_of(p, &p->py->threads[k]) == i)
            return &p->py->threads[k];
    return NULL;
}

json_t *ext_thread_json(const ext_proc *p, int i, const char *role)
{
    const ext_thread *t = &p->threads[i];
    const struct pg_py_thread *py = python_thread(p, i);
    const char *name = py && py->name[0] ? py->name : t->name;
    json_t *o = json_object();
    json_object_set_new(o, "tid", json_integer(t->tid));
    json_object_set_new(o, "name", name[0] ? json_string(name) : json_null());
    json_object_set_new(o, "role", json_string(role));
    json_object_set_new(o, "main", json_boolean(t->tid == p->pid));
    if (t->wait.kind) {
        json_t *b = json_object();
        json_object_set_new(b, "kind", json_string(t->wait.kind));
        json_object_set_new(b, "address", hex(t->wait.address));
        json_object_set_new(b, "timed", json_boolean(t->wait.timed));
        if (t->wait.owner > 0)
            json_object_set_new(b, "owner", json_integer(t->wait.owner));
        if (t->wait.target > 0)
            json_object_set_new(b, "target", json_integer(t->wait.target));
        json_object_set_new(o, "blocked_on", b);
    } else {
        json_object_set_new(o, "blocked_on", json_null());
    }
    /* Locks this thread holds, as far as outside eyes can tell: those whose owner word names it
     * and that another thread waits for. Where each was taken is not known. */
    json_t *holds = json_array();
    for (size_t k = 0; k < p->nthreads; k++) {
        const ext_wait *w = &p->threads[k].wait;
        if (!w->kind || w->owner != t->tid || (int)k == i)
            continue;
        bool dup = false;
        for (size_t j = 0; j < k; j++)
            dup |= p->threads[j].wait.kind && p->threads[j].wait.owner == t->tid &&
                   p->threads[j].wait.address == w->address && (int)j != i;
        if (dup)
            continue;
        json_t *h = json_object();
        int held = pg_wait_parse(w->kind) == PG_WAIT_MUTEX ? PG_LOCK_MUTEX : PG_LOCK_RWLOCK_WRITE;
        json_object_set_new(h, "kind", json_string(pg_lock_name(held)));
        json_object_set_new(h, "address", hex(w->address));
        json_array_append_new(holds, h);
    }
    json_object_set_new(o, "holds", holds);
    if (py && py->depth > 0) {
        /* The Python stack read from the interpreter, as the shim writes it. */
        json_t *ps = json_array();
        for (int k = 0; k < py->nframes; k++) {
            json_t *f = json_object();
            json_object_set_new(f, "function", json_string(py->frames[k].name));
            json_object_set_new(f, "file", json_string(py->frames[k].file));
            json_object_set_new(f, "line", json_integer(py->frames[k].line));
            json_array_append_new(ps, f);
        }
        json_object_set_new(o, "python_stack", ps);
        json_object_set_new(o, "python_blocked", json_string(pg_py_blocked_name(py->blocked)));
    }
    json_t *st = json_array();
    for (int k = 0; k < t->npcs; k++)
        json_array_append_new(st, hex(t->pcs[k]));
    json_object_set_new(o, "stack", st);
    return o;
}

static const char *plural(int n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

/* The same summaries the shim writes (shim/watch/watchdog.c), so reports read alike. */
static void summarize(const ext_proc *p, const graph *gr, const struct pg_gfinding *f, char *out,
                      size_t cap)
{
    const ext_thread *s = &p->threads[f->start];
    if (f->kind == PG_GF_CYCLE && f->ncycle == 1) {
        snprintf(out, cap, "thread %d waits for a %s it already holds itself", (int)s->tid,
                 pg_wait_parse(s->wait.kind) == PG_WAIT_JOIN ? "thread" : "lock");
    } else if (f->kind == PG_GF_CYCLE) {
        static const struct {
            pg_wait_kind_t kind;
            const char *one, *many;
        } names[] = {
            { PG_WAIT_MUTEX, "mutex", "mutexes" },
            { PG_WAIT_RWLOCK_READ, "rwlock (read)", "rwlocks (read)" },
            { PG_WAIT_RWLOCK_WRITE, "rwlock (write)", "rwlocks (write)" },
            { PG_WAIT_JOIN, "join", "joins" },
        };
        int counts[4] = { 0 };
        int x = f->start;
        do {
            for (int k = 0; k < 4; k++)
                counts[k] += pg_wait_parse(p->threads[x].wait.kind) == (int)names[k].kind;
            x = gr->nodes[x].cycle_next;
        } while (x != f->start);
        int len = snprintf(out, cap, "%d threads wait on each other through ", f->ncycle);
        int parts = 0, total = 0;
        for (int k = 0; k < 4; k++)
            total += counts[k] > 0;
        for (int k = 0; k < 4 && len > 0 && (size_t)len < cap; k++) {
            if (!counts[k])
                continue;
            parts++;
            const char *sep = parts == 1 ? "" : parts == total ? " and " : ", ";
            len += snprintf(out + len, cap - (size_t)len, "%s%d %s", sep, counts[k],
                            plural(counts[k], names[k].one, names[k].many));
        }
    } else if (f->kind == PG_GF_ABANDONED) {
        snprintf(out, cap,
                 "thread %d waits for a %s held by thread %d, which has exited without "
                 "releasing it",
                 (int)s->tid, s->wait.kind, (int)s->wait.owner);
    } else {
        snprintf(out, cap,
                 "all %d threads are blocked with no time limit and none is left to wake "
                 "the others",
                 f->nmembers);
    }
}

static int write_finding(const ext_proc *p, const graph *gr, int fi, int seq, int fd)
{
    const struct pg_gfinding *f = &gr->findings[fi];
    char summary[256];
    summarize(p, gr, f, summary, sizeof summary);
    json_t *o = json_object();
    json_object_set_new(o, PG_K_TYPE, json_string(pg_record_name(PG_REC_FINDING)));
    json_object_set_new(o, PG_K_SEQ, json_integer(seq));
    json_object_set_new(o, PG_K_KIND, json_string(pg_kind_name(PG_KIND_DEADLOCK)));
    json_object_set_new(o, PG_K_SEVERITY, json_string(pg_sev_name(PG_SEV_ERROR)));
    json_object_set_new(o, "time_unix_ms", json_integer((json_int_t)ext_unix_ms()));
    json_object_set_new(o, "summary", json_string(summary));
    json_t *threads = json_array();
    if (f->kind == PG_GF_CYCLE) {
        json_t *cycle = json_array();
        int x = f->start;
        do {
            int y = gr->nodes[x].cycle_next;
            json_t *e = json_object();
            json_object_set_new(e, "tid", json_integer(p->threads[x].tid));
            json_object_set_new(e, "waits_for", json_integer(p->threads[y].tid));
            json_object_set_new(e, "kind", json_string(p->threads[x].wait.kind));
            json_object_set_new(e, "address", hex(p->threads[x].wait.address));
            json_array_append_new(cycle, e);
            json_array_append_new(threads, ext_thread_json(p, x, pg_role_name(PG_ROLE_CYCLE)));
            x = y;
        } while (x != f->start);
        json_object_set_new(o, "cycle", cycle);
    } else if (f->kind == PG_GF_HANG) {
        json_object_set_new(o, "hang", json_true());
    } else {
        json_object_set_new(o, "abandoned", json_true());
    }
    for (size_t i = 0; i < p->nthreads; i++) {
        const struct pg_gnode *g = &gr->nodes[i];
        if (!g->stuck || g->finding != fi || g->cycle_next >= 0)
            continue;
        int role = f->kind == PG_GF_HANG ? PG_ROLE_HANG : PG_ROLE_BLOCKED;
        json_array_append_new(threads, ext_thread_json(p, (int)i, pg_role_name(role)));
    }
    json_object_set_new(o, "threads", threads);
    return ext_put_line(fd, o);
}

static int write_snapshot(const ext_proc *p, int fd)
{
    json_t *o = json_object();
    json_object_set_new(o, PG_K_TYPE, json_string(pg_record_name(PG_REC_SNAPSHOT)));
    json_object_set_new(o, "time_unix_ms", json_integer((json_int_t)ext_unix_ms()));
    json_object_set_new(o, "reason", json_string(p->source));
    json_t *threads = json_array();
    for (size_t i = 0; i < p->nthreads; i++)
        json_array_append_new(threads, ext_thread_json(p, (int)i, pg_role_name(PG_ROLE_SNAPSHOT)));
    json_object_set_new(o, "threads", threads);
    return ext_put_line(fd, o);
}

int ext_write_report(ext_proc *p, int fd, bool all_threads)
{
    const graph *gr = p->graph;
    int r = write_header(p, fd);
    if (r < 0)
        return r;
    if (dwfl_getmodules(p->dwfl, module_cb, &fd, 0) != 0)
        return -EIO;
    /* The Python pools first: a pool stuck on itself is the cause, and when it is proven the
     * native whole-program hang it also is (every thread blocked, none left to wake the others)
     * says the same thing vaguer, and is left out. Cycles and abandoned locks are kept. */
    int npy = ext_write_python_findings(p, fd, 0);
    if (npy < 0)
        return npy;
    int nf = npy;
    for (int fi = 0; gr && fi < gr->nfindings; fi++) {
        if (npy > 0 && gr->findings[fi].kind == PG_GF_HANG)
            continue;
        if ((r = write_finding(p, gr, fi, nf + 1, fd)) < 0)
            return r;
        nf++;
    }
    if (all_threads && (r = write_snapshot(p, fd)) < 0)
        return r;
    return nf;
}

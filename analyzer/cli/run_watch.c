/*
 * Directory watcher for `poolguard run` (see run_watch.h). Polling, not inotify: it must work on
 * any file system the temp dir lives on, and 50 ms is fast enough next to the shim's own scan.
 * Cheap on the hot path: a line is parsed as JSON only when it can be a header, finding or
 * snapshot.
 */
#include "run_watch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lines.h"
#include "model.h"

typedef struct watched {
    char *name;
    int fd;
    lines *l;
    bool header, snapshot;
    long pid; /* the header's */
} watched;

enum { MAX_LOST = 64 };

struct run_watch {
    char *dir;
    watched *files;
    size_t n, cap;
    bool stop;
    run_notice lost[MAX_LOST]; /* findings no file holds; the first MAX_LOST */
    size_t nlost;
};

bool run_finding_stops(const char *kind, const char *severity, const char *proof)
{
    /* A stall is never in the list: it is info and proves nothing. A pool finding whose proof
     * is only inferred (or none) is not a proof either, whatever its severity says (the parser
     * makes it a warning: report_parse.c); findings of shims that write no proof are taken at
     * their severity. */
    int p = pg_proof_parse(proof), k = pg_kind_parse(kind);
    if (p == PG_PROOF_INFERRED || p == PG_PROOF_NONE)
        return false;
    return pg_sev_parse(severity) == PG_SEV_ERROR &&
           (k == PG_KIND_DEADLOCK || k == PG_KIND_POOL_EXHAUSTION);
}

run_watch *run_watch_new(const char *dir)
{
    run_watch *w = calloc(1, sizeof *w);
    if (w && !(w->dir = strdup(dir))) {
        free(w);
        return NULL;
    }
    return w;
}

void run_watch_free(run_watch *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n; i++) {
        free(w->files[i].name);
        lines_free(w->files[i].l);
        close(w->files[i].fd);
    }
    free(w->files);
    free(w->dir);
    free(w);
}

bool run_watch_stop_finding(const run_watch *w)
{
    return w->stop;
}

size_t run_watch_processes(const run_watch *w)
{
    size_t k = 0;
    for (size_t i = 0; i < w->n; i++)
        k += w->files[i].header;
    return k;
}

size_t run_watch_snapshots(const run_watch *w)
{
    size_t k = 0;
    for (size_t i = 0; i < w->n; i++)
        k += w->files[i].header && w->files[i].snapshot;
    return k;
}

bool run_watch_answered(const run_watch *w, int pid)
{
    for (size_t i = 0; i < w->n; i++)
        if (w->files[i].header && w->files[i].snapshot && w->files[i].pid == pid)
            return true;
    return false;
}

static bool known(const run_watch *w, const char *name)
{
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->files[i].name, name) == 0)
            return true;
    return false;
}

static void add_new_files(run_watch *w)
{
    DIR *d = opendir(w->dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 6, ".jsonl") != 0 || known(w, de->d_name))
            continue;
        if (w->n >= PG_MAX_PROCESSES)
            break;
        if (w->n == w->cap) {
            size_t ncap = w->cap ? w->cap * 2 : 8;
            watched *f = realloc(w->files, ncap * sizeof *f);
            if (!f)
                break;
            w->files = f;
            w->cap = ncap;
        }
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", w->dir, de->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        watched *f = &w->files[w->n];
        memset(f, 0, sizeof *f);
        f->fd = fd;
        f->name = strdup(de->d_name);
        f->l = lines_new(fd, PG_MAX_LINE);
        if (!f->name || !f->l) {
            free(f->name);
            lines_free(f->l);
            close(fd);
            continue;
        }
        w->n++;
    }
    closedir(d);
}

static void read_new_lines(run_watch *w, watched *f)
{
    char *line;
    size_t len;
    int flags;
    while (lines_next(f->l, false, &line, &len, &flags) > 0) {
        if (flags & LINES_TOO_LONG)
            continue;
        json_t *o = json_loadb(line, len, 0, NULL);
        int type = pg_record_parse(json_string_value(json_object_get(o, PG_K_TYPE)));
        if (type == PG_REC_HEADER) {
            f->header = true;
            f->pid = (long)json_integer_value(json_object_get(o, PG_K_PID));
        } else if (type == PG_REC_SNAPSHOT &&
                   pg_reason_parse(json_string_value(json_object_get(o, PG_K_REASON))) ==
                       PG_REASON_REQUEST)
            f->snapshot = true;
        else if (type == PG_REC_FINDING &&
                 run_finding_stops(json_string_value(json_object_get(o, PG_K_KIND)),
                                   json_string_value(json_object_get(o, PG_K_SEVERITY)),
                                   json_string_value(json_object_get(json_object_get(o, PG_K_POOL),
                                                                     PG_K_POOL_PROOF))))
            w->stop = true;
        json_decref(o);
    }
}

int run_watch_poll(run_watch *w)
{
    add_new_files(w);
    for (size_t i = 0; i < w->n; i++)
        read_new_lines(w, &w->files[i]);
    return 0;
}

/* The value of `key=` in a notice, up to the next space, into out. */
static bool notice_field(const char *line, const char *key, char *out, size_t cap)
{
    const char *p = strstr(line, key);
    if (!p || cap == 0)
        return false;
    p += strlen(key);
    size_t k = 0;
    while (p[k] && p[k] != ' ' && k + 1 < cap) {
        out[k] = p[k];
        k++;
    }
    out[k] = 0;
    return k > 0;
}

void run_watch_notice(run_watch *w, const char *line)
{
    run_notice n = { 0 };
    char pid[16], written[4];
    if (strncmp(line, PG_NOTICE_PREFIX, strlen(PG_NOTICE_PREFIX)) != 0 ||
        !notice_field(line, " pid=", pid, sizeof pid) ||
        !notice_field(line, " kind=", n.kind, sizeof n.kind) ||
        !notice_field(line, " severity=", n.severity, sizeof n.severity) ||
        !notice_field(line, " written=", written, sizeof written))
        return;
    notice_field(line, " proof=", n.proof, sizeof n.proof);
    n.pid = atoi(pid);
    n.written = strcmp(written, "1") == 0;
    /* A written finding is read from its file like any other; this is about the others. */
    if (n.written)
        return;
    const char *proof = n.proof[0] && strcmp(n.proof, PG_NOTICE_NO_PROOF) != 0 ? n.proof : NULL;
    if (run_finding_stops(n.kind, n.severity, proof))
        w->stop = true;
    if (w->nlost < MAX_LOST)
        w->lost[w->nlost++] = n;
}

size_t run_watch_lost(const run_watch *w)
{
    return w->nlost;
}

const run_notice *run_watch_lost_notice(const run_watch *w, size_t i)
{
    return i < w->nlost ? &w->lost[i] : NULL;
}

bool run_watch_lost_fails(const run_watch *w, int fail_on)
{
    for (size_t i = 0; i < w->nlost; i++) {
        const run_notice *n = &w->lost[i];
        if (pg_kind_parse(n->kind) == PG_KIND_STALL)
            continue; /* proves nothing: never fails */
        int sev = pg_sev_parse(n->severity) > PG_SEV_NONE ? pg_sev_parse(n->severity) : PG_SEV_INFO;
        int proof = pg_proof_parse(n->proof);
        if (sev == PG_SEV_ERROR && (proof == PG_PROOF_INFERRED || proof == PG_PROOF_NONE))
            sev = PG_SEV_WARNING;
        if (sev >= fail_on)
            return true;
    }
    return false;
}

/*
 * The report container and the reading of files and directories. Each file is streamed line by
 * line (lines.h); only what the model keeps is stored, so reading a huge file costs time, not
 * memory. A file must start with a header line: anything else (empty, binary, another format) is
 * rejected after its first line instead of being scanned to the end.
 */
#include "report.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lines.h"

enum { MAX_WARNINGS_SHOWN = 20 };

struct pg_report {
    pg_process **procs;
    size_t nprocs, procs_cap;
    pg_finding **findings;
    size_t nfindings, findings_cap;
    size_t findings_dropped;
    pg_snapshot **snaps;
    size_t nsnaps, snaps_cap;
    FILE *diag;
    unsigned errors, warnings;
};

pg_report *report_new(void)
{
    pg_report *r = calloc(1, sizeof *r);
    if (r)
        r->diag = stderr;
    return r;
}

void report_free(pg_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nfindings; i++)
        model_finding_free(r->findings[i]);
    for (size_t i = 0; i < r->nsnaps; i++)
        model_snapshot_free(r->snaps[i]);
    for (size_t i = 0; i < r->nprocs; i++)
        model_process_free(r->procs[i]);
    free(r->findings);
    free(r->snaps);
    free(r->procs);
    free(r);
}

void report_set_diagnostics(pg_report *r, FILE *f)
{
    r->diag = f;
}

void report_diag(pg_report *r, bool error, const char *fmt, ...)
{
    if (error)
        r->errors++;
    else
        r->warnings++;
    if (!r->diag)
        return;
    /* A broken file can produce a warning per line; a few say enough. */
    if (!error && r->warnings > MAX_WARNINGS_SHOWN) {
        if (r->warnings == MAX_WARNINGS_SHOWN + 1)
            fprintf(r->diag, "poolguard: warning: further warnings not shown\n");
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    fprintf(r->diag, "poolguard: %s: ", error ? "error" : "warning");
    vfprintf(r->diag, fmt, ap);
    fputc('\n', r->diag);
    va_end(ap);
}

unsigned report_errors(const pg_report *r)
{
    return r->errors;
}
unsigned report_warnings(const pg_report *r)
{
    return r->warnings;
}

static int grow(void *arrp, size_t *cap, size_t n)
{
    void **arr = arrp;
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, ncap * sizeof(void *));
    if (!p)
        return -ENOMEM;
    *arr = p;
    *cap = ncap;
    return 0;
}

int report_keep_finding(pg_report *r, pg_finding *f)
{
    if (r->nfindings >= PG_MAX_FINDINGS) {
        if (r->findings_dropped++ == 0)
            report_diag(r, false, "more than %d findings; the rest are not shown", PG_MAX_FINDINGS);
        model_finding_free(f);
        return 0;
    }
    if (grow(&r->findings, &r->findings_cap, r->nfindings) < 0) {
        model_finding_free(f);
        return -ENOMEM;
    }
    r->findings[r->nfindings++] = f;
    return 0;
}

int report_keep_snapshot(pg_report *r, pg_snapshot *s)
{
    if (r->nsnaps >= PG_MAX_SNAPSHOTS || grow(&r->snaps, &r->snaps_cap, r->nsnaps) < 0) {
        model_snapshot_free(s);
        return r->nsnaps >= PG_MAX_SNAPSHOTS ? 0 : -ENOMEM;
    }
    r->snaps[r->nsnaps++] = s;
    return 0;
}

int report_keep_process(pg_report *r, pg_process *p)
{
    if (r->nprocs >= PG_MAX_PROCESSES || grow(&r->procs, &r->procs_cap, r->nprocs) < 0) {
        model_process_free(p);
        return r->nprocs >= PG_MAX_PROCESSES ? -E2BIG : -ENOMEM;
    }
    r->procs[r->nprocs++] = p;
    return 0;
}

pg_finding **report_findings(const pg_report *r, size_t *n)
{
    *n = r->nfindings;
    return r->findings;
}
pg_snapshot **report_snapshots(const pg_report *r, size_t *n)
{
    *n = r->nsnaps;
    return r->snaps;
}
pg_process **report_processes(const pg_report *r, size_t *n)
{
    *n = r->nprocs;
    return r->procs;
}

/* A line that is printable text: used to say "binary" rather than "not JSON" about a file. */
static bool looks_binary(const char *s, size_t len)
{
    if (memchr(s, '\0', len))
        return true;
    size_t ctrl = 0;
    for (size_t i = 0; i < len && i < 512; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 && c != '\t' && c != '\r')
            ctrl++;
    }
    return ctrl > 0;
}

int report_add_fd(pg_report *r, int fd, const char *name)
{
    lines *l = lines_new(fd, PG_MAX_LINE);
    if (!l)
        return -ENOMEM;
    parse_state ps = { .report = r, .name = name };
    int ret = 0;
    unsigned bad = 0;
    for (;;) {
        char *line;
        size_t len;
        int flags = 0;
        int n = lines_next(l, true, &line, &len, &flags);
        if (n < 0) {
            report_diag(r, true, "%s: cannot read: %s", name, strerror(-n));
            ret = n;
            break;
        }
        if (n == 0)
            break;
        ps.lineno++;
        if (len == 0 && !(flags & LINES_TRUNCATED))
            continue;
        if (!ps.proc) {
            /* Until a header has been seen, anything else means this is not a report. */
            json_error_t err;
            json_t *obj = (flags & LINES_TOO_LONG) || looks_binary(line, len)
                              ? NULL
                              : json_loadb(line, len, 0, &err);
            const char *type = obj ? json_string_value(json_object_get(obj, PG_K_TYPE)) : NULL;
            if (pg_record_parse(type) != PG_REC_HEADER) {
                report_diag(r, true, "%s: not a poolguard report (%s)", name,
                            !obj && looks_binary(line, len) ? "binary data"
                            : !obj                          ? "the first line is not JSON"
                                   : "the first line is not a poolguard header");
                json_decref(obj);
                ret = -EINVAL;
                break;
            }
            int pr = report_parse_object(&ps, obj);
            json_decref(obj);
            if (pr < 0) {
                ret = pr;
                break;
            }
            continue;
        }
        if (flags & LINES_TOO_LONG) {
            report_diag(r, false, "%s:%lu: line longer than %d bytes skipped", name, ps.lineno,
                        PG_MAX_LINE);
            continue;
        }
        /* Past the cap, findings are only counted: skip parsing them, or a runaway report of
         * gigabytes takes minutes instead of the time to read it. */
        if (r->nfindings >= PG_MAX_FINDINGS && strstr(line, "\"type\":\"finding\"")) {
            if (r->findings_dropped++ == 0)
                report_diag(r, false, "more than %d findings; the rest are not shown",
                            PG_MAX_FINDINGS);
            continue;
        }
        json_error_t err;
        json_t *obj = json_loadb(line, len, 0, &err);
        if (!obj || !json_is_object(obj)) {
            if (flags & LINES_TRUNCATED)
                report_diag(r, false,
                            "%s:%lu: the last line is cut short (the process died while "
                            "writing it?); skipped",
                            name, ps.lineno);
            else if (bad++ < 3)
                report_diag(r, false, "%s:%lu: not a JSON object; skipped", name, ps.lineno);
            json_decref(obj);
            continue;
        }
        int pr = report_parse_object(&ps, obj);
        json_decref(obj);
        if (pr < 0) {
            ret = pr;
            break;
        }
    }
    if (ret == 0 && !ps.proc) {
        report_diag(r, true, "%s: not a poolguard report (the file is empty)", name);
        ret = -EINVAL;
    }
    lines_free(l);
    return ret;
}

static int add_file(pg_report *r, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        report_diag(r, true, "cannot open '%s': %s", path, strerror(e));
        return -e;
    }
    int ret = report_add_fd(r, fd, path);
    close(fd);
    return ret;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

static int add_dir(pg_report *r, const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        int e = errno;
        report_diag(r, true, "cannot open directory '%s': %s", path, strerror(e));
        return -e;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int ret = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!has_suffix(de->d_name, ".jsonl"))
            continue;
        if (n >= PG_MAX_PROCESSES || grow(&names, &cap, n) < 0)
            break;
        names[n] = malloc(strlen(path) + strlen(de->d_name) + 2);
        if (!names[n])
            break;
        sprintf(names[n], "%s/%s", path, de->d_name);
        n++;
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        int fr = add_file(r, names[i]);
        if (fr < 0 && ret == 0)
            ret = fr;
        free(names[i]);
    }
    free(names);
    if (n == 0)
        report_diag(r, false, "'%s' holds no poolguard reports (*.jsonl)", path);
    return ret;
}

int report_add_path(pg_report *r, const char *path)
{
    if (strcmp(path, "-") == 0)
        return report_add_fd(r, STDIN_FILENO, "stdin");
    struct stat st;
    if (stat(path, &st) < 0) {
        int e = errno;
        report_diag(r, true, "cannot open '%s': %s", path, strerror(e));
        return -e;
    }
    if (S_ISDIR(st.st_mode))
        return add_dir(r, path);
    return add_file(r, path);
}

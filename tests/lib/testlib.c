/*
 * The tests' helper library (see testlib.h), its general part: where the build is, time, reading
 * and writing small files, temporary directories and their removal, which first holds every raw
 * report left in them to docs/report-format.schema.json (tests/lib/validate_report.py). Running
 * programs is testlib_run.c; raw reports and stacks, testlib_reports.c. Its own tests are
 * tests/unit/check_testlib.c.
 */
#include "testlib.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------------------------ */
/* Small utilities                                                                            */

const char *tu_build(void)
{
    const char *b = getenv("POOLGUARD_BUILD");
    return b && *b ? b : "build";
}

/* "<build>/<rel>" as an absolute path, since children may run elsewhere. */
char *tu_build_path(const char *rel)
{
    char *p = malloc(PATH_MAX * 2 + 2);
    char cwd[PATH_MAX];
    const char *b = tu_build();
    ck_assert(p != NULL);
    if (b[0] == '/')
        snprintf(p, PATH_MAX * 2 + 2, "%s/%s", b, rel);
    else
        snprintf(p, PATH_MAX * 2 + 2, "%s/%s/%s", getcwd(cwd, sizeof cwd) ? cwd : ".", b, rel);
    return p;
}

void tu_prog_path(char *buf, size_t size, const char *prog)
{
    snprintf(buf, size, "%s/progs/%s", tu_build(), prog);
}

void tu_need_built(const char *rel)
{
    char *p = tu_build_path(rel);
    bool ok = access(p, R_OK) == 0;
    ck_assert_msg(ok, "%s is not built (make check builds it first)", p);
    free(p);
}

void tu_need_program(const char *path, const char *package)
{
    ck_assert_msg(access(path, X_OK) == 0, "%s is missing: install %s (make deps does)", path,
                  package);
}

long tu_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

void tu_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* The whole file, NUL-terminated, or NULL when it cannot be read. The caller frees it. */
char *tu_slurp_maybe(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return buf;
}

char *tu_slurp(const char *path)
{
    char *s = tu_slurp_maybe(path, NULL);
    ck_assert_msg(s != NULL, "cannot read %s: %s", path, strerror(errno));
    return s;
}

void tu_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s: %s", path, strerror(errno));
    fputs(text, f);
    fclose(f);
}

char *tu_replace(const char *s, const char *from, const char *to)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    size_t fl = strlen(from);
    const char *p;
    ck_assert(m != NULL);
    while ((p = strstr(s, from))) {
        fwrite(s, 1, (size_t)(p - s), m);
        fputs(to, m);
        s = p + fl;
    }
    fputs(s, m);
    fclose(m);
    return buf;
}

void tu_assert_in_order(const char *hay, const char *const *needles)
{
    const char *p = hay;
    for (size_t i = 0; needles[i]; i++) {
        const char *q = strstr(p, needles[i]);
        ck_assert_msg(q != NULL, "missing (in order) \"%s\" in:\n%s", needles[i], hay);
        p = q + strlen(needles[i]);
    }
}

const char *tu_base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

bool tu_starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

char *tu_tmpdir(void)
{
    char *d = strdup(TU_TMP_PREFIX "XXXXXX");
    ck_assert(d != NULL);
    ck_assert_msg(mkdtemp(d) != NULL, "mkdtemp: %s", strerror(errno));
    return d;
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            remove_tree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* Reports are checked against the format before a directory goes (see tu_rmtree). */
static int has_reports(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[4400];
        if (snprintf(p, sizeof p, "%.4096s/%s", dir, e->d_name) >= (int)sizeof p)
            continue;
        struct stat st;
        if (lstat(p, &st) != 0)
            continue;
        size_t n = strlen(e->d_name);
        if (S_ISDIR(st.st_mode) && depth < 8)
            found = has_reports(p, depth + 1);
        else if (S_ISREG(st.st_mode) && strncmp(e->d_name, "poolguard.", 10) == 0 && n > 6 &&
                 strcmp(e->d_name + n - 6, ".jsonl") == 0)
            found = 1;
    }
    closedir(d);
    return found;
}

/* tu_validate; to_log: append problems to $POOLGUARD_SCHEMA_LOG when it is set. */
static int validate_log(const char *path, char **msgs, int to_log)
{
    static const char script[] = "tests/lib/validate_report.py";
    ck_assert_msg(access(script, R_OK) == 0, "%s not found (tests run from the source tree)",
                  script);
    const char *log = to_log ? getenv("POOLGUARD_SCHEMA_LOG") : NULL;
    char cmd[8600];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s%s%s '%s' 2>&1", script,
             log && *log ? "--log '" : "", log && *log ? log : "", log && *log ? "'" : "", path);
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "cannot run %s", script);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0)
        fwrite(chunk, 1, n, m);
    fclose(m);
    int st = pclose(p);
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    if (msgs)
        *msgs = buf;
    else
        free(buf);
    return code;
}

int tu_validate(const char *path, char **msgs)
{
    return validate_log(path, msgs, 0);
}

void tu_validate_reports(const char *dir)
{
    if (!has_reports(dir, 0))
        return;
    char *msgs = NULL;
    int code = validate_log(dir, &msgs, 1);
    ck_assert_msg(code == 0,
                  "raw reports under %s do not match docs/report-format.schema.json:\n%s", dir,
                  msgs ? msgs : "");
    free(msgs);
}

static void check_test_dir(const char *dir)
{
    ck_assert_msg(strncmp(dir, TU_TMP_PREFIX, strlen(TU_TMP_PREFIX)) == 0 && !strstr(dir, "/../"),
                  "refusing to remove %s: not a test directory (" TU_TMP_PREFIX "*)", dir);
}

void tu_rmtree_unchecked(const char *dir)
{
    check_test_dir(dir);
    remove_tree(dir);
}

void tu_rmtree(const char *dir)
{
    check_test_dir(dir);
    /* Every report a test leaves behind is one the shim (or a test program standing in for it)
     * wrote: it must be in the format. */
    tu_validate_reports(dir);
    remove_tree(dir);
}

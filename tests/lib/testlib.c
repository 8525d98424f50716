/*
 * The tests' helper library (see testlib.h): where the build is, temporary files, running programs
 * under a time limit (with or without the shim), reading raw reports, symbolizing raw stacks with nm.
 * Its own tests are tests/unit/check_testlib.c.
 *
 * Process hygiene: a program runs in its own process group with PR_SET_PDEATHSIG, so that a failed
 * assertion (which ends the forked test process) never leaves a deadlocked program behind.
 */
#include "testlib.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

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

/*
 * Does a symbol name (as nm -C or the analyzer prints it) name the function `want`? C names match
 * exactly; C++ names come demangled with their parameters ("waits_on_future(std::future<int>&)");
 * GCC clones carry a suffix (".isra.0").
 */
bool e2e_names_function(const char *sym, const char *want)
{
    size_t n = strlen(want);
    if (!sym || strncmp(sym, want, n) != 0)
        return false;
    return sym[n] == '\0' || sym[n] == '(' || sym[n] == '.';
}

/* Does a JSON array of function names hold one that names function `want`? */
bool e2e_names_have(json_t *names, const char *want)
{
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v)
        if (e2e_names_function(json_string_value(v), want))
            return true;
    return false;
}

/* Does `text` have a line that starts with "poolguard:" and contains `needle`? */
bool e2e_has_poolguard_line(const char *text, const char *needle)
{
    for (const char *line = text; *line;) {
        size_t len = strcspn(line, "\n");
        if (tu_starts_with(line, "poolguard:") && memmem(line, len, needle, strlen(needle)))
            return true;
        line += len;
        if (*line == '\n')
            line++;
    }
    return false;
}

bool e2e_parse_addr(json_t *v, unsigned long *out)
{
    const char *s = json_string_value(v);
    if (!s || !tu_starts_with(s, "0x"))
        return false;
    char *end;
    errno = 0;
    *out = strtoul(s + 2, &end, 16);
    return errno == 0 && end != s + 2 && *end == '\0';
}

/* Test directories are all made by tu_tmpdir or e2e_run_init, under this prefix. */
#define TU_TMP_PREFIX "/tmp/pgtest."

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
    ck_assert_msg(access(script, R_OK) == 0, "%s not found (tests run from the source tree)", script);
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
    ck_assert_msg(code == 0, "raw reports under %s do not match docs/report-format.schema.json:\n%s",
                  dir, msgs ? msgs : "");
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

/* ------------------------------------------------------------------------------------------ */
/* Running a program                                                                          */

void e2e_run_init(struct e2e_run *r, const char *label)
{
    memset(r, 0, sizeof *r);
    snprintf(r->work, sizeof r->work, TU_TMP_PREFIX "%s-XXXXXX", tu_base_name(label));
    ck_assert_msg(mkdtemp(r->work) != NULL, "mkdtemp: %s", strerror(errno));
    snprintf(r->reports, sizeof r->reports, "%s/reports", r->work);
    ck_assert_msg(mkdir(r->reports, 0700) == 0, "mkdir %s: %s", r->reports, strerror(errno));
    snprintf(r->out, sizeof r->out, "%s/stdout", r->work);
    snprintf(r->err, sizeof r->err, "%s/stderr", r->work);
}

/* Does env ("NAME=value", NULL-terminated, may be NULL) set the variable of `entry`? */
static bool set_by(const char *const env[], const char *entry)
{
    size_t name = strcspn(entry, "=");
    for (size_t i = 0; env && env[i]; i++)
        if (strncmp(env[i], entry, name + 1) == 0)
            return true;
    return false;
}

/*
 * Starts `path` with `argv` in its own process group, stdin from /dev/null, stdout and stderr to
 * r->out and r->err. The environment is ours without LD_PRELOAD and POOLGUARD_* (so that the
 * caller's settings cannot change a test), plus LD_PRELOAD=<shim> and POOLGUARD_DIR when `preload`,
 * plus `extra_env` ("NAME=value" strings, NULL-terminated, may be NULL), which replace ours.
 */
void e2e_run_start(struct e2e_run *r, const char *path, char *const argv[], bool preload,
                      const char *const extra_env[])
{
    static char shim_abs[PATH_MAX];
    char shim[PATH_MAX];

    snprintf(shim, sizeof shim, "%s/libpoolguard.so", tu_build());
    if (preload)
        ck_assert_msg(realpath(shim, shim_abs) != NULL, "the shim is not built: %s: %s", shim,
                      strerror(errno));
    ck_assert_msg(access(path, X_OK) == 0, "test program not built: %s", path);

    /* The child's environment is built before fork: after fork only async-signal-safe calls. */
    size_t n = 0;
    while (environ[n])
        n++;
    size_t extra = 0;
    while (extra_env && extra_env[extra])
        extra++;
    char **envp = calloc(n + extra + 3, sizeof *envp);
    ck_assert(envp != NULL);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!tu_starts_with(environ[i], "LD_PRELOAD=") && !tu_starts_with(environ[i], "POOLGUARD_") &&
            !set_by(extra_env, environ[i]))
            envp[k++] = environ[i];
    char preload_var[PATH_MAX + 16], dir_var[PATH_MAX + 16];
    if (preload) {
        snprintf(preload_var, sizeof preload_var, "LD_PRELOAD=%s", shim_abs);
        snprintf(dir_var, sizeof dir_var, "POOLGUARD_DIR=%s", r->reports);
        envp[k++] = preload_var;
        envp[k++] = dir_var;
    }
    for (size_t i = 0; i < extra; i++)
        envp[k++] = (char *)extra_env[i];
    envp[k] = NULL;

    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        struct rlimit no_core = { 0, 0 };
        setrlimit(RLIMIT_CORE, &no_core);   /* POOLGUARD_ON_FINDING=abort must not leave a core */
        int in = open("/dev/null", O_RDONLY);
        int out = r->out[0] ? open(r->out, O_WRONLY | O_CREAT | O_TRUNC, 0600) : 1;
        int err = r->err[0] ? open(r->err, O_WRONLY | O_CREAT | O_TRUNC, 0600) : 2;
        if (in < 0 || out < 0 || err < 0)
            _exit(126);
        dup2(in, 0);
        dup2(out, 1);
        dup2(err, 2);
        execve(path, argv, envp);
        _exit(127);
    }
    setpgid(pid, pid);   /* also here, so that the group exists before we might kill it */
    free(envp);
    r->pid = pid;
    r->exited = false;
}

/* Waits up to `ms` for the program to exit; true when it did (r->status then holds its status). */
bool e2e_run_wait(struct e2e_run *r, long ms)
{
    long deadline = tu_now_ms() + ms;
    for (;;) {
        if (r->exited)
            return true;
        pid_t w = waitpid(r->pid, &r->status, WNOHANG);
        if (w == r->pid) {
            r->exited = true;
            return true;
        }
        if (tu_now_ms() >= deadline)
            return false;
        tu_sleep_ms(10);
    }
}

/* Kills the program's whole process group (a forked child too) and reaps the program. */
void e2e_run_kill(struct e2e_run *r)
{
    kill(-r->pid, SIGKILL);
    if (!r->exited) {
        kill(r->pid, SIGKILL);
        while (waitpid(r->pid, &r->status, 0) < 0 && errno == EINTR)
            ;
        r->exited = true;
    }
}

int tu_run(char *const argv[], const char *out_path, const char *err_path, char *const env[],
           int timeout_s)
{
    struct e2e_run r;
    memset(&r, 0, sizeof r);
    snprintf(r.out, sizeof r.out, "%s", out_path ? out_path : "");
    snprintf(r.err, sizeof r.err, "%s", err_path ? err_path : "");
    e2e_run_start(&r, argv[0], argv, false, (const char *const *)env);
    bool done = e2e_run_wait(&r, timeout_s * 1000L);
    e2e_run_kill(&r);
    ck_assert_msg(done, "%s did not finish within %d s", argv[0], timeout_s);
    if (WIFEXITED(r.status))
        return WEXITSTATUS(r.status);
    if (WIFSIGNALED(r.status))
        return 128 + WTERMSIG(r.status);
    return -1;
}

int tu_run_capture(char *argv[], char *const env[], int timeout_s, char **out, char **err)
{
    char *dir = tu_tmpdir();
    char o[PATH_MAX], e[PATH_MAX];
    snprintf(o, sizeof o, "%s/out", dir);
    snprintf(e, sizeof e, "%s/err", dir);
    int code = tu_run(argv, o, e, env, timeout_s);
    *out = tu_slurp(o);
    *err = tu_slurp(e);
    for (size_t i = 0; argv[i]; i++)
        free(argv[i]);
    tu_rmtree(dir);
    free(dir);
    return code;
}

char *e2e_run_stdout(const struct e2e_run *r)
{
    char *s = tu_slurp_maybe(r->out, NULL);
    return s ? s : strdup("");
}

char *e2e_run_stderr(const struct e2e_run *r)
{
    char *s = tu_slurp_maybe(r->err, NULL);
    return s ? s : strdup("");
}

/* ------------------------------------------------------------------------------------------ */
/* Raw reports                                                                                */

void e2e_reports_free(struct e2e_reports *rs)
{
    for (int i = 0; i < rs->n; i++) {
        json_decref(rs->r[i].header);
        json_decref(rs->r[i].modules);
        json_decref(rs->r[i].findings);
    }
    rs->n = 0;
}

/*
 * Reads every poolguard.*.jsonl file in `dir`. Only complete lines count: the shim may be writing
 * the last one while we read.
 */
void e2e_reports_load(struct e2e_reports *rs, const char *dir)
{
    memset(rs, 0, sizeof *rs);
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && rs->n < E2E_MAX_REPORTS) {
        size_t len = strlen(e->d_name);
        if (!tu_starts_with(e->d_name, "poolguard.") || len < 6 ||
            strcmp(e->d_name + len - 6, ".jsonl") != 0)
            continue;
        struct e2e_report *rp = &rs->r[rs->n++];
        snprintf(rp->path, sizeof rp->path, "%s/%s", dir, e->d_name);
        struct stat st;
        rp->mode = lstat(rp->path, &st) == 0 ? st.st_mode : 0;
        rp->modules = json_array();
        rp->findings = json_array();
        char *text = tu_slurp_maybe(rp->path, NULL);
        if (!text)
            continue;
        char *line = text, *nl;
        int lineno = 0;
        while ((nl = strchr(line, '\n')) != NULL) {
            *nl = '\0';
            json_error_t jerr;
            json_t *obj = json_loads(line, 0, &jerr);
            const char *type = json_string_value(json_object_get(obj, "type"));
            if (!json_is_object(obj) || !type) {
                rp->bad_lines++;
            } else if (strcmp(type, "header") == 0) {
                rp->headers++;
                if (lineno == 0) {
                    rp->first_is_header = true;
                    rp->header = json_incref(obj);
                }
            } else if (strcmp(type, "module") == 0) {
                json_array_append(rp->modules, obj);
            } else if (strcmp(type, "finding") == 0) {
                json_array_append(rp->findings, obj);
            }
            json_decref(obj);
            line = nl + 1;
            lineno++;
        }
        free(text);
    }
    closedir(d);
}

size_t e2e_reports_count_findings(const struct e2e_reports *rs)
{
    size_t n = 0;
    for (int i = 0; i < rs->n; i++)
        n += json_array_size(rs->r[i].findings);
    return n;
}

/* The first report that holds a finding, or NULL. */
struct e2e_report *e2e_reports_with_finding(struct e2e_reports *rs)
{
    for (int i = 0; i < rs->n; i++)
        if (json_array_size(rs->r[i].findings) > 0)
            return &rs->r[i];
    return NULL;
}

/* A one-line description of every finding, for failure messages. */
void e2e_describe_findings(const struct e2e_reports *rs, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < rs->n; i++) {
        size_t j;
        json_t *f;
        json_array_foreach(rs->r[i].findings, j, f) {
            const char *kind = json_string_value(json_object_get(f, "kind"));
            const char *sum = json_string_value(json_object_get(f, "summary"));
            int w = snprintf(buf + used, size - used, "[%s: %s: %s] ", tu_base_name(rs->r[i].path),
                             kind ? kind : "?", sum ? sum : "?");
            if (w < 0 || (size_t)w >= size - used)
                return;
            used += (size_t)w;
        }
    }
}

/*
 * Waits until the program's stdout is `text` (it prints and flushes it just before deadlocking),
 * so that a slow start on a loaded machine does not eat into the detection deadline.
 */
bool e2e_wait_for_output(struct e2e_run *r, const char *text, long ms)
{
    long deadline = tu_now_ms() + ms;
    for (;;) {
        char *out = tu_slurp_maybe(r->out, NULL);
        bool seen = out && strcmp(out, text) == 0;
        free(out);
        if (seen)
            return true;
        if (tu_now_ms() >= deadline || e2e_run_wait(r, 0))
            return false;
        tu_sleep_ms(10);
    }
}

/* Polls the report directory until a finding appears, the program exits, or `ms` pass. */
bool e2e_wait_for_finding(struct e2e_run *r, long ms)
{
    long deadline = tu_now_ms() + ms;
    for (;;) {
        struct e2e_reports rs;
        e2e_reports_load(&rs, r->reports);
        size_t n = e2e_reports_count_findings(&rs);
        e2e_reports_free(&rs);
        if (n > 0)
            return true;
        if (tu_now_ms() >= deadline || e2e_run_wait(r, 0))
            return false;
        tu_sleep_ms(E2E_POLL_MS);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Symbolizing raw stacks against the binary (independent of the analyzer)                    */

/* Function symbols of `binary`, demangled, from `nm -C -S --defined-only`. */
void e2e_symtab_load(struct e2e_symtab *st, const char *binary)
{
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "nm -C -S --defined-only '%s' 2>/dev/null", binary);
    st->v = NULL;
    st->n = 0;
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "popen nm: %s", strerror(errno));
    char line[4096];
    size_t cap = 0;
    while (fgets(line, sizeof line, p)) {
        unsigned long addr, size;
        char type;
        int off = 0;
        line[strcspn(line, "\n")] = '\0';
        if (sscanf(line, "%lx %lx %c %n", &addr, &size, &type, &off) != 3 || off == 0)
            continue;
        if (type != 't' && type != 'T' && type != 'w' && type != 'W')
            continue;
        if (st->n == cap) {
            cap = cap ? cap * 2 : 256;
            st->v = realloc(st->v, cap * sizeof *st->v);
            ck_assert(st->v != NULL);
        }
        st->v[st->n++] = (struct e2e_sym){ addr, size, strdup(line + off) };
    }
    pclose(p);
    ck_assert_msg(st->n > 0, "nm found no function symbols in %s", binary);
}

void e2e_symtab_free(struct e2e_symtab *st)
{
    for (size_t i = 0; i < st->n; i++)
        free(st->v[i].name);
    free(st->v);
    st->v = NULL;
    st->n = 0;
}

const char *e2e_symtab_lookup(const struct e2e_symtab *st, unsigned long addr)
{
    for (size_t i = 0; i < st->n; i++)
        if (addr >= st->v[i].addr && addr < st->v[i].addr + st->v[i].size)
            return st->v[i].name;
    return NULL;
}

/* The function names of an analyzer-rendered stack (frames without one are left out). */
json_t *e2e_stack_function_names(json_t *stack)
{
    json_t *names = json_array();
    size_t j;
    json_t *fr;
    json_array_foreach(stack, j, fr) {
        const char *fn = json_string_value(json_object_get(fr, "function"));
        if (fn)
            json_array_append_new(names, json_string(fn));
    }
    return names;
}

/*
 * The program's own functions in a raw stack: each address inside the module whose path names the
 * program is looked up at pc - base - 1 (a return address points after its call). Returns a JSON
 * array of names (the other frames are left out).
 */
json_t *e2e_raw_stack_functions(json_t *modules, json_t *stack, const char *prog,
                                   const struct e2e_symtab *st)
{
    json_t *names = json_array();
    size_t i;
    json_t *pcv;
    json_array_foreach(stack, i, pcv) {
        unsigned long pc;
        if (!e2e_parse_addr(pcv, &pc))
            continue;
        size_t j;
        json_t *m;
        json_array_foreach(modules, j, m) {
            unsigned long base, start, end;
            const char *path = json_string_value(json_object_get(m, "path"));
            if (!path || !e2e_parse_addr(json_object_get(m, "base"), &base) ||
                !e2e_parse_addr(json_object_get(m, "start"), &start) ||
                !e2e_parse_addr(json_object_get(m, "end"), &end))
                continue;
            if (pc < start || pc >= end)
                continue;
            if (strcmp(tu_base_name(path), prog) == 0) {
                const char *name = e2e_symtab_lookup(st, pc - base - 1);
                if (name)
                    json_array_append_new(names, json_string(name));
            }
            break;
        }
    }
    return names;
}

/* ------------------------------------------------------------------------------------------ */
/* Shared checks of the end-to-end suites                                                     */

json_t *e2e_analyzer_json(const char *label, const struct e2e_run *prog_run)
{
    char analyzer[PATH_MAX];
    snprintf(analyzer, sizeof analyzer, "%s/poolguard", tu_build());
    struct e2e_run a;
    memset(&a, 0, sizeof a);
    snprintf(a.out, sizeof a.out, "%s/analyzer.out", prog_run->work);
    snprintf(a.err, sizeof a.err, "%s/analyzer.err", prog_run->work);
    char *argv[] = { "poolguard", "report", "--format", "json", (char *)prog_run->reports, NULL };
    e2e_run_start(&a, analyzer, argv, false, NULL);
    bool done = e2e_run_wait(&a, E2E_ANALYZER_MS);
    if (!done)
        e2e_run_kill(&a);
    char *err = e2e_run_stderr(&a);
    ck_assert_msg(done, "%s: `poolguard report` did not finish in %d ms", label, E2E_ANALYZER_MS);
    json_error_t jerr;
    json_t *doc = json_load_file(a.out, 0, &jerr);
    ck_assert_msg(doc != NULL, "%s: `poolguard report --format json %s` (status %d) printed no JSON: "
                  "%s; stderr: %.500s", label, prog_run->reports,
                  WIFEXITED(a.status) ? WEXITSTATUS(a.status) : -1, jerr.text, err);
    free(err);
    return doc;
}


/* Runs a healthy program natively and under the shim: same stdout, same status, no finding. */
void e2e_check_healthy(const struct e2e_ok_case *c, const char *const extra_env[],
                             const char *expect_warning)
{
    char path[PATH_MAX];
    tu_prog_path(path, sizeof path, c->prog);
    char *argv[] = { (char *)c->prog, NULL };

    struct e2e_run native;
    e2e_run_init(&native, c->prog);
    e2e_run_start(&native, path, argv, false, NULL);
    bool native_done = e2e_run_wait(&native, E2E_HEALTHY_EXIT_MS);
    e2e_run_kill(&native);

    struct e2e_run shim;
    e2e_run_init(&shim, c->prog);
    e2e_run_start(&shim, path, argv, true, extra_env);
    bool shim_done = e2e_run_wait(&shim, E2E_HEALTHY_EXIT_MS);
    e2e_run_kill(&shim);

    char *nout = e2e_run_stdout(&native), *sout = e2e_run_stdout(&shim), *serr = e2e_run_stderr(&shim);
    ck_assert_msg(native_done, "%s: did not finish in %d ms even without the shim", c->prog,
                  E2E_HEALTHY_EXIT_MS);
    ck_assert_msg(WIFEXITED(native.status) && WEXITSTATUS(native.status) == c->status,
                  "%s: without the shim: status 0x%x, expected exit %d", c->prog, native.status, c->status);

    struct e2e_reports rs;
    e2e_reports_load(&rs, shim.reports);
    char all[4096];
    e2e_describe_findings(&rs, all, sizeof all);
    ck_assert_msg(shim_done, "%s: under the shim it did not finish in %d ms (findings: %s; stderr: "
                  "%.500s)", c->prog, E2E_HEALTHY_EXIT_MS, all, serr);
    ck_assert_msg(e2e_reports_count_findings(&rs) == 0, "%s: healthy program got %zu findings: %s "
                  "(reports in %s)", c->prog, e2e_reports_count_findings(&rs), all, shim.reports);
    ck_assert_msg(WIFEXITED(shim.status) && WEXITSTATUS(shim.status) == WEXITSTATUS(native.status),
                  "%s: exit status under the shim 0x%x, without it 0x%x; stderr: %.500s", c->prog,
                  shim.status, native.status, serr);
    ck_assert_msg(strcmp(nout, sout) == 0, "%s: stdout differs under the shim:\n--- native\n%s--- "
                  "shim\n%s", c->prog, nout, sout);
    if (expect_warning)
        ck_assert_msg(e2e_has_poolguard_line(serr, expect_warning), "%s: no \"poolguard:\" warning "
                      "mentioning %s on stderr: %.500s", c->prog, expect_warning, serr);
    e2e_reports_free(&rs);
    free(nout);
    free(sout);
    free(serr);
    tu_rmtree(native.work);
    tu_rmtree(shim.work);
}

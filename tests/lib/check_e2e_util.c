/*
 * Helpers of the end-to-end tests: running programs under a time limit, reading raw reports,
 * symbolizing raw stacks with nm (see check_e2e_util.h). The Makefile links every tests/check_*.c
 * into the runner and expects a suite from each, so this file also carries the helpers' own tests.
 *
 * Process hygiene: a program runs in its own process group with PR_SET_PDEATHSIG, so that a failed
 * assertion (which ends the forked test process) never leaves a deadlocked program behind.
 */
#include "check_e2e_util.h"
#include "testutil.h"

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

const char *e2e_build_dir(void)
{
    const char *b = getenv("POOLGUARD_BUILD");
    return b && *b ? b : "build";
}

long e2e_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

void e2e_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* The whole file, NUL-terminated, or NULL when it cannot be read. The caller frees it. */
char *e2e_slurp(const char *path, size_t *len_out)
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

const char *e2e_base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

bool e2e_starts_with(const char *s, const char *prefix)
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
        if (e2e_starts_with(line, "poolguard:") && memmem(line, len, needle, strlen(needle)))
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
    if (!s || !e2e_starts_with(s, "0x"))
        return false;
    char *end;
    errno = 0;
    *out = strtoul(s + 2, &end, 16);
    return errno == 0 && end != s + 2 && *end == '\0';
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

void e2e_remove_tree(const char *dir)
{
    /* The reports a run wrote are checked against the format before they go. */
    tu_validate_reports(dir);
    remove_tree(dir);
}

/* ------------------------------------------------------------------------------------------ */
/* Running a program                                                                          */

void e2e_run_init(struct e2e_run *r, const char *label)
{
    memset(r, 0, sizeof *r);
    snprintf(r->work, sizeof r->work, "/tmp/poolguard-e2e-%s-XXXXXX", label);
    ck_assert_msg(mkdtemp(r->work) != NULL, "mkdtemp: %s", strerror(errno));
    snprintf(r->reports, sizeof r->reports, "%s/reports", r->work);
    ck_assert_msg(mkdir(r->reports, 0700) == 0, "mkdir %s: %s", r->reports, strerror(errno));
    snprintf(r->out, sizeof r->out, "%s/stdout", r->work);
    snprintf(r->err, sizeof r->err, "%s/stderr", r->work);
}

/*
 * Starts `path` with `argv` in its own process group, stdin from /dev/null, stdout and stderr to
 * r->out and r->err. The environment is ours without LD_PRELOAD and POOLGUARD_* (so that the
 * caller's settings cannot change a test), plus LD_PRELOAD=<shim> and POOLGUARD_DIR when `preload`,
 * plus `extra_env` ("NAME=value" strings, NULL-terminated, may be NULL).
 */
void e2e_run_start(struct e2e_run *r, const char *path, char *const argv[], bool preload,
                      const char *const extra_env[])
{
    static char shim_abs[PATH_MAX];
    char shim[PATH_MAX];

    snprintf(shim, sizeof shim, "%s/libpoolguard.so", e2e_build_dir());
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
        if (!e2e_starts_with(environ[i], "LD_PRELOAD=") && !e2e_starts_with(environ[i], "POOLGUARD_"))
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
        int out = open(r->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int err = open(r->err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
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
    long deadline = e2e_now_ms() + ms;
    for (;;) {
        if (r->exited)
            return true;
        pid_t w = waitpid(r->pid, &r->status, WNOHANG);
        if (w == r->pid) {
            r->exited = true;
            return true;
        }
        if (e2e_now_ms() >= deadline)
            return false;
        e2e_sleep_ms(10);
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

char *e2e_run_stdout(const struct e2e_run *r)
{
    char *s = e2e_slurp(r->out, NULL);
    return s ? s : strdup("");
}

char *e2e_run_stderr(const struct e2e_run *r)
{
    char *s = e2e_slurp(r->err, NULL);
    return s ? s : strdup("");
}

void e2e_prog_path(char *buf, size_t size, const char *prog)
{
    snprintf(buf, size, "%s/progs/%s", e2e_build_dir(), prog);
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
        if (!e2e_starts_with(e->d_name, "poolguard.") || len < 6 ||
            strcmp(e->d_name + len - 6, ".jsonl") != 0)
            continue;
        struct e2e_report *rp = &rs->r[rs->n++];
        snprintf(rp->path, sizeof rp->path, "%s/%s", dir, e->d_name);
        struct stat st;
        rp->mode = lstat(rp->path, &st) == 0 ? st.st_mode : 0;
        rp->modules = json_array();
        rp->findings = json_array();
        char *text = e2e_slurp(rp->path, NULL);
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
            int w = snprintf(buf + used, size - used, "[%s: %s: %s] ", e2e_base_name(rs->r[i].path),
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
    long deadline = e2e_now_ms() + ms;
    for (;;) {
        char *out = e2e_slurp(r->out, NULL);
        bool seen = out && strcmp(out, text) == 0;
        free(out);
        if (seen)
            return true;
        if (e2e_now_ms() >= deadline || e2e_run_wait(r, 0))
            return false;
        e2e_sleep_ms(10);
    }
}

/* Polls the report directory until a finding appears, the program exits, or `ms` pass. */
bool e2e_wait_for_finding(struct e2e_run *r, long ms)
{
    long deadline = e2e_now_ms() + ms;
    for (;;) {
        struct e2e_reports rs;
        e2e_reports_load(&rs, r->reports);
        size_t n = e2e_reports_count_findings(&rs);
        e2e_reports_free(&rs);
        if (n > 0)
            return true;
        if (e2e_now_ms() >= deadline || e2e_run_wait(r, 0))
            return false;
        e2e_sleep_ms(E2E_POLL_MS);
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
            if (strcmp(e2e_base_name(path), prog) == 0) {
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
/* The helpers' own tests                                                                     */

/* ------------------------------------------------------------------------------------------ */
/* Shared checks of the end-to-end suites                                                     */

json_t *e2e_analyzer_json(const char *label, const struct e2e_run *prog_run)
{
    char analyzer[PATH_MAX];
    snprintf(analyzer, sizeof analyzer, "%s/poolguard", e2e_build_dir());
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
    e2e_prog_path(path, sizeof path, c->prog);
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
    e2e_remove_tree(native.work);
    e2e_remove_tree(shim.work);
}

START_TEST(test_names_function_accepts_c_cxx_and_clone_names)
{
    ck_assert(e2e_names_function("thread_a", "thread_a"));
    ck_assert(e2e_names_function("waits_on_future(std::future<int>&)", "waits_on_future"));
    ck_assert(e2e_names_function("lock_second.isra.0", "lock_second"));
    ck_assert(!e2e_names_function("thread_ab", "thread_a"));
    ck_assert(!e2e_names_function(NULL, "thread_a"));
}
END_TEST

START_TEST(test_poolguard_line_must_start_the_line)
{
    ck_assert(e2e_has_poolguard_line("x\npoolguard: warning: POOLGUARD_INTERVAL_MS bad\n", "INTERVAL"));
    ck_assert(!e2e_has_poolguard_line("x poolguard: POOLGUARD_INTERVAL_MS\n", "INTERVAL"));
    ck_assert(!e2e_has_poolguard_line("poolguard: other\nPOOLGUARD_INTERVAL_MS\n", "INTERVAL"));
    ck_assert(e2e_has_poolguard_line("poolguard: deadlock", ""));
}
END_TEST

START_TEST(test_reports_load_ignores_a_line_still_being_written)
{
    struct e2e_run r;
    e2e_run_init(&r, "util");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/poolguard.x.1.jsonl", r.reports);
    FILE *f = fopen(path, "w");
    ck_assert(f != NULL);
    fputs("{\"type\":\"header\",\"version\":1}\n"
          "{\"type\":\"module\",\"path\":\"/x\",\"base\":\"0x1000\",\"start\":\"0x1000\",\"end\":\"0x2000\"}\n"
          "{\"type\":\"finding\",\"kind\":\"deadlock\"}\n"
          "{\"type\":\"finding\",\"ki", f);
    fclose(f);
    struct e2e_reports rs;
    e2e_reports_load(&rs, r.reports);
    ck_assert_int_eq(rs.n, 1);
    ck_assert(rs.r[0].first_is_header);
    ck_assert_int_eq(rs.r[0].bad_lines, 0);
    ck_assert_uint_eq(json_array_size(rs.r[0].modules), 1);
    ck_assert_uint_eq(e2e_reports_count_findings(&rs), 1);
    e2e_reports_free(&rs);
    remove_tree(r.work);   /* a minimal report, not in the format on purpose: not validated */
}
END_TEST

START_TEST(test_raw_stack_symbolized_at_return_address_minus_one)
{
    struct e2e_sym syms[] = { { 0x100, 0x20, "caller" }, { 0x120, 0x10, "next" } };
    struct e2e_symtab st = { syms, 2 };
    json_t *modules = json_pack("[{s:s, s:s, s:s, s:s}]", "path", "/bin/prog", "base", "0x5000",
                                "start", "0x5000", "end", "0x6000");
    /* 0x5120 returns into the end of "caller" (a call as its last instruction), not into "next". */
    json_t *stack = json_pack("[s, s, s]", "0x5120", "0x5125", "0x9999");
    json_t *names = e2e_raw_stack_functions(modules, stack, "prog", &st);
    ck_assert_uint_eq(json_array_size(names), 2);
    ck_assert_str_eq(json_string_value(json_array_get(names, 0)), "caller");
    ck_assert_str_eq(json_string_value(json_array_get(names, 1)), "next");
    json_decref(names);
    json_decref(stack);
    json_decref(modules);
}
END_TEST

Suite *e2e_util_suite(void)
{
    Suite *s = suite_create("e2e_util");
    TCase *tc = tcase_create("helpers");
    tcase_add_test(tc, test_names_function_accepts_c_cxx_and_clone_names);
    tcase_add_test(tc, test_poolguard_line_must_start_the_line);
    tcase_add_test(tc, test_reports_load_ignores_a_line_still_being_written);
    tcase_add_test(tc, test_raw_stack_symbolized_at_return_address_minus_one);
    suite_add_tcase(s, tc);
    return s;
}

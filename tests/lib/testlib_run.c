/*
 * The tests' helper library (see testlib.h): running a child under a time limit, a program with or
 * without the shim, waiting for its output or its first finding, and the checks the end-to-end
 * suites share (the analyzer's JSON of a run, a healthy program with and without the shim).
 *
 * Process hygiene: a program runs in its own process group with PR_SET_PDEATHSIG, so that a failed
 * assertion (which ends the forked test process) never leaves a deadlocked program behind.
 */
#include "testlib.h"

#include <check.h>
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
#include <unistd.h>

extern char **environ;

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
        if (!tu_starts_with(environ[i], "LD_PRELOAD=") &&
            !tu_starts_with(environ[i], "POOLGUARD_") && !set_by(extra_env, environ[i]))
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
        setrlimit(RLIMIT_CORE, &no_core); /* POOLGUARD_ON_FINDING=abort must not leave a core */
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
    setpgid(pid, pid); /* also here, so that the group exists before we might kill it */
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
    ck_assert_msg(doc != NULL,
                  "%s: `poolguard report --format json %s` (status %d) printed no JSON: "
                  "%s; stderr: %.500s",
                  label, prog_run->reports, WIFEXITED(a.status) ? WEXITSTATUS(a.status) : -1,
                  jerr.text, err);
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

    char *nout = e2e_run_stdout(&native), *sout = e2e_run_stdout(&shim),
         *serr = e2e_run_stderr(&shim);
    ck_assert_msg(native_done, "%s: did not finish in %d ms even without the shim", c->prog,
                  E2E_HEALTHY_EXIT_MS);
    ck_assert_msg(WIFEXITED(native.status) && WEXITSTATUS(native.status) == c->status,
                  "%s: without the shim: status 0x%x, expected exit %d", c->prog, native.status,
                  c->status);

    struct e2e_reports rs;
    e2e_reports_load(&rs, shim.reports);
    char all[4096];
    e2e_describe_findings(&rs, all, sizeof all);
    ck_assert_msg(shim_done,
                  "%s: under the shim it did not finish in %d ms (findings: %s; stderr: "
                  "%.500s)",
                  c->prog, E2E_HEALTHY_EXIT_MS, all, serr);
    ck_assert_msg(e2e_reports_count_findings(&rs) == 0,
                  "%s: healthy program got %zu findings: %s "
                  "(reports in %s)",
                  c->prog, e2e_reports_count_findings(&rs), all, shim.reports);
    ck_assert_msg(WIFEXITED(shim.status) && WEXITSTATUS(shim.status) == WEXITSTATUS(native.status),
                  "%s: exit status under the shim 0x%x, without it 0x%x; stderr: %.500s", c->prog,
                  shim.status, native.status, serr);
    ck_assert_msg(strcmp(nout, sout) == 0,
                  "%s: stdout differs under the shim:\n--- native\n%s--- "
                  "shim\n%s",
                  c->prog, nout, sout);
    if (expect_warning)
        ck_assert_msg(e2e_has_poolguard_line(serr, expect_warning),
                      "%s: no \"poolguard:\" warning "
                      "mentioning %s on stderr: %.500s",
                      c->prog, expect_warning, serr);
    e2e_reports_free(&rs);
    free(nout);
    free(sout);
    free(serr);
    tu_rmtree(native.work);
    tu_rmtree(shim.work);
}

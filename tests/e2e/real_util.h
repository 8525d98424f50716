/*
 * Helpers of the real-program suites (check_real.c, check_real_workloads.c): running a program,
 * natively or under `poolguard run`, with a chosen environment (variables, ignored and blocked
 * signals, a file size limit, a process group of its own) under a time limit, and reading what it
 * printed. Header-only, on top of the helper library (testlib.h).
 */
#ifndef POOLGUARD_REAL_UTIL_H
#define POOLGUARD_REAL_UTIL_H

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>

#include "testlib.h"

struct xrun {
    char *const *argv;      /* argv[0]: a path */
    const char *const *env; /* NAME=VALUE added to the test's environment */
    const int *ignore;      /* signals set to SIG_IGN before exec, 0-terminated */
    const int *block;       /* signals blocked before exec, 0-terminated */
    long fsize;             /* RLIMIT_FSIZE in bytes, 0: unchanged */
    bool own_group;         /* a process group of its own (so that it can be killed whole) */
    /* results */
    pid_t pid;
    int status;
    bool done;
    char out_path[PATH_MAX], err_path[PATH_MAX];
    char *out, *err;
    long ms;
};

/* The suite's scratch directory, made on first use; each suite that includes this has its own. */
static char *workdir;

static inline void work_init(void)
{
    if (!workdir)
        workdir = tu_tmpdir();
}

static inline void xstart(struct xrun *x)
{
    static int seq;
    work_init();
    snprintf(x->out_path, sizeof x->out_path, "%s/out.%d", workdir, seq);
    snprintf(x->err_path, sizeof x->err_path, "%s/err.%d", workdir, seq++);
    x->ms = tu_now_ms();
    x->pid = fork();
    ck_assert_int_ge(x->pid, 0);
    if (x->pid == 0) {
        if (x->own_group)
            setpgid(0, 0);
        int o = open(x->out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(x->err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int n = open("/dev/null", O_RDONLY);
        dup2(n, 0);
        dup2(o, 1);
        dup2(e, 2);
        close(n), close(o), close(e);
        for (size_t i = 0; x->env && x->env[i]; i++)
            putenv((char *)x->env[i]);
        sigset_t set;
        sigemptyset(&set);
        for (size_t i = 0; x->block && x->block[i]; i++)
            sigaddset(&set, x->block[i]);
        sigprocmask(SIG_SETMASK, &set, NULL);
        for (size_t i = 0; x->ignore && x->ignore[i]; i++)
            signal(x->ignore[i], SIG_IGN);
        if (x->fsize > 0) {
            struct rlimit rl = { (rlim_t)x->fsize, (rlim_t)x->fsize };
            setrlimit(RLIMIT_FSIZE, &rl);
        }
        execv(x->argv[0], x->argv);
        _exit(127);
    }
}

/* Waits up to ms for the end; true when it ended. Does not kill. */
static inline bool xwait(struct xrun *x, long ms)
{
    long deadline = tu_now_ms() + ms;
    while (!x->done) {
        if (waitpid(x->pid, &x->status, WNOHANG) == x->pid) {
            x->done = true;
            x->ms = tu_now_ms() - x->ms;
            break;
        }
        if (tu_now_ms() >= deadline)
            break;
        tu_sleep_ms(10);
    }
    return x->done;
}

/* Ends the run (SIGTERM, which poolguard passes on; then SIGKILL to everything) and reads its
 * output. */
static inline void xfinish(struct xrun *x)
{
    if (!x->done) {
        kill(x->pid, SIGCONT);
        kill(x->pid, SIGTERM);
        if (!xwait(x, 2000)) {
            kill(-x->pid, SIGKILL);
            kill(x->pid, SIGKILL);
            waitpid(x->pid, &x->status, 0);
            x->done = true;
        }
    }
    x->out = tu_slurp_maybe(x->out_path, NULL);
    x->err = tu_slurp_maybe(x->err_path, NULL);
    if (!x->out)
        x->out = strdup("");
    if (!x->err)
        x->err = strdup("");
}

static inline int xcode(const struct xrun *x)
{
    if (WIFEXITED(x->status))
        return WEXITSTATUS(x->status);
    if (WIFSIGNALED(x->status))
        return 128 + WTERMSIG(x->status);
    return -1;
}

static inline void xfree(struct xrun *x)
{
    free(x->out);
    free(x->err);
    unlink(x->out_path);
    unlink(x->err_path);
}

/* Runs to the end within ms (else kills it and fails). */
static inline void xrun_all(struct xrun *x, long ms)
{
    xstart(x);
    bool ended = xwait(x, ms);
    xfinish(x);
    ck_assert_msg(ended, "%s did not end within %ld ms; stderr: %.1500s", x->argv[0], ms, x->err);
}

static inline char *shim_path(void)
{
    char *p = tu_build_path("libpoolguard.so");
    char *abs = realpath(p, NULL);
    ck_assert_msg(abs != NULL, "the shim is not built: %s", p);
    free(p);
    return abs;
}

static inline char *prog(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "progs/%s", name);
    char *p = tu_build_path(rel);
    ck_assert_msg(access(p, X_OK) == 0, "%s is not built (make check builds it first)", p);
    return p;
}

static inline int count_lines_with(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

#endif

/*
 * Helpers of the attach suites (check_attach.c, check_attach_py.c): running poolguard under a time
 * limit, starting a test program without the shim, checking that a process was left running and
 * untraced, and skipping where ptrace is not permitted. Header-only, on top of the helper library
 * (testlib.h).
 */
#ifndef POOLGUARD_ATTACH_UTIL_H
#define POOLGUARD_ATTACH_UTIL_H

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "testlib.h"

enum { ATT_READY_MS = 10000, ATT_RUN_MS = 20000, ATT_SETTLE_MS = 200 };

static char poolguard_path[PATH_MAX];

static inline const char *poolguard(void)
{
    snprintf(poolguard_path, sizeof poolguard_path, "%s/poolguard", tu_build());
    return poolguard_path;
}

/* Runs poolguard with args (and env added, may be NULL) under a time limit; returns its exit
 * status, its stdout in *out (unless out is NULL) and its stderr in *err. */
static inline int run_poolguard_env(const char *label, char *const args[], const char *const env[],
                                    char **out, char **err)
{
    struct e2e_run r;
    e2e_run_init(&r, label);
    e2e_run_start(&r, poolguard(), args, false, env);
    bool done = e2e_run_wait(&r, ATT_RUN_MS);
    if (!done)
        e2e_run_kill(&r);
    ck_assert_msg(done, "%s: poolguard did not finish within %d ms", label, ATT_RUN_MS);
    ck_assert_msg(WIFEXITED(r.status), "%s: poolguard died (status 0x%x)", label, r.status);
    if (out)
        *out = e2e_run_stdout(&r);
    *err = e2e_run_stderr(&r);
    tu_rmtree(r.work);
    return WEXITSTATUS(r.status);
}

static inline int run_poolguard(const char *label, char *const args[], char **out, char **err)
{
    return run_poolguard_env(label, args, NULL, out, err);
}

/* Starts a test program without the shim and waits for its "ready" line, then lets its threads
 * reach their waits. */
static inline void start_prog(struct e2e_run *r, const char *prog, char *const extra[])
{
    char path[PATH_MAX];
    tu_prog_path(path, sizeof path, prog);
    char *argv[8] = { path };
    for (int i = 0; extra && extra[i] && i < 6; i++)
        argv[i + 1] = extra[i];
    e2e_run_init(r, prog);
    e2e_run_start(r, path, argv, false, NULL);
    long deadline = tu_now_ms() + ATT_READY_MS;
    for (;;) {
        char *o = e2e_run_stdout(r);
        bool ready = strncmp(o, "ready\n", 6) == 0;
        free(o);
        if (ready)
            break;
        ck_assert_msg(!e2e_run_wait(r, 0), "%s exited before it was ready", prog);
        ck_assert_msg(tu_now_ms() < deadline, "%s was not ready within %d ms", prog, ATT_READY_MS);
        tu_sleep_ms(10);
    }
    tu_sleep_ms(ATT_SETTLE_MS);
}

/* No thread of the process is left stopped (t: traced stop, T: stopped), and nobody traces it. */
static inline void assert_running(pid_t pid)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "cat /proc/%d/task/*/stat 2>/dev/null", (int)pid);
    FILE *f = popen(cmd, "r");
    ck_assert(f != NULL);
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        const char *paren = strrchr(line, ')');
        ck_assert(paren != NULL);
        ck_assert_msg(paren[2] != 't' && paren[2] != 'T', "a thread of %d was left stopped: %s",
                      (int)pid, line);
        n++;
    }
    pclose(f);
    ck_assert_msg(n > 0, "process %d has no threads left", (int)pid);
    char status[64];
    snprintf(status, sizeof status, "/proc/%d/status", (int)pid);
    char *s = tu_slurp_maybe(status, NULL);
    ck_assert(s != NULL);
    bool untraced = strstr(s, "TracerPid:\t0\n") != NULL;
    free(s);
    ck_assert_msg(untraced, "process %d is still traced", (int)pid);
}

/* ptrace from poolguard to a sibling (what the tests do) may be refused by the sandbox: then every
 * test of the suite is skipped, saying why. */
static inline void need_attach(void)
{
    static int known = -1;
    static char why[512];
    if (known < 0) {
        struct e2e_run r;
        char *extra[] = { "20000", "1", NULL };
        start_prog(&r, "att_busy", extra);
        char pid[16];
        snprintf(pid, sizeof pid, "%d", (int)r.pid);
        char *args[] = { "poolguard", "attach", pid, NULL };
        char *err;
        int st = run_poolguard("attach-probe", args, NULL, &err);
        known = !(st == 125 && strstr(err, "not permitted"));
        if (!known)
            snprintf(why, sizeof why, "%s", err);
        free(err);
        e2e_run_kill(&r);
        tu_rmtree(r.work);
    }
    if (!known)
        tu_skip("ptrace is not permitted here: %s", why);
}

#endif

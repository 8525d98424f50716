/*
 * Real programs at full size, nothing changed, nothing invented: 32,768 live threads fit the
 * default thread table, and a fast subset of `make check-real` (scripts/check_real.sh): one
 * CPython test suite, the test_concurrent_futures case that once left dangling threads, and one
 * compressor, natively and under the gate. The JVM of that subset is
 * in check_pool_libs.c (tests/java/Healthy.java). The gate's environment, lost reports and
 * descriptors are in check_real.c.
 *
 * Every program runs under a time limit and is killed (poolguard first with SIGTERM, which it
 * passes on, then its group and the program's with SIGKILL) before an assertion may end a test. A
 * test that the machine cannot host is skipped (tu_skip), with the reason and what it ran instead.
 * The helpers are in real_util.h.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "real_util.h"

/* ------------------------------------------------------------------------------------------ */
/* Threads                                                                                     */

static long read_long(const char *path)
{
    char *t = tu_slurp(path);
    long v = t ? strtol(t, NULL, 10) : -1;
    free(t);
    return v;
}

/* Tasks the kernel can still start: pid_max and threads-max less what runs now, and RLIMIT_NPROC. */
static long task_room(char *why, size_t cap)
{
    long pid_max = read_long("/proc/sys/kernel/pid_max");
    long tmax = read_long("/proc/sys/kernel/threads-max");
    char la[128] = "";
    int fd = open("/proc/loadavg", O_RDONLY);
    if (fd >= 0) {
        ssize_t k = read(fd, la, sizeof la - 1);
        la[k > 0 ? k : 0] = 0;
        close(fd);
    }
    const char *slash = strchr(la, '/');
    long running = slash ? strtol(slash + 1, NULL, 10) : 0;
    struct rlimit rl;
    getrlimit(RLIMIT_NPROC, &rl);
    long room = pid_max - running - 300;
    snprintf(why, cap, "kernel.pid_max is %ld with %ld tasks running", pid_max, running);
    if (tmax - running - 300 < room) {
        room = tmax - running - 300;
        snprintf(why, cap, "kernel.threads-max is %ld with %ld tasks running", tmax, running);
    }
    if (geteuid() != 0 && rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur - running < room) {
        room = (long)rl.rlim_cur - running;
        snprintf(why, cap, "ulimit -u is %ld", (long)rl.rlim_cur);
    }
    return room;
}

/* 32,768 live threads with the default POOLGUARD_MAX_THREADS: no "table is full". If the machine
 * cannot host that many, the test runs 8,192 instead (twice the old default) and, when that
 * passes, says SKIP for the 32,768 it could not run. */
START_TEST(test_32768_live_threads_fit_the_default_thread_table)
{
    char why[160];
    long room = task_room(why, sizeof why), want = 32768;
    if (room < want)
        want = 8192;
    char *shim = shim_path(), *many = prog("rel_many");
    char pre[PATH_MAX + 16], nstr[16], expect[64];
    snprintf(pre, sizeof pre, "LD_PRELOAD=%s", shim);
    snprintf(nstr, sizeof nstr, "%ld", want);
    snprintf(expect, sizeof expect, "rel_many: %ld live\nrel_many: done\n", want);
    const char *env[] = { pre, NULL };
    char *argv[] = { many, nstr, NULL };
    struct xrun s = { .argv = argv, .env = env };
    xrun_all(&s, 90000);
    ck_assert_msg(xcode(&s) == 0 && strcmp(s.out, expect) == 0,
                  "%ld threads under the shim: exit %d, stdout %s, stderr %.1000s", want, xcode(&s),
                  s.out, s.err);
    ck_assert_msg(!strstr(s.err, "table is full") && !strstr(s.err, "poolguard:"),
                  "%ld live threads must fit the default table without a word: %.1000s", want,
                  s.err);
    xfree(&s);
    free(shim);
    free(many);
    if (want < 32768)
        tu_skip("%s, room for %ld more threads, not 32768; 8192 ran instead and passed", why, room);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* The fast subset of make check-real                                                          */

/* The last line that starts with `prefix` (CPython's regrtest "Result: ..."), or "". */
static char *line_with(const char *text, const char *prefix)
{
    const char *best = NULL;
    for (const char *p = text; p && *p;) {
        if (strncmp(p, prefix, strlen(prefix)) == 0)
            best = p;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return best ? strndup(best, strcspn(best, "\n")) : strdup("");
}

START_TEST(test_cpython_test_queue_same_result_under_the_gate)
{
    if (access("/usr/lib/python3.11/test/test_queue.py", R_OK) != 0) {
        ck_abort_msg(
            "CPython's test suite is not installed (libpython3.11-testsuite: scripts/deps.sh "
            "installs it)");
        return;
    }
    char *pg = tu_build_path("poolguard");
    char *nargv[] = { "/usr/bin/python3", "-m", "test", "test_queue", NULL };
    char *gargv[] = { pg, "run", "--", "/usr/bin/python3", "-m", "test", "test_queue", NULL };
    struct xrun n = { .argv = nargv }, g = { .argv = gargv };
    xrun_all(&n, 120000);
    xrun_all(&g, 120000);
    char *nr = line_with(n.out, "Tests result: "), *gr = line_with(g.out, "Tests result: ");
    ck_assert_msg(xcode(&n) == 0 && strcmp(nr, "Tests result: SUCCESS") == 0,
                  "natively: exit %d, %s; %.1500s", xcode(&n), nr, n.out);
    ck_assert_msg(
        xcode(&g) == xcode(&n) && strcmp(nr, gr) == 0 && strstr(g.err, "poolguard: 0 findings"),
        "under the gate: exit %d, \"%s\" (natively \"%s\"); stdout %.1500s; stderr %.1500s",
        xcode(&g), gr, nr, g.out, g.err);
    fprintf(stderr, "test_queue: %ld ms natively, %ld ms under the gate\n", n.ms, g.ms);
    free(nr);
    free(gr);
    xfree(&n);
    xfree(&g);
    free(pg);
}
END_TEST

/* CPython's test_concurrent_futures case that ended "env changed" under the gate: a task raises
 * while main waits in futures.wait() without a time limit, so the shim reads the interpreter
 * while the worker is inside the task. The regrtest then finds the executor's threads still alive
 * after the test (threading_helper's "Dangling thread") unless reading left nothing behind (see
 * forget_locals in shim/python/python_read.c; tests/py/safety_lifetimes.py checks the same in
 * every version). */
START_TEST(test_cpython_failing_executor_task_leaves_no_dangling_thread_under_the_gate)
{
    if (access("/usr/lib/python3.11/test/test_concurrent_futures.py", R_OK) != 0) {
        ck_abort_msg(
            "CPython's test suite is not installed (libpython3.11-testsuite: scripts/deps.sh "
            "installs it)");
        return;
    }
    char *pg = tu_build_path("poolguard");
    char *nargv[] = { "/usr/bin/python3",
                      "-m",
                      "test",
                      "-v",
                      "test_concurrent_futures",
                      "-m",
                      "*ThreadPoolWaitTests.test_first_exception",
                      NULL };
    char *gargv[] = { pg,   "run",
                      "--", "/usr/bin/python3",
                      "-m", "test",
                      "-v", "test_concurrent_futures",
                      "-m", "*ThreadPoolWaitTests.test_first_exception",
                      NULL };
    struct xrun n = { .argv = nargv }, g = { .argv = gargv };
    xrun_all(&n, 60000);
    xrun_all(&g, 60000);
    char *nr = line_with(n.out, "Tests result: "), *gr = line_with(g.out, "Tests result: ");
    ck_assert_msg(xcode(&n) == 0 && strcmp(nr, "Tests result: SUCCESS") == 0 &&
                      strstr(n.out, "Ran 1 test") && !strstr(n.out, "env changed") &&
                      !strstr(n.err, "Dangling thread"),
                  "natively: exit %d, %s; %.1500s %.1500s", xcode(&n), nr, n.out, n.err);
    ck_assert_msg(xcode(&g) == 0 && strcmp(gr, nr) == 0 && strstr(g.out, "Ran 1 test") &&
                      strstr(g.err, "poolguard: 0 findings"),
                  "under the gate: exit %d, \"%s\"; stdout %.1500s; stderr %.1500s", xcode(&g), gr,
                  g.out, g.err);
    ck_assert_msg(!strstr(g.out, "env changed") && !strstr(g.err, "Dangling thread") &&
                      !strstr(g.out, "Dangling thread"),
                  "under the gate the executor's threads outlive the test (natively they do "
                  "not): stdout %.1500s; stderr %.1500s",
                  g.out, g.err);
    fprintf(stderr,
            "test_concurrent_futures test_first_exception: %ld ms natively, %ld ms under "
            "the gate\n",
            n.ms, g.ms);
    free(nr);
    free(gr);
    xfree(&n);
    xfree(&g);
    free(pg);
}
END_TEST

/* xz -T0 (a thread per core) on generated data: the same bytes out, no finding. */
START_TEST(test_xz_with_all_threads_same_output_under_the_gate)
{
    work_init();
    char in[PATH_MAX + 16], cmd[4 * PATH_MAX];
    snprintf(in, sizeof in, "%s/xz.in", workdir);
    snprintf(cmd, sizeof cmd,
             "head -c 6000000 /dev/urandom | od -An -tx1 | head -c 10000000 > '%s'", in);
    ck_assert_msg(system(cmd) == 0, "could not generate %s", in);
    char *pg = tu_build_path("poolguard");
    char sh[2 * PATH_MAX];
    snprintf(sh, sizeof sh, "xz -T0 -6 -c '%s' | sha256sum", in);
    char *nargv[] = { "/bin/sh", "-c", sh, NULL };
    char *gargv[] = { pg, "run", "--", "/bin/sh", "-c", sh, NULL };
    struct xrun n = { .argv = nargv }, g = { .argv = gargv };
    xrun_all(&n, 120000);
    xrun_all(&g, 120000);
    ck_assert_msg(xcode(&n) == 0 && strlen(n.out) > 64, "xz natively: exit %d, %s %s", xcode(&n),
                  n.out, n.err);
    ck_assert_msg(xcode(&g) == 0 && strcmp(n.out, g.out) == 0 &&
                      strstr(g.err, "poolguard: 0 findings"),
                  "xz -T0 under the gate: exit %d, stdout %s (natively %s); stderr %.1000s",
                  xcode(&g), g.out, n.out, g.err);
    unlink(in);
    xfree(&n);
    xfree(&g);
    free(pg);
}
END_TEST

Suite *real_workloads_suite(void)
{
    Suite *s = suite_create("real_workloads");
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_32768_live_threads_fit_the_default_thread_table);
    suite_add_tcase(s, tc);

    tc = tcase_create("subset");
    tcase_set_timeout(tc, 260);
    tcase_add_test(tc, test_cpython_test_queue_same_result_under_the_gate);
    tcase_add_test(tc, test_cpython_failing_executor_task_leaves_no_dangling_thread_under_the_gate);
    tcase_add_test(tc, test_xz_with_all_threads_same_output_under_the_gate);
    suite_add_tcase(s, tc);
    return s;
}

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
 * test that the machine cannot host is skipped (tu_skip), with the reason and what it ran instead;
 * run as root, the threads case first raises the kernel's limits it needs, for itself only
 * (limits_setup).
 * The helpers are in real_util.h.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "real_util.h"

/* ------------------------------------------------------------------------------------------ */
/* Threads                                                                                     */

#define LIVE_THREADS 32768
#define TASK_MARGIN 300 /* tasks that other programs may start meanwhile */
#define MAP_MARGIN 1024 /* the program's own memory maps: libraries, the shim's tables */
#define WATCHDOG_MAX 25 /* % of a core: 6.5 measured at 32,768 threads (docs/performance.md) */

static long read_long(const char *path)
{
    char *t = tu_slurp_maybe(path, NULL);
    long v = t ? strtol(t, NULL, 10) : -1;
    free(t);
    return v;
}

static int write_long(const char *path, long v)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", v);
    int r = write(fd, buf, (size_t)n) == n ? 0 : -errno;
    close(fd);
    return r;
}

/* Tasks on the machine now: the 4th field of /proc/loadavg is "running/all". */
static long tasks_now(void)
{
    char *la = tu_slurp_maybe("/proc/loadavg", NULL);
    const char *slash = la ? strchr(la, '/') : NULL;
    long n = slash ? strtol(slash + 1, NULL, 10) : 0;
    free(la);
    return n;
}

/*
 * The kernel's limits on live threads. A thread is a task (kernel.pid_max, kernel.threads-max) and
 * two memory maps of its process, its stack and its guard page (vm.max_map_count, whose default of
 * 65,530 leaves room for fewer than 32,768 threads).
 */
enum { K_PID_MAX, K_THREADS_MAX, K_MAP_COUNT, NKLIMITS };
static struct klimit {
    const char *path, *name;
    long old;  /* the value found */
    long want; /* the value the fixture wrote, 0 when it left this one alone */
} klimits[NKLIMITS] = {
    [K_PID_MAX] = { "/proc/sys/kernel/pid_max", "kernel.pid_max", 0, 0 },
    [K_THREADS_MAX] = { "/proc/sys/kernel/threads-max", "kernel.threads-max", 0, 0 },
    [K_MAP_COUNT] = { "/proc/sys/vm/max_map_count", "vm.max_map_count", 0, 0 },
};

/* The room a cgroup's pids.max leaves (this process's cgroup and its ancestors, v1 or v2), or
 * LONG_MAX; *at names the cgroup that sets it. */
static long cgroup_room(char *at, size_t cap)
{
    long room = LONG_MAX;
    char *cg = tu_slurp_maybe("/proc/self/cgroup", NULL);
    for (char *line = cg ? strtok(cg, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        /* "ID:CONTROLLERS:PATH": the pids controller (v1) or the unified hierarchy (v2, "0::") */
        char *c = strchr(line, ':'), *path = c ? strchr(c + 1, ':') : NULL;
        if (!path)
            continue;
        *path++ = '\0';
        const char *base = strcmp(c + 1, "pids") == 0 ? "/sys/fs/cgroup/pids"
                           : c[1] == '\0'             ? "/sys/fs/cgroup"
                                                      : NULL;
        for (char dir[PATH_MAX]; base;) {
            snprintf(dir, sizeof dir, "%s%s", base, path);
            char f[PATH_MAX + 16];
            snprintf(f, sizeof f, "%s/pids.max", dir);
            char *max = tu_slurp_maybe(f, NULL);
            snprintf(f, sizeof f, "%s/pids.current", dir);
            long cur = read_long(f);
            if (max && max[0] >= '0' && max[0] <= '9' && cur >= 0 &&
                strtol(max, NULL, 10) - cur < room) {
                room = strtol(max, NULL, 10) - cur;
                snprintf(at, cap, "the cgroup %s has pids.max %ld with %ld tasks in it", dir,
                         strtol(max, NULL, 10), cur);
            }
            free(max);
            char *slash = strrchr(path, '/');
            if (!slash || (slash == path && path[1] == '\0'))
                break;
            slash[slash == path ? 1 : 0] = '\0';
        }
    }
    free(cg);
    return room;
}

/* How many more threads the machine can start now, and in why the limit that says so. */
static long thread_room(char *why, size_t cap)
{
    long running = tasks_now();
    long pid_max = read_long(klimits[K_PID_MAX].path);
    long tmax = read_long(klimits[K_THREADS_MAX].path);
    long maps = read_long(klimits[K_MAP_COUNT].path);
    long room = pid_max - running - TASK_MARGIN;
    snprintf(why, cap, "kernel.pid_max is %ld with %ld tasks running", pid_max, running);
    if (tmax - running - TASK_MARGIN < room) {
        room = tmax - running - TASK_MARGIN;
        snprintf(why, cap, "kernel.threads-max is %ld with %ld tasks running", tmax, running);
    }
    if (maps >= 0 && (maps - MAP_MARGIN) / 2 < room) {
        room = (maps - MAP_MARGIN) / 2;
        snprintf(why, cap, "vm.max_map_count is %ld, two maps a thread", maps);
    }
    struct rlimit rl;
    getrlimit(RLIMIT_NPROC, &rl);
    if (geteuid() != 0 && rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur - running < room) {
        room = (long)rl.rlim_cur - running;
        snprintf(why, cap, "ulimit -u is %ld", (long)rl.rlim_cur);
    }
    char at[PATH_MAX + 96];
    long cg = cgroup_room(at, sizeof at);
    if (cg < room) {
        room = cg;
        snprintf(why, cap, "%s", at);
    }
    return room;
}

/*
 * The fixture of the threads case, run by the runner itself (an unchecked fixture: Check's child
 * for the test may fail or crash, the teardown still runs). When the kernel's limits leave too
 * little room and the runner is root, it raises them for the case and puts them back after it.
 *
 * One run at a time: the fixture holds an exclusive flock on /proc/sys/kernel/pid_max from setup
 * to teardown (every run of this case, raising or not), so that no run puts the limits back while
 * another one counts on them. If the runner itself dies (a crash, SIGKILL, ^C), a guardian puts
 * them back: a child of the runner in a session of its own, deaf to the terminal's signals,
 * waiting on a pipe whose write end only the runner and its forks hold (close-on-exec, so the
 * programs the tests start do not keep it). End of file without the teardown's "done" byte means
 * the runner is gone: the guardian restores, says so on stderr and exits, and the lock goes with it.
 */
static int limits_lock = -1;
static int guard_pipe = -1;
static pid_t guard_pid = -1;
static char limits_note[PATH_MAX + 128]; /* why too little room was left as it was */

static void restore_limits(const char *who)
{
    char said[256] = "";
    size_t k = 0;
    for (int i = 0; i < NKLIMITS; i++) {
        if (!klimits[i].want)
            continue;
        int r = write_long(klimits[i].path, klimits[i].old);
        long now = read_long(klimits[i].path);
        if (r == 0 && now == klimits[i].old)
            k += (size_t)snprintf(said + k, sizeof said - k, "%s %s to %ld", k ? "," : "",
                                  klimits[i].name, klimits[i].old);
        else
            fprintf(stderr, "%s: COULD NOT RESTORE %s to %ld (it is %ld): %s\n", who,
                    klimits[i].name, klimits[i].old, now, strerror(-r));
        if (k >= sizeof said)
            k = sizeof said - 1;
    }
    if (k)
        fprintf(stderr, "%s: restored%s\n", who, said);
}

static void guardian(int rd)
{
    setsid();
    int deaf[] = { SIGINT, SIGQUIT, SIGHUP, SIGTERM, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU };
    for (size_t i = 0; i < sizeof deaf / sizeof deaf[0]; i++)
        signal(deaf[i], SIG_IGN);
    int nul = open("/dev/null", O_RDWR);
    dup2(nul, 0);
    dup2(nul, 1);
    /* Nothing of the runner's but stderr, the pipe and the lock. */
    int lo = rd < limits_lock ? rd : limits_lock, hi = rd < limits_lock ? limits_lock : rd;
    close_range(3, (unsigned)lo - 1, 0);
    close_range((unsigned)lo + 1, (unsigned)hi - 1, 0);
    close_range((unsigned)hi + 1, ~0u, 0);
    char c = 0;
    ssize_t r;
    while ((r = read(rd, &c, 1)) < 0 && errno == EINTR)
        ;
    if (r != 1 || c != 'd')
        restore_limits("real_workloads (the test runner ended before its teardown)");
    _exit(0);
}

static void limits_setup(void)
{
    limits_note[0] = '\0';
    for (int i = 0; i < NKLIMITS; i++)
        klimits[i].old = read_long(klimits[i].path), klimits[i].want = 0;
    limits_lock = open(klimits[K_PID_MAX].path, O_RDONLY | O_CLOEXEC);
    for (long until = tu_now_ms() + 150000;;) {
        if (limits_lock >= 0 && flock(limits_lock, LOCK_EX | LOCK_NB) == 0)
            break;
        if (limits_lock < 0 || errno != EWOULDBLOCK || tu_now_ms() >= until) {
            snprintf(limits_note, sizeof limits_note,
                     "the limits were not raised: no lock on %s (%s)", klimits[K_PID_MAX].path,
                     strerror(errno));
            if (limits_lock >= 0)
                close(limits_lock);
            limits_lock = -1;
            return;
        }
        tu_sleep_ms(100);
    }
    for (int i = 0; i < NKLIMITS; i++) /* another run may have just put them back */
        klimits[i].old = read_long(klimits[i].path);
    long tasks = tasks_now() + LIVE_THREADS + TASK_MARGIN, maps = 2L * LIVE_THREADS + MAP_MARGIN;
    long need[NKLIMITS] = { [K_PID_MAX] = tasks, [K_THREADS_MAX] = tasks, [K_MAP_COUNT] = maps };
    /* Round values with room to spare where the limit costs nothing until used. */
    long to[NKLIMITS] = { [K_PID_MAX] = tasks > 131072 ? tasks : 131072,
                          [K_THREADS_MAX] = tasks,
                          [K_MAP_COUNT] = maps > 262144 ? maps : 262144 };
    bool short_ = false;
    for (int i = 0; i < NKLIMITS; i++)
        short_ |= klimits[i].old >= 0 && klimits[i].old < need[i];
    if (!short_)
        return;
    const char *cannot = NULL;
    size_t k = 0;
    char shorts[128] = "";
    for (int i = 0; i < NKLIMITS; i++) {
        if (klimits[i].old < 0 || klimits[i].old >= need[i])
            continue;
        if (!cannot && geteuid() != 0)
            cannot = "not root";
        else if (!cannot && access(klimits[i].path, W_OK) != 0)
            cannot = strerror(errno);
        k +=
            (size_t)snprintf(shorts + k, sizeof shorts - k, "%s%s", k ? ", " : "", klimits[i].name);
        if (k >= sizeof shorts)
            k = sizeof shorts - 1;
        klimits[i].want = to[i];
    }
    if (cannot) {
        snprintf(limits_note, sizeof limits_note, "%s not raised: %s", shorts, cannot);
        for (int i = 0; i < NKLIMITS; i++)
            klimits[i].want = 0;
        return;
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0 || (guard_pid = fork()) < 0) {
        snprintf(limits_note, sizeof limits_note, "the limits were not raised: %s",
                 strerror(errno));
        for (int i = 0; i < NKLIMITS; i++)
            klimits[i].want = 0;
        return;
    }
    if (guard_pid == 0) {
        close(p[1]);
        guardian(p[0]);
    }
    close(p[0]);
    guard_pipe = p[1];
    char said[256] = "";
    k = 0;
    for (int i = 0; i < NKLIMITS; i++) {
        if (!klimits[i].want)
            continue;
        int r = write_long(klimits[i].path, klimits[i].want);
        long now = read_long(klimits[i].path);
        if (r != 0 || now < need[i]) {
            snprintf(limits_note, sizeof limits_note, "%s could not be raised to %ld: %s",
                     klimits[i].name, klimits[i].want, r ? strerror(-r) : "the kernel capped it");
            break;
        }
        k += (size_t)snprintf(said + k, sizeof said - k, "%s %s %ld -> %ld", k ? "," : "",
                              klimits[i].name, klimits[i].old, now);
        if (k >= sizeof said)
            k = sizeof said - 1;
    }
    if (k)
        fprintf(stderr, "real_workloads: for %d live threads, raised%s until the test ends\n",
                LIVE_THREADS, said);
}

static void limits_teardown(void)
{
    if (guard_pid > 0) {
        restore_limits("real_workloads");
        (void)!write(guard_pipe, "d", 1);
        close(guard_pipe);
        waitpid(guard_pid, NULL, 0);
        guard_pid = -1;
        guard_pipe = -1;
    }
    for (int i = 0; i < NKLIMITS; i++)
        klimits[i].want = 0;
    if (limits_lock >= 0)
        close(limits_lock);
    limits_lock = -1;
}

/* The task of pid whose name is comm, or -1. */
static pid_t find_task(pid_t pid, const char *comm)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    pid_t found = -1;
    for (struct dirent *e; d && found < 0 && (e = readdir(d));) {
        char f[sizeof path + sizeof e->d_name + 8], name[32] = "";
        snprintf(f, sizeof f, "%s/%s/comm", path, e->d_name);
        int fd = open(f, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, name, sizeof name - 1);
        close(fd);
        name[n > 0 ? n : 0] = '\0';
        name[strcspn(name, "\n")] = '\0';
        if (strcmp(name, comm) == 0)
            found = (pid_t)strtol(e->d_name, NULL, 10);
    }
    if (d)
        closedir(d);
    return found;
}

/* The CPU time a task has used, in ms (utime and stime of /proc/PID/task/TID/stat), or -1. */
static long task_cpu_ms(pid_t pid, pid_t tid)
{
    char f[64];
    snprintf(f, sizeof f, "/proc/%d/task/%d/stat", (int)pid, (int)tid);
    char *st = tu_slurp_maybe(f, NULL);
    const char *p = st ? strrchr(st, ')') : NULL;
    unsigned long ut, sy;
    long ms = -1;
    if (p && sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &sy) == 2)
        ms = (long)((ut + sy) * 1000 / (unsigned long)sysconf(_SC_CLK_TCK));
    free(st);
    return ms;
}

/* Waits up to ms for text on the run's stdout; false when the run ended first or time is up. */
static bool wait_stdout(struct xrun *x, const char *text, long ms)
{
    for (long until = tu_now_ms() + ms; tu_now_ms() < until && !xwait(x, 0); tu_sleep_ms(20)) {
        char *out = tu_slurp_maybe(x->out_path, NULL);
        bool seen = out && strstr(out, text);
        free(out);
        if (seen)
            return true;
    }
    return false;
}

/*
 * 32,768 live threads with the default POOLGUARD_MAX_THREADS: no "table is full", and the
 * watchdog, scanning the full table every 100 ms, stays well under a core (linear in the threads:
 * 1% at 4,096). If the machine cannot host that many even after the fixture, the test runs 8,192
 * instead (twice the old default) and, when that passes, says SKIP for the 32,768 it could not run.
 */
START_TEST(test_32768_live_threads_fit_the_default_thread_table)
{
    char why[PATH_MAX + 128];
    long room = thread_room(why, sizeof why), want = LIVE_THREADS;
    if (room < want)
        want = 8192;
    char *shim = shim_path(), *many = prog("rel_many");
    char pre[PATH_MAX + 16], nstr[16], expect[64];
    snprintf(pre, sizeof pre, "LD_PRELOAD=%s", shim);
    snprintf(nstr, sizeof nstr, "%ld", want);
    snprintf(expect, sizeof expect, "rel_many: %ld live\nrel_many: done\n", want);
    const char *env[] = { pre, NULL };
    char *argv[] = { many, nstr, "20000", NULL }; /* all alive until SIGUSR1, at most 20 s */
    struct xrun s = { .argv = argv, .env = env };
    xstart(&s); /* s.ms: when it started, until xwait sees the end */
    long live_ms = -1, wd_cpu = -1, window = 1;
    if (wait_stdout(&s, " live\n", 60000)) {
        live_ms = tu_now_ms() - s.ms;
        pid_t wd = find_task(s.pid, "poolguard");
        long c0 = wd > 0 ? task_cpu_ms(s.pid, wd) : -1, t0 = tu_now_ms();
        tu_sleep_ms(1000);
        long c1 = c0 >= 0 ? task_cpu_ms(s.pid, wd) : -1;
        window = tu_now_ms() - t0;
        wd_cpu = c1 >= 0 ? c1 - c0 : -1;
        kill(s.pid, SIGUSR1);
    }
    bool ended = xwait(&s, 25000);
    xfinish(&s);
    ck_assert_msg(ended, "%ld threads under the shim did not end within 85 s; stderr %.1000s", want,
                  s.err);
    ck_assert_msg(xcode(&s) == 0 && strcmp(s.out, expect) == 0,
                  "%ld threads under the shim: exit %d, stdout %s, stderr %.1000s", want, xcode(&s),
                  s.out, s.err);
    ck_assert_msg(!strstr(s.err, "table is full") && !strstr(s.err, "poolguard:"),
                  "%ld live threads must fit the default table without a word: %.1000s", want,
                  s.err);
    ck_assert_msg(wd_cpu >= 0, "no watchdog thread (\"poolguard\") among the %ld threads", want);
    double pct = 100.0 * (double)wd_cpu / (double)window;
    const char *mem = strstr(s.err, "hwm_kb=");
    fprintf(stderr,
            "real_workloads: %ld live threads under the shim: all alive after %ld ms, %ld ms in "
            "all; peak RSS %ld MiB; the watchdog used %.1f%% of a core with all of them alive\n",
            want, live_ms, s.ms, mem ? strtol(mem + 7, NULL, 10) / 1024 : -1, pct);
    ck_assert_msg(pct <= WATCHDOG_MAX,
                  "the watchdog used %.1f%% of a core (%ld ms in %ld ms) scanning %ld threads", pct,
                  wd_cpu, window, want);
    xfree(&s);
    free(shim);
    free(many);
    if (want < LIVE_THREADS)
        tu_skip("%s, room for %ld more threads, not %d%s%s; 8192 ran instead and passed", why, room,
                LIVE_THREADS, limits_note[0] ? "; " : "", limits_note);
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
    tcase_add_unchecked_fixture(tc, limits_setup, limits_teardown);
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

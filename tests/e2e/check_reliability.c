/*
 * Reliability and security of the shim (issue 8): real programs that do awkward things (fork
 * without exec from a multithreaded parent, exec, posix_spawn, vfork, daemons that close every
 * descriptor, chdir, threads from .preinit_array, sem_post from signal handlers, cancellation in
 * timed waits, exit and pthread_exit with threads still blocked, locks in atexit handlers, every
 * mutex type and process-shared objects), scale and churn (thousands of threads, 100k thread
 * lifetimes, millions of mutexes, a full thread table), a bounded soak, the corpus of healthy
 * programs, and the security contract (report files never follow or overwrite what someone
 * planted, the default directory must be private, bad environment values only earn warnings,
 * secure-execution processes are left alone).
 *
 * Programs are in tests/progs (rel_*.c deadlock on purpose, ok_rel_*.c are healthy). Every
 * program runs under a hard time limit and is killed (its whole process group) and reaped before
 * any assertion may end a test. Memory is compared as peak RSS (VmHWM, printed by the program on
 * stderr) with and without the shim, against the budget of docs/performance.md: 8 MiB + 4 KiB per
 * live thread.
 *
 * POOLGUARD_SOAK_SECONDS sets the soak's length (default 8 s, for `make check`).
 */
#include "check_e2e_util.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum {
    STARTUP_MS = 10000,        /* a program prints its first line this soon */
    REPORT_MS = 4000,          /* then a deadlock is on disk this soon */
    SETTLE_MS = 500,           /* then we watch this long for duplicates */
    RUN_MS = 60000,            /* a healthy program (even the big ones) ends this soon */
    BUDGET_BASE_KB = 8 * 1024, /* docs/performance.md: 8 MiB + 4 KiB per live thread */
    BUDGET_PER_THREAD_KB = 4,
};

/* ------------------------------------------------------------------------------------------ */
/* Helpers                                                                                    */

static const char *shim_abs(void)
{
    static char path[PATH_MAX];
    char rel[PATH_MAX];
    snprintf(rel, sizeof rel, "%s/libpoolguard.so", e2e_build_dir());
    ck_assert_msg(realpath(rel, path) != NULL, "the shim is not built: %s", rel);
    return path;
}

/* Waits until stdout has a complete line starting with `prefix`; returns it (caller frees). */
static char *wait_for_line(struct e2e_run *r, const char *prefix, long ms)
{
    long deadline = e2e_now_ms() + ms;
    for (;;) {
        char *out = e2e_slurp(r->out, NULL);
        for (char *line = out; line && *line;) {
            char *nl = strchr(line, '\n');
            if (!nl)
                break;
            if (e2e_starts_with(line, prefix)) {
                char *copy = strndup(line, (size_t)(nl - line));
                free(out);
                return copy;
            }
            line = nl + 1;
        }
        free(out);
        if (e2e_now_ms() >= deadline || e2e_run_wait(r, 0))
            return NULL;
        e2e_sleep_ms(10);
    }
}

/* Polls `dir` until it holds `n` findings, the program exits, or `ms` pass. */
static bool wait_for_findings(struct e2e_run *r, const char *dir, size_t n, long ms)
{
    long deadline = e2e_now_ms() + ms;
    for (;;) {
        struct e2e_reports rs;
        e2e_reports_load(&rs, dir);
        size_t got = e2e_reports_count_findings(&rs);
        e2e_reports_free(&rs);
        if (got >= n)
            return true;
        if (e2e_now_ms() >= deadline || e2e_run_wait(r, 0))
            return false;
        e2e_sleep_ms(E2E_POLL_MS);
    }
}

/* A number after "key=" in text, or -1. */
static long field_after(const char *text, const char *key)
{
    const char *p = text ? strstr(text, key) : NULL;
    return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

static int count_poolguard_lines(const char *text)
{
    int n = 0;
    for (const char *line = text; *line;) {
        if (e2e_starts_with(line, "poolguard:"))
            n++;
        line += strcspn(line, "\n");
        if (*line)
            line++;
    }
    return n;
}

/* The program's own function names in each thread's stack, as an array per thread. */
static json_t *stack_names(const struct e2e_report *rp, json_t *finding, const char *prog)
{
    char binary[PATH_MAX];
    e2e_prog_path(binary, sizeof binary, prog);
    struct e2e_symtab st;
    e2e_symtab_load(&st, binary);
    json_t *per = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(finding, "threads"), i, t)
        json_array_append_new(per, e2e_raw_stack_functions(rp->modules, json_object_get(t, "stack"),
                                                           prog, &st));
    e2e_symtab_free(&st);
    return per;
}

/* Some thread's stack has every name of `group` (NULL-terminated). */
static void assert_some_stack_has(json_t *per, const char *const *group, const char *what)
{
    size_t i;
    json_t *names;
    json_array_foreach(per, i, names) {
        bool all = true;
        for (int k = 0; group[k]; k++)
            all = all && e2e_names_have(names, group[k]);
        if (all)
            return;
    }
    char *dump = json_dumps(per, JSON_COMPACT);
    ck_abort_msg("%s: no thread's stack has %s%s%s; the program's functions per thread: %.2000s", what,
                 group[0], group[1] ? " + " : "", group[1] ? group[1] : "", dump);
}

/*
 * The one finding of a two-thread mutex cycle, as every lock inversion program here makes it:
 * a deadlock of severity error, a cycle of 2 "mutex" elements, one thread's stack has fn_a and
 * second_a, another's fn_b and second_b.
 */
static void assert_mutex_cycle2(const struct e2e_report *rp, json_t *f, const char *prog,
                                const char *fn_a, const char *second_a, const char *fn_b,
                                const char *second_b, const char *what)
{
    const char *kind = json_string_value(json_object_get(f, "kind"));
    const char *sev = json_string_value(json_object_get(f, "severity"));
    json_t *cycle = json_object_get(f, "cycle");
    ck_assert_msg(kind && strcmp(kind, "deadlock") == 0 && sev && strcmp(sev, "error") == 0,
                  "%s: finding is %s/%s, expected deadlock/error (%s)", what, kind ? kind : "?",
                  sev ? sev : "?", rp->path);
    ck_assert_msg(json_array_size(cycle) == 2, "%s: cycle of %zu, expected 2 (%s)", what,
                  json_array_size(cycle), rp->path);
    size_t i;
    json_t *e;
    json_array_foreach(cycle, i, e) {
        const char *k = json_string_value(json_object_get(e, "kind"));
        ck_assert_msg(k && strcmp(k, "mutex") == 0, "%s: cycle[%zu] kind %s, expected mutex", what, i,
                      k ? k : "?");
    }
    json_t *per = stack_names(rp, f, prog);
    const char *ga[] = { fn_a, second_a, NULL }, *gb[] = { fn_b, second_b, NULL };
    assert_some_stack_has(per, ga, what);
    assert_some_stack_has(per, gb, what);
    json_decref(per);
}

static void assert_mutex_cycle(const struct e2e_report *rp, json_t *f, const char *prog,
                               const char *fn_a, const char *fn_b, const char *second_fn,
                               const char *what)
{
    assert_mutex_cycle2(rp, f, prog, fn_a, second_fn, fn_b, second_fn, what);
}

/* Runs a deadlocking program to its finding and leaves it killed; the caller checks the report. */
struct dl_run {
    struct e2e_run r;
    char *first;          /* the first line, or NULL */
    bool found;
    bool exited_early;
    char *err;
};

static void run_to_finding(struct dl_run *d, const char *label, const char *path, char *const argv[],
                           bool preload, const char *const env[], const char *first_prefix,
                           const char *report_dir, size_t nfindings)
{
    memset(d, 0, sizeof *d);
    e2e_run_init(&d->r, label);
    e2e_run_start(&d->r, path, argv, preload, env);
    d->first = wait_for_line(&d->r, first_prefix, STARTUP_MS);
    d->found = d->first && wait_for_findings(&d->r, report_dir ? report_dir : d->r.reports, nfindings,
                                             REPORT_MS);
    d->exited_early = d->r.exited;
    if (d->found)
        e2e_sleep_ms(SETTLE_MS);
    e2e_run_kill(&d->r);
    d->err = e2e_run_stderr(&d->r);
    ck_assert_msg(d->first != NULL, "%s: no \"%s\" line within %d ms; stderr: %.500s", label,
                  first_prefix, STARTUP_MS, d->err);
    ck_assert_msg(!d->exited_early, "%s: the program exited (status 0x%x) instead of deadlocking; "
                  "stderr: %.500s", label, d->r.status, d->err);
    ck_assert_msg(d->found, "%s: no finding within %d ms (reports in %s); stderr: %.500s", label,
                  REPORT_MS, report_dir ? report_dir : d->r.reports, d->err);
}

static void dl_run_free(struct dl_run *d)
{
    free(d->first);
    free(d->err);
    e2e_remove_tree(d->r.work);
}

/* Runs a lock-inversion program (argv[0] names it) under the shim to its one finding, and checks
 * that the finding is the two-thread mutex cycle of assert_mutex_cycle2. */
static void check_mutex_inversion(const char *label, char *const argv[], const char *first_prefix,
                                  const char *fn_a, const char *second_a, const char *fn_b,
                                  const char *second_b)
{
    char path[PATH_MAX];
    e2e_prog_path(path, sizeof path, argv[0]);
    struct dl_run d;
    run_to_finding(&d, label, path, argv, true, NULL, first_prefix, NULL, 1);
    struct e2e_reports rs;
    e2e_reports_load(&rs, d.r.reports);
    ck_assert_uint_eq(e2e_reports_count_findings(&rs), 1);
    struct e2e_report *rp = e2e_reports_with_finding(&rs);
    assert_mutex_cycle2(rp, json_array_get(rp->findings, 0), argv[0], fn_a, second_a, fn_b, second_b,
                        label);
    e2e_reports_free(&rs);
    dl_run_free(&d);
}

/* Runs `prog args` under the shim (preloaded, POOLGUARD_DIR set) and, if `native`, without it. */
struct pair {
    struct e2e_run native, shim;
    bool native_done, shim_done;
    char *nout, *nerr, *sout, *serr;
    size_t findings;
    long wait_ms;
    char described[4096];
};

static void run_pair(struct pair *p, const char *prog, const char *const args[], bool native,
                     const char *const native_args[], const char *const env[], long wait_ms)
{
    memset(p, 0, sizeof *p);
    char path[PATH_MAX];
    e2e_prog_path(path, sizeof path, prog);
    char *argv[8] = { (char *)prog }, *nargv[8] = { (char *)prog };
    for (int i = 0; args && args[i] && i < 6; i++)
        argv[i + 1] = (char *)args[i];
    const char *const *na = native_args ? native_args : args;
    for (int i = 0; na && na[i] && i < 6; i++)
        nargv[i + 1] = (char *)na[i];
    if (native) {
        e2e_run_init(&p->native, prog);
        e2e_run_start(&p->native, path, nargv, false, NULL);
        p->native_done = e2e_run_wait(&p->native, wait_ms);
    p->wait_ms = wait_ms;
        e2e_run_kill(&p->native);
        p->nout = e2e_run_stdout(&p->native);
        p->nerr = e2e_run_stderr(&p->native);
    }
    e2e_run_init(&p->shim, prog);
    e2e_run_start(&p->shim, path, argv, true, env);
    p->shim_done = e2e_run_wait(&p->shim, wait_ms);
    p->wait_ms = wait_ms;
    e2e_run_kill(&p->shim);
    p->sout = e2e_run_stdout(&p->shim);
    p->serr = e2e_run_stderr(&p->shim);
    struct e2e_reports rs;
    e2e_reports_load(&rs, p->shim.reports);
    p->findings = e2e_reports_count_findings(&rs);
    e2e_describe_findings(&rs, p->described, sizeof p->described);
    e2e_reports_free(&rs);
}

/* Both runs ended by themselves with `status`, the same stdout, and no finding. */
static void assert_pair_healthy(const struct pair *p, const char *prog, int status)
{
    if (p->nout) {
        ck_assert_msg(p->native_done, "%s: did not end within %ld ms even without the shim", prog,
                      p->wait_ms);
        ck_assert_msg(WIFEXITED(p->native.status) && WEXITSTATUS(p->native.status) == status,
                      "%s: without the shim: wait status 0x%x, expected exit %d; stderr: %.500s", prog,
                      p->native.status, status, p->nerr);
    }
    ck_assert_msg(p->shim_done, "%s: under the shim it did not end within %ld ms (findings: %s; stdout: "
                  "%.300s; stderr: %.500s)", prog, p->wait_ms, p->described, p->sout, p->serr);
    ck_assert_msg(p->findings == 0, "%s: healthy program got %zu findings: %s (reports in %s)", prog,
                  p->findings, p->described, p->shim.reports);
    ck_assert_msg(WIFEXITED(p->shim.status) && WEXITSTATUS(p->shim.status) == status,
                  "%s: under the shim: wait status 0x%x, expected exit %d; stderr: %.500s", prog,
                  p->shim.status, status, p->serr);
    if (p->nout)
        ck_assert_msg(strcmp(p->nout, p->sout) == 0, "%s: stdout differs under the shim:\n--- native\n"
                      "%s--- shim\n%s", prog, p->nout, p->sout);
}

/* Peak RSS with the shim minus without must stay within 8 MiB + 4 KiB per live thread. */
static void assert_memory_budget(const struct pair *p, const char *prog, long live_threads)
{
    long nhwm = field_after(p->nerr, "hwm_kb="), shwm = field_after(p->serr, "hwm_kb=");
    long nrss = field_after(p->nerr, "rss_kb="), srss = field_after(p->serr, "rss_kb=");
    ck_assert_msg(nhwm > 0 && shwm > 0, "%s: no rel_mem line on stderr (native: %.200s; shim: %.200s)",
                  prog, p->nerr, p->serr);
    long budget = BUDGET_BASE_KB + BUDGET_PER_THREAD_KB * live_threads;
    ck_assert_msg(shwm - nhwm <= budget, "%s: peak RSS %ld kB under the shim, %ld kB without: +%ld kB, "
                  "over the budget of %ld kB (8 MiB + 4 KiB x %ld live threads)", prog, shwm, nhwm,
                  shwm - nhwm, budget, live_threads);
    ck_assert_msg(srss - nrss <= budget, "%s: RSS at the end %ld kB under the shim, %ld kB without: "
                  "+%ld kB, over the budget of %ld kB", prog, srss, nrss, srss - nrss, budget);
}

static void pair_free(struct pair *p)
{
    free(p->nout);
    free(p->nerr);
    free(p->sout);
    free(p->serr);
    if (p->native.work[0])
        e2e_remove_tree(p->native.work);
    e2e_remove_tree(p->shim.work);
}

static void check_healthy(const char *prog, const char *const args[], const char *const env[], int status)
{
    struct pair p;
    run_pair(&p, prog, args, true, NULL, env, E2E_HEALTHY_EXIT_MS);
    assert_pair_healthy(&p, prog, status);
    pair_free(&p);
}

/* ------------------------------------------------------------------------------------------ */
/* fork, exec, posix_spawn, vfork                                                             */

START_TEST(test_fork_child_waiting_on_lock_held_by_parent_thread_reports_exited_owner)
{
    char path[PATH_MAX];
    e2e_prog_path(path, sizeof path, "rel_fork");
    char *argv[] = { "rel_fork", "held", NULL };
    struct dl_run d;
    run_to_finding(&d, "rel_fork_held", path, argv, true, NULL, "rel_fork: held", NULL, 1);
    int parent = (int)field_after(d.first, "parent="), holder = (int)field_after(d.first, "holder=");
    ck_assert_int_eq(parent, d.r.pid);

    struct e2e_reports rs;
    e2e_reports_load(&rs, d.r.reports);
    char all[4096];
    e2e_describe_findings(&rs, all, sizeof all);
    ck_assert_msg(e2e_reports_count_findings(&rs) == 1, "expected one finding (the child's), got %zu: %s",
                  e2e_reports_count_findings(&rs), all);
    struct e2e_report *rp = e2e_reports_with_finding(&rs);
    json_int_t hpid = json_integer_value(json_object_get(rp->header, "pid"));
    ck_assert_msg(hpid != parent && json_integer_value(json_object_get(rp->header, "ppid")) == parent,
                  "the finding must be in the child's report (header pid %lld, ppid %lld; parent %d)",
                  (long long)hpid, (long long)json_integer_value(json_object_get(rp->header, "ppid")),
                  parent);
    json_t *f = json_array_get(rp->findings, 0);
    const char *summary = json_string_value(json_object_get(f, "summary"));
    ck_assert_msg(json_is_true(json_object_get(f, "abandoned")) && summary && strstr(summary, "exited"),
                  "expected \"a lock whose owner has exited\" (abandoned: true), got: %s", all);
    json_t *threads = json_object_get(f, "threads");
    ck_assert_msg(json_array_size(threads) == 1, "the child has one thread; the finding lists %zu "
                  "(a thread of the parent left in the child's table?)", json_array_size(threads));
    json_t *t = json_array_get(threads, 0);
    json_t *b = json_object_get(t, "blocked_on");
    ck_assert_msg(json_is_true(json_object_get(t, "main")) &&
                  json_integer_value(json_object_get(t, "tid")) == hpid,
                  "the blocked thread must be the child's main thread (%lld)", (long long)hpid);
    ck_assert_msg(strcmp(json_string_value(json_object_get(b, "kind")), "mutex") == 0 &&
                  json_integer_value(json_object_get(b, "owner")) == holder,
                  "the child waits on a mutex owned by the parent's holder thread %d; blocked_on: %s",
                  holder, json_dumps(b, JSON_COMPACT));
    json_t *per = stack_names(rp, f, "rel_fork");
    const char *g[] = { "fork_child_wants_held_lock", "main", NULL };
    assert_some_stack_has(per, g, "rel_fork held");
    json_decref(per);
    e2e_reports_free(&rs);
    dl_run_free(&d);
}
END_TEST

START_TEST(test_fork_from_busy_multithreaded_parent_reports_only_the_childs_cycle)
{
    char path[PATH_MAX];
    e2e_prog_path(path, sizeof path, "rel_fork");
    char *argv[] = { "rel_fork", "inversion", NULL };
    struct dl_run d;
    run_to_finding(&d, "rel_fork_inv", path, argv, true, NULL, "rel_fork: inversion", NULL, 1);
    struct e2e_reports rs;
    e2e_reports_load(&rs, d.r.reports);
    char all[4096];
    e2e_describe_findings(&rs, all, sizeof all);
    ck_assert_msg(e2e_reports_count_findings(&rs) == 1, "expected one finding, got %zu: %s",
                  e2e_reports_count_findings(&rs), all);
    struct e2e_report *rp = e2e_reports_with_finding(&rs);
    ck_assert_msg(json_integer_value(json_object_get(rp->header, "ppid")) == d.r.pid,
                  "the finding must be in the child's report (header ppid = parent %d)", (int)d.r.pid);
    json_t *f = json_array_get(rp->findings, 0);
    assert_mutex_cycle(rp, f, "rel_fork", "fork_child_a", "fork_child_b", "fork_child_lock_second",
                       "rel_fork inversion");
    /* The two cycle threads and the child's main thread joining them: none of the parent's. */
    json_t *threads = json_object_get(f, "threads");
    ck_assert_msg(json_array_size(threads) == 3, "expected 3 threads (2 in the cycle, main joining), "
                  "got %zu: %.1500s", json_array_size(threads), json_dumps(threads, JSON_COMPACT));
    e2e_reports_free(&rs);
    dl_run_free(&d);
}
END_TEST

START_TEST(test_forks_from_busy_multithreaded_parent_run_normally)
{
    check_healthy("ok_rel_fork", NULL, NULL, 0);
}
END_TEST

/* rel_spawn <mode>: the new image (mode "deadlock") writes its own report with its pid. */
static void check_spawned(const char *mode, bool same_pid)
{
    char path[PATH_MAX], label[64], first[64];
    e2e_prog_path(path, sizeof path, "rel_spawn");
    snprintf(label, sizeof label, "rel_spawn_%s", mode);
    char *argv[] = { "rel_spawn", (char *)mode, NULL };
    struct dl_run d;
    snprintf(first, sizeof first, "rel_spawn: %s", mode);
    run_to_finding(&d, label, path, argv, true, NULL, first, NULL, 1);
    char *child_line = wait_for_line(&d.r, "rel_spawn: deadlock", 0);
    ck_assert_msg(child_line != NULL, "%s: the new image did not start", label);
    int child = (int)field_after(child_line, "pid=");
    free(child_line);

    struct e2e_reports rs;
    e2e_reports_load(&rs, d.r.reports);
    char all[4096];
    e2e_describe_findings(&rs, all, sizeof all);
    ck_assert_msg(e2e_reports_count_findings(&rs) == 1, "%s: expected one finding, got %zu: %s", label,
                  e2e_reports_count_findings(&rs), all);
    struct e2e_report *rp = e2e_reports_with_finding(&rs);
    json_t *h = rp->header;
    ck_assert_msg(json_integer_value(json_object_get(h, "pid")) == child, "%s: report of pid %lld, "
                  "the deadlocked image is pid %d", label,
                  (long long)json_integer_value(json_object_get(h, "pid")), child);
    if (same_pid)
        ck_assert_msg(child == d.r.pid, "%s: exec must keep the pid", label);
    else
        ck_assert_msg(json_integer_value(json_object_get(h, "ppid")) == d.r.pid,
                      "%s: the child's report must name the parent %d as ppid", label, (int)d.r.pid);
    const char *argv1 = json_string_value(json_array_get(json_object_get(h, "argv"), 1));
    ck_assert_msg(argv1 && strcmp(argv1, "deadlock") == 0, "%s: header argv[1] is %s, expected the new "
                  "image's \"deadlock\"", label, argv1 ? argv1 : "?");
    assert_mutex_cycle(rp, json_array_get(rp->findings, 0), "rel_spawn", "spawn_thread_a",
                       "spawn_thread_b", "spawn_lock_second", label);
    e2e_reports_free(&rs);
    dl_run_free(&d);
}

START_TEST(test_exec_from_threaded_program_keeps_watching_the_new_image)
{
    check_spawned("exec", true);
}
END_TEST

START_TEST(test_posix_spawn_child_is_watched_with_its_own_report)
{
    check_spawned("spawn", false);
}
END_TEST

START_TEST(test_vfork_exec_child_is_watched_with_its_own_report)
{
    check_spawned("vfork", false);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Daemons and chdir                                                                          */

START_TEST(test_daemon_closing_all_descriptors_keeps_both_findings_in_one_report)
{
    char path[PATH_MAX], log[PATH_MAX + 16];
    e2e_prog_path(path, sizeof path, "rel_daemon");
    struct dl_run d;
    memset(&d, 0, sizeof d);
    e2e_run_init(&d.r, "rel_daemon");
    snprintf(log, sizeof log, "%s/daemon.log", d.r.work);
    char *argv[] = { "rel_daemon", log, NULL };
    e2e_run_start(&d.r, path, argv, true, NULL);
    d.first = wait_for_line(&d.r, "rel_daemon: start", STARTUP_MS);
    d.found = d.first && wait_for_findings(&d.r, d.r.reports, 2, 2 * REPORT_MS);
    d.exited_early = d.r.exited;
    if (d.found)
        e2e_sleep_ms(SETTLE_MS);
    e2e_run_kill(&d.r);
    char *logtext = e2e_slurp(log, NULL);
    ck_assert_msg(d.first != NULL && !d.exited_early, "rel_daemon did not start or exited (0x%x)",
                  d.r.status);

    struct e2e_reports rs;
    e2e_reports_load(&rs, d.r.reports);
    char all[4096];
    e2e_describe_findings(&rs, all, sizeof all);
    ck_assert_msg(d.found && e2e_reports_count_findings(&rs) == 2, "expected both deadlocks reported "
                  "after the daemon closed and dup2()ed over every descriptor, got %zu: %s (reports in "
                  "%s; log: %.500s)", e2e_reports_count_findings(&rs), all, d.r.reports,
                  logtext ? logtext : "(none)");
    ck_assert_msg(rs.n == 1, "expected one report file (reopened per finding), found %d", rs.n);
    struct e2e_report *rp = &rs.r[0];
    ck_assert_msg(rp->first_is_header && rp->headers == 1 && rp->bad_lines == 0,
                  "the report must have one header first and no broken line (headers %d, bad lines %d)",
                  rp->headers, rp->bad_lines);
    assert_mutex_cycle(rp, json_array_get(rp->findings, 0), "rel_daemon", "daemon_first_a",
                       "daemon_first_b", "daemon_lock_second", "rel_daemon first");
    assert_mutex_cycle(rp, json_array_get(rp->findings, 1), "rel_daemon", "daemon_second_a",
                       "daemon_second_b", "daemon_lock_second", "rel_daemon second");
    ck_assert_msg(logtext && strstr(logtext, "daemon: first\n") && strstr(logtext, "daemon: second\n"),
                  "the daemon's log lost its own lines: %.500s", logtext ? logtext : "(none)");
    ck_assert_msg(!strstr(logtext, "\"type\""), "report lines were written into the daemon's log "
                  "(a descriptor the program reused): %.800s", logtext);
    free(logtext);
    e2e_reports_free(&rs);
    dl_run_free(&d);
}
END_TEST

START_TEST(test_relative_report_dir_stays_where_the_program_started_after_chdir)
{
    struct dl_run d;
    char start_dir[PATH_MAX], elsewhere[PATH_MAX], want[PATH_MAX + 16], wrong[PATH_MAX + 16];
    char prog[PATH_MAX], prog_abs[PATH_MAX], preload[PATH_MAX + 16];
    e2e_prog_path(prog, sizeof prog, "rel_chdir");
    ck_assert(realpath(prog, prog_abs) != NULL);
    memset(&d, 0, sizeof d);
    e2e_run_init(&d.r, "rel_chdir");
    snprintf(start_dir, sizeof start_dir, "%s/start", d.r.work);
    snprintf(elsewhere, sizeof elsewhere, "%s/elsewhere", d.r.work);
    ck_assert(mkdir(start_dir, 0700) == 0 && mkdir(elsewhere, 0700) == 0);
    snprintf(want, sizeof want, "%s/rel-reports", start_dir);
    snprintf(wrong, sizeof wrong, "%s/rel-reports", elsewhere);
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", shim_abs());
    const char *env[] = { preload, "POOLGUARD_DIR=rel-reports", NULL };
    /* env -C starts the program in start_dir. */
    char *argv[] = { "env", "-C", start_dir, prog_abs, elsewhere, NULL };
    e2e_run_start(&d.r, "/usr/bin/env", argv, false, env);
    d.first = wait_for_line(&d.r, "rel_chdir: start", STARTUP_MS);
    long deadline = e2e_now_ms() + REPORT_MS;
    size_t in_want = 0, in_wrong = 0;
    while (d.first && e2e_now_ms() < deadline && !e2e_run_wait(&d.r, 0)) {
        struct e2e_reports a, b;
        e2e_reports_load(&a, want);
        e2e_reports_load(&b, wrong);
        in_want = e2e_reports_count_findings(&a);
        in_wrong = e2e_reports_count_findings(&b);
        e2e_reports_free(&a);
        e2e_reports_free(&b);
        if (in_want + in_wrong > 0)
            break;
        e2e_sleep_ms(E2E_POLL_MS);
    }
    e2e_run_kill(&d.r);
    d.err = e2e_run_stderr(&d.r);
    ck_assert_msg(d.first != NULL, "rel_chdir did not start; stderr: %.500s", d.err);
    ck_assert_msg(in_want + in_wrong > 0, "no finding in %s or %s; stderr: %.500s", want, wrong, d.err);
    ck_assert_msg(in_want == 1 && in_wrong == 0, "POOLGUARD_DIR=rel-reports, program started in %s and "
                  "then chdir()ed to %s: the report must be in %s, but %zu finding(s) are there and "
                  "%zu in %s; stderr: %.500s", start_dir, elsewhere, want, in_want, in_wrong, wrong,
                  d.err);
    dl_run_free(&d);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Constructors, signals, cancellation, exit paths                                            */

START_TEST(test_pthread_calls_before_the_shims_constructor_work)
{
    check_healthy("ok_rel_preinit", NULL, NULL, 0);
}
END_TEST

START_TEST(test_deadlock_with_thread_started_before_the_shim_is_found)
{
    char *argv[] = { "rel_preinit", NULL };
    check_mutex_inversion("rel_preinit", argv, "rel_preinit: start", "preinit_thread",
                          "preinit_lock_second", "main", "main_lock_second");
}
END_TEST

START_TEST(test_sem_post_from_signal_handlers_works_and_caught_signals_prevent_a_hang_report)
{
    check_healthy("ok_rel_sigpost", NULL, NULL, 0);
}
END_TEST

START_TEST(test_threads_cancelled_in_timed_waits_leave_no_stale_state)
{
    check_healthy("ok_rel_cancel", NULL, NULL, 0);
}
END_TEST

START_TEST(test_exit_with_threads_blocked_keeps_the_exit_status)
{
    static const char *const env[] = { "POOLGUARD_INTERVAL_MS=10", NULL };
    check_healthy("ok_rel_exit", NULL, env, 6);
}
END_TEST

START_TEST(test_pthread_exit_from_main_ends_the_process_normally)
{
    check_healthy("ok_rel_main_exit", NULL, NULL, 0);
}
END_TEST

START_TEST(test_locks_in_atexit_handlers_work)
{
    check_healthy("ok_rel_atexit", NULL, NULL, 9);
}
END_TEST

START_TEST(test_deadlock_inside_an_atexit_handler_is_found)
{
    char *argv[] = { "rel_atexit", NULL };
    check_mutex_inversion("rel_atexit", argv, "rel_atexit: start", "atexit_worker",
                          "atexit_lock_second", "exit_handler", "atexit_lock_second");
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Mutex types                                                                                */

START_TEST(test_every_mutex_type_and_process_shared_objects_give_no_finding)
{
    check_healthy("ok_rel_mutex_types", NULL, NULL, 0);
}
END_TEST

static const char *const mutex_kinds[] = { "recursive", "errorcheck", "inherit", "robust" };

START_TEST(test_lock_inversion_through_each_mutex_type_is_found)
{
    const char *kind = mutex_kinds[_i];
    char label[64], first[64];
    snprintf(label, sizeof label, "rel_mutex_kinds_%s", kind);
    snprintf(first, sizeof first, "rel_mutex_kinds: start %s", kind);
    char *argv[] = { "rel_mutex_kinds", (char *)kind, NULL };
    check_mutex_inversion(label, argv, first, "kinds_thread_a", "kinds_lock_second", "kinds_thread_b",
                          "kinds_lock_second");
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Scale and churn                                                                            */

START_TEST(test_2000_live_threads_same_output_and_memory_within_budget)
{
    static const char *const args[] = { "2000", NULL };
    struct pair p;
    run_pair(&p, "ok_rel_threads", args, true, NULL, NULL, RUN_MS);
    assert_pair_healthy(&p, "ok_rel_threads", 0);
    assert_memory_budget(&p, "ok_rel_threads 2000", 2001);
    ck_assert_msg(count_poolguard_lines(p.serr) == 0, "unexpected poolguard: lines: %.500s", p.serr);
    pair_free(&p);
}
END_TEST

START_TEST(test_100k_thread_lifetimes_same_output_and_bounded_memory)
{
    /* 100k lifetimes under the shim; the native baseline for memory needs only 10k. */
    static const char *const args[] = { "100000", NULL }, *const nargs[] = { "10000", NULL };
    struct pair p;
    run_pair(&p, "ok_rel_churn", args, true, nargs, NULL, RUN_MS);
    ck_assert_msg(strcmp(p.nout, "ok_rel_churn: 10000 threads, total 5000\n") == 0,
                  "native run printed: %s", p.nout);
    ck_assert_msg(strcmp(p.sout, "ok_rel_churn: 100000 threads, total 50000\n") == 0,
                  "under the shim it printed: %s (stderr: %.300s)", p.sout, p.serr);
    free(p.nout);
    p.nout = NULL;   /* outputs differ by design: compare status and findings only */
    assert_pair_healthy(&p, "ok_rel_churn", 0);
    assert_memory_budget(&p, "ok_rel_churn", 9);
    pair_free(&p);
}
END_TEST

START_TEST(test_millions_of_mutexes_reused_after_free_give_no_finding_and_bounded_memory)
{
    struct pair p;
    run_pair(&p, "ok_rel_mutex_churn", NULL, true, NULL, NULL, RUN_MS);
    assert_pair_healthy(&p, "ok_rel_mutex_churn", 0);
    assert_memory_budget(&p, "ok_rel_mutex_churn", 3);
    pair_free(&p);
}
END_TEST

START_TEST(test_full_thread_table_warns_once_and_program_runs_normally)
{
    static const char *const args[] = { "64", NULL };
    static const char *const env[] = { "POOLGUARD_MAX_THREADS=16", NULL };
    struct pair p;
    run_pair(&p, "ok_rel_threads", args, true, NULL, env, RUN_MS);
    assert_pair_healthy(&p, "ok_rel_threads", 0);
    ck_assert_msg(count_poolguard_lines(p.serr) == 1 && e2e_has_poolguard_line(p.serr, "table is full"),
                  "expected exactly one poolguard: line, about the full thread table; stderr: %.800s",
                  p.serr);
    pair_free(&p);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Soak                                                                                       */

static long soak_seconds(void)
{
    const char *s = getenv("POOLGUARD_SOAK_SECONDS");
    long v = s ? atol(s) : 0;
    return v > 0 ? v : 8;
}

START_TEST(test_soak_of_random_workloads_no_crash_no_finding_no_memory_growth)
{
    long secs = soak_seconds();
    char arg[32];
    snprintf(arg, sizeof arg, "%ld", secs);
    const char *const args[] = { arg, NULL };
    struct pair p;
    run_pair(&p, "ok_rel_soak", args, false, NULL, NULL, secs * 1000 + RUN_MS);
    assert_pair_healthy(&p, "ok_rel_soak", 0);
    ck_assert_str_eq(p.sout, "ok_rel_soak: ok\n");
    ck_assert_msg(count_poolguard_lines(p.serr) == 0, "poolguard: lines during the soak: %.800s", p.serr);

    /* RSS samples: after the first quarter (warm-up), growth must stay under 2 MiB. */
    long t[4096], kb[4096];
    int n = 0;
    for (const char *s = p.serr; (s = strstr(s, "rel_rss: ")) != NULL && n < 4096; s++)
        if (sscanf(s, "rel_rss: %ld %ld", &t[n], &kb[n]) == 2)
            n++;
    ck_assert_msg(n >= 8, "too few RSS samples (%d) on stderr: %.300s", n, p.serr);
    long base = kb[n / 4], peak = 0;
    for (int i = n / 4; i < n; i++)
        peak = kb[i] > peak ? kb[i] : peak;
    ck_assert_msg(peak - base <= 2048, "RSS grew from %ld kB (at %ld ms) to %ld kB during the soak",
                  base, t[n / 4], peak);
    pair_free(&p);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Unchanged behaviour: every healthy program                                                 */

/* Does some tests/{e2e,unit}/check_*.c other than this one name "prog" as a string literal? */
static bool named_in_a_suite(const char *prog)
{
    char quoted[256];
    snprintf(quoted, sizeof quoted, "\"%.200s\"", prog);
    bool found = false;
    static const char *const dirs[] = {"tests/e2e", "tests/unit"};
    for (size_t k = 0; !found && k < sizeof dirs / sizeof dirs[0]; k++) {
        DIR *d = opendir(dirs[k]);
        ck_assert_msg(d != NULL, "run the tests from the repository root (%s not found)", dirs[k]);
        struct dirent *e;
        while (!found && (e = readdir(d)) != NULL) {
            size_t len = strlen(e->d_name);
            if (!e2e_starts_with(e->d_name, "check_") || len < 3 || strcmp(e->d_name + len - 2, ".c") != 0 ||
                strcmp(e->d_name, "check_reliability.c") == 0)
                continue;
            char p[PATH_MAX];
            snprintf(p, sizeof p, "%s/%s", dirs[k], e->d_name);
            char *text = e2e_slurp(p, NULL);
            found = text && strstr(text, quoted);
            free(text);
        }
        closedir(d);
    }
    return found;
}

/*
 * Every tests/progs/ok_* program must run with and without the shim with the same output and
 * status somewhere: the ok_rel_* ones here, the others in their suites. Any other ok_* program
 * no suite names is compared here, expecting the status it has without the shim.
 */
START_TEST(test_every_healthy_program_gives_same_output_and_status_under_the_shim)
{
    DIR *d = opendir("tests/progs");
    ck_assert_msg(d != NULL, "run the tests from the repository root (tests/progs not found)");
    char names[128][64];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 128) {
        if (!e2e_starts_with(e->d_name, "ok_") || e2e_starts_with(e->d_name, "ok_rel_"))
            continue;
        char *dot = strrchr(e->d_name, '.');
        if (!dot || (strcmp(dot, ".c") != 0 && strcmp(dot, ".cpp") != 0))
            continue;
        snprintf(names[n], sizeof names[n], "%.*s", (int)(dot - e->d_name), e->d_name);
        n++;
    }
    closedir(d);
    ck_assert_msg(n > 0, "no ok_* programs found");
    int compared = 0;
    for (int i = 0; i < n; i++) {
        if (named_in_a_suite(names[i]))
            continue;
        struct pair p;
        run_pair(&p, names[i], NULL, true, NULL, NULL, E2E_HEALTHY_EXIT_MS);
        int status = WIFEXITED(p.native.status) ? WEXITSTATUS(p.native.status) : -1;
        assert_pair_healthy(&p, names[i], status);
        pair_free(&p);
        compared++;
    }
    (void)compared;
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Security                                                                                   */

/*
 * A symlink and a regular file planted at the report's exact name (and a symlink at the next
 * suffixed name) while the program waits: the shim must create its report under a fresh name, mode
 * 0600, leave the planted files' targets untouched and the symlinks symlinks.
 */
START_TEST(test_planted_symlinks_and_files_at_the_report_name_are_never_followed_or_overwritten)
{
    char path[PATH_MAX], go[PATH_MAX + 16], victim[PATH_MAX + 16], planted[PATH_MAX + 64];
    char planted1[PATH_MAX + 64], planted2[PATH_MAX + 64];
    e2e_prog_path(path, sizeof path, "rel_go");
    struct dl_run d;
    memset(&d, 0, sizeof d);
    e2e_run_init(&d.r, "rel_go_symlink");
    snprintf(go, sizeof go, "%s/go", d.r.work);
    snprintf(victim, sizeof victim, "%s/victim", d.r.work);
    static const char original[] = "precious data\n";
    FILE *f = fopen(victim, "w");
    ck_assert(f && fputs(original, f) >= 0 && fclose(f) == 0);
    char *argv[] = { "rel_go", go, NULL };
    e2e_run_start(&d.r, path, argv, true, NULL);
    d.first = wait_for_line(&d.r, "rel_go: waiting", STARTUP_MS);
    ck_assert_msg(d.first != NULL, "rel_go did not start");
    int pid = (int)d.r.pid;
    snprintf(planted, sizeof planted, "%s/poolguard.rel_go.%d.jsonl", d.r.reports, pid);
    snprintf(planted1, sizeof planted1, "%s/poolguard.rel_go.%d.1.jsonl", d.r.reports, pid);
    snprintf(planted2, sizeof planted2, "%s/poolguard.rel_go.%d.2.jsonl", d.r.reports, pid);
    ck_assert(symlink(victim, planted) == 0);
    f = fopen(planted1, "w");
    ck_assert(f && fputs(original, f) >= 0 && fclose(f) == 0);
    ck_assert(symlink(victim, planted2) == 0);
    int gofd = open(go, O_CREAT | O_WRONLY, 0600);
    ck_assert(gofd >= 0);
    close(gofd);

    char *started = wait_for_line(&d.r, "rel_go: start", STARTUP_MS);
    /* The planted names hold no finding (they are not JSON): wait for the real report. */
    long deadline = e2e_now_ms() + REPORT_MS;
    bool found = false;
    char real[PATH_MAX + 64];
    snprintf(real, sizeof real, "%s/poolguard.rel_go.%d.3.jsonl", d.r.reports, pid);
    while (started && !found && e2e_now_ms() < deadline && !e2e_run_wait(&d.r, 0)) {
        char *text = e2e_slurp(real, NULL);
        found = text && strstr(text, "\"type\":\"finding\"");
        free(text);
        if (!found)
            e2e_sleep_ms(E2E_POLL_MS);
    }
    e2e_run_kill(&d.r);
    d.err = e2e_run_stderr(&d.r);
    free(started);

    char *v = e2e_slurp(victim, NULL), *p1 = e2e_slurp(planted1, NULL);
    struct stat st;
    ck_assert_msg(v && strcmp(v, original) == 0, "the symlink's target was written to: %.300s", v);
    ck_assert_msg(p1 && strcmp(p1, original) == 0, "the planted regular file was changed: %.300s", p1);
    ck_assert_msg(lstat(planted, &st) == 0 && S_ISLNK(st.st_mode), "the planted symlink is gone");
    ck_assert_msg(lstat(planted2, &st) == 0 && S_ISLNK(st.st_mode), "the second symlink is gone");
    ck_assert_msg(found, "no finding in a fresh report %s; stderr: %.500s", real, d.err);
    ck_assert_msg(lstat(real, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0600,
                  "the report %s must be a regular file of mode 0600 (mode %o)", real,
                  (unsigned)(st.st_mode & 07777));
    free(v);
    free(p1);
    unlink(planted1);   /* the test's own file under a report's name: not checked as a report */
    dl_run_free(&d);
}
END_TEST

/*
 * The default directory, $TMPDIR/poolguard-<uid>, must be a directory of ours closed to others.
 * Each variant prepares it badly; the shim must refuse it with a poolguard: warning, write nothing
 * into it, and still say on stderr what it found.
 */
enum { DIR_GROUP_WRITABLE, DIR_WORLD_WRITABLE, DIR_OTHER_OWNER, DIR_SYMLINK, DIR_VARIANTS };
static const char *const dir_variant_names[] = { "group-writable (0770)", "world-writable (0777)",
                                                 "owned by nobody", "a symlink to a private dir" };

START_TEST(test_unsafe_default_report_dir_is_refused_with_a_warning)
{
    struct dl_run d;
    char tmpdir[PATH_MAX], dflt[PATH_MAX + 32], target[PATH_MAX + 16], tmpvar[PATH_MAX + 16];
    char preload[PATH_MAX + 16], path[PATH_MAX];
    memset(&d, 0, sizeof d);
    e2e_run_init(&d.r, "default_dir");
    snprintf(tmpdir, sizeof tmpdir, "%s/tmp", d.r.work);
    ck_assert(mkdir(tmpdir, 0700) == 0);
    snprintf(dflt, sizeof dflt, "%s/poolguard-%u", tmpdir, (unsigned)geteuid());
    switch (_i) {
    case DIR_GROUP_WRITABLE:
    case DIR_WORLD_WRITABLE:
        ck_assert(mkdir(dflt, 0700) == 0);
        ck_assert(chmod(dflt, _i == DIR_GROUP_WRITABLE ? 0770 : 0777) == 0);
        break;
    case DIR_OTHER_OWNER:
        if (geteuid() != 0) {
            dl_run_free(&d);
            return;   /* only root can give a directory away; the other variants still run */
        }
        ck_assert(mkdir(dflt, 0700) == 0);
        ck_assert(chown(dflt, 65534, 65534) == 0);
        break;
    case DIR_SYMLINK:
        snprintf(target, sizeof target, "%s/target", d.r.work);
        ck_assert(mkdir(target, 0700) == 0);
        ck_assert(symlink(target, dflt) == 0);
        break;
    }
    snprintf(tmpvar, sizeof tmpvar, "TMPDIR=%s", tmpdir);
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", shim_abs());
    const char *env[] = { preload, tmpvar, NULL };
    e2e_prog_path(path, sizeof path, "dl_lock_inversion");
    char *argv[] = { "dl_lock_inversion", NULL };
    e2e_run_start(&d.r, path, argv, false, env);
    d.first = wait_for_line(&d.r, "dl_lock_inversion: start", STARTUP_MS);
    /* No report may appear; the finding is announced on stderr: wait for that line. */
    long deadline = e2e_now_ms() + REPORT_MS;
    char *err = NULL;
    while (d.first && e2e_now_ms() < deadline && !e2e_run_wait(&d.r, 0)) {
        free(err);
        err = e2e_run_stderr(&d.r);
        if (e2e_has_poolguard_line(err, "deadlock"))
            break;
        e2e_sleep_ms(E2E_POLL_MS);
    }
    e2e_sleep_ms(SETTLE_MS);
    e2e_run_kill(&d.r);
    free(err);
    d.err = e2e_run_stderr(&d.r);

    const char *variant = dir_variant_names[_i];
    ck_assert_msg(d.first != NULL, "%s: the program did not start", variant);
    ck_assert_msg(e2e_has_poolguard_line(d.err, "poolguard-"), "%s: no poolguard: warning naming the "
                  "refused directory %s; stderr: %.800s", variant, dflt, d.err);
    struct e2e_reports rs;
    e2e_reports_load(&rs, _i == DIR_SYMLINK ? target : dflt);
    ck_assert_msg(rs.n == 0, "%s: a report was written into the unsafe directory %s", variant,
                  _i == DIR_SYMLINK ? target : dflt);
    e2e_reports_free(&rs);
    ck_assert_msg(e2e_has_poolguard_line(d.err, "deadlock"), "%s: the finding itself must still be "
                  "announced on stderr; stderr: %.800s", variant, d.err);
    dl_run_free(&d);
}
END_TEST

START_TEST(test_missing_default_report_dir_is_created_private)
{
    struct dl_run d;
    char tmpdir[PATH_MAX], dflt[PATH_MAX + 32], tmpvar[PATH_MAX + 16], preload[PATH_MAX + 16];
    char path[PATH_MAX];
    memset(&d, 0, sizeof d);
    e2e_run_init(&d.r, "default_dir_new");
    snprintf(tmpdir, sizeof tmpdir, "%s/tmp", d.r.work);
    ck_assert(mkdir(tmpdir, 0755) == 0);
    snprintf(dflt, sizeof dflt, "%s/poolguard-%u", tmpdir, (unsigned)geteuid());
    snprintf(tmpvar, sizeof tmpvar, "TMPDIR=%s", tmpdir);
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", shim_abs());
    const char *env[] = { preload, tmpvar, NULL };
    e2e_prog_path(path, sizeof path, "dl_lock_inversion");
    char *argv[] = { "dl_lock_inversion", NULL };
    run_to_finding(&d, "default_dir_new", path, argv, false, env, "dl_lock_inversion: start", dflt, 1);
    struct stat st;
    ck_assert_msg(lstat(dflt, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700 &&
                  st.st_uid == geteuid(), "the default directory %s must be created mode 0700, ours "
                  "(mode %o)", dflt, (unsigned)(st.st_mode & 07777));
    struct e2e_reports rs;
    e2e_reports_load(&rs, dflt);
    ck_assert_msg(rs.n == 1 && (rs.r[0].mode & 07777) == 0600, "one report of mode 0600 expected in %s",
                  dflt);
    e2e_reports_free(&rs);
    dl_run_free(&d);
}
END_TEST

/* Bad values: each earns one poolguard: warning naming the variable, and the program is unchanged. */
START_TEST(test_invalid_environment_values_warn_and_change_nothing)
{
    static const char *const bad[][2] = {
        { "POOLGUARD_INTERVAL_MS=5", "POOLGUARD_INTERVAL_MS" },
        { "POOLGUARD_INTERVAL_MS=99999999999999999999999", "POOLGUARD_INTERVAL_MS" },
        { "POOLGUARD_INTERVAL_MS=-100", "POOLGUARD_INTERVAL_MS" },
        { "POOLGUARD_STALL_MS=0x10", "POOLGUARD_STALL_MS" },
        { "POOLGUARD_MAX_THREADS=1", "POOLGUARD_MAX_THREADS" },
        { "POOLGUARD_MAX_THREADS=4294967297", "POOLGUARD_MAX_THREADS" },
        { "POOLGUARD_STACK_DEPTH=0", "POOLGUARD_STACK_DEPTH" },
        { "POOLGUARD_STACK_DEPTH=100000", "POOLGUARD_STACK_DEPTH" },
        { "POOLGUARD_QUEUE_LIMIT= 5", "POOLGUARD_QUEUE_LIMIT" },
        { "POOLGUARD_ON_FINDING=exit:256", "POOLGUARD_ON_FINDING" },
        { "POOLGUARD_QUIET=maybe", "POOLGUARD_QUIET" },
        { "POOLGUARD_DISABLE=2", "POOLGUARD_DISABLE" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *env[] = { bad[i][0], NULL };
        static const char *const args[] = { "8", NULL };
        struct pair p;
        run_pair(&p, "ok_rel_threads", args, i == 0, NULL, env, E2E_HEALTHY_EXIT_MS);
        if (i == 0)
            assert_pair_healthy(&p, "ok_rel_threads", 0);
        else
            ck_assert_msg(p.shim_done && WIFEXITED(p.shim.status) && WEXITSTATUS(p.shim.status) == 0 &&
                          strcmp(p.sout, "ok_rel_threads: 8 threads, total 36\n") == 0,
                          "%s: the program did not run normally (status 0x%x, stdout %s, stderr %.300s)",
                          bad[i][0], p.shim.status, p.sout, p.serr);
        ck_assert_msg(count_poolguard_lines(p.serr) == 1 && e2e_has_poolguard_line(p.serr, bad[i][1]),
                      "%s: expected exactly one poolguard: warning naming %s; stderr: %.500s", bad[i][0],
                      bad[i][1], p.serr);
        pair_free(&p);
    }
}
END_TEST

/* An over-long POOLGUARD_DIR: a warning, and the report goes to the default directory. */
START_TEST(test_too_long_report_dir_warns_and_falls_back_to_the_default)
{
    struct dl_run d;
    char tmpdir[PATH_MAX], dflt[PATH_MAX + 32], tmpvar[PATH_MAX + 16], preload[PATH_MAX + 16];
    char path[PATH_MAX];
    static char longdir[8192];
    memset(&d, 0, sizeof d);
    e2e_run_init(&d.r, "long_dir");
    snprintf(tmpdir, sizeof tmpdir, "%s/tmp", d.r.work);
    ck_assert(mkdir(tmpdir, 0700) == 0);
    snprintf(dflt, sizeof dflt, "%s/poolguard-%u", tmpdir, (unsigned)geteuid());
    snprintf(tmpvar, sizeof tmpvar, "TMPDIR=%s", tmpdir);
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", shim_abs());
    int k = snprintf(longdir, sizeof longdir, "POOLGUARD_DIR=%s/", d.r.work);
    while (k < 6000)
        longdir[k++] = 'x';
    longdir[k] = 0;
    const char *env[] = { preload, tmpvar, longdir, NULL };
    e2e_prog_path(path, sizeof path, "dl_lock_inversion");
    char *argv[] = { "dl_lock_inversion", NULL };
    run_to_finding(&d, "long_dir", path, argv, false, env, "dl_lock_inversion: start", dflt, 1);
    ck_assert_msg(e2e_has_poolguard_line(d.err, "POOLGUARD_DIR"), "no warning about POOLGUARD_DIR; "
                  "stderr: %.500s", d.err);
    dl_run_free(&d);
}
END_TEST

/*
 * Secure execution (AT_SECURE): a setuid-root copy of a deadlocking program run by "nobody". The
 * loader then preloads only libraries named without a slash, from its trusted directories, that
 * are set-user-ID themselves (docs/security.md); so the test installs a setuid copy of the shim in
 * /usr/lib for the duration of the test. The shim is loaded (its mapping is in /proc/pid/maps) but
 * must stay passive: no watchdog thread, no file, no line on stderr. A control run of the same
 * binary by root (no secure execution) must find the deadlock, so that silence means something.
 * Needs root; registered only then.
 */
START_TEST(test_secure_execution_process_gets_no_watchdog_and_no_files)
{
    struct dl_run d;
    char bin[PATH_MAX + 16], lib[PATH_MAX], libname[64], preload[128], dirvar[PATH_MAX + 32];
    char src[PATH_MAX];
    static char cmd[8 * PATH_MAX];
    memset(&d, 0, sizeof d);
    e2e_run_init(&d.r, "secure");
    ck_assert(chmod(d.r.work, 0755) == 0);
    ck_assert(chmod(d.r.reports, 0777) == 0);   /* writable by nobody: the shim must not use it */
    snprintf(bin, sizeof bin, "%s/rel_go", d.r.work);
    e2e_prog_path(src, sizeof src, "rel_go");
    snprintf(libname, sizeof libname, "libpoolguard-sectest-%d.so", (int)getpid());
    snprintf(lib, sizeof lib, "/usr/lib/%s", libname);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && chmod 4755 '%s' && cp '%s' '%s' && chmod 4755 '%s'", src,
             bin, bin, shim_abs(), lib, lib);
    int rc = system(cmd);
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", libname);
    snprintf(dirvar, sizeof dirvar, "POOLGUARD_DIR=%s", d.r.reports);
    const char *env[] = { preload, dirvar, NULL };

    bool loaded = false, watchdog = false, secure = false, control_found = false;
    char *first = NULL, *err = NULL;
    if (rc == 0) {
        char *argv[] = { "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", bin, NULL };
        e2e_run_start(&d.r, "/usr/bin/setpriv", argv, false, env);
        first = wait_for_line(&d.r, "rel_go: start", STARTUP_MS);
        e2e_sleep_ms(1500);   /* 15 scans of the default interval */
        char p[PATH_MAX];
        snprintf(p, sizeof p, "/proc/%d/maps", (int)d.r.pid);
        char *maps = e2e_slurp(p, NULL);
        loaded = maps && strstr(maps, libname);
        free(maps);
        snprintf(p, sizeof p, "/proc/%d/auxv", (int)d.r.pid);
        size_t len = 0;
        char *auxv = e2e_slurp(p, &len);
        for (size_t i = 0; auxv && i + 16 <= len; i += 16) {
            unsigned long type, val;
            memcpy(&type, auxv + i, 8);
            memcpy(&val, auxv + i + 8, 8);
            if (type == 23 /* AT_SECURE */)
                secure = val != 0;
        }
        free(auxv);
        snprintf(p, sizeof p, "/proc/%d/task", (int)d.r.pid);
        DIR *dir = opendir(p);
        struct dirent *e;
        while (dir && (e = readdir(dir)) != NULL) {
            char cp[PATH_MAX + 300];
            snprintf(cp, sizeof cp, "%s/%s/comm", p, e->d_name);
            char *comm = e2e_slurp(cp, NULL);
            watchdog = watchdog || (comm && e2e_starts_with(comm, "poolguard"));
            free(comm);
        }
        if (dir)
            closedir(dir);
        e2e_run_kill(&d.r);
        err = e2e_run_stderr(&d.r);

        /* Control: root runs the same binary, not in secure-execution mode. */
        struct e2e_run c;
        e2e_run_init(&c, "secure_control");
        char cdir[PATH_MAX + 32];
        snprintf(cdir, sizeof cdir, "POOLGUARD_DIR=%s", c.reports);
        const char *cenv[] = { preload, cdir, NULL };
        char *cargv[] = { "rel_go", NULL };
        e2e_run_start(&c, bin, cargv, false, cenv);
        control_found = e2e_wait_for_finding(&c, STARTUP_MS);
        e2e_run_kill(&c);
        e2e_remove_tree(c.work);
    }
    unlink(lib);
    unlink(bin);

    ck_assert_msg(rc == 0, "could not install the setuid copies (%s)", cmd);
    ck_assert_msg(first != NULL, "the setuid program did not start as nobody; stderr: %.500s", err);
    ck_assert_msg(secure, "the setuid program did not run in secure-execution mode (AT_SECURE)");
    ck_assert_msg(loaded, "the loader did not preload the setuid shim from /usr/lib: the test proves "
                  "nothing");
    ck_assert_msg(control_found, "control: the same program run by root found no deadlock");
    ck_assert_msg(!watchdog, "a secure-execution process got a poolguard watchdog thread");
    struct e2e_reports rs;
    e2e_reports_load(&rs, d.r.reports);
    ck_assert_msg(rs.n == 0, "a secure-execution process wrote a report into %s", d.r.reports);
    e2e_reports_free(&rs);
    ck_assert_msg(count_poolguard_lines(err) == 0, "a secure-execution process wrote poolguard: lines: "
                  "%.500s", err);
    free(first);
    free(err);
    dl_run_free(&d);
}
END_TEST

Suite *reliability_suite(void)
{
    Suite *s = suite_create("reliability");

    TCase *tc = tcase_create("real_programs");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_fork_child_waiting_on_lock_held_by_parent_thread_reports_exited_owner);
    tcase_add_test(tc, test_fork_from_busy_multithreaded_parent_reports_only_the_childs_cycle);
    tcase_add_test(tc, test_forks_from_busy_multithreaded_parent_run_normally);
    tcase_add_test(tc, test_exec_from_threaded_program_keeps_watching_the_new_image);
    tcase_add_test(tc, test_posix_spawn_child_is_watched_with_its_own_report);
    tcase_add_test(tc, test_vfork_exec_child_is_watched_with_its_own_report);
    tcase_add_test(tc, test_daemon_closing_all_descriptors_keeps_both_findings_in_one_report);
    tcase_add_test(tc, test_relative_report_dir_stays_where_the_program_started_after_chdir);
    tcase_add_test(tc, test_pthread_calls_before_the_shims_constructor_work);
    tcase_add_test(tc, test_deadlock_with_thread_started_before_the_shim_is_found);
    tcase_add_test(tc, test_sem_post_from_signal_handlers_works_and_caught_signals_prevent_a_hang_report);
    tcase_add_test(tc, test_threads_cancelled_in_timed_waits_leave_no_stale_state);
    tcase_add_test(tc, test_exit_with_threads_blocked_keeps_the_exit_status);
    tcase_add_test(tc, test_pthread_exit_from_main_ends_the_process_normally);
    tcase_add_test(tc, test_locks_in_atexit_handlers_work);
    tcase_add_test(tc, test_deadlock_inside_an_atexit_handler_is_found);
    tcase_add_test(tc, test_every_mutex_type_and_process_shared_objects_give_no_finding);
    tcase_add_loop_test(tc, test_lock_inversion_through_each_mutex_type_is_found, 0,
                        (int)(sizeof mutex_kinds / sizeof mutex_kinds[0]));
    suite_add_tcase(s, tc);

    tc = tcase_create("scale");
    tcase_set_timeout(tc, 150);
    tcase_add_test(tc, test_2000_live_threads_same_output_and_memory_within_budget);
    tcase_add_test(tc, test_100k_thread_lifetimes_same_output_and_bounded_memory);
    tcase_add_test(tc, test_millions_of_mutexes_reused_after_free_give_no_finding_and_bounded_memory);
    tcase_add_test(tc, test_full_thread_table_warns_once_and_program_runs_normally);
    suite_add_tcase(s, tc);

    tc = tcase_create("soak");
    tcase_set_timeout(tc, (double)soak_seconds() + 90);
    tcase_add_test(tc, test_soak_of_random_workloads_no_crash_no_finding_no_memory_growth);
    suite_add_tcase(s, tc);

    tc = tcase_create("corpus");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_every_healthy_program_gives_same_output_and_status_under_the_shim);
    suite_add_tcase(s, tc);

    tc = tcase_create("security");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_planted_symlinks_and_files_at_the_report_name_are_never_followed_or_overwritten);
    tcase_add_loop_test(tc, test_unsafe_default_report_dir_is_refused_with_a_warning, 0, DIR_VARIANTS);
    tcase_add_test(tc, test_missing_default_report_dir_is_created_private);
    tcase_add_test(tc, test_invalid_environment_values_warn_and_change_nothing);
    tcase_add_test(tc, test_too_long_report_dir_warns_and_falls_back_to_the_default);
    if (geteuid() == 0)
        tcase_add_test(tc, test_secure_execution_process_gets_no_watchdog_and_no_files);
    suite_add_tcase(s, tc);
    return s;
}

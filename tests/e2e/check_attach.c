/*
 * `poolguard attach` and `poolguard core` end to end: programs that deadlock on purpose
 * (tests/progs/att_*.c) are started WITHOUT the shim, poolguard attaches to them (or reads a gcore
 * of one), and the test asserts what the report says: kind, threads, the program's own function
 * names in the stacks; that the process is left running, not stopped; that a healthy busy program
 * attached to 100 times prints and returns exactly what it would have; and the error cases.
 *
 * Where ptrace is not permitted (Yama ptrace_scope, a container without CAP_SYS_PTRACE), the
 * tests are skipped (tu_skip) with the reason: the sandbox, not the code, is what lacks then. gdb's
 * gcore comes with make deps: without it the core test fails, naming it. Every program runs in its
 * own process group under a time limit.
 */
#include "attach_util.h"
#include "testlib.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { CORE_MS = 60000 };

static json_t *parse_json(const char *label, const char *out)
{
    json_error_t e;
    json_t *doc = json_loads(out, 0, &e);
    ck_assert_msg(doc != NULL, "%s: not JSON (%s): %.400s", label, e.text, out);
    return doc;
}

/* A directory for the raw report attach or core keeps (--raw), checked against the raw report
 * format when it is removed. */
static void raw_report_path(char *dir, size_t dlen, char *path, size_t plen, const char *what)
{
    snprintf(dir, dlen, "/tmp/pgtest.XXXXXX");
    ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno));
    snprintf(path, plen, "%s/poolguard.%s.1.jsonl", dir, what);
}

/* Attaches with --format json; asserts the exit status; returns the document. The raw report
 * attach writes is checked against the format. */
static json_t *attach_json(const char *label, pid_t pid, int want_status)
{
    char p[16], dir[64], raw[128];
    snprintf(p, sizeof p, "%d", (int)pid);
    raw_report_path(dir, sizeof dir, raw, sizeof raw, "attach");
    char *args[] = { "poolguard", "attach", "--raw", raw, "--format", "json", p, NULL };
    char *out, *err;
    int st = run_poolguard(label, args, &out, &err);
    ck_assert_msg(st == want_status, "%s: exit status %d, expected %d; stderr: %s", label, st,
                  want_status, err);
    json_t *doc = parse_json(label, out);
    ck_assert_msg(access(raw, R_OK) == 0, "%s: attach --raw wrote no %s", label, raw);
    tu_rmtree(dir);
    free(out);
    free(err);
    return doc;
}

static json_t *only_finding(json_t *doc)
{
    json_t *f = json_object_get(doc, "findings");
    ck_assert_msg(json_array_size(f) == 1, "expected one finding, got %zu", json_array_size(f));
    json_t *one = json_array_get(f, 0);
    ck_assert_str_eq(json_string_value(json_object_get(one, "kind")), "deadlock");
    ck_assert_str_eq(json_string_value(json_object_get(one, "severity")), "error");
    return one;
}

/* The thread of the finding whose stack names `fn`, or NULL. */
static json_t *thread_in(json_t *finding, const char *fn)
{
    size_t i;
    json_t *t;
    json_array_foreach (json_object_get(finding, "threads"), i, t) {
        json_t *names = e2e_stack_function_names(json_object_get(t, "stack"));
        bool has = e2e_names_have(names, fn);
        json_decref(names);
        if (has)
            return t;
    }
    return NULL;
}

static const char *blocked_kind(json_t *t)
{
    return json_string_value(json_object_get(json_object_get(t, "blocked_on"), "kind"));
}

static void check_mutex_cycle(json_t *f, pid_t pid)
{
    json_t *cycle = json_object_get(f, "cycle");
    ck_assert_int_eq(json_array_size(cycle), 2);
    size_t i;
    json_t *e;
    json_array_foreach (cycle, i, e) {
        ck_assert_str_eq(json_string_value(json_object_get(e, "kind")), "mutex");
        ck_assert_int_ne(json_integer_value(json_object_get(e, "tid")), pid);
    }
    json_t *a = thread_in(f, "transfer_worker"), *b = thread_in(f, "audit_worker");
    ck_assert_msg(a && b, "the cycle's stacks do not name transfer_worker and audit_worker");
    ck_assert_str_eq(json_string_value(json_object_get(a, "role")), "cycle");
    ck_assert_str_eq(json_string_value(json_object_get(b, "role")), "cycle");
    ck_assert_str_eq(blocked_kind(a), "mutex");
    /* Each holds the mutex the other waits for, read from the mutex's owner word. */
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(a, "blocked_on"), "owner")),
                     json_integer_value(json_object_get(b, "tid")));
    ck_assert_int_eq(json_array_size(json_object_get(a, "holds")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(f, "summary")),
                     "2 threads wait on each other through 2 mutexes");
}

START_TEST(test_attach_proves_two_thread_mutex_cycle)
{
    need_attach();
    struct e2e_run r;
    start_prog(&r, "att_mutex_cycle", NULL);
    json_t *doc = attach_json("attach-mutex", r.pid, 66);
    check_mutex_cycle(only_finding(doc), r.pid);
    json_decref(doc);
    assert_running(r.pid);
    /* The text report too, and the same exit code as `poolguard report`. */
    char p[16];
    snprintf(p, sizeof p, "%d", (int)r.pid);
    char *args[] = { "poolguard", "attach", p, NULL };
    char *out, *err;
    ck_assert_int_eq(run_poolguard("attach-mutex-text", args, &out, &err), 66);
    ck_assert_msg(strstr(out, "2 threads wait on each other through 2 mutexes") &&
                      strstr(out, "transfer_worker"),
                  "text report: %s", out);
    free(out);
    free(err);
    assert_running(r.pid);
    e2e_run_kill(&r);
    tu_rmtree(r.work);
}
END_TEST

START_TEST(test_attach_proves_cycle_of_mutex_and_joins)
{
    need_attach();
    struct e2e_run r;
    start_prog(&r, "att_join_ring", NULL);
    json_t *doc = attach_json("attach-join", r.pid, 66);
    json_t *f = only_finding(doc);
    ck_assert_str_eq(json_string_value(json_object_get(f, "summary")),
                     "3 threads wait on each other through 1 mutex and 2 joins");
    ck_assert_int_eq(json_array_size(json_object_get(f, "cycle")), 3);
    json_t *m = thread_in(f, "main"), *l = thread_in(f, "loader_thread"),
           *x = thread_in(f, "indexer_thread");
    ck_assert_msg(m && l && x, "the stacks do not name main, loader_thread and indexer_thread");
    ck_assert_str_eq(blocked_kind(m), "join");
    ck_assert_str_eq(blocked_kind(l), "join");
    ck_assert_str_eq(blocked_kind(x), "mutex");
    ck_assert_int_eq(json_integer_value(
                         json_object_get(json_object_get(m, "blocked_on"), "target")),
                     json_integer_value(json_object_get(l, "tid")));
    ck_assert_int_eq(json_integer_value(
                         json_object_get(json_object_get(l, "blocked_on"), "target")),
                     json_integer_value(json_object_get(x, "tid")));
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(x, "blocked_on"), "owner")),
                     r.pid);
    json_decref(doc);
    assert_running(r.pid);
    e2e_run_kill(&r);
    tu_rmtree(r.work);
}
END_TEST

static void check_rwlock_cycle(json_t *f, pid_t pid)
{
    ck_assert_str_eq(json_string_value(json_object_get(f, "summary")),
                     "3 threads wait on each other through 1 mutex, 1 rwlock (write) and 1 join");
    ck_assert_int_eq(json_array_size(json_object_get(f, "cycle")), 3);
    ck_assert_int_eq(json_array_size(json_object_get(f, "threads")), 3);
    json_t *m = thread_in(f, "main"), *p = thread_in(f, "publisher_thread"),
           *c = thread_in(f, "compactor_thread");
    ck_assert_msg(m && p && c,
                  "the stacks do not name main, publisher_thread and compactor_thread");
    ck_assert_int_eq(json_integer_value(json_object_get(m, "tid")), pid);
    ck_assert_str_eq(blocked_kind(m), "join");
    ck_assert_str_eq(blocked_kind(p), "mutex");
    ck_assert_str_eq(blocked_kind(c), "rwlock_write");
    ck_assert_int_eq(json_integer_value(
                         json_object_get(json_object_get(m, "blocked_on"), "target")),
                     json_integer_value(json_object_get(p, "tid")));
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(p, "blocked_on"), "owner")),
                     json_integer_value(json_object_get(c, "tid")));
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(c, "blocked_on"), "owner")),
                     pid);
    /* main is shown holding the rwlock it write-locked. */
    json_t *holds = json_object_get(m, "holds");
    ck_assert_int_eq(json_array_size(holds), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(holds, 0), "kind")),
                     "rwlock_write");
}

/* main write-locks `catalog` and joins the publisher, which waits for `journal`, held by the
 * compactor, which waits to write-lock `catalog`. The rwlock edge comes from the writer's tid glibc
 * keeps in the lock (a read-held rwlock names no holder, so that shape cannot be proven). */
START_TEST(test_attach_proves_cycle_through_rwlock_mutex_and_join)
{
    need_attach();
    struct e2e_run r;
    start_prog(&r, "att_rwlock_cycle", NULL);
    json_t *doc = attach_json("attach-rwlock", r.pid, 66);
    check_rwlock_cycle(only_finding(doc), r.pid);
    json_decref(doc);
    assert_running(r.pid);
    e2e_run_kill(&r);
    tu_rmtree(r.work);
}
END_TEST

START_TEST(test_attach_shows_pool_stuck_on_itself)
{
    need_attach();
    struct e2e_run r;
    start_prog(&r, "att_pool_self", NULL);
    json_t *doc = attach_json("attach-pool", r.pid, 66);
    json_t *f = only_finding(doc);
    ck_assert_msg(json_is_true(json_object_get(f, "hang")) ||
                      strstr(json_string_value(json_object_get(f, "summary")), "all 4 threads"),
                  "not a whole-program hang: %s", json_string_value(json_object_get(f, "summary")));
    json_t *threads = json_object_get(f, "threads");
    ck_assert_int_eq(json_array_size(threads), 4);
    int workers = 0;
    size_t i;
    json_t *t;
    json_array_foreach (threads, i, t) {
        json_t *names = e2e_stack_function_names(json_object_get(t, "stack"));
        ck_assert_msg(e2e_names_have(names, "wait_task"), "a thread not in wait_task");
        if (e2e_names_have(names, "pool_worker")) {
            ck_assert_msg(e2e_names_have(names, "parent_task"), "a worker not in parent_task");
            ck_assert_str_eq(blocked_kind(t), "cond");
            workers++;
        }
        json_decref(names);
    }
    ck_assert_int_eq(workers, 3);
    json_decref(doc);
    assert_running(r.pid);
    e2e_run_kill(&r);
    tu_rmtree(r.work);
}
END_TEST

START_TEST(test_attach_100_times_leaves_busy_program_unchanged)
{
    need_attach();
    /* What the program prints and returns when nobody attaches. */
    struct e2e_run ref;
    char *quick[] = { "100", "4", NULL };
    start_prog(&ref, "att_busy", quick);
    ck_assert(e2e_run_wait(&ref, E2E_HEALTHY_EXIT_MS));
    char *want = e2e_run_stdout(&ref);
    int want_status = ref.status;
    tu_rmtree(ref.work);

    struct e2e_run r;
    char stop[PATH_MAX];
    snprintf(stop, sizeof stop, "/tmp/poolguard-att-stop-%d", (int)getpid());
    unlink(stop);
    char *args[] = { "120000", "4", stop, NULL };
    start_prog(&r, "att_busy", args);
    for (int k = 0; k < 100; k++) {
        json_t *doc = attach_json("attach-busy", r.pid, 0);
        ck_assert_msg(json_array_size(json_object_get(doc, "findings")) == 0,
                      "attach %d found something in a healthy program", k);
        json_decref(doc);
        ck_assert_msg(!e2e_run_wait(&r, 0), "the program ended while being attached to (%d)", k);
    }
    assert_running(r.pid);
    FILE *f = fopen(stop, "w");
    ck_assert(f != NULL);
    fclose(f);
    ck_assert_msg(e2e_run_wait(&r, E2E_HEALTHY_EXIT_MS), "the program did not finish");
    unlink(stop);
    char *got = e2e_run_stdout(&r);
    ck_assert_str_eq(got, want);
    ck_assert_int_eq(r.status, want_status);
    free(got);
    free(want);
    tu_rmtree(r.work);
}
END_TEST

/* gcore of a running test program, read by `poolguard core --raw --format json`: exit 66, the raw
 * report checked against the format. Returns the document. */
static json_t *core_json(struct e2e_run *r, const char *prog)
{
    if (system("command -v gcore >/dev/null 2>&1") != 0)
        ck_abort_msg("gcore is not installed (it comes with gdb: run make deps)");
    char core[PATH_MAX + 32], cmd[PATH_MAX * 2];
    snprintf(cmd, sizeof cmd, "timeout 60 gcore -o %s/core %d >/dev/null 2>&1", r->work,
             (int)r->pid);
    ck_assert_msg(system(cmd) == 0, "gcore failed: %s", cmd);
    snprintf(core, sizeof core, "%s/core.%d", r->work, (int)r->pid);
    assert_running(r->pid);
    char exe[PATH_MAX];
    tu_prog_path(exe, sizeof exe, prog);
    char dir[64], raw[128];
    raw_report_path(dir, sizeof dir, raw, sizeof raw, "core");
    char *args[] = { "poolguard", "core", "--raw", raw, "--format", "json", core, exe, NULL };
    char *out, *err;
    int st = run_poolguard(prog, args, &out, &err);
    ck_assert_msg(st == 66, "core of %s: exit status %d; stderr: %s", prog, st, err);
    ck_assert_msg(access(raw, R_OK) == 0, "core --raw wrote no %s", raw);
    tu_rmtree(dir); /* checks the raw report against the format */
    json_t *doc = parse_json(prog, out);
    free(out);
    free(err);
    return doc;
}

/* The core's finding is attach's: the same signature (what baselines and suppressions match). */
static void assert_same_signature(json_t *core_finding, pid_t pid)
{
    json_t *live = attach_json("attach-for-core", pid, 66);
    ck_assert_str_eq(json_string_value(json_object_get(core_finding, "signature")),
                     json_string_value(json_object_get(only_finding(live), "signature")));
    json_decref(live);
}

START_TEST(test_core_of_mutex_cycle_gives_same_finding)
{
    need_attach();
    struct e2e_run r;
    start_prog(&r, "att_mutex_cycle", NULL);
    json_t *doc = core_json(&r, "att_mutex_cycle");
    json_t *f = only_finding(doc);
    check_mutex_cycle(f, r.pid);
    assert_same_signature(f, r.pid);
    json_decref(doc);
    e2e_run_kill(&r);
    tu_rmtree(r.work);
}
END_TEST

START_TEST(test_core_of_rwlock_cycle_gives_same_finding)
{
    need_attach();
    struct e2e_run r;
    start_prog(&r, "att_rwlock_cycle", NULL);
    json_t *doc = core_json(&r, "att_rwlock_cycle");
    json_t *f = only_finding(doc);
    check_rwlock_cycle(f, r.pid);
    assert_same_signature(f, r.pid);
    json_decref(doc);
    e2e_run_kill(&r);
    tu_rmtree(r.work);
}
END_TEST

static void expect_error(const char *label, char *const args[], const char *needle)
{
    char *out, *err;
    int st = run_poolguard(label, args, &out, &err);
    ck_assert_msg(st == 125, "%s: exit status %d, expected 125", label, st);
    ck_assert_msg(e2e_has_poolguard_line(err, "error:") && strstr(err, needle),
                  "%s: stderr lacks '%s': %s", label, needle, err);
    free(out);
    free(err);
}

START_TEST(test_attach_and_core_errors_exit_125)
{
    char *no_pid[] = { "poolguard", "attach", "2147483", NULL };
    expect_error("attach-nopid", no_pid, "no process");
    char *bad_pid[] = { "poolguard", "attach", "12x", NULL };
    expect_error("attach-badpid", bad_pid, "not a process id");
    char *no_core[] = { "poolguard", "core", "/nonexistent/core", NULL };
    expect_error("core-missing", no_core, "cannot read");
    char *not_core[] = { "poolguard", "core", "/etc/passwd", NULL };
    expect_error("core-notcore", not_core, "not a core dump");
    need_attach();
    /* Already traced: by this test process. */
    struct e2e_run r;
    start_prog(&r, "att_mutex_cycle", NULL);
    ck_assert_int_eq(ptrace(PTRACE_SEIZE, r.pid, NULL, NULL), 0);
    char p[16];
    snprintf(p, sizeof p, "%d", (int)r.pid);
    char *traced[] = { "poolguard", "attach", p, NULL };
    expect_error("attach-traced", traced, "already traced");
    ck_assert_int_eq(ptrace(PTRACE_INTERRUPT, r.pid, NULL, NULL), 0);
    int st;
    ck_assert_int_eq(waitpid(r.pid, &st, __WALL), r.pid);
    ck_assert_int_eq(ptrace(PTRACE_DETACH, r.pid, NULL, NULL), 0);
    e2e_run_kill(&r);
    tu_rmtree(r.work);
    /* A process that has exited but is not reaped yet: its pid is there, nothing else is. */
    pid_t z = fork();
    if (z == 0)
        _exit(0);
    ck_assert_int_gt(z, 0);
    siginfo_t si;
    ck_assert_int_eq(waitid(P_PID, (id_t)z, &si, WEXITED | WNOWAIT), 0);
    snprintf(p, sizeof p, "%d", (int)z);
    char *zombie[] = { "poolguard", "attach", p, NULL };
    expect_error("attach-zombie", zombie, "has exited");
    ck_assert_int_eq(waitpid(z, &st, 0), z);
}
END_TEST

START_TEST(test_attach_interrupted_leaves_process_running)
{
    need_attach();
    /* poolguard killed by SIGINT or SIGTERM at any moment: the target goes on. */
    struct e2e_run r;
    char *args[] = { "60000", "50", NULL };
    start_prog(&r, "att_busy", args);
    char p[16];
    snprintf(p, sizeof p, "%d", (int)r.pid);
    char *argv[] = { "poolguard", "attach", p, NULL };
    for (int k = 0; k < 20; k++) {
        struct e2e_run a;
        e2e_run_init(&a, "attach-sigint");
        e2e_run_start(&a, poolguard(), argv, false, NULL);
        /* Signalled once it runs poolguard (before the exec it is a copy of this test). */
        char comm[64];
        snprintf(comm, sizeof comm, "/proc/%d/comm", (int)a.pid);
        for (int w = 0; w < 1000; w++) {
            char *c = tu_slurp_maybe(comm, NULL);
            bool ours = c && strncmp(c, "poolguard", 9) == 0;
            free(c);
            if (ours)
                break;
            struct timespec ts = { 0, 100000 };
            nanosleep(&ts, NULL);
        }
        tu_sleep_ms(k % 5);
        kill(a.pid, k % 2 ? SIGINT : SIGTERM);
        ck_assert(e2e_run_wait(&a, ATT_RUN_MS));
        tu_rmtree(a.work);
        tu_sleep_ms(5);
        assert_running(r.pid);
    }
    e2e_run_kill(&r);
    tu_rmtree(r.work);
}
END_TEST

Suite *attach_suite(void)
{
    Suite *s = suite_create("attach");
    TCase *tc = tcase_create("attach");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_attach_proves_two_thread_mutex_cycle);
    tcase_add_test(tc, test_attach_proves_cycle_of_mutex_and_joins);
    tcase_add_test(tc, test_attach_proves_cycle_through_rwlock_mutex_and_join);
    tcase_add_test(tc, test_attach_shows_pool_stuck_on_itself);
    tcase_add_test(tc, test_attach_100_times_leaves_busy_program_unchanged);
    tcase_add_test(tc, test_core_of_mutex_cycle_gives_same_finding);
    tcase_add_test(tc, test_core_of_rwlock_cycle_gives_same_finding);
    tcase_add_test(tc, test_attach_and_core_errors_exit_125);
    tcase_add_test(tc, test_attach_interrupted_leaves_process_running);
    suite_add_tcase(s, tc);
    return s;
}

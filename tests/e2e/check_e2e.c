/*
 * End-to-end tests of the shim: each program in tests/progs runs under LD_PRELOAD=libpoolguard.so
 * with a fresh POOLGUARD_DIR, its stdout and stderr captured to files, always under a hard time
 * limit of our own (Check's time-out is only the last resort).
 *
 * Programs that deadlock on purpose (dl_*): we wait for a raw report with a finding, wait a little
 * longer (a finding must be reported once, not once per scan), kill the program's process group,
 * then check two things. First the raw report, the shim's contract (docs/report-format.md): header,
 * module map, the finding's kind, severity, cycle or hang, what each thread waits on and holds, and
 * the program's own function names in the stacks, which we symbolize ourselves from the module map
 * and `nm` of the binary. Then the analyzer's rendering (`poolguard report --format json`) of the
 * same directory: kind, severity, cycle, blocked_on kinds, and the same function names.
 *
 * Healthy programs (ok_*): run once natively and once under the shim; they must exit by themselves,
 * with the same stdout and exit status, and leave no finding.
 *
 * Helpers (running programs, reading reports, symbolizing) are in check_e2e_util.c. Processes are
 * always killed and reaped before any assertion runs. Report directories of failed tests are
 * left in /tmp for inspection; their paths are in the failure messages.
 */
#include "check_e2e_util.h"
#include "pg_format.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

enum {
    STARTUP_MS = 10000,          /* a deadlocking program must print its first lines this soon */
    DEADLOCK_REPORT_MS = 3000,   /* then a finding must be on disk this soon */
    SETTLE_MS = 500,             /* then we watch this long for duplicate findings */
    MAX_GROUP = 4,
};

/* ------------------------------------------------------------------------------------------ */
/* What a deadlock test expects                                                               */

struct dl_case {
    const char *label;
    const char *prog;
    const char *arg;                  /* one optional argument */
    const char *first_line;           /* what the program prints first on stdout */
    size_t cycle_len;                 /* 0: a whole-program hang (no cycle, "hang": true) */
    bool may_be_hang;                 /* a cycle, or (if the shim cannot learn the waker) a hang */
    const char *kinds;                /* blocked_on kinds of the cycle/hang threads, sorted, ','-joined */
    const char *stacks[6][MAX_GROUP]; /* each group of names: all in the stack of one thread */
    const char *names[4];             /* thread names that must appear among the finding's threads */
    const char *main_role;            /* role of the main thread in the finding; NULL: not checked */
    bool forks;                       /* the deadlock is in a child process */
};

static const struct dl_case lock_inversion = {
    .label = "lock_inversion", .prog = "dl_lock_inversion", .first_line = "dl_lock_inversion: start\n",
    .cycle_len = 2, .kinds = "mutex,mutex",
    .stacks = { { "thread_a", "lock_second" }, { "thread_b", "lock_second" } },
    .names = { "inv-a", "inv-b" }, .main_role = "blocked",
};

static const struct dl_case ring3 = {
    .label = "ring3", .prog = "dl_ring3", .first_line = "dl_ring3: start\n",
    .cycle_len = 3, .kinds = "mutex,mutex,mutex",
    .stacks = { { "ring_thread_0", "ring_lock_next" }, { "ring_thread_1", "ring_lock_next" },
                { "ring_thread_2", "ring_lock_next" } },
    .names = { "ring-0", "ring-1", "ring-2" }, .main_role = "blocked",
};

static const struct dl_case rwlock = {
    .label = "rwlock", .prog = "dl_rwlock", .first_line = "dl_rwlock: start\n",
    .cycle_len = 2, .kinds = "mutex,rwlock_write",
    .stacks = { { "reader_thread", "reader_wants_mutex" }, { "writer_thread", "writer_wants_write_lock" } },
    .main_role = "blocked",
};

static const struct dl_case join_holding = {
    .label = "join_holding", .prog = "dl_join_holding", .first_line = "dl_join_holding: start\n",
    .cycle_len = 2, .kinds = "join,mutex",
    .stacks = { { "main", "join_while_holding" }, { "worker_needs_lock" } },
    .main_role = "cycle",
};

static const struct dl_case self_relock = {
    .label = "self_relock", .prog = "dl_self_relock", .first_line = "dl_self_relock: start\n",
    .cycle_len = 1, .kinds = "mutex",
    .stacks = { { "main", "update_state", "relock_again" } },
    .main_role = "cycle",
};

static const struct dl_case self_relock_threaded = {
    .label = "self_relock_threaded", .prog = "dl_self_relock", .arg = "threaded",
    .first_line = "dl_self_relock: start threaded\n",
    .cycle_len = 1, .kinds = "mutex",
    .stacks = { { "self_relock_thread", "update_state", "relock_again" } },
    .main_role = "blocked",
};

static const struct dl_case cond_hang = {
    .label = "cond_hang", .prog = "dl_cond_hang", .first_line = "dl_cond_hang: start\n",
    .cycle_len = 0, .kinds = "cond,cond,cond,sem",
    .stacks = { { "cond_waiter_thread", "wait_for_work" }, { "sem_waiter_thread", "wait_for_token" },
                { "main", "wait_for_shutdown" } },
    .main_role = "hang",
};

static const struct dl_case future_promise = {
    .label = "future_promise", .prog = "dl_future", .first_line = "dl_future: start promise\n",
    .cycle_len = 2, .may_be_hang = true, .kinds = "futex,mutex",
    .stacks = { { "main", "waits_on_future" }, { "fulfil_promise_thread" } },
};

static const struct dl_case future_async = {
    .label = "future_async", .prog = "dl_future", .arg = "async", .first_line = "dl_future: start async\n",
    .cycle_len = 2, .kinds = "join,mutex",
    .stacks = { { "main", "waits_on_future" }, { "async_task_needs_lock" } },
    .main_role = "cycle",
};

static const struct dl_case fork_child = {
    .label = "fork_child", .prog = "dl_fork_child", .first_line = "dl_fork_child: start\n",
    .cycle_len = 2, .kinds = "mutex,mutex",
    .stacks = { { "child_thread_a", "child_lock_second" }, { "child_thread_b", "child_lock_second" } },
    .main_role = "blocked", .forks = true,
};

static const struct dl_case after_churn = {
    .label = "after_churn", .prog = "dl_after_churn",
    .first_line = "dl_after_churn: start\nchurned 3000 threads\n",
    .cycle_len = 2, .kinds = "mutex,mutex",
    .stacks = { { "churn_thread_a", "churn_lock_second" }, { "churn_thread_b", "churn_lock_second" } },
    .main_role = "blocked",
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The blocked_on kinds of the threads with `role`, sorted and joined with ','. */
static void kinds_of_role(json_t *threads, const char *role, char *buf, size_t size)
{
    const char *kinds[64];
    size_t n = 0, i;
    json_t *t;
    json_array_foreach(threads, i, t) {
        const char *r = json_string_value(json_object_get(t, "role"));
        if (!r || strcmp(r, role) != 0 || n == 64)
            continue;
        const char *k = json_string_value(json_object_get(json_object_get(t, "blocked_on"), "kind"));
        kinds[n++] = k ? k : "(none)";
    }
    qsort(kinds, n, sizeof kinds[0], cmp_str);
    buf[0] = '\0';
    for (i = 0; i < n; i++) {
        strncat(buf, kinds[i], size - strlen(buf) - 1);
        if (i + 1 < n)
            strncat(buf, ",", size - strlen(buf) - 1);
    }
}

static json_t *thread_by_tid(json_t *threads, json_int_t tid)
{
    size_t i;
    json_t *t;
    json_array_foreach(threads, i, t)
        if (json_integer_value(json_object_get(t, "tid")) == tid)
            return t;
    return NULL;
}

/*
 * `per_thread` is an array (one per thread of the finding) of arrays of function names. Each group
 * of c->stacks must be found entirely in one thread's names.
 */
static void check_stack_groups(const struct dl_case *c, json_t *per_thread, const char *who,
                               const char *dir)
{
    for (int g = 0; g < 6 && c->stacks[g][0]; g++) {
        bool found = false;
        size_t i;
        json_t *names;
        json_array_foreach(per_thread, i, names) {
            bool all = true;
            for (int k = 0; k < MAX_GROUP && c->stacks[g][k]; k++)
                all = all && e2e_names_have(names, c->stacks[g][k]);
            if (all) {
                found = true;
                break;
            }
        }
        if (!found) {
            char *dump = json_dumps(per_thread, JSON_COMPACT);
            ck_abort_msg("%s: %s: no thread's stack has %s%s%s%s%s; the program's functions per "
                         "thread: %s (reports in %s)",
                         c->label, who, c->stacks[g][0], c->stacks[g][1] ? " + " : "",
                         c->stacks[g][1] ? c->stacks[g][1] : "", c->stacks[g][2] ? " + " : "",
                         c->stacks[g][2] ? c->stacks[g][2] : "", dump ? dump : "?", dir);
            free(dump);
        }
    }
}

static void check_thread_names(const struct dl_case *c, json_t *threads, const char *who,
                               const char *dir)
{
    for (int i = 0; i < 4 && c->names[i]; i++) {
        bool found = false;
        size_t j;
        json_t *t;
        json_array_foreach(threads, j, t) {
            const char *name = json_string_value(json_object_get(t, "name"));
            if (name && strcmp(name, c->names[i]) == 0)
                found = true;
        }
        ck_assert_msg(found, "%s: %s: no thread named \"%s\" in the finding (reports in %s)", c->label,
                      who, c->names[i], dir);
    }
}

static void check_main_role(const struct dl_case *c, json_t *threads, const char *who, const char *dir)
{
    if (!c->main_role)
        return;
    size_t i;
    json_t *t;
    json_array_foreach(threads, i, t) {
        if (json_is_true(json_object_get(t, "main"))) {
            const char *role = json_string_value(json_object_get(t, "role"));
            ck_assert_msg(role && strcmp(role, c->main_role) == 0,
                          "%s: %s: main thread has role \"%s\", expected \"%s\" (reports in %s)",
                          c->label, who, role ? role : "(none)", c->main_role, dir);
            return;
        }
    }
    ck_abort_msg("%s: %s: the main thread (role \"%s\" expected) is missing from the finding "
                 "(reports in %s)", c->label, who, c->main_role, dir);
}

/* ------------------------------------------------------------------------------------------ */
/* Checking a raw report against docs/report-format.md                                          */

static void check_raw_header(const struct dl_case *c, const struct e2e_report *rp, pid_t pid,
                             pid_t ppid_or_0, const char *dir)
{
    json_t *h = rp->header;
    ck_assert_msg(rp->first_is_header && h, "%s: %s: first line is not a header", c->label, rp->path);
    ck_assert_msg(rp->headers == 1, "%s: %s: %d header lines", c->label, rp->path, rp->headers);
    ck_assert_msg(rp->bad_lines == 0, "%s: %s: %d lines are not JSON objects with a type", c->label,
                  rp->path, rp->bad_lines);
    const char *format = json_string_value(json_object_get(h, "format"));
    ck_assert_msg(format && strcmp(format, PG_FORMAT_NAME) == 0, "%s: header format is %s",
                  c->label, format ? format : "(none)");
    ck_assert_msg(json_integer_value(json_object_get(h, "version")) == PG_FORMAT_VERSION,
                  "%s: header version is not %d", c->label, PG_FORMAT_VERSION);
    json_int_t hpid = json_integer_value(json_object_get(h, "pid"));
    if (pid > 0)
        ck_assert_msg(hpid == pid, "%s: header pid %lld, program pid %d", c->label, (long long)hpid,
                      (int)pid);
    if (ppid_or_0 > 0) {
        ck_assert_msg(hpid != ppid_or_0, "%s: the finding is in the parent's report, expected the "
                      "child's (reports in %s)", c->label, dir);
        ck_assert_msg(json_integer_value(json_object_get(h, "ppid")) == ppid_or_0,
                      "%s: child's report: header ppid %lld, parent pid %d", c->label,
                      (long long)json_integer_value(json_object_get(h, "ppid")), (int)ppid_or_0);
    }
    const char *exe = json_string_value(json_object_get(h, "exe"));
    ck_assert_msg(exe && strcmp(e2e_base_name(exe), c->prog) == 0, "%s: header exe is %s", c->label,
                  exe ? exe : "(none)");
    json_t *argv = json_object_get(h, "argv");
    ck_assert_msg(json_is_array(argv) && json_array_size(argv) == (c->arg ? 2u : 1u),
                  "%s: header argv should have %d elements", c->label, c->arg ? 2 : 1);
    const char *argv0 = json_string_value(json_array_get(argv, 0));
    ck_assert_msg(argv0 && strcmp(e2e_base_name(argv0), c->prog) == 0, "%s: header argv[0] is %s",
                  c->label, argv0 ? argv0 : "(none)");
    if (c->arg) {
        const char *argv1 = json_string_value(json_array_get(argv, 1));
        ck_assert_msg(argv1 && strcmp(argv1, c->arg) == 0, "%s: header argv[1] is %s", c->label,
                      argv1 ? argv1 : "(none)");
    }
    ck_assert_msg(json_is_integer(json_object_get(h, "start_unix_ms")), "%s: header start_unix_ms",
                  c->label);
    ck_assert_msg(json_is_integer(json_object_get(h, "interval_ms")), "%s: header interval_ms",
                  c->label);

    /* poolguard.<exe-name>.<pid>.jsonl, owner-only. */
    char want[PATH_MAX];
    snprintf(want, sizeof want, "poolguard.%s.%lld.", c->prog, (long long)hpid);
    ck_assert_msg(e2e_starts_with(e2e_base_name(rp->path), want), "%s: report file is named %s, expected %s...",
                  c->label, e2e_base_name(rp->path), want);
    ck_assert_msg(S_ISREG(rp->mode) && (rp->mode & 077) == 0,
                  "%s: report file %s has mode %o: must be a regular file readable only by the user",
                  c->label, rp->path, (unsigned)(rp->mode & 07777));

    bool have_prog = false;
    size_t i;
    json_t *m;
    json_array_foreach(rp->modules, i, m) {
        unsigned long base, start, end;
        const char *path = json_string_value(json_object_get(m, "path"));
        ck_assert_msg(path && e2e_parse_addr(json_object_get(m, "base"), &base) &&
                      e2e_parse_addr(json_object_get(m, "start"), &start) &&
                      e2e_parse_addr(json_object_get(m, "end"), &end) && start < end,
                      "%s: malformed module line (path, base, start, end as \"0x..\" strings)", c->label);
        if (strcmp(e2e_base_name(path), c->prog) == 0)
            have_prog = true;
    }
    ck_assert_msg(have_prog, "%s: no module line for the program itself (%s) in %s", c->label, c->prog,
                  rp->path);
}

static void check_raw_thread(const struct dl_case *c, json_t *t, const char *dir)
{
    json_int_t tid = json_integer_value(json_object_get(t, "tid"));
    ck_assert_msg(tid > 0, "%s: thread without a tid (reports in %s)", c->label, dir);
    const char *role = json_string_value(json_object_get(t, "role"));
    ck_assert_msg(role && (strcmp(role, "cycle") == 0 || strcmp(role, "blocked") == 0 ||
                           strcmp(role, "hang") == 0),
                  "%s: thread %lld has role %s", c->label, (long long)tid, role ? role : "(none)");
    json_t *b = json_object_get(t, "blocked_on");
    unsigned long addr;
    ck_assert_msg(json_is_object(b) && json_string_value(json_object_get(b, "kind")) &&
                  e2e_parse_addr(json_object_get(b, "address"), &addr),
                  "%s: thread %lld: blocked_on needs kind and an \"0x..\" address", c->label,
                  (long long)tid);
    ck_assert_msg(json_is_false(json_object_get(b, "timed")), "%s: thread %lld: blocked_on.timed "
                  "should be false (every wait in these programs is untimed)", c->label, (long long)tid);
    json_t *since = json_object_get(b, "since_ms");
    ck_assert_msg(json_is_integer(since) && json_integer_value(since) >= 0,
                  "%s: thread %lld: blocked_on.since_ms", c->label, (long long)tid);
    json_t *stack = json_object_get(t, "stack");
    ck_assert_msg(json_is_array(stack) && json_array_size(stack) > 0, "%s: thread %lld: empty stack",
                  c->label, (long long)tid);
    size_t i;
    json_t *pc;
    json_array_foreach(stack, i, pc)
        ck_assert_msg(e2e_parse_addr(pc, &addr), "%s: thread %lld: stack[%zu] is not an \"0x..\" string",
                      c->label, (long long)tid, i);
    json_t *holds = json_object_get(t, "holds");
    ck_assert_msg(holds == NULL || json_is_array(holds), "%s: thread %lld: holds is not an array",
                  c->label, (long long)tid);
}

static bool holds_address(json_t *thread, const char *address)
{
    size_t i;
    json_t *h;
    json_array_foreach(json_object_get(thread, "holds"), i, h) {
        const char *a = json_string_value(json_object_get(h, "address"));
        if (a && strcmp(a, address) == 0)
            return true;
    }
    return false;
}

static void check_raw_cycle(const struct dl_case *c, json_t *f, json_t *threads, const char *dir)
{
    json_t *cycle = json_object_get(f, "cycle");
    size_t n = json_array_size(cycle);
    ck_assert_msg(json_is_array(cycle) && n == c->cycle_len, "%s: cycle has %zu elements, expected "
                  "%zu (reports in %s)", c->label, n, c->cycle_len, dir);
    size_t cycle_threads = 0, i;
    json_t *t;
    json_array_foreach(threads, i, t) {
        const char *role = json_string_value(json_object_get(t, "role"));
        if (role && strcmp(role, "cycle") == 0)
            cycle_threads++;
    }
    ck_assert_msg(cycle_threads == n, "%s: %zu threads have role \"cycle\", the cycle has %zu",
                  c->label, cycle_threads, n);

    json_t *e;
    json_array_foreach(cycle, i, e) {
        json_int_t tid = json_integer_value(json_object_get(e, "tid"));
        json_int_t waits_for = json_integer_value(json_object_get(e, "waits_for"));
        const char *kind = json_string_value(json_object_get(e, "kind"));
        const char *address = json_string_value(json_object_get(e, "address"));
        json_t *next = json_array_get(cycle, (i + 1) % n);
        ck_assert_msg(kind && address, "%s: cycle[%zu] needs kind and address", c->label, i);
        ck_assert_msg(waits_for == json_integer_value(json_object_get(next, "tid")),
                      "%s: cycle[%zu] waits for %lld but the next element is thread %lld: not a chain",
                      c->label, i, (long long)waits_for,
                      (long long)json_integer_value(json_object_get(next, "tid")));

        json_t *waiter = thread_by_tid(threads, tid);
        ck_assert_msg(waiter != NULL, "%s: cycle thread %lld is not in threads[]", c->label,
                      (long long)tid);
        json_t *b = json_object_get(waiter, "blocked_on");
        const char *bkind = json_string_value(json_object_get(b, "kind"));
        const char *baddr = json_string_value(json_object_get(b, "address"));
        ck_assert_msg(bkind && strcmp(bkind, kind) == 0 && baddr && strcmp(baddr, address) == 0,
                      "%s: thread %lld: blocked_on (%s %s) differs from its cycle element (%s %s)",
                      c->label, (long long)tid, bkind ? bkind : "?", baddr ? baddr : "?", kind, address);

        json_t *holder = thread_by_tid(threads, waits_for);
        ck_assert_msg(holder != NULL, "%s: thread %lld waited for by the cycle is not in threads[]",
                      c->label, (long long)waits_for);
        if (strcmp(kind, "mutex") == 0) {
            json_t *owner = json_object_get(b, "owner");
            ck_assert_msg(json_integer_value(owner) == waits_for, "%s: thread %lld waits on a mutex: "
                          "blocked_on.owner is %lld, expected %lld", c->label, (long long)tid,
                          (long long)json_integer_value(owner), (long long)waits_for);
        }
        if (strcmp(kind, "join") == 0) {
            json_t *target = json_object_get(b, "target");
            ck_assert_msg(json_integer_value(target) == waits_for, "%s: thread %lld joins: "
                          "blocked_on.target is %lld, expected %lld", c->label, (long long)tid,
                          (long long)json_integer_value(target), (long long)waits_for);
        }
        if (strcmp(kind, "mutex") == 0 || e2e_starts_with(kind, "rwlock")) {
            ck_assert_msg(holds_address(holder, address), "%s: thread %lld waits on %s %s held by "
                          "thread %lld, whose holds[] does not list it (reports in %s)", c->label,
                          (long long)tid, kind, address, (long long)waits_for, dir);
        }
    }
}

static void check_raw_report(const struct dl_case *c, struct e2e_reports *rs, pid_t pid, const char *dir)
{
    struct e2e_report *rp = e2e_reports_with_finding(rs);
    ck_assert_msg(rp != NULL, "%s: no finding in the raw reports (in %s)", c->label, dir);
    check_raw_header(c, rp, c->forks ? 0 : pid, c->forks ? pid : 0, dir);

    char all[4096];
    e2e_describe_findings(rs, all, sizeof all);
    ck_assert_msg(e2e_reports_count_findings(rs) == 1, "%s: expected exactly one finding (reported "
                  "once), got %zu: %s", c->label, e2e_reports_count_findings(rs), all);

    json_t *f = json_array_get(rp->findings, 0);
    const char *kind = json_string_value(json_object_get(f, "kind"));
    const char *severity = json_string_value(json_object_get(f, "severity"));
    const char *summary = json_string_value(json_object_get(f, "summary"));
    ck_assert_msg(kind && strcmp(kind, "deadlock") == 0, "%s: finding kind is %s, expected deadlock: %s",
                  c->label, kind ? kind : "(none)", all);
    ck_assert_msg(severity && strcmp(severity, "error") == 0, "%s: finding severity is %s, expected "
                  "error", c->label, severity ? severity : "(none)");
    ck_assert_msg(summary && *summary, "%s: finding has no summary", c->label);
    ck_assert_msg(json_is_integer(json_object_get(f, "seq")), "%s: finding has no seq", c->label);
    ck_assert_msg(json_is_integer(json_object_get(f, "time_unix_ms")), "%s: finding has no "
                  "time_unix_ms", c->label);

    json_t *threads = json_object_get(f, "threads");
    ck_assert_msg(json_is_array(threads) && json_array_size(threads) > 0, "%s: finding has no threads",
                  c->label);
    size_t i;
    json_t *t;
    json_array_foreach(threads, i, t)
        check_raw_thread(c, t, dir);

    bool hang = json_is_true(json_object_get(f, "hang"));
    char kinds[256];
    if (c->cycle_len == 0 || (c->may_be_hang && hang)) {
        ck_assert_msg(hang, "%s: expected a whole-program hang (\"hang\":true): %s", c->label, all);
        ck_assert_msg(json_object_get(f, "cycle") == NULL, "%s: a hang has no cycle", c->label);
        kinds_of_role(threads, "hang", kinds, sizeof kinds);
    } else {
        ck_assert_msg(!hang, "%s: expected a cycle, got a whole-program hang: %s", c->label, all);
        check_raw_cycle(c, f, threads, dir);
        kinds_of_role(threads, "cycle", kinds, sizeof kinds);
    }
    ck_assert_msg(strcmp(kinds, c->kinds) == 0, "%s: the %s threads wait on [%s], expected [%s] "
                  "(reports in %s)", c->label, hang ? "hang" : "cycle", kinds, c->kinds, dir);

    check_main_role(c, threads, "raw report", dir);
    check_thread_names(c, threads, "raw report", dir);

    /* The program's function names, symbolized from the module map and the binary's symbols. */
    char binary[PATH_MAX];
    e2e_prog_path(binary, sizeof binary, c->prog);
    struct e2e_symtab st;
    e2e_symtab_load(&st, binary);
    json_t *per_thread = json_array();
    json_array_foreach(threads, i, t)
        json_array_append_new(per_thread, e2e_raw_stack_functions(rp->modules, json_object_get(t, "stack"),
                                                              c->prog, &st));
    check_stack_groups(c, per_thread, "raw stacks", dir);
    json_decref(per_thread);
    e2e_symtab_free(&st);
}

/* ------------------------------------------------------------------------------------------ */
/* Checking the analyzer's rendering                                                          */

/* Runs `poolguard report --format json <dir>` and returns its parsed output. */
static void check_rendered(const struct dl_case *c, pid_t pid, const struct e2e_run *r)
{
    json_t *doc = e2e_analyzer_json(c->label, r);
    json_t *findings = json_object_get(doc, "findings");
    ck_assert_msg(json_is_array(findings), "%s: analyzer JSON has no findings[] (reports in %s)",
                  c->label, r->reports);
    json_t *f = NULL;
    size_t n = 0, i;
    json_t *x;
    json_array_foreach(findings, i, x) {
        const char *kind = json_string_value(json_object_get(x, "kind"));
        if (kind && strcmp(kind, "deadlock") == 0) {
            f = x;
            n++;
        }
    }
    ck_assert_msg(n == 1, "%s: analyzer: %zu deadlock findings, expected 1 (reports in %s)", c->label, n,
                  r->reports);
    const char *severity = json_string_value(json_object_get(f, "severity"));
    ck_assert_msg(severity && strcmp(severity, "error") == 0, "%s: analyzer: severity %s", c->label,
                  severity ? severity : "(none)");
    const char *summary = json_string_value(json_object_get(f, "summary"));
    ck_assert_msg(summary && *summary, "%s: analyzer: no summary", c->label);
    if (!c->forks)
        ck_assert_msg(json_integer_value(json_object_get(f, "pid")) == pid, "%s: analyzer: pid %lld, "
                      "expected %d", c->label, (long long)json_integer_value(json_object_get(f, "pid")),
                      (int)pid);
    const char *exe = json_string_value(json_object_get(f, "exe"));
    ck_assert_msg(exe && strcmp(e2e_base_name(exe), c->prog) == 0, "%s: analyzer: exe %s", c->label,
                  exe ? exe : "(none)");

    json_t *threads = json_object_get(f, "threads");
    ck_assert_msg(json_is_array(threads) && json_array_size(threads) > 0, "%s: analyzer: no threads",
                  c->label);
    json_t *cycle = json_object_get(f, "cycle");
    bool hang = json_array_size(cycle) == 0;
    char kinds[256];
    if (c->cycle_len == 0 || (c->may_be_hang && hang)) {
        ck_assert_msg(hang, "%s: analyzer: expected no cycle (a hang)", c->label);
        kinds_of_role(threads, "hang", kinds, sizeof kinds);
    } else {
        ck_assert_msg(json_array_size(cycle) == c->cycle_len, "%s: analyzer: cycle of %zu, expected %zu",
                      c->label, json_array_size(cycle), c->cycle_len);
        kinds_of_role(threads, "cycle", kinds, sizeof kinds);
    }
    ck_assert_msg(strcmp(kinds, c->kinds) == 0, "%s: analyzer: threads wait on [%s], expected [%s]",
                  c->label, kinds, c->kinds);
    check_thread_names(c, threads, "analyzer", r->reports);

    json_t *per_thread = json_array();
    json_t *t;
    json_array_foreach(threads, i, t) {
        json_t *names = e2e_stack_function_names(json_object_get(t, "stack"));
        json_array_append_new(per_thread, names);
    }
    check_stack_groups(c, per_thread, "analyzer stacks", r->reports);
    json_decref(per_thread);
    json_decref(doc);
}

/* ------------------------------------------------------------------------------------------ */
/* The two kinds of test                                                                      */

/* Variations on a deadlock test; NULL means none. */
struct dl_opts {
    const char *const *env;     /* extra environment, "NAME=value", NULL-terminated */
    const char *warning;        /* must appear on a "poolguard:" line of stderr */
    long interval_ms;           /* the header's interval_ms must be this (0: not checked) */
};

/* Runs a deadlocking program under the shim and checks its raw report and the analyzer's view. */
static void run_deadlock_case(const struct dl_case *c, const struct dl_opts *o)
{
    struct e2e_run r;
    e2e_run_init(&r, c->label);
    char path[PATH_MAX];
    e2e_prog_path(path, sizeof path, c->prog);
    char *argv[] = { (char *)c->prog, (char *)c->arg, NULL };
    e2e_run_start(&r, path, argv, true, o ? o->env : NULL);

    bool started = e2e_wait_for_output(&r, c->first_line, STARTUP_MS);
    bool found = started && e2e_wait_for_finding(&r, DEADLOCK_REPORT_MS);
    bool exited_early = r.exited;
    if (found)
        e2e_sleep_ms(SETTLE_MS);    /* any duplicate would be written by now */
    bool exited_after = e2e_run_wait(&r, 0);
    e2e_run_kill(&r);
    pid_t pid = r.pid;

    /* Only now, with the program gone, may assertions end the test. */
    char *out = e2e_run_stdout(&r), *err = e2e_run_stderr(&r);
    ck_assert_msg(!exited_early, "%s: the program exited (status 0x%x) instead of deadlocking; "
                  "stderr: %.500s", c->label, r.status, err);
    ck_assert_msg(started, "%s: the program did not print \"%s\" within %d ms; stdout: \"%s\"",
                  c->label, c->first_line, STARTUP_MS, out);
    ck_assert_msg(found, "%s: no finding within %d ms of the deadlock (reports in %s); stderr: %.500s",
                  c->label, DEADLOCK_REPORT_MS, r.reports, err);
    ck_assert_msg(!exited_after, "%s: the program exited after the finding (the shim must keep it "
                  "running by default)", c->label);
    ck_assert_msg(strcmp(out, c->first_line) == 0, "%s: stdout is \"%s\", expected \"%s\"", c->label,
                  out, c->first_line);
    ck_assert_msg(e2e_has_poolguard_line(err, ""), "%s: no \"poolguard:\" line on stderr for the "
                  "finding; stderr: %.500s", c->label, err);
    if (o && o->warning)
        ck_assert_msg(e2e_has_poolguard_line(err, o->warning), "%s: no \"poolguard:\" warning mentioning "
                      "%s on stderr: %.500s", c->label, o->warning, err);
    free(out);
    free(err);

    struct e2e_reports rs;
    e2e_reports_load(&rs, r.reports);
    check_raw_report(c, &rs, pid, r.reports);
    if (o && o->interval_ms) {
        json_t *h = e2e_reports_with_finding(&rs)->header;
        ck_assert_msg(json_integer_value(json_object_get(h, "interval_ms")) == o->interval_ms,
                      "%s: header interval_ms is %lld, expected %ld", c->label,
                      (long long)json_integer_value(json_object_get(h, "interval_ms")), o->interval_ms);
    }
    e2e_reports_free(&rs);

    check_rendered(c, pid, &r);
    e2e_remove_tree(r.work);
}

/* ------------------------------------------------------------------------------------------ */
/* Tests                                                                                      */

START_TEST(test_lock_inversion_reports_two_thread_mutex_cycle)
{
    run_deadlock_case(&lock_inversion, NULL);
}
END_TEST

START_TEST(test_ring_of_three_reports_three_thread_cycle)
{
    run_deadlock_case(&ring3, NULL);
}
END_TEST

START_TEST(test_reader_vs_writer_reports_rwlock_mutex_cycle)
{
    run_deadlock_case(&rwlock, NULL);
}
END_TEST

START_TEST(test_join_while_holding_reports_join_mutex_cycle)
{
    run_deadlock_case(&join_holding, NULL);
}
END_TEST

START_TEST(test_self_relock_reports_cycle_of_one)
{
    run_deadlock_case(&self_relock, NULL);
}
END_TEST

START_TEST(test_self_relock_in_thread_reports_cycle_of_one)
{
    run_deadlock_case(&self_relock_threaded, NULL);
}
END_TEST

START_TEST(test_condvar_and_semaphore_hang_reports_whole_program_hang)
{
    run_deadlock_case(&cond_hang, NULL);
}
END_TEST

START_TEST(test_future_wait_through_futex_syscall_reports_deadlock)
{
    run_deadlock_case(&future_promise, NULL);
}
END_TEST

START_TEST(test_async_future_wait_reports_join_mutex_cycle)
{
    run_deadlock_case(&future_async, NULL);
}
END_TEST

START_TEST(test_deadlock_in_forked_child_is_reported_in_childs_report)
{
    run_deadlock_case(&fork_child, NULL);
}
END_TEST

START_TEST(test_deadlock_after_3000_ended_threads_is_still_found)
{
    run_deadlock_case(&after_churn, NULL);
}
END_TEST

/*
 * POOLGUARD_ON_FINDING=exit:N / abort: the program ends by itself once the finding is on disk.
 * Returns the program's wait status; the report must hold the (complete) deadlock finding.
 */
static int run_until_shim_ends_it(const char *setting, const char *label)
{
    char var[64];
    snprintf(var, sizeof var, "POOLGUARD_ON_FINDING=%s", setting);
    const char *const env[] = { var, NULL };
    struct e2e_run r;
    e2e_run_init(&r, label);
    char path[PATH_MAX];
    e2e_prog_path(path, sizeof path, lock_inversion.prog);
    char *argv[] = { (char *)lock_inversion.prog, NULL };
    e2e_run_start(&r, path, argv, true, env);
    bool ended = e2e_run_wait(&r, STARTUP_MS + DEADLOCK_REPORT_MS);
    e2e_run_kill(&r);

    char *err = e2e_run_stderr(&r);
    ck_assert_msg(ended, "%s: the program was still running %d ms after start; stderr: %.500s",
                  var, STARTUP_MS + DEADLOCK_REPORT_MS, err);
    struct e2e_reports rs;
    e2e_reports_load(&rs, r.reports);
    struct e2e_report *rp = e2e_reports_with_finding(&rs);
    ck_assert_msg(rp != NULL, "%s: the program ended (status 0x%x) without a finding on disk; "
                  "stderr: %.500s", var, r.status, err);
    const char *kind = json_string_value(json_object_get(json_array_get(rp->findings, 0), "kind"));
    ck_assert_msg(kind && strcmp(kind, "deadlock") == 0, "%s: finding kind %s", var, kind ? kind : "?");
    ck_assert_msg(rp->bad_lines == 0, "%s: the report has %d broken lines", var, rp->bad_lines);
    e2e_reports_free(&rs);
    free(err);
    e2e_remove_tree(r.work);
    return r.status;
}

START_TEST(test_on_finding_exit_code_ends_program_with_that_code)
{
    int status = run_until_shim_ends_it("exit:42", "on_finding_exit");
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 42, "POOLGUARD_ON_FINDING=exit:42: "
                  "wait status 0x%x, expected exit 42", status);
}
END_TEST

START_TEST(test_on_finding_abort_aborts_after_writing_report)
{
    int status = run_until_shim_ends_it("abort", "on_finding_abort");
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "POOLGUARD_ON_FINDING=abort: "
                  "wait status 0x%x, expected death by SIGABRT", status);
}
END_TEST

START_TEST(test_bad_interval_warns_and_still_detects)
{
    /* A bad value gets a warning and the default, 100 ms (DESIGN.md), which the header shows. */
    static const char *const env[] = { "POOLGUARD_INTERVAL_MS=abc", NULL };
    static const struct dl_opts o = { .env = env, .warning = "POOLGUARD_INTERVAL_MS", .interval_ms = 100 };
    run_deadlock_case(&lock_inversion, &o);
}
END_TEST

START_TEST(test_bad_interval_warns_and_healthy_program_runs_normally)
{
    static const char *const env[] = { "POOLGUARD_INTERVAL_MS=abc", NULL };
    static const struct e2e_ok_case c = { "ok_barrier", 3 };
    e2e_check_healthy(&c, env, "POOLGUARD_INTERVAL_MS");
}
END_TEST

static const struct e2e_ok_case healthy[] = {
    { "ok_contended", 0 }, { "ok_prodcons", 0 }, { "ok_timed_poll", 0 }, { "ok_rwlock", 0 },
    { "ok_barrier", 3 },   { "ok_future", 0 },   { "ok_long_wait", 0 },  { "ok_cancel", 0 },
    { "ok_syscall", 5 },   { "ok_errno", 0 },    { "ok_ctor", 4 },
};

#define HEALTHY_TEST(name, index)                                                               \
    START_TEST(name) { e2e_check_healthy(&healthy[index], NULL, NULL); }                         \
    END_TEST

HEALTHY_TEST(test_contended_mutexes_give_no_finding_and_same_output, 0)
HEALTHY_TEST(test_producer_consumer_gives_no_finding_and_same_output, 1)
HEALTHY_TEST(test_timed_polling_gives_no_finding_and_same_output, 2)
HEALTHY_TEST(test_readers_and_writers_give_no_finding_and_same_output, 3)
HEALTHY_TEST(test_barrier_phases_give_no_finding_and_keep_exit_status, 4)
HEALTHY_TEST(test_completing_futures_give_no_finding_and_same_output, 5)
HEALTHY_TEST(test_long_wait_for_live_producer_gives_no_finding, 6)
HEALTHY_TEST(test_cancelled_waits_give_no_finding_and_same_output, 7)
HEALTHY_TEST(test_syscall_passes_other_calls_and_futex_results_through, 8)
HEALTHY_TEST(test_errno_and_eintr_are_preserved, 9)
HEALTHY_TEST(test_threads_in_constructors_and_at_exit_work, 10)

/*
 * The shim exports only what it interposes and its public API (STYLE.md). Version-definition
 * symbols (type A, the names of the version script's nodes) are not functions and are ignored.
 */
static bool export_allowed(const char *name)
{
    static const char *const prefixes[] = { "pthread_", "sem_", "poolguard_" };
    static const char *const exact[] = {
        "syscall", "uv_queue_work", "g_thread_pool_new", "g_thread_pool_new_full",
        "g_thread_pool_push", "g_thread_pool_set_max_threads", "g_thread_pool_free",
        "g_cond_signal", "g_cond_broadcast", "uv_async_init", "uv_async_send", "uv_close",
        "g_mutex_lock", "g_rec_mutex_lock", "g_rw_lock_writer_lock", "g_rw_lock_reader_lock",
        /* oneTBB's scheduler entry points, exported by libtbb.so.12 under their mangled names */
        "_ZN3tbb6detail2r17enqueueERNS0_2d14taskEPNS2_15task_arena_baseE",
        "_ZN3tbb6detail2r17enqueueERNS0_2d14taskERNS2_18task_group_contextEPNS2_15task_arena_baseE",
        "_ZN3tbb6detail2r15spawnERNS0_2d14taskERNS2_18task_group_contextE",
        "_ZN3tbb6detail2r15spawnERNS0_2d14taskERNS2_18task_group_contextEt",
        "_ZN3tbb6detail2r17executeERNS0_2d115task_arena_baseERNS2_13delegate_baseE",
        "_ZN3tbb6detail2r19terminateERNS0_2d115task_arena_baseE",
    };
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (e2e_starts_with(name, prefixes[i]))
            return true;
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (strcmp(name, exact[i]) == 0)
            return true;
    return false;
}

START_TEST(test_shim_exports_only_hooks_and_public_api)
{
    char shim[PATH_MAX], cmd[PATH_MAX + 64];
    snprintf(shim, sizeof shim, "%s/libpoolguard.so", e2e_build_dir());
    ck_assert_msg(access(shim, R_OK) == 0, "the shim is not built: %s", shim);
    snprintf(cmd, sizeof cmd, "nm -D --defined-only '%s'", shim);
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "popen: %s", strerror(errno));

    static const char *const required[] = {
        "pthread_create", "pthread_join", "pthread_mutex_lock", "pthread_mutex_unlock",
        "pthread_mutex_trylock", "pthread_mutex_timedlock", "pthread_rwlock_rdlock",
        "pthread_rwlock_wrlock", "pthread_rwlock_unlock", "pthread_cond_wait",
        "pthread_cond_timedwait", "pthread_cond_signal", "pthread_cond_broadcast", "sem_wait",
        "sem_timedwait", "sem_post", "pthread_barrier_wait", "syscall", "uv_queue_work",
        "g_thread_pool_new", "g_thread_pool_push", "g_thread_pool_free", "g_cond_signal",
        "uv_async_init", "uv_async_send", "uv_close",
        "_ZN3tbb6detail2r17enqueueERNS0_2d14taskEPNS2_15task_arena_baseE",
        "_ZN3tbb6detail2r15spawnERNS0_2d14taskERNS2_18task_group_contextE",
    };
    bool have[sizeof required / sizeof required[0]] = { false };
    char extra[4096] = "";
    char line[1024];
    int count = 0;
    while (fgets(line, sizeof line, p)) {
        char type, name[512];
        line[strcspn(line, "\n")] = '\0';
        if (sscanf(line, "%*s %c %511s", &type, name) != 2)
            continue;
        if (type == 'A')
            continue;
        name[strcspn(name, "@")] = '\0';    /* newer nm prints name@@VERSION */
        count++;
        for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
            if (strcmp(name, required[i]) == 0)
                have[i] = true;
        if (!export_allowed(name)) {
            strncat(extra, " ", sizeof extra - strlen(extra) - 1);
            strncat(extra, name, sizeof extra - strlen(extra) - 1);
        }
    }
    int rc = pclose(p);
    ck_assert_msg(rc == 0 && count > 0, "`%s` failed or listed nothing", cmd);
    ck_assert_msg(extra[0] == '\0', "the shim exports symbols that are neither hooks nor poolguard_* "
                  "API:%s", extra);
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        ck_assert_msg(have[i], "the shim does not export the hook %s", required[i]);
}
END_TEST

Suite *e2e_suite(void)
{
    Suite *s = suite_create("e2e");

    TCase *tc = tcase_create("deadlocks");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_lock_inversion_reports_two_thread_mutex_cycle);
    tcase_add_test(tc, test_ring_of_three_reports_three_thread_cycle);
    tcase_add_test(tc, test_reader_vs_writer_reports_rwlock_mutex_cycle);
    tcase_add_test(tc, test_join_while_holding_reports_join_mutex_cycle);
    tcase_add_test(tc, test_self_relock_reports_cycle_of_one);
    tcase_add_test(tc, test_self_relock_in_thread_reports_cycle_of_one);
    tcase_add_test(tc, test_condvar_and_semaphore_hang_reports_whole_program_hang);
    tcase_add_test(tc, test_future_wait_through_futex_syscall_reports_deadlock);
    tcase_add_test(tc, test_async_future_wait_reports_join_mutex_cycle);
    tcase_add_test(tc, test_deadlock_in_forked_child_is_reported_in_childs_report);
    tcase_add_test(tc, test_deadlock_after_3000_ended_threads_is_still_found);
    suite_add_tcase(s, tc);

    tc = tcase_create("healthy");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_contended_mutexes_give_no_finding_and_same_output);
    tcase_add_test(tc, test_producer_consumer_gives_no_finding_and_same_output);
    tcase_add_test(tc, test_timed_polling_gives_no_finding_and_same_output);
    tcase_add_test(tc, test_readers_and_writers_give_no_finding_and_same_output);
    tcase_add_test(tc, test_barrier_phases_give_no_finding_and_keep_exit_status);
    tcase_add_test(tc, test_completing_futures_give_no_finding_and_same_output);
    tcase_add_test(tc, test_long_wait_for_live_producer_gives_no_finding);
    tcase_add_test(tc, test_cancelled_waits_give_no_finding_and_same_output);
    tcase_add_test(tc, test_syscall_passes_other_calls_and_futex_results_through);
    tcase_add_test(tc, test_errno_and_eintr_are_preserved);
    tcase_add_test(tc, test_threads_in_constructors_and_at_exit_work);
    suite_add_tcase(s, tc);

    tc = tcase_create("contract");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_shim_exports_only_hooks_and_public_api);
    tcase_add_test(tc, test_bad_interval_warns_and_still_detects);
    tcase_add_test(tc, test_bad_interval_warns_and_healthy_program_runs_normally);
    tcase_add_test(tc, test_on_finding_exit_code_ends_program_with_that_code);
    tcase_add_test(tc, test_on_finding_abort_aborts_after_writing_report);
    suite_add_tcase(s, tc);
    return s;
}

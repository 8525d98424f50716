/*
 * What a deadlock test of the e2e suite (check_e2e.c) expects of a program (struct dl_case), and
 * how the expectation is checked. First the raw report, the shim's contract
 * (docs/report-format.md): header, module map, the finding's kind, severity, cycle or hang, what
 * each thread waits on and holds, and the program's own function names in the stacks, which we
 * symbolize ourselves from the module map and `nm` of the binary. Then the analyzer's rendering
 * (`poolguard report --format json`) of the same directory: kind, severity, cycle, blocked_on
 * kinds, and the same function names. Header-only, on top of the helper library (testlib.h).
 */
#ifndef POOLGUARD_DEADLOCK_CHECK_H
#define POOLGUARD_DEADLOCK_CHECK_H

#include "pg_format.h"
#include "testlib.h"

enum {
    MAX_GROUP = 4,
};

/* ------------------------------------------------------------------------------------------ */
/* What a deadlock test expects                                                               */

struct dl_case {
    const char *label;
    const char *prog;
    const char *arg;        /* one optional argument */
    const char *first_line; /* what the program prints first on stdout */
    size_t cycle_len;       /* 0: a whole-program hang (no cycle, "hang": true) */
    bool may_be_hang;       /* a cycle, or (if the shim cannot learn the waker) a hang */
    const char *kinds;      /* blocked_on kinds of the cycle/hang threads, sorted, ','-joined */
    const char *stacks[6][MAX_GROUP]; /* each group of names: all in the stack of one thread */
    const char *names[4];  /* thread names that must appear among the finding's threads */
    const char *main_role; /* role of the main thread in the finding; NULL: not checked */
    bool forks;            /* the deadlock is in a child process */
};

static inline int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The blocked_on kinds of the threads with `role`, sorted and joined with ','. */
static inline void kinds_of_role(json_t *threads, const char *role, char *buf, size_t size)
{
    const char *kinds[64];
    size_t n = 0, i;
    json_t *t;
    json_array_foreach (threads, i, t) {
        const char *r = json_string_value(json_object_get(t, "role"));
        if (!r || strcmp(r, role) != 0 || n == 64)
            continue;
        const char *k =
            json_string_value(json_object_get(json_object_get(t, "blocked_on"), "kind"));
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

static inline json_t *thread_by_tid(json_t *threads, json_int_t tid)
{
    size_t i;
    json_t *t;
    json_array_foreach (threads, i, t)
        if (json_integer_value(json_object_get(t, "tid")) == tid)
            return t;
    return NULL;
}

/*
 * `per_thread` is an array (one per thread of the finding) of arrays of function names. Each group
 * of c->stacks must be found entirely in one thread's names.
 */
static inline void check_stack_groups(const struct dl_case *c, json_t *per_thread, const char *who,
                                      const char *dir)
{
    for (int g = 0; g < 6 && c->stacks[g][0]; g++) {
        bool found = false;
        size_t i;
        json_t *names;
        json_array_foreach (per_thread, i, names) {
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

static inline void check_thread_names(const struct dl_case *c, json_t *threads, const char *who,
                                      const char *dir)
{
    for (int i = 0; i < 4 && c->names[i]; i++) {
        bool found = false;
        size_t j;
        json_t *t;
        json_array_foreach (threads, j, t) {
            const char *name = json_string_value(json_object_get(t, "name"));
            if (name && strcmp(name, c->names[i]) == 0)
                found = true;
        }
        ck_assert_msg(found, "%s: %s: no thread named \"%s\" in the finding (reports in %s)",
                      c->label, who, c->names[i], dir);
    }
}

static inline void check_main_role(const struct dl_case *c, json_t *threads, const char *who,
                                   const char *dir)
{
    if (!c->main_role)
        return;
    size_t i;
    json_t *t;
    json_array_foreach (threads, i, t) {
        if (json_is_true(json_object_get(t, "main"))) {
            const char *role = json_string_value(json_object_get(t, "role"));
            ck_assert_msg(role && strcmp(role, c->main_role) == 0,
                          "%s: %s: main thread has role \"%s\", expected \"%s\" (reports in %s)",
                          c->label, who, role ? role : "(none)", c->main_role, dir);
            return;
        }
    }
    ck_abort_msg("%s: %s: the main thread (role \"%s\" expected) is missing from the finding "
                 "(reports in %s)",
                 c->label, who, c->main_role, dir);
}

/* ------------------------------------------------------------------------------------------ */
/* Checking a raw report against docs/report-format.md                                          */

static inline void check_raw_header(const struct dl_case *c, const struct e2e_report *rp, pid_t pid,
                                    pid_t ppid_or_0, const char *dir)
{
    json_t *h = rp->header;
    ck_assert_msg(rp->first_is_header && h, "%s: %s: first line is not a header", c->label,
                  rp->path);
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
        ck_assert_msg(hpid != ppid_or_0,
                      "%s: the finding is in the parent's report, expected the "
                      "child's (reports in %s)",
                      c->label, dir);
        ck_assert_msg(json_integer_value(json_object_get(h, "ppid")) == ppid_or_0,
                      "%s: child's report: header ppid %lld, parent pid %d", c->label,
                      (long long)json_integer_value(json_object_get(h, "ppid")), (int)ppid_or_0);
    }
    const char *exe = json_string_value(json_object_get(h, "exe"));
    ck_assert_msg(exe && strcmp(tu_base_name(exe), c->prog) == 0, "%s: header exe is %s", c->label,
                  exe ? exe : "(none)");
    json_t *argv = json_object_get(h, "argv");
    ck_assert_msg(json_is_array(argv) && json_array_size(argv) == (c->arg ? 2u : 1u),
                  "%s: header argv should have %d elements", c->label, c->arg ? 2 : 1);
    const char *argv0 = json_string_value(json_array_get(argv, 0));
    ck_assert_msg(argv0 && strcmp(tu_base_name(argv0), c->prog) == 0, "%s: header argv[0] is %s",
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
    ck_assert_msg(tu_starts_with(tu_base_name(rp->path), want),
                  "%s: report file is named %s, expected %s...", c->label, tu_base_name(rp->path),
                  want);
    ck_assert_msg(S_ISREG(rp->mode) && (rp->mode & 077) == 0,
                  "%s: report file %s has mode %o: must be a regular file readable only by the "
                  "user",
                  c->label, rp->path, (unsigned)(rp->mode & 07777));

    bool have_prog = false;
    size_t i;
    json_t *m;
    json_array_foreach (rp->modules, i, m) {
        unsigned long base, start, end;
        const char *path = json_string_value(json_object_get(m, "path"));
        ck_assert_msg(path && e2e_parse_addr(json_object_get(m, "base"), &base) &&
                          e2e_parse_addr(json_object_get(m, "start"), &start) &&
                          e2e_parse_addr(json_object_get(m, "end"), &end) && start < end,
                      "%s: malformed module line (path, base, start, end as \"0x..\" strings)",
                      c->label);
        if (strcmp(tu_base_name(path), c->prog) == 0)
            have_prog = true;
    }
    ck_assert_msg(have_prog, "%s: no module line for the program itself (%s) in %s", c->label,
                  c->prog, rp->path);
}

static inline void check_raw_thread(const struct dl_case *c, json_t *t, const char *dir)
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
    ck_assert_msg(json_is_false(json_object_get(b, "timed")),
                  "%s: thread %lld: blocked_on.timed "
                  "should be false (every wait in these programs is untimed)",
                  c->label, (long long)tid);
    json_t *since = json_object_get(b, "since_ms");
    ck_assert_msg(json_is_integer(since) && json_integer_value(since) >= 0,
                  "%s: thread %lld: blocked_on.since_ms", c->label, (long long)tid);
    json_t *stack = json_object_get(t, "stack");
    ck_assert_msg(json_is_array(stack) && json_array_size(stack) > 0,
                  "%s: thread %lld: empty stack", c->label, (long long)tid);
    size_t i;
    json_t *pc;
    json_array_foreach (stack, i, pc)
        ck_assert_msg(e2e_parse_addr(pc, &addr),
                      "%s: thread %lld: stack[%zu] is not an \"0x..\" string", c->label,
                      (long long)tid, i);
    json_t *holds = json_object_get(t, "holds");
    ck_assert_msg(holds == NULL || json_is_array(holds), "%s: thread %lld: holds is not an array",
                  c->label, (long long)tid);
}

static inline bool holds_address(json_t *thread, const char *address)
{
    size_t i;
    json_t *h;
    json_array_foreach (json_object_get(thread, "holds"), i, h) {
        const char *a = json_string_value(json_object_get(h, "address"));
        if (a && strcmp(a, address) == 0)
            return true;
    }
    return false;
}

static inline void check_raw_cycle(const struct dl_case *c, json_t *f, json_t *threads,
                                   const char *dir)
{
    json_t *cycle = json_object_get(f, "cycle");
    size_t n = json_array_size(cycle);
    ck_assert_msg(json_is_array(cycle) && n == c->cycle_len,
                  "%s: cycle has %zu elements, expected "
                  "%zu (reports in %s)",
                  c->label, n, c->cycle_len, dir);
    size_t cycle_threads = 0, i;
    json_t *t;
    json_array_foreach (threads, i, t) {
        const char *role = json_string_value(json_object_get(t, "role"));
        if (role && strcmp(role, "cycle") == 0)
            cycle_threads++;
    }
    ck_assert_msg(cycle_threads == n, "%s: %zu threads have role \"cycle\", the cycle has %zu",
                  c->label, cycle_threads, n);

    json_t *e;
    json_array_foreach (cycle, i, e) {
        json_int_t tid = json_integer_value(json_object_get(e, "tid"));
        json_int_t waits_for = json_integer_value(json_object_get(e, "waits_for"));
        const char *kind = json_string_value(json_object_get(e, "kind"));
        const char *address = json_string_value(json_object_get(e, "address"));
        json_t *next = json_array_get(cycle, (i + 1) % n);
        ck_assert_msg(kind && address, "%s: cycle[%zu] needs kind and address", c->label, i);
        ck_assert_msg(waits_for == json_integer_value(json_object_get(next, "tid")),
                      "%s: cycle[%zu] waits for %lld but the next element is thread %lld: not a "
                      "chain",
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
                      c->label, (long long)tid, bkind ? bkind : "?", baddr ? baddr : "?", kind,
                      address);

        json_t *holder = thread_by_tid(threads, waits_for);
        ck_assert_msg(holder != NULL, "%s: thread %lld waited for by the cycle is not in threads[]",
                      c->label, (long long)waits_for);
        if (strcmp(kind, "mutex") == 0) {
            json_t *owner = json_object_get(b, "owner");
            ck_assert_msg(json_integer_value(owner) == waits_for,
                          "%s: thread %lld waits on a mutex: "
                          "blocked_on.owner is %lld, expected %lld",
                          c->label, (long long)tid, (long long)json_integer_value(owner),
                          (long long)waits_for);
        }
        if (strcmp(kind, "join") == 0) {
            json_t *target = json_object_get(b, "target");
            ck_assert_msg(json_integer_value(target) == waits_for,
                          "%s: thread %lld joins: "
                          "blocked_on.target is %lld, expected %lld",
                          c->label, (long long)tid, (long long)json_integer_value(target),
                          (long long)waits_for);
        }
        if (strcmp(kind, "mutex") == 0 || tu_starts_with(kind, "rwlock")) {
            ck_assert_msg(holds_address(holder, address),
                          "%s: thread %lld waits on %s %s held by "
                          "thread %lld, whose holds[] does not list it (reports in %s)",
                          c->label, (long long)tid, kind, address, (long long)waits_for, dir);
        }
    }
}

static inline void check_raw_report(const struct dl_case *c, struct e2e_reports *rs, pid_t pid,
                                    const char *dir)
{
    struct e2e_report *rp = e2e_reports_with_finding(rs);
    ck_assert_msg(rp != NULL, "%s: no finding in the raw reports (in %s)", c->label, dir);
    check_raw_header(c, rp, c->forks ? 0 : pid, c->forks ? pid : 0, dir);

    char all[4096];
    e2e_describe_findings(rs, all, sizeof all);
    ck_assert_msg(e2e_reports_count_findings(rs) == 1,
                  "%s: expected exactly one finding (reported "
                  "once), got %zu: %s",
                  c->label, e2e_reports_count_findings(rs), all);

    json_t *f = json_array_get(rp->findings, 0);
    const char *kind = json_string_value(json_object_get(f, "kind"));
    const char *severity = json_string_value(json_object_get(f, "severity"));
    const char *summary = json_string_value(json_object_get(f, "summary"));
    ck_assert_msg(kind && strcmp(kind, "deadlock") == 0,
                  "%s: finding kind is %s, expected deadlock: %s", c->label, kind ? kind : "(none)",
                  all);
    ck_assert_msg(severity && strcmp(severity, "error") == 0,
                  "%s: finding severity is %s, expected "
                  "error",
                  c->label, severity ? severity : "(none)");
    ck_assert_msg(summary && *summary, "%s: finding has no summary", c->label);
    ck_assert_msg(json_is_integer(json_object_get(f, "seq")), "%s: finding has no seq", c->label);
    ck_assert_msg(json_is_integer(json_object_get(f, "time_unix_ms")),
                  "%s: finding has no "
                  "time_unix_ms",
                  c->label);

    json_t *threads = json_object_get(f, "threads");
    ck_assert_msg(json_is_array(threads) && json_array_size(threads) > 0,
                  "%s: finding has no threads", c->label);
    size_t i;
    json_t *t;
    json_array_foreach (threads, i, t)
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
    ck_assert_msg(strcmp(kinds, c->kinds) == 0,
                  "%s: the %s threads wait on [%s], expected [%s] "
                  "(reports in %s)",
                  c->label, hang ? "hang" : "cycle", kinds, c->kinds, dir);

    check_main_role(c, threads, "raw report", dir);
    check_thread_names(c, threads, "raw report", dir);

    /* The program's function names, symbolized from the module map and the binary's symbols. */
    char binary[PATH_MAX];
    tu_prog_path(binary, sizeof binary, c->prog);
    struct e2e_symtab st;
    e2e_symtab_load(&st, binary);
    json_t *per_thread = json_array();
    json_array_foreach (threads, i, t)
        json_array_append_new(per_thread,
                              e2e_raw_stack_functions(rp->modules, json_object_get(t, "stack"),
                                                      c->prog, &st));
    check_stack_groups(c, per_thread, "raw stacks", dir);
    json_decref(per_thread);
    e2e_symtab_free(&st);
}

/* ------------------------------------------------------------------------------------------ */
/* Checking the analyzer's rendering                                                          */

/* Runs `poolguard report --format json <dir>` and returns its parsed output. */
static inline void check_rendered(const struct dl_case *c, pid_t pid, const struct e2e_run *r)
{
    json_t *doc = e2e_analyzer_json(c->label, r);
    json_t *findings = json_object_get(doc, "findings");
    ck_assert_msg(json_is_array(findings), "%s: analyzer JSON has no findings[] (reports in %s)",
                  c->label, r->reports);
    json_t *f = NULL;
    size_t n = 0, i;
    json_t *x;
    json_array_foreach (findings, i, x) {
        const char *kind = json_string_value(json_object_get(x, "kind"));
        if (kind && strcmp(kind, "deadlock") == 0) {
            f = x;
            n++;
        }
    }
    ck_assert_msg(n == 1, "%s: analyzer: %zu deadlock findings, expected 1 (reports in %s)",
                  c->label, n, r->reports);
    const char *severity = json_string_value(json_object_get(f, "severity"));
    ck_assert_msg(severity && strcmp(severity, "error") == 0, "%s: analyzer: severity %s", c->label,
                  severity ? severity : "(none)");
    const char *summary = json_string_value(json_object_get(f, "summary"));
    ck_assert_msg(summary && *summary, "%s: analyzer: no summary", c->label);
    if (!c->forks)
        ck_assert_msg(json_integer_value(json_object_get(f, "pid")) == pid,
                      "%s: analyzer: pid %lld, "
                      "expected %d",
                      c->label, (long long)json_integer_value(json_object_get(f, "pid")), (int)pid);
    const char *exe = json_string_value(json_object_get(f, "exe"));
    ck_assert_msg(exe && strcmp(tu_base_name(exe), c->prog) == 0, "%s: analyzer: exe %s", c->label,
                  exe ? exe : "(none)");

    json_t *threads = json_object_get(f, "threads");
    ck_assert_msg(json_is_array(threads) && json_array_size(threads) > 0,
                  "%s: analyzer: no threads", c->label);
    json_t *cycle = json_object_get(f, "cycle");
    bool hang = json_array_size(cycle) == 0;
    char kinds[256];
    if (c->cycle_len == 0 || (c->may_be_hang && hang)) {
        ck_assert_msg(hang, "%s: analyzer: expected no cycle (a hang)", c->label);
        kinds_of_role(threads, "hang", kinds, sizeof kinds);
    } else {
        ck_assert_msg(json_array_size(cycle) == c->cycle_len,
                      "%s: analyzer: cycle of %zu, expected %zu", c->label, json_array_size(cycle),
                      c->cycle_len);
        kinds_of_role(threads, "cycle", kinds, sizeof kinds);
    }
    ck_assert_msg(strcmp(kinds, c->kinds) == 0, "%s: analyzer: threads wait on [%s], expected [%s]",
                  c->label, kinds, c->kinds);
    check_thread_names(c, threads, "analyzer", r->reports);

    json_t *per_thread = json_array();
    json_t *t;
    json_array_foreach (threads, i, t) {
        json_t *names = e2e_stack_function_names(json_object_get(t, "stack"));
        json_array_append_new(per_thread, names);
    }
    check_stack_groups(c, per_thread, "analyzer stacks", r->reports);
    json_decref(per_thread);
    json_decref(doc);
}

#endif

/*
 * Helpers of the reliability, scale and security suites (check_reliability.c, check_scale.c,
 * check_security.c): running a program that deadlocks on purpose to its finding and checking the
 * two-thread mutex cycle it makes; running a healthy program with and without the shim and
 * comparing the two runs (status, stdout, no finding, peak RSS against the budget of
 * docs/performance.md). Header-only, on top of the helper library (testlib.h): each suite uses
 * some of them.
 */
#ifndef POOLGUARD_RELIABILITY_UTIL_H
#define POOLGUARD_RELIABILITY_UTIL_H

#include "testlib.h"

enum {
    STARTUP_MS = 10000,        /* a program prints its first line this soon */
    REPORT_MS = 4000,          /* then a deadlock is on disk this soon */
    SETTLE_MS = 500,           /* then we watch this long for duplicates */
    RUN_MS = 60000,            /* a healthy program (even the big ones) ends this soon */
    BUDGET_BASE_KB = 8 * 1024, /* docs/performance.md: 8 MiB + 4 KiB per live thread */
    BUDGET_PER_THREAD_KB = 4,
};

static inline const char *shim_abs(void)
{
    static char path[PATH_MAX];
    char rel[PATH_MAX];
    snprintf(rel, sizeof rel, "%s/libpoolguard.so", tu_build());
    ck_assert_msg(realpath(rel, path) != NULL, "the shim is not built: %s", rel);
    return path;
}

/* Waits until stdout has a complete line starting with `prefix`; returns it (caller frees). */
static inline char *wait_for_line(struct e2e_run *r, const char *prefix, long ms)
{
    long deadline = tu_now_ms() + ms;
    for (;;) {
        char *out = tu_slurp_maybe(r->out, NULL);
        for (char *line = out; line && *line;) {
            char *nl = strchr(line, '\n');
            if (!nl)
                break;
            if (tu_starts_with(line, prefix)) {
                char *copy = strndup(line, (size_t)(nl - line));
                free(out);
                return copy;
            }
            line = nl + 1;
        }
        free(out);
        if (tu_now_ms() >= deadline || e2e_run_wait(r, 0))
            return NULL;
        tu_sleep_ms(10);
    }
}

/* Polls `dir` until it holds `n` findings, the program exits, or `ms` pass. */
static inline bool wait_for_findings(struct e2e_run *r, const char *dir, size_t n, long ms)
{
    long deadline = tu_now_ms() + ms;
    for (;;) {
        struct e2e_reports rs;
        e2e_reports_load(&rs, dir);
        size_t got = e2e_reports_count_findings(&rs);
        e2e_reports_free(&rs);
        if (got >= n)
            return true;
        if (tu_now_ms() >= deadline || e2e_run_wait(r, 0))
            return false;
        tu_sleep_ms(E2E_POLL_MS);
    }
}

/* A number after "key=" in text, or -1. */
static inline long field_after(const char *text, const char *key)
{
    const char *p = text ? strstr(text, key) : NULL;
    return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

static inline int count_poolguard_lines(const char *text)
{
    int n = 0;
    for (const char *line = text; *line;) {
        if (tu_starts_with(line, "poolguard:"))
            n++;
        line += strcspn(line, "\n");
        if (*line)
            line++;
    }
    return n;
}

/* The program's own function names in each thread's stack, as an array per thread. */
static inline json_t *stack_names(const struct e2e_report *rp, json_t *finding, const char *prog)
{
    char binary[PATH_MAX];
    tu_prog_path(binary, sizeof binary, prog);
    struct e2e_symtab st;
    e2e_symtab_load(&st, binary);
    json_t *per = json_array();
    size_t i;
    json_t *t;
    json_array_foreach (json_object_get(finding, "threads"), i, t)
        json_array_append_new(per, e2e_raw_stack_functions(rp->modules, json_object_get(t, "stack"),
                                                           prog, &st));
    e2e_symtab_free(&st);
    return per;
}

/* Some thread's stack has every name of `group` (NULL-terminated). */
static inline void assert_some_stack_has(json_t *per, const char *const *group, const char *what)
{
    size_t i;
    json_t *names;
    json_array_foreach (per, i, names) {
        bool all = true;
        for (int k = 0; group[k]; k++)
            all = all && e2e_names_have(names, group[k]);
        if (all)
            return;
    }
    char *dump = json_dumps(per, JSON_COMPACT);
    ck_abort_msg("%s: no thread's stack has %s%s%s; the program's functions per thread: %.2000s",
                 what, group[0], group[1] ? " + " : "", group[1] ? group[1] : "", dump);
}

/*
 * The one finding of a two-thread mutex cycle, as every lock inversion program here makes it:
 * a deadlock of severity error, a cycle of 2 "mutex" elements, one thread's stack has fn_a and
 * second_a, another's fn_b and second_b.
 */
static inline void assert_mutex_cycle2(const struct e2e_report *rp, json_t *f, const char *prog,
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
    json_array_foreach (cycle, i, e) {
        const char *k = json_string_value(json_object_get(e, "kind"));
        ck_assert_msg(k && strcmp(k, "mutex") == 0, "%s: cycle[%zu] kind %s, expected mutex", what,
                      i, k ? k : "?");
    }
    json_t *per = stack_names(rp, f, prog);
    const char *ga[] = { fn_a, second_a, NULL }, *gb[] = { fn_b, second_b, NULL };
    assert_some_stack_has(per, ga, what);
    assert_some_stack_has(per, gb, what);
    json_decref(per);
}

static inline void assert_mutex_cycle(const struct e2e_report *rp, json_t *f, const char *prog,
                                      const char *fn_a, const char *fn_b, const char *second_fn,
                                      const char *what)
{
    assert_mutex_cycle2(rp, f, prog, fn_a, second_fn, fn_b, second_fn, what);
}

/* Runs a deadlocking program to its finding and leaves it killed; the caller checks the report. */
struct dl_run {
    struct e2e_run r;
    char *first; /* the first line, or NULL */
    bool found;
    bool exited_early;
    char *err;
};

static inline void run_to_finding(struct dl_run *d, const char *label, const char *path,
                                  char *const argv[], bool preload, const char *const env[],
                                  const char *first_prefix, const char *report_dir,
                                  size_t nfindings)
{
    memset(d, 0, sizeof *d);
    e2e_run_init(&d->r, label);
    e2e_run_start(&d->r, path, argv, preload, env);
    d->first = wait_for_line(&d->r, first_prefix, STARTUP_MS);
    d->found = d->first && wait_for_findings(&d->r, report_dir ? report_dir : d->r.reports,
                                             nfindings, REPORT_MS);
    d->exited_early = d->r.exited;
    if (d->found)
        tu_sleep_ms(SETTLE_MS);
    e2e_run_kill(&d->r);
    d->err = e2e_run_stderr(&d->r);
    ck_assert_msg(d->first != NULL, "%s: no \"%s\" line within %d ms; stderr: %.500s", label,
                  first_prefix, STARTUP_MS, d->err);
    ck_assert_msg(!d->exited_early,
                  "%s: the program exited (status 0x%x) instead of deadlocking; "
                  "stderr: %.500s",
                  label, d->r.status, d->err);
    ck_assert_msg(d->found, "%s: no finding within %d ms (reports in %s); stderr: %.500s", label,
                  REPORT_MS, report_dir ? report_dir : d->r.reports, d->err);
}

static inline void dl_run_free(struct dl_run *d)
{
    free(d->first);
    free(d->err);
    tu_rmtree(d->r.work);
}

/* Runs a lock-inversion program (argv[0] names it) under the shim to its one finding, and checks
 * that the finding is the two-thread mutex cycle of assert_mutex_cycle2. */
static inline void check_mutex_inversion(const char *label, char *const argv[],
                                         const char *first_prefix, const char *fn_a,
                                         const char *second_a, const char *fn_b,
                                         const char *second_b)
{
    char path[PATH_MAX];
    tu_prog_path(path, sizeof path, argv[0]);
    struct dl_run d;
    run_to_finding(&d, label, path, argv, true, NULL, first_prefix, NULL, 1);
    struct e2e_reports rs;
    e2e_reports_load(&rs, d.r.reports);
    ck_assert_uint_eq(e2e_reports_count_findings(&rs), 1);
    struct e2e_report *rp = e2e_reports_with_finding(&rs);
    assert_mutex_cycle2(rp, json_array_get(rp->findings, 0), argv[0], fn_a, second_a, fn_b,
                        second_b, label);
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

static inline void run_pair(struct pair *p, const char *prog, const char *const args[], bool native,
                            const char *const native_args[], const char *const env[], long wait_ms)
{
    memset(p, 0, sizeof *p);
    char path[PATH_MAX];
    tu_prog_path(path, sizeof path, prog);
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
static inline void assert_pair_healthy(const struct pair *p, const char *prog, int status)
{
    if (p->nout) {
        ck_assert_msg(p->native_done, "%s: did not end within %ld ms even without the shim", prog,
                      p->wait_ms);
        ck_assert_msg(WIFEXITED(p->native.status) && WEXITSTATUS(p->native.status) == status,
                      "%s: without the shim: wait status 0x%x, expected exit %d; stderr: %.500s",
                      prog, p->native.status, status, p->nerr);
    }
    ck_assert_msg(p->shim_done,
                  "%s: under the shim it did not end within %ld ms (findings: %s; stdout: "
                  "%.300s; stderr: %.500s)",
                  prog, p->wait_ms, p->described, p->sout, p->serr);
    ck_assert_msg(p->findings == 0, "%s: healthy program got %zu findings: %s (reports in %s)",
                  prog, p->findings, p->described, p->shim.reports);
    ck_assert_msg(WIFEXITED(p->shim.status) && WEXITSTATUS(p->shim.status) == status,
                  "%s: under the shim: wait status 0x%x, expected exit %d; stderr: %.500s", prog,
                  p->shim.status, status, p->serr);
    if (p->nout)
        ck_assert_msg(strcmp(p->nout, p->sout) == 0,
                      "%s: stdout differs under the shim:\n--- native\n"
                      "%s--- shim\n%s",
                      prog, p->nout, p->sout);
}

/* Peak RSS with the shim minus without must stay within 8 MiB + 4 KiB per live thread. */
static inline void assert_memory_budget(const struct pair *p, const char *prog, long live_threads)
{
    long nhwm = field_after(p->nerr, "hwm_kb="), shwm = field_after(p->serr, "hwm_kb=");
    long nrss = field_after(p->nerr, "rss_kb="), srss = field_after(p->serr, "rss_kb=");
    ck_assert_msg(nhwm > 0 && shwm > 0,
                  "%s: no rel_mem line on stderr (native: %.200s; shim: %.200s)", prog, p->nerr,
                  p->serr);
    long budget = BUDGET_BASE_KB + BUDGET_PER_THREAD_KB * live_threads;
    ck_assert_msg(shwm - nhwm <= budget,
                  "%s: peak RSS %ld kB under the shim, %ld kB without: +%ld kB, "
                  "over the budget of %ld kB (8 MiB + 4 KiB x %ld live threads)",
                  prog, shwm, nhwm, shwm - nhwm, budget, live_threads);
    ck_assert_msg(srss - nrss <= budget,
                  "%s: RSS at the end %ld kB under the shim, %ld kB without: "
                  "+%ld kB, over the budget of %ld kB",
                  prog, srss, nrss, srss - nrss, budget);
}

static inline void pair_free(struct pair *p)
{
    free(p->nout);
    free(p->nerr);
    free(p->sout);
    free(p->serr);
    if (p->native.work[0])
        tu_rmtree(p->native.work);
    tu_rmtree(p->shim.work);
}

static inline void check_healthy(const char *prog, const char *const args[],
                                 const char *const env[], int status)
{
    struct pair p;
    run_pair(&p, prog, args, true, NULL, env, E2E_HEALTHY_EXIT_MS);
    assert_pair_healthy(&p, prog, status);
    pair_free(&p);
}

#endif

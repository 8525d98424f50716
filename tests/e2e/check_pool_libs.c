/*
 * Pools of real libraries under the CI gate (`poolguard run`): the programs tests/progs/lib_*
 * (scenarios in tests/progs/lib_scen.h) on a C condvar pool, a semaphore-counted pool, a
 * progschj-style C++ pool, libuv, GLib (exclusive and shared), Boost.Asio and oneTBB, and a
 * healthy Java program. Held to the proof standard (docs/design.md): a pool stuck on itself that
 * is proven so, because the library's adapter knows it exactly (libuv, GLib, oneTBB) or because
 * the whole program is blocked (the wait-for graph), must stop the program with exactly one
 * finding, a pool_exhaustion error that names the workers, their task function and the queued
 * work. A pool only inferred (custom pools, Asio) while main still runs proves nothing: the gate
 * must not stop the program, and the finding is at most a warning. A healthy program must run as it
 * does without poolguard (same stdout, same status) and leave no finding at all, not even an
 * info. This is a representative subset that keeps the suite short: every library x scenario,
 * with times to detection, is scripts/pool_matrix.sh.
 */
#include "testlib.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    STUCK_TIMEOUT_S = 8,    /* the gate's --timeout for a stuck program (an error takes < 1 s) */
    UNPROVEN_TIMEOUT_S = 4, /* ... for one nothing can prove stuck (a warning takes about 1 s) */
    HEALTHY_TIMEOUT_S = 60, /* the gate's --timeout for a healthy one (it ends by itself) */
};

enum expect {
    PROVEN = 0,          /* a pool_exhaustion error, the gate exits 66 */
    PROVEN_QUEUE_UNSEEN, /* proven by the graph; the library's queue is invisible (Asio):
                              * the error may be the plain hang, the queue depth unknown */
    INFERRED_WARNING,    /* main runs: one pool_exhaustion warning, proof inferred, no stop */
    UNPROVEN,            /* main runs and nothing is visible: no error, no stop */
};

struct lib_case {
    const char *prog;
    const char *scen;
    const char *workers;
    const char *flag; /* an extra argument (GLib: "shared"), or NULL */
    enum expect expect;
};

/* Every library at least once with main blocked, once with main running, once heavy and healthy;
 * the worker counts vary so that 1, 2 and 4 are all covered. */
static const struct lib_case stuck_cases[] = {
    { "lib_condpool", "stuck-mainblocked", "1", NULL, PROVEN },
    { "lib_condpool", "stuck-mainrunning", "2", NULL, INFERRED_WARNING },
    { "lib_sempool", "stuck-mainblocked", "4", NULL, PROVEN },
    { "lib_sempool", "stuck-mainrunning", "2", NULL, INFERRED_WARNING },
    { "lib_cxxpool", "stuck-mainblocked", "4", NULL, PROVEN },
    { "lib_cxxpool", "stuck-mainrunning", "4", NULL, INFERRED_WARNING },
    { "lib_uv", "stuck-mainblocked", "2", NULL, PROVEN },
    { "lib_uv", "stuck-mainrunning", "4", NULL, PROVEN },
    { "lib_uv", "stuck-heartbeat", "1", NULL, PROVEN },
    { "lib_glib", "stuck-mainblocked", "2", NULL, PROVEN },
    { "lib_glib", "stuck-mainrunning", "2", "shared", PROVEN },
    { "lib_glib", "stuck-heartbeat", "1", NULL, PROVEN },
    { "lib_tbb", "stuck-mainblocked", "2", NULL, PROVEN },
    { "lib_tbb", "stuck-mainrunning", "1", NULL, PROVEN },
    { "lib_tbb", "stuck-heartbeat", "4", NULL, PROVEN },
    { "lib_asio", "stuck-mainblocked", "1", NULL, PROVEN_QUEUE_UNSEEN },
    { "lib_asio", "stuck-mainrunning", "2", NULL, UNPROVEN },
};

static const struct lib_case healthy_cases[] = {
    { "lib_condpool", "ok-many", "2", NULL, PROVEN },
    { "lib_sempool", "ok-many", "2", NULL, PROVEN },
    { "lib_cxxpool", "ok-many", "4", NULL, PROVEN },
    { "lib_uv", "ok-many", "2", NULL, PROVEN },
    { "lib_glib", "ok-many", "2", NULL, PROVEN },
    { "lib_glib", "ok-many", "2", "shared", PROVEN },
    { "lib_tbb", "ok-many", "2", NULL, PROVEN },
    { "lib_tbb", "ok-nested", "2", NULL, PROVEN },
    { "lib_tbb", "ok-event", "2", NULL, PROVEN },
    { "lib_asio", "ok-many", "2", NULL, PROVEN },
    /* Programs that block a lot and are fine: an idle exclusive GLib pool, GLib workers and libuv
     * workers waiting seconds for an event from main, nested pools done right, long tasks. */
    { "lib_glib", "ok-idle", "2", NULL, PROVEN },
    { "lib_glib", "ok-event", "2", NULL, PROVEN },
    { "lib_uv", "ok-event", "2", NULL, PROVEN },
    { "lib_cxxpool", "ok-nested", "2", NULL, PROVEN },
    { "lib_sempool", "ok-idle", "2", NULL, PROVEN },
    { "lib_condpool", "ok-long", "2", NULL, PROVEN },
};

#define NCASES(a) ((int)(sizeof(a) / sizeof((a)[0])))

struct gate_run {
    char *work;         /* scratch directory (tu_tmpdir) */
    char reports[4200]; /* --dir: the raw reports, kept */
    char json[4200];    /* --output: the rendered report */
    int code;           /* the gate's exit status */
    char *out, *err;
};

static void label_of(const struct lib_case *c, char *buf, size_t size)
{
    snprintf(buf, size, "%s %s %s%s%s", c->prog, c->scen, c->workers, c->flag ? " " : "",
             c->flag ? c->flag : "");
}

/* argv[0] is the program's absolute path; argv is NULL-terminated. */
static void run_under_gate(struct gate_run *g, char *const prog_argv[], int timeout_s)
{
    g->work = tu_tmpdir();
    snprintf(g->reports, sizeof g->reports, "%s/reports", g->work);
    snprintf(g->json, sizeof g->json, "%s/report.json", g->work);
    char out[4200], err[4200], timeout[16];
    snprintf(out, sizeof out, "%s/out", g->work);
    snprintf(err, sizeof err, "%s/err", g->work);
    snprintf(timeout, sizeof timeout, "%d", timeout_s);
    char *argv[32];
    int n = 0;
    argv[n++] = tu_build_path("poolguard");
    argv[n++] = "run";
    argv[n++] = "--timeout";
    argv[n++] = timeout;
    argv[n++] = "--dir";
    argv[n++] = g->reports;
    argv[n++] = "--format";
    argv[n++] = "json";
    argv[n++] = "--output";
    argv[n++] = g->json;
    argv[n++] = "--";
    for (int i = 0; prog_argv[i] && n < 31; i++)
        argv[n++] = prog_argv[i];
    argv[n] = NULL;
    /* The shim is the one next to the poolguard binary. */
    char *env[] = { "POOLGUARD_SHIM=", "NO_COLOR=1", NULL };
    g->code = tu_run(argv, out, err, env, timeout_s + 30);
    free(argv[0]);
    g->out = tu_slurp(out);
    g->err = tu_slurp(err);
}

static void gate_run_free(struct gate_run *g)
{
    free(g->out);
    free(g->err);
    tu_rmtree(g->work);
    free(g->work);
}

/* The program's argv for a case, argv[0] its path under the build; asserts that it was built. */
static void case_argv(const struct lib_case *c, char *path, size_t size, char *argv[5])
{
    tu_prog_path(path, size, c->prog);
    ck_assert_msg(access(path, X_OK) == 0,
                  "%s is not built: its library is missing (see the "
                  "\"poolguard: error:\" line of make; scripts/deps.sh installs it)",
                  path);
    int n = 0;
    argv[n++] = path;
    argv[n++] = (char *)c->scen;
    argv[n++] = (char *)c->workers;
    if (c->flag)
        argv[n++] = (char *)c->flag;
    argv[n] = NULL;
}

START_TEST(test_pool_libs_stuck_pool_is_one_error_naming_workers_and_task)
{
    const struct lib_case *c = &stuck_cases[_i];
    char label[128], path[PATH_MAX], ready[128], stuck[128];
    label_of(c, label, sizeof label);
    char *argv[5];
    case_argv(c, path, sizeof path, argv);
    int workers = atoi(c->workers);
    snprintf(ready, sizeof ready, "%s: ready\n", c->prog);
    snprintf(stuck, sizeof stuck, "%s: stuck at ", c->prog);

    struct gate_run g;
    int proven = c->expect == PROVEN || c->expect == PROVEN_QUEUE_UNSEEN;
    run_under_gate(&g, argv, proven ? STUCK_TIMEOUT_S : UNPROVEN_TIMEOUT_S);
    struct e2e_reports rs;
    e2e_reports_load(&rs, g.reports);
    char all[4096];
    e2e_describe_findings(&rs, all, sizeof all);

    ck_assert_msg(strstr(g.err, stuck),
                  "%s: the program never got stuck (no \"%s\" on stderr): "
                  "%.1500s",
                  label, stuck, g.err);
    ck_assert_msg(!strcmp(g.out, ready), "%s: stdout changed: \"%s\"", label, g.out);
    if (!proven) {
        /* Nothing proves the hang while main runs: the gate must let the program run to its
         * time-out, and no finding may be an error. */
        ck_assert_msg(g.code == 124,
                      "%s: the gate exited %d, not 124 (its time-out): an unproven "
                      "pool must not be stopped (findings: %s)",
                      label, g.code, all);
        size_t nf = e2e_reports_count_findings(&rs);
        for (int k = 0; k < rs.n; k++) {
            size_t j;
            json_t *f;
            json_array_foreach (rs.r[k].findings, j, f)
                ck_assert_msg(strcmp(json_string_value(json_object_get(f, "severity")), "error"),
                              "%s: an error without proof: %s", label, all);
        }
        if (c->expect == UNPROVEN) {
            /* Little is visible of these pools while main runs: nothing, a stall, or (when some
             * signal did reach an idle wait) an inferred warning; never more. */
            ck_assert_msg(nf == 0 || strstr(all, "stall") || strstr(all, "inferred, not proven"),
                          "%s: unexpected findings: %s", label, all);
            e2e_reports_free(&rs);
            gate_run_free(&g);
            return;
        }
        ck_assert_msg(nf == 1, "%s: expected one warning, got %zu: %s", label, nf, all);
    } else {
        ck_assert_msg(g.code == 66,
                      "%s: the gate exited %d, not 66 (findings: %s); stderr: %.2000s", label,
                      g.code, all, g.err);
        ck_assert_msg(e2e_reports_count_findings(&rs) == 1,
                      "%s: expected exactly one finding, got "
                      "%zu: %s",
                      label, e2e_reports_count_findings(&rs), all);
    }

    struct e2e_report *rp = e2e_reports_with_finding(&rs);
    json_t *f = json_array_get(rp->findings, 0);
    const char *kind = json_string_value(json_object_get(f, "kind"));
    const char *sev = json_string_value(json_object_get(f, "severity"));
    if (c->expect == PROVEN_QUEUE_UNSEEN && kind && !strcmp(kind, "deadlock")) {
        /* With the queue invisible, the proven hang may not be recognised as the pool's. */
        ck_assert_msg(sev && !strcmp(sev, "error"), "%s: severity %s, not error (%s)", label, sev,
                      all);
        e2e_reports_free(&rs);
        gate_run_free(&g);
        return;
    }
    const char *want_sev = proven ? "error" : "warning";
    ck_assert_msg(kind && !strcmp(kind, "pool_exhaustion"), "%s: kind %s (%s)", label, kind, all);
    ck_assert_msg(sev && !strcmp(sev, want_sev), "%s: severity %s, not %s (%s)", label, sev,
                  want_sev, all);

    json_t *pool = json_object_get(f, "pool");
    ck_assert_msg(json_is_object(pool), "%s: the finding names no pool", label);
    char *pool_text = json_dumps(pool, JSON_COMPACT);
    const char *proof = json_string_value(json_object_get(pool, "proof"));
    /* Proven by the graph (the whole program is blocked) or exactly (the adapter's knowledge). */
    ck_assert_msg(proof && (proven ? !strcmp(proof, "graph") || !strcmp(proof, "exact")
                                   : !strcmp(proof, "inferred")),
                  "%s: proof %s: %s", label, proof, pool_text);
    ck_assert_msg(json_integer_value(json_object_get(pool, "workers")) == workers,
                  "%s: the pool has %d workers; the finding says: %s", label, workers, pool_text);
    json_t *queued = json_object_get(pool, "queued");
    if (c->expect != PROVEN_QUEUE_UNSEEN)
        ck_assert_msg(json_is_integer(queued) && json_integer_value(queued) >= 1,
                      "%s: the finding needs the queued work; pool: %s", label, pool_text);
    /* Each worker queued exactly one subtask, which is all the queue holds. */
    if (json_is_true(json_object_get(pool, "queued_exact")))
        ck_assert_msg(json_integer_value(queued) == workers,
                      "%s: exact depth %lld, expected %d: %s", label,
                      (long long)json_integer_value(queued), workers, pool_text);
    free(pool_text);

    struct e2e_symtab st;
    e2e_symtab_load(&st, path);
    int nworkers = 0;
    size_t i;
    json_t *t;
    json_array_foreach (json_object_get(f, "threads"), i, t) {
        const char *role = json_string_value(json_object_get(t, "role"));
        if (!role || strcmp(role, "worker"))
            continue;
        nworkers++;
        json_t *names =
            e2e_raw_stack_functions(rp->modules, json_object_get(t, "stack"), c->prog, &st);
        char *dump = json_dumps(names, JSON_COMPACT);
        ck_assert_msg(e2e_names_have(names, "parent_task"),
                      "%s: worker %lld's stack lacks "
                      "parent_task: %.1500s",
                      label, (long long)json_integer_value(json_object_get(t, "tid")), dump);
        free(dump);
        json_decref(names);
    }
    e2e_symtab_free(&st);
    ck_assert_msg(nworkers == workers, "%s: %d threads with the role worker, expected %d", label,
                  nworkers, workers);
    e2e_reports_free(&rs);
    gate_run_free(&g);
}
END_TEST

/* Runs argv natively and under the gate: same status, same stdout, nothing in the reports. */
static void check_healthy(const char *label, char *const argv[])
{
    char *work = tu_tmpdir();
    char out[4200];
    snprintf(out, sizeof out, "%s/native.out", work);
    int native = tu_run(argv, out, NULL, NULL, HEALTHY_TIMEOUT_S);
    char *native_out = tu_slurp(out);
    tu_rmtree(work);
    free(work);

    struct gate_run g;
    run_under_gate(&g, argv, HEALTHY_TIMEOUT_S);
    struct e2e_reports rs;
    e2e_reports_load(&rs, g.reports);
    char all[4096];
    e2e_describe_findings(&rs, all, sizeof all);
    ck_assert_msg(e2e_reports_count_findings(&rs) == 0,
                  "%s: a healthy program got %zu findings: %s", label,
                  e2e_reports_count_findings(&rs), all);
    ck_assert_msg(g.code == native,
                  "%s: exit status %d under the gate, %d without it; stderr: %.2000s", label,
                  g.code, native, g.err);
    ck_assert_msg(!strcmp(g.out, native_out),
                  "%s: stdout differs under the gate:\n--- native\n%s--- "
                  "gate\n%s",
                  label, native_out, g.out);
    e2e_reports_free(&rs);
    free(native_out);
    gate_run_free(&g);
}

START_TEST(test_pool_libs_healthy_program_runs_unchanged_with_no_finding)
{
    const struct lib_case *c = &healthy_cases[_i];
    char label[128], path[PATH_MAX];
    label_of(c, label, sizeof label);
    char *argv[5];
    case_argv(c, path, sizeof path, argv);
    check_healthy(label, argv);
}
END_TEST

/* The Java program is compiled now, into the build directory. */
START_TEST(test_pool_libs_java_pools_are_healthy)
{
    ck_assert_msg(access("/usr/bin/javac", X_OK) == 0 && access("/usr/bin/java", X_OK) == 0,
                  "no javac/java: openjdk-17-jdk-headless is missing (scripts/deps.sh installs "
                  "it)");
    char *classes = tu_build_path("java");
    char *javac[] = { "/usr/bin/javac", "-d", classes, "tests/java/Healthy.java", NULL };
    ck_assert_msg(tu_run(javac, NULL, NULL, NULL, 120) == 0,
                  "javac tests/java/Healthy.java failed");
    char *java[] = { "/usr/bin/java", "-cp", classes, "Healthy", NULL };
    check_healthy("java Healthy", java);
    free(classes);
}
END_TEST

Suite *pool_libs_suite(void)
{
    Suite *s = suite_create("pool_libs");
    TCase *stuck = tcase_create("stuck");
    tcase_set_timeout(stuck, STUCK_TIMEOUT_S + 40);
    tcase_add_loop_test(stuck, test_pool_libs_stuck_pool_is_one_error_naming_workers_and_task, 0,
                        NCASES(stuck_cases));
    suite_add_tcase(s, stuck);
    TCase *ok = tcase_create("healthy");
    tcase_set_timeout(ok, 2 * HEALTHY_TIMEOUT_S + 20);
    tcase_add_loop_test(ok, test_pool_libs_healthy_program_runs_unchanged_with_no_finding, 0,
                        NCASES(healthy_cases));
    tcase_add_test(ok, test_pool_libs_java_pools_are_healthy);
    suite_add_tcase(s, ok);
    return s;
}

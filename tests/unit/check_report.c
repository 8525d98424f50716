/*
 * Raw-report parsing: what the analyzer keeps from good reports, and how it treats bad ones
 * (empty, garbage, binary, newer version, cut short, over-long lines, too many frames/findings).
 */
#include <check.h>

#include "report.h"
#include "testlib.h"

static pg_report *load(const char *path, int *ret)
{
    pg_report *r = report_new();
    ck_assert_ptr_nonnull(r);
    report_set_diagnostics(r, NULL);
    *ret = report_add_path(r, path);
    return r;
}

/* A report that must load without error. */
static pg_report *load_ok(const char *path)
{
    int ret;
    pg_report *r = load(path, &ret);
    ck_assert_int_eq(ret, 0);
    return r;
}

START_TEST(test_report_reads_deadlock_finding)
{
    pg_report *r = load_ok("tests/data/deadlock.jsonl");
    size_t n;
    pg_finding **f = report_findings(r, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(f[0]->kind, "deadlock");
    ck_assert_int_eq(f[0]->sev, PG_SEV_ERROR);
    ck_assert_uint_eq(f[0]->ncycle, 2);
    ck_assert_int_eq(f[0]->cycle[0].tid, 11);
    ck_assert_int_eq(f[0]->cycle[0].waits_for, 12);
    ck_assert_uint_eq(f[0]->cycle[1].address, 0x55d0c0a04080ULL);
    ck_assert_uint_eq(f[0]->nthreads, 2);
    pg_mthread *t = &f[0]->threads[0];
    ck_assert_str_eq(t->name, "worker-1");
    ck_assert(t->blocked.present);
    ck_assert_str_eq(t->blocked.kind, "mutex");
    ck_assert_int_eq(t->blocked.since_ms, 812);
    ck_assert_int_eq(t->blocked.owner, 12);
    ck_assert_uint_eq(t->nholds, 1);
    ck_assert_uint_eq(t->holds[0].pc, 0x55d0c0a01300ULL);
    ck_assert_uint_eq(t->stack.npcs, 5);
    ck_assert_uint_eq(t->stack.pcs[2], 0x55d0c0a0130fULL);
    ck_assert_uint_eq(t->create_stack.npcs, 1);
    ck_assert(t->has_start);
    ck_assert_int_eq(f[0]->proc->pid, 4242);
    ck_assert_uint_eq(f[0]->proc->nmodules, 3);
    ck_assert_str_eq(f[0]->proc->argv[1], "--serve");
    ck_assert_uint_eq(report_errors(r), 0);
    report_free(r);
}
END_TEST

START_TEST(test_report_keeps_findings_before_a_cut_short_line)
{
    pg_report *r = load_ok("tests/data/truncated.jsonl");
    size_t n;
    pg_finding **f = report_findings(r, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(f[0]->kind, "lock_order");
    ck_assert_int_eq(f[0]->sev, PG_SEV_WARNING);
    ck_assert_uint_eq(report_errors(r), 0);
    ck_assert_uint_ge(report_warnings(r), 1);
    report_free(r);
}
END_TEST

START_TEST(test_report_rejects_files_that_are_not_reports)
{
    static const char *const bad[] = { "tests/data/empty.jsonl", "tests/data/garbage.jsonl",
                                       "tests/data/binary.jsonl", "tests/data/otherjson.jsonl" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int ret;
        pg_report *r = load(bad[i], &ret);
        ck_assert_msg(ret == -EINVAL, "%s: %d", bad[i], ret);
        ck_assert_uint_eq(report_errors(r), 1);
        size_t n;
        report_findings(r, &n);
        ck_assert_uint_eq(n, 0);
        report_free(r);
    }
}
END_TEST

START_TEST(test_report_refuses_a_newer_version)
{
    int ret;
    pg_report *r = load("tests/data/v3.jsonl", &ret);
    ck_assert_int_eq(ret, -ENOTSUP);
    size_t n;
    report_findings(r, &n);
    ck_assert_uint_eq(n, 0);
    report_free(r);
}
END_TEST

START_TEST(test_report_skips_bad_lines_and_unknown_members)
{
    pg_report *r = load_ok("tests/data/badlines.jsonl");
    size_t n;
    pg_finding **f = report_findings(r, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(f[0]->kind, "pool_exhaustion");
    ck_assert_ptr_nonnull(f[0]->pool);
    ck_assert_int_eq(json_integer_value(json_object_get(f[0]->pool, "workers")), 4);
    /* "holds" of the wrong type counts as absent; "bogus" in a stack is skipped. */
    ck_assert_uint_eq(f[0]->threads[0].nholds, 0);
    ck_assert_uint_eq(f[0]->threads[0].stack.npcs, 3);
    ck_assert_int_eq(f[1]->sev, PG_SEV_INFO);
    ck_assert(f[1]->threads[0].blocked.timed);
    ck_assert_uint_eq(report_warnings(r), 2);
    report_free(r);
}
END_TEST

START_TEST(test_report_reads_directories_and_ignores_other_files)
{
    pg_report *r = load_ok("tests/data/dir");
    size_t n, np;
    report_findings(r, &n);
    pg_process **p = report_processes(r, &np);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(np, 2);
    ck_assert_int_eq(p[0]->pid, 4242);
    ck_assert_int_eq(p[1]->pid, 4343);
    report_free(r);
}
END_TEST

START_TEST(test_report_missing_path_is_an_error)
{
    int ret;
    pg_report *r = load("tests/data/does-not-exist.jsonl", &ret);
    ck_assert_int_eq(ret, -ENOENT);
    ck_assert_uint_eq(report_errors(r), 1);
    report_free(r);
}
END_TEST

START_TEST(test_report_reads_snapshots)
{
    pg_report *r = load_ok("tests/data/snapshot.jsonl");
    size_t n;
    pg_snapshot **s = report_snapshots(r, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(s[0]->reason, "request");
    ck_assert_uint_eq(s[0]->nthreads, 2);
    ck_assert_int_eq(s[0]->threads[0].blocked.target, 901);
    ck_assert(!s[0]->threads[1].blocked.present);
    report_free(r);
}
END_TEST

static const char header[] = "{\"type\":\"header\",\"format\":\"poolguard-report\",\"version\":1,"
                             "\"pid\":1,\"exe\":\"/x\"}\n";
static const char finding[] =
    "{\"type\":\"finding\",\"kind\":\"deadlock\",\"severity\":\"error\",\"threads\":[]}\n";

START_TEST(test_report_skips_over_long_lines_with_bounded_memory)
{
    char *dir = tu_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/long.jsonl", dir);
    FILE *f = fopen(path, "w");
    fputs(header, f);
    /* 3 MiB of one line: more than the cap. */
    fputs("{\"type\":\"finding\",\"summary\":\"", f);
    for (int i = 0; i < 3 * 1024; i++)
        for (int j = 0; j < 1024; j++)
            fputc('a', f);
    fputs("\"}\n", f);
    fputs(finding, f);
    fclose(f);
    pg_report *r = load_ok(path);
    size_t n;
    report_findings(r, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(report_warnings(r), 1);
    report_free(r);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_report_caps_frames_and_findings)
{
    char *dir = tu_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/many.jsonl", dir);
    FILE *f = fopen(path, "w");
    fputs(header, f);
    fputs("{\"type\":\"finding\",\"kind\":\"deadlock\",\"severity\":\"error\",\"threads\":[{"
          "\"tid\":1,"
          "\"stack\":[",
          f);
    for (int i = 0; i < 1000; i++)
        fprintf(f, "%s\"0x%x\"", i ? "," : "", 0x1000 + i);
    fputs("]}]}\n", f);
    for (int i = 0; i < PG_MAX_FINDINGS + 50; i++)
        fputs(finding, f);
    fclose(f);
    pg_report *r = load_ok(path);
    size_t n;
    pg_finding **fs = report_findings(r, &n);
    ck_assert_uint_eq(n, PG_MAX_FINDINGS);
    ck_assert_uint_eq(fs[0]->threads[0].stack.npcs, PG_MAX_FRAMES);
    ck_assert_uint_eq(fs[0]->threads[0].stack.dropped, 1000 - PG_MAX_FRAMES);
    report_free(r);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_report_unreadable_file_is_an_error)
{
    if (geteuid() == 0)
        return; /* root reads everything; nothing to test */
    char *dir = tu_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/secret.jsonl", dir);
    tu_write(path, header);
    chmod(path, 0);
    int ret;
    pg_report *r = load(path, &ret);
    ck_assert_int_eq(ret, -EACCES);
    report_free(r);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

Suite *report_suite(void)
{
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("parse");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_report_reads_deadlock_finding);
    tcase_add_test(tc, test_report_keeps_findings_before_a_cut_short_line);
    tcase_add_test(tc, test_report_rejects_files_that_are_not_reports);
    tcase_add_test(tc, test_report_refuses_a_newer_version);
    tcase_add_test(tc, test_report_skips_bad_lines_and_unknown_members);
    tcase_add_test(tc, test_report_reads_directories_and_ignores_other_files);
    tcase_add_test(tc, test_report_missing_path_is_an_error);
    tcase_add_test(tc, test_report_reads_snapshots);
    tcase_add_test(tc, test_report_skips_over_long_lines_with_bounded_memory);
    tcase_add_test(tc, test_report_caps_frames_and_findings);
    tcase_add_test(tc, test_report_unreadable_file_is_an_error);
    suite_add_tcase(s, tc);
    return s;
}

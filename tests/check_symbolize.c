/*
 * Symbolization against real binaries: build/fixtures/symtest writes a raw report about itself
 * (real return addresses, module map, build-ids) plus the lines those addresses must resolve to.
 * Covers PIE executables, a C++ shared library, inlined calls, the symbol-table fallback, missing
 * and changed modules.
 */
#include <check.h>

#include "fixtures/testutil.h"
#include "../analyzer/report.h"
#include "../analyzer/symbolize.h"

typedef struct fixture {
    char *dir;
    char *report;     /* path of the raw report */
    char *text;       /* its content */
    json_t *expect;   /* the x-expect line */
} fixture;

static void fixture_make(fixture *fx)
{
    fx->dir = tu_tmpdir();
    fx->report = malloc(4200);
    snprintf(fx->report, 4200, "%s/symtest.jsonl", fx->dir);
    char *prog = tu_build_path("fixtures/symtest");
    char *argv[] = { prog, NULL };
    ck_assert_int_eq(tu_run(argv, fx->report, NULL, NULL, 20), 0);
    free(prog);
    fx->text = tu_slurp(fx->report);
    const char *e = strstr(fx->text, "{\"type\":\"x-expect\"");
    ck_assert_ptr_nonnull(e);
    fx->expect = json_loadb(e, strcspn(e, "\n"), 0, NULL);
    ck_assert_ptr_nonnull(fx->expect);
}

static void fixture_free(fixture *fx)
{
    tu_rmtree(fx->dir);
    free(fx->dir);
    free(fx->report);
    free(fx->text);
    json_decref(fx->expect);
}

static int expect_int(fixture *fx, const char *key)
{
    return (int)json_integer_value(json_object_get(fx->expect, key));
}

/* Loads text as a report and symbolizes it; returns the finding's thread. */
static pg_report *symbolize_text(fixture *fx, const char *text, unsigned *warnings)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/variant.jsonl", fx->dir);
    tu_write(path, text);
    pg_report *r = report_new();
    report_set_diagnostics(r, NULL);
    ck_assert_int_eq(report_add_path(r, path), 0);
    symbolizer *s = symbolizer_new(NULL);
    ck_assert_int_eq(symbolizer_run(s, r), 0);
    if (warnings)
        *warnings = symbolizer_warnings(s);
    symbolizer_free(s);
    return r;
}

static pg_thread *thread0(pg_report *r)
{
    size_t n;
    pg_finding **f = report_findings(r, &n);
    ck_assert_uint_eq(n, 1);
    return &f[0]->threads[0];
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

START_TEST(test_symbolize_pie_function_file_and_line)
{
    fixture fx;
    fixture_make(&fx);
    unsigned warnings;
    pg_report *r = symbolize_text(&fx, fx.text, &warnings);
    pg_thread *t = thread0(r);
    /* Stack: outer (two frames: the inlined call and its caller), plain, lib, 0x10. */
    pg_frame *f = &t->stack.frames[2];
    ck_assert_str_eq(f->function, "symtest_plain");
    ck_assert(ends_with(f->file, "tests/fixtures/symtest.c"));
    ck_assert_int_eq(f->line, expect_int(&fx, "plain_line"));
    ck_assert(f->own);
    ck_assert(!f->folded);
    ck_assert_uint_eq(warnings, 0);
    report_free(r);
    fixture_free(&fx);
}
END_TEST

START_TEST(test_symbolize_expands_inlined_calls)
{
    fixture fx;
    fixture_make(&fx);
    pg_report *r = symbolize_text(&fx, fx.text, NULL);
    pg_thread *t = thread0(r);
    ck_assert_uint_ge(t->stack.nframes, 5);
    pg_frame *in = &t->stack.frames[0], *out = &t->stack.frames[1];
    ck_assert_str_eq(in->function, "inlined_helper");
    ck_assert(in->inlined);
    ck_assert_int_eq(in->line, expect_int(&fx, "inline_line"));
    ck_assert_str_eq(out->function, "symtest_outer");
    ck_assert(!out->inlined);
    ck_assert_int_eq(out->line, expect_int(&fx, "outer_line"));
    ck_assert_uint_eq(in->pc, out->pc);
    report_free(r);
    fixture_free(&fx);
}
END_TEST

START_TEST(test_symbolize_shared_library_and_cxx_names)
{
    fixture fx;
    fixture_make(&fx);
    pg_report *r = symbolize_text(&fx, fx.text, NULL);
    pg_thread *t = thread0(r);
    pg_frame *f = &t->stack.frames[3];
    ck_assert_str_eq(f->function, "pgtest::lib_function(int)");
    ck_assert(ends_with(f->file, "symlib.cpp"));
    ck_assert_int_eq(f->line, expect_int(&fx, "lib_line"));
    ck_assert(ends_with(f->module, "libsymlib.so"));
    /* An address no module holds stays an address. */
    pg_frame *g = &t->stack.frames[4];
    ck_assert_ptr_null(g->function);
    ck_assert_ptr_null(g->module);
    ck_assert_uint_eq(g->pc, 0x10);
    report_free(r);
    fixture_free(&fx);
}
END_TEST

START_TEST(test_symbolize_exact_addresses_and_lock_sites)
{
    fixture fx;
    fixture_make(&fx);
    pg_report *r = symbolize_text(&fx, fx.text, NULL);
    pg_thread *t = thread0(r);
    /* start_routine is a function's own address, not a return address: no pc - 1. */
    ck_assert_uint_ge(t->start.nframes, 1);
    ck_assert_str_eq(t->start.frames[0].function, "symtest_outer");
    ck_assert_uint_eq(t->nholds, 1);
    ck_assert_str_eq(t->holds[0].where.frames[0].function, "symtest_plain");
    ck_assert_int_eq(t->holds[0].where.frames[0].line, expect_int(&fx, "plain_line"));
    report_free(r);
    fixture_free(&fx);
}
END_TEST

START_TEST(test_symbolize_falls_back_to_symbol_table_without_debug_info)
{
    fixture fx;
    fixture_make(&fx);
    char *text = tu_replace(fx.text, "/libsymlib.so\"", "/libsymlib-nodebug.so\"");
    unsigned warnings;
    pg_report *r = symbolize_text(&fx, text, &warnings);
    pg_thread *t = thread0(r);
    pg_frame *f = &t->stack.frames[3];
    ck_assert_str_eq(f->function, "pgtest::lib_function(int)");
    ck_assert_ptr_null(f->file);
    ck_assert_uint_eq(warnings, 0);
    report_free(r);
    free(text);
    fixture_free(&fx);
}
END_TEST

START_TEST(test_symbolize_distrusts_a_changed_module)
{
    fixture fx;
    fixture_make(&fx);
    /* The executable's build-id as recorded no longer matches the file on disk. */
    const char *exe_mod = strstr(fx.text, "fixtures/symtest\",\"base\"");
    ck_assert_ptr_nonnull(exe_mod);
    const char *bid = strstr(exe_mod, "\"build_id\":\"");
    ck_assert_ptr_nonnull(bid);
    char old[128];
    snprintf(old, sizeof old, "%.52s", bid);
    char *text = tu_replace(fx.text, old, "\"build_id\":\"00000000000000000000000000000000deadbeef");
    unsigned warnings;
    pg_report *r = symbolize_text(&fx, text, &warnings);
    pg_thread *t = thread0(r);
    pg_frame *f = &t->stack.frames[0];
    ck_assert_ptr_null(f->function);
    ck_assert(ends_with(f->module, "fixtures/symtest"));
    ck_assert_uint_ne(f->offset, 0);
    ck_assert_uint_eq(warnings, 1);
    /* The library did not change: still symbolized. */
    ck_assert_str_eq(t->stack.frames[t->stack.nframes - 2].function, "pgtest::lib_function(int)");
    report_free(r);
    free(text);
    fixture_free(&fx);
}
END_TEST

START_TEST(test_symbolize_missing_module_gives_module_and_offset)
{
    fixture fx;
    fixture_make(&fx);
    char *text = tu_replace(fx.text, "/libsymlib.so\"", "/libsymlib-gone.so\"");
    unsigned warnings;
    pg_report *r = symbolize_text(&fx, text, &warnings);
    pg_thread *t = thread0(r);
    pg_frame *f = &t->stack.frames[3];
    ck_assert_ptr_null(f->function);
    ck_assert(ends_with(f->module, "libsymlib-gone.so"));
    ck_assert_uint_eq(warnings, 1);
    report_free(r);
    free(text);
    fixture_free(&fx);
}
END_TEST

START_TEST(test_symbolize_folds_shim_libc_and_loader)
{
    ck_assert(module_is_folded("/usr/lib/poolguard/libpoolguard.so"));
    ck_assert(module_is_folded("/lib/x86_64-linux-gnu/libc.so.6"));
    ck_assert(module_is_folded("/lib64/ld-linux-x86-64.so.2"));
    ck_assert(!module_is_folded("/usr/lib/x86_64-linux-gnu/libcrypto.so.3"));
    ck_assert(!module_is_folded("/work/app"));
}
END_TEST

Suite *symbolize_suite(void)
{
    Suite *s = suite_create("symbolize");
    TCase *tc = tcase_create("libdw");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_symbolize_pie_function_file_and_line);
    tcase_add_test(tc, test_symbolize_expands_inlined_calls);
    tcase_add_test(tc, test_symbolize_shared_library_and_cxx_names);
    tcase_add_test(tc, test_symbolize_exact_addresses_and_lock_sites);
    tcase_add_test(tc, test_symbolize_falls_back_to_symbol_table_without_debug_info);
    tcase_add_test(tc, test_symbolize_distrusts_a_changed_module);
    tcase_add_test(tc, test_symbolize_missing_module_gives_module_and_offset);
    tcase_add_test(tc, test_symbolize_folds_shim_libc_and_loader);
    suite_add_tcase(s, tc);
    return s;
}

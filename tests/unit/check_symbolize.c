/*
 * Symbolization against real binaries: build/fixtures/symtest writes a raw report about itself
 * (real return addresses, module map, build-ids) plus the lines those addresses must resolve to.
 * Covers PIE executables, a C++ shared library, inlined calls, the symbol-table fallback, missing
 * and changed modules, and lock names: globals, struct members and array elements by their
 * variable (DWARF, or the symbol table of a module without it, or .dynsym of a stripped one),
 * heap locks by their init or first-taken site, addresses no module holds.
 */
#include <check.h>

#include "analyze.h"
#include "report.h"
#include "symbolize.h"
#include "testlib.h"

typedef struct fixture {
    char *dir;
    char *report;   /* path of the raw report */
    char *text;     /* its content */
    json_t *expect; /* the x-expect line */
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

static pg_mthread *thread0(pg_report *r)
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
    pg_mthread *t = thread0(r);
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
    pg_mthread *t = thread0(r);
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
    pg_mthread *t = thread0(r);
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
    pg_mthread *t = thread0(r);
    /* start_routine is a function's own address, not a return address: no pc - 1. */
    ck_assert_uint_ge(t->start.nframes, 1);
    ck_assert_str_eq(t->start.frames[0].function, "symtest_outer");
    ck_assert_uint_eq(t->nholds, 8);
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
    pg_mthread *t = thread0(r);
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
    char *text =
        tu_replace(fx.text, old, "\"build_id\":\"00000000000000000000000000000000deadbeef");
    unsigned warnings;
    pg_report *r = symbolize_text(&fx, text, &warnings);
    pg_mthread *t = thread0(r);
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
    pg_mthread *t = thread0(r);
    pg_frame *f = &t->stack.frames[3];
    ck_assert_ptr_null(f->function);
    ck_assert(ends_with(f->module, "libsymlib-gone.so"));
    ck_assert_uint_eq(warnings, 1);
    report_free(r);
    free(text);
    fixture_free(&fx);
}
END_TEST

/* The lock held at index i, as text and JSON name it. */
static const char *lock_text(const pg_mthread *t, size_t i, char *buf, size_t len)
{
    return describe_lock(t->holds[i].name, t->holds[i].kind, t->holds[i].address, buf, len);
}

static const char *lock_name(const pg_mthread *t, size_t i, char *buf, size_t len)
{
    return describe_lock_name(t->holds[i].name, t->holds[i].kind, buf, len);
}

/* "mutex accounts_lock (symtest.c:26, 0x...)" for a variable, "the mutex initialized in f() at
 * symtest.c:60 (0x...)" for a site: the expected text, the lock's address filled in. */
static void assert_lock_text(const pg_mthread *t, size_t i, const char *before, int line)
{
    char want[512], got[16384];
    bool site = strncmp(before, "the ", 4) == 0;
    if (line)
        snprintf(want, sizeof want, "%s:%d%s0x%llx)", before, line, site ? " (" : ", ",
                 (unsigned long long)t->holds[i].address);
    else
        snprintf(want, sizeof want, "%s0x%llx)", before, (unsigned long long)t->holds[i].address);
    ck_assert_str_eq(lock_text(t, i, got, sizeof got), want);
}

START_TEST(test_symbolize_names_global_and_static_locks_by_variable_and_definition)
{
    fixture fx;
    fixture_make(&fx);
    pg_report *r = symbolize_text(&fx, fx.text, NULL);
    pg_mthread *t = thread0(r);
    const pg_lockname *n = t->holds[1].name;
    ck_assert_ptr_nonnull(n);
    ck_assert_str_eq(n->symbol, "accounts_lock");
    ck_assert_ptr_null(n->member);
    ck_assert_uint_eq(n->sym_offset, 0);
    ck_assert(ends_with(n->decl_file, "tests/fixtures/symtest.c"));
    ck_assert_int_eq(n->decl_line, expect_int(&fx, "accounts_line"));
    assert_lock_text(t, 1, "mutex accounts_lock (symtest.c", expect_int(&fx, "accounts_line"));
    /* A member of a static struct, an element of a static array: the path to the lock. */
    n = t->holds[2].name;
    ck_assert_str_eq(n->symbol, "registry");
    ck_assert_str_eq(n->member, ".lock");
    ck_assert_uint_eq(n->sym_offset, 8);
    char buf[16384];
    char want[128];
    snprintf(want, sizeof want, "registry.lock (symtest.c:%d)", expect_int(&fx, "registry_line"));
    ck_assert_str_eq(lock_name(t, 2, buf, sizeof buf), want);
    ck_assert_str_eq(t->holds[3].name->member, "[2].mu");
    assert_lock_text(t, 3, "write lock shards[2].mu (symtest.c", expect_int(&fx, "shards_line"));
    /* The C++ library's exported mutex and the mutex inside its file-local struct. */
    assert_lock_text(t, 6, "mutex symlib_mutex (symlib.cpp", expect_int(&fx, "symlib_mutex_line"));
    assert_lock_text(t, 7, "mutex symlib_hidden.mu (symlib.cpp",
                     expect_int(&fx, "symlib_hidden_line"));
    ck_assert(ends_with(t->holds[7].name->module, "libsymlib.so"));
    report_free(r);
    fixture_free(&fx);
}
END_TEST

START_TEST(test_symbolize_names_heap_locks_by_init_then_first_taken_site)
{
    fixture fx;
    fixture_make(&fx);
    pg_report *r = symbolize_text(&fx, fx.text, NULL);
    pg_mthread *t = thread0(r);
    /* init_pc wins over first_taken_pc; both are return addresses (the call's line). */
    const pg_lockname *n = t->holds[4].name;
    ck_assert_ptr_null(n->symbol);
    ck_assert_int_eq(n->site_kind, PG_SITE_INIT);
    ck_assert_str_eq(n->site.frames[0].function, "cache_new");
    ck_assert_int_eq(n->site.frames[0].line, expect_int(&fx, "cache_init_line"));
    assert_lock_text(t, 4, "the mutex initialized in cache_new() at symtest.c",
                     expect_int(&fx, "cache_init_line"));
    ck_assert_int_eq(t->holds[5].name->site_kind, PG_SITE_FIRST_TAKEN);
    assert_lock_text(t, 5, "the mutex first taken in symtest_plain() at symtest.c",
                     expect_int(&fx, "plain_line"));
    /* An address no module holds and nothing else names stays an address. */
    char buf[16384];
    ck_assert_str_eq(describe_lock(t->blocked.name, t->blocked.kind, t->blocked.address, buf,
                                   sizeof buf),
                     "mutex 0x10");
    ck_assert_str_eq(describe_lock_name(t->blocked.name, t->blocked.kind, buf, sizeof buf), "");
    ck_assert_str_eq(lock_text(t, 0, buf, sizeof buf), "mutex 0x20");
    report_free(r);
    fixture_free(&fx);
}
END_TEST

START_TEST(test_symbolize_names_locks_from_the_symbol_table_without_debug_info)
{
    fixture fx;
    fixture_make(&fx);
    char *text = tu_replace(fx.text, "/libsymlib.so\"", "/libsymlib-nodebug.so\"");
    pg_report *r = symbolize_text(&fx, text, NULL);
    pg_mthread *t = thread0(r);
    /* No DWARF: the symbol names the variable, without its line or the member. */
    assert_lock_text(t, 6, "mutex symlib_mutex (", 0);
    ck_assert_ptr_null(t->holds[6].name->decl_file);
    assert_lock_text(t, 7, "mutex inside symlib_hidden (offset 8, ", 0);
    report_free(r);
    free(text);
    fixture_free(&fx);
}
END_TEST

START_TEST(test_symbolize_names_locks_of_a_stripped_module_from_dynsym_or_the_site)
{
    fixture fx;
    fixture_make(&fx);
    /* The library's path as the process recorded it (the build directory may be a symlink). */
    const char *end = strstr(fx.text, "/libsymlib.so\""), *start = end;
    ck_assert_ptr_nonnull(end);
    while (start > fx.text && start[-1] != '"')
        start--;
    char *lib = strndup(start, (size_t)(end - start) + strlen("/libsymlib.so")), stripped[4300];
    snprintf(stripped, sizeof stripped, "%s/libsymlib.so", fx.dir);
    char *argv[] = { "/usr/bin/strip", "--strip-all", "-o", stripped, lib, NULL };
    ck_assert_int_eq(tu_run(argv, NULL, NULL, NULL, 20), 0);
    char *text = tu_replace(fx.text, lib, stripped);
    pg_report *r = symbolize_text(&fx, text, NULL);
    pg_mthread *t = thread0(r);
    /* Exported: still in .dynsym. File-local: gone, so where it was first taken names it. */
    assert_lock_text(t, 6, "mutex symlib_mutex (", 0);
    char buf[16384];
    ck_assert_str_eq(lock_name(t, 7, buf, sizeof buf),
                     "the mutex first taken in pgtest::lib_function(int)");
    report_free(r);
    free(text);
    free(lib);
    fixture_free(&fx);
}
END_TEST

START_TEST(test_symbolize_names_locks_of_a_missing_module_by_site_offset)
{
    fixture fx;
    fixture_make(&fx);
    char *text = tu_replace(fx.text, "/libsymlib.so\"", "/libsymlib-gone.so\"");
    pg_report *r = symbolize_text(&fx, text, NULL);
    pg_mthread *t = thread0(r);
    char buf[16384];
    /* No file to read: the library's global is an address; the site is module+offset. */
    ck_assert_int_eq(strncmp(lock_text(t, 6, buf, sizeof buf), "mutex 0x", 8), 0);
    ck_assert(strncmp(lock_name(t, 7, buf, sizeof buf),
                      "the mutex first taken at libsymlib-gone.so+0x", 45) == 0);
    /* The executable's locks are unaffected. */
    ck_assert_str_eq(t->holds[1].name->symbol, "accounts_lock");
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
    tcase_add_test(tc, test_symbolize_names_global_and_static_locks_by_variable_and_definition);
    tcase_add_test(tc, test_symbolize_names_heap_locks_by_init_then_first_taken_site);
    tcase_add_test(tc, test_symbolize_names_locks_from_the_symbol_table_without_debug_info);
    tcase_add_test(tc, test_symbolize_names_locks_of_a_stripped_module_from_dynsym_or_the_site);
    tcase_add_test(tc, test_symbolize_names_locks_of_a_missing_module_by_site_offset);
    suite_add_tcase(s, tc);
    return s;
}

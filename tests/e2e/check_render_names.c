/*
 * Locks named in every format, from real runs under the shim (build/libpoolguard.so): lo_named's
 * lock-order cycle between a global (by its variable and definition) and a heap lock (by where
 * it was initialized), in text, JSON, SARIF, DOT and HTML; and dl_lock_inversion's deadlock,
 * whose waits and holds name the two global locks. Line numbers of the programs are asserted,
 * as in check_run_shim.c. The symbolizer's own cases (members, stripped modules, no module):
 * check_symbolize.c.
 */
#include <check.h>
#include <jansson.h>

#include "render_util.h"
#include "testlib.h"

/* lo_named run with the shim preloaded; its raw report read, symbolized and analysed. */
static pg_report *run_lo_named(char **dir)
{
    *dir = tu_tmpdir();
    char *shim = tu_build_path("libpoolguard.so"), *prog = tu_build_path("progs/lo_named");
    char preload[8300], outdir[4200];
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", shim);
    snprintf(outdir, sizeof outdir, "POOLGUARD_DIR=%s", *dir);
    char *env[] = { preload, outdir, NULL };
    char *argv[] = { prog, NULL };
    char out[4300], err[4300];
    snprintf(out, sizeof out, "%s/stdout", *dir);
    snprintf(err, sizeof err, "%s/stderr", *dir);
    ck_assert_int_eq(tu_run(argv, out, err, env, 30), 0);
    char *text = tu_slurp(out);
    ck_assert_msg(!strstr(text, "moved"), "%s", text);
    free(text);
    unlink(out);
    unlink(err);
    free(shim);
    free(prog);
    return ru_load_symbolized(*dir);
}

static void done(pg_report *r, char *dir)
{
    report_free(r);
    tu_rmtree(dir);
    free(dir);
}

START_TEST(test_render_names_lock_order_text_and_html_name_global_and_heap_locks)
{
    tu_need_built("libpoolguard.so");
    tu_need_built("progs/lo_named");
    char *dir;
    pg_report *r = run_lo_named(&dir);
    char *t = ru_render(r, PG_FMT_TEXT);
    tu_assert_in_order(t,
                       (const char *[]){
                           "warning: lock_order in lo_named", "(in deposit() and audit())",
                           "    lock A: mutex accounts_lock (lo_named.c:12, 0x",
                           "      | then lock B, taken by ", " in deposit\n",
                           "    lock B: the mutex initialized in cache_new() at lo_named.c:29 (0x",
                           "      | then lock A, taken by ", " in audit\n", NULL });
    free(t);
    char *h = ru_render(r, PG_FMT_HTML);
    ck_assert_ptr_nonnull(strstr(h, "<b>lock A</b>: mutex accounts_lock (lo_named.c:12, 0x"));
    ck_assert_ptr_nonnull(
        strstr(h, "<b>lock B</b>: the mutex initialized in cache_new() at lo_named.c:29 (0x"));
    free(h);
    done(r, dir);
}
END_TEST

START_TEST(test_render_names_lock_order_json_has_symbol_definition_and_site)
{
    tu_need_built("libpoolguard.so");
    tu_need_built("progs/lo_named");
    char *dir;
    pg_report *r = run_lo_named(&dir);
    json_t *doc, *f = ru_first_finding(r, &doc);
    json_t *e0 = json_array_get(json_object_get(f, "order"), 0);
    json_t *a = json_object_get(e0, "first"), *b = json_object_get(e0, "then");
    ck_assert_str_eq(json_string_value(json_object_get(a, "name")),
                     "accounts_lock (lo_named.c:12)");
    ck_assert_str_eq(json_string_value(json_object_get(a, "symbol")), "accounts_lock");
    ck_assert_int_eq(json_integer_value(json_object_get(a, "symbol_offset")), 0);
    const char *file = json_string_value(json_object_get(a, "decl_file"));
    ck_assert_ptr_nonnull(file);
    ck_assert_ptr_nonnull(strstr(file, "tests/progs/lo_named.c"));
    ck_assert_int_eq(json_integer_value(json_object_get(a, "decl_line")), 12);
    ck_assert_ptr_nonnull(
        strstr(json_string_value(json_object_get(a, "module")), "progs/lo_named"));
    ck_assert_ptr_null(json_object_get(a, "site"));
    /* The address stays beside the name. */
    ck_assert_str_eq(json_string_value(json_object_get(a, "kind")), "mutex");
    ck_assert(strncmp(json_string_value(json_object_get(a, "address")), "0x", 2) == 0);
    ck_assert_str_eq(json_string_value(json_object_get(b, "name")),
                     "the mutex initialized in cache_new() at lo_named.c:29");
    ck_assert_ptr_null(json_object_get(b, "symbol"));
    json_t *site = json_object_get(b, "site");
    ck_assert_str_eq(json_string_value(json_object_get(site, "kind")), "init");
    json_t *frame = json_object_get(site, "frame");
    ck_assert_str_eq(json_string_value(json_object_get(frame, "function")), "cache_new");
    ck_assert_int_eq(json_integer_value(json_object_get(frame, "line")), 29);
    /* The second edge goes back: the same names the other way round. */
    json_t *e1 = json_array_get(json_object_get(f, "order"), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(e1, "then"), "symbol")),
                     "accounts_lock");
    json_decref(doc);
    done(r, dir);
}
END_TEST

START_TEST(test_render_names_lock_order_sarif_and_dot)
{
    tu_need_built("libpoolguard.so");
    tu_need_built("progs/lo_named");
    char *dir;
    pg_report *r = run_lo_named(&dir);
    char *s = ru_render(r, PG_FMT_SARIF);
    json_t *doc = json_loads(s, 0, NULL);
    ck_assert_ptr_nonnull(doc);
    json_t *res =
        json_array_get(json_object_get(json_array_get(json_object_get(doc, "runs"), 0), "results"),
                       0);
    json_t *flows =
        json_object_get(json_array_get(json_object_get(res, "codeFlows"), 0), "threadFlows");
    const char *msg = json_string_value(
        json_object_get(json_object_get(json_array_get(flows, 0), "message"), "text"));
    tu_assert_in_order(msg, (const char *[]){
                                " takes the mutex initialized in cache_new() at lo_named.c:29 (0x",
                                ") while holding mutex accounts_lock (lo_named.c:12, 0x", NULL });
    /* Related locations: the global's definition and the heap lock's init site. */
    json_t *rel = json_object_get(res, "relatedLocations");
    bool defined = false, initialized = false;
    for (size_t i = 0; i < json_array_size(rel); i++) {
        json_t *loc = json_array_get(rel, i);
        const char *text =
            json_string_value(json_object_get(json_object_get(loc, "message"), "text"));
        json_t *phys = json_object_get(loc, "physicalLocation");
        const char *uri =
            json_string_value(json_object_get(json_object_get(phys, "artifactLocation"), "uri"));
        json_int_t line =
            json_integer_value(json_object_get(json_object_get(phys, "region"), "startLine"));
        if (text && strncmp(text, "mutex accounts_lock is defined here (0x", 39) == 0) {
            defined = true;
            ck_assert_ptr_nonnull(strstr(uri, "lo_named.c"));
            ck_assert_int_eq(line, 12);
        }
        if (text &&
            strncmp(text, "the mutex initialized in cache_new() at lo_named.c:29 (0x", 57) == 0) {
            initialized = true;
            ck_assert_int_eq(line, 29);
        }
    }
    ck_assert_msg(defined && initialized, "%s", s);
    json_decref(doc);
    free(s);
    char *d = ru_render(r, PG_FMT_DOT);
    ck_assert_ptr_nonnull(strstr(d, "label=\"mutex\\naccounts_lock (lo_named.c:12)\\n0x"));
    ck_assert_ptr_nonnull(
        strstr(d, "label=\"mutex\\nthe mutex initialized in cache_new() at lo_named.c:29\\n0x"));
    free(d);
    done(r, dir);
}
END_TEST

/* A deadlock between two globals, stopped by `poolguard run`: every wait and hold names them. */
START_TEST(test_render_names_deadlock_names_the_global_locks)
{
    tu_need_built("libpoolguard.so");
    tu_need_built("progs/dl_lock_inversion");
    char *argv[] = { tu_build_path("poolguard"),
                     strdup("run"),
                     strdup("--timeout"),
                     strdup("30"),
                     strdup("--"),
                     tu_build_path("progs/dl_lock_inversion"),
                     NULL };
    char *env[] = { "POOLGUARD_SHIM=", "NO_COLOR=1", NULL };
    char *out, *err;
    int code = tu_run_capture(argv, env, 60, &out, &err);
    ck_assert_msg(code == 66, "exit %d:\n%s", code, err);
    tu_assert_in_order(err,
                       (const char *[]){ "error: deadlock in dl_lock_inversion", "  the cycle:\n",
                                         "      | waits on mutex lock_", " (dl_lock_inversion.c:1",
                                         ", 0x", "), held by\n", "inv-a (tid ", "waits ",
                                         " on mutex lock_b (dl_lock_inversion.c:12, 0x",
                                         "holds mutex lock_a (dl_lock_inversion.c:11, 0x",
                                         "), taken in thread_a at ", NULL });
    ck_assert_ptr_nonnull(strstr(err, "holds mutex lock_b (dl_lock_inversion.c:12, 0x"));
    free(out);
    free(err);
}
END_TEST

Suite *render_names_suite(void)
{
    Suite *s = suite_create("render_names");
    TCase *tc = tcase_create("real_runs");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_render_names_lock_order_text_and_html_name_global_and_heap_locks);
    tcase_add_test(tc, test_render_names_lock_order_json_has_symbol_definition_and_site);
    tcase_add_test(tc, test_render_names_lock_order_sarif_and_dot);
    tcase_add_test(tc, test_render_names_deadlock_names_the_global_locks);
    suite_add_tcase(s, tc);
    return s;
}

/*
 * `poolguard run` with the real shim (build/libpoolguard.so) on the end-to-end test programs
 * (build/progs): the gate stops a real deadlock and names the functions, lets a healthy program
 * through with its own status, and a time-out shows the shim's snapshot. Skipped (passing) while
 * the shim or the programs are not built, since they belong to another part of the tree.
 */
#include <check.h>
#include <jansson.h>
#include <stdbool.h>

#include "fixtures/testutil.h"

static bool have(const char *rel)
{
    char *p = tu_build_path(rel);
    bool ok = access(p, R_OK) == 0;
    free(p);
    return ok;
}

static int run_prog(const char *prog, const char *const *opts, char **out, char **err)
{
    char *dir = tu_tmpdir();
    char o[4200], e[4200];
    snprintf(o, sizeof o, "%s/out", dir);
    snprintf(e, sizeof e, "%s/err", dir);
    char *argv[32];
    size_t n = 0;
    argv[n++] = tu_build_path("poolguard");
    argv[n++] = strdup("run");
    for (size_t i = 0; opts[i]; i++)
        argv[n++] = strdup(opts[i]);
    argv[n++] = strdup("--");
    char rel[256];
    snprintf(rel, sizeof rel, "progs/%s", prog);
    argv[n++] = tu_build_path(rel);
    argv[n] = NULL;
    /* The shim is found next to the poolguard binary: no POOLGUARD_SHIM. */
    char *env[] = { "POOLGUARD_SHIM=", "NO_COLOR=1", NULL };
    int code = tu_run(argv, o, e, env, 60);
    *out = tu_slurp(o);
    *err = tu_slurp(e);
    for (size_t i = 0; i < n; i++)
        free(argv[i]);
    tu_rmtree(dir);
    free(dir);
    return code;
}

START_TEST(test_run_shim_stops_a_lock_inversion_and_names_the_functions)
{
    if (!have("libpoolguard.so") || !have("progs/dl_lock_inversion"))
        return;
    char *out, *err;
    int code = run_prog("dl_lock_inversion",
                        (const char *[]){ "--timeout", "30", "--format", "json", "--output", "-", NULL },
                        &out, &err);
    ck_assert_int_eq(code, 66);
    /* The program's own stdout comes first: the report starts at the first line that is '{'. */
    const char *start = out[0] == '{' ? out : strstr(out, "\n{");
    ck_assert_ptr_nonnull(start);
    json_t *doc = json_loads(start, JSON_DISABLE_EOF_CHECK, NULL);
    ck_assert_ptr_nonnull(doc);
    json_t *f = json_array_get(json_object_get(doc, "findings"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(f, "kind")), "deadlock");
    ck_assert_uint_eq(json_array_size(json_object_get(f, "cycle")), 2);
    /* Somewhere in the cycle's stacks: the program's own function, with a line. */
    bool named = false;
    json_t *threads = json_object_get(f, "threads");
    for (size_t i = 0; i < json_array_size(threads); i++) {
        json_t *st = json_object_get(json_array_get(threads, i), "stack");
        for (size_t k = 0; k < json_array_size(st); k++) {
            json_t *fr = json_array_get(st, k);
            const char *fn = json_string_value(json_object_get(fr, "function"));
            if (fn && strcmp(fn, "thread_a") == 0 && json_integer_value(json_object_get(fr, "line")) > 0)
                named = true;
        }
    }
    ck_assert_msg(named, "no frame thread_a with a line in:\n%s", out);
    json_decref(doc);
    free(out);
    free(err);
}
END_TEST

START_TEST(test_run_shim_lets_a_healthy_program_through)
{
    if (!have("libpoolguard.so") || !have("progs/ok_contended"))
        return;
    char *out, *err;
    int code = run_prog("ok_contended", (const char *[]){ "--timeout", "50", NULL }, &out, &err);
    ck_assert_msg(code == 0, "exit %d:\n%s", code, err);
    ck_assert_ptr_nonnull(strstr(err, "poolguard: 0 findings"));
    free(out);
    free(err);
}
END_TEST

Suite *run_shim_suite(void)
{
    Suite *s = suite_create("run_shim");
    TCase *tc = tcase_create("shim");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_run_shim_stops_a_lock_inversion_and_names_the_functions);
    tcase_add_test(tc, test_run_shim_lets_a_healthy_program_through);
    suite_add_tcase(s, tc);
    return s;
}

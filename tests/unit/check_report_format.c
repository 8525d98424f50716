/*
 * The raw report format's schema (docs/report-format.schema.json) against the hand-written
 * fixtures, against deliberately wrong reports, and against the format's own tables
 * (format/pg_format.h). Reports written by the shim during the end-to-end tests are checked by
 * the test helpers (tu_rmtree, e2e_remove_tree) with the same validator.
 */
#include <check.h>
#include <dirent.h>
#include <jansson.h>
#include <stdbool.h>
#include <string.h>

#include "pg_format.h"
#include "testlib.h"

#define SCHEMA "docs/report-format.schema.json"

/* Fixtures in the shape the writers produce (format version 2). */
static const char *const valid_fixtures[] = {
    "deadlock.jsonl",
    "lock_order.jsonl",
    "pool_glib.jsonl",
    "pool_libuv.jsonl",
    "python_asyncio.jsonl",
    "python_asyncio_named.jsonl",
    "python_event.jsonl",
    "python_executor.jsonl",
    "python_growth.jsonl",
    "python_threadpool.jsonl",
    "stall.jsonl",
    "dir/poolguard.app.4242.jsonl",
    "dir/poolguard.app.4343.jsonl",
};

/* Fixtures that are not valid on purpose: older shims' reports (version 1, kept to test how the
 * analyzer reads them), minimal ones (what the reader tolerates), and broken ones. */
static const char *const invalid_fixtures[] = {
    "pool_exhaustion.jsonl", /* version 1: no proof or source, evidence phrases */
    "pool_annotated.jsonl",  /* version 1 */
    "queue_growth.jsonl",    /* version 1 */
    "python.jsonl",          /* version 1: the first Python layer's pool (executor, no id) */
    "snapshot.jsonl",        /* minimal: no shim, roles or stacks */
    "pool_badmembers.jsonl", /* members of the wrong type */
    "badlines.jsonl",        "binary.jsonl",    "empty.jsonl", "garbage.jsonl",
    "otherjson.jsonl",       "truncated.jsonl", "v3.jsonl",
};

static bool listed(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], name) == 0)
            return true;
    return false;
}

#define N(a) (sizeof(a) / sizeof *(a))

START_TEST(test_schema_accepts_every_fixture_meant_valid)
{
    for (size_t i = 0; i < N(valid_fixtures); i++) {
        char path[512], *msgs = NULL;
        snprintf(path, sizeof path, "tests/data/%s", valid_fixtures[i]);
        int code = tu_validate(path, &msgs);
        ck_assert_msg(code == 0, "%s does not validate:\n%s", path, msgs);
        free(msgs);
    }
}
END_TEST

START_TEST(test_schema_rejects_every_fixture_meant_invalid)
{
    for (size_t i = 0; i < N(invalid_fixtures); i++) {
        char path[512], *msgs = NULL;
        snprintf(path, sizeof path, "tests/data/%s", invalid_fixtures[i]);
        int code = tu_validate(path, &msgs);
        ck_assert_msg(code == 1 && strstr(msgs, path), "%s validates (status %d):\n%s", path, code,
                      msgs);
        free(msgs);
    }
}
END_TEST

/* A new fixture must say which it is. */
START_TEST(test_every_fixture_is_listed_as_valid_or_not)
{
    static const char *const dirs[] = { "tests/data", "tests/data/dir" };
    for (size_t k = 0; k < N(dirs); k++) {
        DIR *d = opendir(dirs[k]);
        ck_assert_ptr_nonnull(d);
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            size_t n = strlen(e->d_name);
            if (n < 6 || strcmp(e->d_name + n - 6, ".jsonl") != 0)
                continue;
            char name[512];
            snprintf(name, sizeof name, "%s%s", k ? "dir/" : "", e->d_name);
            ck_assert_msg(listed(name, valid_fixtures, N(valid_fixtures)) !=
                              listed(name, invalid_fixtures, N(invalid_fixtures)),
                          "tests/data/%s must be in exactly one list of check_report_format.c",
                          name);
        }
        closedir(d);
    }
}
END_TEST

/* Writes `text` as dir/name; returns the path (static buffer). */
static const char *put(const char *dir, const char *name, const char *text)
{
    static char path[4300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    tu_write(path, text);
    return path;
}

START_TEST(test_schema_rejects_a_wrong_report_naming_file_line_and_member)
{
    char *dir = tu_tmpdir();
    char *good = tu_slurp("tests/data/pool_libuv.jsonl");
    static const struct {
        const char *from, *to, *says;
    } wrong[] = {
        /* Version 1's English evidence in a version 2 report. */
        { "\"evidence\":\"annotation\"", "\"evidence\":\"signals with no idle worker\"",
          "pool/evidence" },
        { "\"kind\":\"pool_exhaustion\"", "\"kind\":\"pool_trouble\"", "kind" },
        { "\"proof\":\"exact\"", "\"proof\":\"likely\"", "pool/proof" },
        { "\"role\":\"worker\"", "\"role\":\"helper\"", "threads/0/role" },
        { "\"workers\":2", "\"workers\":\"2\"", "pool/workers" },
        { "\"summary\":", "\"sumary\":\"x\",\"summary\":",
          "sumary" }, /* a member no writer writes */
        { "\"version\":2", "\"version\":1", "version" },
    };
    for (size_t i = 0; i < N(wrong); i++) {
        ck_assert_msg(strstr(good, wrong[i].from), "fixture lacks %s", wrong[i].from);
        char *bad = tu_replace(good, wrong[i].from, wrong[i].to);
        char name[64];
        snprintf(name, sizeof name, "poolguard.bad.%zu.jsonl", i);
        const char *path = put(dir, name, bad);
        char *msgs = NULL;
        ck_assert_int_eq(tu_validate(path, &msgs), 1);
        ck_assert_msg(strstr(msgs, path) && strstr(msgs, wrong[i].says),
                      "%s: the complaint does not name the file and %s:\n%s", wrong[i].to,
                      wrong[i].says, msgs);
        free(msgs);
        free(bad);
    }
    /* A directory: the bad files are named, the good one is not. */
    put(dir, "poolguard.good.1.jsonl", good);
    char *msgs = NULL;
    ck_assert_int_eq(tu_validate(dir, &msgs), 1);
    ck_assert_msg(strstr(msgs, "poolguard.bad.0.jsonl:6: pool/evidence") &&
                      !strstr(msgs, "poolguard.good.1.jsonl"),
                  "%s", msgs);
    free(msgs);
    for (size_t i = 0; i < N(wrong); i++) {
        char name[4300];
        snprintf(name, sizeof name, "%s/poolguard.bad.%zu.jsonl", dir, i);
        unlink(name);
    }
    tu_rmtree(dir); /* validates what is left: the good report */
    free(good);
    free(dir);
}
END_TEST

/* A report cut short keeps its complete lines: a last line without its newline is not checked,
 * but one in the middle is. */
START_TEST(test_schema_a_report_cut_short_is_valid_up_to_its_last_complete_line)
{
    char *dir = tu_tmpdir();
    char *good = tu_slurp("tests/data/deadlock.jsonl");
    size_t n = strlen(good);
    char *cut = strdup(good);
    cut[n - 40] = '\0';
    const char *path = put(dir, "poolguard.cut.1.jsonl", cut);
    ck_assert_int_eq(tu_validate(path, NULL), 0);
    /* The same line cut short but followed by another: a broken line. */
    char *mid = NULL;
    ck_assert_int_ge(asprintf(&mid,
                              "%s\n{\"type\":\"snapshot\",\"time_unix_ms\":1,\"reason\":"
                              "\"request\",\"threads\":[]}\n",
                              cut),
                     0);
    path = put(dir, "poolguard.cut.1.jsonl", mid);
    char *msgs = NULL;
    ck_assert_int_eq(tu_validate(path, &msgs), 1);
    ck_assert_msg(strstr(msgs, "not JSON"), "%s", msgs);
    free(msgs);
    unlink(path);
    tu_rmtree(dir);
    free(mid);
    free(cut);
    free(good);
    free(dir);
}
END_TEST

/* The schema's vocabularies are the format's tables, value for value. */
static void same_words(json_t *defs, const char *def, const char *(*name)(int), int from, int to)
{
    json_t *e = json_object_get(json_object_get(defs, def), "enum");
    ck_assert_msg(json_is_array(e), "%s has no enum", def);
    size_t k = 0;
    for (int v = from; v <= to; v++, k++) {
        ck_assert_msg(k < json_array_size(e), "%s: the schema lacks %s", def, name(v));
        ck_assert_msg(strcmp(json_string_value(json_array_get(e, k)), name(v)) == 0,
                      "%s: the schema has %s where the format has %s", def,
                      json_string_value(json_array_get(e, k)), name(v));
    }
    ck_assert_msg(k == json_array_size(e), "%s: the schema has more words than the format", def);
}

static int count(const char *(*name)(int), int from)
{
    int v = from;
    while (name(v))
        v++;
    return v - 1;
}

START_TEST(test_schema_vocabularies_are_the_formats)
{
    json_error_t err;
    json_t *s = json_load_file(SCHEMA, 0, &err);
    ck_assert_msg(s != NULL, "%s: %s", SCHEMA, err.text);
    json_t *defs = json_object_get(s, "$defs");
    same_words(defs, "kind", pg_kind_name, PG_KIND_NONE + 1, count(pg_kind_name, PG_KIND_NONE + 1));
    same_words(defs, "severity", pg_sev_name, PG_SEV_NONE + 1, count(pg_sev_name, PG_SEV_NONE + 1));
    same_words(defs, "proof", pg_proof_name, 0, count(pg_proof_name, 0));
    same_words(defs, "evidence", pg_evidence_name, 0, count(pg_evidence_name, 0));
    same_words(defs, "source", pg_source_name, 0, count(pg_source_name, 0));
    same_words(defs, "library", pg_library_name, 0, count(pg_library_name, 0));
    same_words(defs, "role", pg_role_name, 0, count(pg_role_name, 0));
    /* Writers wait in these; task and future are read from older reports only. */
    same_words(defs, "wait_kind", pg_wait_name, 0, PG_WAIT_ONCE);
    same_words(defs, "lock_kind", pg_lock_name, PG_LOCK_NONE + 1,
               count(pg_lock_name, PG_LOCK_NONE + 1));
    json_t *hdr = json_object_get(json_object_get(defs, "header"), "properties");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(hdr, "format"), "const")),
                     PG_FORMAT_NAME);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(hdr, "version"), "const")),
                     PG_FORMAT_VERSION);
    json_decref(s);
}
END_TEST

Suite *report_format_suite(void)
{
    Suite *s = suite_create("report_format");
    TCase *tc = tcase_create("schema");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_schema_accepts_every_fixture_meant_valid);
    tcase_add_test(tc, test_schema_rejects_every_fixture_meant_invalid);
    tcase_add_test(tc, test_every_fixture_is_listed_as_valid_or_not);
    tcase_add_test(tc, test_schema_rejects_a_wrong_report_naming_file_line_and_member);
    tcase_add_test(tc, test_schema_a_report_cut_short_is_valid_up_to_its_last_complete_line);
    tcase_add_test(tc, test_schema_vocabularies_are_the_formats);
    suite_add_tcase(s, tc);
    return s;
}
